// Upstream credentials: every value the gateway resolves, from the secrets file or from its
// environment, is scrubbed from text that could reach an agent or a log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secrets } from '../../src/gateway/secrets.js';
import { redactSecrets } from '../../src/policy/inspect-result.js';

test('secrets from the file and from the environment are both scrubbed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-secrets-'));
  try {
    const file = join(dir, 'secrets.yaml');
    writeFileSync(file, 'up-token: file-secret-123\n', { mode: 0o600 });
    const s = Secrets.load(file);
    assert.equal(s.resolve({ secret: 'up-token' }), 'file-secret-123');
    assert.equal(s.resolve({ env: 'MAIL_TOKEN' }, { MAIL_TOKEN: 'env-secret-456' }), 'env-secret-456');
    assert.equal(
      s.scrub('401: bad token env-secret-456 (had file-secret-123)'),
      '401: bad token [redacted] (had [redacted])',
    );
    assert.throws(() => s.resolve({ env: 'MISSING' }, {}), {
      code: 'config_invalid',
      message: 'environment variable `MISSING` is not set',
    });
    chmodSync(file, 0o644);
    assert.throws(() => Secrets.load(file), {
      code: 'config_invalid',
      message: /is readable by others: run chmod 600 on it$/,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('redaction patterns are made once and include a value resolved later', () => {
  const s = Secrets.empty();
  assert.deepEqual(s.patterns(), []);
  assert.equal(s.resolve({ env: 'A' }, { A: 'tok.en+1' }), 'tok.en+1');
  const first = s.patterns();
  assert.equal(s.patterns(), first, 'the same patterns while nothing is added');
  assert.deepEqual(
    first.map((p) => p.source),
    ['tok\\.en\\+1'],
  );
  s.resolve({ env: 'B' }, { B: 'second-secret' });
  const second = s.patterns();
  assert.notEqual(second, first);
  assert.equal(
    redactSecrets({ text: 'tok.en+1 then second-secret, not tokXen+1' }, second).result.text,
    '[redacted] then [redacted], not tokXen+1',
  );
});
