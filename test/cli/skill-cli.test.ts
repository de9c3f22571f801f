// `warden skill sign` and `warden skill verify` as real processes: signing prints the root digest
// and signature path; verifying by key, certificate chain and keyless trusted root exits 0 with a
// summary (or JSON); every failure exits 1 with the error code and message.

import * as assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { runWarden, succeeded } from '../helpers/cli.js';

const VECTORS = fileURLToPath(new URL('../../../shared/vectors/oms/', import.meta.url));
if (!existsSync(join(VECTORS, 'README.txt'))) {
  throw new Error(`the OMS vectors are missing at ${VECTORS}: they are required for these tests`);
}
const MT = join(VECTORS, 'model-transparency');

const root = mkdtempSync(join(tmpdir(), 'warden-skill-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const KEY = join(root, 'key.pem');
const PUB = join(root, 'pub.pem');
writeFileSync(KEY, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(PUB, publicKey.export({ type: 'spki', format: 'pem' }));
const OTHER_PUB = join(root, 'other.pem');
writeFileSync(
  OTHER_PUB,
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
);

let n = 0;
function skill(): string {
  const d = join(root, `skill${n++}`);
  mkdirSync(join(d, 'scripts'), { recursive: true });
  writeFileSync(join(d, 'SKILL.md'), '# demo skill\n');
  writeFileSync(join(d, 'scripts', 'run.py'), 'print("hi")\n');
  writeFileSync(join(d, 'notes.txt'), 'scratch\n');
  return d;
}

function failed(r: { code: number | null; stderr: string }, code: string): void {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^warden: ${code}: `));
}

describe('warden skill sign', () => {
  it('signs a folder and prints the root digest and signature path', async () => {
    const d = skill();
    const r = succeeded(await runWarden(['skill', 'sign', d, '--key', KEY, '--ignore-paths', 'notes.txt']));
    assert.match(r.stdout, /^signed: 2 files$/m);
    assert.match(r.stdout, /^root digest: sha256:[0-9a-f]{64}$/m);
    assert.match(
      r.stdout,
      new RegExp(`^signature: ${join(d, 'model.sig').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
    );
    assert.ok(existsSync(join(d, 'model.sig')));
  });

  it('refuses an unsupported key, a missing key file and a symlink', async () => {
    const d = skill();
    const ed = join(root, 'ed.pem');
    writeFileSync(ed, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    failed(await runWarden(['skill', 'sign', d, '--key', ed]), 'invalid_argument');
    failed(await runWarden(['skill', 'sign', d, '--key', join(root, 'nope.pem')]), 'not_found');
    symlinkSync('SKILL.md', join(d, 'link'));
    failed(await runWarden(['skill', 'sign', d, '--key', KEY]), 'path_refused');
    succeeded(await runWarden(['skill', 'sign', d, '--key', KEY, '--allow-symlinks']));
    assert.equal((await runWarden(['skill', 'sign', d])).code, 2, 'missing --key is a usage error');
  });
});

describe('warden skill verify', () => {
  it('verifies by key, with a summary and with --json', async () => {
    const d = skill();
    const sig = join(root, `sig${n++}.json`);
    succeeded(await runWarden(['skill', 'sign', d, '--key', KEY, '--signature', sig]));
    const r = succeeded(await runWarden(['skill', 'verify', d, '--key', PUB, '--signature', sig]));
    assert.match(r.stdout, /^verified: 3 files$/m);
    assert.match(r.stdout, /^signer: key [0-9a-f]{64}$/m);
    assert.match(r.stdout, /scripts\/run\.py$/m);
    const j = JSON.parse(
      succeeded(await runWarden(['skill', 'verify', d, '--key', PUB, '--signature', sig, '--json'])).stdout,
    ) as { rootDigest: string; files: Array<{ path: string }>; signer: { method: string } };
    assert.match(j.rootDigest, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      j.files.map((f) => f.path),
      ['SKILL.md', 'notes.txt', 'scripts/run.py'],
    );
    assert.equal(j.signer.method, 'key');
  });

  it('fails with the exact code on tampering, a wrong key, and a corrupt bundle', async () => {
    const d = skill();
    succeeded(await runWarden(['skill', 'sign', d, '--key', KEY]));
    failed(await runWarden(['skill', 'verify', d, '--key', OTHER_PUB]), 'signature_untrusted');
    writeFileSync(join(d, 'extra.sh'), 'echo\n');
    const r = await runWarden(['skill', 'verify', d, '--key', PUB]);
    failed(r, 'signature_invalid');
    assert.match(r.stderr, /`extra\.sh` is not signed/);
    succeeded(await runWarden(['skill', 'verify', d, '--key', PUB, '--ignore-unsigned-files']));
    succeeded(await runWarden(['skill', 'verify', d, '--key', PUB, '--ignore-paths', 'extra.sh']));
    writeFileSync(join(d, 'SKILL.md'), 'changed');
    failed(
      await runWarden(['skill', 'verify', d, '--key', PUB, '--ignore-unsigned-files']),
      'signature_invalid',
    );
    writeFileSync(join(d, 'model.sig'), '{');
    failed(await runWarden(['skill', 'verify', d, '--key', PUB]), 'bundle_invalid');
  });

  it('needs exactly one kind of trust', async () => {
    const d = skill();
    failed(await runWarden(['skill', 'verify', d]), 'invalid_argument');
    failed(
      await runWarden([
        'skill',
        'verify',
        d,
        '--key',
        PUB,
        '--certificate-chain',
        join(MT, 'keys/ca-cert.pem'),
      ]),
      'invalid_argument',
    );
    failed(
      await runWarden([
        'skill',
        'verify',
        d,
        '--trusted-root',
        join(VECTORS, 'sigstore/trusted_root.production.json'),
      ]),
      'invalid_argument',
    );
  });

  it('verifies the reference vectors: certificate chain and keyless', async () => {
    const cert = join(root, 'cert-model');
    cpSync(join(MT, 'v1.1.0-certificate'), cert, { recursive: true });
    const c = succeeded(
      await runWarden(['skill', 'verify', cert, '--certificate-chain', join(MT, 'keys/ca-cert.pem')]),
    );
    assert.match(c.stdout, /^signer: certificate CN=intermediate-ca/m);
    const keyless = join(MT, 'v1.1.0-sigstore');
    const trustedRoot = join(VECTORS, 'sigstore/trusted_root.production.json');
    const issuer = 'https://sigstore.verify.ibm.com/oauth2';
    const k = succeeded(
      await runWarden([
        'skill',
        'verify',
        keyless,
        '--trusted-root',
        trustedRoot,
        '--identity',
        'stefanb@us.ibm.com',
        '--issuer',
        issuer,
      ]),
    );
    assert.match(k.stdout, /^signer: keyless stefanb@us\.ibm\.com/m);
    failed(
      await runWarden([
        'skill',
        'verify',
        keyless,
        '--trusted-root',
        trustedRoot,
        '--identity',
        'mallory@example.com',
        '--issuer',
        issuer,
      ]),
      'signature_untrusted',
    );
  });
});
