// A tool's definition as Warden pins it: the part of an MCP `tools/list` entry that tells a model
// what the tool is and how to call it, parsed from the untrusted upstream entry, hashed over its
// RFC 8785 canonical form, and scanned for hidden text.
//
// Pinned: name, title, description, inputSchema, outputSchema, annotations (its five defined hints).
// Ignored: `_meta`, `icons`, `execution` and any field the MCP schema does not define. `_meta` is
// per-response protocol metadata (trace context, server bookkeeping) that may differ on every
// listing, so hashing it would quarantine honest servers for nothing; the rest do not tell the model
// what the tool does, and unknown fields would make the hash depend on extensions we cannot review.
// INVARIANT: what is ignored here must not be forwarded to agents either; the gateway lists a tool
// from its pinned fields so that nothing an agent reads about a tool escapes the pin.

import { z } from 'zod';
import { WardenError, q } from '../errors.js';
import { canonicalJson, sha256Jcs } from '../jcs.js';
import { scanToolDefinitionsSync, severityAtLeast } from '../skills/scan/index.js';

/** The MCP spec's recommended tool name alphabet (1-128 of A-Z a-z 0-9 _ - .), enforced: names go
 * into policies, audit records and `<server>/<tool>` references, and a look-alike name is an attack. */
export const TOOL_NAME_RE = /^[A-Za-z0-9_.-]{1,128}$/;

/** Canonical definitions larger than this are refused; real ones are a few kilobytes. */
export const TOOL_DEFINITION_MAX_BYTES = 1024 * 1024;

/** A JSON Schema whose root is an object schema, as MCP requires for both schemas; kept whole. */
const ObjectSchema = z.looseObject({ type: z.literal('object') });

const ToolAnnotationsSchema = z.object({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

// Not `.strict()`: unknown fields of an upstream entry are dropped (see the header), not refused.
export const ToolDefinitionSchema = z.object({
  name: z.string().regex(TOOL_NAME_RE, 'must be 1 to 128 characters of A-Z, a-z, 0-9, _, - and .'),
  title: z.string().optional(),
  description: z.string().optional(),
  inputSchema: ObjectSchema,
  outputSchema: ObjectSchema.optional(),
  annotations: ToolAnnotationsSchema.optional(),
});

export type ToolDefinition = z.infer<typeof ToolDefinitionSchema>;

/**
 * A finding of the scanner (src/skills/scan) in one string of a definition, as pins store it:
 * `rule` is the scanner's rule id, `field` the string's path (e.g.
 * `inputSchema.properties.to.description`). Severity is folded to two
 * levels: `high` (the scanner's high and critical) keeps a definition from being pinned without an
 * explicit acceptance; `medium` is shown to the reviewer. Low and informational findings are not kept.
 */
export interface ToolFinding {
  rule: string;
  severity: 'high' | 'medium';
  message: string;
  field: string;
}

/** An upstream offered a tool entry that is not a valid MCP tool definition. */
export class ToolDefinitionError extends WardenError {
  declare readonly code: 'tool_definition_invalid';
  constructor(message: string, options?: { cause?: unknown }) {
    super('tool_definition_invalid', message, options);
  }
}

function describeTool(server: string, entry: unknown): string {
  const name =
    typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>)['name'] : undefined;
  return typeof name === 'string'
    ? `tool ${q(name)} of upstream ${q(server)}`
    : `a tool of upstream ${q(server)}`;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/**
 * Only the pinned fields, in a fresh object: a caller holding a wider object typed as
 * ToolDefinition (an SDK `Tool`, say) must not get its extra fields hashed or stored.
 */
export function canonicalToolDefinition(def: ToolDefinition): ToolDefinition {
  const out: ToolDefinition = { name: def.name, inputSchema: def.inputSchema };
  if (def.title !== undefined) out.title = def.title;
  if (def.description !== undefined) out.description = def.description;
  if (def.outputSchema !== undefined) out.outputSchema = def.outputSchema;
  if (def.annotations !== undefined) {
    const a = def.annotations;
    out.annotations = {};
    if (a.title !== undefined) out.annotations.title = a.title;
    if (a.readOnlyHint !== undefined) out.annotations.readOnlyHint = a.readOnlyHint;
    if (a.destructiveHint !== undefined) out.annotations.destructiveHint = a.destructiveHint;
    if (a.idempotentHint !== undefined) out.annotations.idempotentHint = a.idempotentHint;
    if (a.openWorldHint !== undefined) out.annotations.openWorldHint = a.openWorldHint;
  }
  return out;
}

/**
 * Parse one entry of an upstream's `tools/list` result. Anything wrong with it is a
 * ToolDefinitionError naming the upstream and the tool, never a TypeError.
 */
export function parseToolDefinition(server: string, entry: unknown): ToolDefinition {
  const what = describeTool(server, entry);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ToolDefinitionError(`upstream ${q(server)} listed a tool that is not an object`);
  }
  const parsed = ToolDefinitionSchema.safeParse(entry);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
    const message = issue ? lowerFirst(issue.message) : 'invalid';
    throw new ToolDefinitionError(`${what} has an invalid definition: ${path}${message}`, {
      cause: parsed.error,
    });
  }
  const def = canonicalToolDefinition(parsed.data);
  let text: string;
  try {
    text = canonicalJson(def);
  } catch (err) {
    throw new ToolDefinitionError(`${what} has an invalid definition: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (Buffer.byteLength(text, 'utf8') > TOOL_DEFINITION_MAX_BYTES) {
    throw new ToolDefinitionError(`${what} has a definition larger than ${TOOL_DEFINITION_MAX_BYTES} bytes`);
  }
  return def;
}

/** SHA-256 (lowercase hex) over the RFC 8785 canonical JSON of the pinned fields. */
export function toolDefinitionHash(def: ToolDefinition): string {
  return sha256Jcs(canonicalToolDefinition(def));
}

/** At most this many findings are kept per definition, so a hostile schema cannot flood the store. */
export const TOOL_FINDINGS_MAX = 100;

/** A scanner finding's location (`#/0/inputSchema/properties/to`) as a field path. */
function fieldOf(file: string): string {
  const hash = file.indexOf('#');
  const parts = (hash < 0 ? '' : file.slice(hash + 1))
    .split('/')
    .slice(2)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/**
 * Scan every string a model reads in the definition (the description and titles, every member name
 * and string value of both schemas: property descriptions are as good a hiding place as the tool's
 * own description) with the scanner's tool-definition rules.
 */
export function scanToolDefinition(def: ToolDefinition): ToolFinding[] {
  return scanToolDefinitionsSync([def], { server: def.name })
    .findings.filter((f) => severityAtLeast(f.severity, 'medium'))
    .slice(0, TOOL_FINDINGS_MAX)
    .map((f) => ({
      rule: f.ruleId,
      severity: severityAtLeast(f.severity, 'high') ? ('high' as const) : ('medium' as const),
      message: f.message,
      field: fieldOf(f.file),
    }));
}

export function hasHighFindings(findings: readonly ToolFinding[]): boolean {
  return findings.some((f) => f.severity === 'high');
}
