// Session flow state and argument provenance: what an agent session has touched, which values it
// has seen in tool results and where from, and the human's declared intent. The gateway asks it,
// for every call, which sensitive arguments hold values that came from untrusted content, and
// hands the answer to Cedar as `context.flow` (see `FlowFacts`).
//
// The taint rule. Each result is one of:
//   - untrusted: the tool is labelled `untrusted`, or inspecting the result found invisible
//     Unicode or instruction-like text, or the result was too large to inspect in full;
//   - trusted: otherwise, when the tool is labelled `private` (the user's own data);
//   - neutral: otherwise (a tool with neither source label).
// A tool configured with `trustNames` (its service assigns the names and ids it lists: channel
// names, file ids) vouches, in an untrusted result, for the whole short values that hold no
// address (no URL, e-mail, IBAN or long number): each counts as a trusted sighting. Addresses,
// and everything found inside longer text, stay untrusted; a result that inspection marked
// vouches for nothing.
// A value is tainted when it is not in the intent and its first untrusted sighting precedes its
// first trusted one (or it has no trusted one). So a value first seen in untrusted content stays
// tainted when it later turns up in the user's own data: that later sighting may be the agent
// having written it there itself. Neutral sightings neither taint nor vouch.
//
// Memory is bounded (`maxValues`, 10,000 by default): the least recently seen value is forgotten
// first; intent values live apart and are never forgotten. Forgetting can only make a value look
// less trusted, never more: once a value seen in untrusted content has been forgotten (or an
// untrusted result could not be read in full), memory is incomplete for the rest of the session,
// and from then on an identifying value of a sensitive argument that is in neither memory nor the
// intent counts as tainted.

import { ConfigError } from '../errors.js';
import { FlowError } from './flow-error.js';
import { parseIntent, type Intent } from './flow-intent.js';
import { FLOW_LABELS, sortLabels, type FlowLabel, type ToolFlowConfig } from './flow-labels.js';
import { requireArgPath, valuesAt } from './flow-pointer.js';
import { CandidateSet, extractIntentText, extractText, leafCandidates, nameKeys } from './flow-values.js';
import {
  collectResultText,
  inspectionMarksUntrusted,
  inspectTexts,
  type ResultInspection,
} from './inspect-result.js';
import type { FlowFacts } from './request.js';

// The Cedar context record of a call (`context.flow`) is defined with the request it is part of.
export type { FlowFacts };

export interface ArgumentProvenance {
  /** The sensitive argument as configured: a name or a JSON Pointer. */
  arg: string;
  /** The values found there, each once, in order. */
  values: string[];
  tainted: boolean;
  /** True when at least one value is present and every value is in the intent. */
  inIntent: boolean;
  /** `server/tool` of every result any of the values was seen in, sorted. */
  sources: string[];
  /** Labels of those results (with `untrusted` for a result that inspection marked). */
  labels: FlowLabel[];
}

/** What the audit log records about a session's flow: labels and counts, never values. */
export interface FlowSnapshot {
  touched: FlowLabel[];
  results: number;
  calls: number;
  /** Results that inspection marked as untrusted. */
  flaggedResults: number;
  /** Values remembered now. */
  values: number;
  /** Remembered values that are tainted now. */
  taintedValues: number;
  evictedValues: number;
  /** False once an untrusted value was forgotten or an untrusted result not read in full. */
  memoryComplete: boolean;
  intent: { declared: boolean; values: number };
}

export interface RecordedResult {
  /** The result counted as untrusted (by label or by inspection). */
  untrustedMarked: boolean;
  inspection: ResultInspection;
  /** Distinct values taken from the result. */
  values: number;
  /** A limit stopped reading the result: some of its values were not remembered. */
  truncated: boolean;
}

export interface SessionFlowOptions {
  /** Values remembered per session, intent values not counted (default 10,000). */
  maxValues?: number;
}

export const DEFAULT_MAX_VALUES = 10_000;
const MAX_INTENT_KEYS = 32_768;
const MAX_SOURCES_PER_VALUE = 8;
const MAX_SOURCE_NAMES = 1024;
const MAX_SOURCE_NAME_LENGTH = 256;
const OTHER_SOURCES = '(other sources)';

interface Entry {
  /** Sequence number of the first untrusted result that held the value; 0: none. */
  firstUntrusted: number;
  /** Sequence number of the first trusted result that held the value; 0: none. */
  firstTrusted: number;
  /** Bit i set: seen in a result labelled `FLOW_LABELS[i]`. */
  labels: number;
  sources: number[];
}

const UNTRUSTED_BIT = 1 << FLOW_LABELS.indexOf('untrusted');

