// The entry point of the DPoP signature thread (see verify-thread.ts).

import type { KeyObject } from 'node:crypto';
import { serveRequests } from '../request-thread.js';
import { importPublicJwk } from './jwk.js';
import { verifyJwsSignature } from './jws.js';
import type { SignatureRequest } from './verify-thread.js';

const KEY_CACHE_LIMIT = 10_000;
const keys = new Map<string, KeyObject>();

function keyOf(jkt: string, r: SignatureRequest): KeyObject {
  let key = keys.get(jkt);
  if (key) return key;
  key = importPublicJwk(r.jwk);
  if (keys.size >= KEY_CACHE_LIMIT) {
    const oldest = keys.keys().next().value;
    if (oldest !== undefined) keys.delete(oldest);
  }
  keys.set(jkt, key);
  return key;
}

serveRequests((r: SignatureRequest): boolean =>
  verifyJwsSignature(r.alg, keyOf(r.jkt, r), {
    signingInput: r.signingInput,
    // A Buffer arrives as a plain Uint8Array.
    signature: Buffer.from(r.signature.buffer, r.signature.byteOffset, r.signature.byteLength),
  }),
);
