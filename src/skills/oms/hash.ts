// Hashing a skill folder exactly as signing would, without a key: the root digest of an unsigned
// skill, comparable with the root digest of a signed one.

import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { WardenError, q } from '../../errors.js';
import { DEFAULT_SIGNATURE_NAME, effectiveIgnorePaths } from './ignore.js';
import { serializeModel, type SerializedModel } from './serialize.js';

/**
 * Hash a folder exactly as `signFolder` would (defaults, the signature file and `ignorePaths` left
 * out), without signing: the root digest of an unsigned skill.
 */
export async function hashFolder(
  dir: string,
  opts: { ignorePaths?: readonly string[]; signaturePath?: string; allowSymlinks?: boolean } = {},
): Promise<SerializedModel> {
  let root: string;
  try {
    root = await fsp.realpath(resolve(dir));
  } catch (err) {
    throw new WardenError('not_found', `no folder ${q(dir)}`, { cause: err });
  }
  const sigPath = resolve(opts.signaturePath ?? join(root, DEFAULT_SIGNATURE_NAME));
  return serializeModel(root, {
    ignorePaths: effectiveIgnorePaths(root, sigPath, opts.ignorePaths),
    allowSymlinks: opts.allowSymlinks === true,
  });
}
