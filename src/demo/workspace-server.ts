#!/usr/bin/env node
// A sample MCP server for `warden demo` and the tests: a small workspace with a private mailbox,
// private files, and an outbound mail tool. Everything is in memory; nothing leaves the process.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const files: Record<string, string> = {
  'notes/q3-plan.md':
    'Q3 plan: hire two engineers, ship the audit log, renew the Acme contract (EUR 120,000).',
  'secrets/api-keys.txt': 'payments key: pk_live_51HxQ9demo0000000000000000 (do not share)',
};

const inbox = [
  {
    id: 1,
    from: 'alice@example.com',
    subject: 'Q3 plan',
    body: 'Please review notes/q3-plan.md before Friday.',
  },
  { id: 2, from: 'bob@example.com', subject: 'Lunch', body: 'Lunch at noon?' },
];

const sent: Array<{ to: string; subject: string; body: string }> = [];

const server = new McpServer({ name: 'workspace', version: '1.0.0' });

server.registerTool(
  'list_emails',
  {
    description: "List the messages in the user's inbox.",
    inputSchema: {},
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  () => ({ content: [{ type: 'text', text: JSON.stringify(inbox) }] }),
);

server.registerTool(
  'read_file',
  {
    description: "Read a file from the user's workspace.",
    inputSchema: { path: z.string().describe('path of the file, e.g. notes/q3-plan.md') },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  ({ path }) => {
    const text = files[path];
    if (text === undefined)
      return { isError: true, content: [{ type: 'text', text: `no such file: ${path}` }] };
    return { content: [{ type: 'text', text }] };
  },
);

server.registerTool(
  'send_email',
  {
    description: "Send an email on the user's behalf.",
    inputSchema: { to: z.string(), subject: z.string(), body: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
  },
  ({ to, subject, body }) => {
    sent.push({ to, subject, body });
    return { content: [{ type: 'text', text: `sent to ${to}` }] };
  },
);

server.registerTool(
  'sent_count',
  {
    description: 'How many emails this server has sent (for checking what really happened).',
    inputSchema: {},
    annotations: { readOnlyHint: true },
  },
  () => ({ content: [{ type: 'text', text: String(sent.length) }] }),
);

await server.connect(new StdioServerTransport());
