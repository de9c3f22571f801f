// The embedded store: SQLite through better-sqlite3, WAL mode, migrated on open.

import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  Migrator,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
} from 'kysely';
import { StoreError } from '../errors.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';
import type { AuditEventRow } from './schema.js';
import { appendEntries } from '../audit/append.js';
import { encodeEntry } from '../audit/entry.js';
import type { AuditEvent, AuditEventType } from '../audit/event.js';
import { LogStorage } from '../audit/storage.js';

/**
 * Transactions take the write lock when they begin. A deferred transaction that reads and then
 * writes fails with SQLITE_BUSY_SNAPSHOT when another process (a CLI command next to `warden
 * serve`) committed in between, and busy_timeout cannot retry that; `begin immediate` waits instead.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly sqlite: SQLite.Database) {
    super({ database: sqlite });
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.sqlite });
  }
}

export async function openSqliteStore(file: string): Promise<Store> {
  let sqlite: SQLite.Database;
  try {
    sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    // Another warden process (a CLI command next to `warden serve`) may hold the write lock briefly.
    sqlite.pragma('busy_timeout = 5000');
  } catch (err) {
    throw new StoreError(`cannot open the database ${file}: ${(err as Error).message}`, { cause: err });
  }
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect(sqlite) });
  await migrate(db);
  try {
    foldLegacyAuditEvents(sqlite);
  } catch (err) {
    await db.destroy();
    throw new StoreError(`cannot move earlier audit events into the log: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    db,
    dialect: 'sqlite',
    sqlite: { connection: sqlite, file },
    async close() {
      await db.destroy();
    },
  };
}

/**
 * Earlier versions kept audit events in a plain table. They become the first entries of the
 * evidence log, in their original order and with their original times, and the table gives way to
 * a read-only view of the log under the same name, for whoever queries it with SQL. One
 * transaction, so a crash leaves either the table or the log, never half of each.
 */
function foldLegacyAuditEvents(sqlite: SQLite.Database): void {
  const legacy = sqlite
    .prepare("select name from sqlite_master where type = 'table' and name = 'audit_events'")
    .get();
  if (!legacy) return;
  sqlite
    .transaction(() => {
      const rows = sqlite.prepare('select * from audit_events order by seq').all() as AuditEventRow[];
      const storage = new LogStorage(sqlite);
      appendEntries(
        storage,
        rows.map((r) => {
          const event: AuditEvent = {
            type: r.type as AuditEventType,
            outcome: r.outcome,
            actor: r.actor,
            subject: r.subject,
            sponsor: r.sponsor,
            authority: JSON.parse(r.authority) as string[],
            reason: r.reason,
            details: JSON.parse(r.details) as Record<string, unknown>,
          };
          return { bytes: encodeEntry(event, r.at), at: r.at, type: r.type, traceId: null };
        }),
      );
      sqlite.exec('drop table audit_events');
      // INVARIANT: the view only reads the log; the entries stay the one record.
      sqlite.exec(`create view audit_events as select
          idx as seq, at, type,
          json_extract(cast(entry as text), '$.outcome') as outcome,
          json_extract(cast(entry as text), '$.actor') as actor,
          json_extract(cast(entry as text), '$.subject') as subject,
          json_extract(cast(entry as text), '$.sponsor') as sponsor,
          json_extract(cast(entry as text), '$.authority') as authority,
          json_extract(cast(entry as text), '$.reason') as reason,
          json_extract(cast(entry as text), '$.details') as details,
          trace_id
        from log_entries`);
    })
    .immediate();
}

export async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new StoreError(`database migration ${failed} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
