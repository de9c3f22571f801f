// Sandbox benchmark: what the kernel sandbox (src/sandbox/launcher.ts: prlimit, setpriv when root,
// bubblewrap with its namespaces, mounts and seccomp filter) adds to starting an MCP server and to
// a code-mode program, against the same thing run bare, measured in the same run, interleaved:
//
//   server start   the same stdio MCP server (the demo workspace server from dist/, and the
//                  reference "everything" server from node_modules), started by the gateway's own
//                  ExplicitStdioTransport, bare (no `sandbox`, as for `sandbox: none`) and in the
//                  default sandbox profile, with the official SDK Client: time from
//                  `client.connect(transport)` until initialize is answered, and until the first
//                  `tools/list` is answered (the first response). Bare and sandboxed starts
//                  alternate, after warm-ups; each server is closed after it is measured.
//                  Target: the sandbox adds at most 30 ms to the median first response.
//   code mode      ScriptRunner.run of `const r = await tools.echo({ x: 1 }); return r;` whose
//                  tool invoker answers at once, so that only the worker process, the QuickJS
//                  isolate and the sandbox are measured, not a tool. The sandboxed runner is the
//                  gateway's own (CodeMode from src/gateway/code-mode-tool.ts, default settings);
//                  the baseline is the same runner with a bare spawner (`node code-worker.js`, an
//                  empty environment). Cold: pool 0, every run starts its worker. Pooled: pool 1,
//                  with a pause after each run long enough for the replacement worker to be ready,
//                  the steady state of a pool of one. The runners take turns.
//                  Targets: sandboxed median round trip <= 100 ms cold and <= 10 ms from the pool.
//
// Medians and nearest-rank p90s of the interleaved repetitions. Both code-mode workers run the
// compiled dist/src/sandbox/code-worker.js, so the benchmark refuses to start when dist/ is missing
// or older than src/.
//
//   npm run build && npm run bench:sandbox            table
//   npm run bench:sandbox -- --json                   JSON

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, cpus, loadavg, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CodeMode, CodeModeSettingsSchema } from '../../src/gateway/code-mode-tool.js';
import { ExplicitStdioTransport } from '../../src/gateway/stdio-transport.js';
import {
  codeWorkerPath,
  ScriptRunner,
  type ScriptOutcome,
  type WorkerSpawner,
} from '../../src/sandbox/code-mode.js';
import { sandboxSupport } from '../../src/sandbox/probe.js';
import { SandboxProfileSchema } from '../../src/sandbox/profile.js';
import { staleOutputs } from '../build-check.js';
import { median, percentile } from '../stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

const SERVER_WARM = 2;
const SERVER_PAIRS = 15;
const SCRIPT_WARM = 2;
const SCRIPT_ROUNDS = 20;
/** Pause after every code-mode run: the pooled runners refill, the cold ones' processes are gone. */
const SCRIPT_GAP_MS = 300;

const TARGET_SERVER_ADDED_MS = 30;
const TARGET_POOL_MS = 10;
const TARGET_COLD_MS = 100;

const SCRIPT = 'const r = await tools.echo({ x: 1 }); return r;';

const asJson = process.argv.includes('--json');
const started = Date.now();

function progress(msg: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`  … ${s} s  ${msg}\n`);
}

// --- build check ------------------------------------------------------------------------------

const WORKSPACE_SERVER = join(ROOT, 'dist/src/demo/workspace-server.js');

/** The file a package's bin points at, started as `node <file>` (as test/e2e/npm-servers.test.ts does). */
function binOf(pkg: string, bin: string): string | undefined {
  try {
    const manifest = require.resolve(`${pkg}/package.json`);
    const bins = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> }).bin;
    const rel = bins[bin];
    return rel ? join(dirname(manifest), rel) : undefined;
  } catch {
    return undefined;
  }
}

function checkBuild(): void {
  const stale = staleOutputs(ROOT, join(ROOT, 'src'));
  if (!existsSync(WORKSPACE_SERVER) || !existsSync(codeWorkerPath()) || stale.length > 0) {
    throw new Error(
      `the servers and workers run from dist/, which is missing or older than ${stale.slice(0, 3).join(', ') || 'the sources'}` +
        `${stale.length > 3 ? ` and ${stale.length - 3} more` : ''}: run \`npm run build\` first`,
    );
  }
  const missing = sandboxSupport().items.filter((i) => i.required && !i.ok);
  if (missing.length > 0)
    throw new Error(
      `this machine cannot sandbox: ${missing.map((i) => `${i.name}: ${i.detail}`).join('; ')}`,
    );
}

