// RFC 8785 known answers (the §3.2 example, the §3.2.3 sorting example, Appendix B numbers given as
// IEEE 754 bit patterns) and every value JCS cannot represent refused with `invalid_argument`.

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { WardenError } from '../src/errors.js';
import {
  JCS_MAX_DEPTH,
  canonicalJson,
  canonicalJsonPretty,
  carefulCanonicalJson,
  sha256Jcs,
} from '../src/jcs.js';

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

function refused(value: unknown, message: string): void {
  assert.throws(
    () => canonicalJson(value),
    (err: unknown) =>
      err instanceof WardenError && err.code === 'invalid_argument' && err.message === message,
  );
  assert.throws(
    () => sha256Jcs(value),
    (err: unknown) => err instanceof WardenError && err.message === message,
  );
}

describe('canonicalJson: RFC 8785 known answers', () => {
  it('the §3.2 example: literals, numbers and string escapes, members sorted', () => {
    // Parsed from JSON text so the numbers go through the same double rounding as in the RFC.
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    ) as unknown;
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('the §3.2.3 sorting example: member names ordered by UTF-16 code units', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const out = canonicalJson(input);
    assert.deepEqual(
      [...out.matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]}"`) as string),
      ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'],
    );
    assert.equal(
      out,
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('Appendix B: numbers from their IEEE 754 bit patterns', () => {
    const vectors: Array<[string, string]> = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'], // -0
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, expected] of vectors) {
      assert.equal(canonicalJson(fromBits(bits)), expected, bits);
      assert.equal(canonicalJson([fromBits(bits)]), `[${expected}]`, bits);
    }
  });

  it('numbers written in the issue: 1e21, -0, 333333333.33333329', () => {
    assert.equal(canonicalJson(1e21), '1e+21');
    assert.equal(canonicalJson(-0), '0');
    // The literal is the RFC's: it has more digits than a double holds, which is the point.
    // eslint-disable-next-line no-loss-of-precision
    assert.equal(canonicalJson(333333333.33333329), '333333333.3333333');
  });

  it('nested members are sorted at every level; undefined members count as absent', () => {
    assert.equal(
      canonicalJson({ b: [{ z: 1, a: 2 }], a: { y: null, x: 'é', w: undefined }, '10': true, '9': false }),
      '{"10":true,"9":false,"a":{"x":"é","y":null},"b":[{"a":2,"z":1}]}',
    );
  });

  it('a shared, acyclic sub-object is written twice', () => {
    const shared = { type: 'string' };
    assert.equal(
      canonicalJson({ a: shared, b: [shared] }),
      '{"a":{"type":"string"},"b":[{"type":"string"}]}',
    );
  });
});

describe('canonicalJson: values JCS cannot represent', () => {
  it('undefined, non-finite numbers, functions, bigints and symbols', () => {
    refused(undefined, 'the value is undefined, which json cannot represent');
    refused(NaN, 'the value is NaN, which json cannot represent');
    refused(Infinity, 'the value is Infinity, which json cannot represent');
    refused({ a: [1, -Infinity] }, 'the value at `.a[1]` is -Infinity, which json cannot represent');
    refused(() => 1, 'the value is a function, which json cannot represent');
    refused({ f: () => 1 }, 'the value at `.f` is a function, which json cannot represent');
    refused(10n, 'the value is a bigint, which json cannot represent');
    refused({ n: [1n] }, 'the value at `.n[0]` is a bigint, which json cannot represent');
    refused(Symbol('s'), 'the value is a symbol, which json cannot represent');
    // A member name cannot forge lines in the message.
    refused({ ['a\nb']: NaN }, 'the value at `.a\\u000ab` is NaN, which json cannot represent');
  });

  it('undefined and holes in arrays (JSON.stringify would silently write null or shift items)', () => {
    refused([1, undefined], 'the value at `[1]` is undefined, which json cannot represent');
    // eslint-disable-next-line no-sparse-arrays
    refused([1, , 3], 'the value at `[1]` is a hole in a sparse array');
  });

  it('objects that are not plain: Date, Map, class instances (their JSON form is their toJSON)', () => {
    refused(new Date(0), 'the value is not a plain object or array');
    refused({ when: new Date(0) }, 'the value at `.when` is not a plain object or array');
    refused(new Map([['a', 1]]), 'the value is not a plain object or array');
    class Point {
      x = 1;
    }
    refused(new Point(), 'the value is not a plain object or array');
    refused({ toJSON: () => 'x' }, 'the value at `.toJSON` is a function, which json cannot represent');
    // A null-prototype object is plain.
    const bare = Object.create(null) as Record<string, unknown>;
    bare['b'] = 1;
    bare['a'] = 2;
    assert.equal(canonicalJson(bare), '{"a":2,"b":1}');
  });

  it('lone surrogates in strings and member names (I-JSON forbids them)', () => {
    refused('a\ud800b', 'the value holds a lone utf-16 surrogate');
    refused({ s: '\udc00' }, 'the value at `.s` holds a lone utf-16 surrogate');
    refused({ ['k\ud83d']: 1 }, 'a member name in the value holds a lone utf-16 surrogate');
    assert.equal(canonicalJson('\ud83d\ude00'), '"😀"');
  });

  it('cycles and excessive depth, without overflowing the stack', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    refused(cyclic, 'the value at `.self` refers back to itself');
    let deep: unknown = 1;
    for (let i = 0; i < JCS_MAX_DEPTH; i++) deep = [deep];
    assert.equal(canonicalJson(deep).length, 2 * JCS_MAX_DEPTH + 1);
    refused([deep], `the value at \`${'[0]'.repeat(39)}...\` nests deeper than ${JCS_MAX_DEPTH} levels`);
    let huge: unknown = 1;
    for (let i = 0; i < 100_000; i++) huge = { a: huge };
    assert.throws(
      () => canonicalJson(huge),
      (err: unknown) => err instanceof WardenError && err.code === 'invalid_argument',
    );
  });
});

