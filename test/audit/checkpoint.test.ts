// Checkpoint text: the strict parser refuses every deviation from c2sp.org/tlog-checkpoint, and
// the formatter refuses input that would not parse back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { formatCheckpoint, parseCheckpoint } from '../../src/audit/verify/index.js';

const ROOT = randomBytes(32);
const R = ROOT.toString('base64');
const code = (c: string) => ({ name: 'AuditVerifyError', code: c });

test('format and parse round-trip, with and without extension lines', () => {
  const plain = formatCheckpoint({ origin: 'warden.test/log', size: 12, root: ROOT });
  assert.equal(plain, `warden.test/log\n12\n${R}\n`);
  assert.deepEqual(parseCheckpoint(plain), {
    origin: 'warden.test/log',
    size: 12,
    root: ROOT,
    extensions: [],
  });
  const ext = formatCheckpoint({ origin: 'a b', size: 0, root: ROOT, extensions: ['x: 1', 'y'] });
  assert.equal(ext, `a b\n0\n${R}\nx: 1\ny\n`);
  assert.deepEqual(parseCheckpoint(ext).extensions, ['x: 1', 'y']);
  const max = formatCheckpoint({ origin: 'o', size: Number.MAX_SAFE_INTEGER, root: ROOT });
  assert.equal(parseCheckpoint(max).size, Number.MAX_SAFE_INTEGER);
});

test('parse refuses malformed checkpoints', () => {
  const bad = [
    `o\n1\n${R}`, // no final newline
    `o\n1\n`, // two lines
    `\n1\n${R}\n`, // empty origin
    `o\n01\n${R}\n`, // leading zero
    `o\n-1\n${R}\n`,
    `o\n+1\n${R}\n`,
    `o\n1.0\n${R}\n`,
    `o\n 1\n${R}\n`,
    `o\n1e3\n${R}\n`,
    `o\n\n${R}\n`,
    `o\n9007199254740992\n${R}\n`, // 2^53
    `o\n18446744073709551615\n${R}\n`,
    `o\n1\n${R.slice(0, -1)}\n`, // unpadded
    `o\n1\n${randomBytes(31).toString('base64')}\n`,
    `o\n1\n${randomBytes(33).toString('base64')}\n`,
    `o\n1\n${R}\n\n`, // an empty extension line
    `o\n1\n${R}\nx\n\ny\n`,
    `o\n1\n ${R}\n`,
    `o\u0000\n1\n${R}\n`,
    `o\n1\n${R}\r\n`,
    `o\uD800\n1\n${R}\n`,
  ];
  for (const text of bad)
    assert.throws(() => parseCheckpoint(text), code('checkpoint_malformed'), JSON.stringify(text));
  assert.throws(() => parseCheckpoint(undefined as never), code('checkpoint_malformed'));
  assert.throws(() => parseCheckpoint(Buffer.from(`o\n1\n${R}\n`) as never), code('checkpoint_malformed'));
});

test('a root whose unused base64 bits are set is refused', () => {
  // 32 bytes = 43 base64 digits + "="; the last digit carries 2 unused bits.
  const canonical = Buffer.alloc(32).toString('base64');
  assert.equal(canonical.slice(-2), 'A=');
  parseCheckpoint(`o\n1\n${canonical}\n`);
  assert.throws(() => parseCheckpoint(`o\n1\n${canonical.slice(0, -2)}B=\n`), code('checkpoint_malformed'));
});

test('format refuses input that would not parse back', () => {
  const bad: unknown[] = [
    { origin: '', size: 1, root: ROOT },
    { origin: 'a\nb', size: 1, root: ROOT },
    { origin: 5, size: 1, root: ROOT },
    { origin: 'o', size: -1, root: ROOT },
    { origin: 'o', size: 1.5, root: ROOT },
    { origin: 'o', size: 2 ** 53, root: ROOT },
    { origin: 'o', size: 1n, root: ROOT },
    { origin: 'o', size: 1, root: ROOT.subarray(1) },
    { origin: 'o', size: 1, root: R },
    { origin: 'o', size: 1, root: ROOT, extensions: [''] },
    { origin: 'o', size: 1, root: ROOT, extensions: ['a\nb'] },
    { origin: 'o', size: 1, root: ROOT, extensions: 'x' },
    { origin: 'o\t', size: 1, root: ROOT },
    null,
  ];
  for (const input of bad) {
    assert.throws(() => formatCheckpoint(input as never), code('argument_invalid'), String(input));
  }
});
