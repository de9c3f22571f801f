// Signing skill folders and verifying what we signed: known answers (the reference's P-384 test
// key over the reference's folder gives the reference's root digest and hint), round trips with
// P-256 and P-384, each tampering failing with its exact code, refused keys, and the walk refusing
// symlinks, loops, links out of the folder, fifos, oversized files and empty folders.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import {
  hashFolder,
  keyHintOfPem,
  pae,
  parseBundle,
  serializeModel,
  signFolder,
  verifyFolder,
  type SignOptions,
  type VerifyOptions,
} from '../../src/skills/oms/index.js';

const VECTORS = fileURLToPath(new URL('../../../shared/vectors/oms/', import.meta.url));
if (!existsSync(join(VECTORS, 'README.txt'))) {
  throw new Error(`the OMS vectors are missing at ${VECTORS}: they are required for these tests`);
}
const MT = join(VECTORS, 'model-transparency');

const tmp = mkdtempSync(join(tmpdir(), 'warden-oms-sign-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function fresh(
  files: Record<string, string> = { 'SKILL.md': '# skill\n', 'scripts/run.py': 'print(1)\n' },
): string {
  const d = join(tmp, `m${n++}`);
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), body);
  }
  mkdirSync(d, { recursive: true });
  return d;
}

function keys(curve: 'P-256' | 'P-384' = 'P-256') {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  return {
    priv: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    sec1: privateKey.export({ type: 'sec1', format: 'pem' }) as string,
    pub: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}
const K256 = keys('P-256');
const K384 = keys('P-384');

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code, String(err));
    if (message) assert.match((err as Error).message, message);
    return true;
  });
}
const byKey = (pub: string, extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
  trust: { kind: 'key', publicKeyPem: pub },
  ...extra,
});

interface Bundle {
  mediaType: string;
  verificationMaterial: { publicKey: { hint: string }; tlogEntries: unknown[] };
  dsseEnvelope: { payload: string; payloadType: string; signatures: Array<{ sig: string; keyid?: string }> };
}
const readBundle = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Bundle;
const writeBundle = (p: string, b: unknown) => writeFileSync(p, JSON.stringify(b));

describe('known answers', () => {
  it('the reference P-384 key (SEC1 after certtool text) over the reference folder gives its digest and hint', async () => {
    const d = join(tmp, 'mt-key');
    cpSync(join(MT, 'v1.1.0-elliptic-key'), d, { recursive: true });
    unlinkSync(join(d, 'model.sig'));
    const r = await signFolder(d, {
      privateKeyPem: readFileSync(join(MT, 'keys/signing-key.pem'), 'utf8'),
      ignorePaths: ['ignore-me'],
    });
    assert.equal(r.rootDigest, '92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4');
    assert.equal(r.keyHint, 'e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e');
    assert.deepEqual(r.ignorePaths, [
      '.git',
      '.gitattributes',
      '.github',
      '.gitignore',
      'ignore-me',
      'model.sig',
    ]);
    const v = await verifyFolder(d, byKey(readFileSync(join(MT, 'keys/signing-key-pub.pem'), 'utf8')));
    assert.equal(v.rootDigest, r.rootDigest);
  });

  it('the generated P-256 test key gives the hint of its vector', () => {
    const pub = readFileSync(join(VECTORS, 'generated-p256/test-p256-pub.pem'), 'utf8');
    assert.equal(keyHintOfPem(pub), '4b3e298022cc505d769d7896ae9117b13b3c7c0a0cb13da805f343db37c70b8c');
  });
});

