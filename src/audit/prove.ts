// Proofs served from the stored tree: inclusion of an entry in a checkpointed tree, consistency of
// two tree sizes, and the self-contained evidence bundle that `warden audit verify-evidence` (or
// anyone with verify/evidence.ts and the log's verifier key) checks offline.

import { WardenError, q } from '../errors.js';
import type { LogStorage, StoredCheckpoint } from './storage.js';
import { consistencyProof, inclusionProof, parseCheckpoint, type HashReader } from './verify/index.js';

function reader(storage: LogStorage): HashReader {
  return (level, index) => storage.readHash(level, index);
}

function checkCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new WardenError('invalid_argument', `${what} must be a whole number, not ${q(String(value))}`);
  }
}

/** The inclusion proof of entry `index` in the tree of `size` entries. */
export function proveInclusion(storage: LogStorage, index: number, size: number): Buffer[] {
  checkCount(index, 'the index');
  checkCount(size, 'the tree size');
  const current = storage.size();
  if (size > current)
    throw new WardenError('invalid_argument', `the log has ${current} entries, not ${size}`);
  if (index >= size)
    throw new WardenError('invalid_argument', `entry ${index} is not in a tree of ${size} entries`);
  return inclusionProof(index, size, reader(storage));
}

/** The consistency proof between the trees of `size1` and `size2` entries. */
export function proveConsistency(storage: LogStorage, size1: number, size2: number): Buffer[] {
  checkCount(size1, 'the first size');
  checkCount(size2, 'the second size');
  const current = storage.size();
  if (size2 > current)
    throw new WardenError('invalid_argument', `the log has ${current} entries, not ${size2}`);
  if (size1 < 1 || size1 > size2) {
    throw new WardenError('invalid_argument', `no consistency proof from size ${size1} to size ${size2}`);
  }
  return consistencyProof(size1, size2, reader(storage));
}

export interface EvidenceBundle {
  format: 'warden-evidence/v1';
  entry: string;
  index: number;
  size: number;
  inclusion_proof: string[];
  checkpoint: string;
  verifier_key: string;
}

/**
 * Evidence that entry `index` is in the log: the entry, its inclusion proof in the tree of the
 * newest checkpoint that covers it (or of the checkpoint of `size`), that checkpoint, and the key
 * that signed it.
 */
export function buildEvidence(
  storage: LogStorage,
  index: number,
  verifierKey: string,
  opts: { size?: number } = {},
): EvidenceBundle {
  checkCount(index, 'the index');
  const stored = storage.entry(index);
  if (!stored) throw new WardenError('not_found', `the log has no entry ${index}`);
  let checkpoint: StoredCheckpoint | undefined;
  if (opts.size !== undefined) {
    checkpoint = storage.checkpointAt(opts.size);
    if (!checkpoint) throw new WardenError('not_found', `no signed checkpoint has size ${opts.size}`);
  } else {
    checkpoint = storage.latestCheckpoint();
  }
  if (!checkpoint || checkpoint.size <= index) {
    throw new WardenError(
      'not_found',
      `no signed checkpoint covers entry ${index} yet: wait for the next one, or run \`warden audit checkpoint\``,
    );
  }
  const body = parseCheckpoint(checkpoint.note.slice(0, checkpoint.note.indexOf('\n\n') + 1));
  if (body.size !== checkpoint.size) {
    throw new WardenError(
      'audit_log_invalid',
      `the stored checkpoint of size ${checkpoint.size} says ${body.size}`,
    );
  }
  return {
    format: 'warden-evidence/v1',
    entry: stored.entry.toString('base64'),
    index,
    size: checkpoint.size,
    inclusion_proof: proveInclusion(storage, index, checkpoint.size).map((h) => h.toString('base64')),
    checkpoint: checkpoint.note,
    verifier_key: verifierKey,
  };
}
