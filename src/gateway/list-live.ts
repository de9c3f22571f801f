// The tool definitions an agent is offered, fetched live through the gateway as that agent (its
// credential file, its DPoP-bound token): what `warden scan --credentials` scans. The agent sees
// only what policy could allow it, so this scans exactly what reaches its model.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { WardenError, q } from '../errors.js';
import { AgentClient } from '../identity/client.js';
import { readCredentialFile } from '../identity/credentials.js';

const MAX_PAGES = 100;

export async function listToolsAsAgent(credentialsFile: string, gatewayUrl?: string): Promise<Tool[]> {
  let creds: ReturnType<typeof readCredentialFile>;
  try {
    creds = readCredentialFile(credentialsFile);
  } catch (err) {
    throw new WardenError('invalid_argument', (err as Error).message, { cause: err });
  }
  const agent = new AgentClient(creds);
  let url: URL;
  try {
    url = new URL(gatewayUrl ?? `${creds.issuer}/mcp`);
  } catch {
    throw new WardenError('invalid_argument', `invalid gateway url ${q(gatewayUrl)}`);
  }
  const client = new Client({ name: 'warden-scan', version: '0.1.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(url, { fetch: agent.fetcher() }));
  } catch (err) {
    throw new WardenError(
      'not_found',
      `cannot open a session with the gateway at ${q(url.href)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await client.listTools(cursor ? { cursor } : {});
      tools.push(...r.tools);
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    return tools;
  } finally {
    await client.close().catch(() => undefined);
  }
}
