// The one error base class of Warden. Every failure carries a stable string `code` that callers
// and tests match on; messages are lowercase, one line, with user input in backticks.

export type WardenErrorCode =
  // configuration and data directory
  | 'config_invalid'
  | 'config_not_found'
  | 'data_dir_invalid'
  | 'key_file_invalid'
  // registry
  | 'not_found'
  | 'already_exists'
  | 'invalid_argument'
  | 'conflict'
  | 'forbidden'
  // tokens and proofs (see identity/errors.ts for the finer codes)
  | 'token_invalid'
  | 'dpop_invalid'
  | 'revoked'
  | 'oauth_error'
  // infrastructure
  | 'store_error'
  | 'audit_unavailable'
  | 'audit_entry_invalid'
  | 'audit_log_invalid'
  // containment
  | 'sandbox_unavailable'
  | 'sandbox_limit'
  | 'path_refused'
  // supply chain: scanning, signatures, loading
  | 'scan_refused'
  | 'signature_invalid'
  | 'signature_untrusted'
  | 'bundle_invalid'
  | 'skill_invalid'
  | 'internal';

export class WardenError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class ConfigError extends WardenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config_invalid', message, options);
  }
}

/** A request to the registry that cannot be carried out as asked. */
export class RegistryError extends WardenError {
  constructor(
    code: 'not_found' | 'already_exists' | 'invalid_argument' | 'conflict' | 'forbidden',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export class StoreError extends WardenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_error', message, options);
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL_OR_BACKTICK = /[\u0000-\u001f\u007f`]/g;

/** Quote user-supplied text for an error message: backticks, control characters escaped, bounded. */
export function q(value: unknown): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const bounded = s.length > 120 ? `${s.slice(0, 117)}...` : s;
  // Control characters would let a value forge extra lines in logs and terminals.
  const escaped = bounded.replace(
    CONTROL_OR_BACKTICK,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return '`' + escaped + '`';
}
