// The gateway under bad input and failing upstreams: size caps, malformed JSON-RPC, unknown
// methods, a crashing upstream (only its own tools go offline, then it restarts), a hanging one
// (per-call timeout), progress and cancellation, session ownership, and many concurrent sessions.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startGatewayHarness, sampleConfig, type GatewayHarness } from '../helpers/gateway.js';
import { GatewayErrorCode } from '../../src/gateway/errors.js';
import { rpcError, text } from '../helpers/mcp.js';

const FAULTY = fileURLToPath(new URL('../fixtures/mcp/faulty-server.mjs', import.meta.url));

let h: GatewayHarness;
before(async () => {
  h = await startGatewayHarness(
    sampleConfig(`  - name: faulty
    transport: stdio
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAULTY)}]
    env: { ONLY_THIS: "1" }
    sandbox: none
    callTimeoutMs: 800
gateway:
  maxMessageBytes: 65536
`),
  );
  const { client } = await h.connect('setup');
  await client.listTools();
  await h.pinAll();
});
after(async () => {
  await h.close();
});

/** Raw POSTs to /mcp, authenticated as a fresh agent. */
async function rawPost(
  name: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const { agent } = await h.connect(name);
  const f = agent.fetcher();
  const res = await f(h.mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
  const t = await res.text();
  let json: unknown = t;
  try {
    json = JSON.parse(t);
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}

test('an upstream gets exactly the configured environment, nothing inherited', async () => {
  const { client } = await h.connect('envcheck');
  const r = await client.callTool({ name: 'faulty__env', arguments: {} });
  assert.equal(text(r), 'ONLY_THIS');
});

test('malformed JSON is -32700, a non-message is -32600, a message over the cap is refused before parsing', async () => {
  const bad = await rawPost('raw1', '{"jsonrpc": "2.0", "method": ');
  assert.equal(bad.status, 400);
  assert.equal((bad.json as { error: { code: number } }).error.code, -32700);
  const notMsg = await rawPost('raw2', '42');
  assert.equal(notMsg.status, 400);
  assert.equal((notMsg.json as { error: { code: number } }).error.code, -32600);
  const big = await rawPost(
    'raw3',
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { pad: 'x'.repeat(70_000) } }),
  );
  assert.equal(big.status, 413);
  assert.deepEqual((big.json as { error: unknown }).error, {
    code: -32600,
    message: 'message larger than 65536 bytes',
  });
  const noSession = await rawPost('raw4', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
  assert.equal(noSession.status, 400);
  assert.match(
    (noSession.json as { error: { message: string } }).error.message,
    /start with an initialize request/,
  );
});

test('a message streamed without a length is cut off at the cap, and the gateway serves on', async () => {
  const { agent } = await h.connect('raw5');
  const f = agent.fetcher();
  const chunk = new TextEncoder().encode(' '.repeat(8192));
  let sent = 0;
  let pulls = 0;
  // 80 KiB of whitespace (valid JSON padding) in chunks, with no content-length: chunked encoding.
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      pulls++;
      if (sent >= 10) c.close();
      else {
        sent++;
        c.enqueue(chunk);
      }
    },
  });
  const outcome = await f(h.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body,
    duplex: 'half',
  }).then(
    async (r) => `answered ${r.status}: ${await r.text()}`,
    () => 'connection closed',
  );
  assert.equal(outcome, 'connection closed');
  assert.ok(pulls > 1, 'the body was streamed');
  const after = await rawPost('raw6', '{"jsonrpc": "2.0", "method": ');
  assert.equal(after.status, 400);
});

test('an unknown method is -32601', async () => {
  const { client } = await h.connect('unknown1');
  const err = await rpcError(
    client.request({ method: 'tools/frobnicate', params: {} }, (await import('zod')).z.object({}).loose()),
  );
  assert.equal(err.code, -32601);
});

