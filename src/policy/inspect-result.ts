// Inspection of what an upstream returns, before the agent sees it: invisible Unicode and
// instruction-like text mark the session as having touched untrusted content, whatever the tool's
// labels say; configured secret patterns are redacted.
//
// Detection is deliberately narrow (a finding turns values into tainted ones and can escalate the
// calls that use them), so benign mail and documents should pass: "please disregard my previous
// email" or "don't tell Sarah about the party" are not findings; "ignore your previous
// instructions" and "don't tell the user" are.

import { cleanText, decodeHiddenTags } from './flow-values.js';

export interface ResultInspection {
  /** Tag characters, zero-width characters or bidi controls outside their legitimate uses. */
  invisibleUnicode: boolean;
  /** Text that reads as instructions to the model. */
  instructionLike: boolean;
  /** Finding codes, each once, in the order of `FINDINGS`. */
  findings: string[];
}

export const FINDINGS = [
  'tag_characters',
  'zero_width',
  'bidi_control',
  'instruction_override',
  'task_hijack',
  'concealment',
  'role_reassignment',
  'injection_tag',
  'addressed_to_ai',
  /** The result held more text than is inspected: what was not read counts as untrusted. */
  'inspection_truncated',
] as const;
export type Finding = (typeof FINDINGS)[number];

const INVISIBLE: ReadonlySet<Finding> = new Set(['tag_characters', 'zero_width', 'bidi_control']);
const INSTRUCTION: ReadonlySet<Finding> = new Set([
  'instruction_override',
  'task_hijack',
  'concealment',
  'role_reassignment',
  'injection_tag',
  'addressed_to_ai',
]);

export const MAX_INSPECTED_CHARS = 4 * 1024 * 1024;
export const MAX_INSPECTED_STRINGS = 100_000;
const MAX_DEPTH = 64;

export interface ResultText {
  texts: string[];
  /** Indexes into `texts` of the object keys (of `structuredContent` and other walked JSON). */
  keys: Set<number>;
  /** A limit (characters, strings, nesting) stopped the walk. */
  truncated: boolean;
}

/**
 * The text of a result as the model will read it. For an MCP `CallToolResult`: text content,
 * embedded resource text and URI, resource-link name, title, description and URI, every string,
 * number and key of `structuredContent`; `contents[]` of a `ReadResourceResult` and `messages[]` of
 * a `GetPromptResult` likewise. Image and audio data are skipped. Anything else (an unknown content
 * type, a non-MCP value) is walked whole.
 */
export function collectResultText(
  result: unknown,
  limits: { maxChars?: number; maxStrings?: number } = {},
): ResultText {
  const maxChars = limits.maxChars ?? MAX_INSPECTED_CHARS;
  const maxStrings = limits.maxStrings ?? MAX_INSPECTED_STRINGS;
  const out: ResultText = { texts: [], keys: new Set(), truncated: false };
  let chars = 0;
  const push = (s: unknown): void => {
    if (typeof s === 'number' && Number.isFinite(s)) s = String(s);
    if (typeof s !== 'string' || s.length === 0 || out.truncated) return;
    if (out.texts.length >= maxStrings || chars + s.length > maxChars) {
      out.truncated = true;
      const room = maxChars - chars;
      if (room > 0 && out.texts.length < maxStrings) out.texts.push(s.slice(0, room));
      chars = maxChars;
      return;
    }
    chars += s.length;
    out.texts.push(s);
  };
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === 'string' || typeof v === 'number') return push(v);
    if (typeof v !== 'object' || v === null) return;
    if (depth >= MAX_DEPTH) {
      out.truncated = true;
      return;
    }
    if (Array.isArray(v)) {
      for (const x of v as unknown[]) walk(x, depth + 1);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      const at = out.texts.length;
      push(k);
      if (out.texts.length > at) out.keys.add(at);
      walk(x, depth + 1);
    }
  };
  const contentItem = (item: unknown): void => {
    if (!isRecord(item)) return walk(item, 1);
    switch (item['type']) {
      case 'text':
        return push(item['text']);
      case 'image':
      case 'audio':
        return;
      case 'resource':
        return resourceContents(item['resource']);
      case 'resource_link':
        for (const k of ['uri', 'name', 'title', 'description']) push(item[k]);
        return;
      default:
        return walk(item, 1);
    }
  };
  const resourceContents = (r: unknown): void => {
    if (!isRecord(r)) return walk(r, 1);
    push(r['uri']);
    push(r['text']);
  };

  if (!isRecord(result)) {
    walk(result, 0);
    return out;
  }
  const { content, structuredContent, contents, messages } = result;
  const known =
    Array.isArray(content) ||
    structuredContent !== undefined ||
    Array.isArray(contents) ||
    Array.isArray(messages);
  if (!known) {
    walk(result, 0);
    return out;
  }
  if (Array.isArray(content)) for (const item of content as unknown[]) contentItem(item);
  if (structuredContent !== undefined) walk(structuredContent, 1);
  if (Array.isArray(contents)) for (const r of contents as unknown[]) resourceContents(r);
  if (Array.isArray(messages)) {
    push(result['description']);
    for (const m of messages as unknown[]) {
      const c = isRecord(m) ? m['content'] : m;
      if (Array.isArray(c)) for (const item of c as unknown[]) contentItem(item);
      else contentItem(c);
    }
  }
  return out;
}

