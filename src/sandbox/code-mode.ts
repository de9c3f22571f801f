// Code mode: an agent writes one JavaScript program that calls its tools, instead of calling them
// one at a time; Warden runs it once in a fresh QuickJS isolate inside a child process of its own
// (code-worker.ts), whose only powers are asynchronous stubs of the tools the caller allows.
//
// The child is not trusted: it runs agent code, so whatever it says is parsed strictly, and every
// limit that matters is enforced here as well as there: the wall-clock deadline (by killing the
// process), the number and rate of tool calls, the allow-list of tools, and the size of the result
// and logs. A process runs one program and is killed afterwards; `pool` keeps some started ahead,
// because starting Node and loading QuickJS is most of the cost of a short program.

import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WardenError, q } from '../errors.js';
import { lineReader } from './lines.js';

export interface ScriptLimits {
  /**
   * Wall-clock time from handing the program to its process until its result. The worker stops the
   * program then; the parent kills the process a quarter of a second later if it has not.
   */
  wallMs: number;
  /** The isolate's heap. */
  memoryBytes: number;
  /** QuickJS's stack. Keep well below Node's own (about 984 KiB): see DEFAULT_SCRIPT_LIMITS. */
  stackBytes: number;
  maxToolCalls: number;
  maxCallsPerSecond: number;
  maxLogBytes: number;
  /** The program's value, as JSON. */
  maxOutputBytes: number;
}

/**
 * 256 KiB of QuickJS stack: with 512 KiB, deep recursion through getters, proxies or `call`
 * exhausted Node's stack before QuickJS noticed (measured with quickjs-emscripten 0.32.0). The
 * worker survives that too, but reports a coarser error.
 */
export const DEFAULT_SCRIPT_LIMITS: Readonly<ScriptLimits> = Object.freeze({
  wallMs: 5000,
  memoryBytes: 32 * 1024 * 1024,
  stackBytes: 256 * 1024,
  maxToolCalls: 100,
  maxCallsPerSecond: 50,
  maxLogBytes: 64 * 1024,
  maxOutputBytes: 256 * 1024,
});

/** Carries out one tool call for a program; a rejection reaches the program as a catchable error. */
export type ToolInvoker = (tool: string, args: Record<string, unknown>) => Promise<unknown>;

export interface ScriptOutcome {
  ok: boolean;
  /** The program's value when `ok` (absent when it returned nothing). */
  value?: unknown;
  /** Why the program failed, one line, when not `ok`. */
  error?: string;
  logs: string;
  /** Tool calls the program started, counted here. */
  toolCalls: number;
  /** From `run` until its outcome, the process gone. */
  ms: number;
  /** Whether the program waited for its process to start (no pooled process was ready). */
  cold: boolean;
}

/** Starts a child running `codeWorkerPath()` with piped stdin, stdout and stderr. */
export interface WorkerSpawner {
  (): ChildProcess;
}

/** Limits the worker applies itself (the call rate is the parent's alone). */
export type WorkerLimits = Omit<ScriptLimits, 'maxCallsPerSecond'>;

/** Parent to worker, one JSON object a line. */
export type WorkerRequest =
  | { t: 'run'; code: string; tools: string[]; limits: WorkerLimits }
  | { t: 'result'; id: number; ok: true; value?: unknown }
  | { t: 'result'; id: number; ok: false; error: string };

const count = z.number().int().nonnegative();
const workerReply = z.union([
  z.object({ t: z.literal('ready') }).strict(),
  z
    .object({
      t: z.literal('call'),
      id: count,
      tool: z.string().max(1000),
      args: z.record(z.string(), z.unknown()),
    })
    .strict(),
  z
    .object({
      t: z.literal('done'),
      ok: z.literal(true),
      value: z.unknown().optional(),
      logs: z.string(),
      toolCalls: count,
    })
    .strict(),
  z
    .object({
      t: z.literal('done'),
      ok: z.literal(false),
      error: z.string(),
      logs: z.string(),
      toolCalls: count,
    })
    .strict(),
]);

/** Worker to parent, one JSON object a line. */
export type WorkerReply = z.infer<typeof workerReply>;

