// The schema of `warden.yaml`. Strict at every level: an unknown key is a typo or an attack, and
// either way it must not be silently ignored.

import { z } from 'zod';
import { GatewaySettingsSchema, UpstreamSchema } from '../gateway/config.js';
import { SupplyChainSchema } from '../skills/config.js';

const port = z.number().int().min(0).max(65535);

export const ConfigSchema = z
  .object({
    trustDomain: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$/, 'must be a lowercase DNS-style name')
      .default('warden.local'),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(8787),
        publicUrl: z.url({ protocol: /^https?$/ }).optional(),
      })
      .strict()
      .prefault({}),
    tokens: z
      .object({
        audience: z.array(z.string().min(1)).min(1).optional(),
        leewaySeconds: z.number().int().min(0).max(120).default(30),
        maxTokenBytes: z.number().int().min(1024).max(65536).default(8192),
      })
      .strict()
      .prefault({}),
    dpop: z
      .object({
        iatWindowSeconds: z.number().int().min(5).max(600).default(60),
        requireNonce: z.boolean().default(false),
        replayCacheSize: z.number().int().min(1000).max(10_000_000).default(200_000),
        algorithms: z
          .array(z.enum(['ES256', 'EdDSA']))
          .min(1)
          .default(['ES256', 'EdDSA']),
      })
      .strict()
      .prefault({}),
    registry: z
      .object({
        agentLifetimeDays: z.number().int().min(1).max(3650).default(90),
        revocationPollMs: z.number().int().min(50).max(1000).default(200),
      })
      .strict()
      .prefault({}),
    store: z
      .object({
        driver: z.literal('sqlite').default('sqlite'),
        path: z.string().min(1).default('warden.db'),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        // A checkpoint is signed once this many entries have been appended since the last one...
        checkpointEveryEntries: z.number().int().min(1).max(10_000_000).default(1000),
        // ...or once this long has passed with new entries (ms).
        checkpointIntervalMs: z.number().int().min(100).max(86_400_000).default(10_000),
        // Add an ML-DSA-65 signature line to every checkpoint (keys/audit-log-mldsa.skey).
        postQuantum: z.boolean().default(false),
        // What a decision entry keeps of a call's arguments: all of them, the listed JSON pointers
        // replaced by their digest, or only the digest of the whole.
        arguments: z.enum(['full', 'redact', 'digest']).default('full'),
        redactPointers: z
          .array(z.string().regex(/^(\/([^~/]|~[01])*)+$/, 'must be a JSON pointer'))
          .default([]),
        // C2SP tlog-witnesses that cosign each checkpoint: submission URL and cosignature key.
        witnesses: z
          .array(z.object({ url: z.url({ protocol: /^https?$/ }), key: z.string().min(1) }).strict())
          .default([]),
      })
      .strict()
      .prefault({}),
    telemetry: z
      .object({
        // OTLP/HTTP (JSON) traces URL, e.g. http://127.0.0.1:4318/v1/traces; unset: no export.
        otlpEndpoint: z.url({ protocol: /^https?$/ }).optional(),
        serviceName: z.string().min(1).default('warden'),
      })
      .strict()
      .prefault({}),
    gateway: GatewaySettingsSchema.prefault({}),
    supplyChain: SupplyChainSchema.prefault({}),
    upstreams: z
      .array(UpstreamSchema)
      .default([])
      .refine(
        (list) => new Set(list.map((u) => u.name)).size === list.length,
        'upstream names must be unique',
      ),
  })
  .strict()
  .superRefine((c, ctx) => {
    // A signer named anywhere must exist: an unknown name would otherwise verify nothing.
    const known = new Set(Object.keys(c.supplyChain.signers));
    const check = (names: readonly string[], path: (string | number)[]) => {
      names.forEach((n, i) => {
        if (!known.has(n))
          ctx.addIssue({
            code: 'custom',
            path: [...path, i],
            message: `no signer \`${n}\` in supplyChain.signers`,
          });
      });
    };
    check(c.supplyChain.skills.signers, ['supplyChain', 'skills', 'signers']);
    c.upstreams.forEach((u, i) => {
      if (u.transport === 'stdio' && u.verify) check(u.verify.signers, ['upstreams', i, 'verify', 'signers']);
    });
  });

export type WardenConfig = z.infer<typeof ConfigSchema>;

