// More of the gateway harness (test/helpers/gateway.ts) for tests that need it: agents whose SDK
// client declares client capabilities (sampling) and records every message it receives, a harness
// whose data directory can be prepared (a secrets file) before the gateway starts, a record of the
// HTTP requests the Warden service received, and waiting for the policy engine to reload.

import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { AgentClient } from '../../src/identity/client.js';
import { readCredentialFile, writeCredentialFile } from '../../src/identity/credentials.js';
import { generateAgentKey } from '../../src/identity/index.js';
import { SPONSOR, startGatewayHarness, type GatewayHarness } from './gateway.js';

export interface ConnectedAgent {
  client: Client;
  agent: AgentClient;
  id: string;
  /** Every JSON-RPC message the client received after connecting, in order. */
  inbound: JSONRPCMessage[];
}

export interface AgentOptions {
  blueprint?: string;
  capabilities?: ClientCapabilities;
  /** Install request handlers (for example sampling) before the client connects. */
  setup?: (client: Client) => void;
  /** Wrap the client's authenticating fetch (to play a client that never opens the GET stream, say). */
  wrapFetch?: (authenticated: typeof fetch) => typeof fetch;
}

const opened = new WeakMap<GatewayHarness, Client[]>();

/** Close the clients connectAgent opened on `h` (the harness closes only its own). */
export async function closeAgents(h: GatewayHarness): Promise<void> {
  const clients = opened.get(h) ?? [];
  opened.delete(h);
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
}

/** Register an agent (blueprint `assistant` by default) and connect an SDK client as it. */
export async function connectAgent(
  h: GatewayHarness,
  name: string,
  opts: AgentOptions = {},
): Promise<ConnectedAgent> {
  const { publicJwk, privateJwk } = generateAgentKey('ES256');
  const row = await h.w.registry.createAgent({
    blueprint: opts.blueprint ?? 'assistant',
    name,
    sponsor: SPONSOR,
    publicJwk,
  });
  await h.svc.state.refresh();
  const credFile = join(h.dataDir, `${name}.credentials.json`);
  writeCredentialFile(credFile, {
    agentId: row.id,
    issuer: h.svc.issuer,
    tokenEndpoint: `${h.svc.issuer}/oauth/token`,
    alg: 'ES256',
    privateJwk,
  });
  const agent = new AgentClient(readCredentialFile(credFile));
  const client = new Client(
    { name: `test-${name}`, version: '1.0.0' },
    { capabilities: opts.capabilities ?? {} },
  );
  opts.setup?.(client);
  const fetcher = agent.fetcher();
  const transport = new StreamableHTTPClientTransport(new URL(h.mcpUrl), {
    fetch: opts.wrapFetch ? opts.wrapFetch(fetcher) : fetcher,
  });
  await client.connect(transport);
  opened.set(h, [...(opened.get(h) ?? []), client]);
  const inbound: JSONRPCMessage[] = [];
  const deliver = transport.onmessage;
  transport.onmessage = (message: JSONRPCMessage) => {
    inbound.push(message);
    deliver?.(message);
  };
  return { client, agent, id: row.id, inbound };
}

/**
 * `startGatewayHarness` with a hook that runs on the initialised data directory before the
 * gateway starts (to write a secrets file, say). Blueprint `assistant` may use every server.
 * If the gateway refuses to start, the data directory is removed and the error rethrown.
 */
export async function startPreparedGatewayHarness(
  configYaml: string,
  prepare: (dataDir: string) => void,
): Promise<GatewayHarness> {
  const base = await startGatewayHarness(configYaml, prepare);
  const h: GatewayHarness = {
    ...base,
    async connect(name, opts = {}) {
      if (opts.intent !== undefined) throw new Error('declared intents: use startGatewayHarness');
      const { client, agent, id } = await connectAgent(
        h,
        name,
        opts.blueprint ? { blueprint: opts.blueprint } : {},
      );
      return { client, agent, id };
    },
    async close() {
      await closeAgents(h);
      await base.close();
    },
  };
  return h;
}

/** Record the headers of every HTTP request the Warden service receives from now on. */
export function recordServiceRequests(h: GatewayHarness): IncomingHttpHeaders[] {
  const seen: IncomingHttpHeaders[] = [];
  h.svc.server.on('request', (req: { headers: IncomingHttpHeaders }) => seen.push({ ...req.headers }));
  return seen;
}

/** Wait until the engine has loaded a policy set holding policy `id` (the watcher reloads on change). */
export async function waitForPolicy(h: GatewayHarness, id: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!h.gw.engine.policySet?.byId.has(id)) {
    if (Date.now() > until) {
      const why = h.gw.engine.lastError?.message ?? 'no reload happened';
      throw new Error(`policy ${id} was not loaded within ${timeoutMs} ms: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
