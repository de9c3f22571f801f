// The main job as a user runs it: `warden serve` as its own process, the registry driven by the
// CLI in other processes, and an agent runtime that uses only the credential file `agent create`
// wrote. Revocation made by a CLI process must reach the running server within one second.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { importJWK, type JWK } from 'jose';
import { WARDEN_BIN } from '../helpers/cli.js';
import { TestAgent, form, rawRequest } from '../helpers/identity.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'warden-e2e-'));
const dataDir = join(dir, 'data');
let server: ChildProcess | undefined;

after(() => {
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function warden(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [WARDEN_BIN, ...args, '--data-dir', dataDir], { cwd: dir });
  return stdout;
}

test('serve, register with the CLI, authenticate from the credential file, revoke from another process', async () => {
  const port = await freePort();
  await warden('init');
  const cfgFile = join(dataDir, 'warden.yaml');
  writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace('port: 8787', `port: ${port}`));
  await warden('sponsor', 'add', 'carol@example.com', '--name', 'Carol');
  await warden('blueprint', 'create', 'triage', '--sponsor', 'carol@example.com', '--scope', 'mcp:read');
  const credFile = join(dir, 'bot.credentials.json');
  await warden('agent', 'create', 'triage/bot', '--sponsor', 'carol@example.com', '--out', credFile);

  server = spawn(process.execPath, [WARDEN_BIN, 'serve', '--data-dir', dataDir], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const issuer = await new Promise<string>((resolve, reject) => {
    let out = '';
    server!.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /warden listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    server!.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  assert.equal(issuer, `http://127.0.0.1:${port}`);

  // The agent runtime: nothing but the credential file.
  const cred = JSON.parse(readFileSync(credFile, 'utf8')) as {
    agent_id: string;
    token_endpoint: string;
    private_jwk: JWK;
  };
  assert.equal(cred.token_endpoint, `${issuer}/oauth/token`);
  const publicJwk: JWK = {
    kty: cred.private_jwk.kty,
    crv: cred.private_jwk.crv,
    x: cred.private_jwk.x,
    y: cred.private_jwk.y,
  };
  const agent = new TestAgent(
    cred.agent_id,
    (await importJWK(cred.private_jwk, 'ES256')) as never,
    publicJwk,
  );
  const tokenRes = await rawRequest(
    cred.token_endpoint,
    'POST',
    [['DPoP', await agent.proof('POST', cred.token_endpoint)]],
    form({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await agent.assertion(cred.token_endpoint),
    }),
  );
  assert.equal(tokenRes.status, 200, JSON.stringify(tokenRes.body));
  const token = tokenRes.body['access_token'] as string;
  const whoamiUrl = `${issuer}/v1/whoami`;
  const call = async () =>
    rawRequest(whoamiUrl, 'GET', [
      ['Authorization', `DPoP ${token}`],
      ['DPoP', await agent.proof('GET', whoamiUrl, { accessToken: token })],
    ]);
  const ok = await call();
  assert.equal(ok.status, 200);
  assert.equal(ok.body['agent'], 'spiffe://warden.local/agent/triage/bot');
  assert.equal(ok.body['sponsor'], 'carol@example.com');

  // The CLI's own agent side: `warden whoami` and `warden token` from the credential file.
  const me = JSON.parse(
    (await run(process.execPath, [WARDEN_BIN, 'whoami', '--credentials', credFile])).stdout,
  ) as Record<string, unknown>;
  assert.equal(me['agent'], cred.agent_id);
  assert.deepEqual(me['scopes'], ['mcp:read']);
  const widened = await run(process.execPath, [
    WARDEN_BIN,
    'token',
    '--credentials',
    credFile,
    '--scope',
    'mcp:write',
  ]).then(
    () => 'accepted',
    (err: { stderr: string; code: number }) => `${err.code} ${err.stderr}`,
  );
  assert.equal(
    widened,
    `1 warden: invalid_scope: scope \`mcp:write\` is not available to agent \`${cred.agent_id}\`: not in its base scope or an active grant\n`,
  );

  // Suspend from another process; the running server must refuse within one second.
  await warden('agent', 'suspend', 'triage/bot');
  const suspendedAt = Date.now();
  let r = await call();
  while (r.status === 200 && Date.now() - suspendedAt < 3000) {
    await new Promise((res) => setTimeout(res, 10));
    r = await call();
  }
  const lag = Date.now() - suspendedAt;
  assert.equal(r.status, 401);
  assert.equal(r.body['warden_reason'], 'agent_inactive');
  assert.ok(lag < 1000, `revocation reached the server after ${lag} ms`);

  // The audit trail names the agent, its sponsor and the suspension.
  const db = new Database(join(dataDir, 'warden.db'), { readonly: true });
  const rows = db.prepare('select type, actor, sponsor from audit_events order by seq').all() as Array<
    Record<string, string>
  >;
  db.close();
  assert.ok(
    rows.some(
      (e) =>
        e['type'] === 'token.issued' && e['actor'] === cred.agent_id && e['sponsor'] === 'carol@example.com',
    ),
  );
  assert.ok(rows.some((e) => e['type'] === 'agent.suspended'));
  assert.ok(
    rows.some((e) => e['type'] === 'token.refused' && e['actor'] === cred.agent_id),
    'the widened scope',
  );
  assert.ok(
    rows.some((e) => e['type'] === 'request.refused'),
    'the refused protected request is recorded',
  );

  server.kill('SIGTERM');
  const code = await new Promise<number | null>((res) => server!.once('exit', res));
  assert.equal(code, 0);
});
