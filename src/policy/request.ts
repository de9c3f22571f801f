// A decision request, and turning it into a Cedar request: entities, context, action.
//
// Requests are evaluated without the schema: with one, Cedar rebuilds every action entity of the
// schema on every call, which costs more than the rest of the decision once there are a few hundred
// tools. Instead this file produces requests that are well typed by construction: every field is
// checked here against the schema's types (the entity shapes in schema.ts, the arguments' generated
// type), and anything that does not fit refuses the request.
//
// INVARIANT: a request either converts to values of exactly the schema's types or throws
// `request_invalid` / `arguments_invalid`. A mistyped value would make policies error, and an
// erroring forbid counts as absent: that would fail open.
//
// Parsing is hand-written rather than zod because it runs on every tool call (measured budget:
// tens of µs for the whole conversion); the shapes are documented on the types below.

import type { CedarValueJson, EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';
import { q } from '../errors.js';
import { convertArguments } from './arguments.js';
import { PolicyError } from './errors.js';
import { NAMESPACE, type ActionSpec, type ResourceType, type SchemaModel } from './schema.js';

/** The agent making a request (the default principal type). */
export interface AgentPrincipalInput {
  type?: 'Agent';
  /** The agent's SPIFFE id. */
  id: string;
  blueprint: string;
  sponsor: string;
  scopes: string[];
  /** Delegation depth of the token (0: the agent's own token). */
  depth: number;
}

/** An upstream server making a request (sampling, elicitation, roots, connect). */
export interface ServerPrincipalInput {
  type: 'Server';
  id: string;
}

export interface DecisionResource {
  type: ResourceType;
  /**
   * Tool and Prompt: `<server>/<name>`; Resource: `<server>/<uri>`; Host and Agent: free. The id
   * of a Tool, Prompt or Resource must agree with its attributes, so a policy written against
   * `Warden::Tool::"mail/send_email"` cannot be dodged by a different spelling.
   */
  id: string;
  /**
   * Exactly the entity's attributes in the schema:
   * Tool `{ server, name, labels, definition_hash, read_only, destructive, open_world }`,
   * Resource `{ server, uri, labels }`, Prompt `{ server, name, labels }`, Host `{ name, port }`,
   * Agent `{ blueprint, sponsor, scopes, depth }`.
   */
  attrs: Record<string, unknown>;
}

/**
 * One question for the engine. JSON of this shape is what `warden policy test` reads:
 *
 * ```json
 * {
 *   "principal": { "id": "spiffe://warden.local/agent/mailer/a1", "blueprint": "mailer",
 *                  "sponsor": "alice@example.com", "scopes": ["mail"], "depth": 0 },
 *   "action": "call:mail/send_email",
 *   "resource": { "type": "Tool", "id": "mail/send_email",
 *                 "attrs": { "server": "mail", "name": "send_email", "labels": ["egress"],
 *                            "definition_hash": "sha256:...", "read_only": false,
 *                            "destructive": false, "open_world": true } },
 *   "context": { "arguments": { "to": "bob@example.com" },
 *                "flow": { "touched": [], "private_seen": false, "untrusted_seen": false,
 *                          "tainted_args": [], "intent_args": [] },
 *                "grant": { "active": false, "ids": [] }, "delegation_depth": 0 }
 * }
 * ```
 */
export interface DecisionRequest {
  principal: AgentPrincipalInput | ServerPrincipalInput;
  /** An action of the schema: `tools/call`, `call:<server>/<tool>`, `resources/read`, ... */
  action: string;
  resource: DecisionResource;
  /** AgentRequestContext for the agent actions, ServerRequestContext for the server's. */
  context: Record<string, unknown>;
}

/** The Cedar context record of a call's session flow (`context.flow`). */
export interface FlowFacts {
  /** Labels the session has touched before this call, in `FLOW_LABELS` order. */
  touched: string[];
  private_seen: boolean;
  untrusted_seen: boolean;
  /** Sensitive arguments (as configured) holding at least one tainted value. */
  tainted_args: string[];
  /** Sensitive arguments (as configured) present and holding only values from the intent. */
  intent_args: string[];
}

export interface TimeFacts {
  epoch_seconds: number;
  hour_utc: number;
  /** 0 (Sunday) to 6 (Saturday). */
  weekday: number;
}

/** `context` of tools/call, call:*, resources/read and prompts/get. */
export interface AgentRequestContext {
  /** The call's raw MCP arguments; typed for call:* actions, ignored (`{}`) for the others. */
  arguments?: unknown;
  flow: FlowFacts;
  grant: { active: boolean; ids: string[] };
  delegation_depth: number;
  /** Default: the engine's clock at the decision. */
  time?: TimeFacts;
}

/** `context` of sampling/createMessage, elicitation/create and roots/list. */
export interface ServerRequestContext {
  time?: TimeFacts;
}

/** `context` of connect: an outbound connection of a sandboxed server. */
export interface ConnectRequestContext {
  time?: TimeFacts;
  /** The destination matches the server's `sandbox.network.allow`. */
  allowlisted: boolean;
  /** The agent whose session started the server; "" when none did. */
  agent?: string;
}

/** A request in Cedar's terms, ready for `statefulIsAuthorized` once a policy set id is added. */
export interface CedarRequest {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  context: Record<string, CedarValueJson>;
  entities: EntityJson[];
}

function bad(path: string, expected: string): PolicyError {
  return new PolicyError('request_invalid', `request field ${q(path)} must be ${expected}`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(path, 'an object');
  return v as Record<string, unknown>;
}

/** Refuse keys the type does not have: a typo or an attack either way. */
function only(o: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) {
      throw new PolicyError('request_invalid', `request field ${q(path ? `${path}.${k}` : k)} is not known`);
    }
  }
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw bad(path, 'a string');
  return v;
}

