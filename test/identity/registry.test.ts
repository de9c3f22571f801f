// The registry's rules, one refusal at a time: each asserts the exact error code and message and
// that the database is byte-for-byte what it was before (every table, the change feed and audit).

import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { LogAuditSink, type AuditEvent, type AuditSink } from '../../src/audit/index.js';
import { RegistryError } from '../../src/errors.js';
import { generateAgentKey, jwkThumbprint, type PublicJwk } from '../../src/identity/jwk.js';
import { grantActiveAt } from '../../src/identity/model.js';
import { Registry, type NewBlueprint } from '../../src/identity/registry.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const DAY = 86_400_000;
const TD = 'example.test';

interface Harness {
  store: Store;
  registry: Registry;
  clock: { t: number };
}

const dir = mkdtempSync(join(tmpdir(), 'warden-registry-'));
let counter = 0;
const open: Store[] = [];

async function harness(audit?: (store: Store) => AuditSink): Promise<Harness> {
  const store = await openSqliteStore(join(dir, `r${counter++}.db`));
  open.push(store);
  const clock = { t: T0 };
  const registry = new Registry(store, audit ? audit(store) : new LogAuditSink(store), {
    trustDomain: TD,
    agentLifetimeDays: 90,
    now: () => clock.t,
  });
  return { store, registry, clock };
}

after(async () => {
  for (const s of open) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const TABLES = ['sponsors', 'blueprints', 'agents', 'grants', 'changes', 'audit_events'] as const;

async function dump(store: Store): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t] = await store.db.selectFrom(t).selectAll().execute();
  return out;
}

async function count(store: Store, table: (typeof TABLES)[number]): Promise<number> {
  return (await store.db.selectFrom(table).selectAll().execute()).length;
}

/** Assert `fn` is refused with `code` and a message containing `fragment`, and nothing changed. */
async function refused(
  h: Harness,
  fn: () => Promise<unknown>,
  code: string,
  fragment: string,
): Promise<void> {
  const before = await dump(h.store);
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(
      err.message.includes(fragment),
      `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(fragment)}`,
    );
    return true;
  });
  assert.deepEqual(await dump(h.store), before, 'a refused request changed the database');
}

async function lastAudit(store: Store) {
  return store.db.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').executeTakeFirstOrThrow();
}

async function lastChange(store: Store) {
  return store.db.selectFrom('changes').selectAll().orderBy('seq', 'desc').executeTakeFirstOrThrow();
}

function key(): PublicJwk {
  return generateAgentKey('ES256').publicJwk;
}

function bp(over: Partial<NewBlueprint> = {}): NewBlueprint {
  return {
    name: 'support',
    sponsors: ['alice@example.com'],
    envelope: { servers: ['tickets'], tools: ['tickets/*'], scopes: ['tickets:read', 'tickets:write'] },
    baseScope: ['tickets:read'],
    ...over,
  };
}

/** Sponsors alice and bob, blueprint `support` sponsored by alice, agent support/a1. */
async function populated(): Promise<Harness> {
  const h = await harness();
  await h.registry.addSponsor({ id: 'alice@example.com', name: 'Alice' });
  await h.registry.addSponsor({ id: 'bob@example.com', name: 'Bob' });
  await h.registry.createBlueprint(bp());
  await h.registry.createAgent({
    blueprint: 'support',
    name: 'a1',
    sponsor: 'alice@example.com',
    publicJwk: key(),
  });
  return h;
}

const A1 = `spiffe://${TD}/agent/support/a1`;

