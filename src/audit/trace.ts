// W3C Trace Context for audit entries: the `traceparent` an agent runtime puts in MCP
// `params._meta` is read, each gateway operation gets its own span under it, and the span goes on
// to the upstream, so one trace id ties together what a group of agents did.

import { randomFillSync } from 'node:crypto';

export interface TraceIds {
  trace_id: string;
  span_id: string;
  parent_span_id?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The parent's trace and span ids, or null for an absent or invalid header (version ff, zero ids). */
export function parseTraceparent(value: unknown): { trace_id: string; span_id: string } | null {
  if (typeof value !== 'string') return null;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return null;
  const [, version, traceId, spanId] = m as unknown as [string, string, string, string];
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { trace_id: traceId, span_id: spanId };
}

// Ids are cut from a pool of random bytes refilled 4 KiB at a time: every tool call takes one or
// two, and a call to the system's generator costs far more than the bytes (Node's randomUUID does
// the same).
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}

/** A new span: under `parent` when there is one, else the root of a new trace. */
export function childSpan(parent: { trace_id: string; span_id: string } | null): TraceIds {
  const span = randomHex(8);
  return parent
    ? { trace_id: parent.trace_id, span_id: span, parent_span_id: parent.span_id }
    : { trace_id: randomHex(16), span_id: span };
}

/** The `traceparent` that names `ids.span_id` as the parent of what comes next (sampled). */
export function formatTraceparent(ids: TraceIds): string {
  return `00-${ids.trace_id}-${ids.span_id}-01`;
}
