// `warden replay`: decide every recorded request again, under another policy set, and list what
// would change. Each decision entry holds the Cedar request it was decided on (principal, action,
// resource, context with the session's flow facts), so nothing but the log and the tool
// definitions it names is needed. Use it to check a policy change in CI before it ships.

import { z } from 'zod';
import { EngineDecider } from '../gateway/start.js';
import type { DecisionRequest, DecisionTool } from '../gateway/ports.js';
import { PolicyEngine } from '../policy/engine.js';
import type { Store } from '../store/index.js';
import { readEvents, type EventQuery } from './read.js';

export interface ReplayChange {
  index: number;
  time: string;
  agent: string | null;
  action: string;
  target: string | null;
  recorded: string;
  replayed: string;
  policies: string[];
  reasons: string[];
}

export interface ReplayResult {
  policySetHash: string;
  /** Decisions decided again. */
  checked: number;
  /** Decisions that could not be, and why (their arguments were not kept, say). */
  skipped: Array<{ index: number; why: string }>;
  changes: ReplayChange[];
}

const RecordedRequest = z
  .object({
    principal: z.record(z.string(), z.unknown()),
    action: z.string(),
    resource: z.object({ type: z.string(), id: z.string(), attrs: z.record(z.string(), z.unknown()) }),
    context: z.record(z.string(), z.unknown()),
  })
  .strict();

const DefinitionJson = z.object({ inputSchema: z.record(z.string(), z.unknown()) }).loose();

export async function replay(
  store: Store,
  policyDir: string,
  query: Omit<EventQuery, 'type'>,
): Promise<ReplayResult> {
  const engine = PolicyEngine.load({ dir: policyDir });
  const decider = new EngineDecider(engine);
  const events = await readEvents(store, { ...query, type: 'mcp.decision' });
  const result: ReplayResult = {
    policySetHash: engine.policySet?.hash ?? '',
    checked: 0,
    skipped: [],
    changes: [],
  };
  for (const e of events) {
    const d = e.details;
    const parsed = RecordedRequest.safeParse(d['request']);
    // Refusals made before policy (the blueprint envelope) carry no request: nothing to replay.
    if (!parsed.success) {
      if (d['request'] !== undefined)
        result.skipped.push({ index: e.index, why: 'the recorded request is malformed' });
      continue;
    }
    // The entry keeps the arguments and the flow facts once, beside the request.
    const request = {
      ...parsed.data,
      context: { ...parsed.data.context, flow: d['flow'], arguments: d['arguments'] ?? {} },
    } as unknown as DecisionRequest;
    if (request.action === 'tools/call' && d['arguments_kept'] === 'digest') {
      result.skipped.push({ index: e.index, why: 'only a digest of the arguments was kept' });
      continue;
    }
    let tool: DecisionTool | undefined;
    if (request.action === 'tools/call') {
      const attrs = request.resource.attrs;
      const hash = typeof attrs['definition_hash'] === 'string' ? attrs['definition_hash'] : '';
      const row = await store.db
        .selectFrom('tool_definitions')
        .select(['definition'])
        .where('hash', '=', hash)
        .executeTakeFirst();
      const def = row ? DefinitionJson.safeParse(parseJson(row.definition)) : undefined;
      if (!def?.success) {
        result.skipped.push({
          index: e.index,
          why: `the tool definition ${hash.slice(0, 12)} is not stored`,
        });
        continue;
      }
      tool = {
        server: String(attrs['server']),
        name: String(attrs['name']),
        hash,
        inputSchema: def.data.inputSchema,
      };
    }
    const again = decider.decide(request, tool);
    result.checked++;
    // A call a human approved was carried out as `allow`; policy's own answer was `approval`.
    const recorded = typeof d['policy_effect'] === 'string' ? d['policy_effect'] : String(d['decision']);
    if (again.effect !== recorded) {
      result.changes.push({
        index: e.index,
        time: new Date(e.at).toISOString(),
        agent: e.actor,
        action: request.action,
        target: e.subject,
        recorded,
        replayed: again.effect,
        policies: again.policies,
        reasons: again.reasons,
      });
    }
  }
  return result;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
