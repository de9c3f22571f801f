// The human-readable report: one line per finding, most severe first, and a summary line.

import { visible } from './collector.js';
import type { ScanReport, Severity } from './types.js';

const ORDER: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** The report as an aligned table with a summary line. */
export function formatTable(report: ScanReport): string {
  const rows = [...report.findings]
    .sort((a, b) => ORDER.indexOf(a.severity) - ORDER.indexOf(b.severity))
    .map((f) => ({
      severity: f.severity.toUpperCase(),
      rule: f.ruleId,
      location: clip(`${f.file}:${f.line}:${f.column}`, 60),
      message: clip(visible(f.message), 110),
    }));
  const lines: string[] = [];
  if (rows.length > 0) {
    const cols = ['severity', 'rule', 'location', 'message'] as const;
    const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
    const line = (cells: string[]) =>
      cells
        .map((v, i) => v.padEnd(width[i] ?? 0))
        .join('  ')
        .trimEnd();
    lines.push(line(cols.map((c) => c.toUpperCase())));
    for (const r of rows) lines.push(line(cols.map((c) => r[c])));
  }
  const counts = ORDER.map(
    (s) => [s, report.findings.filter((f) => f.severity === s).length] as const,
  ).filter(([, n]) => n > 0);
  const summary =
    `${report.findings.length} finding${report.findings.length === 1 ? '' : 's'}` +
    (counts.length > 0 ? ` (${counts.map(([s, n]) => `${n} ${s}`).join(', ')})` : '') +
    ` in ${report.files} file${report.files === 1 ? '' : 's'} of ${report.kind} ${report.target}` +
    (report.skipped.length > 0 ? `; ${report.skipped.length} skipped` : '');
  lines.push(summary);
  return lines.join('\n') + '\n';
}
