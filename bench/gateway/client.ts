// The load generator of the gateway benchmark, run as its own process (one per client kind) so that
// its CPU is not charged to any server. `--kind lean` drives the targets with `LeanMcpClient`
// (keep-alive node:http, request bodies and DPoP proofs prepared before the clock starts);
// `--kind sdk` with the official SDK client (`Client` + `StreamableHTTPClientTransport`, and for
// Warden `fetch: AgentClient.fetcher()`, which signs a proof per request inside the clock, as an agent
// runtime does). run.ts sends jobs over IPC; each reply carries the wall time, per-call latencies when
// asked, and this process's CPU time for the timed section.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { AgentClient } from '../../src/identity/client.js';
import { readCredentialFile } from '../../src/identity/credentials.js';
import { callBody, checkEcho, LeanMcpClient } from './lean-client.js';

export type ClientKind = 'lean' | 'sdk';
export type TargetKey = 'direct' | 'proxy' | 'warden';

export interface TargetSpec {
  key: TargetKey;
  url: string;
  /** The echo tool's name as this target offers it. */
  tool: string;
  /** Present for Warden: the agent's credential file. */
  credentialFile?: string;
}

export type ClientRequest =
  | { seq: number; op: 'open'; targets: TargetSpec[]; text: string; maxInFlight: number }
  | { seq: number; op: 'tools'; key: TargetKey }
  | { seq: number; op: 'run'; key: TargetKey; count: number; inFlight: number; latencies: boolean };

export interface RunResult {
  ok: number;
  failed: number;
  firstFailure: string | null;
  /** Nanoseconds from the first request sent to the last reply read, as a decimal string. */
  elapsedNs: string;
  /** Per-call latency in µs, in call order, when asked for. */
  latenciesUs: number[];
  /** CPU time (user + system) of this process during the timed section, µs. */
  clientCpuUs: number;
  /** DPoP proofs signed before the clock started, and the time that took (lean client only). */
  presigned: { proofs: number; us: number };
}

export interface OpenResult {
  tools: Partial<Record<TargetKey, string[]>>;
  /** Reply content types seen by the lean client (JSON or SSE), per target. */
  contentTypes: Partial<Record<TargetKey, string[]>>;
}

export type ClientReply =
  | { seq: number; ok: true; value: unknown }
  | { seq: number; ok: false; error: string; suppressedWarnings: number };

const kindArg = process.argv[process.argv.indexOf('--kind') + 1];
if (kindArg !== 'lean' && kindArg !== 'sdk') throw new Error('usage: client.ts --kind lean|sdk');
const kind: ClientKind = kindArg;

// The SDK client hands one AbortSignal to every fetch; after ~1,500 calls Node warns about its
// listeners on every call. Known, harmless for a benchmark: counted, not printed.
let suppressedWarnings = 0;
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'MaxListenersExceededWarning') suppressedWarnings++;
  else process.stderr.write(`client (${kind}): ${w.name}: ${w.message}\n`);
});

interface Driver {
  tools(): Promise<string[]>;
  run(count: number, inFlight: number, latencies: boolean): Promise<RunResult>;
  contentTypes(): string[];
}

let text = '';
let nextId = 1;

function cpuNow(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Run `count` calls with `inFlight` lanes; `call(i)` returns null on success or a failure text. */
async function drive(
  count: number,
  inFlight: number,
  latencies: boolean,
  call: (i: number) => Promise<string | null>,
): Promise<Omit<RunResult, 'presigned'>> {
  const lat = latencies ? new Array<number>(count).fill(0) : [];
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstFailure: string | null = null;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      let failure: string | null;
      try {
        failure = await call(i);
      } catch (err) {
        failure = String(err);
      }
      if (latencies) lat[i] = Number(process.hrtime.bigint() - t0) / 1000;
      if (failure === null) ok++;
      else {
        failed++;
        firstFailure ??= failure;
      }
    }
  };
  const cpu0 = cpuNow();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  const elapsed = process.hrtime.bigint() - t0;
  return {
    ok,
    failed,
    firstFailure,
    elapsedNs: elapsed.toString(),
    latenciesUs: lat,
    clientCpuUs: cpuNow() - cpu0,
  };
}

