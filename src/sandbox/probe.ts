// What this machine offers for sandboxing, found by trying it: the programs the launcher needs,
// whether bubblewrap can create its namespaces here, whether a seccomp filter loads, and what
// Landlock the kernel has. `warden sandbox check` prints it; the launcher refuses to start a
// sandboxed server when a piece it needs is missing, naming the piece and how to install it.

import { spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { seccompProgram, seccompSupported } from './seccomp.js';

export interface ProbeItem {
  name: string;
  ok: boolean;
  /** What was found (a version, a path) or what is wrong. */
  detail: string;
  /** How to get it, when missing. */
  fix?: string;
  /** Needed for every sandbox (true), or only for some profiles (false: network, informational). */
  required: boolean;
}

export interface SandboxSupport {
  items: ProbeItem[];
  /** Absolute paths of the programs, when found. */
  bin: { bwrap?: string; setpriv?: string; prlimit?: string; socat?: string; sh?: string };
  /** Running as root: sandboxes drop to an unprivileged uid with setpriv. */
  root: boolean;
}

// Warden's own PATH, or the standard directories when it has none: what an operator's PATH
// leaves out is missing (`warden sandbox check` says so), not found behind their back.
const SEARCH = (process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter);

/** The absolute path of an executable on PATH (or the standard directories). */
export function which(name: string): string | undefined {
  for (const dir of SEARCH) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function run(argv: string[]): { status: number | null; out: string } {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd as string, args, {
    env: {},
    encoding: 'utf8',
    timeout: 10_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

const APT = 'apt-get install bubblewrap socat (Debian/Ubuntu), dnf install bubblewrap socat (Fedora)';

let cached: SandboxSupport | undefined;

/** Probe once per process; `fresh` probes again. */
export function sandboxSupport(fresh = false): SandboxSupport {
  if (cached && !fresh) return cached;
  const items: ProbeItem[] = [];
  const root = process.getuid?.() === 0;
  const bin: SandboxSupport['bin'] = {};
  const found = (name: 'bwrap' | 'setpriv' | 'prlimit' | 'socat' | 'sh'): string | undefined => {
    const p = which(name);
    if (p) bin[name] = p;
    return p;
  };

  const bwrap = found('bwrap');
  const version = bwrap ? run([bwrap, '--version']).out : '';
  const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  const recent = major > 0 || minor >= 8;
  items.push({
    name: 'bubblewrap',
    ok: Boolean(bwrap) && recent,
    detail: bwrap
      ? `${version} at ${bwrap}${recent ? '' : ' (0.8.0 or later is needed for --disable-userns)'}`
      : 'not found',
    fix: APT,
    required: true,
  });
  const prlimit = found('prlimit');
  items.push({
    name: 'prlimit (resource limits)',
    ok: Boolean(prlimit),
    detail: prlimit ?? 'not found',
    fix: 'install util-linux',
    required: true,
  });
  const setpriv = found('setpriv');
  items.push({
    name: 'setpriv (drop root)',
    ok: !root || Boolean(setpriv),
    detail: root
      ? (setpriv ?? 'not found, and Warden runs as root')
      : 'not needed: Warden does not run as root',
    fix: 'install util-linux',
    required: root,
  });
  const sh = found('sh');

  // Namespaces: the real test is creating them, as the sandbox will.
  let userns = false;
  if (bwrap && recent && prlimit && (!root || setpriv)) {
    const argv = probeSandbox(root ? setpriv : undefined, bwrap, ['--disable-userns', '--', '/bin/true']);
    const r = run(argv);
    userns = r.status === 0;
    items.push({
      name: 'namespaces (user, mount, pid, net, ipc, uts)',
      ok: userns,
      detail: userns ? 'bubblewrap created them as an unprivileged user' : r.out.slice(0, 300) || 'failed',
      fix: 'enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; user.max_user_namespaces > 0; on Ubuntu 24.04+ an AppArmor profile for bwrap)',
      required: true,
    });
  } else {
    items.push({
      name: 'namespaces (user, mount, pid, net, ipc, uts)',
      ok: false,
      detail: 'not tested: bubblewrap or util-linux is missing',
      required: true,
    });
  }

  // Seccomp: load the filter and check that a denied call fails inside.
  if (!seccompSupported()) {
    items.push({
      name: 'seccomp filter',
      ok: false,
      detail: `no filter for ${process.arch}`,
      required: true,
    });
  } else if (userns && bwrap) {
    items.push({
      name: 'seccomp filter',
      ...seccompLoads(root ? setpriv : undefined, bwrap),
      required: true,
    });
  } else {
    items.push({
      name: 'seccomp filter',
      ok: false,
      detail: 'not tested: namespaces unavailable',
      required: true,
    });
  }

  const socat = found('socat');
  items.push({
    name: 'socat (network proxy bridge)',
    ok: Boolean(socat) && Boolean(sh),
    detail: socat
      ? `${socat}${sh ? '' : ' (but no /bin/sh)'}`
      : 'not found: servers with network.allow cannot start',
    fix: APT,
    required: false,
  });
  items.push({ ...landlock(), required: false });
  cached = { items, bin, root };
  return cached;
}

/** A minimal sandbox as the launcher makes them (as nobody when root), running `tail`. */
function probeSandbox(setpriv: string | undefined, bwrap: string, tail: string[]): string[] {
  return [
    ...(setpriv ? [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : []),
    ...[bwrap, '--unshare-all', '--unshare-user', '--die-with-parent', '--ro-bind', '/', '/'],
    ...['--proc', '/proc', '--dev', '/dev', ...tail],
  ];
}

/** Start a sandbox with the filter on fd 3 and check that `unshare` is refused inside. */
function seccompLoads(setpriv: string | undefined, bwrap: string): { ok: boolean; detail: string } {
  const program = seccompProgram();
  const [cmd, ...args] = probeSandbox(setpriv, bwrap, [
    '--seccomp',
    '3',
    '--',
    'unshare',
    '--user',
    '/bin/true',
  ]);
  // spawnSync feeds only stdin: bwrap reads the program from a temporary file's descriptor instead.
  const dir = mkdtempSync(join(tmpdir(), 'warden-seccomp-'));
  try {
    const file = join(dir, 'filter.bpf');
    writeFileSync(file, program);
    const fd = openSync(file, 'r');
    try {
      const r = spawnSync(cmd as string, args, {
        env: {},
        encoding: 'utf8',
        timeout: 10_000,
        stdio: ['ignore', 'pipe', 'pipe', fd],
      });
      const out = `${r.stdout}${r.stderr}`;
      if (r.status !== 0 && /Operation not permitted/i.test(out))
        return { ok: true, detail: `loaded (${program.length / 8} instructions); unshare refused inside` };
      if (r.status === 0) return { ok: false, detail: 'loaded, but a denied call (unshare) succeeded' };
      return { ok: false, detail: out.trim().slice(0, 300) || `exit ${String(r.status)}` };
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Landlock: in the kernel's LSM list, and its ABI version. Node cannot make the probing system
 * call itself; python3, where present, can. The sandbox does not depend on Landlock (mount
 * namespaces shape the filesystem view), so this is informational.
 */
function landlock(): Omit<ProbeItem, 'required'> {
  let enabled: boolean | undefined;
  try {
    enabled = readFileSync('/sys/kernel/security/lsm', 'utf8').split(',').includes('landlock');
  } catch {
    try {
      const config = gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
      if (/^CONFIG_SECURITY_LANDLOCK=y$/m.test(config)) enabled = /^CONFIG_LSM=".*landlock/m.test(config);
      else enabled = false;
    } catch {
      // neither source readable
    }
  }
  let abi: number | undefined;
  const python = which('python3');
  if (python && process.arch === 'x64') {
    // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) returns the ABI version.
    const r = spawnSync(
      python,
      ['-c', 'import ctypes;l=ctypes.CDLL(None,use_errno=True);print(l.syscall(444,None,0,1))'],
      { env: {}, encoding: 'utf8', timeout: 5000 },
    );
    const n = Number(r.stdout.trim());
    if (r.status === 0 && Number.isInteger(n) && n > 0) abi = n;
  }
  if (abi !== undefined)
    return { name: 'Landlock', ok: true, detail: `ABI ${abi} (informational: not used)` };
  if (enabled === true)
    return { name: 'Landlock', ok: true, detail: 'enabled, ABI unknown (informational: not used)' };
  if (enabled === false)
    return { name: 'Landlock', ok: false, detail: 'not enabled in this kernel (informational: not used)' };
  return { name: 'Landlock', ok: false, detail: 'unknown (informational: not used)' };
}
