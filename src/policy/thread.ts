// Cedar evaluations on a thread of their own, for the gateway: a decision's evaluation is most of
// its cost (Cedar converts the request's entities and context on every call), and the gateway's
// event loop is what limits its throughput. The decision itself (the request's conversion and
// checks, what the answer means) stays on the calling thread, in the same steps as a synchronous
// decision (decide.ts).
//
// INVARIANT: a failed evaluation (the thread died, Cedar threw) rejects, and the decision that
// needed it is a deny with the error.

import type { AuthorizationAnswer } from '@cedar-policy/cedar-wasm/nodejs';
import { RequestThread, threadModule } from '../request-thread.js';
import type { Evaluation } from './decide.js';
import type { CedarRequest } from './request.js';

export interface EvaluationRequest {
  preparsedId: string;
  /** The set's policies, sent with the first evaluation against it. */
  policies?: Record<string, string>;
  call: CedarRequest;
}

export class EvaluationThread {
  /** Preparsed ids the running thread has been given. */
  private readonly known = new Set<string>();
  private readonly thread = new RequestThread<EvaluationRequest, AuthorizationAnswer>(
    threadModule(import.meta.url, '../../dist/src/policy/thread-worker.js', './thread-worker.js'),
    'policy evaluation',
  );

  constructor() {
    this.thread.warm();
  }

  evaluate(e: Evaluation): Promise<AuthorizationAnswer> {
    if (this.thread.fresh) this.known.clear();
    const request: EvaluationRequest = { preparsedId: e.preparsedId, call: e.call };
    if (!this.known.has(e.preparsedId)) {
      request.policies = e.policies();
      this.known.add(e.preparsedId);
    }
    return this.thread.request(request);
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
