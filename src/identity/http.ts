// The identity service over HTTP: RFC 8414 metadata, RFC 7517 JWKS, the token endpoint, RFC 7662
// introspection, and a protected `whoami` resource. This file is the one place identity errors
// become OAuth / DPoP wire errors; nothing internal crosses the wire.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AuditSink } from '../audit/index.js';
import { DpopError, OAuthError, RevokedError, TokenError } from './errors.js';
import {
  checkRevocation,
  verifyAccessToken,
  type Principal,
  type TokenVerifyOptions,
} from './access-token.js';
import type { DpopVerifier } from './dpop.js';
import { GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE, type TokenService } from './issue.js';
import type { ServiceKeys } from './keys.js';
import type { IdentityState } from './state.js';
import type { RequestVerifier } from './verify-request.js';

const MAX_BODY_BYTES = 16 * 1024;

export interface IdentityHttpDeps {
  issuer: string;
  keys: ServiceKeys;
  state: IdentityState;
  dpop: DpopVerifier;
  tokens: TokenService;
  verifier: RequestVerifier;
  tokenOptions: TokenVerifyOptions;
  algorithms: readonly string[];
  audit: AuditSink;
  /** The MCP gateway, served at `/mcp` behind the same verifier; absent when no gateway runs. */
  mcp?: (req: IncomingMessage, res: ServerResponse, principal: Principal) => Promise<void>;
  /** Shared secret resource servers present to `/oauth/introspect` as a Bearer token. */
  introspectionSecret: Buffer;
  /** Other routes served beside identity's (the evidence log's); each returns false if not its path. */
  routes?: ReadonlyArray<(req: IncomingMessage, res: ServerResponse) => boolean>;
}

/** Whether the request carries `secret` as its one Bearer token (compared in constant time). */
export function bearerMatches(req: IncomingMessage, secret: Buffer): boolean {
  const auth = req.headersDistinct['authorization'] ?? [];
  const presented = auth.length === 1 ? /^Bearer +(\S+)$/i.exec(auth[0] ?? '')?.[1] : undefined;
  const given = Buffer.from(presented ?? '');
  return given.length === secret.length && timingSafeEqual(given, secret);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body['error']));
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function readForm(req: IncomingMessage): Promise<Map<string, string[]>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new HttpError(400, {
      error: 'invalid_request',
      error_description: 'the body must be application/x-www-form-urlencoded',
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, {
        error: 'invalid_request',
        error_description: 'the request body is too large',
      });
    chunks.push(chunk as Buffer);
  }
  const params = new Map<string, string[]>();
  for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) {
    const list = params.get(k);
    if (list) list.push(v);
    else params.set(k, [v]);
  }
  return params;
}

/** RFC 9449 §7.1 / RFC 6750 §3: the challenge for a refused protected request. */
function challenge(err: unknown): { status: number; error: string; description: string; reason?: string } {
  if (err instanceof DpopError) {
    const nonce = err.code === 'dpop_nonce_required' || err.code === 'dpop_nonce_invalid';
    return {
      status: 401,
      error: nonce ? 'use_dpop_nonce' : 'invalid_dpop_proof',
      description: err.message,
      reason: err.code,
    };
  }
  if (err instanceof TokenError) {
    return {
      status: 401,
      error: err.code === 'token_missing' ? '' : 'invalid_token',
      description: err.message,
      reason: err.code,
    };
  }
  if (err instanceof RevokedError)
    return { status: 401, error: 'invalid_token', description: err.message, reason: err.code };
  return { status: 503, error: 'temporarily_unavailable', description: 'the request could not be verified' };
}

