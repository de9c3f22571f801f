// The downstream transport of one MCP session (Streamable HTTP). A `tools/call` request, nearly
// all of an agent's traffic, is answered on node:http directly: its reply and the messages related
// to it (progress, requests to the client made on its behalf) are written to the request's own
// SSE stream. Everything else (initialize, notifications, the client's responses, batches, GET
// streams, DELETE, and any request that is not plainly well formed) goes through the SDK's
// StreamableHTTPServerTransport unchanged, which also answers every malformed request with its
// own errors.
//
// The SDK transport turns each request into a web Request, its SSE reply into a ReadableStream and
// a web Response, and pipes that back through an adapter that writes the headers and the body
// separately: several times the CPU of the pipeline's own work for a small call. The MCP protocol
// layer (the SDK's Server: request validation, handlers, cancellation, errors) is the same for both
// paths; only the HTTP framing differs.
//
// INVARIANT: a request takes the direct path only if the SDK transport would accept it as it is
// (accept and content type, protocol version, a single JSON-RPC request of this session); every
// other request is the SDK's to answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

/** Headers go out with the first message, or after this long without one (a slow call). */
const HEADERS_AFTER_MS = 200;
/** As the SDK transport: an SSE comment this often keeps a long call's connection alive. */
const KEEP_ALIVE_MS = 15_000;
/** Ids of calls whose stream ended before their reply (cancelled, disconnected) that are remembered. */
const ENDED_LIMIT = 1024;

const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A `tools/call` request the SDK transport would pass to the server as it is: the exact JSON-RPC
 * request shape, no task augmentation (the gateway offers none), a well-formed progress token.
 */
function isPlainToolCall(m: unknown): m is { jsonrpc: '2.0'; id: RequestId; method: 'tools/call' } {
  if (!isPlainObject(m) || m['method'] !== 'tools/call' || m['jsonrpc'] !== '2.0') return false;
  for (const k of Object.keys(m)) if (!REQUEST_KEYS.has(k)) return false;
  const id = m['id'];
  if (typeof id !== 'string' && !Number.isSafeInteger(id)) return false;
  const params = m['params'];
  if (params === undefined) return true;
  if (!isPlainObject(params) || params['task'] !== undefined) return false;
  const meta = params['_meta'];
  if (meta === undefined) return true;
  if (!isPlainObject(meta)) return false;
  for (const k of Object.keys(meta)) {
    if (k === 'progressToken') {
      const t = meta[k];
      if (typeof t !== 'string' && !Number.isSafeInteger(t)) return false;
    } else if (k.startsWith('io.modelcontextprotocol/')) return false;
  }
  return true;
}

function isResponse(m: JSONRPCMessage): m is JSONRPCMessage & { id: RequestId } {
  return 'id' in m && ('result' in m || 'error' in m);
}

/** The SSE stream of one directly served call. */
class CallStream {
  private timer: NodeJS.Timeout | undefined;
  private headersSent = false;
  ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly sessionId: string,
  ) {
    this.timer = setTimeout(() => this.flushHeaders(), HEADERS_AFTER_MS);
    this.timer.unref();
  }

  /** `length`: the whole body is this one event, so it goes without chunked framing. */
  private writeHeaders(length?: number): void {
    this.headersSent = true;
    this.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      // No `connection` header of its own: node writes `keep-alive` with the `Keep-Alive: timeout`
      // hint, so that a client retires an idle connection before the server closes it under a
      // request (a POST lost to that race is not retried).
      'x-accel-buffering': 'no',
      'mcp-session-id': this.sessionId,
      ...(length === undefined ? {} : { 'content-length': length }),
    });
  }

  private flushHeaders(): void {
    if (this.ended) return;
    if (!this.headersSent) {
      this.writeHeaders();
      this.res.flushHeaders();
    }
    this.timer = setInterval(() => {
      if (!this.ended) this.res.write(': keepalive\n\n');
    }, KEEP_ALIVE_MS);
    this.timer.unref();
  }

  /** Write one message; `last` ends the stream (the call's reply). */
  write(message: JSONRPCMessage, last: boolean): void {
    if (this.ended) return;
    const event = `event: message\ndata: ${JSON.stringify(message)}\n\n`;
    if (last) this.end(event);
    else {
      if (!this.headersSent) this.writeHeaders();
      this.res.write(event);
    }
  }

  end(event?: string): void {
    if (this.ended) return;
    this.ended = true;
    // Node's clearTimeout clears an interval as well.
    clearTimeout(this.timer);
    // With nothing written yet, the reply is the whole body: headers and reply leave in one write,
    // with a length instead of chunked framing.
    if (!this.headersSent) this.writeHeaders(event === undefined ? 0 : Buffer.byteLength(event));
    if (event === undefined) this.res.end();
    else this.res.end(event);
  }
}

