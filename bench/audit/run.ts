// Evidence-log benchmark: what the append-only Merkle log (src/audit/) costs to write, verify and
// prove, next to baselines measured in the same run, on the same disk:
//
//   appends   durable appends/s through LogAuditSink.record (the production path: a writer thread
//             commits; many records in flight share a commit) and through LogWriter.append with
//             batches of 256 (the writer alone, no thread). Baselines: leafHash over the same entry
//             bytes (one thread), and a plain prepared `insert into t(v) values(?)` of the same
//             bytes, 256 rows per commit, WAL + synchronous=FULL. Target: >= 20,000 appends/s.
//   verify    a 1,000,000-entry log is built (LogWriter.append, 10,000 entries per transaction, a
//             signed Ed25519 checkpoint every 100,000), then verifyLog recomputes the whole tree
//             and checks every stored hash and checkpoint. Baseline: reading every entry
//             (storage.iterate) and leaf-hashing it. Target: <= 10 s.
//   proofs    proveInclusion (random index, full size) and proveConsistency (random size pairs) at
//             that size, each followed by verifyInclusion / verifyConsistency; median and p99 of
//             generation and of verification. Baselines: the same stored hashes read by primary
//             key with one prepared statement; the same number of raw SHA-256 node hashes.
//             Target: generation + verification <= 1 ms, at the median and at p99.
//
// The writer thread runs the compiled dist/src/audit/writer-thread.js, so the benchmark refuses
// to start when dist/ is missing or older than src/. Everything lives in a temporary directory
// under the OS temp dir, removed at the end.
//
//   npm run build && npm run bench:audit            table
//   npm run bench:audit -- --json                   JSON

import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import type { PendingEntry } from '../../src/audit/append.js';
import { encodeEntry } from '../../src/audit/entry.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { proveConsistency, proveInclusion } from '../../src/audit/prove.js';
import { LogAuditSink } from '../../src/audit/sink.js';
import { LogStorage, storedHashIndex } from '../../src/audit/storage.js';
import { verifyLog } from '../../src/audit/verify-log.js';
import {
  consistencyProof,
  formatSignerKey,
  formatVerifierKey,
  generateSignerKey,
  inclusionProof,
  leafHash,
  openNote,
  parseCheckpoint,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  type HashReader,
} from '../../src/audit/verify/index.js';
import { LogWriter, openLogConnection, type CheckpointSchedule } from '../../src/audit/writer.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { staleOutputs } from '../build-check.js';
import { median, percentile } from '../stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const ROUNDS = 5;
const SINK_IN_FLIGHT = [1024, 256] as const;
/** How long each round of an append figure runs; operations are counted until then. */
const SINK_ROUND_MS = 1500;
const WRITER_ROUND_MS = 1000;
const INSERT_ROUND_MS = 600;
const HASH_ROUND_MS = 300;
const WARM_MS = 500;
const WRITER_BATCH = 256;
const INSERT_BATCH = 256;
/** Distinct events cycled through by the append figures. */
const POOL = 1024;
const TARGET_APPENDS_PER_SEC = 20_000;

const LOG_SIZE = 1_000_000;
const BUILD_BATCH = 10_000;
const BUILD_CHECKPOINT_EVERY = 100_000;
const TARGET_VERIFY_S = 10;

const PROOFS = 2000;
const PROOF_WARM = 200;
const TARGET_PROOF_MS = 1;

/** The production defaults of `audit.checkpointEveryEntries` and `audit.checkpointIntervalMs`. */
const PRODUCTION_CHECKPOINTS = { everyEntries: 1000, intervalMs: 10_000 };
const ORIGIN = 'bench.example/audit/0badc0de';

const asJson = process.argv.includes('--json');
const started = Date.now();

function progress(msg: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`  … ${s} s  ${msg}\n`);
}

// --- build check ------------------------------------------------------------------------------

function checkBuild(): void {
  const stale = staleOutputs(ROOT, join(ROOT, 'src'));
  if (stale.length > 0) {
    throw new Error(
      `the audit writer thread runs from dist/, which is missing or older than ${stale.slice(0, 3).join(', ')}` +
        `${stale.length > 3 ? ` and ${stale.length - 3} more` : ''}: run \`npm run build\` first`,
    );
  }
}

// --- statistics -------------------------------------------------------------------------------

interface Run {
  ops: number;
  ns: number;
  /** CPU time of this process, all threads (the writer thread included), µs. */
  cpuUs: number;
  /** Bytes this process handed to write(2) (`wchar` of /proc/self/io): WAL and checkpoint writes. */
  writtenBytes: number;
}

