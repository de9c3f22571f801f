// Finding the data directory and reading `warden.yaml` from it.

import { existsSync, readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, WardenError, q } from '../errors.js';
import { ConfigSchema, type WardenConfig } from './schema.js';

export const CONFIG_FILE = 'warden.yaml';

/** `--data-dir`, else `WARDEN_HOME`, else `./.warden`. */
export function resolveDataDir(flag?: string): string {
  const chosen = flag ?? process.env['WARDEN_HOME'] ?? '.warden';
  if (chosen.length === 0) throw new WardenError('data_dir_invalid', 'the data directory must not be empty');
  return resolve(chosen);
}

/** Validate a parsed configuration object; the error names the offending key path. */
export function parseConfig(raw: unknown, source = CONFIG_FILE): WardenConfig {
  const result = ConfigSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ConfigError(`${source}: invalid configuration`);
  throw new ConfigError(`${source}: ${describeIssue(issue)}`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => q(path ? `${path}.${k}` : k)).join(', ');
    return `unknown key ${keys}`;
  }
  const where = path ? `key ${q(path)}` : 'the top level';
  return `${where}: ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`;
}

export function loadConfig(dataDir: string): WardenConfig {
  const file = join(dataDir, CONFIG_FILE);
  if (!existsSync(file)) {
    throw new WardenError(
      'config_not_found',
      `no ${CONFIG_FILE} in ${q(dataDir)}: run \`warden init\` first`,
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'), { uniqueKeys: true });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${CONFIG_FILE}: not valid YAML: ${msg}`, { cause: err });
  }
  return parseConfig(raw);
}
