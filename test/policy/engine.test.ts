// The policy engine: known decisions (allow, default deny, forbid, approval, approval beside a
// hard forbid, an erroring policy), typed arguments in per-tool actions, requests that cannot be
// evaluated, refused policy sets with exact messages, reload and watch.

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BASE_SCHEMA,
  PolicyEngine,
  PolicyError,
  loadPolicyDir,
  loadPolicyTexts,
  policySetHash,
  type Decision,
  type DecisionRequest,
  type ReloadResult,
} from '../../src/policy/index.js';
import {
  AGENT,
  MAIL_TOOLS,
  PERMIT_ALL_TOOLS,
  policyDir,
  resourceRead,
  serverRequest,
  toolCall,
} from './helpers.js';

function engine(files: Record<string, string>, now?: () => number): PolicyEngine {
  return PolicyEngine.load({ dir: policyDir(files), tools: MAIL_TOOLS, ...(now && { now }) });
}

/** The decision without its timing, for deepEqual. */
function decided(e: PolicyEngine, req: DecisionRequest): Omit<Decision, 'elapsedUs' | 'policySetHash'> {
  const d = e.decide(req);
  assert.equal(typeof d.elapsedUs, 'number');
  assert.ok(d.elapsedUs > 0);
  assert.equal(d.policySetHash, e.policySet?.hash);
  return { effect: d.effect, policies: d.policies, reasons: d.reasons, errors: d.errors };
}

/** The request without its context, as listings ask. */
function scope(req: DecisionRequest): Omit<DecisionRequest, 'context'> {
  return { principal: req.principal, action: req.action, resource: req.resource };
}

function refused(fn: () => unknown, code: string, details: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PolicyError, `not a PolicyError: ${String(err)}`);
    assert.equal(err.code, code);
    assert.deepEqual(err.details, details);
    return true;
  });
}

const FORBID_EVIL = `@id("no-evil")
@reason("evil.example is blocked")
forbid (principal, action == Warden::Action::"call:mail/send_email", resource)
when { context.arguments.to like "*@evil.example" };
`;

const APPROVE_EGRESS = `@id("approve-egress")
@approval("egress needs a human")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { resource.labels.contains("egress") };
`;

