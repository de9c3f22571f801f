// The evidence log as an operator and an auditor use it, with real processes on loopback: a
// witness (`warden witness serve`) in one process cosigns the checkpoints `warden serve` sends it;
// the log's HTTP interface serves checkpoints and proofs; `warden audit prove` writes evidence that
// `warden audit verify-evidence` checks offline, requiring the witness's cosignature.

import * as assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { AgentClient } from '../../src/identity/client.js';
import { readCredentialFile } from '../../src/identity/credentials.js';
import {
  formatVerifierKey,
  generateSignerKey,
  leafHash,
  nodeHash,
  openNote,
  parseCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/verify/index.js';
import { WARDEN_BIN } from '../helpers/cli.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'warden-witness-e2e-'));
const dataDir = join(dir, 'data');
const procs: ChildProcess[] = [];

after(() => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function warden(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [WARDEN_BIN, ...args], { cwd: dir });
}

async function wardenFails(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    await warden(...args);
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
  throw new Error(`warden ${args.join(' ')} succeeded`);
}

function start(args: string[], ready: RegExp): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  const proc = spawn(process.execPath, [WARDEN_BIN, ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) resolve({ proc, match: m });
    });
    proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    proc.once('exit', (code) => reject(new Error(`warden ${args[0]} exited (${code}): ${err}`)));
  });
}