/** Longest line either side accepts. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** How long a process may take to start before the run fails. */
const START_TIMEOUT_MS = 10_000;
/** Past its deadline the worker stops the program and reports; the parent kills it this much later. */
const KILL_GRACE_MS = 250;
const MAX_ERROR_CHARS = 2000;
const MAX_STDERR_CHARS = 8192;
const LOG_TRUNCATED = '[log truncated]\n';
const OUT_OF_MEMORY = /out of memory|heap limit|allocation failed|cannot enlarge memory/i;

/** The built worker, beside this file once compiled; from the TypeScript sources, its build in dist/. */
export function codeWorkerPath(): string {
  const url = import.meta.url.endsWith('.ts')
    ? new URL('../../dist/src/sandbox/code-worker.js', import.meta.url)
    : new URL('./code-worker.js', import.meta.url);
  return fileURLToPath(url);
}

function bounded(text: string): string {
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 3)}...` : text;
}

function messageOf(err: unknown): string {
  return bounded(err instanceof Error ? err.message : String(err));
}

type WorkerEvent =
  { kind: 'message'; message: WorkerReply } | { kind: 'malformed'; reason: string } | { kind: 'exit' };

/** A started worker process: its messages parsed, its stderr's tail kept, its end observed. */
class WorkerProcess {
  ready = false;
  exited = false;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  startError: Error | undefined;
  readonly closed: Promise<void>;
  private stderr = '';
  private listener: ((event: WorkerEvent) => void) | undefined;
  private broken = false;

  constructor(private readonly child: ChildProcess) {
    let closed!: () => void;
    this.closed = new Promise((resolve) => (closed = resolve));
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (this.exited) return;
      this.exited = true;
      this.exitCode = code;
      this.exitSignal = signal;
      closed();
      this.listener?.({ kind: 'exit' });
    };
    // 'close' rather than 'exit': it comes after the last of stdout, so a final report is never lost.
    child.on('close', onExit);
    child.on('error', (err) => {
      this.startError ??= err;
      // A process that never started emits no 'close' of its own on every Node version.
      if (child.pid === undefined) onExit(null, null);
      else this.kill();
    });
    const { stdin, stdout, stderr } = child;
    if (!stdin || !stdout || !stderr) {
      this.startError = new Error('the worker spawner must pipe stdin, stdout and stderr');
      this.kill();
      return;
    }
    // A dead child makes writes fail with EPIPE; its exit is reported through 'close'.
    stdin.on('error', () => {});
    stdout.on(
      'data',
      lineReader(
        MAX_MESSAGE_BYTES,
        (line) => this.onLine(line),
        () => this.fail(`a message is longer than ${MAX_MESSAGE_BYTES} bytes`),
      ),
    );
    stderr.setEncoding('utf8');
    stderr.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-MAX_STDERR_CHARS);
    });
  }

  /** Route this worker's events to `listener`; before that, only `ready` is expected. */
  attach(listener: (event: WorkerEvent) => void): void {
    this.listener = listener;
    if (this.exited) listener({ kind: 'exit' });
  }

  send(message: WorkerRequest): string | undefined {
    const line = JSON.stringify(message) + '\n';
    if (Buffer.byteLength(line) > MAX_MESSAGE_BYTES)
      return `the message is larger than ${MAX_MESSAGE_BYTES} bytes`;
    if (!this.exited) this.child.stdin?.write(line);
    return undefined;
  }

  kill(): void {
    if (this.exited) return;
    try {
      this.child.kill('SIGKILL');
    } catch {
      // Already gone; 'close' follows.
    }
  }

  /** Why the process ended, as the outcome's error. */
  describeExit(): string {
    if (this.startError) return `the script's process could not start: ${messageOf(this.startError)}`;
    if (OUT_OF_MEMORY.test(this.stderr)) return "the script's process ran out of memory";
    if (this.exitSignal) return `the script's process was killed by ${this.exitSignal}`;
    return `the script's process exited with code ${this.exitCode}`;
  }

  private onLine(line: string): void {
    if (this.broken) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return this.fail('a message is not JSON');
    }
    const result = workerReply.safeParse(parsed);
    if (!result.success) return this.fail('a message does not follow the protocol');
    const message = result.data;
    if (message.t === 'ready') {
      if (this.ready) return this.fail('it said `ready` twice');
      this.ready = true;
      return this.listener?.({ kind: 'message', message });
    }
    if (!this.listener) return this.fail(`it sent ${q(message.t)} before it was given a script`);
    this.listener({ kind: 'message', message });
  }

  private fail(reason: string): void {
    this.broken = true;
    if (this.listener) this.listener({ kind: 'malformed', reason });
    this.kill();
  }
}

