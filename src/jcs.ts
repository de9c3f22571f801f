// RFC 8785 JSON Canonicalization Scheme (JCS) for the values Warden hashes and signs: tool
// definitions, approvals, audit log entries. The reference serialisation is the `canonicalize`
// package (by the RFC's author); this file decides what may reach it. That package follows
// JSON.stringify's habits (`toJSON`, dropping functions, turning `undefined` array items into
// `null`), and each of those would make two different inputs hash alike or make a hash depend on a
// class instance's behaviour, so anything JSON cannot represent exactly is refused here instead.
//
// Every tool call canonicalises several values (two evidence entries, the call hash, digests), so
// the common case, plain JSON data, is copied with its members in JCS order and written by
// JSON.stringify; anything unusual on the way sends the value to the careful walk and the package,
// which refuse it or write it. (Building the text in JavaScript, member by member, allocated about
// fifteen times the text's size, and was most of what a tool call allocated.)
//
// INVARIANT: the fast path returns exactly the package's text or nothing (tested on random values
// in test/jcs.test.ts); a refusal always comes from the careful walk.

import { hash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { WardenError, q } from './errors.js';

// The package is CommonJS (`module.exports = serialize`) while its typings declare an ES default
// export, so under NodeNext TypeScript types the default import as the module object; at run time
// it is the function itself.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** Deeper nesting is refused: the serialiser recurses, and no tool definition needs this much. */
export const JCS_MAX_DEPTH = 128;

function refuse(message: string): WardenError {
  return new WardenError('invalid_argument', message);
}

/** Member names come from the input: quoted, so a name cannot forge text in the message. */
function where(path: string): string {
  return path === '' ? 'the value' : `the value at ${q(path)}`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` holds a UTF-16 surrogate that is not half of a pair: I-JSON (RFC 7493) forbids it. */
function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

/**
 * Walk `value` without recursion and refuse anything JCS cannot represent. `undefined` object
 * members are skipped, as JSON.stringify and `canonicalize` do: they mean "absent".
 */
function assertJsonValue(root: unknown): void {
  type Frame = { value: unknown; path: string; depth: number } | { leave: object };
  const stack: Frame[] = [{ value: root, path: '', depth: 0 }];
  // Objects on the path from the root to the current value; meeting one again means a cycle.
  // A shared but acyclic sub-object is fine: JSON simply writes it twice.
  const onPath = new Set<object>();
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    if ('leave' in frame) {
      onPath.delete(frame.leave);
      continue;
    }
    const { value, path, depth } = frame;
    switch (typeof value) {
      case 'string':
        if (hasLoneSurrogate(value)) throw refuse(`${where(path)} holds a lone utf-16 surrogate`);
        continue;
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(value))
          throw refuse(`${where(path)} is ${String(value)}, which json cannot represent`);
        continue;
      case 'undefined':
        throw refuse(`${where(path)} is undefined, which json cannot represent`);
      case 'bigint':
      case 'function':
      case 'symbol':
        throw refuse(`${where(path)} is a ${typeof value}, which json cannot represent`);
      case 'object':
        break;
    }
    if (value === null) continue;
    if (depth >= JCS_MAX_DEPTH) throw refuse(`${where(path)} nests deeper than ${JCS_MAX_DEPTH} levels`);
    if (onPath.has(value)) throw refuse(`${where(path)} refers back to itself`);
    onPath.add(value);
    stack.push({ leave: value });
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        // A hole would vanish from the output and shift every later item down.
        if (!(i in value)) throw refuse(`${where(`${path}[${i}]`)} is a hole in a sparse array`);
        stack.push({ value: value[i] as unknown, path: `${path}[${i}]`, depth: depth + 1 });
      }
      continue;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      // A Date, Map, Buffer or class instance: its JSON form is whatever its toJSON says today.
      throw refuse(`${where(path)} is not a plain object or array`);
    }
    for (const key of Object.keys(value)) {
      if (hasLoneSurrogate(key))
        throw refuse(`a member name in ${where(path)} holds a lone utf-16 surrogate`);
      const member = (value as Record<string, unknown>)[key];
      if (member === undefined) continue;
      stack.push({ value: member, path: `${path}.${key}`, depth: depth + 1 });
    }
  }
}

/** What JSON.stringify would escape, and surrogates: most member names have none of it. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Member names that V8 enumerates before all others, in numeric order (array indices), where JCS
 * wants them among the rest in code unit order. Conservative: any run of digits.
 */
const INDEX_LIKE = /^\d+$/;

/** Member names found plain, remembered: objects of one kind repeat the same few names. */
const plainNames = new Set<string>();
const PLAIN_NAMES_LIMIT = 4096;

/** A member name the fast path writes: no escapes, not index-like, not `__proto__`. */
function plainName(name: string): boolean {
  if (plainNames.has(name)) return true;
  if (SPECIAL.test(name) || INDEX_LIKE.test(name) || name === '__proto__') return false;
  if (name.length <= 64) {
    if (plainNames.size >= PLAIN_NAMES_LIMIT) plainNames.clear();
    plainNames.add(name);
  }
  return true;
}

/** Not plain JSON data: the careful walk decides. */
const UNPLAIN: unique symbol = Symbol('unplain');

/** Code unit order, in place: insertion sort for the few members objects have, no allocation. */
function sortNames(names: string[]): void {
  if (names.length > 32) {
    // The default sort compares UTF-16 code units, as JCS does.
    names.sort();
    return;
  }
  for (let i = 1; i < names.length; i++) {
    const name = names[i] as string;
    let j = i - 1;
    for (; j >= 0 && (names[j] as string) > name; j--) names[j + 1] = names[j] as string;
    names[j + 1] = name;
  }
}

/**
 * A copy of plain JSON data whose every object has its members in JCS order, or UNPLAIN for
 * anything else (a value JSON cannot represent, a cycle or deep nesting, a class instance, a member
 * name that is index-like, `__proto__`, or needs escaping), which the careful walk then refuses or
 * the package writes. Each member is read once. JSON.stringify writes the copy: its member order
 * is insertion order for such names, and its numbers and escapes are JCS's.
 */
function sortedCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : UNPLAIN;
    case 'object':
      break;
    default:
      return UNPLAIN;
  }
  if (value === null) return null;
  if (depth >= JCS_MAX_DEPTH) return UNPLAIN;
  if (Array.isArray(value)) {
    const items = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return UNPLAIN;
      const item = sortedCopy(value[i], depth + 1);
      if (item === UNPLAIN) return UNPLAIN;
      items[i] = item;
    }
    return items;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return UNPLAIN;
  const o = value as Record<string, unknown>;
  const names = Object.keys(o);
  sortNames(names);
  const copy: Record<string, unknown> = {};
  for (const name of names) {
    if (!plainName(name)) return UNPLAIN;
    const member = o[name];
    if (member === undefined) continue;
    const item = sortedCopy(member, depth + 1);
    if (item === UNPLAIN) return UNPLAIN;
    copy[name] = item;
  }
  return copy;
}

/** The RFC 8785 canonical JSON text of `value`; a WardenError `invalid_argument` when it has none. */
export function canonicalJson(value: unknown): string {
  const copy = sortedCopy(value, 0);
  if (copy !== UNPLAIN) {
    const text = JSON.stringify(copy);
    // JSON.stringify writes a lone surrogate as `\udXXX`: any `\ud` in the text sends the value the
    // careful way (an escaped backslash followed by `ud` does too, harmlessly).
    if (!text.includes('\\ud')) return text;
  }
  return carefulCanonicalJson(value);
}

/** The careful walk and the package: what `canonicalJson` falls back to (exported for the tests). */
export function carefulCanonicalJson(value: unknown): string {
  assertJsonValue(value);
  const text = canonicalize(value);
  // INVARIANT: unreachable after assertJsonValue; kept so a library change cannot yield a non-string.
  if (typeof text !== 'string') throw refuse('the value has no json form');
  return text;
}

/** SHA-256 over the UTF-8 bytes of the canonical JSON text, as lowercase hex. */
export function sha256Jcs(value: unknown): string {
  return hash('sha256', canonicalJson(value), 'hex');
}

const DISPLAY_ESCAPE =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}\u115F\u1160\u3164\uFFA0]/gu;

function escapeCodePoint(ch: string): string {
  let out = '';
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/** A JSON string literal in which every invisible, control or direction-changing character is escaped. */
function displayString(s: string): string {
  return JSON.stringify(s).replace(DISPLAY_ESCAPE, escapeCodePoint);
}

/** JCS member order: by UTF-16 code units, which is what the default sort compares. */
function sortedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
}

/**
 * The canonical value pretty-printed for people: JCS member order and number forms, two-space
 * indentation, and every invisible or bidi character escaped as `\uXXXX` so that a reviewer sees
 * exactly what a model would read (and a terminal cannot be made to reorder the text). Still JSON.
 */
export function canonicalJsonPretty(value: unknown): string {
  assertJsonValue(value);
  const lines: string[] = [];
  const emit = (v: unknown, indent: string, prefix: string, suffix: string): void => {
    if (Array.isArray(v)) {
      if (v.length === 0) {
        lines.push(`${indent}${prefix}[]${suffix}`);
        return;
      }
      lines.push(`${indent}${prefix}[`);
      v.forEach((item: unknown, i) => emit(item, `${indent}  `, '', i === v.length - 1 ? '' : ','));
      lines.push(`${indent}]${suffix}`);
      return;
    }
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const keys = sortedKeys(o);
      if (keys.length === 0) {
        lines.push(`${indent}${prefix}{}${suffix}`);
        return;
      }
      lines.push(`${indent}${prefix}{`);
      keys.forEach((k, i) =>
        emit(o[k], `${indent}  `, `${displayString(k)}: `, i === keys.length - 1 ? '' : ','),
      );
      lines.push(`${indent}}${suffix}`);
      return;
    }
    // Scalars take their canonical form; strings are escaped for display.
    const text = typeof v === 'string' ? displayString(v) : canonicalJson(v);
    lines.push(`${indent}${prefix}${text}${suffix}`);
  };
  emit(value, '', '', '');
  return lines.join('\n');
}
