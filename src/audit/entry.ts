// What one audit event looks like inside the evidence log: RFC 8785 canonical JSON, so that the
// bytes a Merkle leaf hashes are the same whoever re-serialises the event, and so that an
// investigator can read an entry without Warden.

import { z } from 'zod';
import { WardenError } from '../errors.js';
import { canonicalJson } from '../jcs.js';
import type { AuditEvent, AuditEventType } from './event.js';

/** The entry format's version; a verifier refuses versions it does not know. */
export const ENTRY_VERSION = 1;

const TraceSchema = z
  .object({
    trace_id: z.string().regex(/^[0-9a-f]{32}$/),
    span_id: z.string().regex(/^[0-9a-f]{16}$/),
    parent_span_id: z
      .string()
      .regex(/^[0-9a-f]{16}$/)
      .optional(),
  })
  .strict();

const EntrySchema = z
  .object({
    v: z.literal(ENTRY_VERSION),
    time: z.iso.datetime(),
    type: z.string().min(1),
    outcome: z.enum(['success', 'refused']),
    actor: z.string().nullable(),
    subject: z.string().nullable(),
    sponsor: z.string().nullable(),
    authority: z.array(z.string()),
    reason: z.string().nullable(),
    trace: TraceSchema.optional(),
    details: z.record(z.string(), z.unknown()),
  })
  .strict();

export type LogEntry = z.infer<typeof EntrySchema>;

/** The canonical bytes of an event, ready to be appended. `at` must be set by the caller. */
export function encodeEntry(event: AuditEvent, at: number): Buffer {
  return Buffer.from(encodeEntryText(event, at), 'utf8');
}

/**
 * The canonical JSON text of an event: its UTF-8 encoding is the entry's bytes. A string crosses to
 * the writer thread for a copy of its characters, where a Buffer would take its whole backing store
 * along (a small Buffer shares an 8 KiB pool with others).
 */
export function encodeEntryText(event: AuditEvent, at: number): string {
  const entry: LogEntry = {
    v: ENTRY_VERSION,
    time: new Date(at).toISOString(),
    type: event.type,
    outcome: event.outcome,
    actor: event.actor,
    subject: event.subject,
    sponsor: event.sponsor,
    authority: [...event.authority],
    reason: event.reason,
    ...(event.trace ? { trace: event.trace } : {}),
    details: event.details,
  };
  try {
    return canonicalJson(entry);
  } catch (err) {
    throw new WardenError('audit_unavailable', 'the audit event cannot be serialised', { cause: err });
  }
}

/** Parse entry bytes read back from the log; anything but a well-formed entry is an error. */
export function decodeEntry(bytes: Uint8Array): LogEntry {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new WardenError('audit_entry_invalid', 'the log entry is not json', { cause: err });
  }
  const parsed = EntrySchema.safeParse(json);
  if (!parsed.success) {
    throw new WardenError(
      'audit_entry_invalid',
      `the log entry is not a version ${ENTRY_VERSION} entry: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** The event an entry records, for code that consumes events rather than bytes. */
export function entryEvent(entry: LogEntry): AuditEvent {
  return {
    type: entry.type as AuditEventType,
    outcome: entry.outcome,
    actor: entry.actor,
    subject: entry.subject,
    sponsor: entry.sponsor,
    authority: entry.authority,
    reason: entry.reason,
    details: entry.details,
    ...(entry.trace ? { trace: entry.trace } : {}),
    at: Date.parse(entry.time),
  };
}
