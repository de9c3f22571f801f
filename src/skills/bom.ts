// The capability bill of materials: what each agent can reach through the gateway, as a CycloneDX
// 1.6 JSON document. `gatherBomInputs` reads the configuration, the pin store, the skill store, the
// registry and the policy directory; `buildBom` turns what was gathered into the document and does
// no I/O, so the same inputs always give the same document apart from its serial number and time.
//
// The model:
//
// - `metadata.component` (application, bom-ref `gateway`): the gateway of this trust domain.
// - `services[]`: each upstream MCP server (bom-ref `server:<name>`), with `endpoints` for http,
//   `x-trust-boundary` true and a `trustZone` (`sandbox`, `host` for `sandbox: none`, `remote`),
//   properties `warden:transport`, `warden:sandbox` (`none` or a one-line profile summary),
//   `warden:signers` (names of the signers its `verify` requires, or `none`). The reserved server
//   `warden` appears when it offers something: `warden__run_script` under code mode.
// - `services[].services[]`: each tool of that server with a pinned definition (bom-ref
//   `tool:<server>/<tool>`, name as agents see it, `<server>__<tool>`), properties
//   `warden:definitionHash` (SHA-256 hex of the RFC 8785 canonical pinned definition),
//   `warden:labels` (flow labels) and `warden:pinStatus`. Only a pinned definition is ever offered,
//   so a tool with nothing pinned is not a service: its server's `warden:unpinnedTools` names it.
// - `components[]` of type `library`: each installed skill (bom-ref `skill:<name>`). A skill is not
//   an application (it never runs on its own) nor mere data (it carries instructions and scripts
//   an agent takes up and executes); CycloneDX calls such a reusable unit pulled into something
//   else a library. `hashes` is for the content of one thing, so the OMS root digest over the
//   folder goes in `warden:omsRootDigest` and each file is a nested `file` component with its
//   SHA-256; the signer verified at install is in `warden:signer`, `warden:signerMethod`, ...
// - `components[]` of type `application`: each agent (bom-ref `agent:<SPIFFE id>`), properties
//   `warden:blueprint`, `warden:sponsor`, `warden:status`, `warden:scopes`. An agent that can never
//   get a token again (retired, expired, its blueprint retired) is left out, unless asked for by
//   name; then it is shown with its status and nothing it may use.
// - `dependencies[]`: per agent, the tools and skills it may use; the gateway depends on every
//   server and skill; every other element is listed with no dependencies (CycloneDX reads an
//   element missing from the graph as "unknown").
//
// What an agent "may use" is what the gateway would offer it, decided the way `tools/list` decides
// (src/gateway/session.ts): the blueprint envelope must allow the server and `<server>/<tool>`, and
// Cedar must be able to allow `tools/call` on the tool for some context (`couldAllow`). A skill
// needs the envelope to allow server `warden` and Cedar to be able to allow `resources/read` of
// `skill://<name>/SKILL.md` on server `warden`. The principal carries every scope the blueprint's
// envelope lets a token hold, at delegation depth 0: the BOM is the most an agent can reach, so
// a reviewer sees everything a grant could unlock rather than a snapshot of today's grants. For
// the same reason the supply-chain checks the gateway repeats at start (a skill's signature and
// scan, an upstream's tool gate) are not rerun here: what is pinned or installed is listed.
//
// INVARIANT: every `dependsOn` ref names an element of the same document (checked before return).

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { AuditSink } from '../audit/index.js';
import type { WardenConfig } from '../config/index.js';
import { WardenError, q } from '../errors.js';
import type { UpstreamConfig } from '../gateway/config.js';
import { RUN_SCRIPT_HASH, RUN_SCRIPT_TOOL, WARDEN_SERVER } from '../gateway/code-mode-tool.js';
import { exposedName } from '../gateway/names.js';
import { ToolPins, type ListedTool } from '../gateway/pins.js';
import {
  decisionTool,
  envelopeAllows,
  skillResource,
  toolResource,
  type DecidedTool,
} from '../gateway/decision-resources.js';
import type { Decider, DecisionRequest } from '../gateway/ports.js';
import { EngineDecider, loadPolicyEngine } from '../gateway/start.js';
import { parseToolDefinition } from '../gateway/tool-definition.js';
import type { Agent, Blueprint } from '../identity/index.js';
import type { Registry } from '../identity/registry.js';
import { resolveToolFlow } from '../policy/flow-labels.js';
import type { SandboxSetting } from '../sandbox/profile.js';
import type { Store } from '../store/index.js';
import { listSkills, type InstalledSkill } from './store.js';

