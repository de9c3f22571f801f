// Signing checkpoints of the evidence log: the C2SP tlog-checkpoint body (origin, size, root)
// signed as a C2SP signed note with the log's key(s). The root comes from the stored hashes of the
// tree's right edge, never from the leaves.

import { WardenError } from '../errors.js';
import type { LogStorage, StoredCheckpoint } from './storage.js';
import { formatCheckpoint, parseSignerKey, signNote, treeRoot } from './verify/index.js';

/**
 * Sign and store a checkpoint of the log's current size, in one write transaction; returns the
 * existing one when the log has not grown since.
 */
export function makeCheckpoint(
  storage: LogStorage,
  signerKeys: readonly string[],
  now: number,
): StoredCheckpoint {
  const signers = signerKeys.map((k) => parseSignerKey(k));
  const origin = signers[0]?.name;
  if (!origin) throw new WardenError('audit_unavailable', 'the audit log has no signing key');
  return storage.sqlite
    .transaction((): StoredCheckpoint => {
      const size = storage.size();
      const latest = storage.latestCheckpoint();
      if (latest && latest.size === size) return latest;
      const root = treeRoot(size, (level, index) => storage.readHash(level, index));
      const note = signNote(formatCheckpoint({ origin, size, root }), signers);
      storage.insertCheckpoint(size, now, note);
      return { size, at: now, note };
    })
    .immediate();
}