describe('decisions', () => {
  it('allows with the permit and its @reason', () => {
    assert.deepEqual(decided(engine({ 'a.cedar': PERMIT_ALL_TOOLS }), toolCall()), {
      effect: 'allow',
      policies: ['permit-tools'],
      reasons: ['tools are allowed'],
      errors: [],
    });
  });

  it('denies by default when no policy permits', () => {
    assert.deepEqual(decided(engine({}), toolCall()), {
      effect: 'deny',
      policies: [],
      reasons: ['no policy permits `call:mail/send_email` on `Tool mail/send_email`'],
      errors: [],
    });
  });

  it('lets a forbid win over a permit', () => {
    const e = engine({ 'a.cedar': PERMIT_ALL_TOOLS, 'b.cedar': FORBID_EVIL });
    assert.deepEqual(
      decided(e, toolCall({ arguments: { to: 'eve@evil.example', subject: 's', body: 'b' } })),
      {
        effect: 'deny',
        policies: ['no-evil'],
        reasons: ['evil.example is blocked'],
        errors: [],
      },
    );
    assert.equal(e.decide(toolCall()).effect, 'allow');
  });

  it('names policies without @id by file and index, and explains them generically', () => {
    const e = engine({
      'p.cedar': 'permit (principal, action, resource);\n',
      'q.cedar':
        '// two\npermit (principal, action, resource) when { false };\nforbid (principal, action, resource) when { context has flow && context.flow.tainted_args.contains("to") };\n',
    });
    assert.deepEqual(
      e.policySet?.policies.map((p) => [p.id, p.file, p.line, p.effect]),
      [
        ['p.cedar:0', 'p.cedar', 1, 'permit'],
        ['q.cedar:0', 'q.cedar', 2, 'permit'],
        ['q.cedar:1', 'q.cedar', 3, 'forbid'],
      ],
    );
    assert.deepEqual(decided(e, toolCall()), {
      effect: 'allow',
      policies: ['p.cedar:0'],
      reasons: ['permitted by policy `p.cedar:0`'],
      errors: [],
    });
    assert.deepEqual(decided(e, toolCall({ flow: { tainted_args: ['to'] } })), {
      effect: 'deny',
      policies: ['q.cedar:1'],
      reasons: ['forbidden by policy `q.cedar:1`'],
      errors: [],
    });
  });

  it('numbers a file of more than ten policies in file order (Cedar sorts policy10 before policy2)', () => {
    const lines = Array.from(
      { length: 12 },
      (_, i) =>
        `@reason("r${i}") forbid (principal, action in Warden::Action::"tools/call", resource) when { context.delegation_depth == ${i} };`,
    );
    const e = engine({ 'a.cedar': `${PERMIT_ALL_TOOLS}${lines.join('\n')}\n` });
    assert.deepEqual(
      e.policySet?.policies.map((p) => `${p.id}@${p.line}:${p.reason}`),
      ['permit-tools@1:tools are allowed', ...lines.map((_, i) => `a.cedar:${i + 1}@${i + 4}:r${i}`)],
    );
    assert.deepEqual(e.decide(toolCall({ context: { delegation_depth: 10 } })).reasons, ['r10']);
    assert.deepEqual(e.decide(toolCall({ context: { delegation_depth: 2 } })).policies, ['a.cedar:3']);
  });

  it('asks for approval when only @approval forbids stand in the way', () => {
    const e = engine({ 'a.cedar': PERMIT_ALL_TOOLS, 'b.cedar': APPROVE_EGRESS });
    assert.deepEqual(decided(e, toolCall()), {
      effect: 'approval',
      policies: ['approve-egress'],
      reasons: ['egress needs a human'],
      errors: [],
    });
    assert.equal(e.decide(toolCall({ labels: [] })).effect, 'allow');
  });

  it('denies when a hard forbid stands beside an approval forbid', () => {
    const e = engine({ 'a.cedar': PERMIT_ALL_TOOLS, 'b.cedar': APPROVE_EGRESS, 'c.cedar': FORBID_EVIL });
    assert.deepEqual(
      decided(e, toolCall({ arguments: { to: 'eve@evil.example', subject: 's', body: 'b' } })),
      {
        effect: 'deny',
        policies: ['no-evil', 'approve-egress'],
        reasons: ['evil.example is blocked', 'egress needs a human'],
        errors: [],
      },
    );
  });

  it('denies, not approval, when an approval forbid applies but nothing permits', () => {
    assert.deepEqual(decided(engine({ 'b.cedar': APPROVE_EGRESS }), toolCall()), {
      effect: 'deny',
      policies: [],
      reasons: ['no policy permits `call:mail/send_email` on `Tool mail/send_email`'],
      errors: [],
    });
  });

  it('counts a policy that errors as absent and records its error', () => {
    const e = engine({
      'a.cedar': PERMIT_ALL_TOOLS,
      'overflow.cedar': `@id("overflow")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { context.delegation_depth + 9223372036854775807 > 0 };
`,
    });
    assert.deepEqual(decided(e, toolCall({ context: { delegation_depth: 1 } })), {
      effect: 'allow',
      policies: ['permit-tools'],
      reasons: ['tools are allowed'],
      errors: [
        'policy `overflow`: integer overflow while attempting to add the values `1` and `9223372036854775807`',
      ],
    });
    // Without the overflow the same forbid applies.
    assert.equal(e.decide(toolCall({ context: { delegation_depth: 0 } })).effect, 'deny');
  });

  it('sees the principal in its blueprint and its sponsor', () => {
    const e = engine({
      'a.cedar': `permit (principal in Warden::Blueprint::"mailer", action in Warden::Action::"tools/call", resource)
when { principal.sponsor == "alice@example.com" && principal.scopes.contains("mail") };
forbid (principal in Warden::Sponsor::"mallory@example.com", action, resource);
`,
    });
    assert.equal(e.decide(toolCall()).effect, 'allow');
    const bySponsor = toolCall();
    bySponsor.principal = { ...AGENT, sponsor: 'mallory@example.com' };
    assert.deepEqual(e.decide(bySponsor).policies, ['a.cedar:1']);
    const other = toolCall();
    other.principal = { ...AGENT, blueprint: 'other' };
    assert.equal(e.decide(other).effect, 'deny');
  });

  it('takes context.time from the clock when the request gives none', () => {
    const e = engine(
      {
        'a.cedar': `${PERMIT_ALL_TOOLS}
@id("night") @reason("not at night")
forbid (principal, action, resource) when { context.time.hour_utc < 6 };
`,
      },
      () => Date.UTC(2026, 10, 27, 3, 0, 0),
    );
    assert.deepEqual(e.decide(toolCall()).policies, ['night']);
    const noon = { epoch_seconds: Date.UTC(2026, 10, 27, 12) / 1000, hour_utc: 12, weekday: 5 };
    assert.equal(e.decide(toolCall({ context: { time: noon } })).effect, 'allow');
  });

  it('decides what upstream servers ask: denied unless permitted', () => {
    const e = engine({
      'a.cedar':
        'permit (principal == Warden::Server::"docs", action == Warden::Action::"roots/list", resource);\n',
    });
    assert.equal(e.decide(serverRequest('roots/list', 'docs')).effect, 'allow');
    assert.equal(e.decide(serverRequest('roots/list', 'web')).effect, 'deny');
    assert.equal(e.decide(serverRequest('sampling/createMessage', 'docs')).effect, 'deny');
    const connect: DecisionRequest = {
      principal: { type: 'Server', id: 'docs' },
      action: 'connect',
      resource: { type: 'Host', id: 'api.example.com:443', attrs: { name: 'api.example.com', port: 443 } },
      context: {},
    };
    assert.equal(e.decide(connect).effect, 'deny');
  });

  it('decides resource reads with the resource labels', () => {
    const e = engine({
      'a.cedar':
        'permit (principal, action == Warden::Action::"resources/read", resource) unless { resource.labels.contains("private") };\n',
    });
    assert.equal(e.decide(resourceRead('file:///a', [])).effect, 'allow');
    assert.equal(e.decide(resourceRead('file:///a', ['private'])).effect, 'deny');
  });
});

