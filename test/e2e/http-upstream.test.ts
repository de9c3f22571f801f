// The gateway in front of a remote MCP server over Streamable HTTP that requires a bearer token.
// The gateway holds the credential (from the 0600 secrets file) and injects it; the agent
// authenticates to the gateway with its own DPoP-bound token. Neither credential may cross over:
// the agent's token and proofs never reach the upstream, the upstream credential never reaches
// the agent (tool list, results, errors), the audit log or the gateway's log. A secrets file
// readable by others stops `warden serve` from starting.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayErrorCode } from '../../src/gateway/errors.js';
import type { GatewayHarness } from '../helpers/gateway.js';
import {
  connectAgent,
  recordServiceRequests,
  startPreparedGatewayHarness,
  type ConnectedAgent,
} from '../helpers/gateway-agents.js';
import { startHttpUpstream, type HttpUpstream } from '../helpers/http-upstream.js';
import { WARDEN_BIN } from '../helpers/cli.js';
import { rpcError, text } from '../helpers/mcp.js';

// Not shaped like any known token format, so only the gateway's knowledge of its own secrets
// (not a pattern) can keep it from the agent.
const SECRET = `up-${randomBytes(24).toString('hex')}`;

/** Marks this file's own requests to the upstream, so they are not taken for the gateway's. */
const PROBE = 'x-test-probe';

function configFor(up: HttpUpstream): string {
  return `
upstreams:
  - name: remote
    transport: http
    url: ${up.url}
    auth: { type: bearer, token: { secret: up-token } }
  - name: leaky
    transport: http
    url: ${up.leakyUrl}
    auth: { type: bearer, token: { secret: up-token } }
`;
}

function writeSecrets(dataDir: string, mode: number): void {
  const file = join(dataDir, 'secrets.yaml');
  writeFileSync(file, `up-token: ${SECRET}\n`, { mode });
  chmodSync(file, mode); // whatever the umask
}

let upstream: HttpUpstream;
let h: GatewayHarness;
let serviceRequests: IncomingHttpHeaders[];
let a: ConnectedAgent;
/** Everything the agent got back from calls that failed. */
const agentErrors: unknown[] = [];

before(async () => {
  upstream = await startHttpUpstream(SECRET);
  h = await startPreparedGatewayHarness(configFor(upstream), (dataDir) => writeSecrets(dataDir, 0o600));
  serviceRequests = recordServiceRequests(h);
  a = await connectAgent(h, 'remote-agent');
  await a.client.listTools();
  await h.pinAll();
});

after(async () => {
  await h.close();
  await upstream.close();
});

test('http upstream: the test server itself refuses requests without its bearer token', async () => {
  const init = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
  });
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    [PROBE]: '1',
  };
  for (const authorization of [undefined, 'Bearer wrong', `DPoP ${SECRET}`]) {
    const res = await fetch(upstream.url, {
      method: 'POST',
      headers: authorization ? { ...headers, authorization } : headers,
      body: init,
    });
    assert.equal(res.status, 401, String(authorization));
  }
});

test('http upstream: the agent calls the remote tool; only the gateway bearer reaches the upstream', async () => {
  const names = (await a.client.listTools()).tools.map((t) => t.name);
  assert.deepEqual(names, ['remote__echo_headers']);
  const r = await a.client.callTool({ name: 'remote__echo_headers', arguments: { note: 'hi' } });
  assert.equal(r.isError, undefined);
  const echoed = JSON.parse(text(r)) as Record<string, string>;
  assert.match(echoed['authorization'] ?? '', /^Bearer /, 'the upstream saw a bearer credential');
  assert.equal(echoed['dpop'], undefined, 'no DPoP proof reached the upstream');
  assert.ok(echoed['mcp-session-id'], 'the call came over the gateway’s upstream session');

  const mcp = upstream.seen.filter((s) => s.path === '/mcp' && s.headers[PROBE] === undefined);
  assert.ok(mcp.filter((s) => s.method === 'POST').length >= 4, 'initialize, initialized, list, call');
  for (const s of mcp) {
    assert.equal(s.headers.authorization, `Bearer ${SECRET}`, `${s.method} carried the gateway's bearer`);
    assert.equal(s.headers.dpop, undefined);
  }

  // Whatever the agent sent to Warden (its DPoP token, its proofs) appears nowhere upstream.
  const agentTokens = serviceRequests
    .map((hd) => hd.authorization)
    .filter((v): v is string => typeof v === 'string' && v.startsWith('DPoP '))
    .map((v) => v.slice('DPoP '.length));
  const proofs = serviceRequests.map((hd) => hd.dpop).filter((v): v is string => typeof v === 'string');
  assert.ok(agentTokens.length > 0 && proofs.length > 0, 'the agent’s requests were recorded');
  const upstreamText = JSON.stringify(upstream.seen);
  for (const t of [...agentTokens, ...proofs])
    assert.ok(!upstreamText.includes(t), 'agent credential upstream');
  assert.ok(!upstreamText.includes(a.id), 'not even the agent id is sent upstream');
});

test('http upstream: an upstream that refuses the credential is offline, with the reason passed on', async () => {
  const err = await rpcError(a.client.callTool({ name: 'leaky__anything', arguments: {} }));
  assert.equal(err.code, GatewayErrorCode.UpstreamUnavailable);
  // Listing tools in before() already failed, so the gateway may be in its retry backoff.
  assert.match(err.message, /upstream `leaky` (could not be started|is offline).*invalid credential/);
  assert.ok(
    upstream.seen.some((s) => s.path === '/leaky' && s.headers.authorization === `Bearer ${SECRET}`),
    'the gateway did offer its credential to the refusing upstream',
  );
});

test('http upstream: the upstream credential never reaches the agent', async () => {
  // The tool list, a result that carries the upstream's request headers, an upstream error that
  // quotes the credential: every message the agent's client received, and every error it was
  // handed, in this and the earlier tests.
  await a.client.listTools();
  await a.client.callTool({ name: 'remote__echo_headers', arguments: {} });
  await rpcError(a.client.callTool({ name: 'leaky__anything', arguments: {} }));
  const received = JSON.stringify({ inbound: a.inbound, errors: agentErrors });
  assert.ok(a.inbound.length > 0);
  assert.ok(!received.includes(SECRET), `the secret reached the agent: ${received.slice(0, 2000)}`);
});

test('http upstream: the credential is in neither the audit log nor the gateway log', async () => {
  const rows = await h.w.store.db.selectFrom('audit_events').selectAll().execute();
  assert.ok(rows.some((r) => r.type === 'mcp.decision'));
  assert.ok(!JSON.stringify(rows).includes(SECRET), 'the secret is in audit_events');
  const log = h.logs.join('\n');
  assert.match(log, /upstream remote: .* \(bearer credentials injected\)/);
  assert.ok(!log.includes(SECRET), `the secret is in the gateway log:\n${log}`);
});

test('http upstream: a secrets file readable by others stops warden serve', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-secrets-'));
  try {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(join(dataDir, 'warden.yaml'), configFor(upstream), { mode: 0o600 });
    writeSecrets(dataDir, 0o644);
    const child = spawn(process.execPath, [WARDEN_BIN, 'serve', '--port', '0', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(timer);
    assert.equal(code, 1, `exit code; stdout: ${stdout}; stderr: ${stderr}`);
    assert.match(
      stderr,
      /^warden: secrets file `[^`]*secrets\.yaml` is readable by others: run chmod 600 on it\n$/,
    );
    assert.ok(!stdout.includes('listening'), stdout);
    assert.ok(!stderr.includes(SECRET) && !stdout.includes(SECRET));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
