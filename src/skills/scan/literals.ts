// Checks on the constant strings of program code, whatever the language: credential stores,
// collector hosts, persistence locations, encoded payloads, and descriptive strings a model may read
// (tool descriptions and docstrings in server code).

import type { Collector } from './collector.js';
import { credentialPaths, dotenvPaths } from './rules/credential-access.js';
import { exfilHosts } from './rules/exfiltration.js';
import { encodedBlobs, looksLikeCode } from './rules/obfuscation.js';
import { persistTargets } from './rules/persistence.js';
import type { SourceText } from './source.js';
import { scanModelText } from './text.js';

export interface LiteralFacts {
  /** Persistence locations named by literals, resolved once the file's writes are known. */
  persist: Array<{ rule: string; what: string; start: number; end: number }>;
}

export function newFacts(): LiteralFacts {
  return { persist: [] };
}

/** Decode the backslash escapes of a JavaScript or Python string literal. */
export function decodeEscapes(raw: string): string {
  return raw.replace(
    /\\(?:x([0-9a-fA-F]{2})|u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{1,3})|(.))/g,
    (_m: string, x?: string, ub?: string, u?: string, U?: string, o?: string, c?: string) => {
      const cp = x ?? ub ?? u ?? U;
      if (cp !== undefined) {
        const n = parseInt(cp, 16);
        return n <= 0x10ffff ? String.fromCodePoint(n) : '';
      }
      if (o !== undefined) return String.fromCharCode(parseInt(o, 8));
      const ch = c ?? '';
      return ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[ch] ?? ch;
    },
  );
}

