// `warden sandbox check` and `warden sandbox run` as real processes: the probe's table, failing
// closed when the machine lacks the pieces (here: a PATH without them), a command's exit code and
// wall-clock kill, refusals of a bad profile, and outbound connections decided by the data
// directory's policies and recorded.

import * as assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initDataDir, openWarden } from '../../src/cli/context.js';
import { readEvents } from '../../src/audit/read.js';
import { runWarden, succeeded } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'warden-sandbox-cli-'));
const dataDir = join(root, 'data');
const servers: Server[] = [];
let allowed = 0;
let other = 0;
let otherHits = 0;

async function listen(body: () => string): Promise<number> {
  const s = createServer((_q, r) => r.end(body()));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

before(async () => {
  await initDataDir(dataDir);
  allowed = await listen(() => 'allowed page');
  other = await listen(() => {
    otherHits++;
    return 'other page';
  });
});

after(() => {
  for (const s of servers) s.close();
  rmSync(root, { recursive: true, force: true });
});

async function events(type: string) {
  const w = await openWarden(dataDir);
  try {
    return await readEvents(w.store, { type });
  } finally {
    await w.close();
  }
}

describe('warden sandbox check', () => {
  it('prints what the machine supports and exits 0 when sandboxes can start', async () => {
    const r = succeeded(await runWarden(['sandbox', 'check']));
    assert.match(r.stdout, /^bubblewrap\s+ok\s+always/m);
    assert.match(r.stdout, /^seccomp filter\s+ok\s+always\s+loaded/m);
    assert.match(r.stdout, /^namespaces .*\s+ok\s+/m);
    const json = JSON.parse(succeeded(await runWarden(['sandbox', 'check', '--json'])).stdout) as {
      items: Array<{ name: string; ok: boolean; required: boolean }>;
    };
    assert.ok(json.items.filter((i) => i.required).every((i) => i.ok));
  });

  it('fails closed, naming what is missing and how to install it', async () => {
    const r = await runWarden(['sandbox', 'check'], root, { PATH: '/nonexistent' });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^bubblewrap\s+MISSING\s+always\s+not found \(install: apt-get install bubblewrap/m,
    );
    assert.equal(
      r.stderr,
      'warden: sandboxed servers cannot start on this machine: missing bubblewrap, prlimit (resource limits), setpriv (drop root), namespaces (user, mount, pid, net, ipc, uts), seccomp filter\n',
    );
  });
});

describe('warden sandbox run', () => {
  it('refuses to run anything without the sandbox', async () => {
    const r = await runWarden(['sandbox', 'run', '--data-dir', dataDir, '--', '/bin/true'], root, {
      PATH: '/nonexistent',
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^warden: server `script` needs a sandbox this machine cannot provide: bubblewrap: not found \(apt-get install bubblewrap/,
    );
    assert.match(r.stderr, /set `sandbox: none`/);
    assert.equal(r.stderr.split('\n').length, 2, 'one line');
  });

  it('runs the command as an unprivileged user and exits with its code', async () => {
    const r = await runWarden([
      'sandbox',
      'run',
      '--data-dir',
      dataDir,
      '--',
      '/bin/sh',
      '-c',
      'id -u; ls -A /home | wc -l; exit 3',
    ]);
    assert.equal(r.code, 3, r.stderr);
    const [uid, homeEntries] = r.stdout.trim().split('\n');
    assert.notEqual(uid, '0');
    assert.equal(homeEntries, '0');
    const run = (await events('sandbox.started')).at(-1);
    assert.equal(run?.outcome, 'refused');
    assert.equal(run?.details['exit_code'], 3);
  });

  it('kills a command at the wall clock', async () => {
    const started = Date.now();
    const r = await runWarden([
      'sandbox',
      'run',
      '--data-dir',
      dataDir,
      '--wall',
      '1',
      '--',
      '/bin/sh',
      '-c',
      'while :; do :; done',
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'warden: `/bin/sh` ran out of time (1 s) and was killed\n');
    assert.ok(Date.now() - started < 8000);
    assert.equal((await events('sandbox.started')).at(-1)?.details['timed_out'], true);
  });

  it('refuses a bad profile in one line', async () => {
    const r = await runWarden([
      'sandbox',
      'run',
      '--data-dir',
      dataDir,
      '--allow',
      'no-port',
      '--',
      '/bin/true',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^warden: sandbox profile: network\.allow\.0: must be host:port/);
    const rel = await runWarden([
      'sandbox',
      'run',
      '--data-dir',
      dataDir,
      '--write',
      dataDir,
      '--',
      '/bin/true',
    ]);
    assert.equal(rel.code, 1);
    assert.match(rel.stderr, /is inside Warden's own directory/);
  });

  it("decides and records each connection by the data directory's policies", async () => {
    const probe = `
      const get = (port) => fetch('http://127.0.0.1:' + port + '/').then((r) => r.status + ' ' + r.statusText, (e) => 'failed');
      Promise.all([get(${allowed}), get(${other})]).then((r) => console.log(JSON.stringify(r)));`;
    const r = await runWarden([
      'sandbox',
      'run',
      '--data-dir',
      dataDir,
      '--name',
      'fetcher',
      '--allow',
      `127.0.0.1:${allowed}`,
      '--',
      process.execPath,
      '-e',
      probe,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [a, b] = JSON.parse(r.stdout) as [string, string];
    assert.equal(a, '200 OK');
    // undici tunnels http:// through CONNECT too; a refused tunnel fails the fetch.
    assert.equal(b, 'failed');
    assert.equal(otherHits, 0);
    const connects = await events('sandbox.connect');
    const mine = connects.filter((e) => e.actor === 'server:fetcher');
    assert.deepEqual(
      mine.map((e) => [e.subject, e.outcome, e.details['decision'], e.details['allowlisted']]).sort(),
      [
        [`127.0.0.1:${allowed}`, 'success', 'allow', true],
        [`127.0.0.1:${other}`, 'refused', 'deny', false],
      ].sort(),
    );
    assert.deepEqual(mine.find((e) => e.outcome === 'success')?.details['policies'], [
      'stock/sandbox-connect-allowlisted',
    ]);
  });
});
