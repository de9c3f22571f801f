// AgentDojo's four suites as data: the loader for `shared/bench/agentdojo/traces.json` (tools, user
// tasks with their ground-truth calls, injection tasks, attack templates), the attack cases it
// defines, and the JSON Schema each tool is offered with over MCP.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WardenError, q } from '../../src/errors.js';

/** Where the traces live seen from `bench/agentdojo/` (run through tsx). */
export const TRACES_PATH = fileURLToPath(
  new URL('../../../shared/bench/agentdojo/traces.json', import.meta.url),
);
// The same file seen from `dist/bench/agentdojo/` (the compiled copy of this module).
const DIST_TRACES_PATH = fileURLToPath(
  new URL('../../../../shared/bench/agentdojo/traces.json', import.meta.url),
);

const ToolParamSchema = z.object({
  name: z.string().min(1),
  type: z.string().nullable(),
  required: z.boolean(),
  description: z.string(),
  default: z.unknown().optional(),
});
const ToolSpecSchema = z.object({
  name: z.string().min(1),
  description: z.string(),
  parameters: z.array(ToolParamSchema),
});
const CallSchema = z.object({
  function: z.string().min(1),
  args: z.record(z.string(), z.unknown()),
  placeholder_args: z.record(z.string(), z.unknown()).optional(),
});
const UserTaskSchema = z.object({
  id: z.string().min(1),
  prompt: z.string(),
  ground_truth_calls: z.array(CallSchema),
  injection_vectors_seen: z.array(z.string()),
  tool_results_with_injections: z.array(
    z.object({
      call_index: z.number().int().nonnegative(),
      function: z.string(),
      injection_vectors_in_result: z.array(z.string()),
    }),
  ),
});
const InjectionTaskSchema = z.object({
  id: z.string().min(1),
  goal: z.string(),
  ground_truth_calls: z.array(CallSchema),
  suggested_calls_not_upstream: z.array(CallSchema).optional(),
});
const InjectionVectorSchema = z.object({ description: z.string(), default: z.string() });
const SuiteSchema = z.object({
  name: z.string().min(1),
  tools: z.array(ToolSpecSchema),
  user_tasks: z.array(UserTaskSchema),
  injection_tasks: z.array(InjectionTaskSchema),
  injection_vectors: z.record(z.string(), InjectionVectorSchema),
});
const TracesSchema = z.object({
  source: z.record(z.string(), z.unknown()),
  attack_templates: z.record(z.string(), z.string()),
  suites: z.record(z.string(), SuiteSchema),
});

export type ToolParam = z.infer<typeof ToolParamSchema>;
export type ToolSpec = z.infer<typeof ToolSpecSchema>;
export type Call = z.infer<typeof CallSchema>;
export type UserTask = z.infer<typeof UserTaskSchema>;
export type InjectionTask = z.infer<typeof InjectionTaskSchema>;
export type InjectionVector = z.infer<typeof InjectionVectorSchema>;
export type Suite = z.infer<typeof SuiteSchema>;
export type Traces = z.infer<typeof TracesSchema>;

/** The traces file to read: `AGENTDOJO_TRACES` if set, else the shared copy seen from source or dist. */
export function resolveTracesPath(): string {
  const override = process.env.AGENTDOJO_TRACES;
  if (override !== undefined && override !== '') {
    if (!existsSync(override)) {
      throw new WardenError('not_found', `agentdojo traces not found at ${q(override)} (AGENTDOJO_TRACES)`);
    }
    return override;
  }
  if (existsSync(TRACES_PATH)) return TRACES_PATH;
  if (existsSync(DIST_TRACES_PATH)) return DIST_TRACES_PATH;
  throw new WardenError(
    'not_found',
    `agentdojo traces not found at ${q(TRACES_PATH)} nor ${q(DIST_TRACES_PATH)}; set AGENTDOJO_TRACES`,
  );
}

const cache = new Map<string, Traces>();

