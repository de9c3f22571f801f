// `warden token` and `warden whoami`: the agent side, from a credential file. They show a new
// user the whole exchange (assertion, DPoP proof, key-bound token) without writing a client.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AgentClient } from '../identity/client.js';
import { readCredentialFile } from '../identity/credentials.js';
import { WardenError } from '../errors.js';
import { action } from './util.js';

interface TokenOpts {
  credentials: string;
  scope?: string;
  audience?: string;
  mayAct?: string;
  exchange?: string;
  json?: boolean;
}

function decodeClaims(token: string): unknown {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

export function registerToken(program: Command): void {
  program
    .command('token')
    .description("obtain an access token as an agent, using its credential file (the agent runtime's side)")
    .requiredOption('--credentials <file>', 'the credential file `warden agent create` wrote')
    .option('--scope <scopes>', 'ask for fewer scopes (space-separated); default: all the agent may have')
    .option('--audience <url>', 'the resource the token is for (RFC 8707); default: the gateway')
    .option('--may-act <agent-id>', 'name the only agent that may take a delegation of this token')
    .option(
      '--exchange <token-file>',
      "take a delegation (RFC 8693) of the parent agent's token in this file ('-' for stdin)",
    )
    .option('--json', 'print the token response and its decoded claims as JSON')
    .action(
      action(async (opts: TokenOpts) => {
        const client = new AgentClient(readCredentialFile(opts.credentials));
        const issued = opts.exchange
          ? await client.exchange(
              readFileSync(opts.exchange === '-' ? 0 : opts.exchange, 'utf8').trim(),
              opts.scope ? { scope: opts.scope } : {},
            )
          : await client.token({
              ...(opts.scope ? { scope: opts.scope } : {}),
              ...(opts.audience ? { audience: opts.audience } : {}),
              ...(opts.mayAct ? { mayAct: opts.mayAct } : {}),
            });
        if (opts.json) {
          process.stdout.write(
            JSON.stringify({ ...issued, claims: decodeClaims(issued.accessToken) }, null, 2) + '\n',
          );
        } else {
          process.stdout.write(issued.accessToken + '\n');
        }
      }),
    );

  program
    .command('whoami')
    .description(
      'obtain a token from a credential file and show what Warden verifies of it (a DPoP-protected request)',
    )
    .requiredOption('--credentials <file>', 'the credential file `warden agent create` wrote')
    .action(
      action(async (opts: { credentials: string }) => {
        const creds = readCredentialFile(opts.credentials);
        const client = new AgentClient(creds);
        const issued = await client.token();
        const res = await client.fetch(`${creds.issuer}/v1/whoami`, issued.accessToken);
        const body = (await res.json()) as Record<string, unknown>;
        if (!res.ok) {
          throw new WardenError(
            'oauth_error',
            `refused: ${String(body['error'])}: ${String(body['error_description'])}`,
          );
        }
        process.stdout.write(JSON.stringify(body, null, 2) + '\n');
      }),
    );
}