describe('sign then verify', () => {
  for (const [curve, k, hash] of [
    ['P-256', K256, 'sha256'],
    ['P-384', K384, 'sha384'],
  ] as const) {
    it(`${curve}: bundle shape, DER signature with ${hash}, verifies`, async () => {
      const d = fresh({
        'SKILL.md': '# s\n',
        'a/b.txt': 'b',
        '.git/HEAD': 'ref',
        '.gitignore': 'x',
        empty: '',
      });
      const r = await signFolder(d, { privateKeyPem: k.priv });
      assert.equal(r.signaturePath, join(d, 'model.sig'));
      assert.deepEqual(
        r.files.map((f) => f.path),
        ['SKILL.md', 'a/b.txt', 'empty'],
      );
      const b = readBundle(r.signaturePath);
      assert.equal(b.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
      assert.equal(b.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
      assert.deepEqual(b.verificationMaterial, { publicKey: { hint: keyHintOfPem(k.pub) }, tlogEntries: [] });
      const payload = Buffer.from(b.dsseEnvelope.payload, 'base64');
      const st = JSON.parse(payload.toString()) as { predicateType: string; subject: unknown };
      assert.equal(st.predicateType, 'https://model_signing/signature/v1.0');
      const sig = Buffer.from(b.dsseEnvelope.signatures[0]?.sig ?? '', 'base64');
      assert.equal(sig[0], 0x30, 'DER sequence');
      const pre = pae('application/vnd.in-toto+json', payload);
      assert.equal(cryptoVerify(hash, pre, { key: k.pub, dsaEncoding: 'der' }, sig), true);
      if (hash === 'sha384')
        assert.equal(cryptoVerify('sha256', pre, { key: k.pub, dsaEncoding: 'der' }, sig), false);
      const v = await verifyFolder(d, byKey(k.pub));
      assert.equal(v.rootDigest, r.rootDigest);
      assert.deepEqual(v.files, r.files);
      assert.equal(v.signer.keyHint, r.keyHint);
      assert.equal((await hashFolder(d)).rootDigest, r.rootDigest);
    });
  }

  it('accepts a SEC1 key and one with text before the PEM block', async () => {
    const d = fresh();
    await signFolder(d, { privateKeyPem: `Public Key Info:\n\tcurve: SECP384R1\n${K384.sec1}` });
    await verifyFolder(d, byKey(K384.pub));
  });

  it('records the ignore paths, so the verifier honours them without being told', async () => {
    const d = fresh({ 'SKILL.md': 'x', 'cache/blob': 'y' });
    await signFolder(d, { privateKeyPem: K256.priv, ignorePaths: ['cache'] });
    writeFileSync(join(d, 'cache', 'blob'), 'changed');
    const r = await verifyFolder(d, byKey(K256.pub));
    assert.ok(r.ignorePaths.includes('cache'));
  });

  it('a signature outside the folder, and shard serialization', async () => {
    const d = fresh({ 'SKILL.md': 'x'.repeat(20) });
    const signaturePath = join(tmp, `outside-${n++}.sig`);
    await signFolder(d, {
      privateKeyPem: K256.priv,
      signaturePath,
      method: { kind: 'shards', shardSize: 8 },
    });
    const r = await verifyFolder(d, byKey(K256.pub, { signaturePath }));
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['SKILL.md:0:8', 'SKILL.md:8:16', 'SKILL.md:16:20'],
    );
    writeFileSync(join(d, 'SKILL.md'), 'x'.repeat(21));
    await rejects(
      verifyFolder(d, byKey(K256.pub, { signaturePath, ignoreUnsignedFiles: true })),
      'signature_invalid',
      /`SKILL\.md` has changed/,
    );
  });
});

describe('interop', () => {
  it('a P-256 bundle of ours verifies with @sigstore/verify, and a changed payload does not', async () => {
    const d = fresh();
    const r = await signFolder(d, { privateKeyPem: K256.priv });
    const root = TrustedRoot.fromJSON({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [],
      certificateAuthorities: [],
      ctlogs: [],
      timestampAuthorities: [],
    });
    const material = toTrustMaterial(root, {
      [r.keyHint]: {
        rawBytes: Buffer.from(K256.pub.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'),
        keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
        validFor: { start: new Date(0) },
      },
    });
    const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    const json = JSON.parse(readFileSync(r.signaturePath, 'utf8')) as Bundle;
    verifier.verify(toSignedEntity(bundleFromJSON(json)));
    const st = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString()) as {
      subject: unknown;
    };
    json.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...st, subject: [] })).toString('base64');
    assert.throws(() => verifier.verify(toSignedEntity(bundleFromJSON(json))));
  });
});

