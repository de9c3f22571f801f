// The approval queue: a held call is released by its own sponsor, exactly once, only for the
// exact call hash, and only until it expires.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { initDataDir, openWarden, type Warden } from '../../src/cli/context.js';
import { readEvents } from '../../src/audit/index.js';
import { ApprovalQueue } from '../../src/gateway/approvals.js';
import type { HeldCall } from '../../src/gateway/ports.js';
import { WARDEN_BIN } from '../helpers/cli.js';

const run = promisify(execFile);
let dir: string;
let w: Warden;
let clock = Date.now();
let q: ApprovalQueue;

const call = (over: Partial<HeldCall> = {}): HeldCall => ({
  hash: 'a'.repeat(64),
  agent: 'spiffe://warden.local/agent/assistant/a1',
  sponsor: 'alice@example.com',
  server: 'mail',
  tool: 'send_email',
  arguments: { to: 'bob@example.com' },
  definitionHash: 'd'.repeat(64),
  reasons: ['needs a human'],
  policies: ['stock/egress-after-private-and-untrusted'],
  ...over,
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-approvals-'));
  await initDataDir(dir);
  w = await openWarden(dir);
  await w.registry.addSponsor({ id: 'alice@example.com', name: 'Alice' });
  await w.registry.addSponsor({ id: 'mallory@example.com', name: 'Mallory' });
  q = new ApprovalQueue(w.store, w.audit, { ttlSeconds: 60, now: () => clock });
});
after(async () => {
  await w.close();
  rmSync(dir, { recursive: true, force: true });
});

async function count(type: string): Promise<number> {
  return (await readEvents(w.store, { type })).length;
}

test('only the agent sponsor decides; the approval releases exactly that hash once', async () => {
  const id = await q.hold(call());
  assert.equal(await q.hold(call()), id, 'a retried call shares its pending approval');
  assert.equal(await q.consume('a'.repeat(64), call().agent), false, 'nothing to consume while pending');
  await assert.rejects(q.decide(id, 'approved', 'mallory@example.com'), {
    code: 'forbidden',
    message:
      'sponsor `mallory@example.com` is not the sponsor of agent `spiffe://warden.local/agent/assistant/a1`',
  });
  const approved = await q.decide(id, 'approved', 'alice@example.com');
  assert.equal(approved.status, 'approved');
  await assert.rejects(q.decide(id, 'denied', 'alice@example.com'), { code: 'conflict' });
  assert.equal(await q.consume('b'.repeat(64), call().agent), false, 'another call is not released');
  assert.equal(
    await q.consume('a'.repeat(64), 'spiffe://warden.local/agent/assistant/other'),
    false,
    'nor another agent',
  );
  assert.equal(await q.consume('a'.repeat(64), call().agent), true);
  assert.equal(await q.consume('a'.repeat(64), call().agent), false, 'released once only');
  assert.equal(await count('approval.consumed'), 1);
});

test('a denied call stays refused; wait() reports decisions and times out', async () => {
  const id = await q.hold(call({ hash: 'c'.repeat(64) }));
  assert.equal(await q.wait(id, 50), 'pending');
  await q.decide(id, 'denied', 'alice@example.com');
  assert.equal(await q.wait(id, 50), 'denied');
  assert.equal(await q.consume('c'.repeat(64), call().agent), false);
});

test('an approval expires', async () => {
  const id = await q.hold(call({ hash: 'e'.repeat(64) }));
  clock += 61_000;
  await assert.rejects(q.decide(id, 'approved', 'alice@example.com'), {
    code: 'conflict',
    message: `approval \`${id}\` has expired`,
  });
  assert.equal(
    (await q.list({ status: 'expired' })).some((a) => a.id === id),
    true,
  );
});

test('warden approvals list and approve from the CLI', async () => {
  const id = await q.hold(call({ hash: 'f'.repeat(64) }));
  const list = await run(process.execPath, [
    WARDEN_BIN,
    'approvals',
    'list',
    '--status',
    'pending',
    '--data-dir',
    dir,
  ]);
  assert.match(
    list.stdout,
    new RegExp(`${id}\\s+pending\\s+spiffe://warden.local/agent/assistant/a1\\s+mail/send_email`),
  );
  const wrong = await run(process.execPath, [
    WARDEN_BIN,
    'approvals',
    'approve',
    id,
    '--as',
    'mallory@example.com',
    '--data-dir',
    dir,
  ]).then(
    () => 'accepted',
    (e: { stderr: string; code: number }) => `${e.code} ${e.stderr}`,
  );
  assert.equal(
    wrong,
    `1 warden: sponsor \`mallory@example.com\` is not the sponsor of agent \`spiffe://warden.local/agent/assistant/a1\`\n`,
  );
  const ok = await run(process.execPath, [
    WARDEN_BIN,
    'approvals',
    'approve',
    id,
    '--as',
    'alice@example.com',
    '--data-dir',
    dir,
  ]);
  assert.equal(ok.stdout, `${id} approved: mail/send_email for spiffe://warden.local/agent/assistant/a1\n`);
});
