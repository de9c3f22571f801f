// The evidence log as stored: appends (inline, in a caller's transaction, from the writer
// thread), checkpoints, proofs, evidence bundles, and `verify` naming the index of every kind of
// tampering.

import * as assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  LogAuditSink,
  LogStorage,
  decodeEntry,
  ensureLogKeys,
  makeCheckpoint,
  readEvents,
  type AuditEvent,
} from '../../src/audit/index.js';
import { LAZY_COMMIT_MS } from '../../src/audit/event.js';
import { appendEntries } from '../../src/audit/append.js';
import { encodeEntry, encodeEntryText } from '../../src/audit/entry.js';
import type { WorkerReply, WorkerRequest } from '../../src/audit/writer.js';
import { buildEvidence, proveConsistency, proveInclusion } from '../../src/audit/prove.js';
import { verifyLog } from '../../src/audit/verify-log.js';
import {
  formatSignerKey,
  formatVerifierKey,
  generateSignerKey,
  leafHash,
  openNote,
  parseCheckpoint,
  parseEvidence,
  signNote,
  verifyConsistency,
  verifyEvidence,
  verifyInclusion,
} from '../../src/audit/verify/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';

const root = mkdtempSync(join(tmpdir(), 'warden-log-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const SIGNER = generateSignerKey('warden.test/audit/0badc0de', 'ed25519');
const SKEY = formatSignerKey(SIGNER);
const VKEY = formatVerifierKey(SIGNER.verifierKey);
const OTHER_VKEY = formatVerifierKey(generateSignerKey('warden.test/audit/0badc0de', 'ed25519').verifierKey);

async function freshStore(): Promise<{ store: Store; file: string }> {
  const file = join(root, `log-${n++}.db`);
  const store = await openSqliteStore(file);
  after(() => store.close());
  return { store, file };
}

function event(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    type: 'mcp.decision',
    outcome: i % 3 === 0 ? 'refused' : 'success',
    actor: `spiffe://warden.test/agent/bp/a${i % 5}`,
    subject: `mail/send_email`,
    sponsor: 'alice@example.com',
    authority: ['spiffe://warden.test/agent/bp/a0'],
    reason: null,
    details: { call: i, arguments: { to: `bob${i}@example.com` } },
    at: Date.UTC(2026, 10, 27, 4, 0, 0) + i,
    ...extra,
  };
}

function storageOf(store: Store): LogStorage {
  return new LogStorage((store.sqlite as NonNullable<Store['sqlite']>).connection);
}

/** Append `count` entries directly, signing a checkpoint after each of `checkpointAt`. */
function fill(store: Store, count: number, checkpointAt: number[] = []): LogStorage {
  const s = storageOf(store);
  for (let i = 0; i < count; i++) {
    const e = event(i);
    s.sqlite
      .transaction(() =>
        appendEntries(s, [
          { bytes: encodeEntry(e, e.at as number), at: e.at as number, type: e.type, traceId: null },
        ]),
      )
      .immediate();
    if (checkpointAt.includes(i + 1)) makeCheckpoint(s, [SKEY], 1000 + i);
  }
  return s;
}

describe('appending', () => {
  test('inline sink: concurrent records share commits, get consecutive indices, and verify', async () => {
    const { store } = await freshStore();
    const sink = new LogAuditSink(store);
    await Promise.all(Array.from({ length: 300 }, (_, i) => sink.record(event(i))));
    const s = storageOf(store);
    assert.equal(s.size(), 300);
    const calls = (await readEvents(store)).map((e) => e.details['call']);
    assert.deepEqual(
      [...calls].sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: 300 }, (_, i) => i),
    );
    makeCheckpoint(s, [SKEY], Date.now());
    assert.deepEqual(await verifyLog(s, [VKEY]), { size: 300, checkpoints: 1, problem: null });
    await sink.close();
    await assert.rejects(sink.record(event(1)), { code: 'audit_unavailable' });
  });

  test('threaded sink: the writer thread commits, signs checkpoints by count, and verifies', async () => {
    const { store } = await freshStore();
    const sink = new LogAuditSink(store, {
      checkpoints: { signerKeys: [SKEY], everyEntries: 100, intervalMs: 60_000 },
    });
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => sink.record(event(round * 100 + i))));
    }
    await sink.close();
    const s = storageOf(store);
    assert.equal(s.size(), 500);
    const checkpoints = s.checkpoints();
    assert.ok(
      checkpoints.length >= 4,
      `checkpoints after every 100 entries: ${checkpoints.map((c) => c.size).join(',')}`,
    );
    assert.equal(checkpoints.at(-1)?.size, 500, 'closing signs the final size');
    for (const c of checkpoints) {
      const body = parseCheckpoint(openNote(c.note, [VKEY]).text);
      assert.equal(body.origin, SIGNER.name);
      assert.equal(body.size, c.size);
    }
    assert.deepEqual(await verifyLog(s, [VKEY]), {
      size: 500,
      checkpoints: checkpoints.length,
      problem: null,
    });
  });

  test('entries travel to the writer thread as text: the stored bytes are the canonical UTF-8, byte for byte', async () => {
    // Text beyond ASCII: two- and three-byte characters, an astral one (a surrogate pair in
    // JavaScript), a control character JSON escapes, and an argument larger than one Buffer pool.
    const texts = [
      'café → naïve',
      '日本語のメール',
      'emoji 🛡️ and 𝒳',
      'tab\tnew\nline\u0001',
      'x'.repeat(9000),
    ];
    const events = texts.map((t, i) => event(i, { details: { call: i, arguments: { body: t } } }));
    const threaded = await freshStore();
    const sink = new LogAuditSink(threaded.store, {});
    await Promise.all(events.map((e) => sink.record(e)));
    await sink.close();
    const inline = await freshStore();
    const inlineSink = new LogAuditSink(inline.store);
    for (const e of events) await inlineSink.record(e);
    await inlineSink.close();
    const stored = (s: Store): Buffer[] =>
      texts.map((_, i) => (storageOf(s).entry(i) as { entry: Buffer }).entry);
    const byCall = (bufs: Buffer[]): Map<unknown, Buffer> =>
      new Map(bufs.map((b) => [decodeEntry(b).details['call'], b]));
    const fromThread = byCall(stored(threaded.store));
    const fromInline = byCall(stored(inline.store));
    events.forEach((e, i) => {
      const expected = encodeEntry(e, e.at as number);
      assert.deepEqual(fromThread.get(i), expected, `entry ${i} from the writer thread`);
      assert.deepEqual(fromInline.get(i), expected, `entry ${i} committed inline`);
    });
    // "café" and the shield emoji as their UTF-8 bytes, written out.
    assert.ok((fromThread.get(0) as Buffer).includes(Buffer.from('636166c3a9', 'hex')));
    assert.ok((fromThread.get(2) as Buffer).includes(Buffer.from('f09f9ba1', 'hex')));
    assert.equal(
      (decodeEntry(fromThread.get(2) as Buffer).details['arguments'] as { body: string }).body,
      texts[2],
    );
    makeCheckpoint(storageOf(threaded.store), [SKEY], 1);
    assert.equal((await verifyLog(storageOf(threaded.store), [VKEY])).problem, null);
  });

  test('the writer thread answers a batch it cannot encode as failed, commits nothing of it, and goes on', async () => {
    const { store, file } = await freshStore();
    // The thread as `warden serve` runs it (the build of the same sources: `npm test` compiles first).
    const worker = new Worker(new URL('../../dist/src/audit/writer-thread.js', import.meta.url), {
      workerData: { file },
    });
    const replies: WorkerReply[] = [];
    // A thread that dies instead of answering fails the test rather than hanging it.
    const next = (): Promise<WorkerReply> =>
      new Promise((resolve, reject) => {
        const died = (why: unknown): void => reject(new Error(`the writer thread ended: ${String(why)}`));
        worker.once('error', died);
        worker.once('exit', died);
        worker.once('message', (r: WorkerReply) => {
          worker.off('error', died);
          worker.off('exit', died);
          resolve(r);
        });
      });
    const post = async (request: WorkerRequest): Promise<WorkerReply> => {
      const reply = next();
      worker.postMessage(request);
      const r = await reply;
      replies.push(r);
      return r;
    };
    const good = (i: number): WorkerRequest => {
      const e = event(i);
      return {
        kind: 'append',
        batch: i,
        entries: [
          { text: encodeEntryText(e, e.at as number), at: e.at as number, type: e.type, traceId: null },
        ],
      };
    };
    assert.deepEqual(await post(good(1)), { kind: 'appended', batch: 1, first: 0, size: 1 });
    // A message that is not an entry's text (as a caller bypassing the sink might send).
    const bad = { kind: 'append', batch: 2, entries: [{ text: 42, at: 0, type: 'x', traceId: null }] };
    const r = await post(bad as unknown as WorkerRequest);
    assert.equal(r.kind, 'failed');
    assert.equal((r as { batch: number }).batch, 2);
    assert.deepEqual(await post(good(3)), { kind: 'appended', batch: 3, first: 1, size: 2 });
    const closed = next();
    worker.postMessage({ kind: 'close' } satisfies WorkerRequest);
    assert.deepEqual(await closed, { kind: 'closed' });
    await worker.terminate();
    assert.equal(storageOf(store).size(), 2);
    assert.equal(decodeEntry((storageOf(store).entry(1) as { entry: Buffer }).entry).details['call'], 3);
  });

  test('lazily recorded events ride with the next commit, or are committed within the lazy bound', async () => {
    const { store } = await freshStore();
    const sink = new LogAuditSink(store, {});
    const s = storageOf(store);
    let committed = false;
    const lazy = sink.recordLazily(event(0)).then(() => (committed = true));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(committed, false, 'no commit of its own at once');
    await sink.record(event(1));
    await lazy;
    assert.equal(s.size(), 2, 'committed together with the next record');
    const started = Date.now();
    await sink.recordLazily(event(2));
    const waited = Date.now() - started;
    assert.ok(waited >= LAZY_COMMIT_MS - 5 && waited < LAZY_COMMIT_MS + 1000, `waited ${waited} ms`);
    assert.equal(s.size(), 3);
    // Closing commits what is still waiting.
    const last = sink.recordLazily(event(3));
    await sink.close();
    await last;
    assert.equal(s.size(), 4);
    assert.deepEqual(
      (await readEvents(store)).map((e) => e.details['call']),
      [0, 1, 2, 3],
    );
  });

  test('verification while the writer thread keeps appending sees one consistent log', async () => {
    const { store } = await freshStore();
    const sink = new LogAuditSink(store, {
      checkpoints: { signerKeys: [SKEY], everyEntries: 50, intervalMs: 60_000 },
    });
    // More than one page of entries (8,192), so that appends interleave with the pass.
    await Promise.all(Array.from({ length: 20_000 }, (_, i) => sink.record(event(i))));
    let stop = false;
    const load = (async () => {
      for (let i = 20_000; !stop; i += 20)
        await Promise.all(Array.from({ length: 20 }, (_, k) => sink.record(event(i + k))));
    })();
    try {
      for (let round = 0; round < 3; round++) {
        const before = storageOf(store).size();
        const r = await verifyLog(storageOf(store), [VKEY]);
        assert.equal(r.problem, null, JSON.stringify(r.problem));
        assert.ok(r.size >= before);
        assert.ok(storageOf(store).size() > r.size, 'the log grew during the pass');
      }
    } finally {
      stop = true;
      await load;
      await sink.close();
    }
    assert.equal((await verifyLog(storageOf(store), [VKEY])).problem, null);
  });

  test('an event recorded in a transaction that rolls back leaves no entry', async () => {
    const { store } = await freshStore();
    const sink = new LogAuditSink(store);
    await sink.record(event(0));
    await assert.rejects(
      store.db.transaction().execute(async (tx) => {
        await sink.record(event(1), tx);
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    await store.db.transaction().execute(async (tx) => {
      await sink.record(event(2), tx);
    });
    const calls = (await readEvents(store)).map((e) => e.details['call']);
    assert.deepEqual(calls, [0, 2]);
    assert.equal((await verifyLog(storageOf(store), [VKEY])).problem, null);
  });

  test('an event that is not JSON data is refused and nothing is appended', async () => {
    const { store } = await freshStore();
    const sink = new LogAuditSink(store);
    await assert.rejects(
      sink.record(event(0, { details: { n: 1n } as unknown as Record<string, unknown> })),
      {
        code: 'audit_unavailable',
      },
    );
    assert.equal(storageOf(store).size(), 0);
  });

  test('entries are canonical JSON (RFC 8785) with the event fields, and decode back', async () => {
    const { store } = await freshStore();
    const sink = new LogAuditSink(store);
    const trace = { trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) };
    await sink.record(event(7, { trace }));
    const row = storageOf(store).entry(0);
    assert.ok(row);
    const text = row.entry.toString('utf8');
    assert.ok(text.startsWith('{"actor":'), 'members are sorted');
    assert.equal(text, JSON.stringify(JSON.parse(text)), 'no insignificant whitespace');
    const e = decodeEntry(row.entry);
    assert.equal(e.time, '2026-11-27T04:00:00.007Z');
    assert.deepEqual(e.trace, trace);
    assert.equal(row.trace_id, trace.trace_id);
    assert.throws(() => decodeEntry(Buffer.from('{"v":2}')), { code: 'audit_entry_invalid' });
    assert.throws(() => decodeEntry(Buffer.from('not json')), { code: 'audit_entry_invalid' });
  });
});

