// A remote MCP server for gateway tests: the official SDK's McpServer behind a stateful Streamable
// HTTP transport on loopback, refusing (401) every request without `Authorization: Bearer <token>`.
// It records the headers of every HTTP request it receives, and its tool `echo_headers` returns
// the headers of the request that called it, so a test can see exactly what the gateway sent.
// `/leaky` is a server that refuses everyone and echoes the credential it was offered in its 401
// body, as some real servers do: a test of what the gateway does with an upstream's error text.

import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface HttpUpstream {
  /** The MCP endpoint, `http://127.0.0.1:<port>/mcp`. */
  url: string;
  /** The endpoint that always answers 401 with the offered credential in its body. */
  leakyUrl: string;
  /** Every HTTP request received, authorised or not, in order. */
  seen: SeenRequest[];
  close(): Promise<void>;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const expected = Buffer.from(`Bearer ${token}`);
  const got = Buffer.from(header ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

function mcpServer(): McpServer {
  const server = new McpServer({ name: 'header-echo', version: '1.0.0' });
  server.registerTool(
    'echo_headers',
    {
      description: 'Returns the HTTP request headers this server received with the call',
      inputSchema: { note: z.string().optional() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (_args, extra) => ({
      content: [{ type: 'text', text: JSON.stringify(extra.requestInfo?.headers ?? {}) }],
    }),
  );
  return server;
}

/** Start the server on an ephemeral loopback port. */
export async function startHttpUpstream(token: string): Promise<HttpUpstream> {
  const seen: SeenRequest[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    seen.push({ method: req.method ?? '', path, headers: { ...req.headers } });
    if (path === '/leaky') {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
      res.end(`invalid credential: ${req.headers.authorization ?? '(none)'}`);
      return;
    }
    if (path !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    if (!bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      return;
    }
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (typeof sid === 'string' && !transport) {
      res.writeHead(404).end();
      return;
    }
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await mcpServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url: `${base}/mcp`,
    leakyUrl: `${base}/leaky`,
    seen,
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close().catch(() => undefined)));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
