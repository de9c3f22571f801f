// `warden grant`: just-in-time grants. An agent asks for extra scope, within its blueprint's
// envelope, for a bounded time and a stated reason; only its own sponsor can approve. The grant
// stops counting at its end time with nothing having to run.

import { Option, type Command } from 'commander';
import { formatDuration } from '../config/index.js';
import { GRANT_VIEWS, type GrantView, type ListedGrant } from '../identity/registry.js';
import { durationArg, list, listArg, out, printRecord, time } from './options.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

interface RequestOpts extends DataDirOpts {
  agent: string;
  scope: string[];
  for: number;
  reason: string;
}

type AsOpts = DataDirOpts & { as: string };

function fields(g: ListedGrant): Array<[string, string]> {
  return [
    ['id', g.id],
    ['agent', g.agent],
    ['scope', list(g.scope)],
    ['status', g.effectiveStatus],
    ['duration', formatDuration(g.durationSeconds)],
    ['reason', g.reason],
    ['requested', time(g.requestedAt)],
    ['decided by', g.decidedBy ?? '-'],
    ['starts', time(g.startsAt)],
    ['ends', time(g.endsAt)],
  ];
}

export function registerGrant(program: Command): void {
  const grant = program
    .command('grant')
    .description(
      "manage just-in-time grants: extra scope for a limited time, approved by the agent's sponsor",
    );

  withDataDir(
    grant
      .command('request')
      .description("request a grant; it stays pending until the agent's sponsor approves or denies it")
      .requiredOption('--agent <id>', 'the agent: full SPIFFE id or <blueprint>/<name>')
      .addOption(
        new Option('--scope <scope...>', "scopes to grant; each must be in the blueprint's envelope")
          .argParser(listArg)
          .makeOptionMandatory(),
      )
      .addOption(
        new Option('--for <duration>', 'how long the grant lasts once approved, e.g. 15m; at most 24h')
          .argParser(durationArg)
          .makeOptionMandatory(),
      )
      .requiredOption(
        '--reason <text>',
        'why the agent needs it; shown to the approving sponsor and audited',
      ),
  ).action(
    action(async (opts: RequestOpts) => {
      const g = await withWarden(opts, (w) =>
        w.registry.requestGrant({
          agent: opts.agent,
          scope: opts.scope,
          durationSeconds: opts.for,
          reason: opts.reason,
        }),
      );
      out(`requested grant ${g.id} (pending): approve with \`warden grant approve ${g.id} --as <sponsor>\``);
    }),
  );

  withDataDir(
    grant
      .command('approve')
      .description('approve a pending grant; it lasts from now for its requested duration')
      .argument('<grant-id>', 'grant id (g_...)')
      .requiredOption('--as <sponsor>', "the approving sponsor; must be the agent's own sponsor"),
  ).action(
    action(async (id: string, opts: AsOpts) => {
      const g = await withWarden(opts, (w) => w.registry.approveGrant(id, opts.as));
      out(`approved grant ${g.id} until ${time(g.endsAt)}`);
    }),
  );

  withDataDir(
    grant
      .command('deny')
      .description('deny a pending grant')
      .argument('<grant-id>', 'grant id (g_...)')
      .requiredOption('--as <sponsor>', "the denying sponsor; must be the agent's own sponsor"),
  ).action(
    action(async (id: string, opts: AsOpts) => {
      const g = await withWarden(opts, (w) => w.registry.denyGrant(id, opts.as));
      out(`denied grant ${g.id}`);
    }),
  );

  withDataDir(
    grant
      .command('revoke')
      .description('revoke an approved grant before it ends; tokens carrying it stop working')
      .argument('<grant-id>', 'grant id (g_...)')
      .option('--as <sponsor>', "revoke as the agent's sponsor (default: as the operator)"),
  ).action(
    action(async (id: string, opts: DataDirOpts & { as?: string }) => {
      const g = await withWarden(opts, (w) => w.registry.revokeGrant(id, opts.as));
      out(`revoked grant ${g.id}`);
    }),
  );

  withDataDir(
    grant
      .command('list')
      .description('list grants, newest first')
      .option('--agent <id>', 'only grants of this agent (full SPIFFE id or <blueprint>/<name>)')
      .addOption(
        new Option('--status <status>', 'only grants in this status (approved means still running)').choices([
          ...GRANT_VIEWS,
        ]),
      )
      .option('--json', 'print JSON instead of a table'),
  ).action(
    action(async (opts: DataDirOpts & { agent?: string; status?: GrantView; json?: boolean }) => {
      const all = await withWarden(opts, (w) =>
        w.registry.listGrants({
          ...(opts.agent !== undefined && { agent: opts.agent }),
          ...(opts.status !== undefined && { status: opts.status }),
        }),
      );
      const rows = all.map((g) => ({
        id: g.id,
        agent: g.agent,
        scope: list(g.scope),
        status: g.effectiveStatus,
        duration: formatDuration(g.durationSeconds),
        ends: time(g.endsAt),
      }));
      printTable(rows, opts.json === true, all);
    }),
  );

  withDataDir(
    grant
      .command('show')
      .description('show a grant')
      .argument('<grant-id>', 'grant id (g_...)')
      .option('--json', 'print JSON instead of text'),
  ).action(
    action(async (id: string, opts: DataDirOpts & { json?: boolean }) => {
      const g = await withWarden(opts, (w) => w.registry.getGrant(id));
      printRecord(fields(g), opts.json === true, g);
    }),
  );
}
