// The policy engine the gateway asks on every request: one preparsed policy set at a time,
// replaced only by a set that loads cleanly, and a decide() that never throws.
//
// INVARIANT: the policy set and the schema it was validated against are swapped together, in one
// assignment, and only after the new pair has loaded and preparsed; a refused set leaves the
// running one in place and is reported through `lastError` and the reload's result.

import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  couldAllowWith,
  decideWith,
  decideWithAsync,
  failedDecision,
  type Decision,
  type PolicyState,
} from './decide.js';
import { PolicyError } from './errors.js';
import { EvaluationCache } from './evaluation-cache.js';
import { loadPolicyDir, type LoadedPolicySet } from './load.js';
import { toCedarRequest, type DecisionRequest } from './request.js';
import { compileSchema, type ToolSchemaInput } from './schema.js';
import { EvaluationThread } from './thread.js';

export interface PolicyEngineOptions {
  /** The directory of `*.cedar` files (not its subdirectories). */
  dir: string;
  /** Tools that get a typed per-tool action `call:<server>/<tool>` (the pinned definitions). */
  tools?: readonly ToolSchemaInput[];
  /** Milliseconds since the epoch, for `context.time` when a request gives none; tests move it. */
  now?: () => number;
}

export type ReloadResult =
  | { ok: true; hash: string; policies: number; warnings: readonly string[] }
  | { ok: false; error: PolicyError };

export interface WatchOptions {
  /** Quiet time after the last change before reloading (an editor saves in several steps). */
  debounceMs?: number;
  /** Called after every reload the watcher triggers, with its result. */
  onReload?: (result: ReloadResult) => void;
}

export interface PolicyWatcher {
  close(): void;
}

function asPolicyError(err: unknown): PolicyError {
  if (err instanceof PolicyError) return err;
  return new PolicyError(
    'policy_invalid',
    `policies cannot be loaded: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

export class PolicyEngine {
  readonly dir: string;
  #tools: readonly ToolSchemaInput[];
  #state: PolicyState | undefined;
  #lastError: PolicyError | undefined;
  #thread: EvaluationThread | undefined;
  readonly #now: () => number;
  /** Cedar's answers by request; keyed by the set's content-addressed id, so a reload needs no purge. */
  readonly #answers = new EvaluationCache();

  /** An engine with no policy set yet: every decision is a deny until reload() succeeds. */
  constructor(options: PolicyEngineOptions) {
    this.dir = options.dir;
    this.#tools = options.tools ?? [];
    this.#now = options.now ?? Date.now;
  }

  /** An engine with its directory loaded; throws the PolicyError when the set is refused. */
  static load(options: PolicyEngineOptions): PolicyEngine {
    const engine = new PolicyEngine(options);
    const r = engine.reload();
    if (!r.ok) throw r.error;
    return engine;
  }

  /** The set in force, if any. */
  get policySet(): LoadedPolicySet | undefined {
    return this.#state?.set;
  }

  /** The Cedar schema text the set in force was validated against. */
  get schemaText(): string | undefined {
    return this.#state?.model.text;
  }

  /** Why the last load was refused; undefined after a successful one. */
  get lastError(): PolicyError | undefined {
    return this.#lastError;
  }

  #install(tools: readonly ToolSchemaInput[]): ReloadResult {
    try {
      const model = tools === this.#tools && this.#state ? this.#state.model : compileSchema(tools);
      const set = loadPolicyDir(this.dir, model.text);
      this.#state = { set, model };
      this.#tools = tools;
      this.#lastError = undefined;
      return { ok: true, hash: set.hash, policies: set.policies.length, warnings: set.warnings };
    } catch (err) {
      const error = asPolicyError(err);
      this.#lastError = error;
      return { ok: false, error };
    }
  }

  /** Load the directory again; a refused set leaves the one in force unchanged. */
  reload(): ReloadResult {
    return this.#install(this.#tools);
  }

  /**
   * Replace the tools the schema types (after a pin change) and revalidate the policies against
   * the new schema. Refused, keeping the old schema and set, if a policy no longer validates
   * (for example it names a tool that is gone).
   */
  setTools(tools: readonly ToolSchemaInput[]): ReloadResult {
    return this.#install([...tools]);
  }

  /** Reload when a file in the directory changes (debounced). The watcher does not keep Node alive. */
  watch(options: WatchOptions = {}): PolicyWatcher {
    const debounceMs = options.debounceMs ?? 100;
    let timer: NodeJS.Timeout | undefined;
    const fire = () => {
      timer = undefined;
      const r = this.reload();
      options.onReload?.(r);
    };
    const watcher: FSWatcher = fsWatch(this.dir, { persistent: false }, () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(fire, debounceMs);
      timer.unref();
    });
    watcher.on('error', (err) => {
      // The directory went away or became unreadable: keep deciding with the set in force.
      this.#lastError = asPolicyError(err);
      options.onReload?.({ ok: false, error: this.#lastError });
    });
    return {
      close: () => {
        if (timer) clearTimeout(timer);
        watcher.close();
      },
    };
  }

  /** Decide one request. Never throws: a malformed request or an engine failure is a deny with errors. */
  decide(req: DecisionRequest): Decision {
    const start = performance.now();
    let d: Omit<Decision, 'elapsedUs'>;
    try {
      d = decideWith(this.#state, req, this.#now(), this.#answers);
    } catch (err) {
      d = failedDecision(err instanceof Error ? err.message : String(err), this.#state?.set.hash ?? '');
    }
    return { ...d, elapsedUs: Math.round((performance.now() - start) * 10_000) / 10 };
  }

  /**
   * From now on, decideAsync() evaluates on a thread of its own (the gateway: its event loop is its
   * bottleneck, and Cedar's evaluation most of a decision's cost). decide() is unaffected.
   */
  startThread(): void {
    this.#thread ??= new EvaluationThread();
  }

  /** Stop the evaluation thread, if any; decideAsync() then decides on the calling thread. */
  async stopThread(): Promise<void> {
    const thread = this.#thread;
    this.#thread = undefined;
    await thread?.close();
  }

  /**
   * decide(), with Cedar's evaluation on the engine's thread when it has one. The same steps and
   * so the same decision; never rejects: a thread that fails makes the decision a deny with errors.
   */
  async decideAsync(req: DecisionRequest): Promise<Decision> {
    const thread = this.#thread;
    if (!thread) return this.decide(req);
    const start = performance.now();
    const state = this.#state;
    let d: Omit<Decision, 'elapsedUs'>;
    try {
      d = await decideWithAsync(state, req, this.#now(), (e) => thread.evaluate(e), this.#answers);
    } catch (err) {
      d = failedDecision(err instanceof Error ? err.message : String(err), state?.set.hash ?? '');
    }
    return { ...d, elapsedUs: Math.round((performance.now() - start) * 10_000) / 10 };
  }

  /**
   * Throw the PolicyError that decide() would record as a deny for this request, if any: for tools
   * (`warden policy test`) that must tell a malformed request from a denied one.
   */
  checkRequest(req: DecisionRequest): void {
    if (!this.#state) throw new PolicyError('policy_invalid', 'no valid policy set is loaded');
    toCedarRequest(this.#state.model, req, this.#now());
  }

  /** Could some context allow this request, possibly with a human's approval (for listings)? */
  couldAllow(req: Omit<DecisionRequest, 'context'>): boolean {
    return couldAllowWith(this.#state, req);
  }
}
