// Requests and policy directories for the policy tests.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { DecisionRequest, FlowFacts, ToolSchemaInput } from '../../src/policy/index.js';

const root = mkdtempSync(join(tmpdir(), 'warden-policy-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh directory holding exactly these files. */
export function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, `p${n++}-`));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A real tool definition: an MCP mail server's send_email, with parts Cedar cannot type. */
export const SEND_EMAIL_SCHEMA = {
  type: 'object',
  properties: {
    to: { type: 'string', description: 'recipient address' },
    cc: { type: 'array', items: { type: 'string' } },
    subject: { type: 'string' },
    body: { type: 'string' },
    priority: { type: 'integer' },
    urgent: { type: 'boolean' },
    score: { type: 'number' },
    attachments: { type: 'array', items: { type: 'object' } },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    reply_to: { type: ['string', 'null'] },
  },
  required: ['to', 'subject', 'body'],
};

export const MAIL_TOOLS: ToolSchemaInput[] = [
  { server: 'mail', name: 'send_email', inputSchema: SEND_EMAIL_SCHEMA },
  { server: 'mail', name: 'list_inbox', inputSchema: { type: 'object', properties: {} } },
];

export const CLEAN_FLOW: FlowFacts = {
  touched: [],
  private_seen: false,
  untrusted_seen: false,
  tainted_args: [],
  intent_args: [],
};

export const AGENT = {
  id: 'spiffe://warden.local/agent/mailer/a1',
  blueprint: 'mailer',
  sponsor: 'alice@example.com',
  scopes: ['mail'],
  depth: 0,
};

interface ToolCall {
  server?: string;
  tool?: string;
  action?: string;
  labels?: string[];
  arguments?: unknown;
  flow?: Partial<FlowFacts>;
  context?: Record<string, unknown>;
}

/** A tools/call request of the agent above; by default `call:mail/send_email`, labelled egress. */
export function toolCall(o: ToolCall = {}): DecisionRequest {
  const server = o.server ?? 'mail';
  const tool = o.tool ?? 'send_email';
  return {
    principal: { ...AGENT, scopes: [...AGENT.scopes] },
    action: o.action ?? `call:${server}/${tool}`,
    resource: {
      type: 'Tool',
      id: `${server}/${tool}`,
      attrs: {
        server,
        name: tool,
        labels: o.labels ?? ['egress'],
        definition_hash: 'sha256:00',
        read_only: false,
        destructive: false,
        open_world: true,
      },
    },
    context: {
      arguments: o.arguments ?? { to: 'bob@example.com', subject: 'hi', body: 'hello' },
      flow: { ...CLEAN_FLOW, ...o.flow },
      grant: { active: false, ids: [] },
      delegation_depth: 0,
      ...o.context,
    },
  };
}

/** A resources/read of `<server>/<uri>`. */
export function resourceRead(uri: string, labels: string[], flow: Partial<FlowFacts> = {}): DecisionRequest {
  return {
    principal: { ...AGENT },
    action: 'resources/read',
    resource: { type: 'Resource', id: `docs/${uri}`, attrs: { server: 'docs', uri, labels } },
    context: { flow: { ...CLEAN_FLOW, ...flow }, grant: { active: false, ids: [] }, delegation_depth: 0 },
  };
}

/** An upstream server asking the agent's client for something. */
export function serverRequest(action: string, server = 'docs'): DecisionRequest {
  return {
    principal: { type: 'Server', id: server },
    action,
    resource: {
      type: 'Agent',
      id: AGENT.id,
      attrs: { blueprint: AGENT.blueprint, sponsor: AGENT.sponsor, scopes: AGENT.scopes, depth: 0 },
    },
    context: {},
  };
}

export const PERMIT_ALL_TOOLS = `@id("permit-tools")
@reason("tools are allowed")
permit (principal is Warden::Agent, action in Warden::Action::"tools/call", resource);
`;
