// Proof generation over stored subtree hashes, in the scheme of Go's golang.org/x/mod/sumdb/tlog:
// the log keeps, for every complete subtree, its hash addressed by (level, index), covering leaves
// [index * 2^level, (index + 1) * 2^level); level 0 holds the leaf hashes. Any tree root, inclusion
// proof or consistency proof is then a handful of such hashes, so each operation here costs
// O(log n) reads and never rehashes leaves. Storage stays outside: the caller passes a reader.

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { AuditVerifyError } from './errors.js';
import { assertCount, assertHash, HASH_SIZE, nodeHash } from './merkle.js';

/**
 * Returns the stored hash of the complete subtree at (`level`, `index`). Synchronous; throws when
 * the hash is missing (its own error passes through unchanged).
 */
export type HashReader = (level: number, index: number) => Uint8Array;

/** One complete subtree's hash, as the log stores it. */
export interface StoredHash {
  readonly level: number;
  readonly index: number;
  readonly hash: Buffer;
}

// 2^53 leaves would need a size that is not a safe integer.
const MAX_LEVEL = 53;

function readHash(read: HashReader, level: number, index: number): Buffer {
  const hash = read(level, index);
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    throw new AuditVerifyError(
      'hash_invalid',
      `the stored hash at level ${level} index ${index} is not 32 bytes`,
    );
  }
  // A copy, so a proof handed out never aliases the caller's storage buffers.
  return Buffer.from(hash);
}

function checkReader(read: unknown): asserts read is HashReader {
  if (typeof read !== 'function')
    throw new AuditVerifyError('argument_invalid', 'the hash reader is not a function');
}

/** The largest power of two strictly below `n` (n >= 2): RFC 9162's split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The largest power of two not above `n` (n >= 1). */
function floorPowerOfTwo(n: number): number {
  let k = 1;
  while (k * 2 <= n) k *= 2;
  return k;
}

function levelOf(k: number): number {
  let level = 0;
  while (2 ** level < k) level++;
  return level;
}

/**
 * MTH of leaves [lo, hi), from the stored hashes of its maximal complete subtrees. Only called on
 * ranges that the RFC's recursive split produces, where `lo` is aligned to every piece taken.
 */
function rangeHash(lo: number, hi: number, read: HashReader): Buffer {
  const pieces: Buffer[] = [];
  while (lo < hi) {
    const k = floorPowerOfTwo(hi - lo);
    // INVARIANT: lo is a multiple of k, so [lo, lo + k) is one stored subtree.
    if (lo % k !== 0)
      throw new AuditVerifyError('argument_invalid', `range ${lo}..${hi} is not a subtree range`);
    const level = levelOf(k);
    pieces.push(readHash(read, level, lo / k));
    lo += k;
  }
  let h = pieces.pop() as Buffer;
  while (pieces.length > 0) h = nodeHash(pieces.pop() as Buffer, h);
  return h;
}

/**
 * The hashes to store when the leaf with hash `leaf` is appended at `index`: the leaf itself at
 * level 0, then every subtree it completes. Reads only hashes of earlier subtrees, which a log
 * that appends in order has already stored.
 */
export function storedHashesForAppend(index: number, leaf: Uint8Array, read: HashReader): StoredHash[] {
  assertCount(index, 'the leaf index', 'argument_invalid');
  if (!Number.isSafeInteger(index + 1)) {
    throw new AuditVerifyError('argument_invalid', `leaf index ${index} leaves no room for the tree size`);
  }
  assertHash(leaf, 'the leaf hash', 'argument_invalid');
  checkReader(read);
  let h: Buffer = Buffer.from(leaf);
  const out: StoredHash[] = [{ level: 0, index, hash: h }];
  // Each trailing 1 bit of the index means the new subtree has a complete left sibling.
  let n = index;
  let level = 0;
  while (n % 2 === 1) {
    h = nodeHash(readHash(read, level, n - 1), h);
    n = (n - 1) / 2;
    level++;
    out.push({ level, index: n, hash: h });
  }
  return out;
}

/**
 * The maximal complete subtrees of a tree of `size` leaves, left to right (largest first): the
 * hashes a writer needs to keep appending without reading anything else.
 */
export function rightEdge(size: number, read: HashReader): StoredHash[] {
  assertCount(size, 'the tree size', 'argument_invalid');
  checkReader(read);
  const out: StoredHash[] = [];
  let start = 0;
  for (let level = MAX_LEVEL; level >= 0; level--) {
    const k = 2 ** level;
    if (size - start >= k) {
      out.push({ level, index: start / k, hash: readHash(read, level, start / k) });
      start += k;
    }
  }
  return out;
}

/** MTH of the first `size` leaves. */
export function treeRoot(size: number, read: HashReader): Buffer {
  assertCount(size, 'the tree size', 'argument_invalid');
  checkReader(read);
  if (size === 0) return createHash('sha256').digest();
  return rangeHash(0, size, read);
}