describe('proofs and evidence', () => {
  test('every inclusion and consistency proof of a 37-entry log verifies against the stored tree', async () => {
    const { store } = await freshStore();
    const s = fill(store, 37, [1, 8, 20, 37]);
    const roots = new Map(
      s.checkpoints().map((c) => [c.size, parseCheckpoint(openNote(c.note, [VKEY]).text).root]),
    );
    for (const [size, rootHash] of roots) {
      for (let i = 0; i < size; i++) {
        const proof = proveInclusion(s, i, size);
        verifyInclusion(leafHash((s.entry(i) as { entry: Buffer }).entry), i, size, proof, rootHash);
      }
      for (const [size1, root1] of roots) {
        if (size1 >= size) continue;
        verifyConsistency(size1, size, proveConsistency(s, size1, size), root1, rootHash);
      }
    }
    assert.throws(() => proveInclusion(s, 37, 37), { code: 'invalid_argument' });
    assert.throws(() => proveInclusion(s, 0, 38), { code: 'invalid_argument' });
    assert.throws(() => proveConsistency(s, 0, 10), { code: 'invalid_argument' });
    assert.throws(() => proveConsistency(s, 11, 10), { code: 'invalid_argument' });
  });

  test('an evidence bundle verifies offline with the log key only, and not with another', async () => {
    const { store } = await freshStore();
    const s = fill(store, 12, [12]);
    const bundle = buildEvidence(s, 5, VKEY);
    const json: unknown = JSON.parse(JSON.stringify(bundle));
    const result = verifyEvidence(parseEvidence(json), { keys: [VKEY] });
    assert.equal(result.index, 5);
    assert.equal(decodeEntry(result.entry).details['call'], 5);
    assert.throws(() => verifyEvidence(parseEvidence(json), { keys: [OTHER_VKEY] }));
    const forged = { ...bundle, entry: Buffer.from(encodeEntry(event(99), 0)).toString('base64') };
    assert.throws(() => verifyEvidence(parseEvidence(forged), { keys: [VKEY] }));
    assert.throws(() => buildEvidence(s, 12, VKEY), { code: 'not_found' });
  });

  test('no evidence before a checkpoint covers the entry', async () => {
    const { store } = await freshStore();
    const s = fill(store, 3, [2]);
    assert.throws(() => buildEvidence(s, 2, VKEY), /no signed checkpoint covers entry 2/);
    assert.equal(buildEvidence(s, 1, VKEY).size, 2);
  });
});

