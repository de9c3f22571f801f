// `warden policy validate` and `warden policy test` as real processes (the built binary).

import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { BASE_SCHEMA, loadPolicyDir } from '../../src/policy/index.js';
import { runWarden, succeeded, type CliRun } from '../helpers/cli.js';
import { PERMIT_ALL_TOOLS, policyDir, toolCall } from './helpers.js';

const POLICIES = fileURLToPath(new URL('../../policies/', import.meta.url));
const STOCK = join(POLICIES, 'stock');
const EXAMPLES = join(POLICIES, 'examples');
const MAIL_TOOLS_JSON = join(EXAMPLES, 'mail-tools.json');

type Run = CliRun;

function warden(args: string[]): Promise<Run> {
  return runWarden(args);
}

function ok(r: Run): string {
  return succeeded(r).stdout;
}

function requestFile(req: unknown): string {
  const dir = policyDir({});
  const file = join(dir, 'request.json');
  writeFileSync(file, JSON.stringify(req));
  return file;
}

const stockHash = loadPolicyDir(STOCK, BASE_SCHEMA).hash;

describe('warden policy validate', { concurrency: true }, () => {
  it('prints OK with the number of policies and the hash', async () => {
    assert.equal(
      ok(await warden(['policy', 'validate', '--dir', STOCK])),
      `OK: 5 policies, policy set ${stockHash}\n`,
    );
  });

  it('defaults to <data-dir>/policies', async () => {
    const dataDir = policyDir({});
    mkdirSync(join(dataDir, 'policies'));
    writeFileSync(join(dataDir, 'policies', 'a.cedar'), PERMIT_ALL_TOOLS);
    const hash = loadPolicyDir(join(dataDir, 'policies'), BASE_SCHEMA).hash;
    assert.equal(
      ok(await warden(['policy', 'validate', '--data-dir', dataDir])),
      `OK: 1 policy, policy set ${hash}\n`,
    );
  });

  it('names a policy that makes requests go to Cedar whole', async () => {
    const dir = policyDir({
      'a.cedar': PERMIT_ALL_TOOLS,
      'b.cedar':
        '@id("mail-server-label")\nforbid (principal, action in Warden::Action::"tools/call", resource)\n' +
        'when { Warden::Tool::"mail/send_email".labels.contains("blocked") };\n',
    });
    const hash = loadPolicyDir(dir, BASE_SCHEMA).hash;
    assert.equal(
      ok(await warden(['policy', 'validate', '--dir', dir])),
      `OK: 2 policies, policy set ${hash}\n` +
        "note: policy `mail-server-label` reads an attribute other than through a path from principal, action, resource or context (an entity literal's, a conditional's, a tag): decisions go to Cedar with whole requests, slower but the same\n",
    );
  });

  it('prints one line per error and exits 1', async () => {
    const dir = policyDir({
      'a.cedar': '@id("x") permit (principal, action, resource);\n',
      'b.cedar': '@id("x") forbid (principal, action, resource);\n',
      'c.cedar': 'permit (principal, action resource);\n',
    });
    const r = await warden(['policy', 'validate', '--dir', dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      'warden: policy file `b.cedar` line 1: policy id `x` is already used in `a.cedar` line 1\n' +
        'warden: policy file `c.cedar` line 1, column 27: unexpected token `resource`: expected `!=`, `)`, `,`, `:`, `<`, `<=`, `==`, `>`, `>=`, `in`, or `is`\n',
    );
  });

  it('validates per-tool actions only with the tools file', async () => {
    const without = await warden(['policy', 'validate', '--dir', EXAMPLES]);
    assert.equal(without.code, 1);
    assert.equal(
      without.stderr,
      'warden: policy file `recipient-domain.cedar` line 20, column 13, policy `example/mail-recipients-in-company-domain`: unrecognized action `Warden::Action::"call:mail/send_email"`; did you mean `Warden::Action::"connect"`?\n' +
        'warden: policy file `recipient-domain.cedar` line 32, column 13, policy `example/mail-cc-only-to-known-lists`: unrecognized action `Warden::Action::"call:mail/send_email"`; did you mean `Warden::Action::"connect"`?\n',
    );
    const out = ok(await warden(['policy', 'validate', '--dir', EXAMPLES, '--tools', MAIL_TOOLS_JSON]));
    assert.match(out, /^OK: 2 policies, policy set [0-9a-f]{64}\n$/);
  });
});

describe('warden policy test', { concurrency: true }, () => {
  it('prints the decision', async () => {
    const file = requestFile(toolCall({ flow: { private_seen: true, untrusted_seen: true } }));
    const out = ok(await warden(['policy', 'test', file, '--dir', STOCK, '--tools', MAIL_TOOLS_JSON]));
    assert.equal(
      out,
      'effect:     approval\n' +
        'policies:   stock/egress-after-private-and-untrusted\n' +
        "reasons:    the session has read private data and untrusted content; sending anything out now needs a human's approval\n" +
        'errors:     -\n' +
        `policy set: ${stockHash}\n`,
    );
  });

  it('prints JSON with --json, and checks --expect', async () => {
    const file = requestFile(toolCall({ flow: { tainted_args: ['to'] } }));
    const args = ['policy', 'test', file, '--dir', STOCK, '--tools', MAIL_TOOLS_JSON];
    const d = JSON.parse(ok(await warden([...args, '--json', '--expect', 'deny'])));
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.policies, ['stock/tainted-sensitive-argument']);
    assert.equal(d.policySetHash, stockHash);
    assert.equal(typeof d.elapsedUs, 'number');

    const r = await warden([...args, '--expect', 'allow']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^effect: {5}deny\n/);
    assert.equal(r.stderr, 'warden: expected allow, got deny\n');
  });

  it('refuses a request that does not convert, instead of printing a deny', async () => {
    const file = requestFile(toolCall({ context: { flow: undefined } }));
    const r = await warden([
      'policy',
      'test',
      file,
      '--dir',
      STOCK,
      '--tools',
      MAIL_TOOLS_JSON,
      '--expect',
      'deny',
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'warden: request field `context.flow` must be an object\n');
  });

  it('documents the request format in its help', async () => {
    const out = ok(await warden(['policy', 'test', '--help']));
    assert.ok(out.includes('"action": "call:mail/send_email"'), out);
    assert.ok(out.includes('--expect <effect>'), out);
  });
});
