// Known-answer tests of the OMS verifier and serializer against the published vectors of the
// reference implementation (model-transparency): the current key, certificate and keyless bundles,
// the two legacy key formats, the payload goldens (files, shards, a single file, deep folders),
// and a P-256 bundle made with another Sigstore signer.

import * as assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import {
  buildStatement,
  serializeModel,
  verifyFolder,
  type SerializationMethod,
  type VerifyOptions,
} from '../../src/skills/oms/index.js';

const VECTORS = fileURLToPath(new URL('../../../shared/vectors/oms/', import.meta.url));
if (!existsSync(join(VECTORS, 'README.txt'))) {
  throw new Error(`the OMS vectors are missing at ${VECTORS}: they are required for these tests`);
}
const MT = join(VECTORS, 'model-transparency');
const text = (p: string) => readFileSync(p, 'utf8');
const PUB = text(join(MT, 'keys/signing-key-pub.pem'));
const WRONG_P256 = text(join(VECTORS, 'conformance/keys/wrong-key-pub.pem'));
const HINT = 'e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e';
const SIGNME_1 = 'bc9a717db6064a32cbe9eae6fc40651dd6d36ef1757183f590eff2b1765d7ebc';

const tmp = mkdtempSync(join(tmpdir(), 'warden-oms-vectors-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
/** A private copy of a vector folder, safe to modify. */
function copy(src: string): string {
  const dst = join(tmp, `c${n++}`);
  cpSync(src, dst, { recursive: true });
  return dst;
}

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code, String(err));
    if (message) assert.match((err as Error).message, message);
    return true;
  });
}

const keyTrust = (publicKeyPem = PUB): VerifyOptions['trust'] => ({ kind: 'key', publicKeyPem });

describe('v1.1.0 elliptic key (P-384, hint)', () => {
  const dir = join(MT, 'v1.1.0-elliptic-key');

  it('verifies with the P-384 public key: root digest, files, hint, ignored paths', async () => {
    const r = await verifyFolder(dir, { trust: keyTrust() });
    assert.equal(r.rootDigest, '92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4');
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['signme-1', 'signme-2'],
    );
    assert.equal(r.files[0]?.digest, SIGNME_1);
    assert.deepEqual(r.signer, { method: 'key', keyHint: HINT });
    assert.ok(r.ignorePaths.includes('ignore-me') && r.ignorePaths.includes('model.sig'));
  });

  it('fails when one byte of a signed file changes', async () => {
    const d = copy(dir);
    const b = readFileSync(join(d, 'signme-1'));
    b[0] = (b[0] ?? 0) ^ 1;
    writeFileSync(join(d, 'signme-1'), b);
    await rejects(verifyFolder(d, { trust: keyTrust() }), 'signature_invalid', /`signme-1` has changed/);
  });

  it('fails on a new file unless unsigned files are ignored', async () => {
    const d = copy(dir);
    writeFileSync(join(d, 'new-file'), 'x');
    await rejects(verifyFolder(d, { trust: keyTrust() }), 'signature_invalid', /`new-file` is not signed/);
    const r = await verifyFolder(d, { trust: keyTrust(), ignoreUnsignedFiles: true });
    assert.equal(r.files.length, 2);
  });

  it('fails on a missing file even when unsigned files are ignored', async () => {
    const d = copy(dir);
    unlinkSync(join(d, 'signme-2'));
    await rejects(
      verifyFolder(d, { trust: keyTrust(), ignoreUnsignedFiles: true }),
      'signature_invalid',
      /`signme-2` is missing/,
    );
  });

  it('refuses another key (hint mismatch)', async () => {
    await rejects(verifyFolder(dir, { trust: keyTrust(WRONG_P256) }), 'signature_untrusted', /names key/);
  });

  it('refuses the key bundle under certificate trust', async () => {
    await rejects(
      verifyFolder(dir, { trust: { kind: 'certificate', caChainPem: [text(join(MT, 'keys/ca-cert.pem'))] } }),
      'signature_untrusted',
    );
  });
});

