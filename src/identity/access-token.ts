// Access tokens (RFC 9068 `at+jwt`): the claims Warden puts in them, and their verification.

import { q } from '../errors.js';
import { RevokedError, TokenError } from './errors.js';
import { parseCompactJws, typIs, verifyJwsSignature } from './jws.js';
import type { ServiceKeys, VerificationKey } from './keys.js';
import { BoundedMap } from './bounded-map.js';
import { SERVICE_ALG } from './keys.js';
import { grantActiveAt } from './model.js';
import type { IdentityState } from './state.js';

/** RFC 8693 actor claim: the current actor outermost, earlier actors nested inside. */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

export interface AccessTokenClaims {
  iss: string;
  /** The agent on whose behalf the token acts: the agent itself, or the root of a delegation. */
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  /** The agent that presents the token (holder of the DPoP key). */
  client_id: string;
  scope: string;
  cnf: { jkt: string };
  /** Sponsor and blueprint of the acting agent. */
  sponsor: string;
  blueprint: string;
  /** Just-in-time grants whose scope the token carries, along the whole chain. */
  grants: string[];
  act?: ActClaim;
  may_act?: { sub: string };
}

export interface TokenVerifyOptions {
  issuer: string;
  /** When set, `aud` must contain it. */
  audience?: string;
  leewaySeconds: number;
  maxTokenBytes: number;
}