interface RunRequest {
  code: string;
  tools: ReadonlySet<string>;
  invoke: ToolInvoker;
  signal: AbortSignal | undefined;
}

/** One program on one worker, from handing it over until the worker is gone. */
class ScriptRun {
  readonly result: Promise<ScriptOutcome>;
  private resolve!: (outcome: ScriptOutcome) => void;
  private outcome: Omit<ScriptOutcome, 'ms' | 'cold' | 'toolCalls'> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly callTimes: number[] = [];
  private readonly callIds = new Set<number>();
  private toolCalls = 0;
  private started = false;
  private reported = false;
  private settled = false;
  private readonly onAbort = (): void => this.end({ ok: false, error: 'the script was cancelled', logs: '' });

  constructor(
    private readonly worker: WorkerProcess,
    private readonly request: RunRequest,
    private readonly limits: ScriptLimits,
    private readonly begun: number,
    private readonly cold: boolean,
  ) {
    this.result = new Promise((resolve) => (this.resolve = resolve));
    request.signal?.addEventListener('abort', this.onAbort, { once: true });
    worker.attach((event) => this.onEvent(event));
    if (worker.exited) return;
    if (worker.ready) this.start();
    else
      this.timers.push(
        setTimeout(
          () =>
            this.end({
              ok: false,
              error: `the script's process did not start within ${START_TIMEOUT_MS} ms`,
              logs: '',
            }),
          START_TIMEOUT_MS,
        ),
      );
  }

  private start(): void {
    if (this.started || this.outcome) return;
    this.started = true;
    const { wallMs, memoryBytes, stackBytes, maxToolCalls, maxLogBytes, maxOutputBytes } = this.limits;
    const refused = this.worker.send({
      t: 'run',
      code: this.request.code,
      tools: [...this.request.tools],
      limits: { wallMs, memoryBytes, stackBytes, maxToolCalls, maxLogBytes, maxOutputBytes },
    });
    if (refused) return this.end({ ok: false, error: `the script is too large: ${refused}`, logs: '' });
    this.timers.push(
      setTimeout(
        () =>
          this.end({ ok: false, error: `the script ran out of time (${this.limits.wallMs} ms)`, logs: '' }),
        this.limits.wallMs + KILL_GRACE_MS,
      ),
    );
  }

  /** Stop the run from outside (the runner closing). */
  cancel(error: string): void {
    this.end({ ok: false, error, logs: '' });
  }

  private onEvent(event: WorkerEvent): void {
    if (event.kind === 'exit') {
      if (!this.outcome) this.end({ ok: false, error: this.worker.describeExit(), logs: '' });
      return this.settle();
    }
    if (this.outcome) return;
    if (event.kind === 'malformed')
      return this.end({
        ok: false,
        error: `the script's process broke the protocol: ${event.reason}`,
        logs: '',
      });
    const { message } = event;
    if (message.t === 'ready') return this.start();
    if (!this.started)
      return this.end({ ok: false, error: `the script's process sent ${q(message.t)} too early`, logs: '' });
    if (message.t === 'call') return this.onCall(message.id, message.tool, message.args);
    this.onDone(message);
  }

