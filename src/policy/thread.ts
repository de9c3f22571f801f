// Cedar evaluations on a thread of their own, for the gateway: a decision's evaluation is most of
// its cost (Cedar converts the request's entities and context on every call), and the gateway's
// event loop is what limits its throughput. The decision itself (the request's conversion and
// checks, what the answer means) stays on the calling thread, in the same steps as a synchronous
// decision (decide.ts).
//
// INVARIANT: every evaluation is answered or fails; a thread that dies fails what it had in flight
// (each becomes a deny with the error) and a new one is started for the next evaluation.

import { Worker } from 'node:worker_threads';
import type { AuthorizationAnswer } from '@cedar-policy/cedar-wasm/nodejs';
import type { Evaluation } from './decide.js';
import type { CedarRequest } from './request.js';

export interface ThreadRequest {
  id: number;
  preparsedId: string;
  /** The set's policies, sent with the first evaluation against it. */
  policies?: Record<string, string>;
  call: CedarRequest;
}

export type ThreadReply = { id: number; answer: AuthorizationAnswer } | { id: number; error: string };

interface Waiter {
  resolve: (a: AuthorizationAnswer) => void;
  reject: (err: Error) => void;
}

export class EvaluationThread {
  private worker: Worker | undefined;
  /** Preparsed ids the running worker has been given. */
  private readonly known = new Set<string>();
  private readonly waiting = new Map<number, Waiter>();
  private queue: ThreadRequest[] = [];
  private next = 1;
  private closed = false;

  evaluate(e: Evaluation): Promise<AuthorizationAnswer> {
    if (this.closed) return Promise.reject(new Error('the policy evaluation thread is closed'));
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const id = this.next++;
    const request: ThreadRequest = { id, preparsedId: e.preparsedId, call: e.call };
    if (!this.known.has(e.preparsedId)) {
      request.policies = e.policies();
      this.known.add(e.preparsedId);
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Evaluations asked for in the same turn of the event loop travel together: a message costs
      // tens of µs of the event loop whatever it holds.
      this.queue.push(request);
      if (this.queue.length === 1) setImmediate(() => this.flush(worker));
    });
  }

  private flush(worker: Worker): void {
    // The thread died in between: what was queued for it has been failed already, and what is
    // queued now is for its successor, which has a flush of its own scheduled.
    if (this.worker !== worker) return;
    const batch = this.queue;
    this.queue = [];
    worker.postMessage(batch);
  }

  private start(): Worker {
    // Built, the thread's code is beside this file. Run from the TypeScript sources (the tests, under
    // tsx, which does not reach worker threads), it is the build of the same sources.
    const url = import.meta.url.endsWith('.ts')
      ? new URL('../../dist/src/policy/thread-worker.js', import.meta.url)
      : new URL('./thread-worker.js', import.meta.url);
    const worker = new Worker(url);
    worker.unref();
    worker.on('message', (replies: ThreadReply[]) => {
      for (const reply of replies) {
        const w = this.waiting.get(reply.id);
        if (!w) continue;
        this.waiting.delete(reply.id);
        if ('answer' in reply) w.resolve(reply.answer);
        else w.reject(new Error(reply.error));
      }
    });
    const fail = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.known.clear();
      this.queue = [];
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the policy evaluation thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker) await worker.terminate();
  }
}
