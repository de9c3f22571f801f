// Characters a model reads but a reviewer does not see: Unicode tag characters (ASCII smuggling),
// zero-width and filler characters, bidirectional controls (Trojan Source, CVE-2021-42574), runs of
// variation selectors, and identifiers mixing Latin with look-alike Cyrillic or Greek letters.
// Legitimate uses stay quiet: an emoji's variation selector, a joiner inside an emoji sequence or
// Persian/Indic text, direction marks inside right-to-left prose, whole words in another script.

import type { Collector } from '../collector.js';
import type { SourceText } from '../source.js';
import type { RuleMeta } from './meta.js';

export const UNICODE_RULES: RuleMeta[] = [
  {
    id: 'WS201',
    name: 'tag-characters',
    category: 'unicode',
    severity: 'high',
    short: 'invisible Unicode tag characters',
    full: 'Unicode tag characters (U+E0000-U+E007F) outside an emoji flag sequence: each mirrors an ASCII character, invisible to people but read by models (ASCII smuggling).',
    help: 'Remove the tag characters; the finding shows the text they spell.',
  },
  {
    id: 'WS202',
    name: 'zero-width-characters',
    category: 'unicode',
    severity: 'medium',
    short: 'zero-width or invisible characters',
    full: 'Zero-width spaces, joiners, word joiners, invisible operators, BOMs inside text or filler characters inside words, where no script needs them; long runs can encode hidden data.',
    help: 'Remove the invisible characters, or explain why the text needs them.',
  },
  {
    id: 'WS203',
    name: 'bidi-control',
    category: 'unicode',
    severity: 'high',
    short: 'bidirectional control characters',
    full: 'Bidirectional embedding, override or isolate controls (U+202A-U+202E, U+2066-U+2069) reorder how text is shown, so code or instructions read differently from what runs (Trojan Source, CVE-2021-42574).',
    help: 'Remove the bidirectional controls from code, identifiers and instructions.',
  },
  {
    id: 'WS204',
    name: 'variation-selectors',
    category: 'unicode',
    severity: 'high',
    short: 'variation selectors carrying hidden data',
    full: 'A run of variation selectors, a supplementary variation selector (U+E0100-U+E01EF), or a selector on a plain ASCII letter: such sequences can encode arbitrary bytes invisibly.',
    help: 'Remove the variation selectors; one selector after an emoji is normal and not reported.',
  },
  {
    id: 'WS205',
    name: 'mixed-script-identifier',
    category: 'unicode',
    severity: 'high',
    short: 'identifier mixing Latin with look-alike letters',
    full: 'A name or identifier mixes Latin letters with Cyrillic or Greek letters that look like Latin ones (homoglyphs), so it reads as one name and is another.',
    help: 'Spell the identifier in one script.',
  },
  {
    id: 'WS206',
    name: 'invalid-utf8',
    category: 'unicode',
    severity: 'medium',
    short: 'invalid UTF-8',
    full: 'The file is not valid UTF-8; the bytes that do not decode were replaced and the rest was scanned.',
    help: 'Save the file as UTF-8.',
  },
];

const TAG = /(?:\udb40[\udc00-\udc7f])+/g;
const BIDI = /[\u202a-\u202e\u2066-\u2069]/g;
const RTL_LETTER = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]/;
// The classes below list joiners, selectors and combining ranges on purpose.
/* eslint-disable no-misleading-character-class */
const ZW = /[\u200b\u200c\u200d\u2060-\u2064\ufeff\u180e\u115f\u1160\u3164\uffa0]+/g;
const VS = /(?:[\ufe00-\ufe0f]|\udb40[\udd00-\uddef])+/g;
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|[\u{1f3fb}-\u{1f3ff}]/u;
const LETTER_AROUND = /[\p{L}\p{M}]/u;
const NON_LATIN_JOINING = /[\u0600-\u06ff\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f]/;
/* eslint-enable no-misleading-character-class */

