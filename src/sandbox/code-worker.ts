// The child process of code mode (see code-mode.ts): it runs one agent-written program in a fresh
// QuickJS isolate whose only powers are `tools.<name>(args)`, each a promise answered by the parent,
// and a `console` that fills a bounded log. It then reports and exits; an isolate is never reused.
//
// The parent talks to it in newline-delimited JSON on stdin and stdout. QuickJS is loaded before the
// first message so that a pooled worker answers at once: `ready`, then one `run`, any number of
// `call`/`result` exchanges, and a final `done`.
//
// Limits, innermost first: QuickJS's own memory and stack limits; a ceiling on the WebAssembly
// memory (below); an interrupt handler that stops the program at its deadline or when it has broken
// a limit; this process exiting after one program; and the parent, which kills the process at its
// wall-clock deadline and whose launcher can put an OS memory limit on it. Only the last two hold
// if this file has a bug.

import {
  RELEASE_SYNC,
  newQuickJSWASMModule,
  newVariant,
  type QuickJSContext,
  type QuickJSDeferredPromise,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten';
import { setFlagsFromString } from 'node:v8';
import { q } from '../errors.js';
import type { WorkerLimits, WorkerReply, WorkerRequest } from './code-mode.js';
import { lineReader } from './lines.js';

// INVARIANT: stdout carries protocol lines only. Emscripten binds `console.log` when the module loads
// and would print there; so would any stray diagnostic.
const toStderr = console.error.bind(console);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

// Baseline WebAssembly code only, set before QuickJS is compiled. With V8's default tiering, a short
// program's first calls start optimising compiles on background threads: measured on Node 20 with
// quickjs-emscripten 0.32.0, a two-line program took 10 ms instead of 4, and its process 50 ms
// instead of 4 to exit, since exit waits for those compiles. Long computations run up to 1.8 times
// slower, within the same wall-clock limit.
setFlagsFromString('--liftoff-only');

/** Longest line accepted from the parent, and longest tool call sent to it. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Error messages from the program are cut to this many characters. */
const MAX_ERROR_CHARS = 2000;
const LOG_TRUNCATED = '[log truncated]\n';
/** The program is the body of this async function, so `await` and `return` work at its top level. */
const PREFIX = '(async () => {';
const SUFFIX = '\n})()';
/** The program's file name in stack traces; `location` looks for it. */
const FILENAME = 'script.js';
const WASM_PAGE = 65536;

/** What is used here of WebAssembly, which this project's type libraries do not describe. */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const Wasm = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => WasmMemory };
  }
).WebAssembly;

// QuickJS built for WebAssembly cannot measure its allocations (no malloc_usable_size), so its
// memory limit counts allocations rather than bytes: a loop of large strings grows the heap into
// gigabytes under a 32 MiB limit. The heap only grows through this Memory's `grow`, which the
// Emscripten glue calls from JavaScript and treats a throw as malloc failing, so refusing growth past
// a ceiling turns a memory bomb into QuickJS's ordinary `out of memory` error.
// INVARIANT: the pinned quickjs-emscripten grows memory through `wasmMemory.grow` (the test of a
// memory bomb fails otherwise). The declared maximum is the module's own.
const memory = new Wasm.Memory({ initial: 256, maximum: 32768 });
const growMemory = memory.grow.bind(memory);
let memoryCeiling = Number.POSITIVE_INFINITY;
/** Which limit refused the heap more memory: the isolate's ceiling, or the process's (the OS's). */
let memoryRefused: 'isolate' | 'process' | undefined;
Object.defineProperty(memory, 'grow', {
  value: (pages: number): number => {
    if (memory.buffer.byteLength + pages * WASM_PAGE > memoryCeiling) {
      memoryRefused = 'isolate';
      throw new RangeError('the isolate reached its memory ceiling');
    }
    try {
      return growMemory(pages);
    } catch (err) {
      // The operating system's limit (RLIMIT_DATA) came first.
      memoryRefused = 'process';
      throw err;
    }
  },
});

/**
 * Defines `tools` and `console` in the isolate, given host functions `call(name, json)` and
 * `log(level, text)` and the tool names as JSON. The host functions live only in these closures,
 * so the program cannot call them with other names or unchecked arguments. Arguments are turned
 * into JSON here, where the values live; the host sees only text.
 */
