// Public JSON Web Keys of agents and DPoP proofs: strict parsing, RFC 7638 thumbprints, import.
// Only the two asymmetric key types Warden accepts are parsed; anything else is refused.

import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { WardenError, q } from '../errors.js';

export type PublicJwk =
  { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'OKP'; crv: 'Ed25519'; x: string };

export type AgentAlg = 'ES256' | 'EdDSA';

const B64URL = /^[A-Za-z0-9_-]+$/;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'] as const;

export class JwkError extends WardenError {
  constructor(code: 'jwk_invalid' | 'jwk_private', message: string) {
    super(code, message);
  }
}

function coordinate(v: unknown, name: string, bytes: number): string {
  if (typeof v !== 'string' || !B64URL.test(v) || Buffer.from(v, 'base64url').length !== bytes) {
    throw new JwkError('jwk_invalid', `jwk member ${q(name)} must be ${bytes} bytes of base64url`);
  }
  return v;
}

/**
 * Parse an untrusted value into a public JWK. Private members are refused outright: a proof that
 * ships its private key is either a bug or an attack, and either way must not verify.
 */
export function parsePublicJwk(value: unknown): PublicJwk {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JwkError('jwk_invalid', 'jwk must be a JSON object');
  }
  const o = value as Record<string, unknown>;
  for (const m of PRIVATE_MEMBERS) {
    if (m in o) throw new JwkError('jwk_private', `jwk contains private key member ${q(m)}`);
  }
  if (o['kty'] === 'EC') {
    if (o['crv'] !== 'P-256')
      throw new JwkError('jwk_invalid', `unsupported EC curve ${q(o['crv'])}: only P-256`);
    return { kty: 'EC', crv: 'P-256', x: coordinate(o['x'], 'x', 32), y: coordinate(o['y'], 'y', 32) };
  }
  if (o['kty'] === 'OKP') {
    if (o['crv'] !== 'Ed25519')
      throw new JwkError('jwk_invalid', `unsupported OKP curve ${q(o['crv'])}: only Ed25519`);
    return { kty: 'OKP', crv: 'Ed25519', x: coordinate(o['x'], 'x', 32) };
  }
  throw new JwkError('jwk_invalid', `unsupported key type ${q(o['kty'])}: only EC P-256 and OKP Ed25519`);
}

/** RFC 7638 thumbprint input: the required members only, in lexicographic order, no whitespace. */
function thumbprintInput(jwk: PublicJwk): string {
  return jwk.kty === 'EC'
    ? `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`
    : `{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`;
}

/** RFC 7638 SHA-256 JWK thumbprint, base64url. */
export function jwkThumbprint(jwk: PublicJwk): string {
  return createHash('sha256').update(thumbprintInput(jwk)).digest('base64url');
}

export function algForJwk(jwk: PublicJwk): AgentAlg {
  return jwk.kty === 'EC' ? 'ES256' : 'EdDSA';
}

/** Import a parsed public JWK; the import also checks that an EC point lies on the curve. */
export function importPublicJwk(jwk: PublicJwk): KeyObject {
  try {
    return createPublicKey({ key: { ...jwk }, format: 'jwk' });
  } catch {
    throw new JwkError('jwk_invalid', `jwk is not a valid ${jwk.kty} public key`);
  }
}

/** A fresh key pair for an agent or for the service. The private half is returned as a JWK. */
export function generateAgentKey(alg: AgentAlg = 'ES256'): {
  publicJwk: PublicJwk;
  privateJwk: Record<string, string>;
} {
  const { publicKey, privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const publicJwk = parsePublicJwk(publicKey.export({ format: 'jwk' }));
  const privateJwk = privateKey.export({ format: 'jwk' }) as Record<string, string>;
  return { publicJwk, privateJwk };
}
