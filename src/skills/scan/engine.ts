// `scanPath` and `scanToolDefinitions`: decide what the input is, read it without executing or
// importing anything, run the rules per file, then combine the sources and sinks of each unit (a
// skill, a server folder, a set of tool definitions) into the findings that need both.

import { open, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { WardenError, q } from '../../errors.js';
import { analyzeBash } from './analyze-bash.js';
import { analyzeJs } from './analyze-js.js';
import { analyzePowerShell } from './analyze-powershell.js';
import { analyzePython } from './analyze-python.js';
import { Collector } from './collector.js';
import { discover, type DiscoveredFile } from './discover.js';
import { frontmatterOf, masked, splitMarkdown } from './markdown.js';
import { fenceLanguage, languageOf } from './parsers.js';
import { credentialPaths } from './rules/credential-access.js';
import { exfilHosts } from './rules/exfiltration.js';
import { checkFrontmatter } from './rules/frontmatter.js';
import { executableKind } from './rules/obfuscation.js';
import { scanSecrets } from './rules/secrets.js';
import { scanUnicode } from './rules/unicode.js';
import { SourceText } from './source.js';
import { jsonLocator, scanToolsValue } from './tools.js';
import { scanHiddenPayloads, scanModelText } from './text.js';
import {
  severityAtLeast,
  type Finding,
  type ScanKind,
  type ScanOptions,
  type ScanReport,
  type SkippedFile,
} from './types.js';

export const DEFAULT_MAX_FILE_SIZE = 1024 * 1024;
export const DEFAULT_MAX_FILES = 2000;

const RANK = { info: 0, low: 1, medium: 2, high: 3, critical: 4 } as const;

function sortFindings(f: Finding[]): Finding[] {
  return f.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      RANK[b.severity] - RANK[a.severity] ||
      (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0),
  );
}

interface Decoded {
  text: string;
  invalidAt: number | undefined;
}

function decode(bytes: Buffer): Decoded {
  if (bytes[0] === 0xff && bytes[1] === 0xfe)
    return { text: new TextDecoder('utf-16le').decode(bytes.subarray(2)), invalidAt: undefined };
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return { text: new TextDecoder('utf-16be').decode(bytes.subarray(2)), invalidAt: undefined };
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return { text, invalidAt: undefined };
  } catch {
    return { text, invalidAt: Math.max(0, text.indexOf('\ufffd')) };
  }
}

function isBinary(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, 8000);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return false;
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return false;
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

const CODE_EXT =
  /\.(?:py|pyw|js|mjs|cjs|ts|mts|cts|tsx|jsx|sh|bash|zsh|rb|pl|php|go|rs|java|ps1|bat|cmd|lua)$/i;

interface UnitContext {
  out: Collector;
  /** Folder name of the skill, for the name check. */
  skillFolder: string | undefined;
  otherTools: readonly string[];
}

/** Scan one file's text into the unit's collector. */
async function scanFileText(rel: string, text: string, ctx: UnitContext, forceTools = false): Promise<void> {
  const src = new SourceText(rel, text);
  const out = ctx.out;
  const name = basename(rel);
  const lang = languageOf(name, text.slice(0, 200));
  const isMarkdown = /\.(?:md|markdown|mdx|txt|rst)$/i.test(name) || name.toUpperCase() === 'SKILL.MD';
  let value: unknown;
  if (/\.json$/i.test(name) || forceTools) {
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (value === undefined && forceTools) {
      out.emit('WS907', src, 0, 0, 'tool definitions file is not valid JSON');
      return;
    }
    if (value !== undefined && (forceTools || looksLikeTools(value))) {
      // Every string of the definitions is scanned on its own, with its JSON pointer.
      scanToolsValue(value, { out, label: rel, locate: jsonLocator(text), otherTools: ctx.otherTools });
      return;
    }
  }
  scanHiddenPayloads(src, out, scanUnicode(src, out, lang !== undefined || CODE_EXT.test(name)));
  scanSecrets(src, out);
  if (/\.json$/i.test(name)) {
    if (name === 'package.json' && value !== null && typeof value === 'object') {
      await scanPackageJson(src, value as Record<string, unknown>, out);
    }
    genericText(src, out);
    return;
  }
  if (isMarkdown) {
    await scanMarkdown(src, out, name.toUpperCase() === 'SKILL.MD', ctx.skillFolder);
    return;
  }
  if (/\.(?:ps1|psm1|psd1|bat|cmd)$/i.test(name)) return analyzePowerShell(src, out, text, 0);
  if (lang === 'python') return analyzePython(src, out, text, 0, true);
  if (lang === 'bash') return analyzeBash(src, out, text, 0);
  if (lang) return analyzeJs(src, out, text, 0, lang, true);
  genericText(src, out);
}

