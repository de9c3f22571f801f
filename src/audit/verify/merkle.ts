// RFC 9162 §2.1 Merkle tree hashing, and verification of inclusion (§2.1.3.2) and consistency
// (§2.1.4.2) proofs. Pure functions over bytes: an auditor needs nothing else to check a proof.
// Beyond the RFC, as transparency-dev/merkle does (its vectors expect all of it): a consistency
// proof from the empty tree is refused, since it would prove nothing; equal sizes need an empty
// proof and byte-equal roots. Here also every hash that gets hashed must be 32 bytes, and sizes
// and indices must be safe integers, since a JS number above 2^53 cannot name a leaf exactly.

import { Buffer } from 'node:buffer';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AuditVerifyError, type AuditVerifyErrorCode } from './errors.js';

/** The length of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH({}) = SHA-256 of the empty string. Nothing here reads it back, so changing it changes nothing. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** Throws `code` unless `value` is a 32-byte array. */
export function assertHash(value: unknown, what: string, code: AuditVerifyErrorCode): void {
  if (!(value instanceof Uint8Array)) throw new AuditVerifyError(code, `${what} is not a byte array`);
  if (value.length !== HASH_SIZE) {
    throw new AuditVerifyError(code, `${what} is ${value.length} bytes, not ${HASH_SIZE}`);
  }
}

/** Throws `code` unless `value` is a non-negative safe integer. */
export function assertCount(
  value: unknown,
  what: string,
  code: AuditVerifyErrorCode,
): asserts value is number {
  if (typeof value !== 'number') throw new AuditVerifyError(code, `${what} is not a number`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AuditVerifyError(code, `${what} ${value} is not a non-negative safe integer`);
  }
}

/** True when `n` (a positive safe integer) is a power of two; bit tricks stop at 2^31. */
export function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

/** RFC 9162 leaf hash: SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array): Buffer {
  if (!(entry instanceof Uint8Array))
    throw new AuditVerifyError('argument_invalid', 'the entry is not a byte array');
  return createHash('sha256').update(LEAF_PREFIX).update(entry).digest();
}

/** RFC 9162 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  assertHash(left, 'the left child hash', 'argument_invalid');
  assertHash(right, 'the right child hash', 'argument_invalid');
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

function checkProof(proof: unknown): readonly Uint8Array[] {
  if (!Array.isArray(proof)) throw new AuditVerifyError('proof_malformed', 'the proof is not an array');
  // An index loop, not forEach: forEach would skip the holes of a sparse array.
  for (let i = 0; i < proof.length; i++) assertHash(proof[i], `proof hash ${i}`, 'proof_malformed');
  return proof as readonly Uint8Array[];
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// Bit operations in JS are 32-bit; sizes go to 2^53, so halve and test parity arithmetically.
const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

/**
 * The root an inclusion proof leads to, per RFC 9162 §2.1.3.2. Throws `proof_malformed` for
 * unusable input and `proof_invalid` when the proof has the wrong shape for `index` and `size`.
 */
export function rootFromInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Buffer {
  assertHash(leaf, 'the leaf hash', 'proof_malformed');
  assertCount(index, 'the leaf index', 'proof_malformed');
  assertCount(size, 'the tree size', 'proof_malformed');
  const path = checkProof(proof);
  if (index >= size) {
    throw new AuditVerifyError('proof_invalid', `leaf index ${index} is not below tree size ${size}`);
  }
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of path) {
    if (sn === 0) throw new AuditVerifyError('proof_invalid', 'the inclusion proof is too long');
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new AuditVerifyError('proof_invalid', 'the inclusion proof is too short');
  return r;
}

/** Check that `leaf` is the leaf hash at `index` in the tree of `size` leaves with root `root`. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  assertHash(root, 'the root hash', 'proof_malformed');
  const computed = rootFromInclusion(leaf, index, size, proof);
  if (!sameHash(computed, root)) {
    throw new AuditVerifyError(
      'proof_invalid',
      `the inclusion proof for leaf ${index} does not lead to the root of tree size ${size}`,
    );
  }
}

/**
 * Check that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves with
 * root `root1`, per RFC 9162 §2.1.4.2.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  assertCount(size1, 'the first tree size', 'proof_malformed');
  assertCount(size2, 'the second tree size', 'proof_malformed');
  if (!(root1 instanceof Uint8Array))
    throw new AuditVerifyError('proof_malformed', 'the first root is not a byte array');
  if (!(root2 instanceof Uint8Array))
    throw new AuditVerifyError('proof_malformed', 'the second root is not a byte array');
  const path = checkProof(proof);
  if (size1 > size2) {
    throw new AuditVerifyError('proof_invalid', `tree size ${size1} is larger than tree size ${size2}`);
  }
  // Every tree extends the empty tree; a "proof" of it would check nothing.
  if (size1 === 0)
    throw new AuditVerifyError('proof_invalid', 'a consistency proof from the empty tree proves nothing');
  if (size1 === size2) {
    if (path.length !== 0) {
      throw new AuditVerifyError('proof_invalid', 'a consistency proof between equal sizes must be empty');
    }
    // Nothing is hashed here, so, as transparency-dev/merkle (whose vectors expect it), the two
    // roots only have to be the same bytes.
    if (!sameHash(root1, root2)) {
      throw new AuditVerifyError('proof_invalid', `two different roots for tree size ${size1}`);
    }
    return;
  }
  assertHash(root1, 'the first root hash', 'proof_malformed');
  assertHash(root2, 'the second root hash', 'proof_malformed');
  if (path.length === 0) throw new AuditVerifyError('proof_invalid', 'the consistency proof is empty');

  // When size1 is a power of two, the old root is itself a node of the new tree and the RFC
  // leaves it out of the proof.
  const nodes = isPowerOfTwo(size1) ? [root1, ...path] : path;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const first = nodes[0] as Uint8Array;
  let fr: Buffer = Buffer.from(first);
  let sr: Buffer = Buffer.from(first);
  for (const c of nodes.slice(1)) {
    if (sn === 0) throw new AuditVerifyError('proof_invalid', 'the consistency proof is too long');
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new AuditVerifyError('proof_invalid', 'the consistency proof is too short');
  if (!sameHash(fr, root1)) {
    throw new AuditVerifyError(
      'proof_invalid',
      `the consistency proof does not lead to the root of tree size ${size1}`,
    );
  }
  if (!sameHash(sr, root2)) {
    throw new AuditVerifyError(
      'proof_invalid',
      `the consistency proof does not lead to the root of tree size ${size2}`,
    );
  }
}
