// `warden audit verify`: rebuild the whole tree from the stored entries, in one pass, and check it
// against everything else that is stored: every stored hash, and every signed checkpoint's root
// and signature. It reports the first index where anything disagrees.
//
// What each kind of tampering looks like here:
// - a changed entry: its recomputed leaf hash differs from the stored one (that index);
// - a deleted entry: a gap in the indices (that index);
// - two swapped entries: the first of them no longer matches its stored leaf hash;
// - a rewritten tail whose stored hashes were rewritten to match (a fork): the signed checkpoints
//   made before the rewrite no longer match, or lie beyond the log's end.
// A history rewritten together with all its checkpoints needs a checkpoint saved elsewhere:
// `warden audit consistency` and the witnesses cover that.

import { createHash, hash } from 'node:crypto';
import { on } from 'node:events';
import { Worker } from 'node:worker_threads';
import { WardenError } from '../errors.js';
import type { LeafReaderMessage, LeafReaderOptions } from './verify-log-thread.js';
import type { LogStorage } from './storage.js';
import { openNote, parseCheckpoint, parseVerifierKey } from './verify/index.js';

export interface LogProblem {
  /** The first entry index the problem concerns. */
  index: number;
  message: string;
}

export interface LogVerification {
  size: number;
  checkpoints: number;
  problem: LogProblem | null;
}

