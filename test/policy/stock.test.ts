// The stock policy pack with the engine: the baseline permit, the lethal-trifecta approval and the
// tainted-argument forbid; the example argument constraint; the embedded copy matching the files.

import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  BASE_SCHEMA,
  PolicyEngine,
  STOCK_POLICIES,
  installStockPolicies,
  loadPolicyDir,
  parseToolLists,
} from '../../src/policy/index.js';
import { MAIL_TOOLS, policyDir, resourceRead, serverRequest, toolCall } from './helpers.js';

const POLICIES = fileURLToPath(new URL('../../policies/', import.meta.url));
const STOCK_DIR = join(POLICIES, 'stock');
const EXAMPLES_DIR = join(POLICIES, 'examples');

const TRIFECTA = { private_seen: true, untrusted_seen: true, touched: ['private', 'untrusted'] };
const APPROVAL_REASON =
  "the session has read private data and untrusted content; sending anything out now needs a human's approval";
const TAINT_REASON =
  "a sensitive argument of this call came from untrusted content, not from the user's intent or a trusted source";

describe('stock pack', () => {
  const e = PolicyEngine.load({ dir: STOCK_DIR, tools: MAIL_TOOLS });

  it('is embedded exactly as the files in policies/stock', () => {
    const files = readdirSync(STOCK_DIR)
      .filter((n) => n.endsWith('.cedar'))
      .sort()
      .map((name) => ({ name, text: readFileSync(join(STOCK_DIR, name), 'utf8') }));
    assert.deepEqual(
      STOCK_POLICIES.map((f) => ({ ...f })),
      files,
    );
  });

  it('validates against the base schema with its five policies and no warnings', () => {
    const set = loadPolicyDir(STOCK_DIR, BASE_SCHEMA);
    assert.deepEqual(
      set.policies.map((p) => [p.id, p.effect, p.approval !== undefined]),
      [
        ['stock/baseline-agent-requests', 'permit', false],
        ['stock/egress-after-private-and-untrusted', 'forbid', true],
        ['stock/tainted-sensitive-argument', 'forbid', false],
        ['stock/sandbox-connect-allowlisted', 'permit', false],
        ['stock/installed-skills-readable', 'permit', false],
      ],
    );
    assert.deepEqual(set.warnings, []);
  });

  it("permits a sandboxed server's connection only to its allowlist", () => {
    const connect = (allowlisted: boolean) =>
      e.decide({
        principal: { type: 'Server', id: 'github' },
        action: 'connect',
        resource: { type: 'Host', id: 'api.github.com:443', attrs: { name: 'api.github.com', port: 443 } },
        context: { allowlisted, agent: 'spiffe://warden.local/agent/a/b' },
      });
    const yes = connect(true);
    assert.deepEqual([yes.effect, yes.policies], ['allow', ['stock/sandbox-connect-allowlisted']]);
    const no = connect(false);
    assert.deepEqual([no.effect, no.policies], ['deny', []]);
    // A request without the fact is malformed: refused, with the reason among its errors.
    const bad = e.decide({
      principal: { type: 'Server', id: 'github' },
      action: 'connect',
      resource: { type: 'Host', id: 'x:1', attrs: { name: 'x', port: 1 } },
      context: {},
    });
    assert.equal(bad.effect, 'deny');
    assert.match(JSON.stringify(bad.errors), /allowlisted/);
  });

  it("permits reading installed skills, and nothing else of Warden's own server", () => {
    const read = (server: string, uri: string) => {
      const r = resourceRead(uri, []);
      return e.decide({
        ...r,
        resource: { type: 'Resource', id: `${server}/${uri}`, attrs: { server, uri, labels: [] } },
      });
    };
    const skill = read('warden', 'skill://release-notes/SKILL.md');
    assert.deepEqual([skill.effect, skill.policies], ['allow', ['stock/installed-skills-readable']]);
    assert.equal(read('warden', 'file:///etc/passwd').effect, 'deny');
    assert.equal(read('warden', 'skills://release-notes/SKILL.md').effect, 'deny');
    // Another server's resource with a skill-like uri is the baseline's, not this policy's.
    assert.deepEqual(read('docs', 'skill://x/SKILL.md').policies, ['stock/baseline-agent-requests']);
  });

  it('permits tool calls, resource reads and prompts of agents', () => {
    const d = e.decide(toolCall());
    assert.deepEqual(
      { effect: d.effect, policies: d.policies, reasons: d.reasons },
      {
        effect: 'allow',
        policies: ['stock/baseline-agent-requests'],
        reasons: ["the agent may use the servers and tools its blueprint's envelope allows"],
      },
    );
    assert.equal(e.decide(resourceRead('file:///notes.md', ['private'])).effect, 'allow');
    assert.equal(
      e.decide({
        ...resourceRead('x', []),
        action: 'prompts/get',
        resource: {
          type: 'Prompt',
          id: 'docs/summarise',
          attrs: { server: 'docs', name: 'summarise', labels: [] },
        },
      }).effect,
      'allow',
    );
  });

  it('leaves sampling, elicitation, roots and connect denied', () => {
    for (const a of ['sampling/createMessage', 'elicitation/create', 'roots/list']) {
      assert.deepEqual(e.decide(serverRequest(a)).reasons, [
        `no policy permits \`${a}\` on \`Agent ${serverRequest(a).resource.id}\``,
      ]);
    }
    const d = e.decide({
      principal: { type: 'Server', id: 'docs' },
      action: 'connect',
      resource: { type: 'Host', id: 'example.com:443', attrs: { name: 'example.com', port: 443 } },
      context: {},
    });
    assert.equal(d.effect, 'deny');
  });

  describe('egress after private data and untrusted content', () => {
    it('needs approval for an egress tool once both have been seen', () => {
      const d = e.decide(toolCall({ flow: TRIFECTA }));
      assert.deepEqual(
        { effect: d.effect, policies: d.policies, reasons: d.reasons, errors: d.errors },
        {
          effect: 'approval',
          policies: ['stock/egress-after-private-and-untrusted'],
          reasons: [APPROVAL_REASON],
          errors: [],
        },
      );
    });

    it('does not apply with only one of the two, or to a tool without egress', () => {
      assert.equal(e.decide(toolCall({ flow: { private_seen: true } })).effect, 'allow');
      assert.equal(e.decide(toolCall({ flow: { untrusted_seen: true } })).effect, 'allow');
      assert.equal(
        e.decide(toolCall({ tool: 'list_inbox', arguments: {}, labels: ['private'], flow: TRIFECTA })).effect,
        'allow',
      );
    });

    it('applies to egress resources too', () => {
      assert.equal(e.decide(resourceRead('https://hook.example/x', ['egress'], TRIFECTA)).effect, 'approval');
    });
  });

  describe('tainted sensitive argument', () => {
    it('refuses an egress or consequential call with a tainted argument', () => {
      for (const labels of [['egress'], ['consequential'], ['private', 'consequential']]) {
        const d = e.decide(toolCall({ labels, flow: { tainted_args: ['to'] } }));
        assert.deepEqual(
          { effect: d.effect, policies: d.policies, reasons: d.reasons },
          { effect: 'deny', policies: ['stock/tainted-sensitive-argument'], reasons: [TAINT_REASON] },
          labels.join(','),
        );
      }
    });

    it('does not apply to a tool without those labels, or without tainted arguments', () => {
      assert.equal(
        e.decide(toolCall({ labels: ['private'], flow: { tainted_args: ['to'] } })).effect,
        'allow',
      );
      assert.equal(e.decide(toolCall({ flow: { intent_args: ['to'] } })).effect, 'allow');
    });

    it('is a hard deny even where the trifecta alone would ask for approval', () => {
      const d = e.decide(toolCall({ flow: { ...TRIFECTA, tainted_args: ['to'] } }));
      assert.deepEqual(
        { effect: d.effect, policies: d.policies, reasons: d.reasons },
        {
          effect: 'deny',
          policies: ['stock/tainted-sensitive-argument', 'stock/egress-after-private-and-untrusted'],
          reasons: [TAINT_REASON, APPROVAL_REASON],
        },
      );
    });
  });

  it('installs into a directory without overwriting an edited file', () => {
    const dir = policyDir({ '00-baseline.cedar': '// mine\n' });
    assert.deepEqual(installStockPolicies(dir), [
      '10-egress-after-private-and-untrusted.cedar',
      '20-tainted-sensitive-argument.cedar',
      '30-sandbox-connect-allowlisted.cedar',
      '40-installed-skills.cedar',
    ]);
    assert.equal(readFileSync(join(dir, '00-baseline.cedar'), 'utf8'), '// mine\n');
    assert.deepEqual(installStockPolicies(dir), []);
    writeFileSync(join(dir, '00-baseline.cedar'), STOCK_POLICIES[0]?.text ?? '');
    assert.equal(loadPolicyDir(dir, BASE_SCHEMA).hash, loadPolicyDir(STOCK_DIR, BASE_SCHEMA).hash);
  });
});

