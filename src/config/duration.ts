// Durations as people write them in configuration and on the command line: `90s`, `15m`, `1h`, `7d`.

import { WardenError, q } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parse `15m` (or a bare number of seconds) into whole seconds; refuses zero, negatives and junk. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (!m)
    throw new WardenError(
      'invalid_argument',
      `invalid duration ${q(text)}: expected a number with s, m, h or d`,
    );
  const seconds = Number(m[1]) * (UNIT_SECONDS[m[2] || 's'] ?? 1);
  if (seconds <= 0)
    throw new WardenError('invalid_argument', `invalid duration ${q(text)}: must be positive`);
  return seconds;
}

export function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