/** The commented file `warden init` writes; every value shown is the default. */
export const DEFAULT_CONFIG_YAML = `# Warden configuration. Every value below is the default; remove or change what you need.
# Unknown keys are refused, so a typo never silently falls back to a default.

# SPIFFE trust domain: agent ids are spiffe://<trustDomain>/agent/<blueprint>/<name>
trustDomain: warden.local

server:
  # Loopback by default; expose deliberately.
  host: 127.0.0.1
  port: 8787
  # The issuer URL clients use (behind a proxy, set it to the external URL).
  # publicUrl: https://warden.example.com

tokens:
  # Audiences of issued access tokens; default: <issuer>/mcp (the gateway).
  # audience: [https://warden.example.com/mcp]
  # Clock skew tolerated on exp, nbf and iat (seconds, at most 120).
  leewaySeconds: 30
  # Tokens larger than this are refused before any parsing.
  maxTokenBytes: 8192

dpop:
  # A DPoP proof's iat must be within this many seconds of now.
  iatWindowSeconds: 60
  # Require server-issued nonces (DPoP-Nonce) on every proof.
  requireNonce: false
  # Remembered proof ids; when full, new proofs are refused rather than replays risked.
  replayCacheSize: 200000
  algorithms: [ES256, EdDSA]

registry:
  # Default lifetime of a new agent identity.
  agentLifetimeDays: 90
  # How often the server picks up suspensions and revocations made elsewhere (ms, at most 1000).
  revocationPollMs: 200

store:
  driver: sqlite
  # Relative to the data directory.
  path: warden.db

audit:
  # Checkpoints of the evidence log are signed after this many new entries...
  checkpointEveryEntries: 1000
  # ...or after this long with new entries (ms).
  checkpointIntervalMs: 10000
  # Also sign checkpoints with ML-DSA-65 (post-quantum), key in keys/audit-log-mldsa.skey.
  postQuantum: false
  # Arguments in decision entries: full, redact (redactPointers replaced by digests) or digest.
  arguments: full
  redactPointers: []
  # Witnesses (\`warden witness serve\`) that cosign each checkpoint.
  witnesses: []
  #  - url: http://witness.internal.example:8790
  #    key: witness.example/w1+1a2b3c4d+BA...

telemetry:
  # Export spans (OpenTelemetry GenAI and MCP conventions) to this OTLP/HTTP traces URL; off when unset.
  # otlpEndpoint: http://127.0.0.1:4318/v1/traces
  serviceName: warden

gateway:
  # MCP messages larger than this are refused before parsing.
  maxMessageBytes: 4194304
  # Per-call timeout towards upstream servers (ms).
  callTimeoutMs: 60000
  # A call that needs a human's approval waits this long before the agent is told (ms; 0: at once).
  approvalWaitMs: 0
  # How long a held call stays approvable (seconds).
  approvalTtlSeconds: 3600
  # Pin tool definitions on first sight. Development only: a pinned definition is trusted.
  autoPin: false
  # Cedar policies (*.cedar), relative to the data directory; reloaded on change.
  policyDir: policies
  # Upstream credentials referenced as {secret: NAME}; must be mode 0600.
  secretsFile: secrets.yaml
  # Code mode: warden__run_script runs an agent's program once in a disposable isolate inside the
  # sandbox; offered only to agents a policy permits it (see policies/00-baseline.cedar).
  codeMode:
    enabled: true
    pool: 1               # sandboxed workers kept started
    wallMs: 5000
    maxToolCalls: 100
    maxCallsPerSecond: 50
    memoryMb: 32          # the isolate's memory

# Supply chain: who may sign skills and tool servers, and the scan severity that refuses one.
supplyChain:
  signers: {}
  #  release-team: { key: keys/release-team.pub.pem }          # OMS private-key method (ECDSA P-256/P-384)
  #  corp-pki: { certificateChain: [pki/ca.pem] }              # certificate method: the trust anchors
  #  ci: { keyless: { identity: https://github.com/acme/skills/.github/workflows/release.yml@refs/heads/main,
  #                   issuer: https://token.actions.githubusercontent.com, trustedRoot: sigstore/trusted_root.json } }
  # A skill, server or tool definition whose scan finds something at or above this is refused (none: never).
  scanFailOn: high
  skills:
    dir: skills        # the skill store, relative to the data directory
    signers: []        # a skill must carry one of these; empty: install needs --key, --signer or --allow-unsigned
  # Every stdio upstream must have a verify section (a signed folder) or it does not start.
  requireSignedServers: false

# Upstream MCP servers. Tools are offered to agents as <upstream>__<tool>.
upstreams: []
#  - name: files
#    transport: stdio
#    command: [node, /opt/mcp/filesystem/dist/index.js, /srv/shared]   # argv; never a shell string
#    env: { LOG_LEVEL: info, API_TOKEN: { secret: files-token } }     # nothing else is inherited
#    sandbox:                       # absent: the default profile (no network, read-only root, homes hidden)
#      filesystem: { read: [/srv/shared] }
#      network: { allow: [api.github.com:443] }   # each connection is also a Cedar connect decision
#      limits: { memoryMb: 1024, processes: 64 }
#    # sandbox: none                  # runs it bare: printed at start and recorded in the audit log
#    verify:                          # start only if this folder's OMS signature verifies and its scan is clean
#      path: /opt/mcp/filesystem
#      signers: [release-team]
#    tools:
#      read_file: { labels: [private] }
#      list_directory: { labels: [private, untrusted], trustNames: true }   # its names vouch for themselves
#  - name: mail
#    transport: http
#    url: https://mail-mcp.internal.example/mcp
#    auth: { type: bearer, token: { env: MAIL_MCP_TOKEN } }
#    tools:
#      send_email: { labels: [egress], sensitiveArgs: [to, cc, bcc] }
`;