// ---- the CycloneDX 1.6 subset written here ------------------------------------------------------

export interface CdxProperty {
  name: string;
  value: string;
}

export interface CdxHash {
  alg: 'SHA-256';
  content: string;
}

export interface CdxComponent {
  type: 'application' | 'library' | 'file';
  'bom-ref'?: string;
  group?: string;
  name: string;
  version?: string;
  description?: string;
  hashes?: CdxHash[];
  components?: CdxComponent[];
  properties?: CdxProperty[];
}

export interface CdxService {
  'bom-ref': string;
  group?: string;
  name: string;
  description?: string;
  endpoints?: string[];
  authenticated?: boolean;
  'x-trust-boundary'?: boolean;
  trustZone?: string;
  services?: CdxService[];
  properties?: CdxProperty[];
}

export interface CdxDependency {
  ref: string;
  dependsOn: string[];
}

export interface CycloneDxBom {
  bomFormat: 'CycloneDX';
  specVersion: '1.6';
  serialNumber: string;
  version: 1;
  metadata: {
    timestamp: string;
    tools: { components: CdxComponent[] };
    component: CdxComponent;
  };
  services: CdxService[];
  components: CdxComponent[];
  dependencies: CdxDependency[];
}

// ---- inputs -------------------------------------------------------------------------------------

/** An agent and its blueprint (undefined when the registry has none by that name: it reaches nothing). */
export interface BomAgent {
  agent: Agent;
  blueprint: Blueprint | undefined;
}

/** Everything the document is built from; `gatherBomInputs` reads it from a data directory. */
export interface BomInputs {
  trustDomain: string;
  /** Warden's own version, for `metadata.tools`. */
  wardenVersion: string;
  upstreams: readonly UpstreamConfig[];
  /** `gateway.codeMode.enabled`: whether `warden__run_script` can be offered at all. */
  codeMode: boolean;
  /** The pin store's tools (`ToolPins.list()`); only pinned definitions are used. */
  tools: readonly ListedTool[];
  skills: readonly InstalledSkill[];
  agents: readonly BomAgent[];
  /** The policy, as the gateway asks it. */
  decider: Decider;
}

/** What a data directory offers the gatherer; an opened `Warden` is one. */
export interface BomSources {
  dataDir: string;
  config: WardenConfig;
  store: Store;
  audit: AuditSink;
  registry: Registry;
}

// ---- the gateway's listing decision ----------------------------------------------------------

/** A tool as the gateway decides on it (src/gateway/decision-resources.ts). */
export type BomTool = DecidedTool;

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** The principal of an agent for listing decisions: every scope its envelope allows, depth 0. */
export function agentPrincipal(a: BomAgent): DecisionRequest['principal'] {
  return {
    id: a.agent.id,
    blueprint: a.agent.blueprint,
    sponsor: a.agent.sponsor,
    scopes: strings(a.blueprint?.envelope.scopes),
    depth: 0,
  };
}

// ---- building the document ----------------------------------------------------------------------

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const prop = (name: string, value: string): CdxProperty => ({ name: `warden:${name}`, value });
const list = (items: readonly string[]): string => (items.length === 0 ? 'none' : items.join(','));

export const serverRef = (server: string): string => `server:${server}`;
export const toolRef = (server: string, tool: string): string => `tool:${server}/${tool}`;
export const skillRef = (name: string): string => `skill:${name}`;
export const agentRef = (id: string): string => `agent:${id}`;
export const GATEWAY_REF = 'gateway';

/** One line: what a sandboxed server may read, write and reach, and its main limits. */
export function sandboxSummary(s: SandboxSetting): string {
  if (s === 'none') return 'none';
  const fs = s.filesystem;
  return [
    `read=${list(fs.read)}`,
    `write=${list(fs.write)}`,
    `deny=${list(fs.deny)}`,
    `network=${list(s.network.allow)}`,
    `env=${list(s.env)}`,
    `memoryMb=${s.limits.memoryMb}`,
    `cpuSeconds=${s.limits.cpuSeconds}`,
    `processes=${s.limits.processes}`,
    `openFiles=${s.limits.openFiles}`,
    `fileSizeMb=${s.limits.fileSizeMb}`,
    ...(s.runAs !== undefined ? [`runAs=${s.runAs}`] : []),
  ].join(' ');
}

