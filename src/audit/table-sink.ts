// The plain-table audit sink: one row per event in `audit_events`.

import { WardenError } from '../errors.js';
import type { Kysely } from 'kysely';
import type { Database, Store } from '../store/index.js';
import type { AuditEvent, AuditSink } from './event.js';

export class TableAuditSink implements AuditSink {
  constructor(private readonly store: Store) {}

  async record(event: AuditEvent, tx?: Kysely<Database>): Promise<void> {
    try {
      await (tx ?? this.store.db)
        .insertInto('audit_events')
        .values({
          at: event.at ?? Date.now(),
          type: event.type,
          outcome: event.outcome,
          actor: event.actor,
          subject: event.subject,
          sponsor: event.sponsor,
          authority: JSON.stringify(event.authority),
          reason: event.reason,
          details: JSON.stringify(event.details),
        })
        .execute();
    } catch (err) {
      throw new WardenError('audit_unavailable', 'the audit log could not record the event', { cause: err });
    }
  }
}
