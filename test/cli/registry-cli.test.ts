// The `warden` binary as a real process: help, the registry commands end to end, and every refusal
// printing exactly one line (no stack trace), exiting non-zero, and leaving the database unchanged.

import * as assert from 'node:assert/strict';
import { runWarden, succeeded, type CliRun } from '../helpers/cli.js';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  appendFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import type { Command } from 'commander';
import { initDataDir, openWarden } from '../../src/cli/context.js';
import { buildProgram } from '../../src/cli/program.js';
import { readCredentialFile } from '../../src/identity/credentials.js';
import { generateAgentKey } from '../../src/identity/jwk.js';

// The built binary, as users run it (`npm test` builds first); a tsx-loaded CLI costs ~2 s a start.
const root = mkdtempSync(join(tmpdir(), 'warden-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (prefix: string) => mkdtempSync(join(root, `${prefix}${n++}-`));

type Run = CliRun;

function warden(args: string[], cwd: string = root): Promise<Run> {
  return runWarden(args, cwd);
}

const ok = succeeded;

/** A failure: exactly one line `warden: ...` containing `fragment`, no stack trace, nothing on stdout. */
function failed(r: Run, fragment: string, code = 1): void {
  assert.equal(r.code, code, `exit code, stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `expected one line, got ${JSON.stringify(r.stderr)}`);
  assert.equal(lines[1], '');
  assert.match(lines[0] ?? '', /^warden: /);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/);
  assert.ok(
    r.stderr.includes(fragment),
    `stderr ${JSON.stringify(r.stderr)} lacks ${JSON.stringify(fragment)}`,
  );
}

/** Every row of every table: a refusal must leave this exactly as it was. */
function dump(dataDir: string): Record<string, unknown[]> {
  const db = new SQLite(join(dataDir, 'warden.db'), { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of [
      'sponsors',
      'blueprints',
      'agents',
      'grants',
      'signing_keys',
      'changes',
      'audit_events',
    ]) {
      out[t] = db.prepare(`SELECT * FROM ${t} ORDER BY ${t === 'audit_events' ? 'seq' : 'rowid'}`).all();
    }
    return out;
  } finally {
    db.close();
  }
}

async function refusedUnchanged(dataDir: string, args: string[], fragment: string, code = 1, cwd?: string) {
  const before = dump(dataDir);
  failed(await warden([...args, '--data-dir', dataDir], cwd), fragment, code);
  assert.deepEqual(dump(dataDir), before, `\`warden ${args.join(' ')}\` changed the database`);
}

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

/**
 * A data directory with sponsors alice and bob, blueprint `support` (sponsor alice) and its agent
 * `a1`, set up in-process: each process spawned costs a second, so only what is under test spawns.
 */
async function seeded(): Promise<string> {
  const dataDir = join(fresh('seed'), 'data');
  await initDataDir(dataDir);
  const w = await openWarden(dataDir);
  try {
    await w.registry.addSponsor({ id: ALICE, name: 'Alice' });
    await w.registry.addSponsor({ id: BOB, name: 'Bob' });
    await w.registry.createBlueprint({
      name: 'support',
      sponsors: [ALICE],
      envelope: { servers: [], tools: [], scopes: ['tickets:read', 'tickets:write'] },
      baseScope: ['tickets:read'],
    });
    await w.registry.createAgent({
      blueprint: 'support',
      name: 'a1',
      sponsor: ALICE,
      publicJwk: generateAgentKey('ES256').publicJwk,
    });
  } finally {
    await w.close();
  }
  return dataDir;
}

function leaves(cmd: Command, path: string[] = []): Array<{ path: string[]; cmd: Command }> {
  if (cmd.commands.length === 0) return [{ path, cmd }];
  return cmd.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

describe('help', () => {
  it('every registry command describes itself, its arguments and every option, including --data-dir', () => {
    const program = buildProgram();
    const mine = leaves(program).filter(({ path }) =>
      ['init', 'sponsor', 'blueprint', 'agent', 'grant'].includes(path[0] ?? ''),
    );
    assert.deepEqual(mine.map((l) => l.path.join(' ')).sort(), [
      'agent create',
      'agent list',
      'agent resume',
      'agent retire',
      'agent show',
      'agent suspend',
      'blueprint create',
      'blueprint list',
      'blueprint retire',
      'blueprint show',
      'blueprint update',
      'grant approve',
      'grant deny',
      'grant list',
      'grant request',
      'grant revoke',
      'grant show',
      'init',
      'sponsor add',
      'sponsor disable',
      'sponsor enable',
      'sponsor list',
    ]);
    for (const { path, cmd } of mine) {
      const where = path.join(' ');
      assert.ok(cmd.description().length > 0, `${where} has no description`);
      assert.ok(
        cmd.options.some((o) => o.long === '--data-dir'),
        `${where} lacks --data-dir`,
      );
      for (const o of cmd.options)
        assert.ok(o.description.length > 0, `${where} ${o.flags} has no description`);
      for (const a of cmd.registeredArguments)
        assert.ok(a.description.length > 0, `${where} <${a.name()}> has no description`);
      if (/ (list|show)$/.test(where))
        assert.ok(
          cmd.options.some((o) => o.long === '--json'),
          `${where} lacks --json`,
        );
    }
  });
});

describe('warden cli', { concurrency: true }, () => {
  it('--help and agent create --help list their options; --version prints the package version', async () => {
    const [top, create] = await Promise.all([warden(['--help']), warden(['agent', 'create', '--help'])]);
    ok(top);
    for (const c of ['init', 'sponsor', 'blueprint', 'agent', 'grant']) {
      assert.match(
        top.stdout,
        new RegExp(`\\n  ${c}\\b[^\\n]*\\s{2}\\S`),
        `command ${c} missing or undescribed`,
      );
    }
    assert.match(top.stdout, /-V, --version\s+print the version/);
    assert.match(top.stdout, /-h, --help\s+show help/);
    ok(create);
    for (const o of [
      '--sponsor <id>',
      '--public-key <jwk-file>',
      '--out <credential-file>',
      '--alg <alg>',
      '--expires-in <duration>',
      '--data-dir <dir>',
    ]) {
      assert.match(create.stdout, new RegExp(`\\n  ${o}\\s+\\S`), `option ${o}`);
    }
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(buildProgram().version(), pkg.version);
  });

  it('init, a sponsor, a blueprint, an agent with a generated key, a grant, a suspension', async () => {
    const work = fresh('flow');
    const d = join(work, 'data');
    const init = ok(await warden(['init', '--data-dir', d]));
    assert.match(init.stdout, /data directory: .*\(created\)/);
    assert.match(init.stdout, /configuration: .*warden\.yaml \(created\)/);
    assert.match(init.stdout, /signing key: +\S+ \(created\)/);
    const again = ok(await warden(['init', '--data-dir', d]));
    assert.match(again.stdout, /^already initialised: /);

    ok(await warden(['sponsor', 'add', ALICE, '--name', 'Alice Example', '--data-dir', d]));
    ok(
      await warden([
        'blueprint',
        'create',
        'support',
        '--sponsor',
        ALICE,
        '--scope',
        'tickets:read',
        '--envelope-scope',
        'tickets:read',
        'tickets:write',
        '--envelope-tool',
        'tickets/*',
        '--token-ttl',
        '15m',
        '--max-depth',
        '1',
        '--review-by',
        '2999-01-01',
        '--data-dir',
        d,
      ]),
    );
    const text = ok(await warden(['blueprint', 'show', 'support', '--data-dir', d])).stdout;
    assert.match(text, /^name: +support$/m);
    assert.match(text, /^base scope: +tickets:read$/m);
    assert.match(text, /^envelope scopes: +tickets:read tickets:write$/m);
    assert.match(text, /^envelope tools: +tickets\/\*$/m);
    assert.match(text, /^token ttl: +15m$/m);
    assert.match(text, /^max delegation depth: +1$/m);
    assert.match(text, /^review by: +2999-01-01$/m);
    assert.match(text, /^owners: +alice@example\.com$/m);

    const created = ok(
      await warden(['agent', 'create', 'support/triage-1', '--sponsor', ALICE, '--data-dir', d], work),
    );
    const id = 'spiffe://warden.local/agent/support/triage-1';
    const credFile = join(work, 'triage-1.credentials.json');
    assert.ok(created.stdout.includes(id));
    assert.ok(created.stdout.includes(credFile));
    assert.equal(statSync(credFile).mode & 0o777, 0o600);
    const creds = readCredentialFile(credFile);
    assert.deepEqual(
      [creds.agentId, creds.issuer, creds.tokenEndpoint, creds.alg],
      [id, 'http://127.0.0.1:8787', 'http://127.0.0.1:8787/oauth/token', 'ES256'],
    );
    const [row] = dump(d)['agents'] as Array<{ id: string; public_jwk: string }>;
    assert.deepEqual([row?.id, JSON.parse(row?.public_jwk ?? '')], [id, creds.publicJwk]);
    // Warden keeps no copy of the private key anywhere in its database.
    assert.ok(!JSON.stringify(dump(d)).includes(creds.privateJwk.d));
    // Made readable by others, the credential file is refused.
    chmodSync(credFile, 0o644);
    assert.throws(
      () => readCredentialFile(credFile),
      /readable by group or others \(mode 644\): run chmod 600/,
    );

    const req = ok(
      await warden([
        'grant',
        'request',
        '--agent',
        'support/triage-1',
        '--scope',
        'tickets:write',
        '--for',
        '15m',
        '--reason',
        'incident 42',
        '--data-dir',
        d,
      ]),
    );
    const grantId = /(g_[A-Za-z0-9_-]{22})/.exec(req.stdout)?.[1] ?? '';
    assert.ok(grantId);
    ok(await warden(['grant', 'approve', grantId, '--as', ALICE, '--data-dir', d]));
    const grants = JSON.parse(
      ok(await warden(['grant', 'list', '--status', 'approved', '--json', '--data-dir', d])).stdout,
    ) as Array<{ id: string; effectiveStatus: string; endsAt: number; startsAt: number }>;
    assert.deepEqual(
      grants.map((g) => [g.id, g.effectiveStatus, g.endsAt - g.startsAt]),
      [[grantId, 'approved', 900_000]],
    );

    const agents = ok(await warden(['agent', 'suspend', 'support/triage-1', '--data-dir', d])).stdout;
    assert.equal(agents, `suspended agent ${id}\n`);
    const events = (dump(d)['audit_events'] as Array<{ type: string; actor: string }>).map(
      (e) => `${e.type} ${e.actor}`,
    );
    assert.deepEqual(events, [
      'key.created operator',
      'sponsor.created operator',
      'blueprint.created operator',
      'agent.created operator',
      'grant.requested operator',
      `grant.approved sponsor:${ALICE}`,
      'agent.suspended operator',
    ]);
  });

  it('refuses an agent for a blueprint past its review-by date, leaving no credential file', async () => {
    const d = await seeded();
    // Review dates must be in the future when set, so age this one directly.
    const db = new SQLite(join(d, 'warden.db'));
    db.prepare(`UPDATE blueprints SET review_by = ? WHERE name = 'support'`).run(Date.UTC(2026, 0, 1));
    db.close();
    const work = fresh('review');
    await refusedUnchanged(
      d,
      ['agent', 'create', 'support/a2', '--sponsor', ALICE],
      'blueprint `support` is past its review-by date 2026-01-01: review and update it before creating agents',
      1,
      work,
    );
    assert.ok(!existsSync(join(work, 'a2.credentials.json')));
  });

  it('refuses a sponsor not on the blueprint, a duplicate agent, and overwriting a credential file', async () => {
    const d = await seeded();
    const work = fresh('dup');
    const out = join(work, 'x.json');
    await refusedUnchanged(
      d,
      ['agent', 'create', 'support/a2', '--sponsor', BOB, '--out', out],
      `sponsor \`${BOB}\` is not a sponsor of blueprint \`support\``,
    );
    assert.ok(!existsSync(out));
    await refusedUnchanged(
      d,
      ['agent', 'create', 'support/a1', '--sponsor', ALICE, '--out', out],
      'agent `spiffe://warden.local/agent/support/a1` already exists',
    );
    assert.ok(!existsSync(out));
    // An existing file is never overwritten, and then nothing is registered either.
    writeFileSync(out, 'precious');
    await refusedUnchanged(
      d,
      ['agent', 'create', 'support/a2', '--sponsor', ALICE, '--out', out],
      'already exists: choose another path',
    );
    assert.equal(readFileSync(out, 'utf8'), 'precious');
  });

  it('registers a given public key and writes no private key; refuses a private one', async () => {
    const d = await seeded();
    const work = fresh('pub');
    const { publicJwk, privateJwk } = generateAgentKey('EdDSA');
    writeFileSync(join(work, 'pub.jwk'), JSON.stringify(publicJwk));
    writeFileSync(join(work, 'priv.jwk'), JSON.stringify(privateJwk));
    await refusedUnchanged(
      d,
      ['agent', 'create', 'support/a2', '--sponsor', ALICE, '--public-key', join(work, 'priv.jwk')],
      'invalid public key: jwk contains private key member `d`',
      1,
      work,
    );
    const r = ok(
      await warden(
        [
          'agent',
          'create',
          'support/a2',
          '--sponsor',
          ALICE,
          '--public-key',
          join(work, 'pub.jwk'),
          '--expires-in',
          '7d',
          '--data-dir',
          d,
        ],
        work,
      ),
    );
    assert.match(r.stdout, /created agent spiffe:\/\/warden\.local\/agent\/support\/a2/);
    assert.ok(!existsSync(join(work, 'a2.credentials.json')));
    const agents = dump(d)['agents'] as Array<{
      name: string;
      public_jwk: string;
      created_at: number;
      expires_at: number;
    }>;
    const a2 = agents.find((a) => a.name === 'a2');
    assert.deepEqual(JSON.parse(a2?.public_jwk ?? ''), publicJwk);
    assert.equal((a2?.expires_at ?? 0) - (a2?.created_at ?? 0), 7 * 86_400_000);
  });

  it('misuse prints one line and exits 2', async () => {
    const d = await seeded();
    await refusedUnchanged(
      d,
      ['sponsor', 'add', 'carol', '--name', 'C', '--bogus'],
      "unknown option '--bogus'",
      2,
    );
    await refusedUnchanged(
      d,
      ['grant', 'request', '--agent', 'support/a1', '--scope', 'x', '--for', '15x', '--reason', 'r'],
      'invalid duration `15x`',
      2,
    );
  });

  it('refuses an unknown key in warden.yaml in one line naming it', async () => {
    const d = await seeded();
    appendFileSync(join(d, 'warden.yaml'), '\nbogus: 1\n');
    await refusedUnchanged(d, ['sponsor', 'list'], 'warden.yaml: unknown key `bogus`');
  });
});
