// One agent's MCP session through the gateway: its downstream MCP server (what the agent talks
// to), its own upstream connections, its flow state, and the pipeline every request goes through:
// resolve → pin check → decide (Cedar over agent, tool, arguments, session flow) → forward →
// inspect → record. Every failure path refuses.

import { createHash } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
  type ClientCapabilities,
  type Prompt,
  type Resource,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  formatTraceparent,
  parseTraceparent,
  type AuditEvent,
  type AuditSink,
  type TraceIds,
} from '../audit/index.js';
import type { SpanHandle, Tracing } from '../audit/tracing.js';
import { q } from '../errors.js';
import type { IdentityState, Principal } from '../identity/index.js';
import type { GatewaySettings, UpstreamConfig } from './config.js';
import { GatewayErrorCode, gatewayError } from './errors.js';
import { sha256Jcs } from '../jcs.js';
import { exposedName, splitExposedName } from './names.js';
import type { Approvals, Decider, Decision, DecisionRequest, DecisionTool, PinChecker } from './ports.js';
import { SessionFlow, type FlowFacts } from '../policy/flow.js';
import { resolveToolFlow, type FlowLabel, type ToolFlowConfig } from '../policy/flow-labels.js';
import type { Intent } from '../policy/flow-intent.js';
import { DEFAULT_SECRET_PATTERNS, inspectResult, redactSecrets } from '../policy/inspect-result.js';
import type { Secrets } from './secrets.js';
import { hasHighFindings, parseToolDefinition, type ToolDefinition } from './tool-definition.js';
import { UpstreamConnection, UpstreamError, type ClientSide } from './upstream.js';
import { connectDecider } from '../sandbox/connect.js';
import type { LoadedSkill, ToolDefinitionGate } from '../skills/gate.js';
import { SKILL_URI_PREFIX, readSkillResource, skillResources } from './skill-resources.js';
import { decisionTool, envelopeAllows, skillFileResource, toolResource } from './decision-resources.js';
import {
  RUN_SCRIPT,
  RUN_SCRIPT_HASH,
  RUN_SCRIPT_TOOL,
  WARDEN_SERVER,
  scriptOf,
  type CodeMode,
} from './code-mode-tool.js';

export interface GatewayDeps {
  upstreams: readonly UpstreamConfig[];
  settings: GatewaySettings;
  secrets: Secrets;
  decider: Decider;
  pins: PinChecker;
  approvals: Approvals;
  audit: AuditSink;
  /** Spans of the operations (ids only, or exported over OTLP). */
  tracing: Tracing;
  /** What decision entries keep of the arguments (warden.yaml `audit`). */
  auditArguments: { mode: 'full' | 'redact' | 'digest'; pointers: readonly string[] };
  state: IdentityState;
  log: (line: string) => void;
  /** Paths never visible inside a sandboxed server: Warden's data directory. */
  sandboxHide?: readonly string[];
  /** `warden__run_script`, when enabled. */
  codeMode?: CodeMode;
  /** Installed skills that passed their checks at start, offered as `skill://` resources. */
  skills?: readonly LoadedSkill[];
  /** Refuses tool definitions whose scan finds something at or above the configured severity. */
  toolGate?: ToolDefinitionGate;
  /** Whether other requests are being served: then decisions are evaluated off the event loop. */
  busy?: () => boolean;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

interface IndexedTool {
  server: string;
  tool: Tool;
  def: ToolDefinition;
  hash: string;
  flow: ToolFlowConfig;
}

/** The verified principal of the request being handled (set by the HTTP layer on every request). */
function principalOf(extra: Extra): Principal {
  const p = extra.authInfo?.extra?.['principal'] as Principal | undefined;
  if (!p) throw gatewayError(GatewayErrorCode.Denied, 'the request is not authenticated');
  return p;
}

export class GatewaySession {
  readonly server: Server;
  private readonly upstreams = new Map<string, UpstreamConnection>();
  private readonly flow = new SessionFlow();
  private readonly toolIndex = new Map<string, IndexedTool>();
  private readonly resourceOwners = new Map<string, string>();
  private intent: unknown = null;
  /** The principal of the latest request, for decisions on upstream-initiated requests. */
  private lastPrincipal: Principal | undefined;
  /** The agent's tool calls in flight, per upstream: an upstream's request to the client rides on one. */
  private readonly inFlight = new Map<string, Set<string | number>>();
  /** The span behind each operation's trace ids, to add the decision to it. */
  private readonly spans = new WeakMap<TraceIds, SpanHandle>();

