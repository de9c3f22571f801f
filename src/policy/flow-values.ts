// Candidate values: what flow tracking remembers from tool results and the intent, and what it
// looks up for an argument. Both sides go through the same normalisation, so a value matches
// whatever its spelling (case, trailing punctuation, invisible characters, full-width forms).
//
// Each candidate is a key `<kind>:<normalised>`: `s` a whole short string, `email`, `url`
// (host, port, path and query; no scheme, no fragment), `host`, `iban` (IBAN-like: two letters,
// two digits, 11-30 letters or digits) and `digits` (phone, account and card numbers: seven
// digits or more, separators dropped).

import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';

export type ValueKind = 's' | 'email' | 'url' | 'host' | 'iban' | 'digits';

/** Whole strings longer than this (after normalisation) are not remembered whole. */
export const MAX_WHOLE_LENGTH = 256;
const MAX_KEY_LENGTH = 512;
const MAX_JSON_TEXT = 1024 * 1024;
const MAX_JSON_NESTING = 2;
const MAX_DEPTH = 64;
const MAX_LINES = 10_000;
const MAX_COLONS_PER_LINE = 8;
const MAX_INTENT_WORDS = 4096;
const MAX_NGRAM = 4;
const MAX_NAME_WORDS = 32;

/**
 * A long value is kept as a digest so that memory stays bounded per value; both sides hash the
 * same way, so matching is unaffected.
 */
export function makeKey(kind: ValueKind, norm: string): string {
  const key = `${kind}:${norm}`;
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${kind}#${createHash('sha256').update(norm).digest('base64url')}`;
}

// Format characters (zero-width, bidi controls, tag characters, soft hyphen, BOM) are invisible:
// a value hidden in untrusted text with them must still match what the model writes out.
const FORMAT_CHARS = /\p{Cf}/gu;
const TAG_RUN = /[\u{E0020}-\u{E007E}]+/gu;

/** NFKC (full-width and compatibility forms folded), format characters removed. */
export function cleanText(text: string): string {
  return text.normalize('NFKC').replace(FORMAT_CHARS, '');
}

/** Text smuggled in Unicode tag characters (U+E0020-E007E mirror ASCII), decoded; else undefined. */
export function decodeHiddenTags(text: string): string | undefined {
  const runs = text.match(TAG_RUN);
  if (!runs) return undefined;
  return runs
    .map((run) =>
      Array.from(run, (ch) => String.fromCharCode((ch.codePointAt(0) ?? 0xe0020) - 0xe0000)).join(''),
    )
    .join('\n');
}

const NUMBER = /^[-+]?(?:0|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d*)(?:\.\d+)?$/;
const TRAILING_SENTENCE_PUNCT = /[.,;:!?]+$/u;

/**
 * A whole string as a value: trimmed, inner whitespace collapsed, trailing sentence punctuation
 * dropped, lower-cased; decimal numbers in canonical form (`1,000.50` and `1000.5` are one value;
 * `007` keeps its leading zeros, an identifier rather than a number). Undefined when empty or long.
 */
export function normaliseWhole(value: string, alreadyClean = false): string | undefined {
  if (value.length > MAX_WHOLE_LENGTH * 4) return undefined;
  const t = (alreadyClean ? value : cleanText(value))
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(TRAILING_SENTENCE_PUNCT, '')
    .toLowerCase();
  if (t.length === 0 || t.length > MAX_WHOLE_LENGTH) return undefined;
  if (NUMBER.test(t)) {
    const digits = t.replace(/\D/g, '');
    const n = Number(t.replaceAll(',', ''));
    if (Number.isFinite(n) && digits.length <= 15) return String(n);
  }
  return t;
}

