// `warden skill install <dir>`: scan the skill, verify its signature, copy exactly the files the
// signature covers into Warden's skill store and pin the copy's digest.
//
// INVARIANT: the store holds a skill only if its copy hashes to the digest that was verified. The
// copy is made into a fresh directory beside the store, hashed again (the source may change while
// it is read), and only then renamed into place; the row and its audit entry commit after that,
// and a failure puts the previous installation back.

import { randomBytes } from 'node:crypto';
import { constants, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { copyFile, mkdir, open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { AuditSink } from '../audit/index.js';
import { WardenError, q } from '../errors.js';
import type { Store } from '../store/index.js';
import type { SupplyChainConfig } from './config.js';
import { blocking, describeFindings, type FailOn } from './gate.js';
import { keyHint, loadPublicKey, serializeModel, verifyFolder, type VerifyResult } from './oms/index.js';
import { scanPath, type Severity } from './scan/index.js';
import { SKILL_NAME_RE, recordSkill, type InstalledSkill, type SkillSigner } from './store.js';
import { verifyBySigners } from './trust.js';

export const SIGNATURE_FILE = 'model.sig';
const MAX_SKILL_MD_BYTES = 1024 * 1024;

export interface InstallOptions {
  supply: SupplyChainConfig;
  dataDir: string;
  store: Store;
  audit: AuditSink;
  actor: string;
  /** A public key (PEM text) given on the command line instead of a configured signer. */
  publicKeyPem?: string;
  /** Configured signer names to verify against (default: supplyChain.skills.signers). */
  signers?: readonly string[];
  /** The signature file (default `<dir>/model.sig`). */
  signaturePath?: string;
  ignorePaths?: readonly string[];
  /** Install without a signature; refused when supplyChain.skills.signers is set. */
  allowUnsigned?: boolean;
  /** Overrides supplyChain.scanFailOn. */
  failOn?: FailOn;
}

export interface InstallResult {
  skill: InstalledSkill;
  dir: string;
  replaced: string | null;
  findings: number;
}

/** The `name` and `description` of a skill's SKILL.md frontmatter, checked against the Agent Skills rules. */
export function readSkillHeader(dir: string): { name: string; description: string } {
  const path = join(dir, 'SKILL.md');
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_SKILL_MD_BYTES)
      throw new WardenError('skill_invalid', `${q(path)} is larger than 1 MiB`);
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch (err) {
    if (err instanceof WardenError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new WardenError('skill_invalid', `${q(dir)} is not a skill: it has no SKILL.md`);
    throw new WardenError('skill_invalid', `cannot read ${q(path)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (!m) throw new WardenError('skill_invalid', `${q(path)} has no YAML frontmatter between --- lines`);
  let fm: unknown;
  try {
    fm = parseYaml(m[1] ?? '');
  } catch (err) {
    throw new WardenError(
      'skill_invalid',
      `the frontmatter of ${q(path)} is not YAML: ${(err as Error).message}`,
    );
  }
  if (typeof fm !== 'object' || fm === null || Array.isArray(fm))
    throw new WardenError('skill_invalid', `the frontmatter of ${q(path)} is not a mapping`);
  const { name, description } = fm as Record<string, unknown>;
  if (typeof name !== 'string' || !SKILL_NAME_RE.test(name))
    throw new WardenError(
      'skill_invalid',
      `skill name ${q(name)} must be 1-64 characters of a-z, 0-9 and -, without leading, trailing or double hyphens`,
    );
  if (name !== basename(resolve(dir)))
    throw new WardenError(
      'skill_invalid',
      `skill name ${q(name)} does not match its folder ${q(basename(resolve(dir)))}`,
    );
  if (typeof description !== 'string' || description.trim() === '' || description.length > 1024)
    throw new WardenError('skill_invalid', `skill ${q(name)}: description must be 1-1024 characters`);
  return { name, description };
}

function summarise(findings: readonly { severity: Severity }[]): InstalledSkill['scan'] {
  const counts: Record<string, number> = {};
  const order: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
  let highest: Severity | null = null;
  for (const f of findings) {
    counts[f.severity] = (counts[f.severity] ?? 0) + 1;
    if (highest === null || order.indexOf(f.severity) < order.indexOf(highest)) highest = f.severity;
  }
  return { highest, counts, findings: findings.length };
}

async function verifySource(
  dir: string,
  o: InstallOptions,
): Promise<{ signer: SkillSigner | null; result: Pick<VerifyResult, 'rootDigest' | 'files'> }> {
  const required = o.supply.skills.signers;
  const check = {
    ...(o.signaturePath ? { signaturePath: o.signaturePath } : {}),
    ignorePaths: [...(o.ignorePaths ?? [])],
  };
  if (o.publicKeyPem !== undefined) {
    if (required.length > 0)
      throw new WardenError(
        'signature_untrusted',
        `this data directory requires a signature from ${required.join(', ')} (supplyChain.skills.signers); a key given on the command line is not one of them`,
      );
    const result = await verifyFolder(dir, {
      trust: { kind: 'key', publicKeyPem: o.publicKeyPem },
      ...check,
    });
    return {
      signer: {
        name: null,
        method: 'key',
        keyHint: keyHint(loadPublicKey(o.publicKeyPem).key),
        publicKeyPem: o.publicKeyPem,
      },
      result,
    };
  }
  const names = o.signers && o.signers.length > 0 ? o.signers : required;
  if (required.length > 0) {
    const outside = names.filter((n) => !required.includes(n));
    if (outside.length > 0)
      throw new WardenError(
        'signature_untrusted',
        `signer ${q(outside[0])} is not in supplyChain.skills.signers (${required.join(', ')})`,
      );
  }
  if (names.length > 0) {
    if (o.allowUnsigned)
      throw new WardenError('invalid_argument', '--allow-unsigned cannot be combined with signers');
    const r = await verifyBySigners(dir, names, o.supply, o.dataDir, check);
    const s = r.result.signer;
    return {
      signer: {
        name: r.signer,
        method: s.method,
        ...(s.keyHint ? { keyHint: s.keyHint } : {}),
        ...(s.identity ? { identity: s.identity } : {}),
        ...(s.issuer ? { issuer: s.issuer } : {}),
        ...(s.subject ? { subject: s.subject } : {}),
      },
      result: r.result,
    };
  }
  if (!o.allowUnsigned)
    throw new WardenError(
      'signature_untrusted',
      'no signer to verify the skill against: pass --key or --signer, or set supplyChain.skills.signers (--allow-unsigned installs without a signature, and is recorded)',
    );
  const m = await serializeModel(dir, { ignorePaths: [SIGNATURE_FILE, ...(o.ignorePaths ?? [])] });
  return {
    signer: null,
    result: { rootDigest: m.rootDigest, files: m.resources.map((r) => ({ path: r.name, digest: r.digest })) },
  };
}

/** Copy one file that must be a regular file inside `from`, refusing symlinks at the last step. */
async function copyRegular(from: string, to: string, rel: string): Promise<void> {
  const src = join(from, rel);
  const fh = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!(await fh.stat()).isFile()) throw new WardenError('path_refused', `${q(rel)} is not a regular file`);
  } finally {
    await fh.close();
  }
  await mkdir(dirname(join(to, rel)), { recursive: true, mode: 0o700 });
  await copyFile(src, join(to, rel), constants.COPYFILE_EXCL);
}

/** Scan, verify, copy and pin a skill. Refusals throw before anything is written to the store. */
export async function installSkill(source: string, o: InstallOptions): Promise<InstallResult> {
  const dir = resolve(source);
  const { name, description } = readSkillHeader(dir);
  const failOn = o.failOn ?? o.supply.scanFailOn;
  const report = await scanPath(dir, {});
  const found = blocking(report.findings, failOn);
  if (found.length > 0)
    throw new WardenError(
      'scan_refused',
      `skill ${q(name)}: scan found ${found.length} finding(s) at or above ${failOn}: ${describeFindings(found)}`,
    );
  const { signer, result } = await verifySource(dir, o);
  if (result.files.length === 0) throw new WardenError('skill_invalid', `skill ${q(name)} has no files`);

  const storeDir = join(o.dataDir, o.supply.skills.dir);
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  const tmp = join(storeDir, `.install-${name}-${randomBytes(6).toString('hex')}`);
  const target = join(storeDir, name);
  const old = join(storeDir, `.old-${name}-${randomBytes(6).toString('hex')}`);
  let moved = false;
  let placed = false;
  try {
    mkdirSync(tmp, { mode: 0o700 });
    for (const f of result.files) await copyRegular(dir, tmp, f.path);
    if (signer) await copyFile(o.signaturePath ?? join(dir, SIGNATURE_FILE), join(tmp, SIGNATURE_FILE));
    // The source could have changed between verification and copy: the copy is what counts.
    const copy = await serializeModel(tmp, { ignorePaths: [SIGNATURE_FILE] });
    if (copy.rootDigest !== result.rootDigest)
      throw new WardenError('signature_invalid', `skill ${q(name)} changed while it was being installed`);
    try {
      renameSync(target, old);
      moved = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    renameSync(tmp, target);
    placed = true;
    const skill: InstalledSkill = {
      name,
      digest: result.rootDigest,
      files: result.files.map((f) => ({ path: f.path, digest: f.digest })),
      signer,
      scan: summarise(report.findings),
      description,
      source: dir,
      installedAt: Date.now(),
      installedBy: o.actor,
    };
    const { replaced } = await recordSkill(o.store, o.audit, skill);
    if (moved) rmSync(old, { recursive: true, force: true });
    return { skill, dir: target, replaced, findings: report.findings.length };
  } catch (err) {
    if (placed) rmSync(target, { recursive: true, force: true });
    if (moved) renameSync(old, target);
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
