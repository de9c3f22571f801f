// The scan a tool's description (and every other string of its definition) gets the first time
// Warden sees it: characters a model reads but a person reviewing the text cannot see, and the
// phrasings of published tool-poisoning attacks (instruction overrides, concealment from the user,
// fake system tags, role reassignment, orders about other tools).
//
// It is deliberately conservative: a `high` finding keeps a definition from being pinned
// automatically and makes approving it an explicit choice, so each high rule only fires on text
// that ordinary tool documentation does not contain. `medium` findings are shown to the reviewer
// and change nothing else. The scan is a tripwire, not the defence: the defence is that nothing
// unreviewed is ever pinned.

import { q } from '../errors.js';

export type FindingSeverity = 'high' | 'medium';

export type FindingRule =
  | 'unicode-tag-characters'
  | 'variation-selector-run'
  | 'bidi-control-characters'
  | 'zero-width-characters'
  | 'instruction-override'
  | 'concealment'
  | 'role-reassignment'
  | 'cross-tool-instruction'
  | 'directive-tag'
  | 'hidden-comment'
  | 'credential-path';

export interface Finding {
  /** Stable id of the rule that fired. */
  rule: FindingRule;
  severity: FindingSeverity;
  /** One lowercase line; text from the scanned string is quoted with `q()` and shown visibly. */
  message: string;
  /** UTF-16 offset in the scanned string where the finding starts. */
  index: number;
}

/** Every rule with its severity and what it looks for. */
export const FINDING_RULES: Readonly<Record<FindingRule, { severity: FindingSeverity; summary: string }>> = {
  'unicode-tag-characters': {
    severity: 'high',
    summary: 'unicode tag characters (U+E0000-U+E007F): invisible ascii, outside emoji flag sequences',
  },
  'variation-selector-run': {
    severity: 'high',
    summary: 'a run of variation selectors that can carry bytes (beyond a doubled emoji selector)',
  },
  'bidi-control-characters': {
    severity: 'high',
    summary: 'bidirectional embedding, override or isolate controls (U+202A-U+202E, U+2066-U+2069)',
  },
  'zero-width-characters': {
    severity: 'medium',
    summary: 'zero-width and invisible characters (U+200B-U+200D, U+2060-U+2064, U+FEFF, U+180E)',
  },
  'instruction-override': {
    severity: 'high',
    summary: 'tells the model to ignore, forget or override its earlier or system instructions',
  },
  concealment: { severity: 'high', summary: 'tells the model to keep something from the user' },
  'role-reassignment': { severity: 'high', summary: 'tells the model it is now someone or something else' },
  'cross-tool-instruction': {
    severity: 'high',
    summary: 'gives orders about other tools or about every tool call, not about this tool',
  },
  'directive-tag': {
    severity: 'medium',
    summary: 'fake emphasis or system tags such as <IMPORTANT> or [SYSTEM]',
  },
  'hidden-comment': { severity: 'medium', summary: 'html or markdown comments, invisible once rendered' },
  'credential-path': { severity: 'medium', summary: 'names a credential or agent configuration file' },
};

/** At most this many findings of one rule per string: enough to judge, bounded for the audit log. */
const MAX_PER_RULE = 10;

function finding(rule: FindingRule, message: string, index: number): Finding {
  return { rule, severity: FINDING_RULES[rule].severity, message, index };
}

