// Proof generation over stored subtree hashes (tree.ts) against a naive recursive RFC 9162
// implementation written here, and the verifier (merkle.ts) against every generated proof.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  MerkleFrontier,
  nodeHash,
  rightEdge,
  rootFromInclusion,
  storedHashesForAppend,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  type HashReader,
} from '../../src/audit/verify/index.js';

const MAX = 70;

// RFC 9162 §2.1.1-2.1.4, straight from the text, over leaf hashes.
const k = (n: number): number => {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
};
function mth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0] as Buffer;
  const s = k(leaves.length);
  return nodeHash(mth(leaves.slice(0, s)), mth(leaves.slice(s)));
}
function path(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const s = k(leaves.length);
  return m < s
    ? [...path(m, leaves.slice(0, s)), mth(leaves.slice(s))]
    : [...path(m - s, leaves.slice(s)), mth(leaves.slice(0, s))];
}
function subproof(m: number, leaves: readonly Buffer[], b: boolean): Buffer[] {
  if (m === leaves.length) return b ? [] : [mth(leaves)];
  const s = k(leaves.length);
  return m <= s
    ? [...subproof(m, leaves.slice(0, s), b), mth(leaves.slice(s))]
    : [...subproof(m - s, leaves.slice(s), false), mth(leaves.slice(0, s))];
}

function flipped(proof: readonly Buffer[], i: number): Buffer[] {
  return proof.map((h, j) => {
    if (j !== i) return h;
    const c = Buffer.from(h);
    c[7] = (c[7] as number) ^ 0x10;
    return c;
  });
}

/** A map-backed store that counts reads and refuses missing hashes. */
function memoryStore() {
  const hashes = new Map<string, Buffer>();
  const store = {
    reads: 0,
    put(list: readonly { level: number; index: number; hash: Buffer }[]) {
      for (const h of list) hashes.set(`${h.level}/${h.index}`, h.hash);
    },
    read: ((level, index) => {
      store.reads++;
      const h = hashes.get(`${level}/${index}`);
      if (!h) throw new Error(`missing hash ${level}/${index}`);
      return h;
    }) as HashReader,
    size: () => hashes.size,
  };
  return store;
}

const leaves = Array.from({ length: MAX }, () => leafHash(randomBytes(1 + (randomBytes(1)[0] as number))));
const store = memoryStore();
const frontier = new MerkleFrontier();
for (let i = 0; i < MAX; i++) {
  const leaf = leaves[i] as Buffer;
  // storedHashesForAppend may only read subtrees that end at or before this leaf.
  const guarded: HashReader = (level, index) => {
    assert.ok((index + 1) * 2 ** level <= i, `append ${i} read ${level}/${index}`);
    return store.read(level, index);
  };
  const stored = storedHashesForAppend(i, leaf, guarded);
  assert.deepEqual(frontier.append(leaf), stored, `frontier and store agree at ${i}`);
  store.put(stored);
}

// The naive root of every prefix, computed once.
const roots = Array.from({ length: MAX + 1 }, (_, n) => mth(leaves.slice(0, n)));

test('sizes 0..70: stored roots, frontier roots and the naive MTH agree', () => {
  const f = new MerkleFrontier();
  for (let size = 0; size <= MAX; size++) {
    const want = roots[size] as Buffer;
    assert.deepEqual(treeRoot(size, store.read), want, `treeRoot(${size})`);
    assert.deepEqual(f.root(), want, `frontier root at ${size}`);
    assert.deepEqual(MerkleFrontier.fromStore(size, store.read).root(), want, `fromStore(${size})`);
    assert.equal(f.size, size);
    if (size < MAX) f.append(leaves[size] as Buffer);
  }
  assert.deepEqual(treeRoot(0, store.read), EMPTY_ROOT);
  // Every complete subtree once: sum of floor(n / 2^level) = 2n - popcount(n).
  assert.equal(store.size(), 2 * MAX - [...MAX.toString(2)].filter((b) => b === '1').length);
});

test('a subtree completed by an append is the hash of its two halves', () => {
  const s = memoryStore();
  const l = Array.from({ length: 8 }, () => leafHash(randomBytes(8)));
  const all = l.flatMap((leaf, i) => {
    const stored = storedHashesForAppend(i, leaf, s.read);
    s.put(stored);
    return stored;
  });
  const at = (level: number, index: number) =>
    all.find((h) => h.level === level && h.index === index)?.hash.toString('hex');
  assert.equal(at(3, 0), mth(l).toString('hex'));
  assert.equal(at(2, 1), mth(l.slice(4, 8)).toString('hex'));
  assert.equal(at(1, 3), nodeHash(l[6] as Buffer, l[7] as Buffer).toString('hex'));
  assert.equal(all.length, 15);
});