function trustZone(u: UpstreamConfig): string {
  if (u.transport === 'http') return 'remote';
  return u.sandbox === 'none' ? 'host' : 'sandbox';
}

/** The usable (pinned) tools of each configured server, and the names of the others. */
function pinnedTools(inputs: BomInputs): Map<string, { usable: BomTool[]; unpinned: string[] }> {
  const out = new Map<string, { usable: BomTool[]; unpinned: string[] }>();
  for (const u of inputs.upstreams) out.set(u.name, { usable: [], unpinned: [] });
  for (const t of inputs.tools) {
    const entry = out.get(t.server);
    const upstream = inputs.upstreams.find((u) => u.name === t.server);
    // A tool of a server no longer configured cannot be routed to.
    if (!entry || !upstream) continue;
    const pinned = t.definitions.find((d) => d.status === 'pinned' && d.hash === t.pinnedHash);
    if (t.pinnedHash === null || !pinned || pinned.definition.name !== t.name) {
      entry.unpinned.push(`${t.name} (${t.status})`);
      continue;
    }
    const flow = resolveToolFlow(upstream.tools[t.name], pinned.definition.annotations);
    entry.usable.push({ server: t.server, def: pinned.definition, hash: pinned.hash, labels: flow.labels });
  }
  for (const v of out.values()) {
    v.usable.sort((a, b) => byString(a.def.name, b.def.name));
    v.unpinned.sort(byString);
  }
  return out;
}

function runScriptTool(): BomTool {
  const def = parseToolDefinition(WARDEN_SERVER, RUN_SCRIPT_TOOL);
  return {
    server: WARDEN_SERVER,
    def,
    hash: RUN_SCRIPT_HASH,
    labels: resolveToolFlow(undefined, RUN_SCRIPT_TOOL.annotations).labels,
  };
}

function toolService(t: BomTool, zone: string, pinStatus: string): CdxService {
  return {
    'bom-ref': toolRef(t.server, t.def.name),
    group: t.server,
    name: exposedName(t.server, t.def.name),
    ...(t.def.description !== undefined ? { description: t.def.description } : {}),
    'x-trust-boundary': t.server !== WARDEN_SERVER,
    trustZone: zone,
    properties: [
      prop('definitionHash', t.hash.replace(/^sha256:/, '')),
      prop('labels', list(t.labels)),
      prop('pinStatus', pinStatus),
    ],
  };
}

function upstreamService(
  u: UpstreamConfig,
  tools: { usable: BomTool[]; unpinned: string[] },
  pinStatus: (t: BomTool) => string,
): CdxService {
  const zone = trustZone(u);
  const properties: CdxProperty[] = [prop('transport', u.transport)];
  if (u.transport === 'stdio') {
    // The program only: its arguments may carry values nobody meant to publish.
    properties.push(prop('command', u.command[0] ?? ''));
    properties.push(prop('sandbox', sandboxSummary(u.sandbox)));
    properties.push(prop('signers', list(u.verify ? [...u.verify.signers].sort(byString) : [])));
    if (u.verify) properties.push(prop('verifyPath', u.verify.path));
  } else {
    properties.push(prop('signers', 'none'));
  }
  if (tools.unpinned.length > 0) properties.push(prop('unpinnedTools', tools.unpinned.join(', ')));
  return {
    'bom-ref': serverRef(u.name),
    name: u.name,
    ...(u.transport === 'http' ? { endpoints: [u.url], authenticated: u.auth !== undefined } : {}),
    'x-trust-boundary': true,
    trustZone: zone,
    ...(tools.usable.length > 0
      ? { services: tools.usable.map((t) => toolService(t, zone, pinStatus(t))) }
      : {}),
    properties,
  };
}

