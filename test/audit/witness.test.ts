// The witness's add-checkpoint rules (C2SP tlog-witness): it cosigns only a checkpoint signed by a
// log it trusts that extends, by a verified consistency proof, the last one it cosigned.

import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { Witness } from '../../src/audit/witness.js';
import {
  MerkleFrontier,
  consistencyProof,
  formatCheckpoint,
  formatSignerKey,
  formatVerifierKey,
  generateSignerKey,
  leafHash,
  openNote,
  signNote,
  type HashReader,
} from '../../src/audit/verify/index.js';
import { storedHashIndex } from '../../src/audit/storage.js';

const root = mkdtempSync(join(tmpdir(), 'warden-witness-'));
after(() => rmSync(root, { recursive: true, force: true }));

const LOG = generateSignerKey('warden.test/audit/12345678', 'ed25519');
const STRANGER = generateSignerKey('warden.test/audit/12345678', 'ed25519');
const WITNESS = generateSignerKey('witness.test/w1', 'cosignature');
const NOW = Date.UTC(2026, 10, 27, 5, 0, 0);

/** An in-memory log: leaf data strings, stored hashes, and signed checkpoints. */
class MemoryLog {
  private readonly hashes = new Map<number, Buffer>();
  private readonly frontier = new MerkleFrontier();
  constructor(private readonly prefix: string) {}
  read: HashReader = (level, index) => this.hashes.get(storedHashIndex(level, index)) as Buffer;
  grow(to: number): void {
    while (this.frontier.size < to) {
      for (const h of this.frontier.append(leafHash(Buffer.from(`${this.prefix}${this.frontier.size}`)))) {
        this.hashes.set(storedHashIndex(h.level, h.index), h.hash);
      }
    }
  }
  checkpoint(signer = LOG): string {
    return signNote(
      formatCheckpoint({ origin: LOG.name, size: this.frontier.size, root: this.frontier.root() }),
      [signer],
    );
  }
  body(old: number, signer = LOG, proof?: Buffer[]): string {
    const p =
      proof ??
      (old === 0 || old === this.frontier.size ? [] : consistencyProof(old, this.frontier.size, this.read));
    return `old ${old}\n${p.map((h) => `${h.toString('base64')}\n`).join('')}\n${this.checkpoint(signer)}`;
  }
}

let stateFile: string;
let n = 0;
function witness(): Witness {
  return new Witness({
    signerKey: formatSignerKey(WITNESS),
    logKeys: [formatVerifierKey(LOG.verifierKey)],
    stateFile,
    now: () => NOW,
  });
}
beforeEach(() => {
  stateFile = join(root, `state-${n++}.json`);
});

describe('add-checkpoint', () => {
  test('cosigns a first checkpoint, then one that extends it, persisting each before answering', () => {
    const w = witness();
    const log = new MemoryLog('a');
    log.grow(5);
    const first = w.addCheckpoint(log.body(0));
    assert.equal(first.status, 200, first.body);
    const text = log.checkpoint().slice(0, log.checkpoint().indexOf('\n\n') + 1);
    const opened = openNote(`${text}\n${first.body}`, [formatVerifierKey(WITNESS.verifierKey)]);
    assert.deepEqual(
      opened.verified.map((v) => [v.name, v.type, v.timestamp]),
      [[WITNESS.name, 'cosignature', NOW / 1000]],
    );
    assert.equal(
      (JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, { size: number }>)[LOG.name]?.size,
      5,
    );
    log.grow(13);
    assert.equal(w.addCheckpoint(log.body(5)).status, 200);
    // A restarted witness remembers.
    log.grow(20);
    assert.equal(witness().addCheckpoint(log.body(5)).status, 409);
    assert.equal(witness().addCheckpoint(log.body(13)).status, 200);
  });

  test('a wrong old size gets 409 with the size it last cosigned', () => {
    const w = witness();
    const log = new MemoryLog('a');
    log.grow(8);
    assert.equal(w.addCheckpoint(log.body(0)).status, 200);
    log.grow(10);
    const r = w.addCheckpoint(log.body(0));
    assert.deepEqual(r, { status: 409, contentType: 'text/x.tlog.size', body: '8\n' });
  });

  test('a fork of the same size gets 409; a fork that grew fails its consistency proof with 422', () => {
    const w = witness();
    const honest = new MemoryLog('a');
    honest.grow(8);
    assert.equal(w.addCheckpoint(honest.body(0)).status, 200);
    const fork = new MemoryLog('b');
    fork.grow(8);
    assert.equal(w.addCheckpoint(fork.body(8)).status, 409);
    fork.grow(12);
    const r = w.addCheckpoint(fork.body(8));
    assert.equal(r.status, 422, r.body);
    assert.match(r.body, /consistency proof does not verify/);
    honest.grow(12);
    assert.equal(w.addCheckpoint(honest.body(8)).status, 200, 'the honest log still gets cosigned');
  });

  test('refuses unknown logs (404), untrusted signatures (403), and malformed requests (400)', () => {
    const w = witness();
    const log = new MemoryLog('a');
    log.grow(3);
    assert.equal(w.addCheckpoint(log.body(0, STRANGER)).status, 403);
    const other = generateSignerKey('other.test/log', 'ed25519');
    const foreign = signNote(formatCheckpoint({ origin: other.name, size: 1, root: Buffer.alloc(32) }), [
      other,
    ]);
    assert.equal(w.addCheckpoint(`old 0\n\n${foreign}`).status, 404);
    for (const bad of [
      '',
      `old 01\n\n${log.checkpoint()}`,
      `old -1\n\n${log.checkpoint()}`,
      `new 0\n\n${log.checkpoint()}`,
      `old 0\nnot-a-hash\n\n${log.checkpoint()}`,
      `old 4\n\n${log.checkpoint()}`,
      `old 0\n\nnot a note\n`,
    ]) {
      assert.equal(w.addCheckpoint(bad).status, 400, JSON.stringify(bad));
    }
    const tooLong = `old 0\n${`${Buffer.alloc(32).toString('base64')}\n`.repeat(64)}\n${log.checkpoint()}`;
    assert.equal(w.addCheckpoint(tooLong).status, 400);
    assert.equal(
      w.addCheckpoint(log.body(0, LOG, [Buffer.alloc(32)])).status,
      422,
      'old 0 needs an empty proof',
    );
  });

  test('refuses to run with a non-cosignature key or no logs', () => {
    assert.throws(
      () =>
        new Witness({
          signerKey: formatSignerKey(LOG),
          logKeys: [formatVerifierKey(LOG.verifierKey)],
          stateFile,
        }),
      { code: 'key_file_invalid' },
    );
    assert.throws(() => new Witness({ signerKey: formatSignerKey(WITNESS), logKeys: [], stateFile }), {
      code: 'invalid_argument',
    });
  });
});
