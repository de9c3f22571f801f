// One outbound connection of a sandboxed process, decided and recorded: a Cedar `connect` request
// (principal the server, resource the destination as the server named it), then a
// `sandbox.connect` audit entry, then the verdict the proxy acts on. The gateway uses it for its
// upstreams and `warden sandbox run` for scripts. A connection is never held for approval:
// `approval` refuses.

import type { AuditEvent } from '../audit/index.js';
import type { Decision, DecisionRequest } from '../policy/index.js';
import { hostAllowed } from './profile.js';
import type { ConnectAttempt, ConnectDecider, ConnectVerdict } from './proxy.js';

export interface ConnectContext {
  /** The server or script name: the Cedar principal `Server::"<name>"`. */
  server: string;
  /** Its profile's `network.allow`. */
  allow: readonly string[];
  decide: (req: DecisionRequest) => Decision;
  /** Must be durable before the proxy acts; a failure refuses the connection. */
  record: (event: AuditEvent) => Promise<void>;
  /** Who the process works for, as far as known: the session's agent ("" for none) and its chain. */
  agent: string;
  sponsor?: () => string | null;
  authority?: () => string[];
  /** More for the audit entry (the gateway session's id, say). */
  details?: Record<string, unknown>;
}

export function connectDecider(c: ConnectContext): ConnectDecider {
  return async (attempt: ConnectAttempt): Promise<ConnectVerdict> => {
    const allowlisted = hostAllowed(c.allow, attempt.host, attempt.port);
    const target = `${attempt.host}:${attempt.port}`;
    const d = c.decide({
      principal: { type: 'Server', id: c.server },
      action: 'connect',
      resource: { type: 'Host', id: target, attrs: { name: attempt.host, port: attempt.port } },
      context: { allowlisted, agent: c.agent },
    });
    const allow = d.effect === 'allow';
    // INVARIANT: the connection waits for its audit entry; an entry that cannot be written refuses.
    await c.record({
      type: 'sandbox.connect',
      outcome: allow ? 'success' : 'refused',
      actor: `server:${c.server}`,
      subject: target,
      sponsor: c.sponsor?.() ?? null,
      authority: c.authority?.() ?? [],
      reason: allow ? null : d.effect,
      details: {
        decision: d.effect,
        policies: d.policies,
        reasons: d.reasons,
        errors: d.errors,
        allowlisted,
        via: attempt.via,
        agent: c.agent,
        ...c.details,
      },
    });
    if (allow) return { allow, reason: 'allowed by policy' };
    const why = d.reasons.length > 0 ? `: ${d.reasons.join('; ')}` : '';
    const by = d.policies.length > 0 ? `by policy ${d.policies.join(', ')}` : 'no policy permits it';
    const listed = allowlisted ? '' : '; it is not in the sandbox.network.allow of this server';
    return { allow, reason: `Warden refused the connection to ${target} (${by}${why})${listed}` };
  };
}
