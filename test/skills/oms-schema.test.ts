// The OMS v1.0 JSON schemas (2020-12) against the spec's test vectors and against what our signer
// writes: valid vectors pass, invalid ones fail (the schema and our parser agree), and every
// bundle we produce with P-256 and P-384 keys passes the bundle, statement and predicate schemas.

import * as assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Ajv2020, type AnySchemaObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parseBundle, signFolder } from '../../src/skills/oms/index.js';

const VECTORS = fileURLToPath(new URL('../../../shared/vectors/oms/', import.meta.url));
if (!existsSync(join(VECTORS, 'README.txt'))) {
  throw new Error(`the OMS vectors are missing at ${VECTORS}: they are required for these tests`);
}
const SPEC = join(VECTORS, 'oms-spec');
const SCHEMAS = join(SPEC, 'schemas/v1.0');
const TV = join(SPEC, 'test-vectors/v1.0');

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormatsModule.default(ajv);
for (const f of readdirSync(SCHEMAS)) {
  ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS, f), 'utf8')) as AnySchemaObject);
}
function schema(id: string): ValidateFunction {
  const v = ajv.getSchema(`https://model_signing/${id}/v1.0/schema`);
  assert.ok(v, `schema ${id}`);
  return v;
}
const bundleSchema = schema('bundle');
const statementSchema = schema('statement');
const predicateSchema = schema('predicate');
const envelopeSchema = schema('envelope');

function payloadOf(bundle: unknown): unknown {
  const b = bundle as { dsseEnvelope: { payload: string } };
  return JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString('utf8'));
}
const read = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));

const tmp = mkdtempSync(join(tmpdir(), 'warden-oms-schema-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('oms-spec test vectors', () => {
  it('holds the four vectors this test knows', () => {
    assert.deepEqual(readdirSync(join(TV, 'valid')).sort(), ['certificate.bundle.json', 'key.bundle.json']);
    assert.deepEqual(readdirSync(join(TV, 'invalid')), ['missing-envelope.bundle.json']);
    assert.deepEqual(readdirSync(join(TV, 'invalid-payload')), ['wrong-predicate.bundle.json']);
  });

  for (const f of ['key.bundle.json', 'certificate.bundle.json']) {
    it(`valid/${f} passes the bundle and statement schemas and our parser`, () => {
      const b = read(join(TV, 'valid', f));
      assert.ok(bundleSchema(b), JSON.stringify(bundleSchema.errors));
      assert.ok(statementSchema(payloadOf(b)), JSON.stringify(statementSchema.errors));
      const parsed = parseBundle(readFileSync(join(TV, 'valid', f), 'utf8'));
      assert.equal(parsed.statement.resources.length > 0, true);
    });
  }

  it('invalid/missing-envelope fails the bundle schema and our parser', () => {
    const p = join(TV, 'invalid/missing-envelope.bundle.json');
    assert.equal(bundleSchema(read(p)), false);
    assert.throws(() => parseBundle(readFileSync(p, 'utf8')), { code: 'bundle_invalid' });
  });

  it('invalid-payload/wrong-predicate fails the statement schema and our parser', () => {
    const p = join(TV, 'invalid-payload/wrong-predicate.bundle.json');
    assert.equal(statementSchema(payloadOf(read(p))), false);
    assert.throws(() => parseBundle(readFileSync(p, 'utf8')), {
      code: 'bundle_invalid',
      message: /predicate type/,
    });
  });
});

describe('bundles we sign pass the OMS schemas', () => {
  const model = join(tmp, 'skill');
  mkdirSync(join(model, 'scripts'), { recursive: true });
  writeFileSync(join(model, 'SKILL.md'), '# a skill\n');
  writeFileSync(join(model, 'scripts', 'run.py'), 'print(1)\n');
  writeFileSync(join(model, 'empty'), '');

  for (const curve of ['P-256', 'P-384'] as const) {
    it(`${curve}`, async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const signaturePath = join(tmp, `${curve}.sig`);
      await signFolder(model, {
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        signaturePath,
      });
      const b = read(signaturePath) as { dsseEnvelope: unknown };
      assert.ok(bundleSchema(b), JSON.stringify(bundleSchema.errors));
      assert.ok(envelopeSchema(b.dsseEnvelope), JSON.stringify(envelopeSchema.errors));
      const st = payloadOf(b) as { predicate: unknown };
      assert.ok(statementSchema(st), JSON.stringify(statementSchema.errors));
      assert.ok(predicateSchema(st.predicate), JSON.stringify(predicateSchema.errors));
    });
  }

  it('the schemas are not vacuous: a bundle of ours with a wrong payload type fails', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signaturePath = join(tmp, 'mutated.sig');
    await signFolder(model, {
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      signaturePath,
    });
    const b = read(signaturePath) as { dsseEnvelope: { payloadType: string } };
    b.dsseEnvelope.payloadType = 'application/json';
    assert.equal(bundleSchema(b), false);
  });
});