describe('typed arguments in per-tool actions', () => {
  const domainOnly = `@id("company-domain") @reason("mail only to example.com")
forbid (principal, action == Warden::Action::"call:mail/send_email", resource)
unless { context.arguments.to like "*@example.com" };
`;

  it('constrains an argument with like on the tool’s own action', () => {
    const e = engine({ 'a.cedar': PERMIT_ALL_TOOLS, 'b.cedar': domainOnly });
    assert.equal(e.decide(toolCall()).effect, 'allow');
    assert.deepEqual(
      decided(e, toolCall({ arguments: { to: 'eve@evil.example', subject: 's', body: 'b' } })),
      {
        effect: 'deny',
        policies: ['company-domain'],
        reasons: ['mail only to example.com'],
        errors: [],
      },
    );
    // The generic action applies to every tool, the typed one only to its tool.
    assert.equal(
      e.decide(toolCall({ tool: 'list_inbox', arguments: {}, labels: ['private'] })).effect,
      'allow',
    );
  });

  it('uses optional sets after a has test', () => {
    const e = engine({
      'a.cedar': `${PERMIT_ALL_TOOLS}
@id("cc-lists")
forbid (principal, action == Warden::Action::"call:mail/send_email", resource)
when { context.arguments has cc && !["team@example.com"].containsAll(context.arguments.cc) };
`,
    });
    const args = { to: 'bob@example.com', subject: 's', body: 'b' };
    assert.equal(e.decide(toolCall({ arguments: args })).effect, 'allow');
    assert.equal(e.decide(toolCall({ arguments: { ...args, cc: ['team@example.com'] } })).effect, 'allow');
    assert.equal(e.decide(toolCall({ arguments: { ...args, cc: ['eve@evil.example'] } })).effect, 'deny');
  });

  it('decides the generic tools/call without looking at the arguments', () => {
    const e = engine({
      'a.cedar': 'permit (principal, action == Warden::Action::"tools/call", resource);\n',
    });
    // Arguments that the typed action would refuse are not even read by the generic one.
    const args = { to: 42 };
    assert.deepEqual(decided(e, { ...toolCall({ arguments: args }), action: 'tools/call' }), {
      effect: 'allow',
      policies: ['a.cedar:0'],
      reasons: ['permitted by policy `a.cedar:0`'],
      errors: [],
    });
    // `==` names only the generic action: the tool's own action is not covered.
    assert.equal(e.decide(toolCall()).effect, 'deny');
  });

  it('drops the untyped parts of the arguments instead of failing', () => {
    const e = engine({ 'a.cedar': PERMIT_ALL_TOOLS });
    const d = e.decide(
      toolCall({
        arguments: {
          to: 'bob@example.com',
          subject: 's',
          body: 'b',
          score: 0.25,
          attachments: [{ name: 'a.pdf', bytes: 3 }],
          headers: { 'X-Trace': '1' },
          not_in_schema: { __entity: { type: 'Warden::Agent', id: 'x' } },
        },
      }),
    );
    assert.equal(d.effect, 'allow');
    assert.deepEqual(d.errors, []);
  });

  it('refuses a policy that uses an untyped argument, naming it', () => {
    refused(
      () =>
        engine({
          'n.cedar':
            'forbid (principal, action == Warden::Action::"call:mail/send_email", resource)\nwhen { context.arguments.score > 1 };\n',
        }),
      'policy_invalid',
      [
        'policy file `n.cedar` line 2, column 8, policy `n.cedar:0`: attribute `arguments.score` in context for Warden::Action::"call:mail/send_email" not found; did you mean `body`?',
      ],
    );
  });

  it('denies a call whose arguments do not match the tool’s schema', () => {
    const e = engine({ 'a.cedar': PERMIT_ALL_TOOLS });
    assert.deepEqual(decided(e, toolCall({ arguments: { to: 42, subject: 's', body: 'b' } })), {
      effect: 'deny',
      policies: [],
      reasons: ['the request could not be evaluated'],
      errors: ['argument `to` must be a string'],
    });
    assert.deepEqual(e.decide(toolCall({ arguments: { to: 'x' } })).errors, ['argument `body` is required']);
  });
});

