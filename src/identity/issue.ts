// The token endpoint's logic, free of HTTP: client credentials with an RFC 7523 assertion and a
// DPoP proof, and RFC 8693 delegation that can only narrow. Every issuance and every refusal is
// audited; a token is returned only after its audit event is durable.

import { randomBytes } from 'node:crypto';
import { parseTraceparent, type AuditSink } from '../audit/index.js';
import { NO_EXPORT, type Tracing } from '../audit/tracing.js';
import { q } from '../errors.js';
import {
  actors,
  checkRevocation,
  verifyAccessToken,
  type AccessTokenClaims,
  type ActClaim,
  type TokenVerifyOptions,
} from './access-token.js';
import type { DpopVerifier } from './dpop.js';
import { DpopError, OAuthError, RevokedError, TokenError } from './errors.js';
import { algForJwk } from './jwk.js';
import { parseCompactJws, signCompactJws, typIs, verifyJwsSignature } from './jws.js';
import type { ServiceKeys } from './keys.js';
import { SERVICE_ALG } from './keys.js';
import { grantActiveAt, type Agent, type Blueprint } from './model.js';
import { ReplayCache } from './replay-cache.js';
import type { IdentityState } from './state.js';

export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ASSERTION_TYPE_JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';

/** Client assertions may live at most this long (exp - now), which bounds their replay memory. */
export const ASSERTION_MAX_LIFETIME_S = 300;

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Form parameters; RFC 8707 `resource` may repeat, every other parameter must appear once. */
export type TokenParams = ReadonlyMap<string, readonly string[]>;

export interface TokenRequest {
  params: TokenParams;
  /** Every `DPoP` header value received. */
  dpop: readonly string[] | undefined;
  /** The token endpoint URL as the client addressed it. */
  url: string;
  /** W3C `traceparent` of the request: a delegation hop joins the trace of the task it serves. */
  traceparent?: string | undefined;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'DPoP';
  expires_in: number;
  scope: string;
  issued_token_type?: string;
}

export interface TokenServiceOptions extends TokenVerifyOptions {
  tokenEndpoint: string;
  defaultAudience: readonly string[];
  now?: () => number;
  /** Spans for issuances and delegations that join a trace (ids only when omitted). */
  tracing?: Tracing;
}

interface Refusal {
  actor: string | null;
  subject: string | null;
  sponsor: string | null;
  authority: string[];
}

export class TokenService {
  private readonly assertionReplay: ReplayCache;
  private readonly now: () => number;

  constructor(
    private readonly keys: ServiceKeys,
    private readonly state: IdentityState,
    private readonly dpop: DpopVerifier,
    private readonly audit: AuditSink,
    private readonly options: TokenServiceOptions,
  ) {
    this.assertionReplay = new ReplayCache(
      100_000,
      (ASSERTION_MAX_LIFETIME_S + options.leewaySeconds + 1) * 1000,
    );
    this.now = options.now ?? Date.now;
  }

  /** Handle one token request; refusals are thrown as `OAuthError` after they are audited. */
  async handle(req: TokenRequest): Promise<TokenResponse> {
    const who: Refusal = { actor: null, subject: null, sponsor: null, authority: [] };
    let grantType: string | undefined;
    try {
      grantType = single(req.params, 'grant_type', true);
      await this.state.refresh();
      if (grantType === GRANT_CLIENT_CREDENTIALS) return await this.clientCredentials(req, who);
      if (grantType === GRANT_TOKEN_EXCHANGE) return await this.tokenExchange(req, who);
      throw new OAuthError('unsupported_grant_type', `grant type ${q(grantType)} is not supported`);
    } catch (err) {
      const refusal = toOAuthError(err);
      try {
        await this.audit.record({
          type: 'token.refused',
          outcome: 'refused',
          actor: who.actor,
          subject: who.subject,
          sponsor: who.sponsor,
          authority: who.authority,
          reason: `${refusal.oauthCode}: ${refusal.message}`,
          details: { grant_type: grantType ?? null },
          at: this.now(),
        });
      } catch {
        // The refusal stands whether or not it could be recorded.
      }
      throw refusal;
    }
  }

  private verifyProof(req: TokenRequest): string {
    const proofs = req.dpop ?? [];
    if (proofs.length === 0) throw new DpopError('dpop_missing', 'no DPoP proof: send one `DPoP` header');
    if (proofs.length > 1) throw new DpopError('dpop_multiple', 'more than one DPoP header');
    return this.dpop.verify(proofs[0] ?? '', { method: 'POST', url: req.url }, this.now()).jkt;
  }

