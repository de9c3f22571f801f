// Errors of session flow tracking. A refusal of a tool call is a value (the Cedar decision over
// `SessionFlow.facts`); these are thrown only when an input to flow tracking itself is unusable.

import { WardenError } from '../errors.js';

export type FlowErrorCode =
  /** The intent payload does not match `IntentSchema`. */
  | 'intent_invalid'
  /** A session declares its intent once. */
  | 'intent_already_declared'
  /** The intent must be declared before the session has called a tool or seen a result. */
  | 'intent_too_late'
  /** A sensitive-argument spec is neither an argument name nor an RFC 6901 JSON Pointer. */
  | 'sensitive_arg_invalid';

export class FlowError extends WardenError {
  declare readonly code: FlowErrorCode;
  constructor(code: FlowErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