test('every inclusion proof for sizes 1..70 equals RFC PATH, verifies, and fails when altered', () => {
  let checked = 0;
  for (let size = 1; size <= MAX; size++) {
    const root = roots[size] as Buffer;
    for (let index = 0; index < size; index++) {
      const leaf = leaves[index] as Buffer;
      const proof = inclusionProof(index, size, store.read);
      assert.deepEqual(proof, path(index, leaves.slice(0, size)), `PATH(${index}, ${size})`);
      verifyInclusion(leaf, index, size, proof, root);
      assert.deepEqual(rootFromInclusion(leaf, index, size, proof), root);
      for (let i = 0; i < proof.length; i++) {
        assert.throws(() => verifyInclusion(leaf, index, size, flipped(proof, i), root), {
          code: 'proof_invalid',
        });
      }
      if (size > 1) {
        const other = (index + 1) % size;
        assert.throws(() => verifyInclusion(leaf, other, size, proof, root), { code: 'proof_invalid' });
      }
      if (size < MAX) {
        // Against the root of the next tree. (Against its own root, a proof can fit a larger size
        // too: that is why a checkpoint signs the size with the root.)
        const next = roots[size + 1] as Buffer;
        assert.throws(() => verifyInclusion(leaf, index, size + 1, proof, next), { code: 'proof_invalid' });
      }
      assert.throws(() => verifyInclusion(leaf, size, size, proof, root), { code: 'proof_invalid' });
      assert.throws(() => verifyInclusion(leaves[(index + 1) % MAX] as Buffer, index, size, proof, root), {
        code: 'proof_invalid',
      });
      checked++;
    }
  }
  assert.equal(checked, (MAX * (MAX + 1)) / 2);
});

test('every consistency proof for 1 <= m <= n <= 70 equals RFC PROOF, verifies, and fails when altered', () => {
  let checked = 0;
  for (let n = 1; n <= MAX; n++) {
    const root2 = roots[n] as Buffer;
    for (let m = 1; m <= n; m++) {
      const root1 = roots[m] as Buffer;
      const proof = consistencyProof(m, n, store.read);
      assert.deepEqual(proof, subproof(m, leaves.slice(0, n), true), `PROOF(${m}, ${n})`);
      verifyConsistency(m, n, proof, root1, root2);
      for (let i = 0; i < proof.length; i++) {
        assert.throws(() => verifyConsistency(m, n, flipped(proof, i), root1, root2), {
          code: 'proof_invalid',
        });
      }
      if (m < n) {
        assert.throws(() => verifyConsistency(m + 1, n, proof, roots[m + 1] as Buffer, root2), {
          code: 'proof_invalid',
        });
        assert.throws(() => verifyConsistency(m, n, proof, root2, root2), { code: 'proof_invalid' });
        assert.throws(() => verifyConsistency(m, n, proof.slice(0, -1), root1, root2), {
          code: 'proof_invalid',
        });
      }
      if (m > 1) {
        assert.throws(() => verifyConsistency(m - 1, n, proof, roots[m - 1] as Buffer, root2), {
          code: 'proof_invalid',
        });
      }
      assert.throws(() => verifyConsistency(m, n, proof, root1, roots[n - 1] as Buffer), {
        code: 'proof_invalid',
      });
      checked++;
    }
  }
  assert.equal(checked, (MAX * (MAX + 1)) / 2);
});

test('proofs and roots in a huge tree take O(log n) reads', () => {
  // A synthetic store: any (level, index) has a made-up hash. Only the read count matters here.
  let reads = 0;
  const read: HashReader = (level, index) => {
    reads++;
    return createHash('sha256').update(`${level}/${index}`).digest();
  };
  const sizes = [2 ** 40 + 12345, 2 ** 52 - 1, 2 ** 53 - 1, 1_000_003];
  for (const size of sizes) {
    const log2 = Math.ceil(Math.log2(size));
    for (const index of [0, 1, Math.floor(size / 3), size - 2, size - 1]) {
      reads = 0;
      const proof = inclusionProof(index, size, read);
      assert.ok(reads <= 2 * log2, `inclusion ${index}/${size}: ${reads} reads`);
      assert.ok(proof.length <= log2);
      reads = 0;
      consistencyProof(index + 1, size, read);
      assert.ok(reads <= 3 * log2, `consistency ${index + 1}/${size}: ${reads} reads`);
    }
    reads = 0;
    treeRoot(size, read);
    assert.ok(reads <= log2 + 1, `root ${size}: ${reads} reads`);
    reads = 0;
    storedHashesForAppend(size - 1, Buffer.alloc(32), read);
    assert.ok(reads <= log2);
  }
});

