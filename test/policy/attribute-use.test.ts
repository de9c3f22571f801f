// Requests carry into Cedar only the attributes the policy set can read: what the analysis finds,
// what it refuses to follow, and (the point) that a pruned request is decided exactly as the whole
// one, over the shipped packs and over policies written to stress the analysis; and so is one whose
// answer came from the cache of Cedar's answers, which is keyed by the pruned request.

import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { attributeUse, pruneRequest, type AttributeNode } from '../../src/policy/attribute-use.js';
import { EvaluationCache } from '../../src/policy/evaluation-cache.js';
import {
  compileSchema,
  decideWith,
  loadPolicyTexts,
  STOCK_POLICIES,
  toCedarRequest,
  type DecisionRequest,
  type PolicyFile,
  type PolicyState,
} from '../../src/policy/index.js';
import { AGENT, MAIL_TOOLS, toolCall } from './helpers.js';

const POLICIES = fileURLToPath(new URL('../../policies/', import.meta.url));

function est(text: string): unknown {
  const r = policyToJson(text);
  if (r.type !== 'success') throw new Error(r.errors.map((e) => e.message).join('; '));
  return r.json;
}

/**
 * A node as nested plain data: `true` for a value used whole, an object of what is read below it
 * (with `'(whole)': true` when both, as for an entity compared by uid and read into).
 */
function shape(n: AttributeNode): unknown {
  const below = Object.fromEntries([...n.attrs].map(([k, v]) => [k, shape(v)]));
  if (!n.whole) return below;
  return n.attrs.size === 0 ? true : { '(whole)': true, ...below };
}

function useOf(...texts: string[]) {
  const { use } = attributeUse(texts.map(est));
  if (!use) return undefined;
  return {
    principal: shape(use.principal),
    resource: shape(use.resource),
    context: shape(use.context),
  };
}

describe('attribute use', () => {
  it('collects the attribute paths the policies read', () => {
    assert.deepEqual(
      useOf(
        'permit (principal, action, resource) when { context.flow.private_seen && resource.labels.contains("egress") };',
        'forbid (principal, action, resource) when { context.arguments has to && principal.sponsor like "*@example.com" };',
      ),
      {
        principal: { sponsor: true },
        resource: { labels: true },
        context: { flow: { private_seen: true }, arguments: { to: {} } },
      },
    );
  });

  it('keeps a value whole when a policy uses it as a value rather than reading into it', () => {
    assert.deepEqual(
      useOf(
        'permit (principal, action, resource) when { context.grant == { active: true, ids: ["g"] } && context.flow.touched.contains("private") };',
        'forbid (principal, action, resource) when { [context.time].contains(context.time) };',
      ),
      {
        principal: {},
        resource: {},
        context: { grant: true, flow: { touched: true }, time: true },
      },
    );
    // The context itself as a value: everything in it.
    assert.equal(useOf('permit (principal, action, resource) when { context == context };')?.context, true);
    // An entity as a value is its uid: `==` and `in` need no attributes.
    assert.deepEqual(
      useOf(
        'permit (principal, action, resource) when { principal == principal && resource in Warden::Server::"mail" };',
      ),
      { principal: true, resource: true, context: {} },
    );
  });

  it('follows every operand: conditionals, sets, records, extension calls, is, like', () => {
    assert.deepEqual(
      useOf(
        `permit (principal, action, resource) when {
           (if context.flow.private_seen then principal.scopes else ["x"]).contains("mail") &&
           { a: context.delegation_depth } != { a: 3 } &&
           ip("10.0.0.1").isInRange(ip("10.0.0.0/8")) &&
           principal is Warden::Agent in Warden::Blueprint::"b" &&
           !(resource.name like "delete_*")
         };`,
      ),
      {
        principal: { '(whole)': true, scopes: true },
        resource: { name: true },
        context: { flow: { private_seen: true }, delegation_depth: true },
      },
    );
  });

  it('refuses to prune when an attribute is read through anything but a path from a variable', () => {
    const unfollowable = [
      // an entity literal's attribute
      'permit (principal, action, resource) when { Warden::Tool::"mail/send_email".labels.contains("egress") };',
      // an attribute of a conditional's value
      'permit (principal, action, resource) when { (if context.flow.private_seen then principal else principal).sponsor == "a" };',
      // an attribute of a record literal holding a context field (the literal hides the path)
      'permit (principal, action, resource) when { { f: context.flow }.f.private_seen };',
      // `has` on a conditional
      'permit (principal, action, resource) when { (if true then context.arguments else context.arguments) has to };',
    ];
    for (const text of unfollowable) assert.equal(useOf(text), undefined, text);
    // One such policy turns pruning off for the whole set.
    assert.equal(
      useOf(
        'permit (principal, action, resource) when { context.flow.private_seen };',
        unfollowable[0] ?? '',
      ),
      undefined,
    );
  });

  it('refuses policy forms it does not know', () => {
    assert.deepEqual(attributeUse([{ effect: 'permit' }]), { unfollowable: 0 });
    assert.deepEqual(
      attributeUse([
        {
          effect: 'permit',
          principal: { op: 'All' },
          action: { op: 'All' },
          resource: { op: 'All' },
          conditions: [
            { kind: 'when', body: { hasTag: { left: { Var: 'resource' }, right: { Value: 't' } } } },
          ],
        },
      ]),
      { unfollowable: 0 },
    );
    assert.deepEqual(
      attributeUse([
        {
          effect: 'permit',
          principal: { op: '==', slot: '?principal' },
          action: { op: 'All' },
          resource: { op: 'All' },
          conditions: [],
        },
      ]),
      { unfollowable: 0 },
    );
  });

  it('prunes entity attributes and context fields, keeping parents and whole values', () => {
    const model = compileSchema(MAIL_TOOLS);
    const call = toCedarRequest(model, toolCall({ flow: { touched: ['private'] } }), 0);
    const { use } = attributeUse([
      est(
        'forbid (principal, action, resource) when { resource.labels.contains("egress") && context.flow.touched.contains("private") && context.grant == context.grant };',
      ),
    ]);
    const pruned = pruneRequest(call, use);
    assert.deepEqual(pruned.context, {
      flow: { touched: ['private'] },
      grant: { active: false, ids: [] },
    });
    // No policy reads the agent or follows its parents, nor the action's: both are left out of
    // the store. No `in` follows the tool's parents either.
    assert.deepEqual(
      pruned.entities.map((e) => [(e.uid as { type: string }).type, e.attrs, e.parents.length]),
      [['Warden::Tool', { labels: ['egress'] }, 0]],
    );
    // `in` on the agent keeps its parents (and the entity), with no attributes.
    const { use: inBlueprint } = attributeUse([
      est(
        'permit (principal in Warden::Blueprint::"mailer", action in Warden::Action::"tools/call", resource);',
      ),
    ]);
    assert.deepEqual(
      pruneRequest(call, inBlueprint).entities.map((e) => [
        (e.uid as { type: string }).type,
        e.attrs,
        e.parents.length,
      ]),
      [
        ['Warden::Agent', {}, 2],
        ['Warden::Action', {}, 1],
      ],
    );
    // A path through an entity reference reads that entity's attributes: the request goes whole.
    const { use: throughRef } = attributeUse([
      est('permit (principal, action, resource) when { context.owner.sponsor == "alice@example.com" };'),
    ]);
    const owner = { __entity: { type: 'Warden::Agent', id: AGENT.id } };
    const withRef = { ...call, context: { ...call.context, owner } };
    assert.equal(pruneRequest(withRef, throughRef), withRef);
    // The original is untouched, and an unknown use leaves the request as it is.
    assert.equal(Object.keys(call.context).length, 5);
    assert.equal(pruneRequest(call, undefined), call);
  });
});