describe('sponsors', () => {
  it('adds, lists and gets a sponsor, with a change row and an audit event', async () => {
    const h = await harness();
    const s = await h.registry.addSponsor({ id: 'alice@example.com', name: 'Alice Example' });
    assert.deepEqual(s, {
      id: 'alice@example.com',
      name: 'Alice Example',
      status: 'active',
      createdAt: T0,
      updatedAt: T0,
      invalidBefore: 0,
    });
    assert.deepEqual(await h.registry.listSponsors(), [s]);
    assert.deepEqual(await h.registry.getSponsor('alice@example.com'), s);
    const change = await lastChange(h.store);
    assert.deepEqual(
      [change.kind, change.entity_id, Number(change.at)],
      ['sponsor', 'alice@example.com', T0],
    );
    const ev = await lastAudit(h.store);
    assert.deepEqual(
      [ev.type, ev.outcome, ev.actor, ev.subject],
      ['sponsor.created', 'success', 'operator', s.id],
    );
  });

  it('refuses a duplicate and malformed ids and names', async () => {
    const h = await harness();
    await h.registry.addSponsor({ id: 'alice@example.com', name: 'Alice' });
    await refused(
      h,
      () => h.registry.addSponsor({ id: 'alice@example.com', name: 'Again' }),
      'already_exists',
      'sponsor `alice@example.com` already exists',
    );
    await refused(
      h,
      () => h.registry.addSponsor({ id: 'alice smith', name: 'A' }),
      'invalid_argument',
      'invalid sponsor id `alice smith`',
    );
    await refused(
      h,
      () => h.registry.addSponsor({ id: 'a\nb', name: 'A' }),
      'invalid_argument',
      'invalid sponsor id `a\\u000ab`',
    );
    await refused(
      h,
      () => h.registry.addSponsor({ id: '', name: 'A' }),
      'invalid_argument',
      'invalid sponsor id',
    );
    await refused(
      h,
      () => h.registry.addSponsor({ id: 'x'.repeat(256), name: 'A' }),
      'invalid_argument',
      'invalid sponsor id',
    );
    await refused(
      h,
      () => h.registry.addSponsor({ id: 'a\u200bb', name: 'A' }),
      'invalid_argument',
      'invalid sponsor id',
    );
    await refused(
      h,
      () => h.registry.addSponsor({ id: 'bob', name: '' }),
      'invalid_argument',
      'invalid sponsor name',
    );
    await refused(
      h,
      () => h.registry.addSponsor({ id: 'bob', name: 'n'.repeat(201) }),
      'invalid_argument',
      '1 to 200 characters',
    );
    await refused(
      h,
      () => h.registry.addSponsor({ id: 42, name: 'A' } as unknown as { id: string; name: string }),
      'invalid_argument',
      'sponsor id must be a string',
    );
    await h.registry.addSponsor({ id: 'x'.repeat(255), name: 'n'.repeat(200) });
  });

  it('disable kills earlier tokens for good; enable does not revive them', async () => {
    const h = await harness();
    await h.registry.addSponsor({ id: 'alice', name: 'Alice' });
    h.clock.t = T0 + 1000;
    const d = await h.registry.disableSponsor('alice');
    assert.equal(d.status, 'disabled');
    assert.equal(d.invalidBefore, T0 + 1000);
    assert.equal((await lastAudit(h.store)).type, 'sponsor.disabled');
    h.clock.t = T0 + 2000;
    const e = await h.registry.enableSponsor('alice');
    assert.equal(e.status, 'active');
    assert.equal(e.invalidBefore, T0 + 1000);
    assert.deepEqual(await h.registry.getSponsor('alice'), e);
    assert.equal((await lastAudit(h.store)).type, 'sponsor.enabled');
  });

  it('refuses wrong transitions and unknown sponsors', async () => {
    const h = await harness();
    await h.registry.addSponsor({ id: 'alice', name: 'Alice' });
    await refused(
      h,
      () => h.registry.enableSponsor('alice'),
      'conflict',
      'sponsor `alice` is already active',
    );
    await h.registry.disableSponsor('alice');
    await refused(
      h,
      () => h.registry.disableSponsor('alice'),
      'conflict',
      'sponsor `alice` is already disabled',
    );
    await refused(h, () => h.registry.disableSponsor('nobody'), 'not_found', 'sponsor `nobody` not found');
    await refused(h, () => h.registry.getSponsor('nobody'), 'not_found', 'sponsor `nobody` not found');
  });
});

