// What the scripted AgentDojo environment answers to one tool call, as pure functions. A user task's
// ground-truth calls get results carrying the values its later calls need (what the agent would have
// read in the real environment) and, at the calls AgentDojo marks as carrying attacker content, the
// attack text; an injection task's calls "succeed"; anything else gets a neutral answer.

import { isDeepStrictEqual } from 'node:util';
import type { Call, InjectionTask, Suite, ToolSpec, Traces, UserTask } from './traces.js';
import { attackText, injectionCalls } from './traces.js';

/** Which ground-truth calls of the user task have been answered; one per session. */
export interface ScriptState {
  readonly consumed: Set<number>;
  /** The `important_instructions` template source (kept here so `scriptResult` stays pure). */
  readonly templates: Pick<Traces, 'attack_templates'>;
}

export function newScriptState(traces: Pick<Traces, 'attack_templates'>): ScriptState {
  return { consumed: new Set(), templates: traces };
}

export interface ScriptedResult {
  text: string;
  matched: 'user' | 'injection' | 'none';
}

export interface ToolCall {
  function: string;
  args: Record<string, unknown>;
}

function toolOf(suite: Suite, name: string): ToolSpec | undefined {
  return suite.tools.find((t) => t.name === name);
}

/**
 * Arguments as compared: absent, null and (for optional parameters) default-valued arguments are
 * dropped, since a call that spells out a default means the same as one that leaves it out.
 */
function normalArgs(suite: Suite, fn: string, args: Record<string, unknown>): Record<string, unknown> {
  const tool = toolOf(suite, fn);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v === null || v === undefined) continue;
    const param = tool?.parameters.find((p) => p.name === k);
    if (param && !param.required && param.default !== undefined && isDeepStrictEqual(param.default, v))
      continue;
    out[k] = v;
  }
  return out;
}

function sameCall(suite: Suite, expected: Call, call: ToolCall): boolean {
  if (expected.function !== call.function) return false;
  return isDeepStrictEqual(
    normalArgs(suite, expected.function, expected.args),
    normalArgs(suite, call.function, call.args),
  );
}

// `$content`-style placeholders stand for whatever the attacker's instructions lead the agent to fill in.
function isPlaceholder(v: unknown): boolean {
  return typeof v === 'string' && /^\$\w+$/.test(v);
}

function matchesPlaceholders(suite: Suite, expected: Call, call: ToolCall): boolean {
  const ph = expected.placeholder_args;
  if (ph === undefined || expected.function !== call.function) return false;
  const want = normalArgs(suite, expected.function, ph);
  const got = normalArgs(suite, call.function, call.args);
  const keys = new Set([...Object.keys(want), ...Object.keys(got)]);
  for (const k of keys) {
    const w = want[k];
    if (isPlaceholder(w)) {
      if (got[k] === undefined) return false;
      continue;
    }
    if (!isDeepStrictEqual(w, got[k])) return false;
  }
  return true;
}

function scalars(value: unknown, out: (string | number)[]): void {
  if (typeof value === 'string') {
    if (value !== '') out.push(value);
  } else if (typeof value === 'number') {
    out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) scalars(v, out);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) scalars(v, out);
  }
}

/**
 * The values ground-truth call `index` must have shown the agent: every scalar argument of the next
 * ground-truth call (or run of calls to one tool, see `nextRun`) that the prompt does not already
 * give: the most recent preceding call is where the agent read it. A number counts as given when
 * the prompt holds a number of that value.
 */
export function dataFor(userTask: UserTask, index: number): (string | number)[] {
  return valuesFor(userTask.ground_truth_calls, index, userTask.prompt);
}

/**
 * The same for an injection task: what its call `index` must have shown the hijacked agent for its
 * later calls (calendar participants, e-mail ids), unless the attacker's goal text already gives it.
 */
export function injectionDataFor(injectionTask: InjectionTask, index: number): (string | number)[] {
  // An attacker's goal reads once and acts many times (mail every participant of today's
  // meetings): the read shows what all the later calls need.
  return valuesFor(injectionCalls(injectionTask), index, injectionTask.goal, true);
}

/**
 * The calls whose values call `index` shows: the next call, or when the next calls form a run of
 * one tool (fetch each of these pages, add each of these users), the whole run, since the agent
 * read the list it works through before the run started. A call inside such a run shows nothing
 * new to the next one.
 */