/** `wchar` of /proc/self/io, the bytes all threads of this process have written; NaN off Linux. */
function bytesWritten(): number {
  try {
    const m = /^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function stopwatch(): (ops: number) => Run {
  const written0 = bytesWritten();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  return (ops) => {
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    return { ops, ns, cpuUs: cpu.user + cpu.system, writtenBytes: bytesWritten() - written0 };
  };
}

interface RateResult {
  key: string;
  label: string;
  /** Median over the rounds. */
  perSec: number;
  minPerSec: number;
  maxPerSec: number;
  /** Median CPU µs per operation (process-wide, so the writer thread counts). */
  cpuUsPerOp: number;
  /** Median bytes written per operation. */
  writtenPerOp: number;
  runs: Run[];
}

function rate(key: string, label: string, runs: Run[]): RateResult {
  const rates = runs.map((r) => r.ops / (r.ns / 1e9));
  return {
    key,
    label,
    perSec: median(rates),
    minPerSec: Math.min(...rates),
    maxPerSec: Math.max(...rates),
    cpuUsPerOp: median(runs.map((r) => r.cpuUs / r.ops)),
    writtenPerOp: median(runs.map((r) => r.writtenBytes / r.ops)),
    runs,
  };
}

// --- the entries ------------------------------------------------------------------------------

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/**
 * An `mcp.decision` event as the gateway records it for an allowed tools/call (session.ts
 * recordDecision), arguments not kept, without the echo of the Cedar request: about 680 bytes
 * once canonical (with the echo, real ones are about 1 KB).
 */
function decisionEvent(traceId: string, spanId: string): AuditEvent {
  const agent = 'spiffe://bench.example/agent/research/crawler';
  return {
    type: 'mcp.decision',
    outcome: 'success',
    actor: agent,
    subject: 'files/read_file',
    sponsor: 'alice',
    authority: [],
    reason: null,
    details: {
      action: 'tools/call',
      decision: 'allow',
      policies: ['stock/read-only-tools'],
      reasons: [],
      errors: [],
      policy_set_hash: hex(32),
      argument_digest: hex(32),
      arguments_kept: 'none',
      session: randomUUID(),
      intent_declared: false,
    },
    trace: { trace_id: traceId, span_id: spanId },
  };
}

function eventPool(): AuditEvent[] {
  return Array.from({ length: POOL }, () => decisionEvent(hex(16), hex(8)));
}

function entryPool(events: readonly AuditEvent[]): PendingEntry[] {
  const at = Date.now();
  return events.map((e) => ({
    bytes: encodeEntry(e, at),
    at,
    type: e.type,
    traceId: e.trace?.trace_id ?? null,
  }));
}

/**
 * Entries for the large log, cheaply: one canonical entry whose trace id and span id are
 * overwritten in place, so that every entry differs (a fresh random trace id, the index as span id).
 */
class EntryFactory {
  private readonly template: Buffer;
  private readonly traceAt: number;
  private readonly spanAt: number;
  private readonly at = Date.now();

  constructor() {
    const traceId = 'a'.repeat(32);
    const spanId = 'b'.repeat(16);
    this.template = encodeEntry(decisionEvent(traceId, spanId), this.at);
    const text = this.template.toString('latin1');
    this.traceAt = text.indexOf(traceId);
    this.spanAt = text.indexOf(spanId);
    if (this.traceAt < 0 || this.spanAt < 0 || text.lastIndexOf(spanId) !== this.spanAt) {
      throw new Error('the entry template does not hold its trace placeholders exactly once');
    }
  }

  get entryBytes(): number {
    return this.template.length;
  }

  batch(first: number, n: number): PendingEntry[] {
    const ids = randomBytes(16 * n).toString('hex');
    const out: PendingEntry[] = new Array<PendingEntry>(n);
    for (let i = 0; i < n; i++) {
      const bytes = Buffer.from(this.template);
      const traceId = ids.slice(32 * i, 32 * i + 32);
      bytes.write(traceId, this.traceAt, 'latin1');
      bytes.write((first + i).toString(16).padStart(16, '0'), this.spanAt, 'latin1');
      out[i] = { bytes, at: this.at, type: 'mcp.decision', traceId };
    }
    return out;
  }
}

// --- 1. durable appends -----------------------------------------------------------------------

const nowNs = (): bigint => process.hrtime.bigint();
const deadline = (ms: number): bigint => nowNs() + BigInt(ms) * 1_000_000n;

/** `batch`-sized slices of the pool, cycled through by the batched figures. */
function slices(entries: readonly PendingEntry[], batch: number): PendingEntry[][] {
  const out: PendingEntry[][] = [];
  for (let start = 0; start + batch <= entries.length; start += batch)
    out.push(entries.slice(start, start + batch));
  return out;
}

/** `inFlight` lanes each record, await, and record again, until `ms` has passed; then all settle. */
async function sinkRound(
  sink: LogAuditSink,
  events: readonly AuditEvent[],
  ms: number,
  inFlight: number,
): Promise<Run> {
  let done = 0;
  const end = deadline(ms);
  const lane = async (): Promise<void> => {
    while (nowNs() < end) {
      await sink.record(events[done % events.length] as AuditEvent);
      done++;
    }
  };
  const stop = stopwatch();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return stop(done);
}

function writerRound(writer: LogWriter, batches: readonly PendingEntry[][], ms: number): Run {
  let done = 0;
  const end = deadline(ms);
  const stop = stopwatch();
  for (let i = 0; nowNs() < end; i++) {
    const b = batches[i % batches.length] as PendingEntry[];
    writer.append(b);
    // As the writer thread does once a batch is acknowledged: its WAL checkpoints are in the figure.
    writer.maintain();
    done += b.length;
  }
  return stop(done);
}

function insertRound(db: SQLite.Database, batches: readonly PendingEntry[][], ms: number): Run {
  const insert = db.prepare('insert into t(v) values(?)');
  const commit = db.transaction((rows: readonly PendingEntry[]) => {
    for (const r of rows) insert.run(r.bytes);
  });
  let done = 0;
  const end = deadline(ms);
  const stop = stopwatch();
  for (let i = 0; nowNs() < end; i++) {
    const b = batches[i % batches.length] as PendingEntry[];
    commit(b);
    done += b.length;
  }
  return stop(done);
}

function hashRound(entries: readonly PendingEntry[], ms: number): Run {
  let x = 0;
  let done = 0;
  const end = deadline(ms);
  const stop = stopwatch();
  while (nowNs() < end) {
    for (const e of entries) x ^= leafHash(e.bytes)[0] ?? 0;
    done += entries.length;
  }
  const run = stop(done);
  if (x < 0) throw new Error('unreachable');
  return run;
}

interface AppendResults {
  entryBytes: number;
  sink: RateResult[];
  writer: RateResult;
  insert: RateResult;
  hash: RateResult;
  /** Entries in the sink's log at the end: warm-up plus rounds (a sanity check). */
  sinkEntries: number;
}

async function measureAppends(dir: string, signerKeys: string[]): Promise<AppendResults> {
  const events = eventPool();
  const entries = entryPool(events);
  const entryBytes = median(entries.map((e) => e.bytes.length));
  const writerBatches = slices(entries, WRITER_BATCH);
  const insertBatches = slices(entries, INSERT_BATCH);

  // The sink, as `warden serve` runs it: its own store, a writer thread, production checkpoints.
  const sinkStore = await openSqliteStore(join(dir, 'sink.db'));
  const sink = new LogAuditSink(sinkStore, { checkpoints: { signerKeys, ...PRODUCTION_CHECKPOINTS } });
  // The writer alone, on a connection with the production pragmas, the same checkpoint schedule.
  const writerStore = await openSqliteStore(join(dir, 'writer.db'));
  await writerStore.close();
  const writerSchedule: CheckpointSchedule = { signerKeys, ...PRODUCTION_CHECKPOINTS };
  const writer = new LogWriter(openLogConnection(join(dir, 'writer.db')), writerSchedule);
  // The floor: a plain table, same pragmas, same bytes.
  const raw = new SQLite(join(dir, 'insert.db'));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.exec('create table t (v blob not null)');

  const runs = new Map<string, Run[]>();
  const push = (k: string, r: Run): void => void runs.set(k, [...(runs.get(k) ?? []), r]);
  try {
    progress('appends: warming up (the writer thread starts)');
    for (const k of SINK_IN_FLIGHT) await sinkRound(sink, events, WARM_MS, k);
    writerRound(writer, writerBatches, WARM_MS);
    insertRound(raw, insertBatches, WARM_MS);
    hashRound(entries, WARM_MS);
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`appends: round ${round} of ${ROUNDS}`);
      for (const k of SINK_IN_FLIGHT) push(`sink_${k}`, await sinkRound(sink, events, SINK_ROUND_MS, k));
      push('writer', writerRound(writer, writerBatches, WRITER_ROUND_MS));
      push('insert', insertRound(raw, insertBatches, INSERT_ROUND_MS));
      push('hash', hashRound(entries, HASH_ROUND_MS));
    }
  } finally {
    await sink.close();
    writer.close();
    raw.close();
  }
  const sinkStorage = new LogStorage(logSqlite(sinkStore));
  const sinkEntries = sinkStorage.size();
  await sinkStore.close();

  const get = (k: string): Run[] => runs.get(k) ?? [];
  return {
    entryBytes,
    sink: SINK_IN_FLIGHT.map((k) =>
      rate(`sink_${k}`, `LogAuditSink.record, ${k} in flight (writer thread)`, get(`sink_${k}`)),
    ),
    writer: rate('writer', `LogWriter.append, ${WRITER_BATCH} per transaction`, get('writer')),
    insert: rate(
      'insert',
      `baseline: SQLite insert, ${INSERT_BATCH} rows/commit (WAL, sync=FULL)`,
      get('insert'),
    ),
    hash: rate('hash', 'baseline: leafHash, one thread', get('hash')),
    sinkEntries,
  };
}

