// The evidence log's writer: appends batches in their own write transaction and signs checkpoints
// on schedule. It runs in a worker thread under `warden serve` (writer-thread.ts), with its own
// connection to the database file, so commits never block the thread that serves requests.

import SQLite from 'better-sqlite3';
import { appendEntries, type PendingEntry, type PendingText } from './append.js';
import { makeCheckpoint } from './checkpoints.js';
import { LogStorage } from './storage.js';
import type { WitnessTarget } from './witness-client.js';

export interface CheckpointSchedule {
  /** The log's signer keys (C2SP signed-note format); the first one's name is the log's origin. */
  signerKeys: string[];
  /** Sign a checkpoint once this many entries have been appended since the last one. */
  everyEntries: number;
  /** ...or once this long has passed with new entries (ms). */
  intervalMs: number;
}

export interface WriterOptions {
  file: string;
  checkpoints?: CheckpointSchedule;
  /** C2SP tlog-witnesses each new checkpoint goes to. */
  witnesses?: WitnessTarget[];
}

export type WorkerRequest = { kind: 'append'; batch: number; entries: PendingText[] } | { kind: 'close' };

export type WorkerReply =
  | { kind: 'appended'; batch: number; first: number; size: number }
  | { kind: 'failed'; batch: number; message: string }
  | { kind: 'closed' };

export function openLogConnection(file: string): SQLite.Database {
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  return sqlite;
}

export class LogWriter {
  private readonly storage: LogStorage;
  private lastCheckpointSize: number;
  private lastCheckpointAt: number;

  constructor(
    readonly sqlite: SQLite.Database,
    private readonly schedule: CheckpointSchedule | undefined,
    private readonly log: (message: string) => void = () => undefined,
    private readonly onCheckpoint: (storage: LogStorage) => void = () => undefined,
  ) {
    this.storage = new LogStorage(sqlite);
    // WAL checkpoints run in maintain(), after the batch is acknowledged, not inside a commit.
    sqlite.pragma('wal_autocheckpoint = 0');
    const latest = this.storage.latestCheckpoint();
    this.lastCheckpointSize = latest?.size ?? 0;
    this.lastCheckpointAt = latest?.at ?? 0;
  }

  private commitsSinceWalCheckpoint = 0;

  /** Append in one durable transaction; returns once it is committed. */
  append(entries: readonly PendingEntry[]): { first: number; size: number } {
    const result = this.sqlite.transaction(() => appendEntries(this.storage, entries)).immediate();
    this.commitsSinceWalCheckpoint++;
    if (this.schedule && result.size - this.lastCheckpointSize >= this.schedule.everyEntries) {
      this.checkpoint(Date.now());
    }
    return result;
  }

  /**
   * Copy the WAL back into the database now and then. SQLite would otherwise do it inside a commit,
   * holding up the appends of that commit; here it runs once their callers have been answered.
   */
  maintain(): void {
    if (this.commitsSinceWalCheckpoint < 32) return;
    this.commitsSinceWalCheckpoint = 0;
    try {
      this.sqlite.pragma('wal_checkpoint(PASSIVE)');
    } catch (err) {
      this.log(`audit log wal checkpoint failed: ${(err as Error).message}`);
    }
  }

  /** Sign a checkpoint when the interval has passed and the log has grown. */
  tick(now: number): void {
    if (!this.schedule) return;
    if (now - this.lastCheckpointAt >= this.schedule.intervalMs) this.checkpoint(now);
  }

  /** Sign a checkpoint of the current size, unless one exists for it. */
  checkpoint(now: number): void {
    if (!this.schedule) return;
    try {
      const made = makeCheckpoint(this.storage, this.schedule.signerKeys, now);
      const grew = made.size !== this.lastCheckpointSize;
      this.lastCheckpointSize = made.size;
      this.lastCheckpointAt = now;
      if (grew) this.onCheckpoint(this.storage);
    } catch (err) {
      // A failed checkpoint loses nothing: the entries are committed and the next one covers them.
      this.log(`audit checkpoint failed: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.sqlite.close();
  }
}