export class SessionFlow {
  private readonly maxValues: number;
  private readonly touched = new Set<FlowLabel>();
  private intentKeys: ReadonlySet<string> = new Set();
  private intentDeclared = false;
  // INVARIANT: Map order is recency order (a sighting moves a value to the end), so the first key
  // is always the one to forget.
  private readonly memory = new Map<string, Entry>();
  private readonly sourceNames: string[] = [];
  private readonly sourceIds = new Map<string, number>();
  private results = 0;
  private calls = 0;
  private flagged = 0;
  private evicted = 0;
  private taintedCount = 0;
  // INVARIANT: once false, never true again for this session.
  private complete = true;

  constructor(options: SessionFlowOptions = {}) {
    const max = options.maxValues ?? DEFAULT_MAX_VALUES;
    if (!Number.isInteger(max) || max < 1 || max > 1_000_000) {
      throw new ConfigError(`flow memory must hold 1 to 1000000 values, not ${max}`);
    }
    this.maxValues = max;
  }

  /**
   * Record the human's task, once, before the session calls any tool. Refusing a late declaration
   * is what keeps the intent the human's: after a tool result, what the agent would declare could
   * already come from that result.
   */
  declareIntent(intent: Intent): void {
    if (this.intentDeclared) {
      throw new FlowError('intent_already_declared', 'the session has already declared its intent');
    }
    if (this.results > 0 || this.calls > 0) {
      throw new FlowError('intent_too_late', 'the intent must be declared before the first tool call');
    }
    const parsed = parseIntent(intent);
    const found = new CandidateSet(MAX_INTENT_KEYS);
    for (const v of parsed.values ?? []) extractText(v, found);
    if (parsed.text !== undefined) extractIntentText(parsed.text, found);
    this.intentKeys = found.keys;
    this.intentDeclared = true;
  }

  /** A call was allowed and forwarded: its `egress` and `consequential` labels are now touched. */
  recordCall(labels: readonly FlowLabel[]): void {
    this.calls++;
    for (const l of labels) if (l === 'egress' || l === 'consequential') this.touched.add(l);
  }

  /**
   * A tool returned `result` (pass what is forwarded to the agent, after any redaction). Its
   * `private` label, and `untrusted` when the result counts as untrusted, are now touched; every
   * value in it is remembered with its source. `inspection` saves inspecting the result twice
   * when the caller already has it.
   */
  recordResult(
    source: { server: string; tool: string },
    labels: readonly FlowLabel[],
    result: unknown,
    inspection?: ResultInspection,
    options: { trustNames?: boolean } = {},
  ): RecordedResult {
    const collected = collectResultText(result);
    const inspected = inspection ?? inspectTexts(collected);
    const marked = inspectionMarksUntrusted(inspected);
    const untrusted = labels.includes('untrusted') || marked;
    const trusted = !untrusted && labels.includes('private');
    const seq = ++this.results;
    if (marked) this.flagged++;
    if (labels.includes('private')) this.touched.add('private');
    if (untrusted) this.touched.add('untrusted');

    const found = new CandidateSet(this.maxValues);
    for (const text of collected.texts) extractText(text, found);
    const truncated = collected.truncated || found.truncated;
    if (truncated && untrusted) this.complete = false;

    let mask = untrusted ? UNTRUSTED_BIT : 0;
    for (const l of labels) {
      const bit = FLOW_LABELS.indexOf(l);
      if (bit >= 0) mask |= 1 << bit;
    }
    // A tool configured with `trustNames` vouches for the whole short names in its results (its
    // own ids and names), unless inspection found instructions or hidden text in the result.
    const names = new Set<string>();
    if (options.trustNames === true && !trusted && !marked && !truncated)
      // Object keys are the result's structure, not names the service assigned: never vouched.
      collected.texts.forEach((text, i) => {
        if (!collected.keys.has(i)) nameKeys(text, names);
      });
    const src = this.sourceId(`${source.server}/${source.tool}`);
    for (const key of found.keys) this.remember(key, seq, untrusted, trusted || names.has(key), mask, src);
    return { untrustedMarked: untrusted, inspection: inspected, values: found.keys.size, truncated };
  }