describe('blueprints', () => {
  it('creates with defaults', async () => {
    const h = await harness();
    await h.registry.addSponsor({ id: 'alice@example.com', name: 'Alice' });
    const b = await h.registry.createBlueprint(bp());
    assert.equal(b.name, 'support');
    assert.deepEqual(b.owners, ['alice@example.com']);
    assert.equal(b.tokenTtlSeconds, 600);
    assert.equal(b.maxDelegationDepth, 2);
    assert.equal(b.version, 1);
    assert.equal(b.status, 'active');
    assert.equal(b.reviewBy, null);
    assert.deepEqual(await h.registry.getBlueprint('support'), b);
    assert.deepEqual(await h.registry.listBlueprints(), [b]);
    const ev = await lastAudit(h.store);
    assert.equal(ev.type, 'blueprint.created');
    assert.equal((await lastChange(h.store)).kind, 'blueprint');
  });

  it('accepts the limits exactly', async () => {
    const h = await harness();
    await h.registry.addSponsor({ id: 'alice@example.com', name: 'Alice' });
    const b = await h.registry.createBlueprint(
      bp({
        name: 'a'.repeat(63),
        tokenTtlSeconds: 3600,
        maxDelegationDepth: 10,
        reviewBy: T0 + 1,
        owners: ['carol'],
      }),
    );
    assert.deepEqual(
      [b.tokenTtlSeconds, b.maxDelegationDepth, b.reviewBy, b.owners],
      [3600, 10, T0 + 1, ['carol']],
    );
    const z = await h.registry.createBlueprint(
      bp({ name: '0-x', tokenTtlSeconds: 1, maxDelegationDepth: 0 }),
    );
    assert.deepEqual([z.tokenTtlSeconds, z.maxDelegationDepth], [1, 0]);
  });

  it('refuses every broken rule and changes nothing', async () => {
    const h = await harness();
    await h.registry.addSponsor({ id: 'alice@example.com', name: 'Alice' });
    await h.registry.addSponsor({ id: 'dave', name: 'Dave' });
    await h.registry.disableSponsor('dave');
    await h.registry.createBlueprint(bp());
    const r = h.registry;
    await refused(h, () => r.createBlueprint(bp()), 'already_exists', 'blueprint `support` already exists');
    for (const name of ['Support', '-support', 'a'.repeat(64), 'sup/port', 'sup port', '']) {
      await refused(h, () => r.createBlueprint(bp({ name })), 'invalid_argument', `invalid blueprint name`);
    }
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', sponsors: [] })),
      'invalid_argument',
      'needs at least one sponsor',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', owners: [] })),
      'invalid_argument',
      'needs at least one owner',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', sponsors: ['ghost'] })),
      'not_found',
      'sponsor `ghost` not found',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', sponsors: ['dave'] })),
      'forbidden',
      'sponsor `dave` is disabled',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', sponsors: ['alice@example.com', 'alice@example.com'] })),
      'invalid_argument',
      'duplicate sponsor `alice@example.com`',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', baseScope: ['tickets:read', 'admin'] })),
      'invalid_argument',
      'base scope `admin` is not in the envelope of blueprint `x`',
    );
    await refused(
      h,
      () =>
        r.createBlueprint(
          bp({ name: 'x', envelope: { servers: [], tools: [], scopes: ['a b'] }, baseScope: [] }),
        ),
      'invalid_argument',
      'invalid scope `a b`',
    );
    await refused(
      h,
      () =>
        r.createBlueprint(
          bp({ name: 'x', envelope: { servers: [], tools: [], scopes: ['say"hi"'] }, baseScope: [] }),
        ),
      'invalid_argument',
      'invalid scope',
    );
    await refused(
      h,
      () =>
        r.createBlueprint(
          bp({ name: 'x', envelope: { servers: [], tools: [], scopes: ['a', 'a'] }, baseScope: [] }),
        ),
      'invalid_argument',
      'duplicate envelope scope `a`',
    );
    await refused(
      h,
      () =>
        r.createBlueprint(
          bp({ name: 'x', envelope: { servers: ['bad server'], tools: [], scopes: [] }, baseScope: [] }),
        ),
      'invalid_argument',
      'invalid server `bad server`',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', tokenTtlSeconds: 3601 })),
      'invalid_argument',
      'at most 60 minutes',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', tokenTtlSeconds: 0 })),
      'invalid_argument',
      'at most 60 minutes',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', tokenTtlSeconds: 1.5 })),
      'invalid_argument',
      'must be a whole number',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', maxDelegationDepth: 11 })),
      'invalid_argument',
      '0 to 10',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', maxDelegationDepth: -1 })),
      'invalid_argument',
      '0 to 10',
    );
    await refused(
      h,
      () => r.createBlueprint(bp({ name: 'x', reviewBy: T0 })),
      'invalid_argument',
      'review-by date 2026-01-15 is not in the future',
    );
    await refused(
      h,
      () =>
        r.createBlueprint({ ...bp({ name: 'x' }), envelope: null as unknown as NewBlueprint['envelope'] }),
      'invalid_argument',
      'the envelope must be an object',
    );
    await refused(
      h,
      () => r.createBlueprint({ ...bp({ name: 'x' }), sponsors: 'alice@example.com' as unknown as string[] }),
      'invalid_argument',
      'sponsor list must be an array',
    );
  });

  it('update bumps the version and invalidates earlier tokens; unset fields keep their values', async () => {
    const h = await populated();
    h.clock.t = T0 + 5000;
    const b = await h.registry.updateBlueprint('support', {
      tokenTtlSeconds: 300,
      envelope: { scopes: ['tickets:read', 'tickets:write', 'kb:read'] },
      sponsors: ['alice@example.com', 'bob@example.com'],
      reviewBy: T0 + 30 * DAY,
    });
    assert.equal(b.version, 2);
    assert.equal(b.invalidBefore, T0 + 5000);
    assert.equal(b.updatedAt, T0 + 5000);
    assert.equal(b.tokenTtlSeconds, 300);
    assert.deepEqual(b.envelope, {
      servers: ['tickets'],
      tools: ['tickets/*'],
      scopes: ['tickets:read', 'tickets:write', 'kb:read'],
    });
    assert.deepEqual(b.sponsors, ['alice@example.com', 'bob@example.com']);
    assert.deepEqual(b.owners, ['alice@example.com']);
    assert.deepEqual(b.baseScope, ['tickets:read']);
    assert.deepEqual(await h.registry.getBlueprint('support'), b);
    const ev = await lastAudit(h.store);
    assert.equal(ev.type, 'blueprint.updated');
    assert.deepEqual((JSON.parse(ev.details) as { changed: string[] }).changed.sort(), [
      'envelope',
      'reviewBy',
      'sponsors',
      'tokenTtlSeconds',
    ]);
    const cleared = await h.registry.updateBlueprint('support', { reviewBy: null });
    assert.equal(cleared.reviewBy, null);
    assert.equal(cleared.version, 3);
  });

  it('update refuses what would break the rules and changes nothing', async () => {
    const h = await populated();
    await h.registry.addSponsor({ id: 'dave', name: 'Dave' });
    await h.registry.disableSponsor('dave');
    const r = h.registry;
    await refused(
      h,
      () => r.updateBlueprint('support', {}),
      'invalid_argument',
      'nothing to update in blueprint `support`',
    );
    await refused(
      h,
      () => r.updateBlueprint('nope', { tokenTtlSeconds: 60 }),
      'not_found',
      'blueprint `nope` not found',
    );
    await refused(
      h,
      () => r.updateBlueprint('support', { tokenTtlSeconds: 7200 }),
      'invalid_argument',
      'at most 60 minutes',
    );
    await refused(
      h,
      () => r.updateBlueprint('support', { envelope: { scopes: ['tickets:write'] } }),
      'invalid_argument',
      'base scope `tickets:read` is not in the envelope of blueprint `support`',
    );
    await refused(
      h,
      () => r.updateBlueprint('support', { sponsors: [] }),
      'invalid_argument',
      'needs at least one sponsor',
    );
    await refused(
      h,
      () => r.updateBlueprint('support', { sponsors: ['alice@example.com', 'dave'] }),
      'forbidden',
      'sponsor `dave` is disabled',
    );
    await refused(
      h,
      () => r.updateBlueprint('support', { sponsors: ['bob@example.com'] }),
      'conflict',
      `cannot remove sponsor \`alice@example.com\` from blueprint \`support\`: agent \`${A1}\` still has them as sponsor`,
    );
    await r.suspendAgent(A1);
    await refused(
      h,
      () => r.updateBlueprint('support', { sponsors: ['bob@example.com'] }),
      'conflict',
      'cannot remove sponsor',
    );
    await refused(
      h,
      () => r.updateBlueprint('support', { reviewBy: T0 - 1 }),
      'invalid_argument',
      'is not in the future',
    );
    // Once the agent is retired, its sponsor may leave the blueprint.
    await r.retireAgent(A1);
    const b = await r.updateBlueprint('support', { sponsors: ['bob@example.com'] });
    assert.deepEqual(b.sponsors, ['bob@example.com']);
  });

  it('a disabled sponsor already on the blueprint may stay through an update', async () => {
    const h = await populated();
    await h.registry.disableSponsor('alice@example.com');
    const b = await h.registry.updateBlueprint('support', {
      sponsors: ['alice@example.com', 'bob@example.com'],
    });
    assert.deepEqual(b.sponsors, ['alice@example.com', 'bob@example.com']);
  });

  it('retire ends the blueprint: no updates, no new agents', async () => {
    const h = await populated();
    h.clock.t = T0 + 7000;
    const b = await h.registry.retireBlueprint('support');
    assert.equal(b.status, 'retired');
    assert.equal(b.invalidBefore, T0 + 7000);
    assert.equal((await lastAudit(h.store)).type, 'blueprint.retired');
    await refused(
      h,
      () => h.registry.retireBlueprint('support'),
      'conflict',
      'blueprint `support` is already retired',
    );
    await refused(
      h,
      () => h.registry.updateBlueprint('support', { tokenTtlSeconds: 60 }),
      'conflict',
      'blueprint `support` is retired',
    );
    await refused(
      h,
      () =>
        h.registry.createAgent({
          blueprint: 'support',
          name: 'a2',
          sponsor: 'alice@example.com',
          publicJwk: key(),
        }),
      'forbidden',
      'blueprint `support` is retired',
    );
  });
});