/** What a verified token proves: who acts, for whom, on whose authority, with what scope. */
export interface Principal {
  /** The acting agent (holder of the DPoP key). */
  agent: string;
  sponsor: string;
  blueprint: string;
  /** The agent the token acts for; equals `agent` unless delegated. */
  subject: string;
  /** Delegation chain, acting agent first, root subject last. Length 1 when not delegated. */
  chain: string[];
  depth: number;
  scopes: string[];
  audience: string[];
  grants: string[];
  tokenId: string;
  issuedAt: number;
  expiresAt: number;
  jkt: string;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function parseAct(v: unknown, depth: number): ActClaim {
  if (depth > 16 || typeof v !== 'object' || v === null || typeof (v as { sub?: unknown }).sub !== 'string') {
    throw new TokenError('token_claims_invalid', 'the act claim is malformed');
  }
  const o = v as { sub: string; act?: unknown };
  return o.act === undefined ? { sub: o.sub } : { sub: o.sub, act: parseAct(o.act, depth + 1) };
}

/** Actors of an `act` claim, outermost (current) first. */
export function actors(act: ActClaim | undefined): string[] {
  const out: string[] = [];
  for (let a = act; a; a = a.act) out.push(a.sub);
  return out;
}

/** Check the shape of a verified payload; anything off is `token_claims_invalid`. */
function parseClaims(p: Record<string, unknown>): AccessTokenClaims {
  const bad = (name: string): never => {
    throw new TokenError('token_claims_invalid', `access token claim ${q(name)} is missing or malformed`);
  };
  const str = (name: string): string =>
    typeof p[name] === 'string' && p[name].length > 0 ? p[name] : bad(name);
  const num = (name: string): number =>
    typeof p[name] === 'number' && Number.isFinite(p[name]) ? p[name] : bad(name);
  const aud =
    typeof p['aud'] === 'string'
      ? [p['aud']]
      : isStringArray(p['aud']) && p['aud'].length > 0
        ? p['aud']
        : bad('aud');
  const cnf = p['cnf'] as { jkt?: unknown } | undefined;
  if (typeof cnf !== 'object' || cnf === null || typeof cnf.jkt !== 'string') bad('cnf');
  const grants = p['grants'] === undefined ? [] : isStringArray(p['grants']) ? p['grants'] : bad('grants');
  const mayAct = p['may_act'] as { sub?: unknown } | undefined;
  if (
    mayAct !== undefined &&
    (typeof mayAct !== 'object' || mayAct === null || typeof mayAct.sub !== 'string')
  )
    bad('may_act');
  const scope = typeof p['scope'] === 'string' ? p['scope'] : bad('scope');
  return {
    iss: str('iss'),
    sub: str('sub'),
    aud,
    exp: num('exp'),
    iat: num('iat'),
    nbf: p['nbf'] === undefined ? num('iat') : num('nbf'),
    jti: str('jti'),
    client_id: str('client_id'),
    scope,
    cnf: { jkt: (cnf as { jkt: string }).jkt },
    sponsor: str('sponsor'),
    blueprint: str('blueprint'),
    grants,
    ...(p['act'] === undefined ? {} : { act: parseAct(p['act'], 0) }),
    ...(mayAct === undefined ? {} : { may_act: { sub: mayAct.sub as string } }),
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Tokens whose signature has verified, with the key that verified it and their parsed claims. An
 * agent presents the same token on every request for its lifetime; verifying the signature of the
 * same bytes under the same key again gives the same answer, so it is done once. Everything else
 * (the key still being current, issuer, audience, time claims, and then DPoP and revocation) is
 * checked on every request.
 *
 * INVARIANT: an entry is used only while `ServiceKeys.verifier` returns the very key object it
 * verified under; a rotation past the grace period or a reload of the keys makes it a miss.
 */
export class VerifiedTokens {
  private readonly entries: BoundedMap<
    string,
    { kid: string; key: VerificationKey; claims: AccessTokenClaims }
  >;

  constructor(limit = 1000) {
    this.entries = new BoundedMap(limit);
  }

  lookup(token: string, keys: ServiceKeys, now: number): AccessTokenClaims | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    if (keys.verifier(e.kid, now) === e.key) return e.claims;
    this.entries.delete(token);
    return undefined;
  }

  remember(token: string, kid: string, key: VerificationKey, claims: AccessTokenClaims): void {
    // Shared by every request that presents the token: nothing may change it.
    this.entries.set(token, { kid, key, claims: deepFreeze(claims) });
  }
}

/**
 * Verify an access token's signature and claims (not its DPoP binding, not revocation). The size
 * limit and the algorithm allow-list come before any key is touched. With `verified`, a token whose
 * signature verified before under a key that is still current is not verified again; its claims
 * are checked as any other's.
 */
export function verifyAccessToken(
  token: string,
  keys: ServiceKeys,
  opts: TokenVerifyOptions,
  now: number = Date.now(),
  verified?: VerifiedTokens,
): AccessTokenClaims {
  if (Buffer.byteLength(token) > opts.maxTokenBytes) {
    throw new TokenError('token_too_large', `the access token is larger than ${opts.maxTokenBytes} bytes`);
  }
  const claims = verified?.lookup(token, keys, now) ?? verifySignedToken(token, keys, now, verified);
  const t = now / 1000;
  if (claims.iss !== opts.issuer) {
    throw new TokenError('token_issuer_mismatch', `token issuer ${q(claims.iss)} is not ${q(opts.issuer)}`);
  }
  if (opts.audience !== undefined && !claims.aud.includes(opts.audience)) {
    throw new TokenError('token_audience_mismatch', `token audience does not include ${q(opts.audience)}`);
  }
  if (t > claims.exp + opts.leewaySeconds)
    throw new TokenError('token_expired', 'the access token has expired');
  if (claims.nbf > t + opts.leewaySeconds || claims.iat > t + opts.leewaySeconds) {
    throw new TokenError('token_not_yet_valid', 'the access token is not valid yet');
  }
  return claims;
}

/** Parse the token, check its header against the allow-lists, verify its signature, parse its claims. */
function verifySignedToken(
  token: string,
  keys: ServiceKeys,
  now: number,
  verified: VerifiedTokens | undefined,
): AccessTokenClaims {
  const jws = parseCompactJws(token);
  const { header } = jws;
  if (header['alg'] !== SERVICE_ALG) {
    throw new TokenError(
      'token_alg_not_allowed',
      `token algorithm ${q(header['alg'] ?? null)} is not allowed: only ${SERVICE_ALG}`,
    );
  }
  if (!typIs(header['typ'], 'at+jwt')) {
    throw new TokenError(
      'token_typ_invalid',
      `token typ must be \`at+jwt\`, not ${q(header['typ'] ?? null)}`,
    );
  }
  if ('crit' in header) {
    throw new TokenError(
      'token_crit_unsupported',
      `token names critical headers Warden does not understand: ${q(header['crit'])}`,
    );
  }
  const kid = header['kid'];
  const key = typeof kid === 'string' ? keys.verifier(kid, now) : undefined;
  if (!key)
    throw new TokenError(
      'token_kid_unknown',
      `token key id ${q(kid ?? null)} is not a current Warden signing key`,
    );
  if (!verifyJwsSignature(SERVICE_ALG, key.key, jws)) {
    throw new TokenError('token_signature_invalid', 'the access token signature does not verify');
  }
  const claims = parseClaims(jws.payload);
  verified?.remember(token, kid as string, key, claims);
  return claims;
}

/**
 * Check everything the token depends on is still in good standing: every agent of the chain, its
 * sponsor and blueprint, every grant the token carries. Tokens issued at or before a suspension,
 * disablement or retirement stay dead even after a resume.
 */
export function checkRevocation(
  claims: AccessTokenClaims,
  state: IdentityState,
  now: number = Date.now(),
): Principal {
  state.assertFresh(now);
  const chain = [...actors(claims.act), claims.sub];
  if (claims.act === undefined && claims.client_id !== claims.sub) {
    throw new TokenError('token_claims_invalid', 'client_id and sub differ on an undelegated token');
  }
  if (claims.act !== undefined && claims.act.sub !== claims.client_id) {
    throw new TokenError('token_claims_invalid', 'the current actor is not the token client');
  }
  const issuedMs = claims.iat * 1000;
  for (const id of chain) {
    const agent = state.agents.get(id);
    if (!agent) throw new RevokedError('agent_unknown', `agent ${q(id)} is not registered`);
    if (agent.status !== 'active')
      throw new RevokedError('agent_inactive', `agent ${q(id)} is ${agent.status}`);
    if (agent.expiresAt <= now) throw new RevokedError('agent_expired', `agent ${q(id)} has expired`);
    if (issuedMs <= agent.invalidBefore)
      throw new RevokedError('token_revoked', `the token predates a revocation of agent ${q(id)}`);
    const sponsor = state.sponsors.get(agent.sponsor);
    if (!sponsor || sponsor.status !== 'active') {
      throw new RevokedError('sponsor_inactive', `sponsor ${q(agent.sponsor)} of agent ${q(id)} is disabled`);
    }
    if (issuedMs <= sponsor.invalidBefore) {
      throw new RevokedError('token_revoked', `the token predates a revocation of sponsor ${q(sponsor.id)}`);
    }
    const bp = state.blueprints.get(agent.blueprint);
    if (!bp || bp.status !== 'active') {
      throw new RevokedError(
        'blueprint_inactive',
        `blueprint ${q(agent.blueprint)} of agent ${q(id)} is retired`,
      );
    }
    if (issuedMs <= bp.invalidBefore) {
      throw new RevokedError('token_revoked', `the token predates a change to blueprint ${q(bp.name)}`);
    }
  }
  const acting = state.agents.get(claims.client_id);
  if (!acting || acting.jkt !== claims.cnf.jkt) {
    throw new RevokedError(
      'agent_key_changed',
      `the token is not bound to the registered key of agent ${q(claims.client_id)}`,
    );
  }
  for (const gid of claims.grants) {
    const grant = state.grants.get(gid);
    if (!grant || !grantActiveAt(grant, now)) {
      throw new RevokedError('grant_inactive', `grant ${q(gid)} carried by the token is no longer active`);
    }
  }
  return {
    agent: claims.client_id,
    sponsor: acting.sponsor,
    blueprint: acting.blueprint,
    subject: claims.sub,
    chain,
    depth: chain.length - 1,
    scopes: claims.scope.split(' ').filter((s) => s.length > 0),
    audience: claims.aud,
    grants: claims.grants,
    tokenId: claims.jti,
    issuedAt: claims.iat,
    expiresAt: claims.exp,
    jkt: claims.cnf.jkt,
  };
}
