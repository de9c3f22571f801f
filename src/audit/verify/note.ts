// C2SP signed notes (c2sp.org/signed-note): parsing exactly as Go's golang.org/x/mod/sumdb/note
// Open does, verifier and signer keys, signing, and verification with these signature types:
//
//   0x01  Ed25519 over the note text.
//   0x02  ECDSA P-256 with SHA-256 over the note text, DER signature (transparency-dev/formats).
//         Verify only. The key material is the DER SPKI and the key ID is SHA-256(DER)[:4]: unlike
//         the other types, the name is not hashed.
//   0x04  Ed25519 cosignature/v1 (c2sp.org/tlog-cosignature): the signature is a u64 big-endian
//         timestamp then 64 bytes of Ed25519 over "cosignature/v1\ntime <t>\n" || note text.
//   0xff  "warden/ml-dsa-65/v1\n"  Warden's post-quantum signature line. Warden-specific.
//
// Why 0xff: signed-note.md's registry (C2SP @ 5ba5ee8) assigns no byte to a plain ML-DSA note
// signature. 0x06 is taken by tlog-cosignature's ML-DSA-44 *subtree cosignature*, which signs a
// binary `cosigned_message` (origin, start, end, hash) rather than the note text, and is ML-DSA-44.
// The registry reserves 0xff for "signature types without an identifier byte assigned by this
// specification", RECOMMENDED to be followed by a longer identifier; ours is the 20 ASCII bytes
// above, newline-terminated so that no other identifier can be a prefix of it. So:
//   vkey         name+hex(keyid)+base64(0xff || "warden/ml-dsa-65/v1\n" || 1952-byte public key)
//   skey         PRIVATE+KEY+name+hex(keyid)+base64(0xff || "warden/ml-dsa-65/v1\n" || 32-byte seed)
//   key ID       SHA-256(name || 0x0A || 0xff || "warden/ml-dsa-65/v1\n" || public key)[:4], the
//                spec's recommended derivation with the whole identifier as the signature type
//   signature    key ID || ML-DSA-65 (FIPS 204, pure, empty context) over the note text, 3309 bytes
// The seed is FIPS 204's 32-byte ML-DSA.KeyGen seed. Verifiers that do not know the type ignore
// the line as an unknown key, as the spec requires, so a note stays readable by C2SP tooling.

import { Buffer, isUtf8 } from 'node:buffer';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { q } from '../../errors.js';
import { AuditVerifyError, show } from './errors.js';

export type NoteKeyType = 'ed25519' | 'ecdsa-p256' | 'cosignature' | 'mldsa65';
export type NoteSignerType = 'ed25519' | 'cosignature' | 'mldsa65';

/** A parsed verifier key (vkey). */
export interface NoteVerifierKey {
  readonly name: string;
  /** The 32-bit key ID as 8 lowercase hex digits. */
  readonly keyId: string;
  readonly type: NoteKeyType;
  /** The key material after the type bytes: 32 bytes (Ed25519), DER SPKI (ECDSA), 1952 bytes (ML-DSA-65). */
  readonly publicKey: Buffer;
}

/** A parsed signer key. The private seed is kept out of the object, so logging one leaks nothing. */
export interface NoteSignerKey {
  readonly name: string;
  readonly keyId: string;
  readonly type: NoteSignerType;
  readonly verifierKey: NoteVerifierKey;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: string;
  /** The signature bytes after the 4-byte key ID. */
  readonly signature: Buffer;
}

export interface ParsedNote {
  /** The signed text, with its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface VerifiedSignature {
  readonly name: string;
  readonly keyId: string;
  readonly type: NoteKeyType;
  /** Cosignatures only: the POSIX time the cosigner signed at. */
  readonly timestamp?: number;
}

export interface OpenedNote {
  readonly text: string;
  /** Every known key's signature, each verified, in note order. */
  readonly verified: readonly VerifiedSignature[];
  /** Distinct signature lines from keys not given, ignored. */
  readonly unknown: number;
}

export interface SignNoteOptions {
  /** Cosignature time, POSIX seconds; defaults to now. */
  readonly timestamp?: number;
  /** Signatures to keep (from parseNote of a note with the same text), placed before the new ones. */
  readonly existing?: readonly NoteSignature[];
}

/** Go's note.Open refuses more; the spec asks verifiers to accept at least 16. */
export const NOTE_MAX_SIGNATURES = 100;