describe('example: recipients only in the company domain', () => {
  const tools = parseToolLists(JSON.parse(readFileSync(join(EXAMPLES_DIR, 'mail-tools.json'), 'utf8')));
  const dir = policyDir({
    ...Object.fromEntries(STOCK_POLICIES.map((f) => [f.name, f.text])),
    'example.cedar': readFileSync(join(EXAMPLES_DIR, 'recipient-domain.cedar'), 'utf8'),
  });
  const e = PolicyEngine.load({ dir, tools });
  const mail = (to: string, cc?: string[]) =>
    toolCall({ arguments: { to, subject: 's', body: 'b', ...(cc && { cc }) } });

  it('reads the tools file, and refuses one of another shape', () => {
    assert.deepEqual(
      tools.map((t) => `${t.server}/${t.name}`),
      ['mail/send_email'],
    );
    assert.throws(
      () => parseToolLists([]),
      /^PolicyError: tools file: expected an object of `<server>: <tools\/list result>`$/,
    );
    assert.throws(
      () => parseToolLists({ mail: { tools: [{ description: 'x' }] } }),
      /^PolicyError: tools file: server `mail`: tool 0 has no `name`$/,
    );
    assert.throws(
      () => parseToolLists({ mail: [] }),
      /^PolicyError: tools file: server `mail`: expected a tools\/list result with a `tools` array$/,
    );
  });

  it('allows the company domain and refuses others', () => {
    assert.equal(e.decide(mail('bob@example.com')).effect, 'allow');
    const d = e.decide(mail('eve@evil.example'));
    assert.deepEqual(
      { effect: d.effect, policies: d.policies, reasons: d.reasons },
      {
        effect: 'deny',
        policies: ['example/mail-recipients-in-company-domain'],
        reasons: ['mail may only be sent to addresses in example.com'],
      },
    );
  });

  it('refuses an address that only ends in the domain', () => {
    assert.equal(e.decide(mail('"eve@evil.example"@example.com')).effect, 'deny');
    assert.equal(e.decide(mail('eve@example.com.evil.example')).effect, 'deny');
  });

  it('checks cc against the team lists', () => {
    assert.equal(e.decide(mail('bob@example.com', ['team@example.com'])).effect, 'allow');
    assert.deepEqual(e.decide(mail('bob@example.com', ['eve@evil.example'])).policies, [
      'example/mail-cc-only-to-known-lists',
    ]);
  });

  it('does not validate without the tool', () => {
    assert.throws(
      () => loadPolicyDir(EXAMPLES_DIR, BASE_SCHEMA),
      /unrecognized action `Warden::Action::"call:mail\/send_email"`/,
    );
  });
});
