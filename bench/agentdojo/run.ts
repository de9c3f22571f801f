// `npm run bench:agentdojo`: every AgentDojo user task and attack case through the real gateway
// (bench/agentdojo/replay.ts), with each suite's policy pack from policies/examples/agentdojo/, and
// the report (bench/agentdojo/report.ts) as a table, or as JSON with --json. Exits 1 when a
// tool-based attack succeeded or a user task was blocked.
//
//   npm run bench:agentdojo                       all four suites
//   npm run bench:agentdojo -- --suite banking    one suite
//   npm run bench:agentdojo -- --json             the report as JSON

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { staleOutputs } from '../build-check.js';
import { startSuite, type CaseRecord } from './replay.js';
import { formatReport, suiteReport, totals, type SuiteReport } from './report.js';
import { attackCases, loadTraces, suiteNames, suiteOf } from './traces.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function main(): Promise<void> {
  const stale = [
    ...staleOutputs(ROOT, join(ROOT, 'src')),
    ...staleOutputs(ROOT, join(ROOT, 'bench/agentdojo')),
  ];
  if (stale.length > 0)
    throw new Error(`dist/ is older than ${stale.slice(0, 3).join(', ')}: run \`npm run build\` first`);
  const json = process.argv.includes('--json');
  const only = process.argv.indexOf('--suite');
  const traces = loadTraces();
  const names = only >= 0 ? [process.argv[only + 1] ?? ''] : suiteNames(traces);
  const reports: SuiteReport[] = [];
  const started = performance.now();
  for (const name of names) {
    const suite = suiteOf(traces, name);
    const t0 = performance.now();
    const bench = await startSuite(suite);
    try {
      const benign: CaseRecord[] = [];
      for (const u of suite.user_tasks) benign.push(await bench.runCase(u, null));
      const attacks: CaseRecord[] = [];
      for (const c of attackCases(suite)) attacks.push(await bench.runCase(c.userTask, c.injectionTask));
      reports.push(suiteReport(suite, bench.pack, benign, attacks));
    } finally {
      await bench.close();
    }
    if (!json) process.stderr.write(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const seconds = (performance.now() - started) / 1000;
  if (json)
    process.stdout.write(
      JSON.stringify({ seconds, totals: totals(reports), suites: reports }, null, 2) + '\n',
    );
  else process.stdout.write(formatReport(reports) + `\n${seconds.toFixed(0)} s in all\n`);
  const t = totals(reports);
  process.exitCode = t.attacksSucceeded > 0 || t.userBlocked > 0 ? 1 : 0;
}

await main();
