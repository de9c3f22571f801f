// Flow labels of tools and their sensitive arguments: the configuration the gateway embeds per
// tool, and the defaults taken from a tool's MCP annotations when nothing is configured.

import { z } from 'zod';
import { isValidSensitiveArg, MAX_SENSITIVE_ARG_LENGTH } from './flow-pointer.js';

/**
 * - `private`: the tool returns the user's own data (their files, their contacts);
 * - `untrusted`: it returns content from outside the trust boundary (web pages, inbound mail,
 *   other people's files and messages);
 * - `egress`: it sends data out of the trust boundary;
 * - `consequential`: it moves money, deletes, shares or changes permissions.
 */
export const FLOW_LABELS = ['private', 'untrusted', 'egress', 'consequential'] as const;
export type FlowLabel = (typeof FLOW_LABELS)[number];

export const FlowLabelSchema = z.enum(FLOW_LABELS);

export const SensitiveArgSchema = z
  .string()
  .min(1)
  .max(MAX_SENSITIVE_ARG_LENGTH)
  .refine(isValidSensitiveArg, {
    message: 'must be an argument name or an RFC 6901 JSON Pointer (`~0` and `~1` are the only escapes)',
  });

/** One tool's flow settings as written in configuration; `labels` absent means "from annotations". */
export const ToolFlowConfigSchema = z
  .object({
    labels: z
      .array(FlowLabelSchema)
      .max(FLOW_LABELS.length)
      .refine((ls) => new Set(ls).size === ls.length, { message: 'labels must not repeat' })
      .optional(),
    /** Argument names or JSON Pointers whose values must not come from untrusted content. */
    sensitiveArgs: z
      .array(SensitiveArgSchema)
      .max(64)
      .refine((as) => new Set(as).size === as.length, { message: 'sensitive arguments must not repeat' })
      .default([]),
    /**
     * Free-text arguments (a message body, a subject) whose addresses must not come from untrusted
     * content: the URLs, e-mails, IBANs and long numbers inside are checked, the words are not.
     */
    sensitiveText: z
      .array(SensitiveArgSchema)
      .max(64)
      .refine((as) => new Set(as).size === as.length, { message: 'sensitive text arguments must not repeat' })
      .optional(),
    /**
     * The service itself assigns the short names and ids in this tool's results (channel names,
     * file ids): as whole values they vouch for themselves even when the result is untrusted.
     */
    trustNames: z.boolean().optional(),
  })
  .strict();

export type ToolFlowSettings = z.infer<typeof ToolFlowConfigSchema>;

/** A tool's resolved flow configuration: what `SessionFlow` works with. */
export interface ToolFlowConfig {
  labels: readonly FlowLabel[];
  sensitiveArgs: readonly string[];
  /** Free-text arguments checked for the addresses inside them only. Default none. */
  sensitiveText?: readonly string[];
  /**
   * Whole short values of this tool's results (a JSON leaf, or the whole text) without an address
   * in them count as trusted names; see `SessionFlow.recordResult`. Default false.
   */
  trustNames?: boolean;
}

/** The MCP `ToolAnnotations` hints that bear on flow; anything else in the object is ignored. */
export interface ToolAnnotationHints {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  openWorldHint?: boolean;
  idempotentHint?: boolean;
}

/**
 * Labels from MCP tool annotations. Annotations are the server's own claims, so a missing or
 * non-boolean hint takes the MCP spec's default (`readOnlyHint` false, `destructiveHint` true,
 * `openWorldHint` true), and every rule errs towards the stricter label:
 *
 * | hints | labels |
 * |---|---|
 * | open world (the default) | `untrusted`: whatever the tool returns may come from outside |
 * | open world, not read-only | + `egress` |
 * | destructive (the default when not read-only; also when `destructiveHint: true` contradicts `readOnlyHint: true`) | + `consequential` |
 * | read-only, closed world | `private` |
 *
 * So a tool without annotations is `untrusted` + `egress` + `consequential` and never `private`:
 * its results can only make values look less trusted, and calling it counts as sending data out.
 * `idempotentHint` has no bearing on flow.
 */
export function defaultLabels(annotations?: ToolAnnotationHints | null): FlowLabel[] {
  const readOnly = annotations?.readOnlyHint === true;
  const openWorld = annotations?.openWorldHint !== false;
  const destructive =
    annotations?.destructiveHint === true || (!readOnly && annotations?.destructiveHint !== false);
  const labels = new Set<FlowLabel>();
  if (openWorld) labels.add('untrusted');
  if (readOnly && !openWorld) labels.add('private');
  if (openWorld && !readOnly) labels.add('egress');
  if (destructive) labels.add('consequential');
  return sortLabels(labels);
}

/** Configured labels win over annotations; `labels: []` deliberately says "no labels". */
export function resolveToolFlow(
  settings: ToolFlowSettings | undefined,
  annotations?: ToolAnnotationHints | null,
): ToolFlowConfig {
  return {
    labels: settings?.labels ? sortLabels(settings.labels) : defaultLabels(annotations),
    sensitiveArgs: settings?.sensitiveArgs ?? [],
    sensitiveText: settings?.sensitiveText ?? [],
    trustNames: settings?.trustNames ?? false,
  };
}

/** Labels in the canonical order of `FLOW_LABELS`, each once. */
export function sortLabels(labels: Iterable<FlowLabel>): FlowLabel[] {
  const set = new Set(labels);
  return FLOW_LABELS.filter((l) => set.has(l));
}

export function isFlowLabel(value: unknown): value is FlowLabel {
  return typeof value === 'string' && (FLOW_LABELS as readonly string[]).includes(value);
}