  /**
   * For each sensitive argument (a name or a JSON Pointer), the values it holds and where they
   * came from. An argument with more values than are checked counts as tainted. Arguments in
   * `textArgs` are free text: only the addresses inside them (URLs, e-mails, IBANs, long
   * numbers) are looked up, so that a sentence the agent wrote is not judged by its words; one
   * without addresses is neither tainted nor in the intent.
   */
  argumentProvenance(
    args: unknown,
    sensitiveArgs: readonly string[],
    textArgs: readonly string[] = [],
  ): ArgumentProvenance[] {
    const text = new Set(textArgs);
    return [...sensitiveArgs, ...textArgs.filter((a) => !sensitiveArgs.includes(a))].map((arg) => {
      const textOnly = text.has(arg) && !sensitiveArgs.includes(arg);
      const { values, overflow } = valuesAt(args, requireArgPath(arg));
      const unique = [...new Set(values)];
      let tainted = overflow;
      let inIntent = unique.length > 0 && !overflow;
      const sources = new Set<number>();
      let labels = 0;
      for (const value of unique) {
        const c = leafCandidates(value);
        const primary = textOnly ? c.primary.filter((k) => k !== c.whole) : c.primary;
        const secondary = textOnly ? c.secondary.filter((k) => k !== c.whole) : c.secondary;
        for (const key of [...primary, ...secondary]) {
          const e = this.memory.get(key);
          if (!e) continue;
          if (this.isTainted(key, e)) tainted = true;
          for (const s of e.sources) sources.add(s);
          labels |= e.labels;
        }
        // Memory that lost untrusted values cannot tell a forgotten tainted value from a new one.
        if (!this.complete && primary.some((k) => !this.memory.has(k) && !this.intentKeys.has(k)))
          tainted = true;
        const wholeInIntent = !textOnly && c.whole !== undefined && this.intentKeys.has(c.whole);
        const tokensInIntent = primary.length > 0 && primary.every((k) => this.intentKeys.has(k));
        if (!wholeInIntent && !tokensInIntent) inIntent = false;
      }
      return {
        arg,
        values: unique,
        tainted,
        inIntent,
        sources: [...sources].map((s) => this.sourceNames[s] ?? OTHER_SOURCES).sort(),
        labels: FLOW_LABELS.filter((_, i) => (labels & (1 << i)) !== 0),
      };
    });
  }

  /**
   * The Cedar context record of a call to a tool with `toolFlow`, as the session stands before the
   * call is made. Only `sensitiveArgs` and `sensitiveText` are read here: the tool's own labels reach Cedar as
   * attributes of the Tool resource, and become touched by `recordCall` once the call goes out.
   */
  facts(toolFlow: ToolFlowConfig, args: unknown): FlowFacts {
    const provenance = this.argumentProvenance(args, toolFlow.sensitiveArgs, toolFlow.sensitiveText);
    const touched = sortLabels(this.touched);
    return {
      touched,
      private_seen: this.touched.has('private'),
      untrusted_seen: this.touched.has('untrusted'),
      tainted_args: provenance.filter((p) => p.tainted).map((p) => p.arg),
      intent_args: provenance.filter((p) => p.inIntent).map((p) => p.arg),
    };
  }

  snapshot(): FlowSnapshot {
    return {
      touched: sortLabels(this.touched),
      results: this.results,
      calls: this.calls,
      flaggedResults: this.flagged,
      values: this.memory.size,
      taintedValues: this.taintedCount,
      evictedValues: this.evicted,
      memoryComplete: this.complete,
      intent: { declared: this.intentDeclared, values: this.intentKeys.size },
    };
  }

  private isTainted(key: string, e: Entry): boolean {
    if (e.firstUntrusted === 0 || this.intentKeys.has(key)) return false;
    return e.firstTrusted === 0 || e.firstTrusted > e.firstUntrusted;
  }

  private remember(
    key: string,
    seq: number,
    untrusted: boolean,
    trusted: boolean,
    mask: number,
    src: number,
  ): void {
    let e = this.memory.get(key);
    const wasTainted = e !== undefined && this.isTainted(key, e);
    if (e) this.memory.delete(key);
    else e = { firstUntrusted: 0, firstTrusted: 0, labels: 0, sources: [] };
    if (untrusted && e.firstUntrusted === 0) e.firstUntrusted = seq;
    if (trusted && e.firstTrusted === 0) e.firstTrusted = seq;
    e.labels |= mask;
    if (!e.sources.includes(src) && e.sources.length < MAX_SOURCES_PER_VALUE) e.sources.push(src);
    this.memory.set(key, e);
    this.taintedCount += (this.isTainted(key, e) ? 1 : 0) - (wasTainted ? 1 : 0);
    while (this.memory.size > this.maxValues) this.evictOldest();
  }

  private evictOldest(): void {
    const oldest = this.memory.entries().next();
    if (oldest.done === true) return;
    const [key, e] = oldest.value;
    this.memory.delete(key);
    this.evicted++;
    if (this.isTainted(key, e)) this.taintedCount--;
    if (e.firstUntrusted !== 0 && !this.intentKeys.has(key)) this.complete = false;
  }

  private sourceId(name: string): number {
    const bounded = name.length > MAX_SOURCE_NAME_LENGTH ? name.slice(0, MAX_SOURCE_NAME_LENGTH) : name;
    const known = this.sourceIds.get(bounded);
    if (known !== undefined) return known;
    // The last slot is kept for the catch-all name.
    if (this.sourceNames.length >= MAX_SOURCE_NAMES - 1 && bounded !== OTHER_SOURCES) {
      return this.sourceId(OTHER_SOURCES);
    }
    this.sourceNames.push(bounded);
    this.sourceIds.set(bounded, this.sourceNames.length - 1);
    return this.sourceNames.length - 1;
  }
}
