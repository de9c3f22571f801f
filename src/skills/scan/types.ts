// The scanner's vocabulary: severities, the ten finding categories, findings and reports. Everything
// here is plain data so reports can be written as JSON or SARIF and compared across runs.

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

export type Category =
  | 'prompt-injection'
  | 'unicode'
  | 'credential-access'
  | 'exfiltration'
  | 'obfuscation'
  | 'dangerous-execution'
  | 'persistence'
  | 'tool-shadowing'
  | 'frontmatter'
  | 'secrets';

export const CATEGORIES: readonly Category[] = [
  'prompt-injection',
  'unicode',
  'credential-access',
  'exfiltration',
  'obfuscation',
  'dangerous-execution',
  'persistence',
  'tool-shadowing',
  'frontmatter',
  'secrets',
];

export type ScanKind = 'skill' | 'skills' | 'mcp-server' | 'tools' | 'file';

export interface Finding {
  ruleId: string;
  category: Category;
  severity: Severity;
  message: string;
  /** Relative POSIX path, or `tools.json#/tools/3/description` for a part of a tool definition. */
  file: string;
  /** 1-based; columns count UTF-16 code units, as SARIF's default column kind does. */
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  snippet?: string;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ScanReport {
  target: string;
  kind: ScanKind;
  files: number;
  findings: Finding[];
  skipped: SkippedFile[];
}

export interface ScanOptions {
  /** Overrides the detected kind of input. */
  kind?: 'skill' | 'mcp-server' | 'tools' | 'file';
  /** Follow symlinks that stay inside the scanned folder (never those leading out of it). */
  allowSymlinks?: boolean;
  /** Files larger than this many bytes are not scanned, and that is itself a finding. */
  maxFileSize?: number;
  /** More files than this in one scan is a finding; the rest are not read. */
  maxFiles?: number;
  /** Names of tools of other servers, for the tool-shadowing rules. */
  otherTools?: string[];
}

const RANK: Readonly<Record<Severity, number>> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** True when severity `a` is at or above `b`. */
export function severityAtLeast(a: Severity, b: Severity): boolean {
  return RANK[a] >= RANK[b];
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}
