// Hard-coded secrets: well-known token formats and high-entropy values under secret names; obvious
// placeholders and documented example values stay quiet, test-mode keys are low.

import * as assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { scanPath, severityAtLeast } from '../../src/skills/scan/index.js';

async function file(name: string, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scan-sec-'));
  await writeFile(join(dir, name), body);
  return join(dir, name);
}

// Built at run time so this test file is not itself a source of secret-scanner alerts.
const j = (...p: string[]) => p.join('');

test('each well-known token format is found with its rule', async () => {
  const cases: Array<[string, string]> = [
    [j('AKIA', 'Z7Q2M4N6P8R0T2V4'), 'WS001'],
    [j('ghp_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5'), 'WS002'],
    [j('xoxb-', '123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'), 'WS003'],
    [j('sk_live_', '4eC39HqLyjWDarjtT1zdp7dc9Xy'), 'WS004'],
    [j('sk-', 'proj-', 'Ab3De5Fg7Hj9Kl1Mn3Pq5Rs7Tu9Vw1Xy3Za5Bc7De9Fg1Hj3'), 'WS006'],
    [j('sk-ant-', 'api03-', 'Ab3De5Fg7Hj9Kl1Mn3Pq5Rs7Tu9Vw1Xy3Za5Bc7De9Fg1Hj3Kl5'), 'WS006'],
    [j('AIza', 'SyB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z'), 'WS007'],
    [j('glpat-', 'Ab3De5Fg7Hj9Kl1Mn3Pq'), 'WS010'],
  ];
  for (const [token, rule] of cases) {
    const r = await scanPath(await file('config.py', `TOKEN_VALUE = "${token}"\n`));
    const f = r.findings.find((x) => x.ruleId === rule);
    assert.ok(f, `${rule} for ${token.slice(0, 8)}`);
    assert.ok(!f.message.includes(token), 'the secret itself is not repeated');
    assert.equal(f.column, 16);
  }
});

test('a private key block is critical; a truncated example is not', async () => {
  const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n${'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW'.repeat(3)}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const r = await scanPath(await file('id', key));
  assert.equal(r.findings.find((f) => f.ruleId === 'WS008')?.severity, 'critical');
  const ex = await scanPath(
    await file('doc.md', '```\n-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n```\n'),
  );
  assert.deepEqual(ex.findings, []);
});

test('high-entropy values under secret names are found, placeholders are not', async () => {
  const bad = await scanPath(
    await file(
      's.py',
      'db_password = "Xk9#mQ2$vL8@pR4!"\nclient_secret: "9f8e7d6c5b4a39281706f5e4d3c2b1a0"\n',
    ),
  );
  assert.equal(bad.findings.filter((f) => f.ruleId === 'WS011').length, 2);
  const ok = await scanPath(
    await file(
      's.py',
      'API_KEY = "your-api-key-here"\npassword = "<your-password>"\ntoken = "${GITHUB_TOKEN}"\nsecret = "xxxxxxxxxxxxxxxx"\naws = "AKIAIOSFODNN7EXAMPLE"\npassword = os.environ["DB_PASSWORD"]\ntoken_url = "https://auth.example.com/token"\n',
    ),
  );
  assert.deepEqual(
    ok.findings.filter((f) => severityAtLeast(f.severity, 'medium')),
    [],
  );
});

test('Stripe test keys are low, JWTs medium, the jwt.io sample is skipped', async () => {
  const r = await scanPath(await file('k.js', `const k = '${j('sk_test_', '4eC39HqLyjWDarjtT1zdp7dc')}';\n`));
  assert.equal(r.findings.find((f) => f.ruleId === 'WS005')?.severity, 'low');
  const jwt = await scanPath(
    await file(
      'j.md',
      `token ${j('eyJhbGciOiJSUzI1NiJ9', '.', 'eyJzdWIiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0', '.', 'dGhpc2lzYXNpZ25hdHVyZXRoYXRpc2xvbmc')}\n`,
    ),
  );
  assert.equal(jwt.findings.find((f) => f.ruleId === 'WS009')?.severity, 'medium');
  const sample = await scanPath(
    await file(
      's.md',
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n',
    ),
  );
  assert.deepEqual(sample.findings, []);
});

test('passwords in URLs are found, placeholders in URLs are not', async () => {
  const r = await scanPath(await file('c.yaml', 'db: postgres://admin:Zq8vT3nW1x@db.internal:5432/app\n'));
  assert.ok(r.findings.some((f) => f.ruleId === 'WS012'));
  const ok = await scanPath(await file('c.yaml', 'db: postgres://user:password@localhost:5432/app\n'));
  assert.deepEqual(ok.findings, []);
});
