// The rule catalogue: every rule of every category, looked up by id.

import { WardenError, q } from '../../../errors.js';
import { CREDENTIAL_RULES } from './credential-access.js';
import { EXECUTION_RULES } from './dangerous-execution.js';
import { EXFILTRATION_RULES } from './exfiltration.js';
import { FRONTMATTER_RULES } from './frontmatter.js';
import type { RuleMeta } from './meta.js';
import { OBFUSCATION_RULES } from './obfuscation.js';
import { PERSISTENCE_RULES } from './persistence.js';
import { INJECTION_RULES } from './prompt-injection.js';
import { SECRET_RULES } from './secrets.js';
import { SHADOWING_RULES } from './tool-shadowing.js';
import { UNICODE_RULES } from './unicode.js';

export const RULES: readonly RuleMeta[] = [
  ...SECRET_RULES,
  ...INJECTION_RULES,
  ...UNICODE_RULES,
  ...CREDENTIAL_RULES,
  ...EXFILTRATION_RULES,
  ...OBFUSCATION_RULES,
  ...EXECUTION_RULES,
  ...PERSISTENCE_RULES,
  ...SHADOWING_RULES,
  ...FRONTMATTER_RULES,
];

const BY_ID = new Map(RULES.map((r) => [r.id, r]));

export function ruleById(id: string): RuleMeta {
  const r = BY_ID.get(id);
  // A rule id outside the catalogue is a programming error, not an input error.
  if (!r) throw new WardenError('internal', `unknown rule ${q(id)}`);
  return r;
}

export type { RuleMeta };