describe('tampering is detected, with the index', () => {
  async function tampered(change: (s: LogStorage) => void) {
    const { store } = await freshStore();
    const s = fill(store, 40, [10, 25, 40]);
    assert.equal((await verifyLog(s, [VKEY])).problem, null, 'the untouched log verifies');
    change(s);
    return (await verifyLog(s, [VKEY])).problem;
  }

  test('one changed byte of an entry', async () => {
    const p = await tampered((s) => {
      const row = s.entry(17) as { entry: Buffer };
      const bytes = Buffer.from(row.entry);
      bytes[bytes.indexOf('bob17')] = 'c'.charCodeAt(0);
      s.sqlite.prepare('update log_entries set entry = ? where idx = 17').run(bytes);
    });
    assert.equal(p?.index, 17);
    assert.match(p?.message ?? '', /entry 17 does not match its stored leaf hash/);
  });

  test('a deleted entry', async () => {
    const p = await tampered((s) => s.sqlite.prepare('delete from log_entries where idx = 23').run());
    assert.equal(p?.index, 23);
    assert.match(p?.message ?? '', /entry 23 is missing/);
  });

  test('two swapped entries', async () => {
    const p = await tampered((s) => {
      const a = (s.entry(5) as { entry: Buffer }).entry;
      const b = (s.entry(31) as { entry: Buffer }).entry;
      s.sqlite.prepare('update log_entries set entry = ? where idx = 5').run(b);
      s.sqlite.prepare('update log_entries set entry = ? where idx = 31').run(a);
    });
    assert.equal(p?.index, 5);
  });

  test('an entry changed together with every stored hash: the signed checkpoints disagree', async () => {
    const p = await tampered((s) => {
      // Rebuild the whole stored tree over a rewritten entry 12, as an attacker with the database would.
      const rows = s.entries(0, 100).map((r) => r.entry);
      rows[12] = encodeEntry(
        event(12, { details: { call: 12, arguments: { to: 'mallory@evil.example' } } }),
        0,
      );
      s.sqlite.exec('delete from log_entries; delete from log_hashes;');
      s.sqlite
        .transaction(() =>
          appendEntries(
            s,
            rows.map((bytes) => ({ bytes, at: 0, type: 'x', traceId: null })),
          ),
        )
        .immediate();
    });
    assert.equal(p?.index, 24, 'the first checkpoint that covers entry 12 is the one of size 25');
    assert.match(p?.message ?? '', /do not match the signed checkpoint of size 25/);
  });

  test('a truncated log with different entries appended (a fork)', async () => {
    const p = await tampered((s) => {
      s.sqlite.exec('delete from log_entries where idx >= 30');
      const storedAbove = s.sqlite.prepare('select count(*) as n from log_hashes').get() as { n: number };
      assert.ok(storedAbove.n > 0);
      // Drop the tail's stored hashes too, then append ten other entries through the normal path.
      const keep = new LogStorage(s.sqlite);
      s.sqlite.exec('delete from log_hashes');
      const rows = keep.entries(0, 30).map((r) => r.entry);
      s.sqlite.exec('delete from log_entries');
      const forked = [...rows, ...Array.from({ length: 10 }, (_, i) => encodeEntry(event(500 + i), 0))];
      s.sqlite
        .transaction(() =>
          appendEntries(
            s,
            forked.map((bytes) => ({ bytes, at: 0, type: 'x', traceId: null })),
          ),
        )
        .immediate();
    });
    assert.equal(p?.index, 39);
    assert.match(p?.message ?? '', /signed checkpoint of size 40/);
  });

  test('entries removed from the end', async () => {
    const p = await tampered((s) => s.sqlite.exec('delete from log_entries where idx >= 35'));
    assert.equal(p?.index, 35);
    assert.match(p?.message ?? '', /removed from the end/);
  });

  test('a checkpoint signed by another key', async () => {
    const p = await tampered((s) => {
      const c = s.latestCheckpoint() as { note: string };
      const body = c.note.slice(0, c.note.indexOf('\n\n') + 1);
      const other = generateSignerKey(SIGNER.name, 'ed25519');
      s.updateCheckpointNote(40, signNote(body, [other]));
    });
    assert.equal(p?.index, 39);
    assert.match(p?.message ?? '', /checkpoint of size 40 does not verify/);
  });

  test('a history rewritten with all its checkpoints fails against a checkpoint saved earlier', async () => {
    const { store } = await freshStore();
    const s = fill(store, 20, [20]);
    const saved = parseCheckpoint(openNote((s.latestCheckpoint() as { note: string }).note, [VKEY]).text);
    // Rewrite everything, re-sign (the attacker has the key), and grow the log.
    const rows = s.entries(0, 100).map((r) => r.entry);
    rows[3] = encodeEntry(event(3, { reason: 'rewritten' }), 0);
    s.sqlite.exec('delete from log_entries; delete from log_hashes; delete from log_checkpoints;');
    s.sqlite
      .transaction(() =>
        appendEntries(
          s,
          rows.map((bytes) => ({ bytes, at: 0, type: 'x', traceId: null })),
        ),
      )
      .immediate();
    const more = Array.from({ length: 5 }, (_, i) => encodeEntry(event(100 + i), 0));
    s.sqlite
      .transaction(() =>
        appendEntries(
          s,
          more.map((bytes) => ({ bytes, at: 0, type: 'x', traceId: null })),
        ),
      )
      .immediate();
    makeCheckpoint(s, [SKEY], 5000);
    assert.equal(
      (await verifyLog(s, [VKEY])).problem,
      null,
      'on its own the rewritten log is self-consistent',
    );
    const now = parseCheckpoint(openNote((s.latestCheckpoint() as { note: string }).note, [VKEY]).text);
    assert.throws(() =>
      verifyConsistency(
        saved.size,
        now.size,
        proveConsistency(s, saved.size, now.size),
        saved.root,
        now.root,
      ),
    );
  });
});

