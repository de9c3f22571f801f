// Starting a process in a kernel sandbox. The command line is built here, never by a shell from
// configuration text:
//
//   prlimit <limits> -- [setpriv --reuid U --regid U --clear-groups --] bwrap <namespaces, mounts,
//   seccomp> -- [sh -c <fixed bridge script> sh] <the server's argv>
//
// - prlimit sets the resource limits, inherited by everything the server starts.
// - setpriv (only when Warden runs as root) drops to an unprivileged uid before bubblewrap runs,
//   so the sandbox's user namespace maps to that uid and not to root: file permissions on the
//   host then apply to the server as to any other unprivileged user.
// - bubblewrap gives the process new user, mount, PID, network, IPC, UTS and cgroup namespaces, a
//   read-only view of the root filesystem with homes and Warden's own directory hidden, a private
//   /tmp, no capabilities, no further user namespaces, a new session (no TIOCSTI into Warden's
//   terminal), the seccomp filter, and death when Warden dies.
// - With a network allowlist, a fixed shell script starts socat to bridge 127.0.0.1:3128 inside
//   to the egress proxy's Unix socket, waits for it to listen, then execs the server (its argv
//   passed as positional parameters: nothing from configuration is ever parsed by the shell).

import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WardenError, q } from '../errors.js';
import type { SandboxProfile } from './profile.js';
import { sandboxSupport, type SandboxSupport } from './probe.js';
import { EgressProxy, type ConnectDecider } from './proxy.js';
import { seccompProgram } from './seccomp.js';

export class SandboxError extends WardenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('sandbox_unavailable', message, options);
  }
}

/** The port the in-sandbox bridge listens on (HTTP_PROXY points here). */
export const PROXY_PORT = 3128;
const PROXY_SOCKET = '/run/warden/proxy.sock';

/** Always hidden, whatever the profile says (on top of Warden's own directories). */
const DEFAULT_HIDDEN_DIRS = ['/home', '/root', '/run', '/var/tmp', '/var/mail', '/var/spool/mail'];
const DEFAULT_HIDDEN_FILES = ['/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-'];

export interface SandboxSpec {
  /** The server's or script's name, for messages. */
  name: string;
  argv: readonly string[];
  /** The process's whole environment (the upstream's `env` plus the profile's pass-through names). */
  env: Record<string, string>;
  cwd?: string;
  profile: SandboxProfile;
  /** Directories and files never visible inside: Warden's data directory, its configuration, keys. */
  hide: readonly string[];
  /** Decides each outbound connection; required when the profile allows any destination. */
  decideConnect?: ConnectDecider;
}

export interface SandboxedProcess {
  child: ChildProcess;
  /** Remove the private /tmp, stop the proxy. Call after the process has exited. */
  cleanup(): Promise<void>;
}

let uidCounter = 0;

/** A fresh unprivileged uid per sandbox when running as root, so sandboxes never share a user. */
function freshUid(): number {
  uidCounter = (uidCounter + 1) % 100_000;
  return 1_900_000_000 + (process.pid % 1000) * 100_000 + uidCounter;
}

/** Fail closed: the pieces every sandbox needs, or a message saying what is missing and how to get it. */
export function requireSupport(name: string, needsNetwork: boolean): SandboxSupport {
  const s = sandboxSupport();
  const missing = s.items.filter(
    (i) => !i.ok && (i.required || (needsNetwork && i.name.startsWith('socat'))),
  );
  if (missing.length > 0) {
    const lines = missing.map((i) => `${i.name}: ${i.detail}${i.fix ? ` (${i.fix})` : ''}`);
    throw new SandboxError(
      `${name} needs a sandbox this machine cannot provide: ${lines.join('; ')}. ` +
        'Run `warden sandbox check` for details, or set `sandbox: none` on the server to run it unsandboxed (recorded in the audit log).',
    );
  }
  return s;
}

/** The absolute path of the program, looked up on the process's own PATH when it has no slash. */
export function resolveProgram(argv0: string, env: Record<string, string>): string {
  if (argv0.includes('/')) return resolve(argv0);
  const path = env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
  for (const dir of path.split(':')) {
    if (!isAbsolute(dir)) continue;
    const p = join(dir, argv0);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  throw new SandboxError(`program ${q(argv0)} not found on PATH ${q(path)}`);
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * The closest thing that keeps `uid` out of `path`: a directory above it without the execute bit
 * for others, or the path itself unreadable by others (a directory also needs execute). Warden
 * clears the sandbox's groups, so only "others" and ownership count.
 */
function reachableBy(uid: number, path: string): string | undefined {
  const closed = (p: string, need: number): boolean => {
    const st = statSync(p);
    return st.uid !== uid && (st.mode & need) !== need;
  };
  try {
    const st = statSync(path);
    if (closed(path, st.isDirectory() ? 0o005 : 0o004)) return path;
  } catch {
    return undefined;
  }
  const blocked: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    try {
      if (closed(dir, 0o001)) blocked.push(dir);
    } catch {
      return undefined;
    }
    if (dir === '/') break;
  }
  return blocked.at(-1);
}

/** Visible inside without being listed: not under a hidden directory, nor the private /tmp. */
function shownByDefault(p: string): boolean {
  return !DEFAULT_HIDDEN_DIRS.some((h) => within(p, h)) && !within(p, '/tmp');
}

let ownPaths: string[] | undefined;

/**
 * What a sandboxed process may need of Warden itself: the compiled code (the fetch preload, the
 * code-mode worker), its dependencies, and the package.json that makes them ES modules. Nothing
 * else of the installation (a data directory inside a checkout stays hidden in any case).
 */
function wardenPaths(): string[] {
  if (ownPaths) return ownPaths;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'warden') {
        ownPaths = ['package.json', 'dist', 'node_modules']
          .map((n) => join(dir, n))
          .filter((p) => existsSync(p));
        return ownPaths;
      }
    } catch {
      // not the package root; look one level up
    }
    dir = dirname(dir);
  }
  ownPaths = [];
  return ownPaths;
}