describe('agents', () => {
  it('creates an agent bound to its key', async () => {
    const h = await populated();
    const jwk = generateAgentKey('EdDSA').publicJwk;
    h.clock.t = T0 + 1;
    const a = await h.registry.createAgent({
      blueprint: 'support',
      name: 'b-2',
      sponsor: 'alice@example.com',
      publicJwk: jwk,
      expiresInDays: 7,
    });
    assert.equal(a.id, `spiffe://${TD}/agent/support/b-2`);
    assert.deepEqual(a.publicJwk, jwk);
    assert.equal(a.jkt, jwkThumbprint(jwk));
    assert.equal(a.expiresAt, T0 + 1 + 7 * DAY);
    assert.equal(a.status, 'active');
    assert.deepEqual(await h.registry.getAgent(a.id), a);
    assert.deepEqual(await h.registry.getAgent('support/b-2'), a);
    const first = await h.registry.getAgent('support/a1');
    assert.equal(first.expiresAt, T0 + 90 * DAY);
    const ev = await lastAudit(h.store);
    assert.deepEqual([ev.type, ev.subject, ev.sponsor], ['agent.created', a.id, 'alice@example.com']);
    assert.deepEqual(
      (await h.registry.listAgents()).map((x) => x.id),
      [A1, a.id],
    );
  });

  it('refuses an agent for a blueprint past its review-by date', async () => {
    const h = await populated();
    await h.registry.updateBlueprint('support', { reviewBy: Date.UTC(2026, 1, 1) });
    h.clock.t = Date.UTC(2026, 1, 1);
    await refused(
      h,
      () =>
        h.registry.createAgent({
          blueprint: 'support',
          name: 'a2',
          sponsor: 'alice@example.com',
          publicJwk: key(),
        }),
      'forbidden',
      'blueprint `support` is past its review-by date 2026-02-01: review and update it before creating agents',
    );
    // Reviewing (moving the date) lets agents be created again.
    await h.registry.updateBlueprint('support', { reviewBy: Date.UTC(2026, 6, 1) });
    await h.registry.createAgent({
      blueprint: 'support',
      name: 'a2',
      sponsor: 'alice@example.com',
      publicJwk: key(),
    });
  });

  it('refuses every broken rule and changes nothing', async () => {
    const h = await populated();
    await h.registry.addSponsor({ id: 'dave', name: 'Dave' });
    await h.registry.updateBlueprint('support', { sponsors: ['alice@example.com', 'dave'] });
    await h.registry.disableSponsor('dave');
    const r = h.registry;
    const make = (over: Partial<Parameters<Registry['createAgent']>[0]>) => () =>
      r.createAgent({
        blueprint: 'support',
        name: 'a2',
        sponsor: 'alice@example.com',
        publicJwk: key(),
        ...over,
      });
    await refused(h, make({ blueprint: 'nope' }), 'not_found', 'blueprint `nope` not found');
    await refused(
      h,
      make({ sponsor: 'bob@example.com' }),
      'forbidden',
      'sponsor `bob@example.com` is not a sponsor of blueprint `support`',
    );
    await refused(h, make({ sponsor: 'ghost' }), 'not_found', 'sponsor `ghost` not found');
    await refused(h, make({ sponsor: 'dave' }), 'forbidden', 'sponsor `dave` is disabled');
    await refused(h, make({ name: 'A2' }), 'invalid_argument', 'invalid agent name `A2`');
    await refused(h, make({ name: 'a/b' }), 'invalid_argument', 'invalid agent name');
    await refused(h, make({ name: 'a1' }), 'already_exists', `agent \`${A1}\` already exists`);
    const { publicJwk, privateJwk } = generateAgentKey('ES256');
    await refused(
      h,
      make({ publicJwk: privateJwk }),
      'invalid_argument',
      'invalid public key: jwk contains private key member `d`',
    );
    await refused(
      h,
      make({ publicJwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } }),
      'invalid_argument',
      'invalid public key: unsupported key type `RSA`',
    );
    await refused(
      h,
      make({ publicJwk: 'not a key' }),
      'invalid_argument',
      'invalid public key: jwk must be a JSON object',
    );
    await refused(
      h,
      make({ publicJwk: { ...publicJwk, y: Buffer.alloc(32, 1).toString('base64url') } }),
      'invalid_argument',
      'invalid public key: jwk is not a valid EC public key',
    );
    const a1 = await r.getAgent(A1);
    await refused(
      h,
      make({ publicJwk: a1.publicJwk }),
      'conflict',
      `public key \`${a1.jkt}\` is already registered to agent \`${A1}\``,
    );
    await refused(
      h,
      make({ expiresInDays: 0 }),
      'invalid_argument',
      'agent lifetime (days) 0 is out of range',
    );
    await refused(h, make({ expiresInDays: 3651 }), 'invalid_argument', 'out of range');
  });

  it('suspend, resume and retire follow the state machine and keep dead tokens dead', async () => {
    const h = await populated();
    const r = h.registry;
    h.clock.t = T0 + 100;
    const s = await r.suspendAgent('support/a1');
    assert.deepEqual([s.status, s.invalidBefore], ['suspended', T0 + 100]);
    assert.equal((await lastAudit(h.store)).type, 'agent.suspended');
    assert.deepEqual(
      [(await lastChange(h.store)).kind, (await lastChange(h.store)).entity_id],
      ['agent', A1],
    );
    await refused(
      h,
      () => r.suspendAgent(A1),
      'conflict',
      `cannot suspend agent \`${A1}\`: it is already suspended`,
    );
    h.clock.t = T0 + 200;
    const back = await r.resumeAgent(A1);
    assert.deepEqual([back.status, back.invalidBefore], ['active', T0 + 100]);
    assert.equal((await lastAudit(h.store)).type, 'agent.resumed');
    await refused(
      h,
      () => r.resumeAgent(A1),
      'conflict',
      `cannot resume agent \`${A1}\`: it is already active`,
    );
    h.clock.t = T0 + 300;
    const gone = await r.retireAgent(A1);
    assert.deepEqual([gone.status, gone.invalidBefore], ['retired', T0 + 300]);
    await refused(h, () => r.resumeAgent(A1), 'conflict', 'it is retired');
    await refused(h, () => r.suspendAgent(A1), 'conflict', 'it is retired');
    await refused(h, () => r.retireAgent(A1), 'conflict', 'it is already retired');
    await refused(
      h,
      () => r.suspendAgent('support/nope'),
      'not_found',
      `agent \`spiffe://${TD}/agent/support/nope\` not found`,
    );
    await refused(h, () => r.getAgent('just-a-name'), 'invalid_argument', 'invalid agent id `just-a-name`');
  });

  it('lists agents by blueprint', async () => {
    const h = await populated();
    await h.registry.createBlueprint(bp({ name: 'billing' }));
    await h.registry.createAgent({
      blueprint: 'billing',
      name: 'b1',
      sponsor: 'alice@example.com',
      publicJwk: key(),
    });
    assert.deepEqual(
      (await h.registry.listAgents({ blueprint: 'billing' })).map((a) => a.name),
      ['b1'],
    );
    assert.equal((await h.registry.listAgents()).length, 2);
  });
});

