// Credential files for tests that run an agent as a separate process (`warden connect`, `warden
// token`): a fresh key, the agent registered with the gateway harness or not registered at all.

import { join } from 'node:path';
import { writeCredentialFile } from '../../src/identity/credentials.js';
import { generateAgentKey } from '../../src/identity/index.js';
import { SPONSOR, type GatewayHarness } from './gateway.js';

/** Write a credential file for `agentId` at `file` with a fresh ES256 key, registered nowhere. */
export function writeAgentCredentialFile(file: string, agentId: string, issuer: string): string {
  const { privateJwk } = generateAgentKey('ES256');
  writeCredentialFile(file, {
    agentId,
    issuer,
    tokenEndpoint: `${issuer}/oauth/token`,
    alg: 'ES256',
    privateJwk,
  });
  return file;
}

/**
 * Register an agent (blueprint `assistant` unless told) with the harness's registry and write its
 * credential file into the harness's data directory, mode 600.
 */
export async function createAgentCredentialFile(
  h: GatewayHarness,
  name: string,
  opts: { blueprint?: string } = {},
): Promise<{ id: string; file: string }> {
  const { publicJwk, privateJwk } = generateAgentKey('ES256');
  const agent = await h.w.registry.createAgent({
    blueprint: opts.blueprint ?? 'assistant',
    name,
    sponsor: SPONSOR,
    publicJwk,
  });
  await h.svc.state.refresh();
  const file = join(h.dataDir, `${name}.credentials.json`);
  writeCredentialFile(file, {
    agentId: agent.id,
    issuer: h.svc.issuer,
    tokenEndpoint: `${h.svc.issuer}/oauth/token`,
    alg: 'ES256',
    privateJwk,
  });
  return { id: agent.id, file };
}
