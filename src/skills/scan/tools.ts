// MCP tool definitions as a model sees them: every string of every definition (name, description,
// input schema titles and descriptions, annotations) is model-visible and scanned. Hostile input
// never throws: a malformed definition is a finding.

import { isMap, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import type { Collector } from './collector.js';
import { scanSecrets } from './rules/secrets.js';
import { scanUnicode } from './rules/unicode.js';
import { SourceText, type Position } from './source.js';
import { scanHiddenPayloads, scanModelText } from './text.js';

const MAX_TEXT = 100_000;
const MAX_DEPTH = 32;
const MAX_NODES = 20_000;

export type Locate = (pointer: (string | number)[]) => Position | undefined;

/** Positions of JSON values in `text`, by JSON pointer path; undefined when the text does not parse. */
export function jsonLocator(text: string): Locate | undefined {
  let doc;
  try {
    doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, strict: false });
  } catch {
    return undefined;
  }
  if (doc.errors.length > 0) return undefined;
  const src = new SourceText('', text);
  return (path) => {
    let node: unknown = doc.contents;
    for (const key of path) {
      if (isMap(node)) node = node.get(String(key), true);
      else if (isSeq(node)) node = node.get(Number(key), true);
      else return undefined;
    }
    const range = (node as YamlNode | undefined)?.range;
    if (!range) return undefined;
    return src.position(range[0], range[1]);
  };
}

function pointer(path: (string | number)[]): string {
  return '/' + path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

export interface ToolScanContext {
  out: Collector;
  /** File name (or server name) the pointers are appended to. */
  label: string;
  locate: Locate | undefined;
  otherTools: readonly string[];
}

function textAt(ctx: ToolScanContext, path: (string | number)[], text: string): SourceText {
  const fixed = ctx.locate?.(path) ?? { line: 1, column: 1, endLine: 1, endColumn: 1 };
  return new SourceText(`${ctx.label}#${pointer(path)}`, text, fixed);
}

function malformed(ctx: ToolScanContext, path: (string | number)[], message: string): void {
  ctx.out.emit('WS907', textAt(ctx, path, ''), 0, 0, message);
}

function scanString(
  ctx: ToolScanContext,
  path: (string | number)[],
  value: string,
  self: string | undefined,
  prose: boolean,
): void {
  let text = value;
  const src = textAt(ctx, path, value);
  if (text.length > MAX_TEXT) {
    ctx.out.emit(
      'WS507',
      src,
      0,
      0,
      `string of ${text.length} characters: only the first ${MAX_TEXT} were scanned`,
    );
    text = text.slice(0, MAX_TEXT);
  }
  scanHiddenPayloads(src, ctx.out, scanUnicode(src, ctx.out, !prose), {
    ...(self !== undefined ? { self } : {}),
    otherTools: ctx.otherTools,
  });
  scanSecrets(src, ctx.out);
  if (prose)
    scanModelText(src, ctx.out, text, 0, 'tool', {
      ...(self !== undefined ? { self } : {}),
      otherTools: ctx.otherTools,
    });
}

/** Scan a `tools/list` result, a JSON-RPC response holding one, or a bare array of tools. */
export function scanToolsValue(value: unknown, ctx: ToolScanContext): number {
  let list: unknown;
  let base: (string | number)[];
  try {
    if (Array.isArray(value)) {
      list = value;
      base = [];
    } else if (
      value !== null &&
      typeof value === 'object' &&
      Array.isArray((value as { tools?: unknown }).tools)
    ) {
      list = (value as { tools: unknown }).tools;
      base = ['tools'];
    } else if (
      value !== null &&
      typeof value === 'object' &&
      typeof (value as { result?: unknown }).result === 'object' &&
      (value as { result: unknown }).result !== null &&
      Array.isArray((value as { result: { tools?: unknown } }).result.tools)
    ) {
      list = (value as { result: { tools: unknown } }).result.tools;
      base = ['result', 'tools'];
    } else {
      malformed(ctx, [], 'not a tools list: expected {tools:[...]}, {result:{tools:[...]}} or an array');
      return 0;
    }
  } catch {
    malformed(ctx, [], 'tools list cannot be read');
    return 0;
  }
  const tools = list as unknown[];
  let count = 0;
  const seen = new Set<string>();
  for (let i = 0; i < tools.length; i++) {
    const path = [...base, i];
    try {
      count++;
      scanTool(tools[i], path, ctx, seen);
    } catch (err) {
      malformed(ctx, path, `definition cannot be read: ${err instanceof Error ? err.message : 'error'}`);
    }
  }
  return count;
}

function scanTool(tool: unknown, path: (string | number)[], ctx: ToolScanContext, seen: Set<string>): void {
  if (tool === null || typeof tool !== 'object' || Array.isArray(tool)) {
    malformed(ctx, path, 'tool definition is not an object');
    return;
  }
  const t = tool as Record<string, unknown>;
  const name = t['name'];
  let self: string | undefined;
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
    malformed(
      ctx,
      [...path, 'name'],
      typeof name === 'string'
        ? `tool name has ${name.length} characters`
        : 'tool name is missing or not a string',
    );
  } else {
    self = name;
    scanString(ctx, [...path, 'name'], name, self, false);
    if (!/^[A-Za-z0-9_.\-/]+$/.test(name))
      malformed(
        ctx,
        [...path, 'name'],
        `tool name ${JSON.stringify(name)} has characters outside [A-Za-z0-9_.-/]`,
      );
    if (seen.has(name)) malformed(ctx, [...path, 'name'], `duplicate tool name ${JSON.stringify(name)}`);
    seen.add(name);
    if (ctx.otherTools.includes(name)) {
      ctx.out.emit(
        'WS803',
        textAt(ctx, [...path, 'name'], name),
        0,
        name.length,
        `tool ${JSON.stringify(name)} has the name of another server's tool`,
      );
    }
  }
  const description = t['description'];
  if (description === undefined) {
    ctx.out.emit('WS908', textAt(ctx, path, ''), 0, 0, 'tool has no description');
  } else if (typeof description !== 'string') {
    malformed(ctx, [...path, 'description'], 'description is not a string');
  } else {
    scanString(ctx, [...path, 'description'], description, self, true);
  }
  const schema = t['inputSchema'];
  if (schema === undefined) {
    ctx.out.emit('WS908', textAt(ctx, path, ''), 0, 0, 'tool has no inputSchema');
  } else if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    malformed(ctx, [...path, 'inputSchema'], 'inputSchema is not an object');
  }
  const budget = { nodes: 0 };
  for (const key of Object.keys(t)) {
    if (key === 'name' || key === 'description') continue;
    walk(t[key], [...path, key], ctx, self, 0, budget, new Set());
  }
}

