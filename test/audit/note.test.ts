// Signed notes: Go's note_test.go cases (key manglings, malformed notes, duplicate and unknown
// signatures), the cosignature/v1 message checked by hand, and the ML-DSA-65 signature type.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import {
  formatSignerKey,
  formatVerifierKey,
  generateSignerKey,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  type NoteSignerType,
} from '../../src/audit/verify/index.js';

// golang.org/x/mod/sumdb/note/note_test.go
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

const MLDSA_ID = Buffer.from('warden/ml-dsa-65/v1\n', 'ascii');
const code = (c: string) => ({ name: 'AuditVerifyError', code: c });
// The base64 part of a key string: base64 itself may hold plus signs.
const keyBytes = (key: string, skip: number): Buffer =>
  Buffer.from(key.split('+').slice(skip).join('+'), 'base64');

/** Every proper substring and every one-character increment of `key`. */
function manglings(key: string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= key.length; i++) {
    for (let j = i + 1; j <= key.length; j++) if (i !== 0 || j !== key.length) out.push(key.slice(i, j));
  }
  for (let i = 0; i < key.length; i++) {
    out.push(key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1));
  }
  return out;
}

test('verifier keys: Go vkey parses and formats back; every mangling is refused', () => {
  const key = parseVerifierKey(PETER_VKEY);
  assert.equal(key.name, 'PeterNeumann');
  assert.equal(key.keyId, 'c74f20a3');
  assert.equal(key.type, 'ed25519');
  assert.equal(formatVerifierKey(key), PETER_VKEY);
  const bad = manglings(PETER_VKEY);
  assert.ok(bad.length > 2000);
  for (const k of bad) assert.throws(() => parseVerifierKey(k), code('key_invalid'), k);
  // From note_test.go: wrong key length and unknown algorithm, each with a matching key hash.
  assert.throws(
    () => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='),
    code('key_invalid'),
  );
  assert.throws(
    () => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
    code('key_invalid'),
  );
  // Upper-case hex is accepted, as Go's ParseUint does, and normalised.
  assert.equal(parseVerifierKey(PETER_VKEY.replace('c74f20a3', 'C74F20A3')).keyId, 'c74f20a3');
  assert.throws(() => parseVerifierKey(undefined as never), code('key_invalid'));
  assert.throws(() => parseVerifierKey('Peter Neumann+c74f20a3+AAAA'), code('key_invalid'));
});

test('verifier keys: unsupported and malformed types are refused', () => {
  const withType = (name: string, bytes: Buffer): string => {
    const id = createHash('sha256').update(`${name}\n`).update(bytes).digest().subarray(0, 4).toString('hex');
    return `${name}+${id}+${bytes.toString('base64')}`;
  };
  const pub = parseVerifierKey(PETER_VKEY).publicKey;
  // Correct key IDs, so only the type or the material is wrong.
  assert.equal(parseVerifierKey(withType('a', Buffer.concat([Buffer.from([1]), pub]))).type, 'ed25519');
  for (const t of [0x00, 0x03, 0x05, 0x06, 0xfa]) {
    assert.throws(() => parseVerifierKey(withType('a', Buffer.concat([Buffer.from([t]), pub]))), {
      code: 'key_invalid',
      message: /signature type/,
    });
  }
  assert.throws(
    () =>
      parseVerifierKey(withType('a', Buffer.concat([Buffer.from([0xff]), Buffer.from('other/id\n'), pub]))),
    code('key_invalid'),
  );
  assert.throws(() => parseVerifierKey(withType('a', Buffer.concat([Buffer.from([0xff]), MLDSA_ID, pub]))), {
    code: 'key_invalid',
    message: /ml-dsa-65/,
  });
  assert.throws(
    () => parseVerifierKey(withType('a', Buffer.concat([Buffer.from([4]), pub.subarray(1)]))),
    code('key_invalid'),
  );
  // ECDSA: the key ID is SHA-256(DER) and the DER must be a P-256 SPKI.
  const ecdsa = (der: Buffer): string =>
    `a+${createHash('sha256').update(der).digest().subarray(0, 4).toString('hex')}+${Buffer.concat([Buffer.from([2]), der]).toString('base64')}`;
  assert.throws(() => parseVerifierKey(ecdsa(Buffer.from('not der'))), code('key_invalid'));
  const ed25519Spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]);
  assert.throws(() => parseVerifierKey(ecdsa(ed25519Spki)), { code: 'key_invalid', message: /p-256/ });
});