function id(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048)
    throw bad(path, 'a string of 1-2048 characters');
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw bad(path, 'a boolean');
  return v;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw bad(path, `an integer from ${min} to ${max}`);
  }
  return v;
}

function strings(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string')) {
    throw bad(path, 'an array of strings');
  }
  return v;
}

const uid = (type: string, id: string): EntityUidJson => ({ type: `${NAMESPACE}::${type}`, id });

const AGENT_KEYS = ['type', 'id', 'blueprint', 'sponsor', 'scopes', 'depth'] as const;
const AGENT_ATTRS = ['blueprint', 'sponsor', 'scopes', 'depth'] as const;

function agentEntity(agentId: string, a: Record<string, unknown>, path: string): EntityJson {
  const blueprint = id(a['blueprint'], `${path}.blueprint`);
  const sponsor = id(a['sponsor'], `${path}.sponsor`);
  return {
    uid: uid('Agent', agentId),
    attrs: {
      blueprint,
      sponsor,
      scopes: strings(a['scopes'], `${path}.scopes`),
      depth: int(a['depth'], `${path}.depth`, 0, 1000),
    },
    parents: [uid('Blueprint', blueprint), uid('Sponsor', sponsor)],
  };
}

function principalEntity(spec: ActionSpec, v: unknown): EntityJson {
  const p = obj(v, 'principal');
  const type = p['type'] ?? 'Agent';
  if (type !== spec.principal) {
    throw new PolicyError(
      'request_invalid',
      `action ${q(spec.id)} is made by a ${spec.principal}, not by a ${q(type)}`,
    );
  }
  const pid = id(p['id'], 'principal.id');
  if (type === 'Server') {
    only(p, ['type', 'id'], 'principal');
    return { uid: uid('Server', pid), attrs: {}, parents: [] };
  }
  only(p, AGENT_KEYS, 'principal');
  return agentEntity(pid, p, 'principal');
}

