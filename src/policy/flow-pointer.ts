// Where a sensitive argument lives inside a tool call's arguments: a top-level argument name
// (`to`) or an RFC 6901 JSON Pointer (`/payment/iban`), and the string values found there.

import { q } from '../errors.js';
import { FlowError } from './flow-error.js';

/** The reference tokens of a sensitive-argument spec, unescaped. */
export type ArgPath = readonly string[];

export const MAX_SENSITIVE_ARG_LENGTH = 256;
/** More values than this under one sensitive argument and the argument counts as tainted. */
export const MAX_VALUES_PER_ARG = 1000;
const MAX_DEPTH = 32;

// RFC 6901: `~` is only ever followed by `0` or `1`.
const BAD_ESCAPE = /~(?![01])/;
const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * A spec starting with `/` is a JSON Pointer; anything else names a top-level argument literally
 * (so `a/b` is the argument called `a/b`). Undefined when the spec is unusable.
 */
export function parseArgPath(spec: string): ArgPath | undefined {
  if (spec.length === 0 || spec.length > MAX_SENSITIVE_ARG_LENGTH) return undefined;
  if (!spec.startsWith('/')) return [spec];
  if (BAD_ESCAPE.test(spec)) return undefined;
  // INVARIANT: `~1` is unescaped before `~0`, so `~01` reads as `~1` literally (RFC 6901 §4).
  return spec
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

export function isValidSensitiveArg(spec: string): boolean {
  return parseArgPath(spec) !== undefined;
}

export function requireArgPath(spec: string): ArgPath {
  const path = parseArgPath(spec);
  if (!path) {
    throw new FlowError(
      'sensitive_arg_invalid',
      `sensitive argument ${q(spec)} is neither an argument name nor a JSON Pointer`,
    );
  }
  return path;
}

export interface ArgValues {
  /** Strings as given; finite numbers as `String(n)`. Booleans and null carry no identity. */
  values: string[];
  /** More than `MAX_VALUES_PER_ARG` values, or nesting deeper than the walk goes. */
  overflow: boolean;
}

/**
 * The values at `path`. Where the pointer meets an array and its next token is not an array index,
 * it applies to every element (`/attachments/file_id`), an extension of RFC 6901 so that one spec
 * covers a list of objects. Whatever the path ends on is read whole: arrays element by element,
 * objects value by value.
 */
export function valuesAt(args: unknown, path: ArgPath): ArgValues {
  let nodes: unknown[] = [args];
  for (const token of path) {
    const next: unknown[] = [];
    for (const node of nodes) step(node, token, next, 0);
    nodes = next;
  }
  const out: ArgValues = { values: [], overflow: false };
  for (const node of nodes) collect(node, out, 0);
  return out;
}

function step(node: unknown, token: string, out: unknown[], depth: number): void {
  if (Array.isArray(node)) {
    if (ARRAY_INDEX.test(token)) {
      const i = Number(token);
      if (i < node.length) out.push(node[i]);
      return;
    }
    if (depth >= MAX_DEPTH) return;
    for (const el of node as unknown[]) step(el, token, out, depth + 1);
    return;
  }
  // Own properties only: `__proto__` or `constructor` must not reach into the prototype chain.
  if (isRecord(node) && Object.hasOwn(node, token)) out.push(node[token]);
}

function collect(node: unknown, out: ArgValues, depth: number): void {
  if (out.overflow) return;
  if (typeof node === 'string' || (typeof node === 'number' && Number.isFinite(node))) {
    if (out.values.length >= MAX_VALUES_PER_ARG) {
      out.overflow = true;
      return;
    }
    out.values.push(String(node));
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  if (depth >= MAX_DEPTH) {
    out.overflow = true;
    return;
  }
  const children = Array.isArray(node) ? (node as unknown[]) : Object.values(node);
  for (const child of children) collect(child, out, depth + 1);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
