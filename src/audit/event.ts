// The shape of an audit event: who did what, on whose authority, with what outcome and why. Every
// event becomes an entry of the evidence log (entry.ts, append.ts).

import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';

export type AuditEventType =
  | 'sponsor.created'
  | 'sponsor.disabled'
  | 'sponsor.enabled'
  | 'blueprint.created'
  | 'blueprint.updated'
  | 'blueprint.retired'
  | 'agent.created'
  | 'agent.suspended'
  | 'agent.resumed'
  | 'agent.retired'
  | 'grant.requested'
  | 'grant.approved'
  | 'grant.denied'
  | 'grant.revoked'
  | 'key.created'
  | 'key.rotated'
  | 'token.issued'
  | 'token.exchanged'
  | 'token.refused'
  | 'request.refused'
  | 'mcp.decision'
  | 'mcp.result'
  | 'mcp.server_request'
  | 'mcp.session'
  | 'approval.requested'
  | 'approval.approved'
  | 'approval.denied'
  | 'approval.consumed'
  | 'tool.seen'
  | 'tool.quarantined'
  | 'tool.pinned'
  | 'tool.rejected'
  | 'sandbox.started'
  | 'sandbox.connect'
  | 'script.run'
  | 'skill.installed'
  | 'skill.removed'
  | 'supply.loaded'
  | 'supply.refused';

export interface AuditEvent {
  type: AuditEventType;
  outcome: 'success' | 'refused';
  /** Who acted: an agent id, `sponsor:<id>`, or `operator` for the local CLI. */
  actor: string | null;
  /** What it acted on: an agent id, a blueprint name, a grant id... */
  subject: string | null;
  /** The accountable human behind the actor, when there is one. */
  sponsor: string | null;
  /** On whose authority: the delegation chain (outermost first) or the approving sponsor. */
  authority: readonly string[];
  reason: string | null;
  details: Record<string, unknown>;
  /** W3C trace context of the request the event belongs to, when there is one. */
  trace?: { trace_id: string; span_id: string; parent_span_id?: string };
  /** Milliseconds since the epoch; the sink stamps it when absent. */
  at?: number;
}

export interface AuditSink {
  /**
   * Resolves once the event is durable; a rejection means the action must not proceed. With `tx`,
   * the event commits or rolls back together with the change it describes.
   */
  record(event: AuditEvent, tx?: Kysely<Database>): Promise<void>;
  /**
   * For a record nothing waits for (a tool call's result, after the reply): resolves once the event
   * is durable, which may be up to `LAZY_COMMIT_MS` later, as it rides with the next commit instead
   * of causing one. Sinks without it record at once.
   */
  recordLazily?(event: AuditEvent): Promise<void>;
}

/** The longest a lazily recorded event waits for a commit to ride with. */
export const LAZY_COMMIT_MS = 50;
