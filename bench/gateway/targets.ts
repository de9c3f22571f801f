// The three servers the gateway benchmark measures, each started as its own process on loopback,
// each ending in the same echo server (dist/bench/gateway/echo-server.js):
//
//   direct     the echo server in Streamable HTTP mode
//   mcp-proxy  `mcp-proxy --server stream -- node echo-server.js` (stdio upstream)
//   Warden     `warden serve` on a fresh data directory set up with the CLI (stock policy pack,
//              sponsor, blueprint, agent), the echo server as a stdio upstream, tools pinned with
//              `warden tools approve` (auto-pinning off, as in production)
//
// Also: the CPU time of a server and of the processes it spawned, from /proc, to show how much
// server CPU a call costs on each path.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WARDEN_MAIN = join(ROOT, 'dist/src/cli/main.js');
export const ECHO_SERVER = join(ROOT, 'dist/bench/gateway/echo-server.js');

const SPONSOR = 'bench@example.com';
const START_TIMEOUT_MS = 30_000;
/** Linux reports process CPU time in clock ticks of 10 ms (CLK_TCK = 100). */
const US_PER_TICK = 10_000;

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  /** CPU time (user + system, µs) of the server process and of its descendants. */
  cpu(): { front: number; upstream: number };
  /** The last lines the process wrote, for error reports. */
  logTail(): string;
  close(): Promise<void>;
}

export interface WardenProcess extends ServerProcess {
  dataDir: string;
  credentialFile: string;
  /** Pin the echo tool's definition the way an operator does: `warden tools approve echo/echo`. */
  approve(): Promise<void>;
  /** Where `--cpu-prof` writes the profile, when asked for. */
  cpuProfDir: string | undefined;
}

function ticksOf(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: split after the last `)`.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = ticksOf(Number(name));
    if (s) parent.set(Number(name), s.ppid);
  }
  const out: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const p = frontier.pop() as number;
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        frontier.push(child);
      }
    }
  }
  return out;
}

function cpuOf(pid: number): { front: number; upstream: number } {
  const front = (ticksOf(pid)?.ticks ?? 0) * US_PER_TICK;
  const upstream = descendants(pid).reduce((s, p) => s + (ticksOf(p)?.ticks ?? 0), 0) * US_PER_TICK;
  return { front, upstream };
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, tail: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}: ${tail()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline)
      throw new Error(`nothing listens on port ${port} after ${START_TIMEOUT_MS} ms: ${tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Keep the last lines a process writes to stdout and stderr; resolve when a line matches `ready`. */
function capture(
  child: ChildProcess,
  ready?: RegExp,
): { tail: () => string; matched: Promise<RegExpMatchArray> } {
  const lines: string[] = [];
  let resolveMatch: (m: RegExpMatchArray) => void = () => undefined;
  let rejectMatch: (e: Error) => void = () => undefined;
  const matched = new Promise<RegExpMatchArray>((res, rej) => {
    resolveMatch = res;
    rejectMatch = rej;
  });
  matched.catch(() => undefined);
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      const m = ready ? line.match(ready) : null;
      if (m) resolveMatch(m);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', (code) => rejectMatch(new Error(`exited with code ${code}: ${lines.join(' | ')}`)));
  return { tail: () => lines.join(' | '), matched };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}

/** Stop a server and whatever it spawned that is still there afterwards. */
async function stopTree(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  const spawned = pid === undefined ? [] : descendants(pid);
  await stop(child);
  for (const p of spawned) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // Already gone: the server closed it.
    }
  }
}

export async function startDirect(): Promise<ServerProcess> {
  const child = spawn(process.execPath, [ECHO_SERVER, '--http', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { tail, matched } = capture(child, /^listening (\d+)$/);
  const m = await matched;
  const pid = child.pid as number;
  return {
    name: 'direct',
    url: `http://127.0.0.1:${m[1]}/mcp`,
    pid,
    cpu: () => cpuOf(pid),
    logTail: tail,
    close: () => stopTree(child),
  };
}