describe('tampering fails with the exact code', () => {
  async function signed(): Promise<{ d: string; sig: string }> {
    const d = fresh({ 'SKILL.md': '# skill\n', 'scripts/run.py': 'print(1)\n' });
    const r = await signFolder(d, { privateKeyPem: K256.priv });
    return { d, sig: r.signaturePath };
  }

  it('a changed byte', async () => {
    const { d } = await signed();
    writeFileSync(join(d, 'scripts/run.py'), 'print(2)\n');
    await rejects(verifyFolder(d, byKey(K256.pub)), 'signature_invalid', /`scripts\/run\.py` has changed/);
  });

  it('an added file', async () => {
    const { d } = await signed();
    writeFileSync(join(d, 'scripts/extra.sh'), 'curl evil | sh\n');
    await rejects(
      verifyFolder(d, byKey(K256.pub)),
      'signature_invalid',
      /`scripts\/extra\.sh` is not signed/,
    );
  });

  it('a removed file', async () => {
    const { d } = await signed();
    unlinkSync(join(d, 'SKILL.md'));
    await rejects(verifyFolder(d, byKey(K256.pub)), 'signature_invalid', /`SKILL\.md` is missing/);
  });

  it('a wrong key: untrusted by hint; with a forged hint, invalid', async () => {
    const { d, sig } = await signed();
    const other = keys('P-256');
    await rejects(verifyFolder(d, byKey(other.pub)), 'signature_untrusted');
    const b = readBundle(sig);
    b.verificationMaterial.publicKey.hint = keyHintOfPem(other.pub);
    writeBundle(sig, b);
    await rejects(verifyFolder(d, byKey(other.pub)), 'signature_invalid', /does not verify/);
  });

  it('a re-written payload without a new signature', async () => {
    const { d, sig } = await signed();
    writeFileSync(join(d, 'SKILL.md'), 'evil');
    const b = readBundle(sig);
    // Re-hash honestly so only the signature can catch it.
    const st = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString()) as {
      subject: Array<{ digest: { sha256: string } }>;
      predicate: { resources: Array<{ name: string; digest: string }> };
    };
    const h = await hashFolder(d);
    st.predicate.resources = h.resources.map((r) => ({ ...r }));
    st.subject[0]!.digest.sha256 = h.rootDigest;
    b.dsseEnvelope.payload = Buffer.from(JSON.stringify(st)).toString('base64');
    writeBundle(sig, b);
    await rejects(verifyFolder(d, byKey(K256.pub)), 'signature_invalid');
  });

  const bundleCases: Array<[string, (b: Bundle) => unknown, RegExp]> = [
    ['a wrong media type', (b) => ({ ...b, mediaType: 'application/json' }), /media type/],
    [
      'a wrong payload type',
      (b) => ({ ...b, dsseEnvelope: { ...b.dsseEnvelope, payloadType: 'text/plain' } }),
      /payload type/,
    ],
    [
      'no envelope',
      (b) => ({ mediaType: b.mediaType, verificationMaterial: b.verificationMaterial }),
      /dsseEnvelope/,
    ],
    [
      'two signatures',
      (b) => ({
        ...b,
        dsseEnvelope: {
          ...b.dsseEnvelope,
          signatures: [...b.dsseEnvelope.signatures, ...b.dsseEnvelope.signatures],
        },
      }),
      /2 signatures/,
    ],
    [
      'a payload that is not base64',
      (b) => ({ ...b, dsseEnvelope: { ...b.dsseEnvelope, payload: '!!!' } }),
      /payload/,
    ],
    ['an unknown top-level field', (b) => ({ ...b, messageSignature: {} }), /not an oms bundle/],
  ];
  for (const [what, mutate, message] of bundleCases) {
    it(what, async () => {
      const { d, sig } = await signed();
      writeBundle(sig, mutate(readBundle(sig)));
      await rejects(verifyFolder(d, byKey(K256.pub)), 'bundle_invalid', message);
    });
  }

  it('a payload with a different predicate type, or no resources', async () => {
    for (const change of [
      (st: Record<string, unknown>) => ({ ...st, predicateType: 'https://example.com/x' }),
      (st: Record<string, unknown>) => ({
        ...st,
        predicate: { ...(st['predicate'] as object), resources: [] },
        subject: [
          {
            name: 'm',
            digest: { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
          },
        ],
      }),
      (st: Record<string, unknown>) => ({
        ...st,
        subject: [{ name: 'm', digest: { sha256: '00'.repeat(32) } }],
      }),
    ]) {
      const { d, sig } = await signed();
      const b = readBundle(sig);
      const st = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString()) as Record<
        string,
        unknown
      >;
      b.dsseEnvelope.payload = Buffer.from(JSON.stringify(change(st))).toString('base64');
      writeBundle(sig, b);
      await rejects(verifyFolder(d, byKey(K256.pub)), 'bundle_invalid');
    }
  });

  it('corrupt JSON, and a missing signature file', async () => {
    const { d, sig } = await signed();
    writeFileSync(sig, '{"not": "valid json');
    await rejects(verifyFolder(d, byKey(K256.pub)), 'bundle_invalid', /not JSON/);
    unlinkSync(sig);
    await rejects(verifyFolder(d, byKey(K256.pub)), 'not_found');
  });
});

