// The evidence log's signing keys: C2SP signed-note signer keys in `<data-dir>/keys/` (mode 0600),
// their verifier keys in `<data-dir>/audit-log.vkey`, which is what anyone checking evidence needs.
// The key's name is the log's origin, `<trust domain>/audit/<8 hex>`: unique per log, so that two
// Warden deployments' checkpoints can never be confused.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WardenError, q } from '../errors.js';
import { formatSignerKey, formatVerifierKey, generateSignerKey, parseSignerKey } from './verify/index.js';

export const LOG_VKEY_FILE = 'audit-log.vkey';

function signerFile(dataDir: string, kind: 'ed25519' | 'mldsa65'): string {
  return join(dataDir, 'keys', kind === 'ed25519' ? 'audit-log.skey' : 'audit-log-mldsa.skey');
}

export interface LogKeys {
  origin: string;
  /** Signer keys, Ed25519 first. */
  signerKeys: string[];
  /** The matching verifier keys, one per line in audit-log.vkey. */
  verifierKeys: string[];
}

function readSecretKey(file: string): string {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new WardenError(
      'key_file_invalid',
      `audit log key file ${q(file)} is readable by others (mode ${mode.toString(8)}): run chmod 600 on it`,
    );
  }
  const text = readFileSync(file, 'utf8').trim();
  try {
    parseSignerKey(text);
  } catch (err) {
    throw new WardenError('key_file_invalid', `audit log key file ${q(file)} is not a signer key`, {
      cause: err,
    });
  }
  return text;
}

function writeSecretKey(file: string, skey: string): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${skey}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

/**
 * The log's keys, creating what is missing: the Ed25519 key always, the ML-DSA-65 key when
 * `postQuantum` asks for it. An existing key is never replaced.
 */
export function ensureLogKeys(dataDir: string, trustDomain: string, postQuantum: boolean): LogKeys {
  const edFile = signerFile(dataDir, 'ed25519');
  if (!existsSync(edFile)) {
    const origin = `${trustDomain}/audit/${randomBytes(4).toString('hex')}`;
    writeSecretKey(edFile, formatSignerKey(generateSignerKey(origin, 'ed25519')));
  }
  const ed = readSecretKey(edFile);
  const origin = parseSignerKey(ed).name;
  const signerKeys = [ed];
  const pqFile = signerFile(dataDir, 'mldsa65');
  if (postQuantum && !existsSync(pqFile)) {
    writeSecretKey(pqFile, formatSignerKey(generateSignerKey(origin, 'mldsa65')));
  }
  if (postQuantum) signerKeys.push(readSecretKey(pqFile));
  const verifierKeys = signerKeys.map((k) => formatVerifierKey(parseSignerKey(k).verifierKey));
  const vkeyFile = join(dataDir, LOG_VKEY_FILE);
  const text = `${verifierKeys.join('\n')}\n`;
  if (!existsSync(vkeyFile) || readFileSync(vkeyFile, 'utf8') !== text)
    writeFileSync(vkeyFile, text, { mode: 0o644 });
  return { origin, signerKeys, verifierKeys };
}