const BOOTSTRAP = `(function (call, log, namesJson) {
  'use strict';
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const isArray = Array.isArray;
  const place = (key) => (key === '' ? 'the top level' : '\`' + key + '\`');
  const onlyJson = function (key, value) {
    const type = typeof value;
    if (type === 'function' || type === 'symbol' || type === 'bigint')
      throw new TypeError('tool arguments must be JSON, not a ' + type + ' at ' + place(key));
    if (type === 'number' && !isFinite(value))
      throw new TypeError('tool arguments must be JSON, not ' + value + ' at ' + place(key));
    return value;
  };
  const tools = Object.create(null);
  for (const name of parse(namesJson)) {
    const invoke = async (args) => {
      if (args === undefined) args = {};
      if (args === null || typeof args !== 'object' || isArray(args))
        throw new TypeError('the arguments of tool \`' + name + '\` must be an object');
      return call(name, stringify(args, onlyJson));
    };
    Object.defineProperty(tools, name, { value: invoke, enumerable: true });
  }
  Object.freeze(tools);
  const show = (value) => {
    if (typeof value === 'string') return value;
    try {
      if (value instanceof Error) return String(value);
      const json = stringify(value);
      return json === undefined ? String(value) : json;
    } catch {
      return String(value);
    }
  };
  const writer = (level) => (...values) => log(level, values.map(show).join(' '));
  const console = Object.freeze({
    log: writer('log'),
    info: writer('info'),
    warn: writer('warn'),
    error: writer('error'),
    debug: writer('debug'),
  });
  Object.defineProperty(globalThis, 'tools', { value: tools, enumerable: true });
  Object.defineProperty(globalThis, 'console', { value: console, enumerable: true, writable: true, configurable: true });
})`;

function send(message: WorkerReply, then?: () => void): void {
  process.stdout.write(JSON.stringify(message) + '\n', then);
}

let exiting = false;

/** Report, then exit once stdout has taken the report. Nothing of this process runs after. */
function exit(code: number, report: WorkerReply): void {
  if (exiting) return;
  exiting = true;
  process.stdin.pause();
  send(report, () => process.exit(code));
}

