// Agent Skills metadata: SKILL.md must open with YAML frontmatter whose `name` is 1-64 characters of
// [a-z0-9-] (no leading, trailing or doubled hyphen) equal to the folder name, and whose
// `description` is 1-1024 characters. Tool definitions get the same treatment: a malformed one is a
// finding, never a crash.

import { parseDocument } from 'yaml';
import type { RuleMeta } from './meta.js';

export const FRONTMATTER_RULES: RuleMeta[] = [
  {
    id: 'WS901',
    name: 'missing-frontmatter',
    category: 'frontmatter',
    severity: 'medium',
    short: 'SKILL.md has no frontmatter',
    full: 'SKILL.md does not start with YAML frontmatter between --- lines.',
    help: 'Start SKILL.md with ---, name and description, then ---.',
  },
  {
    id: 'WS902',
    name: 'malformed-frontmatter',
    category: 'frontmatter',
    severity: 'medium',
    short: 'frontmatter is not valid YAML',
    full: 'The frontmatter does not parse as a YAML mapping (syntax error, duplicate key, unterminated block).',
    help: 'Fix the YAML.',
  },
  {
    id: 'WS903',
    name: 'invalid-name',
    category: 'frontmatter',
    severity: 'medium',
    short: 'invalid skill name',
    full: 'The name is missing or is not 1-64 characters of lowercase letters, digits and single hyphens, not starting or ending with a hyphen.',
    help: 'Use a name like my-skill.',
  },
  {
    id: 'WS904',
    name: 'name-folder-mismatch',
    category: 'frontmatter',
    severity: 'medium',
    short: 'skill name differs from its folder',
    full: 'The frontmatter name is not the name of the folder holding SKILL.md, so the skill can pose as another.',
    help: 'Rename the folder or the skill.',
  },
  {
    id: 'WS905',
    name: 'invalid-description',
    category: 'frontmatter',
    severity: 'medium',
    short: 'missing or invalid description',
    full: 'The description is missing, not a string, empty, or longer than 1024 characters.',
    help: 'Give a description of 1-1024 characters.',
  },
  {
    id: 'WS906',
    name: 'unknown-field',
    category: 'frontmatter',
    severity: 'low',
    short: 'unknown frontmatter field',
    full: 'The frontmatter has a field the Agent Skills format does not define.',
    help: 'Move extra data under metadata.',
  },
  {
    id: 'WS907',
    name: 'malformed-tool-definition',
    category: 'frontmatter',
    severity: 'medium',
    short: 'malformed tool definition',
    full: 'A tool definition is not an object with a string name, an optional string description and an object inputSchema, or the tools list is not a list.',
    help: 'A server sending malformed definitions is broken or probing the client; do not use it.',
  },
  {
    id: 'WS908',
    name: 'tool-definition-incomplete',
    category: 'frontmatter',
    severity: 'low',
    short: 'tool definition incomplete',
    full: 'A tool definition lacks an inputSchema or a description, or holds too much text to scan in full.',
    help: 'Informational.',
  },
];

const NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const KNOWN_FIELDS = new Set([
  'name',
  'description',
  'license',
  'allowed-tools',
  'metadata',
  'compatibility',
]);

export interface FrontmatterIssue {
  rule: string;
  message: string;
  /** Offset in the frontmatter text, when the issue has a place. */
  offset: number;
}

export interface ParsedFrontmatter {
  issues: FrontmatterIssue[];
  description: string | undefined;
  name: string | undefined;
}

/** Check frontmatter text (between the --- lines) against the Agent Skills rules. */
export function checkFrontmatter(yamlText: string, folder: string | undefined): ParsedFrontmatter {
  const issues: FrontmatterIssue[] = [];
  const doc = parseDocument(yamlText, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    return {
      issues: [
        {
          rule: 'WS902',
          message: `frontmatter is not valid YAML: ${(e?.message ?? '').split('\n')[0] ?? ''}`,
          offset: e?.pos[0] ?? 0,
        },
      ],
      description: undefined,
      name: undefined,
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    return {
      issues: [
        { rule: 'WS902', message: `frontmatter cannot be read: ${(err as Error).message}`, offset: 0 },
      ],
      description: undefined,
      name: undefined,
    };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return {
      issues: [{ rule: 'WS902', message: 'frontmatter is not a YAML mapping', offset: 0 }],
      description: undefined,
      name: undefined,
    };
  }
  const fm = data as Record<string, unknown>;
  const at = (key: string) => {
    const i = yamlText.search(new RegExp(`^${key.replace(/[-]/g, '\\-')}\\s*:`, 'm'));
    return i < 0 ? 0 : i;
  };
  const name = fm['name'];
  if (typeof name !== 'string' || name.length === 0 || name.length > 64 || !NAME.test(name)) {
    issues.push({
      rule: 'WS903',
      message:
        typeof name === 'string'
          ? `name ${JSON.stringify(name.slice(0, 80))} must be 1-64 characters of [a-z0-9-] without leading, trailing or doubled hyphens`
          : 'name is missing or not a string',
      offset: at('name'),
    });
  } else if (folder !== undefined && name !== folder) {
    issues.push({
      rule: 'WS904',
      message: `name ${JSON.stringify(name)} differs from folder ${JSON.stringify(folder)}`,
      offset: at('name'),
    });
  }
  const description = fm['description'];
  if (typeof description !== 'string' || description.trim().length === 0 || description.length > 1024) {
    issues.push({
      rule: 'WS905',
      message:
        typeof description === 'string'
          ? `description has ${description.length} characters; it must have 1-1024`
          : 'description is missing or not a string',
      offset: at('description'),
    });
  }
  for (const key of Object.keys(fm)) {
    if (!KNOWN_FIELDS.has(key))
      issues.push({ rule: 'WS906', message: `unknown field ${JSON.stringify(key)}`, offset: at(key) });
  }
  return {
    issues,
    description: typeof description === 'string' ? description : undefined,
    name: typeof name === 'string' ? name : undefined,
  };
}