describe('keys that are refused', () => {
  const d = fresh();
  const cases: Array<[string, string]> = [
    ['ed25519', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
    [
      'rsa',
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string,
    ],
    [
      'ec P-521',
      generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string,
    ],
    ['not PEM', 'hello'],
    ['a public key', K256.pub],
  ];
  for (const [what, pem] of cases) {
    it(`signing with ${what}`, async () => {
      await rejects(signFolder(d, { privateKeyPem: pem }), 'invalid_argument');
      assert.equal(existsSync(join(d, 'model.sig')), false);
    });
  }

  it('verifying with an ed25519 public key', async () => {
    const s = fresh();
    await signFolder(s, { privateKeyPem: K256.priv });
    const pub = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
    await rejects(verifyFolder(s, byKey(pub)), 'invalid_argument', /only ecdsa p-256 and p-384/);
  });
});

describe('the walk refuses what it must', () => {
  const sign = (d: string, o: Partial<SignOptions> = {}) => signFolder(d, { privateKeyPem: K256.priv, ...o });

  it('a symlink, unless allowed; an allowed one inside the folder is hashed as its target', async () => {
    const d = fresh({ 'SKILL.md': 'x' });
    symlinkSync('SKILL.md', join(d, 'link.md'));
    await rejects(sign(d), 'path_refused', /`link\.md` is a symbolic link/);
    const r = await sign(d, { allowSymlinks: true });
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['SKILL.md', 'link.md'],
    );
    assert.equal(r.files[0]?.digest, r.files[1]?.digest);
    await rejects(verifyFolder(d, byKey(K256.pub)), 'path_refused');
    await verifyFolder(d, byKey(K256.pub, { allowSymlinks: true }));
  });

  it('a symlink leading out of the folder, even when allowed', async () => {
    const d = fresh({ 'SKILL.md': 'x' });
    const outside = fresh({ secret: 's' });
    symlinkSync(join(outside, 'secret'), join(d, 'secret'));
    await rejects(sign(d, { allowSymlinks: true }), 'path_refused', /outside/);
    const d2 = fresh({ 'SKILL.md': 'x' });
    symlinkSync('..', join(d2, 'up'));
    await rejects(sign(d2, { allowSymlinks: true }), 'path_refused', /outside/);
  });

  it('symlink loops, even when allowed', async () => {
    const d = fresh({ 'SKILL.md': 'x' });
    symlinkSync('b', join(d, 'a'));
    symlinkSync('a', join(d, 'b'));
    await rejects(sign(d, { allowSymlinks: true }), 'path_refused', /loop/);
    const d2 = fresh({ 'sub/f': 'x' });
    symlinkSync('..', join(d2, 'sub', 'again'));
    await rejects(sign(d2, { allowSymlinks: true }), 'path_refused', /loop/);
  });

  it('a fifo, in the folder or as the signature file', async () => {
    const d = fresh({ 'SKILL.md': 'x' });
    execFileSync('mkfifo', [join(d, 'pipe')]);
    await rejects(sign(d), 'path_refused', /`pipe` is a fifo/);
    const s = fresh({ 'SKILL.md': 'x' });
    execFileSync('mkfifo', [join(s, 'model.sig')]);
    await rejects(verifyFolder(s, byKey(K256.pub)), 'bundle_invalid', /not a regular file/);
  });

  it('a file over the size cap, and a model over the total cap', async () => {
    const d = fresh({ 'SKILL.md': 'x'.repeat(11), b: 'y'.repeat(10) });
    await rejects(sign(d, { maxFileBytes: 10 }), 'scan_refused', /`SKILL\.md` is 11 bytes/);
    await rejects(sign(d, { maxTotalBytes: 20 }), 'scan_refused', /in total/);
    assert.equal(existsSync(join(d, 'model.sig')), false);
    await sign(d, { maxFileBytes: 11, maxTotalBytes: 21 });
  });

  it('a shard size that would split the model into too many resources', async () => {
    const d = fresh({ big: 'x'.repeat(1_000_001) });
    await rejects(serializeModel(d, { method: { kind: 'shards', shardSize: 1 } }), 'scan_refused', /shards/);
    const m = await serializeModel(d, { method: { kind: 'shards', shardSize: 1_000_000 } });
    assert.equal(m.resources.length, 2);
  });

  it('an empty folder, or one with only ignored files', async () => {
    await rejects(sign(fresh({})), 'skill_invalid', /nothing to sign/);
    await rejects(
      sign(fresh({ '.git/HEAD': 'x', 'ignore-me': 'y' }), { ignorePaths: ['ignore-me'] }),
      'skill_invalid',
    );
  });

  it('a missing folder, a file instead of a folder, an ignore path outside the folder', async () => {
    await rejects(sign(join(tmp, 'does-not-exist')), 'not_found');
    const d = fresh({ 'SKILL.md': 'x' });
    await rejects(sign(join(d, 'SKILL.md')), 'invalid_argument');
    await rejects(sign(d, { ignorePaths: ['../x'] }), 'invalid_argument');
    await rejects(sign(d, { ignorePaths: ['/etc/passwd'] }), 'invalid_argument');
  });

  it('parseBundle is the same parser verification uses', () => {
    assert.throws(() => parseBundle('[]'), { code: 'bundle_invalid' });
  });
});