describe('requests that cannot be evaluated are denies, never exceptions', () => {
  const e = engine({ 'a.cedar': 'permit (principal, action, resource);\n' });
  const cases: Array<[string, () => DecisionRequest, string]> = [
    [
      'an unknown tool',
      () => toolCall({ tool: 'nope' }),
      'action `call:mail/nope` is not in the schema: the tool is unknown to the policy engine',
    ],
    [
      'an unknown action',
      () => ({ ...toolCall(), action: 'tools/delete' }),
      'action `tools/delete` is not in the schema',
    ],
    [
      'a missing flow',
      () => toolCall({ context: { flow: undefined } }),
      'request field `context.flow` must be an object',
    ],
    [
      'a mistyped flow fact',
      () => toolCall({ flow: { private_seen: 'yes' as unknown as boolean } }),
      'request field `context.flow.private_seen` must be a boolean',
    ],
    [
      'an unknown context field',
      () => toolCall({ context: { admin: true } }),
      'request field `context.admin` is not known',
    ],
    [
      'a resource id that disagrees with its attributes',
      () => ({ ...toolCall(), resource: { ...toolCall().resource, id: 'mail/other' } }),
      'resource id `mail/other` does not match its attributes: expected `mail/send_email`',
    ],
    [
      'a per-tool action on another tool',
      () => toolCall({ action: 'call:mail/list_inbox' }),
      'action `call:mail/list_inbox` is not a call of tool `mail/send_email`',
    ],
    [
      'a resource type the action does not take',
      () => ({ ...resourceRead('x', []), action: 'tools/call' }),
      'action `tools/call` applies to a Tool, not to `Resource`',
    ],
    [
      'a server principal on an agent action',
      () => ({ ...toolCall(), principal: { type: 'Server' as const, id: 'docs' } }),
      'action `call:mail/send_email` is made by a Agent, not by a `Server`',
    ],
    [
      'a negative depth',
      () => ({ ...toolCall(), principal: { ...AGENT, depth: -1 } }),
      'request field `principal.depth` must be an integer from 0 to 1000',
    ],
    [
      'not an object at all',
      () => null as unknown as DecisionRequest,
      'request field `request` must be an object',
    ],
  ];
  for (const [name, make, error] of cases) {
    it(`denies ${name}`, () => {
      assert.deepEqual(decided(e, make()), {
        effect: 'deny',
        policies: [],
        reasons: ['the request could not be evaluated'],
        errors: [error],
      });
    });
  }

  it('can say why a request would be refused (checkRequest)', () => {
    assert.doesNotThrow(() => e.checkRequest(toolCall()));
    assert.throws(
      () => e.checkRequest(toolCall({ tool: 'nope' })),
      (err: unknown) =>
        err instanceof PolicyError &&
        err.code === 'request_invalid' &&
        err.message ===
          'action `call:mail/nope` is not in the schema: the tool is unknown to the policy engine',
    );
  });

  it('denies everything while no set is loaded', () => {
    const empty = new PolicyEngine({ dir: policyDir({}) });
    const d = empty.decide(toolCall());
    assert.deepEqual(
      { effect: d.effect, errors: d.errors, hash: d.policySetHash },
      { effect: 'deny', errors: ['no valid policy set is loaded'], hash: '' },
    );
  });
});