function logSqlite(store: Store): SQLite.Database {
  if (!store.sqlite) throw new Error('the store has no SQLite connection');
  return store.sqlite.connection;
}

// --- 2. a large log and its verification -------------------------------------------------------

interface TimedPass {
  seconds: number;
  cpuSeconds: number;
  writtenBytes: number;
}

async function timedAsync(f: () => Promise<void>): Promise<TimedPass> {
  const stop = stopwatch();
  await f();
  const r = stop(1);
  return { seconds: r.ns / 1e9, cpuSeconds: r.cpuUs / 1e6, writtenBytes: r.writtenBytes };
}

function timed(f: () => void): TimedPass {
  const stop = stopwatch();
  f();
  const r = stop(1);
  return { seconds: r.ns / 1e9, cpuSeconds: r.cpuUs / 1e6, writtenBytes: r.writtenBytes };
}

interface VerifyResults {
  entryBytes: number;
  build: TimedPass & { perSec: number; checkpoints: number; dbBytes: number };
  readOnly: TimedPass;
  readAndHash: TimedPass;
  /** Reading every stored hash (storage.hashPage), which verifyLog also does. */
  readHashes: TimedPass & { hashes: number };
  verify: TimedPass;
}

function buildLog(
  storage: LogStorage,
  signerKeys: string[],
): VerifyResults['build'] & { entryBytes: number } {
  const factory = new EntryFactory();
  const writer = new LogWriter(storage.sqlite, {
    signerKeys,
    everyEntries: BUILD_CHECKPOINT_EVERY,
    intervalMs: Number.MAX_SAFE_INTEGER,
  });
  let prepUs = 0;
  const pass = timed(() => {
    for (let done = 0; done < LOG_SIZE; done += BUILD_BATCH) {
      const t0 = process.hrtime.bigint();
      const batch = factory.batch(done, Math.min(BUILD_BATCH, LOG_SIZE - done));
      prepUs += Number(process.hrtime.bigint() - t0) / 1000;
      writer.append(batch);
      writer.maintain();
      if ((done + BUILD_BATCH) % 100_000 === 0) {
        progress(
          `building the log: ${(done + BUILD_BATCH).toLocaleString('en-US')} of ${LOG_SIZE.toLocaleString('en-US')} entries`,
        );
      }
    }
  });
  // Making the entries is not the log's work.
  const seconds = pass.seconds - prepUs / 1e6;
  return {
    seconds,
    cpuSeconds: pass.cpuSeconds,
    writtenBytes: pass.writtenBytes,
    perSec: LOG_SIZE / seconds,
    checkpoints: storage.checkpoints().length,
    dbBytes: 0,
    entryBytes: factory.entryBytes,
  };
}

