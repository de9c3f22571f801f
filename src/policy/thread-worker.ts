// The entry point of the policy engine's evaluation thread (see thread.ts). Cedar keeps preparsed
// policy sets per thread, so this thread preparses each set the first time it is asked to
// evaluate against it, under the same content-addressed id as the main thread.

import { parentPort } from 'node:worker_threads';
import {
  preparsePolicySet,
  statefulIsAuthorized,
  type AuthorizationAnswer,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { ThreadReply, ThreadRequest } from './thread.js';

const port = parentPort;
if (!port) throw new Error('thread-worker.ts runs only as a worker thread');

function answer(m: ThreadRequest): AuthorizationAnswer {
  if (m.policies !== undefined) {
    const r = preparsePolicySet(m.preparsedId, { staticPolicies: m.policies });
    if (r.type === 'failure') return { type: 'failure', errors: r.errors, warnings: [] };
  }
  return statefulIsAuthorized({ ...m.call, preparsedPolicySetId: m.preparsedId });
}

port.on('message', (batch: ThreadRequest[]) => {
  const replies = batch.map((m): ThreadReply => {
    try {
      return { id: m.id, answer: answer(m) };
    } catch (err) {
      return { id: m.id, error: err instanceof Error ? err.message : String(err) };
    }
  });
  port.postMessage(replies);
});