describe('loading', () => {
  it('refuses a file that does not parse, naming the file, line and column', () => {
    refused(
      () =>
        loadPolicyDir(
          policyDir({
            'a.cedar': PERMIT_ALL_TOOLS,
            'bad.cedar':
              'permit (principal, action, resource);\n\n// x\nforbid(principal, action resource);\n',
          }),
          BASE_SCHEMA,
        ),
      'policy_invalid',
      [
        'policy file `bad.cedar` line 4, column 26: unexpected token `resource`: expected `!=`, `)`, `,`, `:`, `<`, `<=`, `==`, `>`, `>=`, `in`, or `is`',
      ],
    );
  });

  it('refuses a policy that does not validate, naming the policy', () => {
    refused(
      () =>
        loadPolicyTexts(
          [
            {
              name: 'v.cedar',
              text: '@id("x")\npermit (principal is Warden::Agent, action, resource)\nwhen { principal.nope };\n',
            },
          ],
          BASE_SCHEMA,
        ),
      'policy_invalid',
      [
        'policy file `v.cedar` line 3, column 8, policy `x`: attribute `nope` on entity type `Warden::Agent` not found; did you mean `scopes`?',
      ],
    );
  });

  it('refuses a duplicate @id, naming both places', () => {
    refused(
      () =>
        loadPolicyDir(
          policyDir({
            'a.cedar': '@id("x")\npermit (principal, action, resource);\n',
            'b.cedar': '\n@id("x")\nforbid (principal, action, resource);\n',
          }),
          BASE_SCHEMA,
        ),
      'policy_invalid',
      ['policy file `b.cedar` line 2: policy id `x` is already used in `a.cedar` line 1'],
    );
  });

  it('refuses @approval on a permit, templates, and an empty @id', () => {
    refused(
      () =>
        loadPolicyTexts(
          [{ name: 'a.cedar', text: '@approval("no")\npermit (principal, action, resource);\n' }],
          BASE_SCHEMA,
        ),
      'policy_invalid',
      [
        'policy file `a.cedar` line 1, column 1, policy `a.cedar:0`: `@approval` is only allowed on a forbid policy',
      ],
    );
    refused(
      () =>
        loadPolicyTexts(
          [{ name: 't.cedar', text: 'permit (principal == ?principal, action, resource);\n' }],
          BASE_SCHEMA,
        ),
      'policy_invalid',
      [
        'policy file `t.cedar` line 1, column 1: policy templates (`?principal`, `?resource`) are not supported',
      ],
    );
    refused(
      () =>
        loadPolicyTexts(
          [{ name: 'a.cedar', text: '@id("") permit (principal, action, resource);' }],
          BASE_SCHEMA,
        ),
      'policy_invalid',
      ['policy file `a.cedar` line 1, column 1: `@id` must be 1-128 characters without control characters'],
    );
  });

  it('lists every problem of every file, the first in the message', () => {
    try {
      loadPolicyTexts(
        [
          { name: 'a.cedar', text: 'permit (principal, action, resource' },
          { name: 'b.cedar', text: 'forbid (principal, action, resource) when { context.nope };' },
        ],
        BASE_SCHEMA,
      );
      assert.fail('loaded');
    } catch (err) {
      assert.ok(err instanceof PolicyError);
      assert.ok(err.details.length >= 2, err.details.join('\n'));
      assert.equal(err.message, `${err.details[0]} (and ${err.details.length - 1} more)`);
      assert.match(err.details[0] ?? '', /^policy file `a\.cedar` line 1, column \d+: /);
      assert.match(
        err.details[1] ?? '',
        /^policy file `b\.cedar` line 1, column 45, policy `b\.cedar:0`: attribute `nope`/,
      );
    }
  });

  it('refuses a directory that does not exist', () => {
    refused(() => loadPolicyDir('/nonexistent/warden-policies', BASE_SCHEMA), 'policy_invalid', [
      "policy directory `/nonexistent/warden-policies` cannot be read: ENOENT: no such file or directory, scandir '/nonexistent/warden-policies'",
    ]);
  });

  it('reads only *.cedar files, sorted, and hashes names and texts', () => {
    const dir = policyDir({
      'b.cedar': 'permit (principal, action, resource);\n',
      'a.cedar': '// nothing\n',
      'notes.txt': 'not a policy',
      '.#a.cedar': 'garbage',
    });
    const set = loadPolicyDir(dir, BASE_SCHEMA);
    assert.deepEqual(
      set.policies.map((p) => p.id),
      ['b.cedar:0'],
    );
    const expected = createHash('sha256')
      .update('[["a.cedar","// nothing\\n"],["b.cedar","permit (principal, action, resource);\\n"]]')
      .digest('hex');
    assert.equal(set.hash, expected);
    assert.equal(
      policySetHash([
        { name: 'a.cedar', text: '// nothing\n' },
        { name: 'b.cedar', text: 'permit (principal, action, resource);\n' },
      ]),
      expected,
    );
  });
});

