// The OMS conformance suite's verify cases: each case's `config.json` names the model, the key,
// the ignore paths and the expected outcome; its `model_modifications` are applied to a private
// copy of the model first. Every case found must have an expected error code listed here, so a new
// case cannot pass unnoticed.

import * as assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { verifyFolder } from '../../src/skills/oms/index.js';

const VECTORS = fileURLToPath(new URL('../../../shared/vectors/oms/', import.meta.url));
if (!existsSync(join(VECTORS, 'README.txt'))) {
  throw new Error(`the OMS vectors are missing at ${VECTORS}: they are required for these tests`);
}
const CONF = join(VECTORS, 'conformance');

/** The code each negative case must fail with (the reasons are in the README of the vectors). */
const EXPECTED_FAILURES: Record<string, { code: string; message: RegExp }> = {
  'key-simple-tampered-content_fail': { code: 'signature_invalid', message: /`signme-1` has changed/ },
  'key-simple-extra-file_fail': { code: 'signature_invalid', message: /`injected\.bin` is not signed/ },
  'key-simple-wrong-key_fail': { code: 'signature_untrusted', message: /names key/ },
  'key-simple-wrong-mediatype_fail': { code: 'bundle_invalid', message: /media type `application\/json`/ },
  'malformed-wrong-predicate_fail': { code: 'bundle_invalid', message: /predicate type/ },
  'malformed-empty-resources_fail': { code: 'bundle_invalid', message: /no resources/ },
  'key-simple-corrupted-bundle_fail': { code: 'bundle_invalid', message: /not JSON/ },
};
const POSITIVE = ['key-simple', 'key-simple-go', 'key-multi-file'];

interface CaseConfig {
  model: string;
  expect?: string;
  expected_signed_files?: string[];
  model_modifications?: {
    delete?: string[];
    inject?: Record<string, string>;
    tamper?: Record<string, string>;
  };
  verify: { public_key: string; ignore_paths?: string[] };
}

const tmp = mkdtempSync(join(tmpdir(), 'warden-oms-conformance-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function prepare(name: string, c: CaseConfig): string {
  const dir = join(tmp, name);
  cpSync(join(CONF, c.model), dir, { recursive: true });
  const m = c.model_modifications ?? {};
  for (const p of m.delete ?? []) rmSync(join(dir, p), { recursive: true, force: true });
  for (const [p, body] of Object.entries(m.inject ?? {})) writeFileSync(join(dir, p), body);
  for (const [p, body] of Object.entries(m.tamper ?? {})) {
    assert.ok(existsSync(join(dir, p)), `tamper target ${p} exists`);
    writeFileSync(join(dir, p), body);
  }
  return dir;
}

function cases(kind: 'positive' | 'negative'): string[] {
  return readdirSync(join(CONF, 'verify', kind)).sort();
}

describe('conformance verify cases', () => {
  it('the suite holds exactly the cases listed here', () => {
    assert.deepEqual(cases('positive'), [...POSITIVE].sort());
    assert.deepEqual(cases('negative'), Object.keys(EXPECTED_FAILURES).sort());
  });

  for (const kind of ['positive', 'negative'] as const) {
    for (const name of cases(kind)) {
      it(`${kind}/${name}`, async () => {
        const caseDir = join(CONF, 'verify', kind, name);
        const c = JSON.parse(readFileSync(join(caseDir, 'config.json'), 'utf8')) as CaseConfig;
        const dir = prepare(name, c);
        const key = readFileSync(join(CONF, 'keys', basename(c.verify.public_key)), 'utf8');
        const run = verifyFolder(dir, {
          trust: { kind: 'key', publicKeyPem: key },
          signaturePath: join(caseDir, 'bundle.sig'),
          ignorePaths: c.verify.ignore_paths ?? [],
        });
        if (kind === 'positive') {
          assert.notEqual(c.expect, 'fail');
          const r = await run;
          assert.deepEqual(
            r.files.map((f) => f.path),
            c.expected_signed_files,
          );
          return;
        }
        assert.equal(c.expect, 'fail');
        const want = EXPECTED_FAILURES[name];
        assert.ok(want, `no expected failure for ${name}`);
        await assert.rejects(run, (err: unknown) => {
          assert.equal((err as { code?: string }).code, want.code, String(err));
          assert.match((err as Error).message, want.message);
          return true;
        });
      });
    }
  }

  it('the tampered and extra-file bundles are themselves valid on the untouched model', async () => {
    const key = readFileSync(join(CONF, 'keys/signing-key-pub.pem'), 'utf8');
    for (const name of ['key-simple-tampered-content_fail', 'key-simple-extra-file_fail']) {
      const dir = join(tmp, `${name}-untouched`);
      cpSync(join(CONF, 'models/simple'), dir, { recursive: true });
      const r = await verifyFolder(dir, {
        trust: { kind: 'key', publicKeyPem: key },
        signaturePath: join(CONF, 'verify/negative', name, 'bundle.sig'),
        ignorePaths: ['ignore-me'],
      });
      assert.equal(r.rootDigest, '92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4');
    }
  });
});
