// C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the note text a log signs to commit to a tree
// head. Parsing is strict, since a checkpoint is only ever read to be trusted: the origin line,
// the tree size in decimal without leading zeros, the root as canonical base64 of 32 bytes, then
// optional non-empty extension lines. Sizes are JS numbers, so a tree beyond 2^53-1 leaves is
// refused rather than rounded.

import { Buffer } from 'node:buffer';
import { q } from '../../errors.js';
import { AuditVerifyError, show } from './errors.js';
import { HASH_SIZE } from './merkle.js';
import { decodeBase64, noteTextProblem } from './note.js';

export interface Checkpoint {
  /** The log's identity; by convention a schema-less URL, but clients may not assume so. */
  readonly origin: string;
  readonly size: number;
  readonly root: Buffer;
  /** Extension lines, in order, without their newlines. */
  readonly extensions: readonly string[];
}

export interface CheckpointInput {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions?: readonly string[];
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function malformed(message: string): AuditVerifyError {
  return new AuditVerifyError('checkpoint_malformed', message);
}

/** Parse checkpoint note text (signatures already removed, e.g. by openNote). */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') throw malformed('the checkpoint is not text');
  const problem = noteTextProblem(text);
  if (problem) throw malformed(`the checkpoint ${problem}`);
  if (!text.endsWith('\n')) throw malformed('the checkpoint does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed(`the checkpoint has ${lines.length} lines, not at least 3`);
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === '') throw malformed('the checkpoint origin is empty');
  if (!DECIMAL.test(sizeLine)) throw malformed(`the checkpoint size ${q(sizeLine)} is not a decimal number`);
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) {
    throw malformed(
      `the checkpoint size ${q(sizeLine)} is beyond 2^53-1, which this verifier cannot represent`,
    );
  }
  const root = decodeBase64(rootLine, true);
  if (!root || root.length !== HASH_SIZE) {
    throw malformed(`the checkpoint root ${q(rootLine)} is not canonical base64 of ${HASH_SIZE} bytes`);
  }
  extensions.forEach((line, i) => {
    if (line === '') throw malformed(`checkpoint extension line ${i + 1} is empty`);
  });
  return { origin, size, root, extensions };
}

/** The note text of a checkpoint, ready to sign. */
export function formatCheckpoint(checkpoint: CheckpointInput): string {
  if (typeof checkpoint !== 'object' || checkpoint === null) {
    throw new AuditVerifyError('argument_invalid', 'the checkpoint is not an object');
  }
  const { origin, size, root } = checkpoint;
  const extensions: readonly string[] = checkpoint.extensions ?? [];
  const list: unknown = extensions;
  const badLine = (line: unknown): boolean =>
    typeof line !== 'string' || line === '' || line.includes('\n') || noteTextProblem(line) !== undefined;
  if (badLine(origin))
    throw new AuditVerifyError('argument_invalid', `checkpoint origin ${show(origin)} is not one line`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new AuditVerifyError(
      'argument_invalid',
      `checkpoint size ${show(size)} is not a non-negative safe integer`,
    );
  }
  if (!(root instanceof Uint8Array) || root.length !== HASH_SIZE) {
    throw new AuditVerifyError('argument_invalid', `the checkpoint root is not ${HASH_SIZE} bytes`);
  }
  if (!Array.isArray(list)) {
    throw new AuditVerifyError('argument_invalid', 'checkpoint extensions are not an array');
  }
  extensions.forEach((line: unknown, i) => {
    if (badLine(line))
      throw new AuditVerifyError('argument_invalid', `checkpoint extension ${i + 1} is not one line`);
  });
  const lines = [origin, String(size), Buffer.from(root).toString('base64'), ...extensions];
  return lines.map((l) => `${l}\n`).join('');
}