async function measureVerify(
  storage: LogStorage,
  file: string,
  signerKeys: string[],
  verifierKeys: string[],
): Promise<VerifyResults> {
  progress(`building a ${LOG_SIZE.toLocaleString('en-US')}-entry log (the slow part)`);
  const built = buildLog(storage, signerKeys);
  const { entryBytes, ...build } = built;
  build.dbBytes = ['', '-wal'].reduce(
    (sum, s) => sum + (existsSync(file + s) ? statSync(file + s).size : 0),
    0,
  );
  if (storage.size() !== LOG_SIZE) throw new Error(`the log has ${storage.size()} entries, not ${LOG_SIZE}`);

  progress('reading every entry (baseline, no hashing)');
  let n = 0;
  const readOnly = timed(() => {
    for (
      let p = storage.entryPage(0);
      p.length > 0;
      p = storage.entryPage((p.at(-1) as [number, Buffer])[0] + 1)
    )
      for (const [, entry] of p) if (entry.length > 0) n++;
  });
  if (n !== LOG_SIZE) throw new Error(`read ${n} entries, not ${LOG_SIZE}`);

  progress('reading and leaf-hashing every entry (baseline)');
  let x = 0;
  const readAndHash = timed(() => {
    for (
      let p = storage.entryPage(0);
      p.length > 0;
      p = storage.entryPage((p.at(-1) as [number, Buffer])[0] + 1)
    )
      for (const [, entry] of p) x ^= leafHash(entry)[0] ?? 0;
  });
  if (x < 0) throw new Error('unreachable');

  progress('reading every stored hash (where verifyLog spends the rest)');
  let hashes = 0;
  const hashPass = timed(() => {
    for (
      let p = storage.hashPage(0);
      p.length > 0;
      p = storage.hashPage((p.at(-1) as [number, Buffer])[0] + 1)
    )
      for (const [, hash] of p) if (hash.length > 0) hashes++;
  });
  const readHashes = { ...hashPass, hashes };

  progress('verifyLog over the whole log');
  let result: Awaited<ReturnType<typeof verifyLog>> | undefined;
  const verify = await timedAsync(async () => {
    result = await verifyLog(storage, verifierKeys, (done) => {
      if (done % 262_144 === 0) progress(`verifyLog: ${done.toLocaleString('en-US')} entries`);
    });
  });
  if (!result || result.problem || result.size !== LOG_SIZE || result.checkpoints !== build.checkpoints) {
    throw new Error(`verifyLog did not accept the log: ${JSON.stringify(result)}`);
  }
  return { entryBytes, build, readOnly, readAndHash, readHashes, verify };
}