test('a witness on loopback cosigns the checkpoints; evidence requiring its cosignature verifies offline', async () => {
  await warden('init', '--data-dir', dataDir);
  const logVkey = join(dataDir, 'audit-log.vkey');
  const witnessKeyFile = join(dir, 'witness.skey');
  const witnessVkey = (
    await warden('witness', 'init', '--name', 'witness.test/w1', '--key-file', witnessKeyFile)
  ).stdout.trim();
  const { match } = await start(
    [
      'witness',
      'serve',
      '--key-file',
      witnessKeyFile,
      '--log-key',
      logVkey,
      '--state',
      join(dir, 'witness-state.json'),
      '--port',
      '0',
    ],
    /listening on (http:\/\/\S+)\n/,
  );
  const witnessUrl = match[1] as string;
  const cfg = join(dataDir, 'warden.yaml');
  writeFileSync(
    cfg,
    readFileSync(cfg, 'utf8')
      .replace('checkpointEveryEntries: 1000', 'checkpointEveryEntries: 4')
      .replace('checkpointIntervalMs: 10000', 'checkpointIntervalMs: 300')
      .replace('  witnesses: []', `  witnesses:\n    - url: ${witnessUrl}\n      key: ${witnessVkey}`),
  );
  await warden('sponsor', 'add', 'erin@example.com', '--name', 'Erin', '--data-dir', dataDir);
  await warden(
    'blueprint',
    'create',
    'audited',
    '--sponsor',
    'erin@example.com',
    '--scope',
    'mcp:read',
    '--max-depth',
    '2',
    '--data-dir',
    dataDir,
  );
  const credFile = join(dir, 'agent.credentials.json');
  await warden(
    'agent',
    'create',
    'audited/one',
    '--sponsor',
    'erin@example.com',
    '--out',
    credFile,
    '--data-dir',
    dataDir,
  );

  const { proc: server, match: m } = await start(
    ['serve', '--port', '0', '--data-dir', dataDir],
    /warden listening on (\S+)\n/,
  );
  const issuer = m[1] as string;
  const client = new AgentClient({ ...readCredentialFile(credFile), tokenEndpoint: `${issuer}/oauth/token` });
  for (let i = 0; i < 10; i++) await client.token();

  // A delegated chain under one trace: the root agent's token, then a second agent acting for it.
  const childCred = join(dir, 'child.credentials.json');
  await warden(
    'agent',
    'create',
    'audited/two',
    '--sponsor',
    'erin@example.com',
    '--out',
    childCred,
    '--data-dir',
    dataDir,
  );
  const child = new AgentClient({ ...readCredentialFile(childCred), tokenEndpoint: `${issuer}/oauth/token` });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const rootToken = await client.token({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
  await child.exchange(rootToken.accessToken, { traceparent: `00-${traceId}-00f067aa0ba902b8-01` });

  // The writer signs a checkpoint and sends it to the witness; wait for the cosignature.
  let checkpoint = '';
  for (let i = 0; i < 100 && !checkpoint.includes('— witness.test/w1 '); i++) {
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${issuer}/audit/v1/checkpoint`);
    checkpoint = res.status === 200 ? await res.text() : '';
  }
  assert.match(checkpoint, /— witness\.test\/w1 /, 'the witness cosigned a checkpoint');
  const logKeys = readFileSync(logVkey, 'utf8').trim().split('\n');
  const opened = openNote(checkpoint, [...logKeys, witnessVkey]);
  assert.deepEqual(
    opened.verified.map((v) => v.type),
    ['ed25519', 'cosignature'],
  );
  const cp = parseCheckpoint(opened.text);
  assert.ok(cp.size >= 4);

  // Proofs over HTTP are public and verify against the signed checkpoint; entries need the operator.
  const inclusion = (await (
    await fetch(`${issuer}/audit/v1/proof/inclusion?index=1&size=${cp.size}`)
  ).json()) as {
    proof: string[];
  };
  const entryRes = await fetch(`${issuer}/audit/v1/entries/1`);
  assert.equal(entryRes.status, 401);
  const secret = readFileSync(join(dataDir, 'introspection.secret'), 'utf8').trim();
  const entry = (await (
    await fetch(`${issuer}/audit/v1/entries/1`, { headers: { authorization: `Bearer ${secret}` } })
  ).json()) as {
    entry: string;
  };
  verifyInclusion(
    leafHash(Buffer.from(entry.entry, 'base64')),
    1,
    cp.size,
    inclusion.proof.map((h) => Buffer.from(h, 'base64')),
    cp.root,
  );
  const consistency = (await (
    await fetch(`${issuer}/audit/v1/proof/consistency?size1=2&size2=${cp.size}`)
  ).json()) as {
    proof: string[];
  };
  const entry0 = (await (
    await fetch(`${issuer}/audit/v1/entries/0`, { headers: { authorization: `Bearer ${secret}` } })
  ).json()) as {
    entry: string;
  };
  const rootOf2 = nodeHash(
    leafHash(Buffer.from(entry0.entry, 'base64')),
    leafHash(Buffer.from(entry.entry, 'base64')),
  );
  verifyConsistency(
    2,
    cp.size,
    consistency.proof.map((h) => Buffer.from(h, 'base64')),
    rootOf2,
    cp.root,
  );
  for (const bad of [
    'proof/inclusion?index=5&size=2',
    'proof/inclusion?index=x&size=2',
    'proof/consistency?size1=0&size2=2',
  ]) {
    assert.equal((await fetch(`${issuer}/audit/v1/${bad}`)).status, 400, bad);
  }
  assert.equal((await fetch(`${issuer}/audit/v1/checkpoint`, { method: 'POST' })).status, 405);

  // Stop the server (it signs a final checkpoint), then work offline.
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  const verify = await warden(
    'audit',
    'verify',
    '--data-dir',
    dataDir,
    '--witness-key',
    witnessVkey,
    '--min-cosignatures',
    '1',
  );
  assert.match(
    verify.stdout,
    /^ok: \d+ entries, \d+ signed checkpoints verified, the newest cosigned by witness\.test\/w1/,
  );
  const stranger = formatVerifierKey(generateSignerKey('witness.test/w2', 'cosignature').verifierKey);

  const bundleFile = join(dir, 'evidence.json');
  const bundle = (await warden('audit', 'prove', '1', '--size', String(cp.size), '--data-dir', dataDir))
    .stdout;
  writeFileSync(bundleFile, bundle);
  const ok = await warden(
    'audit',
    'verify-evidence',
    bundleFile,
    '--key',
    logVkey,
    '--witness-key',
    witnessVkey,
    '--min-cosignatures',
    '1',
  );
  assert.match(ok.stdout, /^ok: entry 1 is in the log \S+ of \d+ entries, cosigned by witness\.test\/w1/);
  const noWitness = await wardenFails(
    'audit',
    'verify-evidence',
    bundleFile,
    '--key',
    logVkey,
    '--witness-key',
    stranger,
    '--min-cosignatures',
    '1',
  );
  assert.equal(noWitness.code, 1);
  assert.match(noWitness.stderr, /cosignature/);
  const wrongLog = formatVerifierKey(generateSignerKey(cp.origin, 'ed25519').verifierKey);
  const forged = await wardenFails('audit', 'verify-evidence', bundleFile, '--key', wrongLog);
  assert.equal(forged.code, 1);

  // The trace, from the log alone: the root agent, the agent acting for it, and the delegation.
  const traced = (await warden('trace', traceId, '--data-dir', dataDir)).stdout;
  const rootId = readCredentialFile(credFile).agentId;
  const childId = readCredentialFile(childCred).agentId;
  assert.match(traced, new RegExp(`^trace ${traceId}\\nagent ${rootId}\\n`));
  assert.match(traced, new RegExp(`└─ agent ${childId}\\n`));
  assert.match(traced, new RegExp(`delegation: ${rootId} → ${childId} \\(depth 1\\)`));
  assert.match(traced, /token issued to /);
  const unknownTrace = await wardenFails('trace', 'f'.repeat(32), '--data-dir', dataDir);
  assert.match(unknownTrace.stderr, /nothing for trace/);

  // Consistency with a checkpoint saved earlier.
  const saved = join(dir, 'saved.checkpoint');
  writeFileSync(saved, checkpoint);
  const consistent = await warden('audit', 'consistency', saved, '--data-dir', dataDir);
  assert.match(consistent.stdout, /^ok: the log of \d+ entries extends the saved checkpoint/);

  // Someone with the database changes one byte of entry 3: `warden audit verify` names it and fails.
  const db = new Database(join(dataDir, 'warden.db'));
  const row = db.prepare('select entry from log_entries where idx = 3').get() as { entry: Buffer };
  const changed = Buffer.from(row.entry);
  changed.writeUInt8((changed.at(-2) as number) ^ 0x01, changed.length - 2);
  db.prepare('update log_entries set entry = ? where idx = 3').run(changed);
  db.close();
  const tampered = await wardenFails('audit', 'verify', '--data-dir', dataDir);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stdout, /^FAILED at index 3: entry 3 does not match its stored leaf hash/);
  // The evidence bundle made before still verifies offline: it carries the entry as it was.
  await warden('audit', 'verify-evidence', bundleFile, '--key', logVkey);
});
