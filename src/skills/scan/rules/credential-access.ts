// Credential stores: SSH keys, cloud and cluster credentials, package-registry and git tokens,
// browser cookie and password stores, keychains, wallets, agent configuration holding API keys, and
// whole-environment dumps. Reading one is a finding on its own; reading one in a unit that also
// talks to the network is exfiltration (see the collector).

import type { Severity } from '../types.js';
import type { RuleMeta } from './meta.js';

export const CREDENTIAL_RULES: RuleMeta[] = [
  {
    id: 'WS301',
    name: 'credential-store-access',
    category: 'credential-access',
    severity: 'high',
    short: 'code reads a credential store',
    full: 'Program code names a credential store (SSH private keys, cloud or cluster credentials, registry tokens, browser cookie or password databases, keychains, wallets, agent configuration with API keys).',
    help: 'A skill or tool server has no business reading these files; remove the access or scope it to what the task needs.',
  },
  {
    id: 'WS302',
    name: 'credential-instruction',
    category: 'credential-access',
    severity: 'high',
    short: 'instructions direct the agent to read credentials',
    full: 'Text the model reads tells it to read, print, copy or send a credential store.',
    help: 'Remove the instruction; an agent must never be told to collect credentials.',
  },
  {
    id: 'WS303',
    name: 'environment-dump',
    category: 'credential-access',
    severity: 'medium',
    short: 'the whole environment is serialised',
    full: 'Code serialises, prints or iterates the whole process environment, which holds tokens and keys, instead of reading the variables it needs.',
    help: 'Read only the variables the code needs by name.',
  },
  {
    id: 'WS304',
    name: 'credential-path-mention',
    category: 'credential-access',
    severity: 'low',
    short: 'text mentions a credential store',
    full: 'A credential store path appears in text without an instruction to read it.',
    help: 'Usually documentation; check the context.',
  },
  {
    id: 'WS305',
    name: 'dotenv-read',
    category: 'credential-access',
    severity: 'low',
    short: 'reads a .env file or a secret-named variable',
    full: 'Code reads a .env file or a secret-named environment variable; normal on its own, it matters only with a send to an untrusted host.',
    help: 'Informational.',
  },
  {
    id: 'WS306',
    name: 'keychain-access',
    category: 'credential-access',
    severity: 'high',
    short: 'reads the OS keychain or secret service',
    full: 'A command reads secrets from the macOS keychain (security find-*-password, dump-keychain) or the Linux secret service.',
    help: 'Remove the keychain access.',
  },
];

export interface CredentialMatch {
  what: string;
  severity: Severity;
  index: number;
  length: number;
}

interface CredPattern {
  re: RegExp;
  what: string;
  severity: Severity;
}

