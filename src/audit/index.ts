export type { AuditEvent, AuditEventType, AuditSink } from './event.js';
export { TableAuditSink } from './table-sink.js';
