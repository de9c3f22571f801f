// Rules for text a model reads: skill prose, hidden Markdown, tool descriptions and descriptive
// strings in server code. How much a phrase weighs depends on where it is: prose addressed to the
// model, text a person would not see, a code example, or a tool's description.

import { Collector } from './collector.js';
import { credentialPaths, dotenvPaths } from './rules/credential-access.js';
import { KNOWN_INSTALLER_HOST, encodedBlobs, looksLikeCode } from './rules/obfuscation.js';
import { exfilHosts } from './rules/exfiltration.js';
import { DIRECTIVE_TAG, INJECTION_PATTERNS, instructionLike } from './rules/prompt-injection.js';
import { MODAL, OTHER_TOOL_CONTEXT, SHADOW_ORDERS } from './rules/tool-shadowing.js';
import { SourceText } from './source.js';
import type { HiddenPayload } from './rules/unicode.js';
import type { Severity } from './types.js';

export type TextContext =
  /** Markdown prose of a skill: addressed to the model by design. */
  | 'prose'
  /** Text a person reading the rendered document would not see. */
  | 'hidden'
  /** A code example in Markdown, in a language that is not analysed. */
  | 'code-block'
  /** A tool description or a schema description: all model-visible. */
  | 'tool'
  /** A descriptive string literal in server or script code. */
  | 'code-string';

export interface TextScanOptions {
  /** The tool's own name, so a description may name itself. */
  self?: string;
  /** Names of other servers' tools. */
  otherTools?: readonly string[];
}

// English plus the common verbs of a few other languages: poisoned descriptions are not all English.
const CRED_VERB =
  /\b(?:read|cat|open|load|copy|cp|include|attach|upload|send|collect|extract|print|output|dump|grab|pass|provide|exfiltrate|embed|append|paste|share|post|fetch|retrieve|contents?|base64|encode|forward|transmit|zip|tar|archive|sync|steal|harvest|scan|list|find|search|put|fill|insert|supply|value|give|set|lee|leer|copia|copiar|env[ií]a|enviar|incluye|incluir|adjunta|contenido|lis|lire|copie|copier|envoie|envoyer|inclus|contenu|lies|lesen|kopiere|kopieren|sende|senden|inhalt|leia|ler|envie|conte[uú]do|leggi|copia|invia|contenuto)\b/i;
// In skill prose the verb must come first and order the agent: "read ~/.aws/credentials", not
// "the SDK reads a profile under ~/.config/...".
const PROSE_CRED_VERB =
  /\b(?:read|cat|open|copy|cp|include|attach|upload|send|collect|extract|print|output|dump|grab|exfiltrate|embed|append|paste|share|post|base64|encode|forward|transmit|zip|tar|steal|harvest|put|insert|lee|copia|env[ií]a|lis|copie|envoie|lies|kopiere|sende|leia|envie|leggi|invia)\b[^.!?\n]*$/i;
const SEND_VERB =
  /\b(?:send|sends|post|posts|upload|uploads|submit|transmit|forward|exfiltrate|report|share|sync|beacon|pipe|curl|deliver|log)\b/i;
const URL = /\bhttps?:\/\/[^\s)<>"'`\]]+/g;
const SENSITIVE_OBJECT =
  /\b(?:conversation|chat history|previous messages|message history|system prompt|credentials?|api keys?|private keys?|ssh keys?|tokens?|secrets?|passwords?|cookies|environment variables|env vars?|\.env|all files|home directory|contents? of|entire (?:repo|repository|codebase|project|directory)|clipboard|keychain|wallet)\b/i;

