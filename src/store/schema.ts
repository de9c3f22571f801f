// Row types of Warden's tables, shared by every dialect. Times are integer milliseconds since the
// epoch; lists and objects are JSON text so SQLite and PostgreSQL store them the same way.

import type { Generated } from 'kysely';

export interface SponsorRow {
  id: string;
  name: string;
  status: 'active' | 'disabled';
  created_at: number;
  updated_at: number;
  /** Tokens issued at or before this time are invalid, whatever the status is now. */
  invalid_before: number;
}

export interface BlueprintRow {
  name: string;
  owners: string; // JSON string[]
  sponsors: string; // JSON string[]
  envelope: string; // JSON Envelope
  base_scope: string; // JSON string[]
  token_ttl_seconds: number;
  max_delegation_depth: number;
  review_by: number | null;
  version: number;
  status: 'active' | 'retired';
  created_at: number;
  updated_at: number;
  invalid_before: number;
}

export interface AgentRow {
  id: string;
  name: string;
  blueprint: string;
  sponsor: string;
  public_jwk: string; // JSON public JWK
  jkt: string; // RFC 7638 thumbprint of public_jwk
  status: 'active' | 'suspended' | 'retired';
  created_at: number;
  updated_at: number;
  expires_at: number;
  invalid_before: number;
}

export interface GrantRow {
  id: string;
  agent: string;
  scope: string; // JSON string[]
  duration_seconds: number;
  reason: string;
  status: 'pending' | 'approved' | 'denied' | 'revoked';
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
  starts_at: number | null;
  ends_at: number | null;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  created_at: number;
  /** Set when a newer key takes over signing; the key still verifies until `verify_until`. */
  retired_at: number | null;
  verify_until: number | null;
}

/** Change feed: every registry write appends a row so running servers can refresh what changed. */
export interface ChangeRow {
  seq: Generated<number>;
  kind: 'sponsor' | 'blueprint' | 'agent' | 'grant' | 'key' | 'tool';
  entity_id: string;
  at: number;
}

/** A row of the read-only `audit_events` view over the evidence log (store/sqlite.ts). */
export interface AuditEventRow {
  seq: Generated<number>;
  at: number;
  type: string;
  outcome: 'success' | 'refused';
  actor: string | null;
  subject: string | null;
  sponsor: string | null;
  authority: string; // JSON: the delegation chain or the approving sponsor
  reason: string | null;
  details: string; // JSON
  trace_id: string | null;
}

/** One entry of the evidence log: `entry` is the exact JCS bytes the Merkle leaf hashes. */
export interface LogEntryRow {
  idx: number;
  at: number;
  type: string;
  trace_id: string | null;
  entry: Buffer;
}

/** A stored Merkle hash, addressed by its stored-hash index (see audit/storage.ts). */
export interface LogHashRow {
  id: number;
  hash: Buffer;
}

/** A signed checkpoint: a C2SP signed note over the tlog-checkpoint body for `size`. */
export interface LogCheckpointRow {
  size: number;
  at: number;
  note: string;
}

/** One distinct definition of an upstream tool, by hash; at most one per tool is `pinned`. */
export interface ToolDefinitionRow {
  server: string;
  name: string;
  hash: string; // lowercase hex SHA-256 of `definition`
  definition: string; // RFC 8785 JCS JSON of the pinned fields
  status: 'pending' | 'pinned' | 'superseded' | 'rejected';
  findings: string; // JSON: findings of the scan at first sight
  first_seen: number;
  decided_by: string | null;
  decided_at: number | null;
}

/** A call held for a human's approval, bound to the JCS hash of exactly that call. */
export interface ApprovalRow {
  id: string;
  hash: string;
  agent: string;
  sponsor: string;
  server: string;
  tool: string;
  arguments: string; // JSON
  definition_hash: string;
  reasons: string; // JSON string[]
  policies: string; // JSON string[]
  status: 'pending' | 'approved' | 'denied' | 'consumed';
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
}

/** A skill in Warden's skill store, pinned to the OMS root digest of its installed copy. */
export interface SkillRow {
  name: string;
  digest: string; // hex SHA-256 OMS root digest
  files: string; // JSON [{ path, digest }]
  signer: string | null; // JSON: who signed it (null: installed unsigned, explicitly)
  scan: string; // JSON: the scan summary at install
  description: string;
  source: string; // the folder it was installed from
  installed_at: number;
  installed_by: string;
}

export interface Database {
  sponsors: SponsorRow;
  blueprints: BlueprintRow;
  agents: AgentRow;
  grants: GrantRow;
  signing_keys: SigningKeyRow;
  changes: ChangeRow;
  audit_events: AuditEventRow;
  log_entries: LogEntryRow;
  log_hashes: LogHashRow;
  log_trace_index: { idx: number; trace_id: string };
  log_checkpoints: LogCheckpointRow;
  tool_definitions: ToolDefinitionRow;
  approvals: ApprovalRow;
  skills: SkillRow;
}