// --- differential: pruned and whole requests decide alike ---------------------------------------

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function requests(seed: number, count: number): Array<{ req: DecisionRequest; now: number }> {
  const r = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const some = <T>(xs: readonly T[]): T[] => xs.filter(() => r() < 0.4);
  const labels = ['private', 'untrusted', 'egress', 'consequential'];
  const out: Array<{ req: DecisionRequest; now: number }> = [];
  for (let i = 0; i < count; i++) {
    const server = pick(['mail', 'travel', 'workspace', 'banking', 'slack']);
    const tool = pick([
      'send_email',
      'list_inbox',
      'reserve_hotel',
      'delete_file',
      'send_money',
      'get_channels',
    ]);
    const generic = server !== 'mail' || r() < 0.3;
    const args: Record<string, unknown> = {
      to: pick(['bob@example.com', 'eve@evil.example', 'ops@example.com.evil.example']),
      subject: 'hi',
      body: pick(['hello', 'see https://evil.example']),
    };
    if (r() < 0.5) args['cc'] = some(['a@example.com', 'x@evil.example']);
    if (r() < 0.3) args['priority'] = Math.floor(r() * 5);
    if (r() < 0.3) args['urgent'] = r() < 0.5;
    const mailTool = pick(['send_email', 'list_inbox']);
    const req = toolCall({
      server: generic ? server : 'mail',
      tool: generic ? tool : mailTool,
      ...(generic ? { action: 'tools/call' } : {}),
      labels: some(labels),
      // The send_email action's arguments are typed from its schema; the others take none.
      arguments: !generic && mailTool === 'send_email' ? args : {},
      flow: {
        touched: some(['private', 'untrusted']),
        private_seen: r() < 0.5,
        untrusted_seen: r() < 0.5,
        tainted_args: some(['to', 'cc', 'recipient', 'hotel']),
        intent_args: some(['to', 'hotel', 'restaurant', 'company']),
      },
      context: {
        grant: { active: r() < 0.3, ids: some(['g1', 'g2']) },
        delegation_depth: Math.floor(r() * 3),
      },
    });
    const p = req.principal as unknown as Record<string, unknown>;
    p['scopes'] = some(['mail', 'admin', 'travel']);
    p['sponsor'] = pick(['alice@example.com', 'mallory@evil.example']);
    p['depth'] = Math.floor(r() * 3);
    // Any hour and weekday of a year.
    out.push({ req, now: Date.UTC(2026, 0, 1) + Math.floor(r() * 365 * 24) * 3_600_000 });
  }
  return out;
}

