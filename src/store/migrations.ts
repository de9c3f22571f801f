// Schema migrations, written with Kysely's schema builder so that SQLite and PostgreSQL run the
// same steps. Append new migrations; never edit one that has shipped.

import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

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

// Tool definitions seen on upstream MCP servers, one row per distinct definition (by JCS hash).
const m0002: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('tool_definitions')
      .addColumn('server', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('definition', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('findings', 'text', (c) => c.notNull())
      .addColumn('first_seen', 'bigint', (c) => c.notNull())
      .addColumn('decided_by', 'text')
      .addColumn('decided_at', 'bigint')
      .addPrimaryKeyConstraint('tool_definitions_pk', ['server', 'name', 'hash'])
      .execute();
    // INVARIANT: at most one pinned definition per tool, whatever races between gateway replicas.
    await db.schema
      .createIndex('tool_definitions_one_pinned')
      .on('tool_definitions')
      .columns(['server', 'name'])
      .unique()
      .where(sql.ref('status'), '=', 'pinned')
      .execute();
  },
};

const m0003: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('approvals')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('agent', 'text', (c) => c.notNull())
      .addColumn('sponsor', 'text', (c) => c.notNull())
      .addColumn('server', 'text', (c) => c.notNull())
      .addColumn('tool', 'text', (c) => c.notNull())
      .addColumn('arguments', 'text', (c) => c.notNull())
      .addColumn('definition_hash', 'text', (c) => c.notNull())
      .addColumn('reasons', 'text', (c) => c.notNull())
      .addColumn('policies', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('decided_by', 'text')
      .addColumn('decided_at', 'bigint')
      .execute();
    await db.schema.createIndex('approvals_hash').on('approvals').columns(['hash', 'status']).execute();
  },
};

// The evidence log (src/audit): entries in append order, the stored hashes of every complete
// subtree of the RFC 9162 Merkle tree over them, and the signed checkpoints. `at`, `type` and
// `trace_id` repeat what the entry says so that queries need not parse it; verification reads the
// entry bytes only. The plain `audit_events` table of earlier versions is folded into the log when
// the store opens (see store/sqlite.ts), then dropped.
const m0004: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('log_entries')
      .addColumn('idx', 'integer', (c) => c.primaryKey())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('trace_id', 'text')
      .addColumn('entry', 'blob', (c) => c.notNull())
      .execute();
    // Trace ids are random: an index on them would dirty a random page per entry. This narrow table
    // is appended in index order instead, and a trace lookup scans it.
    await db.schema
      .createTable('log_trace_index')
      .addColumn('idx', 'integer', (c) => c.primaryKey())
      .addColumn('trace_id', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('log_entries_at').on('log_entries').column('at').execute();
    await db.schema
      .createTable('log_hashes')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('hash', 'blob', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('log_checkpoints')
      .addColumn('size', 'integer', (c) => c.primaryKey())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('note', 'text', (c) => c.notNull())
      .execute();
  },
};

// Skills installed into Warden's skill store (`warden skill install`): one row per skill name, the
// OMS root digest its copy must still hash to, the files it covers, who signed it and what the scan
// found when it was installed.
const m0005: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('skills')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('files', 'text', (c) => c.notNull())
      .addColumn('signer', 'text')
      .addColumn('scan', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('installed_at', 'bigint', (c) => c.notNull())
      .addColumn('installed_by', 'text', (c) => c.notNull())
      .execute();
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations() {
    return Promise.resolve({
      '0001_identity': m0001,
      '0002_tools': m0002,
      '0003_approvals': m0003,
      '0004_audit_log': m0004,
      '0005_skills': m0005,
    });
  },
};