// Tokens. INVARIANT: each regex runs in linear time on attacker-controlled text: a lookbehind
// lets a match start only where a run of its characters starts, repetitions are bounded or
// cannot overlap, so no input makes them backtrack quadratically.
const URL_TOKEN = /(?:\bhttps?:\/\/|(?<![\p{L}\p{N}.@-])www\.)[^\s<>"'`]+/giu;
const EMAIL_TOKEN =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}[\p{L}\p{N}-]{0,61}[\p{L}\p{N}]/gu;
const IBAN_COMPACT = /(?<![\p{L}\p{N}])[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}(?![\p{L}\p{N}])/gu;
// Spaced groups of four only in capitals, so that a following word is never swallowed.
const IBAN_SPACED =
  /(?<![\p{L}\p{N}])[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?(?![\p{L}\p{N}])/gu;
const HOST_TOKEN =
  /(?<![\p{L}\p{N}_@.-])(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}[\p{L}\p{N}-]{0,61}[\p{L}\p{N}](?![\p{L}\p{N}_@-])/gu;
const IPV4_TOKEN = /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\.?\d)/g;
const DIGITS_TOKEN = /(?<![\p{L}\p{N}_+])\+?\d(?:[ ().\-/]{0,2}\d){6,}(?![\p{L}\p{N}_])/gu;
const QUOTED =
  /"([^"\n]{1,256})"|'([^'\n]{1,256})'|“([^”\n]{1,256})”|‘([^’\n]{1,256})’|`([^`\n]{1,256})`|«([^»\n]{1,256})»/gu;
const BULLET = /^\s*(?:[-*•]|\d{1,3}[.)])\s+/u;
const PUNCT = /[\p{P}\p{S}]/u;
// Proper names in running text (`Riverside View Hotel`, `Alice`): runs of capitalised words.
const CAPITALISED_RUN = /(?<![\p{L}\p{N}])\p{Lu}[\p{L}\p{N}'’&-]*(?: \p{Lu}[\p{L}\p{N}'’&-]*)*/gu;
// Identifiers in running text: `new_password`, `order-4711`, `x7f3k9`.
const IDENTIFIER =
  /(?<![\p{L}\p{N}_-])(?:[\p{L}\p{N}]+(?:[_-][\p{L}\p{N}]+)+|(?=[\p{L}]*\p{N})(?=\p{N}*\p{L})[\p{L}\p{N}]{4,})(?![\p{L}\p{N}_-])/gu;

/** Called once per candidate found; `primary` is false for a host derived from a URL or email. */
export type Emit = (kind: ValueKind, norm: string, primary: boolean) => void;

/** Drop trailing punctuation that ends a sentence rather than the token, and unbalanced closers. */
export function trimToken(token: string): string {
  let t = token;
  for (;;) {
    const last = t.at(-1);
    if (last === undefined) return t;
    if ('.,;:!?\'"*_~'.includes(last)) {
      t = t.slice(0, -1);
      continue;
    }
    const open = { ')': '(', ']': '[', '}': '{', '>': '<' }[last];
    if (open !== undefined && count(t, last) > count(t, open)) {
      t = t.slice(0, -1);
      continue;
    }
    return t;
  }
}

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

export function normaliseHost(host: string): string {
  const lower = host.toLowerCase().replace(/\.+$/, '');
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(lower)) return lower;
  const ascii = domainToASCII(lower);
  return ascii.length > 0 ? ascii : lower;
}

