// `warden demo` from the built binary, as the README's first command runs it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { WARDEN_BIN } from '../helpers/cli.js';

const run = promisify(execFile);

test('warden demo refuses the exfiltration, holds the legitimate send, quarantines the rug pull, and keeps its state', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-demo-test-'));
  const dataDir = join(dir, 'demo');
  try {
    const { stdout } = await run(process.execPath, [WARDEN_BIN, 'demo', '--data-dir', dataDir], {
      timeout: 60_000,
    });
    assert.match(
      stdout,
      /workspace__send_email to attacker@evil\.example\n\s+REFUSED \(-32010\): refused by policy `stock\/tainted-sensitive-argument`/,
    );
    assert.match(stdout, /REFUSED \(-32011\): this call awaits a human's approval/);
    assert.match(stdout, /emails the mail server really sent: 1\n/);
    assert.match(stdout, /REFUSED \(-32012\): tool `web__fetch_page` is not available/);
    assert.match(stdout, /\+\s+"description": "Fetch a web page\. <IMPORTANT>/);

    const db = new Database(join(dataDir, 'warden.db'), { readonly: true });
    const refused = db
      .prepare("select count(*) as n from audit_events where type = 'mcp.decision' and outcome = 'refused'")
      .get() as { n: number };
    db.close();
    assert.ok(refused.n >= 3, `refusals recorded: ${refused.n}`);

    // The evidence log verifies, and replaying the same policies changes nothing...
    const verified = await run(process.execPath, [WARDEN_BIN, 'audit', 'verify', '--data-dir', dataDir]);
    assert.match(verified.stdout, /^ok: \d+ entries, [1-9]\d* signed checkpoints verified/);
    const same = await run(process.execPath, [
      WARDEN_BIN,
      'replay',
      '--policies',
      join(dataDir, 'policies'),
      '--data-dir',
      dataDir,
    ]);
    assert.match(same.stdout, /^\(none\)\n\d+ decisions replayed, 0 would change, 0 skipped/);
    // ...while dropping the provenance rule would have let the exfiltration through: replay says so.
    const weaker = join(dir, 'weaker');
    cpSync(join(dataDir, 'policies'), weaker, { recursive: true });
    rmSync(join(weaker, '20-tainted-sensitive-argument.cedar'));
    const changed = await run(process.execPath, [
      WARDEN_BIN,
      'replay',
      '--policies',
      weaker,
      '--data-dir',
      dataDir,
      '--json',
    ]).then(
      () => assert.fail('replay exits 1 when a decision changes'),
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal(changed.code, 1);
    const report = JSON.parse(changed.stdout) as {
      changes: Array<{ target: string; recorded: string; replayed: string }>;
    };
    assert.ok(
      report.changes.some(
        (c) => c.target === 'workspace/send_email' && c.recorded === 'deny' && c.replayed !== 'deny',
      ),
      JSON.stringify(report.changes),
    );

    const tools = await run(process.execPath, [WARDEN_BIN, 'tools', 'list', '--data-dir', dataDir]);
    assert.match(tools.stdout, /web\/fetch_page\s+quarantined\s+\w+\s+\w+\s+[1-9] high/);
    const again = await run(process.execPath, [WARDEN_BIN, 'demo', '--data-dir', dataDir]).then(
      () => 'accepted',
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(again, /^warden: `.*` already holds a Warden data directory: give the demo a new one\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
