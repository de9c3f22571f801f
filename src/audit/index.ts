export type { AuditEvent, AuditEventType, AuditSink } from './event.js';
export { decodeEntry, encodeEntry, entryEvent, type LogEntry } from './entry.js';
export { ensureLogKeys, LOG_VKEY_FILE, type LogKeys } from './keys.js';
export { LogAuditSink, logConnection } from './sink.js';
export { LogStorage, type StoredCheckpoint, type StoredEntry } from './storage.js';
export { makeCheckpoint } from './checkpoints.js';
export { childSpan, formatTraceparent, parseTraceparent, type TraceIds } from './trace.js';
export { readEvents, type EventQuery, type IndexedEvent } from './read.js';
