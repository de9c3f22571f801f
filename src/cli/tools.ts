// `warden tools`: review and pin the definitions of upstream MCP tools. The gateway offers and
// calls only a tool whose current definition is pinned; a changed definition is quarantined until
// someone looks at `warden tools diff` and approves it here.

import type { Command } from 'commander';
import { WardenError, q } from '../errors.js';
import { ToolPins, type ListedTool, type StoredDefinition, type ToolDiff } from '../gateway/pins.js';
import type { ToolFinding } from '../gateway/tool-definition.js';
import { out, time } from './options.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';
import type { Warden } from './context.js';

type JsonOpts = DataDirOpts & { json?: boolean };
type ApproveOpts = DataDirOpts & { hash?: string; as: string; acceptFindings?: boolean };
type RejectOpts = DataDirOpts & { hash: string; as: string };

const REF_HELP = 'the tool as <server>/<tool>, e.g. `mail/send_email`';

function splitRef(ref: string): { server: string; name: string } {
  const i = ref.indexOf('/');
  if (i <= 0 || i === ref.length - 1) {
    throw new WardenError('invalid_argument', `invalid tool ${q(ref)}: expected <server>/<tool>`);
  }
  return { server: ref.slice(0, i), name: ref.slice(i + 1) };
}

// The CLI only reviews and decides; auto-pinning is the gateway's business.
function pins(w: Warden): ToolPins {
  return new ToolPins(w.store, w.audit, { autoPin: false });
}

function short(hash: string | null): string {
  return hash === null ? '-' : hash.slice(0, 12);
}

function countFindings(findings: readonly ToolFinding[]): string {
  const high = findings.filter((f) => f.severity === 'high').length;
  const medium = findings.length - high;
  const parts = [...(high > 0 ? [`${high} high`] : []), ...(medium > 0 ? [`${medium} medium`] : [])];
  return parts.length === 0 ? '-' : parts.join(', ');
}

function printFindings(findings: readonly ToolFinding[]): void {
  for (const f of findings) out(`  ${f.severity.padEnd(6)} ${f.rule}  ${f.field}: ${f.message}`);
}

function listRow(t: ListedTool): Record<string, string> {
  // Findings of what waits for review are what a reviewer needs to see first.
  const waiting = t.definitions.filter((d) => d.status === 'pending').flatMap((d) => d.findings);
  return {
    tool: `${t.server}/${t.name}`,
    status: t.status,
    pinned: short(t.pinnedHash),
    pending: t.pendingHashes.length === 0 ? '-' : t.pendingHashes.map(short).join(' '),
    findings: countFindings(waiting),
  };
}

function describe(label: string, d: StoredDefinition | null): void {
  if (d === null) {
    out(`${label} none`);
    return;
  }
  const decided = d.decidedBy === null ? '' : `, decided by ${d.decidedBy} at ${time(d.decidedAt)}`;
  out(`${label} ${d.hash} (first seen ${time(d.firstSeen)}${decided})`);
}

function printDiff(d: ToolDiff): void {
  out(`tool ${d.server}/${d.name}`);
  describe('pinned: ', d.pinned);
  describe('pending:', d.pending);
  out(
    `changed fields: ${d.changedFields.length === 0 ? '-' : d.changedFields.map((c) => `${c.field} (${c.change})`).join(', ')}`,
  );
  if (d.pending.findings.length > 0) {
    out('findings in the pending definition:');
    printFindings(d.pending.findings);
  } else {
    out('findings in the pending definition: none');
  }
  out('');
  out(`--- ${d.pinned === null ? 'nothing pinned' : `pinned ${short(d.pinned.hash)}`}`);
  out(`+++ pending ${short(d.pending.hash)}`);
  if (d.text.length > 0) out(d.text);
  out('');
  out(`approve with: warden tools approve ${d.server}/${d.name} --hash ${d.pending.hash}`);
}

export function registerTools(program: Command): void {
  const tools = program
    .command('tools')
    .description(
      'review and pin upstream MCP tool definitions: only a pinned definition may be offered to agents and called',
    );

  withDataDir(
    tools
      .command('list')
      .description('list every tool seen on an upstream, with its pin status and definitions awaiting review')
      .option('--json', 'print JSON (every definition, with its findings) instead of a table'),
  ).action(
    action(async (opts: JsonOpts) => {
      const all = await withWarden(opts, (w) => pins(w).list());
      printTable(all.map(listRow), opts.json === true, all);
    }),
  );

  withDataDir(
    tools
      .command('approve')
      .description(
        "pin a tool's definition so agents may use it; the definition pinned before it is superseded",
      )
      .argument('<server/tool>', REF_HELP)
      .option(
        '--hash <hash>',
        'the definition to pin: its sha-256, or a unique prefix of at least 12 hex digits (default: the only one awaiting review)',
      )
      .option('--as <who>', 'who approves; recorded in the audit log', 'operator')
      .option(
        '--accept-findings',
        'pin even though the scan found high-severity hidden text or instructions in the definition',
      ),
  ).action(
    action(async (ref: string, opts: ApproveOpts) => {
      const { server, name } = splitRef(ref);
      const d = await withWarden(opts, (w) =>
        pins(w).approve(server, name, opts.hash, opts.as, { acceptFindings: opts.acceptFindings === true }),
      );
      out(`pinned ${server}/${name} definition ${d.hash}`);
      if (d.superseded !== null) out(`superseded ${d.superseded}`);
      const accepted = d.findings.filter((f) => f.severity === 'high');
      if (accepted.length > 0) {
        out('accepted high-severity findings:');
        printFindings(accepted);
      }
    }),
  );

  withDataDir(
    tools
      .command('reject')
      .description(
        'reject a definition so it is never used; rejecting the pinned one unpins the tool until another is approved',
      )
      .argument('<server/tool>', REF_HELP)
      .requiredOption(
        '--hash <hash>',
        'the definition to reject: its sha-256, or a unique prefix of at least 12 hex digits',
      )
      .option('--as <who>', 'who rejects; recorded in the audit log', 'operator'),
  ).action(
    action(async (ref: string, opts: RejectOpts) => {
      const { server, name } = splitRef(ref);
      const d = await withWarden(opts, (w) => pins(w).reject(server, name, opts.hash, opts.as));
      out(`rejected ${server}/${name} definition ${d.hash}`);
    }),
  );

  withDataDir(
    tools
      .command('diff')
      .description(
        'show how the newest definition awaiting review differs from the pinned one, with its scan findings; invisible characters are shown escaped',
      )
      .argument('<server/tool>', REF_HELP)
      .option('--json', 'print JSON instead of text'),
  ).action(
    action(async (ref: string, opts: JsonOpts) => {
      const { server, name } = splitRef(ref);
      const d = await withWarden(opts, (w) => pins(w).diff(server, name));
      if (opts.json === true) process.stdout.write(JSON.stringify(d, null, 2) + '\n');
      else printDiff(d);
    }),
  );
}
