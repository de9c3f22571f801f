// `warden replay`: re-decide recorded requests under another policy set and list what changes.
// Exits 1 when anything would change, so a policy change can be checked in CI.

import type { Command } from 'commander';
import { replay } from '../audit/replay.js';
import { parseDuration } from '../config/index.js';
import { WardenError, q } from '../errors.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

interface ReplayOpts extends DataDirOpts {
  policies: string;
  since?: string;
  trace?: string;
  json?: boolean;
}

/** `--since` takes a time (ISO 8601) or a duration back from now (`24h`). */
function since(value: string): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw new WardenError('invalid_argument', `invalid --since ${q(value)}`);
    return t;
  }
  return Date.now() - parseDuration(value) * 1000;
}

export function registerReplay(program: Command): void {
  withDataDir(
    program
      .command('replay')
      .description(
        're-decide recorded requests under another policy set and list what would change; exits 1 when anything does',
      )
      .requiredOption('--policies <dir>', 'the policy directory to decide with (*.cedar)')
      .option('--since <time>', 'only requests since this time (ISO 8601) or this long ago (e.g. 24h)')
      .option('--trace <id>', 'only the requests of this trace')
      .option('--json', 'print JSON'),
  ).action(
    action(async (opts: ReplayOpts) => {
      if (opts.trace !== undefined && !/^[0-9a-f]{32}$/.test(opts.trace)) {
        throw new WardenError('invalid_argument', `invalid --trace ${q(opts.trace)}: expected 32 hex digits`);
      }
      await withWarden(opts, async (w) => {
        const r = await replay(w.store, opts.policies, {
          ...(opts.since !== undefined ? { since: since(opts.since) } : {}),
          ...(opts.trace !== undefined ? { traceId: opts.trace } : {}),
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        } else {
          printTable(
            r.changes.map((c) => ({
              index: String(c.index),
              time: c.time,
              agent: c.agent ?? '',
              target: c.target ?? '',
              was: c.recorded,
              now: c.replayed,
              why: c.reasons.join('; ') || c.policies.join(', '),
            })),
            false,
          );
          process.stdout.write(
            `${r.checked} decisions replayed, ${r.changes.length} would change, ${r.skipped.length} skipped (policy set ${r.policySetHash.slice(0, 12)})\n`,
          );
          for (const s of r.skipped.slice(0, 10)) process.stdout.write(`  skipped ${s.index}: ${s.why}\n`);
        }
        if (r.changes.length > 0) process.exitCode = 1;
      });
    }),
  );
}
