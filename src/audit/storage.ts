// The evidence log's tables, read and written through prepared better-sqlite3 statements. The
// calls are synchronous on purpose: appends run inside one write transaction (the caller's, or the
// writer's own), and proofs read a handful of hashes by primary key.
//
// Stored hashes are addressed as in Go's golang.org/x/mod/sumdb/tlog: the hash of the complete
// subtree (level L, index n), covering leaves [n·2^L, (n+1)·2^L), has one integer id, and ids grow
// in the order an append-only writer produces the hashes. Every append therefore lands at the end
// of the table's B-tree.

import type SQLite from 'better-sqlite3';
import { WardenError } from '../errors.js';

/** The stored-hash id of the complete subtree (level, index). */
export function storedHashIndex(level: number, index: number): number {
  // Level L's n-th hash is written right after level L+1's (2n+1)-th hash: descend to level 0.
  let n = index;
  for (let l = level; l > 0; l--) n = 2 * n + 1;
  // Level 0's n-th hash is written at n + n/2 + n/4 + ...
  let i = 0;
  for (; n > 0; n = Math.floor(n / 2)) i += n;
  return i + level;
}

export interface StoredEntry {
  idx: number;
  at: number;
  type: string;
  trace_id: string | null;
  entry: Buffer;
}

export interface StoredCheckpoint {
  size: number;
  at: number;
  note: string;
}

export class LogStorage {
  private readonly sizeStmt: SQLite.Statement<[], { idx: number }>;
  private readonly hashStmt: SQLite.Statement<[number], { hash: Buffer }>;
  private readonly insertEntryStmt: SQLite.Statement<[number, number, string, string | null, Buffer]>;
  private readonly insertHashStmt: SQLite.Statement<[number, Buffer]>;
  private readonly insertTraceStmt: SQLite.Statement<[number, string]>;
  private readonly entryStmt: SQLite.Statement<[number], StoredEntry>;
  private readonly rangeStmt: SQLite.Statement<[number, number], StoredEntry>;
  private readonly rawEntriesStmt: SQLite.Statement<[number, number], [number, Buffer]>;
  private readonly rawHashesStmt: SQLite.Statement<[number, number], [number, Buffer]>;
  private readonly hashRangeStmt: SQLite.Statement<[number, number], string>;
  private readonly latestCheckpointStmt: SQLite.Statement<[], StoredCheckpoint>;
  private readonly checkpointAtStmt: SQLite.Statement<[number], StoredCheckpoint>;
  private readonly checkpointsStmt: SQLite.Statement<[], StoredCheckpoint>;
  private readonly insertCheckpointStmt: SQLite.Statement<[number, number, string]>;
  private readonly updateCheckpointStmt: SQLite.Statement<[string, number]>;

  constructor(readonly sqlite: SQLite.Database) {
    this.sizeStmt = sqlite.prepare('select idx from log_entries order by idx desc limit 1');
    this.hashStmt = sqlite.prepare('select hash from log_hashes where id = ?');
    this.insertEntryStmt = sqlite.prepare(
      'insert into log_entries (idx, at, type, trace_id, entry) values (?, ?, ?, ?, ?)',
    );
    this.insertHashStmt = sqlite.prepare('insert into log_hashes (id, hash) values (?, ?)');
    this.insertTraceStmt = sqlite.prepare('insert into log_trace_index (idx, trace_id) values (?, ?)');
    this.entryStmt = sqlite.prepare('select idx, at, type, trace_id, entry from log_entries where idx = ?');
    this.rangeStmt = sqlite.prepare(
      'select idx, at, type, trace_id, entry from log_entries where idx >= ? order by idx limit ?',
    );
    // Rows as arrays: a pass over a million entries should not build a million objects.
    this.rawEntriesStmt = (
      sqlite.prepare(
        'select idx, entry from log_entries where idx >= ? order by idx limit ?',
      ) as unknown as SQLite.Statement<[number, number], [number, Buffer]>
    ).raw(true);
    this.rawHashesStmt = (
      sqlite.prepare(
        'select id, hash from log_hashes where id >= ? order by id limit ?',
      ) as unknown as SQLite.Statement<[number, number], [number, Buffer]>
    ).raw(true);
    this.hashRangeStmt = (
      sqlite.prepare(
        'select lower(hex(hash)) from log_hashes where id >= ? and id < ? order by id',
      ) as unknown as SQLite.Statement<[number, number], string>
    ).pluck(true);
    this.latestCheckpointStmt = sqlite.prepare(
      'select size, at, note from log_checkpoints order by size desc limit 1',
    );
    this.checkpointAtStmt = sqlite.prepare('select size, at, note from log_checkpoints where size = ?');
    this.checkpointsStmt = sqlite.prepare('select size, at, note from log_checkpoints order by size');
    this.insertCheckpointStmt = sqlite.prepare(
      'insert into log_checkpoints (size, at, note) values (?, ?, ?)',
    );
    this.updateCheckpointStmt = sqlite.prepare('update log_checkpoints set note = ? where size = ?');
  }

