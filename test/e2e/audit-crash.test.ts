// Crash safety of the evidence log: `warden serve` is killed with SIGKILL in the middle of appends
// under load, ten times. After each kill, every entry whose action was acknowledged (a token the
// client received: it is issued only once its `token.issued` entry is committed) must be in the
// log, and `warden audit verify` must pass.

import * as assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { AgentClient } from '../../src/identity/client.js';
import { readCredentialFile } from '../../src/identity/credentials.js';
import { WARDEN_BIN } from '../helpers/cli.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'warden-crash-'));
const dataDir = join(dir, 'data');
let server: ChildProcess | undefined;

after(() => {
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function warden(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [WARDEN_BIN, ...args, '--data-dir', dataDir], { cwd: dir });
}

async function startServer(): Promise<{ proc: ChildProcess; issuer: string }> {
  const proc = spawn(process.execPath, [WARDEN_BIN, 'serve', '--port', '0', '--data-dir', dataDir], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const issuer = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /warden listening on (\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    proc.once('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
  });
  return { proc, issuer };
}

function jtiOf(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as {
    jti: string;
  };
  return payload.jti;
}

test('SIGKILL during appends under load, 10 times: nothing acknowledged is lost and the log verifies', async () => {
  await warden('init');
  await warden('sponsor', 'add', 'dana@example.com', '--name', 'Dana');
  await warden('blueprint', 'create', 'loader', '--sponsor', 'dana@example.com', '--scope', 'mcp:read');
  const credFile = join(dir, 'loader.credentials.json');
  await warden('agent', 'create', 'loader/one', '--sponsor', 'dana@example.com', '--out', credFile);

  const acknowledged = new Set<string>();
  for (let round = 1; round <= 10; round++) {
    const { proc, issuer } = await startServer();
    server = proc;
    const creds = readCredentialFile(credFile);
    const client = new AgentClient({ ...creds, tokenEndpoint: `${issuer}/oauth/token` });
    let stop = false;
    let inFlightAtKill = 0;
    let active = 0;
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        active++;
        try {
          const t = await client.token();
          acknowledged.add(jtiOf(t.accessToken));
        } catch (err) {
          if (process.env['DEBUG_CRASH']) console.error(err);
          // Refused or cut off by the kill: not acknowledged, so nothing is owed.
        } finally {
          active--;
        }
      }
    });
    const before = acknowledged.size;
    // Kill at a random moment once appends are flowing.
    const flowing = Date.now() + 10_000;
    while (acknowledged.size === before && Date.now() < flowing) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 150 + randomInt(300)));
    inFlightAtKill = active;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    stop = true;
    await exited;
    await Promise.all(workers);
    assert.ok(
      acknowledged.size - before > 0,
      `round ${round}: load was running (${acknowledged.size - before} tokens)`,
    );
    assert.ok(inFlightAtKill > 0, `round ${round}: requests were in flight at the kill`);

    const verify = await warden('audit', 'verify');
    assert.match(verify.stdout, /^ok: \d+ entries/, `round ${round}: ${verify.stdout}${verify.stderr}`);
    const db = new Database(join(dataDir, 'warden.db'), { readonly: true });
    try {
      const logged = new Set(
        (
          db
            .prepare(
              "select json_extract(details, '$.jti') as jti from audit_events where type = 'token.issued'",
            )
            .all() as Array<{ jti: string }>
        ).map((r) => r.jti),
      );
      const missing = [...acknowledged].filter((j) => !logged.has(j));
      assert.deepEqual(missing, [], `round ${round}: acknowledged tokens missing from the log`);
    } finally {
      db.close();
    }
  }
});
