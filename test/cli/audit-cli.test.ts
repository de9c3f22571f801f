// `warden audit` and `warden replay` refuse bad input in one line, with exit code 1.

import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  formatCheckpoint,
  formatSignerKey,
  generateSignerKey,
  signNote,
} from '../../src/audit/verify/index.js';
import { runWarden, succeeded } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-audit-cli-'));
const dataDir = join(dir, 'data');
after(() => rmSync(dir, { recursive: true, force: true }));
before(async () => {
  succeeded(await runWarden(['init', '--data-dir', dataDir], dir));
});

async function refused(args: string[], message: RegExp): Promise<void> {
  const r = await runWarden([...args], dir);
  assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
}

test('show, prove and checkpoint', async () => {
  const d = ['--data-dir', dataDir];
  await refused(['audit', 'show', 'x', ...d], /^warden: the index must be a whole number, not `x`$/m);
  await refused(['audit', 'show', '99', ...d], /^warden: the log has no entry 99 \(it has 1\)$/m);
  await refused(['audit', 'prove', '0', ...d], /no signed checkpoint covers entry 0 yet/);
  succeeded(await runWarden(['audit', 'checkpoint', ...d], dir));
  const bundle = succeeded(await runWarden(['audit', 'prove', '0', ...d], dir)).stdout;
  assert.match(JSON.parse(bundle).format as string, /^warden-evidence\/v1$/);
  await refused(['audit', 'prove', '0', '--size', '7', ...d], /no signed checkpoint has size 7/);
});

test('verify-evidence: unreadable, malformed, and a key that did not sign', async () => {
  const vkey = join(dataDir, 'audit-log.vkey');
  await refused(
    ['audit', 'verify-evidence', join(dir, 'missing.json'), '--key', vkey],
    /cannot read evidence/,
  );
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ format: 'warden-evidence/v1', entry: 'not base64!' }));
  await refused(['audit', 'verify-evidence', bad, '--key', vkey], /^warden: .*entry/m);
});

test('consistency refuses a checkpoint the log did not sign', async () => {
  const other = generateSignerKey('elsewhere.test/audit/00000000', 'ed25519');
  const file = join(dir, 'foreign.checkpoint');
  writeFileSync(
    file,
    signNote(formatCheckpoint({ origin: other.name, size: 1, root: Buffer.alloc(32) }), [
      formatSignerKey(other),
    ]),
  );
  await refused(
    ['audit', 'consistency', file, '--data-dir', dataDir],
    /^warden: the note has no signature from a known key \(1 from unknown keys\)$/m,
  );
});

test('replay and trace refuse malformed ids', async () => {
  const d = ['--data-dir', dataDir];
  await refused(
    ['replay', '--policies', join(dataDir, 'policies'), '--trace', 'zz', ...d],
    /invalid --trace `zz`/,
  );
  await refused(['trace', 'ABC', ...d], /invalid trace id `ABC`/);
  await refused(
    ['replay', '--policies', join(dataDir, 'policies'), '--since', 'yesterday', ...d],
    /invalid duration `yesterday`/,
  );
});
