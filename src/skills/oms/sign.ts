// Signing a skill folder with a private key: hash it, wrap the OMS statement in a DSSE envelope,
// sign the PAE with ECDSA (P-256/SHA-256 or P-384/SHA-384, DER) and write the Sigstore bundle.

import { sign as cryptoSign, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { WardenError, q } from '../../errors.js';
import { buildKeyBundle, IN_TOTO_PAYLOAD_TYPE } from './bundle.js';
import { pae } from './dsse.js';
import { keyHint, loadPrivateKey } from './keys.js';
import { DEFAULT_SIGNATURE_NAME, effectiveIgnorePaths } from './ignore.js';
import { serializeModel, type SerializationMethod } from './serialize.js';
import { buildStatement } from './statement.js';

export interface SignOptions {
  privateKeyPem: string;
  /** Paths to leave out, relative to the folder (or absolute inside it). */
  ignorePaths?: readonly string[];
  /** Where to write the bundle; default `<dir>/model.sig`. */
  signaturePath?: string;
  allowSymlinks?: boolean;
  /** `files` (default) or `shards`. */
  method?: SerializationMethod;
  maxFileBytes?: number;
  maxTotalBytes?: number;
}

export interface SignResult {
  signaturePath: string;
  /** Lowercase hex. */
  rootDigest: string;
  files: Array<{ path: string; digest: string }>;
  keyHint: string;
  ignorePaths: string[];
}

/** Sign the folder `dir` and write the bundle; refuses an empty folder and any key but P-256/P-384. */
export async function signFolder(dir: string, opts: SignOptions): Promise<SignResult> {
  const signer = loadPrivateKey(opts.privateKeyPem);
  let root: string;
  try {
    root = await fsp.realpath(resolve(dir));
  } catch (err) {
    throw new WardenError('not_found', `no folder ${q(dir)}`, { cause: err });
  }
  if (!(await fsp.stat(root)).isDirectory()) {
    throw new WardenError('invalid_argument', `${q(dir)} is not a folder`);
  }
  const sigPath = resolve(opts.signaturePath ?? join(root, DEFAULT_SIGNATURE_NAME));
  // The signature may be named through a link to the folder; compare against the real parent.
  let realSigPath = sigPath;
  try {
    realSigPath = join(await fsp.realpath(dirname(sigPath)), basename(sigPath));
  } catch {
    throw new WardenError('not_found', `no folder for the signature file ${q(sigPath)}`);
  }
  const ignorePaths = effectiveIgnorePaths(root, realSigPath, opts.ignorePaths);
  const method = opts.method ?? { kind: 'files' };
  const model = await serializeModel(root, {
    method,
    ignorePaths,
    allowSymlinks: opts.allowSymlinks === true,
    ...(opts.maxFileBytes !== undefined ? { maxFileBytes: opts.maxFileBytes } : {}),
    ...(opts.maxTotalBytes !== undefined ? { maxTotalBytes: opts.maxTotalBytes } : {}),
  });
  if (model.resources.length === 0) {
    throw new WardenError(
      'skill_invalid',
      `nothing to sign: ${q(dir)} holds no files outside the ignore paths`,
    );
  }
  const statement = buildStatement({
    subjectName: basename(root),
    rootDigest: model.rootDigest,
    resources: model.resources,
    method,
    allowSymlinks: opts.allowSymlinks === true,
    ignorePaths,
  });
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const signature = cryptoSign(signer.hash, pae(IN_TOTO_PAYLOAD_TYPE, payload), {
    key: signer.key,
    dsaEncoding: 'der',
  });
  const hint = keyHint(signer.publicKey);
  const bundle = buildKeyBundle({ payload, signature, hint });
  // Write beside the target and rename, so a reader never sees half a bundle.
  const tmp = `${realSigPath}.${randomBytes(6).toString('hex')}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(bundle) + '\n', { flag: 'wx', mode: 0o644 });
  try {
    await fsp.rename(tmp, realSigPath);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  return {
    signaturePath: realSigPath,
    rootDigest: model.rootDigest,
    files: model.resources.map((r) => ({ path: r.name, digest: r.digest })),
    keyHint: hint,
    ignorePaths: [...ignorePaths].sort(),
  };
}
