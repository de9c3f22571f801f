// Reading events back from the evidence log, for code that wants events rather than bytes (the
// demo's summary, `warden trace`, `warden replay`).

import type { Store } from '../store/index.js';
import { decodeEntry, entryEvent } from './entry.js';
import type { AuditEvent } from './event.js';

export type IndexedEvent = AuditEvent & { index: number; at: number };

export interface EventQuery {
  type?: string;
  traceId?: string;
  since?: number;
  from?: number;
  limit?: number;
}

export async function readEvents(store: Store, query: EventQuery = {}): Promise<IndexedEvent[]> {
  let qb = store.db.selectFrom('log_entries').select(['idx', 'entry']).orderBy('idx');
  if (query.type !== undefined) qb = qb.where('type', '=', query.type);
  if (query.traceId !== undefined) {
    const traceId = query.traceId;
    qb = qb.where('idx', 'in', (eb) =>
      eb.selectFrom('log_trace_index').select('idx').where('trace_id', '=', traceId),
    );
  }
  if (query.since !== undefined) qb = qb.where('at', '>=', query.since);
  if (query.from !== undefined) qb = qb.where('idx', '>=', query.from);
  if (query.limit !== undefined) qb = qb.limit(query.limit);
  const rows = await qb.execute();
  return rows.map((r) => {
    const event = entryEvent(decodeEntry(r.entry));
    return { ...event, index: r.idx, at: event.at ?? 0 };
  });
}
