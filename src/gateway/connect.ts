// `warden connect`: a stdio MCP server for clients that speak only stdio (desktop and IDE agents).
// It is a message pump, not an MCP peer: every JSON-RPC message from the client goes to the
// gateway's Streamable HTTP endpoint unchanged, and every message from the gateway comes back
// unchanged, so the client and the gateway negotiate and talk MCP end to end. What it adds is the
// agent's side of Warden's identity: it holds the agent key, obtains and renews DPoP-bound tokens
// and signs a proof for every HTTP request. The one message it may alter is `initialize`, to
// declare the user's task from `--intent-file` when the client did not declare one.

import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { Readable, Writable } from 'node:stream';
import { WardenError, q } from '../errors.js';
import { AgentClient, AgentClientError } from '../identity/client.js';
import type { AgentCredentials } from '../identity/credentials.js';
import { INTENT_META_KEY, type Intent } from '../policy/flow-intent.js';
import { GatewayErrorCode } from './errors.js';

export interface ConnectOptions {
  credentials: AgentCredentials;
  /** The gateway's MCP endpoint; default: the credential file's issuer + `/mcp`. */
  gatewayUrl?: string;
  /** Declared in `initialize` as `params._meta["warden/intent"]` unless the client declares one. */
  intent?: Intent;
  /** Where the client's messages arrive; default: stdin. */
  input?: Readable;
  /** Where the gateway's messages go; default: stdout. INVARIANT: nothing else is written there. */
  output?: Writable;
  /** One line of diagnostics; default: stderr. */
  log?: (line: string) => void;
  /** Close the session and return on SIGINT and SIGTERM; default true. */
  handleSignals?: boolean;
}

export type ConnectErrorCode =
  /** The gateway URL is not an http(s) URL. */
  | 'invalid_argument'
  /** No HTTP answer from the gateway (connection refused, DNS, TLS). */
  | 'gateway_unreachable'
  /** The gateway answered an HTTP error: its own JSON-RPC error, or an OAuth refusal. */
  | 'gateway_refused'
  /** The gateway no longer knows the session (closed, timed out, restarted). */
  | 'session_lost';

/**
 * A failure of the bridge itself. `rpcCode` is the JSON-RPC code the client sees; `fromGateway`
 * marks a message that is the gateway's own words, passed on as they are.
 */
export class ConnectError extends WardenError {
  declare readonly code: ConnectErrorCode;
  readonly fromGateway: boolean;
  constructor(
    code: ConnectErrorCode,
    message: string,
    readonly rpcCode: number,
    options?: { cause?: unknown; fromGateway?: boolean },
  ) {
    super(code, message, options);
    this.fromGateway = options?.fromGateway ?? false;
  }
}

const SHUTDOWN_STEP_MS = 5_000;
const MAX_MESSAGE_CHARS = 500;
const SESSION_LOST =
  'the gateway no longer knows this session (it was closed, timed out or the gateway restarted): restart `warden connect` from your MCP client';

/** One line, bounded: error text from elsewhere must not forge lines in the client's UI or logs. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > MAX_MESSAGE_CHARS ? `${flat.slice(0, MAX_MESSAGE_CHARS - 3)}...` : flat;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** Turn an HTTP error answer of the gateway into a ConnectError, keeping the gateway's own words. */
async function refusal(res: Response, url: string): Promise<ConnectError> {
  const text = await res.text().catch(() => '');
  let body: Record<string, unknown> | undefined;
  try {
    body = record(JSON.parse(text));
  } catch {
    body = undefined;
  }
  const rpc = record(body?.['error']);
  if (rpc && typeof rpc['code'] === 'number' && typeof rpc['message'] === 'string') {
    if (res.status === 404 && rpc['code'] === -32001) {
      return new ConnectError('session_lost', SESSION_LOST, GatewayErrorCode.Unavailable);
    }
    return new ConnectError('gateway_refused', oneLine(rpc['message']), rpc['code'], { fromGateway: true });
  }
  if (typeof body?.['error'] === 'string') {
    const description =
      typeof body['error_description'] === 'string' ? `: ${oneLine(body['error_description'])}` : '';
    return new ConnectError(
      'gateway_refused',
      `the gateway refused the request (HTTP ${res.status}): ${oneLine(body['error'])}${description}`,
      res.status === 401 || res.status === 403 ? GatewayErrorCode.Denied : GatewayErrorCode.Unavailable,
    );
  }
  return new ConnectError(
    'gateway_refused',
    `the gateway at ${q(url)} answered HTTP ${res.status}`,
    GatewayErrorCode.Unavailable,
  );
}

