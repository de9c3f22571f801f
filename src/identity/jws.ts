// Compact JWS on node:crypto: strict parsing and verification for the hot path, and signing.
// Measured on this hardware, jose's WebCrypto path costs about twice node:crypto with reused
// KeyObjects (shared/NOTES.md); every protected request verifies two signatures, so Warden keeps
// this small, audited core and cross-checks it against jose in the tests.

import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { TokenError } from './errors.js';
import type { AgentAlg } from './jwk.js';

const SEGMENT = /^[A-Za-z0-9_-]*$/;

export interface ParsedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `base64url(header) || '.' || base64url(payload)`, exactly as received. */
  signingInput: string;
  signature: Buffer;
}

function decodeJsonObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError('token_malformed', `${what} is not base64url-encoded JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenError('token_malformed', `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Split and decode a compact JWS. Verifies nothing; every failure is `token_malformed`. `known` is a
 * header segment the caller decoded before: its decoded header is reused as is (never mutate it),
 * and a token with another header segment is refused.
 */
export function parseCompactJws(
  token: string,
  known?: { segment: string; header: Record<string, unknown> },
): ParsedJws {
  const parts = token.split('.');
  if (parts.length !== 3)
    throw new TokenError('token_malformed', 'a JWS must have exactly three dot-separated parts');
  const [h, p, s] = parts as [string, string, string];
  if (!h || !p || !s || !SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) {
    throw new TokenError('token_malformed', 'a JWS part is empty or not base64url');
  }
  if (known && h !== known.segment)
    throw new TokenError('token_malformed', 'the JWS header is not the one expected');
  return {
    header: known ? known.header : decodeJsonObject(h, 'the JWS header'),
    payload: decodeJsonObject(p, 'the JWS payload'),
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

/** Verify a signature with an algorithm the caller has already checked against its allow-list. */
export function verifyJwsSignature(
  alg: AgentAlg,
  key: KeyObject,
  jws: Pick<ParsedJws, 'signingInput' | 'signature'>,
): boolean {
  // Both algorithms have fixed-size signatures; anything else cannot be valid.
  if (jws.signature.length !== 64) return false;
  const data = Buffer.from(jws.signingInput, 'ascii');
  try {
    return alg === 'ES256'
      ? cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, jws.signature)
      : cryptoVerify(null, data, key, jws.signature);
  } catch {
    // A key of the wrong type for the algorithm: not a valid signature.
    return false;
  }
}

/** Sign a compact JWS. `header.alg` is set from `alg`. */
export function signCompactJws(
  alg: AgentAlg,
  key: KeyObject,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): string {
  const h = Buffer.from(JSON.stringify({ ...header, alg })).toString('base64url');
  const p = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const data = Buffer.from(`${h}.${p}`, 'ascii');
  const sig =
    alg === 'ES256'
      ? cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
      : cryptoSign(null, data, key);
  return `${h}.${p}.${sig.toString('base64url')}`;
}

/** `typ` is a media type: compare case-insensitively and allow the optional `application/` prefix. */
export function typIs(value: unknown, expected: string): boolean {
  if (typeof value !== 'string') return false;
  const v = value.toLowerCase();
  return v === expected || v === `application/${expected}`;
}