// INVARIANT: patterns match paths, not prose words, so "cookies" in a sentence is not a store.
const CRED_PATHS: CredPattern[] = [
  {
    re: /\.ssh[/\\]+(?:id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|identity)(?![\w.-]*\.pub)\b/gi,
    what: 'an SSH private key',
    severity: 'high',
  },
  {
    re: /(?:~|\$HOME|\$\{HOME\}|%USERPROFILE%|home[/\\][\w.-]+|Users[/\\][\w.-]+)[/\\]+\.ssh(?:[/\\]+\*?)?(?=$|["'`\s)\]])/gi,
    what: 'the SSH key folder',
    severity: 'high',
  },
  { re: /\bid_(?:rsa|dsa|ecdsa|ed25519)\b(?!\.pub)/g, what: 'an SSH private key', severity: 'medium' },
  { re: /\.aws[/\\]+credentials\b/gi, what: 'AWS credentials', severity: 'high' },
  {
    re: /(?:~|\$HOME|\$\{HOME\})[/\\]+\.aws(?:[/\\]+\*?)?(?=$|["'`\s)\]])/gi,
    what: 'the AWS credentials folder',
    severity: 'high',
  },
  {
    re: /\.config[/\\]+gcloud\b|application_default_credentials\.json|\bgcloud[/\\]+(?:credentials|access_tokens)\.db/gi,
    what: 'Google Cloud credentials',
    severity: 'high',
  },
  {
    re: /\.azure[/\\]+(?:accessTokens\.json|msal_token_cache[\w.]*|azureProfile\.json)|(?:~|\$HOME)[/\\]+\.azure\b/gi,
    what: 'Azure credentials',
    severity: 'high',
  },
  { re: /\.kube[/\\]+config\b/gi, what: 'the Kubernetes config', severity: 'high' },
  { re: /\.docker[/\\]+config\.json/gi, what: 'Docker registry credentials', severity: 'high' },
  {
    re: /(?:^|[/\\~"'`\s])\.(?:npmrc|pypirc|netrc|git-credentials)\b/gi,
    what: 'registry or git credentials',
    severity: 'high',
  },
  {
    re: /\.config[/\\]+gh[/\\]+hosts\.yml|\.config[/\\]+hub\b/gi,
    what: 'GitHub CLI credentials',
    severity: 'high',
  },
  {
    re: /(?:~|\$HOME)[/\\]+\.gnupg\b|\.gnupg[/\\]+(?:private-keys|secring)|\.password-store\b/gi,
    what: 'GnuPG or pass secrets',
    severity: 'high',
  },
  { re: /\/etc\/(?:shadow|gshadow|sudoers)\b/g, what: 'system password files', severity: 'high' },
  { re: /\/proc\/(?:self|\d+|\*|\$\w+)\/environ\b/g, what: 'a process environment', severity: 'high' },
  {
    re: /(?:Google[/\\]+Chrome|Chromium|BraveSoftware|Microsoft[/\\]+Edge|Opera Software|Vivaldi|\.mozilla[/\\]+firefox|Mozilla[/\\]+Firefox|Library[/\\]+Cookies)[/\\]|\b(?:Login Data|Web Data|cookies\.sqlite|logins\.json|key[34]\.db|Local State)\b|Cookies\.binarycookies/g,
    what: 'a browser cookie or password store',
    severity: 'high',
  },
  {
    re: /Library[/\\]+Keychains\b|\blogin\.keychain(?:-db)?\b/g,
    what: 'the macOS keychain',
    severity: 'high',
  },
  {
    re: /\bwallet\.dat\b|\.electrum\b|[/\\]Exodus[/\\]|\.ethereum[/\\]+keystore|solana[/\\]+id\.json|nkbihfbeogaeaoehlefnkodbefgpgknn/gi,
    what: 'a cryptocurrency wallet',
    severity: 'high',
  },
  {
    re: /claude_desktop_config\.json|\.cursor[/\\]+mcp\.json|(?:~|\$HOME)[/\\]+\.claude\.json|\.codex[/\\]+auth\.json|\.config[/\\]+(?:openai|anthropic)\b/gi,
    what: 'an agent configuration holding API keys',
    severity: 'high',
  },
  {
    re: /\.(?:bash|zsh|sh)_history\b|\.python_history\b|\.psql_history\b|\.mysql_history\b/g,
    what: 'a shell history',
    severity: 'medium',
  },
];

const DOTENV =
  /(?:^|[/\\"'`\s(|])\.env(?:\.(?:local|production|prod|development|dev|staging))?(?=$|["'`\s)|,;\]])/g;

/** Credential stores named in `text` (a string literal, a shell word, a line of prose). */
export function credentialPaths(text: string): CredentialMatch[] {
  const out: CredentialMatch[] = [];
  for (const p of CRED_PATHS) {
    for (const m of text.matchAll(p.re)) {
      if (out.some((o) => m.index < o.index + o.length && o.index < m.index + m[0].length)) continue;
      out.push({ what: p.what, severity: p.severity, index: m.index, length: m[0].length });
    }
  }
  return out;
}

/** `.env` files named in `text`. */
export function dotenvPaths(text: string): Array<{ index: number; length: number }> {
  return [...text.matchAll(DOTENV)].map((m) => ({ index: m.index, length: m[0].length }));
}

/** Environment variable names that hold secrets by convention. */
export const SECRET_ENV_NAME = /(?:KEY|TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|AUTH|SESSION|COOKIE)/i;
