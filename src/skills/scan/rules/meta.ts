// What every rule declares: a stable id, a short name, its category and default severity, and the
// text shown to people (SARIF `shortDescription`, `fullDescription`, `help`).

import type { Category, Severity } from '../types.js';

export interface RuleMeta {
  id: string;
  name: string;
  category: Category;
  severity: Severity;
  short: string;
  full: string;
  help: string;
}
