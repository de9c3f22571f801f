// Warden's version, from its package.json, found from src/ (tsx) or dist/src/ (built) alike.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function wardenVersion(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'warden' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // Not here; look one level up.
    }
    dir = dirname(dir);
  }
  return (cached = '0.0.0');
}