// --- statistics -------------------------------------------------------------------------------

interface Summary {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

function summary(xs: readonly number[]): Summary {
  return {
    n: xs.length,
    median: median(xs),
    p90: percentile(xs, 0.9),
    min: xs.length > 0 ? Math.min(...xs) : NaN,
    max: xs.length > 0 ? Math.max(...xs) : NaN,
  };
}

// --- cleanup on a signal ----------------------------------------------------------------------

const live = new Set<ExplicitStdioTransport>();
const runners = new Set<{ close(): Promise<void> }>();

function onSignal(): void {
  for (const t of live) {
    // The sandboxed process dies with bubblewrap (--die-with-parent); the bare one is killed here.
    if (t.pid !== undefined) process.kill(t.pid, 'SIGKILL');
  }
  void Promise.all([...runners].map((r) => r.close())).finally(() => process.exit(130));
}

// --- 1. server start --------------------------------------------------------------------------

type Mode = 'bare' | 'sandboxed';
const MODES: readonly Mode[] = ['bare', 'sandboxed'];

interface ServerSpec {
  key: string;
  label: string;
  argv: string[];
}

interface StartSample {
  /** From connect() until the transport's process had spawned (for the sandbox: prlimit). */
  spawnedMs: number;
  /** Until the initialize request was answered (connect() resolved). */
  initializeMs: number;
  /** Until the first tools/list was answered. */
  toolsListMs: number;
  /** How long closing took (not in the figures). */
  closeMs: number;
  tools: number;
}

async function startOnce(server: ServerSpec, mode: Mode): Promise<StartSample> {
  const transport = new ExplicitStdioTransport({
    argv: server.argv,
    env: {},
    onStderr: () => undefined,
    ...(mode === 'sandboxed'
      ? { sandbox: { name: 'bench', profile: SandboxProfileSchema.parse({}), hide: [] } }
      : {}),
  });
  const client = new Client({ name: 'warden-bench', version: '0.0.0' });
  let spawned = NaN;
  const start = transport.start.bind(transport);
  live.add(transport);
  const t0 = performance.now();
  transport.start = async (): Promise<void> => {
    await start();
    spawned = performance.now();
  };
  try {
    await client.connect(transport);
    const t1 = performance.now();
    const { tools } = await client.listTools();
    const t2 = performance.now();
    const c0 = performance.now();
    await client.close();
    const closeMs = performance.now() - c0;
    return {
      spawnedMs: spawned - t0,
      initializeMs: t1 - t0,
      toolsListMs: t2 - t0,
      closeMs,
      tools: tools.length,
    };
  } finally {
    await transport.close();
    live.delete(transport);
  }
}

interface ServerResult {
  key: string;
  label: string;
  argv: string[];
  tools: number;
  samples: Record<Mode, StartSample[]>;
  spawned: Record<Mode, Summary>;
  initialize: Record<Mode, Summary>;
  toolsList: Record<Mode, Summary>;
  /** Sandboxed median minus bare median (and the same of the p90s). */
  addedInitializeMs: { median: number; p90: number };
  addedToolsListMs: { median: number; p90: number };
  /** Median of the per-pair differences, a check on the difference of medians. */
  pairedAddedToolsListMs: number;
  closeMsMedian: number;
  pass: boolean;
}

async function measureServer(server: ServerSpec): Promise<ServerResult> {
  progress(`server start: ${server.key}, ${SERVER_WARM} warm-ups and ${SERVER_PAIRS} pairs`);
  for (let i = 0; i < SERVER_WARM; i++) for (const mode of MODES) await startOnce(server, mode);
  const samples: Record<Mode, StartSample[]> = { bare: [], sandboxed: [] };
  for (let i = 0; i < SERVER_PAIRS; i++) {
    // Alternate which goes first, so that neither always follows the other's exit.
    const order = i % 2 === 0 ? MODES : [...MODES].reverse();
    for (const mode of order) samples[mode].push(await startOnce(server, mode));
  }
  const of = (mode: Mode, f: (s: StartSample) => number): Summary => summary(samples[mode].map(f));
  const spawned = { bare: of('bare', (s) => s.spawnedMs), sandboxed: of('sandboxed', (s) => s.spawnedMs) };
  const initialize = {
    bare: of('bare', (s) => s.initializeMs),
    sandboxed: of('sandboxed', (s) => s.initializeMs),
  };
  const toolsList = {
    bare: of('bare', (s) => s.toolsListMs),
    sandboxed: of('sandboxed', (s) => s.toolsListMs),
  };
  const added = (x: Record<Mode, Summary>): { median: number; p90: number } => ({
    median: x.sandboxed.median - x.bare.median,
    p90: x.sandboxed.p90 - x.bare.p90,
  });
  const addedToolsListMs = added(toolsList);
  return {
    key: server.key,
    label: server.label,
    argv: server.argv,
    tools: samples.bare[0]?.tools ?? 0,
    samples,
    spawned,
    initialize,
    toolsList,
    addedInitializeMs: added(initialize),
    addedToolsListMs,
    pairedAddedToolsListMs: median(
      samples.sandboxed.map((s, i) => s.toolsListMs - (samples.bare[i]?.toolsListMs ?? NaN)),
    ),
    closeMsMedian: median([...samples.bare, ...samples.sandboxed].map((s) => s.closeMs)),
    pass: addedToolsListMs.median <= TARGET_SERVER_ADDED_MS,
  };
}

// --- 2. code mode -----------------------------------------------------------------------------

type RunnerKey = 'coldBare' | 'coldSandboxed' | 'poolBare' | 'poolSandboxed';
const RUNNER_KEYS: readonly RunnerKey[] = ['coldBare', 'coldSandboxed', 'poolBare', 'poolSandboxed'];
const RUNNER_LABEL: Record<RunnerKey, string> = {
  coldBare: 'cold (pool 0), bare worker',
  coldSandboxed: 'cold (pool 0), sandboxed worker',
  poolBare: 'pool of 1, bare worker',
  poolSandboxed: 'pool of 1, sandboxed worker',
};

interface ScriptSample {
  /** The outcome's own `ms`: from run() until the outcome, the worker process gone. */
  ms: number;
  /** Wall time around `await runner.run(...)`. */
  wallMs: number;
  /** From run() until the worker said `ready` (cold runs; a pooled worker was ready before). */
  readyMs: number;
  /** From run() until the tool call reached the invoker. */
  toolCallMs: number;
  /** From run() until the worker's `done` line arrived; the rest of `ms` is the process exiting. */
  doneMs: number;
  /** Whether the run had to wait for its worker to start. */
  cold: boolean;
}

/**
 * What a worker process said when, seen from a second listener on its stdout: only to split the
 * round trip into start, program and exit. The runner reads the same stream as ever.
 */
interface Tap {
  readyAt: number;
  doneAt: number;
  closedAt: number;
}

/** Wrap a spawner so that every process it starts is tapped into `taps`. */
function tapped(inner: WorkerSpawner, taps: Tap[]): WorkerSpawner {
  return () => {
    const child = inner();
    const tap: Tap = { readyAt: NaN, doneAt: NaN, closedAt: NaN };
    taps.push(tap);
    child.stdout?.on('data', (chunk: Buffer) => {
      const now = performance.now();
      const text = chunk.toString('latin1');
      if (Number.isNaN(tap.readyAt) && text.includes('{"t":"ready"')) tap.readyAt = now;
      if (Number.isNaN(tap.doneAt) && text.includes('{"t":"done"')) tap.doneAt = now;
    });
    child.once('close', () => (tap.closedAt = performance.now()));
    return child;
  };
}

interface RunnerResult {
  key: RunnerKey;
  label: string;
  samples: ScriptSample[];
  ms: Summary;
  wallMs: Summary;
  readyMs: Summary;
  toolCallMs: Summary;
  doneMs: Summary;
  /** From `done` until the outcome: the worker process exiting (and its sandbox torn down). */
  exitMs: Summary;
  /** Runs that waited for a worker to start. */
  coldRuns: number;
}

function bareRunner(pool: number, limits: CodeMode['limits'], taps: Tap[]): ScriptRunner {
  const worker = codeWorkerPath();
  return new ScriptRunner({
    spawn: tapped(
      () => spawn(process.execPath, [worker], { stdio: ['pipe', 'pipe', 'pipe'], env: {} }),
      taps,
    ),
    pool,
    limits,
  });
}

/**
 * The gateway's runner (CodeMode.get()), its spawner tapped. The spawner is a private field of
 * ScriptRunner: replaced here, for the benchmark only, after the constructor has started the pool's
 * first worker (untapped; the warm-up runs use it).
 */
function gatewayRunner(mode: CodeMode, taps: Tap[]): ScriptRunner {
  const runner = mode.get();
  const r = runner as unknown as { spawner: WorkerSpawner };
  r.spawner = tapped(r.spawner, taps);
  return runner;
}

async function runOnce(runner: ScriptRunner, taps: Tap[]): Promise<ScriptSample> {
  let called = NaN;
  const t0 = performance.now();
  const outcome: ScriptOutcome = await runner.run(SCRIPT, {
    tools: ['echo'],
    invoke: (_tool, args) => {
      called = performance.now();
      return Promise.resolve(args);
    },
  });
  const wallMs = performance.now() - t0;
  // The run's worker: the one process that closed since the last run (idle ones are still open).
  const i = taps.findIndex((t) => !Number.isNaN(t.closedAt));
  const tap = taps[i];
  if (tap) taps.splice(i, 1);
  const value = outcome.value as { x?: unknown } | undefined;
  if (!outcome.ok || outcome.toolCalls !== 1 || value?.x !== 1)
    throw new Error(`the script failed: ${outcome.error ?? JSON.stringify(outcome)}`);
  return {
    ms: outcome.ms,
    wallMs,
    readyMs: outcome.cold && tap ? tap.readyAt - t0 : NaN,
    toolCallMs: called - t0,
    doneMs: tap ? tap.doneAt - t0 : NaN,
    cold: outcome.cold,
  };
}

async function measureCodeMode(): Promise<{ settings: object; runners: Record<RunnerKey, RunnerResult> }> {
  const settings = (pool: number) => CodeModeSettingsSchema.parse({ pool });
  const coldMode = new CodeMode(settings(0), []);
  const poolMode = new CodeMode(settings(1), []);
  const taps: Record<RunnerKey, Tap[]> = {
    coldBare: [],
    coldSandboxed: [],
    poolBare: [],
    poolSandboxed: [],
  };
  const made: Record<RunnerKey, ScriptRunner> = {
    coldBare: bareRunner(0, coldMode.limits, taps.coldBare),
    coldSandboxed: gatewayRunner(coldMode, taps.coldSandboxed),
    poolBare: bareRunner(1, poolMode.limits, taps.poolBare),
    poolSandboxed: gatewayRunner(poolMode, taps.poolSandboxed),
  };
  for (const r of Object.values(made)) runners.add(r);
  const samples: Record<RunnerKey, ScriptSample[]> = {
    coldBare: [],
    coldSandboxed: [],
    poolBare: [],
    poolSandboxed: [],
  };
  try {
    progress(`code mode: ${SCRIPT_WARM} warm-ups and ${SCRIPT_ROUNDS} rounds of four runners`);
    await sleep(1000); // the pools start their first workers
    for (let i = 0; i < SCRIPT_WARM; i++) {
      for (const key of RUNNER_KEYS) {
        await runOnce(made[key], taps[key]);
        await sleep(SCRIPT_GAP_MS);
      }
    }
    for (let i = 0; i < SCRIPT_ROUNDS; i++) {
      // Rotate the order, so that no runner always follows the same one.
      for (let j = 0; j < RUNNER_KEYS.length; j++) {
        const key = RUNNER_KEYS[(i + j) % RUNNER_KEYS.length] as RunnerKey;
        samples[key].push(await runOnce(made[key], taps[key]));
        await sleep(SCRIPT_GAP_MS);
      }
    }
  } finally {
    for (const r of Object.values(made)) runners.delete(r);
    await Promise.all(Object.values(made).map((r) => r.close()));
  }
  const result = {} as Record<RunnerKey, RunnerResult>;
  for (const key of RUNNER_KEYS) {
    const s = samples[key];
    // A pooled figure counts only runs that found their worker ready; the others are counted.
    const used = key.startsWith('pool') ? s.filter((x) => !x.cold) : s;
    result[key] = {
      key,
      label: RUNNER_LABEL[key],
      samples: s,
      ms: summary(used.map((x) => x.ms)),
      wallMs: summary(used.map((x) => x.wallMs)),
      readyMs: summary(used.map((x) => x.readyMs).filter((x) => !Number.isNaN(x))),
      toolCallMs: summary(used.map((x) => x.toolCallMs)),
      doneMs: summary(used.map((x) => x.doneMs).filter((x) => !Number.isNaN(x))),
      exitMs: summary(used.map((x) => x.ms - x.doneMs).filter((x) => !Number.isNaN(x))),
      coldRuns: s.filter((x) => x.cold).length,
    };
  }
  return { settings: settings(1), runners: result };
}

// --- output -----------------------------------------------------------------------------------

function row(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) => (i === 0 ? c.padEnd(widths[0] ?? 0) : c.padStart(widths[i] ?? 0)))
    .join('  ')
    .trimEnd();
}

