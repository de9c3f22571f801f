// `warden blueprint`: the templates agents are made from. A blueprint fixes the most its agents may
// ever be given (the envelope), what every token carries (the base scope), token lifetime,
// delegation depth, and who may sponsor its agents.

import { Option, type Command } from 'commander';
import type { BlueprintPatch } from '../identity/registry.js';
import type { Blueprint } from '../identity/model.js';
import { formatDuration } from '../config/index.js';
import { date, dateArg, durationArg, integerArg, list, listArg, out, printRecord, time } from './options.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

interface RuleOpts extends DataDirOpts {
  sponsor?: string[];
  owner?: string[];
  scope?: string[];
  envelopeScope?: string[];
  envelopeServer?: string[];
  envelopeTool?: string[];
  tokenTtl?: number;
  maxDepth?: number;
  /** A date, or `false` from `--no-review-by`. */
  reviewBy?: number | false;
}

type ListOpts = DataDirOpts & { json?: boolean };

/** The options `create` and `update` share; on `update`, an option left out keeps its value. */
function ruleOptions(cmd: Command, update: boolean): Command {
  const keep = update ? ' (default: unchanged)' : '';
  const sponsor = new Option(
    '--sponsor <id...>',
    `who may sponsor agents of this blueprint; repeatable${update ? ', replaces the list' : ''}`,
  ).argParser(listArg);
  if (!update) sponsor.makeOptionMandatory();
  cmd
    .addOption(sponsor)
    .addOption(
      new Option(
        '--owner <id...>',
        `who owns the blueprint and may change it; repeatable${update ? keep : ' (default: the sponsors)'}`,
      ).argParser(listArg),
    )
    .addOption(
      new Option(
        '--scope <scope...>',
        `base scope: OAuth scopes every token of its agents carries; repeatable or space-separated${keep}`,
      ).argParser(listArg),
    )
    .addOption(
      new Option(
        '--envelope-scope <scope...>',
        `the most scopes its agents may ever hold, through the base scope or grants${update ? keep : ' (default: the base scope)'}`,
      ).argParser(listArg),
    )
    .addOption(
      new Option(
        '--envelope-server <pattern...>',
        `upstream MCP servers (names or globs) the gateway may route its agents to${keep}`,
      ).argParser(listArg),
    )
    .addOption(
      new Option(
        '--envelope-tool <pattern...>',
        `tools (server/tool, globs allowed) the gateway may allow its agents${keep}`,
      ).argParser(listArg),
    )
    .addOption(
      new Option(
        '--token-ttl <duration>',
        `access-token lifetime, e.g. 10m; at most 60m${update ? keep : ' (default: 10m)'}`,
      ).argParser(durationArg),
    )
    .addOption(
      new Option(
        '--max-depth <n>',
        `how many times its agents' tokens may be delegated onwards, 0 to 10${update ? keep : ' (default: 2)'}`,
      ).argParser(integerArg),
    )
    .addOption(
      new Option(
        '--review-by <date>',
        `YYYY-MM-DD: from this date no new agents until the blueprint is updated${keep}`,
      ).argParser(dateArg),
    );
  if (update) cmd.option('--no-review-by', 'clear the review-by date');
  return cmd;
}

function fields(b: Blueprint): Array<[string, string]> {
  return [
    ['name', b.name],
    ['status', b.status],
    ['version', String(b.version)],
    ['sponsors', list(b.sponsors)],
    ['owners', list(b.owners)],
    ['base scope', list(b.baseScope)],
    ['envelope scopes', list(b.envelope.scopes)],
    ['envelope servers', list(b.envelope.servers)],
    ['envelope tools', list(b.envelope.tools)],
    ['token ttl', formatDuration(b.tokenTtlSeconds)],
    ['max delegation depth', String(b.maxDelegationDepth)],
    ['review by', date(b.reviewBy)],
    ['created', time(b.createdAt)],
    ['updated', time(b.updatedAt)],
  ];
}