export async function verifyLog(
  storage: LogStorage,
  verifierKeys: readonly string[],
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<LogVerification> {
  // A running server may append meanwhile: everything this thread reads comes from one snapshot,
  // and the entry reader (which starts later, so sees at least as much) stops at its size.
  const own = !storage.sqlite.inTransaction;
  if (own) storage.sqlite.exec('begin');
  try {
    return await verifyIn(storage, verifierKeys, onProgress);
  } finally {
    if (own && storage.sqlite.inTransaction) storage.sqlite.exec('commit');
  }
}

async function verifyIn(
  storage: LogStorage,
  verifierKeys: readonly string[],
  onProgress: (done: number, total: number) => void,
): Promise<LogVerification> {
  const total = storage.size();
  const verifiers = verifierKeys.map((k) => parseVerifierKey(k));
  const roots = new Map<number, Buffer>();
  const stored = storage.checkpoints();
  for (const c of stored) {
    try {
      const opened = openNote(c.note, verifiers);
      const body = parseCheckpoint(opened.text);
      if (body.size !== c.size) throw new Error(`its body says size ${body.size}`);
      roots.set(c.size, body.root);
    } catch (err) {
      return problem(
        total,
        stored.length,
        Math.max(0, c.size - 1),
        `the checkpoint of size ${c.size} does not verify: ${(err as Error).message}`,
      );
    }
  }
  // One pass, on two threads: a worker reads the entries and sends their leaf hashes (see
  // verify-log-thread.ts); this thread reads the stored hashes and rebuilds the tree with its
  // right edge in memory. Stored hash ids follow the order in which appends produce hashes, so
  // the k-th hash recomputed here must be the stored hash with id k.
  const edge: Buffer[] = [];
  // Stored hashes in pages of ids. A full page needs no ids (it has every id of its range); a
  // short one is read again with ids, to tell the end of the log from a missing hash.
  let hashPage: Array<[number, Buffer]> = [];
  let fullPage: string[] = [];
  let inPage = 0;
  let nextId = 0;
  let expected = 0;
  const load = (from: number): void => {
    fullPage = storage.hashHexRange(from, from + HASH_PAGE);
    hashPage = fullPage.length === HASH_PAGE ? [] : storage.hashPage(from, HASH_PAGE);
    inPage = 0;
  };
  load(0);
  const check = (level: number, index: number, hash: Buffer, entry: number): LogProblem | null => {
    if (inPage === HASH_PAGE) load(nextId);
    let stored: string | undefined;
    if (fullPage.length === HASH_PAGE) stored = fullPage[inPage];
    else {
      const row = hashPage[inPage];
      stored = row && row[0] === nextId ? row[1].toString('hex') : undefined;
    }
    if (!stored) {
      return {
        index: entry,
        message: `the stored tree lacks the hash of level ${level} index ${index} (entry ${entry})`,
      };
    }
    inPage++;
    nextId++;
    if (stored === hash.toString('hex')) return null;
    return {
      index: entry,
      message:
        level === 0
          ? `entry ${entry} does not match its stored leaf hash: the entry was changed`
          : `the stored hash of level ${level} index ${index} does not match the entries up to ${entry}`,
    };
  };
  const leaves =
    total > 0 ? startLeafReader(storage.sqlite.name, total) : { messages: [], stop: () => Promise.resolve() };
  try {
    for await (const message of leaves.messages) {
      if (message.kind === 'failed')
        throw new WardenError('audit_log_invalid', `cannot read the entries: ${message.message}`);
      if (message.kind === 'gap') {
        const found = message.found === null ? 'none' : String(message.found);
        return problem(
          total,
          stored.length,
          expected,
          `entry ${expected} is missing (the next stored entry is ${found})`,
        );
      }
      const all = Buffer.from(message.hashes);
      for (let k = 0; k < message.count; k++) {
        const idx = message.first + k;
        let hash: Buffer = all.subarray(k * 32, k * 32 + 32);
        let bad = check(0, idx, hash, idx);
        let n = idx;
        let level = 0;
        while (bad === null && n % 2 === 1) {
          hash = nodeHashOf(edge.pop() as Buffer, hash);
          n = (n - 1) / 2;
          level++;
          bad = check(level, n, hash, idx);
        }
        if (bad) return problem(total, stored.length, bad.index, bad.message);
        edge.push(hash);
        expected++;
        const root = roots.get(expected);
        if (root && !root.equals(rootOf(edge))) {
          return problem(
            total,
            stored.length,
            expected - 1,
            `the entries 0 to ${expected - 1} do not match the signed checkpoint of size ${expected}: the history was rewritten`,
          );
        }
        if ((expected & 0xffff) === 0) onProgress(expected, total);
      }
      if (expected === total) break;
    }
  } finally {
    await leaves.stop();
  }
  if (expected !== total) {
    // The reader reports gaps itself: stopping short without one means it failed.
    throw new WardenError('audit_log_invalid', `the entry reader stopped before entry ${expected}`);
  }
  if (inPage === HASH_PAGE) load(nextId);
  if ((fullPage.length === HASH_PAGE ? fullPage.length : hashPage.length) > inPage) {
    return problem(
      total,
      stored.length,
      expected,
      `the stored tree has hashes beyond entry ${expected - 1}: entries were removed from the end`,
    );
  }
  const beyond = stored.find((c) => c.size > expected);
  if (beyond) {
    return problem(
      total,
      stored.length,
      expected,
      `a signed checkpoint has size ${beyond.size} but the log has ${expected} entries: entries were removed from the end`,
    );
  }
  onProgress(expected, total);
  return { size: expected, checkpoints: stored.length, problem: null };
}

// RFC 9162's node hash, without the argument checks of verify/merkle.ts: every input here is a
// digest this function made.
const HASH_PAGE = 16384;
// One-shot hashing over a reused buffer: no Hash object per node, which a million nodes feel.
const NODE_INPUT = Buffer.alloc(65, 1);

function nodeHashOf(left: Buffer, right: Buffer): Buffer {
  left.copy(NODE_INPUT, 1);
  right.copy(NODE_INPUT, 33);
  return hash('sha256', NODE_INPUT, 'buffer');
}

/** MTH of a tree from its right edge (largest subtree first). */
function rootOf(edge: readonly Buffer[]): Buffer {
  if (edge.length === 0) return createHash('sha256').digest();
  let h = edge[edge.length - 1] as Buffer;
  for (let i = edge.length - 2; i >= 0; i--) h = nodeHashOf(edge[i] as Buffer, h);
  return h;
}

/** The worker that reads the entries; its code is built beside this file (see sink.ts). */
function startLeafReader(
  file: string,
  size: number,
): {
  messages: AsyncIterable<LeafReaderMessage>;
  stop: () => Promise<void>;
} {
  const url = import.meta.url.endsWith('.ts')
    ? new URL('../../dist/src/audit/verify-log-thread.js', import.meta.url)
    : new URL('./verify-log-thread.js', import.meta.url);
  const options: LeafReaderOptions = { file, size };
  const worker = new Worker(url, { workerData: options });
  // The worker's messages arrive before its exit, which ends the stream; `on` throws its error.
  const exited = new AbortController();
  worker.once('exit', () => exited.abort());
  async function* messages(): AsyncGenerator<LeafReaderMessage> {
    try {
      for await (const [m] of on(worker, 'message', { signal: exited.signal })) yield m as LeafReaderMessage;
    } catch (err) {
      if (!exited.signal.aborted) throw err;
    }
  }
  return {
    messages: messages(),
    stop: async () => {
      await worker.terminate();
    },
  };
}

function problem(size: number, checkpoints: number, index: number, message: string): LogVerification {
  return { size, checkpoints, problem: { index, message } };
}
