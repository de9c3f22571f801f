// Known-answer tests from ../shared/vectors/tlog (see its README.txt for sources and expected
// results): transparency-dev/merkle's proof vectors, the RFC 6962 reference tree, C2SP and Go
// signed notes, checkpoints from Go's sumdb, Rekor and a witnessed static-CT log. A verifier that
// round-trips with its own signer but fails these is wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  consistencyProof,
  formatCheckpoint,
  inclusionProof,
  leafHash,
  MerkleFrontier,
  openNote,
  parseCheckpoint,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  type HashReader,
} from '../../src/audit/verify/index.js';

// CI places shared/ beside the checkout; resolve from this file so the working directory does not matter.
const TLOG = fileURLToPath(new URL('../../../shared/vectors/tlog/', import.meta.url));
const text = (path: string): string => readFileSync(join(TLOG, path), 'utf8');
const line = (path: string): string => text(path).trim();
const json = (path: string): Record<string, unknown> => JSON.parse(text(path)) as Record<string, unknown>;
const b64 = (s: unknown): Buffer => Buffer.from(typeof s === 'string' ? s : '', 'base64');
const b64s = (list: unknown): Buffer[] => (Array.isArray(list) ? list.map(b64) : []);

function jsonFiles(dir: string): string[] {
  return readdirSync(join(TLOG, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => relative(TLOG, join(e.parentPath, e.name)))
    .sort();
}

const PROOF_ERROR = { name: 'AuditVerifyError', code: /^proof_(invalid|malformed)$/ };

const inclusionFiles = jsonFiles('transparency-dev-merkle/testdata/inclusion');
const consistencyFiles = jsonFiles('transparency-dev-merkle/testdata/consistency');

test('transparency-dev/merkle: all 196 proof vectors are present', () => {
  assert.equal(inclusionFiles.length + consistencyFiles.length, 196);
  assert.ok(inclusionFiles.length > 50 && consistencyFiles.length > 50);
});

for (const file of inclusionFiles) {
  const v = json(file);
  test(`inclusion ${file.replace('transparency-dev-merkle/testdata/inclusion/', '')}: ${String(v.desc)}`, () => {
    const run = () =>
      verifyInclusion(b64(v.leafHash), v.leafIdx as number, v.treeSize as number, b64s(v.proof), b64(v.root));
    if (v.wantErr === false) run();
    else assert.throws(run, PROOF_ERROR);
  });
}

for (const file of consistencyFiles) {
  const v = json(file);
  test(`consistency ${file.replace('transparency-dev-merkle/testdata/consistency/', '')}: ${String(v.desc)}`, () => {
    const run = () =>
      verifyConsistency(v.size1 as number, v.size2 as number, b64s(v.proof), b64(v.root1), b64(v.root2));
    if (v.wantErr === false) run();
    else assert.throws(run, PROOF_ERROR);
  });
}

const reference = json('rfc6962/reference-tree.json') as {
  leafInputsHex: string[];
  leafHashesHex: string[];
  rootHashesHexBySize: Record<string, string>;
};

function referenceStore(): { read: HashReader; frontier: MerkleFrontier } {
  const stored = new Map<string, Buffer>();
  const frontier = new MerkleFrontier();
  for (const input of reference.leafInputsHex) {
    for (const h of frontier.append(leafHash(Buffer.from(input, 'hex')))) {
      stored.set(`${h.level}/${h.index}`, h.hash);
    }
  }
  const read: HashReader = (level, index) => {
    const h = stored.get(`${level}/${index}`);
    if (!h) throw new Error(`no hash at ${level}/${index}`);
    return h;
  };
  return { read, frontier };
}

test('RFC 6962 reference tree: leaf hashes and the roots of sizes 0..8', () => {
  assert.deepEqual(
    reference.leafInputsHex.map((x) => leafHash(Buffer.from(x, 'hex')).toString('hex')),
    reference.leafHashesHex,
  );
  const { read } = referenceStore();
  const frontier = new MerkleFrontier();
  for (let size = 0; size <= 8; size++) {
    const want = reference.rootHashesHexBySize[String(size)];
    assert.equal(treeRoot(size, read).toString('hex'), want, `stored root of size ${size}`);
    assert.equal(frontier.root().toString('hex'), want, `frontier root of size ${size}`);
    const input = reference.leafInputsHex[size];
    if (input !== undefined) frontier.append(leafHash(Buffer.from(input, 'hex')));
  }
});

test('RFC 6962 reference tree: generated proofs equal the happy-path vectors', () => {
  const { read } = referenceStore();
  let compared = 0;
  for (const file of [...inclusionFiles, ...consistencyFiles]) {
    const v = json(file);
    if (v.wantErr !== false || !file.endsWith('happy-path.json')) continue;
    if ('leafIdx' in v) {
      const proof = inclusionProof(v.leafIdx as number, v.treeSize as number, read);
      assert.deepEqual(proof, b64s(v.proof), file);
      assert.deepEqual(treeRoot(v.treeSize as number, read), b64(v.root), file);
    } else {
      const proof = consistencyProof(v.size1 as number, v.size2 as number, read);
      assert.deepEqual(proof, b64s(v.proof), file);
    }
    compared++;
  }
  assert.equal(compared, 10);
});

test('C2SP signed-note example: valid, key ID = SHA-256(name \\n 0x01 pub)[:4]', () => {
  const vkey = line('signed-note/c2sp-example/vkey.txt');
  const key = parseVerifierKey(vkey);
  assert.equal(key.keyId, '530d903a');
  const digest = createHash('sha256')
    .update('example.com/foo\n')
    .update(Buffer.from([0x01]))
    .update(key.publicKey)
    .digest();
  assert.equal(digest.subarray(0, 4).toString('hex'), '530d903a');
  const opened = openNote(text('signed-note/c2sp-example/note.txt'), [vkey]);
  assert.equal(opened.text, 'This is an example message.\n');
  assert.deepEqual(opened.verified, [{ name: 'example.com/foo', keyId: '530d903a', type: 'ed25519' }]);
  assert.equal(opened.unknown, 0);
});

const GO = 'signed-note/go-sumdb-note/';
const PETER = line(`${GO}PeterNeumann.vkey`);
const ENOCH = line(`${GO}EnochRoot.vkey`);
const PETER_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";

test('Go sumdb note: Peter verifies, and re-signing gives byte-identical output', () => {
  const note = text(`${GO}note-peter.txt`);
  const opened = openNote(note, [PETER]);
  assert.equal(opened.text, PETER_TEXT);
  assert.deepEqual(opened.verified, [{ name: 'PeterNeumann', keyId: 'c74f20a3', type: 'ed25519' }]);
  const signer = parseSignerKey(line(`${GO}PeterNeumann.skey`));
  assert.equal(signer.keyId, 'c74f20a3');
  assert.equal(signNote(PETER_TEXT, [signer]), note);
  assert.equal(signNote(parseNote(note).text, [line(`${GO}PeterNeumann.skey`)]), note);
});

test('Go sumdb note: an unknown key is ignored, both keys verify when known', () => {
  const note = text(`${GO}note-peter-enoch.txt`);
  const peterOnly = openNote(note, [PETER]);
  assert.deepEqual(
    peterOnly.verified.map((v) => v.name),
    ['PeterNeumann'],
  );
  assert.equal(peterOnly.unknown, 1);
  const both = openNote(note, [PETER, ENOCH]);
  assert.deepEqual(
    both.verified.map((v) => `${v.name}+${v.keyId}`),
    ['PeterNeumann+c74f20a3', 'EnochRoot+af0cfe78'],
  );
  assert.equal(both.unknown, 0);
  // Enoch alone is also enough: the note is signed by a known key.
  assert.equal(openNote(note, [ENOCH]).verified.length, 1);
});

test('Go sumdb note: a corrupted signature from a known key rejects the note', () => {
  assert.throws(() => openNote(text(`${GO}note-peter-corrupted.txt`), [PETER]), {
    name: 'AuditVerifyError',
    code: 'signature_invalid',
    message: 'invalid signature for key `PeterNeumann+c74f20a3`',
  });
  // Without Peter's key, the corrupted line is just an unknown signature and nothing verifies.
  assert.throws(() => openNote(text(`${GO}note-peter-corrupted.txt`), [ENOCH]), {
    code: 'note_unverified',
  });
});

test('Go sumdb note: both malformed notes are rejected before any signature is checked', () => {
  for (const file of ['note-malformed-no-final-newline.txt', 'note-malformed-trailing-line.txt']) {
    assert.throws(() => openNote(text(`${GO}${file}`), [PETER]), { code: 'note_malformed' }, file);
    assert.throws(() => parseNote(text(`${GO}${file}`)), { code: 'note_malformed' }, file);
  }
});

test('Go sumdb tree note: the checkpoint body parses, its root is RecordHash("hello world")', () => {
  const body = text('checkpoints/go-sumdb-tree-note.txt');
  const cp = parseCheckpoint(body);
  assert.equal(cp.origin, 'go.sum database tree');
  assert.equal(cp.size, 123456789012);
  assert.deepEqual(cp.root, leafHash(Buffer.from('hello world')));
  assert.deepEqual(cp.extensions, []);
  assert.equal(formatCheckpoint(cp), body);
});

const ARCHE = 'checkpoints/arche2025h1-cosigned/';
const ARCHE_LOG = line(`${ARCHE}log.vkey`);
const WITNESSES = ['little-garden', 'smartit', 'remora'].map((w) => line(`${ARCHE}${w}.witness.vkey`));

test('arche2025h1: the log signature and four cosignatures verify, unknown keys are ignored', () => {
  const note = text(`${ARCHE}checkpoint.txt`);
  const opened = openNote(note, [ARCHE_LOG, ...WITNESSES]);
  assert.deepEqual(
    opened.verified.map((v) => [v.name, v.keyId, v.type, v.timestamp]),
    [
      ['arche2025h1.staging.ct.transparency.dev', 'ba2f06c0', 'ed25519', undefined],
      ['transparency.dev/DEV:witness-little-garden', 'd8042a87', 'cosignature', 1779573024],
      ['witness1.smartit.nu/witness1', 'a48c820f', 'cosignature', 1779573024],
      ['remora.n621.de', 'da77ade7', 'cosignature', 1779573024],
    ],
  );
  // The RFC 6962 STH signature (cd333cb1) and stagemole (67f7aea0): no keys given.
  assert.equal(opened.unknown, 2);
  assert.equal(new Date(1779573024 * 1000).toISOString(), '2026-05-23T21:50:24.000Z');
  const cp = parseCheckpoint(opened.text);
  assert.equal(cp.origin, 'arche2025h1.staging.ct.transparency.dev');
  assert.equal(cp.size, 1432088532);
  // With the log key alone every witness line is unknown.
  assert.equal(openNote(note, [ARCHE_LOG]).unknown, 5);
});

test('arche2025h1: changing the size line invalidates every known signature', () => {
  const altered = text(`${ARCHE}checkpoint.txt`).replace('\n1432088532\n', '\n1432088533\n');
  assert.notEqual(altered, text(`${ARCHE}checkpoint.txt`));
  for (const key of [ARCHE_LOG, ...WITNESSES]) {
    assert.throws(() => openNote(altered, [key]), { code: 'signature_invalid' }, key);
  }
});

const REKOR = 'checkpoints/rekor-v1/';
const REKOR_VKEY = line(`${REKOR}rekor.sigstore.dev.vkey`);

test('Rekor v1: the ECDSA vkey is the trusted root key, key ID = SHA-256(DER)[:4]', () => {
  const key = parseVerifierKey(REKOR_VKEY);
  assert.equal(key.type, 'ecdsa-p256');
  assert.equal(key.keyId, 'c0d23d6a');
  assert.equal(
    createHash('sha256').update(key.publicKey).digest().subarray(0, 4).toString('hex'),
    'c0d23d6a',
  );
  const trusted = json('checkpoints/sigstore-trusted-root-logs/rekor.sigstore.dev.json') as {
    publicKey: { rawBytes: string };
    logId: { keyId: string };
  };
  assert.deepEqual(key.publicKey, b64(trusted.publicKey.rawBytes));
  assert.deepEqual(createHash('sha256').update(key.publicKey).digest(), b64(trusted.logId.keyId));
  const pem = createPublicKey(text('checkpoints/sigstore-trusted-root-logs/rekor.sigstore.dev.pem'));
  assert.deepEqual(pem.export({ format: 'der', type: 'spki' }), key.publicKey);
});

test('Rekor v1: both checkpoints verify with ECDSA', () => {
  const small = openNote(text(`${REKOR}checkpoint-798034.txt`), [REKOR_VKEY]);
  assert.deepEqual(small.verified, [{ name: 'rekor.sigstore.dev', keyId: 'c0d23d6a', type: 'ecdsa-p256' }]);
  assert.equal(parseCheckpoint(small.text).size, 798034);
  const shard = openNote(text(`${REKOR}checkpoint-476246825.txt`), [REKOR_VKEY]);
  const cp = parseCheckpoint(shard.text);
  assert.equal(cp.origin, 'rekor.sigstore.dev - 1193050959916656506');
  assert.equal(cp.size, 476246825);
  const tampered = text(`${REKOR}checkpoint-798034.txt`).replace('798034', '798035');
  assert.throws(() => openNote(tampered, [REKOR_VKEY]), { code: 'signature_invalid' });
});

test('Rekor v1: the inclusion proof leads to the signed root; leafIdx-1 does not', () => {
  const v = json(`${REKOR}inclusion-proof-476246824.json`);
  const cp = parseCheckpoint(openNote(text(`${REKOR}checkpoint-476246825.txt`), [REKOR_VKEY]).text);
  assert.deepEqual(cp.root, b64(v.root));
  assert.equal(cp.size, v.treeSize);
  const leaf = leafHash(b64(v.canonicalizedBody));
  const proof = b64s(v.proof);
  assert.equal(proof.length, 14);
  verifyInclusion(leaf, v.leafIdx as number, cp.size, proof, cp.root);
  assert.throws(() => verifyInclusion(leaf, (v.leafIdx as number) - 1, cp.size, proof, cp.root), {
    code: 'proof_invalid',
  });
});

test('Rekor v2 (log2025-1): the derived Ed25519 vkey matches the trusted root key and log ID', () => {
  const vkey = 'log2025-1.rekor.sigstore.dev+cf119915+AbfK5adZJxsI323FwGD2AJJ9F4i89cfDuLdGJBIYntuO';
  const key = parseVerifierKey(vkey);
  assert.equal(key.type, 'ed25519');
  assert.equal(key.keyId, 'cf119915');
  const trusted = json('checkpoints/sigstore-trusted-root-logs/log2025-1.rekor.sigstore.dev.json') as {
    publicKey: { rawBytes: string };
    logId: { keyId: string };
  };
  const spki = createPublicKey(
    text('checkpoints/sigstore-trusted-root-logs/log2025-1.rekor.sigstore.dev.pem'),
  ).export({ format: 'der', type: 'spki' });
  assert.deepEqual(spki, b64(trusted.publicKey.rawBytes));
  assert.deepEqual(key.publicKey, spki.subarray(spki.length - 32));
  const logId = createHash('sha256')
    .update('log2025-1.rekor.sigstore.dev\n')
    .update(Buffer.from([0x01]))
    .update(key.publicKey)
    .digest();
  assert.deepEqual(logId, b64(trusted.logId.keyId));
});
