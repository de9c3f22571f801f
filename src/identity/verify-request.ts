// The one verifier every protected request goes through: access token, DPoP proof, revocation
// along the whole delegation chain. Returns the principal or throws a typed error.

import { DpopError, TokenError } from './errors.js';
import {
  checkRevocation,
  verifyAccessToken,
  VerifiedTokens,
  type AccessTokenClaims,
  type Principal,
  type TokenVerifyOptions,
} from './access-token.js';
import type { DpopCheck, DpopVerifier } from './dpop.js';
import type { ServiceKeys } from './keys.js';
import type { IdentityState } from './state.js';

export interface ProtectedRequest {
  method: string;
  /** The URL as the client addressed it (the DPoP `htu`). */
  url: string;
  /** Every `Authorization` header value received (Node's `headersDistinct`). */
  authorization: readonly string[] | undefined;
  /** Every `DPoP` header value received. */
  dpop: readonly string[] | undefined;
}

export class RequestVerifier {
  private readonly verified = new VerifiedTokens();

  constructor(
    private readonly keys: ServiceKeys,
    private readonly state: IdentityState,
    private readonly dpop: DpopVerifier,
    private readonly options: TokenVerifyOptions,
  ) {}

  verify(req: ProtectedRequest, now: number = Date.now()): Principal {
    const { token, proof, claims } = this.parse(req, now);
    this.dpop.verify(proof, this.check(req, token, claims.cnf.jkt), now);
    return checkRevocation(claims, this.state, now);
  }

  /** verify(), with the DPoP proof's signature checked on a thread of its own (the HTTP path). */
  async verifyAsync(req: ProtectedRequest, now: number = Date.now()): Promise<Principal> {
    const { token, proof, claims } = this.parse(req, now);
    await this.dpop.verifyAsync(proof, this.check(req, token, claims.cnf.jkt), now);
    return checkRevocation(claims, this.state, now);
  }

  private check(req: ProtectedRequest, token: string, jkt: string): DpopCheck {
    return { method: req.method, url: req.url, accessToken: token, expectedJkt: jkt };
  }

  /** The headers, then the access token. */
  private parse(
    req: ProtectedRequest,
    now: number,
  ): { token: string; proof: string; claims: AccessTokenClaims } {
    const auth = req.authorization ?? [];
    if (auth.length === 0)
      throw new TokenError('token_missing', 'no access token: send `Authorization: DPoP <token>`');
    if (auth.length > 1) throw new TokenError('token_malformed', 'more than one Authorization header');
    const m = /^(\S+) +(\S+)$/.exec(auth[0] ?? '');
    if (!m) throw new TokenError('token_malformed', 'the Authorization header is not `DPoP <token>`');
    const scheme = (m[1] ?? '').toLowerCase();
    const token = m[2] ?? '';
    if (scheme !== 'dpop') {
      throw new DpopError(
        'dpop_missing',
        'access tokens are DPoP-bound: use the DPoP scheme with a DPoP proof',
      );
    }
    const proofs = req.dpop ?? [];
    if (proofs.length === 0) throw new DpopError('dpop_missing', 'no DPoP proof: send one `DPoP` header');
    if (proofs.length > 1) throw new DpopError('dpop_multiple', 'more than one DPoP header');
    const claims = verifyAccessToken(token, this.keys, this.options, now, this.verified);
    return { token, proof: proofs[0] ?? '', claims };
  }
}