test('signer keys: Go skey parses, formats back and derives the vkey; every mangling is refused', () => {
  const key = parseSignerKey(PETER_SKEY);
  assert.equal(key.keyId, 'c74f20a3');
  assert.equal(formatSignerKey(key), PETER_SKEY);
  assert.equal(formatVerifierKey(key.verifierKey), PETER_VKEY);
  // The seed is not a property: printing or serialising a key shows no secret.
  assert.doesNotMatch(JSON.stringify(key), /AYEKFALVFGyNhPJEMzD1QIDr/);
  for (const k of manglings(PETER_SKEY)) {
    assert.throws(
      () => parseSignerKey(k),
      (err: Error) => {
        assert.equal((err as { code?: string }).code, 'key_invalid', k);
        // An error message never echoes the key material.
        assert.doesNotMatch(err.message, /FALVFGyNhPJ/);
        return true;
      },
    );
  }
  assert.throws(() => parseSignerKey(PETER_VKEY), code('key_invalid'));
  assert.throws(() => parseSignerKey(42 as never), code('key_invalid'));
  assert.throws(() => formatSignerKey({ ...key }), code('argument_invalid'));
});

test('open: Go TestOpen cases', () => {
  const both = openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [PETER_VKEY]);
  assert.equal(both.text, TEXT);
  assert.deepEqual(both.verified, [{ name: 'PeterNeumann', keyId: 'c74f20a3', type: 'ed25519' }]);
  assert.equal(both.unknown, 1);
  assert.equal(openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [PETER_VKEY, ENOCH_VKEY]).verified.length, 2);
  // No known key at all.
  assert.throws(() => openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, []), code('note_unverified'));
  // The same key twice is not ambiguous; it is the same key.
  assert.equal(openNote(`${TEXT}\n${PETER_SIG}`, [ENOCH_VKEY, PETER_VKEY, PETER_VKEY]).verified.length, 1);
  // Too many signatures.
  assert.throws(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, [PETER_VKEY]), code('note_malformed'));
  assert.throws(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, []), code('note_malformed'));
  assert.equal(openNote(`${TEXT}\n${PETER_SIG.repeat(100)}`, [PETER_VKEY]).verified.length, 1);
  // An invalid signature from a known key.
  const corrupt = (sig: string) => sig.slice(0, 60) + 'ABCD' + sig.slice(60);
  assert.throws(() => openNote(`${TEXT}\n${corrupt(PETER_SIG)}`, [PETER_VKEY]), code('signature_invalid'));
  // Duplicated verified and unverified signatures: a known key's first line decides; unknown
  // lines are counted once each.
  const dup = openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}${corrupt(ENOCH_SIG)}`, [
    PETER_VKEY,
  ]);
  assert.equal(dup.verified.length, 1);
  assert.equal(dup.unknown, 2);
  // Invalid encodings.
  const bad: (string | Uint8Array)[] = [
    TEXT,
    `${TEXT}\n`,
    `${TEXT}\n${PETER_SIG.slice(0, -1)}`,
    `\x01${TEXT}\n${PETER_SIG}`,
    Buffer.concat([Buffer.from([0xff]), Buffer.from(`${TEXT}\n${PETER_SIG}`)]),
    `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
    `${TEXT}\n${PETER_SIG}Unexpected line.\n`,
    // Beyond Go's list: a lone surrogate, a tab, a carriage return, a short signature, bad base64,
    // a hyphen for the em dash, a plus in the name, no signature at all.
    `${TEXT.replace('you', 'y\uD800u')}\n${PETER_SIG}`,
    `${TEXT}\n${PETER_SIG.replace(' x08', '\tx08')}`,
    `${TEXT}\r\n${PETER_SIG}`,
    `${TEXT}\n— PeterNeumann x08gow==\n`,
    `${TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n`,
    `${TEXT}\n${PETER_SIG.replace('—', '-')}`,
    `${TEXT}\n${PETER_SIG.replace('Peter', 'Pe+ter')}`,
    `${TEXT}\n\n`,
    42 as never,
  ];
  for (const note of bad) {
    assert.throws(() => openNote(note, [PETER_VKEY]), code('note_malformed'), String(note));
  }
  // Bytes are accepted as well as text.
  assert.equal(openNote(Buffer.from(`${TEXT}\n${PETER_SIG}`), [PETER_VKEY]).text, TEXT);
  // A blank line inside the text: the last one separates the signatures.
  const multi = 'a\n\nb\n';
  const signed = signNote(multi, [PETER_SKEY]);
  assert.equal(openNote(signed, [PETER_VKEY]).text, multi);
  assert.throws(() => openNote(signed.replace('a\n\nb', 'a\n\nc'), [PETER_VKEY]), code('signature_invalid'));
});

