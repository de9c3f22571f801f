// `warden skill sign <dir>`: sign a skill folder with an ECDSA P-256/P-384 private key, writing an
// OpenSSF Model Signing (OMS v1.0) bundle (default `<dir>/model.sig`).
// `warden skill verify <dir>`: verify such a bundle against a public key, a CA chain, or a Sigstore
// trusted root with an identity and issuer; exit 0 with a summary, exit 1 with the error code and
// message. The helpers below (`readTextFile`, `trustFromOptions`, `skillCommand`) are exported for
// the other `warden skill` subcommands.

import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { WardenError, q } from '../errors.js';
import { signFolder, verifyFolder, type TrustPolicy, type VerifyResult } from '../skills/oms/index.js';
import { registerSkillStore } from './skill-store.js';
import { action } from './util.js';

const MAX_INPUT_FILE_BYTES = 16 * 1024 * 1024;

/** A small text input file (key, certificate, trusted root); `not_found` / `invalid_argument` otherwise. */
export function readTextFile(path: string, what: string): string {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new WardenError('invalid_argument', `${what} ${q(path)} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError('not_found', `no ${what} file ${q(path)}`, { cause: err });
  }
  if (size > MAX_INPUT_FILE_BYTES)
    throw new WardenError('invalid_argument', `${what} ${q(path)} is too large`);
  return readFileSync(path, 'utf8');
}

export interface TrustOptions {
  key?: string;
  certificateChain?: string[];
  trustedRoot?: string;
  identity?: string;
  issuer?: string;
}

/** Exactly one way to trust a signer, from `--key`, `--certificate-chain` or `--trusted-root` + identity. */
export function trustFromOptions(o: TrustOptions): TrustPolicy {
  const chosen = [o.key !== undefined, o.certificateChain !== undefined, o.trustedRoot !== undefined].filter(
    Boolean,
  ).length;
  if (chosen !== 1) {
    throw new WardenError(
      'invalid_argument',
      'give exactly one of --key, --certificate-chain, or --trusted-root with --identity and --issuer',
    );
  }
  if (o.key !== undefined) return { kind: 'key', publicKeyPem: readTextFile(o.key, 'public key') };
  if (o.certificateChain !== undefined) {
    return { kind: 'certificate', caChainPem: o.certificateChain.map((p) => readTextFile(p, 'certificate')) };
  }
  if (!o.identity || !o.issuer) {
    throw new WardenError('invalid_argument', '--trusted-root needs --identity and --issuer');
  }
  return {
    kind: 'keyless',
    trustedRootJson: readTextFile(o.trustedRoot ?? '', 'trusted root'),
    identity: o.identity,
    issuer: o.issuer,
  };
}

/** Put the stable error code in front of the message, so scripts can match on it. */
function withCode<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return action(async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof WardenError)
        throw new WardenError(err.code, `${err.code}: ${err.message}`, { cause: err });
      throw err;
    }
  });
}

/** The `warden skill` command, created once and shared by every `skill` subcommand. */
export function skillCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'skill');
  return (
    existing ?? program.command('skill').description('sign, verify and install skills (agent skill folders)')
  );
}

function summary(r: VerifyResult): string {
  const s = r.signer;
  const who =
    s.method === 'key'
      ? `key ${s.keyHint ?? ''}`
      : s.method === 'certificate'
        ? `certificate ${s.subject ?? ''} (issuer ${s.issuer ?? ''}, sha256 ${s.fingerprint ?? ''})`
        : `keyless ${s.identity ?? ''} (issuer ${s.issuer ?? ''})`;
  const lines = [
    `verified: ${r.files.length} file${r.files.length === 1 ? '' : 's'}`,
    `root digest: sha256:${r.rootDigest}`,
    `signer: ${who}`,
    ...r.files.map((f) => `  ${f.digest}  ${f.path}`),
  ];
  return lines.join('\n') + '\n';
}

interface SignOpts {
  key: string;
  signature?: string;
  ignorePaths?: string[];
  allowSymlinks?: boolean;
  json?: boolean;
}

interface VerifyOpts extends TrustOptions {
  signature?: string;
  ignorePaths?: string[];
  ignoreUnsignedFiles?: boolean;
  allowSymlinks?: boolean;
  json?: boolean;
}

export function registerSkill(program: Command): void {
  const skill = skillCommand(program);

  skill
    .command('sign')
    .description('sign a skill folder (OMS v1.0 bundle, ECDSA P-256 or P-384 key)')
    .argument('<dir>', 'the skill folder')
    .requiredOption('--key <pem>', 'private key (PEM: PKCS#8 or EC PRIVATE KEY)')
    .option('--signature <file>', 'where to write the signature (default: <dir>/model.sig)')
    .option('--ignore-paths <paths...>', 'paths to leave out, relative to the folder')
    .option('--allow-symlinks', 'follow symbolic links that stay inside the folder')
    .option('--json', 'print JSON')
    .action(
      withCode(async (dir: string, o: SignOpts) => {
        const r = await signFolder(dir, {
          privateKeyPem: readTextFile(o.key, 'private key'),
          ...(o.signature !== undefined ? { signaturePath: o.signature } : {}),
          ignorePaths: o.ignorePaths ?? [],
          allowSymlinks: o.allowSymlinks === true,
        });
        if (o.json) {
          process.stdout.write(JSON.stringify(r, null, 2) + '\n');
          return;
        }
        process.stdout.write(
          `signed: ${r.files.length} file${r.files.length === 1 ? '' : 's'}\n` +
            `root digest: sha256:${r.rootDigest}\n` +
            `signature: ${r.signaturePath}\n`,
        );
      }),
    );

  skill
    .command('verify')
    .description('verify the OMS signature of a skill folder')
    .argument('<dir>', 'the skill folder')
    .option('--key <pem>', 'trust this public key (PEM)')
    .option('--certificate-chain <pems...>', 'trust these CA certificates (PEM)')
    .option('--trusted-root <json>', 'keyless: a Sigstore trusted_root.json')
    .option('--identity <san>', 'keyless: the certificate identity (SAN) to require')
    .option('--issuer <url>', 'keyless: the OIDC issuer to require')
    .option('--signature <file>', 'the signature file (default: <dir>/model.sig)')
    .option('--ignore-paths <paths...>', 'paths to leave out, relative to the folder')
    .option('--ignore-unsigned-files', 'accept files the signature does not list')
    .option('--allow-symlinks', 'follow symbolic links that stay inside the folder')
    .option('--json', 'print JSON')
    .action(
      withCode(async (dir: string, o: VerifyOpts) => {
        const r = await verifyFolder(dir, {
          trust: trustFromOptions(o),
          ...(o.signature !== undefined ? { signaturePath: o.signature } : {}),
          ignorePaths: o.ignorePaths ?? [],
          ignoreUnsignedFiles: o.ignoreUnsignedFiles === true,
          allowSymlinks: o.allowSymlinks === true,
        });
        process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : summary(r));
      }),
    );

  registerSkillStore(skill);
}
