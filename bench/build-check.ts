// The benchmarks run code from dist/ (worker threads, servers in their own processes): this tells
// them when dist/ does not match the sources, so that no figure measures stale code.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every .ts under `dir` whose compiled .js under `<root>/dist` is missing or older. */
export function staleOutputs(root: string, dir: string): string[] {
  const stale: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(root, 'dist', relative(root, p)).replace(/\.ts$/, '.js');
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs) stale.push(relative(root, p));
      }
    }
  };
  walk(dir);
  return stale;
}
