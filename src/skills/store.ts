// Warden's skill store: the rows that pin each installed skill to the OMS root digest of its copy
// under `<data dir>/skills/<name>/`, with who signed it and what the scan found at install.
//
// INVARIANT: a row is written in the same transaction as its `skill.installed` / `skill.removed`
// audit entry, so the store never holds a skill whose installation left no evidence.

import type { AuditSink } from '../audit/index.js';
import { StoreError, WardenError, q } from '../errors.js';
import type { Store } from '../store/index.js';
import type { SkillRow } from '../store/schema.js';

/** Agent Skills names: 1-64 of a-z, 0-9 and -, no leading, trailing or doubled hyphen. */
export const SKILL_NAME_RE = /^(?!-)(?!.*--)[a-z0-9-]{1,64}(?<!-)$/;

/** Who signed an installed skill, as verified at install. */
export interface SkillSigner {
  /** The `supplyChain.signers` entry that verified it, or null for a key given on the command line. */
  name: string | null;
  method: 'key' | 'certificate' | 'keyless';
  keyHint?: string;
  /** The public key (PEM) a command-line key verified with, kept so the gateway can verify again. */
  publicKeyPem?: string;
  identity?: string;
  issuer?: string;
  subject?: string;
}

/** What the scan found at install: counts by severity and the highest severity seen. */
export interface SkillScanSummary {
  highest: string | null;
  counts: Record<string, number>;
  findings: number;
}

export interface InstalledSkill {
  name: string;
  digest: string;
  files: { path: string; digest: string }[];
  signer: SkillSigner | null;
  scan: SkillScanSummary;
  description: string;
  source: string;
  installedAt: number;
  installedBy: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StoreError(`the stored ${what} is not json`, { cause: err });
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function fromRow(r: SkillRow): InstalledSkill {
  const what = `skill ${q(r.name)}`;
  const files = parseJson(r.files, `file list of ${what}`);
  if (
    !Array.isArray(files) ||
    !files.every((f) => isRecord(f) && typeof f['path'] === 'string' && HEX64.test(String(f['digest'])))
  )
    throw new StoreError(`the stored file list of ${what} is malformed`);
  if (!HEX64.test(r.digest)) throw new StoreError(`the stored digest of ${what} is malformed`);
  const signer = r.signer === null ? null : parseJson(r.signer, `signer of ${what}`);
  if (signer !== null && !(isRecord(signer) && typeof signer['method'] === 'string'))
    throw new StoreError(`the stored signer of ${what} is malformed`);
  const scan = parseJson(r.scan, `scan of ${what}`);
  if (!isRecord(scan)) throw new StoreError(`the stored scan of ${what} is malformed`);
  return {
    name: r.name,
    digest: r.digest,
    files: files as InstalledSkill['files'],
    signer: signer as SkillSigner | null,
    scan: scan as unknown as SkillScanSummary,
    description: r.description,
    source: r.source,
    installedAt: Number(r.installed_at),
    installedBy: r.installed_by,
  };
}

export async function listSkills(store: Store): Promise<InstalledSkill[]> {
  const rows = await store.db.selectFrom('skills').selectAll().orderBy('name').execute();
  return rows.map(fromRow);
}

export async function getSkill(store: Store, name: string): Promise<InstalledSkill | undefined> {
  const row = await store.db.selectFrom('skills').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/**
 * Record an installed skill (replacing an earlier installation of the same name) with its audit
 * entry, in one transaction. `replaced` is the digest it replaced, if any.
 */
export async function recordSkill(
  store: Store,
  audit: AuditSink,
  skill: InstalledSkill,
): Promise<{ replaced: string | null }> {
  if (!SKILL_NAME_RE.test(skill.name))
    throw new WardenError('skill_invalid', `invalid skill name ${q(skill.name)}`);
  return store.db.transaction().execute(async (tx) => {
    const old = await tx
      .selectFrom('skills')
      .select('digest')
      .where('name', '=', skill.name)
      .executeTakeFirst();
    await tx.deleteFrom('skills').where('name', '=', skill.name).execute();
    await tx
      .insertInto('skills')
      .values({
        name: skill.name,
        digest: skill.digest,
        files: JSON.stringify(skill.files),
        signer: skill.signer ? JSON.stringify(skill.signer) : null,
        scan: JSON.stringify(skill.scan),
        description: skill.description,
        source: skill.source,
        installed_at: skill.installedAt,
        installed_by: skill.installedBy,
      })
      .execute();
    await audit.record(
      {
        type: 'skill.installed',
        outcome: 'success',
        actor: skill.installedBy,
        subject: skill.name,
        sponsor: null,
        authority: [],
        reason: skill.signer ? null : 'installed without a signature (--allow-unsigned)',
        details: {
          digest: skill.digest,
          files: skill.files.length,
          signer: skill.signer
            ? { name: skill.signer.name, method: skill.signer.method, keyHint: skill.signer.keyHint ?? null }
            : null,
          scan: skill.scan,
          source: skill.source,
          replaced: old?.digest ?? null,
        },
        at: skill.installedAt,
      },
      tx,
    );
    return { replaced: old?.digest ?? null };
  });
}

/** Remove an installed skill's row, with its audit entry. The caller removes the copy afterwards. */
export async function removeSkill(
  store: Store,
  audit: AuditSink,
  name: string,
  actor: string,
): Promise<void> {
  if (!SKILL_NAME_RE.test(name)) throw new WardenError('invalid_argument', `invalid skill name ${q(name)}`);
  await store.db.transaction().execute(async (tx) => {
    const old = await tx.selectFrom('skills').select('digest').where('name', '=', name).executeTakeFirst();
    if (!old) throw new WardenError('not_found', `no installed skill ${q(name)}`);
    await tx.deleteFrom('skills').where('name', '=', name).execute();
    await audit.record(
      {
        type: 'skill.removed',
        outcome: 'success',
        actor,
        subject: name,
        sponsor: null,
        authority: [],
        reason: null,
        details: { digest: old.digest },
      },
      tx,
    );
  });
}