const TYPE_ED25519 = 0x01;
const TYPE_ECDSA = 0x02;
const TYPE_COSIGNATURE = 0x04;
const TYPE_EXTENSION = 0xff;
const MLDSA65_ID = Buffer.from('warden/ml-dsa-65/v1\n', 'ascii');

const TYPE_PREFIX: Readonly<Record<NoteKeyType, Buffer>> = {
  ed25519: Buffer.from([TYPE_ED25519]),
  'ecdsa-p256': Buffer.from([TYPE_ECDSA]),
  cosignature: Buffer.from([TYPE_COSIGNATURE]),
  mldsa65: Buffer.concat([Buffer.from([TYPE_EXTENSION]), MLDSA65_ID]),
};
const KEY_TYPES = Object.keys(TYPE_PREFIX) as NoteKeyType[];
const SIGNER_TYPES: readonly NoteSignerType[] = ['ed25519', 'cosignature', 'mldsa65'];

const SEED_SIZE = 32;
const ED25519_KEY_SIZE = 32;
const ED25519_SIG_SIZE = 64;
const TIMESTAMP_SIZE = 8;
const MLDSA65_PUBLIC_KEY_SIZE = 1952;
const MLDSA65_SIG_SIZE = 3309;
// RFC 8410 DER wrappers around a raw Ed25519 key, so node:crypto can import it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const SIG_PREFIX = '\u2014 ';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_ID = /^[0-9a-fA-F]{8}$/;
// Signed notes MUST NOT contain ASCII control characters other than newline.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Go's isValidName: unicode.IsSpace is the Unicode White_Space property.
const NAME_FORBIDDEN = /[\p{White_Space}+]/u;

/**
 * Standard padded base64 (RFC 4648 §4), or undefined. Buffer.from skips characters it does not
 * know, so the alphabet and padding are checked first. `canonical` also refuses non-zero pad bits,
 * which Go's decoder (and so the note format) tolerates.
 */
export function decodeBase64(text: string, canonical = false): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (canonical && bytes.toString('base64') !== text) return undefined;
  return bytes;
}

/** Why `s` cannot be (part of) a note, or undefined: notes are UTF-8 without control characters. */
export function noteTextProblem(s: string): string | undefined {
  if (LONE_SURROGATE.test(s)) return 'holds a lone utf-16 surrogate, which utf-8 cannot encode';
  if (CONTROL.test(s)) return 'holds a control character';
  return undefined;
}

function isValidName(name: string): boolean {
  return name !== '' && !NAME_FORBIDDEN.test(name) && noteTextProblem(name) === undefined;
}

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function computeKeyId(name: string, type: NoteKeyType, material: Buffer): string {
  const digest =
    type === 'ecdsa-p256'
      ? sha256(material)
      : sha256(Buffer.from(`${name}\n`, 'utf8'), TYPE_PREFIX[type], material);
  return digest.subarray(0, 4).toString('hex');
}

type VerifyFn = (text: Buffer, signature: Buffer) => { ok: boolean; timestamp?: number };
type SignFn = (text: Buffer, timestamp: number) => Buffer;

// Built crypto state, kept beside the plain key objects handed out.
const verifiers = new WeakMap<NoteVerifierKey, VerifyFn>();
const signers = new WeakMap<NoteSignerKey, { seed: Buffer; sign: SignFn }>();

function keyError(message: string, cause?: unknown): AuditVerifyError {
  return new AuditVerifyError('key_invalid', message, cause === undefined ? undefined : { cause });
}

function ed25519Verify(key: KeyObject, message: Buffer, signature: Buffer): boolean {
  if (signature.length !== ED25519_SIG_SIZE) return false;
  try {
    return cryptoVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

function cosignatureMessage(timestamp: bigint | number, text: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`cosignature/v1\ntime ${timestamp}\n`, 'ascii'), text]);
}

function importEd25519(name: string, material: Buffer): KeyObject {
  if (material.length !== ED25519_KEY_SIZE) {
    throw keyError(`key ${q(name)} is ${material.length} bytes, not an ed25519 public key`);
  }
  try {
    return createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, material]),
      format: 'der',
      type: 'spki',
    });
  } catch (err) {
    throw keyError(`key ${q(name)} is not a valid ed25519 public key`, err);
  }
}

