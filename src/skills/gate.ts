// Load gating: what the gateway checks before it lets agents use a tool server or a skill.
//
// - A stdio server with a `verify` section starts only if its folder carries a valid OMS signature
//   from one of the named signers and its scan finds nothing at or above the fail-on severity.
//   With `supplyChain.requireSignedServers`, a stdio server without `verify` does not start.
// - A tool definition whose scan finds something at or above the fail-on severity is not offered,
//   whatever its pin says.
// - An installed skill loads only if its copy in the skill store still hashes to the digest pinned
//   at install, its signature still verifies against a signer the configuration trusts now, and
//   its scan is still clean.
// Each refusal is logged and recorded (`supply.refused`) with the reason; each load is recorded
// (`supply.loaded`).

import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { AuditSink } from '../audit/index.js';
import { WardenError, q } from '../errors.js';
import type { StdioUpstreamConfig } from '../gateway/config.js';
import type { Store } from '../store/index.js';
import type { SupplyChainConfig } from './config.js';
import { serializeModel, verifyFolder } from './oms/index.js';
import { scanPath, scanToolDefinitions, severityAtLeast, type Finding, type Severity } from './scan/index.js';
import { listSkills, type InstalledSkill } from './store.js';
import { verifyBySigners } from './trust.js';

export type FailOn = Severity | 'none';

/** The findings at or above `failOn`, most severe first. */
export function blocking(findings: readonly Finding[], failOn: FailOn): Finding[] {
  if (failOn === 'none') return [];
  const order: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
  return findings
    .filter((f) => severityAtLeast(f.severity, failOn))
    .sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity));
}

/** One line naming the first few blocking findings. */
export function describeFindings(found: readonly Finding[]): string {
  const shown = found
    .slice(0, 3)
    .map((f) => `${f.ruleId} ${f.severity} at ${f.file}:${f.line}: ${f.message}`)
    .join('; ');
  return found.length > 3 ? `${shown}; and ${found.length - 3} more` : shown;
}

export interface GateContext {
  supply: SupplyChainConfig;
  dataDir: string;
  audit: AuditSink;
  log: (line: string) => void;
}

async function refused(
  g: GateContext,
  kind: 'server' | 'skill' | 'tool',
  subject: string,
  reason: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  g.log(`${kind} ${subject}: REFUSED: ${reason}`);
  await g.audit.record({
    type: 'supply.refused',
    outcome: 'refused',
    actor: 'operator',
    subject,
    sponsor: null,
    authority: [],
    reason,
    details: { kind, ...details },
  });
}

async function loaded(
  g: GateContext,
  kind: 'server' | 'skill',
  subject: string,
  details: Record<string, unknown>,
): Promise<void> {
  await g.audit.record({
    type: 'supply.loaded',
    outcome: 'success',
    actor: 'operator',
    subject,
    sponsor: null,
    authority: [],
    reason: null,
    details: { kind, ...details },
  });
}

function reasonOf(err: unknown): string {
  return err instanceof WardenError ? `${err.code}: ${err.message}` : (err as Error).message;
}

/**
 * Check a stdio server before it may start. Returns the reason it is refused, or undefined when it
 * may start (servers without `verify` and no `requireSignedServers` pass unchecked).
 */
export async function gateServer(g: GateContext, u: StdioUpstreamConfig): Promise<string | undefined> {
  const subject = u.name;
  if (!u.verify) {
    if (!g.supply.requireSignedServers) return undefined;
    const reason = 'supplyChain.requireSignedServers is set and the server has no verify section';
    await refused(g, 'server', subject, reason);
    return reason;
  }
  const v = u.verify;
  let signedBy: string;
  let digest: string;
  try {
    const r = await verifyBySigners(v.path, v.signers, g.supply, g.dataDir, {
      ...(v.signature ? { signaturePath: v.signature } : {}),
      ignorePaths: v.ignorePaths,
    });
    signedBy = r.signer;
    digest = r.result.rootDigest;
  } catch (err) {
    const reason = `signature check failed: ${reasonOf(err)}`;
    await refused(g, 'server', subject, reason, { path: v.path, signers: v.signers });
    return reason;
  }
  const failOn = v.scanFailOn ?? g.supply.scanFailOn;
  try {
    const report = await scanPath(v.path, {});
    const found = blocking(report.findings, failOn);
    if (found.length > 0) {
      const reason = `scan found ${found.length} finding(s) at or above ${failOn}: ${describeFindings(found)}`;
      await refused(g, 'server', subject, reason, { path: v.path, digest, signer: signedBy });
      return reason;
    }
  } catch (err) {
    const reason = `scan failed: ${reasonOf(err)}`;
    await refused(g, 'server', subject, reason, { path: v.path });
    return reason;
  }
  g.log(
    `server ${subject}: signature of ${v.path} verified (signer ${signedBy}, digest ${digest.slice(0, 12)})`,
  );
  await loaded(g, 'server', subject, { path: v.path, digest, signer: signedBy });
  return undefined;
}