test('a crashing upstream takes only its own tools offline, then restarts', async () => {
  const { client } = await h.connect('crasher');
  const before = text(await client.callTool({ name: 'faulty__ping', arguments: {} }));
  const crash = await rpcError(client.callTool({ name: 'faulty__crash', arguments: {} }));
  assert.ok(
    [GatewayErrorCode.UpstreamUnavailable, -32000].includes(crash.code),
    `code ${crash.code}: ${crash.message}`,
  );
  // The other upstreams keep working.
  assert.match(
    text(await client.callTool({ name: 'workspace__read_file', arguments: { path: 'notes/q3-plan.md' } })),
    /Q3 plan/,
  );
  // After the backoff the faulty upstream is started again, as a new process.
  let after = '';
  for (let i = 0; i < 20 && !after; i++) {
    await new Promise((r) => setTimeout(r, 200));
    try {
      after = text(await client.callTool({ name: 'faulty__ping', arguments: {} }));
    } catch (err) {
      assert.equal((err as McpError).code, GatewayErrorCode.UpstreamUnavailable);
    }
  }
  assert.match(after, /^pong \d+$/);
  assert.notEqual(after, before, 'a new process');
});

test('a hanging upstream hits the per-call timeout and the session stays usable', async () => {
  const { client } = await h.connect('hanger');
  const started = Date.now();
  const err = await rpcError(
    client.callTool({ name: 'faulty__hang', arguments: {} }, undefined, { timeout: 10_000 }),
  );
  assert.equal(err.code, GatewayErrorCode.UpstreamTimeout);
  assert.ok(Date.now() - started < 5000);
  assert.match(text(await client.callTool({ name: 'faulty__ping', arguments: {} })), /^pong/);
});

test('progress passes through; cancellation stops the call and the session goes on', async () => {
  const { client } = await h.connect('progress1');
  const seen: number[] = [];
  const r = await client.callTool({ name: 'faulty__slow', arguments: { steps: 4 } }, undefined, {
    onprogress: (p) => seen.push(p.progress),
  });
  assert.equal(text(r), 'done after 4');
  assert.deepEqual(seen, [1, 2, 3, 4]);
  const ac = new AbortController();
  const pending = client.callTool({ name: 'faulty__slow', arguments: { steps: 40 } }, undefined, {
    signal: ac.signal,
  });
  setTimeout(() => ac.abort(), 150);
  await assert.rejects(pending);
  assert.match(text(await client.callTool({ name: 'faulty__ping', arguments: {} })), /^pong/);
});

test("a session belongs to the agent that opened it: another agent's requests get 404", async () => {
  const a = await h.connect('owner');
  await a.client.listTools();
  const sessionId = (a.client.transport as unknown as { sessionId?: string }).sessionId as string;
  assert.ok(sessionId);
  const b = await h.connect('intruder');
  const f = b.agent.fetcher();
  const res = await f(h.mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'workspace__read_file', arguments: { path: 'secrets/api-keys.txt' } },
    }),
  });
  assert.equal(res.status, 404);
  assert.deepEqual(((await res.json()) as { error: unknown }).error, {
    code: -32001,
    message: 'session not found',
  });
});

test('a call answered in one SSE event goes with its length and the keep-alive timeout hint', async () => {
  const a = await h.connect('framing');
  await a.client.listTools();
  const sessionId = (a.client.transport as unknown as { sessionId?: string }).sessionId as string;
  const res = await a.agent.fetcher()(h.mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/call',
      params: { name: 'workspace__read_file', arguments: { path: 'notes/q3-plan.md' } },
    }),
  });
  const body = await res.text();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(body)));
  assert.equal(res.headers.get('transfer-encoding'), null);
  // Clients retire idle connections before the server closes them (node's default: 5 s).
  assert.match(res.headers.get('keep-alive') ?? '', /^timeout=\d+$/);
  const m = /^event: message\ndata: (.*)\n\n$/.exec(body);
  assert.ok(m, body);
  const reply = JSON.parse(m[1] ?? '') as { id: number; result: { content: Array<{ text: string }> } };
  assert.equal(reply.id, 9);
  assert.match(reply.result.content[0]?.text ?? '', /^Q3 plan/);
});

test('many concurrent sessions are served independently', async () => {
  const clients = await Promise.all(Array.from({ length: 12 }, (_, i) => h.connect(`many${i}`)));
  const results = await Promise.all(
    clients.map(async ({ client }, i) => {
      const out: string[] = [];
      for (let j = 0; j < 5; j++)
        out.push(
          text(
            await client.callTool({ name: 'workspace__read_file', arguments: { path: 'notes/q3-plan.md' } }),
          ),
        );
      return `${i}:${out.every((t) => t.startsWith('Q3 plan')) ? 'ok' : out.join('|')}`;
    }),
  );
  assert.deepEqual(
    results,
    clients.map((_, i) => `${i}:ok`),
  );
});