/** The compiled fetch preload for Node servers (from dist/ also when running from source). */
function preloadPath(): string {
  const url = import.meta.url.endsWith('.ts')
    ? new URL('../../dist/src/sandbox/fetch-proxy-preload.js', import.meta.url)
    : new URL('./fetch-proxy-preload.js', import.meta.url);
  return fileURLToPath(url);
}

/**
 * Start `spec.argv` in the sandbox. Throws a SandboxError (before anything runs) when the machine
 * lacks what the profile needs or the profile cannot work (a program under a hidden directory).
 */
export async function spawnSandboxed(
  spec: SandboxSpec,
  stdio: 'pipe' | 'inherit' = 'pipe',
): Promise<SandboxedProcess> {
  const network = spec.profile.network.allow.length > 0;
  if (network && !spec.decideConnect) throw new SandboxError(`server ${q(spec.name)}: no connection decider`);
  const support = requireSupport(`server ${q(spec.name)}`, network);
  const uid = sandboxUid(spec.profile, support);
  if (!network) return launch(spec, stdio, support, uid);
  const proxy = await EgressProxy.start({
    decide: spec.decideConnect as ConnectDecider,
    ...(support.root ? { owner: uid } : {}),
  });
  try {
    return launch(spec, stdio, support, uid, proxy);
  } catch (err) {
    await proxy.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The same, synchronously, for profiles without network (code mode's workers): the private /tmp
 * is removed when the process closes.
 */
export function spawnSandboxedSync(spec: SandboxSpec, stdio: 'pipe' | 'inherit' = 'pipe'): ChildProcess {
  if (spec.profile.network.allow.length > 0)
    throw new SandboxError(`${q(spec.name)}: a profile with network needs spawnSandboxed`);
  const support = requireSupport(`server ${q(spec.name)}`, false);
  const sp = launch(spec, stdio, support, sandboxUid(spec.profile, support));
  sp.child.once('close', () => void sp.cleanup());
  return sp.child;
}

function sandboxUid(profile: SandboxProfile, support: SandboxSupport): number {
  return support.root ? (profile.runAs ?? freshUid()) : (process.getuid?.() ?? 65534);
}

/** Build the command line and start it; `proxy` is the egress proxy of a profile with network. */
function launch(
  spec: SandboxSpec,
  stdio: 'pipe' | 'inherit',
  support: SandboxSupport,
  uid: number,
  proxy?: EgressProxy,
): SandboxedProcess {
  const { profile } = spec;
  const bin = support.bin as Required<SandboxSupport['bin']>;
  const root = support.root;
  const program = resolveProgram(spec.argv[0] as string, spec.env);
  const hide = spec.hide.map((p) => resolve(p));
  const readPaths = [...profile.filesystem.read];
  const writePaths = [...profile.filesystem.write];
  const cwd = spec.cwd ? resolve(spec.cwd) : undefined;
  const listed = (p: string): boolean => [...readPaths, ...writePaths].some((r) => within(p, r));
  if (cwd && !listed(cwd)) readPaths.push(cwd);
  // Warden's own code, wherever it is installed (a checkout under /tmp or a home directory too).
  for (const p of wardenPaths()) if (!shownByDefault(p) && !listed(p)) readPaths.push(p);
  for (const p of [...readPaths, ...writePaths, program]) {
    const inside = hide.find((h) => within(p, h) || within(h, p));
    if (inside && within(p, inside))
      throw new SandboxError(`server ${q(spec.name)}: ${q(p)} is inside Warden's own directory ${q(inside)}`);
  }
  for (const p of [...readPaths, ...writePaths]) {
    if (!existsSync(p)) throw new SandboxError(`server ${q(spec.name)}: sandbox path ${q(p)} does not exist`);
  }
  // A program, or an argument naming an existing file, that the sandbox would not show fails here
  // with a clear message rather than as a server that dies at start.
  for (const p of [program, ...spec.argv.slice(1).filter((a) => isAbsolute(a) && existsSync(a))]) {
    if (!listed(p) && !shownByDefault(p))
      throw new SandboxError(
        `server ${q(spec.name)}: ${q(p)} is in a directory the sandbox hides (${DEFAULT_HIDDEN_DIRS.join(', ')}, /tmp); add it to sandbox.filesystem.read`,
      );
  }
  if (root) {
    for (const p of [program, ...readPaths, ...writePaths]) {
      const blocked = reachableBy(uid, p);
      if (blocked)
        throw new SandboxError(
          `server ${q(spec.name)}: the sandbox user (uid ${uid}) cannot reach ${q(p)}: ${q(blocked)} is closed to other users (open it to others, or set sandbox.runAs to a uid that can read it)`,
        );
    }
  }

  // The private /tmp, writable by the sandbox's user only.
  const tmp = mkdtempSync(join(tmpdir(), 'warden-sbx-'));
  chmodSync(tmp, 0o700);
  if (root) chownSync(tmp, uid, uid);
  const cleanup = async (): Promise<void> => {
    await proxy?.close().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const limits = profile.limits;
    const argv: string[] = [
      bin.prlimit,
      `--data=${limits.memoryMb * 1024 * 1024}`,
      `--nproc=${limits.processes}`,
      `--nofile=${limits.openFiles}`,
      `--fsize=${limits.fileSizeMb * 1024 * 1024}`,
      '--core=0',
      ...(limits.cpuSeconds > 0 ? [`--cpu=${limits.cpuSeconds}`] : []),
      '--',
    ];
    if (root) argv.push(bin.setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--');
    argv.push(
      bin.bwrap,
      '--unshare-all',
      '--unshare-user',
      '--disable-userns',
      '--die-with-parent',
      '--new-session',
      '--cap-drop',
      'ALL',
      '--hostname',
      'sandbox',
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--tmpfs',
      '/dev/shm',
      '--bind',
      tmp,
      '/tmp',
    );
    for (const d of DEFAULT_HIDDEN_DIRS) if (existsSync(d)) argv.push('--tmpfs', d);
    for (const f of DEFAULT_HIDDEN_FILES) if (existsSync(f)) argv.push('--ro-bind', '/dev/null', f);
    for (const p of readPaths) argv.push('--ro-bind', p, p);
    for (const p of writePaths) argv.push('--bind', p, p);
    // Warden's own directories and the profile's deny list win over everything above.
    const hidden = [...hide, ...profile.filesystem.deny];
    for (const p of hidden) {
      // Inside a directory hidden already: nothing to do (and nothing to mount on, read-only).
      // Under /tmp and not under a listed path: the sandbox's /tmp is private, so it is not there.
      if (!existsSync(p) || (within(p, '/tmp') && !listed(p)) || hidden.some((h) => h !== p && within(p, h)))
        continue;
      if (statSync(p).isDirectory()) argv.push('--tmpfs', p, '--remount-ro', p);
      else argv.push('--ro-bind', '/dev/null', p);
    }
    if (proxy) argv.push('--dir', dirname(PROXY_SOCKET), '--bind', proxy.socketPath, PROXY_SOCKET);
    for (const d of DEFAULT_HIDDEN_DIRS) if (existsSync(d)) argv.push('--remount-ro', d);
    argv.push('--chdir', cwd ?? '/tmp', '--seccomp', '3', '--');

    const env: Record<string, string> = { ...spec.env };
    if (proxy) {
      const url = `http://127.0.0.1:${PROXY_PORT}`;
      for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'])
        env[k] = url;
      env['NO_PROXY'] = '';
      env['no_proxy'] = '';
      // Node's built-in fetch ignores HTTP_PROXY: preload undici's EnvHttpProxyAgent.
      const preload = preloadPath();
      if (existsSync(preload))
        env['NODE_OPTIONS'] = `${env['NODE_OPTIONS'] ?? ''} --import=${pathToFileURL(preload).href}`.trim();
      argv.push(bin.sh, '-c', BRIDGE_SCRIPT, 'warden-sandbox', bin.socat, program, ...spec.argv.slice(1));
    } else {
      argv.push(program, ...spec.argv.slice(1));
    }

    const [command, ...args] = argv;
    // INVARIANT: no shell reads configuration; env is exactly the process's environment.
    const child = spawn(command as string, args, {
      env,
      shell: false,
      stdio: [stdio, stdio, stdio, 'pipe'],
      windowsHide: true,
    });
    const seccomp = child.stdio[3] as NodeJS.WritableStream | null;
    seccomp?.on('error', () => undefined);
    seccomp?.end(seccompProgram());
    return { child, cleanup };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

// $1: socat; $2...: the server's argv. Waits (up to 2 s) for the bridge to listen, then execs the
// server. The listening socket shows in /proc/net/tcp as 0100007F:0C38 (127.0.0.1:3128).
const BRIDGE_SCRIPT = [
  'socat="$1"; shift',
  `"$socat" TCP-LISTEN:${PROXY_PORT},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${PROXY_SOCKET} </dev/null >/dev/null 2>&1 &`,
  'i=0',
  `while ! grep -q ' 0100007F:${PROXY_PORT.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A' /proc/net/tcp 2>/dev/null; do`,
  '  i=$((i+1)); [ "$i" -gt 400 ] && { echo "warden: the network bridge did not start" >&2; exit 70; }',
  '  sleep 0.005',
  'done',
  'exec "$@"',
].join('\n');