/** A skill the gateway serves: its folder in the store and the pinned digest of each file. */
export interface LoadedSkill {
  name: string;
  description: string;
  dir: string;
  digest: string;
  files: ReadonlyMap<string, string>;
  signer: string | null;
}

function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

/** The signer an installed skill must verify against now, or why it can no longer load. */
async function verifyInstalled(g: GateContext, s: InstalledSkill, dir: string): Promise<string> {
  const required = g.supply.skills.signers;
  if (!s.signer) {
    if (required.length > 0)
      throw new WardenError(
        'signature_untrusted',
        `it was installed unsigned and supplyChain.skills.signers now requires one of ${required.join(', ')}`,
      );
    return (await serializeModel(dir, { ignorePaths: ['model.sig'] })).rootDigest;
  }
  if (s.signer.name !== null) {
    const name = s.signer.name;
    if (required.length > 0 && !required.includes(name))
      throw new WardenError(
        'signature_untrusted',
        `its signer ${q(name)} is not in supplyChain.skills.signers`,
      );
    if (!g.supply.signers[name])
      throw new WardenError(
        'signature_untrusted',
        `its signer ${q(name)} is no longer in supplyChain.signers`,
      );
    return (await verifyBySigners(dir, [name], g.supply, g.dataDir)).result.rootDigest;
  }
  if (required.length > 0)
    throw new WardenError(
      'signature_untrusted',
      `it was installed with a command-line key and supplyChain.skills.signers requires one of ${required.join(', ')}`,
    );
  if (!s.signer.publicKeyPem) throw new WardenError('signature_untrusted', 'its signer key was not recorded');
  const r = await verifyFolder(dir, { trust: { kind: 'key', publicKeyPem: s.signer.publicKeyPem } });
  return r.rootDigest;
}

/** Verify and scan every installed skill; returns those that may load. */
export async function loadSkills(g: GateContext, store: Store): Promise<LoadedSkill[]> {
  const out: LoadedSkill[] = [];
  const root = join(g.dataDir, g.supply.skills.dir);
  for (const s of await listSkills(store)) {
    const dir = join(root, s.name);
    try {
      const digest = await verifyInstalled(g, s, dir);
      if (!sameDigest(digest, s.digest))
        throw new WardenError(
          'signature_invalid',
          `its copy in the skill store hashes to ${digest.slice(0, 12)}, not the ${s.digest.slice(0, 12)} pinned at install`,
        );
      const found = blocking((await scanPath(dir, {})).findings, g.supply.scanFailOn);
      if (found.length > 0)
        throw new WardenError(
          'scan_refused',
          `scan found ${found.length} finding(s) at or above ${g.supply.scanFailOn}: ${describeFindings(found)}`,
        );
    } catch (err) {
      await refused(g, 'skill', s.name, reasonOf(err), { digest: s.digest });
      continue;
    }
    await loaded(g, 'skill', s.name, {
      digest: s.digest,
      signer: s.signer?.name ?? s.signer?.keyHint ?? null,
    });
    out.push({
      name: s.name,
      description: s.description,
      dir,
      digest: s.digest,
      files: new Map(s.files.map((f) => [f.path, f.digest])),
      signer: s.signer?.name ?? s.signer?.keyHint ?? null,
    });
  }
  return out;
}

/**
 * Scans of live tool definitions, one per definition hash: a definition with findings at or above
 * `failOn` is refused (and recorded once per hash).
 */
export class ToolDefinitionGate {
  private readonly seen = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly g: GateContext,
    private readonly failOn: FailOn,
  ) {}

  /** Why this definition may not be offered, or undefined. `otherTools`: other servers' tool names. */
  refusal(
    server: string,
    def: unknown,
    hash: string,
    otherTools: readonly string[],
  ): Promise<string | undefined> {
    let p = this.seen.get(hash);
    if (!p) {
      p = this.check(server, def, hash, otherTools);
      this.seen.set(hash, p);
    }
    return p;
  }

  private async check(
    server: string,
    def: unknown,
    hash: string,
    otherTools: readonly string[],
  ): Promise<string | undefined> {
    if (this.failOn === 'none') return undefined;
    const name = typeof (def as { name?: unknown }).name === 'string' ? (def as { name: string }).name : '?';
    const report = await scanToolDefinitions([def], { server, otherTools: [...otherTools] });
    const found = blocking(report.findings, this.failOn);
    if (found.length === 0) return undefined;
    const reason = `scan found ${found.length} finding(s) at or above ${this.failOn}: ${describeFindings(found)}`;
    await refused(this.g, 'tool', `${server}/${name}`, reason, { definition_hash: hash });
    return reason;
  }
}
