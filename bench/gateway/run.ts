// Gateway benchmark: what Warden's full pipeline adds to an MCP tool call, against two baselines
// measured in the same run, on the same echo upstream and the same machine:
//
//   direct     client → Streamable HTTP → echo server
//   mcp-proxy  client → Streamable HTTP → mcp-proxy (no security) → stdio → echo server
//   Warden     client → Streamable HTTP + DPoP → warden serve (access token and DPoP proof,
//              revocation, envelope, pin check, Cedar with the stock pack, flow tracking and
//              argument provenance, two evidence-log entries) → stdio → echo server
//
// Figures: p50 and p99 latency of sequential calls (concurrency 1), and calls/s with 16 and 64
// in flight, for two clients, each its own process: a lean keep-alive node:http client (what the
// servers can do) and the official SDK client (what an agent built on it sees; it costs ~0.9 ms of
// client CPU per call and caps throughput by itself). Targets: Warden adds at most 1 ms at p50 and
// 3 ms at p99 over direct, and its throughput is at least mcp-proxy's.
//
//   npm run build && npm run bench:gateway            table
//   npm run bench:gateway -- --json                   JSON
//   npm run bench:gateway -- --cpu-prof               also profile `warden serve` (path printed)
//   npm run bench:gateway -- --warden-dir /dev/shm    Warden's data directory under another parent
//                                                     (default: the OS temp dir), e.g. tmpfs to see
//                                                     what the audit log's fsync costs

import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release } from 'node:os';
import { join } from 'node:path';
import type {
  ClientKind,
  ClientReply,
  ClientRequest,
  OpenResult,
  RunResult,
  TargetKey,
  TargetSpec,
} from './client.js';
import {
  ECHO_SERVER,
  ROOT,
  WARDEN_MAIN,
  fileSystemOf,
  mcpProxyVersion,
  startDirect,
  startMcpProxy,
  startWarden,
  type ServerProcess,
  type WardenProcess,
} from './targets.js';
import { staleOutputs } from '../build-check.js';
import { median, percentile } from '../stats.js';

const ROUNDS = 3;
/** Sequential calls per round for latency; the rounds' samples are pooled for p50 and p99. */
const LATENCY_CALLS = 700;
const WARM_CALLS = 300;
const WARM_THROUGHPUT_CALLS = 600;
const THROUGHPUT_RUN_MS = 1500;
const THROUGHPUT_MIN_CALLS = 300;
const THROUGHPUT_MAX_CALLS = 15_000;
const IN_FLIGHT = [16, 64] as const;
const MAX_IN_FLIGHT = 64;
const TARGET_ADDED_P50_MS = 1;
const TARGET_ADDED_P99_MS = 3;
const TARGET_THROUGHPUT_RATIO = 1;
/** The echo payload: a short note with an address, a URL and a phone number, as tool text goes. */
const TEXT =
  'Notes for the Q4 review: ask bob@example.com about https://example.com/q4/report, or call +44 20 7946 0958.';

const TARGETS: readonly TargetKey[] = ['direct', 'proxy', 'warden'];
const KINDS: readonly ClientKind[] = ['lean', 'sdk'];
const TARGET_LABEL: Record<TargetKey, string> = { direct: 'direct', proxy: 'mcp-proxy', warden: 'Warden' };
const KIND_LABEL: Record<ClientKind, string> = {
  lean: 'lean client (keep-alive node:http, bodies and DPoP proofs prepared before the clock)',
  sdk: 'SDK client (@modelcontextprotocol/sdk Client + StreamableHTTPClientTransport; Warden: AgentClient.fetcher() signs per request)',
};

const asJson = process.argv.includes('--json');
const cpuProf = process.argv.includes('--cpu-prof');
const wardenDirAt = process.argv.indexOf('--warden-dir');
const wardenParentDir = wardenDirAt >= 0 ? process.argv[wardenDirAt + 1] : undefined;

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`  … ${msg}\n`);
}

// --- build check ------------------------------------------------------------------------------