function mcpProxyBin(): string {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve('mcp-proxy/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { bin: Record<string, string>; version: string };
  const bin = pkg.bin['mcp-proxy'];
  if (!bin) throw new Error('mcp-proxy has no `mcp-proxy` bin');
  return join(dirname(pkgFile), bin);
}

export function mcpProxyVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('mcp-proxy/package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function startMcpProxy(): Promise<ServerProcess> {
  const port = await freePort();
  // Run its bin with node directly, not through npx, so that no wrapper process sits in between.
  // Every option but the listen address and the transport is mcp-proxy's default.
  const child = spawn(
    process.execPath,
    [
      mcpProxyBin(),
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--server',
      'stream',
      '--',
      process.execPath,
      ECHO_SERVER,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { tail } = capture(child);
  await waitForPort(port, child, tail);
  const pid = child.pid as number;
  return {
    name: 'mcp-proxy',
    url: `http://127.0.0.1:${port}/mcp`,
    pid,
    cpu: () => cpuOf(pid),
    logTail: tail,
    close: () => stopTree(child),
  };
}

function cli(dataDir: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [WARDEN_MAIN, ...args, '--data-dir', dataDir],
      { encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`warden ${args.join(' ')}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

function wardenConfig(port: number): string {
  return `# Written by bench/gateway: the echo server as the only upstream; every other key is the default.
server:
  host: 127.0.0.1
  port: ${port}
gateway:
  autoPin: false
upstreams:
  - name: echo
    transport: stdio
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(ECHO_SERVER)}]
    sandbox: none
    tools:
      # Labels come from the tool's annotations (read-only, open world: untrusted). The text is a
      # sensitive argument, so every call also runs argument provenance, as a mail or HTTP tool would.
      echo: { sensitiveArgs: [text] }
`;
}

export async function startWarden(opts: { cpuProf: boolean; parentDir?: string }): Promise<WardenProcess> {
  const dataDir = mkdtempSync(join(opts.parentDir ?? tmpdir(), 'warden-bench-gw-'));
  const port = await freePort();
  try {
    return await setUpWarden(dataDir, port, opts.cpuProf);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

async function setUpWarden(dataDir: string, port: number, cpuProf: boolean): Promise<WardenProcess> {
  // The configuration first: `warden init` leaves an existing warden.yaml alone and adds the signing
  // key, the database and the stock policy pack.
  writeFileSync(join(dataDir, 'warden.yaml'), wardenConfig(port), { mode: 0o600 });
  await cli(dataDir, ['init']);
  await cli(dataDir, ['sponsor', 'add', SPONSOR, '--name', 'Bench']);
  await cli(dataDir, [
    'blueprint',
    'create',
    'bench',
    '--sponsor',
    SPONSOR,
    '--scope',
    'mcp',
    '--envelope-server',
    '*',
    '--envelope-tool',
    '*',
  ]);
  const credentialFile = join(dataDir, 'load.credentials.json');
  await cli(dataDir, ['agent', 'create', 'bench/load', '--sponsor', SPONSOR, '--out', credentialFile]);

  const cpuProfDir = cpuProf ? join(dataDir, 'cpu-prof') : undefined;
  const nodeArgs = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];
  const child = spawn(process.execPath, [...nodeArgs, WARDEN_MAIN, 'serve', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { tail, matched } = capture(child, /^warden listening on (\S+)$/);
  const m = await matched;
  const pid = child.pid as number;
  return {
    name: 'Warden',
    url: `${m[1]}/mcp`,
    pid,
    dataDir,
    credentialFile,
    cpuProfDir,
    cpu: () => cpuOf(pid),
    logTail: tail,
    async approve() {
      await cli(dataDir, ['tools', 'approve', 'echo/echo', '--as', 'bench-operator']);
    },
    async close() {
      await stopTree(child);
      // A profile is the one thing worth keeping from the data directory.
      if (!cpuProfDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The file system a path lives on (from /proc/mounts), e.g. `ext4` or `tmpfs`. */
export function fileSystemOf(path: string): string {
  try {
    let best = { mount: '', type: 'unknown' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mount, type] = line.split(' ');
      if (!mount || !type) continue;
      const inside = path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
      if (inside && mount.length > best.mount.length) best = { mount, type };
    }
    return best.type;
  } catch {
    return 'unknown';
  }
}
