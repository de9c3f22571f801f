// One decision: a request evaluated against a loaded, preparsed policy set.
//
// Semantics (on top of Cedar's default deny and forbid-overrides-permit):
// - a forbid annotated `@approval("why")` means "only with a human's approval": when a request is
//   denied and every determining policy is such a forbid, and the set without those forbids would
//   allow it, the effect is `approval`; any other forbid among the determining ones makes it `deny`;
// - a policy that errors during evaluation counts as absent and its error is recorded (Cedar);
// - anything that stops the request from being evaluated (a malformed request, an unknown action,
//   an engine failure) is a deny with the error recorded. Nothing here throws.

import {
  isAuthorizedPartial,
  statefulIsAuthorized,
  type AuthorizationAnswer,
  type CedarValueJson,
  type DetailedError,
} from '@cedar-policy/cedar-wasm/nodejs';
import { q } from '../errors.js';
import { pruneRequest } from './attribute-use.js';
import type { EvaluationCache } from './evaluation-cache.js';
import type { LoadedPolicySet } from './load.js';
import { toCedarRequest, toCedarScope, type CedarRequest, type DecisionRequest } from './request.js';
import type { SchemaModel } from './schema.js';

export type Effect = 'allow' | 'deny' | 'approval';

export interface Decision {
  effect: Effect;
  /** The determining policies' ids (for `approval`, the approval forbids). */
  policies: string[];
  /** `@reason` / `@approval` texts of the determining policies, or a generic text. */
  reasons: string[];
  /** Policies that errored (and so counted as absent), or why the request could not be evaluated. */
  errors: string[];
  /** SHA-256 of the policy set that decided; empty when none was loaded. */
  policySetHash: string;
  /** Wall time of the decision in microseconds. */
  elapsedUs: number;
}

/** A policy set and the schema it was validated against: they are swapped together. */
export interface PolicyState {
  readonly set: LoadedPolicySet;
  readonly model: SchemaModel;
}

const NOT_EVALUATED = 'the request could not be evaluated';

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function engineErrors(errors: readonly DetailedError[]): string[] {
  return errors.length === 0 ? ['policy engine failure'] : errors.map((e) => oneLine(e.message));
}

function errorText(err: unknown): string {
  return err instanceof Error ? oneLine(err.message) : `unexpected error: ${String(err)}`;
}

/** A deny that did not come from policy: the request, or the engine, failed. */
export function failedDecision(error: string, policySetHash: string): Omit<Decision, 'elapsedUs'> {
  return { effect: 'deny', policies: [], reasons: [NOT_EVALUATED], errors: [error], policySetHash };
}

/** One evaluation a decision needs: a request against one preparsed policy set. */
export interface Evaluation {
  /** The preparsed set's id (content-addressed: the same id always means the same policies). */
  preparsedId: string;
  /** Its policies, id → text, for an evaluator that has not preparsed it yet (another thread). */
  policies: () => Record<string, string>;
  call: CedarRequest;
}

function evaluate(e: Evaluation): AuthorizationAnswer {
  return statefulIsAuthorized({ ...e.call, preparsedPolicySetId: e.preparsedId });
}

function resourceLabel(req: DecisionRequest): string {
  const r = req.resource as Partial<DecisionRequest['resource']> | undefined;
  return `${String(r?.type)} ${String(r?.id)}`;
}

type Steps = Generator<Evaluation, Omit<Decision, 'elapsedUs'>, AuthorizationAnswer>;

/**
 * The decision as a sequence of evaluations: it yields each one it needs (one, or two on the rare
 * approval path) and is given the answer back. An evaluator that throws is thrown into it and
 * becomes a failed decision like any other error.
 */
