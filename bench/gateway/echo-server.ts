// The upstream of the gateway benchmark: an MCP server with one tool, `echo { text }`, that returns
// its text. The same server code runs in two modes, so that every path in the benchmark ends in it:
//
//   node dist/bench/gateway/echo-server.js               stdio (behind mcp-proxy and Warden)
//   node dist/bench/gateway/echo-server.js --http 0      Streamable HTTP on 127.0.0.1 (the direct
//                                                        baseline); prints `listening <port>`
//
// HTTP mode is the SDK's stock stateful setup: one transport and one McpServer per session, SSE
// replies (the SDK's default, and what Warden's front end answers with).

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

function echoServer(): McpServer {
  const server = new McpServer({ name: 'echo', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      description: 'Return the text it is given.',
      inputSchema: { text: z.string() },
      // Read-only and open-world: Warden labels its results `untrusted`, as it would a web fetch.
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

async function serveHttp(port: number): Promise<void> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer((req, res) => {
    const sid = req.headers['mcp-session-id'];
    const known = typeof sid === 'string' ? sessions.get(sid) : undefined;
    const handle = async (): Promise<void> => {
      if (known) return known.handleRequest(req, res);
      if (sid !== undefined || req.method !== 'POST') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"session not found"},"id":null}');
        return;
      }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, transport),
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await echoServer().connect(transport);
      await transport.handleRequest(req, res);
    };
    handle().catch((err: unknown) => {
      process.stderr.write(`echo-server: ${String(err)}\n`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  process.stdout.write(`listening ${(http.address() as AddressInfo).port}\n`);
}

const args = process.argv.slice(2);
if (args[0] === '--http') {
  const port = Number(args[1] ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port \`${args[1]}\``);
  await serveHttp(port);
} else {
  await echoServer().connect(new StdioServerTransport());
}