function hex(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

function distinctCodePoints(cps: readonly number[]): string {
  return [...new Set(cps)].map(hex).join(', ');
}

// ---- invisible and deceptive characters ---------------------------------------------------------

const isTag = (cp: number) => cp >= 0xe0000 && cp <= 0xe007f;
const isVariationSelector = (cp: number) =>
  (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef);
const isBidiControl = (cp: number) => (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
const ZERO_WIDTH = new Set([0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff, 0x180e]);

const PICTOGRAPHIC = /^[\p{Extended_Pictographic}\p{Emoji_Modifier}\u{FE0F}]$/u;
const LETTER_OR_MARK = /^[\p{L}\p{M}]$/u;
const LATIN_OR_COMMON = /^[\p{Script=Latin}\p{Script=Common}]$/u;
const BLACK_FLAG = 0x1f3f4;

interface CodePoint {
  cp: number;
  ch: string;
  index: number;
}

function codePoints(text: string): CodePoint[] {
  const out: CodePoint[] = [];
  let index = 0;
  for (const ch of text) {
    out.push({ cp: ch.codePointAt(0) ?? 0, ch, index });
    index += ch.length;
  }
  return out;
}

/** Maximal runs of consecutive code points matching `test`, as [start, end) positions in `cps`. */
function runs(cps: readonly CodePoint[], test: (cp: number) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < cps.length;) {
    if (!test(cps[i]?.cp ?? -1)) {
      i++;
      continue;
    }
    let j = i;
    while (j < cps.length && test(cps[j]?.cp ?? -1)) j++;
    out.push([i, j]);
    i = j;
  }
  return out;
}

/**
 * An emoji subdivision flag (England is U+1F3F4, tags `gbeng`, U+E007F) is the one everyday use
 * of tag characters: a black flag, then lowercase letters or digits, then CANCEL TAG.
 */
function isFlagSequence(cps: readonly CodePoint[], start: number, end: number): boolean {
  if (cps[start - 1]?.cp !== BLACK_FLAG || cps[end - 1]?.cp !== 0xe007f) return false;
  const body = cps.slice(start, end - 1);
  return (
    body.length >= 2 &&
    body.length <= 7 &&
    body.every(({ cp }) => (cp >= 0xe0030 && cp <= 0xe0039) || (cp >= 0xe0061 && cp <= 0xe007a))
  );
}

function scanTags(cps: readonly CodePoint[], out: Finding[]): void {
  for (const [start, end] of runs(cps, isTag)) {
    if (isFlagSequence(cps, start, end)) continue;
    const run = cps.slice(start, end);
    // Tag characters mirror ASCII at U+E0020-U+E007E; the language tag and CANCEL TAG carry no text.
    const hidden = run
      .filter(({ cp }) => cp >= 0xe0020 && cp <= 0xe007e)
      .map(({ cp }) => String.fromCharCode(cp - 0xe0000))
      .join('');
    const where = cps[start]?.index ?? 0;
    out.push(
      finding(
        'unicode-tag-characters',
        hidden.length > 0
          ? `hidden text in ${run.length} unicode tag characters: ${q(hidden)}`
          : `${run.length} invisible unicode tag characters`,
        where,
      ),
    );
  }
}

/** Variation selectors as bytes, the way "emoji smuggling" encodes them: VS1-16 are 0-15, VS17-256 are 16-255. */
function variationSelectorBytes(run: readonly CodePoint[]): Uint8Array {
  return Uint8Array.from(run, ({ cp }) => (cp <= 0xfe0f ? cp - 0xfe00 : cp - 0xe0100 + 16));
}

function scanVariationSelectors(cps: readonly CodePoint[], out: Finding[]): void {
  for (const [start, end] of runs(cps, isVariationSelector)) {
    // One selector picks the text or emoji form of the character before it: ordinary, e.g. "⚠️".
    // A doubled emoji selector is a common copy-and-paste slip, and three bits smuggle nothing.
    const run = cps.slice(start, end);
    if (run.length < 2 || (run.length <= 3 && run.every(({ cp }) => cp === 0xfe0e || cp === 0xfe0f)))
      continue;
    const decoded = new TextDecoder('utf-8', { fatal: false }).decode(variationSelectorBytes(run));
    const printable = /^[\p{L}\p{N}\p{P}\p{S}\p{Zs}\n\t]+$/u.test(decoded);
    out.push(
      finding(
        'variation-selector-run',
        printable
          ? `hidden text in a run of ${run.length} variation selectors: ${q(decoded)}`
          : `a run of ${run.length} variation selectors can carry hidden data`,
        cps[start]?.index ?? 0,
      ),
    );
  }
}

function scanBidi(cps: readonly CodePoint[], out: Finding[]): void {
  for (const [start, end] of runs(cps, isBidiControl)) {
    const run = cps.slice(start, end).map(({ cp }) => cp);
    out.push(
      finding(
        'bidi-control-characters',
        `bidirectional control characters ${distinctCodePoints(run)} make the text display in a different order than it is read`,
        cps[start]?.index ?? 0,
      ),
    );
  }
}

/**
 * Joiners have two everyday uses we leave alone: ZWJ inside an emoji sequence (👩‍💻) and ZWNJ or ZWJ
 * between letters of scripts that need them (Persian, the Indic scripts). A byte order mark at the
 * very start is an encoding artefact.
 */
function benignZeroWidth(cps: readonly CodePoint[], start: number, end: number): boolean {
  if (end - start !== 1) return false;
  const { cp, index } = cps[start] as CodePoint;
  if (cp === 0xfeff) return index === 0;
  if (cp !== 0x200c && cp !== 0x200d) return false;
  const before = cps[start - 1]?.ch ?? '';
  const after = cps[end]?.ch ?? '';
  if (cp === 0x200d && PICTOGRAPHIC.test(before) && PICTOGRAPHIC.test(after)) return true;
  const scriptLetter = (ch: string) => LETTER_OR_MARK.test(ch) && !LATIN_OR_COMMON.test(ch);
  return scriptLetter(before) && scriptLetter(after);
}

function scanZeroWidth(cps: readonly CodePoint[], out: Finding[]): void {
  for (const [start, end] of runs(cps, (cp) => ZERO_WIDTH.has(cp))) {
    if (benignZeroWidth(cps, start, end)) continue;
    const run = cps.slice(start, end).map(({ cp }) => cp);
    out.push(
      finding(
        'zero-width-characters',
        `${run.length} invisible zero-width character${run.length === 1 ? '' : 's'} (${distinctCodePoints(run)})`,
        cps[start]?.index ?? 0,
      ),
    );
  }
}

// ---- hidden instructions ------------------------------------------------------------------------

/**
 * The text a model effectively reads: invisible characters dropped (so `ig\u200Bnore` still reads
 * "ignore") and compatibility forms folded by NFKC (fullwidth and mathematical letters become
 * ASCII). `origin[i]` is the offset in the original text of normalised character `i`.
 */
function normalise(cps: readonly CodePoint[]): { text: string; origin: number[] } {
  let text = '';
  const origin: number[] = [];
  for (const { cp, ch, index } of cps) {
    if (isTag(cp) || isVariationSelector(cp) || isBidiControl(cp) || ZERO_WIDTH.has(cp)) continue;
    if (/^[\p{Cf}\u034F]$/u.test(ch)) continue;
    const folded = ch.normalize('NFKC');
    for (let k = 0; k < folded.length; k++) origin.push(index);
    text += folded;
  }
  return { text, origin };
}

interface Pattern {
  rule: FindingRule;
  re: RegExp;
  what: string;
}

// Each pattern is anchored on words that tool documentation has no reason to use together. Spaces
// are `\s+` so line breaks and runs of spaces do not split a phrase.
const PATTERNS: readonly Pattern[] = [
  {
    rule: 'instruction-override',
    re: /\b(?:ignore|disregard|forget|override)\s+(?:(?:all|any|the|of|your|these|those)\s+)*(?:previous|prior|above|earlier|preceding|original|system)\s+(?:instructions?|prompts?|directions|directives?|rules|guidelines|guidance|messages)\b/giu,
    what: 'an instruction override',
  },
  {
    rule: 'instruction-override',
    re: /\b(?:ignore|disregard|forget)\s+(?:(?:all|any|of)\s+)*your\s+(?:instructions|rules|guidelines|system\s+prompt|programming|training)\b/giu,
    what: 'an instruction override',
  },
  {
    rule: 'concealment',
    re: /\b(?:do\s+not|don['’]?t|never|must\s+not|should\s+not|shouldn['’]?t|without)\s+(?:ever\s+)?(?:tell(?:ing)?|inform(?:ing)?|notify(?:ing)?|alert(?:ing)?|mention(?:ing)?|reveal(?:ing)?|disclos(?:e|ing)|report(?:ing)?)\s+(?:(?:this|that|it|anything)\s+)?(?:to\s+)?the\s+user\b/giu,
    what: 'an order to keep something from the user',
  },
  {
    rule: 'concealment',
    re: /\b(?:do\s+not|don['’]?t|never|must\s+not)\s+(?:ever\s+)?(?:mention|reveal|disclose|acknowledge)\s+(?:that|this|these|it)\b/giu,
    what: 'an order to keep something from the user',
  },
  {
    rule: 'concealment',
    re: /\b(?:hide|conceal|keep)\s+(?:this|it|that|these\s+\w+)\s+(?:secret\s+|hidden\s+)?from\s+the\s+user\b/giu,
    what: 'an order to keep something from the user',
  },
  {
    rule: 'concealment',
    re: /\bthe\s+user\s+(?:must|should|need|needs)\s+(?:not|never)\s+(?:to\s+)?(?:know|see|notice|find\s+out|be\s+told|be\s+informed)\b/giu,
    what: 'an order to keep something from the user',
  },
  {
    rule: 'role-reassignment',
    re: /\byou\s+are\s+now\s+(?:a|an|the|my|acting|operating|no\s+longer|unrestricted|jailbroken|dan|in\s+(?:\w+\s+)?mode)\b/giu,
    what: 'a role reassignment',
  },
  {
    rule: 'role-reassignment',
    re: /\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must|should|shall)\b/giu,
    what: 'a role reassignment',
  },
  {
    rule: 'role-reassignment',
    re: /\b(?:your\s+new\s+(?:role|task|goal|objective|purpose|instructions?)\s+(?:is|are)|new\s+system\s+prompt|(?:enter|enable|activate)\s+(?:developer|dan|god|jailbreak|unrestricted)\s+mode|pretend\s+(?:that\s+)?you\s+are)\b/giu,
    what: 'a role reassignment',
  },
  {
    rule: 'cross-tool-instruction',
    re: /\b(?:before|prior\s+to|after)\s+(?:using|calling|invoking|running|executing)\s+(?:any|all|every|each)\s+(?:(?:of\s+the\s+)?other\s+)?(?:tools?|functions?)\b/giu,
    what: 'an order about every other tool',
  },
  {
    rule: 'cross-tool-instruction',
    re: /\b(?:when|whenever|while|if|as\s+long\s+as)\s+this\s+tool\s+is\s+(?:available|present|loaded|installed|enabled|connected|active)\b/giu,
    what: 'an order that applies while this tool is merely present',
  },
  {
    rule: 'cross-tool-instruction',
    re: /\bside[\s-]effects?\s+(?:on|for|to)\s+(?:(?:the|any|all|also|present|other)\s+)*[\w.-]+\s+tools?\b/giu,
    what: 'a claimed effect on another tool',
  },
  {
    rule: 'cross-tool-instruction',
    re: /\b(?:all|any|every)\s+other\s+tools?\s+(?:must|should|shall|need\s+to|have\s+to)\b/giu,
    what: 'an order about every other tool',
  },
  {
    rule: 'directive-tag',
    re: /<\s*(?:important|system|system[-_ ]?prompt|sys|admin|critical|secret|hidden|override|assistant)\s*>|\[\s*(?:system|inst|admin)\s*\]|<\|\s*(?:im_start|system|endoftext)\s*\|>/giu,
    what: 'a fake emphasis or system tag',
  },
  {
    rule: 'hidden-comment',
    re: /<!--(?!\s*-->)[\s\S]*?-->|^\[\/\/\]:\s*#/gmu,
    what: 'a comment that disappears once rendered',
  },
  {
    rule: 'credential-path',
    re: /(?:~|\$HOME|%USERPROFILE%)?[/\\]?\.ssh\b|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws[/\\]credentials\b|\bmcp\.json\b|\bclaude_desktop_config\.json\b|\.npmrc\b|\.netrc\b|\.git-credentials\b|\/etc\/shadow\b|\.kube[/\\]config\b|\.docker[/\\]config\.json\b/giu,
    what: 'a credential or agent configuration file',
  },
];

function scanPatterns(cps: readonly CodePoint[], out: Finding[]): void {
  const { text, origin } = normalise(cps);
  for (const { rule, re, what } of PATTERNS) {
    re.lastIndex = 0;
    for (const m of text.matchAll(re)) {
      const index = origin[m.index] ?? 0;
      out.push(finding(rule, `${what}: ${q(m[0].replace(/\s+/g, ' ').trim())}`, index));
    }
  }
}

/**
 * Scan a tool description (or any other string a model will read) for invisible or deceptive
 * characters and hidden instructions. Findings are ordered by position; at most ten per rule.
 */
export function scanDescription(text: string): Finding[] {
  const cps = codePoints(text);
  const all: Finding[] = [];
  scanTags(cps, all);
  scanVariationSelectors(cps, all);
  scanBidi(cps, all);
  scanZeroWidth(cps, all);
  scanPatterns(cps, all);
  all.sort((a, b) => a.index - b.index || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
  const perRule = new Map<FindingRule, number>();
  return all.filter((f) => {
    const n = (perRule.get(f.rule) ?? 0) + 1;
    perRule.set(f.rule, n);
    return n <= MAX_PER_RULE;
  });
}

/** True when any finding is `high`: such a text is never pinned without someone accepting it. */
export function hasHighFindings(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'high');
}