export class SessionTransport implements Transport {
  private readonly sdk: StreamableHTTPServerTransport;
  /** Calls served directly, by JSON-RPC id, until their reply is written. */
  private readonly calls = new Map<RequestId, CallStream>();
  /**
   * Directly served calls whose stream ended first (cancelled, or the client went away): what is
   * still sent for them is dropped, as the SDK transport drops it for a closed stream.
   */
  private readonly ended = new Set<RequestId>();
  private closed = false;

  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  constructor(sessionId: string, onsessioninitialized: (id: string) => void) {
    this.sdk = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => sessionId,
      // SSE replies, so progress and other request-related notifications reach the agent mid-call.
      enableJsonResponse: false,
      onsessioninitialized,
    });
    this.sdk.onclose = () => this.onclose?.();
    this.sdk.onerror = (error) => this.onerror?.(error);
    this.sdk.onmessage = (message, extra) => this.received(message, extra);
  }

  get sessionId(): string | undefined {
    return this.sdk.sessionId;
  }

  start(): Promise<void> {
    return this.sdk.start();
  }

  /** A message that came through the SDK transport. */
  private received(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if ('method' in message && 'id' in message) this.ended.delete(message.id);
    this.onmessage?.(message, extra);
    const m = message as { method?: unknown; params?: { requestId?: unknown } };
    const id = m.params?.requestId;
    if (m.method !== 'notifications/cancelled' || (typeof id !== 'string' && typeof id !== 'number')) return;
    // A cancelled request gets no response (MCP: the receiver SHOULD NOT answer it), so its SSE
    // stream, and the agent's connection, would otherwise stay open until the session ends.
    const call = this.calls.get(id);
    if (call) this.finish(id, call);
    else this.sdk.closeSSEStream(id);
  }

  private finish(id: RequestId, call: CallStream): void {
    call.end();
    this.calls.delete(id);
    this.ended.add(id);
    if (this.ended.size > ENDED_LIMIT) {
      const oldest = this.ended.values().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }

  /**
   * Serve one HTTP request of this (initialised) session. `parsed` is the POST body already read
   * and parsed by the gateway; `auth` the principal verified for this very request.
   */
  async handle(req: IncomingMessage, res: ServerResponse, parsed: unknown, auth: AuthInfo): Promise<void> {
    const sessionId = this.sdk.sessionId;
    if (
      req.method === 'POST' &&
      sessionId !== undefined &&
      !this.closed &&
      isPlainToolCall(parsed) &&
      !this.calls.has(parsed.id) &&
      req.headers['content-type'] === 'application/json' &&
      (req.headers.accept ?? '').includes('application/json') &&
      (req.headers.accept ?? '').includes('text/event-stream')
    ) {
      const version = req.headers['mcp-protocol-version'];
      if (
        version === undefined ||
        (typeof version === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(version))
      ) {
        this.serveCall(req, res, parsed, auth, sessionId);
        return;
      }
    }
    (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
    await this.sdk.handleRequest(req, res, parsed);
  }

  private serveCall(
    req: IncomingMessage,
    res: ServerResponse,
    message: JSONRPCMessage & { id: RequestId },
    auth: AuthInfo,
    sessionId: string,
  ): void {
    const id = message.id;
    const call = new CallStream(res, sessionId);
    this.calls.set(id, call);
    this.ended.delete(id);
    res.once('close', () => {
      if (this.calls.get(id) === call && !call.ended) this.finish(id, call);
    });
    this.onmessage?.(message, { authInfo: auth, requestInfo: { headers: req.headers } });
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const reply = isResponse(message);
    const id = reply ? message.id : options?.relatedRequestId;
    if (id !== undefined) {
      const call = this.calls.get(id);
      if (call) {
        if (reply) this.calls.delete(id);
        call.write(message, reply);
        return;
      }
      if (this.ended.has(id)) {
        if (reply) this.ended.delete(id);
        return;
      }
    }
    return this.sdk.send(message, options);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [id, call] of this.calls) this.finish(id, call);
    this.ended.clear();
    await this.sdk.close();
  }
}