function bounded(text: string): string {
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 3)}...` : text;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The parent is trusted, but a garbled message must end the run with a clear report. */
function parseRequest(line: string): WorkerRequest {
  const m = JSON.parse(line) as unknown;
  if (typeof m !== 'object' || m === null) throw new Error('a message is not a JSON object');
  const r = m as Record<string, unknown>;
  if (r.t === 'run') {
    const limits = r.limits as Record<string, unknown> | undefined;
    const names: Array<keyof WorkerLimits> = [
      'wallMs',
      'memoryBytes',
      'stackBytes',
      'maxToolCalls',
      'maxLogBytes',
      'maxOutputBytes',
    ];
    if (
      typeof r.code !== 'string' ||
      !Array.isArray(r.tools) ||
      !r.tools.every((t) => typeof t === 'string') ||
      typeof limits !== 'object' ||
      limits === null ||
      !names.every((n) => isCount(limits[n]))
    )
      throw new Error('a `run` message is malformed');
    return m as WorkerRequest;
  }
  if (r.t === 'result') {
    if (!isCount(r.id) || typeof r.ok !== 'boolean' || (r.ok === false && typeof r.error !== 'string'))
      throw new Error('a `result` message is malformed');
    return m as WorkerRequest;
  }
  throw new Error(`a message has the unknown type ${q(r.t)}`);
}

/** Where a script's messages go: the parent, or nowhere for the warm-up. */
interface Outlet {
  /** One `call` message, already a line of JSON. */
  call(line: string): void;
  done(report: WorkerReply, exitCode: number): void;
}

/** One program in one isolate. */
class Script {
  private readonly runtime: QuickJSRuntime;
  private readonly context: QuickJSContext;
  private readonly pending = new Map<number, QuickJSDeferredPromise>();
  private readonly handles: QuickJSHandle[] = [];
  private readonly tools: ReadonlySet<string>;
  private readonly deadline: number;
  private readonly timer: NodeJS.Timeout;
  private jsonParse!: QuickJSHandle;
  private jsonStringify!: QuickJSHandle;
  private main: QuickJSHandle | undefined;
  private logs = '';
  private logBytes = 0;
  private logFull = false;
  private calls = 0;
  private nextId = 1;
  /** Why the program must stop, set where stopping at once is impossible (inside a host call). */
  private stop: string | undefined;
  /** Set once the program's value is being read: toJSON methods run then, and may not call tools. */
  private finishing = false;
  private finished = false;

  constructor(
    module: QuickJSWASMModule,
    private readonly code: string,
    tools: readonly string[],
    private readonly limits: WorkerLimits,
    private readonly outlet: Outlet,
  ) {
    this.tools = new Set(tools);
    this.deadline = Date.now() + limits.wallMs;
    // The interrupt handler stops a program that computes past its deadline; this timer ends one
    // that waits past it on a tool call.
    this.timer = setTimeout(() => this.finish(this.timeout()), limits.wallMs);
    memoryCeiling = memory.buffer.byteLength + Math.ceil(limits.memoryBytes / WASM_PAGE) * WASM_PAGE;
    this.runtime = module.newRuntime();
    this.runtime.setMemoryLimit(limits.memoryBytes);
    this.runtime.setMaxStackSize(limits.stackBytes);
    this.runtime.setInterruptHandler(() => this.stopReason() !== undefined);
    this.context = this.runtime.newContext();
  }

  private timeout(): WorkerReply {
    return this.failure(`the script ran out of time (${this.limits.wallMs} ms)`);
  }

  private stopReason(): string | undefined {
    if (this.stop) return this.stop;
    if (memoryRefused === 'isolate') return `the script ran out of memory (${this.limits.memoryBytes} bytes)`;
    if (memoryRefused === 'process') return "the script ran out of memory (its process's limit)";
    if (Date.now() >= this.deadline) return `the script ran out of time (${this.limits.wallMs} ms)`;
    return undefined;
  }

  private failure(error: string): WorkerReply {
    return { t: 'done', ok: false, error: bounded(error), logs: this.logs, toolCalls: this.calls };
  }

  start(): void {
    const ctx = this.context;
    try {
      const json = ctx.getProp(ctx.global, 'JSON');
      this.jsonParse = this.keep(ctx.getProp(json, 'parse'));
      this.jsonStringify = this.keep(ctx.getProp(json, 'stringify'));
      json.dispose();
      const call = this.keep(ctx.newFunction('call', (name, args) => this.onCall(name, args)));
      const log = this.keep(ctx.newFunction('log', (level, text) => this.onLog(level, text)));
      const names = this.keep(ctx.newString(JSON.stringify([...this.tools])));
      const setup = this.keep(ctx.unwrapResult(ctx.evalCode(BOOTSTRAP, 'bootstrap.js')));
      ctx.unwrapResult(ctx.callFunction(setup, ctx.undefined, call, log, names)).dispose();
    } catch (err) {
      return this.finish(this.failure(`the isolate could not be set up: ${(err as Error).message}`));
    }
    const result = ctx.evalCode(PREFIX + this.code + SUFFIX, FILENAME);
    if (result.error) {
      const error = this.describe(result.error);
      result.error.dispose();
      return this.finish(this.failure(this.stopReason() ?? error));
    }
    this.main = result.value;
    this.drive();
  }

  private keep(handle: QuickJSHandle): QuickJSHandle {
    this.handles.push(handle);
    return handle;
  }

  /** `tools.<name>(args)` inside the isolate: send the call, hand back a promise for its result. */
  private onCall(nameHandle: QuickJSHandle, argsHandle: QuickJSHandle): QuickJSHandle {
    const ctx = this.context;
    if (this.finishing) throw new Error('the script has finished; no more tool calls');
    if (this.stop) throw new Error(this.stop);
    this.calls++;
    if (this.calls > this.limits.maxToolCalls) {
      this.stop = `the script made more than ${this.limits.maxToolCalls} tool calls`;
      throw new Error(this.stop);
    }
    const tool = ctx.getString(nameHandle);
    if (!this.tools.has(tool)) throw new Error(`${q(tool)} is not a tool this script may call`);
    const json = ctx.getString(argsHandle);
    const id = this.nextId++;
    const line = `{"t":"call","id":${id},"tool":${JSON.stringify(tool)},"args":${json}}\n`;
    if (Buffer.byteLength(line) > MAX_MESSAGE_BYTES)
      throw new Error(`the arguments of tool ${q(tool)} are larger than ${MAX_MESSAGE_BYTES} bytes`);
    const deferred = ctx.newPromise();
    this.pending.set(id, deferred);
    this.outlet.call(line);
    // Returned, the handle is the library's to free; the deferred's resolvers stay ours.
    return deferred.handle;
  }

  private onLog(levelHandle: QuickJSHandle, textHandle: QuickJSHandle): void {
    if (this.logFull) return;
    const level = this.context.getString(levelHandle);
    const text = this.context.getString(textHandle);
    const line = (level === 'log' || level === 'info' ? '' : `${level}: `) + text + '\n';
    const bytes = Buffer.byteLength(line);
    const room = this.limits.maxLogBytes - this.logBytes;
    if (bytes <= room) {
      this.logs += line;
      this.logBytes += bytes;
      return;
    }
    // Cut on a character boundary: a dangling half of a UTF-8 sequence decodes as U+FFFD.
    const cut = Buffer.from(line)
      .subarray(0, room)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    this.logs += cut + (cut === '' || cut.endsWith('\n') ? '' : '\n') + LOG_TRUNCATED;
    this.logFull = true;
  }

  onResult(message: Extract<WorkerRequest, { t: 'result' }>): void {
    const deferred = this.pending.get(message.id);
    if (!deferred) throw new Error(`a result answers no pending call (id ${message.id})`);
    this.pending.delete(message.id);
    const ctx = this.context;
    if (message.ok) {
      if (message.value === undefined) deferred.resolve();
      else {
        const text = ctx.newString(JSON.stringify(message.value));
        const parsed = ctx.callFunction(this.jsonParse, ctx.undefined, text);
        text.dispose();
        if (parsed.error) {
          deferred.reject(parsed.error);
          parsed.error.dispose();
        } else {
          deferred.resolve(parsed.value);
          parsed.value.dispose();
        }
      }
    } else {
      const error = ctx.newError(message.error);
      deferred.reject(error);
      error.dispose();
    }
    deferred.dispose();
    this.drive();
  }

  /** Run what the isolate can run now, then settle the program or wait for the next result. */
  private drive(): void {
    const main = this.main;
    if (!main) return;
    while (this.runtime.hasPendingJob()) {
      const jobs = this.runtime.executePendingJobs();
      if (jobs.error) jobs.error.dispose();
      if (this.stopReason()) break;
    }
    const reason = this.stopReason();
    if (reason) return this.finish(this.failure(reason));
    const state = this.context.getPromiseState(main);
    if (state.type === 'pending') {
      if (this.pending.size === 0)
        this.finish(this.failure('the script awaits a promise that nothing can settle'));
      return;
    }
    if (state.type === 'rejected') {
      const error = this.describe(state.error);
      state.error.dispose();
      return this.finish(this.failure(this.stopReason() ?? error));
    }
    const outcome = this.serialise(state.value);
    // A value that is not a promise comes back as the very handle asked about, still owned by `main`.
    if (!state.notAPromise) state.value.dispose();
    this.finish(outcome);
  }

  private serialise(value: QuickJSHandle): WorkerReply {
    const ctx = this.context;
    this.finishing = true;
    const result = ctx.callFunction(this.jsonStringify, ctx.undefined, value);
    if (result.error) {
      const error = this.describe(result.error);
      result.error.dispose();
      return this.failure(this.stopReason() ?? `the script's result is not JSON: ${error}`);
    }
    const json = ctx.typeof(result.value) === 'string' ? ctx.getString(result.value) : undefined;
    result.value.dispose();
    const done: WorkerReply = { t: 'done', ok: true, logs: this.logs, toolCalls: this.calls };
    if (json === undefined) return done;
    const bytes = Buffer.byteLength(json);
    if (bytes > this.limits.maxOutputBytes)
      return this.failure(
        `the script's result is ${bytes} bytes, over the limit of ${this.limits.maxOutputBytes}`,
      );
    return { ...done, value: JSON.parse(json) as unknown };
  }

  /** A thrown value as one line: `Name: message (line L, column C)` for errors. */
  private describe(error: QuickJSHandle): string {
    try {
      const dumped = this.context.dump(error) as unknown;
      if (typeof dumped === 'object' && dumped !== null && 'message' in dumped) {
        const e = dumped as { name?: unknown; message?: unknown; stack?: unknown };
        const name = typeof e.name === 'string' ? e.name : 'Error';
        const where = typeof e.stack === 'string' ? this.location(e.stack) : '';
        return bounded(`${name}: ${String(e.message)}${where}`);
      }
      return bounded(`the script threw ${JSON.stringify(dumped) ?? String(dumped)}`);
    } catch {
      return 'the script threw a value that cannot be shown';
    }
  }

  /** Where in the program an error arose, in the program's own lines and columns. */
  private location(stack: string): string {
    const m = /script\.js:(\d+):(\d+)/.exec(stack);
    if (!m) return '';
    const line = Number(m[1]);
    // Past the last line is the wrapper's closing brace: the program ended too early.
    if (line > this.code.split('\n').length) return ' (at the end of the script)';
    const column = line === 1 ? Number(m[2]) - PREFIX.length : Number(m[2]);
    return ` (line ${line}, column ${Math.max(1, column)})`;
  }

  /** What a report made without the isolate's help includes. */
  partial(): { logs: string; toolCalls: number } {
    return { logs: this.logs, toolCalls: this.calls };
  }

  /** Free every handle, then report. A leaked handle aborts the module here, not later. */
  finish(report: WorkerReply): void {
    if (this.finished) return;
    this.finished = true;
    this.finishing = true;
    clearTimeout(this.timer);
    try {
      for (const deferred of this.pending.values()) deferred.dispose();
      this.pending.clear();
      this.main?.dispose();
      for (const handle of this.handles) handle.dispose();
      this.context.dispose();
      this.runtime.dispose();
    } catch (err) {
      const error = `internal error: the isolate could not be freed: ${(err as Error).message}`;
      return this.outlet.done(this.failure(error), 1);
    }
    this.outlet.done(report, 0);
  }
}

