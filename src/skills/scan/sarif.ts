// SARIF 2.1.0 output, as code-scanning services read it: the full rule catalogue with numeric
// `security-severity`, results with relative URIs under %SRCROOT%, and fingerprints that stay the
// same across runs as long as the finding does.

import { wardenVersion } from '../../version.js';
import { createHash } from 'node:crypto';
import { RULES } from './rules/index.js';
import type { Finding, ScanReport, Severity } from './types.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};

const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: '0.0',
};

function encodePath(p: string): string {
  return p
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

function fingerprint(f: Finding, nth: number): string {
  // Lines move when unrelated text is edited; the rule, file, message and line content do not.
  return createHash('sha256')
    .update([f.ruleId, f.file, f.message, (f.snippet ?? '').replace(/\s+/g, ' '), String(nth)].join('\0'))
    .digest('hex')
    .slice(0, 32);
}

function run(report: ScanReport): Record<string, unknown> {
  const index = new Map(RULES.map((r, i) => [r.id, i]));
  const counts = new Map<string, number>();
  const results = report.findings.map((f) => {
    const hashIn = `${f.ruleId}\0${f.file}\0${f.message}\0${f.snippet ?? ''}`;
    const nth = counts.get(hashIn) ?? 0;
    counts.set(hashIn, nth + 1);
    const hash = f.file.indexOf('#');
    const file = hash >= 0 ? f.file.slice(0, hash) : f.file;
    const pointer = hash >= 0 ? f.file.slice(hash + 1) : undefined;
    const region: Record<string, unknown> = {
      startLine: Math.max(1, f.line),
      startColumn: Math.max(1, f.column),
      endLine: Math.max(1, f.endLine, f.line),
      endColumn: Math.max(1, f.endColumn),
    };
    if (
      region['endLine'] === region['startLine'] &&
      (region['endColumn'] as number) < (region['startColumn'] as number)
    ) {
      region['endColumn'] = region['startColumn'];
    }
    if (f.snippet) region['snippet'] = { text: f.snippet };
    const result: Record<string, unknown> = {
      ruleId: f.ruleId,
      ruleIndex: index.get(f.ruleId) ?? -1,
      level: LEVEL[f.severity],
      message: { text: f.message },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: encodePath(file || report.target), uriBaseId: '%SRCROOT%' },
            region,
          },
          ...(pointer !== undefined
            ? { logicalLocations: [{ fullyQualifiedName: pointer, kind: 'member' }] }
            : {}),
        },
      ],
      partialFingerprints: { 'wardenFinding/v1': fingerprint(f, nth) },
      properties: {
        severity: f.severity,
        category: f.category,
        'security-severity': SECURITY_SEVERITY[f.severity],
      },
    };
    return result;
  });
  return {
    tool: {
      driver: {
        name: 'warden',
        version: wardenVersion(),
        semanticVersion: wardenVersion(),
        rules: RULES.map((r) => ({
          id: r.id,
          name: r.name,
          shortDescription: { text: r.short },
          fullDescription: { text: r.full },
          help: { text: r.help },
          defaultConfiguration: { level: LEVEL[r.severity] },
          properties: {
            'security-severity': SECURITY_SEVERITY[r.severity],
            tags: ['security', r.category],
            severity: r.severity,
          },
        })),
      },
    },
    automationDetails: { id: `warden-scan/${report.kind}/` },
    columnKind: 'utf16CodeUnits',
    results,
    properties: { target: report.target, kind: report.kind, files: report.files, skipped: report.skipped },
  };
}

/** A SARIF 2.1.0 log with one run per report. */
export function toSarif(reports: ScanReport | ScanReport[]): Record<string, unknown> {
  const list = Array.isArray(reports) ? reports : [reports];
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: list.map(run),
  };
}
