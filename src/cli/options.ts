// Option parsing and output shared by the registry commands. A value that does not parse is a
// usage error (exit 2), reported by commander on one line like any other usage error.

import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/index.js';
import { WardenError } from '../errors.js';

function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof WardenError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** `15m`, `1h`, `90d`: whole seconds. */
export function durationArg(value: string): number {
  return usage(() => parseDuration(value));
}

export function integerArg(value: string): number {
  if (!/^\d{1,6}$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number');
  return Number(value.trim());
}

/** `YYYY-MM-DD`, taken as the start of that day in UTC, in milliseconds. */
export function dateArg(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // Round-tripping catches dates that do not exist, such as 2026-02-30.
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value.trim()) {
    throw new InvalidArgumentError('expected a date as YYYY-MM-DD');
  }
  return ms;
}

/**
 * Collect a repeatable list option. Each value may itself hold several items separated by spaces
 * (OAuth writes scopes that way), and an empty value gives an empty list, which is how a list is cleared.
 */
export function listArg(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(/\s+/).filter((s) => s.length > 0)];
}

/** A time for people: ISO 8601 in UTC, to the second. */
export function time(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function date(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().slice(0, 10);
}

export function list(items: readonly string[]): string {
  return items.length === 0 ? '-' : items.join(' ');
}

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Print one record as aligned `key: value` lines, or as JSON with `--json`. */
export function printRecord(fields: Array<[string, string]>, json: boolean, raw: unknown): void {
  if (json) {
    process.stdout.write(JSON.stringify(raw, null, 2) + '\n');
    return;
  }
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) out(`${`${k}:`.padEnd(width + 1)} ${v}`);
}
