// RFC 9449 DPoP proof verification, with server nonces and replay protection.
// Order: parse, check the allow-lists, then touch the key, then verify, then the claims.

import { createHash, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { q } from '../errors.js';
import type { TokenError } from './errors.js';
import { DpopError } from './errors.js';
import type { JwkError } from './jwk.js';
import {
  algForJwk,
  importPublicJwk,
  jwkThumbprint,
  parsePublicJwk,
  type AgentAlg,
  type PublicJwk,
} from './jwk.js';
import { parseCompactJws, typIs, verifyJwsSignature, type ParsedJws } from './jws.js';
import { BoundedMap } from './bounded-map.js';
import { SignatureThread } from './verify-thread.js';
import { ReplayCache } from './replay-cache.js';

export interface DpopOptions {
  algorithms: readonly AgentAlg[];
  iatWindowSeconds: number;
  requireNonce: boolean;
  replayCacheSize: number;
  maxProofBytes?: number;
}

export interface DpopCheck {
  /** The HTTP method of the request, upper case. */
  method: string;
  /** The request URL as the client addressed it (scheme, host, path); query and fragment ignored. */
  url: string;
  /** The access token presented with the proof; when given, `ath` must match it. */
  accessToken?: string;
  /** When given, the proof's key thumbprint must equal it (the token's `cnf.jkt`). */
  expectedJkt?: string;
}

export interface VerifiedProof {
  jkt: string;
  jwk: PublicJwk;
  jti: string;
  iat: number;
}

interface ParsedProof {
  jws: ParsedJws;
  alg: AgentAlg;
  jwk: PublicJwk;
  jkt: string;
  key: KeyObject;
}

const KEY_CACHE_LIMIT = 10_000;
/** Proof headers, access-token hashes and URLs remembered (each a pure function of its text). */
const MEMO_LIMIT = 1024;

/** A header that passed every check, by its exact base64url text. */
interface KnownHeader {
  segment: string;
  header: Record<string, unknown>;
  alg: AgentAlg;
  jwk: PublicJwk;
  jkt: string;
}

/** Normalise a URL for `htu` comparison: scheme, host and port as the URL parser sees them, path. */
export function htuOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return undefined;
  }
}

function bytesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The access-token hash a proof must carry in `ath`. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

export class DpopVerifier {
  private readonly replay: ReplayCache;
  private readonly keys = new BoundedMap<string, KeyObject>(KEY_CACHE_LIMIT);
  private readonly nonceSecret = randomBytes(32);
  private readonly nonceSlotMs: number;
  private readonly maxProofBytes: number;
  private signatures: SignatureThread | undefined;
  // An agent sends the same header (its key) and the same access token with every proof, to the
  // same URL: what is derived from them alone is worked out once. Only headers that passed every
  // check are kept; the signature, the claims and the binding to the token are checked each time.
  private readonly headers = new BoundedMap<string, KnownHeader>(MEMO_LIMIT);
  private readonly tokenHashes = new BoundedMap<string, string>(MEMO_LIMIT);
  private readonly htus = new BoundedMap<string, string | undefined>(MEMO_LIMIT);

  constructor(private readonly options: DpopOptions) {
    // INVARIANT: a proof is accepted only while |now - iat| <= window, so every acceptance of the
    // same proof falls within 2 * window of the first; remembering its jti that long is enough.
    this.replay = new ReplayCache(options.replayCacheSize, 2 * options.iatWindowSeconds * 1000 + 1000);
    this.nonceSlotMs = options.iatWindowSeconds * 1000;
    this.maxProofBytes = options.maxProofBytes ?? 4096;
  }

  /** Stop the signature thread, if one was started. */
  async close(): Promise<void> {
    await this.signatures?.close();
    this.signatures = undefined;
  }

