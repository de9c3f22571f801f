// The cache of Cedar's answers: what it refuses to remember, how it forgets, and that a decision it
// helped make is never one the policies in force would not make (a reload, a changed request, the
// thread's path). That cached decisions equal uncached ones over random requests is shown in
// attribute-use.test.ts, where the same requests are decided pruned, whole and through a cache.

import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AuthorizationAnswer } from '@cedar-policy/cedar-wasm/nodejs';
import { DEFAULT_CAPACITY, EvaluationCache, MAX_KEY_CHARS } from '../../src/policy/evaluation-cache.js';
import { PolicyEngine } from '../../src/policy/index.js';
import type { CedarRequest } from '../../src/policy/request.js';
import { MAIL_TOOLS, PERMIT_ALL_TOOLS, policyDir, toolCall } from './helpers.js';

function call(context: Record<string, unknown> = {}): CedarRequest {
  return {
    principal: { type: 'Warden::Agent', id: 'a' },
    action: { type: 'Warden::Action', id: 'tools/call' },
    resource: { type: 'Warden::Tool', id: 'mail/send_email' },
    context: context as CedarRequest['context'],
    entities: [],
  };
}

const ALLOW: AuthorizationAnswer = {
  type: 'success',
  response: { decision: 'allow', diagnostics: { reason: ['p'], errors: [] } },
  warnings: [],
};
const FAILURE = {
  type: 'failure',
  errors: [{ message: 'boom' }],
  warnings: [],
} as unknown as AuthorizationAnswer;

describe('evaluation cache', () => {
  it('keys by policy set and exact request, and remembers only what JSON carries exactly', () => {
    const c = new EvaluationCache();
    const k = c.key('set-a', call({ n: 1 }));
    assert.equal(k, c.key('set-a', call({ n: 1 })));
    assert.notEqual(k, c.key('set-b', call({ n: 1 })));
    assert.notEqual(k, c.key('set-a', call({ n: 2 })));
    assert.notEqual(k, c.key('set-a', call({ n: '1' })));
    // JSON would write these as null, the same as a null: never a key.
    assert.equal(c.key('set-a', call({ n: Number.NaN })), undefined);
    assert.equal(c.key('set-a', call({ n: Number.POSITIVE_INFINITY })), undefined);
    assert.equal(c.key('set-a', call({ deep: [{ n: Number.NEGATIVE_INFINITY }] })), undefined);
    assert.equal(c.key('set-a', call({ n: 10n as unknown as number })), undefined);
    // JSON would leave these out, or write null: the key would not say what Cedar was given.
    assert.equal(c.key('set-a', call({ n: undefined })), undefined);
    assert.equal(c.key('set-a', call({ list: [1, undefined] })), undefined);
    assert.equal(c.key('set-a', call({ f: () => 1 })), undefined);
    assert.equal(c.key('set-a', call({ s: Symbol('x') })), undefined);
    assert.equal(c.key('set-a', call({ n: null })), c.key('set-a', call({ n: null })));
    // Large requests are evaluated every time rather than held.
    assert.equal(c.key('set-a', call({ body: 'x'.repeat(MAX_KEY_CHARS) })), undefined);
    assert.ok(c.key('set-a', call({ body: 'x'.repeat(MAX_KEY_CHARS / 2) })));
  });

  it('keeps successful answers only, and counts hits and misses', () => {
    const c = new EvaluationCache();
    const k = c.key('s', call()) as string;
    assert.equal(c.get(k), undefined);
    c.set(k, FAILURE);
    assert.equal(c.get(k), undefined, 'a failure is asked again');
    c.set(k, ALLOW);
    assert.equal(c.get(k), ALLOW);
    assert.deepEqual(c.stats, { hits: 1, misses: 2 });
    assert.equal(c.size, 1);
  });

  it('forgets the least recently used answer first, within its capacity', () => {
    const c = new EvaluationCache(2);
    const [a, b, d] = ['a', 'b', 'd'].map((id) => c.key(id, call()) as string) as [string, string, string];
    c.set(a, ALLOW);
    c.set(b, ALLOW);
    assert.ok(c.get(a), 'a is now the most recently used');
    c.set(d, ALLOW);
    assert.equal(c.size, 2);
    assert.equal(c.get(b), undefined, 'b was the least recently used');
    assert.ok(c.get(a));
    assert.ok(c.get(d));
    assert.equal(new EvaluationCache().capacity, DEFAULT_CAPACITY);
    assert.throws(() => new EvaluationCache(0), RangeError);
    assert.throws(() => new EvaluationCache(1.5), RangeError);
  });
});

describe('decisions with the cache', () => {
  const engines: PolicyEngine[] = [];
  after(async () => {
    for (const e of engines) await e.stopThread();
  });

  const FORBID_EVIL = `@id("no-evil")
@reason("evil.example is blocked")
forbid (principal, action == Warden::Action::"call:mail/send_email", resource)
when { context.arguments.to like "*@evil.example" };
`;

  it('a reload that changes the policies is in force for the very next, identical request', () => {
    const dir = policyDir({ 'a.cedar': PERMIT_ALL_TOOLS });
    const e = PolicyEngine.load({ dir, tools: MAIL_TOOLS });
    const req = toolCall({ arguments: { to: 'eve@evil.example', subject: 's', body: 'b' } });
    assert.equal(e.decide(req).effect, 'allow');
    assert.equal(e.decide(req).effect, 'allow');
    writeFileSync(join(dir, 'b.cedar'), FORBID_EVIL);
    assert.equal(e.reload().ok, true);
    const d = e.decide(req);
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.reasons, ['evil.example is blocked']);
    // Emptied again: a set of other files, so other answers, and the forbid is gone.
    writeFileSync(join(dir, 'b.cedar'), '');
    assert.equal(e.reload().ok, true);
    assert.equal(e.decide(req).effect, 'allow');
  });

  it('a request that differs in what a policy reads is evaluated, not answered from the cache', async () => {
    const e = PolicyEngine.load({
      dir: policyDir({ 'a.cedar': PERMIT_ALL_TOOLS, 'b.cedar': FORBID_EVIL }),
      tools: MAIL_TOOLS,
    });
    engines.push(e);
    const to = (addr: string) => toolCall({ arguments: { to: addr, subject: 's', body: 'b' } });
    for (let i = 0; i < 3; i++) {
      assert.equal(e.decide(to('bob@example.com')).effect, 'allow');
      assert.equal(e.decide(to('eve@evil.example')).effect, 'deny');
    }
    // The same through the evaluation thread: a hit skips the thread, a miss goes to it.
    e.startThread();
    for (let i = 0; i < 3; i++) {
      assert.equal((await e.decideAsync(to('bob@example.com'))).effect, 'allow');
      assert.equal((await e.decideAsync(to('eve@evil.example'))).effect, 'deny');
      assert.equal((await e.decideAsync(to(`new${i}@evil.example`))).effect, 'deny');
      assert.equal((await e.decideAsync(to(`new${i}@example.com`))).effect, 'allow');
    }
  });
});