function looksLikeTools(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (!Array.isArray(v)) {
    const o = v as { tools?: unknown; result?: unknown };
    if (Array.isArray(o.tools)) return true;
    const r = o.result;
    return r !== null && typeof r === 'object' && Array.isArray((r as { tools?: unknown }).tools);
  }
  const named = v.filter(
    (t) => t !== null && typeof t === 'object' && 'name' in t && ('inputSchema' in t || 'description' in t),
  );
  return v.length > 0 && named.length * 2 >= v.length;
}

/** Config and other text files: collector hosts and credential paths by pattern. */
function genericText(src: SourceText, out: Collector): void {
  for (const h of exfilHosts(src.text)) {
    out.emit(h.kind === 'raw-ip' ? 'WS406' : 'WS401', src, h.index, h.index + h.length, `names ${h.host}`);
    out.signal('suspicious-network', src, h.index, h.index + h.length, h.host);
  }
  for (const c of credentialPaths(src.text))
    out.emit('WS304', src, c.index, c.index + c.length, `mentions ${c.what}`);
}

async function scanPackageJson(src: SourceText, pkg: Record<string, unknown>, out: Collector): Promise<void> {
  const scripts = pkg['scripts'];
  if (scripts === null || typeof scripts !== 'object') return;
  for (const [k, v] of Object.entries(scripts as Record<string, unknown>)) {
    if (typeof v !== 'string') continue;
    const needle = JSON.stringify(v).slice(1, -1);
    const at = Math.max(0, src.text.indexOf(needle));
    if (/^(?:preinstall|install|postinstall|preuninstall|postuninstall|prepare)$/.test(k)) {
      out.emit(
        'WS604',
        src,
        at,
        at + needle.length,
        `${k} script runs at install: ${JSON.stringify(v.slice(0, 100))}`,
        k === 'prepare' ? 'info' : undefined,
      );
    }
    await analyzeBash(src, out, v, at);
  }
}

async function scanMarkdown(
  src: SourceText,
  out: Collector,
  skillMd: boolean,
  folder: string | undefined,
): Promise<void> {
  const text = src.text;
  const fm = frontmatterOf(text);
  let bodyStart = 0;
  if (skillMd) {
    if (!fm) out.emit('WS901', src, 0, 0, 'SKILL.md does not start with --- frontmatter');
    else if (!fm.closed)
      out.emit('WS902', src, fm.start, fm.start, 'frontmatter is not closed by a --- line');
    else {
      const res = checkFrontmatter(text.slice(fm.start, fm.end), folder);
      for (const i of res.issues) out.emit(i.rule, src, fm.start + i.offset, fm.start + i.offset, i.message);
    }
  }
  if (fm) {
    // The frontmatter is always in the model's context: scan it as prose.
    scanModelText(src, out, text.slice(fm.start, fm.end), fm.start, 'prose');
    const after = text.indexOf('\n', fm.end);
    bodyStart = after < 0 ? text.length : after + 1;
  }
  const segments = splitMarkdown(text, bodyStart);
  const hidden = segments.filter((s) => s.kind === 'hidden');
  for (const s of segments) {
    if (s.kind === 'prose') {
      scanModelText(src, out, masked(text, s.start, s.end, hidden), s.start, 'prose');
    } else if (s.kind === 'hidden') {
      scanModelText(
        src,
        out,
        text.slice(s.start, s.end).replace(/^<!--|-->$/g, (m) => ' '.repeat(m.length)),
        s.start,
        'hidden',
      );
    } else {
      const body = text.slice(s.start, s.end);
      let lang = fenceLanguage(s.lang ?? '');
      if (
        !lang &&
        (s.lang ?? '') === '' &&
        /^\s*(?:\$\s+)?(?:curl|wget|sudo|apt(?:-get)?|brew|pip3?|npm|npx|echo|cat|chmod|bash|sh|export|git|cd|mkdir|crontab|python3?|node)\b/m.test(
          body,
        )
      )
        lang = 'bash';
      if (lang === 'bash') {
        // Console prompts are not part of the command.
        await analyzeBash(src, out, body.replace(/^(\s*)\$ /gm, '$1  '), s.start, { docs: true });
        scanModelText(src, out, body, s.start, 'code-block');
      } else if (lang === 'python') await analyzePython(src, out, body, s.start, false);
      else if (lang) await analyzeJs(src, out, body, s.start, lang, false);
      else if (/^(?:powershell|pwsh|ps1|ps|bat|batch|cmd)$/i.test((s.lang ?? '').trim().split(/\s/)[0] ?? ''))
        analyzePowerShell(src, out, body, s.start);
      else scanModelText(src, out, body, s.start, 'code-block');
    }
  }
}

