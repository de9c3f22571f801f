// Code mode: agent programs run once each in a fresh QuickJS isolate in a process of their own, with
// tool stubs as their only powers. Real worker processes throughout (the compiled
// dist/src/sandbox/code-worker.js); a few stand-in workers written here play a compromised or broken
// worker, to show what the parent enforces by itself.

import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  DEFAULT_SCRIPT_LIMITS,
  ScriptRunner,
  codeWorkerPath,
  type ScriptLimits,
  type ToolInvoker,
  type WorkerSpawner,
} from '../../src/sandbox/code-mode.js';

const WORKER = codeWorkerPath();
if (!existsSync(WORKER))
  throw new Error(`the code worker ${WORKER} is not built: run \`npm run build\` first (\`npm test\` does)`);

/** Every process the tests start, with a promise of its first output (its `ready`) or its end. */
const children: Array<{ child: ChildProcess; spoke: Promise<void> }> = [];

function spawner(argv: string[] = [process.execPath, WORKER]): WorkerSpawner {
  return () => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    const spoke = new Promise<void>((resolve) => {
      child.stdout?.once('data', () => resolve());
      child.once('close', () => resolve());
    });
    children.push({ child, spoke });
    return child;
  };
}

/** Wait until every process started since `from` has said it is ready, the pool's refills included. */
async function poolReady(from: number): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await Promise.all(children.slice(from).map((c) => c.spoke));
}

