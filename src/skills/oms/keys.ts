// Keys for OMS signing: PEM loading (PKCS#8, SEC1 and SPKI, tolerating the descriptive text that
// certtool puts before the PEM block), the allow-list of curves, the hash each curve implies and the
// public-key hint that bundles carry.

import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { WardenError, q } from '../../errors.js';

/** The curves we sign and verify with, and the hash each one implies (as the reference does). */
const CURVE_HASH: Readonly<Record<string, 'sha256' | 'sha384'>> = {
  prime256v1: 'sha256',
  secp384r1: 'sha384',
};

export type SignatureHash = 'sha256' | 'sha384';

/** The text from the first `-----BEGIN` on; files made by certtool carry a readable dump before it. */
export function pemBlock(text: string, what: string): string {
  const at = text.indexOf('-----BEGIN ');
  if (at < 0) throw new WardenError('invalid_argument', `${what} is not PEM: no \`-----BEGIN\` line`);
  return text.slice(at);
}

/** The hash for an ECDSA key on an allowed curve; any other key is refused before it is used. */
export function signatureHash(key: KeyObject, what: string): SignatureHash {
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  const hash = curve !== undefined ? CURVE_HASH[curve] : undefined;
  if (hash === undefined) {
    const kind = key.asymmetricKeyType === 'ec' ? `ec ${curve ?? 'unknown curve'}` : key.asymmetricKeyType;
    throw new WardenError(
      'invalid_argument',
      `${what} is ${q(kind ?? 'unknown')}: only ecdsa p-256 and p-384 keys are supported`,
    );
  }
  return hash;
}

/** A private signing key from PEM (PKCS#8 or SEC1 `EC PRIVATE KEY`), checked against the allow-list. */
export function loadPrivateKey(pem: string): { key: KeyObject; publicKey: KeyObject; hash: SignatureHash } {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pemBlock(pem, 'the private key'), format: 'pem' });
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError('invalid_argument', `the private key cannot be read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (key.type !== 'private')
    throw new WardenError('invalid_argument', 'the private key is not a private key');
  const hash = signatureHash(key, 'the private key');
  return { key, publicKey: createPublicKey(key), hash };
}

/** A public verification key from PEM (SPKI), checked against the allow-list. */
export function loadPublicKey(pem: string): { key: KeyObject; hash: SignatureHash } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pemBlock(pem, 'the public key'), format: 'pem' });
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError('invalid_argument', `the public key cannot be read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (key.type !== 'public') throw new WardenError('invalid_argument', 'the public key is not a public key');
  return { key, hash: signatureHash(key, 'the public key') };
}

/**
 * The `verificationMaterial.publicKey.hint` of a key: lowercase hex SHA-256 of its SPKI PEM text
 * (64-column base64 with a final newline), which is what the reference implementation hashes; it
 * is not a hash of the DER bytes.
 */
export function keyHint(publicKey: KeyObject): string {
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  return createHash('sha256').update(pem).digest('hex');
}

/** Whether two public keys are the same key (compared as SPKI DER). */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

/** The hint of a public key given as PEM (after the same checks as `loadPublicKey`). */
export function keyHintOfPem(publicKeyPem: string): string {
  return keyHint(loadPublicKey(publicKeyPem).key);
}
