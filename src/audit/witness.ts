// `warden witness`: a C2SP tlog-witness (https://c2sp.org/tlog-witness) that another machine or
// process runs. It keeps, per log origin it trusts, the last checkpoint it cosigned, and cosigns a
// new one (cosignature/v1) only when a consistency proof shows that the new tree extends it. A log
// that rewrote its history can then no longer collect cosignatures, and evidence that requires
// them exposes the rewrite.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { WardenError, q } from '../errors.js';
import {
  openNote,
  parseCheckpoint,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyConsistency,
  type NoteSignerKey,
  type NoteVerifierKey,
} from './verify/index.js';

/** The protocol allows at most 63 proof lines; a request body is a few kilobytes. */
const MAX_PROOF_LINES = 63;
const MAX_BODY_BYTES = 64 * 1024;

export interface WitnessOptions {
  /** The witness's cosignature/v1 signer key (C2SP signed-note format). */
  signerKey: string;
  /** Verifier keys of the logs it witnesses; a log is identified by its key's name (its origin). */
  logKeys: readonly string[];
  /** Where the last cosigned checkpoint of each log is kept. */
  stateFile: string;
  now?: () => number;
}

const StateSchema = z.record(
  z.string(),
  z.object({ size: z.number().int().nonnegative(), root: z.string() }).strict(),
);
type State = z.infer<typeof StateSchema>;

export interface WitnessResponse {
  status: number;
  contentType: string;
  body: string;
}

function reply(status: number, body: string, contentType = 'text/plain; charset=utf-8'): WitnessResponse {
  return { status, contentType, body: body.endsWith('\n') ? body : `${body}\n` };
}

export class Witness {
  private readonly signer: NoteSignerKey;
  private readonly logs = new Map<string, NoteVerifierKey[]>();
  private state: State;
  private readonly now: () => number;

  constructor(private readonly options: WitnessOptions) {
    this.signer = parseSignerKey(options.signerKey);
    if (this.signer.type !== 'cosignature') {
      throw new WardenError(
        'key_file_invalid',
        'a witness signs with a cosignature/v1 key (`warden witness init`)',
      );
    }
    for (const k of options.logKeys) {
      const key = parseVerifierKey(k);
      if (key.type === 'cosignature') {
        throw new WardenError('invalid_argument', `log key ${q(key.name)} is a witness key, not a log's`);
      }
      this.logs.set(key.name, [...(this.logs.get(key.name) ?? []), key]);
    }
    if (this.logs.size === 0)
      throw new WardenError('invalid_argument', 'a witness needs at least one log key');
    this.state = this.load();
    this.now = options.now ?? (() => Date.now());
  }

  get verifierKey(): NoteVerifierKey {
    return this.signer.verifierKey;
  }

  private load(): State {
    if (!existsSync(this.options.stateFile)) return {};
    try {
      return StateSchema.parse(JSON.parse(readFileSync(this.options.stateFile, 'utf8')));
    } catch (err) {
      throw new WardenError('config_invalid', `the witness state ${q(this.options.stateFile)} is damaged`, {
        cause: err,
      });
    }
  }

  /** INVARIANT: the new state is on disk before the cosignature leaves. Write, fsync, rename. */
  private persist(next: State): void {
    const tmp = `${this.options.stateFile}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(next));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.options.stateFile);
    this.state = next;
  }

  /**
   * The add-checkpoint call. Synchronous from parse to persist, so two requests for one log can
   * never interleave between the size check and the update (the race the protocol warns about).
   */
  addCheckpoint(body: string): WitnessResponse {
    const split = body.indexOf('\n\n');
    if (split < 0)
      return reply(400, 'the body must hold the old size, the proof, an empty line and a checkpoint');
    const head = body.slice(0, split).split('\n');
    const note = body.slice(split + 2);
    const oldLine = /^old (0|[1-9][0-9]{0,15})$/.exec(head[0] ?? '');
    if (!oldLine) return reply(400, 'the first line must be `old <size>`');
    const oldSize = Number(oldLine[1]);
    const proofLines = head.slice(1);
    if (proofLines.length > MAX_PROOF_LINES) return reply(400, `at most ${MAX_PROOF_LINES} proof lines`);
    const proof: Buffer[] = [];
    for (const line of proofLines) {
      if (!/^[A-Za-z0-9+/]{43}=$/.test(line))
        return reply(400, 'each proof line must be one base64 SHA-256 hash');
      proof.push(Buffer.from(line, 'base64'));
    }
    let origin: string;
    try {
      const text = parseNote(note).text;
      origin = text.slice(0, text.indexOf('\n'));
    } catch (err) {
      return reply(400, `the checkpoint is not a signed note: ${(err as Error).message}`);
    }
    const keys = this.logs.get(origin);
    if (!keys) return reply(404, `unknown log ${q(origin)}`);
    let checkpoint;
    try {
      checkpoint = parseCheckpoint(openNote(note, keys).text);
    } catch (err) {
      return reply(
        403,
        `the checkpoint is not signed by a trusted key of ${q(origin)}: ${(err as Error).message}`,
      );
    }
    if (checkpoint.origin !== origin) return reply(400, 'the checkpoint origin does not match its key');
    if (oldSize > checkpoint.size)
      return reply(400, `old size ${oldSize} is beyond the checkpoint's ${checkpoint.size}`);
    const known = this.state[origin];
    const knownSize = known?.size ?? 0;
    if (oldSize !== knownSize) return reply(409, String(knownSize), 'text/x.tlog.size');
    if (known && oldSize === checkpoint.size) {
      if (!Buffer.from(known.root, 'base64').equals(checkpoint.root)) {
        return reply(409, String(knownSize), 'text/x.tlog.size');
      }
    } else if (oldSize === 0) {
      if (proof.length > 0) return reply(422, 'the proof must be empty when the old size is 0');
    } else {
      try {
        verifyConsistency(
          oldSize,
          checkpoint.size,
          proof,
          Buffer.from((known as { root: string }).root, 'base64'),
          checkpoint.root,
        );
      } catch (err) {
        return reply(422, `the consistency proof does not verify: ${(err as Error).message}`);
      }
    }
    this.persist({
      ...this.state,
      [origin]: { size: checkpoint.size, root: checkpoint.root.toString('base64') },
    });
    const text = note.slice(0, note.indexOf('\n\n') + 1);
    const signed = signNote(text, [this.signer], { timestamp: Math.floor(this.now() / 1000) });
    return reply(200, signed.slice(text.length + 1));
  }
}

/** The witness's HTTP interface: POST <prefix>/add-checkpoint. */
export function witnessHandler(witness: Witness): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const send = (r: WitnessResponse): void => {
      res.writeHead(r.status, { 'content-type': r.contentType, 'content-length': Buffer.byteLength(r.body) });
      res.end(r.body);
    };
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/add-checkpoint') return send(reply(404, 'not found'));
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(reply(405, 'use POST'));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES && !refused) {
        refused = true;
        send(reply(413, 'the request is too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (refused) return;
      try {
        send(witness.addCheckpoint(Buffer.concat(chunks).toString('utf8')));
      } catch {
        send(reply(500, 'the witness could not answer'));
      }
    });
  };
}
