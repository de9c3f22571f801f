// Evidence bundles end to end: a log built with tree.ts, a checkpoint signed with note.ts and
// cosigned by two witnesses, a bundle for one entry, then every tampering an auditor must catch,
// each with its own error code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  formatCheckpoint,
  formatEvidence,
  formatVerifierKey,
  generateSignerKey,
  inclusionProof,
  leafHash,
  MerkleFrontier,
  parseEvidence,
  parseNote,
  signNote,
  verifyEvidence,
  type EvidenceJson,
  type HashReader,
  type NoteSignerKey,
} from '../../src/audit/verify/index.js';

const ORIGIN = 'warden.test/audit';
const SIZE = 37;
const INDEX = 13;

const entries = Array.from({ length: SIZE }, (_, i) =>
  Buffer.from(JSON.stringify({ seq: i, event: 'tool.call', nonce: randomBytes(8).toString('hex') })),
);
const stored = new Map<string, Buffer>();
const frontier = new MerkleFrontier();
for (const e of entries) {
  for (const h of frontier.append(leafHash(e))) stored.set(`${h.level}/${h.index}`, h.hash);
}
const read: HashReader = (level, index) => {
  const h = stored.get(`${level}/${index}`);
  if (!h) throw new Error(`missing ${level}/${index}`);
  return h;
};

const logKey = generateSignerKey(ORIGIN, 'ed25519');
const pqKey = generateSignerKey(ORIGIN, 'mldsa65');
const witness1 = generateSignerKey('witness.test/one', 'cosignature');
const witness2 = generateSignerKey('witness.test/two', 'cosignature');
const vkey = (k: NoteSignerKey): string => formatVerifierKey(k.verifierKey);
const LOG = vkey(logKey);
const PQ = vkey(pqKey);
const WITNESSES = [vkey(witness1), vkey(witness2)];

const body = formatCheckpoint({ origin: ORIGIN, size: SIZE, root: frontier.root() });
const logSigned = signNote(body, [logKey, pqKey]);
// The witnesses add their cosignatures to the log's signed note, keeping its lines.
const cosigned = signNote(body, [witness1, witness2], {
  existing: parseNote(logSigned).signatures,
  timestamp: 1750000000,
});

function bundle(overrides: Partial<EvidenceJson> = {}): EvidenceJson {
  return {
    ...formatEvidence({
      entry: entries[INDEX] as Buffer,
      index: INDEX,
      size: SIZE,
      inclusionProof: inclusionProof(INDEX, SIZE, read),
      checkpoint: cosigned,
      verifierKey: LOG,
    }),
    ...overrides,
  };
}
const code = (c: string) => ({ name: 'AuditVerifyError', code: c });
const verify = (json: unknown, options: Parameters<typeof verifyEvidence>[1] = { keys: [LOG] }) =>
  verifyEvidence(parseEvidence(json), options);

test('a valid bundle verifies with the log key alone, and with its witnesses', () => {
  const result = verify(bundle());
  assert.deepEqual(result.entry, entries[INDEX]);
  assert.equal(result.index, INDEX);
  assert.equal(result.size, SIZE);
  assert.deepEqual(result.root, frontier.root());
  assert.equal(result.origin, ORIGIN);
  assert.deepEqual(result.cosigners, []);
  const witnessed = verify(bundle(), { keys: [LOG], witnessKeys: WITNESSES, minCosignatures: 2 });
  assert.deepEqual(witnessed.cosigners, ['witness.test/one', 'witness.test/two']);
  // JSON text works as well as the parsed value, and so does the post-quantum key alone.
  assert.equal(verify(JSON.stringify(bundle())).index, INDEX);
  assert.equal(verify(bundle(), { keys: [PQ] }).size, SIZE);
  assert.equal(verify(bundle(), { keys: [LOG], origin: ORIGIN }).origin, ORIGIN);
  // Every entry of the log has a bundle that verifies.
  for (let i = 0; i < SIZE; i++) {
    const b = bundle({
      entry: (entries[i] as Buffer).toString('base64'),
      index: i,
      inclusion_proof: inclusionProof(i, SIZE, read).map((h) => h.toString('base64')),
    });
    assert.equal(verify(b).index, i);
  }
});

test('a changed entry byte fails the inclusion proof', () => {
  const entry = Buffer.from(entries[INDEX] as Buffer);
  entry[5] = (entry[5] as number) ^ 1;
  assert.throws(() => verify(bundle({ entry: entry.toString('base64') })), code('proof_invalid'));
  assert.throws(() => verify(bundle({ entry: '' })), code('proof_invalid'));
});

