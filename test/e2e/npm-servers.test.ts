// The gateway with real MCP servers from npm: the reference filesystem server rooted at a
// temporary directory, and the reference "everything" server, both started over stdio from their
// published packages. Agents use the official SDK client with DPoP. Covers tool listing and calls,
// an upstream refusal passed through, progress notifications, cancellation, sampling requests
// decided by policy (denied by the stock pack, permitted by a policy file added at run time), and
// the isolation of two agents' sessions.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CreateMessageRequestSchema,
  type CreateMessageRequest,
  type CreateMessageResult,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGatewayHarness, type GatewayHarness } from '../helpers/gateway.js';
import { closeAgents, connectAgent, waitForPolicy, type ConnectedAgent } from '../helpers/gateway-agents.js';
import { text } from '../helpers/mcp.js';

const require = createRequire(import.meta.url);

/** The file a package's bin points at: started as `node <file>`, no shell, no npx. */
function binOf(pkg: string, bin: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> }).bin;
  const rel = bins[bin];
  if (!rel) throw new Error(`${pkg} has no bin ${bin}`);
  return join(dirname(manifest), rel);
}

const FILESYSTEM = binOf('@modelcontextprotocol/server-filesystem', 'mcp-server-filesystem');
const EVERYTHING = binOf('@modelcontextprotocol/server-everything', 'mcp-server-everything');

const FILESYSTEM_TOOLS = [
  'create_directory',
  'directory_tree',
  'edit_file',
  'get_file_info',
  'list_allowed_directories',
  'list_directory',
  'list_directory_with_sizes',
  'move_file',
  'read_file',
  'read_media_file',
  'read_multiple_files',
  'read_text_file',
  'search_files',
  'write_file',
].map((t) => `files__${t}`);

const SAMPLING_POLICY_ID = 'test/everything-may-sample';

const dir = mkdtempSync(join(tmpdir(), 'warden-npm-'));
const root = join(dir, 'root');
const outside = join(dir, 'outside');
let h: GatewayHarness;

before(async () => {
  mkdirSync(join(root, 'notes'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'notes', 'plan.md'), '# Plan\nship the gateway on Friday\n');
  writeFileSync(join(root, 'data.csv'), 'a,b\n1,2\n');
  writeFileSync(join(outside, 'secret.txt'), 'the outside secret 4711\n');
  h = await startGatewayHarness(`
upstreams:
  - name: files
    transport: stdio
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FILESYSTEM)}, ${JSON.stringify(root)}]
    sandbox: none
  - name: everything
    transport: stdio
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}, stdio]
    sandbox: none
`);
});

after(async () => {
  await closeAgents(h);
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

async function toolNames(c: Client): Promise<string[]> {
  return (await c.listTools()).tools.map((t) => t.name).sort();
}

function progressOf(inbound: JSONRPCMessage[]): Array<{ progressToken: unknown; progress: unknown }> {
  return inbound
    .filter((m) => 'method' in m && m.method === 'notifications/progress')
    .map((m) => (m as unknown as { params: { progressToken: unknown; progress: unknown } }).params);
}

function requestsOf(inbound: JSONRPCMessage[], method: string): JSONRPCMessage[] {
  return inbound.filter((m) => 'method' in m && m.method === method && 'id' in m);
}

/** An agent whose client can sample: it answers every request and records what it was asked. */
async function samplingAgent(
  name: string,
  wrapFetch?: (f: typeof fetch) => typeof fetch,
): Promise<ConnectedAgent & { asked: CreateMessageRequest[] }> {
  const asked: CreateMessageRequest[] = [];
  const a = await connectAgent(h, name, {
    ...(wrapFetch ? { wrapFetch } : {}),
    capabilities: { sampling: {} },
    setup: (client) =>
      client.setRequestHandler(CreateMessageRequestSchema, (req): CreateMessageResult => {
        asked.push(req);
        return {
          model: `model-of-${name}`,
          role: 'assistant',
          content: { type: 'text', text: `sampled for ${name}` },
        };
      }),
  });
  return { ...a, asked };
}

function serviceConnections(): Promise<number> {
  return new Promise((resolve, reject) =>
    h.svc.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('npm servers: tools are pinned, listed as <server>__<tool>, and called', async () => {
  const { client } = await h.connect('fs-agent');
  assert.deepEqual(await toolNames(client), [], 'nothing is offered before an operator pins it');
  assert.ok((await h.pinAll()) >= FILESYSTEM_TOOLS.length + 3);
  const names = await toolNames(client);
  assert.deepEqual(
    names.filter((n) => n.startsWith('files__')),
    FILESYSTEM_TOOLS,
  );
  for (const t of ['echo', 'get-sum', 'trigger-long-running-operation', 'toggle-simulated-logging'])
    assert.ok(names.includes(`everything__${t}`), `everything__${t} in ${names.join(',')}`);
  assert.ok(
    !names.includes('everything__trigger-sampling-request'),
    'the sampling tool exists only for clients that can sample',
  );
  assert.ok(
    names.every((n) => /^(files|everything)__/.test(n)),
    names.join(','),
  );

  const plan = await client.callTool({
    name: 'files__read_text_file',
    arguments: { path: join(root, 'notes', 'plan.md') },
  });
  assert.equal(plan.isError, undefined);
  assert.equal(text(plan), '# Plan\nship the gateway on Friday\n');
  assert.deepEqual(plan.structuredContent, { content: '# Plan\nship the gateway on Friday\n' });

  const listing = await client.callTool({ name: 'files__list_directory', arguments: { path: root } });
  assert.match(text(listing), /\[FILE\] data\.csv/);
  assert.match(text(listing), /\[DIR\] notes/);

  // The upstream's own refusal reaches the agent as the upstream wrote it.
  for (const path of [join(outside, 'secret.txt'), join(root, '..', 'outside', 'secret.txt')]) {
    const refused = await client.callTool({ name: 'files__read_text_file', arguments: { path } });
    assert.equal(refused.isError, true, path);
    assert.match(text(refused), /^Access denied - path outside allowed directories: /);
    assert.ok(!text(refused).includes('4711'), 'the outside file was not read');
  }

  const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'hello gateway' } });
  assert.equal(text(echo), 'Echo: hello gateway');
  const sum = await client.callTool({ name: 'everything__get-sum', arguments: { a: 19, b: 23 } });
  assert.equal(text(sum), 'The sum of 19 and 23 is 42.');
});

test('npm servers: progress notifications of a long-running call reach the agent, the last one too', async () => {
  const { client } = await h.connect('progress-agent');
  // Several calls: the last notification and the result often arrive upstream in one read, which
  // is where a lost notification shows.
  for (let i = 0; i < 3; i++) {
    const seen: Array<{ progress: number; total?: number }> = [];
    const r = await client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.4, steps: 4 } },
      undefined,
      {
        onprogress: (p) =>
          seen.push({ progress: p.progress, ...(p.total !== undefined ? { total: p.total } : {}) }),
      },
    );
    assert.equal(text(r), 'Long running operation completed. Duration: 0.4 seconds, Steps: 4.');
    assert.deepEqual(
      seen,
      [1, 2, 3, 4].map((progress) => ({ progress, total: 4 })),
      `call ${i + 1}`,
    );
  }
});

