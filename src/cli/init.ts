// `warden init`: create the data directory, `warden.yaml` and the first token-signing key.
// Safe to run again: whatever exists is left alone, and the output says so.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE, resolveDataDir } from '../config/index.js';
import { initDataDir } from './context.js';
import { out } from './options.js';
import { action, withDataDir, type DataDirOpts } from './util.js';

export function registerInit(program: Command): void {
  withDataDir(
    program
      .command('init')
      .description(
        'create the data directory, warden.yaml, the first token-signing key and the stock Cedar policies; anything that exists is left alone',
      ),
  ).action(
    action(async (opts: DataDirOpts) => {
      const dataDir = resolveDataDir(opts.dataDir);
      const dirExisted = existsSync(dataDir);
      const result = await initDataDir(dataDir);
      const configFile = join(result.dataDir, CONFIG_FILE);
      if (
        dirExisted &&
        !result.createdConfig &&
        result.createdKey === null &&
        result.installedPolicies.length === 0
      ) {
        out(
          `already initialised: ${result.dataDir} (data directory, ${CONFIG_FILE} and signing key all exist)`,
        );
        return;
      }
      out(`data directory: ${result.dataDir}${dirExisted ? ' (existed)' : ' (created)'}`);
      out(`configuration:  ${configFile}${result.createdConfig ? ' (created)' : ' (existed)'}`);
      out(
        `signing key:    ${result.createdKey === null ? 'an active key existed' : `${result.createdKey} (created)`}`,
      );
      if (result.installedPolicies.length > 0) {
        out(
          `policies:       ${result.installedPolicies.length} stock policies in ${join(result.dataDir, 'policies')} (created)`,
        );
      }
    }),
  );
}
