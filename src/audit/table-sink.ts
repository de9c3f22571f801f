// The plain-table audit sink: one row per event in `audit_events`. Events recorded outside a
// transaction are group-committed: everything that arrives while a commit is under way goes into
// the next one, so concurrent requests share one durable write instead of paying one each.

import type { Kysely } from 'kysely';
import { WardenError } from '../errors.js';
import type { AuditEventRow, Database, Store } from '../store/index.js';
import type { AuditEvent, AuditSink } from './event.js';

type NewRow = Omit<AuditEventRow, 'seq'>;

/** SQLite allows 32,766 bound parameters per statement; 9 columns a row stays far below at 500 rows. */
const MAX_BATCH = 500;

interface Pending {
  row: NewRow;
  resolve: () => void;
  reject: (err: Error) => void;
}

function toRow(event: AuditEvent): NewRow {
  return {
    at: event.at ?? Date.now(),
    type: event.type,
    outcome: event.outcome,
    actor: event.actor,
    subject: event.subject,
    sponsor: event.sponsor,
    authority: JSON.stringify(event.authority),
    reason: event.reason,
    details: JSON.stringify(event.details),
  };
}

export class TableAuditSink implements AuditSink {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(private readonly store: Store) {}

  record(event: AuditEvent, tx?: Kysely<Database>): Promise<void> {
    let row: NewRow;
    try {
      row = toRow(event);
    } catch (err) {
      return Promise.reject(
        new WardenError('audit_unavailable', 'the audit event cannot be serialised', { cause: err }),
      );
    }
    if (tx) {
      // Part of the caller's transaction: it commits or rolls back with the change it describes.
      return tx
        .insertInto('audit_events')
        .values(row)
        .execute()
        .then(
          () => undefined,
          (err: unknown) => {
            throw new WardenError('audit_unavailable', 'the audit log could not record the event', {
              cause: err,
            });
          },
        );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** INVARIANT: a record() promise resolves only after its row is committed. */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.store.db
          .insertInto('audit_events')
          .values(batch.map((p) => p.row))
          .execute();
        for (const p of batch) p.resolve();
      } catch (err) {
        const e = new WardenError('audit_unavailable', 'the audit log could not record the event', {
          cause: err,
        });
        for (const p of batch) p.reject(e);
      }
    }
    this.flushing = false;
  }
}
