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
  return {
    db,
    dialect: 'sqlite',
    async close() {
      await db.destroy();
    },
  };
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
