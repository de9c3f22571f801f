// Reading tool definitions for the schema from a `tools/list` result per server, the form an
// operator can save from any MCP client: `{ "<server>": { "tools": [ { "name", "inputSchema", ... } ] } }`.
// Only `name` and `inputSchema` are read; other fields (description, annotations...) are ignored.

import { q } from '../errors.js';
import { PolicyError } from './errors.js';
import type { ToolSchemaInput } from './schema.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseToolLists(json: unknown, source = 'tools file'): ToolSchemaInput[] {
  const fail = (what: string) => new PolicyError('schema_invalid', `${source}: ${what}`);
  if (!isObject(json)) throw fail('expected an object of `<server>: <tools/list result>`');
  const tools: ToolSchemaInput[] = [];
  for (const [server, result] of Object.entries(json)) {
    if (!isObject(result) || !Array.isArray(result['tools'])) {
      throw fail(`server ${q(server)}: expected a tools/list result with a \`tools\` array`);
    }
    result['tools'].forEach((t: unknown, i) => {
      if (!isObject(t) || typeof t['name'] !== 'string') {
        throw fail(`server ${q(server)}: tool ${i} has no \`name\``);
      }
      tools.push({ server, name: t['name'], inputSchema: t['inputSchema'] });
    });
  }
  return tools;
}
