// Shared plumbing for commands: the `--data-dir` option, opening the data directory, and turning
// any error into one clear line on stderr with no stack trace.

import type { Command } from 'commander';
import { resolveDataDir } from '../config/index.js';
import { WardenError } from '../errors.js';
import { openWarden, type Warden } from './context.js';

export interface DataDirOpts {
  dataDir?: string;
}

/** Every command takes `--data-dir`; without it `WARDEN_HOME`, then `./.warden`. */
export function withDataDir(cmd: Command): Command {
  return cmd.option('--data-dir <dir>', 'data directory (default: $WARDEN_HOME or ./.warden)');
}

/** Print an error as `warden: <message>` and set a failing exit code. */
export function reportError(err: unknown): void {
  const message =
    err instanceof WardenError
      ? err.message
      : err instanceof Error
        ? `unexpected error: ${err.message}`
        : `unexpected error: ${String(err)}`;
  process.stderr.write(`warden: ${message}\n`);
  if (process.env['WARDEN_DEBUG'] && err instanceof Error && err.stack)
    process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}

/** Wrap a command action so that failures print one line and never a stack trace. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      reportError(err);
    }
  };
}

/** Open the data directory named by the options, run `fn`, and always close the store. */
export async function withWarden<T>(opts: DataDirOpts, fn: (w: Warden) => Promise<T>): Promise<T> {
  const w = await openWarden(resolveDataDir(opts.dataDir));
  try {
    return await fn(w);
  } finally {
    await w.close();
  }
}

/** Print rows as an aligned table, or as JSON with `--json`. */
export function printTable(rows: Array<Record<string, string>>, json: boolean, raw?: unknown): void {
  if (json) {
    process.stdout.write(JSON.stringify(raw ?? rows, null, 2) + '\n');
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cols = Object.keys(rows[0] ?? {});
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((v, i) => v.padEnd(width[i] ?? 0))
      .join('  ')
      .trimEnd() + '\n';
  process.stdout.write(line(cols.map((c) => c.toUpperCase())));
  for (const r of rows) process.stdout.write(line(cols.map((c) => r[c] ?? '')));
}
