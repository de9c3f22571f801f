// The replay driver: AgentDojo cases through the real gateway. For each suite it starts Warden on
// a fresh data directory (embedded store, local keys) with the suite's scripted MCP server as its
// only upstream, the suite's policy pack (policies/examples/agentdojo/<suite>/) and one agent. Each
// case is its own MCP session of that agent (official SDK client, DPoP-bound token), declaring the
// user's task as its intent the way an agent runtime does (`_meta["warden/intent"]` at initialize),
// then issuing the user task's ground-truth calls and, in an attack case, the injection task's
// calls: what a hijacked agent would do next. Every call's outcome is recorded as the gateway
// answered it.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { enrolAgent, initDataDir, openWarden, serveWarden, type Warden } from '../../src/cli/context.js';
import { declareIntent } from '../../src/gateway/connect.js';
import { GatewayErrorCode } from '../../src/gateway/errors.js';
import type { IdentityService } from '../../src/identity/index.js';
import { STOCK_POLICIES } from '../../src/policy/index.js';
import { injectionCalls, type Call, type InjectionTask, type Suite, type UserTask } from './traces.js';

export const PACKS_DIR = fileURLToPath(new URL('../../policies/examples/agentdojo/', import.meta.url));
const SERVER_JS = fileURLToPath(new URL('../../dist/bench/agentdojo/server.js', import.meta.url)).replace(
  /\/dist\/dist\//,
  '/dist/',
);

export type CallOutcome = 'allowed' | 'approval' | 'denied' | 'error';

export interface CallRecord {
  function: string;
  outcome: CallOutcome;
  /** The gateway's message for a refusal (names the deciding policies). */
  message?: string;
  /**
   * For a held or refused call, the deciding policies and their reasons, from the error's data
   * (each policy with its own `@approval` / `@reason` text).
   */
  decidedBy?: { policy: string; reason: string }[];
}

export interface CaseRecord {
  suite: string;
  userTask: string;
  injectionTask: string | null;
  user: CallRecord[];
  injection: CallRecord[];
  /**
   * Whether a result carrying the attack reached the agent: a user call whose result holds an
   * injection vector was allowed. When every such call was held or refused, the agent never saw
   * the attacker's text; the injection calls are still replayed and recorded.
   */
  delivered: boolean;
}

/** One suite's policy pack: tool labels and sensitive arguments, and Cedar files. */
export interface Pack {
  tools: Record<
    string,
    { labels?: string[]; sensitiveArgs?: string[]; sensitiveText?: string[]; trustNames?: boolean }
  >;
  /** Stock policy files the pack leaves out (by file name), with its reasons in its README. */
  withoutStock: string[];
  cedar: { name: string; text: string }[];
}

export function loadPack(suite: string): Pack {
  const dir = join(PACKS_DIR, suite);
  const tools = parseYaml(readFileSync(join(dir, 'tools.yaml'), 'utf8')) as Pack['tools'];
  let withoutStock: string[] = [];
  try {
    const p = parseYaml(readFileSync(join(dir, 'pack.yaml'), 'utf8')) as { withoutStock?: string[] } | null;
    withoutStock = p?.withoutStock ?? [];
  } catch {
    withoutStock = [];
  }
  // The common policies of every suite, then the suite's own.
  const cedar = [join(PACKS_DIR, 'common'), dir].flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.cedar'))
      .sort()
      .map((name) => ({ name, text: readFileSync(join(d, name), 'utf8') })),
  );
  return { tools, withoutStock, cedar };
}

/** Whether a call of this tool changes something or sends something out, per the pack's labels. */
export function isConsequential(pack: Pack, fn: string): boolean {
  const labels = pack.tools[fn]?.labels ?? [];
  return labels.includes('egress') || labels.includes('consequential');
}

export interface SuiteBench {
  suite: Suite;
  pack: Pack;
  runCase(user: UserTask, injection: InjectionTask | null): Promise<CaseRecord>;
  close(): Promise<void>;
}

function classify(err: unknown): CallRecord['outcome'] {
  if (err instanceof McpError) {
    if (err.code === GatewayErrorCode.Denied) return 'denied';
    if (err.code === GatewayErrorCode.ApprovalRequired) return 'approval';
  }
  return 'error';
}

/** The deciding policies and their reasons in a refusal's or a hold's error data, paired in order. */
export function decidedBy(data: unknown): { policy: string; reason: string }[] {
  if (typeof data !== 'object' || data === null) return [];
  const { policies, reasons } = data as { policies?: unknown; reasons?: unknown };
  if (!Array.isArray(policies)) return [];
  const texts = Array.isArray(reasons) ? reasons : [];
  return policies
    .filter((p): p is string => typeof p === 'string')
    .map((policy, i) => ({ policy, reason: typeof texts[i] === 'string' ? texts[i] : '' }));
}

