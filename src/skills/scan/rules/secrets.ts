// Hard-coded credentials: well-known token formats, private key blocks, JWTs, and high-entropy
// values assigned to names such as `password` or `api_key`. Obvious placeholders are skipped, and
// test-mode keys are low.

import type { Collector } from '../collector.js';
import type { SourceText } from '../source.js';
import type { RuleMeta } from './meta.js';

const help = (what: string) =>
  `${what} Remove it from the files, revoke it at its issuer (it must be treated as leaked), and read it at run time from the environment or a secret store.`;

export const SECRET_RULES: RuleMeta[] = [
  {
    id: 'WS001',
    name: 'aws-access-key',
    category: 'secrets',
    severity: 'high',
    short: 'hard-coded AWS access key id',
    full: 'An AWS access key id (AKIA/ASIA followed by 16 characters) is written in the files.',
    help: help('An AWS access key id is hard-coded.'),
  },
  {
    id: 'WS002',
    name: 'github-token',
    category: 'secrets',
    severity: 'high',
    short: 'hard-coded GitHub token',
    full: 'A GitHub personal access, OAuth, app or refresh token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_) is written in the files.',
    help: help('A GitHub token is hard-coded.'),
  },
  {
    id: 'WS003',
    name: 'slack-token',
    category: 'secrets',
    severity: 'high',
    short: 'hard-coded Slack token or webhook',
    full: 'A Slack bot, user or app token (xoxb-, xoxp-, xoxa-, xapp-) or an incoming-webhook URL with its secret path is written in the files.',
    help: help('A Slack credential is hard-coded.'),
  },
  {
    id: 'WS004',
    name: 'stripe-live-key',
    category: 'secrets',
    severity: 'high',
    short: 'hard-coded Stripe live key',
    full: 'A Stripe live secret or restricted key (sk_live_, rk_live_) is written in the files.',
    help: help('A Stripe live key is hard-coded.'),
  },
  {
    id: 'WS005',
    name: 'test-mode-key',
    category: 'secrets',
    severity: 'low',
    short: 'hard-coded test-mode key',
    full: 'A test-mode key (such as Stripe sk_test_) is written in the files; it cannot move money but is still a credential.',
    help: help('A test-mode key is hard-coded.'),
  },
  {
    id: 'WS006',
    name: 'llm-api-key',
    category: 'secrets',
    severity: 'high',
    short: 'hard-coded AI provider API key',
    full: 'An OpenAI-style (sk-, sk-proj-) or Anthropic-style (sk-ant-) API key is written in the files.',
    help: help('An AI provider API key is hard-coded.'),
  },
  {
    id: 'WS007',
    name: 'google-api-key',
    category: 'secrets',
    severity: 'high',
    short: 'hard-coded Google API key',
    full: 'A Google API key (AIza followed by 35 characters) is written in the files.',
    help: help('A Google API key is hard-coded.'),
  },
  {
    id: 'WS008',
    name: 'private-key',
    category: 'secrets',
    severity: 'critical',
    short: 'private key block',
    full: 'A PEM or OpenSSH private key block with key material is written in the files.',
    help: help('A private key is in the files.'),
  },
  {
    id: 'WS009',
    name: 'jwt',
    category: 'secrets',
    severity: 'medium',
    short: 'hard-coded JSON Web Token',
    full: 'A JSON Web Token (three base64url parts, the first two JSON objects) is written in the files; it may be a live bearer credential.',
    help: help('A JWT is hard-coded.'),
  },
  {
    id: 'WS010',
    name: 'service-token',
    category: 'secrets',
    severity: 'high',
    short: 'hard-coded service token',
    full: 'A token in a well-known service format (npm, PyPI, Hugging Face, GitLab, SendGrid, Telegram bot, Discord webhook, Azure storage key) is written in the files.',
    help: help('A service token is hard-coded.'),
  },
  {
    id: 'WS011',
    name: 'hard-coded-password',
    category: 'secrets',
    severity: 'medium',
    short: 'high-entropy value assigned to a secret-named field',
    full: 'A value that looks random is assigned to a name such as password, secret, token or api_key.',
    help: help('A password or secret value is hard-coded.'),
  },
  {
    id: 'WS012',
    name: 'credential-in-url',
    category: 'secrets',
    severity: 'medium',
    short: 'password embedded in a URL',
    full: 'A URL carries a user name and password (scheme://user:password@host).',
    help: help('A URL embeds a password.'),
  },
];

interface TokenPattern {
  rule: string;
  re: RegExp;
  what: string;
}