function resourceEntity(spec: ActionSpec, v: unknown): EntityJson {
  const r = obj(v, 'resource');
  only(r, ['type', 'id', 'attrs'], 'resource');
  if (r['type'] !== spec.resource) {
    throw new PolicyError(
      'request_invalid',
      `action ${q(spec.id)} applies to a ${spec.resource}, not to ${q(r['type'])}`,
    );
  }
  const rid = id(r['id'], 'resource.id');
  const a = obj(r['attrs'], 'resource.attrs');
  const at = (k: string) => `resource.attrs.${k}`;
  const sameId = (expected: string) => {
    if (rid !== expected) {
      throw new PolicyError(
        'request_invalid',
        `resource id ${q(rid)} does not match its attributes: expected ${q(expected)}`,
      );
    }
  };
  switch (spec.resource) {
    case 'Tool': {
      only(
        a,
        ['server', 'name', 'labels', 'definition_hash', 'read_only', 'destructive', 'open_world'],
        'resource.attrs',
      );
      const server = id(a['server'], at('server'));
      const name = id(a['name'], at('name'));
      sameId(`${server}/${name}`);
      if (spec.tool && (spec.tool.server !== server || spec.tool.name !== name)) {
        throw new PolicyError('request_invalid', `action ${q(spec.id)} is not a call of tool ${q(rid)}`);
      }
      return {
        uid: uid('Tool', rid),
        attrs: {
          server,
          name,
          labels: strings(a['labels'], at('labels')),
          definition_hash: str(a['definition_hash'], at('definition_hash')),
          read_only: bool(a['read_only'], at('read_only')),
          destructive: bool(a['destructive'], at('destructive')),
          open_world: bool(a['open_world'], at('open_world')),
        },
        parents: [uid('Server', server)],
      };
    }
    case 'Resource': {
      only(a, ['server', 'uri', 'labels'], 'resource.attrs');
      const server = id(a['server'], at('server'));
      const uri = id(a['uri'], at('uri'));
      sameId(`${server}/${uri}`);
      return {
        uid: uid('Resource', rid),
        attrs: { server, uri, labels: strings(a['labels'], at('labels')) },
        parents: [uid('Server', server)],
      };
    }
    case 'Prompt': {
      only(a, ['server', 'name', 'labels'], 'resource.attrs');
      const server = id(a['server'], at('server'));
      const name = id(a['name'], at('name'));
      sameId(`${server}/${name}`);
      return {
        uid: uid('Prompt', rid),
        attrs: { server, name, labels: strings(a['labels'], at('labels')) },
        parents: [uid('Server', server)],
      };
    }
    case 'Host':
      only(a, ['name', 'port'], 'resource.attrs');
      return {
        uid: uid('Host', rid),
        attrs: { name: id(a['name'], at('name')), port: int(a['port'], at('port'), 0, 65535) },
        parents: [],
      };
    case 'Agent':
      only(a, AGENT_ATTRS, 'resource.attrs');
      return agentEntity(rid, a, 'resource.attrs');
  }
}

function timeOf(v: unknown, nowMs: number): Record<string, CedarValueJson> {
  if (v === undefined) {
    const d = new Date(nowMs);
    return { epoch_seconds: Math.floor(nowMs / 1000), hour_utc: d.getUTCHours(), weekday: d.getUTCDay() };
  }
  const t = obj(v, 'context.time');
  only(t, ['epoch_seconds', 'hour_utc', 'weekday'], 'context.time');
  return {
    epoch_seconds: int(
      t['epoch_seconds'],
      'context.time.epoch_seconds',
      Number.MIN_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
    ),
    hour_utc: int(t['hour_utc'], 'context.time.hour_utc', 0, 23),
    weekday: int(t['weekday'], 'context.time.weekday', 0, 6),
  };
}

