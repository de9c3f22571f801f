// The entry point of the policy engine's evaluation thread (see thread.ts). Cedar keeps preparsed
// policy sets per thread, so this thread preparses each set the first time it is asked to
// evaluate against it, under the same content-addressed id as the main thread.

import {
  preparsePolicySet,
  statefulIsAuthorized,
  type AuthorizationAnswer,
} from '@cedar-policy/cedar-wasm/nodejs';
import { serveRequests } from '../request-thread.js';
import type { EvaluationRequest } from './thread.js';

serveRequests((m: EvaluationRequest): AuthorizationAnswer => {
  if (m.policies !== undefined) {
    const r = preparsePolicySet(m.preparsedId, { staticPolicies: m.policies });
    if (r.type === 'failure') return { type: 'failure', errors: r.errors, warnings: [] };
  }
  return statefulIsAuthorized({ ...m.call, preparsedPolicySetId: m.preparsedId });
});