  /** RFC 7523 §3: verify a client assertion signed by an agent's registered key. */
  private verifyAssertion(assertion: string, what: string): Agent {
    const now = this.now();
    const t = now / 1000;
    const fail = (msg: string): never => {
      throw new OAuthError('invalid_client', `${what}: ${msg}`);
    };
    if (assertion.length > this.options.maxTokenBytes) fail('too large');
    let jws;
    try {
      jws = parseCompactJws(assertion);
    } catch (err) {
      return fail((err as TokenError).message);
    }
    const { header, payload } = jws;
    const alg = header['alg'];
    if (alg !== 'ES256' && alg !== 'EdDSA')
      return fail(`algorithm ${q(alg ?? null)} is not allowed: use ES256 or EdDSA`);
    if ('crit' in header) fail('crit headers are not supported');
    if (
      header['typ'] !== undefined &&
      !typIs(header['typ'], 'jwt') &&
      !typIs(header['typ'], 'client-authentication+jwt')
    ) {
      fail(`typ ${q(header['typ'])} is not a client assertion type`);
    }
    const iss = payload['iss'];
    if (typeof iss !== 'string' || payload['sub'] !== iss) fail('iss and sub must both be the agent id');
    const agent = this.state.agents.get(iss as string);
    if (!agent) return fail(`agent ${q(iss)} is not registered`);
    if (algForJwk(agent.publicJwk) !== alg) fail(`algorithm ${q(alg)} does not match the agent's key`);
    if (!verifyJwsSignature(alg, this.state.agentKey(agent), jws))
      fail('the signature does not verify with the agent key');
    const aud = payload['aud'];
    const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!auds.includes(this.options.tokenEndpoint) && !auds.includes(this.options.issuer)) {
      fail(`aud must be the token endpoint ${q(this.options.tokenEndpoint)} or the issuer`);
    }
    const exp = payload['exp'];
    if (typeof exp !== 'number') return fail('exp is missing');
    if (t > exp + this.options.leewaySeconds) fail('the assertion has expired');
    if (exp - t > ASSERTION_MAX_LIFETIME_S) fail(`exp is more than ${ASSERTION_MAX_LIFETIME_S} s away`);
    const iat = payload['iat'];
    if (iat !== undefined && (typeof iat !== 'number' || iat > t + this.options.leewaySeconds))
      fail('iat is in the future');
    const nbf = payload['nbf'];
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > t + this.options.leewaySeconds))
      fail('nbf is in the future');
    const jti = payload['jti'];
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256)
      return fail('jti must be a string of 8 to 256 characters');
    const outcome = this.assertionReplay.remember(`${agent.id}:${jti}`, now);
    if (outcome === 'replayed') fail('the assertion was already used');
    if (outcome === 'full')
      throw new OAuthError('server_error', 'too many client assertions in flight: try again shortly');
    return agent;
  }

  /** The agent may receive tokens now: it, its sponsor and its blueprint are in good standing. */
  private assertEligible(agent: Agent): Blueprint {
    const now = this.now();
    const refuse = (msg: string): never => {
      throw new OAuthError('unauthorized_client', msg);
    };
    if (agent.status !== 'active') refuse(`agent ${q(agent.id)} is ${agent.status}`);
    if (agent.expiresAt <= now)
      refuse(`agent ${q(agent.id)} expired at ${new Date(agent.expiresAt).toISOString()}`);
    const sponsor = this.state.sponsors.get(agent.sponsor);
    if (!sponsor || sponsor.status !== 'active')
      refuse(`sponsor ${q(agent.sponsor)} of agent ${q(agent.id)} is disabled`);
    const bp = this.state.blueprints.get(agent.blueprint);
    if (!bp) return refuse(`blueprint ${q(agent.blueprint)} does not exist`);
    if (bp.status !== 'active') refuse(`blueprint ${q(bp.name)} is retired`);
    if (bp.reviewBy !== null && bp.reviewBy <= now) {
      refuse(
        `blueprint ${q(bp.name)} is past its review-by date ${new Date(bp.reviewBy).toISOString().slice(0, 10)}`,
      );
    }
    return bp;
  }

  private async clientCredentials(req: TokenRequest, who: Refusal): Promise<TokenResponse> {
    const p = req.params;
    assertOnlyOnce(p);
    const assertionType = single(p, 'client_assertion_type', true);
    if (assertionType !== ASSERTION_TYPE_JWT_BEARER) {
      throw new OAuthError('invalid_client', `client_assertion_type must be ${q(ASSERTION_TYPE_JWT_BEARER)}`);
    }
    const agent = this.verifyAssertion(single(p, 'client_assertion', true) ?? '', 'client_assertion');
    Object.assign(who, { actor: agent.id, subject: agent.id, sponsor: agent.sponsor, authority: [agent.id] });
    const clientId = single(p, 'client_id', false);
    if (clientId !== undefined && clientId !== agent.id) {
      throw new OAuthError('invalid_client', 'client_id does not match the client assertion');
    }
    const jkt = this.verifyProof(req);
    if (jkt !== agent.jkt) {
      throw new OAuthError(
        'invalid_dpop_proof',
        'the DPoP proof must be signed with the agent key the assertion was signed with',
      );
    }
    const bp = this.assertEligible(agent);
    const now = this.now();

    // INVARIANT: a token's scope never leaves the blueprint's envelope, whatever grants say.
    const envelope = new Set(bp.envelope.scopes);
    const activeGrants = [...this.state.grants.values()].filter(
      (g) => g.agent === agent.id && grantActiveAt(g, now),
    );
    const available = new Set(
      [...bp.baseScope, ...activeGrants.flatMap((g) => g.scope)].filter((s) => envelope.has(s)),
    );
    const requested = parseScope(single(p, 'scope', false));
    if (requested) {
      for (const s of requested) {
        if (!available.has(s)) {
          throw new OAuthError(
            'invalid_scope',
            `scope ${q(s)} is not available to agent ${q(agent.id)}: not in its base scope or an active grant`,
          );
        }
      }
    }
    const scope = requested ?? [...available];
    const usedGrants = activeGrants.filter((g) =>
      g.scope.some((s) => scope.includes(s) && !bp.baseScope.includes(s)),
    );

    const audience = this.chooseAudience(
      p,
      this.options.defaultAudience,
      'the audiences Warden issues tokens for',
    );
    let exp = Math.min(
      now + bp.tokenTtlSeconds * 1000,
      agent.expiresAt,
      ...usedGrants.map((g) => g.endsAt ?? 0),
    );
    exp = this.applyRequestedLifetime(p, now, exp, `the blueprint ceiling of ${bp.tokenTtlSeconds} s`);
    const mayAct = this.mayAct(p);

    const claims: AccessTokenClaims = {
      iss: this.options.issuer,
      sub: agent.id,
      aud: audience,
      exp: Math.floor(exp / 1000),
      iat: Math.floor(now / 1000),
      nbf: Math.floor(now / 1000),
      jti: randomBytes(16).toString('base64url'),
      client_id: agent.id,
      scope: scope.join(' '),
      cnf: { jkt },
      sponsor: agent.sponsor,
      blueprint: agent.blueprint,
      grants: usedGrants.map((g) => g.id),
      ...(mayAct ? { may_act: { sub: mayAct } } : {}),
    };
    return this.sign(claims, 'token.issued', undefined, req.traceparent);
  }

  private async tokenExchange(req: TokenRequest, who: Refusal): Promise<TokenResponse> {
    const p = req.params;
    assertOnlyOnce(p);
    if (single(p, 'subject_token_type', true) !== TOKEN_TYPE_ACCESS_TOKEN) {
      throw new OAuthError('invalid_request', `subject_token_type must be ${q(TOKEN_TYPE_ACCESS_TOKEN)}`);
    }
    if (single(p, 'actor_token_type', true) !== TOKEN_TYPE_JWT) {
      throw new OAuthError(
        'invalid_request',
        `actor_token_type must be ${q(TOKEN_TYPE_JWT)}: the child agent's signed assertion`,
      );
    }
    const requestedType = single(p, 'requested_token_type', false);
    if (requestedType !== undefined && requestedType !== TOKEN_TYPE_ACCESS_TOKEN) {
      throw new OAuthError('invalid_request', `requested_token_type ${q(requestedType)} is not supported`);
    }
    const child = this.verifyAssertion(single(p, 'actor_token', true) ?? '', 'actor_token');
    Object.assign(who, { actor: child.id, subject: child.id, sponsor: child.sponsor, authority: [child.id] });
    if (p.has('client_assertion')) {
      if (single(p, 'client_assertion_type', true) !== ASSERTION_TYPE_JWT_BEARER) {
        throw new OAuthError(
          'invalid_client',
          `client_assertion_type must be ${q(ASSERTION_TYPE_JWT_BEARER)}`,
        );
      }
      const client = this.verifyAssertion(single(p, 'client_assertion', true) ?? '', 'client_assertion');
      if (client.id !== child.id)
        throw new OAuthError('invalid_client', 'client_assertion and actor_token name different agents');
    }
    const jkt = this.verifyProof(req);
    if (jkt !== child.jkt) {
      throw new OAuthError('invalid_dpop_proof', 'the DPoP proof must be signed with the actor agent key');
    }

    // The parent's token: signature, claims and its whole chain must still be in good standing.
    const now = this.now();
    let parent: AccessTokenClaims;
    try {
      parent = verifyAccessToken(
        single(p, 'subject_token', true) ?? '',
        this.keys,
        { ...this.options, audience: undefined },
        now,
      );
      checkRevocation(parent, this.state, now);
    } catch (err) {
      if (err instanceof TokenError || err instanceof RevokedError) {
        throw new OAuthError('invalid_grant', `subject_token: ${err.message}`, { reason: err.code });
      }
      throw err;
    }
    const parentChain = [...actors(parent.act), parent.sub];
    who.authority = [child.id, ...parentChain];
    who.subject = parent.sub;
    if (parentChain.includes(child.id)) {
      throw new OAuthError('invalid_grant', `agent ${q(child.id)} is already in the delegation chain`, {
        reason: 'chain_cycle',
      });
    }
    if (parent.may_act && parent.may_act.sub !== child.id) {
      throw new OAuthError(
        'invalid_grant',
        `agent ${q(child.id)} is not named in the subject token's may_act`,
        {
          reason: 'may_act_mismatch',
        },
      );
    }
    const childBp = this.assertEligible(child);
    const depth = parentChain.length; // the new token's number of actors
    const maxDepth = Math.min(
      childBp.maxDelegationDepth,
      ...parentChain.map(
        (id) =>
          this.state.blueprints.get(this.state.agents.get(id)?.blueprint ?? '')?.maxDelegationDepth ?? 0,
      ),
    );
    if (depth > maxDepth) {
      throw new OAuthError('invalid_grant', `delegation depth ${depth} exceeds the maximum ${maxDepth}`, {
        reason: 'depth_exceeded',
      });
    }

    const parentScope = parent.scope.split(' ').filter((s) => s.length > 0);
    const childEnvelope = new Set(childBp.envelope.scopes);
    const requested = parseScope(single(p, 'scope', false));
    let scope: string[];
    if (requested) {
      for (const s of requested) {
        if (!parentScope.includes(s))
          throw new OAuthError('invalid_scope', `scope ${q(s)} exceeds the subject token's scope`, {
            reason: 'scope_widened',
          });
        if (!childEnvelope.has(s)) {
          throw new OAuthError(
            'invalid_scope',
            `scope ${q(s)} is outside the envelope of blueprint ${q(childBp.name)}`,
          );
        }
      }
      scope = requested;
    } else {
      scope = parentScope.filter((s) => childEnvelope.has(s));
      if (scope.length === 0) {
        throw new OAuthError(
          'invalid_scope',
          `no scope of the subject token is within the envelope of blueprint ${q(childBp.name)}`,
        );
      }
    }
    const audience = this.chooseAudience(p, parent.aud, "the subject token's audience");
    const parentExp = parent.exp * 1000;
    let exp = Math.min(now + childBp.tokenTtlSeconds * 1000, child.expiresAt, parentExp);
    exp = this.applyRequestedLifetime(p, now, exp, "the subject token's expiry and the blueprint ceiling");
    const mayAct = this.mayAct(p);
    const act: ActClaim = parent.act ? { sub: child.id, act: parent.act } : { sub: child.id };

    const claims: AccessTokenClaims = {
      iss: this.options.issuer,
      sub: parent.sub,
      aud: audience,
      exp: Math.floor(exp / 1000),
      iat: Math.floor(now / 1000),
      nbf: Math.floor(now / 1000),
      jti: randomBytes(16).toString('base64url'),
      client_id: child.id,
      scope: scope.join(' '),
      cnf: { jkt },
      sponsor: child.sponsor,
      blueprint: child.blueprint,
      grants: parent.grants,
      act,
      ...(mayAct ? { may_act: { sub: mayAct } } : {}),
    };
    return this.sign(claims, 'token.exchanged', parent.jti, req.traceparent);
  }

  /** RFC 8707 `resource` (repeatable) or RFC 8693 `audience`; every one must be in `allowed`. */
  private chooseAudience(p: TokenParams, allowed: readonly string[], what: string): string[] {
    const named = [...(p.get('resource') ?? []), ...(p.get('audience') ?? [])];
    if (named.length === 0) return [...allowed];
    for (const a of named) {
      if (!allowed.includes(a))
        throw new OAuthError('invalid_target', `audience ${q(a)} is not among ${what}`, {
          reason: 'audience_widened',
        });
    }
    return [...new Set(named)];
  }

  /** An optional `expires_in` asks for a shorter life; asking for a longer one is refused. */
  private applyRequestedLifetime(p: TokenParams, now: number, exp: number, limit: string): number {
    const text = single(p, 'expires_in', false);
    if (text === undefined) return exp;
    if (!/^\d{1,7}$/.test(text) || Number(text) === 0) {
      throw new OAuthError('invalid_request', 'expires_in must be a positive number of seconds');
    }
    const wanted = now + Number(text) * 1000;
    if (wanted > exp)
      throw new OAuthError('invalid_request', `requested lifetime of ${text} s exceeds ${limit}`, {
        reason: 'lifetime_extended',
      });
    return wanted;
  }

  private mayAct(p: TokenParams): string | undefined {
    const id = single(p, 'may_act', false);
    if (id === undefined) return undefined;
    if (!this.state.agents.has(id))
      throw new OAuthError('invalid_request', `may_act names unknown agent ${q(id)}`);
    return id;
  }

  private async sign(
    claims: AccessTokenClaims,
    type: 'token.issued' | 'token.exchanged',
    parentJti: string | undefined,
    traceparent: string | undefined,
  ): Promise<TokenResponse> {
    const parentSpan = parseTraceparent(traceparent);
    const chainForSpan = [...actors(claims.act), claims.sub];
    // Only an issuance that serves a traced task gets a span: one per token would be noise.
    const span = parentSpan
      ? (this.options.tracing ?? NO_EXPORT).start(
          type === 'token.exchanged' ? `invoke_agent ${claims.client_id}` : `issue_token ${claims.client_id}`,
          parentSpan,
          {
            ...(type === 'token.exchanged' ? { 'gen_ai.operation.name': 'invoke_agent' } : {}),
            'gen_ai.agent.id': claims.client_id,
            'warden.chain': chainForSpan,
            'warden.sponsor': claims.sponsor,
          },
        )
      : undefined;
    const signer = this.keys.signer();
    const token = signCompactJws(SERVICE_ALG, signer.key, { typ: 'at+jwt', kid: signer.kid }, { ...claims });
    const chain = [...actors(claims.act), claims.sub];
    await this.audit.record({
      type,
      outcome: 'success',
      actor: claims.client_id,
      subject: claims.sub,
      sponsor: claims.sponsor,
      authority: chain,
      reason: null,
      details: {
        jti: claims.jti,
        kid: signer.kid,
        scope: claims.scope,
        aud: claims.aud,
        exp: claims.exp,
        grants: claims.grants,
        jkt: claims.cnf.jkt,
        depth: chain.length - 1,
        ...(parentJti ? { parent_jti: parentJti } : {}),
      },
      at: claims.iat * 1000,
      ...(span ? { trace: span.ids } : {}),
    });
    span?.end();
    return {
      access_token: token,
      token_type: 'DPoP',
      expires_in: Math.max(0, claims.exp - claims.iat),
      scope: claims.scope,
      ...(type === 'token.exchanged' ? { issued_token_type: TOKEN_TYPE_ACCESS_TOKEN } : {}),
    };
  }
}