function checkBuild(): void {
  const stale = [
    ...staleOutputs(ROOT, join(ROOT, 'src')),
    ...staleOutputs(ROOT, join(ROOT, 'bench/gateway')),
  ];
  if (!existsSync(WARDEN_MAIN) || !existsSync(ECHO_SERVER) || stale.length > 0) {
    throw new Error(
      `the servers run from dist/, which is missing or older than ${stale.slice(0, 3).join(', ') || 'the sources'}` +
        `${stale.length > 3 ? ` and ${stale.length - 3} more` : ''}: run \`npm run build\` first`,
    );
  }
}

// --- the client processes ---------------------------------------------------------------------

type Job = ClientRequest extends infer R ? (R extends { seq: number } ? Omit<R, 'seq'> : never) : never;

interface LoadClient {
  kind: ClientKind;
  request<T>(job: Job): Promise<T>;
  close(): void;
}

function startClient(kind: ClientKind): LoadClient {
  // tsx for the child only: flags given to this process (such as --cpu-prof) must not follow it.
  const child: ChildProcess = fork(new URL('./client.ts', import.meta.url), ['--kind', kind], {
    execArgv: ['--import', 'tsx'],
  });
  let seq = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: ClientReply) => {
    const w = waiting.get(m.seq);
    if (!w) return;
    waiting.delete(m.seq);
    if (m.ok) w.resolve(m.value);
    else w.reject(new Error(`${kind} client: ${m.error}`));
  });
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`the ${kind} client exited with code ${code}`));
    waiting.clear();
  });
  return {
    kind,
    request<T>(job: Job): Promise<T> {
      const s = ++seq;
      return new Promise<T>((resolve, reject) => {
        waiting.set(s, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...job, seq: s });
      });
    },
    close() {
      if (child.connected) child.disconnect();
    },
  };
}

// --- measuring --------------------------------------------------------------------------------

interface Measured {
  run: RunResult;
  /** Server-side CPU during the run, µs: the server process, and what it spawned (the stdio echo). */
  serverCpu: { front: number; upstream: number };
}

async function measure(
  client: LoadClient,
  server: ServerProcess,
  key: TargetKey,
  count: number,
  inFlight: number,
  latencies: boolean,
): Promise<Measured> {
  const before = server.cpu();
  const run = await client.request<RunResult>({ op: 'run', key, count, inFlight, latencies });
  const after = server.cpu();
  if (run.failed !== 0 || run.ok !== count) {
    throw new Error(
      `${run.failed} of ${count} calls to ${TARGET_LABEL[key]} failed (${client.kind} client): ${run.firstFailure}` +
        `\n  server log: ${server.logTail()}`,
    );
  }
  return {
    run,
    serverCpu: { front: after.front - before.front, upstream: after.upstream - before.upstream },
  };
}

function rate(m: Measured): number {
  return m.run.ok / (Number(m.run.elapsedNs) / 1e9);
}

interface LatencyResult {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  perRound: Array<{ p50Ms: number; p99Ms: number }>;
  /** Client CPU per call, µs (median over rounds). */
  clientCpuUsPerCall: number;
  serverCpuUsPerCall: { front: number; upstream: number };
}

interface ThroughputResult {
  inFlight: number;
  callsPerRun: number;
  callsPerSec: number;
  perRound: number[];
  clientCpuUsPerCall: number;
  serverCpuUsPerCall: { front: number; upstream: number };
}

function cpuPerCall(ms: Measured[]): { client: number; front: number; upstream: number } {
  return {
    client: median(ms.map((m) => m.run.clientCpuUs / m.run.ok)),
    front: median(ms.map((m) => m.serverCpu.front / m.run.ok)),
    upstream: median(ms.map((m) => m.serverCpu.upstream / m.run.ok)),
  };
}

function latencyOf(ms: Measured[]): LatencyResult {
  const all = ms.flatMap((m) => m.run.latenciesUs).sort((a, b) => a - b);
  const perRound = ms.map((m) => {
    const s = [...m.run.latenciesUs].sort((a, b) => a - b);
    return { p50Ms: percentile(s, 0.5) / 1000, p99Ms: percentile(s, 0.99) / 1000 };
  });
  const cpu = cpuPerCall(ms);
  return {
    samples: all.length,
    p50Ms: percentile(all, 0.5) / 1000,
    p99Ms: percentile(all, 0.99) / 1000,
    meanMs: all.reduce((a, b) => a + b, 0) / all.length / 1000,
    maxMs: (all.at(-1) ?? NaN) / 1000,
    perRound,
    clientCpuUsPerCall: cpu.client,
    serverCpuUsPerCall: { front: cpu.front, upstream: cpu.upstream },
  };
}

