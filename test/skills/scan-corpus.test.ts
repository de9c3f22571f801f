// The scanner against the labelled corpus in test/fixtures/skills/ (written independently of the
// rules): at least 95% of malicious samples detected in a labelled category at >= medium, at most 2%
// of benign samples with any finding at >= medium. The same computation as `npm run bench:scanner`.

import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CORPUS_DIR,
  TARGET_DETECTION,
  TARGET_FALSE_POSITIVES,
  measure,
} from '../../bench/scanner/measure.js';

test(
  'detection and false-positive targets over the labelled corpus',
  { skip: !existsSync(join(CORPUS_DIR, 'corpus.json')) && 'no corpus' },
  async () => {
    const f = await measure();
    assert.ok(f.corpusComplete, 'the corpus is marked incomplete');
    assert.ok(f.malicious > 0 && f.benign > 0, 'the corpus needs malicious and benign samples');
    const missed = f.missed.map((m) => `${m.id} [${m.categories.join(', ')}]`).join('; ');
    const flagged = f.flagged.map((b) => `${b.id}: ${b.findings[0] ?? ''}`).join('; ');
    assert.ok(
      f.detectionRate >= TARGET_DETECTION,
      `detected ${f.detected}/${f.malicious}; missed: ${missed}`,
    );
    assert.ok(
      f.falsePositiveRate <= TARGET_FALSE_POSITIVES,
      `false positives ${f.falsePositives}/${f.benign}: ${flagged}`,
    );
  },
);