describe('reload and watch', () => {
  it('keeps the set in force when the new one is invalid, and reports why', () => {
    const dir = policyDir({ 'a.cedar': PERMIT_ALL_TOOLS });
    const e = PolicyEngine.load({ dir, tools: MAIL_TOOLS });
    const before = e.policySet?.hash;
    writeFileSync(
      join(dir, 'b.cedar'),
      'forbid (principal, action in Warden::Action::"tools/call", resource) when { context.flow.nope };\n',
    );
    const r = e.reload();
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.error.code === 'policy_invalid');
    assert.match(
      e.lastError?.message ?? '',
      /^policy file `b\.cedar` line 1, column 77, policy `b\.cedar:0`: attribute `flow\.nope`/,
    );
    assert.equal(e.policySet?.hash, before);
    const d = e.decide(toolCall());
    assert.equal(d.effect, 'allow');
    assert.equal(d.policySetHash, before);

    writeFileSync(
      join(dir, 'b.cedar'),
      '@id("b") forbid (principal, action in Warden::Action::"tools/call", resource) when { context.flow.untrusted_seen };\n',
    );
    const ok = e.reload();
    assert.equal(ok.ok, true);
    assert.equal(e.lastError, undefined);
    assert.notEqual(e.policySet?.hash, before);
    assert.deepEqual(e.decide(toolCall({ flow: { untrusted_seen: true } })).policies, ['b']);
  });

  it('refuses new tools under which a policy no longer validates, keeping the old schema', () => {
    const e = engine({
      'a.cedar': `${PERMIT_ALL_TOOLS}forbid (principal, action == Warden::Action::"call:mail/send_email", resource) when { context.arguments.to == "x" };\n`,
    });
    const r = e.setTools([]);
    assert.equal(r.ok, false);
    assert.match(
      r.ok ? '' : r.error.message,
      /unrecognized action `Warden::Action::"call:mail\/send_email"`/,
    );
    assert.equal(e.decide(toolCall()).effect, 'allow');
    assert.ok(e.schemaText?.includes('call:mail/send_email'));
  });

  it('reloads on change, debounced, and refuses a broken edit', async () => {
    const dir = policyDir({ 'a.cedar': PERMIT_ALL_TOOLS });
    const e = PolicyEngine.load({ dir, tools: MAIL_TOOLS });
    const results: ReloadResult[] = [];
    let wake: () => void = () => {};
    const w = e.watch({
      debounceMs: 30,
      onReload: (r) => {
        results.push(r);
        wake();
      },
    });
    const next = () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reload within 5 s')), 5000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    try {
      let reloaded = next();
      writeFileSync(join(dir, 'b.cedar'), '@id("stop") forbid (principal, action, resource);\n');
      await reloaded;
      assert.equal(results.at(-1)?.ok, true);
      assert.deepEqual(e.decide(toolCall()).policies, ['stop']);

      reloaded = next();
      writeFileSync(join(dir, 'b.cedar'), 'forbid (principal, action, resource'); // half-written
      await reloaded;
      assert.equal(results.at(-1)?.ok, false);
      assert.deepEqual(e.decide(toolCall()).policies, ['stop']);

      reloaded = next();
      rmSync(join(dir, 'b.cedar'));
      await reloaded;
      assert.equal(results.at(-1)?.ok, true);
      assert.equal(e.decide(toolCall()).effect, 'allow');
    } finally {
      w.close();
    }
  });
});

describe('couldAllow (listings)', () => {
  const e = engine({
    'a.cedar': PERMIT_ALL_TOOLS,
    'b.cedar': APPROVE_EGRESS,
    'c.cedar': '@id("no-inbox") forbid (principal, action, resource == Warden::Tool::"mail/list_inbox");\n',
    'd.cedar':
      '@id("taint") forbid (principal, action in Warden::Action::"tools/call", resource) when { context.flow.private_seen };\n',
  });
  const callScope = scope(toolCall());
  const inboxScope = scope(toolCall({ tool: 'list_inbox' }));

  it('is true when some context allows, even if only with approval', () => {
    assert.equal(e.couldAllow(callScope), true);
  });

  it('is false when a forbid applies whatever the context, or nothing permits', () => {
    assert.equal(e.couldAllow(inboxScope), false);
    assert.equal(e.couldAllow(scope(serverRequest('sampling/createMessage'))), false);
  });

  it('is false for a malformed request', () => {
    assert.equal(e.couldAllow({ ...callScope, action: 'nope' }), false);
  });
});
