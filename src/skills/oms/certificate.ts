// Checking the certificate chain of a certificate-signed OMS bundle against the caller's trust
// anchors, on node:crypto, the way the reference implementation does:
//   - the path runs leaf -> bundle intermediates -> one of the anchors, each link's signature
//     checked with the issuer's key and each issuer a CA (basicConstraints, keyCertSign if present);
//   - every certificate on the path must be valid at the leaf's notBefore, not at "now": the
//     reference pins the store time there, so a signature outlives its short-lived leaf; a leaf
//     that was not yet valid or an issuer that had expired at that moment is still refused;
//   - the leaf must carry a KeyUsage extension with digitalSignature, or else the codeSigning
//     extended key usage.
// Reaching any anchor ends the path (the anchor is trusted as given, root or intermediate).

import { X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { X509Certificate as AsnX509 } from '@sigstore/core';
import { WardenError } from '../../errors.js';
import { signatureHash, type SignatureHash } from './keys.js';

const CODE_SIGNING_EKU = '1.3.6.1.5.5.7.3.3';
const MAX_PATH = 8;

export interface CertificateSigner {
  publicKey: KeyObject;
  hash: SignatureHash;
  subject: string;
  issuer: string;
  /** SHA-256 fingerprint of the leaf, colon-separated hex as node:crypto prints it. */
  fingerprint: string;
}

interface Cert {
  node: NodeX509;
  asn: AsnX509;
  der: Buffer;
}

function parseDer(der: Buffer, what: string): Cert {
  try {
    return { node: new NodeX509(der), asn: AsnX509.parse(Buffer.from(der)), der };
  } catch (err) {
    throw new WardenError('bundle_invalid', `${what} is not an x.509 certificate`, { cause: err });
  }
}

/** Every certificate in PEM text (several blocks allowed; text outside the blocks is ignored). */
export function parsePemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;
  for (const m of pem.matchAll(re)) out.push(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
  return out;
}

function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

function validAt(c: Cert, at: Date): boolean {
  return c.asn.notBefore.getTime() <= at.getTime() && at.getTime() <= c.asn.notAfter.getTime();
}

function canIssue(c: Cert): boolean {
  const ku = c.asn.extKeyUsage;
  return c.node.ca && (ku === undefined || ku.keyCertSign);
}

function issues(issuer: Cert, child: Cert): boolean {
  try {
    return child.node.checkIssued(issuer.node) && child.node.verify(issuer.node.publicKey);
  } catch {
    return false;
  }
}

/** The leaf's key and names once the chain reaches an anchor; `signature_untrusted` otherwise. */
export function verifyCertificateChain(
  chainDer: readonly Buffer[],
  anchorPems: readonly string[],
): CertificateSigner {
  const anchors: Cert[] = [];
  for (const pem of anchorPems) {
    for (const der of parsePemCertificates(pem)) anchors.push(parseDer(der, 'a trust anchor'));
  }
  if (anchors.length === 0)
    throw new WardenError('invalid_argument', 'no trust anchor certificates were given');
  const chain = chainDer.map((d, i) => parseDer(d, `certificate ${i} of the bundle`));
  const leaf = chain[0];
  if (leaf === undefined) throw new WardenError('bundle_invalid', 'the certificate chain is empty');
  const intermediates = chain.slice(1);
  const at = leaf.asn.notBefore;
  const untrusted = (why: string) => new WardenError('signature_untrusted', `the signing certificate ${why}`);

  let cur = leaf;
  for (let depth = 0; ; depth++) {
    if (!validAt(cur, at)) throw untrusted(`chain has a certificate not valid at the leaf's notBefore`);
    if (anchors.some((a) => a.der.equals(cur.der))) break;
    if (depth >= MAX_PATH) throw untrusted('chain is too long');
    const anchor = anchors.find((a) => issues(a, cur));
    if (anchor) {
      if (!canIssue(anchor)) throw untrusted('is issued by an anchor that is not a ca');
      if (!validAt(anchor, at)) throw untrusted(`chain has a certificate not valid at the leaf's notBefore`);
      break;
    }
    const next = intermediates.find((c) => c !== cur && issues(c, cur));
    if (!next) throw untrusted('does not chain to a trusted certificate');
    if (!canIssue(next)) throw untrusted('chain has an issuer that is not a ca');
    cur = next;
  }

  const ku = leaf.asn.extKeyUsage;
  if (ku === undefined) throw untrusted('has no key usage extension');
  const eku = leaf.node.keyUsage ?? [];
  if (!ku.digitalSignature && !eku.includes(CODE_SIGNING_EKU)) {
    throw untrusted('may not be used for signing (no digitalSignature usage, no codeSigning)');
  }
  const publicKey = leaf.node.publicKey;
  let hash: SignatureHash;
  try {
    hash = signatureHash(publicKey, 'the signing certificate key');
  } catch (err) {
    throw new WardenError('signature_untrusted', (err as Error).message, { cause: err });
  }
  return {
    publicKey,
    hash,
    subject: oneLine(leaf.node.subject),
    issuer: oneLine(leaf.node.issuer),
    fingerprint: leaf.node.fingerprint256,
  };
}
