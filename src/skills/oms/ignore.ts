// Which paths a signature leaves out: the defaults of the reference implementation, the signature
// file itself when it lies inside the model, and the caller's paths.

import { isAbsolute, relative, sep } from 'node:path';
import { DEFAULT_IGNORE_PATHS, normalizeIgnorePath } from './serialize.js';

export const DEFAULT_SIGNATURE_NAME = 'model.sig';

/** The model-relative path of `file` when it lies inside `root`, else undefined. */
export function insidePath(root: string, file: string): string | undefined {
  const rel = relative(root, file);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

/** The ignore list every signature records: the defaults, the signature file itself, the user's paths. */
export function effectiveIgnorePaths(
  root: string,
  signaturePath: string,
  userPaths: readonly string[] = [],
): string[] {
  const out = new Set<string>(DEFAULT_IGNORE_PATHS);
  const sig = insidePath(root, signaturePath);
  if (sig !== undefined) out.add(sig);
  for (const p of userPaths) out.add(normalizeIgnorePath(root, p));
  return [...out];
}