/** Decode a token's claims without trusting them, only to say whom a refused request claimed to be. */
function claimedAgent(req: IncomingMessage): string | null {
  const m = /^\S+ +([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\./.exec(
    req.headersDistinct['authorization']?.[0] ?? '',
  );
  try {
    const p = JSON.parse(Buffer.from(m?.[2] ?? '', 'base64url').toString('utf8')) as { client_id?: unknown };
    return typeof p.client_id === 'string' ? p.client_id.slice(0, 300) : null;
  } catch {
    return null;
  }
}

async function recordRefusal(
  audit: AuditSink,
  req: IncomingMessage,
  method: string,
  path: string,
  reason: string,
  description: string,
): Promise<void> {
  try {
    await audit.record({
      type: 'request.refused',
      outcome: 'refused',
      actor: null,
      subject: null,
      sponsor: null,
      authority: [],
      reason: `${reason}: ${description}`,
      details: { method, path, claimed_agent: claimedAgent(req), remote: req.socket.remoteAddress ?? null },
    });
  } catch {
    // The refusal stands whether or not it could be recorded.
  }
}

/** The request handler of the identity service. */
export function identityHandler(deps: IdentityHttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const tokenEndpoint = `${deps.issuer}/oauth/token`;
  const metadata = {
    issuer: deps.issuer,
    token_endpoint: tokenEndpoint,
    jwks_uri: `${deps.issuer}/.well-known/jwks.json`,
    introspection_endpoint: `${deps.issuer}/oauth/introspect`,
    grant_types_supported: [GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'EdDSA'],
    introspection_endpoint_auth_methods_supported: ['bearer'],
    dpop_signing_alg_values_supported: [...deps.algorithms],
    response_types_supported: [],
    scopes_supported: [],
  };
  // The URL the client addressed: the issuer's origin (behind a proxy: `server.publicUrl`) plus the path.
  const addressed = (req: IncomingMessage): string =>
    `${deps.issuer}${new URL(req.url ?? '/', 'http://x').pathname}`;
  const nonceHeader = (): Record<string, string> =>
    deps.dpop.nonceRequired ? { 'dpop-nonce': deps.dpop.nonce() } : {};

  // Requests being served, but not GETs (an SSE stream stays open for a session's lifetime).
  let serving = 0;

  /** Verify a protected request; on failure write the RFC 9449 challenge, record it, return undefined. */
  async function authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
  ): Promise<Principal | undefined> {
    const method = req.method ?? 'GET';
    const protectedRequest = {
      method,
      url: addressed(req),
      authorization: req.headersDistinct['authorization'],
      dpop: req.headersDistinct['dpop'],
    };
    try {
      // With other requests being served, the proof's signature is checked on a thread of its own
      // meanwhile; alone, the trip there and back would only add to this request's latency.
      return serving > 1
        ? await deps.verifier.verifyAsync(protectedRequest)
        : deps.verifier.verify(protectedRequest);
    } catch (err) {
      const c = challenge(err);
      await recordRefusal(deps.audit, req, method, path, c.reason ?? c.error, c.description);
      const params = [`algs="${deps.algorithms.join(' ')}"`];
      if (c.error)
        params.push(`error="${c.error}"`, `error_description="${c.description.replace(/["\\]/g, "'")}"`);
      const headers: Record<string, string> = {
        'www-authenticate': `DPoP ${params.join(', ')}`,
        ...nonceHeader(),
      };
      if (c.error === 'use_dpop_nonce') headers['dpop-nonce'] = deps.dpop.nonce();
      send(
        res,
        c.status,
        {
          error: c.error || 'invalid_request',
          error_description: c.description,
          ...(c.reason ? { warden_reason: c.reason } : {}),
        },
        headers,
      );
      return undefined;
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const method = req.method ?? 'GET';
    if (path === '/.well-known/oauth-authorization-server' && method === 'GET')
      return send(res, 200, metadata);
    if (path === '/.well-known/jwks.json' && method === 'GET')
      return send(res, 200, deps.keys.jwks(), { 'cache-control': 'max-age=60' });
    if (path === '/healthz' && method === 'GET') return send(res, 200, { status: 'ok' });

    if (path === '/oauth/token') {
      if (method !== 'POST')
        return send(res, 405, { error: 'invalid_request', error_description: 'use POST' }, { allow: 'POST' });
      let params: Map<string, string[]>;
      try {
        params = await readForm(req);
      } catch (err) {
        if (err instanceof HttpError) return send(res, err.status, err.body);
        throw err;
      }
      try {
        const response = await deps.tokens.handle({
          params,
          dpop: req.headersDistinct['dpop'],
          url: addressed(req),
          traceparent: req.headersDistinct['traceparent']?.[0],
        });
        return send(res, 200, response, nonceHeader());
      } catch (err) {
        const e =
          err instanceof OAuthError ? err : new OAuthError('server_error', 'the token could not be issued');
        const status = e.oauthCode === 'invalid_client' ? 401 : e.oauthCode === 'server_error' ? 500 : 400;
        const headers: Record<string, string> =
          e.oauthCode === 'use_dpop_nonce' ? { 'dpop-nonce': deps.dpop.nonce() } : nonceHeader();
        const description = e.oauthCode === 'server_error' ? 'the token could not be issued' : e.message;
        const body: Record<string, string> = { error: e.oauthCode, error_description: description };
        if (e.reason && e.oauthCode !== 'server_error') body['warden_reason'] = e.reason;
        return send(res, status, body, headers);
      }
    }

    if (path === '/oauth/introspect') {
      if (method !== 'POST')
        return send(res, 405, { error: 'invalid_request', error_description: 'use POST' }, { allow: 'POST' });
      if (!bearerMatches(req, deps.introspectionSecret)) {
        return send(
          res,
          401,
          { error: 'invalid_client', error_description: 'introspection requires the introspection secret' },
          {
            'www-authenticate': 'Bearer realm="warden"',
          },
        );
      }
      let params: Map<string, string[]>;
      try {
        params = await readForm(req);
      } catch (err) {
        if (err instanceof HttpError) return send(res, err.status, err.body);
        throw err;
      }
      const token = params.get('token');
      if (!token || token.length !== 1) {
        return send(res, 400, {
          error: 'invalid_request',
          error_description: 'exactly one `token` parameter is required',
        });
      }
      try {
        const claims = verifyAccessToken(token[0] ?? '', deps.keys, {
          ...deps.tokenOptions,
          audience: undefined,
        });
        const principal = checkRevocation(claims, deps.state);
        return send(res, 200, {
          active: true,
          token_type: 'DPoP',
          iss: claims.iss,
          sub: claims.sub,
          client_id: claims.client_id,
          aud: claims.aud,
          scope: claims.scope,
          exp: claims.exp,
          iat: claims.iat,
          nbf: claims.nbf,
          jti: claims.jti,
          cnf: claims.cnf,
          sponsor: principal.sponsor,
          blueprint: principal.blueprint,
          ...(claims.act ? { act: claims.act } : {}),
        });
      } catch (err) {
        if (err instanceof TokenError || err instanceof RevokedError)
          return send(res, 200, { active: false });
        throw err;
      }
    }

    if (path === '/v1/whoami') {
      if (method !== 'GET' && method !== 'POST')
        return send(res, 405, { error: 'invalid_request' }, { allow: 'GET, POST' });
      const principal = await authenticate(req, res, path);
      if (principal) send(res, 200, principal, nonceHeader());
      return;
    }

    if (path === '/mcp' && deps.mcp) {
      const principal = await authenticate(req, res, path);
      if (principal) await deps.mcp(req, res, principal);
      return;
    }
    for (const r of deps.routes ?? []) if (r(req, res)) return;
    return send(res, 404, { error: 'not_found', error_description: `no route for ${method} ${path}` });
  }

  return (req, res) => {
    if (req.method !== 'GET') {
      serving++;
      res.once('close', () => serving--);
    }
    route(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: 'internal error' });
      else res.destroy();
    });
  };
}

/** An HTTP server whose handler is attached once the bound address (and so the issuer) is known. */
export function createLateBoundServer(): {
  server: Server;
  attach: (handler: (req: IncomingMessage, res: ServerResponse) => void) => void;
} {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer({ maxHeaderSize: 32 * 1024 }, (req, res) => {
    if (handler) handler(req, res);
    else send(res, 503, { error: 'temporarily_unavailable', error_description: 'starting' });
  });
  return { server, attach: (h) => (handler = h) };
}
