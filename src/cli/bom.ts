// `warden bom`: the capability bill of materials of a data directory (CycloneDX 1.6 JSON): the
// upstream servers and their pinned tools, the installed skills, and what each agent may use.
// The model is described in src/skills/bom.ts.

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { WardenError, q } from '../errors.js';
import { buildBom, gatherBomInputs } from '../skills/bom.js';
import { out } from './options.js';
import { action, withDataDir, withWarden, type DataDirOpts } from './util.js';

type BomOpts = DataDirOpts & { agent?: string; output?: string };

export function registerBom(program: Command): void {
  withDataDir(
    program
      .command('bom')
      .description(
        'print a CycloneDX 1.6 bill of materials: upstream servers, their pinned tools, installed skills, and what each agent may use',
      )
      .option(
        '--agent <id>',
        'only this agent: spiffe://<trust-domain>/agent/<blueprint>/<name> or <blueprint>/<name>',
      )
      .option('--output <file>', 'write the document to this file (replacing it) instead of stdout'),
  ).action(
    action(async (opts: BomOpts) => {
      if (opts.output !== undefined && opts.output.length === 0)
        throw new WardenError('invalid_argument', '--output must name a file');
      const inputs = await withWarden(opts, (w) =>
        gatherBomInputs(w, {
          ...(opts.agent !== undefined ? { agent: opts.agent } : {}),
          // Commander returns the version set on the program (from package.json) when given none.
          wardenVersion: program.version() ?? 'unknown',
        }),
      );
      const text = `${JSON.stringify(buildBom(inputs), null, 2)}\n`;
      if (opts.output === undefined) {
        process.stdout.write(text);
        return;
      }
      const file = resolve(opts.output);
      try {
        writeFileSync(file, text, { mode: 0o644 });
      } catch (err) {
        throw new WardenError(
          'invalid_argument',
          `cannot write ${q(file)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
          {
            cause: err,
          },
        );
      }
      out(`wrote ${file}`);
    }),
  );
}
