// Assembling the identity service of a data directory: keys, registry snapshot, DPoP verifier,
// token service, request verifier and the HTTP server, started on the configured address.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { LogStorage, logConnection, type AuditSink } from '../audit/index.js';
import { auditHandler } from '../audit/http.js';
import type { Tracing } from '../audit/tracing.js';
import { defaultAudience, issuerUrl, type WardenConfig } from '../config/index.js';
import { WardenError, q } from '../errors.js';
import type { Store } from '../store/index.js';
import type { Principal, TokenVerifyOptions } from './access-token.js';
import { DpopVerifier } from './dpop.js';
import { bearerMatches, createLateBoundServer, identityHandler } from './http.js';
import { TokenService } from './issue.js';
import { ServiceKeys } from './keys.js';
import { IdentityState } from './state.js';
import { RequestVerifier } from './verify-request.js';

export interface IdentityService {
  issuer: string;
  server: Server;
  keys: ServiceKeys;
  state: IdentityState;
  dpop: DpopVerifier;
  tokens: TokenService;
  verifier: RequestVerifier;
  close(): Promise<void>;
}

export const INTROSPECTION_SECRET_FILE = 'introspection.secret';

/** The introspection secret, created (mode 0600) on first use. */
export function introspectionSecret(dataDir: string): Buffer {
  const file = join(dataDir, INTROSPECTION_SECRET_FILE);
  if (!existsSync(file))
    writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new WardenError('key_file_invalid', `${q(file)} is readable by others: run chmod 600 on it`);
  }
  return Buffer.from(readFileSync(file, 'utf8').trim());
}

/** Something served at `/mcp` once the identity service is up (the gateway). */
export interface McpMount {
  handle(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  dataDir: string;
  config: WardenConfig;
  store: Store;
  audit: AuditSink;
  host?: string;
  port?: number;
  /** Spans for traced issuances and delegations. */
  tracing?: Tracing;
  /** Serve the evidence log at /audit/v1/ with these verifier keys; omitted: not served. */
  auditLog?: { verifierKeys: readonly string[] };
  /** Build what `/mcp` serves, given the registry snapshot; omitted: no gateway. */
  mcp?: (state: IdentityState, issuer: string) => Promise<McpMount>;
}

/** Start listening; with port 0 the kernel picks a free port and the issuer follows it. */
export async function startIdentityService(opts: StartOptions): Promise<IdentityService> {
  const { config, store, audit, dataDir } = opts;
  const host = opts.host ?? config.server.host;
  const port = opts.port ?? config.server.port;
  const keys = new ServiceKeys(store, dataDir);
  const state = new IdentityState(store, keys, config.registry.revocationPollMs);
  await state.start();
  const dpop = new DpopVerifier({
    algorithms: config.dpop.algorithms,
    iatWindowSeconds: config.dpop.iatWindowSeconds,
    requireNonce: config.dpop.requireNonce,
    replayCacheSize: config.dpop.replayCacheSize,
  });
  const secret = introspectionSecret(dataDir);

  // The issuer depends on the bound port when none is configured, so bind first.
  const { server, attach } = createLateBoundServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new WardenError(
          'internal',
          err.code === 'EADDRINUSE'
            ? `port ${port} on ${host} is already in use: choose another with --port`
            : `cannot listen on ${host}:${port}: ${err.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const issuer = issuerUrl({ ...config, server: { ...config.server, host } }, bound);
  const tokenOptions: TokenVerifyOptions = {
    issuer,
    audience: defaultAudience(config, issuer)[0],
    leewaySeconds: config.tokens.leewaySeconds,
    maxTokenBytes: config.tokens.maxTokenBytes,
  };
  const tokens = new TokenService(keys, state, dpop, audit, {
    ...tokenOptions,
    tokenEndpoint: `${issuer}/oauth/token`,
    defaultAudience: defaultAudience(config, issuer),
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
  });
  const verifier = new RequestVerifier(keys, state, dpop, tokenOptions);
  // Protected requests that arrive while others are served have their DPoP signature checked on
  // a thread of its own: start it now, not in the path of the first such request.
  dpop.startThread();
  let mount: McpMount | undefined;
  try {
    mount = opts.mcp ? await opts.mcp(state, issuer) : undefined;
  } catch (err) {
    await dpop.close();
    state.stop();
    server.close();
    throw err;
  }
  attach(
    identityHandler({
      issuer,
      keys,
      state,
      dpop,
      tokens,
      verifier,
      tokenOptions,
      algorithms: config.dpop.algorithms,
      introspectionSecret: secret,
      ...(opts.auditLog
        ? {
            routes: [
              auditHandler({
                storage: new LogStorage(logConnection(store).connection),
                verifierKeys: opts.auditLog.verifierKeys,
                mayReadEntries: (req) => bearerMatches(req, secret),
              }),
            ],
          }
        : {}),
      ...(mount
        ? {
            mcp: (req: IncomingMessage, res: ServerResponse, p: Principal) => mount.handle(req, res, p),
          }
        : {}),
      audit,
    }),
  );
  return {
    issuer,
    server,
    keys,
    state,
    dpop,
    tokens,
    verifier,
    async close() {
      await mount?.close();
      await dpop.close();
      state.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