const WARM_UP_LIMITS: WorkerLimits = {
  wallMs: 10_000,
  memoryBytes: 8 * 1024 * 1024,
  stackBytes: 256 * 1024,
  maxToolCalls: 2,
  maxLogBytes: 1024,
  maxOutputBytes: 1024,
};

const WARM_UP_CODE = `const r = await tools.t({ a: [1, 'b', null] });
console.log('warm', r);
try { await tools.t({}); } catch (e) { console.error(e); }
return { r };`;

/**
 * Run a small program through the whole path once. WebAssembly functions compile on their first
 * call, and the first isolate of a process also pays for V8's first calls of this file's code;
 * without this, a pooled worker's first real run took about 4 ms more.
 */
function warmUp(module: QuickJSWASMModule): void {
  const ids: number[] = [];
  let report: WorkerReply | undefined;
  const script = new Script(module, WARM_UP_CODE, ['t'], WARM_UP_LIMITS, {
    call: (line) => ids.push((JSON.parse(line) as { id: number }).id),
    done: (r) => (report = r),
  });
  script.start();
  script.onResult({ t: 'result', id: ids[0] ?? 0, ok: true, value: { b: [2] } });
  script.onResult({ t: 'result', id: ids[1] ?? 0, ok: false, error: 'refused' });
  if (report?.t !== 'done' || !report.ok)
    throw new Error(`the warm-up run failed: ${JSON.stringify(report)}`);
}

function hostStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

/**
 * A failure outside the program's own control: an exhausted host stack (QuickJS's stack limit does
 * not cover every native recursion) or a bug here. The isolate's state is unknown, so it is not
 * freed; the process exits instead.
 */
function crash(err: unknown, script: Script | undefined): void {
  const error = hostStackOverflow(err)
    ? 'the script overflowed the stack'
    : `internal error: ${err instanceof Error ? err.message : String(err)}`;
  exit(1, { t: 'done', ok: false, error: bounded(error), logs: '', toolCalls: 0, ...script?.partial() });
}

async function main(): Promise<void> {
  process.stdout.on('error', () => process.exit(1));
  const module = await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory: memory }));
  warmUp(module);
  send({ t: 'ready' });

  let script: Script | undefined;
  const onLine = (line: string): void => {
    if (exiting) return;
    try {
      const message = parseRequest(line);
      if (message.t === 'run') {
        if (script) throw new Error('a second `run` message arrived; a worker runs one script');
        script = new Script(module, message.code, message.tools, message.limits, {
          call: (call) => process.stdout.write(call),
          done: (report, code) => exit(code, report),
        });
        script.start();
      } else {
        if (!script) throw new Error('a `result` message arrived before `run`');
        script.onResult(message);
      }
    } catch (err) {
      crash(err, script);
    }
  };
  const read = lineReader(MAX_MESSAGE_BYTES, onLine, () =>
    crash(new Error(`a message from the parent is longer than ${MAX_MESSAGE_BYTES} bytes`), script),
  );
  process.stdin.on('data', read);
  // Without a parent there is no one to report to.
  process.stdin.on('end', () => process.exit(2));
}

main().catch((err: unknown) => {
  process.stderr.write(`code worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
