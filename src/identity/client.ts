// The agent side of the protocol, for agent runtimes and for `warden token`: it holds the agent's
// private key (from the credential file), signs RFC 7523 assertions and RFC 9449 proofs, obtains
// tokens, and retries once when the server asks for a DPoP nonce.

import { createHash, randomBytes } from 'node:crypto';
import { WardenError, q } from '../errors.js';
import type { AgentCredentials } from './credentials.js';
import { signCompactJws } from './jws.js';
import {
  ASSERTION_TYPE_JWT_BEARER,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_JWT,
} from './issue.js';

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

/** A refusal from the server, with its OAuth error and Warden's finer reason. */
export class AgentClientError extends WardenError {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string | undefined,
    description: string,
  ) {
    super('oauth_error', `${error}${reason ? ` (${reason})` : ''}: ${description}`);
  }
}

export class AgentClient {
  private nonce: string | undefined;

  constructor(private readonly creds: AgentCredentials) {}

  get agentId(): string {
    return this.creds.agentId;
  }

  /** RFC 7523 client assertion for the token endpoint, valid for 60 s. */
  assertion(): string {
    const now = Math.floor(Date.now() / 1000);
    return signCompactJws(
      this.creds.alg,
      this.creds.privateKey,
      { typ: 'JWT' },
      {
        iss: this.creds.agentId,
        sub: this.creds.agentId,
        aud: this.creds.tokenEndpoint,
        iat: now,
        exp: now + 60,
        jti: randomBytes(16).toString('base64url'),
      },
    );
  }

  /** RFC 9449 proof for one request; `accessToken` adds `ath`. */
  proof(method: string, url: string, accessToken?: string): string {
    const u = new URL(url);
    const payload: Record<string, unknown> = {
      htm: method,
      htu: `${u.protocol}//${u.host}${u.pathname}`,
      iat: Math.floor(Date.now() / 1000),
      jti: randomBytes(16).toString('base64url'),
    };
    if (accessToken) payload['ath'] = createHash('sha256').update(accessToken).digest('base64url');
    if (this.nonce) payload['nonce'] = this.nonce;
    return signCompactJws(
      this.creds.alg,
      this.creds.privateKey,
      { typ: 'dpop+jwt', jwk: this.creds.publicJwk },
      payload,
    );
  }

  /** Client credentials: a fresh token bound to this agent's key. */
  async token(
    options: { scope?: string; audience?: string; mayAct?: string; traceparent?: string } = {},
  ): Promise<IssuedToken> {
    return this.tokenRequest(options.traceparent, () => {
      const p = new URLSearchParams({
        grant_type: GRANT_CLIENT_CREDENTIALS,
        client_assertion_type: ASSERTION_TYPE_JWT_BEARER,
        client_assertion: this.assertion(),
      });
      if (options.scope) p.set('scope', options.scope);
      if (options.audience) p.set('resource', options.audience);
      if (options.mayAct) p.set('may_act', options.mayAct);
      return p;
    });
  }

  /** RFC 8693: take a delegation of `subjectToken` (a parent agent's token) as this agent. */
  async exchange(
    subjectToken: string,
    options: { scope?: string; traceparent?: string } = {},
  ): Promise<IssuedToken> {
    return this.tokenRequest(options.traceparent, () => {
      const p = new URLSearchParams({
        grant_type: GRANT_TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
        actor_token: this.assertion(),
        actor_token_type: TOKEN_TYPE_JWT,
      });
      if (options.scope) p.set('scope', options.scope);
      return p;
    });
  }

  /** A protected request with the token and a fresh proof; retries once on `use_dpop_nonce`. */
  async fetch(
    url: string,
    token: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const method = init.method ?? 'GET';
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(url, {
        method,
        headers: { ...init.headers, authorization: `DPoP ${token}`, dpop: this.proof(method, url, token) },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.nonce = nonce;
      if (
        res.status === 401 &&
        attempt === 0 &&
        nonce &&
        /use_dpop_nonce/.test(res.headers.get('www-authenticate') ?? '')
      )
        continue;
      return res;
    }
  }

  /**
   * A fetch that authenticates every request to a protected resource (for example an MCP client
   * transport pointed at the gateway): `Authorization: DPoP <token>` and a fresh proof each time.
   * The token is renewed shortly before it expires; a `use_dpop_nonce` challenge is retried once.
   */
  fetcher(options: { scope?: string } = {}): typeof fetch {
    let current: { token: string; until: number } | undefined;
    const token = async (): Promise<string> => {
      if (!current || current.until - Date.now() < 30_000) {
        const t = await this.token(options.scope ? { scope: options.scope } : {});
        current = { token: t.accessToken, until: Date.now() + t.expiresIn * 1000 };
      }
      return current.token;
    };
    return async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const method = (init?.method ?? 'GET').toUpperCase();
      for (let attempt = 0; ; attempt++) {
        const t = await token();
        const headers = new Headers(init?.headers);
        headers.set('authorization', `DPoP ${t}`);
        headers.set('dpop', this.proof(method, url, t));
        const res = await fetch(url, { ...init, method, headers });
        const nonce = res.headers.get('dpop-nonce');
        if (nonce) this.nonce = nonce;
        if (res.status === 401 && attempt === 0) {
          const challenge = res.headers.get('www-authenticate') ?? '';
          if (nonce && challenge.includes('use_dpop_nonce')) continue;
          if (challenge.includes('invalid_token')) {
            current = undefined; // revoked or expired: one fresh token, then give up
            continue;
          }
        }
        return res;
      }
    };
  }

  /** `traceparent`: the W3C trace context of the task, so the issuance joins its trace. */
  private async tokenRequest(
    traceparent: string | undefined,
    params: () => URLSearchParams,
  ): Promise<IssuedToken> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(this.creds.tokenEndpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            dpop: this.proof('POST', this.creds.tokenEndpoint),
            ...(traceparent ? { traceparent } : {}),
          },
          body: params().toString(),
        });
      } catch (err) {
        throw new WardenError(
          'oauth_error',
          `cannot reach the token endpoint ${q(this.creds.tokenEndpoint)}: is \`warden serve\` running?`,
          {
            cause: err,
          },
        );
      }
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.nonce = nonce;
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.ok && typeof body['access_token'] === 'string') {
        return {
          accessToken: body['access_token'],
          expiresIn: Number(body['expires_in']),
          scope: str(body['scope'], ''),
        };
      }
      if (body['error'] === 'use_dpop_nonce' && attempt === 0) continue;
      throw new AgentClientError(
        res.status,
        str(body['error'], 'server_error'),
        typeof body['warden_reason'] === 'string' ? body['warden_reason'] : undefined,
        str(body['error_description'], `HTTP ${res.status}`),
      );
    }
  }
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}
