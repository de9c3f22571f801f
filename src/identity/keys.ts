// The service's token-signing keys. Private halves live in files under `<data-dir>/keys/` (mode
// 0600); the database holds the public halves and their lifecycle. Rotation: the new key signs at
// once, and a retired key keeps verifying until the last token it could have signed has expired.

import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WardenError, q } from '../errors.js';
import type { AuditSink } from '../audit/index.js';
import type { Store } from '../store/index.js';
import { generateAgentKey, importPublicJwk, parsePublicJwk, type PublicJwk } from './jwk.js';
import { TOKEN_TTL_MAX_SECONDS } from './model.js';

export const SERVICE_ALG = 'ES256';

/** How long a retired key keeps verifying: the longest possible token lifetime plus clock skew. */
export const RETIRED_KEY_GRACE_MS = (TOKEN_TTL_MAX_SECONDS + 120) * 1000;

export interface VerificationKey {
  kid: string;
  alg: typeof SERVICE_ALG;
  publicJwk: PublicJwk;
  key: KeyObject;
  verifyUntil: number | null;
}

export interface SigningKey {
  kid: string;
  alg: typeof SERVICE_ALG;
  key: KeyObject;
}

function keysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

function keyFile(dataDir: string, kid: string): string {
  return join(keysDir(dataDir), `token-${kid}.jwk`);
}

function writeSecretFile(path: string, content: string): void {
  // INVARIANT: a private key file is never readable by anyone but the owner, even for an instant.
  writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

function readPrivateKey(dataDir: string, kid: string): KeyObject {
  const file = keyFile(dataDir, kid);
  if (!existsSync(file)) {
    throw new WardenError('key_file_invalid', `signing key file ${q(file)} is missing`);
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new WardenError(
      'key_file_invalid',
      `signing key file ${q(file)} is readable by others (mode ${mode.toString(8)}): run chmod 600 on it`,
    );
  }
  try {
    return createPrivateKey({
      key: JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>,
      format: 'jwk',
    });
  } catch (err) {
    throw new WardenError('key_file_invalid', `signing key file ${q(file)} does not hold a private JWK`, {
      cause: err,
    });
  }
}

/** Create a new signing key; the previous active key (if any) retires. Returns the new kid. */
export async function createSigningKey(
  store: Store,
  dataDir: string,
  audit: AuditSink,
  now: number = Date.now(),
): Promise<string> {
  mkdirSync(keysDir(dataDir), { recursive: true, mode: 0o700 });
  chmodSync(keysDir(dataDir), 0o700);
  const kid = randomBytes(12).toString('base64url');
  const { publicJwk, privateJwk } = generateAgentKey('ES256');
  writeSecretFile(keyFile(dataDir, kid), JSON.stringify({ ...privateJwk, kid, alg: SERVICE_ALG }) + '\n');
  await store.db.transaction().execute(async (tx) => {
    const previous = await tx
      .selectFrom('signing_keys')
      .select('kid')
      .where('retired_at', 'is', null)
      .execute();
    await tx
      .updateTable('signing_keys')
      .set({ retired_at: now, verify_until: now + RETIRED_KEY_GRACE_MS })
      .where('retired_at', 'is', null)
      .execute();
    await tx
      .insertInto('signing_keys')
      .values({
        kid,
        alg: SERVICE_ALG,
        public_jwk: JSON.stringify(publicJwk),
        created_at: now,
        retired_at: null,
        verify_until: null,
      })
      .execute();
    await tx.insertInto('changes').values({ kind: 'key', entity_id: kid, at: now }).execute();
    await audit.record(
      {
        type: previous.length > 0 ? 'key.rotated' : 'key.created',
        outcome: 'success',
        actor: 'operator',
        subject: kid,
        sponsor: null,
        authority: [],
        reason: null,
        details: { kid, alg: SERVICE_ALG, retired: previous.map((p) => p.kid) },
        at: now,
      },
      tx,
    );
  });
  return kid;
}

/** The keys a running service signs and verifies with; `reload` picks up a rotation. */
export class ServiceKeys {
  private signing: SigningKey | undefined;
  private verifying = new Map<string, VerificationKey>();

  constructor(
    private readonly store: Store,
    private readonly dataDir: string,
  ) {}

  async reload(now: number = Date.now()): Promise<void> {
    const rows = await this.store.db
      .selectFrom('signing_keys')
      .selectAll()
      .orderBy('created_at', 'desc')
      .execute();
    const verifying = new Map<string, VerificationKey>();
    let signing: SigningKey | undefined;
    for (const r of rows) {
      const verifyUntil = r.verify_until === null ? null : Number(r.verify_until);
      if (verifyUntil !== null && verifyUntil <= now) continue;
      const publicJwk = parsePublicJwk(JSON.parse(r.public_jwk));
      verifying.set(r.kid, {
        kid: r.kid,
        alg: SERVICE_ALG,
        publicJwk,
        key: importPublicJwk(publicJwk),
        verifyUntil,
      });
      if (r.retired_at === null && !signing) {
        signing = { kid: r.kid, alg: SERVICE_ALG, key: readPrivateKey(this.dataDir, r.kid) };
      }
    }
    if (!signing)
      throw new WardenError(
        'key_file_invalid',
        'no active signing key: run `warden init` or `warden keys rotate`',
      );
    this.signing = signing;
    this.verifying = verifying;
  }

  signer(): SigningKey {
    if (!this.signing) throw new WardenError('internal', 'service keys not loaded');
    return this.signing;
  }

  /** The verification key for `kid`, or undefined when it is unknown or past its grace period. */
  verifier(kid: string, now: number = Date.now()): VerificationKey | undefined {
    const k = this.verifying.get(kid);
    if (!k || (k.verifyUntil !== null && k.verifyUntil <= now)) return undefined;
    return k;
  }

  /** RFC 7517 JWK Set of every key that still verifies. */
  jwks(now: number = Date.now()): { keys: Array<PublicJwk & { kid: string; alg: string; use: 'sig' }> } {
    const keys = [...this.verifying.values()]
      .filter((k) => k.verifyUntil === null || k.verifyUntil > now)
      .map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' as const }));
    return { keys };
  }
}