  /** The number of entries: the index the next append receives. */
  size(): number {
    const row = this.sizeStmt.get();
    return row ? row.idx + 1 : 0;
  }

  /** The stored hash of a complete subtree; its absence means the tree's storage is damaged. */
  readHash(level: number, index: number): Buffer {
    const row = this.hashStmt.get(storedHashIndex(level, index));
    if (!row) {
      throw new WardenError(
        'audit_log_invalid',
        `the log's stored hash for level ${level} index ${index} is missing`,
      );
    }
    return row.hash;
  }

  insertEntry(idx: number, at: number, type: string, traceId: string | null, entry: Buffer): void {
    this.insertEntryStmt.run(idx, at, type, traceId, entry);
    if (traceId !== null) this.insertTraceStmt.run(idx, traceId);
  }

  insertHash(level: number, index: number, hash: Buffer): void {
    this.insertHashStmt.run(storedHashIndex(level, index), hash);
  }

  entry(idx: number): StoredEntry | undefined {
    return this.entryStmt.get(idx);
  }

  /** Up to `limit` entries from index `from` on, in order. */
  entries(from: number, limit: number): StoredEntry[] {
    return this.rangeStmt.all(from, limit);
  }

  /** Every entry from index `from` on, in order, read lazily (for verification of a long log). */
  *iterate(from = 0, pageSize = 4096): Generator<StoredEntry> {
    for (let next = from; ;) {
      const page = this.entries(next, pageSize);
      yield* page;
      if (page.length < pageSize) return;
      next = (page.at(-1) as StoredEntry).idx + 1;
    }
  }

  /** Up to `limit` [index, entry] pairs from index `from` on: a page of a pass over the log. */
  entryPage(from: number, limit = 8192): Array<[number, Buffer]> {
    return this.rawEntriesStmt.all(from, limit);
  }

  /**
   * The stored hashes with ids in [from, to), in id order, as lowercase hex (a string costs far
   * less to make than a Buffer, and a pass over a large log makes millions): fewer than asked
   * means some are missing.
   */
  hashHexRange(from: number, to: number): string[] {
    return this.hashRangeStmt.all(from, to);
  }

  /** Up to `limit` [id, hash] pairs of stored hashes from id `from` on. */
  hashPage(from: number, limit = 16384): Array<[number, Buffer]> {
    return this.rawHashesStmt.all(from, limit);
  }

  latestCheckpoint(): StoredCheckpoint | undefined {
    return this.latestCheckpointStmt.get();
  }

  checkpointAt(size: number): StoredCheckpoint | undefined {
    return this.checkpointAtStmt.get(size);
  }

  checkpoints(): StoredCheckpoint[] {
    return this.checkpointsStmt.all();
  }

  insertCheckpoint(size: number, at: number, note: string): void {
    this.insertCheckpointStmt.run(size, at, note);
  }

  /** Replace a checkpoint's note with one carrying more signatures (witness cosignatures). */
  updateCheckpointNote(size: number, note: string): void {
    this.updateCheckpointStmt.run(note, size);
  }
}