function throughputOf(inFlight: number, ms: Measured[]): ThroughputResult {
  const rates = ms.map(rate);
  const cpu = cpuPerCall(ms);
  return {
    inFlight,
    callsPerRun: ms[0]?.run.ok ?? 0,
    callsPerSec: median(rates),
    perRound: rates,
    clientCpuUsPerCall: cpu.client,
    serverCpuUsPerCall: { front: cpu.front, upstream: cpu.upstream },
  };
}

interface KindResults {
  latency: Record<TargetKey, LatencyResult>;
  throughput: Record<TargetKey, Record<number, ThroughputResult>>;
  /** Median µs to sign one DPoP proof in the lean client (outside the clock). */
  signUsPerProof: number | null;
}

interface Comparison {
  addedP50Ms: number;
  addedP99Ms: number;
  /** Warden − direct p50 of each round. */
  addedP50PerRound: number[];
  addedP99PerRound: number[];
  proxyAddedP50Ms: number;
  proxyAddedP99Ms: number;
  ratio: Record<number, { ratio: number; perRound: number[]; pass: boolean }>;
  p50Pass: boolean;
  p99Pass: boolean;
  pass: boolean;
}

function compare(r: KindResults): Comparison {
  const L = r.latency;
  const perRoundDiff = (a: LatencyResult, b: LatencyResult, k: 'p50Ms' | 'p99Ms'): number[] =>
    a.perRound.map((x, i) => x[k] - (b.perRound[i]?.[k] ?? NaN));
  const ratio: Comparison['ratio'] = {};
  for (const n of IN_FLIGHT) {
    const w = r.throughput.warden[n];
    const p = r.throughput.proxy[n];
    if (!w || !p) continue;
    const value = w.callsPerSec / p.callsPerSec;
    ratio[n] = {
      ratio: value,
      perRound: w.perRound.map((x, i) => x / (p.perRound[i] ?? NaN)),
      pass: value >= TARGET_THROUGHPUT_RATIO,
    };
  }
  const addedP50Ms = L.warden.p50Ms - L.direct.p50Ms;
  const addedP99Ms = L.warden.p99Ms - L.direct.p99Ms;
  const p50Pass = addedP50Ms <= TARGET_ADDED_P50_MS;
  const p99Pass = addedP99Ms <= TARGET_ADDED_P99_MS;
  return {
    addedP50Ms,
    addedP99Ms,
    addedP50PerRound: perRoundDiff(L.warden, L.direct, 'p50Ms'),
    addedP99PerRound: perRoundDiff(L.warden, L.direct, 'p99Ms'),
    proxyAddedP50Ms: L.proxy.p50Ms - L.direct.p50Ms,
    proxyAddedP99Ms: L.proxy.p99Ms - L.direct.p99Ms,
    ratio,
    p50Pass,
    p99Pass,
    pass: p50Pass && p99Pass && Object.values(ratio).every((x) => x.pass),
  };
}

// --- output -----------------------------------------------------------------------------------

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[0] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

const ms2 = (x: number): string => x.toFixed(2);
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
const range = (xs: number[], f: (x: number) => string): string =>
  `${f(Math.min(...xs))} to ${f(Math.max(...xs))}`;
const verdict = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');

