// Offline evidence bundles (warden-evidence/v1): one log entry, its inclusion proof, and the signed
// checkpoint the proof leads to. An auditor checks a bundle with nothing but the log's public key:
// parseEvidence turns the JSON into bytes and numbers, verifyEvidence checks the checkpoint's
// signatures against keys the auditor supplies, then the proof against the checkpoint's root.
// The bundle's own `verifier_key` is only a hint for humans: trusting it would let whoever wrote
// the bundle pick the key that vouches for it.

import { Buffer } from 'node:buffer';
import { z } from 'zod';
import { q } from '../../errors.js';
import { parseCheckpoint } from './checkpoint.js';
import { AuditVerifyError } from './errors.js';
import { HASH_SIZE, leafHash, verifyInclusion } from './merkle.js';
import { decodeBase64, openNote, parseVerifierKey, type NoteVerifierKey } from './note.js';

export const EVIDENCE_FORMAT = 'warden-evidence/v1';

/** Entries are audit events, a few kilobytes; far larger ones are refused before decoding. */
export const EVIDENCE_ENTRY_MAX_BYTES = 1 << 20;
// A checkpoint with the most signatures a note may carry, each post-quantum, stays well below this.
const CHECKPOINT_MAX_CHARS = 1 << 20;
// A tree of 2^53 leaves has proofs of at most 53 hashes.
const PROOF_MAX_HASHES = 64;

const base64 = (what: string) =>
  z.string().refine((s) => decodeBase64(s, true) !== undefined, `${what} must be canonical base64`);

/** The wire format, defined once; `.strict()` because a bundle comes from anyone. */
export const EvidenceSchema = z
  .object({
    format: z.literal(EVIDENCE_FORMAT),
    entry: base64('the entry').refine(
      (s) => s.length <= Math.ceil(EVIDENCE_ENTRY_MAX_BYTES / 3) * 4,
      `the entry must be at most ${EVIDENCE_ENTRY_MAX_BYTES} bytes`,
    ),
    index: z.number().int().nonnegative(),
    size: z.number().int().positive(),
    inclusion_proof: z
      .array(
        base64('a proof hash').refine(
          (s) => decodeBase64(s)?.length === HASH_SIZE,
          `a proof hash must be ${HASH_SIZE} bytes`,
        ),
      )
      .max(PROOF_MAX_HASHES),
    checkpoint: z.string().max(CHECKPOINT_MAX_CHARS),
    verifier_key: z.string().max(8192),
    cosignatures_required: z.number().int().nonnegative().max(100).optional(),
  })
  .strict();

export type EvidenceJson = z.infer<typeof EvidenceSchema>;

/** A parsed bundle: fields decoded, nothing verified yet. */
export interface EvidenceBundle {
  readonly entry: Buffer;
  readonly index: number;
  readonly size: number;
  readonly inclusionProof: readonly Buffer[];
  /** The signed checkpoint note, as carried. */
  readonly checkpoint: string;
  /** Informative only; never used to verify. */
  readonly verifierKey: string;
  /** The writer's own minimum; it can raise the caller's minimum, never lower it. */
  readonly cosignaturesRequired: number;
}

export interface EvidenceOptions {
  /** The log's verifier keys, from the auditor's own configuration: one must sign the checkpoint. */
  readonly keys: readonly string[];
  /** Witness keys (cosignature/v1) whose cosignatures count. */
  readonly witnessKeys?: readonly string[];
  /** How many distinct trusted witnesses must have cosigned the checkpoint. Default 0. */
  readonly minCosignatures?: number;
  /** When given, the checkpoint's origin line must equal it. */
  readonly origin?: string;
}

export interface VerifiedEvidence {
  readonly entry: Buffer;
  readonly index: number;
  readonly size: number;
  readonly root: Buffer;
  readonly origin: string;
  /** Names of the trusted witnesses whose cosignatures verified. */
  readonly cosigners: readonly string[];
}

/**
 * Parse a bundle: its JSON value, or its JSON text. Every problem is `evidence_malformed` naming
 * the field.
 */
export function parseEvidence(json: unknown): EvidenceBundle {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json) as unknown;
    } catch (err) {
      throw new AuditVerifyError('evidence_malformed', 'the evidence bundle is not json', { cause: err });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuditVerifyError('evidence_malformed', 'the evidence bundle is not a json object');
  }
  const parsed = EvidenceSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
    const message = issue ? issue.message.charAt(0).toLowerCase() + issue.message.slice(1) : 'invalid';
    throw new AuditVerifyError('evidence_malformed', `the evidence bundle is malformed: ${path}${message}`, {
      cause: parsed.error,
    });
  }
  const b = parsed.data;
  return {
    entry: Buffer.from(b.entry, 'base64'),
    index: b.index,
    size: b.size,
    inclusionProof: b.inclusion_proof.map((h) => Buffer.from(h, 'base64')),
    checkpoint: b.checkpoint,
    verifierKey: b.verifier_key,
    cosignaturesRequired: b.cosignatures_required ?? 0,
  };
}

