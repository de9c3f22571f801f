// Errors of the transparency-log verification library. An auditor matches on `code`; every
// malformed or hostile input ends in one of these, never in a stray TypeError.

import { WardenError, q } from '../../errors.js';

export type AuditVerifyErrorCode =
  // the caller passed something this library cannot work with (a negative size, a 31-byte hash)
  | 'argument_invalid'
  // a HashReader returned something that is not a 32-byte hash
  | 'hash_invalid'
  // a proof that cannot be a proof: a hash of the wrong length, a size that is not an integer
  | 'proof_malformed'
  // a well-formed proof that does not lead to the root (or an index outside the tree)
  | 'proof_invalid'
  | 'key_invalid'
  | 'note_malformed'
  // a known key's signature on the note does not verify
  | 'signature_invalid'
  // no signature from a trusted key verified
  | 'note_unverified'
  | 'checkpoint_malformed'
  // the bundle's JSON does not follow warden-evidence/v1
  | 'evidence_malformed'
  // the bundle is well formed but contradicts itself or the caller's expectations
  | 'evidence_invalid'
  | 'cosignatures_insufficient';

export class AuditVerifyError extends WardenError {
  declare readonly code: AuditVerifyErrorCode;
  constructor(code: AuditVerifyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Quote a value of unknown type for a message: q() for strings and numbers, the type otherwise
 * (q() would call JSON.stringify, which throws on a bigint or a cycle).
 */
export function show(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? q(value) : `a ${typeof value}`;
}