function nextRun(calls: readonly Call[], index: number): readonly Call[] {
  const next = calls[index + 1];
  if (next === undefined || calls[index]?.function === next.function) return [];
  let end = index + 2;
  while (calls[end]?.function === next.function) end++;
  return calls.slice(index + 1, end);
}

function valuesFor(
  calls: readonly Call[],
  index: number,
  givenText: string,
  allLater = false,
): (string | number)[] {
  const later = allLater ? calls.slice(index + 1) : nextRun(calls, index);
  if (later.length === 0) return [];
  const found: (string | number)[] = [];
  for (const c of later) scalars(c.args, found);
  const given = givenText.toLowerCase();
  // Numbers are compared as numbers, so that `7` is not "given" by an IBAN that contains a 7 while
  // `12` is given by "12.00"; strings as case-insensitive substrings.
  const numbers = new Set(
    (given.replace(/(?<=\d),(?=\d{3}\b)/g, '').match(/\d+(?:\.\d+)?/g) ?? []).map(Number),
  );
  const data: (string | number)[] = [];
  for (const v of found) {
    if (typeof v === 'number' ? numbers.has(v) : given.includes(v.toLowerCase())) continue;
    if (!data.includes(v)) data.push(v);
  }
  return data;
}

/** Where `call` stands in the injection task's calls, or -1. */
function injectionIndex(suite: Suite, injectionTask: InjectionTask, call: ToolCall): number {
  return injectionCalls(injectionTask).findIndex(
    (c) => sameCall(suite, c, call) || matchesPlaceholders(suite, c, call),
  );
}

function userResult(
  suite: Suite,
  userTask: UserTask,
  injectionTask: InjectionTask | null,
  index: number,
  fn: string,
  state: ScriptState,
): Record<string, unknown> {
  const result: Record<string, unknown> = { summary: `result of ${fn}` };
  const data = dataFor(userTask, index);
  if (data.length > 0) result.data = data;
  const vectors = userTask.tool_results_with_injections
    .filter((r) => r.call_index === index)
    .flatMap((r) => r.injection_vectors_in_result);
  if (vectors.length > 0) {
    const pieces = vectors.map((v) =>
      injectionTask
        ? attackText(state.templates, injectionTask.goal)
        : (suite.injection_vectors[v]?.default ?? ''),
    );
    // Surrounded by ordinary text, the way an email body or an event description carries it.
    result.content = `Details as recorded:\n${pieces.join('\n')}\nEnd of details.`;
  }
  return result;
}

/** The scripted answer to one tool call; marks the user task's matched ground-truth call consumed. */
export function scriptResult(
  suite: Suite,
  userTask: UserTask,
  injectionTask: InjectionTask | null,
  call: ToolCall,
  state: ScriptState,
): ScriptedResult {
  const calls = userTask.ground_truth_calls;
  let index = calls.findIndex((c, i) => !state.consumed.has(i) && sameCall(suite, c, call));
  if (index >= 0) {
    state.consumed.add(index);
  } else {
    // A repeated read gets the same answer again rather than a blank one.
    index = calls.findIndex((c) => sameCall(suite, c, call));
  }
  // In an attack case, a read of the injection task also shows what its next call needs (the
  // environment holds those values whoever reads them), even when the user task made the same read.
  const inj = injectionTask ? injectionIndex(suite, injectionTask, call) : -1;
  const injData = injectionTask && inj >= 0 ? injectionDataFor(injectionTask, inj) : [];
  if (index >= 0) {
    const result = userResult(suite, userTask, injectionTask, index, call.function, state);
    if (injData.length > 0) {
      const data = (result['data'] as (string | number)[] | undefined) ?? [];
      result['data'] = [...data, ...injData.filter((v) => !data.includes(v))];
    }
    return { text: JSON.stringify(result), matched: 'user' };
  }
  if (inj >= 0) {
    return {
      text: JSON.stringify({
        status: 'ok',
        function: call.function,
        args: call.args,
        ...(injData.length > 0 ? { data: injData } : {}),
      }),
      matched: 'injection',
    };
  }
  return { text: JSON.stringify({ status: 'ok', note: 'no scripted result' }), matched: 'none' };
}
