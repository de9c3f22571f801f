// The entry side of `verifyLog`, in a worker thread with its own read-only connection: it reads
// the entries in index order and sends their leaf hashes, page by page, while the calling thread
// reads the stored hashes and rebuilds the tree. Two cores, one pass.

import { hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

export interface LeafReaderOptions {
  file: string;
  /** Read entries with index below this (the size the verification started from). */
  size: number;
}

export type LeafReaderMessage =
  | { kind: 'page'; first: number; count: number; hashes: ArrayBuffer }
  | { kind: 'gap'; expected: number; found: number | null }
  | { kind: 'failed'; message: string };

const PAGE = 8192;
// One-shot hashing of 0x00 ‖ entry over a reused buffer: no Hash object and no copy per entry.
let scratch = Buffer.alloc(64 * 1024);

function leafHashInto(entry: Buffer, out: Buffer, at: number): void {
  if (scratch.length < entry.length + 1) scratch = Buffer.alloc(entry.length + 1);
  scratch[0] = 0;
  entry.copy(scratch, 1);
  hash('sha256', scratch.subarray(0, entry.length + 1), 'buffer').copy(out, at);
}

function textLeafHashInto(entry: string, out: Buffer, at: number): void {
  const need = Buffer.byteLength(entry) + 1;
  if (scratch.length < need) scratch = Buffer.alloc(need);
  scratch[0] = 0;
  scratch.write(entry, 1);
  hash('sha256', scratch.subarray(0, need), 'buffer').copy(out, at);
}
const port = parentPort;
if (!port) throw new Error('verify-log-thread.ts runs only as a worker thread');
const { file, size } = workerData as LeafReaderOptions;

try {
  const sqlite = new SQLite(file, { readonly: true });
  const page = (
    sqlite.prepare(
      'select idx, cast(entry as text) from log_entries where idx >= ? and idx < ? order by idx limit ?',
    ) as unknown as SQLite.Statement<[number, number, number], [number, string]>
  ).raw(true);
  const blob = (
    sqlite.prepare('select entry from log_entries where idx = ?') as unknown as SQLite.Statement<
      [number],
      Buffer
    >
  ).pluck(true);
  // One snapshot for the whole pass.
  sqlite.exec('begin');
  let next = 0;
  while (next < size) {
    const rows = page.all(next, size, PAGE);
    const hashes = Buffer.allocUnsafeSlow(rows.length * 32);
    let count = 0;
    let gap: number | null | undefined;
    for (const [idx, entry] of rows) {
      if (idx !== next + count) {
        gap = idx;
        break;
      }
      // Entries are UTF-8 JSON, and read as text (far cheaper than a Buffer per row) they encode
      // back to the same bytes. Bytes that are not UTF-8 decode with U+FFFD, which could hide a
      // change; such an entry, and any that holds U+FFFD, is hashed from its exact bytes instead.
      if (entry.includes('\uFFFD')) leafHashInto(blob.get(idx) as Buffer, hashes, count * 32);
      else textLeafHashInto(entry, hashes, count * 32);
      count++;
    }
    if (rows.length === 0) gap = null;
    if (count > 0) {
      const message: LeafReaderMessage = { kind: 'page', first: next, count, hashes: hashes.buffer };
      port.postMessage(message, [hashes.buffer]);
    }
    next += count;
    if (gap !== undefined) {
      const message: LeafReaderMessage = { kind: 'gap', expected: next, found: gap };
      port.postMessage(message);
      break;
    }
  }
  sqlite.exec('commit');
  sqlite.close();
} catch (err) {
  const message: LeafReaderMessage = { kind: 'failed', message: (err as Error).message };
  port.postMessage(message);
}
