// The `sandbox` section of a stdio upstream in `warden.yaml`: what the server may read, write and
// reach, which of Warden's own environment variables it gets, and its resource limits. An absent
// section means the default profile; `sandbox: none` runs the server bare, and only when said so.

import { isAbsolute, normalize } from 'node:path';
import { z } from 'zod';

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => isAbsolute(p), 'must be an absolute path')
  .refine((p) => !p.includes('\0'), 'must not contain NUL')
  .transform((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p))
  .refine((p) => normalize(p) === p, 'must be a normalised path (no `.`, `..` or `//`)')
  .refine((p) => p !== '/', 'must not be the root directory');

/**
 * An outbound destination: `host:port`, where host is a DNS name, `*.` and a DNS name (any
 * subdomain, not the name itself), an IPv4 address or a bracketed IPv6 address.
 */
export const HOST_PATTERN =
  /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*:\d{1,5}$|^\[[0-9a-f:.]+\]:\d{1,5}$/;

const hostPattern = z
  .string()
  .max(300)
  .transform((s) => s.toLowerCase())
  .refine((s) => HOST_PATTERN.test(s), 'must be host:port (a DNS name, *.name, an IPv4 or [IPv6] address)')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'port must be 1-65535');

export const SandboxLimitsSchema = z
  .object({
    /** Data segment and anonymous memory of each process (RLIMIT_DATA), in MiB. */
    memoryMb: z.number().int().min(16).max(1_048_576).default(2048),
    /** CPU seconds per process (RLIMIT_CPU); 0: no limit (a long-running server accrues CPU time). */
    cpuSeconds: z.number().int().min(0).max(31_536_000).default(0),
    /** Processes and threads of the sandbox's user (RLIMIT_NPROC); a Node server uses about 11. */
    processes: z.number().int().min(4).max(65_536).default(128),
    /** Open file descriptors per process (RLIMIT_NOFILE). */
    openFiles: z.number().int().min(16).max(1_048_576).default(1024),
    /** Largest file a process may write (RLIMIT_FSIZE), in MiB. */
    fileSizeMb: z.number().int().min(1).max(1_048_576).default(1024),
    /** Wall-clock limit for scripts (`warden sandbox run`), in seconds; servers run until closed. */
    wallSeconds: z.number().int().min(1).max(86_400).default(60),
  })
  .strict();
export type SandboxLimits = z.infer<typeof SandboxLimitsSchema>;

export const SandboxProfileSchema = z
  .object({
    filesystem: z
      .object({
        /** Made visible read-only although the default hides them (a project under /home, say). */
        read: z.array(absolutePath).max(256).default([]),
        /** Made visible and writable. Everything else is read-only or hidden. */
        write: z.array(absolutePath).max(256).default([]),
        /** Hidden on top of the default hidden paths. */
        deny: z.array(absolutePath).max(256).default([]),
      })
      .strict()
      .prefault({}),
    network: z
      .object({
        /**
         * Destinations the server may reach through Warden's proxy. Each connection is still a
         * Cedar decision (`connect` on a `Host`) and an audit entry. Empty: no network at all.
         */
        allow: z.array(hostPattern).max(256).default([]),
      })
      .strict()
      .prefault({}),
    /** Names of Warden's own environment variables passed through (the upstream's `env` adds values). */
    env: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'))
      .max(256)
      .default([]),
    limits: SandboxLimitsSchema.prefault({}),
    /**
     * When Warden runs as root: the uid (and gid) the server runs as. Default: a fresh unprivileged
     * uid per sandbox, which can write only its private temporary directory.
     */
    runAs: z.number().int().min(1).max(4_294_967_294).optional(),
  })
  .strict();
export type SandboxProfile = z.infer<typeof SandboxProfileSchema>;

/** The default profile: no network, nothing writable but a private /tmp, home and Warden hidden. */
export const DEFAULT_PROFILE: SandboxProfile = SandboxProfileSchema.parse({});

export const SandboxSettingSchema = z.union([z.literal('none'), SandboxProfileSchema]);
export type SandboxSetting = z.infer<typeof SandboxSettingSchema>;

/** Does `host:port` match one of the allowlist's patterns (`*.name` matches subdomains only)? */
export function hostAllowed(patterns: readonly string[], host: string, port: number): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    const i = p.lastIndexOf(':');
    if (Number(p.slice(i + 1)) !== port) return false;
    let name = p.slice(0, i);
    if (name.startsWith('[')) name = name.slice(1, -1);
    if (name.startsWith('*.')) return h.endsWith(name.slice(1)) && h.length > name.length - 1;
    return h === name;
  });
}
