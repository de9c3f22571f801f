// The MCP gateway's HTTP side: Streamable HTTP at `/mcp`, behind the identity verifier. Every
// HTTP request carries the agent's DPoP-bound token and is verified on its own; a session belongs
// to the agent that opened it and to no one else.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Principal } from '../identity/index.js';
import { GatewaySession, type GatewayDeps } from './session.js';
import { SessionTransport } from './session-transport.js';
import { INTENT_META_KEY, parseIntent, type Intent } from '../policy/flow-intent.js';

export interface GatewayOptions extends GatewayDeps {
  maxSessionsPerAgent?: number;
  idleTimeoutMs?: number;
}

interface Live {
  session: GatewaySession;
  transport: SessionTransport;
  lastUsed: number;
}

function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  id: unknown = null,
): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

class BodyTooLarge extends Error {}

/**
 * The request body, up to `limit` bytes. Read from its events rather than an async iterator, which
 * costs a promise and a listener set per request. Over the limit, the request is destroyed (its
 * connection with it) and BodyTooLarge rejects; a request that ends early rejects.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        done();
        req.destroy();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    // 'close' before 'end': the client went away mid-body.
    const onClose = (): void => {
      done();
      reject(new Error('the request ended before its body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function isInitialize(
  body: unknown,
): body is { method: 'initialize'; params?: { _meta?: Record<string, unknown> } } {
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    (body as { method?: unknown }).method === 'initialize'
  );
}

export class Gateway {
  private readonly sessions = new Map<string, Live>();
  private readonly sweeper: NodeJS.Timeout;
  /** POSTs being served (GET streams stay open for a session's lifetime and are not counted). */
  private posts = 0;

  constructor(private readonly options: GatewayOptions) {
    this.sweeper = setInterval(() => void this.sweep(), 30_000);
    this.sweeper.unref();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Handle one authenticated HTTP request to `/mcp`. */
  async handle(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'POST') {
      this.posts++;
      res.once('close', () => this.posts--);
    }
    const sid = req.headersDistinct['mcp-session-id'];
    if (sid && sid.length > 1) return jsonRpcError(res, 400, -32600, 'more than one Mcp-Session-Id header');
    const sessionId = sid?.[0];

    let parsed: unknown;
    if (method === 'POST') {
      let raw: Buffer;
      try {
        raw = await readBody(req, this.options.settings.maxMessageBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          return jsonRpcError(
            res,
            413,
            -32600,
            `message larger than ${this.options.settings.maxMessageBytes} bytes`,
          );
        }
        throw err;
      }
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        return jsonRpcError(res, 400, -32700, 'parse error: the body is not JSON');
      }
      if (typeof parsed !== 'object' || parsed === null)
        return jsonRpcError(res, 400, -32600, 'invalid request: not a JSON-RPC message');
    } else if (method !== 'GET' && method !== 'DELETE') {
      res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
      return;
    }

    // Give the SDK handlers the principal verified for this very request.
    const auth: AuthInfo = {
      token: '',
      clientId: principal.agent,
      scopes: principal.scopes,
      extra: { principal },
    };

    if (sessionId === undefined) {
      if (method !== 'POST' || !isInitialize(parsed)) {
        return jsonRpcError(res, 400, -32600, 'no session: start with an initialize request');
      }
      return this.open(req, res, principal, auth, parsed);
    }
    const live = this.sessions.get(sessionId);
    // INVARIANT: another agent's session id is indistinguishable from an unknown one.
    if (!live || live.session.agent !== principal.agent)
      return jsonRpcError(res, 404, -32001, 'session not found');
    live.lastUsed = Date.now();
    if (method === 'DELETE') {
      await this.closeSession(sessionId);
      res.writeHead(200).end();
      return;
    }
    await live.transport.handle(req, res, parsed, auth);
  }

  private async open(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    auth: AuthInfo,
    init: { params?: { _meta?: Record<string, unknown> } },
  ): Promise<void> {
    const mine = [...this.sessions.values()].filter((l) => l.session.agent === principal.agent).length;
    if (mine >= (this.options.maxSessionsPerAgent ?? 16)) {
      return jsonRpcError(res, 429, -32600, 'too many open sessions for this agent: close one first');
    }
    const rawIntent = init.params?._meta?.[INTENT_META_KEY];
    let intent: Intent | undefined;
    if (rawIntent !== undefined) {
      try {
        intent = parseIntent(rawIntent);
      } catch (err) {
        return jsonRpcError(res, 400, -32602, `invalid ${INTENT_META_KEY}: ${(err as Error).message}`);
      }
    }
    const sessionId = randomUUID();
    const transport = new SessionTransport(sessionId, (id) => {
      const session = pending;
      this.sessions.set(id, { session, transport, lastUsed: Date.now() });
      void this.options.audit
        .record({
          type: 'mcp.session',
          outcome: 'success',
          actor: principal.agent,
          subject: id,
          sponsor: principal.sponsor,
          authority: principal.chain,
          reason: null,
          details: { event: 'opened', intent_declared: intent !== undefined },
        })
        .catch(() => undefined);
    });
    const pending = new GatewaySession(sessionId, principal.agent, {
      ...this.options,
      busy: () => this.posts > 1,
    });
    if (intent !== undefined) pending.declareIntent(intent);
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id) void this.closeSession(id);
    };
    await pending.server.connect(transport);
    await transport.handle(req, res, init, auth);
    if (!transport.sessionId) await pending.close();
  }

  private async closeSession(id: string): Promise<void> {
    const live = this.sessions.get(id);
    if (!live) return;
    this.sessions.delete(id);
    await live.session.close();
  }

  private async sweep(): Promise<void> {
    const idle = this.options.idleTimeoutMs ?? 30 * 60_000;
    const now = Date.now();
    for (const [id, live] of this.sessions) if (now - live.lastUsed > idle) await this.closeSession(id);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.closeSession(id)));
  }
}