function buildVerify(name: string, type: NoteKeyType, material: Buffer): VerifyFn {
  switch (type) {
    case 'ed25519': {
      const key = importEd25519(name, material);
      return (text, sig) => ({ ok: ed25519Verify(key, text, sig) });
    }
    case 'cosignature': {
      const key = importEd25519(name, material);
      return (text, sig) => {
        if (sig.length !== TIMESTAMP_SIZE + ED25519_SIG_SIZE) return { ok: false };
        const t = sig.readBigUInt64BE(0);
        // The spec caps timestamps at 2^63-1 and lets verifiers refuse future ones; anything past
        // 2^53 seconds is both in the far future and not exactly representable here.
        if (t > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false };
        const ok = ed25519Verify(key, cosignatureMessage(t, text), sig.subarray(TIMESTAMP_SIZE));
        return { ok, timestamp: Number(t) };
      };
    }
    case 'ecdsa-p256': {
      let key: KeyObject;
      try {
        key = createPublicKey({ key: material, format: 'der', type: 'spki' });
      } catch (err) {
        throw keyError(`key ${q(name)} is not a DER SPKI public key`, err);
      }
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw keyError(`key ${q(name)} is not an ecdsa p-256 public key`);
      }
      // The key ID hashes these exact bytes; a second encoding of the same key would get another ID.
      if (!key.export({ format: 'der', type: 'spki' }).equals(material)) {
        throw keyError(`key ${q(name)} is not in canonical uncompressed DER SPKI form`);
      }
      return (text, sig) => {
        try {
          return { ok: cryptoVerify('sha256', text, { key, dsaEncoding: 'der' }, sig) };
        } catch {
          return { ok: false };
        }
      };
    }
    case 'mldsa65': {
      if (material.length !== MLDSA65_PUBLIC_KEY_SIZE) {
        throw keyError(`key ${q(name)} is ${material.length} bytes, not an ml-dsa-65 public key`);
      }
      const pub = Buffer.from(material);
      return (text, sig) => {
        if (sig.length !== MLDSA65_SIG_SIZE) return { ok: false };
        try {
          return { ok: ml_dsa65.verify(sig, text, pub) };
        } catch {
          return { ok: false };
        }
      };
    }
  }
}

/** Split decoded key bytes into their type and material; refuses types this library does not know. */
function splitType(bytes: Buffer, name: string): { type: NoteKeyType; material: Buffer } {
  switch (bytes[0]) {
    case TYPE_ED25519:
      return { type: 'ed25519', material: bytes.subarray(1) };
    case TYPE_ECDSA:
      return { type: 'ecdsa-p256', material: bytes.subarray(1) };
    case TYPE_COSIGNATURE:
      return { type: 'cosignature', material: bytes.subarray(1) };
    case TYPE_EXTENSION:
      if (bytes.subarray(1, 1 + MLDSA65_ID.length).equals(MLDSA65_ID)) {
        return { type: 'mldsa65', material: bytes.subarray(1 + MLDSA65_ID.length) };
      }
      throw keyError(`key ${q(name)} has an extension signature type this verifier does not know`);
    default:
      throw keyError(
        `key ${q(name)} has signature type 0x${(bytes[0] ?? 0).toString(16).padStart(2, '0')}, which this verifier does not support`,
      );
  }
}

/** `name+keyid+rest` split at the first two plus signs (base64 may hold more). */
function splitKey(s: string): [string, string, string] | undefined {
  const a = s.indexOf('+');
  const b = a < 0 ? -1 : s.indexOf('+', a + 1);
  if (b < 0) return undefined;
  return [s.slice(0, a), s.slice(a + 1, b), s.slice(b + 1)];
}

function makeVerifierKey(name: string, type: NoteKeyType, material: Buffer): NoteVerifierKey {
  const verify = buildVerify(name, type, material);
  const key: NoteVerifierKey = Object.freeze({
    name,
    keyId: computeKeyId(name, type, material),
    type,
    publicKey: Buffer.from(material),
  });
  verifiers.set(key, verify);
  return key;
}

/** Parse a verifier key `name+hex8(keyid)+base64(type || key)`. */
export function parseVerifierKey(vkey: string): NoteVerifierKey {
  if (typeof vkey !== 'string') throw keyError('the verifier key is not a string');
  const parts = splitKey(vkey);
  if (!parts) throw keyError(`verifier key ${q(vkey)} is not of the form name+keyid+key`);
  const [name, id, encoded] = parts;
  if (!isValidName(name)) throw keyError(`verifier key ${q(vkey)} has an invalid name`);
  if (!KEY_ID.test(id)) throw keyError(`verifier key ${q(vkey)} has a key id that is not 8 hex digits`);
  const bytes = decodeBase64(encoded);
  if (!bytes || bytes.length < 2) throw keyError(`verifier key ${q(vkey)} has no base64 key material`);
  const { type, material } = splitType(bytes, name);
  const key = makeVerifierKey(name, type, material);
  if (key.keyId !== id.toLowerCase()) {
    throw keyError(`verifier key ${q(vkey)} has key id ${q(id)} but its key gives ${q(key.keyId)}`);
  }
  return key;
}

