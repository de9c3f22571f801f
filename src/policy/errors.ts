// Errors of the policy domain. A refused policy set, schema or request is a thrown PolicyError;
// a denied request is not an error at all but a Decision (see decide.ts).

import { WardenError } from '../errors.js';

export type PolicyErrorCode =
  /** A policy file does not parse, does not validate against the schema, or clashes with another. */
  | 'policy_invalid'
  /** The Cedar schema (base or generated from tool definitions) is refused. */
  | 'schema_invalid'
  /** A tool call's arguments do not match the types generated from the tool's input schema. */
  | 'arguments_invalid'
  /** A decision request is malformed: a missing or mistyped field, an unknown action. */
  | 'request_invalid';

export class PolicyError extends WardenError {
  declare readonly code: PolicyErrorCode;
  /** Every problem found, one line each; `message` is the first (and says how many more). */
  readonly details: readonly string[];

  constructor(
    code: PolicyErrorCode,
    message: string,
    options?: { cause?: unknown; details?: readonly string[] },
  ) {
    super(code, message, options);
    this.details = options?.details ?? [message];
  }
}

/** One error for a list of problems: the first in the message, all of them in `details`. */
export function policyErrors(code: PolicyErrorCode, problems: readonly string[]): PolicyError {
  const first = problems[0] ?? 'unknown problem';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return new PolicyError(code, `${first}${more}`, { details: problems });
}