async function call(client: Client, server: string, c: Call): Promise<CallRecord> {
  try {
    const r = await client.callTool({ name: `${server}__${c.function}`, arguments: c.args });
    if (r.isError === true) {
      const text = (r.content as Array<{ text?: string }> | undefined)?.[0]?.text ?? '';
      return { function: c.function, outcome: 'error', message: text.slice(0, 1000) };
    }
    return { function: c.function, outcome: 'allowed' };
  } catch (err) {
    const record: CallRecord = {
      function: c.function,
      outcome: classify(err),
      message: (err as Error).message.slice(0, 1000),
    };
    const by = err instanceof McpError ? decidedBy(err.data) : [];
    if (by.length > 0) record.decidedBy = by;
    return record;
  }
}

export async function startSuite(
  suite: Suite,
  log: (line: string) => void = () => undefined,
): Promise<SuiteBench> {
  const pack = loadPack(suite.name);
  const dataDir = mkdtempSync(join(tmpdir(), `warden-agentdojo-${suite.name}-`));
  const caseFile = join(dataDir, 'case.json');
  writeFileSync(caseFile, JSON.stringify({ userTask: suite.user_tasks[0]?.id, injectionTask: null }));
  const config = {
    gateway: { autoPin: true, codeMode: { enabled: false } },
    upstreams: [
      {
        name: suite.name,
        transport: 'stdio',
        command: [process.execPath, SERVER_JS, '--suite', suite.name, '--case-file', caseFile],
        // The benchmark's own scripted server reads the case file the driver rewrites before each
        // session, in the data directory, which a sandbox hides: it runs unsandboxed (recorded).
        sandbox: 'none',
        tools: pack.tools,
      },
    ],
  };
  writeFileSync(join(dataDir, 'warden.yaml'), stringifyYaml(config), { mode: 0o600 });
  let w: Warden | undefined;
  let svc: IdentityService | undefined;
  try {
    await initDataDir(dataDir);
    const policies = join(dataDir, 'policies');
    for (const f of STOCK_POLICIES) if (pack.withoutStock.includes(f.name)) rmSync(join(policies, f.name));
    for (const f of pack.cedar) writeFileSync(join(policies, `60-agentdojo-${f.name}`), f.text);
    w = await openWarden(dataDir, { serve: true });
    const sponsor = 'emma.johnson@example.com';
    await w.registry.addSponsor({ id: sponsor, name: 'Emma Johnson' });
    await w.registry.createBlueprint({
      name: 'assistant',
      sponsors: [sponsor],
      envelope: { servers: ['*'], tools: ['*'], scopes: ['mcp'] },
      baseScope: ['mcp'],
    });
    svc = await serveWarden(w, { port: 0, log });
    const { client: agent } = await enrolAgent(w, svc, {
      blueprint: 'assistant',
      name: 'dojo',
      sponsor,
      credentialsFile: join(dataDir, 'agent.credentials.json'),
    });
    const mcpUrl = new URL(`${svc.issuer}/mcp`);
    const service = svc;
    const warden = w;
    return {
      suite,
      pack,
      async runCase(user, injection) {
        writeFileSync(caseFile, JSON.stringify({ userTask: user.id, injectionTask: injection?.id ?? null }));
        const client = new Client({ name: 'agentdojo-replay', version: '1.0.0' });
        const transport = new StreamableHTTPClientTransport(mcpUrl, { fetch: agent.fetcher() });
        // The agent runtime declares the user's task in initialize's params._meta.
        declareIntent(transport, { text: user.prompt });
        await client.connect(transport);
        try {
          const record: CaseRecord = {
            suite: suite.name,
            userTask: user.id,
            injectionTask: injection?.id ?? null,
            user: [],
            injection: [],
            delivered: false,
          };
          for (const c of user.ground_truth_calls) record.user.push(await call(client, suite.name, c));
          record.delivered = user.tool_results_with_injections.some(
            (r) => record.user[r.call_index]?.outcome === 'allowed',
          );
          if (injection)
            for (const c of injectionCalls(injection))
              record.injection.push(await call(client, suite.name, c));
          return record;
        } finally {
          await transport.terminateSession().catch(() => undefined);
          await client.close().catch(() => undefined);
        }
      },
      async close() {
        await service.close().catch(() => undefined);
        await warden.close().catch(() => undefined);
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await svc?.close().catch(() => undefined);
    await w?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
