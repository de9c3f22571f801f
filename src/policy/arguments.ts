// Tool arguments as Cedar values, typed from the tool's JSON Schema (`inputSchema`).
//
// Cedar gives every action one context type, so each known tool gets its own action whose
// `context.arguments` is a record generated from the tool's input schema (see schema.ts). This file
// makes that record type and converts a call's actual arguments into a value of it.
//
// The mapping (JSON Schema → Cedar):
//   string (or an enum/const of strings)        → String
//   integer (or an enum/const of integers)      → Long
//   boolean                                     → Bool
//   array whose `items` maps to a type T         → Set<T> (order and duplicates are lost)
//   object with `properties`                    → record; attributes in `required` are required
//   ["T", "null"]                               → T, always optional (a null value is left out)
// Left out, because Cedar has no type for them or no safe one: `number` (fractions: Cedar has no
// floats), arrays without a single item schema (tuples, mixed items), objects without `properties`
// (free-form maps), `$ref`/`anyOf`/`oneOf`/`not` without a `type`, properties whose name starts
// with `__` (Cedar's JSON escapes `__entity`/`__extn` and JavaScript's `__proto__`), nesting deeper
// than MAX_DEPTH, and attributes past MAX_ATTRIBUTES. A left-out part is simply not visible to
// policies; its value is dropped from the context.
//
// INVARIANT: a converted value always has the generated type. A value that does not match (a
// number where the schema says string, a required argument missing) throws `arguments_invalid`,
// and decide() turns that into a deny: a mistyped context would make policies error, and a forbid
// that errors counts as absent, which would fail open.

import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { q } from '../errors.js';
import { cedarString } from './cedar-text.js';
import { PolicyError } from './errors.js';

export type ArgType =
  | { readonly kind: 'String' }
  | { readonly kind: 'Long' }
  | { readonly kind: 'Bool' }
  | { readonly kind: 'Set'; readonly element: ArgType }
  | RecordArgType;

export interface RecordArgType {
  readonly kind: 'Record';
  readonly attrs: readonly ArgAttribute[];
}

export interface ArgAttribute {
  readonly name: string;
  readonly type: ArgType;
  /** Required in the Cedar type: listed in `required` and not nullable. */
  readonly required: boolean;
  /** `null` is allowed (`"type": ["T", "null"]`) and means absent. */
  readonly nullable: boolean;
}

/** Records nested deeper than this (counting the arguments record as 1) are left out. */
export const MAX_DEPTH = 6;
/** At most this many typed attributes per tool, counted depth first; the rest are left out. */
export const MAX_ATTRIBUTES = 256;