/** The vkey text of a verifier key. */
export function formatVerifierKey(key: NoteVerifierKey): string {
  if (typeof key !== 'object' || key === null) throw keyError('the verifier key is not an object');
  const { name, keyId, type, publicKey } = key;
  if (typeof name !== 'string' || !isValidName(name))
    throw keyError(`verifier key name ${show(name)} is invalid`);
  if (!KEY_TYPES.includes(type)) throw keyError(`verifier key type ${show(type)} is not supported`);
  if (!(publicKey instanceof Uint8Array)) throw keyError(`verifier key ${q(name)} has no public key bytes`);
  const material = Buffer.from(publicKey);
  const expected = computeKeyId(name, type, material);
  if (typeof keyId !== 'string' || keyId.toLowerCase() !== expected) {
    throw keyError(`verifier key ${q(name)} has key id ${show(keyId)} but its key gives ${q(expected)}`);
  }
  const vkey = `${name}+${expected}+${Buffer.concat([TYPE_PREFIX[type], material]).toString('base64')}`;
  // Parsing back checks the key material itself (length, curve).
  parseVerifierKey(vkey);
  return vkey;
}

function makeSignerKey(name: string, type: NoteSignerType, seed: Buffer): NoteSignerKey {
  let sign: SignFn;
  let publicKey: Buffer;
  if (type === 'mldsa65') {
    const { publicKey: pub, secretKey } = ml_dsa65.keygen(seed);
    publicKey = Buffer.from(pub);
    sign = (text) => Buffer.from(ml_dsa65.sign(text, secretKey));
  } else {
    let priv: KeyObject;
    try {
      priv = createPrivateKey({
        key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
        format: 'der',
        type: 'pkcs8',
      });
    } catch (err) {
      throw keyError(`signer key ${q(name)} has an invalid ed25519 seed`, err);
    }
    publicKey = createPublicKey(priv)
      .export({ format: 'der', type: 'spki' })
      .subarray(ED25519_SPKI_PREFIX.length);
    sign =
      type === 'cosignature'
        ? (text, timestamp) => {
            const t = Buffer.alloc(TIMESTAMP_SIZE);
            t.writeBigUInt64BE(BigInt(timestamp));
            return Buffer.concat([t, cryptoSign(null, cosignatureMessage(timestamp, text), priv)]);
          }
        : (text) => cryptoSign(null, text, priv);
  }
  const verifierKey = makeVerifierKey(name, type, publicKey);
  const key: NoteSignerKey = Object.freeze({ name, keyId: verifierKey.keyId, type, verifierKey });
  signers.set(key, { seed: Buffer.from(seed), sign });
  return key;
}

/** Parse a signer key `PRIVATE+KEY+name+hex8(keyid)+base64(type || 32-byte seed)`. */
export function parseSignerKey(skey: string): NoteSignerKey {
  // Messages name the key by its name only: the rest of the string is the secret.
  if (typeof skey !== 'string') throw keyError('the signer key is not a string');
  const prefix = 'PRIVATE+KEY+';
  if (!skey.startsWith(prefix)) throw keyError('a signer key must start with PRIVATE+KEY+');
  const parts = splitKey(skey.slice(prefix.length));
  if (!parts) throw keyError('the signer key is not of the form PRIVATE+KEY+name+keyid+key');
  const [name, id, encoded] = parts;
  if (!isValidName(name)) throw keyError('the signer key has an invalid name');
  if (!KEY_ID.test(id)) throw keyError(`signer key ${q(name)} has a key id that is not 8 hex digits`);
  const bytes = decodeBase64(encoded);
  if (!bytes || bytes.length < 2) throw keyError(`signer key ${q(name)} has no base64 key material`);
  const { type, material } = splitType(bytes, name);
  if (type === 'ecdsa-p256') throw keyError(`signer key ${q(name)} is ecdsa, which Warden only verifies`);
  if (material.length !== SEED_SIZE) throw keyError(`signer key ${q(name)} does not hold a 32-byte seed`);
  const key = makeSignerKey(name, type, material);
  if (key.keyId !== id.toLowerCase()) {
    throw keyError(`signer key ${q(name)} has key id ${q(id)} but its key gives ${q(key.keyId)}`);
  }
  return key;
}