/** RFC 9162 §2.1.3.1 PATH(index, D[0:size]), leaf upwards. */
export function inclusionProof(index: number, size: number, read: HashReader): Buffer[] {
  assertCount(index, 'the leaf index', 'argument_invalid');
  assertCount(size, 'the tree size', 'argument_invalid');
  checkReader(read);
  if (index >= size) {
    throw new AuditVerifyError('argument_invalid', `leaf index ${index} is not below tree size ${size}`);
  }
  const proof: Buffer[] = [];
  const path = (lo: number, hi: number): void => {
    if (hi - lo === 1) return;
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path(lo, lo + k);
      proof.push(rangeHash(lo + k, hi, read));
    } else {
      path(lo + k, hi);
      proof.push(rangeHash(lo, lo + k, read));
    }
  };
  path(0, size);
  return proof;
}

/** RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]). Empty when the sizes are equal. */
export function consistencyProof(size1: number, size2: number, read: HashReader): Buffer[] {
  assertCount(size1, 'the first tree size', 'argument_invalid');
  assertCount(size2, 'the second tree size', 'argument_invalid');
  checkReader(read);
  if (size1 === 0 || size1 > size2) {
    throw new AuditVerifyError(
      'argument_invalid',
      `no consistency proof from tree size ${size1} to ${size2}`,
    );
  }
  const proof: Buffer[] = [];
  // SUBPROOF(m, D[lo:hi], b); b, "D[lo:hi] is the whole old tree's ancestor path", holds while lo is 0.
  const subproof = (lo: number, hi: number): void => {
    if (size1 === hi) {
      if (lo !== 0) proof.push(rangeHash(lo, hi, read));
      return;
    }
    const k = splitPoint(hi - lo);
    if (size1 <= lo + k) {
      subproof(lo, lo + k);
      proof.push(rangeHash(lo + k, hi, read));
    } else {
      subproof(lo + k, hi);
      proof.push(rangeHash(lo, lo + k, read));
    }
  };
  subproof(0, size2);
  return proof;
}

/**
 * The right edge of a tree in memory: the hashes of its maximal complete subtrees. A writer that
 * holds one can append any number of leaves and compute roots without reading storage, and
 * stores what `append` returns.
 */
export class MerkleFrontier {
  #size: number;
  // Largest subtree first; one per 1 bit of #size.
  #edge: Buffer[];

  /** An empty tree, or the tree of `size` leaves whose right edge is `edge` (largest first). */
  constructor(size = 0, edge: readonly Uint8Array[] = []) {
    assertCount(size, 'the tree size', 'argument_invalid');
    const list: unknown = edge;
    if (!Array.isArray(list))
      throw new AuditVerifyError('argument_invalid', 'the right edge is not an array');
    let bits = 0;
    for (let n = size; n > 0; n = Math.floor(n / 2)) bits += n % 2;
    if (edge.length !== bits) {
      throw new AuditVerifyError(
        'argument_invalid',
        `a tree of size ${size} has ${bits} right-edge hashes, not ${edge.length}`,
      );
    }
    edge.forEach((h, i) => assertHash(h, `right-edge hash ${i}`, 'argument_invalid'));
    this.#size = size;
    this.#edge = edge.map((h): Buffer => Buffer.from(h));
  }

  /** Load the right edge of a stored tree of `size` leaves (at most one read per level). */
  static fromStore(size: number, read: HashReader): MerkleFrontier {
    return new MerkleFrontier(
      size,
      rightEdge(size, read).map((s) => s.hash),
    );
  }

  get size(): number {
    return this.#size;
  }

  /** Append the leaf with hash `leaf`; returns the hashes to store, as storedHashesForAppend does. */
  append(leaf: Uint8Array): StoredHash[] {
    assertHash(leaf, 'the leaf hash', 'argument_invalid');
    const index = this.#size;
    if (!Number.isSafeInteger(index + 1)) throw new AuditVerifyError('argument_invalid', 'the tree is full');
    let h: Buffer = Buffer.from(leaf);
    const out: StoredHash[] = [{ level: 0, index, hash: h }];
    let n = index;
    let level = 0;
    while (n % 2 === 1) {
      // INVARIANT: the smallest subtree on the edge is the left sibling at this level.
      h = nodeHash(this.#edge.pop() as Buffer, h);
      n = (n - 1) / 2;
      level++;
      out.push({ level, index: n, hash: h });
    }
    this.#edge.push(Buffer.from(h));
    this.#size = index + 1;
    return out;
  }

  /** MTH of the leaves appended so far. */
  root(): Buffer {
    if (this.#edge.length === 0) return createHash('sha256').digest();
    let h = this.#edge[this.#edge.length - 1] as Buffer;
    for (let i = this.#edge.length - 2; i >= 0; i--) h = nodeHash(this.#edge[i] as Buffer, h);
    return Buffer.from(h);
  }

  /** Copies of the right-edge hashes, largest subtree first, as the constructor takes them. */
  edge(): Buffer[] {
    return this.#edge.map((h) => Buffer.from(h));
  }
}