const STRING: ArgType = { kind: 'String' };
const LONG: ArgType = { kind: 'Long' };
const BOOL: ArgType = { kind: 'Bool' };
const EMPTY_RECORD: RecordArgType = { kind: 'Record', attrs: [] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Names a policy can use and that Cedar's JSON value format reads literally. */
function usableName(name: string): boolean {
  return name.length > 0 && name.length <= 128 && !name.startsWith('__') && !CONTROL.test(name);
}

/** The type of every value in an enum or const, when they all share one. */
function literalType(values: unknown[]): ArgType | undefined {
  if (values.length === 0) return undefined;
  if (values.every((v) => typeof v === 'string')) return STRING;
  if (values.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) return LONG;
  if (values.every((v) => typeof v === 'boolean')) return BOOL;
  return undefined;
}

interface Budget {
  left: number;
}

function typeOf(
  schema: unknown,
  depth: number,
  budget: Budget,
): { type: ArgType; nullable: boolean } | undefined {
  if (!isObject(schema)) return undefined;
  let declared: unknown[];
  if (typeof schema['type'] === 'string') declared = [schema['type']];
  else if (Array.isArray(schema['type'])) declared = schema['type'];
  else if (schema['type'] === undefined) {
    // No `type`: only the unambiguous shapes.
    const literal = Array.isArray(schema['enum'])
      ? literalType(schema['enum'])
      : 'const' in schema
        ? literalType([schema['const']])
        : undefined;
    if (literal) return { type: literal, nullable: false };
    if (isObject(schema['properties'])) declared = ['object'];
    else return undefined;
  } else return undefined;
  const nullable = declared.includes('null');
  const rest = declared.filter((t) => t !== 'null');
  if (rest.length !== 1) return undefined;
  switch (rest[0]) {
    case 'string':
      return { type: STRING, nullable };
    case 'integer':
      return { type: LONG, nullable };
    case 'boolean':
      return { type: BOOL, nullable };
    case 'array': {
      const items = schema['items'];
      if (!isObject(items)) return undefined;
      const element = typeOf(items, depth + 1, budget);
      if (!element || element.nullable) return undefined;
      return { type: { kind: 'Set', element: element.type }, nullable };
    }
    case 'object': {
      if (!isObject(schema['properties']) || depth >= MAX_DEPTH) return undefined;
      return { type: recordOf(schema, depth + 1, budget), nullable };
    }
    default:
      return undefined;
  }
}

function recordOf(schema: Record<string, unknown>, depth: number, budget: Budget): RecordArgType {
  const properties = schema['properties'];
  if (!isObject(properties)) return EMPTY_RECORD;
  const required = new Set(
    Array.isArray(schema['required']) ? schema['required'].filter((r) => typeof r === 'string') : [],
  );
  const attrs: ArgAttribute[] = [];
  for (const [name, sub] of Object.entries(properties)) {
    if (!usableName(name) || budget.left <= 0) continue;
    budget.left--;
    const t = typeOf(sub, depth, budget);
    if (!t) continue;
    attrs.push({ name, type: t.type, required: required.has(name) && !t.nullable, nullable: t.nullable });
  }
  // Sorted so that the same schema always gives the same Cedar text, whatever the key order.
  attrs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { kind: 'Record', attrs };
}

/** The Cedar record type of a tool's arguments; an input schema without properties gives `{}`. */
export function argumentType(inputSchema: unknown): RecordArgType {
  if (!isObject(inputSchema)) return EMPTY_RECORD;
  return recordOf(inputSchema, 1, { left: MAX_ATTRIBUTES });
}

/** The Cedar schema text of a type, e.g. `{ "to": String, "cc"?: Set<String> }`. */
export function argTypeToCedar(t: ArgType): string {
  switch (t.kind) {
    case 'String':
    case 'Long':
    case 'Bool':
      return t.kind;
    case 'Set':
      return `Set<${argTypeToCedar(t.element)}>`;
    case 'Record':
      if (t.attrs.length === 0) return '{}';
      return `{ ${t.attrs.map((a) => `${cedarString(a.name)}${a.required ? '' : '?'}: ${argTypeToCedar(a.type)}`).join(', ')} }`;
  }
}

function mismatch(path: string, expected: string): PolicyError {
  return new PolicyError('arguments_invalid', `argument ${q(path)} must be ${expected}`);
}

function convert(t: ArgType, value: unknown, path: string): CedarValueJson {
  switch (t.kind) {
    case 'String':
      if (typeof value !== 'string') throw mismatch(path, 'a string');
      return value;
    case 'Long':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw mismatch(path, 'an integer');
      return value;
    case 'Bool':
      if (typeof value !== 'boolean') throw mismatch(path, 'a boolean');
      return value;
    case 'Set':
      if (!Array.isArray(value)) throw mismatch(path, 'an array');
      return value.map((v, i) => convert(t.element, v, `${path}[${i}]`));
    case 'Record':
      if (!isObject(value)) throw mismatch(path, 'an object');
      return convertRecord(t, value, `${path}.`);
  }
}

function convertRecord(t: RecordArgType, value: Record<string, unknown>, prefix: string): CedarValueJson {
  const out: Record<string, CedarValueJson> = {};
  for (const a of t.attrs) {
    const v = Object.hasOwn(value, a.name) ? value[a.name] : undefined;
    if (v === undefined || (v === null && a.nullable)) {
      if (a.required)
        throw new PolicyError('arguments_invalid', `argument ${q(prefix + a.name)} is required`);
      continue;
    }
    out[a.name] = convert(a.type, v, prefix + a.name);
  }
  return out;
}

/**
 * A call's arguments as a value of the tool's generated record type; untyped parts are dropped.
 * Absent arguments are `{}` (MCP makes them optional). Throws `arguments_invalid` on a mismatch.
 */
export function convertArguments(t: RecordArgType, args: unknown): Record<string, CedarValueJson> {
  if (args === undefined || args === null) args = {};
  if (!isObject(args)) throw new PolicyError('arguments_invalid', 'arguments must be an object');
  return convertRecord(t, args, '') as Record<string, CedarValueJson>;
}

/** Convenience for one-off use: type `inputSchema`, then convert `args` (see convertArguments). */
export function argumentsToCedar(inputSchema: unknown, args: unknown): Record<string, CedarValueJson> {
  return convertArguments(argumentType(inputSchema), args);
}
