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

import { storedHashIndex, type LogStorage } from './storage.js';
import { leafHash, MerkleFrontier, openNote, parseCheckpoint, parseVerifierKey } from './verify/index.js';

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

export function verifyLog(
  storage: LogStorage,
  verifierKeys: readonly string[],
  onProgress: (done: number, total: number) => void = () => undefined,
): LogVerification {
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
  // Pages, not one open cursor: better-sqlite3 runs nothing else on a connection while one is open.
  const hashes = storage.iterateHashes();
  const frontier = new MerkleFrontier();
  let expected = 0;
  try {
    for (const e of storage.iterate()) {
      if (e.idx !== expected) {
        return problem(
          total,
          stored.length,
          expected,
          `entry ${expected} is missing (the next stored entry is ${e.idx})`,
        );
      }
      for (const h of frontier.append(leafHash(e.entry))) {
        const next = hashes.next();
        const id = storedHashIndex(h.level, h.index);
        if (next.done || next.value.id !== id) {
          return problem(
            total,
            stored.length,
            e.idx,
            `the stored tree lacks the hash of level ${h.level} index ${h.index} (entry ${e.idx})`,
          );
        }
        if (!next.value.hash.equals(h.hash)) {
          return problem(
            total,
            stored.length,
            e.idx,
            h.level === 0
              ? `entry ${e.idx} does not match its stored leaf hash: the entry was changed`
              : `the stored hash of level ${h.level} index ${h.index} does not match the entries up to ${e.idx}`,
          );
        }
      }
      expected++;
      const root = roots.get(expected);
      if (root && !root.equals(frontier.root())) {
        return problem(
          total,
          stored.length,
          expected - 1,
          `the entries 0 to ${expected - 1} do not match the signed checkpoint of size ${expected}: the history was rewritten`,
        );
      }
      if ((expected & 0xffff) === 0) onProgress(expected, total);
    }
    const extra = hashes.next();
    if (!extra.done) {
      return problem(
        total,
        stored.length,
        expected,
        `the stored tree has hashes beyond entry ${expected - 1}: entries were removed from the end`,
      );
    }
  } finally {
    hashes.return(undefined);
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

function problem(size: number, checkpoints: number, index: number, message: string): LogVerification {
  return { size, checkpoints, problem: { index, message } };
}