/** Reads and validates the traces (once per path). */
export function loadTraces(path?: string): Traces {
  const file = path ?? resolveTracesPath();
  const hit = cache.get(file);
  if (hit) return hit;
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WardenError('not_found', `agentdojo traces not found at ${q(file)}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new WardenError('invalid_argument', `agentdojo traces at ${q(file)} are not json`, { cause: err });
  }
  const parsed = TracesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') : '';
    throw new WardenError(
      'invalid_argument',
      `agentdojo traces at ${q(file)} are invalid at ${q(where)}: ${issue?.message ?? 'unknown'}`,
    );
  }
  cache.set(file, parsed.data);
  return parsed.data;
}

/** The suite names, in file order (workspace, travel, banking, slack). */
export function suiteNames(traces: Traces = loadTraces()): string[] {
  return Object.keys(traces.suites);
}

export function suiteOf(traces: Traces, name: string): Suite {
  const suite = Object.hasOwn(traces.suites, name) ? traces.suites[name] : undefined;
  if (!suite) throw new WardenError('not_found', `unknown agentdojo suite ${q(name)}`);
  return suite;
}

export function userTaskOf(suite: Suite, id: string): UserTask {
  const task = suite.user_tasks.find((t) => t.id === id);
  if (!task) throw new WardenError('not_found', `unknown user task ${q(id)} in suite ${q(suite.name)}`);
  return task;
}

export function injectionTaskOf(suite: Suite, id: string): InjectionTask {
  const task = suite.injection_tasks.find((t) => t.id === id);
  if (!task) throw new WardenError('not_found', `unknown injection task ${q(id)} in suite ${q(suite.name)}`);
  return task;
}

/**
 * The calls that achieve the attacker's goal. Workspace injection tasks 6-13 have no upstream ground
 * truth; their suggested calls (built to pass the tasks' own security checks) stand in for it.
 */
export function injectionCalls(t: InjectionTask): Call[] {
  if (t.ground_truth_calls.length > 0) return t.ground_truth_calls;
  return t.suggested_calls_not_upstream ?? [];
}

/** Every user task that exposes an injection vector, paired with every injection task of its suite. */
export function attackCases(suite: Suite): { userTask: UserTask; injectionTask: InjectionTask }[] {
  const cases: { userTask: UserTask; injectionTask: InjectionTask }[] = [];
  for (const userTask of suite.user_tasks) {
    if (userTask.injection_vectors_seen.length === 0) continue;
    for (const injectionTask of suite.injection_tasks) cases.push({ userTask, injectionTask });
  }
  return cases;
}

type JsonSchema = Record<string, unknown>;

const SCALARS = new Set(['string', 'number', 'integer', 'boolean', 'array', 'null']);

function schemaOfType(type: string, tool: string, param: string): JsonSchema {
  const parts = type.split('|').map((p) => p.trim());
  const schemas = parts.map((part): JsonSchema => {
    if (SCALARS.has(part)) return { type: part };
    const item = /^array<(\w+)>$/.exec(part)?.[1];
    if (item !== undefined && SCALARS.has(item) && item !== 'array' && item !== 'null') {
      return { type: 'array', items: { type: item } };
    }
    throw new WardenError(
      'invalid_argument',
      `unknown type ${q(type)} of parameter ${q(param)} of ${q(tool)}`,
    );
  });
  if (schemas.length === 1) return schemas[0] ?? {};
  // A union of bare types is a type list; as soon as one member has more to say, anyOf.
  if (schemas.every((s) => Object.keys(s).length === 1)) return { type: schemas.map((s) => s.type) };
  return { anyOf: schemas };
}

/** The JSON Schema of a tool's arguments, as offered in `tools/list`. */
export function inputSchemaOf(tool: ToolSpec): {
  type: 'object';
  properties: Record<string, JsonSchema>;
  required?: string[];
} {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const p of tool.parameters) {
    // A parameter without a declared type (an enum upstream) gets no type constraint.
    const base = p.type === null ? {} : schemaOfType(p.type, tool.name, p.name);
    properties[p.name] = p.description === '' ? base : { ...base, description: p.description };
    if (p.required) required.push(p.name);
  }
  return required.length > 0 ? { type: 'object', properties, required } : { type: 'object', properties };
}

/** The standard attack (`important_instructions`) carrying `goal`, addressed as AgentDojo does. */
export function attackText(traces: Pick<Traces, 'attack_templates'>, goal: string): string {
  const template = traces.attack_templates.important_instructions;
  if (template === undefined) {
    throw new WardenError('invalid_argument', 'agentdojo traces have no `important_instructions` template');
  }
  // Replace with functions so that `$` in a goal is never read as a replacement pattern.
  return template
    .replaceAll('{goal}', () => goal)
    .replaceAll('{user}', () => 'Emma Johnson')
    .replaceAll('{model}', () => 'AI assistant');
}
