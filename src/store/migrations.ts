// Schema migrations, written with Kysely's schema builder so that SQLite and PostgreSQL run the
// same steps. Append new migrations; never edit one that has shipped.

import type { Kysely, Migration, MigrationProvider } from 'kysely';

const m0001: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('sponsors')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('invalid_before', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('blueprints')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('owners', 'text', (c) => c.notNull())
      .addColumn('sponsors', 'text', (c) => c.notNull())
      .addColumn('envelope', 'text', (c) => c.notNull())
      .addColumn('base_scope', 'text', (c) => c.notNull())
      .addColumn('token_ttl_seconds', 'integer', (c) => c.notNull())
      .addColumn('max_delegation_depth', 'integer', (c) => c.notNull())
      .addColumn('review_by', 'bigint')
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('invalid_before', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('agents')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('blueprint', 'text', (c) => c.notNull().references('blueprints.name'))
      .addColumn('sponsor', 'text', (c) => c.notNull().references('sponsors.id'))
      .addColumn('public_jwk', 'text', (c) => c.notNull())
      .addColumn('jkt', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('invalid_before', 'bigint', (c) => c.notNull().defaultTo(0))
      .addUniqueConstraint('agents_blueprint_name', ['blueprint', 'name'])
      .execute();
    await db.schema
      .createTable('grants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('agent', 'text', (c) => c.notNull().references('agents.id'))
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('duration_seconds', 'integer', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('requested_at', 'bigint', (c) => c.notNull())
      .addColumn('decided_by', 'text')
      .addColumn('decided_at', 'bigint')
      .addColumn('starts_at', 'bigint')
      .addColumn('ends_at', 'bigint')
      .execute();
    await db.schema.createIndex('grants_agent').on('grants').column('agent').execute();
    await db.schema
      .createTable('signing_keys')
      .addColumn('kid', 'text', (c) => c.primaryKey())
      .addColumn('alg', 'text', (c) => c.notNull())
      .addColumn('public_jwk', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('retired_at', 'bigint')
      .addColumn('verify_until', 'bigint')
      .execute();
    await db.schema
      .createTable('changes')
      .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('entity_id', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('audit_events')
      .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('actor', 'text')
      .addColumn('subject', 'text')
      .addColumn('sponsor', 'text')
      .addColumn('authority', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('details', 'text', (c) => c.notNull())
      .execute();
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations() {
    return Promise.resolve({ '0001_identity': m0001 });
  },
};