test('npm servers: a cancelled call rejects, stops reaching the agent, and the gateway keeps serving', async () => {
  const a = await connectAgent(h, 'cancel-agent');
  const ac = new AbortController();
  let progressed = 0;
  const call = a.client.callTool(
    { name: 'everything__trigger-long-running-operation', arguments: { duration: 10, steps: 40 } },
    undefined,
    {
      signal: ac.signal,
      onprogress: () => {
        progressed++;
        ac.abort(new Error('the user gave up'));
      },
    },
  );
  await assert.rejects(call, /the user gave up/);
  assert.equal(progressed, 1, 'the upstream was running when the call was cancelled');
  const afterAbort = a.inbound.length;
  const connectionsBefore = await serviceConnections();
  // The upstream goes on for a while (it ignores cancellation); nothing of it may reach the agent.
  await new Promise((r) => setTimeout(r, 900));
  const late = a.inbound.slice(afterAbort);
  assert.deepEqual(progressOf(late), [], 'no progress after cancellation');
  assert.ok(
    !late.some((m) => 'result' in m || 'error' in m),
    `no response after cancellation: ${JSON.stringify(late)}`,
  );

  const echo = await a.client.callTool({ name: 'everything__echo', arguments: { message: 'still here' } });
  assert.equal(text(echo), 'Echo: still here');

  // A cancelled call gets no response; its SSE stream (and the agent's connection) must not stay
  // open until the session ends.
  for (let i = 0; i < 4; i++) {
    const again = new AbortController();
    await assert.rejects(
      a.client.callTool(
        { name: 'everything__trigger-long-running-operation', arguments: { duration: 10, steps: 40 } },
        undefined,
        { signal: again.signal, onprogress: () => again.abort(new Error('cancelled')) },
      ),
      /cancelled/,
    );
  }
  await a.client.callTool({ name: 'everything__echo', arguments: { message: 'after four more' } });
  const grown = (await serviceConnections()) - connectionsBefore;
  assert.ok(grown <= 2, `${grown} more open connections to Warden after 4 cancelled calls`);

  const other = await h.connect('after-cancel');
  const sum = await other.client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } });
  assert.equal(text(sum), 'The sum of 1 and 2 is 3.');
});

