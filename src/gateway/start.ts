// Assembling the gateway of a data directory: secrets, tool pins, the Cedar engine (its per-tool
// actions follow the pinned definitions), the approval queue, and the session manager.

import { join } from 'node:path';
import type { AuditSink } from '../audit/index.js';
import { NO_EXPORT, type Tracing } from '../audit/tracing.js';
import type { WardenConfig } from '../config/index.js';
import { WardenError, q } from '../errors.js';
import type { IdentityState } from '../identity/index.js';
import type { McpMount } from '../identity/service.js';
import {
  PolicyEngine,
  toolActionId,
  wholeRequestsNote,
  type Decision,
  type DecisionRequest,
} from '../policy/index.js';
import type { Store } from '../store/index.js';
import { ApprovalQueue } from './approvals.js';
import { Gateway } from './gateway.js';
import { ToolPins } from './pins.js';
import type { Decider, DecisionTool } from './ports.js';
import { requireSupport } from '../sandbox/launcher.js';
import { ToolDefinitionGate, gateServer, loadSkills, type GateContext } from '../skills/gate.js';
import { CodeMode } from './code-mode-tool.js';
import { Secrets } from './secrets.js';

export interface StartedGateway {
  gateway: Gateway;
  engine: PolicyEngine;
  pins: ToolPins;
  approvals: ApprovalQueue;
  close(): Promise<void>;
}

export interface GatewayStartOptions {
  dataDir: string;
  config: WardenConfig;
  store: Store;
  audit: AuditSink;
  state: IdentityState;
  log: (line: string) => void;
  /** Spans of the operations; ids only when omitted. */
  tracing?: Tracing;
}

/**
 * The Cedar engine behind the gateway's Decider port. A tool's typed action exists once its
 * pinned definition has been given to the engine; the set is extended the first time a pinned
 * tool is decided on, so a newly approved tool works without a restart.
 */
export class EngineDecider implements Decider {
  private readonly known = new Map<string, DecisionTool>();
  private readonly listingCache = new Map<string, boolean>();

  constructor(private readonly engine: PolicyEngine) {}

  private ensure(tool: DecisionTool | undefined): void {
    if (!tool) return;
    const key = `${tool.server}/${tool.name}`;
    if (this.known.get(key)?.hash === tool.hash) return;
    this.known.set(key, tool);
    const r = this.engine.setTools(
      [...this.known.values()].map((t) => ({ server: t.server, name: t.name, inputSchema: t.inputSchema })),
    );
    // A tool whose schema cannot be typed is left out; its calls are then decided as generic
    // `tools/call` requests with no typed arguments rather than failing every tool.
    if (!r.ok) {
      this.known.delete(key);
      this.engine.setTools(
        [...this.known.values()].map((t) => ({ server: t.server, name: t.name, inputSchema: t.inputSchema })),
      );
    }
  }

  private adapt<T extends Omit<DecisionRequest, 'context'>>(req: T, tool: DecisionTool | undefined): T {
    if (
      !tool ||
      req.action !== 'tools/call' ||
      this.known.get(`${tool.server}/${tool.name}`)?.hash !== tool.hash
    ) {
      return req.action === 'tools/call' && 'context' in req
        ? { ...req, context: { ...(req as unknown as DecisionRequest).context, arguments: {} } }
        : req;
    }
    return { ...req, action: toolActionId(tool.server, tool.name) };
  }

  decide(req: DecisionRequest, tool?: DecisionTool): Decision {
    this.ensure(tool);
    return this.engine.decide(this.adapt(req, tool));
  }

  decideAsync(req: DecisionRequest, tool?: DecisionTool): Promise<Decision> {
    this.ensure(tool);
    return this.engine.decideAsync(this.adapt(req, tool));
  }

  couldAllow(req: Omit<DecisionRequest, 'context'>, tool?: DecisionTool): boolean {
    this.ensure(tool);
    const adapted = this.adapt(req, tool);
    const key = JSON.stringify([
      this.engine.policySet?.hash ?? '',
      adapted.principal,
      adapted.action,
      adapted.resource,
    ]);
    let v = this.listingCache.get(key);
    if (v === undefined) {
      v = this.engine.couldAllow(adapted);
      if (this.listingCache.size > 10_000) this.listingCache.clear();
      this.listingCache.set(key, v);
    }
    return v;
  }
}