async function readBytes(abs: string, size: number, max: number): Promise<Buffer> {
  const fh = await open(abs, 'r');
  try {
    const buf = Buffer.alloc(Math.min(size, max));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function scanFile(
  f: DiscoveredFile,
  ctx: UnitContext,
  skipped: SkippedFile[],
  maxSize: number,
): Promise<boolean> {
  let bytes: Buffer;
  try {
    bytes = await readBytes(f.abs, f.size, maxSize);
  } catch (err) {
    skipped.push({ file: f.rel, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
    return false;
  }
  const exe = executableKind(bytes.subarray(0, 16), f.rel);
  if (exe) {
    ctx.out.emitAt(
      'WS506',
      f.rel,
      { line: 1, column: 1, endLine: 1, endColumn: 1 },
      `${exe} cannot be reviewed as source`,
    );
    skipped.push({ file: f.rel, reason: exe });
    return false;
  }
  if (isBinary(bytes)) {
    skipped.push({ file: f.rel, reason: 'binary file' });
    return false;
  }
  const d = decode(bytes);
  if (d.invalidAt !== undefined) {
    const src = new SourceText(f.rel, d.text);
    ctx.out.emit(
      'WS206',
      src,
      d.invalidAt,
      d.invalidAt + 1,
      'invalid UTF-8: undecodable bytes were replaced and the rest scanned',
    );
  }
  await scanFileText(f.rel, d.text, ctx);
  return true;
}

function report(
  target: string,
  kind: ScanKind,
  files: number,
  out: Collector[],
  skipped: SkippedFile[],
): ScanReport {
  return { target, kind, files, findings: sortFindings(out.flatMap((o) => o.findings)), skipped };
}

/** Scan a skill folder, a folder of skills, an MCP server folder, a single file or a tools JSON file. */
export async function scanPath(path: string, options: ScanOptions = {}): Promise<ScanReport> {
  if (typeof path !== 'string' || path === '') throw new WardenError('invalid_argument', 'no path to scan');
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  if (!Number.isInteger(maxFileSize) || maxFileSize < 1)
    throw new WardenError('invalid_argument', `max file size ${q(maxFileSize)} is not a positive integer`);
  if (!Number.isInteger(maxFiles) || maxFiles < 1)
    throw new WardenError('invalid_argument', `max files ${q(maxFiles)} is not a positive integer`);
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new WardenError('not_found', `nothing to scan at ${q(path)}`);
    if (code === 'ELOOP') throw new WardenError('path_refused', `${q(path)} is a symlink loop`);
    throw new WardenError('scan_refused', `cannot read ${q(path)}: ${code ?? 'error'}`);
  }
  const otherTools = options.otherTools ?? [];
  if (st.isFile()) return scanSingleFile(path, st.size, options.kind, maxFileSize, otherTools);
  if (!st.isDirectory()) throw new WardenError('scan_refused', `${q(path)} is neither a file nor a folder`);

  const root = await realpath(path);
  const found = await discover(root, {
    allowSymlinks: options.allowSymlinks === true,
    maxFileSize,
    maxFiles,
  });
  const skillDirs = new Set(
    found.files.filter((f) => /(?:^|\/)SKILL\.md$/.test(f.rel)).map((f) => dirname(f.rel)),
  );
  let kind: ScanKind;
  if (options.kind === 'skill' || (options.kind === undefined && skillDirs.has('.'))) kind = 'skill';
  else if (options.kind === 'mcp-server') kind = 'mcp-server';
  else if (options.kind === 'tools')
    throw new WardenError('invalid_argument', `--kind tools needs a JSON file, not the folder ${q(path)}`);
  else if (options.kind === 'file')
    throw new WardenError('invalid_argument', `--kind file needs a file, not the folder ${q(path)}`);
  else if (skillDirs.size > 0) kind = 'skills';
  else kind = 'mcp-server';

  // Units: each skill folder on its own; in a folder of skills, loose files form one more unit.
  const units = new Map<string, DiscoveredFile[]>();
  const unitOf = (rel: string): string => {
    if (kind !== 'skills') return '.';
    let best = '';
    for (const d of skillDirs) if (d !== '.' && rel.startsWith(d + '/') && d.length > best.length) best = d;
    return best || '.';
  };
  for (const f of found.files) {
    const u = unitOf(f.rel);
    units.set(u, [...(units.get(u) ?? []), f]);
  }
  const collectors: Collector[] = [];
  const skipped = [...found.skipped];
  let files = 0;
  const rootCollector = new Collector();
  collectors.push(rootCollector);
  for (const i of found.issues) {
    rootCollector.emitAt(
      i.rule,
      i.file,
      { line: 1, column: 1, endLine: 1, endColumn: 1 },
      i.message,
      i.severity,
    );
  }
  for (const [u, list] of [...units.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const out = u === '.' ? rootCollector : new Collector();
    if (out !== rootCollector) collectors.push(out);
    const folder =
      kind === 'skill' ? basename(root) : kind === 'skills' && u !== '.' ? basename(u) : undefined;
    const ctx: UnitContext = { out, skillFolder: folder, otherTools };
    if (kind === 'skill' || (kind === 'skills' && u !== '.')) {
      const skillMd = u === '.' ? 'SKILL.md' : `${u}/SKILL.md`;
      if (kind === 'skill' && !list.some((f) => f.rel === skillMd)) {
        out.emitAt(
          'WS901',
          'SKILL.md',
          { line: 1, column: 1, endLine: 1, endColumn: 1 },
          'the folder has no SKILL.md',
        );
      }
    }
    for (const f of list) if (await scanFile(f, ctx, skipped, maxFileSize)) files++;
    out.combine();
  }
  return report(path, kind, files, collectors, skipped);
}

async function scanSingleFile(
  path: string,
  size: number,
  kind: ScanOptions['kind'],
  maxFileSize: number,
  otherTools: readonly string[],
): Promise<ScanReport> {
  const name = basename(path);
  const out = new Collector();
  const skipped: SkippedFile[] = [];
  if (kind === 'skill' || kind === 'mcp-server')
    throw new WardenError('invalid_argument', `--kind ${kind} needs a folder, not the file ${q(path)}`);
  if (size > maxFileSize) {
    out.emitAt(
      'WS507',
      name,
      { line: 1, column: 1, endLine: 1, endColumn: 1 },
      `file of ${size} bytes is over the ${maxFileSize}-byte cap and was not scanned`,
    );
    skipped.push({ file: name, reason: `over the size cap (${size} bytes)` });
    return report(path, kind === 'tools' ? 'tools' : 'file', 0, [out], skipped);
  }
  const bytes = await readFile(path);
  let detected: ScanKind = 'file';
  if (
    kind === 'tools' ||
    (kind === undefined && extname(name).toLowerCase() === '.json' && !isBinary(bytes))
  ) {
    const d = decode(bytes);
    let value: unknown;
    try {
      value = JSON.parse(d.text);
    } catch (err) {
      if (kind === 'tools')
        throw new WardenError('scan_refused', `${q(path)} is not JSON: ${(err as Error).message}`);
    }
    if (kind === 'tools' || (value !== undefined && (looksLikeTools(value) || /\.tools\.json$/i.test(name))))
      detected = 'tools';
  }
  const folder = name.toUpperCase() === 'SKILL.MD' ? basename(dirname(join(process.cwd(), path))) : undefined;
  const ctx: UnitContext = { out, skillFolder: folder, otherTools };
  const f: DiscoveredFile = { rel: name, abs: path, size };
  let files = 0;
  if (detected === 'tools') {
    const d = decode(bytes);
    await scanFileText(name, d.text, ctx, true);
    files = 1;
  } else if (await scanFile(f, ctx, skipped, maxFileSize)) files = 1;
  out.combine();
  return report(path, detected, files, [out], skipped);
}

/**
 * Scan tool definitions as received from a server (`tools/list`). Never throws on the definitions
 * themselves: anything malformed is a finding. Synchronous: the gateway scans each definition it
 * sees for the first time on the request path.
 */
export function scanToolDefinitionsSync(
  tools: unknown,
  options: { server: string; otherTools?: readonly string[]; source?: string },
): ScanReport {
  const out = new Collector();
  const label = options.source ?? options.server;
  let count = 0;
  try {
    count = scanToolsValue(tools, { out, label, locate: undefined, otherTools: options.otherTools ?? [] });
  } catch (err) {
    out.emitAt(
      'WS907',
      label,
      { line: 1, column: 1, endLine: 1, endColumn: 1 },
      `tool definitions cannot be read: ${err instanceof Error ? err.message : 'error'}`,
    );
  }
  out.combine();
  return { target: label, kind: 'tools', files: count, findings: sortFindings(out.findings), skipped: [] };
}

/** `scanToolDefinitionsSync`, asynchronous like `scanPath`. */
export function scanToolDefinitions(
  tools: unknown,
  options: { server: string; otherTools?: readonly string[]; source?: string },
): Promise<ScanReport> {
  return Promise.resolve(scanToolDefinitionsSync(tools, options));
}

/** True when any finding is at or above `threshold`. */
export function hasFindingsAtLeast(
  r: ScanReport | ScanReport[],
  threshold: Parameters<typeof severityAtLeast>[1],
): boolean {
  return (Array.isArray(r) ? r : [r]).some((x) =>
    x.findings.some((f) => severityAtLeast(f.severity, threshold)),
  );
}