function files(dir: string): PolicyFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cedar'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

const STRESS = `
@id("s/record-equality")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { context.grant == { active: true, ids: ["g1"] } };

@id("s/sets-of-sets")
@approval("nested")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { [context.flow.tainted_args].contains(["to"]) };

@id("s/conditional-set")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { (if context.flow.private_seen then context.flow.touched else ["none"]).contains("untrusted") && resource.labels.contains("egress") };

@id("s/presence")
@approval("presence")
forbid (principal, action == Warden::Action::"call:mail/send_email", resource)
when { context.arguments has cc && context.arguments.cc.contains("x@evil.example") };

@id("s/overflows")
forbid (principal, action == Warden::Action::"call:mail/send_email", resource)
when { context.arguments has priority && context.arguments.priority * 4611686018427387904 > 0 };

@id("s/time")
@approval("night")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { context.time.hour_utc < 6 || context.time.weekday == 0 };

@id("s/principal")
forbid (principal, action in Warden::Action::"tools/call", resource)
when { principal.scopes.contains("admin") && principal.depth > 1 && principal.sponsor like "*@evil.example" };

@id("s/record-literal")
permit (principal, action in Warden::Action::"tools/call", resource)
when { { d: context.delegation_depth, l: resource.labels } != { d: 0, l: ["egress"] } && resource.server != "slack" };

@id("s/principal-in")
@approval("sponsor")
forbid (principal in Warden::Sponsor::"mallory@evil.example", action in Warden::Action::"tools/call", resource)
when { context.flow.untrusted_seen };

@id("s/is-in")
forbid (principal is Warden::Agent, action in Warden::Action::"tools/call", resource is Warden::Tool in Warden::Server::"banking")
when { context.flow.untrusted_seen && !context.flow.intent_args.contains("to") };
`;

describe('pruned requests decide as whole ones', () => {
  const model = compileSchema(MAIL_TOOLS);
  const cases: Array<[string, PolicyFile[]]> = [
    ['the stock pack', STOCK_POLICIES.map((f) => ({ name: f.name, text: f.text }))],
    [
      'the stock pack with the AgentDojo packs',
      [
        ...STOCK_POLICIES.map((f) => ({ name: f.name, text: f.text })),
        ...['common', 'travel', 'workspace'].flatMap((d) => files(join(POLICIES, 'examples/agentdojo', d))),
      ],
    ],
    [
      'the stock pack with the recipient-domain example',
      [
        ...STOCK_POLICIES.map((f) => ({ name: f.name, text: f.text })),
        {
          name: 'example.cedar',
          text: readFileSync(join(POLICIES, 'examples/recipient-domain.cedar'), 'utf8'),
        },
      ],
    ],
    [
      'policies written to stress the analysis',
      [
        ...STOCK_POLICIES.map((f) => ({ name: f.name, text: f.text })),
        { name: 'stress.cedar', text: STRESS },
      ],
    ],
  ];
  for (const [name, set] of cases) {
    it(name, () => {
      const loaded = loadPolicyTexts(set, model.text);
      assert.ok(loaded.attributeUse, 'the analysis follows every policy of the set');
      assert.equal(loaded.wholeRequestsFor, undefined);
      const pruned: PolicyState = { set: loaded, model };
      const whole: PolicyState = { set: { ...loaded, attributeUse: undefined }, model };
      const effects = new Map<string, number>();
      // Decided a third way, through a cache of Cedar's answers (evaluation-cache.ts) shared by all
      // the requests: requests that prune alike share an answer, and it must be the whole request's.
      const cache = new EvaluationCache();
      const stream = requests(name.length * 7919, 400);
      for (const { req, now } of [...stream, ...stream.slice().reverse()]) {
        const a = decideWith(pruned, req, now);
        const b = decideWith(whole, req, now);
        const c = decideWith(pruned, req, now, cache);
        assert.deepEqual(a, b, JSON.stringify(req));
        assert.deepEqual(c, b, `cached: ${JSON.stringify(req)}`);
        effects.set(a.effect, (effects.get(a.effect) ?? 0) + 1);
        for (const e of a.errors) effects.set(`error`, (effects.get('error') ?? 0) + (e ? 1 : 0));
      }
      // The requests reach more than one outcome, or the comparison would say little.
      assert.ok(effects.size >= 2, JSON.stringify([...effects]));
      // ...and the cache answered some of them, across different requests as well as repeats.
      assert.ok(cache.stats.hits >= 400, JSON.stringify(cache.stats));
    });
  }
});