async function leanDriver(t: TargetSpec, maxInFlight: number): Promise<Driver> {
  const agent = t.credentialFile ? new AgentClient(readCredentialFile(t.credentialFile)) : undefined;
  let token: { value: string; until: number } | undefined;
  const freshToken = async (): Promise<string | undefined> => {
    if (!agent) return undefined;
    // The benchmark is short, but a token must never expire inside a run.
    if (!token || token.until - Date.now() < 90_000) {
      const t = await agent.token();
      token = { value: t.accessToken, until: Date.now() + t.expiresIn * 1000 };
    }
    return token.value;
  };
  const first = await freshToken();
  const client = new LeanMcpClient(t.url, maxInFlight, first === undefined ? undefined : { token: first });
  const sign = (): string | undefined =>
    agent && token ? agent.proof('POST', t.url, token.value) : undefined;
  await client.open(agent ? () => sign() ?? '' : undefined);
  return {
    contentTypes: () => [...client.contentTypes],
    async tools() {
      return client.listTools(nextId++, sign());
    },
    async run(count, inFlight, latencies) {
      const tok = await freshToken();
      if (tok !== undefined) client.setToken(tok);
      const ids = Array.from({ length: count }, () => nextId++);
      const bodies = ids.map((id) => callBody(id, t.tool, text));
      // Proofs are single-use and must be fresh (iat within 60 s): sign them right before the run.
      const s0 = process.hrtime.bigint();
      const proofs = agent ? ids.map(() => sign() ?? '') : undefined;
      const signUs = Number(process.hrtime.bigint() - s0) / 1000;
      const r = await drive(count, inFlight, latencies, async (i) => {
        const reply = await client.post(bodies[i] ?? '', proofs?.[i]);
        return checkEcho(reply, ids[i] ?? -1, text);
      });
      return { ...r, presigned: { proofs: proofs?.length ?? 0, us: signUs } };
    },
  };
}

async function sdkDriver(t: TargetSpec): Promise<Driver> {
  const agent = t.credentialFile ? new AgentClient(readCredentialFile(t.credentialFile)) : undefined;
  const transport = new StreamableHTTPClientTransport(
    new URL(t.url),
    agent ? { fetch: agent.fetcher() } : undefined,
  );
  const client = new Client({ name: 'bench-sdk', version: '1.0.0' });
  await client.connect(transport);
  return {
    contentTypes: () => [],
    async tools() {
      return (await client.listTools()).tools.map((x) => x.name);
    },
    async run(count, inFlight, latencies) {
      const r = await drive(count, inFlight, latencies, async () => {
        const res = await client.callTool({ name: t.tool, arguments: { text } });
        const content = res.content as Array<{ text?: unknown }> | undefined;
        return res.isError !== true && content?.[0]?.text === text ? null : JSON.stringify(res).slice(0, 300);
      });
      return { ...r, presigned: { proofs: 0, us: 0 } };
    },
  };
}

const drivers = new Map<TargetKey, Driver>();

function driver(key: TargetKey): Driver {
  const d = drivers.get(key);
  if (!d) throw new Error(`no session with ${key}`);
  return d;
}

async function handle(m: ClientRequest): Promise<unknown> {
  switch (m.op) {
    case 'open': {
      text = m.text;
      const out: OpenResult = { tools: {}, contentTypes: {} };
      for (const t of m.targets) {
        const d = kind === 'lean' ? await leanDriver(t, m.maxInFlight) : await sdkDriver(t);
        drivers.set(t.key, d);
        out.tools[t.key] = await d.tools();
        out.contentTypes[t.key] = d.contentTypes();
      }
      return out;
    }
    case 'tools':
      return driver(m.key).tools();
    case 'run': {
      const d = driver(m.key);
      const r = await d.run(m.count, m.inFlight, m.latencies);
      return r;
    }
  }
}

process.on('message', (m: ClientRequest) => {
  handle(m).then(
    (value) => process.send?.({ seq: m.seq, ok: true, value } satisfies ClientReply),
    (err: unknown) =>
      process.send?.({
        seq: m.seq,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        suppressedWarnings,
      } satisfies ClientReply),
  );
});

process.on('disconnect', () => process.exit(0));