function kindTable(kind: ClientKind, r: KindResults, c: Comparison): string[] {
  const w = [12, 7, 7, 9, 9, 15, 11, 11];
  const out = [
    `${KIND_LABEL[kind]}`,
    row(['', 'p50 ms', 'p99 ms', '/s @16', '/s @64', 'server CPU µs', 'client CPU', 'client CPU'], w),
    row(['', 'c=1', 'c=1', '', '', '/call @64', 'µs/call c=1', 'µs/call @64'], w),
  ];
  for (const t of TARGETS) {
    const L = r.latency[t];
    const T16 = r.throughput[t][16];
    const T64 = r.throughput[t][64];
    const s = T64?.serverCpuUsPerCall;
    out.push(
      row(
        [
          `  ${TARGET_LABEL[t]}`,
          ms2(L.p50Ms),
          ms2(L.p99Ms),
          int(T16?.callsPerSec ?? NaN),
          int(T64?.callsPerSec ?? NaN),
          s ? (t === 'direct' ? int(s.front) : `${int(s.front)} + ${int(s.upstream)}`) : '-',
          int(L.clientCpuUsPerCall),
          int(T64?.clientCpuUsPerCall ?? NaN),
        ],
        w,
      ),
    );
  }
  const r16 = c.ratio[16];
  const r64 = c.ratio[64];
  out.push(
    `  added over direct, p50: Warden ${signed(c.addedP50Ms)} ms (per round ${range(c.addedP50PerRound, signed)}),` +
      ` target <= ${TARGET_ADDED_P50_MS} ms: ${verdict(c.p50Pass)};   mcp-proxy ${signed(c.proxyAddedP50Ms)} ms`,
    `  added over direct, p99: Warden ${signed(c.addedP99Ms)} ms (per round ${range(c.addedP99PerRound, signed)}),` +
      ` target <= ${TARGET_ADDED_P99_MS} ms: ${verdict(c.p99Pass)};   mcp-proxy ${signed(c.proxyAddedP99Ms)} ms`,
    `  throughput Warden / mcp-proxy: @16 ${r16 ? `${r16.ratio.toFixed(2)} (per round ${range(r16.perRound, (x) => x.toFixed(2))}) ${verdict(r16.pass)}` : '-'};` +
      ` @64 ${r64 ? `${r64.ratio.toFixed(2)} (per round ${range(r64.perRound, (x) => x.toFixed(2))}) ${verdict(r64.pass)}` : '-'};` +
      ` target >= ${TARGET_THROUGHPUT_RATIO.toFixed(2)}`,
  );
  return out;
}