function signerState(key: unknown): { seed: Buffer; sign: SignFn } {
  const state = typeof key === 'object' && key !== null ? signers.get(key as NoteSignerKey) : undefined;
  if (!state) {
    throw new AuditVerifyError(
      'argument_invalid',
      'not a signer key from parseSignerKey or generateSignerKey',
    );
  }
  return state;
}

/** The skey text of a signer key. It is a secret. */
export function formatSignerKey(key: NoteSignerKey): string {
  const { seed } = signerState(key);
  const material = Buffer.concat([TYPE_PREFIX[key.type], seed]).toString('base64');
  return `PRIVATE+KEY+${key.name}+${key.keyId}+${material}`;
}

/** A new signer key from 32 random bytes. */
export function generateSignerKey(name: string, type: NoteSignerType): NoteSignerKey {
  if (typeof name !== 'string' || !isValidName(name)) {
    throw new AuditVerifyError(
      'argument_invalid',
      `key name ${show(name)} is empty or holds a space or plus sign`,
    );
  }
  if (!SIGNER_TYPES.includes(type)) {
    throw new AuditVerifyError(
      'argument_invalid',
      `signer type ${show(type)} is not one of ${SIGNER_TYPES.join(', ')}`,
    );
  }
  return makeSignerKey(name, type, randomBytes(SEED_SIZE));
}

function malformed(message: string): AuditVerifyError {
  return new AuditVerifyError('note_malformed', message);
}

/** Split a signed note into its text and signature lines, as Go's note.Open does. Verifies nothing. */
export function parseNote(note: string | Uint8Array): ParsedNote {
  let s: string;
  if (typeof note === 'string') {
    s = note;
  } else if (note instanceof Uint8Array) {
    if (!isUtf8(note)) throw malformed('the note is not valid utf-8');
    s = Buffer.from(note.buffer, note.byteOffset, note.length).toString('utf8');
  } else {
    throw malformed('the note is neither text nor bytes');
  }
  const problem = noteTextProblem(s);
  if (problem) throw malformed(`the note ${problem}`);
  // The text ends at the last blank line; it may hold blank lines of its own.
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw malformed('the note has no blank line before its signatures');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) {
    throw malformed('the note does not end with a signature line and a newline');
  }
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > NOTE_MAX_SIGNATURES) {
    throw malformed(`the note has ${lines.length} signatures, more than ${NOTE_MAX_SIGNATURES}`);
  }
  const signatures = lines.map((line, i): NoteSignature => {
    const bad = (): AuditVerifyError => malformed(`signature line ${i + 1} ${q(line)} is malformed`);
    if (!line.startsWith(SIG_PREFIX)) throw bad();
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const encoded = space < 0 ? '' : rest.slice(space + 1);
    const raw = decodeBase64(encoded);
    if (!isValidName(name) || encoded === '' || !raw || raw.length < 5) throw bad();
    return { name, keyId: raw.subarray(0, 4).toString('hex'), signature: raw.subarray(4) };
  });
  return { text, signatures };
}

function resolveVerifier(given: unknown): { key: NoteVerifierKey; verify: VerifyFn } {
  const key = (typeof given === 'string' ? parseVerifierKey(given) : given) as NoteVerifierKey;
  const built = typeof key === 'object' && key !== null ? verifiers.get(key) : undefined;
  if (built) return { key, verify: built };
  // A key object built by hand: check it by taking it through its text form.
  const checked = parseVerifierKey(formatVerifierKey(key));
  const verify = verifiers.get(checked);
  // INVARIANT: parseVerifierKey registers every key it returns.
  if (!verify) throw keyError(`verifier key ${q(checked.name)} could not be loaded`);
  return { key: checked, verify };
}

/**
 * Open a signed note with the given verifier keys, as Go's note.Open: signatures from keys not
 * given are ignored (counted in `unknown`); a given key's invalid signature rejects the note
 * (`signature_invalid`); a note that no given key signed is rejected (`note_unverified`).
 */