// --- 3. proofs --------------------------------------------------------------------------------

interface Distribution {
  medianUs: number;
  p99Us: number;
}

function distribution(samplesNs: readonly number[]): Distribution {
  return { medianUs: median(samplesNs) / 1000, p99Us: percentile(samplesNs, 0.99) / 1000 };
}

interface ProofResults {
  proofs: number;
  proofLength: number;
  hashReads: number;
  prove: Distribution;
  verify: Distribution;
  total: Distribution;
  /** The same hashes read by primary key with one prepared statement. */
  readBaseline: Distribution;
  /** The same number of raw SHA-256 node hashes as verification computes. */
  hashBaseline: Distribution;
  /** Proofs whose generation + verification took longer than the target. */
  slow: number;
  /** ...of which a garbage-collection pause overlapped. */
  slowDuringGc: number;
  /** ...of which the process got less than half the wall time on a CPU (preempted, or waiting on I/O). */
  slowOffCpu: number;
  /** GC pauses during the timed pass, and their total. */
  gcPauses: number;
  gcMs: number;
}

interface ProofCase {
  /** Generation, timed. */
  prove(): Buffer[];
  /** Verification, timed; throws when the proof does not verify. */
  verify(proof: Buffer[]): void;
  /** The stored-hash ids generation reads (untimed, for the baseline). */
  reads: number[];
  /** The node hashes verification computes (for the baseline). */
  hashes: number;
}

function recordingReader(storage: LogStorage, ids: number[]): HashReader {
  return (level, index) => {
    ids.push(storedHashIndex(level, index));
    return storage.readHash(level, index);
  };
}

/** Node hashes verifyInclusion computes: one per proof hash. */
function inclusionHashes(proof: readonly Buffer[]): number {
  return proof.length;
}