function single(p: TokenParams, name: string, required: boolean): string | undefined {
  const v = p.get(name);
  if (!v || v.length === 0) {
    if (required) throw new OAuthError('invalid_request', `parameter ${q(name)} is required`);
    return undefined;
  }
  if (v.length > 1) throw new OAuthError('invalid_request', `parameter ${q(name)} appears more than once`);
  return v[0];
}

/** RFC 6749 §3.2: request parameters must not be included more than once (RFC 8707 `resource` may). */
function assertOnlyOnce(p: TokenParams): void {
  for (const [name, values] of p) {
    if (values.length > 1 && name !== 'resource' && name !== 'audience') {
      throw new OAuthError('invalid_request', `parameter ${q(name)} appears more than once`);
    }
  }
}

function parseScope(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(' ');
  if (parts.some((s) => !SCOPE_TOKEN.test(s)))
    throw new OAuthError('invalid_scope', 'scope is not a space-separated list of scope tokens');
  return [...new Set(parts)];
}

/** The one place identity errors become OAuth errors for the token endpoint. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof DpopError) {
    const nonce = err.code === 'dpop_nonce_required' || err.code === 'dpop_nonce_invalid';
    return new OAuthError(nonce ? 'use_dpop_nonce' : 'invalid_dpop_proof', err.message, { reason: err.code });
  }
  if (err instanceof TokenError || err instanceof RevokedError)
    return new OAuthError('invalid_grant', err.message, { reason: err.code });
  return new OAuthError('server_error', 'the token could not be issued', { cause: err });
}