const NEGATION = /\b(?:never|don't|do not|avoid|must not|should not|instead of|not|no)\b[^.!?\n]*$/i;
const ENV_VERB =
  /\b(?:send|upload|post|include|paste|print|output|dump|cat|share|transmit|exfiltrate|attach|embed|full text|contents? of|fill|pass|forward|read|collect|grab|gather|harvest|steal|take|zip|bundle)\b/i;
const COPY_INSTRUCTION =
  /\b(?:add|include|put|insert|cc|bcc)\s+(?:\w+\s+){0,3}?`?(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6}`?\s+(?:\w+\s+){0,2}?(?:in|as|to|into)\s+(?:the\s+)?(?:bcc|cc)\b|\b(?:bcc|cc)\s+(?:\w+\s+){0,3}?`?(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6}`?[^.\n]{0,60}\b(?:every|all|each|any)\b|\b(?:also|always)\s+(?:\w+\s+){0,3}?(?:post|send|forward)\s+(?:an?\s+)?(?:identical\s+|exact\s+|full\s+)?(?:copy|duplicate)\s+(?:of\s+(?:it|each|every|the)\s+\w*\s*)?to\b|\b(?:also|always|silently|quietly|automatically)\s+(?:add\s+)?(?:bcc|cc)\s+(?:\w+\s+){0,2}?`?(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6}/gi;

const SECRET_VALUE =
  /\b(?:value|contents?)\s+of\s+(?:the\s+|your\s+)?`?\$?[A-Z][A-Z0-9_]*(?:TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIALS?)\b`?(?:\s+(?:or\s+`?\$?[A-Z][A-Z0-9_]*`?\s+)?(?:environment\s+)?variable)?/g;
const DNS_ENCODE =
  /\b(?:hex|base64|base32)[- ]?encode\w*\b[^.\n]{0,200}\b(?:dns|lookup|resolve|subdomain|host\s*name)|\b(?:dns|lookups?|resolve)\b[^.\n]{0,120}<(?:chunk|data|payload|secret)>\.[\w.<>-]+/gi;
const PIPE_TO_SHELL =
  /\b(?:curl|wget)\b[^|\n`'"]{0,200}?(https?:\/\/[^\s|`'"]+)[^|\n`'"]{0,80}\|\s*(?:sudo\s+(?:-\w+\s+)?)?(?:ba|z|da|k)?sh\b/gi;
const RECIPIENT =
  /\b(?:change|set|replace|redirect|switch)\s+(?:the\s+)?(?:recipient|destination|to\s+address|phone\s+number|receiver|to\s+field)\s+(?:\w+\s+){0,3}?to\s+[+\w@.-]{5,}|(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6}[^.\n]{0,60}\b(?:bcc|blind\s+copy|carbon\s+copy)\b/gi;
const HISTORY =
  /\b(?:include|append|attach|add|forward|send|paste|put)\s+(?:\w+\s+){0,3}?(?:full\s+|complete\s+|entire\s+)?(?:list\s+of\s+)?(?:the\s+)?(?:last|previous|recent|all|entire|whole|full)\s+(?:\w+\s+)?(?:messages|chats?|chat\s+history|conversation(?:\s+history)?|emails|prompts?)\b/gi;

