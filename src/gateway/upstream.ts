// One upstream MCP server as seen from one agent session. Each agent session gets its own
// connection, so a server-to-client request (sampling, elicitation, roots) or a notification can
// only ever reach the session it belongs to. A crashed upstream takes only its own tools offline
// and is restarted with backoff on next use; a hung one hits the per-call timeout.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
  type ProgressNotification,
  ToolListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  PromptListChangedNotificationSchema,
  type CallToolResult,
  type ClientCapabilities,
  type CreateMessageRequest,
  type ElicitRequest,
  type GetPromptResult,
  type ListRootsRequest,
  type LoggingMessageNotification,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { WardenError, q } from '../errors.js';
import type { HttpUpstreamConfig, UpstreamConfig } from './config.js';
import type { Secrets } from './secrets.js';
import { ExplicitStdioTransport } from './stdio-transport.js';
import type { ConnectDecider } from '../sandbox/proxy.js';

export class UpstreamError extends WardenError {
  constructor(
    code: 'upstream_unavailable' | 'upstream_timeout' | 'upstream_error',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** What an upstream may ask of the agent's client; the session decides whether to pass it on. */
export interface ClientSide {
  capabilities: ClientCapabilities;
  createMessage(server: string, req: CreateMessageRequest['params']): Promise<unknown>;
  elicit(server: string, req: ElicitRequest['params']): Promise<unknown>;
  listRoots(server: string, req: ListRootsRequest['params']): Promise<unknown>;
  log(server: string, params: LoggingMessageNotification['params']): void;
  /** Decides and records each outbound connection of the sandboxed server `server`. */
  connectDecider(server: string, allow: readonly string[]): ConnectDecider;
  listChanged(server: string, what: 'tools' | 'resources' | 'prompts'): void;
  stderr(server: string, line: string): void;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 5000, 10_000, 30_000];

/** How long an upstream may take to start and answer initialize (a cold `node` or `npx` start is slow). */
export const START_TIMEOUT_MS = 20_000;

export class UpstreamConnection {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  private lastError = '';
  /** Progress forwarders of the calls in flight, by the progress token the gateway gave upstream. */
  private readonly progress = new Map<string, (p: ProgressNotification['params']) => void>();
  private nextProgressToken = 0;

  constructor(
    readonly config: UpstreamConfig,
    private readonly secrets: Secrets,
    private readonly clientSide: ClientSide,
    private readonly defaultTimeoutMs: number,
    /** Never visible inside a sandbox: Warden's data directory (configuration, keys, database). */
    private readonly sandboxHide: readonly string[] = [],
  ) {}

  get name(): string {
    return this.config.name;
  }

  get timeoutMs(): number {
    return this.config.callTimeoutMs ?? this.defaultTimeoutMs;
  }

  /** The connected client, connecting (or reconnecting after backoff) when needed. */
  async connection(): Promise<Client> {
    if (this.closed) throw new UpstreamError('upstream_unavailable', `upstream ${q(this.name)} is closed`);
    if (this.client) return this.client;
    if (Date.now() < this.retryAt) {
      throw new UpstreamError(
        'upstream_unavailable',
        `upstream ${q(this.name)} is offline (${this.lastError}); retrying shortly`,
      );
    }
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private transport(): Transport {
    const c = this.config;
    if (c.transport === 'stdio') {
      const env: Record<string, string> = {};
      const profile = c.sandbox === 'none' ? undefined : c.sandbox;
      // The profile's pass-through names first: the upstream's own `env` values win.
      for (const k of profile?.env ?? []) {
        const v = process.env[k];
        if (v !== undefined) env[k] = v;
      }
      for (const [k, v] of Object.entries(c.env))
        env[k] = typeof v === 'string' ? v : this.secrets.resolve(v);
      return new ExplicitStdioTransport({
        argv: c.command,
        env,
        ...(c.cwd ? { cwd: c.cwd } : {}),
        onStderr: (line) => this.clientSide.stderr(this.name, line),
        ...(profile
          ? {
              sandbox: {
                name: this.name,
                profile,
                hide: this.sandboxHide,
                decideConnect: this.clientSide.connectDecider(this.name, profile.network.allow),
              },
            }
          : {}),
      });
    }
    return new StreamableHTTPClientTransport(new URL(c.url), { fetch: this.authorisedFetch(c) });
  }

  /** Injects the upstream's credential; agents never see it. */
  private authorisedFetch(c: HttpUpstreamConfig): typeof fetch {
    let cached: { token: string; until: number } | undefined;
    const token = async (): Promise<string | undefined> => {
      const auth = c.auth;
      if (!auth) return undefined;
      if (auth.type === 'bearer') return this.secrets.resolve(auth.token);
      if (cached && cached.until > Date.now()) return cached.token;
      const body = new URLSearchParams({ grant_type: 'client_credentials' });
      if (auth.scope) body.set('scope', auth.scope);
      const basic = Buffer.from(
        `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(this.secrets.resolve(auth.clientSecret))}`,
      ).toString('base64');
      const res = await fetch(auth.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
        body,
      });
      const json = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
      if (!res.ok || typeof json.access_token !== 'string') {
        throw new UpstreamError(
          'upstream_unavailable',
          `upstream ${q(this.name)}: its token endpoint refused the gateway's client credentials`,
        );
      }
      const ttl = typeof json.expires_in === 'number' ? json.expires_in : 300;
      cached = { token: json.access_token, until: Date.now() + Math.max(10, ttl - 30) * 1000 };
      return cached.token;
    };
    return async (input, init) => {
      const headers = new Headers(init?.headers);
      const t = await token();
      if (t) headers.set('authorization', `Bearer ${t}`);
      return fetch(input, { ...init, headers });
    };
  }

  private async connect(): Promise<Client> {
    const client = new Client(
      { name: 'warden-gateway', version: '0.1.0' },
      { capabilities: this.upstreamCapabilities() },
    );
    this.installHandlers(client);
    const transport = this.transport();
    try {
      await withTimeout(
        client.connect(transport),
        Math.max(this.timeoutMs, START_TIMEOUT_MS),
        `upstream ${q(this.name)} did not initialise`,
      );
    } catch (err) {
      await transport.close().catch(() => undefined);
      this.noteFailure(err);
      throw new UpstreamError(
        'upstream_unavailable',
        `upstream ${q(this.name)} could not be started: ${this.lastError}`,
        { cause: err },
      );
    }
    client.onclose = () => {
      if (this.client === client) {
        this.client = undefined;
        if (!this.closed) this.noteFailure(new Error('the server exited'));
      }
    };
    this.failures = 0;
    this.client = client;
    return client;
  }

  private noteFailure(err: unknown): void {
    this.lastError = err instanceof Error ? (err.message.split('\n')[0] ?? 'failed') : 'failed';
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] ?? 30_000;
    this.failures++;
    this.retryAt = Date.now() + delay;
  }

  /** Offer upstreams only the client features the agent's own client has. */
  private upstreamCapabilities(): ClientCapabilities {
    const caps: ClientCapabilities = {};
    const agent = this.clientSide.capabilities;
    if (agent.sampling) caps.sampling = {};
    if (agent.elicitation) caps.elicitation = {};
    if (agent.roots) caps.roots = {};
    return caps;
  }

  private installHandlers(client: Client): void {
    const side = this.clientSide;
    if (side.capabilities.sampling) {
      client.setRequestHandler(
        CreateMessageRequestSchema,
        (req) => side.createMessage(this.name, req.params) as never,
      );
    }
    if (side.capabilities.elicitation) {
      client.setRequestHandler(ElicitRequestSchema, (req) => side.elicit(this.name, req.params) as never);
    }
    if (side.capabilities.roots) {
      client.setRequestHandler(
        ListRootsRequestSchema,
        (req) => side.listRoots(this.name, req.params) as never,
      );
    }
    // Replaces the SDK's per-request progress routing, which drops a progress notification that
    // arrives in the same read as its response (the handler runs a microtask after the response
    // has removed it). A forwarder here lives until the call's promise has settled.
    client.setNotificationHandler(ProgressNotificationSchema, (n) =>
      this.progress.get(String(n.params.progressToken))?.(n.params),
    );
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => side.log(this.name, n.params));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () =>
      side.listChanged(this.name, 'tools'),
    );
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () =>
      side.listChanged(this.name, 'resources'),
    );
    client.setNotificationHandler(PromptListChangedNotificationSchema, () =>
      side.listChanged(this.name, 'prompts'),
    );
  }

  async listTools(): Promise<Tool[]> {
    const c = await this.connection();
    if (!c.getServerCapabilities()?.tools) return [];
    const out: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = await c.listTools(cursor ? { cursor } : {}, { timeout: this.timeoutMs });
      out.push(...r.tools);
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    return out;
  }

  async listResources(): Promise<Resource[]> {
    const c = await this.connection();
    if (!c.getServerCapabilities()?.resources) return [];
    const out: Resource[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = await c.listResources(cursor ? { cursor } : {}, { timeout: this.timeoutMs });
      out.push(...r.resources);
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    return out;
  }

  async listPrompts(): Promise<Prompt[]> {
    const c = await this.connection();
    if (!c.getServerCapabilities()?.prompts) return [];
    const out: Prompt[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = await c.listPrompts(cursor ? { cursor } : {}, { timeout: this.timeoutMs });
      out.push(...r.prompts);
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    return out;
  }

  async callTool(
    name: string,
    args: Record<string, unknown>,
    opts: {
      signal?: AbortSignal;
      onprogress?: (p: { progress: number; total?: number; message?: string }) => void;
      /** W3C trace context handed on to the upstream in `params._meta`. */
      traceparent?: string;
    },
  ): Promise<CallToolResult> {
    const c = await this.connection();
    const token = opts.onprogress ? `p${this.nextProgressToken++}` : undefined;
    if (token !== undefined && opts.onprogress) {
      const forward = opts.onprogress;
      this.progress.set(token, ({ progress, total, message }) =>
        forward({
          progress,
          ...(total !== undefined ? { total } : {}),
          ...(message !== undefined ? { message } : {}),
        }),
      );
    }
    try {
      return (await c.callTool(
        {
          name,
          arguments: args,
          _meta: {
            ...(token !== undefined ? { progressToken: token } : {}),
            ...(opts.traceparent ? { traceparent: opts.traceparent } : {}),
          },
        },
        undefined,
        { timeout: this.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) },
      )) as CallToolResult;
    } catch (err) {
      throw mapCallError(this.name, err);
    } finally {
      if (token !== undefined) this.progress.delete(token);
    }
  }

  async readResource(uri: string, signal?: AbortSignal): Promise<ReadResourceResult> {
    const c = await this.connection();
    try {
      return await c.readResource({ uri }, { timeout: this.timeoutMs, ...(signal ? { signal } : {}) });
    } catch (err) {
      throw mapCallError(this.name, err);
    }
  }

  async getPrompt(
    name: string,
    args: Record<string, string> | undefined,
    signal?: AbortSignal,
  ): Promise<GetPromptResult> {
    const c = await this.connection();
    try {
      return await c.getPrompt(
        { name, ...(args ? { arguments: args } : {}) },
        { timeout: this.timeoutMs, ...(signal ? { signal } : {}) },
      );
    } catch (err) {
      throw mapCallError(this.name, err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    await c?.close().catch(() => undefined);
  }
}

function mapCallError(server: string, err: unknown): Error {
  const e = err as { code?: unknown; message?: unknown };
  // MCP's RequestTimeout is -32001.
  if (e.code === -32001)
    return new UpstreamError('upstream_timeout', `upstream ${q(server)} did not answer in time`);
  if (typeof e.code === 'number') return err as Error; // a JSON-RPC error from the upstream: passed on as is
  return new UpstreamError(
    'upstream_unavailable',
    `upstream ${q(server)} failed: ${typeof e.message === 'string' ? e.message.split('\n')[0] : 'error'}`,
  );
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