describe('grants', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await populated();
  });

  const req = (over: Partial<Parameters<Registry['requestGrant']>[0]> = {}) => ({
    agent: 'support/a1',
    scope: ['tickets:write'],
    durationSeconds: 900,
    reason: 'incident 42',
    ...over,
  });

  it('request, approve, expire', async () => {
    const g = await h.registry.requestGrant(req());
    assert.match(g.id, /^g_[A-Za-z0-9_-]{22}$/);
    assert.deepEqual([g.status, g.agent, g.scope, g.requestedAt], ['pending', A1, ['tickets:write'], T0]);
    assert.equal((await lastAudit(h.store)).type, 'grant.requested');
    h.clock.t = T0 + 10_000;
    const ok = await h.registry.approveGrant(g.id, 'alice@example.com');
    assert.deepEqual(
      [ok.status, ok.decidedBy, ok.decidedAt, ok.startsAt, ok.endsAt],
      ['approved', 'alice@example.com', T0 + 10_000, T0 + 10_000, T0 + 10_000 + 900_000],
    );
    const ev = await lastAudit(h.store);
    assert.deepEqual(
      [ev.type, ev.actor, ev.sponsor, JSON.parse(ev.authority)],
      ['grant.approved', 'sponsor:alice@example.com', 'alice@example.com', ['alice@example.com']],
    );
    assert.deepEqual(
      [(await lastChange(h.store)).kind, (await lastChange(h.store)).entity_id],
      ['grant', g.id],
    );
    assert.ok(grantActiveAt(ok, T0 + 10_000));
    assert.equal((await h.registry.listGrants({ status: 'approved' })).length, 1);
    h.clock.t = ok.endsAt ?? 0;
    assert.ok(!grantActiveAt(ok, h.clock.t));
    const [listed] = await h.registry.listGrants({ agent: A1 });
    assert.equal(listed?.effectiveStatus, 'expired');
    assert.equal(listed?.status, 'approved');
    assert.equal((await h.registry.listGrants({ status: 'approved' })).length, 0);
    assert.equal((await h.registry.listGrants({ status: 'expired' })).length, 1);
    assert.equal((await h.registry.getGrant(g.id)).effectiveStatus, 'expired');
    await refused(
      h,
      () => h.registry.revokeGrant(g.id),
      'conflict',
      `cannot revoke grant \`${g.id}\`: it is expired`,
    );
  });

  it('refuses bad requests and changes nothing', async () => {
    const r = h.registry;
    await refused(
      h,
      () => r.requestGrant(req({ scope: ['admin'] })),
      'forbidden',
      'scope `admin` is outside the envelope of blueprint `support`',
    );
    await refused(
      h,
      () => r.requestGrant(req({ scope: [] })),
      'invalid_argument',
      'a grant needs at least one scope',
    );
    await refused(
      h,
      () => r.requestGrant(req({ scope: ['a b'] })),
      'invalid_argument',
      'invalid scope `a b`',
    );
    await refused(
      h,
      () => r.requestGrant(req({ durationSeconds: 0 })),
      'invalid_argument',
      'at most 24 hours',
    );
    await refused(
      h,
      () => r.requestGrant(req({ durationSeconds: 86_401 })),
      'invalid_argument',
      'at most 24 hours',
    );
    await refused(h, () => r.requestGrant(req({ reason: '' })), 'invalid_argument', 'a grant needs a reason');
    await refused(
      h,
      () => r.requestGrant(req({ reason: '   ' })),
      'invalid_argument',
      'a grant needs a reason',
    );
    await refused(
      h,
      () => r.requestGrant(req({ agent: 'support/ghost' })),
      'not_found',
      'agent `spiffe://example.test/agent/support/ghost` not found',
    );
    await r.suspendAgent(A1);
    await refused(h, () => r.requestGrant(req()), 'forbidden', `agent \`${A1}\` is suspended`);
    await r.resumeAgent(A1);
    h.clock.t = T0 + 91 * DAY;
    await refused(h, () => r.requestGrant(req()), 'forbidden', `agent \`${A1}\` expired on 2026-04-15`);
    h.clock.t = T0;
    await r.requestGrant(req({ durationSeconds: 86_400 }));
  });

  it("only the agent's own active sponsor decides, and only once", async () => {
    const r = h.registry;
    const g = await r.requestGrant(req());
    await refused(
      h,
      () => r.approveGrant(g.id, 'bob@example.com'),
      'forbidden',
      `sponsor \`bob@example.com\` is not the sponsor of agent \`${A1}\``,
    );
    await refused(h, () => r.denyGrant(g.id, 'bob@example.com'), 'forbidden', 'is not the sponsor of agent');
    await refused(h, () => r.approveGrant(g.id, 'ghost'), 'not_found', 'sponsor `ghost` not found');
    await refused(
      h,
      () => r.approveGrant('g_nope', 'alice@example.com'),
      'not_found',
      'grant `g_nope` not found',
    );
    await r.disableSponsor('alice@example.com');
    await refused(
      h,
      () => r.approveGrant(g.id, 'alice@example.com'),
      'forbidden',
      'sponsor `alice@example.com` is disabled',
    );
    await r.enableSponsor('alice@example.com');
    const denied = await r.denyGrant(g.id, 'alice@example.com');
    assert.deepEqual(
      [denied.status, denied.decidedBy, denied.startsAt, denied.endsAt],
      ['denied', 'alice@example.com', null, null],
    );
    assert.equal((await lastAudit(h.store)).type, 'grant.denied');
    await refused(
      h,
      () => r.approveGrant(g.id, 'alice@example.com'),
      'conflict',
      `grant \`${g.id}\` is denied, not pending`,
    );
    await refused(h, () => r.revokeGrant(g.id), 'conflict', 'it is denied');
  });

  it('approval re-checks the agent and the envelope', async () => {
    const r = h.registry;
    const g = await r.requestGrant(req());
    await r.updateBlueprint('support', { envelope: { scopes: ['tickets:read'] } });
    await refused(
      h,
      () => r.approveGrant(g.id, 'alice@example.com'),
      'forbidden',
      'scope `tickets:write` is outside the envelope',
    );
    await r.updateBlueprint('support', { envelope: { scopes: ['tickets:read', 'tickets:write'] } });
    await r.suspendAgent(A1);
    await refused(
      h,
      () => r.approveGrant(g.id, 'alice@example.com'),
      'forbidden',
      `agent \`${A1}\` is suspended`,
    );
  });

  it("revoke: by the operator or the agent's sponsor, approved grants only", async () => {
    const r = h.registry;
    const g = await r.requestGrant(req());
    await refused(h, () => r.revokeGrant(g.id), 'conflict', 'it is pending: deny it instead');
    await r.approveGrant(g.id, 'alice@example.com');
    await refused(
      h,
      () => r.revokeGrant(g.id, 'bob@example.com'),
      'forbidden',
      'is not the sponsor of agent',
    );
    const rv = await r.revokeGrant(g.id);
    assert.equal(rv.status, 'revoked');
    const ev = await lastAudit(h.store);
    assert.deepEqual([ev.type, ev.actor], ['grant.revoked', 'operator']);
    assert.ok(!grantActiveAt(rv, T0));
    await refused(h, () => r.revokeGrant(g.id), 'conflict', 'it is revoked');
    const g2 = await r.requestGrant(req());
    await r.approveGrant(g2.id, 'alice@example.com');
    await r.revokeGrant(g2.id, 'alice@example.com');
    const ev2 = await lastAudit(h.store);
    assert.deepEqual(
      [ev2.actor, JSON.parse(ev2.authority)],
      ['sponsor:alice@example.com', ['alice@example.com']],
    );
    assert.deepEqual(
      (await r.listGrants({ status: 'revoked' })).map((x) => x.id).sort(),
      [g.id, g2.id].sort(),
    );
    await refused(
      h,
      () => r.listGrants({ status: 'bogus' as 'approved' }),
      'invalid_argument',
      'unknown grant status `bogus`',
    );
  });
});

describe('transactions', () => {
  it('a write whose audit event fails leaves no trace', async () => {
    class FailingSink implements AuditSink {
      record(_event: AuditEvent): Promise<void> {
        return Promise.reject(new Error('disk full'));
      }
    }
    const h = await harness(() => new FailingSink());
    await assert.rejects(() => h.registry.addSponsor({ id: 'alice', name: 'Alice' }), /disk full/);
    assert.equal(await count(h.store, 'sponsors'), 0);
    assert.equal(await count(h.store, 'changes'), 0);
  });

  it('every successful write adds exactly one change row and one audit event', async () => {
    const h = await populated();
    const before = [await count(h.store, 'changes'), await count(h.store, 'audit_events')];
    await h.registry.suspendAgent(A1);
    assert.deepEqual(
      [await count(h.store, 'changes'), await count(h.store, 'audit_events')],
      [before[0]! + 1, before[1]! + 1],
    );
  });
});