function skillComponent(s: InstalledSkill): CdxComponent {
  const properties: CdxProperty[] = [prop('omsRootDigest', s.digest)];
  if (s.signer) {
    const who = s.signer.name ?? s.signer.identity ?? 'command-line key';
    properties.push(prop('signer', who), prop('signerMethod', s.signer.method));
    if (s.signer.keyHint !== undefined) properties.push(prop('keyHint', s.signer.keyHint));
    if (s.signer.identity !== undefined) properties.push(prop('signerIdentity', s.signer.identity));
    if (s.signer.issuer !== undefined) properties.push(prop('signerIssuer', s.signer.issuer));
  } else {
    properties.push(prop('signer', 'none'));
  }
  properties.push(
    prop('scanHighest', s.scan.highest ?? 'none'),
    prop('installedAt', new Date(s.installedAt).toISOString()),
  );
  const files = [...s.files].sort((a, b) => byString(a.path, b.path));
  return {
    type: 'library',
    'bom-ref': skillRef(s.name),
    name: s.name,
    ...(s.description ? { description: s.description } : {}),
    ...(files.length > 0
      ? {
          components: files.map((f): CdxComponent => ({
            type: 'file',
            name: f.path,
            hashes: [{ alg: 'SHA-256', content: f.digest }],
          })),
        }
      : {}),
    properties,
  };
}

function agentComponent(a: BomAgent, now: number): CdxComponent {
  const status =
    a.agent.status !== 'active'
      ? a.agent.status
      : a.agent.expiresAt <= now
        ? 'expired'
        : a.blueprint === undefined
          ? 'no-blueprint'
          : a.blueprint.status !== 'active'
            ? 'blueprint-retired'
            : 'active';
  return {
    type: 'application',
    'bom-ref': agentRef(a.agent.id),
    group: a.agent.blueprint,
    name: a.agent.name,
    properties: [
      prop('agentId', a.agent.id),
      prop('blueprint', a.agent.blueprint),
      ...(a.blueprint ? [prop('blueprintVersion', String(a.blueprint.version))] : []),
      prop('sponsor', a.agent.sponsor),
      prop('status', status),
      prop('expiresAt', new Date(a.agent.expiresAt).toISOString()),
      prop('scopes', list([...strings(a.blueprint?.envelope.scopes)].sort(byString))),
    ],
  };
}

/**
 * Can the agent ever get a token again? Not once it is retired or expired, or its blueprint is
 * retired or gone. A suspended agent can be resumed, so it keeps its reach (and its status says so).
 */
export function canEverAct(a: BomAgent, now: number): boolean {
  return (
    a.agent.status !== 'retired' &&
    a.agent.expiresAt > now &&
    a.blueprint !== undefined &&
    a.blueprint.status === 'active'
  );
}

/** The refs of the tools and skills `a` may use, sorted; none for an agent that can never act. */
export function agentReach(
  a: BomAgent,
  tools: readonly BomTool[],
  skills: readonly InstalledSkill[],
  decider: Decider,
  now: number,
): string[] {
  if (!canEverAct(a, now)) return [];
  const envelope = a.blueprint?.envelope;
  const principal = agentPrincipal(a);
  const refs: string[] = [];
  for (const t of tools) {
    if (!envelopeAllows(envelope, t.server, t.def.name)) continue;
    const could = decider.couldAllow(
      { principal, action: 'tools/call', resource: toolResource(t) },
      decisionTool(t),
    );
    if (could) refs.push(toolRef(t.server, t.def.name));
  }
  if (envelopeAllows(envelope, WARDEN_SERVER)) {
    for (const s of skills) {
      if (decider.couldAllow({ principal, action: 'resources/read', resource: skillResource(s.name) }))
        refs.push(skillRef(s.name));
    }
  }
  return refs.sort(byString);
}

export interface BomMeta {
  /** `urn:uuid:<uuid>`; a fresh random one when omitted. */
  serialNumber?: string;
  /** ISO 8601; now when omitted. */
  timestamp?: string;
  /** Milliseconds since the epoch, for agents' expiry; Date.now() when omitted. */
  now?: number;
}

