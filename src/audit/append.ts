// Appending to the evidence log: each entry gets the next index, its leaf hash and the hashes of
// every subtree it completes are stored beside it. Nothing is recomputed: an append reads at most
// the O(log n) hashes on the tree's right edge that it closes.

import { WardenError } from '../errors.js';
import type { LogStorage } from './storage.js';
import { storedHashIndex } from './storage.js';
import { leafHash, storedHashesForAppend } from './verify/index.js';

export interface PendingEntry {
  /** The canonical entry bytes (entry.ts). */
  bytes: Buffer;
  at: number;
  type: string;
  traceId: string | null;
}

/**
 * A pending entry as its canonical JSON text (entry.ts), the form in which entries are queued and
 * sent to the writer thread; the UTF-8 encoding of `text` is the entry's bytes.
 */
export interface PendingText extends Omit<PendingEntry, 'bytes'> {
  text: string;
}

export function pendingBytes(e: PendingText): PendingEntry {
  return { bytes: Buffer.from(e.text, 'utf8'), at: e.at, type: e.type, traceId: e.traceId };
}

/**
 * Append `entries` in order and return the index of the first and the new size.
 * INVARIANT: runs inside a write transaction on `storage`'s connection, so the size it reads and
 * the hashes it stores cannot interleave with another writer's (another process, or the writer thread).
 */
export function appendEntries(
  storage: LogStorage,
  entries: readonly PendingEntry[],
): { first: number; size: number } {
  if (!storage.sqlite.inTransaction) {
    throw new WardenError('internal', 'the audit log appends only inside a write transaction');
  }
  const first = storage.size();
  // Hashes stored earlier in this batch are read from here: the statement would see them too,
  // but the map saves the round trip.
  const fresh = new Map<number, Buffer>();
  const read = (level: number, index: number): Buffer =>
    fresh.get(storedHashIndex(level, index)) ?? storage.readHash(level, index);
  entries.forEach((e, i) => {
    const idx = first + i;
    storage.insertEntry(idx, e.at, e.type, e.traceId, e.bytes);
    for (const h of storedHashesForAppend(idx, leafHash(e.bytes), read)) {
      fresh.set(storedHashIndex(h.level, h.index), h.hash);
      storage.insertHash(h.level, h.index, h.hash);
    }
  });
  return { first, size: first + entries.length };
}
