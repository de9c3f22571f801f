// `warden sandbox check`: what this machine supports for sandboxing, as a table.
// `warden sandbox run -- <argv>`: run a command (a skill's script, a tool server under test) in the
// same kernel sandbox the gateway gives stdio servers, with a wall-clock limit. Its outbound
// connections are Cedar `connect` decisions of the data directory's policies, and the run and
// every connection are audit entries.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { WardenError, q } from '../errors.js';
import { PolicyEngine } from '../policy/index.js';
import { spawnSandboxed } from '../sandbox/launcher.js';
import { connectDecider } from '../sandbox/connect.js';
import { SandboxProfileSchema, type SandboxProfile } from '../sandbox/profile.js';
import { sandboxSupport } from '../sandbox/probe.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

interface RunOpts extends DataDirOpts {
  name: string;
  profile?: string;
  read: string[];
  write: string[];
  allow: string[];
  env: string[];
  memory?: string;
  wall?: string;
  cwd?: string;
}

function profileOf(o: RunOpts): SandboxProfile {
  let base: unknown = {};
  if (o.profile) {
    if (!existsSync(o.profile)) throw new WardenError('not_found', `no profile file ${q(o.profile)}`);
    try {
      base = parseYaml(readFileSync(o.profile, 'utf8')) ?? {};
    } catch (err) {
      throw new WardenError(
        'config_invalid',
        `profile ${q(o.profile)} is not YAML: ${(err as Error).message}`,
      );
    }
  }
  const b = (typeof base === 'object' && base !== null ? base : {}) as Record<string, unknown>;
  const fs = (b['filesystem'] ?? {}) as Record<string, unknown>;
  const net = (b['network'] ?? {}) as Record<string, unknown>;
  const limits = (b['limits'] ?? {}) as Record<string, unknown>;
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const merged = {
    ...b,
    filesystem: {
      ...fs,
      read: [...list(fs['read']), ...o.read.map((p) => resolve(p))],
      write: [...list(fs['write']), ...o.write.map((p) => resolve(p))],
    },
    network: { ...net, allow: [...list(net['allow']), ...o.allow] },
    env: [...list(b['env']), ...o.env],
    limits: {
      ...limits,
      ...(o.memory !== undefined ? { memoryMb: Number(o.memory) } : {}),
      ...(o.wall !== undefined ? { wallSeconds: Number(o.wall) } : {}),
    },
  };
  const r = SandboxProfileSchema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new WardenError(
      'config_invalid',
      `sandbox profile: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
    );
  }
  return r.data;
}

export function registerSandbox(program: Command): void {
  const sandbox = program.command('sandbox').description('the kernel sandbox for tool servers and scripts');

  sandbox
    .command('check')
    .description(
      'probe what this machine supports: bubblewrap, namespaces, seccomp, Landlock, the proxy bridge',
    )
    .option('--json', 'print JSON')
    .action(
      action((opts: { json?: boolean }) => {
        const s = sandboxSupport();
        printTable(
          s.items.map((i) => ({
            CHECK: i.name,
            STATUS: i.ok ? 'ok' : i.required ? 'MISSING' : 'unavailable',
            NEEDED: i.required
              ? 'always'
              : i.name === 'Landlock'
                ? 'no (informational)'
                : 'for network.allow',
            DETAIL: i.detail + (!i.ok && i.fix ? ` (install: ${i.fix})` : ''),
          })),
          opts.json === true,
          { root: s.root, items: s.items },
        );
        const missing = s.items.filter((i) => i.required && !i.ok);
        if (missing.length > 0) {
          throw new WardenError(
            'sandbox_unavailable',
            `sandboxed servers cannot start on this machine: missing ${missing.map((i) => i.name).join(', ')}`,
          );
        }
      }),
    );

  withDataDir(
    sandbox
      .command('run')
      .description(
        'run a command in the sandbox (default profile), e.g. a skill script: warden sandbox run -- python3 x.py',
      )
      .argument('<argv...>', 'the program and its arguments (after --)')
      .option('--name <name>', 'the name its connections are decided and recorded under', 'script')
      .option('--profile <file>', 'a YAML sandbox profile (the `sandbox` section of an upstream)')
      .option('--read <path>', 'also visible read-only (repeatable)', collect, [])
      .option('--write <path>', 'also visible and writable (repeatable)', collect, [])
      .option('--allow <host:port>', 'outbound destination through the proxy (repeatable)', collect, [])
      .option('--env <NAME>', "pass this variable of Warden's environment (repeatable)", collect, [])
      .option('--memory <MiB>', 'memory limit per process')
      .option('--wall <seconds>', 'wall-clock limit')
      .option('--cwd <dir>', 'working directory (made visible read-only)'),
  ).action(
    action(async (argv: string[], opts: RunOpts) => {
      const profile = profileOf(opts);
      if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(opts.name))
        throw new WardenError('invalid_argument', '--name must be 1-32 characters of a-z, 0-9 and -');
      await withWarden(opts, async (w) => {
        const engine = PolicyEngine.load({ dir: join(w.dataDir, w.config.gateway.policyDir) });
        const decideConnect = connectDecider({
          server: opts.name,
          allow: profile.network.allow,
          decide: (req) => engine.decide(req),
          record: (e) => w.audit.record(e),
          agent: '',
        });
        const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin' };
        for (const k of profile.env) {
          const v = process.env[k];
          if (v !== undefined) env[k] = v;
        }
        const started = Date.now();
        const sp = await spawnSandboxed(
          {
            name: opts.name,
            argv,
            env,
            ...(opts.cwd ? { cwd: resolve(opts.cwd) } : {}),
            profile,
            hide: [w.dataDir],
            decideConnect,
          },
          'inherit',
        );
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          sp.child.kill('SIGKILL');
        }, profile.limits.wallSeconds * 1000);
        const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
          (resolveExit) => sp.child.once('close', (c, s) => resolveExit({ code: c, signal: s })),
        );
        clearTimeout(timer);
        await sp.cleanup();
        await w.audit.record({
          type: 'sandbox.started',
          outcome: code === 0 ? 'success' : 'refused',
          actor: 'operator',
          subject: opts.name,
          sponsor: null,
          authority: [],
          reason: timedOut ? 'wall-clock limit' : code === 0 ? null : `exit ${code ?? signal ?? '?'}`,
          details: { argv, exit_code: code, signal, timed_out: timedOut, ms: Date.now() - started },
        });
        if (timedOut) {
          throw new WardenError(
            'sandbox_limit',
            `${q(argv[0] ?? '')} ran out of time (${profile.limits.wallSeconds} s) and was killed`,
          );
        }
        process.exitCode = code ?? 128 + 9;
      });
    }),
  );
}