function contextOf(spec: ActionSpec, v: unknown, nowMs: number): Record<string, CedarValueJson> {
  const c = obj(v, 'context');
  if (spec.context === 'server') {
    only(c, ['time'], 'context');
    return { time: timeOf(c['time'], nowMs) };
  }
  if (spec.context === 'connect') {
    only(c, ['time', 'allowlisted', 'agent'], 'context');
    const agent = c['agent'] ?? '';
    if (typeof agent !== 'string') throw bad('context.agent', 'a string');
    return {
      time: timeOf(c['time'], nowMs),
      allowlisted: bool(c['allowlisted'], 'context.allowlisted'),
      agent,
    };
  }
  only(c, ['arguments', 'flow', 'grant', 'delegation_depth', 'time'], 'context');
  const f = obj(c['flow'], 'context.flow');
  only(f, ['touched', 'private_seen', 'untrusted_seen', 'tainted_args', 'intent_args'], 'context.flow');
  const g = obj(c['grant'], 'context.grant');
  only(g, ['active', 'ids'], 'context.grant');
  return {
    // Only per-tool actions have typed arguments; the generic actions' `arguments` is `{}`.
    arguments: spec.tool ? convertArguments(spec.tool.args, c['arguments']) : {},
    flow: {
      touched: strings(f['touched'], 'context.flow.touched'),
      private_seen: bool(f['private_seen'], 'context.flow.private_seen'),
      untrusted_seen: bool(f['untrusted_seen'], 'context.flow.untrusted_seen'),
      tainted_args: strings(f['tainted_args'], 'context.flow.tainted_args'),
      intent_args: strings(f['intent_args'], 'context.flow.intent_args'),
    },
    grant: { active: bool(g['active'], 'context.grant.active'), ids: strings(g['ids'], 'context.grant.ids') },
    delegation_depth: int(c['delegation_depth'], 'context.delegation_depth', 0, 1000),
    time: timeOf(c['time'], nowMs),
  };
}

/** The action of a request, or `request_invalid` when the schema has no such action. */
export function actionSpec(model: SchemaModel, action: unknown): ActionSpec {
  const spec = typeof action === 'string' ? model.actions.get(action) : undefined;
  if (!spec) {
    throw new PolicyError(
      'request_invalid',
      typeof action === 'string' && action.startsWith('call:')
        ? `action ${q(action)} is not in the schema: the tool is unknown to the policy engine`
        : `action ${q(action)} is not in the schema`,
    );
  }
  return spec;
}

/** Principal, resource and action of a request without its context (for partial evaluation). */
export function toCedarScope(
  model: SchemaModel,
  req: Omit<DecisionRequest, 'context'>,
): Omit<CedarRequest, 'context'> & { spec: ActionSpec } {
  const r = obj(req, 'request');
  only(r, ['principal', 'action', 'resource', 'context'], '');
  const spec = actionSpec(model, r['action']);
  const principal = principalEntity(spec, r['principal']);
  const resource = resourceEntity(spec, r['resource']);
  const entities = [principal, resource];
  if (spec.entity) entities.push(spec.entity);
  return { principal: principal.uid, action: uid('Action', spec.id), resource: resource.uid, entities, spec };
}

/** Principal and resource entities, action, and typed context. Throws a PolicyError on any mismatch. */
export function toCedarRequest(model: SchemaModel, req: DecisionRequest, nowMs: number): CedarRequest {
  const { spec, ...scope } = toCedarScope(model, req);
  return { ...scope, context: contextOf(spec, (req as { context?: unknown }).context, nowMs) };
}

/**
 * Read a DecisionRequest from untrusted JSON (a file, the wire). The shape is checked here; the
 * types of every field when the request is converted (toCedarRequest), against a schema.
 */
export function parseDecisionRequest(json: unknown): DecisionRequest {
  const r = obj(json, 'request');
  only(r, ['principal', 'action', 'resource', 'context'], '');
  obj(r['principal'], 'principal');
  str(r['action'], 'action');
  obj(r['resource'], 'resource');
  obj(r['context'], 'context');
  return r as unknown as DecisionRequest;
}
