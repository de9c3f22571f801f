// The gateway's part of `warden.yaml`: the gateway settings and the upstream MCP servers.
// Upstreams start only from a pinned argv (never a shell string), with an explicit environment.

import { z } from 'zod';
import { ToolFlowConfigSchema } from '../policy/flow-labels.js';
import { SandboxProfileSchema, SandboxSettingSchema } from '../sandbox/profile.js';
import { UpstreamVerifySchema } from '../skills/config.js';
import { CodeModeSettingsSchema } from './code-mode-tool.js';

/** A value taken from the gateway's environment or from the 0600 secrets file, never inline. */
export const SecretRefSchema = z.union([
  z
    .object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') })
    .strict(),
  z.object({ secret: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be a secret name') }).strict(),
]);
export type SecretRef = z.infer<typeof SecretRefSchema>;

/** Per tool: flow labels (default: from its MCP annotations) and sensitive arguments. */
export const ToolSettingsSchema = ToolFlowConfigSchema;

const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

const common = {
  name: z
    .string()
    .regex(NAME, 'must be 1-32 characters of a-z, 0-9 and -, starting with a letter or digit')
    .refine((n) => n !== 'warden', '`warden` is reserved for the tools Warden offers itself'),
  tools: z.record(z.string().min(1).max(128), ToolSettingsSchema).default({}),
  /** Per-call timeout for this upstream (ms). */
  callTimeoutMs: z.number().int().min(100).max(600_000).optional(),
};

export const StdioUpstreamSchema = z
  .object({
    ...common,
    transport: z.literal('stdio'),
    /** argv: the program and its arguments. No shell is ever involved. */
    command: z.array(z.string().min(1).max(4096)).min(1).max(256),
    /** The whole environment of the process: nothing is inherited unless listed here. */
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.union([z.string().max(32768), SecretRefSchema]))
      .default({}),
    cwd: z.string().min(1).optional(),
    /**
     * The kernel sandbox the server runs in (absent: the default profile). `none` runs it bare,
     * which is printed at start and recorded in the audit log.
     */
    sandbox: SandboxSettingSchema.default(() => SandboxProfileSchema.parse({})),
    /** The signed folder the server runs from: its signature and scan are checked before it starts. */
    verify: UpstreamVerifySchema.optional(),
  })
  .strict();

export const HttpUpstreamSchema = z
  .object({
    ...common,
    transport: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    /** Credentials the gateway injects; agents never see them. */
    auth: z
      .union([
        z.object({ type: z.literal('bearer'), token: SecretRefSchema }).strict(),
        z
          .object({
            type: z.literal('client_credentials'),
            tokenUrl: z.url({ protocol: /^https?$/ }),
            clientId: z.string().min(1),
            clientSecret: SecretRefSchema,
            scope: z.string().optional(),
          })
          .strict(),
      ])
      .optional(),
  })
  .strict();

export const UpstreamSchema = z.discriminatedUnion('transport', [StdioUpstreamSchema, HttpUpstreamSchema]);
export type UpstreamConfig = z.infer<typeof UpstreamSchema>;
export type StdioUpstreamConfig = z.infer<typeof StdioUpstreamSchema>;
export type HttpUpstreamConfig = z.infer<typeof HttpUpstreamSchema>;
export type ToolSettings = z.infer<typeof ToolSettingsSchema>;

export const GatewaySettingsSchema = z
  .object({
    /** JSON-RPC messages larger than this are refused before parsing. */
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    /** Default per-call timeout (ms). */
    callTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
    /** How long a call that needs approval waits before the agent is told it awaits approval (ms; 0: answer at once). */
    approvalWaitMs: z.number().int().min(0).max(600_000).default(0),
    /** How long a held call stays approvable (seconds). */
    approvalTtlSeconds: z.number().int().min(10).max(86_400).default(3600),
    /** Pin tool definitions on first sight (development only). */
    autoPin: z.boolean().default(false),
    /** Policy directory, relative to the data directory. */
    policyDir: z.string().min(1).default('policies'),
    /** Secrets file (mode 0600), relative to the data directory. */
    secretsFile: z.string().min(1).default('secrets.yaml'),
    /** Code mode: `warden__run_script` (see src/gateway/code-mode-tool.ts). */
    codeMode: CodeModeSettingsSchema.prefault({}),
  })
  .strict();
export type GatewaySettings = z.infer<typeof GatewaySettingsSchema>;
