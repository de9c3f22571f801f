// The agent credential file: what an agent needs to get tokens (its id, the issuer, the token
// endpoint and its private key). Warden writes it once, when it generates the key, and never keeps a
// copy; the agent reads it. The file holds a private key, so it is owner-only or it is refused.

import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { WardenError, q } from '../errors.js';
import { importPublicJwk, parsePublicJwk, type AgentAlg, type PublicJwk } from './jwk.js';

const b64url32 = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes of base64url')
  .refine((s) => Buffer.from(s, 'base64url').length === 32, 'must be 32 bytes of base64url');

const EcPrivateJwk = z
  .object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: b64url32, y: b64url32, d: b64url32 })
  .strict();
const OkpPrivateJwk = z
  .object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: b64url32, d: b64url32 })
  .strict();

/** The file's wire format; `.strict()` at every level because the file crosses a trust boundary. */
export const CredentialFileSchema = z
  .object({
    agent_id: z
      .string()
      .regex(/^spiffe:\/\/[^/\s]+\/agent\/[a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9-]{0,62}$/, {
        message: 'must be an agent spiffe id',
      }),
    issuer: z.url({ protocol: /^https?$/ }),
    token_endpoint: z.url({ protocol: /^https?$/ }),
    alg: z.enum(['ES256', 'EdDSA']),
    private_jwk: z.discriminatedUnion('kty', [EcPrivateJwk, OkpPrivateJwk]),
  })
  .strict();

export type CredentialFile = z.infer<typeof CredentialFileSchema>;

export interface AgentCredentials {
  agentId: string;
  issuer: string;
  tokenEndpoint: string;
  alg: AgentAlg;
  privateJwk: CredentialFile['private_jwk'];
  /** The private key, imported. */
  privateKey: KeyObject;
  /** The public half, as registered with Warden. */
  publicJwk: PublicJwk;
}

export interface NewCredentials {
  agentId: string;
  issuer: string;
  tokenEndpoint: string;
  alg: AgentAlg;
  privateJwk: Record<string, string>;
}

function fail(path: string, problem: string, cause?: unknown): WardenError {
  return new WardenError('key_file_invalid', `credential file ${q(path)} ${problem}`, { cause });
}

/**
 * Write a credential file, owner-only, refusing to replace an existing file: overwriting would
 * destroy the only copy of another agent's private key.
 */
export function writeCredentialFile(path: string, creds: NewCredentials): void {
  const parsed = CredentialFileSchema.safeParse({
    agent_id: creds.agentId,
    issuer: creds.issuer,
    token_endpoint: creds.tokenEndpoint,
    alg: creds.alg,
    private_jwk: creds.privateJwk,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new WardenError(
      'internal',
      `credential for ${q(creds.agentId)} is malformed: ${issue?.path.join('.') ?? ''}`,
    );
  }
  const content = JSON.stringify(parsed.data, null, 2) + '\n';
  try {
    // INVARIANT: the private key is never readable by anyone but the owner, even for an instant.
    writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new WardenError(
        'already_exists',
        `credential file ${q(path)} already exists: choose another path or remove it`,
        {
          cause: err,
        },
      );
    }
    throw fail(path, `cannot be written: ${(err as Error).message}`, err);
  }
  chmodSync(path, 0o600);
}

/** Read and check a credential file: owner-only, strict shape, and a key pair that matches. */
export function readCredentialFile(path: string): AgentCredentials {
  let text: string;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw fail(path, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
  }
  try {
    // Check the mode of the file we actually read, not of whatever the path names a moment later.
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw fail(path, 'is not a regular file');
    const mode = stat.mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw fail(
        path,
        `is readable by group or others (mode ${mode.toString(8).padStart(3, '0')}): run chmod 600 on it`,
      );
    }
    if (stat.size > 64 * 1024) throw fail(path, 'is too large');
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail(path, 'is not valid JSON', err);
  }
  const parsed = CredentialFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `key ${q(issue.path.map(String).join('.'))}` : 'the top level';
    const what =
      issue?.code === 'unrecognized_keys'
        ? `unknown key ${issue.keys.map((k) => q(k)).join(', ')}`
        : `${where}: ${issue?.message.toLowerCase() ?? 'invalid'}`;
    throw fail(path, `is invalid: ${what}`);
  }
  const data = parsed.data;
  const expectedAlg: AgentAlg = data.private_jwk.kty === 'EC' ? 'ES256' : 'EdDSA';
  if (data.alg !== expectedAlg)
    throw fail(path, `is invalid: alg ${q(data.alg)} does not match the key type`);

  let privateKey: KeyObject;
  let publicJwk: PublicJwk;
  let publicKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: { ...data.private_jwk }, format: 'jwk' });
    publicJwk = parsePublicJwk(createPublicKey(privateKey).export({ format: 'jwk' }));
    publicKey = importPublicJwk(publicJwk);
  } catch (err) {
    throw fail(path, 'does not hold a valid private key', err);
  }
  // A mismatched file would sign with one key while the agent is registered under another. An
  // imported EC key keeps the stated public point instead of deriving it from `d` (only a signature
  // tells), while an Ed25519 key derives `x` itself (only a comparison tells): check both.
  const probe = randomBytes(32);
  const hash = data.alg === 'ES256' ? 'sha256' : null;
  const stated = data.private_jwk;
  const sameStated =
    publicJwk.x === stated.x && (publicJwk.kty !== 'EC' || (stated.kty === 'EC' && publicJwk.y === stated.y));
  if (!sameStated || !verify(hash, probe, publicKey, sign(hash, probe, privateKey))) {
    throw fail(path, 'is invalid: the public key does not match the private key');
  }
  return {
    agentId: data.agent_id,
    issuer: data.issuer,
    tokenEndpoint: data.token_endpoint,
    alg: data.alg,
    privateJwk: data.private_jwk,
    privateKey,
    publicJwk,
  };
}
