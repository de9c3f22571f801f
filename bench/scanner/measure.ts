// The scanner's figures over the labelled corpus in test/fixtures/skills/: detection per category,
// false positives on benign samples, scan time per sample. Shared by `bench/scanner/run.ts` and
// `test/skills/scan-corpus.test.ts` so the benchmark and the test measure the same thing.
//
// A malicious sample is detected when a finding of severity >= medium falls in one of its labelled
// categories; a benign sample is a false positive when any finding is >= medium.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { median } from '../stats.js';
import {
  CATEGORIES,
  loadGrammars,
  scanPath,
  severityAtLeast,
  type Category,
  type Finding,
} from '../../src/skills/scan/index.js';

export const CORPUS_DIR = fileURLToPath(new URL('../../test/fixtures/skills/', import.meta.url));
export const TARGET_DETECTION = 0.95;
export const TARGET_FALSE_POSITIVES = 0.02;

const Sample = z.object({
  id: z.string(),
  path: z.string(),
  label: z.enum(['malicious', 'benign']),
  kind: z.enum(['skill', 'mcp-server', 'tools']),
  categories: z.array(z.enum(CATEGORIES as [Category, ...Category[]])),
  source: z.string().optional(),
  notes: z.string().optional(),
});
const Corpus = z.object({ version: z.literal(1), complete: z.boolean(), samples: z.array(Sample) });
export type CorpusSample = z.infer<typeof Sample>;

export interface SampleResult {
  id: string;
  label: 'malicious' | 'benign';
  categories: Category[];
  /** Findings at or above medium. */
  findings: Finding[];
  detected: boolean;
  /** Labelled categories with a >= medium finding. */
  detectedCategories: Category[];
  ms: number;
}

export interface CategoryFigures {
  category: Category;
  samples: number;
  detected: number;
  detectionRate: number;
  benignFlagged: number;
  falsePositiveRate: number;
}

export interface Figures {
  corpusComplete: boolean;
  samples: number;
  malicious: number;
  benign: number;
  detected: number;
  detectionRate: number;
  falsePositives: number;
  falsePositiveRate: number;
  perCategory: CategoryFigures[];
  medianMs: number;
  totalMs: number;
  missed: Array<{ id: string; categories: Category[]; found: string[] }>;
  flagged: Array<{ id: string; findings: string[] }>;
  meetsTargets: boolean;
  results: SampleResult[];
}

export async function loadCorpus(dir = CORPUS_DIR): Promise<z.infer<typeof Corpus>> {
  return Corpus.parse(JSON.parse(await readFile(join(dir, 'corpus.json'), 'utf8')));
}

function describe(f: Finding): string {
  return `${f.ruleId} ${f.severity} ${f.category} ${f.file}:${f.line} ${f.message.slice(0, 140)}`;
}

/** Scan every sample and compute the figures. */
export async function measure(dir = CORPUS_DIR): Promise<Figures> {
  const corpus = await loadCorpus(dir);
  await loadGrammars();
  const results: SampleResult[] = [];
  for (const s of corpus.samples) {
    const started = process.hrtime.bigint();
    const report = await scanPath(join(dir, s.path), s.kind === 'tools' ? { kind: 'tools' } : {});
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const findings = report.findings.filter((f) => severityAtLeast(f.severity, 'medium'));
    const detectedCategories = s.categories.filter((c) => findings.some((f) => f.category === c));
    results.push({
      id: s.id,
      label: s.label,
      categories: s.categories,
      findings,
      detected: s.label === 'malicious' ? detectedCategories.length > 0 : findings.length > 0,
      detectedCategories,
      ms,
    });
  }
  const malicious = results.filter((r) => r.label === 'malicious');
  const benign = results.filter((r) => r.label === 'benign');
  const detected = malicious.filter((r) => r.detected).length;
  const falsePositives = benign.filter((r) => r.detected).length;
  const perCategory = CATEGORIES.map((category): CategoryFigures => {
    const labelled = malicious.filter((r) => r.categories.includes(category));
    const hits = labelled.filter((r) => r.detectedCategories.includes(category)).length;
    const flagged = benign.filter((r) => r.findings.some((f) => f.category === category)).length;
    return {
      category,
      samples: labelled.length,
      detected: hits,
      detectionRate: labelled.length ? hits / labelled.length : NaN,
      benignFlagged: flagged,
      falsePositiveRate: benign.length ? flagged / benign.length : 0,
    };
  });
  const detectionRate = malicious.length ? detected / malicious.length : NaN;
  const falsePositiveRate = benign.length ? falsePositives / benign.length : 0;
  const times = results.map((r) => r.ms);
  return {
    corpusComplete: corpus.complete,
    samples: results.length,
    malicious: malicious.length,
    benign: benign.length,
    detected,
    detectionRate,
    falsePositives,
    falsePositiveRate,
    perCategory,
    medianMs: median(times),
    totalMs: times.reduce((a, b) => a + b, 0),
    missed: malicious
      .filter((r) => !r.detected)
      .map((r) => ({ id: r.id, categories: r.categories, found: r.findings.map(describe) })),
    flagged: benign.filter((r) => r.detected).map((r) => ({ id: r.id, findings: r.findings.map(describe) })),
    meetsTargets: detectionRate >= TARGET_DETECTION && falsePositiveRate <= TARGET_FALSE_POSITIVES,
    results,
  };
}