/** Node hashes verifyConsistency computes (RFC 9162 §2.1.4.2: two per step while fn is odd or at the edge). */
function consistencyHashes(size1: number, size2: number, proof: readonly Buffer[]): number {
  const pow2 = (size1 & (size1 - 1)) === 0;
  const nodes = pow2 ? proof.length + 1 : proof.length;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let count = 0;
  for (let i = 1; i < nodes; i++) {
    if (fn % 2 === 1 || fn === sn) {
      count += 2;
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else count += 1;
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return count;
}

/**
 * Times each case's generation and verification, then, in a second pass over the same cases, its
 * baselines: both passes start with the same cold and warm pages, so neither inherits the other's.
 */
async function measureProofs(db: SQLite.Database, cases: readonly ProofCase[]): Promise<ProofResults> {
  const point = db.prepare<[number], { hash: Buffer }>('select hash from log_hashes where id = ?');
  const node = Buffer.alloc(65, 1);
  const prove: number[] = [];
  const verify: number[] = [];
  const total: number[] = [];
  const reads: number[] = [];
  const hashes: number[] = [];
  let proofLength = 0;
  let hashReads = 0;
  /** [start, end] in performance.now() ms of the proofs over the target, and whether mostly off-CPU. */
  const slow: Array<[number, number, boolean]> = [];
  const gc: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => void gc.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const passStart = performance.now();
  cases.forEach((c, i) => {
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    const t0 = nowNs();
    const proof = c.prove();
    const t1 = nowNs();
    c.verify(proof);
    const t2 = nowNs();
    const cpu = process.cpuUsage(cpu0);
    if (i < PROOF_WARM) return;
    prove.push(Number(t1 - t0));
    verify.push(Number(t2 - t1));
    total.push(Number(t2 - t0));
    const ns = Number(t2 - t0);
    if (ns > TARGET_PROOF_MS * 1e6)
      slow.push([start, start + ns / 1e6, (cpu.user + cpu.system) * 1000 < ns / 2]);
    proofLength += proof.length;
    hashReads += c.reads.length;
  });
  // GC entries are delivered asynchronously.
  await sleep(50);
  observer.disconnect();
  const pauses = gc.filter((g) => g.startTime >= passStart);
  const slowDuringGc = slow.filter(([a, b]) =>
    pauses.some((g) => g.startTime < b && g.startTime + g.duration > a),
  ).length;
  const slowOffCpu = slow.filter(([, , offCpu]) => offCpu).length;
  let x = 0;
  cases.forEach((c, i) => {
    const t0 = nowNs();
    for (const id of c.reads) if (!point.get(id)) throw new Error(`no stored hash ${id}`);
    const t1 = nowNs();
    for (let h = 0; h < c.hashes; h++) x ^= createHash('sha256').update(node).digest()[0] ?? 0;
    const t2 = nowNs();
    if (i < PROOF_WARM) return;
    reads.push(Number(t1 - t0));
    hashes.push(Number(t2 - t1));
  });
  if (x < 0) throw new Error('unreachable');
  const n = prove.length;
  return {
    proofs: n,
    proofLength: proofLength / n,
    hashReads: hashReads / n,
    prove: distribution(prove),
    verify: distribution(verify),
    total: distribution(total),
    readBaseline: distribution(reads),
    hashBaseline: distribution(hashes),
    slow: slow.length,
    slowDuringGc,
    slowOffCpu,
    gcPauses: pauses.length,
    gcMs: pauses.reduce((sum, g) => sum + g.duration, 0),
  };
}

function rootOf(storage: LogStorage, size: number): Buffer {
  return treeRoot(size, (level, index) => storage.readHash(level, index));
}

async function measureAllProofs(
  storage: LogStorage,
  verifierKeys: string[],
): Promise<{ inclusion: ProofResults; consistency: ProofResults }> {
  const size = storage.size();
  // The root a verifier trusts: the newest signed checkpoint, which must be of the full size.
  const latest = storage.latestCheckpoint();
  if (!latest || latest.size !== size) throw new Error('no signed checkpoint of the full log');
  const signedRoot = parseCheckpoint(openNote(latest.note, verifierKeys).text).root;
  if (!signedRoot.equals(rootOf(storage, size))) throw new Error('the signed root is not the tree root');

  progress(
    `proofs: ${PROOFS.toLocaleString('en-US')} inclusion proofs at size ${size.toLocaleString('en-US')}`,
  );
  const n = PROOFS + PROOF_WARM;
  const inclusionCases: ProofCase[] = Array.from({ length: n }, () => {
    const index = randomInt(size);
    const stored = storage.entry(index);
    if (!stored) throw new Error(`no entry ${index}`);
    const leaf = leafHash(stored.entry);
    const reads: number[] = [];
    const expected = inclusionProof(index, size, recordingReader(storage, reads));
    return {
      prove: () => proveInclusion(storage, index, size),
      verify: (proof) => verifyInclusion(leaf, index, size, proof, signedRoot),
      reads,
      hashes: inclusionHashes(expected),
    };
  });
  const inclusion = await measureProofs(storage.sqlite, inclusionCases);

  progress(`proofs: ${PROOFS.toLocaleString('en-US')} consistency proofs between random sizes`);
  const consistencyCases: ProofCase[] = Array.from({ length: n }, () => {
    const size1 = 1 + randomInt(size - 1);
    const size2 = size1 + 1 + randomInt(size - size1);
    // The two roots a verifier holds, from the two checkpoints it saw.
    const root1 = rootOf(storage, size1);
    const root2 = rootOf(storage, size2);
    const reads: number[] = [];
    const expected = consistencyProof(size1, size2, recordingReader(storage, reads));
    return {
      prove: () => proveConsistency(storage, size1, size2),
      verify: (proof) => verifyConsistency(size1, size2, proof, root1, root2),
      reads,
      hashes: consistencyHashes(size1, size2, expected),
    };
  });
  const consistency = await measureProofs(storage.sqlite, consistencyCases);
  return { inclusion, consistency };
}

// --- output -----------------------------------------------------------------------------------

interface Row {
  figure: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
  verdict: '' | 'PASS' | 'FAIL';
}

const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US');
const fmtRate = (x: number): string => `${fmtInt(x)}/s`;
const fmtS = (x: number): string => `${x.toFixed(2)} s`;
const fmtUs = (x: number): string => `${x.toFixed(1)} µs`;
const fmtRatio = (x: number): string => x.toFixed(2);

function pad(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) => (i === 0 ? c.padEnd(widths[0] ?? 0) : c.padStart(widths[i] ?? 0)))
    .join('  ')
    .trimEnd();
}

