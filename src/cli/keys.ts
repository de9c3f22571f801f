// `warden keys`: the service's token-signing keys.

import type { Command } from 'commander';
import { createSigningKey } from '../identity/index.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description("manage the service's token-signing keys");
  withDataDir(
    keys
      .command('rotate')
      .description(
        'create a new signing key; the old one stops signing now and verifies until its last token expires',
      ),
  ).action(
    action(async (opts: DataDirOpts) => {
      await withWarden(opts, async (w) => {
        const kid = await createSigningKey(w.store, w.dataDir, w.audit);
        process.stdout.write(`new signing key ${kid}\n`);
      });
    }),
  );
  withDataDir(
    keys.command('list').description('list signing keys and their state').option('--json', 'print JSON'),
  ).action(
    action(async (opts: DataDirOpts & { json?: boolean }) => {
      await withWarden(opts, async (w) => {
        const rows = await w.store.db
          .selectFrom('signing_keys')
          .selectAll()
          .orderBy('created_at', 'desc')
          .execute();
        const now = Date.now();
        printTable(
          rows.map((r) => ({
            kid: r.kid,
            alg: r.alg,
            created: new Date(Number(r.created_at)).toISOString(),
            state:
              r.retired_at === null
                ? 'signing'
                : Number(r.verify_until) > now
                  ? `verifying until ${new Date(Number(r.verify_until)).toISOString()}`
                  : 'expired',
          })),
          Boolean(opts.json),
        );
      });
    }),
  );
}
