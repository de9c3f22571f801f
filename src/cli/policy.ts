// `warden policy`: check a directory of Cedar policies, and ask it one question, offline, with
// exactly the engine the gateway uses.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { resolveDataDir } from '../config/index.js';
import { q } from '../errors.js';
import type * as Policy from '../policy/index.js';
import type { Effect, PolicyEngine, ToolSchemaInput } from '../policy/index.js';
import { list, out, printRecord } from './options.js';
import { action, withDataDir, type DataDirOpts } from './util.js';

interface PolicyOpts extends DataDirOpts {
  dir?: string;
  tools?: string;
}

const EFFECTS: readonly Effect[] = ['allow', 'deny', 'approval'];

type PolicyModule = typeof Policy;

/**
 * The policy domain, loaded when a policy command runs: it instantiates Cedar's WebAssembly module,
 * which every other command would otherwise pay for at start.
 */
function policyModule(): Promise<PolicyModule> {
  return import('../policy/index.js');
}

const REQUEST_HELP = `
The request file is JSON of one decision request (the gateway builds the same for every call):

  {
    "principal": { "id": "spiffe://warden.local/agent/mailer/a1", "blueprint": "mailer",
                   "sponsor": "alice@example.com", "scopes": ["mail"], "depth": 0 },
    "action": "call:mail/send_email",
    "resource": { "type": "Tool", "id": "mail/send_email",
                  "attrs": { "server": "mail", "name": "send_email", "labels": ["egress"],
                             "definition_hash": "sha256:...", "read_only": false,
                             "destructive": false, "open_world": true } },
    "context": { "arguments": { "to": "bob@example.com", "subject": "hi", "body": "..." },
                 "flow": { "touched": ["private"], "private_seen": true, "untrusted_seen": false,
                           "tainted_args": [], "intent_args": ["to"] },
                 "grant": { "active": false, "ids": [] }, "delegation_depth": 0 }
  }

action: tools/call, call:<server>/<tool> (needs --tools), resources/read, prompts/get; an upstream
server's sampling/createMessage, elicitation/create, roots/list and connect take a principal
{ "type": "Server", "id": "<server>" } and a context of only the optional "time".
resource.type: Tool (id <server>/<name>), Resource (id <server>/<uri>; attrs server, uri, labels),
Prompt (id <server>/<name>; attrs server, name, labels), Host (attrs name, port), Agent.
context.time ({ "epoch_seconds", "hour_utc", "weekday" }) defaults to now.
`;

function policyOptions(cmd: Command): Command {
  return withDataDir(
    cmd
      .option('--dir <dir>', 'the directory of *.cedar policies (default: <data-dir>/policies)')
      .option(
        '--tools <tools.json>',
        'tool definitions to type per-tool actions (call:<server>/<tool>) with: JSON of { "<server>": <tools/list result> }',
      ),
  );
}

function policyDir(opts: PolicyOpts): string {
  return opts.dir ?? join(resolveDataDir(opts.dataDir), 'policies');
}

function readJson(
  p: PolicyModule,
  path: string,
  what: string,
  code: 'request_invalid' | 'schema_invalid',
): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new p.PolicyError(code, `cannot read ${what} ${q(path)}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new p.PolicyError(code, `${what} ${q(path)} is not JSON`, { cause: err });
  }
}

function readTools(p: PolicyModule, opts: PolicyOpts): ToolSchemaInput[] {
  if (opts.tools === undefined) return [];
  return p.parseToolLists(
    readJson(p, opts.tools, 'tools file', 'schema_invalid'),
    `tools file ${q(opts.tools)}`,
  );
}

/** Every line of a refused set on stderr, then a failing exit code. */
function reportPolicyError(p: PolicyModule, err: unknown): void {
  if (!(err instanceof p.PolicyError)) throw err;
  for (const line of err.details) process.stderr.write(`warden: ${line}\n`);
  process.exitCode = 1;
}

export function registerPolicy(program: Command): void {
  const policy = program
    .command('policy')
    .description('check Cedar policies and try requests against them, offline');

  policyOptions(
    policy
      .command('validate')
      .description(
        'parse and validate every *.cedar file against the schema: prints OK with the number of policies and the policy-set hash (and a note naming a policy that makes requests go to Cedar whole), or one line per error',
      ),
  ).action(
    action(async (opts: PolicyOpts) => {
      const p = await policyModule();
      try {
        const model = p.compileSchema(readTools(p, opts));
        const set = p.loadPolicyDir(policyDir(opts), model.text);
        out(
          `OK: ${set.policies.length} ${set.policies.length === 1 ? 'policy' : 'policies'}, policy set ${set.hash}`,
        );
        for (const w of set.warnings) out(`warning: ${w}`);
        const note = p.wholeRequestsNote(set);
        if (note !== undefined) out(`note: ${note}`);
      } catch (err) {
        reportPolicyError(p, err);
      }
    }),
  );

  policyOptions(
    policy
      .command('test')
      .description('decide one request (JSON, see below) with the policies, as the gateway would')
      .argument('<request.json>', 'the decision request')
      .addOption(
        new Option('--expect <effect>', 'exit 1 unless the effect is this (for policy tests in CI)').choices([
          ...EFFECTS,
        ]),
      )
      .option('--json', 'print the decision as JSON')
      .addHelpText('after', REQUEST_HELP),
  ).action(
    action(async (file: string, opts: PolicyOpts & { json?: boolean; expect?: Effect }) => {
      const p = await policyModule();
      let engine: PolicyEngine;
      try {
        engine = p.PolicyEngine.load({ dir: policyDir(opts), tools: readTools(p, opts) });
      } catch (err) {
        reportPolicyError(p, err);
        return;
      }
      const req = p.parseDecisionRequest(readJson(p, file, 'request file', 'request_invalid'));
      // A request that does not convert would be a deny with an error; here it is a mistake in the
      // file, so say so instead of printing a deny that `--expect deny` would accept.
      engine.checkRequest(req);
      const d = engine.decide(req);
      if (opts.json) process.stdout.write(JSON.stringify(d, null, 2) + '\n');
      else {
        printRecord(
          [
            ['effect', d.effect],
            ['policies', list(d.policies)],
            ['reasons', d.reasons.length === 0 ? '-' : d.reasons.join('; ')],
            ['errors', d.errors.length === 0 ? '-' : d.errors.join('; ')],
            ['policy set', d.policySetHash],
          ],
          false,
          d,
        );
      }
      if (opts.expect !== undefined && d.effect !== opts.expect) {
        process.stderr.write(`warden: expected ${opts.expect}, got ${d.effect}\n`);
        process.exitCode = 1;
      }
    }),
  );
}