describe('canonicalJson: the fast path', () => {
  // A seeded generator, so that a failure can be replayed.
  let seed = 0x2545f491;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const CHARS = [
    'a',
    'Z',
    '0',
    ' ',
    '"',
    '\\',
    '/',
    '\n',
    '\u0000',
    '\u001f',
    '\u007f',
    'é',
    '€',
    '\u2028',
    '\ufeff',
    '\ud83d\ude00',
    '\u{E0041}',
    'ud',
    '\\ud800',
    '\ud800',
    '\udc00',
  ];
  const text = (): string => Array.from({ length: Math.floor(next() * 6) }, () => pick(CHARS)).join('');
  const number = (): number =>
    pick([
      () => Math.floor(next() * 1000) - 500,
      () => (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20),
      () => (next() - 0.5) * 10 ** Math.floor(next() * 600 - 300),
      () => -0,
      () => Number.MAX_SAFE_INTEGER + Math.floor(next() * 10),
      () => pick([NaN, Infinity, -Infinity, 5e-324]),
    ])();
  const value = (depth: number): unknown => {
    const kind = depth > 4 ? Math.floor(next() * 4) : Math.floor(next() * 9);
    switch (kind) {
      case 0:
        return text();
      case 1:
        return number();
      case 2:
        return pick([true, false, null]);
      case 3:
        return pick([undefined, 1n, () => 1, Symbol('s'), new Date(0), 'plain']);
      case 4:
      case 5:
        return Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1));
      default: {
        const o: Record<string, unknown> =
          next() < 0.1 ? (Object.create(null) as Record<string, unknown>) : {};
        for (let i = Math.floor(next() * 5); i > 0; i--) {
          // Names V8 orders apart (index-like), and names with a meaning of their own to JavaScript.
          const name = next() < 0.2 ? pick(['10', '9', '0', '007', '__proto__', 'toJSON', 'a']) : text();
          Object.defineProperty(o, name, { value: value(depth + 1), enumerable: true, writable: true });
        }
        return o;
      }
    }
  };
  const outcome = (f: () => string): string => {
    try {
      return `ok ${f()}`;
    } catch (err) {
      return `refused ${(err as Error).message}`;
    }
  };

  it('writes exactly what the careful walk and the package write, and refuses what they refuse', () => {
    let written = 0;
    for (let i = 0; i < 20_000; i++) {
      const v = value(0);
      const expected = outcome(() => carefulCanonicalJson(v));
      assert.equal(
        outcome(() => canonicalJson(v)),
        expected,
        `value ${i}`,
      );
      if (expected.startsWith('ok')) written++;
    }
    // Both kinds of outcome were exercised.
    assert.ok(written > 2000 && written < 18_000, `${written} of 20000 written`);
  });

  it('writes index-like and `__proto__` member names in code unit order', () => {
    const parsed = JSON.parse('{"b":1,"__proto__":{"x":[1,{"2":0,"10":1}]},"a":2,"10":3,"9":4}') as unknown;
    assert.equal(canonicalJson(parsed), '{"10":3,"9":4,"__proto__":{"x":[1,{"10":1,"2":0}]},"a":2,"b":1}');
    assert.equal(canonicalJson(parsed), carefulCanonicalJson(parsed));
  });

  it('leaves cycles and deep nesting to the careful walk', () => {
    const cyclic: Record<string, unknown> = { a: [1] };
    (cyclic['a'] as unknown[]).push(cyclic);
    assert.throws(() => canonicalJson(cyclic), /refers back to itself/);
    assert.throws(() => canonicalJson({ k: undefined, ['\ud800']: undefined }), /lone utf-16 surrogate/);
  });
});

describe('sha256Jcs', () => {
  it('is SHA-256 over the UTF-8 canonical text, lowercase hex, independent of member order', () => {
    const h = sha256Jcs({ b: 'é', a: [1, 2.5] });
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(h, createHash('sha256').update(Buffer.from('{"a":[1,2.5],"b":"é"}', 'utf8')).digest('hex'));
    assert.equal(h, sha256Jcs({ a: [1, 2.5], b: 'é' }));
    assert.notEqual(h, sha256Jcs({ a: [2.5, 1], b: 'é' }));
  });
});

describe('canonicalJsonPretty', () => {
  it('keeps JCS member order, parses back to the same value, and escapes invisible characters', () => {
    const value = {
      '9': 1,
      '10': 2,
      description: 'read\u200b file\u202e\u{E0041}',
      list: [],
      nested: { b: [true, null], a: {} },
    };
    const pretty = canonicalJsonPretty(value);
    assert.equal(
      pretty,
      [
        '{',
        '  "10": 2,',
        '  "9": 1,',
        '  "description": "read\\u200b file\\u202e\\udb40\\udc41",',
        '  "list": [],',
        '  "nested": {',
        '    "a": {},',
        '    "b": [',
        '      true,',
        '      null',
        '    ]',
        '  }',
        '}',
      ].join('\n'),
    );
    assert.deepEqual(JSON.parse(pretty), value);
    assert.doesNotMatch(pretty, /[\u200b\u202e]|\u{E0041}/u);
  });

  it('refuses what canonicalJson refuses', () => {
    assert.throws(
      () => canonicalJsonPretty({ a: NaN }),
      (err: unknown) =>
        err instanceof WardenError && err.message === 'the value at `.a` is NaN, which json cannot represent',
    );
  });
});