// --- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  checkBuild();
  const loadBefore = loadavg()[0] ?? 0;
  const servers: Partial<Record<TargetKey, ServerProcess>> = {};
  const clients: LoadClient[] = [];
  let warden: WardenProcess | undefined;
  try {
    progress('starting the echo server (HTTP), mcp-proxy and warden serve');
    servers.direct = await startDirect();
    servers.proxy = await startMcpProxy();
    if (wardenDirAt >= 0 && (wardenParentDir === undefined || !existsSync(wardenParentDir)))
      throw new Error('--warden-dir needs an existing directory');
    warden = await startWarden({
      cpuProf,
      ...(wardenParentDir !== undefined ? { parentDir: wardenParentDir } : {}),
    });
    servers.warden = warden;
    const server = (k: TargetKey): ServerProcess => servers[k] as ServerProcess;
    const specs: TargetSpec[] = [
      { key: 'direct', url: server('direct').url, tool: 'echo' },
      { key: 'proxy', url: server('proxy').url, tool: 'echo' },
      { key: 'warden', url: warden.url, tool: 'echo__echo', credentialFile: warden.credentialFile },
    ];
    const lean = startClient('lean');
    const sdk = startClient('sdk');
    clients.push(lean, sdk);

    // The lean client's first tools/list makes Warden see the echo tool, which it quarantines
    // until an operator pins it; then the SDK client connects to a gateway that offers it.
    progress('opening sessions; pinning the echo tool with `warden tools approve`');
    const leanOpen = await lean.request<OpenResult>({
      op: 'open',
      targets: specs,
      text: TEXT,
      maxInFlight: MAX_IN_FLIGHT,
    });
    if (leanOpen.tools.warden?.includes('echo__echo'))
      throw new Error('Warden offered the echo tool before it was pinned');
    await warden.approve();
    // The gateway follows pin changes made by other processes within a second (its pin cache's
    // refresh interval): ask until it offers the tool.
    let pinned: string[] = [];
    for (let i = 0; i < 50 && !pinned.includes('echo__echo'); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      pinned = await lean.request<string[]>({ op: 'tools', key: 'warden' });
    }
    if (!pinned.includes('echo__echo'))
      throw new Error(`Warden does not offer the pinned tool: ${pinned.join(', ')}`);
    const sdkOpen = await sdk.request<OpenResult>({
      op: 'open',
      targets: specs,
      text: TEXT,
      maxInFlight: MAX_IN_FLIGHT,
    });
    for (const s of specs) {
      for (const o of [leanOpen, sdkOpen]) {
        const tools = s.key === 'warden' && o === leanOpen ? pinned : (o.tools[s.key] ?? []);
        if (!tools.includes(s.tool)) throw new Error(`${TARGET_LABEL[s.key]} does not offer \`${s.tool}\``);
      }
    }

    // Warm-up: JIT, connection pools, Warden's upstream process and caches; sizes the throughput runs.
    const sizes = new Map<string, number>();
    for (const client of clients) {
      for (const t of TARGETS) {
        progress(`warming up: ${client.kind} client → ${TARGET_LABEL[t]}`);
        await measure(client, server(t), t, WARM_CALLS, 1, false);
        const m = await measure(client, server(t), t, WARM_THROUGHPUT_CALLS, MAX_IN_FLIGHT, false);
        const n = Math.round((rate(m) * THROUGHPUT_RUN_MS) / 1000);
        sizes.set(`${client.kind}/${t}`, Math.max(THROUGHPUT_MIN_CALLS, Math.min(THROUGHPUT_MAX_CALLS, n)));
      }
    }

    // Rounds: every measurement once per round, targets interleaved, so that drift and other load
    // on the machine hit the three paths alike.
    const lat = new Map<string, Measured[]>();
    const tput = new Map<string, Measured[]>();
    const push = (map: Map<string, Measured[]>, k: string, m: Measured): void => {
      map.set(k, [...(map.get(k) ?? []), m]);
    };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const client of clients) {
        progress(`round ${round}/${ROUNDS}: ${client.kind} client`);
        for (const t of TARGETS)
          push(lat, `${client.kind}/${t}`, await measure(client, server(t), t, LATENCY_CALLS, 1, true));
        for (const n of IN_FLIGHT)
          for (const t of TARGETS) {
            const count = sizes.get(`${client.kind}/${t}`) ?? THROUGHPUT_MIN_CALLS;
            push(tput, `${client.kind}/${t}/${n}`, await measure(client, server(t), t, count, n, false));
          }
      }
    }

    const results = {} as Record<ClientKind, KindResults>;
    for (const kind of KINDS) {
      const latency = {} as Record<TargetKey, LatencyResult>;
      const throughput = {} as Record<TargetKey, Record<number, ThroughputResult>>;
      for (const t of TARGETS) {
        latency[t] = latencyOf(lat.get(`${kind}/${t}`) ?? []);
        throughput[t] = {};
        for (const n of IN_FLIGHT) throughput[t][n] = throughputOf(n, tput.get(`${kind}/${t}/${n}`) ?? []);
      }
      const signUs = [...(lat.get(`${kind}/warden`) ?? []), ...(tput.get(`${kind}/warden/64`) ?? [])]
        .filter((m) => m.run.presigned.proofs > 0)
        .map((m) => m.run.presigned.us / m.run.presigned.proofs);
      results[kind] = { latency, throughput, signUsPerProof: signUs.length > 0 ? median(signUs) : null };
    }
    const comparisons = { lean: compare(results.lean), sdk: compare(results.sdk) };

    const machine = {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      os: `${platform()} ${release()} ${arch()}`,
      wardenDataDir: warden.dataDir,
      wardenDataDirFs: fileSystemOf(warden.dataDir),
      // Other processes competing for the cores show up as higher latency and lower throughput.
      loadAverage1m: { before: loadBefore, after: loadavg()[0] ?? 0 },
    };
    const replyTypes = Object.fromEntries(
      TARGETS.map((t) => [TARGET_LABEL[t], leanOpen.contentTypes[t] ?? []]),
    ) as Record<string, string[]>;
    const method = {
      rounds: ROUNDS,
      latency: `${ROUNDS} rounds × ${LATENCY_CALLS} sequential calls, pooled (${ROUNDS * LATENCY_CALLS} samples), nearest-rank percentiles`,
      throughput: `median of ${ROUNDS} runs per figure, each sized from the warm-up to ~${THROUGHPUT_RUN_MS} ms`,
      warmUp: `${WARM_CALLS} sequential + ${WARM_THROUGHPUT_CALLS} at ${MAX_IN_FLIGHT} in flight per client and target`,
      payload: { tool: 'echo', text: TEXT, bytes: Buffer.byteLength(TEXT) },
      sessions: 'one MCP session per client process and target; 16 or 64 requests in flight on it',
      replyContentTypes: replyTypes,
      mcpProxy: `mcp-proxy ${mcpProxyVersion()}, --server stream, every other option its default`,
      warden:
        'warden serve from dist/, stock policy pack, tool pinned by `warden tools approve`, echo labelled untrusted (annotations) with `text` a sensitive argument',
      serverCpu:
        'from /proc: the server process + the processes it spawned (the stdio echo), per call, median over rounds',
    };
    const totalSeconds = (Date.now() - started) / 1000;
    const overall = comparisons.lean.pass;

    if (asJson) {
      process.stdout.write(
        JSON.stringify(
          {
            machine,
            method,
            targets: {
              addedP50Ms: TARGET_ADDED_P50_MS,
              addedP99Ms: TARGET_ADDED_P99_MS,
              throughputRatio: TARGET_THROUGHPUT_RATIO,
            },
            results,
            comparisons,
            pass: { lean: comparisons.lean.pass, sdk: comparisons.sdk.pass, overall },
            cpuProfDir: warden.cpuProfDir ?? null,
            totalSeconds,
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      const sign = results.lean.signUsPerProof;
      const out = [
        'Warden gateway benchmark',
        `machine  ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}; Warden data dir on ${machine.wardenDataDirFs}` +
          (machine.wardenDataDirFs === 'tmpfs'
            ? ' (audit commits never reach a disk: a diagnostic, not a deployment)'
            : ''),
        `load     1-min load average ${machine.loadAverage1m.before.toFixed(2)} before, ` +
          `${machine.loadAverage1m.after.toFixed(2)} after (the benchmark itself keeps about ${machine.cores} busy; ` +
          'well above that, other processes were competing for the cores)',
        `method   ${method.latency}; throughput ${method.throughput}; warm-up ${method.warmUp}`,
        `payload  echo { text: ${method.payload.bytes} B }; one session per client and target; replies: ` +
          TARGETS.map((t) => `${TARGET_LABEL[t]} ${(leanOpen.contentTypes[t] ?? []).join('+') || '?'}`).join(
            ', ',
          ),
        'paths    direct:    client → HTTP → echo server (SDK Streamable HTTP, stateful)',
        `         mcp-proxy: client → HTTP → mcp-proxy ${mcpProxyVersion()} (defaults, no security) → stdio → echo server`,
        '         Warden:    client → HTTP + DPoP → warden serve (token + DPoP + revocation, envelope, pin, Cedar stock pack,',
        '                    flow + argument provenance, 2 evidence-log entries) → stdio → echo server',
        '',
        ...kindTable('lean', results.lean, comparisons.lean),
        sign === null
          ? ''
          : `  (the lean client signs each Warden DPoP proof in ${sign.toFixed(1)} µs, before the clock)`,
        ...kindTable('sdk', results.sdk, comparisons.sdk),
        '',
        'server CPU µs/call: CPU time of the server process + of the stdio echo it spawned, per call, at 64 in flight.',
        'client CPU µs/call: CPU time of the client process per call. The SDK client needs ~0.9 ms of it per call and',
        'caps every path near 1/that; its throughput ratio says little about the servers. The lean client figures are',
        "the servers' own; they decide the verdict.",
        `overall (lean client): ${verdict(overall)}; SDK client: ${verdict(comparisons.sdk.pass)}; total ${totalSeconds.toFixed(1)} s` +
          (warden.cpuProfDir
            ? `\ncpu profile of warden serve: ${warden.cpuProfDir} (written when it stops)`
            : ''),
      ];
      process.stdout.write(out.join('\n') + '\n');
    }
  } finally {
    for (const c of clients) c.close();
    await Promise.all(Object.values(servers).map((s) => s.close().catch(() => undefined)));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