  constructor(
    readonly id: string,
    readonly agent: string,
    private readonly deps: GatewayDeps,
  ) {
    this.server = new Server(
      { name: 'warden', version: '0.1.0' },
      {
        capabilities: {
          tools: { listChanged: true },
          resources: { listChanged: true },
          prompts: { listChanged: true },
          logging: {},
        },
        instructions:
          'Tools are offered as <server>__<tool>. Every call is decided by Warden policy; a refusal explains itself.',
      },
    );
    this.installHandlers();
  }

  /** The intent the agent runtime declared at initialize (`params._meta["warden/intent"]`). */
  declareIntent(intent: Intent): void {
    this.flow.declareIntent(intent);
    this.intent = intent;
  }

  /** Upstream connections start lazily, once the agent's client capabilities are known. */
  private upstream(name: string): UpstreamConnection | undefined {
    let up = this.upstreams.get(name);
    if (up) return up;
    const config = this.deps.upstreams.find((u) => u.name === name);
    if (!config) return undefined;
    up = new UpstreamConnection(
      config,
      this.deps.secrets,
      this.clientSide(),
      this.deps.settings.callTimeoutMs,
      this.deps.sandboxHide ?? [],
    );
    this.upstreams.set(name, up);
    return up;
  }

  private clientSide(): ClientSide {
    const caps: ClientCapabilities = this.server.getClientCapabilities() ?? {};
    // Server-to-client requests from an upstream are decided like any other request: the upstream
    // is the principal, this session's agent the resource.
    const allowed = (server: string, action: string): void => {
      const p = this.lastPrincipal;
      const d = this.deps.decider.decide({
        principal: { type: 'Server', id: server },
        action,
        resource: {
          type: 'Agent',
          id: this.agent,
          attrs: p ? { blueprint: p.blueprint, sponsor: p.sponsor, scopes: p.scopes, depth: p.depth } : {},
        },
        context: {},
      });
      void this.audit('mcp.server_request', d.effect === 'allow' ? 'success' : 'refused', server, null, {
        action,
        decision: d.effect,
        policies: d.policies,
      });
      if (d.effect !== 'allow') {
        throw gatewayError(GatewayErrorCode.Denied, `${action} from upstream ${q(server)} refused by policy`);
      }
    };
    return {
      capabilities: caps,
      createMessage: async (server, params) => {
        allowed(server, 'sampling/createMessage');
        return this.server.createMessage(params, this.relatedTo(server));
      },
      elicit: async (server, params) => {
        allowed(server, 'elicitation/create');
        return this.server.elicitInput(params, this.relatedTo(server));
      },
      listRoots: async (server, params) => {
        allowed(server, 'roots/list');
        return this.server.listRoots(params, this.relatedTo(server));
      },
      log: (server, params) => {
        void this.server
          .sendLoggingMessage({
            ...redactSecrets(params, this.secretPatterns()).result,
            logger: `${server}${params.logger ? `/${params.logger}` : ''}`,
          })
          .catch(() => undefined);
      },
      listChanged: (server, what) => {
        if (what === 'tools') {
          for (const [k, v] of this.toolIndex) if (v.server === server) this.toolIndex.delete(k);
          void this.server.sendToolListChanged().catch(() => undefined);
        } else if (what === 'resources') void this.server.sendResourceListChanged().catch(() => undefined);
        else void this.server.sendPromptListChanged().catch(() => undefined);
      },
      stderr: (server, line) => this.deps.log(`[${server}] ${line.slice(0, 1000)}`),
      connectDecider: (server, allow) =>
        connectDecider({
          server,
          allow,
          decide: (req) => this.deps.decider.decide(req),
          record: (e) => this.deps.audit.record(e),
          agent: this.agent,
          sponsor: () => this.lastPrincipal?.sponsor ?? null,
          authority: () => this.lastPrincipal?.chain ?? [],
          details: { session: this.id },
        }),
    };
  }

  /** Without a stream of its own call, a request to the client goes to the GET stream, if any. */
  private relatedTo(server: string): { relatedRequestId: string | number } | undefined {
    const ids = [...(this.inFlight.get(server) ?? [])];
    const last = ids[ids.length - 1];
    return last === undefined ? undefined : { relatedRequestId: last };
  }

  private envelopeAllows(principal: Principal, server: string, tool?: string): boolean {
    return envelopeAllows(this.deps.state.blueprints.get(principal.blueprint)?.envelope, server, tool);
  }

