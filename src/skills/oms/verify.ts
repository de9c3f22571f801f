// Verifying an OMS signature over a skill folder (or, for legacy bundles, a single file), in three
// separate steps, each failing closed with its own code:
//   1. parse: the signature file is a Sigstore bundle v0.3 with a DSSE envelope holding an OMS
//      statement with at least one resource (`bundle_invalid`);
//   2. verify the signature against the caller's trust: a public key, a CA chain, or a Sigstore
//      trusted root with an identity and issuer. A bundle whose key material names a different key
//      (hint or embedded key) or that was made for another kind of trust is `signature_untrusted`;
//      a signature that does not verify is `signature_invalid`;
//   3. compare the folder with the signed resource list: a changed, missing or unsigned file is
//      `signature_invalid` naming the file. Digests are compared in constant time.
// The folder is hashed with the signed serialization method; the paths left out are the defaults,
// the signature file, the caller's ignore paths and the ignore paths the signer recorded (they are
// part of the signed statement).

import { timingSafeEqual, verify as cryptoVerify, createPublicKey, type KeyObject } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { WardenError, q } from '../../errors.js';
import { parseBundle, type OmsBundle } from './bundle.js';
import { verifyCertificateChain } from './certificate.js';
import { pae } from './dsse.js';
import { verifyKeyless } from './keyless.js';
import { keyHint, loadPublicKey, sameKey, type SignatureHash } from './keys.js';
import { effectiveIgnorePaths, DEFAULT_SIGNATURE_NAME } from './ignore.js';
import { normalizeIgnorePath, resourcePath, serializeModel, type Resource } from './serialize.js';

const MAX_SIGNATURE_BYTES = 16 * 1024 * 1024;

export type TrustPolicy =
  | { kind: 'key'; publicKeyPem: string }
  | { kind: 'certificate'; caChainPem: string[] }
  | { kind: 'keyless'; trustedRootJson: string; identity: string; issuer: string };

/** The same union under the name the skill store uses. */
export type VerifyTrust = TrustPolicy;

export interface VerifyOptions {
  trust: TrustPolicy;
  /** Default `<dir>/model.sig` (for a single-file model, `model.sig` beside the file). */
  signaturePath?: string;
  /** Paths to leave out, relative to the folder (or absolute inside it). */
  ignorePaths?: readonly string[];
  /** Accept files that the signature does not list (changed or missing signed files still fail). */
  ignoreUnsignedFiles?: boolean;
  allowSymlinks?: boolean;
  maxFileBytes?: number;
  maxTotalBytes?: number;
}

export interface SignerInfo {
  method: 'key' | 'certificate' | 'keyless';
  /** key: the hint of the verifying key. */
  keyHint?: string;
  /** certificate: the leaf's subject and issuer names and SHA-256 fingerprint. */
  subject?: string;
  fingerprint?: string;
  /** keyless: the SAN identity; certificate and keyless: the issuer. */
  identity?: string;
  issuer?: string;
}

export interface VerifyResult {
  /** Lowercase hex root digest of the signed statement. */
  rootDigest: string;
  files: Array<{ path: string; digest: string }>;
  signer: SignerInfo;
  /** The paths left out of the comparison, sorted. */
  ignorePaths: string[];
}

function digestEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function checkSignature(b: OmsBundle, key: KeyObject, hash: SignatureHash): void {
  let ok = false;
  try {
    ok = cryptoVerify(hash, pae(b.payloadType, b.payload), { key, dsaEncoding: 'der' }, b.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new WardenError('signature_invalid', 'the signature does not verify with the trusted key');
}

/** The key embedded by legacy bundles: base64 of the PEM text (or, tolerated, of the DER). */
function embeddedKey(raw: Buffer): KeyObject {
  try {
    const text = raw.toString('utf8');
    return text.includes('-----BEGIN')
      ? createPublicKey({ key: text.slice(text.indexOf('-----BEGIN')), format: 'pem' })
      : createPublicKey({ key: raw, format: 'der', type: 'spki' });
  } catch (err) {
    throw new WardenError('bundle_invalid', 'the public key embedded in the bundle cannot be read', {
      cause: err,
    });
  }
}

/** Step 2: the signature against the caller's trust; returns who signed. */
export function verifyBundleSignature(b: OmsBundle, trust: TrustPolicy): SignerInfo {
  const m = b.material;
  switch (trust.kind) {
    case 'key': {
      const { key, hash } = loadPublicKey(trust.publicKeyPem);
      if (m.kind !== 'key') {
        throw new WardenError(
          'signature_untrusted',
          `the bundle is signed with a ${m.kind} signer, not a key`,
        );
      }
      const hint = keyHint(key);
      if (m.hint !== undefined && m.hint !== hint) {
        throw new WardenError(
          'signature_untrusted',
          `the bundle names key ${q(m.hint)}, not the trusted key ${q(hint)}`,
        );
      }
      if (m.rawBytes !== undefined && !sameKey(embeddedKey(m.rawBytes), key)) {
        throw new WardenError(
          'signature_untrusted',
          'the bundle embeds a different key than the trusted key',
        );
      }
      checkSignature(b, key, hash);
      return { method: 'key', keyHint: hint };
    }
    case 'certificate': {
      if (m.kind !== 'certificate') {
        throw new WardenError(
          'signature_untrusted',
          `the bundle is signed with a ${m.kind} signer, not a certificate chain`,
        );
      }
      const leaf = verifyCertificateChain(m.chain, trust.caChainPem);
      checkSignature(b, leaf.publicKey, leaf.hash);
      return {
        method: 'certificate',
        subject: leaf.subject,
        issuer: leaf.issuer,
        fingerprint: leaf.fingerprint,
      };
    }
    case 'keyless': {
      if (m.kind !== 'keyless') {
        throw new WardenError(
          'signature_untrusted',
          `the bundle is signed with a ${m.kind} signer, not keyless`,
        );
      }
      const s = verifyKeyless(b.json, trust.trustedRootJson, trust.identity, trust.issuer);
      return { method: 'keyless', identity: s.identity, issuer: s.issuer };
    }
    default: {
      const never: never = trust;
      throw new WardenError('invalid_argument', `unknown trust kind ${q((never as { kind: unknown }).kind)}`);
    }
  }
}

async function readSignature(path: string): Promise<string> {
  let fh: fsp.FileHandle;
  try {
    // Non-blocking, so a fifo in place of the signature cannot hang the verifier.
    fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new WardenError('not_found', `no signature file ${q(path)}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new WardenError('bundle_invalid', `the signature ${q(path)} is not a regular file`);
    if (st.size > MAX_SIGNATURE_BYTES) {
      throw new WardenError(
        'bundle_invalid',
        `the signature ${q(path)} is over ${MAX_SIGNATURE_BYTES} bytes`,
      );
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/** A single-file model's resources are named `.` (legacy) or after the file (current spec). */
function fileModelName(r: Resource, kind: 'files' | 'shards', fileName: string): string {
  const path = resourcePath(r.name, kind);
  if (path !== '.' && path !== fileName) {
    throw new WardenError(
      'signature_invalid',
      `the signature is for ${q(path)}, not the single file ${q(fileName)}`,
    );
  }
  return '.' + r.name.slice(path.length);
}

/** Step 3: the model on disk against the signed resource list. */
async function compareModel(
  root: string,
  kind: 'folder' | 'file',
  b: OmsBundle,
  opts: VerifyOptions,
  ignorePaths: string[],
): Promise<void> {
  const st = b.statement;
  const model = await serializeModel(root, {
    method: st.method,
    ignorePaths,
    allowSymlinks: opts.allowSymlinks === true,
    ...(opts.maxFileBytes !== undefined ? { maxFileBytes: opts.maxFileBytes } : {}),
    ...(opts.maxTotalBytes !== undefined ? { maxTotalBytes: opts.maxTotalBytes } : {}),
  });
  if (model.kind !== kind) throw new WardenError('internal', 'the model changed kind while it was verified');
  const expected = new Map<string, string>();
  for (const r of st.resources) {
    const name = kind === 'file' ? fileModelName(r, st.method.kind, basename(root)) : r.name;
    expected.set(name, r.digest);
  }
  const actual = new Map(model.resources.map((r) => [r.name, r.digest]));
  const signedPaths = new Set([...expected.keys()].map((n) => resourcePath(n, st.method.kind)));
  for (const [name, digest] of expected) {
    const path = resourcePath(name, st.method.kind);
    const got = actual.get(name);
    if (got === undefined) {
      const present = model.resources.some((r) => resourcePath(r.name, st.method.kind) === path);
      throw new WardenError(
        'signature_invalid',
        `file ${q(path)} ${present ? 'has changed size' : 'is missing'}`,
      );
    }
    if (!digestEqual(got, digest)) throw new WardenError('signature_invalid', `file ${q(path)} has changed`);
  }
  for (const name of actual.keys()) {
    if (expected.has(name)) continue;
    const path = resourcePath(name, st.method.kind);
    // A new shard of a signed file means the file grew: never an "unsigned file".
    if (signedPaths.has(path)) throw new WardenError('signature_invalid', `file ${q(path)} has changed size`);
    if (opts.ignoreUnsignedFiles !== true) {
      throw new WardenError('signature_invalid', `file ${q(path)} is not signed`);
    }
  }
}

/** Verify the OMS signature of the folder (or single file) at `path`; throws on any failure. */
export async function verifyFolder(path: string, opts: VerifyOptions): Promise<VerifyResult> {
  let root: string;
  let isFile: boolean;
  try {
    root = await fsp.realpath(resolve(path));
    const st = await fsp.stat(root);
    if (!st.isFile() && !st.isDirectory())
      throw new WardenError('path_refused', `${q(path)} is not a file or folder`);
    isFile = st.isFile();
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError('not_found', `no model at ${q(path)}`, { cause: err });
  }
  const sigPath = resolve(opts.signaturePath ?? join(isFile ? dirname(root) : root, DEFAULT_SIGNATURE_NAME));

  // 1. parse
  const bundle = parseBundle(await readSignature(sigPath));
  // 2. verify the signature
  const signer = verifyBundleSignature(bundle, opts.trust);
  // 3. compare the model
  let realSigPath = sigPath;
  try {
    realSigPath = join(await fsp.realpath(dirname(sigPath)), basename(sigPath));
  } catch {
    // Read a moment ago; keep the path as given.
  }
  const ignore = isFile ? [] : effectiveIgnorePaths(root, realSigPath, opts.ignorePaths);
  if (!isFile) {
    for (const p of bundle.statement.ignorePaths ?? []) {
      try {
        ignore.push(normalizeIgnorePath(root, p));
      } catch {
        // A recorded path that names nothing inside the model ignores nothing.
      }
    }
  }
  const ignorePaths = [...new Set(ignore)].sort();
  await compareModel(root, isFile ? 'file' : 'folder', bundle, opts, ignorePaths);
  return {
    rootDigest: bundle.statement.rootDigest,
    files: bundle.statement.resources.map((r) => ({ path: r.name, digest: r.digest })),
    signer,
    ignorePaths,
  };
}
