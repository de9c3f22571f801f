export type { Store } from './store.js';
export type {
  AgentRow,
  AuditEventRow,
  BlueprintRow,
  ChangeRow,
  Database,
  GrantRow,
  SigningKeyRow,
  SponsorRow,
} from './schema.js';
export { openSqliteStore } from './sqlite.js';
