// Upstream credentials: resolved from the gateway's environment or from the secrets file (mode
// 0600), only inside the gateway. They are injected into upstream connections and never appear in
// anything an agent receives, nor in logs or audit records.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { WardenError, q } from '../errors.js';
import type { SecretRef } from './config.js';

const SecretsFileSchema = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/), z.string().min(1));

export class Secrets {
  /** Values read from the environment, remembered so they are scrubbed like file secrets. */
  private readonly fromEnv = new Set<string>();

  private constructor(private readonly values: ReadonlyMap<string, string>) {}

  /** Load the secrets file; a missing file is an empty set, a readable-by-others one is refused. */
  static load(file: string): Secrets {
    if (!existsSync(file)) return new Secrets(new Map());
    if ((statSync(file).mode & 0o077) !== 0) {
      throw new WardenError(
        'config_invalid',
        `secrets file ${q(file)} is readable by others: run chmod 600 on it`,
      );
    }
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, 'utf8'), { uniqueKeys: true }) ?? {};
    } catch {
      throw new WardenError('config_invalid', `secrets file ${q(file)} is not valid YAML`);
    }
    const parsed = SecretsFileSchema.safeParse(raw);
    if (!parsed.success) {
      throw new WardenError(
        'config_invalid',
        `secrets file ${q(file)} must map secret names to non-empty strings`,
      );
    }
    return new Secrets(new Map(Object.entries(parsed.data)));
  }

  static empty(): Secrets {
    return new Secrets(new Map());
  }

  resolve(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
    if ('env' in ref) {
      const v = env[ref.env];
      if (v === undefined || v === '')
        throw new WardenError('config_invalid', `environment variable ${q(ref.env)} is not set`);
      if (!this.fromEnv.has(v)) {
        this.fromEnv.add(v);
        this.compiled = undefined;
      }
      return v;
    }
    const v = this.values.get(ref.secret);
    if (v === undefined)
      throw new WardenError('config_invalid', `secret ${q(ref.secret)} is not in the secrets file`);
    return v;
  }

  /** Every secret value (file entries and environment values resolved so far), to scrub text of. */
  all(): string[] {
    return [...new Set([...this.values.values(), ...this.fromEnv])];
  }

  /** The patterns for `all()`, made on first use and dropped when resolve() adds a value. */
  private compiled: readonly RegExp[] | undefined;

  /** One literal pattern per secret value, for redactSecrets, which every result goes through. */
  patterns(): readonly RegExp[] {
    this.compiled ??= this.all().map((v) => new RegExp(v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g'));
    return this.compiled;
  }

  /** `text` with every secret value replaced by `[redacted]`. */
  scrub(text: string): string {
    let out = text;
    for (const v of this.all()) out = out.split(v).join('[redacted]');
    return out;
  }
}