describe('v1.1.0 certificate (leaf -> intermediate -> root, P-384 leaf)', () => {
  const dir = join(MT, 'v1.1.0-certificate');
  const ca = text(join(MT, 'keys/ca-cert.pem'));

  it('verifies against the root CA, at the leaf notBefore', async () => {
    const r = await verifyFolder(dir, { trust: { kind: 'certificate', caChainPem: [ca] } });
    assert.equal(r.rootDigest, '61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226');
    assert.equal(r.signer.method, 'certificate');
    assert.equal(r.signer.subject, 'CN=intermediate-ca');
    assert.equal(r.signer.issuer, 'CN=intermediate-ca');
    assert.match(r.signer.fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('refuses an unrelated trust anchor', async () => {
    const root = JSON.parse(text(join(VECTORS, 'sigstore/trusted_root.production.json'))) as {
      certificateAuthorities: Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>;
    };
    const der = root.certificateAuthorities[0]?.certChain.certificates.at(-1)?.rawBytes ?? '';
    const pem = `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)?.join('\n')}\n-----END CERTIFICATE-----\n`;
    await rejects(
      verifyFolder(dir, { trust: { kind: 'certificate', caChainPem: [pem] } }),
      'signature_untrusted',
      /does not chain/,
    );
  });

  it('refuses a chain with the intermediate removed', async () => {
    const d = copy(dir);
    const b = JSON.parse(text(join(d, 'model.sig'))) as {
      verificationMaterial: { x509CertificateChain: { certificates: unknown[] } };
    };
    b.verificationMaterial.x509CertificateChain.certificates.splice(1);
    writeFileSync(join(d, 'model.sig'), JSON.stringify(b));
    await rejects(
      verifyFolder(d, { trust: { kind: 'certificate', caChainPem: [ca] } }),
      'signature_untrusted',
    );
  });

  it('fails when a signed file changes', async () => {
    const d = copy(dir);
    writeFileSync(join(d, 'signme-2'), 'changed');
    await rejects(
      verifyFolder(d, { trust: { kind: 'certificate', caChainPem: [ca] } }),
      'signature_invalid',
      /`signme-2`/,
    );
  });

  it('needs at least one anchor', async () => {
    await rejects(
      verifyFolder(dir, { trust: { kind: 'certificate', caChainPem: ['no pem'] } }),
      'invalid_argument',
    );
  });
});

describe('v1.1.0 sigstore (keyless, offline trusted root)', () => {
  const dir = join(MT, 'v1.1.0-sigstore');
  const trustedRootJson = text(join(VECTORS, 'sigstore/trusted_root.production.json'));
  const identity = 'stefanb@us.ibm.com';
  const issuer = 'https://sigstore.verify.ibm.com/oauth2';

  it('verifies for the right identity and issuer', async () => {
    const r = await verifyFolder(dir, { trust: { kind: 'keyless', trustedRootJson, identity, issuer } });
    assert.equal(r.rootDigest, '61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226');
    assert.deepEqual(r.signer, { method: 'keyless', identity, issuer });
  });

  it('refuses a wrong identity', async () => {
    await rejects(
      verifyFolder(dir, {
        trust: { kind: 'keyless', trustedRootJson, identity: 'someone@example.com', issuer },
      }),
      'signature_untrusted',
      /identity/,
    );
  });

  it('refuses a wrong issuer', async () => {
    await rejects(
      verifyFolder(dir, {
        trust: { kind: 'keyless', trustedRootJson, identity, issuer: 'https://accounts.google.com' },
      }),
      'signature_untrusted',
    );
  });

  it('fails when a signed file changes after the keyless check passes', async () => {
    const d = copy(dir);
    writeFileSync(join(d, 'signme-1'), 'changed');
    await rejects(
      verifyFolder(d, { trust: { kind: 'keyless', trustedRootJson, identity, issuer } }),
      'signature_invalid',
      /`signme-1`/,
    );
  });

  it('refuses a trusted root that is not one', async () => {
    await rejects(
      verifyFolder(dir, { trust: { kind: 'keyless', trustedRootJson: 'nope', identity, issuer } }),
      'invalid_argument',
    );
  });
});

describe('legacy formats', () => {
  it('v1.0.1: publicKey.rawBytes, keyid null, no ignore_paths', async () => {
    const dir = join(MT, 'v1.0.1-elliptic-key');
    const r = await verifyFolder(dir, { trust: keyTrust(), ignorePaths: ['ignore-me'] });
    assert.equal(r.rootDigest, '92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4');
    // Without the signer's ignore list the extra file is unsigned.
    await rejects(verifyFolder(dir, { trust: keyTrust() }), 'signature_invalid', /`ignore-me` is not signed/);
    await rejects(
      verifyFolder(dir, { trust: keyTrust(WRONG_P256), ignorePaths: ['ignore-me'] }),
      'signature_untrusted',
      /embeds a different key/,
    );
  });

  it('v1.0.0: a single-file model whose resource is named `.`', async () => {
    const dir = join(MT, 'v1.0.0-elliptic-key');
    const r = await verifyFolder(join(dir, 'signme-1'), { trust: keyTrust() });
    assert.equal(r.rootDigest, 'afa48c8674afe334b8a7dea34f7b46ab256e9255edf8da2132792341b667a45b');
    assert.deepEqual(r.files, [{ path: '.', digest: SIGNME_1 }]);
    const d = copy(dir);
    writeFileSync(join(d, 'signme-1'), 'changed');
    await rejects(
      verifyFolder(join(d, 'signme-1'), { trust: keyTrust() }),
      'signature_invalid',
      /`\.` has changed/,
    );
  });
});

describe('generated P-256 bundle (keyid = hint, empty timestampVerificationData)', () => {
  it('verifies with SHA-256', async () => {
    const dir = join(VECTORS, 'generated-p256/model');
    const pub = text(join(VECTORS, 'generated-p256/test-p256-pub.pem'));
    const r = await verifyFolder(dir, { trust: keyTrust(pub), ignorePaths: ['ignore-me'] });
    assert.equal(r.signer.keyHint, '4b3e298022cc505d769d7896ae9117b13b3c7c0a0cb13da805f343db37c70b8c');
    assert.equal(r.rootDigest, '92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4');
    await rejects(verifyFolder(dir, { trust: keyTrust(PUB) }), 'signature_untrusted');
  });
});

describe('payload goldens (models rebuilt from the reference fixtures)', () => {
  const models = join(tmp, 'golden-models');
  const sample = join(models, 'sample_model');
  for (let i = 0; i < 2; i++) {
    mkdirSync(join(sample, `d${i}`), { recursive: true });
    for (let j = 0; j < 3; j++)
      writeFileSync(join(sample, `d${i}`, `f${i}${j}`), `This is file f${i}${j} in d${i}.`);
  }
  for (let i = 0; i < 4; i++) writeFileSync(join(sample, `f${i}`), `This is file f${i} in root.`);
  writeFileSync(join(models, 'file_model'), 'This is a simple model');
  const deep = join(models, 'deep_model/d0/d1/d2/d3/d4');
  mkdirSync(deep, { recursive: true });
  for (let i = 0; i < 4; i++) writeFileSync(join(deep, `f${i}`), `This is file f${i}.`);

  const cases: Array<[string, string, SerializationMethod]> = [
    ['sample_model_folder', 'sample_model', { kind: 'files' }],
    ['sample_model_folder_shard', 'sample_model', { kind: 'shards', shardSize: 1_000_000_000 }],
    ['sample_model_folder_small_shards', 'sample_model', { kind: 'shards', shardSize: 8 }],
    ['sample_model_file', 'file_model', { kind: 'files' }],
    ['deep_model_folder', 'deep_model', { kind: 'files' }],
  ];
  for (const [golden, model, method] of cases) {
    it(`${golden}: resources, order and root digest match exactly`, async () => {
      const g = JSON.parse(text(join(MT, 'payload-goldens', `${golden}.json`))) as {
        subject: Array<{ name: string; digest: { sha256: string } }>;
        predicate: { resources: unknown[]; serialization: Record<string, unknown> };
      };
      const m = await serializeModel(join(models, model), { method, allowSymlinks: true });
      assert.deepEqual(
        m.resources.map((r) => ({ algorithm: r.algorithm, digest: r.digest, name: r.name })),
        g.predicate.resources,
      );
      assert.equal(m.rootDigest, g.subject[0]?.digest.sha256);
      const st = buildStatement({
        subjectName: model,
        rootDigest: m.rootDigest,
        resources: m.resources,
        method,
        allowSymlinks: true,
        ignorePaths: [],
      }) as { subject: unknown; predicate: { serialization: Record<string, unknown> } };
      assert.deepEqual(st.subject, g.subject);
      // The goldens predate recorded ignore paths; everything else must match.
      const ser = { ...st.predicate.serialization };
      assert.deepEqual(ser['ignore_paths'], []);
      delete ser['ignore_paths'];
      assert.deepEqual(ser, g.predicate.serialization);
    });
  }

  it('the rebuilt fixtures equal the copies shipped with the vectors', async () => {
    for (const model of ['sample_model', 'file_model', 'deep_model']) {
      const a = await serializeModel(join(models, model));
      const b = await serializeModel(join(MT, 'payload-goldens/models', model));
      assert.equal(a.rootDigest, b.rootDigest, model);
    }
  });

  it('orders shards by numeric start, not as strings', async () => {
    const d = join(tmp, 'shard-order');
    mkdirSync(d);
    writeFileSync(join(d, 'a'), Buffer.alloc(25, 1));
    writeFileSync(join(d, 'empty'), '');
    const m = await serializeModel(d, { method: { kind: 'shards', shardSize: 4 } });
    assert.deepEqual(
      m.resources.map((r) => r.name),
      ['a:0:4', 'a:4:8', 'a:8:12', 'a:12:16', 'a:16:20', 'a:20:24', 'a:24:25'],
    );
  });

  it('orders paths by their parts, as the reference does (`a/b` before `a-b`)', async () => {
    const d = join(tmp, 'path-order');
    mkdirSync(join(d, 'a'), { recursive: true });
    writeFileSync(join(d, 'a-b'), '1');
    writeFileSync(join(d, 'a', 'b'), '2');
    writeFileSync(join(d, 'B'), '3');
    const m = await serializeModel(d);
    assert.deepEqual(
      m.resources.map((r) => r.name),
      ['B', 'a/b', 'a-b'],
    );
  });
});
