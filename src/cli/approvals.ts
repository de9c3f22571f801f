// `warden approvals`: calls held for a human's approval, each bound to exactly one call.

import type { Command } from 'commander';
import { ApprovalQueue } from '../gateway/approvals.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

interface ListOpts extends DataDirOpts {
  status?: 'pending' | 'approved' | 'denied' | 'consumed' | 'expired';
  json?: boolean;
}

export function registerApprovals(program: Command): void {
  const cmd = program
    .command('approvals')
    .description("calls held by policy for a human's approval; an approval releases exactly one call, once");
  withDataDir(
    cmd
      .command('list')
      .description('list held calls, newest first')
      .option('--status <status>', 'only this status: pending, approved, denied, consumed or expired')
      .option('--json', 'print JSON, including the arguments of each call'),
  ).action(
    action(async (opts: ListOpts) => {
      await withWarden(opts, async (w) => {
        const q = new ApprovalQueue(w.store, w.audit, { ttlSeconds: w.config.gateway.approvalTtlSeconds });
        const list = await q.list(opts.status ? { status: opts.status } : {});
        printTable(
          list.map((a) => ({
            id: a.id,
            status: a.status,
            agent: a.agent,
            tool: `${a.server}/${a.tool}`,
            why: a.reasons.join('; '),
            expires: new Date(a.expiresAt).toISOString(),
          })),
          Boolean(opts.json),
          list,
        );
      });
    }),
  );
  for (const verdict of ['approve', 'deny'] as const) {
    withDataDir(
      cmd
        .command(`${verdict} <id>`)
        .description(verdict === 'approve' ? 'release exactly this held call, once' : 'refuse this held call')
        .requiredOption('--as <sponsor>', "the deciding sponsor; must be the calling agent's sponsor"),
    ).action(
      action(async (id: string, opts: DataDirOpts & { as: string }) => {
        await withWarden(opts, async (w) => {
          const q = new ApprovalQueue(w.store, w.audit, { ttlSeconds: w.config.gateway.approvalTtlSeconds });
          const a = await q.decide(id, verdict === 'approve' ? 'approved' : 'denied', opts.as);
          process.stdout.write(`${a.id} ${a.status}: ${a.server}/${a.tool} for ${a.agent}\n`);
        });
      }),
    );
  }
}