/** The policy set of a data directory; one that does not load is a configuration error. */
export function loadPolicyEngine(policyDir: string): PolicyEngine {
  try {
    return PolicyEngine.load({ dir: policyDir });
  } catch (err) {
    throw new WardenError(
      'config_invalid',
      `policies in ${q(policyDir)} cannot be loaded: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export async function startGateway(o: GatewayStartOptions): Promise<StartedGateway> {
  const { config, store, audit } = o;
  const secrets = Secrets.load(join(o.dataDir, config.gateway.secretsFile));
  // Resolve every credential reference now, so a missing one fails at start, not mid-call.
  for (const u of config.upstreams) {
    if (u.transport === 'stdio')
      for (const v of Object.values(u.env)) if (typeof v !== 'string') secrets.resolve(v);
    if (u.transport === 'http' && u.auth)
      secrets.resolve(u.auth.type === 'bearer' ? u.auth.token : u.auth.clientSecret);
  }
  const engine = loadPolicyEngine(join(o.dataDir, config.gateway.policyDir));
  const noteWholeRequests = (): void => {
    const note = engine.policySet ? wholeRequestsNote(engine.policySet) : undefined;
    if (note !== undefined) o.log(`note: ${note}`);
  };
  noteWholeRequests();
  // Tool calls are decided with Cedar's evaluation on a thread of its own, off the event loop.
  engine.startThread();
  const watcher = engine.watch({
    onReload: (r) => {
      o.log(
        r.ok
          ? `policies reloaded: ${r.policies} policies, set ${r.hash.slice(0, 12)}`
          : `policies NOT reloaded, the running set stays: ${r.error.message}`,
      );
      if (r.ok) noteWholeRequests();
    },
  });
  const pins = new ToolPins(store, audit, { autoPin: config.gateway.autoPin });
  const approvals = new ApprovalQueue(store, audit, { ttlSeconds: config.gateway.approvalTtlSeconds });
  for (const u of config.upstreams) {
    if (u.transport === 'http') {
      o.log(`upstream ${u.name}: ${u.url}${u.auth ? ` (${u.auth.type} credentials injected)` : ''}`);
    } else if (u.sandbox === 'none') {
      o.log(`upstream ${u.name}: stdio ${JSON.stringify(u.command)} WITHOUT a sandbox (sandbox: none)`);
      await audit.record({
        type: 'mcp.session',
        outcome: 'success',
        actor: 'operator',
        subject: u.name,
        sponsor: null,
        authority: [],
        reason: 'sandbox: none',
        details: { event: 'upstream_unsandboxed', command: u.command },
      });
    } else {
      const net = u.sandbox.network.allow;
      try {
        requireSupport(`server ${q(u.name)}`, net.length > 0);
        o.log(
          `upstream ${u.name}: stdio ${JSON.stringify(u.command)} in a sandbox (${net.length > 0 ? `network through the proxy: ${net.join(', ')}` : 'no network'})`,
        );
      } catch (err) {
        // Fail closed: the server refuses to start (each use says why); the others run.
        o.log(`upstream ${u.name}: CANNOT START: ${(err as Error).message}`);
      }
    }
  }
  // Supply chain: signed, scanned servers and skills only (src/skills/gate.ts). A refused server is
  // left out of the gateway entirely; the reason is logged and recorded.
  const gate: GateContext = { supply: config.supplyChain, dataDir: o.dataDir, audit, log: o.log };
  const refusedServers = new Set<string>();
  for (const u of config.upstreams) {
    if (u.transport === 'stdio' && (await gateServer(gate, u)) !== undefined) refusedServers.add(u.name);
  }
  const skills = await loadSkills(gate, store);
  if (skills.length > 0) o.log(`skills loaded: ${skills.map((s) => s.name).join(', ')}`);
  const hide = [o.dataDir, join(o.dataDir, config.gateway.secretsFile), join(o.dataDir, config.store.path)];
  const codeMode = new CodeMode(config.gateway.codeMode, hide);
  const gateway = new Gateway({
    upstreams: config.upstreams.filter((u) => !refusedServers.has(u.name)),
    settings: config.gateway,
    secrets,
    decider: new EngineDecider(engine),
    pins,
    approvals,
    audit,
    auditArguments: { mode: config.audit.arguments, pointers: config.audit.redactPointers },
    tracing: o.tracing ?? NO_EXPORT,
    state: o.state,
    log: (line) => o.log(secrets.scrub(line)),
    sandboxHide: hide,
    codeMode,
    skills,
    toolGate: new ToolDefinitionGate(gate, config.supplyChain.scanFailOn),
  });
  return {
    gateway,
    engine,
    pins,
    approvals,
    async close() {
      watcher.close();
      await gateway.close();
      await codeMode.close();
      await engine.stopThread();
    },
  };
}

/**
 * What `startIdentityService` mounts at `/mcp`: the gateway, started once the registry snapshot
 * exists. `onStart` receives the running gateway (the demo and tests drive its pins and approvals).
 */
export function gatewayMount(
  o: Omit<GatewayStartOptions, 'state'>,
  onStart?: (g: StartedGateway) => void,
): (state: IdentityState) => Promise<McpMount> {
  return async (state) => {
    const g = await startGateway({ ...o, state });
    onStart?.(g);
    return { handle: (req, res, p) => g.gateway.handle(req, res, p), close: () => g.close() };
  };
}