test('open: bad verifier key lists are refused', () => {
  const note = `${TEXT}\n${PETER_SIG}`;
  assert.throws(() => openNote(note, PETER_VKEY as never), code('argument_invalid'));
  assert.throws(() => openNote(note, ['nonsense']), code('key_invalid'));
  assert.throws(() => openNote(note, [42 as never]), code('key_invalid'));
  // A key object built by hand is checked through its text form.
  const key = parseVerifierKey(PETER_VKEY);
  assert.equal(openNote(note, [{ ...key }]).verified.length, 1);
  assert.throws(() => openNote(note, [{ ...key, keyId: '00000000' }]), code('key_invalid'));
  assert.throws(() => openNote(note, [{ ...key, publicKey: Buffer.alloc(31) }]), code('key_invalid'));
});

test('sign: Go TestSign cases', () => {
  const want = `${TEXT}\n${PETER_SIG}`;
  assert.equal(signNote(TEXT, [PETER_SKEY]), want);
  // An existing signature by the same key is replaced.
  const stale = { name: 'PeterNeumann', keyId: 'c74f20a3', signature: Buffer.from('BADSIGN', 'base64') };
  assert.equal(signNote(TEXT, [PETER_SKEY], { existing: [stale] }), want);
  // Other existing signatures are kept, before the new ones.
  const enoch = parseNote(`${TEXT}\n${ENOCH_SIG}`).signatures;
  assert.equal(signNote(TEXT, [PETER_SKEY], { existing: enoch }), `${TEXT}\n${ENOCH_SIG}${PETER_SIG}`);
  assert.throws(() => signNote('abc', [PETER_SKEY]), code('note_malformed'));
  assert.throws(() => signNote('a\u0007\n', [PETER_SKEY]), code('note_malformed'));
  assert.throws(
    () =>
      signNote(TEXT, [PETER_SKEY], {
        existing: [{ name: 'a+b', keyId: '00000000', signature: Buffer.from('x') }],
      }),
    code('note_malformed'),
  );
  assert.throws(() => signNote(TEXT, []), code('argument_invalid'));
  assert.throws(() => signNote(TEXT, [PETER_SKEY, PETER_SKEY]), code('argument_invalid'));
  assert.throws(() => signNote(TEXT, [{ ...parseSignerKey(PETER_SKEY) }]), code('argument_invalid'));
  assert.throws(() => signNote(TEXT, [PETER_SKEY], { timestamp: 1n as never }), code('argument_invalid'));
  assert.throws(() => signNote(TEXT, [PETER_SKEY], { timestamp: -1 }), code('argument_invalid'));
});