describe('the log keys', () => {
  test('post-quantum: checkpoints carry an Ed25519 and an ML-DSA-65 signature, each verifiable alone', async () => {
    const dataDir = join(root, `keys-${n++}`);
    const keys = ensureLogKeys(dataDir, 'warden.test', true);
    assert.match(keys.origin, /^warden\.test\/audit\/[0-9a-f]{8}$/);
    assert.equal(keys.signerKeys.length, 2);
    assert.equal(statSync(join(dataDir, 'keys', 'audit-log.skey')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'keys', 'audit-log-mldsa.skey')).mode & 0o777, 0o600);
    assert.deepEqual(
      readFileSync(join(dataDir, 'audit-log.vkey'), 'utf8').trim().split('\n'),
      keys.verifierKeys,
    );
    const { store } = await freshStore();
    const s = fill(store, 3);
    const c = makeCheckpoint(s, keys.signerKeys, Date.now());
    const [ed, pq] = keys.verifierKeys as [string, string];
    assert.deepEqual(
      openNote(c.note, [ed, pq]).verified.map((v) => v.type),
      ['ed25519', 'mldsa65'],
    );
    assert.equal(openNote(c.note, [pq]).verified.length, 1, 'the ML-DSA-65 signature verifies on its own');
    assert.deepEqual(ensureLogKeys(dataDir, 'warden.test', true), keys, 'existing keys are kept');
  });

  test('a signer key readable by others is refused', () => {
    const dataDir = join(root, `keys-${n++}`);
    ensureLogKeys(dataDir, 'warden.test', false);
    chmodSync(join(dataDir, 'keys', 'audit-log.skey'), 0o644);
    assert.throws(() => ensureLogKeys(dataDir, 'warden.test', false), { code: 'key_file_invalid' });
  });
});

test('an empty log verifies', async () => {
  const { store } = await freshStore();
  assert.deepEqual(await verifyLog(storageOf(store), [VKEY]), { size: 0, checkpoints: 0, problem: null });
});