/** `host[:port]/path?query` of an http(s) URL (a `www.` token without scheme reads as http). */
export function normaliseUrl(token: string): { url: string; host: string } | undefined {
  const t = trimToken(token);
  let u: URL;
  try {
    u = new URL(/^https?:\/\//i.test(t) ? t : `http://${t}`);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const host = normaliseHost(u.hostname);
  if (host.length === 0) return undefined;
  const path = u.pathname.endsWith('/') ? u.pathname.slice(0, -1) : u.pathname;
  return { url: `${host}${u.port ? `:${u.port}` : ''}${path}${u.search}`, host };
}

const blank = (m: string): string => ' '.repeat(m.length);
const GLUED_SENTENCE = /^(.*?[^./]\.[\p{L}]{2,})\.\p{Lu}[\p{Ll}]*$/u;

/**
 * A URL token as written, and, when a sentence was glued to a bare host (`www.x.com.They`), the
 * host without it: both readings are candidates.
 */
function urlReadings(token: string): string[] {
  const t = trimToken(token);
  if (t.length > MAX_WHOLE_LENGTH) return [t];
  const glued = t.includes('/', t.indexOf('//') + 2) ? null : GLUED_SENTENCE.exec(t);
  return glued?.[1] !== undefined ? [t, glued[1]] : [t];
}

/**
 * Identifying tokens of clean text: URLs (with their host), emails (with their domain when
 * `emailDomains`), IBAN-like tokens, bare hosts and IPv4 addresses, and digit runs. A token inside
 * a URL or email is not found again as a bare host or digit run.
 */
export function tokens(clean: string, emit: Emit, emailDomains = true): void {
  let masked = clean;
  if (clean.includes('://') || /www\./i.test(clean)) {
    for (const m of clean.matchAll(URL_TOKEN)) {
      for (const token of urlReadings(m[0])) {
        const u = normaliseUrl(token);
        if (!u) continue;
        emit('url', u.url, true);
        emit('host', u.host, false);
      }
    }
    masked = masked.replace(URL_TOKEN, blank);
  }
  if (clean.includes('@')) {
    // From the unmasked text: a recipient inside a URL's query string is a target too.
    for (const m of clean.matchAll(EMAIL_TOKEN)) {
      const email = trimToken(m[0]).toLowerCase();
      const at = email.lastIndexOf('@');
      emit('email', `${email.slice(0, at)}@${normaliseHost(email.slice(at + 1))}`, true);
      if (emailDomains) emit('host', normaliseHost(email.slice(at + 1)), false);
    }
    masked = masked.replace(EMAIL_TOKEN, blank);
  }
  const hasDigits = /\d/.test(masked);
  if (hasDigits) {
    for (const re of [IBAN_SPACED, IBAN_COMPACT]) {
      for (const m of masked.matchAll(re)) emit('iban', m[0].replaceAll(' ', '').toUpperCase(), true);
      masked = masked.replace(re, blank);
    }
  }
  if (masked.includes('.')) {
    for (const m of masked.matchAll(HOST_TOKEN)) emit('host', normaliseHost(m[0]), true);
    if (hasDigits) for (const m of masked.matchAll(IPV4_TOKEN)) emit('host', m[0], true);
  }
  if (hasDigits) for (const m of masked.matchAll(DIGITS_TOKEN)) emit('digits', onlyDigits(m[0]), true);
}

function onlyDigits(s: string): string {
  let out = '';
  for (const c of s) if (c >= '0' && c <= '9') out += c;
  return out;
}

/** Bounded collector of candidate keys. */
export class CandidateSet {
  readonly keys = new Set<string>();
  /** Texts already read: structuredContent and its JSON copy in the text content repeat each other. */
  private readonly seen = new Set<string>();
  /** Set when a limit stopped extraction: some values were not read. */
  truncated = false;

  constructor(private readonly maxKeys: number) {}

  /** True the first time a text is offered: a repeated text adds nothing. */
  firstSight(text: string): boolean {
    if (this.seen.has(text)) return false;
    this.seen.add(text);
    return true;
  }

  readonly emit: Emit = (kind, norm) => {
    if (norm.length === 0) return;
    const key = makeKey(kind, norm);
    if (this.keys.has(key)) return;
    if (this.keys.size >= this.maxKeys) {
      this.truncated = true;
      return;
    }
    this.keys.add(key);
  };
}

/**
 * Everything a text offers as values: the whole text when short; JSON inside the text, walked;
 * each line and whatever follows a colon in it (YAML, mail headers); quoted spans; runs of
 * capitalised words (names) and identifier-like words; tokens.
 * Text smuggled in tag characters is decoded and read as well.
 */
export function extractText(text: string, out: CandidateSet, jsonNesting = 0): void {
  if (!out.firstSight(text)) return;
  const clean = cleanText(text);
  extractClean(clean, out, jsonNesting);
  const hidden = decodeHiddenTags(text);
  if (hidden !== undefined) extractClean(cleanText(hidden), out, jsonNesting);
}

function extractClean(clean: string, out: CandidateSet, jsonNesting: number): void {
  const whole = normaliseWhole(clean, true);
  if (whole !== undefined) out.emit('s', whole, true);
  const trimmed = clean.trimStart();
  if (
    jsonNesting < MAX_JSON_NESTING &&
    clean.length <= MAX_JSON_TEXT &&
    (trimmed.startsWith('{') || trimmed.startsWith('['))
  ) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(clean);
    } catch {
      parsed = undefined;
    }
    if (parsed !== undefined) walkJson(parsed, (s) => extractText(s, out, jsonNesting + 1), out, 0);
  }
  const lines = clean.split('\n');
  if (lines.length > MAX_LINES) out.truncated = true;
  for (const line of lines.slice(0, MAX_LINES)) {
    if (lines.length > 1) {
      const l = normaliseWhole(line.replace(BULLET, ''), true);
      if (l !== undefined) out.emit('s', l, true);
    }
    // What follows a colon: the value of `key: value` lines (YAML, mail headers) and of
    // "write them the following message: ...".
    for (
      let i = line.indexOf(': '), n = 0;
      i >= 0 && n < MAX_COLONS_PER_LINE;
      i = line.indexOf(': ', i + 2), n++
    ) {
      const v = normaliseWhole(line.slice(i + 2), true);
      if (v !== undefined) out.emit('s', v, true);
    }
  }
  for (const m of clean.matchAll(QUOTED)) {
    const inner = m.slice(1).find((g) => g !== undefined);
    const v = inner !== undefined ? normaliseWhole(inner, true) : undefined;
    if (v !== undefined) out.emit('s', v, true);
  }
  // A run longer than a name is a heading or shouting; its first words are enough.
  for (const m of clean.matchAll(CAPITALISED_RUN)) ngrams(m[0].split(' ', MAX_NAME_WORDS), out);
  for (const m of clean.matchAll(IDENTIFIER)) out.emit('s', m[0].toLowerCase(), true);
  tokens(clean, out.emit);
}