  private onCall(id: number, tool: string, args: Record<string, unknown>): void {
    if (this.callIds.has(id))
      return this.end({
        ok: false,
        error: `the script's process broke the protocol: call ${id} came twice`,
        logs: '',
      });
    this.callIds.add(id);
    this.toolCalls++;
    if (this.toolCalls > this.limits.maxToolCalls)
      return this.end({
        ok: false,
        error: `the script made more than ${this.limits.maxToolCalls} tool calls`,
        logs: '',
      });
    const now = performance.now();
    while (this.callTimes.length > 0 && (this.callTimes[0] as number) <= now - 1000) this.callTimes.shift();
    this.callTimes.push(now);
    if (this.callTimes.length > this.limits.maxCallsPerSecond)
      return this.end({
        ok: false,
        error: `the script made more than ${this.limits.maxCallsPerSecond} tool calls in one second`,
        logs: '',
      });
    // INVARIANT: a tool outside the allow-list never reaches `invoke`.
    if (!this.request.tools.has(tool))
      return this.reply({
        t: 'result',
        id,
        ok: false,
        error: `${q(tool)} is not a tool this script may call`,
      });
    // Through an async function, so an invoker that throws rather than rejects is answered too.
    const invoke = async (): Promise<unknown> => this.request.invoke(tool, args);
    invoke().then(
      (value) => this.reply({ t: 'result', id, ok: true, value }, tool),
      (err: unknown) => this.reply({ t: 'result', id, ok: false, error: messageOf(err) }),
    );
  }

  private reply(message: Extract<WorkerRequest, { t: 'result' }>, tool?: string): void {
    if (this.outcome) return;
    let refused: string | undefined;
    try {
      refused = this.worker.send(message);
    } catch {
      // JSON.stringify throws on a BigInt or a cycle in a tool's result.
      refused = 'it is not JSON';
    }
    if (refused && tool !== undefined)
      this.worker.send({
        t: 'result',
        id: message.id,
        ok: false,
        error: `the result of tool ${q(tool)}: ${refused}`,
      });
  }

  private onDone(message: Extract<WorkerReply, { t: 'done' }>): void {
    this.reported = true;
    const logs = this.capLogs(message.logs);
    if (!message.ok) return this.end({ ok: false, error: bounded(message.error), logs });
    if (message.value === undefined) return this.end({ ok: true, logs });
    const bytes = Buffer.byteLength(JSON.stringify(message.value));
    if (bytes > this.limits.maxOutputBytes)
      return this.end({
        ok: false,
        error: `the script's result is ${bytes} bytes, over the limit of ${this.limits.maxOutputBytes}`,
        logs,
      });
    this.end({ ok: true, value: message.value, logs });
  }

  private capLogs(logs: string): string {
    // The worker may add a line break and the mark past the limit.
    if (Buffer.byteLength(logs) <= this.limits.maxLogBytes + 1 + LOG_TRUNCATED.length) return logs;
    const cut = Buffer.from(logs)
      .subarray(0, this.limits.maxLogBytes)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    return cut + '\n' + LOG_TRUNCATED;
  }

  /** Decide the outcome (the first decision stands) and see the worker gone. */
  private end(outcome: Omit<ScriptOutcome, 'ms' | 'cold' | 'toolCalls'>): void {
    if (this.outcome) return;
    this.outcome = outcome;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
    this.request.signal?.removeEventListener('abort', this.onAbort);
    if (this.worker.exited) return this.settle();
    // Never reused, so there is nothing to wait for: the process goes now, reported or not.
    this.worker.kill();
  }

  private settle(): void {
    if (this.settled || !this.outcome || !this.worker.exited) return;
    this.settled = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
    this.resolve({
      ...this.outcome,
      toolCalls: this.toolCalls,
      ms: performance.now() - this.begun,
      cold: this.cold,
    });
  }
}

/** Timers and the 32-bit isolate take nothing larger. */
const MAX_LIMIT = 2 ** 31 - 1;

function checkLimits(limits: ScriptLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || (value as number) <= 0 || (value as number) > MAX_LIMIT)
      throw new WardenError(
        'invalid_argument',
        `the script limit ${q(name)} must be a positive integer up to ${MAX_LIMIT}`,
      );
  }
}

/** Runs agent programs, each once, each in a fresh isolate in a fresh process. */
export class ScriptRunner {
  private readonly spawner: WorkerSpawner;
  private readonly size: number;
  private readonly limits: ScriptLimits;
  private readonly idle: WorkerProcess[] = [];
  private readonly runs = new Set<ScriptRun>();
  private readonly workers = new Set<WorkerProcess>();
  private closed = false;