/**
 * The fetch the HTTP transport uses: the agent's authenticated fetch, with a network failure and
 * an HTTP error to a POST turned into domain errors that say what happened in one line.
 */
function gatewayFetch(authed: typeof fetch, url: string): FetchLike {
  return async (input, init) => {
    let res: Response;
    try {
      res = await authed(input, init);
    } catch (err) {
      // The token endpoint's own errors (unreachable, refused) already say what happened.
      if (err instanceof WardenError || init?.signal?.aborted) throw err;
      throw new ConnectError(
        'gateway_unreachable',
        `cannot reach the gateway at ${q(url)}: is \`warden serve\` running?`,
        GatewayErrorCode.Unavailable,
        { cause: err },
      );
    }
    // Redirects (3xx) are the transport's to follow or refuse; GET and DELETE errors it handles.
    if ((init?.method ?? 'GET').toUpperCase() === 'POST' && res.status >= 400) throw await refusal(res, url);
    return res;
  };
}

/** The one place where a local error becomes a JSON-RPC error for the client (STYLE rule 7). */
export function toJsonRpcError(err: unknown, url: string): { code: number; message: string } {
  if (err instanceof ConnectError) {
    return { code: err.rpcCode, message: err.fromGateway ? err.message : `warden: ${err.message}` };
  }
  if (err instanceof AgentClientError) {
    return {
      code: GatewayErrorCode.Denied,
      message: `warden: the token endpoint refused a token: ${oneLine(err.message)}`,
    };
  }
  if (err instanceof WardenError)
    return { code: GatewayErrorCode.Unavailable, message: `warden: ${oneLine(err.message)}` };
  const detail = err instanceof Error ? err.message : String(err);
  return {
    code: GatewayErrorCode.Unavailable,
    message: `warden: the exchange with the gateway at ${q(url)} failed: ${oneLine(detail)}`,
  };
}

/** `initialize` with the intent in `params._meta`, unless the client put one there itself. */
export function withIntent(request: JSONRPCRequest, intent: Intent | undefined): JSONRPCRequest {
  if (intent === undefined) return request;
  const params = request.params ?? {};
  const meta = record(params._meta) ?? {};
  if (meta[INTENT_META_KEY] !== undefined) return request;
  return { ...request, params: { ...params, _meta: { ...meta, [INTENT_META_KEY]: intent } } };
}

/**
 * Make a client transport declare `intent` in its `initialize` request, as an agent runtime does
 * (the user's task, before any tool runs).
 */