/** The document for what was gathered. Pure apart from the default serial number and time. */
export function buildBom(inputs: BomInputs, meta: BomMeta = {}): CycloneDxBom {
  const now = meta.now ?? Date.now();
  const perServer = pinnedTools(inputs);
  const allTools: BomTool[] = [...perServer.values()].flatMap((v) => v.usable);
  const statusOf = new Map(inputs.tools.map((t) => [`${t.server}/${t.name}`, t.status]));
  const pinStatus = (t: BomTool): string => statusOf.get(`${t.server}/${t.def.name}`) ?? 'pinned';

  const services = [...inputs.upstreams]
    .sort((a, b) => byString(a.name, b.name))
    .map((u) => upstreamService(u, perServer.get(u.name) ?? { usable: [], unpinned: [] }, pinStatus));
  if (inputs.codeMode) {
    const script = runScriptTool();
    allTools.push(script);
    services.push({
      'bom-ref': serverRef(WARDEN_SERVER),
      name: WARDEN_SERVER,
      description: "Warden's own tools",
      'x-trust-boundary': false,
      trustZone: 'gateway',
      services: [toolService(script, 'gateway', 'builtin')],
      properties: [prop('transport', 'builtin')],
    });
    services.sort((a, b) => byString(a.name, b.name));
  }

  const skills = [...inputs.skills].sort((a, b) => byString(a.name, b.name));
  const agents = [...inputs.agents].sort((a, b) => byString(a.agent.id, b.agent.id));
  const components = [...skills.map(skillComponent), ...agents.map((a) => agentComponent(a, now))].sort(
    (a, b) => byString(a['bom-ref'] ?? '', b['bom-ref'] ?? ''),
  );

  const reach = new Map(
    agents.map((a) => [agentRef(a.agent.id), agentReach(a, allTools, skills, inputs.decider, now)]),
  );
  const refs = new Set<string>([GATEWAY_REF]);
  for (const s of services) {
    refs.add(s['bom-ref']);
    for (const t of s.services ?? []) refs.add(t['bom-ref']);
  }
  for (const c of components) if (c['bom-ref'] !== undefined) refs.add(c['bom-ref']);
  const gatewayDeps = [...services.map((s) => s['bom-ref']), ...skills.map((s) => skillRef(s.name))].sort(
    byString,
  );
  const dependencies: CdxDependency[] = [...refs].sort(byString).map((ref) => ({
    ref,
    dependsOn: ref === GATEWAY_REF ? gatewayDeps : (reach.get(ref) ?? []),
  }));
  for (const d of dependencies) {
    for (const r of d.dependsOn) {
      if (!refs.has(r))
        throw new WardenError('internal', `bom dependency ${q(r)} of ${q(d.ref)} names nothing`);
    }
  }

  const wardenTool: CdxComponent = { type: 'application', name: 'warden', version: inputs.wardenVersion };
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: meta.serialNumber ?? `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: meta.timestamp ?? new Date(now).toISOString(),
      tools: { components: [wardenTool] },
      component: {
        type: 'application',
        'bom-ref': GATEWAY_REF,
        name: inputs.trustDomain,
        version: inputs.wardenVersion,
        description: 'warden gateway',
      },
    },
    services,
    components,
    dependencies,
  };
}

// ---- gathering ----------------------------------------------------------------------------------

/**
 * Read what the document is built from. With `agent` (an id or `<blueprint>/<name>`), only that
 * agent, `not_found` when there is none, whatever its status; without, every agent that can still
 * act (see `canEverAct`): the others never get a token again and are left out.
 */
export async function gatherBomInputs(
  src: BomSources,
  opts: { agent?: string; wardenVersion: string; now?: number },
): Promise<BomInputs> {
  const now = opts.now ?? Date.now();
  const { config } = src;
  const engine = loadPolicyEngine(join(src.dataDir, config.gateway.policyDir));
  const blueprints = new Map((await src.registry.listBlueprints()).map((b) => [b.name, b]));
  const chosen =
    opts.agent !== undefined
      ? [await src.registry.getAgent(opts.agent)]
      : (await src.registry.listAgents()).filter((agent) =>
          canEverAct({ agent, blueprint: blueprints.get(agent.blueprint) }, now),
        );
  return {
    trustDomain: config.trustDomain,
    wardenVersion: opts.wardenVersion,
    upstreams: config.upstreams,
    codeMode: config.gateway.codeMode.enabled,
    tools: await new ToolPins(src.store, src.audit, { autoPin: false }).list(),
    skills: await listSkills(src.store),
    agents: chosen.map((agent) => ({ agent, blueprint: blueprints.get(agent.blueprint) })),
    decider: new EngineDecider(engine),
  };
}
