// `warden connect`: the stdio MCP server that desktop and IDE agents start as a subprocess. It
// speaks MCP on stdin/stdout and forwards everything to the gateway as the agent of a credential
// file (see gateway/connect.ts). stdout carries JSON-RPC only; every diagnostic goes to stderr.

import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { WardenError, q } from '../errors.js';
import { runConnect } from '../gateway/connect.js';
import { readCredentialFile } from '../identity/credentials.js';
import { parseIntent, type Intent } from '../policy/flow-intent.js';
import { action } from './util.js';

interface ConnectOpts {
  credentials: string;
  gateway?: string;
  intentFile?: string;
}

/** Large enough for any intent `parseIntent` accepts (16 KiB of text and 64 values of 2 KiB). */
const MAX_INTENT_FILE_BYTES = 256 * 1024;

const HELP = `
Add it to your MCP client's configuration (Claude Desktop, Cursor, VS Code and others) as a stdio
server; the client starts it and talks MCP on its stdin and stdout:

  {
    "mcpServers": {
      "warden": {
        "command": "warden",
        "args": ["connect", "--credentials", "/path/to/agent.credentials.json"]
      }
    }
  }

The client then sees the tools the gateway offers this agent, as <server>__<tool>. The agent's
private key stays in this process: each request to the gateway carries a DPoP proof and a token
renewed before it expires. A refusal by policy reaches the client as a JSON-RPC error naming the
policy; an unreachable gateway or a refused token, as one line starting with "warden:".

An intent file declares the user's task when the session opens (values in it are user-given, so
a recipient named there is not treated as coming from untrusted content), for example:

  { "text": "Email the Q3 plan to carol@example.com", "values": ["carol@example.com"] }

stdout carries MCP messages only; diagnostics go to stderr. The process closes its gateway
session and exits 0 when the client closes stdin, or on SIGINT or SIGTERM.
`;

/** Read and check an intent file: JSON that `parseIntent` accepts. */
export function readIntentFile(path: string): Intent {
  const fail = (problem: string, cause?: unknown): WardenError =>
    new WardenError('invalid_argument', `intent file ${q(path)} ${problem}`, { cause });
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw fail(`cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw fail('is not a regular file');
    if (stat.size > MAX_INTENT_FILE_BYTES) throw fail(`is larger than ${MAX_INTENT_FILE_BYTES} bytes`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail('is not valid JSON', err);
  }
  try {
    return parseIntent(raw);
  } catch (err) {
    throw fail(`is invalid: ${(err as Error).message}`, err);
  }
}

export function registerConnect(program: Command): void {
  program
    .command('connect')
    .description(
      'run a stdio MCP server that forwards to the gateway as an agent, for clients that speak only stdio (desktop and IDE agents)',
    )
    .requiredOption(
      '--credentials <file>',
      'the credential file `warden agent create` wrote (it holds the private key: mode 600)',
    )
    .option('--gateway <url>', "the gateway's MCP endpoint (default: the credential file's issuer + /mcp)")
    .option(
      '--intent-file <file>',
      'a JSON file { "text", "values" } declaring the user\'s task when the session opens, unless the client declares one',
    )
    .addHelpText('after', HELP)
    .action(
      action(async (opts: ConnectOpts) => {
        // Both files are checked before stdin is read: a bad one is one line on stderr and exit 1.
        const credentials = readCredentialFile(opts.credentials);
        const intent = opts.intentFile !== undefined ? readIntentFile(opts.intentFile) : undefined;
        await runConnect({
          credentials,
          ...(opts.gateway !== undefined ? { gatewayUrl: opts.gateway } : {}),
          ...(intent !== undefined ? { intent } : {}),
        });
        // Everything is closed; should a stray handle keep the process alive, do not hang the client.
        setTimeout(() => process.exit(), 2_000).unref();
      }),
    );
}
