// The storage interface every domain uses. Implementations differ only in how they connect; the
// queries are Kysely's and run unchanged on SQLite and PostgreSQL.

import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * The embedded store's connection and file. The evidence log appends through it synchronously,
   * inside the transaction Kysely holds, and its writer thread opens the file on its own.
   */
  readonly sqlite?: { readonly connection: SQLite.Database; readonly file: string };
  close(): Promise<void>;
}
