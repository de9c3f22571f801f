// `warden trace <trace-id>`: the agents, delegations, tool calls and decisions of one trace,
// rebuilt from the evidence log alone.

import type { Command } from 'commander';
import { readEvents } from '../audit/index.js';
import { buildTrace, renderTrace } from '../audit/trace-tree.js';
import { WardenError, q } from '../errors.js';
import { action, withDataDir, withWarden, type DataDirOpts } from './util.js';

export function registerTrace(program: Command): void {
  withDataDir(
    program
      .command('trace <trace-id>')
      .description(
        'the tree of what happened under one W3C trace id: agents, delegations, tool calls, decisions',
      )
      .option('--json', 'print JSON'),
  ).action(
    action(async (traceId: string, opts: DataDirOpts & { json?: boolean }) => {
      if (!/^[0-9a-f]{32}$/.test(traceId)) {
        throw new WardenError(
          'invalid_argument',
          `invalid trace id ${q(traceId)}: expected 32 lowercase hex digits`,
        );
      }
      await withWarden(opts, async (w) => {
        const events = await readEvents(w.store, { traceId });
        if (events.length === 0)
          throw new WardenError('not_found', `the log has nothing for trace ${q(traceId)}`);
        const tree = buildTrace(events);
        process.stdout.write(
          opts.json ? `${JSON.stringify(tree, null, 2)}\n` : `trace ${traceId}\n${renderTrace(tree)}`,
        );
      });
    }),
  );
}