  constructor(o: { spawn: WorkerSpawner; pool?: number; limits?: Partial<ScriptLimits> }) {
    const size = o.pool ?? 0;
    if (!Number.isSafeInteger(size) || size < 0)
      throw new WardenError('invalid_argument', 'the pool size must be a non-negative integer');
    this.spawner = o.spawn;
    this.size = size;
    this.limits = { ...DEFAULT_SCRIPT_LIMITS, ...o.limits };
    checkLimits(this.limits);
    this.refill();
  }

  /**
   * Run `code` as the body of an async function with `tools` callable. Resolves once, with the
   * outcome and no process left behind; a failing program is an outcome, not a rejection.
   */
  run(
    code: string,
    o: { tools: readonly string[]; invoke: ToolInvoker; signal?: AbortSignal },
  ): Promise<ScriptOutcome> {
    const begun = performance.now();
    if (this.closed)
      return Promise.reject(new WardenError('invalid_argument', 'the script runner is closed'));
    if (typeof code !== 'string')
      return Promise.reject(new WardenError('invalid_argument', 'the script must be a string'));
    if (typeof o.invoke !== 'function')
      return Promise.reject(new WardenError('invalid_argument', 'the tool invoker must be a function'));
    if (!Array.isArray(o.tools))
      return Promise.reject(new WardenError('invalid_argument', 'the tools must be an array of names'));
    const tools = new Set<string>();
    for (const tool of o.tools as unknown[]) {
      if (typeof tool !== 'string' || tool === '' || tools.has(tool))
        return Promise.reject(
          new WardenError('invalid_argument', `the tool name ${q(tool)} is empty, not a string or repeated`),
        );
      tools.add(tool);
    }
    if (o.signal?.aborted)
      return Promise.resolve({
        ok: false,
        error: 'the script was cancelled',
        logs: '',
        toolCalls: 0,
        ms: performance.now() - begun,
        cold: false,
      });
    // A ready process first; else the one that has been starting longest; else a new one.
    const ready = this.idle.findIndex((w) => w.ready);
    let worker = this.idle.splice(Math.max(ready, 0), 1)[0];
    if (!worker) {
      try {
        worker = this.spawn();
      } catch (err) {
        return Promise.resolve({
          ok: false,
          error: `the script's process could not start: ${messageOf(err)}`,
          logs: '',
          toolCalls: 0,
          ms: performance.now() - begun,
          cold: true,
        });
      }
    }
    const run = new ScriptRun(
      worker,
      { code, tools, invoke: o.invoke, signal: o.signal },
      this.limits,
      begun,
      !worker.ready,
    );
    this.runs.add(run);
    // Replace the process once this run is over: a start (spawning, then Node and QuickJS loading
    // for about 60 ms of CPU) during the run competes with it for the cores. And after the caller
    // has its outcome: the spawn itself is synchronous.
    void run.result.finally(() => {
      this.runs.delete(run);
      setImmediate(() => this.refill());
    });
    return run.result;
  }

  /** Kill every process; runs in flight resolve with an error. */
  async close(): Promise<void> {
    this.closed = true;
    for (const run of this.runs) run.cancel('the script runner was closed');
    for (const worker of this.idle) worker.kill();
    this.idle.length = 0;
    await Promise.all([...this.workers].map((w) => w.closed));
    await Promise.all([...this.runs].map((r) => r.result));
  }

  private spawn(): WorkerProcess {
    const worker = new WorkerProcess(this.spawner());
    this.workers.add(worker);
    void worker.closed.then(() => {
      this.workers.delete(worker);
      const i = this.idle.indexOf(worker);
      // A pooled process that died idle is replaced by the next run's refill, not at once, so a
      // spawner that fails cannot make the runner spin.
      if (i >= 0) this.idle.splice(i, 1);
    });
    return worker;
  }

  private refill(): void {
    try {
      while (!this.closed && this.idle.length < this.size) this.idle.push(this.spawn());
    } catch {
      // The next run spawns its own process and reports why it cannot.
    }
  }
}
