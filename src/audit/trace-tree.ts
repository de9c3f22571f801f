// `warden trace`: what happened under one trace id, rebuilt from the evidence log alone. Events
// that share a span (a decision and the result of that call) make one node; a span whose parent
// is another recorded span hangs below it; the rest hang below the agent that acted, and agents
// below the agent they act for (the delegation chain), so a multi-agent task reads top-down.

import type { IndexedEvent } from './read.js';

export interface TraceNode {
  /** `agent` for an acting agent, otherwise the span's events. */
  kind: 'agent' | 'span';
  label: string;
  spanId?: string;
  events: Array<{ index: number; time: string; type: string; outcome: string; summary: string }>;
  children: TraceNode[];
}

function text(v: unknown, fallback = ''): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : fallback;
}

/** The delegation chain from the outermost delegator to the acting agent. */
function chainOf(authority: readonly string[], actor: string): string[] {
  const chain =
    authority.length > 0 && authority[0] === actor && authority.at(-1) !== actor
      ? [...authority].reverse()
      : [...authority];
  if (chain.length === 0 || chain.at(-1) !== actor) chain.push(actor);
  return chain;
}

function summary(e: IndexedEvent): string {
  const d = e.details;
  switch (e.type) {
    case 'mcp.decision': {
      const policies =
        Array.isArray(d['policies']) && d['policies'].length > 0 ? ` by ${d['policies'].join(', ')}` : '';
      return `execute_tool ${e.subject ?? ''}: ${text(d['decision'], e.outcome)}${policies}`;
    }
    case 'mcp.result':
      return `result of ${e.subject ?? ''}${d['is_error'] === true ? ' (tool error)' : ''}${
        Array.isArray(d['findings']) && d['findings'].length > 0 ? `, findings: ${d['findings'].length}` : ''
      }`;
    case 'token.issued':
      return `token issued to ${e.subject ?? ''} (scope ${text(d['scope'])})`;
    case 'token.exchanged':
      return `delegation: ${chainOf(e.authority, e.actor ?? '').join(' → ')} (depth ${text(d['depth'], '?')})`;
    default:
      return `${e.type}${e.reason ? `: ${e.reason}` : ''}`;
  }
}

/** The tree of one trace's events (in log order), rooted at the agents of the delegation chains. */
export function buildTrace(events: readonly IndexedEvent[]): TraceNode[] {
  const spans = new Map<string, TraceNode & { parent?: string; actor: string; chain: readonly string[] }>();
  for (const e of events) {
    const t = e.trace;
    if (!t) continue;
    let node = spans.get(t.span_id);
    if (!node) {
      node = {
        kind: 'span',
        label:
          e.type === 'mcp.decision' || e.type === 'mcp.result' ? `execute_tool ${e.subject ?? ''}` : e.type,
        spanId: t.span_id,
        events: [],
        children: [],
        ...(t.parent_span_id ? { parent: t.parent_span_id } : {}),
        actor: e.actor ?? 'unknown',
        chain: e.authority,
      };
      spans.set(t.span_id, node);
    }
    node.events.push({
      index: e.index,
      time: new Date(e.at).toISOString(),
      type: e.type,
      outcome: e.outcome,
      summary: summary(e),
    });
  }
  const agents = new Map<string, TraceNode>();
  const roots: TraceNode[] = [];
  const agentNode = (chain: readonly string[], actor: string): TraceNode => {
    const path = chainOf(chain, actor);
    let parent: TraceNode | undefined;
    let key = '';
    for (const id of path) {
      key = `${key}>${id}`;
      let a = agents.get(key);
      if (!a) {
        a = { kind: 'agent', label: id, events: [], children: [] };
        agents.set(key, a);
        (parent ? parent.children : roots).push(a);
      }
      parent = a;
    }
    return parent as TraceNode;
  };
  for (const node of spans.values()) {
    const parent = node.parent ? spans.get(node.parent) : undefined;
    const { parent: _p, actor, chain, ...plain } = node;
    void _p;
    if (parent) parent.children.push(plain);
    else agentNode(chain, actor).children.push(plain);
  }
  return roots;
}

/** The tree as indented text. */
export function renderTrace(roots: readonly TraceNode[]): string {
  const lines: string[] = [];
  const walk = (n: TraceNode, prefix: string, last: boolean): void => {
    const branch = prefix === '' && lines.length === 0 ? '' : last ? '└─ ' : '├─ ';
    lines.push(`${prefix}${branch}${n.kind === 'agent' ? `agent ${n.label}` : n.label}`);
    const inner = prefix + (branch === '' ? '' : last ? '   ' : '│  ');
    for (const e of n.events) lines.push(`${inner}   #${e.index} ${e.time} ${e.summary}`);
    n.children.forEach((c, i) => walk(c, inner, i === n.children.length - 1));
  };
  roots.forEach((r, i) => walk(r, '', i === roots.length - 1));
  return `${lines.join('\n')}\n`;
}
