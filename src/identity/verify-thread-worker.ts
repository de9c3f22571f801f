// The entry point of the DPoP signature thread (see verify-thread.ts).

import type { KeyObject } from 'node:crypto';
import { serveRequests } from '../request-thread.js';
import { importPublicJwk } from './jwk.js';
import { verifyJwsSignature } from './jws.js';
import type { SignatureRequest } from './verify-thread.js';

const KEY_CACHE_LIMIT = 10_000;
const keys = new Map<string, KeyObject>();

function keyOf(r: SignatureRequest): KeyObject {
  let key = keys.get(r.jkt);
  if (key) return key;
  key = importPublicJwk(r.jwk);
  if (keys.size >= KEY_CACHE_LIMIT) {
    const oldest = keys.keys().next().value;
    if (oldest !== undefined) keys.delete(oldest);
  }
  keys.set(r.jkt, key);
  return key;
}

serveRequests((r: SignatureRequest): boolean => {
  // The caller parsed the JWS already: three parts, base64url.
  const dot = r.jws.lastIndexOf('.');
  return verifyJwsSignature(r.alg, keyOf(r), {
    signingInput: r.jws.slice(0, dot),
    signature: Buffer.from(r.jws.slice(dot + 1), 'base64url'),
  });
});