  private principalAttrs(p: Principal): DecisionRequest['principal'] {
    this.lastPrincipal = p;
    return { id: p.agent, blueprint: p.blueprint, sponsor: p.sponsor, scopes: p.scopes, depth: p.depth };
  }

  private readSkill(uri: string): ReturnType<typeof readSkillResource> {
    try {
      return readSkillResource(this.deps.skills ?? [], uri);
    } catch (err) {
      this.deps.log(`skill resource ${uri}: ${(err as Error).message}`);
      throw gatewayError(ErrorCode.InvalidParams, (err as Error).message);
    }
  }

  private toolResource(t: IndexedTool): DecisionRequest['resource'] {
    return toolResource({ server: t.server, def: t.def, hash: t.hash, labels: t.flow.labels });
  }

  private decisionTool(t: IndexedTool): DecisionTool {
    return decisionTool({ server: t.server, def: t.def, hash: t.hash, labels: t.flow.labels });
  }

  private async indexServer(server: string): Promise<void> {
    const up = this.upstream(server);
    if (!up) return;
    const tools = await up.listTools();
    const config = this.deps.upstreams.find((u) => u.name === server);
    for (const tool of tools) {
      let def: ToolDefinition;
      try {
        def = parseToolDefinition(server, tool);
      } catch (err) {
        this.deps.log(`upstream ${server}: ${(err as Error).message}`);
        continue;
      }
      const pin = await this.deps.pins.observe(server, def);
      // A definition whose high findings a person accepted when pinning it (`warden tools approve
      // --accept-findings`) was reviewed: the scan gate does not overrule that decision.
      const accepted = pin.status === 'pinned' && hasHighFindings(pin.findings ?? []);
      if (this.deps.toolGate && !accepted) {
        const others = [...this.toolIndex.values()]
          .filter((t) => t.server !== server)
          .map((t) => t.tool.name);
        const refusal = await this.deps.toolGate.refusal(server, tool, pin.hash, others);
        if (refusal !== undefined) {
          this.toolIndex.delete(exposedName(server, tool.name));
          continue;
        }
      }
      this.toolIndex.set(exposedName(server, tool.name), {
        server,
        tool,
        def,
        hash: pin.hash,
        flow: resolveToolFlow(config?.tools[tool.name], tool.annotations),
      });
      if (pin.status !== 'pinned') this.toolIndex.delete(exposedName(server, tool.name));
    }
  }

  /** List the tools of every upstream the agent's envelope includes (an offline one is skipped). */
  private async indexAll(principal: Principal): Promise<void> {
    const servers = this.deps.upstreams.map((u) => u.name).filter((n) => this.envelopeAllows(principal, n));
    await Promise.all(
      servers.map((n) =>
        this.indexServer(n).catch((err: unknown) =>
          this.deps.log(`upstream ${n} offline: ${(err as Error).message}`),
        ),
      ),
    );
  }

  private installHandlers(): void {
    const s = this.server;
    s.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => {
      const principal = principalOf(extra);
      await this.indexAll(principal);
      const tools: Tool[] = [];
      for (const [name, t] of this.toolIndex) {
        if (!this.envelopeAllows(principal, t.server, t.tool.name)) continue;
        const could = this.deps.decider.couldAllow(
          { principal: this.principalAttrs(principal), action: 'tools/call', resource: this.toolResource(t) },
          this.decisionTool(t),
        );
        if (!could) continue;
        // INVARIANT: agents see exactly the pinned definition, nothing the hash does not cover.
        tools.push({ ...t.def, name });
      }
      const script = this.scriptTool(principal);
      if (script) tools.push({ ...script.def, name: exposedName(WARDEN_SERVER, RUN_SCRIPT) });
      return { tools };
    });

