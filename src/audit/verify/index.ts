// The transparency-log verification library: Merkle proofs, signed notes, checkpoints and evidence
// bundles. Free of storage and network code, so an auditor can import this folder alone.

export { AuditVerifyError } from './errors.js';
export type { AuditVerifyErrorCode } from './errors.js';
export {
  EMPTY_ROOT,
  HASH_SIZE,
  leafHash,
  nodeHash,
  rootFromInclusion,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
export {
  consistencyProof,
  inclusionProof,
  MerkleFrontier,
  rightEdge,
  storedHashesForAppend,
  treeRoot,
} from './tree.js';
export type { HashReader, StoredHash } from './tree.js';
export {
  formatSignerKey,
  formatVerifierKey,
  generateSignerKey,
  NOTE_MAX_SIGNATURES,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from './note.js';
export type {
  NoteKeyType,
  NoteSignature,
  NoteSignerKey,
  NoteSignerType,
  NoteVerifierKey,
  OpenedNote,
  ParsedNote,
  SignNoteOptions,
  VerifiedSignature,
} from './note.js';
export { formatCheckpoint, parseCheckpoint } from './checkpoint.js';
export type { Checkpoint, CheckpointInput } from './checkpoint.js';
export {
  EVIDENCE_ENTRY_MAX_BYTES,
  EVIDENCE_FORMAT,
  EvidenceSchema,
  formatEvidence,
  parseEvidence,
  verifyEvidence,
} from './evidence.js';
export type { EvidenceBundle, EvidenceJson, EvidenceOptions, VerifiedEvidence } from './evidence.js';
