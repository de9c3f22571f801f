// The identity domain's public surface.
export { Registry } from './registry.js';
export { RequestVerifier, type ProtectedRequest } from './verify-request.js';
export {
  checkRevocation,
  verifyAccessToken,
  actors,
  type AccessTokenClaims,
  type ActClaim,
  type Principal,
} from './access-token.js';
export { DpopVerifier, accessTokenHash, htuOf, type DpopOptions, type VerifiedProof } from './dpop.js';
export { TokenService, type TokenResponse } from './issue.js';
export { ServiceKeys, createSigningKey } from './keys.js';
export { IdentityState } from './state.js';
export { startIdentityService, type IdentityService } from './service.js';
export { DpopError, OAuthError, RevokedError, TokenError } from './errors.js';
export { generateAgentKey, jwkThumbprint, parsePublicJwk, type PublicJwk } from './jwk.js';
export type { Agent, Blueprint, Envelope, Grant, Sponsor } from './model.js';
