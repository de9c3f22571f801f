// The agent credential file: written owner-only and never over another file; read back only when
// owner-only, strictly shaped, and holding a key pair whose halves match.

import * as assert from 'node:assert/strict';
import { sign, verify } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WardenError } from '../../src/errors.js';
import {
  readCredentialFile,
  writeCredentialFile,
  type NewCredentials,
} from '../../src/identity/credentials.js';
import { generateAgentKey, importPublicJwk } from '../../src/identity/jwk.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-creds-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const path = () => join(dir, `c${n++}.json`);

function creds(alg: 'ES256' | 'EdDSA' = 'ES256'): NewCredentials & { publicJwk: unknown } {
  const { publicJwk, privateJwk } = generateAgentKey(alg);
  return {
    agentId: 'spiffe://warden.local/agent/support/a1',
    issuer: 'http://127.0.0.1:8787',
    tokenEndpoint: 'http://127.0.0.1:8787/oauth/token',
    alg,
    privateJwk,
    publicJwk,
  };
}

function rejectsWith(fn: () => unknown, code: string, fragment: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WardenError);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.includes(fragment), err.message);
    return true;
  });
}

/** Write a hand-made file with owner-only mode, for the malformed-content cases. */
function raw(content: unknown): string {
  const p = path();
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
  return p;
}

describe('credential file', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`round-trips an ${alg} key, owner-only, and the key signs`, () => {
      const c = creds(alg);
      const p = path();
      writeCredentialFile(p, c);
      assert.equal(statSync(p).mode & 0o777, 0o600);
      const read = readCredentialFile(p);
      assert.equal(read.agentId, c.agentId);
      assert.equal(read.issuer, c.issuer);
      assert.equal(read.tokenEndpoint, c.tokenEndpoint);
      assert.equal(read.alg, alg);
      assert.deepEqual(read.publicJwk, c.publicJwk);
      const data = Buffer.from('hello');
      const hash = alg === 'ES256' ? 'sha256' : null;
      const sig = sign(hash, data, read.privateKey);
      assert.ok(verify(hash, data, importPublicJwk(read.publicJwk), sig));
      assert.deepEqual(Object.keys(JSON.parse(readFileSync(p, 'utf8')) as object).sort(), [
        'agent_id',
        'alg',
        'issuer',
        'private_jwk',
        'token_endpoint',
      ]);
    });
  }

  it('refuses to overwrite an existing file', () => {
    const p = path();
    writeFileSync(p, 'precious', { mode: 0o600 });
    rejectsWith(() => writeCredentialFile(p, creds()), 'already_exists', 'already exists');
    assert.equal(readFileSync(p, 'utf8'), 'precious');
  });

  it('refuses a file readable by group or others', () => {
    const p = path();
    writeCredentialFile(p, creds());
    chmodSync(p, 0o644);
    rejectsWith(
      () => readCredentialFile(p),
      'key_file_invalid',
      'is readable by group or others (mode 644): run chmod 600',
    );
    chmodSync(p, 0o640);
    rejectsWith(() => readCredentialFile(p), 'key_file_invalid', 'mode 640');
    chmodSync(p, 0o600);
    assert.ok(readCredentialFile(p));
  });

  it('refuses malformed content', () => {
    const c = creds();
    const good = {
      agent_id: c.agentId,
      issuer: c.issuer,
      token_endpoint: c.tokenEndpoint,
      alg: 'ES256',
      private_jwk: c.privateJwk,
    };
    rejectsWith(() => readCredentialFile(raw('{not json')), 'key_file_invalid', 'is not valid JSON');
    rejectsWith(
      () => readCredentialFile(raw({ ...good, extra: 1 })),
      'key_file_invalid',
      'unknown key `extra`',
    );
    rejectsWith(
      () => readCredentialFile(raw({ ...good, private_jwk: { ...c.privateJwk, kid: 'x' } })),
      'key_file_invalid',
      'unknown key `kid`',
    );
    rejectsWith(() => readCredentialFile(raw({ ...good, alg: 'RS256' })), 'key_file_invalid', 'key `alg`');
    rejectsWith(
      () => readCredentialFile(raw({ ...good, alg: 'EdDSA' })),
      'key_file_invalid',
      'does not match the key type',
    );
    rejectsWith(
      () => readCredentialFile(raw({ ...good, agent_id: 'alice' })),
      'key_file_invalid',
      'key `agent_id`',
    );
    rejectsWith(
      () => readCredentialFile(raw({ ...good, issuer: 'ftp://x' })),
      'key_file_invalid',
      'key `issuer`',
    );
    const publicOnly: Record<string, string> = { ...c.privateJwk };
    delete publicOnly['d'];
    rejectsWith(
      () => readCredentialFile(raw({ ...good, private_jwk: publicOnly })),
      'key_file_invalid',
      'private_jwk.d',
    );
    const other = generateAgentKey('ES256').privateJwk;
    rejectsWith(
      () => readCredentialFile(raw({ ...good, private_jwk: { ...c.privateJwk, d: other['d'] } })),
      'key_file_invalid',
      'the public key does not match the private key',
    );
    const ed = creds('EdDSA');
    const edOther = generateAgentKey('EdDSA').privateJwk;
    const edGood = { ...good, alg: 'EdDSA', private_jwk: ed.privateJwk };
    assert.ok(readCredentialFile(raw(edGood)));
    rejectsWith(
      () => readCredentialFile(raw({ ...edGood, private_jwk: { ...ed.privateJwk, x: edOther['x'] } })),
      'key_file_invalid',
      'the public key does not match the private key',
    );
    rejectsWith(
      () => readCredentialFile(join(dir, 'missing.json')),
      'key_file_invalid',
      'cannot be read: ENOENT',
    );
    rejectsWith(() => readCredentialFile(dir), 'key_file_invalid', 'is not a regular file');
  });
});
