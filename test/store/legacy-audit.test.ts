// A data directory from before the evidence log: its plain `audit_events` rows become the log's
// first entries, in order and with their times, and the table gives way to a view of the log.

import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { LogStorage, readEvents } from '../../src/audit/index.js';
import { verifyLog } from '../../src/audit/verify-log.js';
import { migrationProvider } from '../../src/store/migrations.js';
import { openSqliteStore } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-legacy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('legacy audit rows are folded into the log once, and the table becomes a view', async () => {
  const file = join(dir, 'old.db');
  const raw = new SQLite(file);
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
  const all = await migrationProvider.getMigrations();
  const migrator = new Migrator({
    db,
    provider: {
      getMigrations: () =>
        Promise.resolve(Object.fromEntries(Object.entries(all).filter(([name]) => name < '0004'))),
    },
  });
  assert.equal((await migrator.migrateToLatest()).error, undefined);
  const insert = raw.prepare(
    'insert into audit_events (at, type, outcome, actor, subject, sponsor, authority, reason, details) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  insert.run(
    1_700_000_000_000,
    'sponsor.created',
    'success',
    'operator',
    'a@example.com',
    null,
    '[]',
    null,
    '{"name":"A"}',
  );
  insert.run(1_700_000_001_000, 'token.refused', 'refused', null, null, null, '[]', 'bad proof', '{"n":2}');
  await db.destroy();

  const store = await openSqliteStore(file);
  try {
    const events = await readEvents(store);
    assert.deepEqual(
      events.map((e) => [e.index, e.type, e.outcome, e.at, e.reason, e.details]),
      [
        [0, 'sponsor.created', 'success', 1_700_000_000_000, null, { name: 'A' }],
        [1, 'token.refused', 'refused', 1_700_000_001_000, 'bad proof', { n: 2 }],
      ],
    );
    const storage = new LogStorage((store.sqlite as NonNullable<typeof store.sqlite>).connection);
    assert.equal((await verifyLog(storage, [])).problem, null);
    const view = storage.sqlite
      .prepare('select seq, type, outcome, actor, reason from audit_events order by seq')
      .all();
    assert.deepEqual(view, [
      { seq: 0, type: 'sponsor.created', outcome: 'success', actor: 'operator', reason: null },
      { seq: 1, type: 'token.refused', outcome: 'refused', actor: null, reason: 'bad proof' },
    ]);
    assert.throws(() => storage.sqlite.prepare("insert into audit_events (type) values ('x')").run(), /view/);
  } finally {
    await store.close();
  }
  // Opening again changes nothing.
  const again = await openSqliteStore(file);
  try {
    assert.equal((await readEvents(again)).length, 2);
  } finally {
    await again.close();
  }
});
