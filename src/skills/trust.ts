// Named signers (`supplyChain.signers` in warden.yaml) turned into what the OMS verifier trusts,
// and "does this folder carry a valid signature from one of these signers?".
//
// Signer files are read when a check runs, so a key replaced or removed in the data directory
// takes effect at the next gateway start or install: removing a signer is how its skills stop
// loading.

import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { WardenError, q } from '../errors.js';
import type { SignerConfig, SupplyChainConfig } from './config.js';
import { verifyFolder, type VerifyResult, type TrustPolicy } from './oms/index.js';

function readTrustFile(dataDir: string, path: string, signer: string): string {
  const full = isAbsolute(path) ? path : join(dataDir, path);
  try {
    return readFileSync(full, 'utf8');
  } catch (err) {
    throw new WardenError(
      'config_invalid',
      `signer ${q(signer)}: cannot read ${q(full)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: err },
    );
  }
}

/** What the OMS verifier needs to check a signature against the signer `name`. */
export function trustOf(name: string, signer: SignerConfig, dataDir: string): TrustPolicy {
  if ('key' in signer) return { kind: 'key', publicKeyPem: readTrustFile(dataDir, signer.key, name) };
  if ('certificateChain' in signer)
    return {
      kind: 'certificate',
      caChainPem: signer.certificateChain.map((p) => readTrustFile(dataDir, p, name)),
    };
  return {
    kind: 'keyless',
    trustedRootJson: readTrustFile(dataDir, signer.keyless.trustedRoot, name),
    identity: signer.keyless.identity,
    issuer: signer.keyless.issuer,
  };
}

export interface SignedBy {
  /** The signer that verified it. */
  signer: string;
  result: VerifyResult;
}

export interface FolderCheck {
  signaturePath?: string;
  ignorePaths?: readonly string[];
}

/**
 * Verify `dir` against each named signer in turn; the first that verifies wins. Throws
 * `signature_invalid` / `signature_untrusted` / `bundle_invalid` naming every signer tried when
 * none does.
 */
export async function verifyBySigners(
  dir: string,
  names: readonly string[],
  supply: SupplyChainConfig,
  dataDir: string,
  check: FolderCheck = {},
): Promise<SignedBy> {
  if (names.length === 0) throw new WardenError('invalid_argument', 'no signers to verify against');
  const failures: string[] = [];
  let last: WardenError | undefined;
  for (const name of names) {
    const signer = supply.signers[name];
    if (!signer) throw new WardenError('config_invalid', `no signer ${q(name)} in supplyChain.signers`);
    try {
      const result = await verifyFolder(dir, {
        trust: trustOf(name, signer, dataDir),
        ...(check.signaturePath ? { signaturePath: check.signaturePath } : {}),
        ignorePaths: [...(check.ignorePaths ?? [])],
      });
      return { signer: name, result };
    } catch (err) {
      if (!(err instanceof WardenError)) throw err;
      // A bundle that cannot be read fails the same way for every signer: say it once.
      if (err.code === 'bundle_invalid' || err.code === 'not_found' || err.code === 'path_refused') throw err;
      last = err;
      failures.push(`${name}: ${err.message}`);
    }
  }
  throw new WardenError(
    last?.code ?? 'signature_invalid',
    `no trusted signer verifies ${q(dir)} (${failures.join('; ')})`,
    { cause: last },
  );
}
