// The static scanner for agent skills, MCP server folders and MCP tool definitions.

export {
  scanPath,
  scanToolDefinitions,
  scanToolDefinitionsSync,
  hasFindingsAtLeast,
  DEFAULT_MAX_FILE_SIZE,
  DEFAULT_MAX_FILES,
} from './engine.js';
export { toSarif } from './sarif.js';
export { formatTable } from './table.js';
export { loadGrammars } from './parsers.js';
export { RULES } from './rules/index.js';
export type { RuleMeta } from './rules/meta.js';
export { severityAtLeast, isSeverity, CATEGORIES, SEVERITIES } from './types.js';
export type { Category, Finding, ScanKind, ScanOptions, ScanReport, Severity, SkippedFile } from './types.js';
