// Staying on the machine after the task: shell startup files, cron, systemd and launchd services,
// autostart entries, SSH authorized_keys, git hooks, preload files, and the agent's own
// configuration (a new hook or MCP server there runs on every future session).

import type { Severity } from '../types.js';
import type { RuleMeta } from './meta.js';

export const PERSISTENCE_RULES: RuleMeta[] = [
  {
    id: 'WS701',
    name: 'startup-file-write',
    category: 'persistence',
    severity: 'high',
    short: 'writes to a shell startup file',
    full: 'Code or a command writes to a shell startup file (.bashrc, .zshrc, .profile, fish config, /etc/profile.d), so its content runs in every future shell.',
    help: 'Do not modify startup files; if the user needs a PATH change, tell them.',
  },
  {
    id: 'WS702',
    name: 'cron-job',
    category: 'persistence',
    severity: 'high',
    short: 'installs a cron job',
    full: 'A command or code installs a crontab entry or writes to a cron directory.',
    help: 'A skill must not schedule itself; remove the cron job.',
  },
  {
    id: 'WS703',
    name: 'service-install',
    category: 'persistence',
    severity: 'high',
    short: 'installs a service, autostart entry or hook',
    full: 'Writes a systemd unit, launchd agent, XDG autostart entry, Windows Run key, git hook, rc.local or ld.so.preload entry, or enables such a service.',
    help: 'Remove the service installation.',
  },
  {
    id: 'WS704',
    name: 'authorized-keys',
    category: 'persistence',
    severity: 'high',
    short: 'adds an SSH authorized key',
    full: 'Writes to ~/.ssh/authorized_keys, granting someone a permanent login.',
    help: 'Remove it; a skill never adds login keys.',
  },
  {
    id: 'WS705',
    name: 'agent-config-write',
    category: 'persistence',
    severity: 'high',
    short: 'modifies the agent configuration',
    full: 'Writes to an AI agent configuration (settings, hooks, MCP server lists, memory or rules files), which then applies to every future session.',
    help: 'A skill must not rewrite the agent that loads it.',
  },
  {
    id: 'WS706',
    name: 'startup-path-mention',
    category: 'persistence',
    severity: 'low',
    short: 'mentions a startup or service location',
    full: 'A persistence location is named without a write to it.',
    help: 'Usually documentation; check the context.',
  },
];

export interface PersistTarget {
  rule: string;
  what: string;
  index: number;
  length: number;
}

const TARGETS: Array<{ rule: string; re: RegExp; what: string }> = [
  {
    rule: 'WS701',
    re: /(?:^|[/\\~"'`\s])\.(?:bashrc|bash_profile|bash_login|zshrc|zprofile|zshenv|zlogin|profile|kshrc|cshrc|tcshrc)\b|\/etc\/(?:profile(?:\.d)?|bash\.bashrc|zsh\/zshrc|environment)\b|\.config[/\\]+fish[/\\]+config\.fish/g,
    what: 'a shell startup file',
  },
  {
    rule: 'WS702',
    re: /\/etc\/cron(?:tab|\.d|\.daily|\.hourly|\.weekly|\.monthly)?\b|\/var\/spool\/cron\b/g,
    what: 'a cron location',
  },
  { rule: 'WS704', re: /authorized_keys2?\b/g, what: 'SSH authorized_keys' },
  {
    rule: 'WS703',
    re: /\/etc\/systemd\/system\b|\.config[/\\]+systemd[/\\]+user\b|\/lib\/systemd\/system\b|Library[/\\]+Launch(?:Agents|Daemons)\b|\.config[/\\]+autostart\b|CurrentVersion\\+Run(?:Once)?\b|\.git[/\\]+hooks[/\\]+[\w-]+|\/etc\/rc\.local\b|\/etc\/init\.d\b|\/etc\/ld\.so\.preload\b|Start Menu[/\\]+Programs[/\\]+Startup/g,
    what: 'a service or autostart location',
  },
  {
    rule: 'WS705',
    re: /\.claude[/\\]+(?:settings(?:\.local)?\.json|hooks|agents|commands|CLAUDE\.md)|\.claude\.json\b|claude_desktop_config\.json|\.cursor[/\\]+(?:mcp\.json|rules)|\.cursorrules\b|\.codex[/\\]+config\.toml|\.gemini[/\\]+settings\.json|\.vscode[/\\]+(?:mcp|settings)\.json|\.windsurfrules\b|(?:^|[/\\~"'`\s])CLAUDE\.md\b|AGENTS\.md\b/g,
    what: 'the agent configuration',
  },
];

/** Persistence locations named in `text`. */
export function persistTargets(text: string): PersistTarget[] {
  const out: PersistTarget[] = [];
  for (const t of TARGETS) {
    for (const m of text.matchAll(t.re))
      out.push({ rule: t.rule, what: t.what, index: m.index, length: m[0].length });
  }
  return out;
}

/** Content written to a startup file that only sets up a tool (PATH, an init hook) is low risk. */
export function benignStartupLine(content: string): boolean {
  const lines = content
    .split(/\n|;|&&/)
    .map((l) => l.trim().replace(/^["']|["']$/g, ''))
    .filter((l) => l !== '');
  if (lines.length === 0) return false;
  return lines.every(
    (l) =>
      /^export\s+[A-Z_][A-Z0-9_]*=[^`$(;|&]*(?:\$[A-Z_]+[^`(;|&]*)*$/.test(l) ||
      /^eval\s+["']?\$\([\w.-]+\s+(?:init|shellenv|env|hook)\b[^;|&`]*\)["']?$/.test(l) ||
      /^(?:source|\.)\s+["']?[~$\w/.-]+["']?$/.test(l) ||
      /^#/.test(l),
  );
}

export type { Severity };