test('a changed index fails the inclusion proof', () => {
  for (const index of [INDEX - 1, INDEX + 1, 0, SIZE - 1, SIZE, SIZE + 100]) {
    assert.throws(() => verify(bundle({ index })), code('proof_invalid'), String(index));
  }
});

test('a changed, shortened, lengthened or reordered proof fails', () => {
  const proof = bundle().inclusion_proof;
  assert.ok(proof.length >= 4);
  for (let i = 0; i < proof.length; i++) {
    const h = Buffer.from(proof[i] as string, 'base64');
    h[0] = (h[0] as number) ^ 0x80;
    const changed = proof.map((p, j) => (j === i ? h.toString('base64') : p));
    assert.throws(() => verify(bundle({ inclusion_proof: changed })), code('proof_invalid'), String(i));
  }
  assert.throws(() => verify(bundle({ inclusion_proof: proof.slice(1) })), code('proof_invalid'));
  assert.throws(
    () => verify(bundle({ inclusion_proof: [...proof, proof[0] as string] })),
    code('proof_invalid'),
  );
  assert.throws(() => verify(bundle({ inclusion_proof: [...proof].reverse() })), code('proof_invalid'));
  assert.throws(() => verify(bundle({ inclusion_proof: [] })), code('proof_invalid'));
});

test('a changed checkpoint size or root breaks the log signature', () => {
  const lines = cosigned.split('\n');
  const withLine = (i: number, value: string) => lines.map((l, j) => (j === i ? value : l)).join('\n');
  const otherRoot = randomBytes(32).toString('base64');
  assert.throws(
    () => verify(bundle({ checkpoint: withLine(1, String(SIZE + 1)), size: SIZE + 1 })),
    code('signature_invalid'),
  );
  assert.throws(() => verify(bundle({ checkpoint: withLine(2, otherRoot) })), code('signature_invalid'));
  assert.throws(
    () => verify(bundle({ checkpoint: withLine(0, 'other.test/log') })),
    code('signature_invalid'),
  );
  // A consistent claim that does not match the checkpoint: the bundle's own size field.
  assert.throws(() => verify(bundle({ size: SIZE + 1 })), code('evidence_invalid'));
  assert.throws(() => verify(bundle({ size: SIZE - 1 })), code('evidence_invalid'));
});

test('the log key must come from the auditor, never from the bundle', () => {
  const other = generateSignerKey(ORIGIN, 'ed25519');
  // Wrong key: the checkpoint is not signed by it.
  assert.throws(() => verify(bundle(), { keys: [vkey(other)] }), code('note_unverified'));
  // A forged log: its own tree and checkpoint, signed by a key the bundle names. The auditor's key
  // does not sign it, so it fails even though the bundle is internally consistent.
  const forged = new MerkleFrontier();
  forged.append(leafHash(Buffer.from('forged')));
  const forgedCheckpoint = signNote(formatCheckpoint({ origin: ORIGIN, size: 1, root: forged.root() }), [
    other,
  ]);
  const forgery = {
    format: 'warden-evidence/v1',
    entry: Buffer.from('forged').toString('base64'),
    index: 0,
    size: 1,
    inclusion_proof: [],
    checkpoint: forgedCheckpoint,
    verifier_key: vkey(other),
  };
  assert.equal(verify(forgery, { keys: [vkey(other)] }).size, 1);
  assert.throws(() => verify(forgery, { keys: [LOG] }), code('note_unverified'));
  // The bundle's verifier_key is not used at all: a wrong one changes nothing.
  assert.equal(verify(bundle({ verifier_key: vkey(other) })).size, SIZE);
  // Witness cosignatures alone do not stand in for the log's signature.
  const witnessOnly = signNote(body, [witness1, witness2]);
  assert.throws(() => verify(bundle({ checkpoint: witnessOnly }), { keys: [LOG], witnessKeys: WITNESSES }), {
    code: 'note_unverified',
    message: /trusted log key/,
  });
  // A log key given as a witness, or a witness key given as a log key, is refused up front.
  assert.throws(() => verify(bundle(), { keys: [WITNESSES[0] as string] }), code('key_invalid'));
  assert.throws(() => verify(bundle(), { keys: [LOG], witnessKeys: [PQ] }), code('key_invalid'));
  assert.throws(() => verify(bundle(), { keys: [LOG], origin: 'other.test/log' }), code('evidence_invalid'));
});