test('generated keys of every type round-trip through their text forms', () => {
  for (const type of ['ed25519', 'cosignature', 'mldsa65'] as NoteSignerType[]) {
    const key = generateSignerKey('warden.test/log', type);
    assert.equal(key.type, type);
    const skey = formatSignerKey(key);
    const vkey = formatVerifierKey(key.verifierKey);
    const again = parseSignerKey(skey);
    assert.equal(again.keyId, key.keyId);
    assert.equal(formatVerifierKey(again.verifierKey), vkey);
    assert.equal(parseVerifierKey(vkey).keyId, key.keyId);
    const note = signNote('warden.test/log\n1\nAAAA\n', [again], { timestamp: 1700000000 });
    const opened = openNote(note, [vkey]);
    assert.equal(opened.verified[0]?.type, type);
    assert.equal(opened.verified[0]?.timestamp, type === 'cosignature' ? 1700000000 : undefined);
    assert.throws(() => openNote(note.replace('\n1\n', '\n2\n'), [vkey]), code('signature_invalid'), type);
    // Another key of the same name is a different key.
    const other = formatVerifierKey(generateSignerKey('warden.test/log', type).verifierKey);
    assert.throws(() => openNote(note, [other]), code('note_unverified'), type);
  }
  assert.throws(() => generateSignerKey('has space', 'ed25519'), code('argument_invalid'));
  assert.throws(() => generateSignerKey('', 'ed25519'), code('argument_invalid'));
  assert.throws(() => generateSignerKey('a', 'ecdsa-p256' as never), code('argument_invalid'));
});

test('cosignature/v1: key ID with 0x04, and Ed25519 over "cosignature/v1\\ntime <t>\\n" || text', () => {
  const key = generateSignerKey('witness.test/w1', 'cosignature');
  const pub = key.verifierKey.publicKey;
  const id = createHash('sha256')
    .update('witness.test/w1\n')
    .update(Buffer.from([0x04]))
    .update(pub)
    .digest()
    .subarray(0, 4);
  assert.equal(key.keyId, id.toString('hex'));
  assert.ok(
    formatVerifierKey(key.verifierKey).endsWith(Buffer.concat([Buffer.from([4]), pub]).toString('base64')),
  );
  const text = 'log.test\n5\nAAAA\n';
  const note = signNote(text, [key], { timestamp: 1779573024 });
  const sig = parseNote(note).signatures[0]?.signature as Buffer;
  assert.equal(sig.length, 8 + 64);
  assert.equal(sig.readBigUInt64BE(0), 1779573024n);
  const spki = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]),
    format: 'der',
    type: 'spki',
  });
  const message = Buffer.from(`cosignature/v1\ntime 1779573024\n${text}`);
  assert.ok(cryptoVerify(null, message, spki, sig.subarray(8)));
  // A timestamp changed in the line breaks the signature.
  const raw = Buffer.concat([id, sig]);
  raw.writeBigUInt64BE(1779573025n, 4);
  const forged = `${text}\n— witness.test/w1 ${raw.toString('base64')}\n`;
  assert.throws(() => openNote(forged, [key.verifierKey]), code('signature_invalid'));
  // Timestamps past 2^53 cannot be represented and are refused as invalid.
  raw.writeBigUInt64BE(2n ** 63n - 1n, 4);
  assert.throws(
    () => openNote(`${text}\n— witness.test/w1 ${raw.toString('base64')}\n`, [key.verifierKey]),
    code('signature_invalid'),
  );
  // The same material as a plain Ed25519 key would get another key ID: the type byte is hashed.
  const plain = createHash('sha256')
    .update('witness.test/w1\n')
    .update(Buffer.from([0x01]))
    .update(pub)
    .digest()
    .subarray(0, 4);
  assert.notEqual(plain.toString('hex'), key.keyId);
  const asEd25519 = `witness.test/w1+${plain.toString('hex')}+${Buffer.concat([Buffer.from([1]), pub]).toString('base64')}`;
  assert.throws(() => openNote(note, [asEd25519]), code('note_unverified'));
});