/** The JSON value of a bundle, as a log writes it. */
export function formatEvidence(bundle: {
  readonly entry: Uint8Array;
  readonly index: number;
  readonly size: number;
  readonly inclusionProof: readonly Uint8Array[];
  readonly checkpoint: string;
  readonly verifierKey: string;
  readonly cosignaturesRequired?: number;
}): EvidenceJson {
  const json: EvidenceJson = {
    format: EVIDENCE_FORMAT,
    entry: Buffer.from(bundle.entry).toString('base64'),
    index: bundle.index,
    size: bundle.size,
    inclusion_proof: bundle.inclusionProof.map((h) => Buffer.from(h).toString('base64')),
    checkpoint: bundle.checkpoint,
    verifier_key: bundle.verifierKey,
  };
  if (bundle.cosignaturesRequired !== undefined) json.cosignatures_required = bundle.cosignaturesRequired;
  // Parsing what was written catches a bundle no auditor could read.
  parseEvidence(json);
  return json;
}

function argument(message: string): AuditVerifyError {
  return new AuditVerifyError('argument_invalid', message);
}

function parseKeys(keys: unknown, what: string): NoteVerifierKey[] {
  if (!Array.isArray(keys)) throw argument(`the ${what} are not an array`);
  return keys.map((k: unknown) => {
    if (typeof k !== 'string') throw argument(`the ${what} must be vkey strings`);
    return parseVerifierKey(k);
  });
}

/**
 * Verify a parsed bundle against the auditor's keys. Checks, in order: the checkpoint's
 * signatures (a trusted log key must sign; any trusted key's bad signature rejects), the
 * checkpoint's form and size, the entry's inclusion proof, then the number of cosignatures.
 */
export function verifyEvidence(bundle: EvidenceBundle, options: EvidenceOptions): VerifiedEvidence {
  if (typeof bundle !== 'object' || bundle === null) throw argument('the evidence bundle is not an object');
  if (typeof options !== 'object' || options === null) throw argument('the options are not an object');
  const logKeys = parseKeys(options.keys, 'log keys');
  if (logKeys.length === 0) throw argument('at least one trusted log key is needed');
  const witnessKeys = parseKeys(options.witnessKeys ?? [], 'witness keys');
  // Allow-lists before any signature is checked: a witness's cosignature must never pass as the
  // log's own signature, and only cosignature/v1 keys make a witness.
  for (const k of logKeys) {
    if (k.type === 'cosignature') {
      throw new AuditVerifyError('key_invalid', `log key ${q(k.name)} is a witness cosignature key`);
    }
  }
  for (const k of witnessKeys) {
    if (k.type !== 'cosignature') {
      throw new AuditVerifyError('key_invalid', `witness key ${q(k.name)} is not a cosignature/v1 key`);
    }
  }
  const minimum = options.minCosignatures ?? 0;
  if (typeof minimum !== 'number' || !Number.isSafeInteger(minimum) || minimum < 0) {
    throw argument('the minimum number of cosignatures is not a non-negative integer');
  }
  const required = Math.max(minimum, bundle.cosignaturesRequired);

  const opened = openNote(bundle.checkpoint, [...logKeys, ...witnessKeys]);
  const isLogKey = new Set(logKeys.map((k) => `${k.name}+${k.keyId}`));
  if (!opened.verified.some((v) => isLogKey.has(`${v.name}+${v.keyId}`))) {
    throw new AuditVerifyError(
      'note_unverified',
      'the checkpoint carries no signature from a trusted log key',
    );
  }

  const checkpoint = parseCheckpoint(opened.text);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw new AuditVerifyError(
      'evidence_invalid',
      `the checkpoint is for log ${q(checkpoint.origin)}, not ${q(String(options.origin))}`,
    );
  }
  if (checkpoint.size !== bundle.size) {
    throw new AuditVerifyError(
      'evidence_invalid',
      `the checkpoint is for tree size ${checkpoint.size} but the bundle claims ${bundle.size}`,
    );
  }
  verifyInclusion(
    leafHash(bundle.entry),
    bundle.index,
    checkpoint.size,
    bundle.inclusionProof,
    checkpoint.root,
  );

  const cosigners = opened.verified.filter((v) => v.type === 'cosignature').map((v) => v.name);
  if (cosigners.length < required) {
    throw new AuditVerifyError(
      'cosignatures_insufficient',
      `the checkpoint has ${cosigners.length} trusted cosignatures, ${required} required`,
    );
  }
  return {
    entry: Buffer.from(bundle.entry),
    index: bundle.index,
    size: checkpoint.size,
    root: checkpoint.root,
    origin: checkpoint.origin,
    cosigners,
  };
}
