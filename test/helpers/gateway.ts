// Test harness for the gateway: a data directory with the bundled sample servers as stdio
// upstreams, the real service on loopback, and agents that connect with the official MCP SDK
// client, authenticating every HTTP request with their own DPoP-bound token.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { enrolAgent, initDataDir, openWarden, serveWarden, type Warden } from '../../src/cli/context.js';
import { declareIntent } from '../../src/gateway/connect.js';
import type { Intent } from '../../src/policy/flow-intent.js';
import type { StartedGateway } from '../../src/gateway/start.js';
import type { AgentClient } from '../../src/identity/client.js';
import type { IdentityService } from '../../src/identity/index.js';

export const DIST_DEMO = fileURLToPath(new URL('../../dist/src/demo/', import.meta.url));

export const SPONSOR = 'alice@example.com';

export function sampleConfig(extra = ''): string {
  return `
upstreams:
  - name: workspace
    transport: stdio
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(DIST_DEMO, 'workspace-server.js'))}]
    tools:
      list_emails: { labels: [private, untrusted] }
      read_file: { labels: [private] }
      send_email: { labels: [egress], sensitiveArgs: [to] }
      sent_count: { labels: [] }
  - name: web
    transport: stdio
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(DIST_DEMO, 'web-server.js'))}, --rug-pull, '3']
    tools:
      fetch_page: { labels: [untrusted] }
${extra}`;
}

export interface GatewayHarness {
  dataDir: string;
  w: Warden;
  svc: IdentityService;
  gw: StartedGateway;
  mcpUrl: string;
  logs: string[];
  /** Register an agent of blueprint `assistant` and connect an SDK client as it. */
  connect(
    name: string,
    opts?: { intent?: unknown; blueprint?: string },
  ): Promise<{ client: Client; agent: AgentClient; id: string }>;
  /** Approve every pending tool definition (as an operator would after review). */
  pinAll(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Start the service with its gateway. `prepare` runs on the initialised data directory before the
 * gateway starts (to write a secrets file, say); if anything fails, the directory is removed.
 */
export async function startGatewayHarness(
  configYaml = sampleConfig(),
  prepare?: (dataDir: string) => void | Promise<void>,
): Promise<GatewayHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-gw-'));
  writeFileSync(join(dataDir, 'warden.yaml'), configYaml, { mode: 0o600 });
  try {
    await initDataDir(dataDir);
    await prepare?.(dataDir);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  // As `warden serve` opens it: the audit writer thread, signed checkpoints, span export.
  const w = await openWarden(dataDir, { serve: true });
  await w.registry.addSponsor({ id: SPONSOR, name: 'Alice' });
  await w.registry.createBlueprint({
    name: 'assistant',
    sponsors: [SPONSOR],
    envelope: { servers: ['*'], tools: ['*'], scopes: ['mcp'] },
    baseScope: ['mcp'],
  });
  await w.registry.createBlueprint({
    name: 'reader',
    sponsors: [SPONSOR],
    envelope: { servers: ['web'], tools: ['web/*'], scopes: ['mcp'] },
    baseScope: ['mcp'],
  });
  const logs: string[] = [];
  let gw: StartedGateway | undefined;
  let svc: IdentityService;
  try {
    svc = await serveWarden(w, { port: 0, log: (l) => logs.push(l), onGateway: (g) => (gw = g) });
  } catch (err) {
    // serveWarden has closed the data directory.
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const mcpUrl = `${svc.issuer}/mcp`;
  const clients: Client[] = [];
  return {
    dataDir,
    w,
    svc,
    gw: gw as unknown as StartedGateway,
    mcpUrl,
    logs,
    async connect(name, opts = {}) {
      const { id, client: agent } = await enrolAgent(w, svc, {
        blueprint: opts.blueprint ?? 'assistant',
        name,
        sponsor: SPONSOR,
        credentialsFile: join(dataDir, `${name}.credentials.json`),
      });
      const client = new Client({ name: `test-${name}`, version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { fetch: agent.fetcher() });
      // The agent runtime declares the user's task in initialize's params._meta (tests also send
      // malformed intents, so the value goes through unchecked).
      if (opts.intent !== undefined) declareIntent(transport, opts.intent as Intent);
      await client.connect(transport);
      clients.push(client);
      return { client, agent, id };
    },
    async pinAll() {
      const g = gw as StartedGateway;
      let n = 0;
      for (const t of await g.pins.list()) {
        for (const hash of t.pendingHashes.slice(0, 1)) {
          await g.pins.approve(t.server, t.name, hash, 'operator');
          n++;
        }
      }
      return n;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await svc.close();
      await w.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