function gone(child: ChildProcess): boolean {
  if (child.exitCode === null && child.signalCode === null) return false;
  try {
    process.kill(child.pid as number, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const runners: ScriptRunner[] = [];
function runner(limits: Partial<ScriptLimits> = {}, pool = 0, spawn = spawner()): ScriptRunner {
  const r = new ScriptRunner({ spawn, pool, limits });
  runners.push(r);
  return r;
}
after(() => Promise.all(runners.map((r) => r.close())));

function recorder(answer: (tool: string, args: Record<string, unknown>) => unknown = () => ({ done: true })) {
  const calls: Array<{ tool: string; args: Record<string, unknown> }> = [];
  const invoke: ToolInvoker = (tool, args) => {
    calls.push({ tool, args });
    return Promise.resolve().then(() => answer(tool, args));
  };
  return { calls, invoke };
}

describe('programs and tools', () => {
  const r = runner();

  test('a program returns a value', async () => {
    const { calls, invoke } = recorder();
    const out = await r.run(`return { sum: 1 + 2, list: [1, 'a', null], nested: { ok: true } };`, {
      tools: [],
      invoke,
    });
    assert.deepEqual(out.value, { sum: 3, list: [1, 'a', null], nested: { ok: true } });
    assert.equal(out.ok, true);
    assert.equal(out.error, undefined);
    assert.equal(out.logs, '');
    assert.equal(out.toolCalls, 0);
    assert.equal(out.cold, true);
    assert.equal(calls.length, 0);
  });

  test('a program that returns nothing succeeds without a value', async () => {
    const out = await r.run(`const x = 1;`, { tools: [], invoke: recorder().invoke });
    assert.equal(out.ok, true);
    assert.equal('value' in out, false);
  });

  test('top-level await of tool calls: the arguments reach invoke, the results come back', async () => {
    const { calls, invoke } = recorder((tool, args) =>
      tool === 'mail__send_email' ? { id: 'm-1', to: args.to } : [{ subject: 'hello', query: args.q }],
    );
    const out = await r.run(
      `const sent = await tools.mail__send_email({ to: 'bob@example.com', cc: [], n: 2, x: { y: null } });
       const found = await tools['mail__search']({ q: sent.id });
       return { sent, found, names: Object.keys(tools) };`,
      { tools: ['mail__send_email', 'mail__search'], invoke },
    );
    assert.equal(out.error, undefined);
    assert.deepEqual(calls, [
      { tool: 'mail__send_email', args: { to: 'bob@example.com', cc: [], n: 2, x: { y: null } } },
      { tool: 'mail__search', args: { q: 'm-1' } },
    ]);
    assert.deepEqual(out.value, {
      sent: { id: 'm-1', to: 'bob@example.com' },
      found: [{ subject: 'hello', query: 'm-1' }],
      names: ['mail__send_email', 'mail__search'],
    });
    assert.equal(out.toolCalls, 2);
  });

  test('calls run concurrently with Promise.all, each answered by its own result', async () => {
    const { calls, invoke } = recorder(
      (_tool, args) =>
        new Promise((resolve) => setTimeout(() => resolve((args.n as number) * 10), 30 - (args.n as number))),
    );
    const out = await r.run(`return await Promise.all([1, 2, 3].map((n) => tools.t({ n })));`, {
      tools: ['t'],
      invoke,
    });
    assert.deepEqual(out.value, [10, 20, 30]);
    assert.equal(calls.length, 3);
  });

  test('a rejection from invoke reaches the program, which can catch it', async () => {
    const { calls, invoke } = recorder(() => {
      throw new Error('mailbox `bob` is full');
    });
    const caught = await r.run(
      `try { await tools.t({}); return 'no error'; } catch (e) { return [e instanceof Error, e.message]; }`,
      { tools: ['t'], invoke },
    );
    assert.deepEqual(caught.value, [true, 'mailbox `bob` is full']);
    const uncaught = await r.run(`await tools.t({});`, { tools: ['t'], invoke });
    assert.equal(uncaught.ok, false);
    assert.match(uncaught.error as string, /^Error: mailbox `bob` is full/);
    assert.equal(calls.length, 2);
  });

  test('a tool not in the list is refused without calling invoke', async () => {
    const { calls, invoke } = recorder();
    const out = await r.run(
      `const seen = Object.keys(tools);
       try { await tools.fs__delete_everything({}); return 'called'; } catch (e) { return [seen, String(e)]; }`,
      { tools: ['mail__search'], invoke },
    );
    assert.deepEqual(out.value, [['mail__search'], 'TypeError: not a function']);
    assert.equal(calls.length, 0);
  });

  test('arguments that are not a JSON object are refused in the program, before invoke', async () => {
    const { calls, invoke } = recorder();
    const out = await r.run(
      `const errors = [];
       for (const args of [{ f: () => 1 }, { big: 1n }, { n: NaN }, [1, 2], 'text', null]) {
         try { await tools.t(args); } catch (e) { errors.push(e.message); }
       }
       return errors;`,
      { tools: ['t'], invoke },
    );
    assert.deepEqual(out.value, [
      'tool arguments must be JSON, not a function at `f`',
      'tool arguments must be JSON, not a bigint at `big`',
      'tool arguments must be JSON, not NaN at `n`',
      'the arguments of tool `t` must be an object',
      'the arguments of tool `t` must be an object',
      'the arguments of tool `t` must be an object',
    ]);
    assert.equal(calls.length, 0);
  });

  test('a result that is not JSON reaches the program as an error', async () => {
    const { invoke } = recorder(() => ({ n: 1n }));
    const out = await r.run(`try { return await tools.t({}); } catch (e) { return e.message; }`, {
      tools: ['t'],
      invoke,
    });
    assert.equal(out.value, 'the result of tool `t`: it is not JSON');
  });

  test('console output is captured and capped', async () => {
    const capped = runner({ maxLogBytes: 200 });
    const out = await capped.run(
      `console.log('hello', { a: 1 }, [2]);
       console.warn('careful');
       console.error(new TypeError('bad'));
       for (let i = 0; i < 100; i++) console.info('line ' + i);
       return 'done';`,
      { tools: [], invoke: recorder().invoke },
    );
    assert.equal(out.value, 'done');
    assert.ok(
      out.logs.startsWith('hello {"a":1} [2]\nwarn: careful\nerror: TypeError: bad\nline 0\nline 1\n'),
    );
    assert.ok(out.logs.endsWith('\n[log truncated]\n'), out.logs);
    assert.ok(
      Buffer.byteLength(out.logs) <= 200 + '\n[log truncated]\n'.length,
      `${Buffer.byteLength(out.logs)}`,
    );
    assert.ok(!out.logs.includes('line 99'));
  });

  test('a syntax error is reported with where it is', async () => {
    const unfinished = await r.run(`return 1 +`, { tools: [], invoke: recorder().invoke });
    assert.equal(unfinished.ok, false);
    assert.match(unfinished.error as string, /^SyntaxError: .* \(at the end of the script\)$/);
    const bad = await r.run(`const a = 1;\nconst b = ;`, { tools: [], invoke: recorder().invoke });
    assert.match(bad.error as string, /^SyntaxError: .* \(line 2, column \d+\)$/);
  });

  test('a thrown value that is not an Error is reported as JSON', async () => {
    const out = await r.run(`throw { code: 42 };`, { tools: [], invoke: recorder().invoke });
    assert.equal(out.error, 'the script threw {"code":42}');
  });

  test('a result over the output cap, or not JSON, is refused', async () => {
    const small = runner({ maxOutputBytes: 1000 });
    const big = await small.run(`return 'x'.repeat(2000);`, { tools: [], invoke: recorder().invoke });
    assert.equal(big.ok, false);
    assert.equal(big.value, undefined);
    assert.equal(big.error, "the script's result is 2002 bytes, over the limit of 1000");
    const fits = await small.run(`return 'x'.repeat(990);`, { tools: [], invoke: recorder().invoke });
    assert.equal(fits.value, 'x'.repeat(990));
    const bigint = await small.run(`return { n: 1n };`, { tools: [], invoke: recorder().invoke });
    assert.match(bigint.error as string, /^the script's result is not JSON: TypeError/);
  });

  test('a program waiting on a promise nothing can settle ends at once', async () => {
    const out = await r.run(`await new Promise(() => {});`, { tools: [], invoke: recorder().invoke });
    assert.equal(out.error, 'the script awaits a promise that nothing can settle');
    assert.ok(out.ms < DEFAULT_SCRIPT_LIMITS.wallMs);
  });
});

describe('limits', () => {
  test('an infinite loop is stopped by the wall clock, and its process is gone', async () => {
    const r = runner({ wallMs: 500 });
    const before = children.length;
    const out = await r.run(`for (;;) {}`, { tools: [], invoke: recorder().invoke });
    assert.equal(out.ok, false);
    assert.equal(out.error, 'the script ran out of time (500 ms)');
    assert.ok(out.ms >= 500 && out.ms < 5000, `${out.ms} ms`);
    const mine = children.slice(before);
    assert.equal(mine.length, 1);
    assert.ok(mine.every(({ child }) => gone(child)));
  });

  test('a program waiting on a tool past its deadline is stopped', async () => {
    const r = runner({ wallMs: 300 });
    const out = await r.run(`await tools.t({}); return 'answered';`, {
      tools: ['t'],
      invoke: () => new Promise(() => {}),
    });
    assert.equal(out.error, 'the script ran out of time (300 ms)');
    assert.equal(out.toolCalls, 1);
  });

  test('a memory bomb ends with an error and the host carries on', async () => {
    const r = runner();
    const rssBefore = process.memoryUsage().rss;
    const out = await r.run(`let a = []; for (;;) a.push('x'.repeat(1e6));`, {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.equal(out.ok, false);
    assert.equal(out.error, `the script ran out of memory (${DEFAULT_SCRIPT_LIMITS.memoryBytes} bytes)`);
    assert.ok(out.ms < DEFAULT_SCRIPT_LIMITS.wallMs, `stopped by memory, not time (${out.ms} ms)`);
    assert.ok(process.memoryUsage().rss - rssBefore < 64 * 1024 * 1024);
    const after = await r.run(`return 'still here';`, { tools: [], invoke: recorder().invoke });
    assert.equal(after.value, 'still here');
  });

  test('small allocations are bounded too', async () => {
    const r = runner({ memoryBytes: 8 * 1024 * 1024 });
    const out = await r.run(`let a = []; for (let i = 0; ; i++) a.push({ i, s: 'v' + i });`, {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.match(out.error as string, /out of memory/);
  });

  test('deep recursion is a stack overflow, not a crash of the host', async () => {
    const r = runner();
    const quickjs = await r.run(`function f() { return f() + 1; } return f();`, {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.match(quickjs.error as string, /^InternalError: stack overflow/);
    // JSON.stringify recurses natively, past QuickJS's own check, into Node's stack.
    const native = await r.run(
      `let o = {}; for (let i = 0; i < 1e5; i++) o = { o }; return JSON.stringify(o).length;`,
      {
        tools: [],
        invoke: recorder().invoke,
      },
    );
    assert.equal(native.error, 'the script overflowed the stack');
    const after = await r.run(`return 1;`, { tools: [], invoke: recorder().invoke });
    assert.equal(after.value, 1);
  });

  test('a million tool calls: stopped by the call rate, invoke called at most maxToolCalls times', async () => {
    const r = runner();
    const { calls, invoke } = recorder();
    const out = await r.run(`for (let i = 0; i < 1e6; i++) tools.t({ i });`, { tools: ['t'], invoke });
    assert.equal(out.ok, false);
    assert.equal(
      out.error,
      `the script made more than ${DEFAULT_SCRIPT_LIMITS.maxCallsPerSecond} tool calls in one second`,
    );
    assert.ok(calls.length <= DEFAULT_SCRIPT_LIMITS.maxCallsPerSecond, `${calls.length} calls`);
    assert.ok(calls.length <= DEFAULT_SCRIPT_LIMITS.maxToolCalls);
  });

  test('awaited one by one, calls are stopped by the rate too', async () => {
    const r = runner({ maxCallsPerSecond: 5, maxToolCalls: 1000 });
    const { calls, invoke } = recorder();
    const out = await r.run(`for (let i = 0; i < 1e6; i++) await tools.t({ i });`, { tools: ['t'], invoke });
    assert.equal(out.error, 'the script made more than 5 tool calls in one second');
    assert.equal(calls.length, 5);
    assert.deepEqual(calls.at(-1), { tool: 't', args: { i: 4 } });
  });

  test('past maxToolCalls, calls are refused and the program is stopped even if it catches', async () => {
    const r = runner({ maxToolCalls: 10, maxCallsPerSecond: 1_000_000 });
    const { calls, invoke } = recorder();
    const out = await r.run(
      `for (let i = 0; i < 1e6; i++) { try { await tools.t({ i }); } catch (e) { console.log(e.message); } }
       return 'finished anyway';`,
      { tools: ['t'], invoke },
    );
    assert.equal(out.ok, false);
    assert.equal(out.error, 'the script made more than 10 tool calls');
    assert.equal(calls.length, 10);
    assert.equal(out.toolCalls, 10);
    assert.ok(!out.logs.includes('finished'));
  });
});

/** A stand-in worker: says ready, then misbehaves in the way `mode` names once given a script. */
const FAKE_WORKER = `
const mode = process.argv[1];
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
send({ t: 'ready' });
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    on(m);
  }
});
function on(m) {
  if (m.t === 'result') return send({ t: 'done', ok: true, value: m, logs: '', toolCalls: 1 });
  if (mode === 'unlisted') send({ t: 'call', id: 1, tool: 'fs__delete_everything', args: { path: '/' } });
  if (mode === 'flood') for (let id = 1; id <= 1000; id++) send({ t: 'call', id, tool: 't', args: {} });
  if (mode === 'garbage') process.stdout.write('this is not JSON\\n');
  if (mode === 'repeat-id') for (let n = 0; n < 2; n++) send({ t: 'call', id: 1, tool: 't', args: {} });
  if (mode === 'extra-field') send({ t: 'done', ok: true, logs: '', toolCalls: 0, shell: 'rm -rf /' });
  if (mode === 'huge-logs') send({ t: 'done', ok: true, logs: 'x'.repeat(100000), toolCalls: 0 });
  if (mode === 'huge-value') send({ t: 'done', ok: true, value: 'x'.repeat(300000), logs: '', toolCalls: 0 });
  if (mode === 'sigkill') process.kill(process.pid, 'SIGKILL');
  if (mode === 'exit3') process.exit(3);
  if (mode === 'oom') { const a = []; for (;;) a.push(new Array(1e5).fill(a.length)); }
}
`;

function fake(mode: string, ...flags: string[]): WorkerSpawner {
  return spawner([process.execPath, ...flags, '-e', FAKE_WORKER, mode]);
}

describe('what the parent enforces on a worker it cannot trust', () => {
  test('a call to a tool not in the list is refused without calling invoke', async () => {
    const { calls, invoke } = recorder();
    const out = await runner({}, 0, fake('unlisted')).run('', { tools: ['t'], invoke });
    assert.equal(calls.length, 0);
    assert.deepEqual(out.value, {
      t: 'result',
      id: 1,
      ok: false,
      error: '`fs__delete_everything` is not a tool this script may call',
    });
  });

  test('more calls than allowed stop the run, invoke called at most maxToolCalls times', async () => {
    const { calls, invoke } = recorder();
    const out = await runner({ maxToolCalls: 5 }, 0, fake('flood')).run('', { tools: ['t'], invoke });
    assert.equal(out.error, 'the script made more than 5 tool calls');
    assert.equal(calls.length, 5);
  });

  test('a worker ignoring its deadline is killed at the wall clock', async () => {
    const before = children.length;
    const out = await runner({ wallMs: 300 }, 0, fake('hang')).run('', {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.equal(out.error, 'the script ran out of time (300 ms)');
    assert.equal(children[before]?.child.signalCode, 'SIGKILL');
  });

  for (const [mode, error] of [
    ['garbage', "the script's process broke the protocol: a message is not JSON"],
    ['extra-field', "the script's process broke the protocol: a message does not follow the protocol"],
    ['repeat-id', "the script's process broke the protocol: call 1 came twice"],
    ['sigkill', "the script's process was killed by SIGKILL"],
    ['exit3', "the script's process exited with code 3"],
  ] as const) {
    test(`${mode}: the run ends with \`${error}\``, async () => {
      const out = await runner({}, 0, fake(mode)).run('', { tools: [], invoke: recorder().invoke });
      assert.equal(out.ok, false);
      assert.equal(out.error, error);
    });
  }

  test('a worker running out of memory is named as such', async () => {
    const out = await runner({ wallMs: 20_000 }, 0, fake('oom', '--max-old-space-size=16')).run('', {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.equal(out.error, "the script's process ran out of memory");
  });

  test('oversized logs are cut and an oversized value refused', async () => {
    const logs = await runner({ maxLogBytes: 100 }, 0, fake('huge-logs')).run('', {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.equal(logs.logs, 'x'.repeat(100) + '\n[log truncated]\n');
    const value = await runner({}, 0, fake('huge-value')).run('', { tools: [], invoke: recorder().invoke });
    assert.equal(value.error, "the script's result is 300002 bytes, over the limit of 262144");
  });

  test('a program too large for one message is refused', async () => {
    const out = await runner().run(`return '${'x'.repeat(17 * 1024 * 1024)}';`, {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.equal(out.error, 'the script is too large: the message is larger than 16777216 bytes');
  });

  test('the worker refuses a message from its parent over 16 MiB', async () => {
    const child = spawner()();
    await children.at(-1)?.spoke;
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // The worker stops reading and exits before the last of it is written.
    child.stdin?.on('error', () => {});
    child.stdin?.write(Buffer.alloc(17 * 1024 * 1024, 'x'));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 1);
    assert.deepEqual(JSON.parse(out), {
      t: 'done',
      ok: false,
      error: 'internal error: a message from the parent is longer than 16777216 bytes',
      logs: '',
      toolCalls: 0,
    });
  });

  test('a spawner that throws gives an error outcome', async () => {
    const r = runner({}, 0, () => {
      throw new Error('no sandbox here');
    });
    const out = await r.run('return 1;', { tools: [], invoke: recorder().invoke });
    assert.equal(out.error, "the script's process could not start: no sandbox here");
  });
});

describe('isolation, the pool and shutting down', () => {
  test('each run has a fresh isolate, also from the pool', async () => {
    const from = children.length;
    const r = runner({}, 1);
    await poolReady(from);
    const first = await r.run(`globalThis.leak = 42; Object.prototype.polluted = true; return typeof leak;`, {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.equal(first.value, 'number');
    assert.equal(first.cold, false);
    await poolReady(from);
    const second = await r.run(`return [typeof leak, ({}).polluted === undefined];`, {
      tools: [],
      invoke: recorder().invoke,
    });
    assert.deepEqual(second.value, ['undefined', true]);
    assert.equal(second.cold, false);
  });

  test('a pooled worker is ready before the run; a cold one is started for it', async (t) => {
    const script = `return await tools.t({ n: 1 });`;
    const cold = await runner().run(script, { tools: ['t'], invoke: recorder(() => 1).invoke });
    const from = children.length;
    const pooled = runner({}, 1);
    await poolReady(from);
    const spawned = children.length;
    const warm = await pooled.run(script, { tools: ['t'], invoke: recorder(() => 1).invoke });
    t.diagnostic(`one tool call: cold ${cold.ms.toFixed(1)} ms, pooled ${warm.ms.toFixed(1)} ms`);
    assert.equal(cold.value, 1);
    assert.equal(warm.value, 1);
    assert.equal(cold.cold, true);
    assert.equal(warm.cold, false);
    // The pooled worker taken was replaced by a new one, which starts and says it is ready.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(children.length, spawned + 1);
    await children.at(-1)?.spoke;
  });

  test('an aborted run ends with an error and its process is gone', async () => {
    const r = runner();
    const controller = new AbortController();
    const before = children.length;
    const { invoke } = recorder(() => {
      controller.abort();
      return new Promise(() => {});
    });
    const out = await r.run(`await tools.t({});`, { tools: ['t'], invoke, signal: controller.signal });
    assert.equal(out.error, 'the script was cancelled');
    assert.ok(children.slice(before).every(({ child }) => gone(child)));
  });

  test('close() with a run in flight resolves it with an error and leaves no process', async () => {
    const before = children.length;
    const r = runner({}, 2);
    let started!: () => void;
    const calling = new Promise<void>((resolve) => (started = resolve));
    const running = r.run(`await tools.t({}); return 'finished';`, {
      tools: ['t'],
      invoke: () => {
        started();
        return new Promise(() => {});
      },
    });
    await calling;
    await r.close();
    const out = await running;
    assert.equal(out.ok, false);
    assert.equal(out.error, 'the script runner was closed');
    const mine = children.slice(before);
    // Two pooled; the one taken is replaced only once its run is over, and the runner closed first.
    assert.equal(mine.length, 2);
    assert.ok(
      mine.every(({ child }) => gone(child)),
      'every process of the runner is gone',
    );
    await assert.rejects(
      r.run('return 1;', { tools: [], invoke: recorder().invoke }),
      /the script runner is closed/,
    );
  });

  test('misuse is refused', async () => {
    const r = runner();
    await assert.rejects(r.run('1', { tools: ['a', 'a'], invoke: recorder().invoke }), /the tool name `a`/);
    assert.throws(
      () => new ScriptRunner({ spawn: spawner(), limits: { wallMs: 0 } }),
      /`wallMs` must be a positive/,
    );
    assert.throws(() => new ScriptRunner({ spawn: spawner(), pool: -1 }), /pool size/);
  });
});

function findProgram(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The high-water mark of a process's resident memory, in bytes. */
function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const prlimit = findProgram('prlimit');
test(
  'an OS memory limit bounds a memory bomb that the isolate limits let through',
  { skip: prlimit ? false : 'prlimit (util-linux) is not installed, so no OS memory limit can be set' },
  async () => {
    const data = 256 * 1024 * 1024;
    // The isolate is allowed 1 GiB, four times the process's limit.
    const r = runner(
      { memoryBytes: 1024 * 1024 * 1024, wallMs: 20_000 },
      0,
      spawner([prlimit as string, `--data=${data}`, '--', process.execPath, WORKER]),
    );
    const before = children.length;
    let peak = 0;
    const poll = setInterval(() => {
      const pid = children[before]?.child.pid;
      if (pid !== undefined) peak = Math.max(peak, peakRss(pid) ?? 0);
    }, 5);
    const out = await r.run(`let a = []; for (;;) a.push('x'.repeat(1e6));`, {
      tools: [],
      invoke: recorder().invoke,
    });
    clearInterval(poll);
    assert.equal(out.ok, false);
    assert.match(out.error as string, /out of memory/);
    assert.ok(out.ms < 20_000, `stopped by memory, not time (${out.ms} ms)`);
    assert.ok(peak > 0, 'the peak was observed');
    // Resident memory also holds Node's code, which RLIMIT_DATA does not count.
    assert.ok(peak < data + 96 * 1024 * 1024, `peak ${Math.round(peak / 1048576)} MiB`);
  },
);

test('no process outlives its run', async () => {
  await Promise.all(runners.map((r) => r.close()));
  assert.ok(children.length > 20);
  assert.deepEqual(
    children.filter(({ child }) => !gone(child)).map(({ child }) => child.pid),
    [],
  );
});