export function declareIntent(transport: Transport, intent: Intent): void {
  const send = transport.send.bind(transport);
  transport.send = (message, options) =>
    send(
      isJSONRPCRequest(message) && message.method === 'initialize' ? withIntent(message, intent) : message,
      options,
    );
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function gatewayUrlOf(options: ConnectOptions): string {
  const raw = options.gatewayUrl ?? `${options.credentials.issuer.replace(/\/+$/, '')}/mcp`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch (err) {
    const message = `gateway URL ${q(raw)} is not a URL`;
    throw new ConnectError('invalid_argument', message, ErrorCode.InvalidParams, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConnectError(
      'invalid_argument',
      `gateway URL ${q(raw)} must be http or https`,
      ErrorCode.InvalidParams,
    );
  }
  return url.href;
}

/**
 * Pump messages between the client on stdio and the gateway until the client closes stdin (or a
 * SIGINT/SIGTERM arrives), then close the gateway session. Resolves when everything is closed.
 */
export async function runConnect(options: ConnectOptions): Promise<void> {
  const url = gatewayUrlOf(options);
  const log = options.log ?? ((line: string) => void process.stderr.write(`warden connect: ${line}\n`));
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const agent = new AgentClient(options.credentials);

  const stdio = new StdioServerTransport(input, output);
  const http = new StreamableHTTPClientTransport(new URL(url), { fetch: gatewayFetch(agent.fetcher(), url) });

  // 'idle': no session yet, only `initialize` may go upstream (the gateway opens the session and
  // the transport learns its id from the answer); 'open': forward everything; 'lost': the gateway
  // forgot the session, and a fresh one would silently forget what this one has seen.
  let phase: 'idle' | 'open' | 'lost' = 'idle';
  let initializeId: RequestId | undefined;
  let closing = false;
  // INVARIANT: messages go upstream one at a time, in the order the client sent them; each send
  // resolves once the gateway has accepted it (answers stream back on their own).
  let tail: Promise<void> = Promise.resolve();

  const reply = (id: RequestId, error: { code: number; message: string }): void => {
    stdio
      .send({ jsonrpc: '2.0', id, error })
      .catch((err: unknown) => log(`cannot write to stdout: ${String(err)}`));
  };

  const upstream = async (message: JSONRPCMessage): Promise<void> => {
    const request = isJSONRPCRequest(message) ? message : undefined;
    const what = request
      ? `request ${q(request.method)}`
      : 'method' in message
        ? `notification ${q(message.method)}`
        : 'response';
    if (phase === 'lost') {
      if (request)
        reply(
          request.id,
          toJsonRpcError(new ConnectError('session_lost', SESSION_LOST, GatewayErrorCode.Unavailable), url),
        );
      else log(`${what} dropped: the gateway session is gone`);
      return;
    }
    const initializing = request?.method === 'initialize';
    if (phase === 'idle' && !initializing) {
      if (request) {
        reply(request.id, {
          code: ErrorCode.InvalidRequest,
          message: 'warden: no session with the gateway yet: send `initialize` first',
        });
      } else log(`${what} dropped: no session with the gateway yet`);
      return;
    }
    let outgoing: JSONRPCMessage = message;
    if (request && initializing) {
      outgoing = withIntent(request, options.intent);
      if (options.intent !== undefined && outgoing === request)
        log('the client declared its own intent: --intent-file is not used');
      initializeId = request.id;
    }
    try {
      await http.send(outgoing);
      if (initializing && phase === 'idle') {
        phase = 'open';
        log(`session ${q(http.sessionId ?? '(none)')} opened`);
      }
    } catch (err) {
      if (err instanceof ConnectError && err.code === 'session_lost') phase = 'lost';
      const rpc = toJsonRpcError(err, url);
      if (request) reply(request.id, rpc);
      log(`${what} failed: ${rpc.message.replace(/^warden: /, '')}`);
    }
  };

  http.onmessage = (message) => {
    // The client learns the negotiated protocol version from this answer; so must the transport,
    // which sends it as `Mcp-Protocol-Version` on every later request.
    if (isJSONRPCResultResponse(message) && initializeId !== undefined && message.id === initializeId) {
      const version = message.result['protocolVersion'];
      if (typeof version === 'string') http.setProtocolVersion(version);
    }
    stdio.send(message).catch((err: unknown) => log(`cannot write to stdout: ${String(err)}`));
  };
  http.onerror = (err) => {
    // Send failures are answered to the client above; this reports the streams' own trouble.
    if (!closing && !(err instanceof WardenError)) log(`gateway stream: ${oneLine(err.message)}`);
  };
  stdio.onmessage = (message) => {
    tail = tail
      .then(() => upstream(message))
      .catch((err: unknown) => log(`internal error: ${oneLine(String(err))}`));
  };
  stdio.onerror = (err) => log(`unreadable message from the client: ${oneLine(err.message)}`);

  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));

  const stop = (reason: string): void => {
    if (closing) return;
    closing = true;
    log(`${reason}: ${phase === 'open' ? 'closing the gateway session' : 'exiting'}`);
    input.off('end', onEnd);
    input.off('close', onEnd);
    if (options.handleSignals ?? true) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    void (async () => {
      await stdio.close().catch(() => undefined);
      // What the client sent before it left still goes upstream (a cancellation, say).
      await withTimeout(tail, SHUTDOWN_STEP_MS);
      if (http.sessionId !== undefined && phase === 'open') {
        await withTimeout(
          http
            .terminateSession()
            .catch((err: unknown) =>
              log(
                `could not close the session: ${toJsonRpcError(err, url).message.replace(/^warden: /, '')}`,
              ),
            ),
          SHUTDOWN_STEP_MS,
        );
      }
      await http.close().catch(() => undefined);
      finished();
    })();
  };
  const onEnd = (): void => stop('the client closed stdin');
  const onSignal = (signal: NodeJS.Signals): void => stop(`received ${signal}`);
  stdio.onclose = () => stop('the client connection closed');
  output.on('error', (err: Error) => {
    log(`cannot write to the client: ${oneLine(err.message)}`);
    stop('stdout is closed');
  });
  input.once('end', onEnd);
  input.once('close', onEnd);
  if (options.handleSignals ?? true) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  log(`agent ${q(agent.agentId)} via ${q(url)}`);
  await http.start();
  await stdio.start();
  await done;
}