// Legitimate uses of otherwise invisible characters, removed before looking: an emoji tag
// sequence (subdivision flags such as England's), a zero-width joiner inside an emoji sequence,
// one zero-width character between letters of scripts that need it (Persian ZWNJ, Indic ZWJ,
// Thai word breaks), and a byte order mark at the very start of a text.
const EMOJI_TAG_SEQUENCE = /\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{1,7}\u{E007F}/gu;
const EMOJI_ZWJ =
  /(?<=\p{Extended_Pictographic}(?:\u{FE0F}|\p{Emoji_Modifier})?)\u200D(?=\p{Extended_Pictographic})/gu;
const SCRIPT_JOINER = /(?<=[\p{Lo}\p{M}])[\u200B\u200C\u200D](?=[\p{Lo}\p{M}])/gu;
const LEADING_BOM = /^\uFEFF/u;

const TAG_CHARS = /[\u{E0000}-\u{E007F}]/u;
const ZERO_WIDTH = /[\u200B-\u200D\u2060\uFEFF]/u;
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/u;

// Instruction-like text, matched on NFKC-folded text with format characters removed and
// whitespace collapsed, so zero-width padding inside a word does not hide it. INVARIANT: every
// pattern is linear: unbounded repetition only right after a literal keyword.
const INSTRUCTION_PATTERNS: ReadonlyArray<readonly [Finding, RegExp]> = [
  [
    'instruction_override',
    // `\w{0,3}nstructions` also catches the misspellings attack templates use ("iunstructions").
    /\b(?:ignore|disregard|forget|override|bypass)\b[^.]{0,60}?\b(?:previous|prior|above|earlier|preceding|original|all|any|your|system)\b[^.]{0,40}?\b(?:\w{0,3}nstructions?|prompts?|directives?|guidelines)\b/i,
  ],
  ['instruction_override', /\b(?:new|updated|revised|real|actual)\s+(?:system\s+)?instructions?\s*:/i],
  [
    'task_hijack',
    /\bbefore you (?:can )?(?:solve|complete|do|finish|continue|proceed with|answer|start)\b[^.]{0,40}?\b(?:task|request)s? (?:that |which )?(?:i|the user|they) (?:gave|assigned|asked)\b/i,
  ],
  [
    'task_hijack',
    /\bafter you (?:do|have done|complete|finish|are done with) (?:that|this|these)\b[^.]{0,40}?\b(?:task|request)s? (?:that |which )?(?:i|the user|they) (?:gave|assigned|asked)\b/i,
  ],
  [
    'task_hijack',
    /\binstead of (?:the|your) (?:original|current|given|user'?s?) (?:task|request|instructions?)\b/i,
  ],
  [
    'concealment',
    /\b(?:do not|don't|dont|never|without)\s+(?:tell|telling|inform|informing|mention|mentioning|reveal|revealing|notify|notifying|alert|alerting|warn|warning|asking)\s+(?:the\s+)?(?:user|human|owner|operator)\b/i,
  ],
  ['concealment', /\b(?:do not|don't|never)\s+(?:ask|wait)\s+for\s+(?:confirmation|approval|permission)\b/i],
  ['concealment', /\bwithout\s+asking\s+(?:for\s+)?(?:confirmation|approval|permission)\b/i],
  ['concealment', /\b(?:hide|conceal|keep)\b[^.]{0,30}?\bfrom (?:the )?(?:user|human)\b/i],
  [
    'role_reassignment',
    /\byou are now (?:acting as|operating as|in (?:developer|debug|admin|god|dan) mode|an? (?:different|new|unrestricted|unfiltered) (?:ai|assistant|model|agent))\b/i,
  ],
  ['role_reassignment', /\bfrom now on,? you (?:are|will|must|should|shall)\b/i],
  [
    'role_reassignment',
    /\byour (?:new|real|true) (?:role|task|instructions?|goal|objective|persona) (?:is|are)\b/i,
  ],
  [
    'role_reassignment',
    /(?:^|\n) ?(?:system|assistant) ?: ?(?:you\b|ignore\b|from now on\b|new instructions\b)/i,
  ],
  [
    'role_reassignment',
    /\[\/?(?:system|inst)\]|<\|(?:im_start|im_end|system|endoftext)\|>|#{2,}\s*\(?system[_ ](?:message|prompt)\)?/i,
  ],
  [
    'injection_tag',
    /<\s*\/?\s*(?:important|information|instructions?|system|system[_-]prompt|admin|secret|hidden)\s*>/i,
  ],
  [
    'addressed_to_ai',
    /\b(?:dear|attention|hey|hi|hello|note (?:to|for)|message (?:to|for)|instructions? (?:to|for))\s*,?\s+(?:the\s+)?(?:ai|assistant|agent|model|llm|chatbot|language model|ai assistant|ai agent|claude|gpt[\w.-]*|gemini|copilot)\b/i,
  ],
  [
    'addressed_to_ai',
    /\bto you,?\s+(?:the\s+)?(?:ai|assistant|agent|model|llm|claude|gpt[\w.-]*|gemini|llama[\w.-]*|ai assistant)\b/i,
  ],
  ['addressed_to_ai', /\b(?:if|when) you are an? (?:ai|llm|language model|assistant|agent|bot)\b/i],
  [
    'addressed_to_ai',
    /\b(?:ai|llm)\s+(?:agents?|assistants?|models?)\s+(?:reading|processing|summari[sz]ing|parsing)\s+this\b/i,
  ],
];

// Only runs that are not already a single space are replaced: replacing every space is slow.
const BLANKS = /[^\S\n ][^\S\n]*| [^\S\n]+/g;
const LINE_BREAKS = / ?\n\s*/g;

/** Inspect texts collected by `collectResultText`. */
export function inspectTexts(collected: ResultText): ResultInspection {
  const found = new Set<Finding>();
  for (const text of collected.texts) {
    if (/[^\x20-\x7e\t\n\r]/.test(text)) invisibleFindings(text, found);
    // Lines stay lines (a role marker must start one); runs of blanks and blank lines shrink to
    // one, which also keeps every pattern linear.
    const visible = cleanText(text).replace(BLANKS, ' ').replace(LINE_BREAKS, '\n');
    for (const [finding, re] of INSTRUCTION_PATTERNS)
      if (!found.has(finding) && re.test(visible)) found.add(finding);
    const hidden = decodeHiddenTags(text);
    if (hidden !== undefined) {
      for (const [finding, re] of INSTRUCTION_PATTERNS)
        if (!found.has(finding) && re.test(hidden)) found.add(finding);
    }
  }
  if (collected.truncated) found.add('inspection_truncated');
  const findings = FINDINGS.filter((f) => found.has(f));
  return {
    invisibleUnicode: findings.some((f) => INVISIBLE.has(f)),
    instructionLike: findings.some((f) => INSTRUCTION.has(f)),
    findings,
  };
}

function invisibleFindings(text: string, found: Set<Finding>): void {
  const t = text
    .replace(LEADING_BOM, '')
    .replace(EMOJI_TAG_SEQUENCE, '')
    .replace(EMOJI_ZWJ, '')
    .replace(SCRIPT_JOINER, '');
  if (TAG_CHARS.test(t)) found.add('tag_characters');
  if (ZERO_WIDTH.test(t)) found.add('zero_width');
  if (BIDI_CONTROL.test(t)) found.add('bidi_control');
}

/** Inspect all text of an MCP result (see `collectResultText` for what counts as its text). */
export function inspectResult(result: unknown): ResultInspection {
  return inspectTexts(collectResultText(result));
}

/**
 * Whether an inspection marks the session as having touched untrusted content: any invisible
 * Unicode, any instruction-like text, or text too large to inspect in full (fail closed).
 */
export function inspectionMarksUntrusted(inspection: ResultInspection): boolean {
  return (
    inspection.invisibleUnicode ||
    inspection.instructionLike ||
    inspection.findings.includes('inspection_truncated')
  );
}

/**
 * Credentials that are unambiguous by shape, so redaction does not mangle ordinary text: AWS
 * access key ids, GitHub tokens (classic and fine-grained), PEM and PGP private key blocks, and
 * JWTs (a signed JWS whose header and payload are JSON objects: what a bearer token looks like).
 */
export const DEFAULT_SECRET_PATTERNS: readonly RegExp[] = [
  /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g,
  /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g,
  /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]{1,32768}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g,
];

export const REDACTED = '[redacted]';
const MAX_REDACT_DEPTH = 256;

/** Global copies of the patterns, made once per pattern object. */
const globalCopies = new WeakMap<RegExp, RegExp>();

/**
 * A pattern's own global copy: always global, since a non-global pattern would redact only its
 * first match in each string; a copy, so that the caller's `lastIndex` is never touched. Sharing
 * it between calls is safe: a global replace starts at index 0 and leaves `lastIndex` at 0, and
 * collects every match before it calls the replacer.
 */
function globalCopy(p: RegExp): RegExp {
  let g = globalCopies.get(p);
  if (!g) {
    g = new RegExp(p.source, p.global ? p.flags : `${p.flags}g`);
    globalCopies.set(p, g);
  }
  return g;
}

/**
 * A deep copy of `result` with every match of `patterns` in every string (object keys included)
 * replaced by `[redacted]`, and how many matches were replaced. A subtree nested deeper than the
 * copy goes is replaced whole (and counted), so nothing is passed on unread.
 */
export function redactSecrets<T>(
  result: T,
  patterns: readonly RegExp[] = DEFAULT_SECRET_PATTERNS,
): { result: T; count: number } {
  const global = patterns.map(globalCopy);
  let count = 0;
  const redactString = (s: string): string => {
    let out = s;
    for (const re of global) {
      out = out.replace(re, () => {
        count++;
        return REDACTED;
      });
    }
    return out;
  };
  const copy = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactString(v);
    if (typeof v !== 'object' || v === null) return v;
    if (depth >= MAX_REDACT_DEPTH) {
      count++;
      return REDACTED;
    }
    if (Array.isArray(v)) return (v as unknown[]).map((x) => copy(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // defineProperty: a `__proto__` key stays an own property instead of replacing the prototype.
      Object.defineProperty(out, redactString(k), {
        value: copy(x, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  return { result: copy(result, 0) as T, count };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