test('npm servers: sampling requests are refused by the stock policies, then permitted by a policy file', async () => {
  const a = await samplingAgent('sampler');
  // The sampling tool exists only for clients that can sample: its first listing shows it to the
  // operator, who pins it.
  assert.ok(!(await toolNames(a.client)).includes('everything__trigger-sampling-request'));
  assert.ok((await h.pinAll()) >= 1);
  assert.ok((await toolNames(a.client)).includes('everything__trigger-sampling-request'), 'pinned');
  const call = { name: 'everything__trigger-sampling-request', arguments: { prompt: 'haiku about gates' } };

  const refused = await a.client.callTool(call);
  assert.equal(refused.isError, true);
  assert.match(text(refused), /sampling\/createMessage from upstream `everything` refused by policy/);
  assert.equal(a.asked.length, 0, 'the agent was not asked to sample');
  assert.deepEqual(requestsOf(a.inbound, 'sampling/createMessage'), []);

  writeFileSync(
    join(h.dataDir, 'policies', '50-everything-sampling.cedar'),
    `@id(${JSON.stringify(SAMPLING_POLICY_ID)})
permit (
  principal == Warden::Server::"everything",
  action == Warden::Action::"sampling/createMessage",
  resource
);
`,
    { mode: 0o600 },
  );
  await waitForPolicy(h, SAMPLING_POLICY_ID);

  const sampled = await a.client.callTool(call);
  assert.equal(sampled.isError, undefined, text(sampled));
  assert.equal(a.asked.length, 1);
  assert.match(JSON.stringify(a.asked[0]?.params.messages), /haiku about gates/);
  assert.match(text(sampled), /LLM sampling result:/);
  assert.match(text(sampled), /sampled for sampler/);
  assert.match(text(sampled), /model-of-sampler/);

  const rows = await h.w.store.db
    .selectFrom('audit_events')
    .selectAll()
    .where('type', '=', 'mcp.server_request')
    .execute();
  assert.deepEqual(
    rows.map((r) => [r.actor, r.outcome, JSON.parse(r.details).action]),
    [
      ['server:everything', 'refused', 'sampling/createMessage'],
      ['server:everything', 'success', 'sampling/createMessage'],
    ],
  );
});

test('npm servers: a sampling request reaches a client that keeps no standalone GET stream', async () => {
  await waitForPolicy(h, SAMPLING_POLICY_ID);
  // MCP lets a client skip the GET stream; a request tied to the agent's call must then ride on
  // that call's own stream rather than be dropped.
  const a = await samplingAgent(
    'no-get',
    (f) => async (input, init) =>
      (init?.method ?? 'GET').toUpperCase() === 'GET' ? new Response(null, { status: 405 }) : f(input, init),
  );
  await toolNames(a.client);
  const r = await a.client.callTool(
    { name: 'everything__trigger-sampling-request', arguments: { prompt: 'no stream' } },
    undefined,
    { timeout: 5000 },
  );
  assert.equal(a.asked.length, 1);
  assert.match(text(r), /sampled for no-get/);
});

test("npm servers: one agent's upstream requests and notifications never reach another agent", async () => {
  await waitForPolicy(h, SAMPLING_POLICY_ID); // sampling is permitted by the previous test's file
  const a = await samplingAgent('agent-a');
  const b = await samplingAgent('agent-b');
  await Promise.all([toolNames(a.client), toolNames(b.client)]);
  const quietB = b.inbound.length;

  // A's upstream asks A's client to sample; only A's client is asked.
  const sampled = await a.client.callTool({
    name: 'everything__trigger-sampling-request',
    arguments: { prompt: 'for a only' },
  });
  assert.match(text(sampled), /sampled for agent-a/);
  assert.equal(a.asked.length, 1);
  assert.equal(b.asked.length, 0);

  // A's upstream logs to A's session.
  await a.client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
  await until('the log message at A', () =>
    a.inbound.some((m) => 'method' in m && m.method === 'notifications/message'),
  );

  // Both run long operations at once; each sees progress of its own call only. (Whether every
  // notification arrives is the progress test's business.)
  const long = { name: 'everything__trigger-long-running-operation' };
  await Promise.all([
    a.client.callTool({ ...long, arguments: { duration: 1, steps: 5 } }, undefined, { onprogress: () => {} }),
    b.client.callTool({ ...long, arguments: { duration: 1, steps: 2 } }, undefined, { onprogress: () => {} }),
  ]);
  const ownProgress = (inbound: JSONRPCMessage[], steps: number): void => {
    const done = inbound.find(
      (m) =>
        'result' in m &&
        text(m.result).startsWith(`Long running operation completed. Duration: 1 seconds, Steps: ${steps}.`),
    ) as { id: number } | undefined;
    assert.ok(done, `the ${steps}-step call answered`);
    const progress = progressOf(inbound);
    assert.ok(progress.length >= 1 && progress.length <= steps, JSON.stringify(progress));
    for (const p of progress) assert.equal(p.progressToken, done.id, 'progress of another call');
  };
  ownProgress(a.inbound, 5);
  ownProgress(b.inbound.slice(quietB), 2);

  const atB = b.inbound.slice(quietB);
  assert.deepEqual(requestsOf(atB, 'sampling/createMessage'), []);
  assert.ok(!atB.some((m) => 'method' in m && m.method === 'notifications/message'), JSON.stringify(atB));
  await a.client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
});
