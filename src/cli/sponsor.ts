// `warden sponsor`: the accountable humans behind agents. Every agent names one sponsor, and only
// that sponsor may approve its just-in-time grants.

import type { Command } from 'commander';
import type { Sponsor } from '../identity/model.js';
import { out, time } from './options.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

type ListOpts = DataDirOpts & { json?: boolean };

function row(s: Sponsor): Record<string, string> {
  return { id: s.id, name: s.name, status: s.status, created: time(s.createdAt) };
}

export function registerSponsor(program: Command): void {
  const sponsor = program
    .command('sponsor')
    .description('manage sponsors: the accountable humans who own agents and approve their grants');

  withDataDir(
    sponsor
      .command('add')
      .description('add a sponsor')
      .argument('<id>', 'sponsor id: an email address or an OIDC subject (no spaces)')
      .requiredOption('--name <name>', 'display name of the sponsor'),
  ).action(
    action(async (id: string, opts: DataDirOpts & { name: string }) => {
      const s = await withWarden(opts, (w) => w.registry.addSponsor({ id, name: opts.name }));
      out(`added sponsor ${s.id}`);
    }),
  );

  withDataDir(
    sponsor.command('list').description('list sponsors').option('--json', 'print JSON instead of a table'),
  ).action(
    action(async (opts: ListOpts) => {
      const all = await withWarden(opts, (w) => w.registry.listSponsors());
      printTable(all.map(row), opts.json === true, all);
    }),
  );

  withDataDir(
    sponsor
      .command('disable')
      .description(
        'disable a sponsor: every token issued so far for their agents stops working, even after re-enabling',
      )
      .argument('<id>', 'sponsor id'),
  ).action(
    action(async (id: string, opts: DataDirOpts) => {
      const s = await withWarden(opts, (w) => w.registry.disableSponsor(id));
      out(`disabled sponsor ${s.id}`);
    }),
  );

  withDataDir(
    sponsor
      .command('enable')
      .description('re-enable a disabled sponsor; tokens issued before the disable stay invalid')
      .argument('<id>', 'sponsor id'),
  ).action(
    action(async (id: string, opts: DataDirOpts) => {
      const s = await withWarden(opts, (w) => w.registry.enableSponsor(id));
      out(`enabled sponsor ${s.id}`);
    }),
  );
}
