// The `sandbox` section of an upstream: what a profile may say, what it refuses (with the message
// a user sees), and how the network allowlist matches a destination.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigSchema } from '../../src/config/schema.js';
import { SandboxProfileSchema, hostAllowed } from '../../src/sandbox/profile.js';

function refusal(profile: unknown): string {
  const r = SandboxProfileSchema.safeParse(profile);
  assert.equal(r.success, false, `accepted ${JSON.stringify(profile)}`);
  const issue = r.error?.issues[0];
  return `${issue?.path.join('.')}: ${issue?.message}`;
}

describe('sandbox profile', () => {
  it('defaults to no network, no extra paths and bounded limits', () => {
    const p = SandboxProfileSchema.parse({});
    assert.deepEqual(p.network.allow, []);
    assert.deepEqual(p.filesystem, { read: [], write: [], deny: [] });
    assert.deepEqual(p.limits, {
      memoryMb: 2048,
      cpuSeconds: 0,
      processes: 128,
      openFiles: 1024,
      fileSizeMb: 1024,
      wallSeconds: 60,
    });
  });

  it('refuses paths that are relative, unnormalised or the root', () => {
    assert.equal(
      refusal({ filesystem: { read: ['srv/data'] } }),
      'filesystem.read.0: must be an absolute path',
    );
    assert.equal(
      refusal({ filesystem: { write: ['/srv/../etc'] } }),
      'filesystem.write.0: must be a normalised path (no `.`, `..` or `//`)',
    );
    assert.equal(
      refusal({ filesystem: { deny: ['/'] } }),
      'filesystem.deny.0: must not be the root directory',
    );
    assert.deepEqual(SandboxProfileSchema.parse({ filesystem: { read: ['/srv/data/'] } }).filesystem.read, [
      '/srv/data',
    ]);
  });

  it('refuses destinations without a port, with a bad port, or with a scheme', () => {
    const msg = 'network.allow.0: must be host:port (a DNS name, *.name, an IPv4 or [IPv6] address)';
    assert.equal(refusal({ network: { allow: ['api.github.com'] } }), msg);
    assert.equal(refusal({ network: { allow: ['https://api.github.com:443'] } }), msg);
    assert.equal(refusal({ network: { allow: ['*:443'] } }), msg);
    assert.equal(
      refusal({ network: { allow: ['api.github.com:0'] } }),
      'network.allow.0: port must be 1-65535',
    );
    assert.equal(
      refusal({ network: { allow: ['api.github.com:70000'] } }),
      'network.allow.0: port must be 1-65535',
    );
  });

  it('refuses unknown keys, out-of-range limits and bad variable names', () => {
    assert.match(refusal({ network: { allow: [], deny: [] } }), /Unrecognized key/);
    assert.match(refusal({ limits: { memoryMb: 1 } }), /^limits\.memoryMb: /);
    assert.match(refusal({ env: ['NOT-A-NAME'] }), /^env\.0: must be an environment variable name/);
    assert.match(refusal({ runAs: 0 }), /^runAs: /);
  });

  it('matches the allowlist by exact name and port; *. means subdomains only', () => {
    const allow = ['api.github.com:443', '*.example.com:443', '[::1]:8080', '10.0.0.1:80'];
    assert.equal(hostAllowed(allow, 'API.GitHub.com', 443), true);
    assert.equal(hostAllowed(allow, 'api.github.com.', 443), true);
    assert.equal(hostAllowed(allow, 'api.github.com', 80), false);
    assert.equal(hostAllowed(allow, 'evilapi.github.com', 443), false);
    assert.equal(hostAllowed(allow, 'a.example.com', 443), true);
    assert.equal(hostAllowed(allow, 'example.com', 443), false);
    assert.equal(hostAllowed(allow, 'example.com.evil.net', 443), false);
    assert.equal(hostAllowed(allow, 'aexample.com', 443), false);
    assert.equal(hostAllowed(allow, '::1', 8080), true);
    assert.equal(hostAllowed(allow, '10.0.0.1', 80), true);
    assert.equal(hostAllowed([], 'api.github.com', 443), false);
  });
});

describe('upstream sandbox setting in warden.yaml', () => {
  const stdio = { name: 'files', transport: 'stdio', command: ['node', 'x.js'] };

  it('is the default profile when absent, and `none` only when said', () => {
    const c = ConfigSchema.parse({ upstreams: [stdio, { ...stdio, name: 'bare', sandbox: 'none' }] });
    const [a, b] = c.upstreams;
    assert.ok(a?.transport === 'stdio' && typeof a.sandbox === 'object');
    assert.ok(b?.transport === 'stdio' && b.sandbox === 'none');
    assert.equal(ConfigSchema.safeParse({ upstreams: [{ ...stdio, sandbox: 'off' }] }).success, false);
  });

  it('reserves the name `warden` for the tools Warden offers itself', () => {
    const r = ConfigSchema.safeParse({ upstreams: [{ ...stdio, name: 'warden' }] });
    assert.equal(r.success, false);
    assert.match(
      r.error?.issues[0]?.message ?? '',
      /`warden` is reserved for the tools Warden offers itself/,
    );
  });
});
