// A minimal MCP client for the gateway benchmark: Streamable HTTP JSON-RPC over a keep-alive
// `node:http` agent, nothing else. No fetch, no web streams, no schema validation: it opens a session
// (initialize, notifications/initialized), then POSTs request bodies built in advance and reads the
// reply, JSON or SSE (`data:` lines). Against Warden it adds `Authorization: DPoP` and a proof the
// caller signed in advance, so that the time on the clock is the servers' and the wire's, not the
// client's.

import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export const PROTOCOL_VERSION = '2025-06-18';

export interface Reply {
  status: number;
  /** The JSON-RPC message answering the request, or null when there was none. */
  message: Record<string, unknown> | null;
  /** The body as received, for error reports. */
  raw: string;
  headers: IncomingHttpHeaders;
}

/** A DPoP-bound access token; the proofs travel with each request. */
export interface LeanAuth {
  token: string;
}

/** The JSON-RPC message in a reply: the body itself, or the last SSE `data:` event of the stream. */
export function parseReply(contentType: string | undefined, raw: string): Record<string, unknown> | null {
  if (raw.length === 0) return null;
  let json = raw;
  if ((contentType ?? '').startsWith('text/event-stream')) {
    let data: string | undefined;
    // One event per request in these replies; a server may send notifications first, so keep the last.
    for (const line of raw.split('\n')) if (line.startsWith('data:')) data = line.slice(5).trim();
    if (data === undefined) return null;
    json = data;
  }
  const parsed: unknown = JSON.parse(json);
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : null;
}

export class LeanMcpClient {
  private readonly url: URL;
  private readonly agent: Agent;
  private sessionId: string | undefined;
  /** Reply content types seen, to report whether a server answered with JSON or SSE. */
  readonly contentTypes = new Set<string>();

  constructor(
    url: string,
    maxSockets: number,
    private auth?: LeanAuth,
  ) {
    this.url = new URL(url);
    this.agent = new Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 60_000 });
  }

  setToken(token: string): void {
    this.auth = { token };
  }

  post(body: string, proof?: string): Promise<Reply> {
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'content-length': Buffer.byteLength(body),
    };
    if (this.sessionId !== undefined) {
      headers['mcp-session-id'] = this.sessionId;
      headers['mcp-protocol-version'] = PROTOCOL_VERSION;
    }
    if (this.auth) {
      if (proof === undefined) throw new Error('a request to a DPoP-protected endpoint needs a proof');
      headers['authorization'] = `DPoP ${this.auth.token}`;
      headers['dpop'] = proof;
    }
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          path: this.url.pathname,
          method: 'POST',
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            const type = res.headers['content-type'];
            if (type && raw.length > 0) this.contentTypes.add(type.split(';')[0] ?? type);
            try {
              resolve({
                status: res.statusCode ?? 0,
                message: parseReply(type, raw),
                raw,
                headers: res.headers,
              });
            } catch (err) {
              reject(
                new Error(`unparseable reply (${res.statusCode}): ${raw.slice(0, 300)}`, { cause: err }),
              );
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** initialize and notifications/initialized; `proof` signs each of the two requests when needed. */
  async open(proof?: () => string): Promise<void> {
    const init = await this.post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: PROTOCOL_VERSION,
          capabilities: {},
          clientInfo: { name: 'bench-lean', version: '1.0.0' },
        },
      }),
      proof?.(),
    );
    const sid = init.headers['mcp-session-id'];
    if (init.status !== 200 || typeof sid !== 'string' || !init.message || !('result' in init.message))
      throw new Error(`initialize failed (${init.status}): ${init.raw.slice(0, 300)}`);
    this.sessionId = sid;
    const note = await this.post(
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      proof?.(),
    );
    if (note.status !== 202 && note.status !== 200)
      throw new Error(`notifications/initialized failed (${note.status}): ${note.raw.slice(0, 300)}`);
  }

  async listTools(id: number, proof?: string): Promise<string[]> {
    const r = await this.post(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' }), proof);
    const result = r.message?.['result'] as { tools?: Array<{ name: string }> } | undefined;
    if (r.status !== 200 || !result?.tools)
      throw new Error(`tools/list failed (${r.status}): ${r.raw.slice(0, 300)}`);
    return result.tools.map((t) => t.name);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A tools/call request body, built before the clock starts. */
export function callBody(id: number, tool: string, text: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: tool, arguments: { text } },
  });
}

/** Whether a reply is the echo of `text` for request `id`; otherwise a description of what came back. */
export function checkEcho(r: Reply, id: number, text: string): string | null {
  const m = r.message;
  const result = m?.['result'] as { content?: Array<{ text?: unknown }>; isError?: unknown } | undefined;
  if (r.status === 200 && m?.['id'] === id && result?.isError !== true && result?.content?.[0]?.text === text)
    return null;
  return `${r.status} ${r.raw.slice(0, 300)}`;
}
