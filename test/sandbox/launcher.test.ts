// The launcher refuses, before anything runs, a sandbox that could not work: a program or script
// the sandbox would hide, a path inside Warden's own directory, a path that does not exist, a
// network profile without a decider. Warden's own compiled code stays visible wherever it is
// installed.

import * as assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnSandboxed, type SandboxSpec } from '../../src/sandbox/launcher.js';
import { SandboxProfileSchema } from '../../src/sandbox/profile.js';

const root = mkdtempSync(join(tmpdir(), 'warden-launcher-'));
after(() => rmSync(root, { recursive: true, force: true }));

function spec(argv: string[], profile: unknown = {}, more: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    name: 't',
    argv,
    env: { PATH: '/usr/bin:/bin' },
    profile: SandboxProfileSchema.parse(profile),
    hide: [],
    ...more,
  };
}

async function output(s: SandboxSpec): Promise<{ code: number | null; out: string }> {
  const sp = await spawnSandboxed(s);
  let out = '';
  sp.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  sp.child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => sp.child.once('close', r));
  await sp.cleanup();
  return { code, out };
}

describe('sandbox launcher', () => {
  const script = join(root, 'server.js');
  writeFileSync(script, 'console.log("ran")');

  it('refuses a script the sandbox would hide, naming the fix', async () => {
    await assert.rejects(
      spawnSandboxed(spec([process.execPath, script])),
      (e: Error) =>
        e.message.includes(`\`${script}\` is in a directory the sandbox hides`) &&
        e.message.includes('add it to sandbox.filesystem.read'),
    );
  });

  it('runs it once its directory is listed and open to the sandbox user', async () => {
    const listed = spec([process.execPath, script], { filesystem: { read: [root] } });
    // mkdtemp made the directory 0700: the sandbox's unprivileged uid could not enter it.
    if (process.getuid?.() === 0)
      await assert.rejects(spawnSandboxed(listed), /cannot reach .* is closed to other users/);
    chmodSync(root, 0o755);
    assert.deepEqual(await output(listed), { code: 0, out: 'ran\n' });
  });

  it("refuses a path inside Warden's own directory, and one that does not exist", async () => {
    const data = join(root, 'data');
    mkdirSync(data);
    await assert.rejects(
      spawnSandboxed(spec(['/bin/true'], { filesystem: { read: [data] } }, { hide: [data] })),
      /is inside Warden's own directory/,
    );
    await assert.rejects(
      spawnSandboxed(spec(['/bin/true'], { filesystem: { read: [join(root, 'nope')] } })),
      /sandbox path `.*nope` does not exist/,
    );
    await assert.rejects(spawnSandboxed(spec(['no-such-program'])), /program `no-such-program` not found/);
  });

  it('refuses a network profile without a connection decider', async () => {
    await assert.rejects(
      spawnSandboxed(spec(['/bin/true'], { network: { allow: ['example.com:443'] } })),
      /no connection decider/,
    );
  });

  it("shows Warden's compiled code and dependencies, wherever Warden is installed", async () => {
    const worker = fileURLToPath(new URL('../../dist/src/sandbox/code-worker.js', import.meta.url));
    const r = await output(
      spec([
        process.execPath,
        '-e',
        `const fs = require('fs'); console.log(fs.existsSync(${JSON.stringify(worker)}), typeof require.resolve);`,
      ]),
    );
    assert.deepEqual(r, { code: 0, out: 'true function\n' });
  });
});