function decodeTags(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = (ch.codePointAt(0) ?? 0) - 0xe0000;
    if (cp >= 0x20 && cp < 0x7f) out += String.fromCharCode(cp);
    else if (cp === 0x0a || cp === 0x0d) out += ' ';
  }
  return out;
}

function codePoints(s: string): string {
  return [...s]
    .slice(0, 6)
    .map((c) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`)
    .join(' ');
}

function prevCodePoint(text: string, i: number): string {
  if (i <= 0) return '';
  const lo = text.charCodeAt(i - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && i >= 2) return text.slice(i - 2, i);
  return text.slice(i - 1, i);
}

// Cyrillic and Greek letters that are drawn like Latin letters.
const CONFUSABLE =
  /[\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u0501\u04bb\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0406\u0408\u0405\u03bf\u03b1\u03bd\u03c1\u03c4\u03b9\u03ba\u039f\u0391\u0392\u0395\u0397\u0399\u039a\u039c\u039d\u03a1\u03a4\u03a5\u03a7\u0396]/;
// Letter runs: a homoglyph swap happens inside a word, while `αβγ-test` joins two whole words.
const WORD = /[\p{L}\p{M}]+/gu;
const LATIN = /\p{Script=Latin}/u;
const CYRILLIC_GREEK = /[\p{Script=Cyrillic}\p{Script=Greek}]/u;

export interface HiddenPayload {
  start: number;
  end: number;
  /** What the invisible characters spell. */
  text: string;
}

function printable(s: string): boolean {
  const chars = [...s];
  if (chars.length < 4) return false;
  const ok = chars.filter((c) => /[\x20-\x7e\n\t]|\p{L}/u.test(c)).length;
  return ok / chars.length > 0.9;
}

/** Variation selectors as bytes (VS1-16 = 0-15, VS17-256 = 16-255): the emoji-smuggling encoding. */
function decodeSelectors(run: string): string | undefined {
  const bytes: number[] = [];
  for (const ch of run) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0xfe00 && cp <= 0xfe0f) bytes.push(cp - 0xfe00);
    else if (cp >= 0xe0100 && cp <= 0xe01ef) bytes.push(cp - 0xe0100 + 16);
  }
  const text = Buffer.from(bytes).toString('utf8');
  return printable(text) ? text : undefined;
}

/** Two zero-width characters used as binary digits, eight to a byte, tried either way round. */
function decodeZeroWidthBits(run: string): string | undefined {
  const counts = new Map<string, number>();
  for (const c of run) counts.set(c, (counts.get(c) ?? 0) + 1);
  const symbols = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([c]) => c);
  const [x, y] = symbols;
  if (!x || !y) return undefined;
  for (const one of [y, x]) {
    const bits = [...run]
      .filter((c) => c === x || c === y)
      .map((c) => (c === one ? '1' : '0'))
      .join('');
    const bytes: number[] = [];
    for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
    const text = Buffer.from(bytes).toString('utf8');
    if (printable(text)) return text;
  }
  return undefined;
}

/**
 * Invisible and deceptive characters in `src`. `code` marks program text, where any bidi control
 * is wrong; in prose a bidi control next to right-to-left letters is left alone. Returns what the
 * invisible runs spell, so the caller can scan that text as hidden instructions.
 */
export function scanUnicode(src: SourceText, out: Collector, code: boolean): HiddenPayload[] {
  const text = src.text;
  const payloads: HiddenPayload[] = [];
  for (const m of text.matchAll(TAG)) {
    const before = prevCodePoint(text, m.index);
    const decoded = decodeTags(m[0]);
    // An emoji subdivision flag (black flag + tag letters + cancel tag) is the one legitimate use.
    if (before === '\u{1f3f4}' && /^[a-z0-9]{2,7}$/.test(decoded) && m[0].endsWith('\udb40\udc7f')) continue;
    const n = [...m[0]].length;
    out.emit(
      'WS201',
      src,
      m.index,
      m.index + m[0].length,
      `${n} invisible tag characters spelling ${JSON.stringify(decoded.slice(0, 300))}`,
    );
    payloads.push({ start: m.index, end: m.index + m[0].length, text: decoded });
  }
  for (const m of text.matchAll(BIDI)) {
    if (!code) {
      const lineStart = text.lastIndexOf('\n', m.index) + 1;
      const lineEnd = text.indexOf('\n', m.index);
      const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
      if (RTL_LETTER.test(line)) continue;
    }
    out.emit(
      'WS203',
      src,
      m.index,
      m.index + 1,
      `bidirectional control ${codePoints(m[0])}${code ? ' in code' : ''}`,
    );
  }
  for (const m of text.matchAll(ZW)) {
    const run = m[0];
    const i = m.index;
    if (i === 0 && run === '\ufeff') continue;
    const before = prevCodePoint(text, i);
    const after = String.fromCodePoint(text.codePointAt(i + run.length) ?? 32);
    const len = [...run].length;
    if (len === 1 && (run === '\u200d' || run === '\u200c')) {
      // Joiners build emoji sequences and shape Arabic, Persian and Indic words.
      if (EMOJI.test(before) || EMOJI.test(after)) continue;
      if (NON_LATIN_JOINING.test(before) || NON_LATIN_JOINING.test(after)) continue;
    }
    const bits = len >= 16 ? decodeZeroWidthBits(run) : undefined;
    if (bits !== undefined) payloads.push({ start: i, end: i + run.length, text: bits });
    const inWord = LETTER_AROUND.test(before) && LETTER_AROUND.test(after);
    // In code, a stray joiner or BOM inside a string table is common; inside a word it is not.
    const sev = len >= 4 ? 'high' : inWord || (!code && len >= 2) ? 'medium' : 'low';
    const spelled = bits !== undefined ? ` encoding ${JSON.stringify(bits.slice(0, 200))}` : '';
    out.emit(
      'WS202',
      src,
      i,
      i + run.length,
      `${len} zero-width/invisible character(s) ${codePoints(run)}${spelled}`,
      sev,
    );
  }
  for (const m of text.matchAll(VS)) {
    const run = m[0];
    const i = m.index;
    const n = [...run].length;
    const before = prevCodePoint(text, i);
    const supplementary = /\udb40/.test(run);
    if (n === 1 && !supplementary) {
      const cp = before.codePointAt(0) ?? 0;
      // Emoji, symbols and CJK ideographs take selectors; so do keycap digits before U+20E3.
      if (cp > 0x7f || text.charCodeAt(i + run.length) === 0x20e3) continue;
    }
    if (n === 2 && !supplementary && EMOJI.test(before)) continue;
    const bytes = n >= 4 ? decodeSelectors(run) : undefined;
    if (bytes !== undefined) payloads.push({ start: i, end: i + run.length, text: bytes });
    const after = before ? ` after ${JSON.stringify(before)}` : '';
    const spelled = bytes !== undefined ? ` encoding ${JSON.stringify(bytes.slice(0, 200))}` : '';
    out.emit(
      'WS204',
      src,
      i,
      i + run.length,
      `${n} variation selector(s)${after}${supplementary ? ', supplementary range' : ''}${spelled}`,
    );
  }
  for (const m of text.matchAll(WORD)) {
    const w = m[0];
    if (!CYRILLIC_GREEK.test(w) || !LATIN.test(w) || !CONFUSABLE.test(w)) continue;
    // A homoglyph swap hides a few look-alikes in a Latin word; a run of Greek symbols is not one.
    const ascii = (w.match(/[A-Za-z]/g) ?? []).length;
    if (ascii < 2 || ascii * 2 < [...w].length) continue;
    out.emit(
      'WS205',
      src,
      m.index,
      m.index + w.length,
      `${JSON.stringify(w)} mixes Latin with Cyrillic/Greek look-alikes`,
    );
  }
  return payloads;
}