test('a frontier appends without any reads and restarts from the right edge', () => {
  const f = MerkleFrontier.fromStore(37, store.read);
  const g = new MerkleFrontier(
    37,
    rightEdge(37, store.read).map((h) => h.hash),
  );
  assert.deepEqual(g.edge(), f.edge());
  assert.equal(f.edge().length, 3); // 37 = 32 + 4 + 1
  for (let i = 37; i < MAX; i++) {
    assert.deepEqual(
      f.append(leaves[i] as Buffer),
      storedHashesForAppend(i, leaves[i] as Buffer, store.read),
    );
  }
  assert.deepEqual(f.root(), mth(leaves));
  // The returned hashes are copies: changing them does not change the frontier.
  const out = f.append(leafHash(Buffer.from('x')));
  const before = f.root();
  for (const h of out) h.hash.fill(0);
  assert.deepEqual(f.root(), before);
});

test('tree.ts refuses bad arguments and bad stored hashes with AuditVerifyError', () => {
  const bad = { name: 'AuditVerifyError', code: 'argument_invalid' };
  assert.throws(() => inclusionProof(5, 5, store.read), bad);
  assert.throws(() => inclusionProof(-1, 5, store.read), bad);
  assert.throws(() => inclusionProof(0.5, 5, store.read), bad);
  assert.throws(() => inclusionProof(0, 2 ** 53, store.read), bad);
  assert.throws(() => inclusionProof('1' as never, 5, store.read), bad);
  assert.throws(() => inclusionProof(1n as never, 5, store.read), bad);
  assert.throws(() => consistencyProof(0, 5, store.read), bad);
  assert.throws(() => consistencyProof(6, 5, store.read), bad);
  assert.throws(() => treeRoot(NaN, store.read), bad);
  assert.throws(() => treeRoot(3, null as never), bad);
  assert.throws(() => storedHashesForAppend(2 ** 53 - 1, Buffer.alloc(32), store.read), bad);
  assert.throws(() => storedHashesForAppend(0, Buffer.alloc(31), store.read), bad);
  assert.throws(() => new MerkleFrontier(3, [Buffer.alloc(32)]), bad);
  assert.throws(() => new MerkleFrontier(1, [Buffer.alloc(33)]), bad);
  assert.throws(() => new MerkleFrontier(1, 'x' as never), bad);
  assert.throws(() => new MerkleFrontier().append('leaf' as never), bad);
  assert.throws(() => nodeHash(Buffer.alloc(32), Buffer.alloc(16)), bad);
  assert.throws(() => leafHash('entry' as never), bad);
  // A reader that returns something other than a 32-byte hash.
  assert.throws(() => treeRoot(3, () => Buffer.alloc(31)), { code: 'hash_invalid' });
  assert.throws(() => treeRoot(3, () => 'hash' as never), { code: 'hash_invalid' });
  // The reader's own error passes through untouched.
  assert.throws(() => treeRoot(MAX + 1, store.read), { message: /missing hash/ });
});

test('merkle.ts refuses malformed proofs with AuditVerifyError, never a TypeError', () => {
  const leaf = leaves[0] as Buffer;
  const root = roots[2] as Buffer;
  const proof = [leaves[1] as Buffer];
  verifyInclusion(leaf, 0, 2, proof, root);
  const malformed = { name: 'AuditVerifyError', code: 'proof_malformed' };
  assert.throws(() => verifyInclusion(leaf, 0, 2, [Buffer.alloc(31)], root), malformed);
  assert.throws(() => verifyInclusion(leaf, 0, 2, ['x'] as never, root), malformed);
  assert.throws(() => verifyInclusion(leaf, 0, 2, null as never, root), malformed);
  assert.throws(() => verifyInclusion(leaf, 0, 2, proof, root.subarray(1)), malformed);
  assert.throws(() => verifyInclusion(leaf.subarray(0, 31), 0, 2, proof, root), malformed);
  assert.throws(() => verifyInclusion(leaf, -1, 2, proof, root), malformed);
  assert.throws(() => verifyInclusion(leaf, 0, 2 ** 64, proof, root), malformed);
  assert.throws(() => verifyInclusion(leaf, 0n as never, 2, proof, root), malformed);
  assert.throws(() => verifyConsistency(1, 2, proof, 'root' as never, root), malformed);
  assert.throws(() => verifyConsistency(1, 2, proof, leaf, root.subarray(2)), malformed);
  assert.throws(() => verifyConsistency(1, Infinity, proof, leaf, root), malformed);
  // Well formed but not a proof.
  assert.throws(() => verifyInclusion(leaf, 0, 2, [...proof, leaf], root), { code: 'proof_invalid' });
  assert.throws(() => verifyInclusion(leaf, 0, 2, [], root), { code: 'proof_invalid' });
  assert.throws(() => verifyConsistency(0, 2, proof, EMPTY_ROOT, root), { code: 'proof_invalid' });
  assert.throws(() => verifyConsistency(2, 2, proof, root, root), { code: 'proof_invalid' });
  verifyConsistency(2, 2, [], root, root);
});
