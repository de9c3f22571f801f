// Decisions with Cedar's evaluation on the engine's thread (the gateway's tool-call path): the same
// decision as on the calling thread for every kind of outcome, a new policy set seen by the thread
// as soon as it is loaded, and a thread that fails denies rather than allows.

import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decideWithAsync } from '../../src/policy/decide.js';
import {
  PolicyEngine,
  compileSchema,
  loadPolicyTexts,
  type Decision,
  type DecisionRequest,
} from '../../src/policy/index.js';
import { MAIL_TOOLS, PERMIT_ALL_TOOLS, policyDir, resourceRead, serverRequest, toolCall } from './helpers.js';

const APPROVE_EGRESS = `@id("approve-egress")
@approval("egress needs a human")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { resource.labels.contains("egress") };
`;
const FORBID_EVIL = `@id("no-evil")
@reason("evil.example is blocked")
forbid (principal, action == Warden::Action::"call:mail/send_email", resource)
when { context.arguments.to like "*@evil.example" };
`;
const OVERFLOW = `@id("overflow")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { context.delegation_depth + 9223372036854775807 > 0 };
`;

const engines: PolicyEngine[] = [];
after(async () => {
  for (const e of engines) await e.stopThread();
});

function threaded(dir: string): PolicyEngine {
  const e = PolicyEngine.load({ dir, tools: MAIL_TOOLS });
  e.startThread();
  engines.push(e);
  return e;
}

const withoutTiming = (d: Decision): Omit<Decision, 'elapsedUs'> => {
  const { elapsedUs, ...rest } = d;
  assert.equal(typeof elapsedUs, 'number');
  return rest;
};

describe('decideAsync on the evaluation thread', () => {
  it('decides exactly as decide() does: allow, forbid, approval, errors, malformed requests', async () => {
    const e = threaded(
      policyDir({
        'a.cedar': PERMIT_ALL_TOOLS,
        'b.cedar': APPROVE_EGRESS,
        'c.cedar': FORBID_EVIL,
        'd.cedar': OVERFLOW,
      }),
    );
    const evil = { to: 'eve@evil.example', subject: 's', body: 'b' };
    const requests: DecisionRequest[] = [
      toolCall(),
      toolCall({ labels: [] }),
      toolCall({ arguments: evil }),
      toolCall({ labels: [], context: { delegation_depth: 1 } }),
      toolCall({ context: { delegation_depth: 1 } }),
      toolCall({ action: 'call:mail/unknown' }),
      toolCall({ arguments: { to: 42 } }),
      resourceRead('file:///notes.md', ['private']),
      serverRequest('sampling/createMessage'),
      { ...toolCall(), principal: { id: 'spiffe://warden.local/agent/x/y' } as DecisionRequest['principal'] },
    ];
    const effects = new Set<string>();
    for (const req of requests) {
      const expected = withoutTiming(e.decide(req));
      assert.deepEqual(withoutTiming(await e.decideAsync(req)), expected, JSON.stringify(req));
      effects.add(expected.effect);
      if (expected.errors.length > 0) effects.add('errors');
    }
    assert.deepEqual([...effects].sort(), ['allow', 'approval', 'deny', 'errors']);
    // Many at once, each answered with its own decision.
    const all = await Promise.all(requests.map((r) => e.decideAsync(r)));
    assert.deepEqual(
      all.map(withoutTiming),
      requests.map((r) => withoutTiming(e.decide(r))),
    );
  });

  it('follows a reload: the thread decides with the set in force', async () => {
    const dir = policyDir({ 'a.cedar': PERMIT_ALL_TOOLS });
    const e = threaded(dir);
    assert.equal((await e.decideAsync(toolCall())).effect, 'allow');
    writeFileSync(join(dir, 'b.cedar'), FORBID_EVIL.replace('like "*@evil.example"', 'like "*"'));
    assert.equal(e.reload().ok, true);
    const d = await e.decideAsync(toolCall());
    assert.equal(d.effect, 'deny');
    assert.equal(d.policySetHash, e.policySet?.hash);
  });

  it('denies with the error when the evaluation fails', async () => {
    const model = compileSchema(MAIL_TOOLS);
    const set = loadPolicyTexts([{ name: 'a.cedar', text: PERMIT_ALL_TOOLS }], model.text);
    const d = await decideWithAsync({ set, model }, toolCall(), Date.now(), () =>
      Promise.reject(new Error('the policy evaluation thread exited with code 1')),
    );
    assert.deepEqual(d, {
      effect: 'deny',
      policies: [],
      reasons: ['the request could not be evaluated'],
      errors: ['the policy evaluation thread exited with code 1'],
      policySetHash: set.hash,
    });
  });
});