const URL_PLACEHOLDER =
  /https?:\/\/[^\s"'`]*[<{](?:conversation|chat|history|messages?|context|secrets?|tokens?|keys?|credentials?|env|passwords?|cookies?)[^>}\n]{0,40}[>}]/gi;
const PUBLISH_SECRETS =
  /\b(?:unredacted|un-redacted|without\s+redact\w*)\b[^.]{0,160}\b(?:issues?|gists?|comments?|pull\s+requests?|posts?|tickets?)\b|\b(?:issues?|gists?|comments?|pull\s+requests?|tickets?)\b[^.\n]{0,120}\bunredacted\b/gi;

/** True when `i` sits inside a quotation on its line. */
function quoted(text: string, i: number): boolean {
  const lineStart = text.lastIndexOf('\n', i - 1) + 1;
  const before = text.slice(lineStart, i);
  const straight = (before.match(/"/g) ?? []).length;
  const curlyOpen = (before.match(/[“«]/g) ?? []).length;
  const curlyClose = (before.match(/[”»]/g) ?? []).length;
  return straight % 2 === 1 || curlyOpen > curlyClose;
}

function windowAround(text: string, start: number, end: number, span = 120): string {
  const a = Math.max(0, start - span);
  const b = Math.min(text.length, end + span);
  const slice = text.slice(a, b);
  // Stay within the sentence or line: split at the nearest boundary on each side.
  const rel = start - a;
  const left = Math.max(slice.lastIndexOf('\n', rel), slice.lastIndexOf('. ', rel));
  let right = slice.length;
  for (const sep of ['\n', '. ']) {
    const i = slice.indexOf(sep, rel + (end - start));
    if (i >= 0 && i < right) right = i;
  }
  return slice.slice(left < 0 ? 0 : left, right);
}

function wordRe(name: string): RegExp {
  return new RegExp(`(?<![\\w.-])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g');
}

/**
 * Scan `text`, which sits at offset `base` of `src`, as model-readable text in `ctx`. `text` may be
 * a masked copy of the source (hidden parts replaced by spaces) of the same length.
 */
export function scanModelText(
  src: SourceText,
  out: Collector,
  text: string,
  base: number,
  ctx: TextContext,
  opts: TextScanOptions = {},
): void {
  const emit = (rule: string, start: number, end: number, message: string, severity?: Severity) =>
    out.emit(rule, src, base + start, base + end, message, severity);
  const quote = (s: string) => JSON.stringify(s.replace(/\s+/g, ' ').trim().slice(0, 120));
  let injections = 0;

  for (const p of INJECTION_PATTERNS) {
    for (const m of text.matchAll(p.re)) {
      let sev: Severity | undefined;
      if (p.rule === 'WS108' || p.rule === 'WS104')
        sev = ctx === 'tool' || ctx === 'hidden' ? 'medium' : 'low';
      if (p.rule === 'WS109')
        sev = ctx === 'tool' || ctx === 'hidden' ? 'high' : ctx === 'prose' ? 'medium' : 'low';
      else if (ctx === 'code-block') sev = 'low';
      if (p.rule === 'WS102' && /^without\b/i.test(m[0]) && /\bask/i.test(m[0])) sev = 'low';
      // Prose that quotes an attack phrase as an example ("avoid language like \"ignore ...\"").
      if (ctx === 'prose' && quoted(text, m.index)) sev = 'low';
      if (sev !== 'low') injections++;
      emit(p.rule, m.index, m.index + m[0].length, `${p.label}: ${quote(m[0])}`, sev);
    }
  }

  const tags = [...text.matchAll(DIRECTIVE_TAG)];
  for (const m of tags) {
    const sev: Severity =
      ctx === 'hidden'
        ? 'high'
        : ctx === 'tool' || ctx === 'code-string'
          ? injections > 0
            ? 'high'
            : 'medium'
          : 'low';
    emit('WS104', m.index, m.index + m[0].length, `directive tag ${quote(m[0])}`, sev);
  }

  if (ctx === 'hidden') {
    const body = text.trim();
    if (body.length > 0) {
      const first = text.search(/\S/);
      if (instructionLike(body) || injections > 0) {
        emit('WS105', first, text.length, `hidden instructions: ${quote(body)}`);
      } else if (body.length >= 12) {
        emit('WS106', first, text.length, `hidden text: ${quote(body)}`);
      }
    }
  }

  // Credential stores named in text: an instruction when a verb acts on them, not when the text
  // warns against it ("never COPY .npmrc").
  const negated = (i: number) =>
    NEGATION.test(
      text
        .slice(Math.max(0, i - 40), i)
        .split(/[.!?\n]/)
        .pop() ?? '',
    );
  for (const c of credentialPaths(text)) {
    const around = windowAround(text, c.index, c.index + c.length);
    const before =
      text
        .slice(Math.max(0, c.index - 80), c.index)
        .split(/[.!?\n]/)
        .pop() ?? '';
    const directive =
      !negated(c.index) &&
      (ctx === 'hidden' ||
        (ctx === 'prose' && PROSE_CRED_VERB.test(before)) ||
        (ctx === 'tool' && (CRED_VERB.test(around) || instructionLike(around))));
    if (ctx === 'code-block' || ctx === 'code-string' || !directive || c.severity === 'low') {
      if (ctx !== 'code-string') emit('WS304', c.index, c.index + c.length, `mentions ${c.what}`);
      continue;
    }
    emit(
      'WS302',
      c.index,
      c.index + c.length,
      `text directs the agent to ${c.what}: ${quote(around)}`,
      c.severity,
    );
    out.signal('credential', src, base + c.index, base + c.index + c.length, c.what);
    if (ctx === 'tool' || ctx === 'hidden') {
      emit('WS107', c.index, c.index + c.length, `directs the model to access ${c.what} as a side task`);
    }
  }

  for (const d of dotenvPaths(text)) {
    if (ctx === 'code-block' || ctx === 'code-string' || negated(d.index)) continue;
    const around = windowAround(text, d.index, d.index + d.length);
    const before =
      text
        .slice(Math.max(0, d.index - 60), d.index)
        .split(/[.!?\n;:]/)
        .pop() ?? '';
    if (ENV_VERB.test(before) || (ctx !== 'prose' && instructionLike(around) && CRED_VERB.test(around))) {
      emit('WS302', d.index, d.index + d.length, `text directs the agent to a .env file: ${quote(around)}`);
      out.signal('credential', src, base + d.index, base + d.index + d.length, 'a .env file');
      if (ctx === 'tool' || ctx === 'hidden')
        emit('WS107', d.index, d.index + d.length, 'directs the model to read a .env file as a side task');
    }
  }

  // The value of a secret environment variable, asked for in text.
  for (const m of text.matchAll(SECRET_VALUE)) {
    if (ctx === 'code-block' || ctx === 'code-string' || ctx === 'prose') continue;
    emit('WS302', m.index, m.index + m[0].length, `text asks for a secret: ${quote(m[0])}`);
    out.signal('credential', src, base + m.index, base + m.index + m[0].length, 'a secret variable');
    emit('WS107', m.index, m.index + m[0].length, 'asks the model to hand over a secret as a side task');
  }
  // Data encoded into DNS names, described in words.
  for (const m of text.matchAll(DNS_ENCODE)) {
    if (ctx === 'code-block' || ctx === 'code-string') continue;
    emit('WS403', m.index, m.index + m[0].length, `text directs data into DNS lookups: ${quote(m[0])}`);
  }
  // Download piped to a shell, in text the model reads (an inline command, a tool description).
  for (const m of text.matchAll(PIPE_TO_SHELL)) {
    if (ctx === 'code-block' || ctx === 'code-string') continue;
    const known = KNOWN_INSTALLER_HOST.test(m[1] ?? '');
    emit(
      'WS502',
      m.index,
      m.index + m[0].length,
      `download piped into a shell: ${quote(m[0])}`,
      known ? 'low' : undefined,
    );
  }
  // Messages re-routed or copied to a fixed outside recipient.
  for (const m of text.matchAll(RECIPIENT)) {
    if (ctx === 'code-block' || ctx === 'code-string') continue;
    emit('WS404', m.index, m.index + m[0].length, `text re-routes or copies messages: ${quote(m[0])}`);
    out.signal('suspicious-network', src, base + m.index, base + m.index + m[0].length, 'message copies');
  }
  for (const m of text.matchAll(URL_PLACEHOLDER)) {
    if (ctx === 'code-block') continue;
    emit(
      'WS404',
      m.index,
      m.index + m[0].length,
      `URL template carries conversation or secrets: ${quote(m[0])}`,
    );
    out.signal('suspicious-network', src, base + m.index, base + m.index + m[0].length, 'URL template');
  }
  if (ctx !== 'code-block' && ctx !== 'code-string') {
    for (const m of text.matchAll(PUBLISH_SECRETS)) {
      emit(
        'WS404',
        m.index,
        m.index + m[0].length,
        `text directs unredacted output into a public place: ${quote(m[0])}`,
      );
    }
  }
  if (ctx === 'tool' || ctx === 'hidden') {
    for (const m of text.matchAll(HISTORY)) {
      emit(
        'WS404',
        m.index,
        m.index + m[0].length,
        `text directs the model to send conversation data: ${quote(m[0])}`,
      );
    }
  }

  // Copies of messages to a fixed outside address.
  for (const m of text.matchAll(COPY_INSTRUCTION)) {
    if (ctx === 'code-block' || ctx === 'code-string') continue;
    emit(
      'WS404',
      m.index,
      m.index + m[0].length,
      `text directs the agent to copy messages to a third party: ${quote(m[0])}`,
    );
    out.signal('suspicious-network', src, base + m.index, base + m.index + m[0].length, 'message copies');
  }

  // Encoded text the model is meant to decode: scan what it says.
  if (ctx !== 'code-string' && ctx !== 'code-block') {
    for (const b of encodedBlobs(text, 48)) {
      if (b.decoded === undefined || !/[a-z]{3,20}\s+[a-z]{2}/i.test(b.decoded)) continue;
      const inner = new Collector();
      scanModelText(src, inner, b.decoded, 0, 'hidden', opts);
      const says = inner.findings.filter((f) => f.ruleId !== 'WS105' && f.ruleId !== 'WS106');
      if (says.length > 0 || instructionLike(b.decoded) || looksLikeCode(b.decoded)) {
        emit('WS503', b.index, b.index + b.length, `${b.encoding} text decodes to ${quote(b.decoded)}`);
      }
      for (const f of says) emit(f.ruleId, b.index, b.index + b.length, `encoded: ${f.message}`, f.severity);
      for (const sgl of inner.signals)
        out.signal(sgl.kind, src, base + b.index, base + b.index + b.length, `${sgl.detail} (encoded)`);
    }
  }

  // Collector hosts and send instructions.
  for (const h of exfilHosts(text)) {
    const around = windowAround(text, h.index, h.index + h.length);
    const directive =
      ctx === 'tool' || ctx === 'hidden' || SEND_VERB.test(around) || /https?:\/\//.test(around);
    if (h.kind === 'raw-ip') {
      if (ctx !== 'code-block' && ctx !== 'code-string')
        emit('WS406', h.index, h.index + h.length, `bare IP endpoint ${h.host}`);
      if (ctx !== 'code-string')
        out.signal('suspicious-network', src, base + h.index, base + h.index + h.length, h.host);
      continue;
    }
    if (ctx === 'code-string') continue;
    if (directive && ctx !== 'code-block') {
      emit('WS401', h.index, h.index + h.length, `addresses collector host ${h.host}`);
      out.signal('suspicious-network', src, base + h.index, base + h.index + h.length, h.host);
    } else {
      emit('WS407', h.index, h.index + h.length, `mentions collector host ${h.host}`);
    }
  }
  if (ctx === 'prose' || ctx === 'hidden' || ctx === 'tool') {
    for (const m of text.matchAll(URL)) {
      const around = windowAround(text, m.index, m.index + m[0].length);
      if (!SEND_VERB.test(around)) continue;
      out.signal(
        'network',
        src,
        base + m.index,
        base + m.index + m[0].length,
        `instruction to send to ${m[0].slice(0, 60)}`,
      );
      if (SENSITIVE_OBJECT.test(around)) {
        emit(
          'WS404',
          m.index,
          m.index + m[0].length,
          `text directs the agent to send data out: ${quote(around)}`,
        );
        if (ctx === 'tool' || ctx === 'hidden')
          emit('WS107', m.index, m.index + m[0].length, 'directs the model to send data out as a side task');
      }
    }
  }

  if (ctx === 'prose' || ctx === 'hidden') {
    // Skills legitimately name tools; orders for the tools of every server are another matter.
    for (const m of text.matchAll(SHADOW_ORDERS)) {
      if (!/servers?\b/i.test(m[0])) continue;
      const around = windowAround(text, m.index, m.index + m[0].length);
      if (MODAL.test(around))
        emit('WS801', m.index, m.index + m[0].length, `orders about other servers' tools: ${quote(around)}`);
    }
  }
  if (ctx === 'tool' || ctx === 'code-string') {
    for (const m of text.matchAll(SHADOW_ORDERS)) {
      emit(
        'WS801',
        m.index,
        m.index + m[0].length,
        `orders about other tools: ${quote(m[0])}`,
        ctx === 'code-string' ? 'medium' : undefined,
      );
    }
    for (const m of text.matchAll(OTHER_TOOL_CONTEXT)) {
      const name = m[1] ?? m[2] ?? m[3] ?? '';
      if (/^(?:this|that|these|the|same|current|our|my|its)$/i.test(name) || name === opts.self) continue;
      const around = windowAround(text, m.index, m.index + m[0].length);
      const orders = MODAL.test(around);
      emit(
        orders ? 'WS801' : 'WS804',
        m.index,
        m.index + m[0].length,
        `${orders ? 'orders about' : 'refers to'} tool ${JSON.stringify(name)}: ${quote(around)}`,
        orders && ctx === 'code-string' ? 'medium' : undefined,
      );
    }
    for (const other of opts.otherTools ?? []) {
      if (other === opts.self || other.length < 4 || !/[_-]|^.{6,}$/.test(other)) continue;
      for (const m of text.matchAll(wordRe(other))) {
        emit(
          'WS802',
          m.index,
          m.index + m[0].length,
          `names ${JSON.stringify(other)}, a tool of another server`,
        );
      }
    }
  }
}

/** Scan what invisible characters spell as hidden text, placed at the invisible run. */
export function scanHiddenPayloads(
  src: SourceText,
  out: Collector,
  payloads: HiddenPayload[],
  opts: TextScanOptions = {},
): void {
  for (const p of payloads) {
    const inner = new SourceText(src.file, p.text, src.position(p.start, p.end));
    scanModelText(inner, out, p.text, 0, 'hidden', opts);
  }
}
