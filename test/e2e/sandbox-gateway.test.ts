// Sandboxed stdio upstreams through the real gateway: a server with no `sandbox:` key runs in the
// default sandbox (no network, homes and Warden's data directory hidden) and its tools work as
// usual; a server with a network allowlist reaches what it lists through Warden's proxy and
// nothing else, each attempt a `sandbox.connect` entry in the audit log; `sandbox: none` still
// runs bare, and says so in the log.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGatewayHarness, type GatewayHarness } from '../helpers/gateway.js';
import { connectAgent, closeAgents } from '../helpers/gateway-agents.js';
import { text } from '../helpers/mcp.js';
import { readEvents, type IndexedEvent } from '../../src/audit/read.js';
import { sandboxSupport } from '../../src/sandbox/probe.js';

const PROBE = fileURLToPath(new URL('../fixtures/mcp/sandbox-probe-server.mjs', import.meta.url));
const command = JSON.stringify([process.execPath, PROBE]);

let h: GatewayHarness;
let client: Client;
const servers: Server[] = [];
let allowedPort = 0;
let otherPort = 0;
let otherHits = 0;

async function listen(onRequest: () => string): Promise<number> {
  const s = createServer((_req, res) => res.end(onRequest()));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

interface WhoAmI {
  uid: number;
  home: { ok: boolean; value?: string[] };
  capEff: string;
  pids: number;
  read: { ok: boolean; code?: string; value?: string } | null;
}

async function call<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
  return JSON.parse(text(await client.callTool({ name, arguments: args }))) as T;
}

async function events(type: string, where: (e: IndexedEvent) => boolean, n: number): Promise<IndexedEvent[]> {
  const end = Date.now() + 5000;
  for (;;) {
    const found = (await readEvents(h.w.store, { type })).filter(where);
    if (found.length >= n || Date.now() > end) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  const missing = sandboxSupport().items.filter((i) => !i.ok && (i.required || i.name.startsWith('socat')));
  assert.deepEqual(
    missing.map((i) => `${i.name}: ${i.detail}`),
    [],
    'this machine must provide the sandbox (CI installs bubblewrap, socat, util-linux)',
  );
  allowedPort = await listen(() => 'hello from the allowed server');
  otherPort = await listen(() => {
    otherHits++;
    return 'other';
  });
  // The default profile, plus the fixture's own directory: a checkout may sit under /tmp or a
  // home directory, which the sandbox hides (Warden's own dist/ and node_modules/ it shows).
  h = await startGatewayHarness(`
upstreams:
  - name: probe
    transport: stdio
    command: ${command}
    sandbox:
      filesystem: { read: [${JSON.stringify(dirname(PROBE))}] }
  - name: net
    transport: stdio
    command: ${command}
    sandbox:
      filesystem: { read: [${JSON.stringify(dirname(PROBE))}] }
      network:
        allow: ['127.0.0.1:${allowedPort}']
  - name: bare
    transport: stdio
    command: ${command}
    sandbox: none
`);
  client = (await connectAgent(h, 'prober')).client;
  // The first listing starts the upstreams and records their tools for review; approve them all.
  assert.deepEqual((await client.listTools()).tools, []);
  assert.equal(await h.pinAll(), 6, h.logs.join('\n'));
});

after(async () => {
  await closeAgents(h);
  await h.close();
  for (const s of servers) s.close();
});

test('an upstream without a sandbox key runs sandboxed, and its tools work as usual', async () => {
  const names = (await client.listTools()).tools.map((t) => t.name).sort();
  assert.deepEqual(names, [
    'bare__fetch',
    'bare__whoami',
    'net__fetch',
    'net__whoami',
    'probe__fetch',
    'probe__whoami',
  ]);
  const secret = join(h.dataDir, 'warden.yaml');
  const inside = await call<WhoAmI>('probe__whoami', { path: secret });
  assert.ok(inside.uid >= 1_000_000, `a fresh unprivileged uid: ${inside.uid}`);
  assert.deepEqual(inside.home, { ok: true, value: [] }, '/home is empty inside');
  assert.equal(inside.capEff, '0000000000000000');
  assert.ok(inside.pids <= 4, `its own PID namespace: ${inside.pids} processes`);
  assert.deepEqual(inside.read, { ok: false, code: 'ENOENT' }, "Warden's data directory is hidden");
  const none = await call<{ ok: boolean; error?: string }>('probe__fetch', {
    url: `http://127.0.0.1:${allowedPort}/`,
  });
  assert.equal(none.ok, false, 'the default profile has no network');

  // Control: the same tool unsandboxed sees the host.
  const bare = await call<WhoAmI>('bare__whoami', { path: secret });
  assert.equal(bare.uid, process.getuid?.());
  assert.equal(bare.read?.ok, true, 'unsandboxed, the data directory is readable');
  assert.ok(bare.pids > 4);
});

test('an allowlisted destination is reachable, another is refused, and both are audited', async () => {
  const ok = await call<{ ok: boolean; status?: number; body?: string }>('net__fetch', {
    url: `http://127.0.0.1:${allowedPort}/`,
  });
  assert.deepEqual(ok, { ok: true, status: 200, body: 'hello from the allowed server' });
  const refused = await call<{ ok: boolean; status?: number; error?: string }>('net__fetch', {
    url: `http://127.0.0.1:${otherPort}/`,
  });
  assert.equal(refused.ok, false, JSON.stringify(refused));
  assert.equal(otherHits, 0, 'nothing reached the other server');

  const [allowed] = await events('sandbox.connect', (e) => e.subject === `127.0.0.1:${allowedPort}`, 1);
  const [denied] = await events('sandbox.connect', (e) => e.subject === `127.0.0.1:${otherPort}`, 1);
  assert.ok(allowed && denied, 'both attempts are in the audit log');
  assert.equal(allowed.actor, 'server:net');
  assert.equal(allowed.outcome, 'success');
  assert.equal(allowed.details['decision'], 'allow');
  assert.deepEqual(allowed.details['policies'], ['stock/sandbox-connect-allowlisted']);
  assert.equal(allowed.details['allowlisted'], true);
  assert.equal(denied.outcome, 'refused');
  assert.equal(denied.details['decision'], 'deny');
  assert.equal(denied.details['allowlisted'], false);
  assert.ok(['CONNECT', 'HTTP'].includes(String(denied.details['via'])));
});

test('sandbox: none still works and is recorded as upstream_unsandboxed', async () => {
  const r = await call<{ ok: boolean; status?: number }>('bare__fetch', {
    url: `http://127.0.0.1:${otherPort}/`,
  });
  assert.deepEqual(r.ok, true, 'unsandboxed, the host network is reachable');
  const recorded = await events(
    'mcp.session',
    (e) => e.subject === 'bare' && e.details['event'] === 'upstream_unsandboxed',
    1,
  );
  assert.equal(recorded.length, 1);
  assert.equal(recorded[0]?.reason, 'sandbox: none');
  const others = await events(
    'mcp.session',
    (e) => e.details['event'] === 'upstream_unsandboxed' && e.subject !== 'bare',
    0,
  );
  assert.deepEqual(others, [], 'the sandboxed upstreams are not recorded as unsandboxed');
});