function* decideSteps(state: PolicyState | undefined, req: DecisionRequest, nowMs: number): Steps {
  if (!state) return failedDecision('no valid policy set is loaded', '');
  const { set, model } = state;
  try {
    // Only what some policy can read goes to Cedar (attribute-use.ts): same decision, less to convert.
    const call = pruneRequest(toCedarRequest(model, req, nowMs), set.attributeUse);
    const answer = yield {
      preparsedId: set.preparsedId,
      policies: () => Object.fromEntries(set.policies.map((p) => [p.id, p.text])),
      call,
    };
    if (answer.type === 'failure') {
      return { ...failedDecision('', set.hash), errors: engineErrors(answer.errors) };
    }
    const { decision, diagnostics } = answer.response;
    const errors = diagnostics.errors.map((e) => `policy ${q(e.policyId)}: ${oneLine(e.error.message)}`);
    // In the set's order: Cedar's own order of the reasons is not stable (a hash set's), and the
    // same decision should read the same whichever thread evaluated it.
    const reasons = new Set(diagnostics.reason);
    const determining = set.policies.filter((p) => reasons.has(p.id));
    if (decision === 'allow') {
      return {
        effect: 'allow',
        policies: determining.map((p) => p.id),
        reasons: determining.map((p) => p.reason ?? `permitted by policy ${q(p.id)}`),
        errors,
        policySetHash: set.hash,
      };
    }
    const noPermit = {
      effect: 'deny' as const,
      policies: [],
      reasons: [`no policy permits ${q(req.action)} on ${q(resourceLabel(req))}`],
      errors,
      policySetHash: set.hash,
    };
    if (determining.length === 0) return noPermit;
    const hard = determining.filter((p) => p.approval === undefined);
    const approvals = determining.filter((p) => p.approval !== undefined);
    if (hard.length > 0) {
      return {
        effect: 'deny',
        policies: [...hard, ...approvals].map((p) => p.id),
        reasons: [
          ...hard.map((p) => p.reason ?? `forbidden by policy ${q(p.id)}`),
          ...approvals.map((p) => p.approval || `policy ${q(p.id)} requires a human's approval`),
        ],
        errors,
        policySetHash: set.hash,
      };
    }
    // Only approval forbids stand in the way. A human can lift those, but only if some permit
    // applies: evaluate again without them (this path is rare, so the second call is cheap overall).
    if (set.withoutApprovalId === undefined) return noPermit;
    const again = yield {
      preparsedId: set.withoutApprovalId,
      policies: () => ({ ...set.withoutApprovalPolicies }),
      call,
    };
    if (again.type === 'failure') {
      return { ...failedDecision('', set.hash), errors: [...errors, ...engineErrors(again.errors)] };
    }
    const moreErrors = again.response.diagnostics.errors
      .map((e) => `policy ${q(e.policyId)}: ${oneLine(e.error.message)}`)
      .filter((e) => !errors.includes(e));
    if (again.response.decision !== 'allow') return { ...noPermit, errors: [...errors, ...moreErrors] };
    return {
      effect: 'approval',
      policies: approvals.map((p) => p.id),
      reasons: approvals.map((p) => p.approval || `policy ${q(p.id)} requires a human's approval`),
      errors: [...errors, ...moreErrors],
      policySetHash: set.hash,
    };
  } catch (err) {
    return failedDecision(errorText(err), set.hash);
  }
}

/** The cache's key for an evaluation (none when it must not be remembered) and its answer, if held. */
function remembered(
  cache: EvaluationCache | undefined,
  e: Evaluation,
): { key: string | undefined; known: AuthorizationAnswer | undefined } {
  const key = cache?.key(e.preparsedId, e.call);
  return { key, known: key === undefined ? undefined : cache?.get(key) };
}

/**
 * Decide one request. Never throws: a failure is a deny with the error in `errors`. With a cache,
 * an evaluation it holds is not made again (evaluation-cache.ts).
 */
export function decideWith(
  state: PolicyState | undefined,
  req: DecisionRequest,
  nowMs: number,
  cache?: EvaluationCache,
): Omit<Decision, 'elapsedUs'> {
  const steps = decideSteps(state, req, nowMs);
  let step = steps.next();
  while (!step.done) {
    const { key, known } = remembered(cache, step.value);
    if (known) {
      step = steps.next(known);
      continue;
    }
    let answer: AuthorizationAnswer;
    try {
      answer = evaluate(step.value);
    } catch (err) {
      step = steps.throw(err);
      continue;
    }
    if (key !== undefined) cache?.set(key, answer);
    step = steps.next(answer);
  }
  return step.value;
}

/**
 * decideWith, with the evaluations made by `evaluate` (another thread). The same steps, so the
 * same decision; an evaluator that fails makes it a deny with the error. An evaluation the cache
 * holds does not go to the other thread.
 */
export async function decideWithAsync(
  state: PolicyState | undefined,
  req: DecisionRequest,
  nowMs: number,
  evaluateElsewhere: (e: Evaluation) => Promise<AuthorizationAnswer>,
  cache?: EvaluationCache,
): Promise<Omit<Decision, 'elapsedUs'>> {
  const steps = decideSteps(state, req, nowMs);
  let step = steps.next();
  while (!step.done) {
    const { key, known } = remembered(cache, step.value);
    if (known) {
      step = steps.next(known);
      continue;
    }
    let answer: AuthorizationAnswer;
    try {
      answer = await evaluateElsewhere(step.value);
    } catch (err) {
      step = steps.throw(err);
      continue;
    }
    if (key !== undefined) cache?.set(key, answer);
    step = steps.next(answer);
  }
  return step.value;
}

const UNKNOWN = (name: string): CedarValueJson => ({ __extn: { fn: 'unknown', arg: name } });

/**
 * Could some context make this request allowed, possibly after a human's approval? For listings
 * (which tools to show an agent): Cedar's partial evaluation with the whole context unknown, over
 * the set without its approval forbids. Parses the policies on every call (~ms): cache per
 * principal and tool. Never throws; anything that fails answers false.
 */
export function couldAllowWith(
  state: PolicyState | undefined,
  req: Omit<DecisionRequest, 'context'>,
): boolean {
  if (!state) return false;
  try {
    const { spec, ...scope } = toCedarScope(state.model, req);
    const context: Record<string, CedarValueJson> =
      spec.context === 'agent'
        ? {
            arguments: UNKNOWN('arguments'),
            flow: UNKNOWN('flow'),
            grant: UNKNOWN('grant'),
            delegation_depth: UNKNOWN('delegation_depth'),
            time: UNKNOWN('time'),
          }
        : { time: UNKNOWN('time') };
    const answer = isAuthorizedPartial({
      ...scope,
      context,
      policies: { staticPolicies: state.set.withoutApprovalPolicies },
    });
    return answer.type === 'residuals' && answer.response.decision !== 'deny';
  } catch {
    return false;
  }
}