async function main(): Promise<void> {
  checkBuild();
  const loadBefore = loadavg()[0] ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-audit-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const onSignal = (): void => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const key = generateSignerKey(ORIGIN, 'ed25519');
  const signerKeys = [formatSignerKey(key)];
  const verifierKeys = [formatVerifierKey(key.verifierKey)];
  try {
    const appends = await measureAppends(dir, signerKeys);

    const logFile = join(dir, 'large.db');
    const store = await openSqliteStore(logFile);
    let verification: VerifyResults;
    let proofs: { inclusion: ProofResults; consistency: ProofResults };
    try {
      const storage = new LogStorage(logSqlite(store));
      verification = await measureVerify(storage, logFile, signerKeys, verifierKeys);
      proofs = await measureAllProofs(storage, verifierKeys);
    } finally {
      await store.close();
    }
    report(appends, verification, proofs, loadBefore);
  } finally {
    cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function report(
  a: AppendResults,
  v: VerifyResults,
  p: { inclusion: ProofResults; consistency: ProofResults },
  loadBefore: number,
): void {
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    os: `${platform()} ${release()} ${arch()}`,
    /** The parent of the temporary directory (removed at the end). */
    tempParent: tmpdir(),
    loadAverage1m: { before: loadBefore, after: loadavg()[0] ?? 0 },
  };
  const totalSeconds = (Date.now() - started) / 1000;
  const verdict = (pass: boolean): 'PASS' | 'FAIL' => (pass ? 'PASS' : 'FAIL');

  const rows: Row[] = [];
  const section = (title: string): void =>
    void rows.push({ figure: title, value: '', baseline: '', ratio: '', target: '', verdict: '' });

  section('1. Durable appends (entry ~' + a.entryBytes + ' B, median of ' + ROUNDS + ' rounds)');
  for (const r of [...a.sink, a.writer]) {
    rows.push({
      figure: `  ${r.label}`,
      value: fmtRate(r.perSec),
      baseline: fmtRate(a.insert.perSec),
      ratio: fmtRatio(r.perSec / a.insert.perSec),
      target: `>= ${fmtInt(TARGET_APPENDS_PER_SEC)}/s`,
      verdict: verdict(r.perSec >= TARGET_APPENDS_PER_SEC),
    });
  }
  for (const r of [a.insert, a.hash]) {
    rows.push({
      figure: `  ${r.label}`,
      value: fmtRate(r.perSec),
      baseline: '',
      ratio: '',
      target: '',
      verdict: '',
    });
  }

  section(`2. Verification of a ${fmtInt(LOG_SIZE)}-entry log (one pass each)`);
  rows.push({
    figure: `  build: LogWriter.append, ${fmtInt(BUILD_BATCH)}/tx, checkpoint every ${fmtInt(BUILD_CHECKPOINT_EVERY)}`,
    value: fmtRate(v.build.perSec),
    baseline: fmtRate(a.insert.perSec),
    ratio: fmtRatio(v.build.perSec / a.insert.perSec),
    target: '',
    verdict: '',
  });
  rows.push({
    figure: '  verifyLog (full tree, every stored hash and checkpoint)',
    value: fmtS(v.verify.seconds),
    baseline: fmtS(v.readAndHash.seconds),
    ratio: fmtRatio(v.verify.seconds / v.readAndHash.seconds),
    target: `<= ${TARGET_VERIFY_S} s`,
    verdict: verdict(v.verify.seconds <= TARGET_VERIFY_S),
  });
  rows.push({
    figure: '  baseline: storage.entryPage() + leafHash',
    value: fmtS(v.readAndHash.seconds),
    baseline: '',
    ratio: '',
    target: '',
    verdict: '',
  });
  rows.push({
    figure: '  baseline: storage.entryPage() alone',
    value: fmtS(v.readOnly.seconds),
    baseline: '',
    ratio: '',
    target: '',
    verdict: '',
  });
  rows.push({
    figure: `  diagnostic: storage.hashPage() alone (${fmtInt(v.readHashes.hashes)} hashes)`,
    value: fmtS(v.readHashes.seconds),
    baseline: '',
    ratio: '',
    target: '',
    verdict: '',
  });

  const proofRows = (name: string, r: ProofResults): void => {
    section(
      `${name} (${fmtInt(r.proofs)} proofs; per proof ${r.proofLength.toFixed(1)} hashes, ` +
        `${r.hashReads.toFixed(1)} stored-hash reads)`,
    );
    for (const [stat, label] of [
      ['medianUs', 'median'],
      ['p99Us', 'p99'],
    ] as const) {
      rows.push({
        figure: `  generate, ${label}`,
        value: fmtUs(r.prove[stat]),
        baseline: fmtUs(r.readBaseline[stat]),
        ratio: fmtRatio(r.prove[stat] / r.readBaseline[stat]),
        target: '',
        verdict: '',
      });
      rows.push({
        figure: `  verify, ${label}`,
        value: fmtUs(r.verify[stat]),
        baseline: fmtUs(r.hashBaseline[stat]),
        ratio: fmtRatio(r.verify[stat] / r.hashBaseline[stat]),
        target: '',
        verdict: '',
      });
      rows.push({
        figure: `  generate + verify, ${label}`,
        value: fmtUs(r.total[stat]),
        baseline: '',
        ratio: '',
        target: `<= ${TARGET_PROOF_MS * 1000} µs`,
        verdict: verdict(r.total[stat] <= TARGET_PROOF_MS * 1000),
      });
    }
  };
  proofRows(`3a. Inclusion proofs at size ${fmtInt(LOG_SIZE)}, random index`, p.inclusion);
  proofRows(`3b. Consistency proofs at size ${fmtInt(LOG_SIZE)}, random size pairs`, p.consistency);

  const pass = rows.every((r) => r.verdict !== 'FAIL');

  if (asJson) {
    const json = {
      machine,
      method: {
        rounds: ROUNDS,
        statistic:
          'median of rounds (appends); one pass (verification); median and nearest-rank p99 (proofs)',
        entryBytes: a.entryBytes,
        sinkInFlight: SINK_IN_FLIGHT,
        roundMs: {
          sink: SINK_ROUND_MS,
          writer: WRITER_ROUND_MS,
          insert: INSERT_ROUND_MS,
          hash: HASH_ROUND_MS,
        },
        writerBatch: WRITER_BATCH,
        insertBatch: INSERT_BATCH,
        checkpoints: PRODUCTION_CHECKPOINTS,
        logSize: LOG_SIZE,
        buildBatch: BUILD_BATCH,
        buildCheckpointEvery: BUILD_CHECKPOINT_EVERY,
        proofs: PROOFS,
        proofWarmUp: PROOF_WARM,
      },
      appends: {
        sink: a.sink,
        writer: a.writer,
        insert: a.insert,
        hash: a.hash,
        sinkEntries: a.sinkEntries,
        target: TARGET_APPENDS_PER_SEC,
      },
      verification: { ...v, target: TARGET_VERIFY_S },
      proofs: { ...p, targetUs: TARGET_PROOF_MS * 1000 },
      table: rows,
      pass,
      totalSeconds,
    };
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
    return;
  }

  const header: Row = {
    figure: '',
    value: 'value',
    baseline: 'baseline',
    ratio: 'ratio',
    target: 'target',
    verdict: '',
  };
  const cells = (r: Row): string[] => [r.figure, r.value, r.baseline, r.ratio, r.target, r.verdict];
  const widths = [0, 0, 0, 0, 0, 0];
  for (const r of [header, ...rows]) {
    if (r.value === '' && r.verdict === '' && r.baseline === '') continue; // section titles span the row
    cells(r).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  }
  const cpu = (r: RateResult): string => `${r.cpuUsPerOp.toFixed(1)}`;
  const written = (b: number): string => (Number.isNaN(b) ? 'n/a' : `${fmtInt(b)} B`);
  const out: string[] = [
    'Warden evidence-log benchmark',
    `machine  ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}; files under ${tmpdir()}`,
    `load     1-min load average ${machine.loadAverage1m.before.toFixed(2)} before, ` +
      `${machine.loadAverage1m.after.toFixed(2)} after (above ~0.5 other processes were competing for the cores)`,
    '',
    pad(cells(header), widths),
    ...rows.map((r) => (r.value === '' ? r.figure : pad(cells(r), widths))),
    '',
    `ratio: the figure over its baseline (appends: over the raw insert rate; verifyLog: over iterate + leafHash;`,
    `generate: over reading the same stored hashes by primary key; verify: over the same number of raw SHA-256).`,
    `CPU µs per append (this process, all threads): sink ${a.sink.map((r) => cpu(r)).join(' / ')} ` +
      `(${SINK_IN_FLIGHT.join(' / ')} in flight), writer ${cpu(a.writer)}, raw insert ${cpu(a.insert)}, ` +
      `leafHash ${cpu(a.hash)}.`,
    `Bytes written per append (write(2) calls of this process: WAL and WAL checkpoints): sink ` +
      `${a.sink.map((r) => written(r.writtenPerOp)).join(' / ')}, writer ${written(a.writer.writtenPerOp)}, ` +
      `raw insert ${written(a.insert.writtenPerOp)}; building the large log ` +
      `${written(v.build.writtenBytes / LOG_SIZE)} (entries are ${a.entryBytes} B).`,
    `CPU time of the passes over the large log: build ${v.build.cpuSeconds.toFixed(1)} s, verifyLog ` +
      `${v.verify.cpuSeconds.toFixed(1)} s, iterate + leafHash ${v.readAndHash.cpuSeconds.toFixed(1)} s, iterate ` +
      `${v.readOnly.cpuSeconds.toFixed(1)} s, hashPage ${v.readHashes.cpuSeconds.toFixed(1)} s; database ${(v.build.dbBytes / 2 ** 20).toFixed(0)} MiB, ` +
      `${v.build.checkpoints} checkpoints.`,
    ...(['inclusion', 'consistency'] as const).map((k) => {
      const r = p[k];
      return (
        `Proofs over ${TARGET_PROOF_MS} ms, ${k}: ${r.slow} of ${fmtInt(r.proofs)} (${r.slowDuringGc} during a GC pause, ` +
        `${r.slowOffCpu} mostly off the CPU: preempted or waiting on I/O; ` +
        `${r.gcPauses} GC pauses, ${r.gcMs.toFixed(1)} ms in all, during the pass).`
      );
    }),
    `overall: ${pass ? 'PASS' : 'FAIL'}; total ${totalSeconds.toFixed(1)} s`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
