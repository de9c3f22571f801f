// The storage interface every domain uses. Implementations differ only in how they connect; the
// queries are Kysely's and run unchanged on SQLite and PostgreSQL.

import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;
}
