// Scanner benchmark: detection and false-positive rates of `warden scan` over the labelled corpus in
// test/fixtures/skills/ (built independently of the rules), per category and overall, with the scan
// time per sample. Exits 1 when the targets (>= 95% of malicious samples detected, <= 2% of benign
// samples flagged) are not met.
//
// The rules were tuned on that corpus, so its figures are optimistic. A second, smaller corpus in
// test/fixtures/skills-holdout/ was written afterwards, by other hands, from other write-ups, and
// is never used to tune rules: its figures are printed after the first and say how the rules
// generalise. They are reported, not held to the targets.
//
//   npm run bench:scanner            table, misses and false positives
//   npm run bench:scanner -- --json  the figures as JSON

import { fileURLToPath } from 'node:url';
import { TARGET_DETECTION, TARGET_FALSE_POSITIVES, measure, type Figures } from './measure.js';
import { textTable } from '../table.js';

const HOLDOUT_DIR = fileURLToPath(new URL('../../test/fixtures/skills-holdout/', import.meta.url));

const pct = (x: number) => (Number.isNaN(x) ? '-' : `${(x * 100).toFixed(1)}%`);

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const f = await measure();
  const holdout = await measure(HOLDOUT_DIR);
  if (json) {
    const strip = ({ results, ...figures }: Figures) => ({
      ...figures,
      perSampleMs: results.map((r) => ({ id: r.id, ms: Number(r.ms.toFixed(2)) })),
    });
    process.stdout.write(JSON.stringify({ corpus: strip(f), holdout: strip(holdout) }, null, 2) + '\n');
  } else {
    process.stdout.write(render(f, 'tuning corpus (test/fixtures/skills/)', true));
    process.stdout.write(
      '\n' +
        render(
          holdout,
          'holdout corpus (test/fixtures/skills-holdout/), never used to tune: reported, not a target',
          false,
        ),
    );
  }
  process.exitCode = f.meetsTargets ? 0 : 1;
}

function render(f: Figures, title: string, targets: boolean): string {
  {
    const rows = f.perCategory.map((c) => [
      c.category,
      String(c.samples),
      String(c.detected),
      pct(c.detectionRate),
      String(c.benignFlagged),
      pct(c.falsePositiveRate),
    ]);
    const head = ['CATEGORY', 'SAMPLES', 'DETECTED', 'RATE', 'BENIGN FP', 'FP RATE'];
    const out: string[] = [title, '', ...textTable(head, rows)];
    out.push('');
    out.push(
      `corpus: ${f.samples} samples (${f.malicious} malicious, ${f.benign} benign)${f.corpusComplete ? '' : ' — corpus marked incomplete'}`,
    );
    out.push(
      `detected: ${f.detected}/${f.malicious} = ${pct(f.detectionRate)}${targets ? ` (target >= ${pct(TARGET_DETECTION)})` : ''}`,
    );
    out.push(
      `false positives: ${f.falsePositives}/${f.benign} = ${pct(f.falsePositiveRate)}${targets ? ` (target <= ${pct(TARGET_FALSE_POSITIVES)})` : ''}`,
    );
    out.push(`scan time per sample: median ${f.medianMs.toFixed(1)} ms, total ${f.totalMs.toFixed(0)} ms`);
    if (f.missed.length > 0) {
      out.push('', 'missed malicious samples:');
      for (const m of f.missed)
        out.push(
          `  ${m.id} [${m.categories.join(', ')}]${m.found.length ? ` — found only: ${m.found.join(' | ')}` : ''}`,
        );
    }
    if (f.flagged.length > 0) {
      out.push('', 'flagged benign samples:');
      for (const b of f.flagged) out.push(`  ${b.id}: ${b.findings.join(' | ')}`);
    }
    if (targets) out.push('', f.meetsTargets ? 'targets met' : 'TARGETS NOT MET');
    return out.join('\n') + '\n';
  }
}

await main();