  /** A fresh server nonce to send in `DPoP-Nonce`; valid for this slot and the next. */
  nonce(now: number = Date.now()): string {
    const slot = Buffer.alloc(8);
    slot.writeBigUInt64BE(BigInt(Math.floor(now / this.nonceSlotMs)));
    const mac = createHmac('sha256', this.nonceSecret).update(slot).digest().subarray(0, 16);
    return Buffer.concat([slot, mac]).toString('base64url');
  }

  get nonceRequired(): boolean {
    return this.options.requireNonce;
  }

  private nonceValid(nonce: string, now: number): boolean {
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 24 || raw.toString('base64url') !== nonce) return false;
    const slot = raw.readBigUInt64BE(0);
    const current = BigInt(Math.floor(now / this.nonceSlotMs));
    if (slot !== current && slot !== current - 1n) return false;
    const mac = createHmac('sha256', this.nonceSecret).update(raw.subarray(0, 8)).digest().subarray(0, 16);
    return timingSafeEqual(mac, raw.subarray(8));
  }

  private importKey(jkt: string, jwk: PublicJwk): KeyObject {
    return this.keys.of(jkt, () => importPublicJwk(jwk));
  }

  /**
   * Verify the value of the request's single `DPoP` header. The caller has already refused a
   * missing or repeated header. Throws `DpopError`; on success the proof's jti is spent.
   */
  verify(proof: string, check: DpopCheck, now: number = Date.now()): VerifiedProof {
    const p = this.parse(proof, check);
    if (!verifyJwsSignature(p.alg, p.key, p.jws)) {
      throw new DpopError('dpop_signature_invalid', 'the DPoP proof signature does not verify');
    }
    return this.accept(p, check, now);
  }

  /** Start the signature thread verifyAsync() uses (the HTTP service does, when it starts). */
  startThread(): void {
    this.signatures ??= new SignatureThread();
  }

  /** verify(), with the signature checked on the signature thread (started now if it was not). */
  async verifyAsync(proof: string, check: DpopCheck, now: number = Date.now()): Promise<VerifiedProof> {
    const p = this.parse(proof, check);
    this.signatures ??= new SignatureThread();
    if (!(await this.signatures.verify(p.alg, p.jkt, p.jwk, proof))) {
      throw new DpopError('dpop_signature_invalid', 'the DPoP proof signature does not verify');
    }
    return this.accept(p, check, now);
  }

  /** Everything before the signature: parse, the allow-lists, the key and its binding. */
  private parse(proof: string, check: DpopCheck): ParsedProof {
    if (proof.length > this.maxProofBytes)
      throw new DpopError('dpop_malformed', 'the DPoP proof is too large');
    const segment = proof.slice(0, Math.max(0, proof.indexOf('.')));
    const known = this.headers.get(segment);
    let jws: ParsedJws;
    try {
      jws = parseCompactJws(proof, known);
    } catch (err) {
      throw new DpopError('dpop_malformed', `the DPoP proof is malformed: ${(err as TokenError).message}`);
    }
    const { alg, jwk, jkt } = known ?? this.checkHeader(segment, jws.header);
    if (check.expectedJkt !== undefined && !bytesEqual(jkt, check.expectedJkt)) {
      throw new DpopError('dpop_key_mismatch', 'the DPoP proof key is not the key the token is bound to');
    }
    let key: KeyObject;
    try {
      key = this.importKey(jkt, jwk);
    } catch {
      throw new DpopError('dpop_jwk_invalid', 'the DPoP proof jwk is not a valid public key');
    }
    return { jws, alg, jwk, jkt, key };
  }

  /** The header's checks: typ, the algorithm allow-list, no crit, a public key of that algorithm. */
  private checkHeader(segment: string, header: Record<string, unknown>): KnownHeader {
    if (!typIs(header['typ'], 'dpop+jwt')) {
      throw new DpopError(
        'dpop_typ_invalid',
        `the DPoP proof typ must be \`dpop+jwt\`, not ${q(header['typ'] ?? null)}`,
      );
    }
    const alg = header['alg'];
    if (typeof alg !== 'string' || !(this.options.algorithms as readonly string[]).includes(alg)) {
      throw new DpopError(
        'dpop_alg_not_allowed',
        `DPoP algorithm ${q(alg ?? null)} is not allowed: use one of ${this.options.algorithms.join(', ')}`,
      );
    }
    if ('crit' in header)
      throw new DpopError('dpop_malformed', 'the DPoP proof has a crit header Warden does not understand');
    let jwk: PublicJwk;
    try {
      jwk = parsePublicJwk(header['jwk']);
    } catch (err) {
      const e = err as JwkError;
      throw new DpopError(
        e.code === 'jwk_private' ? 'dpop_jwk_private' : 'dpop_jwk_invalid',
        `DPoP proof ${e.message}`,
      );
    }
    if (algForJwk(jwk) !== alg) {
      throw new DpopError(
        'dpop_jwk_invalid',
        `DPoP algorithm ${q(alg)} does not match the ${jwk.kty} key in jwk`,
      );
    }
    const checked: KnownHeader = { segment, header, alg, jwk, jkt: jwkThumbprint(jwk) };
    this.headers.set(segment, checked);
    return checked;
  }

  /** Everything after the signature: the claims against the request, the nonce, and the replay check. */
  private accept(p: ParsedProof, check: DpopCheck, now: number): VerifiedProof {
    const { jkt, jwk } = p;
    const payload = p.jws.payload;
    const { htm, htu, iat, jti, ath, nonce } = payload;
    if (typeof htm !== 'string' || htm !== check.method) {
      throw new DpopError(
        'dpop_htm_mismatch',
        `DPoP htm ${q(htm ?? null)} does not match the request method ${check.method}`,
      );
    }
    const expectedHtu = this.htus.of(check.url, htuOf);
    if (typeof htu !== 'string' || expectedHtu === undefined || this.htus.of(htu, htuOf) !== expectedHtu) {
      throw new DpopError(
        'dpop_htu_mismatch',
        `DPoP htu ${q(htu ?? null)} does not match the request URL ${expectedHtu ?? ''}`,
      );
    }
    if (typeof iat !== 'number' || !Number.isFinite(iat)) {
      throw new DpopError('dpop_malformed', 'the DPoP proof has no numeric iat');
    }
    const skew = Math.abs(now / 1000 - iat);
    if (skew > this.options.iatWindowSeconds) {
      throw new DpopError(
        'dpop_iat_out_of_window',
        `DPoP proof iat is ${Math.round(skew)} s from now; the window is ${this.options.iatWindowSeconds} s`,
      );
    }
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) {
      throw new DpopError('dpop_malformed', 'DPoP proof jti must be a string of 8 to 256 characters');
    }
    if (check.accessToken !== undefined) {
      if (typeof ath !== 'string')
        throw new DpopError('dpop_ath_mismatch', 'the DPoP proof has no ath for the access token');
      if (!bytesEqual(ath, this.tokenHashes.of(check.accessToken, accessTokenHash))) {
        throw new DpopError('dpop_ath_mismatch', 'DPoP ath does not match the access token');
      }
    }
    if (nonce !== undefined) {
      if (typeof nonce !== 'string' || !this.nonceValid(nonce, now)) {
        throw new DpopError('dpop_nonce_invalid', 'the DPoP nonce is invalid or stale');
      }
    } else if (this.options.requireNonce) {
      throw new DpopError('dpop_nonce_required', 'a DPoP nonce is required');
    }
    // Spend the jti last, so a proof refused for another reason does not burn it.
    const outcome = this.replay.remember(`${jkt}:${jti}`, now);
    if (outcome === 'replayed') throw new DpopError('dpop_jti_replayed', 'the DPoP proof was already used');
    if (outcome === 'full') {
      throw new DpopError('dpop_replay_cache_full', 'too many DPoP proofs in flight: try again shortly');
    }
    return { jkt, jwk, jti, iat };
  }
}