export function registerBlueprint(program: Command): void {
  const blueprint = program
    .command('blueprint')
    .description('manage blueprints: the templates that bound what their agents may ever do');

  withDataDir(
    ruleOptions(
      blueprint
        .command('create')
        .description('create a blueprint')
        .argument(
          '<name>',
          'blueprint name: lowercase letters, digits and hyphens (it appears in agent ids)',
        ),
      false,
    ),
  ).action(
    action(async (name: string, opts: RuleOpts) => {
      const baseScope = opts.scope ?? [];
      const b = await withWarden(opts, (w) =>
        w.registry.createBlueprint({
          name,
          sponsors: opts.sponsor ?? [],
          ...(opts.owner !== undefined && { owners: opts.owner }),
          envelope: {
            scopes: opts.envelopeScope ?? baseScope,
            servers: opts.envelopeServer ?? [],
            tools: opts.envelopeTool ?? [],
          },
          baseScope,
          ...(opts.tokenTtl !== undefined && { tokenTtlSeconds: opts.tokenTtl }),
          ...(opts.maxDepth !== undefined && { maxDelegationDepth: opts.maxDepth }),
          ...(typeof opts.reviewBy === 'number' && { reviewBy: opts.reviewBy }),
        }),
      );
      out(`created blueprint ${b.name} (version ${b.version})`);
    }),
  );

  withDataDir(
    blueprint
      .command('list')
      .description('list blueprints')
      .option('--json', 'print JSON instead of a table'),
  ).action(
    action(async (opts: ListOpts) => {
      const all = await withWarden(opts, (w) => w.registry.listBlueprints());
      const rows = all.map((b) => ({
        name: b.name,
        version: String(b.version),
        status: b.status,
        sponsors: list(b.sponsors),
        'base scope': list(b.baseScope),
        ttl: formatDuration(b.tokenTtlSeconds),
        'review by': date(b.reviewBy),
      }));
      printTable(rows, opts.json === true, all);
    }),
  );

  withDataDir(
    blueprint
      .command('show')
      .description('show a blueprint')
      .argument('<name>', 'blueprint name')
      .option('--json', 'print JSON instead of text'),
  ).action(
    action(async (name: string, opts: ListOpts) => {
      const b = await withWarden(opts, (w) => w.registry.getBlueprint(name));
      printRecord(fields(b), opts.json === true, b);
    }),
  );

  withDataDir(
    ruleOptions(
      blueprint
        .command('update')
        .description(
          'change a blueprint: its version goes up and its agents must get new tokens under the new rules',
        )
        .argument('<name>', 'blueprint name'),
      true,
    ),
  ).action(
    action(async (name: string, opts: RuleOpts) => {
      const patch: BlueprintPatch = {};
      if (opts.sponsor !== undefined) patch.sponsors = opts.sponsor;
      if (opts.owner !== undefined) patch.owners = opts.owner;
      if (opts.scope !== undefined) patch.baseScope = opts.scope;
      const envelope: BlueprintPatch['envelope'] = {};
      if (opts.envelopeScope !== undefined) envelope.scopes = opts.envelopeScope;
      if (opts.envelopeServer !== undefined) envelope.servers = opts.envelopeServer;
      if (opts.envelopeTool !== undefined) envelope.tools = opts.envelopeTool;
      if (Object.keys(envelope).length > 0) patch.envelope = envelope;
      if (opts.tokenTtl !== undefined) patch.tokenTtlSeconds = opts.tokenTtl;
      if (opts.maxDepth !== undefined) patch.maxDelegationDepth = opts.maxDepth;
      if (opts.reviewBy !== undefined) patch.reviewBy = opts.reviewBy === false ? null : opts.reviewBy;
      const b = await withWarden(opts, (w) => w.registry.updateBlueprint(name, patch));
      out(
        `updated blueprint ${b.name} to version ${b.version}; tokens issued before now are no longer valid`,
      );
    }),
  );

  withDataDir(
    blueprint
      .command('retire')
      .description('retire a blueprint: its agents get no more tokens and no new agents can be made from it')
      .argument('<name>', 'blueprint name'),
  ).action(
    action(async (name: string, opts: DataDirOpts) => {
      const b = await withWarden(opts, (w) => w.registry.retireBlueprint(name));
      out(`retired blueprint ${b.name}`);
    }),
  );
}
