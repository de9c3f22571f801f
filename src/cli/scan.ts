// `warden scan <path>`: statically scan a skill folder, a folder of skills, an MCP server folder, a
// single file or a JSON file of MCP tool definitions, without running or importing any of it.
// Output is a table (default), the report as JSON (--json) or SARIF 2.1.0 (--sarif), to stdout or
// --output. Exit codes: 0 when no finding is at or above --fail-on (default high), 1 when one is,
// 2 for usage errors and input that cannot be scanned (missing path, unreadable file).
// `warden scan --credentials <file>` scans instead the tool definitions the gateway offers that agent,
// listed live through the gateway as the agent (its DPoP-bound token), exactly what its model sees.

import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { WardenError, q } from '../errors.js';
import { listToolsAsAgent } from '../gateway/list-live.js';
import {
  formatTable,
  hasFindingsAtLeast,
  isSeverity,
  scanPath,
  scanToolDefinitions,
  toSarif,
  type Severity,
} from '../skills/scan/index.js';

interface ScanOpts {
  kind?: 'skill' | 'mcp-server' | 'tools' | 'file';
  json?: boolean;
  sarif?: boolean;
  output?: string;
  failOn: Severity | 'none';
  allowSymlinks?: boolean;
  maxFileSize?: number;
  maxFiles?: number;
  otherTools?: string;
  credentials?: string;
  gateway?: string;
}

function parseFailOn(v: string): Severity | 'none' {
  if (v === 'none' || isSeverity(v)) return v;
  throw new InvalidArgumentError('expected info, low, medium, high, critical or none');
}

/** A byte count: 1048576, 512k, 2m, 1mb. */
export function parseSize(v: string): number {
  const m = /^(\d+)\s*([kmg]?)i?b?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 1048576, 512k or 2m');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    (m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'
  ];
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive size');
  return n;
}

function parseCount(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a positive integer');
  return Number(v);
}

const USAGE_CODES = new Set(['not_found', 'invalid_argument', 'scan_refused', 'path_refused']);

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description(
      'scan a skill, MCP server folder or tool definitions for hidden instructions, credential theft and more',
    )
    .argument('[path]', 'skill folder, folder of skills, MCP server folder, file, or tools/list JSON')
    .addOption(
      new Option('--kind <kind>', 'treat the input as this kind instead of detecting it').choices([
        'skill',
        'mcp-server',
        'tools',
        'file',
      ]),
    )
    .option('--json', 'print the report as JSON')
    .option('--sarif', 'print the report as SARIF 2.1.0')
    .option('-o, --output <file>', 'write the report to this file instead of stdout')
    .option(
      '--fail-on <severity>',
      'exit 1 when a finding is at or above this severity: info, low, medium, high, critical or none',
      parseFailOn,
      'high',
    )
    .option('--allow-symlinks', 'follow symlinks that stay inside the folder (never those leading out of it)')
    .option(
      '--max-file-size <bytes>',
      'files larger than this are not scanned, which is itself a finding (default 1m)',
      parseSize,
    )
    .option('--max-files <n>', 'scan at most this many files; more is a finding (default 2000)', parseCount)
    .option('--other-tools <names>', 'comma-separated tool names of other servers, for the shadowing rules')
    .option(
      '--credentials <file>',
      'instead of a path: scan the tool definitions the gateway offers this agent, fetched live as the agent',
    )
    .option('--gateway <url>', "with --credentials: the gateway's MCP endpoint (default: the issuer + /mcp)")
    .action(async (path: string | undefined, opts: ScanOpts) => {
      try {
        if (opts.json && opts.sarif)
          throw new WardenError('invalid_argument', '--json and --sarif cannot be combined');
        if ((path === undefined) === (opts.credentials === undefined))
          throw new WardenError('invalid_argument', 'give either a path or --credentials <file>');
        const report = opts.credentials
          ? await scanToolDefinitions(await listToolsAsAgent(opts.credentials, opts.gateway), {
              server: 'gateway',
              source: opts.gateway ?? 'gateway',
            })
          : await scanPath(path as string, {
              ...(opts.kind ? { kind: opts.kind } : {}),
              ...(opts.allowSymlinks ? { allowSymlinks: true } : {}),
              ...(opts.maxFileSize !== undefined ? { maxFileSize: opts.maxFileSize } : {}),
              ...(opts.maxFiles !== undefined ? { maxFiles: opts.maxFiles } : {}),
              ...(opts.otherTools
                ? {
                    otherTools: opts.otherTools
                      .split(',')
                      .map((s) => s.trim())
                      .filter(Boolean),
                  }
                : {}),
            });
        const text = opts.sarif
          ? JSON.stringify(toSarif(report), null, 2) + '\n'
          : opts.json
            ? JSON.stringify(report, null, 2) + '\n'
            : formatTable(report);
        if (opts.output) {
          try {
            writeFileSync(opts.output, text);
          } catch (err) {
            throw new WardenError(
              'invalid_argument',
              `cannot write ${q(opts.output)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
            );
          }
        } else process.stdout.write(text);
        process.exitCode = opts.failOn !== 'none' && hasFindingsAtLeast(report, opts.failOn) ? 1 : 0;
      } catch (err) {
        const message =
          err instanceof WardenError
            ? err.message
            : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
        process.stderr.write(`warden: ${message}\n`);
        if (process.env['WARDEN_DEBUG'] && err instanceof Error && err.stack)
          process.stderr.write(`${err.stack}\n`);
        process.exitCode = err instanceof WardenError && USAGE_CODES.has(err.code) ? 2 : 1;
      }
    });
}