const ESCAPE = /\\(?:x[0-9a-fA-F]{2}|u\{?[0-9a-fA-F]{4}|[0-7]{3})/g;

/** A literal written mostly as escapes hides its text from a reader: check what it decodes to. */
export function checkEscapedLiteral(src: SourceText, out: Collector, raw: string, start: number): void {
  const n = raw.match(ESCAPE)?.length ?? 0;
  if (n < 8 || n * 4 < raw.length * 0.5) return;
  const decoded = decodeEscapes(raw);
  if (looksLikeCode(decoded)) {
    out.emit(
      'WS503',
      src,
      start,
      start + raw.length,
      `escaped string decodes to ${JSON.stringify(decoded.slice(0, 120))}`,
    );
  }
  checkLiteral(src, out, decoded, start, newFacts(), false);
}

const REMOTE_EXEC =
  /\b(?:exec|eval)\s*\(\s*(?:[\w.]+\.)?urlopen\s*\(|\b(?:exec|eval)\s*\(\s*requests\.get\s*\(|\beval\s*\(\s*(?:await\s+)?\(?\s*(?:await\s+)?fetch\s*\(|\b(?:curl|wget)\b[^|\n]{0,200}\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b/;
const SECRET_FILE =
  /\\?\.env\b|\\?\.pem\b|\\?\.key\b|\\?\.p12\b|\\?\.pfx\b|\bid_(?:rsa|ed25519|ecdsa)\b|\\?\.kdbx\b|\bcredentials?(?:\\?\.json)?\b|\\?\.npmrc\b|\\?\.netrc\b|\bsecrets?\\?\.(?:ya?ml|json|toml)\b/gi;

/** A constant decoded at run time (base64, hex): what it decodes to is what the code uses. */
export function decodedConstant(
  src: SourceText,
  out: Collector,
  value: string,
  start: number,
  end: number,
  how: string,
  encoding: 'base64' | 'hex' = /fromhex|unhexlify|b16/.test(how) ? 'hex' : 'base64',
): void {
  if (value.length < 8) return;
  let decoded: string;
  try {
    decoded = Buffer.from(
      encoding === 'hex' ? value : value.replace(/-/g, '+').replace(/_/g, '/'),
      encoding,
    ).toString('utf8');
  } catch {
    return;
  }
  if (!/^[\x20-\x7e\s]+$/.test(decoded)) return;
  if (looksLikeCode(decoded) || /[a-z0-9-]+\.[a-z]{2,}\//i.test(decoded)) {
    out.emit('WS503', src, start, end, `${how} of a constant hides ${JSON.stringify(decoded.slice(0, 120))}`);
  }
  checkLiteral(src, out, decoded, start, newFacts(), false);
}

/** A string literal's content at `start` of `src`, in a file of a server or a skill script. */
export function checkLiteral(
  src: SourceText,
  out: Collector,
  value: string,
  start: number,
  facts: LiteralFacts,
  descriptive: boolean,
): void {
  if (value.length === 0) return;
  // A bare ".ssh" or ".aws" joined to the home directory elsewhere still names the store.
  const probe = /^\.(?:ssh|aws|gnupg|azure)$/.test(value) ? `~/${value}` : value;
  const shift = probe.length - value.length;
  for (const c of credentialPaths(probe)) {
    const s = start + Math.max(0, c.index - shift);
    out.emit(
      'WS301',
      src,
      s,
      s + c.length,
      `code names ${c.what}: ${JSON.stringify(value.slice(0, 100))}`,
      c.severity,
    );
    if (c.severity !== 'low') out.signal('credential', src, s, s + c.length, c.what);
  }
  for (const d of dotenvPaths(value)) {
    out.emit('WS305', src, start + d.index, start + d.index + d.length, 'code reads a .env file');
    out.signal('weak-credential', src, start + d.index, start + d.index + d.length, 'a .env file');
  }
  for (const h of exfilHosts(value)) {
    const s = start + h.index;
    if (h.kind === 'raw-ip') {
      out.emit('WS406', src, s, s + h.length, `bare IP endpoint ${h.host}`);
    } else {
      out.emit('WS401', src, s, s + h.length, `code addresses collector host ${h.host}`);
    }
    out.signal('suspicious-network', src, s, s + h.length, h.host);
  }
  for (const p of persistTargets(value))
    facts.persist.push({
      rule: p.rule,
      what: p.what,
      start: start + p.index,
      end: start + p.index + p.length,
    });
  for (const b of encodedBlobs(value)) {
    const s = start + b.index;
    if (b.decoded !== undefined && looksLikeCode(b.decoded)) {
      out.emit(
        'WS503',
        src,
        s,
        s + b.length,
        `${b.encoding} blob decodes to ${JSON.stringify(b.decoded.slice(0, 120))}`,
      );
      for (const h of exfilHosts(b.decoded))
        out.signal('suspicious-network', src, s, s + b.length, `${h.host} (encoded)`);
      for (const c of credentialPaths(b.decoded)) {
        out.emit('WS301', src, s, s + b.length, `encoded blob names ${c.what}`, c.severity);
        out.signal('credential', src, s, s + b.length, `${c.what} (encoded)`);
      }
    } else {
      out.emit('WS504', src, s, s + b.length, `${b.length}-character ${b.encoding} blob`);
    }
  }
  if (REMOTE_EXEC.test(value)) {
    out.emit(
      'WS602',
      src,
      start,
      start + value.length,
      `string holds code that runs a download: ${JSON.stringify(value.slice(0, 120))}`,
    );
  }
  // A pattern naming several kinds of secret file is a search for them.
  if (value.length <= 300) {
    const kinds = new Set([...value.matchAll(SECRET_FILE)].map((m) => m[0].toLowerCase().replace(/^\\/, '')));
    if (kinds.size >= 2 && !/^\s*#/.test(value)) {
      out.emit(
        'WS301',
        src,
        start,
        start + value.length,
        `code searches for secret files (${[...kinds].join(', ')})`,
        'medium',
      );
      out.signal('credential', src, start, start + value.length, 'secret files');
    }
  }
  if (descriptive && value.length >= 24 && /\s/.test(value))
    scanModelText(src, out, value, start, 'code-string');
}

const BCC =
  /\b(?:bcc|blind_?carbon_?copy)\b['"`]?\s*(?:\]\s*=|=|:|,)\s*\[?\s*['"`]([^'"`\s@]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,})['"`]/gi;

/** Mail code that copies every message to a fixed address (the postmark-mcp backdoor). */
export function checkHiddenRecipients(src: SourceText, out: Collector): void {
  for (const m of src.text.matchAll(BCC)) {
    out.emit('WS405', src, m.index, m.index + m[0].length, `every message is copied to ${m[1] ?? ''}`);
    out.signal('suspicious-network', src, m.index, m.index + m[0].length, `mail copy to ${m[1] ?? ''}`);
  }
}

/** After all literals and writes of a file are known: persistence is a write to such a location. */
export function settlePersistence(
  src: SourceText,
  out: Collector,
  facts: LiteralFacts,
  writes: boolean,
): void {
  for (const p of facts.persist) {
    if (writes) out.emit(p.rule, src, p.start, p.end, `code writes to ${p.what}`);
    else out.emit('WS706', src, p.start, p.end, `code names ${p.what}`);
  }
}
