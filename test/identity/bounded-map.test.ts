// The bounded memory behind the identity caches (imported keys, verified tokens, proof headers).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMap } from '../../src/identity/bounded-map.js';

test('holds at most its limit, dropping the oldest entry first', () => {
  const m = new BoundedMap<string, number>(2);
  m.set('a', 1);
  m.set('b', 2);
  m.set('a', 10); // replacing an entry drops nothing
  assert.equal(m.size, 2);
  assert.equal(m.get('b'), 2);
  m.set('c', 3);
  assert.equal(m.get('a'), undefined, 'the oldest went first');
  assert.deepEqual([m.get('b'), m.get('c'), m.size], [2, 3, 2]);
  m.delete('b');
  assert.equal(m.get('b'), undefined);
});

test('of() computes once, remembers undefined answers, and remembers nothing when it throws', () => {
  const m = new BoundedMap<string, string | undefined>(4);
  let calls = 0;
  const f = (k: string): string | undefined => {
    calls++;
    if (k === 'bad') throw new Error('no');
    return k === 'none' ? undefined : k.toUpperCase();
  };
  assert.equal(m.of('x', f), 'X');
  assert.equal(m.of('x', f), 'X');
  assert.equal(m.of('none', f), undefined);
  assert.equal(m.of('none', f), undefined);
  assert.equal(calls, 2);
  assert.throws(() => m.of('bad', f), /no/);
  assert.throws(() => m.of('bad', f), /no/);
  assert.equal(calls, 4);
  assert.equal(m.size, 2);
});

test('refuses a limit that is not a positive integer', () => {
  for (const limit of [0, -1, 1.5, NaN]) assert.throws(() => new BoundedMap(limit), RangeError);
});