// INVARIANT: every pattern is global and bounded so one scan stays linear in the text length.
const TOKENS: TokenPattern[] = [
  { rule: 'WS001', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, what: 'AWS access key id' },
  {
    rule: 'WS002',
    re: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b/g,
    what: 'GitHub token',
  },
  {
    rule: 'WS003',
    re: /\bxox[abposr]-[0-9A-Za-z-]{10,200}|\bxapp-\d-[0-9A-Za-z-]{10,200}/g,
    what: 'Slack token',
  },
  {
    rule: 'WS003',
    re: /hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9]{6,}\/[A-Za-z0-9]{6,}\/[A-Za-z0-9]{12,}/g,
    what: 'Slack webhook URL',
  },
  { rule: 'WS004', re: /\b[rs]k_live_[0-9A-Za-z]{16,247}\b/g, what: 'Stripe live key' },
  { rule: 'WS005', re: /\b[rs]k_test_[0-9A-Za-z]{16,247}\b/g, what: 'Stripe test key' },
  {
    rule: 'WS006',
    re: /\bsk-(?:ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{40,200}|proj-[A-Za-z0-9_-]{40,200}|svcacct-[A-Za-z0-9_-]{40,200}|[A-Za-z0-9]{32,64})\b/g,
    what: 'AI provider API key',
  },
  { rule: 'WS007', re: /\bAIza[0-9A-Za-z_-]{35}\b/g, what: 'Google API key' },
  { rule: 'WS010', re: /\bnpm_[A-Za-z0-9]{36}\b/g, what: 'npm token' },
  { rule: 'WS010', re: /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}/g, what: 'PyPI token' },
  { rule: 'WS010', re: /\bhf_[A-Za-z]{34}\b/g, what: 'Hugging Face token' },
  { rule: 'WS010', re: /\bglpat-[A-Za-z0-9_-]{20,}\b/g, what: 'GitLab token' },
  { rule: 'WS010', re: /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b/g, what: 'SendGrid key' },
  { rule: 'WS010', re: /\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b/g, what: 'Telegram bot token' },
  {
    rule: 'WS010',
    re: /discord(?:app)?\.com\/api\/webhooks\/\d{15,20}\/[A-Za-z0-9_-]{60,}/g,
    what: 'Discord webhook URL',
  },
  { rule: 'WS010', re: /AccountKey=[A-Za-z0-9+/]{86}==/g, what: 'Azure storage account key' },
];

const PEM =
  /-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----([\s\S]{0,20000}?)-----END/g;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g;
const ASSIGN =
  /\b([A-Za-z_][A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key))["']?\s*(?::=|=|:)\s*(["'`])([^"'`\s]{8,200})\2/gi;
const URL_CRED = /\b[a-z][a-z0-9+.-]{1,20}:\/\/([^\s:/@"'`]{1,64}):([^\s/@"'`]{3,128})@[A-Za-z0-9.-]+/g;

// Documented example values and template markers: a secret scanner that flags these is noise.
const PLACEHOLDER =
  /x{4,}|\*{3,}|\.{3}|<[^>]*>|\$\{|\{\{|%\(|^\$[A-Za-z_]+$|your|example|sample|changeme|change_me|dummy|placeholder|redacted|fake|test|demo|secret_here|here$|insert|replace|todo|xxx|0000|1234|abcd|process\.env|os\.environ|getenv/i;

const KNOWN_EXAMPLES = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
]);

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

function isPlaceholder(value: string): boolean {
  if (KNOWN_EXAMPLES.has(value) || PLACEHOLDER.test(value)) return true;
  return new Set(value).size <= 3;
}

function redact(s: string): string {
  return s.length <= 8 ? '****' : `${s.slice(0, 4)}…${s.slice(-2)} (${s.length} chars)`;
}

/** Every hard-coded secret in `src`. */
export function scanSecrets(src: SourceText, out: Collector): void {
  const text = src.text;
  for (const t of TOKENS) {
    for (const m of text.matchAll(t.re)) {
      const v = m[0];
      if (KNOWN_EXAMPLES.has(v) || /x{6,}|X{6,}|EXAMPLE/.test(v)) continue;
      const i = m.index;
      out.emit(t.rule, src, i, i + v.length, `${t.what} ${redact(v)}`);
    }
  }
  for (const m of text.matchAll(PEM)) {
    const body = (m[2] ?? '').replace(/^[A-Za-z-]+:.*$/gm, '').replace(/\s+/g, '');
    if (body.length < 64 || /\.\.\.|x{8,}/i.test(body)) continue;
    out.emit('WS008', src, m.index, m.index + m[0].length, `${(m[1] ?? 'private key').toLowerCase()} block`);
  }
  for (const m of text.matchAll(JWT)) {
    if (KNOWN_EXAMPLES.has(m[0])) continue;
    out.emit('WS009', src, m.index, m.index + m[0].length, `JSON Web Token ${redact(m[0])}`);
  }
  for (const m of text.matchAll(ASSIGN)) {
    const name = m[1] ?? '';
    const value = m[3] ?? '';
    if (isPlaceholder(value) || /^[A-Z_]+$/.test(value) || /^[a-z_.]+$/.test(value)) continue;
    // Hyphenated or dotted words (download-token, my.app.secret) are names, not secrets.
    if (/^[a-z]+(?:[-_.][a-z]+)+$/i.test(value)) continue;
    // Identifiers, paths and names of other settings are not secrets.
    if (/^[a-z]+(?:[A-Z][a-z]+)+$/.test(value) || /[/\\]/.test(value) || /^https?:/.test(value)) continue;
    const minEntropy = /pass/i.test(name) ? 2.8 : 3.3;
    if (entropy(value) < minEntropy) continue;
    const i = m.index;
    out.emit('WS011', src, i, i + m[0].length, `value ${redact(value)} assigned to ${name}`);
  }
  for (const m of text.matchAll(URL_CRED)) {
    const pass = m[2] ?? '';
    if (isPlaceholder(pass) || /^[A-Za-z]+$/.test(pass) || /^(pass|password|pwd)$/i.test(pass)) continue;
    out.emit('WS012', src, m.index, m.index + m[0].length, `URL with password for user ${m[1] ?? ''}`);
  }
}