    s.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const span = this.startSpan('tools/call', req.params.name, req.params._meta, principalOf(extra), extra);
      return this.traced(span, () => this.callTool(req.params, extra, span));
    });

    s.setRequestHandler(ListResourcesRequestSchema, async (_req, extra) => {
      const principal = principalOf(extra);
      const resources: Resource[] = [];
      for (const u of this.deps.upstreams) {
        if (!this.envelopeAllows(principal, u.name)) continue;
        try {
          for (const r of await (this.upstream(u.name) as UpstreamConnection).listResources()) {
            const resource = {
              type: 'Resource' as const,
              id: `${u.name}/${r.uri}`,
              attrs: { server: u.name, uri: r.uri, labels: ['untrusted'] },
            };
            if (
              !this.deps.decider.couldAllow({
                principal: this.principalAttrs(principal),
                action: 'resources/read',
                resource,
              })
            )
              continue;
            this.resourceOwners.set(r.uri, u.name);
            resources.push(r);
          }
        } catch (err) {
          this.deps.log(`upstream ${u.name} offline: ${(err as Error).message}`);
        }
      }
      if (this.deps.skills && this.envelopeAllows(principal, WARDEN_SERVER)) {
        for (const r of skillResources(this.deps.skills)) {
          const resource = skillFileResource(r.uri);
          if (
            !this.deps.decider.couldAllow({
              principal: this.principalAttrs(principal),
              action: 'resources/read',
              resource,
            })
          )
            continue;
          this.resourceOwners.set(r.uri, WARDEN_SERVER);
          resources.push(r);
        }
      }
      return { resources };
    });

    s.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
      const principal = principalOf(extra);
      const server = this.resourceOwners.get(req.params.uri);
      if (!server)
        throw gatewayError(
          ErrorCode.InvalidParams,
          `unknown resource ${q(req.params.uri)}: list resources first`,
        );
      if (!this.envelopeAllows(principal, server))
        throw this.refuse('the blueprint envelope does not include this server');
      // Resource contents come from outside the agent's task: untrusted unless a policy says otherwise.
      // An installed skill's files were scanned and verified against a trusted signer at start.
      const own = server === WARDEN_SERVER && req.params.uri.startsWith(SKILL_URI_PREFIX);
      const labels: FlowLabel[] = own ? [] : ['untrusted'];
      const span = this.startSpan('resources/read', req.params.uri, req.params._meta, principal, extra);
      const trace = span.ids;
      return this.traced(span, async () => {
        const request: DecisionRequest = {
          principal: this.principalAttrs(principal),
          action: 'resources/read',
          resource: {
            type: 'Resource',
            id: `${server}/${req.params.uri}`,
            attrs: { server, uri: req.params.uri, labels },
          },
          context: this.context(principal, {}, this.flow.facts({ labels, sensitiveArgs: [] }, {})),
        };
        const d = await this.decide(request);
        await this.recordDecision(principal, request, server, req.params.uri, d, req.params, {}, trace);
        if (d.effect !== 'allow') throw this.refusal(d);
        const result = own
          ? this.readSkill(req.params.uri)
          : await this.forward(() =>
              (this.upstream(server) as UpstreamConnection).readResource(req.params.uri, extra.signal),
            );
        const inspection = inspectResult(result);
        const redacted = redactSecrets(result, this.secretPatterns()).result;
        this.flow.recordResult({ server, tool: `resource:${req.params.uri}` }, labels, redacted, inspection);
        return redacted;
      });
    });

    s.setRequestHandler(ListPromptsRequestSchema, async (_req, extra) => {
      const principal = principalOf(extra);
      const prompts: Prompt[] = [];
      for (const u of this.deps.upstreams) {
        if (!this.envelopeAllows(principal, u.name)) continue;
        try {
          for (const p of await (this.upstream(u.name) as UpstreamConnection).listPrompts()) {
            prompts.push({ ...p, name: exposedName(u.name, p.name) });
          }
        } catch (err) {
          this.deps.log(`upstream ${u.name} offline: ${(err as Error).message}`);
        }
      }
      return { prompts };
    });

    s.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      const principal = principalOf(extra);
      const target = splitExposedName(req.params.name);
      const up = target ? this.upstream(target.server) : undefined;
      if (!target || !up) throw gatewayError(ErrorCode.InvalidParams, `unknown prompt ${q(req.params.name)}`);
      if (!this.envelopeAllows(principal, target.server))
        throw this.refuse('the blueprint envelope does not include this server');
      const span = this.startSpan('prompts/get', target.name, req.params._meta, principal, extra);
      const trace = span.ids;
      return this.traced(span, async () => {
        const request: DecisionRequest = {
          principal: this.principalAttrs(principal),
          action: 'prompts/get',
          resource: {
            type: 'Prompt',
            id: `${target.server}/${target.name}`,
            attrs: { server: target.server, name: target.name, labels: [] },
          },
          context: this.context(principal, {}, this.flow.facts({ labels: [], sensitiveArgs: [] }, {})),
        };
        const d = await this.decide(request);
        await this.recordDecision(
          principal,
          request,
          target.server,
          target.name,
          d,
          req.params.arguments ?? {},
          {},
          trace,
        );
        if (d.effect !== 'allow') throw this.refusal(d);
        const prompt = await this.forward(() =>
          up.getPrompt(target.name, req.params.arguments, extra.signal),
        );
        // A prompt's messages are upstream content like any result: inspected, recorded, redacted.
        const inspection = inspectResult(prompt);
        const redacted = redactSecrets(prompt, this.secretPatterns()).result;
        this.flow.recordResult(
          { server: target.server, tool: `prompt:${target.name}` },
          [],
          redacted,
          inspection,
        );
        return redacted;
      });
    });
  }

  /**
   * A decision for an agent's request. While other requests are being served, Cedar evaluates it
   * on a thread of its own meanwhile; alone, the trip there and back would only add latency.
   */
  private decide(request: DecisionRequest, tool?: DecisionTool): Promise<Decision> {
    const d = this.deps.decider;
    return d.decideAsync && this.deps.busy?.() === true
      ? d.decideAsync(request, tool)
      : Promise.resolve(d.decide(request, tool));
  }

  private context(principal: Principal, args: unknown, flow: FlowFacts): Record<string, unknown> {
    const now = new Date();
    return {
      arguments: args,
      flow,
      grant: { active: principal.grants.length > 0, ids: principal.grants },
      delegation_depth: principal.depth,
      time: {
        epoch_seconds: Math.floor(now.getTime() / 1000),
        hour_utc: now.getUTCHours(),
        weekday: now.getUTCDay(),
      },
    };
  }

  private async callTool(
    params: {
      name: string;
      arguments?: Record<string, unknown> | undefined;
      _meta?: Record<string, unknown> | undefined;
    },
    extra: Extra,
    span: SpanHandle,
  ): Promise<CallToolResult> {
    const principal = principalOf(extra);
    const started = process.hrtime.bigint();
    const trace = span.ids;
    const target = splitExposedName(params.name);
    const own = target?.server === WARDEN_SERVER && this.deps.codeMode?.settings.enabled === true;
    if (!target || (!own && !this.deps.upstreams.some((u) => u.name === target.server))) {
      throw gatewayError(ErrorCode.InvalidParams, `unknown tool ${q(params.name)}`);
    }
    if (own && target.name !== RUN_SCRIPT) {
      throw gatewayError(ErrorCode.InvalidParams, `unknown tool ${q(params.name)}`);
    }
    if (!this.envelopeAllows(principal, target.server, target.name)) {
      await this.audit(
        'mcp.decision',
        'refused',
        target.server,
        target.name,
        { decision: 'deny', reason: 'envelope' },
        principal,
        trace,
      );
      throw this.refuse(
        `tool ${q(params.name)} is outside the envelope of blueprint ${q(principal.blueprint)}`,
      );
    }
    let t = own ? this.wardenTool() : this.toolIndex.get(params.name);
    if (!t) {
      await this.forward(() => this.indexServer(target.server));
      t = this.toolIndex.get(params.name);
    }
    if (!t) {
      throw gatewayError(
        GatewayErrorCode.Quarantined,
        `tool ${q(params.name)} is not available: its definition is not approved (see \`warden tools list\`)`,
      );
    }
    const args = params.arguments ?? {};
    const facts = this.flow.facts(t.flow, args);
    const request: DecisionRequest = {
      principal: this.principalAttrs(principal),
      action: 'tools/call',
      resource: this.toolResource(t),
      context: this.context(principal, args, facts),
    };
    const decision = await this.decide(request, this.decisionTool(t));
    const callHash = sha256Jcs({
      agent: principal.agent,
      server: t.server,
      tool: t.tool.name,
      arguments: args,
      definition: t.hash,
    });
    let effect = decision.effect;
    let approvalId: string | undefined;
    if (effect === 'approval') {
      if (await this.deps.approvals.consume(callHash, principal.agent)) {
        effect = 'allow';
      } else {
        approvalId = await this.deps.approvals.hold({
          hash: callHash,
          agent: principal.agent,
          sponsor: principal.sponsor,
          server: t.server,
          tool: t.tool.name,
          arguments: args,
          definitionHash: t.hash,
          reasons: decision.reasons,
          policies: decision.policies,
        });
        if (this.deps.settings.approvalWaitMs > 0) {
          const outcome = await this.deps.approvals.wait(approvalId, this.deps.settings.approvalWaitMs);
          if (outcome === 'approved' && (await this.deps.approvals.consume(callHash, principal.agent)))
            effect = 'allow';
          else if (outcome === 'denied') effect = 'deny';
        }
      }
    }
    await this.recordDecision(
      principal,
      request,
      t.server,
      t.tool.name,
      { ...decision, effect },
      args,
      {
        call_hash: callHash,
        // What policy said, before a human's approval turned `approval` into `allow` or `deny`.
        policy_effect: decision.effect,
        ...(approvalId ? { approval_id: approvalId } : {}),
        latency_us: Number((process.hrtime.bigint() - started) / 1000n),
      },
      trace,
    );
    if (effect === 'approval') {
      throw gatewayError(
        GatewayErrorCode.ApprovalRequired,
        `this call awaits a human's approval (${decision.reasons.join('; ') || 'policy requires it'}): approval id ${approvalId ?? ''}`,
        { approval_id: approvalId, policies: decision.policies, reasons: decision.reasons },
      );
    }
    if (effect !== 'allow') throw this.refusal({ ...decision, effect });

    this.flow.recordCall(t.flow.labels);
    if (own) return this.runScript(args, principal, extra, trace, callHash);
    const up = this.upstream(t.server) as UpstreamConnection;
    const progressToken = params._meta?.['progressToken'];
    let calls = this.inFlight.get(t.server);
    if (!calls) this.inFlight.set(t.server, (calls = new Set()));
    const inFlight = calls;
    inFlight.add(extra.requestId);
    const raw = await this.forward(() =>
      up.callTool(t.tool.name, args, {
        signal: extra.signal,
        traceparent: formatTraceparent(trace),
        ...(progressToken !== undefined
          ? {
              onprogress: (p) => {
                void extra
                  .sendNotification({
                    method: 'notifications/progress',
                    params: { progressToken: progressToken as string | number, ...p },
                  })
                  .catch(() => undefined);
              },
            }
          : {}),
      }),
    ).finally(() => inFlight.delete(extra.requestId));
    const inspection = inspectResult(raw);
    const { result, count: redactions } = redactSecrets(raw, this.secretPatterns());
    this.flow.recordResult({ server: t.server, tool: t.tool.name }, t.flow.labels, result, inspection, {
      trustNames: t.flow.trustNames,
    });
    // The decision was made durable before forwarding; the result record rides with the next
    // commit (the next decision's, or a lazy one) instead of holding the reply or causing a write.
    void this.audit(
      'mcp.result',
      'success',
      t.server,
      t.tool.name,
      {
        call_hash: callHash,
        result_digest: digest(result),
        is_error: result.isError === true,
        findings: inspection.findings,
        redactions,
        flow: this.flow.snapshot(),
      },
      principal,
      trace,
    ).catch((err: unknown) => this.deps.log(`audit of a result failed: ${(err as Error).message}`));
    return result;
  }

  /** Warden's own tool as the pipeline sees an upstream's. */
  private wardenTool(): IndexedTool {
    return {
      server: WARDEN_SERVER,
      tool: RUN_SCRIPT_TOOL,
      def: parseToolDefinition(WARDEN_SERVER, RUN_SCRIPT_TOOL),
      hash: RUN_SCRIPT_HASH,
      flow: resolveToolFlow(undefined, RUN_SCRIPT_TOOL.annotations),
    };
  }

  /** `warden__run_script`, when code mode is on and the envelope and policy could allow it. */
  private scriptTool(principal: Principal): IndexedTool | undefined {
    if (this.deps.codeMode?.settings.enabled !== true) return undefined;
    if (!this.envelopeAllows(principal, WARDEN_SERVER, RUN_SCRIPT)) return undefined;
    const t = this.wardenTool();
    const could = this.deps.decider.couldAllow(
      { principal: this.principalAttrs(principal), action: 'tools/call', resource: this.toolResource(t) },
      this.decisionTool(t),
    );
    return could ? t : undefined;
  }

  /**
   * Run the agent's program in a fresh isolate. Its tools are those the agent is offered now (not
   * run_script itself); each call is a full tools/call of this session, with its own decision,
   * flow tracking and audit entries, in a span under this one.
   */
  private async runScript(
    args: Record<string, unknown>,
    principal: Principal,
    extra: Extra,
    trace: TraceIds,
    callHash: string,
  ): Promise<CallToolResult> {
    const code = scriptOf(args);
    if (typeof code !== 'string') return { isError: true, content: [{ type: 'text', text: code.error }] };
    // A program may come before the agent ever listed its tools.
    if (this.toolIndex.size === 0) await this.indexAll(principal);
    const tools = [...this.toolIndex.entries()]
      .filter(
        ([, t]) =>
          this.envelopeAllows(principal, t.server, t.tool.name) &&
          this.deps.decider.couldAllow(
            {
              principal: this.principalAttrs(principal),
              action: 'tools/call',
              resource: this.toolResource(t),
            },
            this.decisionTool(t),
          ),
      )
      .map(([name]) => name);
    const runner = (this.deps.codeMode as CodeMode).get();
    const outcome = await runner.run(code, {
      tools,
      signal: extra.signal,
      invoke: async (name, a) => {
        const meta = { traceparent: formatTraceparent(trace) };
        const span = this.startSpan('tools/call', name, meta, principal, extra);
        try {
          return await this.traced(span, () =>
            this.callTool({ name, arguments: a, _meta: meta }, extra, span),
          );
        } catch (err) {
          throw new Error(
            err instanceof McpError ? err.message.replace(/^MCP error -?\d+: /, '') : 'the call failed',
          );
        }
      },
    });
    await this.audit(
      'script.run',
      outcome.ok ? 'success' : 'refused',
      WARDEN_SERVER,
      RUN_SCRIPT,
      {
        call_hash: callHash,
        ok: outcome.ok,
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
        tool_calls: outcome.toolCalls,
        ms: outcome.ms,
        cold: outcome.cold,
        result_digest: digest(outcome.value ?? null),
      },
      principal,
      trace,
    );
    const content: CallToolResult['content'] = [
      {
        type: 'text',
        text: outcome.ok
          ? JSON.stringify(outcome.value ?? null)
          : `the script failed: ${outcome.error ?? ''}`,
      },
    ];
    if (outcome.logs) content.push({ type: 'text', text: `console:\n${outcome.logs}` });
    const result: CallToolResult = { content, ...(outcome.ok ? {} : { isError: true }) };
    return redactSecrets(result, this.secretPatterns()).result;
  }

  private async forward<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // INVARIANT: no upstream credential crosses to the agent, not even quoted in an error.
      const scrub = (m: string) => this.deps.secrets.scrub(m);
      if (err instanceof McpError)
        throw gatewayError(
          err.code,
          scrub(err.message.replace(/^MCP error -?\d+: /, '')),
          redactSecrets(err.data, this.secretPatterns()).result,
        );
      if (err instanceof UpstreamError) {
        throw gatewayError(
          err.code === 'upstream_timeout'
            ? GatewayErrorCode.UpstreamTimeout
            : GatewayErrorCode.UpstreamUnavailable,
          scrub(err.message),
        );
      }
      const e = err as { code?: unknown; message?: unknown };
      if (typeof e.code === 'number' && typeof e.message === 'string')
        throw gatewayError(e.code, scrub(e.message.replace(/^MCP error -?\d+: /, '')));
      throw gatewayError(GatewayErrorCode.UpstreamUnavailable, 'the upstream request failed');
    }
  }

  /** The stock secret patterns plus this gateway's own credentials, literally. */
  private secretPatterns(): RegExp[] {
    return [...DEFAULT_SECRET_PATTERNS, ...this.deps.secrets.patterns()];
  }

  private refuse(message: string): McpError {
    return gatewayError(GatewayErrorCode.Denied, message);
  }

  private refusal(d: Decision): McpError {
    const by =
      d.policies.length > 0
        ? `refused by policy ${d.policies.map((p) => q(p)).join(', ')}`
        : 'refused: no policy permits it';
    const why = d.reasons.length > 0 ? `: ${d.reasons.join('; ')}` : '';
    return gatewayError(GatewayErrorCode.Denied, `${by}${why}`, { policies: d.policies, reasons: d.reasons });
  }

  /**
   * The decision entry: the outcome and why, and the Cedar request it was made on, so that
   * `warden replay` can decide it again under other policies. The arguments in it are kept as
   * configured (all, redacted by JSON pointer, or only their digest).
   */
  /** A span for one MCP operation, under the agent's `traceparent` when it sent one. */
  private startSpan(
    method: 'tools/call' | 'resources/read' | 'prompts/get',
    target: string,
    meta: Record<string, unknown> | undefined,
    principal: Principal,
    extra: Extra,
  ): SpanHandle {
    const name = method === 'tools/call' ? `execute_tool ${target}` : `${method} ${target}`;
    const span = this.deps.tracing.start(name, parseTraceparent(meta?.['traceparent']), {
      ...(method === 'tools/call'
        ? { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': target }
        : {}),
      'gen_ai.agent.id': principal.agent,
      'gen_ai.tool.call.id': String(extra.requestId),
      'mcp.method.name': method,
      'mcp.session.id': this.id,
      'warden.sponsor': principal.sponsor,
    });
    this.spans.set(span.ids, span);
    return span;
  }

  /** Run `fn` inside `span`, ending it with the outcome. */
  private async traced<T>(span: SpanHandle, fn: () => Promise<T>): Promise<T> {
    let error: string | undefined;
    try {
      return await fn();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      span.end(error);
    }
  }

  private async recordDecision(
    principal: Principal,
    request: DecisionRequest,
    server: string,
    target: string,
    d: Decision,
    args: unknown,
    more: Record<string, unknown>,
    trace: TraceIds,
  ): Promise<void> {
    this.spans.get(trace)?.set({ 'warden.decision': d.effect, 'warden.policies': d.policies });
    const { mode, pointers } = this.deps.auditArguments;
    const kept = mode === 'full' ? args : mode === 'redact' ? redactPointers(args, pointers) : undefined;
    // The request as Cedar saw it, without what the entry holds anyway (`arguments`, `flow`):
    // replay puts them back.
    const context: Record<string, unknown> = { ...request.context };
    delete context['arguments'];
    delete context['flow'];
    await this.audit(
      'mcp.decision',
      d.effect === 'allow' ? 'success' : 'refused',
      server,
      target,
      {
        action: request.action,
        decision: d.effect,
        policies: d.policies,
        reasons: d.reasons,
        errors: d.errors,
        policy_set_hash: d.policySetHash,
        argument_digest: digest(args),
        arguments_kept: mode,
        ...(kept !== undefined ? { arguments: kept } : {}),
        flow: request.context['flow'],
        request: { ...request, context },
        session: this.id,
        ...more,
      },
      principal,
      trace,
    );
  }

  private audit(
    type: 'mcp.decision' | 'mcp.result' | 'mcp.server_request' | 'script.run',
    outcome: 'success' | 'refused',
    server: string,
    target: string | null,
    details: Record<string, unknown>,
    principal?: Principal,
    trace?: TraceIds,
  ): Promise<void> {
    const event: AuditEvent = {
      type,
      outcome,
      actor: principal?.agent ?? `server:${server}`,
      subject: target === null ? server : `${server}/${target}`,
      sponsor: principal?.sponsor ?? null,
      authority: principal?.chain ?? [],
      reason:
        typeof details['decision'] === 'string' && outcome === 'refused' ? String(details['decision']) : null,
      details: {
        ...details,
        ...(principal ? { blueprint: principal.blueprint } : {}),
        intent_declared: this.intent !== null,
      },
      ...(trace ? { trace } : {}),
    };
    // INVARIANT: a decision that cannot be recorded is not carried out (the caller awaits this).
    if (type === 'mcp.result' && this.deps.audit.recordLazily) return this.deps.audit.recordLazily(event);
    return this.deps.audit.record(event);
  }

  async close(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((u) => u.close()));
    await this.server.close().catch(() => undefined);
  }
}

function digest(value: unknown): string {
  try {
    return sha256Jcs(value ?? null);
  } catch {
    return createHash('sha256')
      .update(JSON.stringify(value) ?? '')
      .digest('hex');
  }
}

/**
 * A copy of `args` with the value at each JSON pointer (RFC 6901) replaced by its digest. A pointer
 * that names nothing is skipped: the arguments differ from call to call.
 */
export function redactPointers(args: unknown, pointers: readonly string[]): unknown {
  let copy: unknown = structuredClone(args);
  for (const pointer of pointers) {
    const path = pointer
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (path.length === 0) {
      copy = { redacted_digest: digest(copy) };
      continue;
    }
    let parent: unknown = copy;
    for (const key of path.slice(0, -1)) {
      parent =
        parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[key] : undefined;
    }
    const last = path.at(-1) as string;
    if (parent !== null && typeof parent === 'object' && Object.hasOwn(parent, last)) {
      const holder = parent as Record<string, unknown>;
      holder[last] = { redacted_digest: digest(holder[last]) };
    }
  }
  return copy;
}
