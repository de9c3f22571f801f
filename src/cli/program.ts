// The `warden` command tree and its error handling. Usage errors print one line and exit 2;
// failures of a command print one line (`warden: <message>`) and exit 1; nothing ever prints a
// stack trace unless WARDEN_DEBUG is set.

import { Command, CommanderError } from 'commander';
import { registerAgent } from './agent.js';
import { registerDemo } from './demo.js';
import { registerApprovals } from './approvals.js';
import { registerBlueprint } from './blueprint.js';
import { registerConnect } from './connect.js';
import { registerGrant } from './grant.js';
import { registerInit } from './init.js';
import { registerKeys } from './keys.js';
import { registerPolicy } from './policy.js';
import { registerServe } from './serve.js';
import { registerSponsor } from './sponsor.js';
import { registerToken } from './token.js';
import { registerTools } from './tools.js';
import { registerAudit } from './audit.js';
import { registerWitness } from './witness.js';
import { registerReplay } from './replay.js';
import { registerTrace } from './trace.js';
import { registerSandbox } from './sandbox.js';
import { registerScan } from './scan.js';
import { registerSkill } from './skill.js';
import { registerBom } from './bom.js';
import { reportError } from './util.js';
import { wardenVersion } from '../version.js';

/** Commander's messages start with `error: ` and may add a suggestion on a second line. */
function oneLine(message: string): string {
  return message
    .replace(/^error: /, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

/** The whole command tree; exported so tests can check every command's help without a process. */
export function buildProgram(): Command {
  const program = new Command('warden');
  // Set before any subcommand exists: commander copies these settings into each one it creates.
  program
    .description(
      'zero-trust harness for AI agents: key-bound agent identities, sponsors, blueprints and just-in-time grants',
    )
    .version(wardenVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`warden: ${oneLine(str)}\n`) });

  registerDemo(program);
  registerInit(program);
  registerSponsor(program);
  registerBlueprint(program);
  registerAgent(program);
  registerGrant(program);
  registerServe(program);
  registerKeys(program);
  registerToken(program);
  registerConnect(program);
  registerApprovals(program);
  registerTools(program);
  registerPolicy(program);
  registerAudit(program);
  registerWitness(program);
  registerReplay(program);
  registerTrace(program);
  registerSandbox(program);
  registerScan(program);
  registerSkill(program);
  registerBom(program);
  return program;
}

/** Parse and run; sets `process.exitCode` (0, 1 for a failed command, 2 for misuse) and never throws. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version requested on purpose succeed; anything else commander raises is misuse.
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
      return;
    }
    reportError(err);
  }
}
