// Human approval bound to exactly one call. A held call is identified by the JCS hash of agent,
// server, tool, arguments and tool-definition hash; an approval releases that hash once, so
// approving one call can never release another, nor the same call twice.

import { randomBytes } from 'node:crypto';
import type { AuditSink } from '../audit/index.js';
import { RegistryError, q } from '../errors.js';
import type { Store } from '../store/index.js';
import type { Approvals, HeldCall } from './ports.js';

export interface ApprovalView extends HeldCall {
  id: string;
  status: 'pending' | 'approved' | 'denied' | 'consumed' | 'expired';
  createdAt: number;
  expiresAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
}

export class ApprovalQueue implements Approvals {
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditSink,
    private readonly opts: { ttlSeconds: number; now?: () => number },
  ) {
    this.now = opts.now ?? Date.now;
  }

  async hold(call: HeldCall): Promise<string> {
    const now = this.now();
    // The same call held twice (an agent retrying) shares one pending approval.
    const existing = await this.store.db
      .selectFrom('approvals')
      .select('id')
      .where('hash', '=', call.hash)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (existing) return existing.id;
    const id = `ap_${randomBytes(12).toString('base64url')}`;
    await this.store.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('approvals')
        .values({
          id,
          hash: call.hash,
          agent: call.agent,
          sponsor: call.sponsor,
          server: call.server,
          tool: call.tool,
          arguments: JSON.stringify(call.arguments ?? null),
          definition_hash: call.definitionHash,
          reasons: JSON.stringify(call.reasons),
          policies: JSON.stringify(call.policies),
          status: 'pending',
          created_at: now,
          expires_at: now + this.opts.ttlSeconds * 1000,
          decided_by: null,
          decided_at: null,
        })
        .execute();
      await this.audit.record(
        {
          type: 'approval.requested',
          outcome: 'success',
          actor: call.agent,
          subject: id,
          sponsor: call.sponsor,
          authority: [call.agent],
          reason: call.reasons.join('; ') || null,
          details: { hash: call.hash, server: call.server, tool: call.tool, policies: call.policies },
          at: now,
        },
        tx,
      );
    });
    return id;
  }

  async wait(id: string, ms: number): Promise<'approved' | 'denied' | 'pending'> {
    // Waiting is wall-clock time, whatever clock decides expiry.
    const until = Date.now() + ms;
    for (;;) {
      const row = await this.store.db
        .selectFrom('approvals')
        .select('status')
        .where('id', '=', id)
        .executeTakeFirst();
      if (row?.status === 'approved') return 'approved';
      if (row?.status === 'denied') return 'denied';
      if (Date.now() >= until) return 'pending';
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(1, until - Date.now()))));
    }
  }

  async consume(hash: string, agent: string): Promise<boolean> {
    const now = this.now();
    return this.store.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('approvals')
        .select(['id', 'sponsor', 'decided_by'])
        .where('hash', '=', hash)
        .where('agent', '=', agent)
        .where('status', '=', 'approved')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (!row) return false;
      // INVARIANT: one approval releases one execution.
      const r = await tx
        .updateTable('approvals')
        .set({ status: 'consumed' })
        .where('id', '=', row.id)
        .where('status', '=', 'approved')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return false;
      await this.audit.record(
        {
          type: 'approval.consumed',
          outcome: 'success',
          actor: agent,
          subject: row.id,
          sponsor: row.sponsor,
          authority: row.decided_by ? [agent, `sponsor:${row.decided_by}`] : [agent],
          reason: null,
          details: { hash },
          at: now,
        },
        tx,
      );
      return true;
    });
  }

  /** Approve or deny a pending call; only the calling agent's sponsor may decide. */
  async decide(id: string, verdict: 'approved' | 'denied', sponsor: string): Promise<ApprovalView> {
    const now = this.now();
    return this.store.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new RegistryError('not_found', `approval ${q(id)} does not exist`);
      if (row.status !== 'pending')
        throw new RegistryError('conflict', `approval ${q(id)} is ${row.status}, not pending`);
      if (Number(row.expires_at) <= now) throw new RegistryError('conflict', `approval ${q(id)} has expired`);
      if (row.sponsor !== sponsor) {
        throw new RegistryError(
          'forbidden',
          `sponsor ${q(sponsor)} is not the sponsor of agent ${q(row.agent)}`,
        );
      }
      const s = await tx.selectFrom('sponsors').select('status').where('id', '=', sponsor).executeTakeFirst();
      if (s?.status !== 'active') throw new RegistryError('forbidden', `sponsor ${q(sponsor)} is not active`);
      await tx
        .updateTable('approvals')
        .set({ status: verdict, decided_by: sponsor, decided_at: now })
        .where('id', '=', id)
        .execute();
      await this.audit.record(
        {
          type: verdict === 'approved' ? 'approval.approved' : 'approval.denied',
          outcome: 'success',
          actor: `sponsor:${sponsor}`,
          subject: id,
          sponsor,
          authority: [`sponsor:${sponsor}`],
          reason: null,
          details: { hash: row.hash, agent: row.agent, server: row.server, tool: row.tool },
          at: now,
        },
        tx,
      );
      return toView({ ...row, status: verdict, decided_by: sponsor, decided_at: now }, now);
    });
  }

  async list(filter: { status?: ApprovalView['status'] } = {}): Promise<ApprovalView[]> {
    const now = this.now();
    const rows = await this.store.db
      .selectFrom('approvals')
      .selectAll()
      .orderBy('created_at', 'desc')
      .limit(500)
      .execute();
    return rows.map((r) => toView(r, now)).filter((v) => !filter.status || v.status === filter.status);
  }
}

interface ApprovalRowLike {
  id: string;
  hash: string;
  agent: string;
  sponsor: string;
  server: string;
  tool: string;
  arguments: string;
  definition_hash: string;
  reasons: string;
  policies: string;
  status: string;
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
}

function toView(r: ApprovalRowLike, now: number): ApprovalView {
  const expired = (r.status === 'pending' || r.status === 'approved') && Number(r.expires_at) <= now;
  return {
    id: r.id,
    status: expired ? 'expired' : (r.status as ApprovalView['status']),
    hash: r.hash,
    agent: r.agent,
    sponsor: r.sponsor,
    server: r.server,
    tool: r.tool,
    arguments: JSON.parse(r.arguments) as unknown,
    definitionHash: r.definition_hash,
    reasons: JSON.parse(r.reasons) as string[],
    policies: JSON.parse(r.policies) as string[],
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    decidedBy: r.decided_by,
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
  };
}
