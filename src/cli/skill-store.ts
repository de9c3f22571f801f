// `warden skill install|list|remove`: the skill store. Install scans a skill, verifies its OMS
// signature (a configured signer, or a key given here), copies exactly the signed files into
// `<data dir>/skills/<name>/` and pins their digest; the gateway offers installed skills to agents
// as `skill://` resources after checking all of it again at start.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { WardenError, q } from '../errors.js';
import { SEVERITIES } from '../skills/config.js';
import type { FailOn } from '../skills/gate.js';
import { installSkill } from '../skills/install.js';
import { listSkills, removeSkill } from '../skills/store.js';
import { readTextFile } from './skill.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

interface InstallOpts extends DataDirOpts {
  key?: string;
  signer: string[];
  signature?: string;
  ignorePaths?: string[];
  allowUnsigned?: boolean;
  failOn?: string;
  as: string;
  json?: boolean;
}

function failOnOf(v: string | undefined): FailOn | undefined {
  if (v === undefined) return undefined;
  if (v === 'none' || (SEVERITIES as readonly string[]).includes(v)) return v as FailOn;
  throw new WardenError(
    'invalid_argument',
    `--fail-on must be one of ${SEVERITIES.join(', ')}, none; not ${q(v)}`,
  );
}

/** Adds install, list and remove to the `warden skill` command. */
export function registerSkillStore(skill: Command): void {
  withDataDir(
    skill
      .command('install <dir>')
      .description('scan, verify and copy a skill into the skill store, pinning its digest')
      .option('--key <pem>', 'public key to verify the signature with (when no signer is configured)')
      .option('--signer <name>', 'a supplyChain.signers entry to verify against (repeatable)', collect, [])
      .option('--signature <file>', 'the signature file (default: <dir>/model.sig)')
      .option('--ignore-paths <paths...>', 'paths the signature does not cover, relative to the folder')
      .option('--allow-unsigned', 'install without a signature (recorded; refused when signers are required)')
      .option('--fail-on <severity>', 'refuse at this scan severity (default: supplyChain.scanFailOn)')
      .option('--as <who>', 'who installs; recorded in the audit log', 'operator')
      .option('--json', 'print the installed skill as JSON'),
  ).action(
    action(async (dir: string, o: InstallOpts) => {
      const failOn = failOnOf(o.failOn);
      await withWarden(o, async (w) => {
        const r = await installSkill(dir, {
          supply: w.config.supplyChain,
          dataDir: w.dataDir,
          store: w.store,
          audit: w.audit,
          actor: o.as,
          ...(o.key ? { publicKeyPem: readTextFile(o.key, 'public key') } : {}),
          signers: o.signer,
          ...(o.signature ? { signaturePath: o.signature } : {}),
          ignorePaths: o.ignorePaths ?? [],
          allowUnsigned: o.allowUnsigned === true,
          ...(failOn ? { failOn } : {}),
        });
        if (o.json) {
          process.stdout.write(
            JSON.stringify({ ...r.skill, dir: r.dir, replaced: r.replaced }, null, 2) + '\n',
          );
          return;
        }
        const s = r.skill;
        const who = s.signer
          ? `signed by ${s.signer.name ?? `key ${s.signer.keyHint?.slice(0, 12) ?? '?'}`} (${s.signer.method})`
          : 'UNSIGNED (--allow-unsigned)';
        process.stdout.write(
          `installed skill ${s.name}: ${s.files.length} files, digest ${s.digest}, ${who}, ` +
            `scan: ${r.findings} finding(s) below the fail-on severity${r.replaced ? `; replaced ${r.replaced.slice(0, 12)}` : ''}\n` +
            `  ${r.dir}\n`,
        );
      });
    }),
  );

  withDataDir(
    skill
      .command('list')
      .description('installed skills with their pinned digests and signers')
      .option('--json', 'print as JSON'),
  ).action(
    action(async (o: DataDirOpts & { json?: boolean }) => {
      await withWarden(o, async (w) => {
        const skills = await listSkills(w.store);
        printTable(
          skills.map((s) => ({
            name: s.name,
            digest: s.digest.slice(0, 12),
            files: String(s.files.length),
            signer: s.signer ? (s.signer.name ?? `key:${s.signer.keyHint?.slice(0, 12) ?? '?'}`) : 'UNSIGNED',
            scan: s.scan.highest ?? 'clean',
            installed: new Date(s.installedAt).toISOString(),
          })),
          o.json === true,
          skills,
        );
      });
    }),
  );

  withDataDir(
    skill
      .command('remove <name>')
      .description('remove an installed skill from the store')
      .option('--as <who>', 'who removes; recorded in the audit log', 'operator'),
  ).action(
    action(async (name: string, o: DataDirOpts & { as: string }) => {
      await withWarden(o, async (w) => {
        await removeSkill(w.store, w.audit, name, o.as);
        rmSync(join(w.dataDir, w.config.supplyChain.skills.dir, name), { recursive: true, force: true });
        process.stdout.write(`removed skill ${name}\n`);
      });
    }),
  );
}
