// `warden__run_script`: the one tool Warden offers itself. An agent submits a JavaScript program;
// it runs once in a fresh QuickJS isolate, in a worker process inside the kernel sandbox (no
// network, nothing writable, an empty environment, resource limits), and is thrown away. Its only
// capabilities are stubs of the tools the agent is offered, and each stub call goes back through
// the session's whole pipeline under the agent's identity, so a program can do nothing its agent
// could not do call by call.
//
// No stock policy permits it: an agent gets it only when a policy names it, for example
//
//   permit (principal in Warden::Blueprint::"analyst", action in Warden::Action::"tools/call",
//           resource == Warden::Tool::"warden/run_script");

import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { sha256Jcs } from '../jcs.js';
import { spawnSandboxedSync } from '../sandbox/launcher.js';
import { codeWorkerPath, ScriptRunner, type ScriptLimits } from '../sandbox/code-mode.js';
import { SandboxProfileSchema } from '../sandbox/profile.js';

/** The upstream name reserved for Warden's own tools. */
export const WARDEN_SERVER = 'warden';
export const RUN_SCRIPT = 'run_script';
const MAX_CODE = 100_000;

export const RUN_SCRIPT_TOOL: Tool = {
  name: RUN_SCRIPT,
  title: 'Run a script over your tools',
  description:
    'Run a JavaScript program once, in a fresh isolate that is discarded afterwards. The program is the ' +
    'body of an async function: call any tool you are offered with `await tools.<name>(arguments)` ' +
    '(each call is decided by policy as if you had made it), log with `console.log`, and `return` a JSON ' +
    'value. There is no network, filesystem, timer or module access; time and tool calls are limited.',
  inputSchema: {
    type: 'object',
    properties: { code: { type: 'string', minLength: 1, maxLength: MAX_CODE } },
    required: ['code'],
    additionalProperties: false,
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
};

/** The definition hash decisions and approvals bind to, like an upstream tool's pin. */
export const RUN_SCRIPT_HASH = `sha256:${sha256Jcs(RUN_SCRIPT_TOOL)}`;

export const CodeModeSettingsSchema = z
  .object({
    /** Offer `warden__run_script` (still only to agents a policy permits it). */
    enabled: z.boolean().default(true),
    /** Sandboxed worker processes kept started (each runs one program, then a new one starts). */
    pool: z.number().int().min(0).max(16).default(1),
    wallMs: z.number().int().min(100).max(600_000).default(5000),
    maxToolCalls: z.number().int().min(1).max(100_000).default(100),
    maxCallsPerSecond: z.number().int().min(1).max(10_000).default(50),
    /** Memory of the isolate, MiB; the worker process gets an OS limit above it. */
    memoryMb: z.number().int().min(4).max(4096).default(32),
  })
  .strict();
export type CodeModeSettings = z.infer<typeof CodeModeSettingsSchema>;

/** Parse the tool's arguments; a message for the agent when they are not a program. */
export function scriptOf(args: Record<string, unknown>): string | { error: string } {
  const code = args['code'];
  const extra = Object.keys(args).filter((k) => k !== 'code');
  if (extra.length > 0) return { error: `unexpected argument ${extra.map((k) => `\`${k}\``).join(', ')}` };
  if (typeof code !== 'string' || code.length === 0) return { error: '`code` must be a non-empty string' };
  if (code.length > MAX_CODE) return { error: `\`code\` is longer than ${MAX_CODE} characters` };
  return code;
}

/**
 * The runner shared by every session of a gateway, created on first use (the pool starts then).
 * Workers run `node dist/src/sandbox/code-worker.js` in the default sandbox profile with Warden's
 * directories hidden, an empty environment, and limits that bound the process whatever the isolate
 * does.
 */
export class CodeMode {
  private runner: ScriptRunner | undefined;

  constructor(
    readonly settings: CodeModeSettings,
    private readonly hide: readonly string[],
  ) {}

  get limits(): Partial<ScriptLimits> {
    const s = this.settings;
    return {
      wallMs: s.wallMs,
      maxToolCalls: s.maxToolCalls,
      maxCallsPerSecond: s.maxCallsPerSecond,
      memoryBytes: s.memoryMb * 1024 * 1024,
    };
  }

  get(): ScriptRunner {
    if (this.runner) return this.runner;
    const s = this.settings;
    const profile = SandboxProfileSchema.parse({
      limits: {
        // Node and the WebAssembly module need about 100 MiB; the isolate's own limit comes on top.
        memoryMb: 192 + 2 * s.memoryMb,
        processes: 64,
        openFiles: 64,
        fileSizeMb: 1,
        cpuSeconds: Math.ceil(s.wallMs / 1000) + 5,
      },
    });
    const worker = codeWorkerPath();
    this.runner = new ScriptRunner({
      spawn: () =>
        spawnSandboxedSync({
          name: 'code-mode',
          argv: [process.execPath, worker],
          env: {},
          profile,
          hide: this.hide,
        }),
      pool: s.pool,
      limits: this.limits,
    });
    return this.runner;
  }

  async close(): Promise<void> {
    await this.runner?.close();
    this.runner = undefined;
  }
}
