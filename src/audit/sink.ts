// The audit sink every domain records through: each event becomes an entry of the evidence log.
//
// A `record()` promise resolves only once its entry is committed (synchronous=FULL), so an action
// waits for its evidence and a crash loses nothing that was acknowledged. Events recorded together
// share one commit. Events that describe a registry change are appended inside that change's own
// transaction, so the change and its evidence commit or roll back together.
//
// Two ways to commit the rest:
// - inline (CLI commands): on the process's own connection, group-committed;
// - threaded (`warden serve`): a worker thread with its own connection does the commits, so the
//   fsync never blocks the event loop that serves requests. It also signs the checkpoints.

import { Worker } from 'node:worker_threads';
import type { Kysely } from 'kysely';
import { WardenError } from '../errors.js';
import type { Database, Store } from '../store/index.js';
import { appendEntries, pendingBytes, type PendingText } from './append.js';
import { encodeEntryText } from './entry.js';
import { LAZY_COMMIT_MS, type AuditEvent, type AuditSink } from './event.js';
import { LogStorage } from './storage.js';
import type { WorkerReply, WorkerRequest, WriterOptions } from './writer.js';

interface Waiter {
  entry: PendingText;
  resolve: () => void;
  reject: (err: Error) => void;
}

function unavailable(cause: unknown): WardenError {
  return new WardenError('audit_unavailable', 'the audit log could not record the event', { cause });
}

/** The SQLite side of a store; the evidence log needs it (PostgreSQL is not supported yet). */
export function logConnection(store: Store): NonNullable<Store['sqlite']> {
  if (!store.sqlite) {
    throw new WardenError(
      'audit_unavailable',
      `the evidence log needs the embedded store, not ${store.dialect}`,
    );
  }
  return store.sqlite;
}

export class LogAuditSink implements AuditSink {
  private readonly storage: LogStorage;
  private queue: Waiter[] = [];
  private scheduled = false;
  /** Set while lazily recorded entries wait for a commit to ride with. */
  private lazyTimer: NodeJS.Timeout | undefined;
  private worker: Worker | undefined;
  private readonly inFlight = new Map<number, Waiter[]>();
  private nextBatch = 1;
  private closed = false;
  private readonly inlineCommits = new Set<Promise<void>>();

  /**
   * @param writer with options, commits go through a writer thread (see writer.ts); without,
   *   they happen inline on the store's connection.
   */
  constructor(
    private readonly store: Store,
    private readonly writer?: Omit<WriterOptions, 'file'>,
  ) {
    this.storage = new LogStorage(logConnection(store).connection);
    // Start the thread now rather than on the first event, which would otherwise wait for it.
    if (writer) this.startWorker();
  }

  record(event: AuditEvent, tx?: Kysely<Database>): Promise<void> {
    return this.enqueue(event, tx, false);
  }

  recordLazily(event: AuditEvent): Promise<void> {
    return this.enqueue(event, undefined, true);
  }

  private enqueue(event: AuditEvent, tx: Kysely<Database> | undefined, lazy: boolean): Promise<void> {
    let entry: PendingText;
    try {
      const at = event.at ?? Date.now();
      entry = {
        text: encodeEntryText(event, at),
        at,
        type: event.type,
        traceId: event.trace?.trace_id ?? null,
      };
    } catch (err) {
      return Promise.reject(err instanceof WardenError ? err : unavailable(err));
    }
    if (tx) {
      // The caller's transaction runs on the store's one connection, so these synchronous
      // statements are part of it.
      try {
        appendEntries(this.storage, [pendingBytes(entry)]);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(unavailable(err));
      }
    }
    if (this.closed) return Promise.reject(unavailable(new Error('the audit log is closed')));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (this.scheduled) return;
      if (!lazy) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      } else if (!this.lazyTimer) {
        this.lazyTimer = setTimeout(() => this.flush(), LAZY_COMMIT_MS);
        this.lazyTimer.unref();
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (this.writer) {
      this.send(batch);
      return;
    }
    const commit = this.commitInline(batch);
    this.inlineCommits.add(commit);
    void commit.finally(() => this.inlineCommits.delete(commit));
  }

  private async commitInline(batch: Waiter[]): Promise<void> {
    try {
      await this.store.db.transaction().execute(() => {
        appendEntries(
          this.storage,
          batch.map((w) => pendingBytes(w.entry)),
        );
        return Promise.resolve();
      });
      for (const w of batch) w.resolve();
    } catch (err) {
      const e = unavailable(err);
      for (const w of batch) w.reject(e);
    }
  }

  private send(batch: Waiter[]): void {
    let worker: Worker;
    try {
      worker = this.worker ?? this.startWorker();
    } catch (err) {
      const e = unavailable(err);
      for (const w of batch) w.reject(e);
      return;
    }
    const id = this.nextBatch++;
    this.inFlight.set(id, batch);
    const message: WorkerRequest = { kind: 'append', batch: id, entries: batch.map((w) => w.entry) };
    worker.postMessage(message);
  }

  private startWorker(): Worker {
    const options: WriterOptions = {
      ...(this.writer as Omit<WriterOptions, 'file'>),
      file: logConnection(this.store).file,
    };
    // Built, the thread's code is beside this file. Run from the TypeScript sources (the tests, under
    // tsx, which does not reach worker threads), it is the build of the same sources: `npm test`
    // compiles before it runs.
    const url = import.meta.url.endsWith('.ts')
      ? new URL('../../dist/src/audit/writer-thread.js', import.meta.url)
      : new URL('./writer-thread.js', import.meta.url);
    const worker = new Worker(url, { workerData: options });
    worker.on('message', (reply: WorkerReply) => this.onReply(reply));
    const fail = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      // INVARIANT: nothing in flight is reported as recorded unless its commit was acknowledged.
      const e = unavailable(err);
      for (const batch of this.inFlight.values()) for (const w of batch) w.reject(e);
      this.inFlight.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the audit writer thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private onReply(reply: WorkerReply): void {
    if (reply.kind === 'closed') return;
    const batch = this.inFlight.get(reply.batch);
    if (!batch) return;
    this.inFlight.delete(reply.batch);
    if (reply.kind === 'appended') for (const w of batch) w.resolve();
    else {
      const e = unavailable(new Error(reply.message));
      for (const w of batch) w.reject(e);
    }
  }

  /** Commit what is queued, stop the writer thread; later records are refused. */
  async close(): Promise<void> {
    if (this.scheduled || this.lazyTimer) this.flush();
    this.closed = true;
    await Promise.all(this.inlineCommits);
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      worker.on('exit', () => resolve());
      worker.on('message', (reply: WorkerReply) => {
        if (reply.kind === 'closed') void worker.terminate();
      });
      const message: WorkerRequest = { kind: 'close' };
      worker.postMessage(message);
    });
  }
}
