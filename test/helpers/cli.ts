// The built `warden` binary and a way to run it as a user would; tests that spawn it need
// `npm run build` first (`npm test` does).

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WARDEN_BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

if (!existsSync(WARDEN_BIN)) {
  throw new Error(`${WARDEN_BIN} is missing: run \`npm run build\` before these tests`);
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `warden <args>` in `cwd`, without the caller's WARDEN_HOME or WARDEN_DEBUG; `extraEnv` on top. */
export function runWarden(
  args: string[],
  cwd?: string,
  extraEnv: Record<string, string> = {},
): Promise<CliRun> {
  const env = { ...process.env, ...extraEnv };
  delete env['WARDEN_HOME'];
  delete env['WARDEN_DEBUG'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WARDEN_BIN, ...args], { env, ...(cwd ? { cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The run, after asserting that it succeeded and wrote nothing to stderr. */
export function succeeded(r: CliRun): CliRun {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr, '');
  return r;
}
