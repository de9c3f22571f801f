// What a decision entry keeps of the arguments with `audit.arguments: redact`: the values at the
// configured JSON pointers become their digest; everything else stays, and the caller's object is
// never changed.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactPointers } from '../../src/gateway/session.js';
import { sha256Jcs } from '../../src/jcs.js';

test('values at the pointers become digests; the rest and the input are untouched', () => {
  const args = { to: 'bob@example.com', body: 'secret plan', meta: { 'a/b': 1, 'c~d': [1, 2] }, list: ['x'] };
  const copy = structuredClone(args);
  const out = redactPointers(args, [
    '/body',
    '/meta/a~1b',
    '/meta/c~0d',
    '/missing',
    '/list/0',
    '/to/deeper',
  ]) as Record<string, unknown>;
  assert.deepEqual(args, copy, 'the arguments given are not modified');
  assert.deepEqual(out, {
    to: 'bob@example.com',
    body: { redacted_digest: sha256Jcs('secret plan') },
    meta: { 'a/b': { redacted_digest: sha256Jcs(1) }, 'c~d': { redacted_digest: sha256Jcs([1, 2]) } },
    list: [{ redacted_digest: sha256Jcs('x') }],
  });
});