test('missing cosignatures are refused; the bundle can raise the minimum, never lower it', () => {
  assert.throws(
    () => verify(bundle(), { keys: [LOG], witnessKeys: WITNESSES, minCosignatures: 3 }),
    code('cosignatures_insufficient'),
  );
  assert.throws(
    () => verify(bundle(), { keys: [LOG], witnessKeys: [WITNESSES[0] as string], minCosignatures: 2 }),
    code('cosignatures_insufficient'),
  );
  assert.throws(
    () => verify(bundle(), { keys: [LOG], minCosignatures: 1 }),
    code('cosignatures_insufficient'),
  );
  assert.throws(
    () =>
      verify(bundle({ checkpoint: logSigned }), { keys: [LOG], witnessKeys: WITNESSES, minCosignatures: 1 }),
    code('cosignatures_insufficient'),
  );
  assert.throws(
    () => verify(bundle({ cosignatures_required: 3 }), { keys: [LOG], witnessKeys: WITNESSES }),
    code('cosignatures_insufficient'),
  );
  assert.equal(
    verify(bundle({ cosignatures_required: 2 }), { keys: [LOG], witnessKeys: WITNESSES }).cosigners.length,
    2,
  );
  assert.throws(
    () =>
      verify(bundle({ checkpoint: logSigned, cosignatures_required: 0 }), {
        keys: [LOG],
        witnessKeys: WITNESSES,
        minCosignatures: 2,
      }),
    code('cosignatures_insufficient'),
  );
  // A trusted witness's bad cosignature rejects the checkpoint outright.
  const lines = cosigned.split('\n');
  const last = lines.length - 2;
  const sig = Buffer.from((lines[last] as string).split(' ')[2] as string, 'base64');
  sig[20] = (sig[20] as number) ^ 1;
  lines[last] = `— witness.test/two ${sig.toString('base64')}`;
  assert.throws(
    () => verify(bundle({ checkpoint: lines.join('\n') }), { keys: [LOG], witnessKeys: WITNESSES }),
    code('signature_invalid'),
  );
});

test('malformed bundles are refused with evidence_malformed', () => {
  const good = bundle();
  const withoutProof: Record<string, unknown> = { ...good };
  delete withoutProof.inclusion_proof;
  const bad: unknown[] = [
    null,
    42,
    [],
    'not json',
    '[1]',
    withoutProof,
    { ...good, extra: true },
    { ...good, format: 'warden-evidence/v2' },
    { ...good, entry: 'not base64!' },
    { ...good, entry: 'QQ' },
    { ...good, entry: 'QR==' },
    { ...good, entry: 5 },
    { ...good, index: -1 },
    { ...good, index: 1.5 },
    { ...good, index: '13' },
    { ...good, index: 2 ** 60 },
    { ...good, size: 0 },
    { ...good, inclusion_proof: [randomBytes(31).toString('base64')] },
    { ...good, inclusion_proof: 'x' },
    { ...good, inclusion_proof: Array.from({ length: 65 }, () => randomBytes(32).toString('base64')) },
    { ...good, checkpoint: 7 },
    { ...good, verifier_key: null },
    { ...good, cosignatures_required: 101 },
    { ...good, cosignatures_required: -1 },
  ];
  for (const json of bad)
    assert.throws(() => parseEvidence(json), code('evidence_malformed'), JSON.stringify(json));
  // A malformed checkpoint inside a well-formed bundle.
  assert.throws(() => verify({ ...good, checkpoint: 'no signatures\n' }), code('note_malformed'));
  const unsignedBody = signNote('not a checkpoint\n', [logKey]);
  assert.throws(() => verify({ ...good, checkpoint: unsignedBody }), code('checkpoint_malformed'));
});

test('bad options are refused before anything is verified', () => {
  const b = parseEvidence(bundle());
  assert.throws(() => verifyEvidence(b, { keys: [] }), code('argument_invalid'));
  assert.throws(() => verifyEvidence(b, { keys: LOG as never }), code('argument_invalid'));
  assert.throws(() => verifyEvidence(b, { keys: [42 as never] }), code('argument_invalid'));
  assert.throws(() => verifyEvidence(b, { keys: ['not a key'] }), code('key_invalid'));
  assert.throws(() => verifyEvidence(b, { keys: [LOG], minCosignatures: -1 }), code('argument_invalid'));
  assert.throws(
    () => verifyEvidence(b, { keys: [LOG], minCosignatures: 1n as never }),
    code('argument_invalid'),
  );
  assert.throws(() => verifyEvidence(b, undefined as never), code('argument_invalid'));
  assert.throws(() => verifyEvidence(null as never, { keys: [LOG] }), code('argument_invalid'));
});
