// Errors of the identity domain. Each code is stable; the HTTP layer (http.ts) is the one place
// that maps them to OAuth / DPoP wire errors.

import { WardenError } from '../errors.js';

export type TokenErrorCode =
  | 'token_missing'
  | 'token_too_large'
  | 'token_malformed'
  | 'token_alg_not_allowed'
  | 'token_typ_invalid'
  | 'token_crit_unsupported'
  | 'token_kid_unknown'
  | 'token_signature_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_issuer_mismatch'
  | 'token_audience_mismatch'
  | 'token_claims_invalid';

export type DpopErrorCode =
  | 'dpop_missing'
  | 'dpop_multiple'
  | 'dpop_malformed'
  | 'dpop_typ_invalid'
  | 'dpop_alg_not_allowed'
  | 'dpop_jwk_invalid'
  | 'dpop_jwk_private'
  | 'dpop_signature_invalid'
  | 'dpop_htm_mismatch'
  | 'dpop_htu_mismatch'
  | 'dpop_iat_out_of_window'
  | 'dpop_jti_replayed'
  | 'dpop_replay_cache_full'
  | 'dpop_ath_mismatch'
  | 'dpop_key_mismatch'
  | 'dpop_nonce_required'
  | 'dpop_nonce_invalid';

export type RevokedErrorCode =
  | 'agent_unknown'
  | 'agent_inactive'
  | 'agent_expired'
  | 'agent_key_changed'
  | 'sponsor_inactive'
  | 'blueprint_inactive'
  | 'grant_inactive'
  | 'token_revoked';

/** The access token (or another JWT: a client assertion, a subject token) failed verification. */
export class TokenError extends WardenError {
  declare readonly code: TokenErrorCode;
  constructor(code: TokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The DPoP proof failed verification. */
export class DpopError extends WardenError {
  declare readonly code: DpopErrorCode;
  constructor(code: DpopErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The token was valid when issued but something it depends on has since been revoked. */
export class RevokedError extends WardenError {
  declare readonly code: RevokedErrorCode;
  constructor(code: RevokedErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'server_error';

/** A token-endpoint refusal, already in RFC 6749 / 8693 / 9449 terms. */
export class OAuthError extends WardenError {
  readonly oauthCode: OAuthErrorCode;
  /** Warden's finer, stable reason (`scope_widened`, `dpop_jti_replayed`...), sent as `warden_reason`. */
  readonly reason: string | undefined;
  constructor(
    oauthCode: OAuthErrorCode,
    description: string,
    options?: { cause?: unknown; reason?: string },
  ) {
    super('oauth_error', description, options);
    this.oauthCode = oauthCode;
    this.reason = options?.reason;
  }
}