export function openNote(note: string | Uint8Array, keys: readonly (string | NoteVerifierKey)[]): OpenedNote {
  const list: unknown = keys;
  if (!Array.isArray(list))
    throw new AuditVerifyError('argument_invalid', 'the verifier keys are not an array');
  const known = new Map<string, { key: NoteVerifierKey; verify: VerifyFn }>();
  for (const k of keys) {
    const v = resolveVerifier(k);
    const id = `${v.key.name}+${v.key.keyId}`;
    const prior = known.get(id);
    if (prior && formatVerifierKey(prior.key) !== formatVerifierKey(v.key)) {
      throw keyError(`two different verifier keys share name and key id ${q(id)}`);
    }
    known.set(id, v);
  }
  const parsed = parseNote(note);
  const text = Buffer.from(parsed.text, 'utf8');
  const verified: VerifiedSignature[] = [];
  const seen = new Set<string>();
  const unknown = new Set<string>();
  for (const sig of parsed.signatures) {
    const id = `${sig.name}+${sig.keyId}`;
    const v = known.get(id);
    if (!v) {
      unknown.add(`${id} ${sig.signature.toString('base64')}`);
      continue;
    }
    // As Go: a key's second line is not looked at; its first decides.
    if (seen.has(id)) continue;
    seen.add(id);
    const result = v.verify(text, sig.signature);
    if (!result.ok) throw new AuditVerifyError('signature_invalid', `invalid signature for key ${q(id)}`);
    verified.push(
      result.timestamp === undefined
        ? { name: sig.name, keyId: sig.keyId, type: v.key.type }
        : { name: sig.name, keyId: sig.keyId, type: v.key.type, timestamp: result.timestamp },
    );
  }
  if (verified.length === 0) {
    throw new AuditVerifyError(
      'note_unverified',
      `the note has no signature from a known key (${unknown.size} from unknown keys)`,
    );
  }
  return { text: parsed.text, verified, unknown: unknown.size };
}

/**
 * Sign `text` (which must end in a newline) with each signer and return the signed note. Ed25519
 * is deterministic, so signing the same text again gives the same bytes. `existing` signatures
 * are kept first, except those of a key that signs now, as Go's note.Sign does.
 */
export function signNote(
  text: string,
  signerKeys: readonly (string | NoteSignerKey)[],
  options: SignNoteOptions = {},
): string {
  if (typeof text !== 'string') throw malformed('the note text is not a string');
  if (!text.endsWith('\n')) throw malformed('the note text must end with a newline');
  const problem = noteTextProblem(text);
  if (problem) throw malformed(`the note text ${problem}`);
  const list: unknown = signerKeys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new AuditVerifyError('argument_invalid', 'a note needs at least one signer');
  }
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new AuditVerifyError(
      'argument_invalid',
      `timestamp ${show(timestamp)} is not a non-negative safe integer`,
    );
  }
  const existing: readonly NoteSignature[] = options.existing ?? [];
  const given: unknown = existing;
  if (!Array.isArray(given))
    throw new AuditVerifyError('argument_invalid', 'existing signatures are not an array');

  const bytes = Buffer.from(text, 'utf8');
  const signing = new Set<string>();
  const fresh: string[] = [];
  for (const s of signerKeys) {
    const key = typeof s === 'string' ? parseSignerKey(s) : s;
    const { sign } = signerState(key);
    const id = `${key.name}+${key.keyId}`;
    if (signing.has(id)) throw new AuditVerifyError('argument_invalid', `key ${q(id)} is given twice`);
    signing.add(id);
    const sig = Buffer.concat([Buffer.from(key.keyId, 'hex'), sign(bytes, timestamp)]);
    fresh.push(`${SIG_PREFIX}${key.name} ${sig.toString('base64')}\n`);
  }
  const kept: string[] = [];
  for (const sig of existing) {
    const ok =
      typeof sig === 'object' &&
      sig !== null &&
      typeof sig.name === 'string' &&
      isValidName(sig.name) &&
      typeof sig.keyId === 'string' &&
      /^[0-9a-f]{8}$/.test(sig.keyId) &&
      sig.signature instanceof Uint8Array &&
      sig.signature.length > 0;
    if (!ok) throw malformed('an existing signature is malformed');
    if (signing.has(`${sig.name}+${sig.keyId}`)) continue;
    const raw = Buffer.concat([Buffer.from(sig.keyId, 'hex'), sig.signature]);
    kept.push(`${SIG_PREFIX}${sig.name} ${raw.toString('base64')}\n`);
  }
  if (kept.length + fresh.length > NOTE_MAX_SIGNATURES) {
    throw new AuditVerifyError(
      'argument_invalid',
      `a note may carry at most ${NOTE_MAX_SIGNATURES} signatures`,
    );
  }
  return `${text}\n${kept.join('')}${fresh.join('')}`;
}