const ms1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const signed = (x: number): string =>
  Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}` : 'n/a';
const verdict = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');

async function main(): Promise<void> {
  checkBuild();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const loadBefore = loadavg()[0] ?? 0;
  try {
    const servers: ServerSpec[] = [
      {
        key: 'workspace',
        label: 'demo workspace server (dist/src/demo/workspace-server.js)',
        argv: [process.execPath, WORKSPACE_SERVER],
      },
    ];
    const everything = binOf('@modelcontextprotocol/server-everything', 'mcp-server-everything');
    if (everything)
      servers.push({
        key: 'everything',
        label: 'reference server-everything (node_modules, `stdio`)',
        argv: [process.execPath, everything, 'stdio'],
      });
    else progress('@modelcontextprotocol/server-everything is not installed: one server only');

    const serverResults: ServerResult[] = [];
    for (const s of servers) serverResults.push(await measureServer(s));
    const code = await measureCodeMode();
    const R = code.runners;

    const poolPass = R.poolSandboxed.ms.median <= TARGET_POOL_MS;
    const coldPass = R.coldSandboxed.ms.median <= TARGET_COLD_MS;
    const serverPass = serverResults.every((s) => s.pass);
    const pass = serverPass && poolPass && coldPass;
    const machine = {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      os: `${platform()} ${release()} ${arch()}`,
      root: process.getuid?.() === 0,
      sandbox: Object.fromEntries(
        sandboxSupport()
          .items.filter((i) => i.required)
          .map((i) => [i.name, i.detail]),
      ),
      loadAverage1m: { before: loadBefore, after: loadavg()[0] ?? 0 },
    };
    const method = {
      serverStart: `${SERVER_WARM} warm-ups each, then ${SERVER_PAIRS} bare/sandboxed pairs, alternating which goes first; each server closed after it is measured`,
      codeMode: `${SCRIPT_WARM} warm-up rounds, then ${SCRIPT_ROUNDS} rounds of the four runners in rotating order, ${SCRIPT_GAP_MS} ms pause after every run`,
      script: SCRIPT,
      invoke: 'answers at once with its arguments (no tool, no gateway pipeline)',
      percentiles: 'median and nearest-rank p90',
    };
    const totalSeconds = (Date.now() - started) / 1000;

    if (asJson) {
      process.stdout.write(
        JSON.stringify(
          {
            machine,
            method,
            targets: {
              serverAddedMs: TARGET_SERVER_ADDED_MS,
              poolSandboxedMs: TARGET_POOL_MS,
              coldSandboxedMs: TARGET_COLD_MS,
            },
            servers: serverResults,
            codeMode: code,
            pass: { serverStart: serverPass, pool: poolPass, cold: coldPass, overall: pass },
            totalSeconds,
          },
          null,
          2,
        ) + '\n',
      );
      return;
    }

    const w = [50, 9, 8, 9, 8, 14];
    const out = [
      'Warden sandbox benchmark',
      `machine  ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}` +
        `${machine.root ? ', as root (sandboxes drop to a fresh uid with setpriv)' : ''}`,
      `load     1-min load average ${loadBefore.toFixed(2)} before, ${machine.loadAverage1m.after.toFixed(2)} after ` +
        '(above ~0.5 before, other processes were competing for the cores)',
      `method   server start: ${method.serverStart}; code mode: ${method.codeMode}`,
      '',
    ];
    out.push(row(['', 'median ms', 'p90 ms', 'median ms', 'p90 ms', 'target'], w));
    for (const s of serverResults) {
      out.push(`1. Server start: ${s.label}, ${s.tools} tools`);
      out.push(row(['', 'initialize', '', 'tools/list', '', ''], w));
      for (const mode of MODES) {
        out.push(
          row(
            [
              `  ${mode}`,
              ms1(s.initialize[mode].median),
              ms1(s.initialize[mode].p90),
              ms1(s.toolsList[mode].median),
              ms1(s.toolsList[mode].p90),
              '',
            ],
            w,
          ),
        );
      }
      out.push(
        row(
          [
            '  added by the sandbox (sandboxed − bare)',
            signed(s.addedInitializeMs.median),
            signed(s.addedInitializeMs.p90),
            signed(s.addedToolsListMs.median),
            signed(s.addedToolsListMs.p90),
            `<= ${TARGET_SERVER_ADDED_MS} ms  ${verdict(s.pass)}`,
          ],
          w,
        ),
      );
    }
    const cw = [50, 9, 8, 6, 6, 6, 6, 6, 14];
    out.push('2. Code mode: one tool call, the invoker answers at once');
    out.push(row(['', 'round trip', '', 'wall', 'ready', 'call', 'done', 'exit', ''], cw));
    out.push(row(['', 'median ms', 'p90 ms', 'median ms from run() …', '', '', '', 'ms', 'target'], cw));
    const target: Partial<Record<RunnerKey, string>> = {
      coldSandboxed: `<= ${TARGET_COLD_MS} ms  ${verdict(coldPass)}`,
      poolSandboxed: `<= ${TARGET_POOL_MS} ms  ${verdict(poolPass)}`,
    };
    const cells = (r: RunnerResult): number[] => [
      r.ms.median,
      r.ms.p90,
      r.wallMs.median,
      r.readyMs.median,
      r.toolCallMs.median,
      r.doneMs.median,
      r.exitMs.median,
    ];
    for (const key of RUNNER_KEYS) {
      const r = R[key];
      out.push(row([`  ${r.label}`, ...cells(r).map(ms1), target[key] ?? ''], cw));
      if (key === 'coldSandboxed' || key === 'poolSandboxed') {
        const base = cells(key === 'coldSandboxed' ? R.coldBare : R.poolBare);
        out.push(
          row(
            [
              `  added by the sandbox, ${key === 'coldSandboxed' ? 'cold' : 'pooled'}`,
              ...cells(r).map((x, i) => (Number.isNaN(x) ? '' : signed(x - (base[i] ?? NaN)))),
              '',
            ],
            cw,
          ),
        );
      }
    }
    out.push('');
    for (const s of serverResults) {
      out.push(
        `${s.key}: process spawned after ${ms1(s.spawned.bare.median)} ms bare, ${ms1(s.spawned.sandboxed.median)} ms sandboxed (prlimit; median); ` +
          `median of the paired tools/list differences ${signed(s.pairedAddedToolsListMs)} ms; closing took ${ms1(s.closeMsMedian)} ms (median, not counted).`,
      );
    }
    out.push(
      "Code mode: round trip is the outcome's own `ms` (from run() until the outcome, the worker process gone); wall is",
      "measured around run(); ready, call and done are when the worker said `ready` (cold runs only), when the script's",
      'tool call reached the invoker, and when the `done` line arrived; exit is round trip minus done: the worker',
      'exiting (and, sandboxed, its sandbox going away). Pooled figures count only runs whose worker was ready:',
      `${R.poolBare.coldRuns} of ${R.poolBare.samples.length} bare and ${R.poolSandboxed.coldRuns} of ${R.poolSandboxed.samples.length} sandboxed pooled runs had to wait for one.`,
      `overall: ${verdict(pass)}; total ${totalSeconds.toFixed(1)} s`,
    );
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