test('ML-DSA-65: 0xff type with the Warden identifier, key ID, round trip and tampering', () => {
  const key = generateSignerKey('warden.test/pq', 'mldsa65');
  const vkey = formatVerifierKey(key.verifierKey);
  const bytes = keyBytes(vkey, 2);
  assert.equal(bytes[0], 0xff);
  assert.deepEqual(bytes.subarray(1, 21), MLDSA_ID);
  const pub = bytes.subarray(21);
  assert.equal(pub.length, 1952);
  const id = createHash('sha256').update('warden.test/pq\n').update(bytes).digest().subarray(0, 4);
  assert.equal(key.keyId, id.toString('hex'));
  assert.match(formatSignerKey(key), /^PRIVATE\+KEY\+warden\.test\/pq\+[0-9a-f]{8}\+/);
  assert.equal(keyBytes(formatSignerKey(key), 4).length, 1 + 20 + 32);

  const text = 'warden.test/pq\n42\nAAAA\n';
  const ed = generateSignerKey('warden.test/pq', 'ed25519');
  const note = signNote(text, [ed, key]);
  const sigs = parseNote(note).signatures;
  assert.equal(sigs[1]?.signature.length, 3309);
  // Plain FIPS 204 ML-DSA-65 over the note text, checked without the library under test.
  assert.ok(ml_dsa65.verify(sigs[1]?.signature, Buffer.from(text), pub));

  assert.deepEqual(
    openNote(note, [vkey]).verified.map((v) => v.type),
    ['mldsa65'],
  );
  assert.equal(openNote(note, [vkey]).unknown, 1);
  // A verifier that knows only the Ed25519 key ignores the post-quantum line.
  assert.equal(openNote(note, [ed.verifierKey]).unknown, 1);
  assert.equal(openNote(note, [ed.verifierKey, vkey]).verified.length, 2);
  // Tampered text, and a flipped signature byte.
  assert.throws(() => openNote(note.replace('\n42\n', '\n43\n'), [vkey]), code('signature_invalid'));
  const raw = Buffer.concat([id, sigs[1]?.signature]);
  raw[100] = (raw[100] as number) ^ 1;
  const flipped = `${text}\n— warden.test/pq ${raw.toString('base64')}\n`;
  assert.throws(() => openNote(flipped, [vkey]), code('signature_invalid'));
  const short = `${text}\n— warden.test/pq ${raw.subarray(0, 200).toString('base64')}\n`;
  assert.throws(() => openNote(short, [vkey]), code('signature_invalid'));
  // The skey re-parses to the same key, and signs for the same vkey.
  const again = parseSignerKey(formatSignerKey(key));
  assert.equal(openNote(signNote(text, [again]), [vkey]).verified.length, 1);
  // A truncated public key is refused.
  const cut = Buffer.concat([Buffer.from([0xff]), MLDSA_ID, pub.subarray(1)]);
  const cutId = createHash('sha256').update('warden.test/pq\n').update(cut).digest().subarray(0, 4);
  assert.throws(
    () => parseVerifierKey(`warden.test/pq+${cutId.toString('hex')}+${cut.toString('base64')}`),
    code('key_invalid'),
  );
});

test('ECDSA keys verify only', () => {
  const rekor =
    'rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=';
  const key = parseVerifierKey(rekor);
  assert.equal(formatVerifierKey(key), rekor);
  // The name is not hashed into an ECDSA key ID: renaming keeps the ID.
  assert.equal(parseVerifierKey(rekor.replace('rekor.sigstore.dev', 'other')).keyId, 'c0d23d6a');
  const skey = `PRIVATE+KEY+rekor.sigstore.dev+c0d23d6a+${Buffer.concat([Buffer.from([2]), Buffer.alloc(32)]).toString('base64')}`;
  assert.throws(() => parseSignerKey(skey), { code: 'key_invalid', message: /only verifies/ });
});
