// The entry point of the DPoP signature thread (see verify-thread.ts).

import type { KeyObject } from 'node:crypto';
import { serveRequests } from '../request-thread.js';
import { BoundedMap } from './bounded-map.js';
import { importPublicJwk } from './jwk.js';
import { verifyJwsSignature } from './jws.js';
import type { SignatureRequest } from './verify-thread.js';

const KEY_CACHE_LIMIT = 10_000;
const keys = new BoundedMap<string, KeyObject>(KEY_CACHE_LIMIT);

function keyOf(r: SignatureRequest): KeyObject {
  return keys.of(r.jkt, () => importPublicJwk(r.jwk));
}

serveRequests((r: SignatureRequest): boolean => {
  // The caller parsed the JWS already: three parts, base64url.
  const dot = r.jws.lastIndexOf('.');
  return verifyJwsSignature(r.alg, keyOf(r), {
    signingInput: r.jws.slice(0, dot),
    signature: Buffer.from(r.jws.slice(dot + 1), 'base64url'),
  });
});