function walk(
  v: unknown,
  path: (string | number)[],
  ctx: ToolScanContext,
  self: string | undefined,
  depth: number,
  budget: { nodes: number },
  stack: Set<unknown>,
): void {
  if (++budget.nodes > MAX_NODES) {
    if (budget.nodes === MAX_NODES + 1)
      ctx.out.emit(
        'WS507',
        textAt(ctx, path, ''),
        0,
        0,
        `definition has more than ${MAX_NODES} values: the rest was not scanned`,
      );
    return;
  }
  if (depth > MAX_DEPTH) {
    malformed(ctx, path, `definition nested deeper than ${MAX_DEPTH} levels`);
    return;
  }
  if (typeof v === 'string') {
    const key = path[path.length - 1];
    const prose =
      (typeof key === 'string' &&
        /^(?:description|title|default|examples?|const|enum|\d+|x-.*|comment|\$comment)$/.test(key)) ||
      typeof key === 'number';
    scanString(ctx, path, v, self, prose);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  if (stack.has(v)) {
    malformed(ctx, path, 'definition refers to itself');
    return;
  }
  stack.add(v);
  if (Array.isArray(v)) {
    v.forEach((x, i) => walk(x, [...path, i], ctx, self, depth + 1, budget, stack));
  } else {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      // Property names are model-visible too.
      scanString(ctx, [...path, k], k, self, false);
      walk(x, [...path, k], ctx, self, depth + 1, budget, stack);
    }
  }
  stack.delete(v);
}

/** Tool names in a tools value, for callers that pass them on as another server's tools. */
export function toolNames(value: unknown): string[] {
  try {
    const list = Array.isArray(value) ? value : (value as { tools?: unknown } | null)?.tools;
    if (!Array.isArray(list)) return [];
    return list
      .map((t) => (t as { name?: unknown } | null)?.name)
      .filter((n): n is string => typeof n === 'string');
  } catch {
    return [];
  }
}
