// What the gateway needs from the policy engine, the pin store, flow tracking and the approval
// queue. The pipeline is written against these; `gateway/wiring.ts` plugs in the real parts.

import type { Principal } from '../identity/index.js';
import type { Decision, DecisionRequest } from '../policy/index.js';
import type { ToolDefinition, ToolFinding } from './tool-definition.js';

export type { Decision, DecisionRequest } from '../policy/index.js';

/** The inputs a per-tool Cedar action is generated from. */
export interface DecisionTool {
  server: string;
  name: string;
  hash: string;
  inputSchema: unknown;
}

export interface Decider {
  /** Decide; with `tool`, the typed per-tool action `call:<server>/<tool>` is used. Never throws. */
  decide(req: DecisionRequest, tool?: DecisionTool): Decision;
  /** decide(), possibly evaluated on another thread (the tool-call path). Never rejects. */
  decideAsync?(req: DecisionRequest, tool?: DecisionTool): Promise<Decision>;
  /** Could any request of this principal on this resource be allowed (for listings)? */
  couldAllow(req: Omit<DecisionRequest, 'context'>, tool?: DecisionTool): boolean;
}

export interface PinState {
  status: 'pinned' | 'pending' | 'quarantined';
  hash: string;
  /** The scan findings of this definition (for a pinned one with high findings: accepted by a person). */
  findings?: readonly ToolFinding[];
}

export interface PinChecker {
  observe(server: string, def: ToolDefinition): Promise<PinState>;
}

export interface Approvals {
  /** Hold a call; returns the approval id. The id is bound to `hash`, the JCS hash of the call. */
  hold(call: HeldCall): Promise<string>;
  /** Wait up to `ms` for a decision on a held call. */
  wait(id: string, ms: number): Promise<'approved' | 'denied' | 'pending'>;
  /** Consume an approval for exactly this call hash: true once, then never again. */
  consume(hash: string, agent: string): Promise<boolean>;
}

export interface HeldCall {
  hash: string;
  agent: string;
  sponsor: string;
  server: string;
  tool: string;
  arguments: unknown;
  definitionHash: string;
  reasons: string[];
  policies: string[];
}

export type { Principal };