/** A word without the punctuation and symbols around it (`$98.70,` is `98.70`). */
function trimPunctuation(word: string): string {
  const chars = Array.from(word);
  let start = 0;
  let end = chars.length;
  while (start < end && PUNCT.test(chars[start] ?? '')) start++;
  while (end > start && PUNCT.test(chars[end - 1] ?? '')) end--;
  return chars.slice(start, end).join('');
}

/** Each run of up to four consecutive words, as whole values. */
function ngrams(words: readonly string[], out: CandidateSet): void {
  for (let i = 0; i < words.length; i++) {
    for (let n = 1; n <= MAX_NGRAM && i + n <= words.length; n++) {
      const v = normaliseWhole(words.slice(i, i + n).join(' '), true);
      if (v !== undefined) out.emit('s', v, true);
    }
  }
}

/** Strings, finite numbers and object keys of a JSON value, depth-bounded. */
export function walkJson(
  value: unknown,
  onString: (s: string) => void,
  out: { truncated: boolean },
  depth: number,
): void {
  if (typeof value === 'string') return onString(value);
  if (typeof value === 'number') {
    if (Number.isFinite(value)) onString(String(value));
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth >= MAX_DEPTH) {
    out.truncated = true;
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value as unknown[]) walkJson(v, onString, out, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    onString(k);
    walkJson(v, onString, out, depth + 1);
  }
}

