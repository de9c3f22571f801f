// The log's side of C2SP tlog-witness: each new checkpoint goes to the configured witnesses with a
// consistency proof from the size each one last cosigned, and the cosignatures that verify against
// the witness's key are added to the stored checkpoint, so that evidence built from it carries them.

import { WardenError } from '../errors.js';
import { proveConsistency } from './prove.js';
import type { LogStorage } from './storage.js';
import {
  openNote,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  type NoteVerifierKey,
} from './verify/index.js';

export interface WitnessTarget {
  /** The witness's submission prefix; add-checkpoint is posted below it. */
  url: string;
  /** Its cosignature/v1 verifier key. */
  key: string;
}

const TIMEOUT_MS = 10_000;

/** Refuse a witness whose key is not a cosignature/v1 verifier key, before anything starts. */
export function checkWitnessTargets(targets: readonly WitnessTarget[]): void {
  for (const t of targets) {
    let key: NoteVerifierKey;
    try {
      key = parseVerifierKey(t.key);
    } catch (err) {
      throw new WardenError('config_invalid', `audit.witnesses: the key of ${t.url} is not a verifier key`, {
        cause: err,
      });
    }
    if (key.type !== 'cosignature') {
      throw new WardenError(
        'config_invalid',
        `audit.witnesses: the key of ${t.url} is not a cosignature/v1 key`,
      );
    }
  }
}

export class WitnessSubmitter {
  private readonly witnesses: Array<{ url: string; key: NoteVerifierKey; cosigned: number }>;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly storage: LogStorage,
    targets: readonly WitnessTarget[],
    private readonly log: (message: string) => void,
  ) {
    this.witnesses = targets.map((t) => {
      const key = parseVerifierKey(t.key);
      if (key.type !== 'cosignature') {
        throw new WardenError('config_invalid', `witness key of ${t.url} is not a cosignature/v1 key`);
      }
      return { url: t.url.replace(/\/+$/, ''), key, cosigned: 0 };
    });
  }

  /** Send the newest checkpoint; calls made while one is under way fold into one more round. */
  submit(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await Promise.all(this.witnesses.map((w) => this.submitTo(w)));
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async submitTo(w: { url: string; key: NoteVerifierKey; cosigned: number }): Promise<void> {
    const latest = this.storage.latestCheckpoint();
    if (!latest) return;
    const text = parseNote(latest.note).text;
    const { size } = parseCheckpoint(text);
    // A 409 tells us the size the witness last cosigned: one retry from there.
    for (let attempt = 0; attempt < 2; attempt++) {
      const old = w.cosigned <= size ? w.cosigned : 0;
      const proof = old === 0 || old === size ? [] : proveConsistency(this.storage, old, size);
      const body = `old ${old}\n${proof.map((h) => `${h.toString('base64')}\n`).join('')}\n${latest.note}`;
      let res: Response;
      try {
        res = await fetch(`${w.url}/add-checkpoint`, {
          method: 'POST',
          body,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        this.log(`witness ${w.url}: ${(err as Error).message}`);
        return;
      }
      const answer = await res.text();
      if (res.status === 409 && res.headers.get('content-type')?.startsWith('text/x.tlog.size')) {
        const known = /^(0|[1-9][0-9]{0,15})\n$/.exec(answer);
        if (!known || Number(known[1]) > size) {
          this.log(`witness ${w.url}: it has cosigned a size this log does not have (${answer.trim()})`);
          return;
        }
        w.cosigned = Number(known[1]);
        continue;
      }
      if (res.status !== 200) {
        this.log(`witness ${w.url}: ${res.status} ${answer.trim()}`);
        return;
      }
      this.merge(w, text, size, answer);
      return;
    }
  }

  private merge(
    w: { url: string; key: NoteVerifierKey; cosigned: number },
    text: string,
    size: number,
    lines: string,
  ): void {
    const candidate = `${text}\n${lines}`;
    let verified;
    try {
      verified = openNote(candidate, [w.key]);
    } catch (err) {
      this.log(`witness ${w.url}: its cosignature does not verify: ${(err as Error).message}`);
      return;
    }
    if (verified.verified.length === 0) return;
    const mine = lines.split('\n').filter((l) => l.startsWith(`— ${w.key.name} `));
    this.storage.sqlite
      .transaction(() => {
        const stored = this.storage.checkpointAt(size);
        if (!stored) return;
        const have = new Set(stored.note.split('\n'));
        const added = mine.filter((l) => !have.has(l));
        if (added.length > 0)
          this.storage.updateCheckpointNote(size, `${stored.note}${added.map((l) => `${l}\n`).join('')}`);
      })
      .immediate();
    w.cosigned = size;
  }
}
