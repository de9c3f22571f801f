// The resources of decisions, built the same way wherever one is asked: the gateway's session for
// each request and listing, and `warden bom` for what each agent may reach.

import type { Envelope } from '../identity/index.js';
import { WARDEN_SERVER } from './code-mode-tool.js';
import { globMatch } from './names.js';
import type { DecisionRequest, DecisionTool } from './ports.js';
import { skillUri } from './skill-resources.js';
import type { ToolDefinition } from './tool-definition.js';

/** A tool as the gateway decides on it: its definition, the hash decisions bind to, its flow labels. */
export interface DecidedTool {
  server: string;
  def: ToolDefinition;
  /** The pin hash (upstream tools) or RUN_SCRIPT_HASH. */
  hash: string;
  labels: readonly string[];
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Whether a blueprint's envelope includes `server` (and `server/tool`, when a tool is named). */
export function envelopeAllows(envelope: Envelope | undefined, server: string, tool?: string): boolean {
  if (!envelope || typeof envelope !== 'object') return false;
  if (!strings(envelope.servers).some((p) => globMatch(p, server))) return false;
  if (tool === undefined) return true;
  return strings(envelope.tools).some((p) => globMatch(p, `${server}/${tool}`));
}

/** The `Tool` resource of a `tools/call` decision. */
export function toolResource(t: DecidedTool): DecisionRequest['resource'] {
  const a = t.def.annotations ?? {};
  return {
    type: 'Tool',
    id: `${t.server}/${t.def.name}`,
    attrs: {
      server: t.server,
      name: t.def.name,
      labels: [...t.labels],
      definition_hash: t.hash,
      read_only: a.readOnlyHint === true,
      destructive: a.destructiveHint === true,
      open_world: a.openWorldHint === true,
    },
  };
}

/** The per-tool inputs of a decision (the argument schema and the hash it binds to). */
export function decisionTool(t: DecidedTool): DecisionTool {
  return { server: t.server, name: t.def.name, hash: t.hash, inputSchema: t.def.inputSchema };
}

/**
 * The `Resource` of a read of an installed skill's file, on Warden's own server. No flow labels:
 * the gateway offers only skills that were scanned and verified against a trusted signer at start.
 */
export function skillFileResource(uri: string): DecisionRequest['resource'] {
  return {
    type: 'Resource',
    id: `${WARDEN_SERVER}/${uri}`,
    attrs: { server: WARDEN_SERVER, uri, labels: [] },
  };
}

/** The resource of a skill's instructions, `skill://<name>/SKILL.md`. */
export function skillResource(name: string): DecisionRequest['resource'] {
  return skillFileResource(skillUri(name, 'SKILL.md'));
}