/** A name vouched for by `trustNames` is at most this long (after normalisation). */
export const MAX_NAME_LENGTH = 64;

/**
 * The names a result offers as whole values: each JSON leaf of a text that is JSON (strings and
 * numbers, not object keys), or else the text itself, when it is one line of at most
 * `MAX_NAME_LENGTH` characters with no address in it (no URL, e-mail, host, IBAN or long number).
 * Never a part of a longer text: a name quoted inside a message is the message writer's, not
 * the service's.
 */
export function nameKeys(text: string, out: Set<string>): void {
  const clean = cleanText(text);
  const trimmed = clean.trimStart();
  if ((trimmed.startsWith('{') || trimmed.startsWith('[')) && clean.length <= MAX_JSON_TEXT) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(clean);
    } catch {
      parsed = undefined;
    }
    if (parsed !== undefined) return leafNames(parsed, out, 0);
  }
  addName(clean, out);
}

function leafNames(value: unknown, out: Set<string>, depth: number): void {
  if (typeof value === 'string') return addName(cleanText(value), out);
  if (typeof value === 'number') {
    if (Number.isFinite(value)) addName(String(value), out);
    return;
  }
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return;
  for (const v of Array.isArray(value) ? (value as unknown[]) : Object.values(value))
    leafNames(v, out, depth + 1);
}

function addName(clean: string, out: Set<string>): void {
  if (clean.includes('\n') || clean.length > MAX_NAME_LENGTH * 2) return;
  const norm = normaliseWhole(clean, true);
  if (norm === undefined || norm.length > MAX_NAME_LENGTH) return;
  let address = false;
  tokens(clean, () => {
    address = true;
  });
  if (!address) out.add(makeKey('s', norm));
}

/**
 * The human's own words as values: everything `extractText` finds, plus each word and each run
 * of up to four words, so that `pay Le Marais Boutique` vouches for `Le Marais Boutique`.
 */
export function extractIntentText(text: string, out: CandidateSet): void {
  extractText(text, out);
  const words = cleanText(text)
    .split(/\s+/u)
    .map(trimPunctuation)
    .filter((w) => w.length > 0);
  if (words.length > MAX_INTENT_WORDS) out.truncated = true;
  ngrams(words.slice(0, MAX_INTENT_WORDS), out);
}

/** What one argument value is checked as. */
export interface LeafCandidates {
  /** Keys that identify the value: its tokens, or the whole string when it has none. */
  primary: string[];
  /** Keys that add evidence without identifying it: hosts of URLs, the whole string of a value with tokens. */
  secondary: string[];
  /** The whole-string key, when the value is short enough to have one. */
  whole: string | undefined;
}

/**
 * Candidates of one argument value: its identifying tokens (an email, URL or IBAN embedded in a
 * longer string counts, as does one hidden in tag characters) and the whole string when short.
 */
export function leafCandidates(value: string): LeafCandidates {
  const found = new Map<string, boolean>();
  const emit: Emit = (kind, norm, primary) => {
    if (norm.length === 0) return;
    const key = makeKey(kind, norm);
    found.set(key, (found.get(key) ?? false) || primary);
  };
  // An address is judged by itself, not by its domain: a colleague's mail in untrusted content
  // must not taint every address at the company. A URL is judged by its host as well, since
  // the host is where data goes.
  const clean = cleanText(value);
  tokens(clean, emit, false);
  const hidden = decodeHiddenTags(value);
  if (hidden !== undefined) tokens(cleanText(hidden), emit, false);
  const norm = normaliseWhole(clean, true);
  const whole = norm !== undefined ? makeKey('s', norm) : undefined;
  const primary = [...found].filter(([, p]) => p).map(([k]) => k);
  const secondary = [...found].filter(([, p]) => !p).map(([k]) => k);
  if (whole !== undefined) (primary.length > 0 ? secondary : primary).push(whole);
  return { primary, secondary, whole };
}
