// DPoP proof signatures checked on a thread of their own, for the HTTP path: every protected
// request carries a fresh proof, and an ES256 verification holds the event loop, which limits the
// gateway's throughput, for 70-130 µs. (libuv's thread pool is no help here: a key's signature jobs
// lock the key for the whole verification, and creating the next job waits for that lock on the
// event loop.) The proof is parsed, checked against the allow-lists and its key imported on the
// calling thread first (dpop.ts); only the signature check moves.

import { RequestThread, threadModule } from '../request-thread.js';
import type { AgentAlg, PublicJwk } from './jwk.js';

export interface SignatureRequest {
  alg: AgentAlg;
  /** The key's thumbprint: the thread imports each key once. */
  jkt: string;
  jwk: PublicJwk;
  /** The compact JWS, as received: a string costs far less to post than a Buffer. */
  jws: string;
}

export class SignatureThread {
  private readonly thread = new RequestThread<SignatureRequest, boolean>(
    threadModule(
      import.meta.url,
      '../../dist/src/identity/verify-thread-worker.js',
      './verify-thread-worker.js',
    ),
    'signature verification',
  );

  constructor() {
    this.thread.warm();
  }

  /** Whether the signature of `jws` verifies under `jwk`; rejects only when the thread fails. */
  verify(alg: AgentAlg, jkt: string, jwk: PublicJwk, jws: string): Promise<boolean> {
    return this.thread.request({ alg, jkt, jwk, jws });
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
