// The registry of sponsors, blueprints, agents and just-in-time grants. Every rule about who may
// exist and what they may be given is checked here, and nowhere else.
//
// INVARIANT: every write is one transaction that changes the row, appends a `changes` row (running
// servers follow that feed to pick up revocations within a poll) and records the audit event
// through the same transaction, so the three commit or roll back together. A refused request
// throws inside the transaction or before it, and so changes nothing.

import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditEvent, AuditSink } from '../audit/index.js';
import { RegistryError, q } from '../errors.js';
import type {
  AgentRow,
  BlueprintRow,
  ChangeRow,
  Database,
  GrantRow,
  SponsorRow,
  Store,
} from '../store/index.js';
import { importPublicJwk, jwkThumbprint, JwkError, parsePublicJwk } from './jwk.js';
import {
  agentFromRow,
  agentSpiffeId,
  blueprintFromRow,
  DELEGATION_DEPTH_DEFAULT,
  grantFromRow,
  sponsorFromRow,
  TOKEN_TTL_DEFAULT_SECONDS,
  TOKEN_TTL_MAX_SECONDS,
  type Agent,
  type Blueprint,
  type Envelope,
  type Grant,
  type Sponsor,
} from './model.js';

export interface RegistryOptions {
  /** SPIFFE trust domain of agent ids. */
  trustDomain: string;
  /** Lifetime of a new agent identity when the request names none. */
  agentLifetimeDays: number;
  /** Milliseconds since the epoch; injected so tests can move time. */
  now?: () => number;
}

export interface NewSponsor {
  /** An email address or an OIDC subject. */
  id: string;
  name: string;
}

export interface NewBlueprint {
  name: string;
  /** Who may change the blueprint; defaults to its sponsors. */
  owners?: string[];
  /** Who may sponsor its agents; at least one, each an active sponsor. */
  sponsors: string[];
  envelope: Envelope;
  /** Scopes every token of its agents carries; a subset of `envelope.scopes`. */
  baseScope?: string[];
  tokenTtlSeconds?: number;
  maxDelegationDepth?: number;
  /** Milliseconds; after it no new agent may be created until the blueprint is reviewed. */
  reviewBy?: number | null;
}

export interface BlueprintPatch {
  owners?: string[];
  sponsors?: string[];
  /** Members left out keep their current value. */
  envelope?: Partial<Envelope>;
  baseScope?: string[];
  tokenTtlSeconds?: number;
  maxDelegationDepth?: number;
  /** `null` clears the review date. */
  reviewBy?: number | null;
}

export interface NewAgent {
  blueprint: string;
  name: string;
  sponsor: string;
  /** The agent's public JWK, untrusted: parsed and checked here. */
  publicJwk: unknown;
  expiresInDays?: number;
}

export interface GrantRequest {
  /** Full SPIFFE id or `<blueprint>/<name>`. */
  agent: string;
  scope: string[];
  durationSeconds: number;
  reason: string;
  /** Who asks; `operator` (the local CLI) unless the caller says otherwise. */
  actor?: string;
}

/** A grant's stored status, with approved grants past their window shown as `expired`. */
export type GrantView = Grant['status'] | 'expired';

export type ListedGrant = Grant & { effectiveStatus: GrantView };

export const GRANT_VIEWS: readonly GrantView[] = ['pending', 'approved', 'expired', 'denied', 'revoked'];

export const GRANT_DURATION_MAX_SECONDS = 86_400;
export const DELEGATION_DEPTH_MAX = 10;
export const AGENT_LIFETIME_MAX_DAYS = 3650;

const DAY_MS = 86_400_000;

// A blueprint or agent name goes into a SPIFFE path segment, so it stays in a conservative alphabet.
const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
// Principals (emails, OIDC subjects) are printed in tables and logs: no spaces, no control or
// invisible formatting characters that could make two different ids look alike.
const PRINCIPAL_RE = /^[^\s\p{Cc}\p{Cf}]{1,255}$/u;
// RFC 6749 section 3.3 scope-token.
const SCOPE_TOKEN_RE = /^[\x21\x23-\x5B\x5D-\x7E]{1,255}$/;
const PATTERN_RE = /^[^\s\p{Cc}\p{Cf}]{1,255}$/u;
const SHORT_AGENT_RE = /^([a-z0-9][a-z0-9-]{0,62})\/([a-z0-9][a-z0-9-]{0,62})$/;

type Tx = Transaction<Database>;

function invalid(message: string): RegistryError {
  return new RegistryError('invalid_argument', message);
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function checkString(v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalid(`${what} must be a string`);
  return v;
}

function checkName(v: unknown, what: 'blueprint' | 'agent'): string {
  const s = checkString(v, `${what} name`);
  if (!NAME_RE.test(s)) {
    throw invalid(
      `invalid ${what} name ${q(s)}: lowercase letters, digits and hyphens, starting with a letter or digit, at most 63 characters`,
    );
  }
  return s;
}

function checkPrincipal(v: unknown, what: string): string {
  const s = checkString(v, `${what} id`);
  if (!PRINCIPAL_RE.test(s)) {
    throw invalid(`invalid ${what} id ${q(s)}: 1 to 255 characters, no spaces or control characters`);
  }
  return s;
}

function checkInteger(v: unknown, what: string, min: number, max: number, limit: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(`${what} must be a whole number`);
  if (v < min || v > max) throw invalid(`${what} ${v} is out of range: ${limit}`);
  return v;
}

/** A list of distinct items, each checked by `check`; `what` names one item in messages. */
function checkList(v: unknown, what: string, check: (item: unknown) => string): string[] {
  if (!Array.isArray(v)) throw invalid(`${what} list must be an array`);
  const seen = new Set<string>();
  for (const item of v as unknown[]) {
    const s = check(item);
    if (seen.has(s)) throw invalid(`duplicate ${what} ${q(s)}`);
    seen.add(s);
  }
  return [...seen];
}

function checkScopeToken(v: unknown): string {
  const s = checkString(v, 'scope');
  if (!SCOPE_TOKEN_RE.test(s)) {
    throw invalid(`invalid scope ${q(s)}: printable ascii without spaces, quotes or backslashes`);
  }
  return s;
}

function checkPattern(what: string): (v: unknown) => string {
  return (v) => {
    const s = checkString(v, what);
    if (!PATTERN_RE.test(s)) throw invalid(`invalid ${what} ${q(s)}: 1 to 255 characters, no spaces`);
    return s;
  };
}

function checkEnvelope(v: Partial<Envelope>, base: Envelope): Envelope {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw invalid('the envelope must be an object');
  return {
    servers:
      v.servers === undefined
        ? base.servers
        : checkList(v.servers, 'envelope server', checkPattern('server')),
    tools: v.tools === undefined ? base.tools : checkList(v.tools, 'envelope tool', checkPattern('tool')),
    scopes: v.scopes === undefined ? base.scopes : checkList(v.scopes, 'envelope scope', checkScopeToken),
  };
}

function checkBaseScope(baseScope: string[], envelope: Envelope, blueprint: string): void {
  for (const s of baseScope) {
    if (!envelope.scopes.includes(s)) {
      throw invalid(`base scope ${q(s)} is not in the envelope of blueprint ${q(blueprint)}`);
    }
  }
}

function checkTokenTtl(v: unknown): number {
  return checkInteger(v, 'token lifetime (seconds)', 1, TOKEN_TTL_MAX_SECONDS, 'at most 60 minutes');
}

function checkDelegationDepth(v: unknown): number {
  return checkInteger(v, 'maximum delegation depth', 0, DELEGATION_DEPTH_MAX, `0 to ${DELEGATION_DEPTH_MAX}`);
}

function checkReviewBy(v: unknown, now: number): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw invalid('review-by date must be a time in milliseconds');
  if (v <= now) throw invalid(`review-by date ${isoDate(v)} is not in the future`);
  return v;
}

/** The grant's status as seen at `now`: an approved grant past its window is `expired`. */
export function grantViewAt(grant: Grant, now: number): GrantView {
  return grant.status === 'approved' && grant.endsAt !== null && now >= grant.endsAt
    ? 'expired'
    : grant.status;
}

export class Registry {
  private readonly now: () => number;
  readonly trustDomain: string;
  private readonly agentLifetimeDays: number;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditSink,
    opts: RegistryOptions,
  ) {
    this.trustDomain = opts.trustDomain;
    this.agentLifetimeDays = opts.agentLifetimeDays;
    this.now = opts.now ?? Date.now;
  }

  // ---- sponsors -------------------------------------------------------------------------------

  async addSponsor(input: NewSponsor): Promise<Sponsor> {
    const id = checkPrincipal(input.id, 'sponsor');
    const name = checkString(input.name, 'sponsor name');
    if (name.length < 1 || name.length > 200 || /\p{Cc}/u.test(name)) {
      throw invalid(`invalid sponsor name ${q(name)}: 1 to 200 characters, no control characters`);
    }
    const now = this.now();
    const row: SponsorRow = {
      id,
      name,
      status: 'active',
      created_at: now,
      updated_at: now,
      invalid_before: 0,
    };
    await this.store.db.transaction().execute(async (tx) => {
      if (await this.sponsorRow(tx, id))
        throw new RegistryError('already_exists', `sponsor ${q(id)} already exists`);
      await tx.insertInto('sponsors').values(row).execute();
      await this.commit(tx, now, 'sponsor', id, {
        type: 'sponsor.created',
        actor: 'operator',
        subject: id,
        sponsor: id,
        authority: [],
        reason: null,
        details: { name },
      });
    });
    return sponsorFromRow(row);
  }

  async listSponsors(): Promise<Sponsor[]> {
    const rows = await this.store.db.selectFrom('sponsors').selectAll().orderBy('id').execute();
    return rows.map(sponsorFromRow);
  }

  async getSponsor(id: string): Promise<Sponsor> {
    return sponsorFromRow(await this.requireSponsor(this.store.db, checkString(id, 'sponsor id')));
  }

  /** Disabling kills every token issued so far, for good: re-enabling does not revive them. */
  async disableSponsor(id: string): Promise<Sponsor> {
    return this.setSponsorStatus(id, 'disabled');
  }

  async enableSponsor(id: string): Promise<Sponsor> {
    return this.setSponsorStatus(id, 'active');
  }

  private async setSponsorStatus(idInput: string, status: SponsorRow['status']): Promise<Sponsor> {
    const id = checkString(idInput, 'sponsor id');
    const now = this.now();
    return this.store.db.transaction().execute(async (tx) => {
      const row = await this.requireSponsor(tx, id);
      if (row.status === status) throw new RegistryError('conflict', `sponsor ${q(id)} is already ${status}`);
      const invalidBefore = status === 'disabled' ? now : Number(row.invalid_before);
      await tx
        .updateTable('sponsors')
        .set({ status, updated_at: now, invalid_before: invalidBefore })
        .where('id', '=', id)
        .execute();
      await this.commit(tx, now, 'sponsor', id, {
        type: status === 'disabled' ? 'sponsor.disabled' : 'sponsor.enabled',
        actor: 'operator',
        subject: id,
        sponsor: id,
        authority: [],
        reason: null,
        details: {},
      });
      return sponsorFromRow({ ...row, status, updated_at: now, invalid_before: invalidBefore });
    });
  }

  // ---- blueprints -----------------------------------------------------------------------------

  async createBlueprint(input: NewBlueprint): Promise<Blueprint> {
    const now = this.now();
    const name = checkName(input.name, 'blueprint');
    const sponsors = checkList(input.sponsors, 'sponsor', (v) => checkPrincipal(v, 'sponsor'));
    if (sponsors.length === 0) throw invalid(`blueprint ${q(name)} needs at least one sponsor`);
    const owners =
      input.owners === undefined
        ? sponsors
        : checkList(input.owners, 'owner', (v) => checkPrincipal(v, 'owner'));
    if (owners.length === 0) throw invalid(`blueprint ${q(name)} needs at least one owner`);
    const envelope = checkEnvelope(input.envelope, { servers: [], tools: [], scopes: [] });
    const baseScope = checkList(input.baseScope ?? [], 'base scope', checkScopeToken);
    checkBaseScope(baseScope, envelope, name);
    const tokenTtl = checkTokenTtl(input.tokenTtlSeconds ?? TOKEN_TTL_DEFAULT_SECONDS);
    const depth = checkDelegationDepth(input.maxDelegationDepth ?? DELEGATION_DEPTH_DEFAULT);
    const reviewBy = checkReviewBy(input.reviewBy, now);
    const row: BlueprintRow = {
      name,
      owners: JSON.stringify(owners),
      sponsors: JSON.stringify(sponsors),
      envelope: JSON.stringify(envelope),
      base_scope: JSON.stringify(baseScope),
      token_ttl_seconds: tokenTtl,
      max_delegation_depth: depth,
      review_by: reviewBy,
      version: 1,
      status: 'active',
      created_at: now,
      updated_at: now,
      invalid_before: 0,
    };
    const blueprint = blueprintFromRow(row);
    await this.store.db.transaction().execute(async (tx) => {
      if (await this.blueprintRow(tx, name)) {
        throw new RegistryError('already_exists', `blueprint ${q(name)} already exists`);
      }
      for (const s of sponsors) await this.requireActiveSponsor(tx, s);
      await tx.insertInto('blueprints').values(row).execute();
      await this.commit(tx, now, 'blueprint', name, {
        type: 'blueprint.created',
        actor: 'operator',
        subject: name,
        sponsor: null,
        authority: [],
        reason: null,
        details: blueprintDetails(blueprint),
      });
    });
    return blueprint;
  }

  async listBlueprints(): Promise<Blueprint[]> {
    const rows = await this.store.db.selectFrom('blueprints').selectAll().orderBy('name').execute();
    return rows.map(blueprintFromRow);
  }

  async getBlueprint(name: string): Promise<Blueprint> {
    return blueprintFromRow(await this.requireBlueprint(this.store.db, checkString(name, 'blueprint name')));
  }

  /**
   * Change a blueprint. The version goes up and every outstanding token of its agents dies, so
   * agents come back for tokens minted under the new rules.
   */
  async updateBlueprint(nameInput: string, patch: BlueprintPatch): Promise<Blueprint> {
    const name = checkString(nameInput, 'blueprint name');
    if (typeof patch !== 'object' || patch === null) throw invalid('the update must be an object');
    const changed = (Object.keys(patch) as Array<keyof BlueprintPatch>).filter((k) => patch[k] !== undefined);
    if (changed.length === 0) throw invalid(`nothing to update in blueprint ${q(name)}`);
    const now = this.now();
    return this.store.db.transaction().execute(async (tx) => {
      const row = await this.requireBlueprint(tx, name);
      const current = blueprintFromRow(row);
      if (current.status === 'retired')
        throw new RegistryError('conflict', `blueprint ${q(name)} is retired`);

      const sponsors =
        patch.sponsors === undefined
          ? current.sponsors
          : checkList(patch.sponsors, 'sponsor', (v) => checkPrincipal(v, 'sponsor'));
      if (sponsors.length === 0) throw invalid(`blueprint ${q(name)} needs at least one sponsor`);
      const owners =
        patch.owners === undefined
          ? current.owners
          : checkList(patch.owners, 'owner', (v) => checkPrincipal(v, 'owner'));
      if (owners.length === 0) throw invalid(`blueprint ${q(name)} needs at least one owner`);
      const envelope =
        patch.envelope === undefined ? current.envelope : checkEnvelope(patch.envelope, current.envelope);
      const baseScope =
        patch.baseScope === undefined
          ? current.baseScope
          : checkList(patch.baseScope, 'base scope', checkScopeToken);
      checkBaseScope(baseScope, envelope, name);
      const tokenTtl =
        patch.tokenTtlSeconds === undefined ? current.tokenTtlSeconds : checkTokenTtl(patch.tokenTtlSeconds);
      const depth =
        patch.maxDelegationDepth === undefined
          ? current.maxDelegationDepth
          : checkDelegationDepth(patch.maxDelegationDepth);
      const reviewBy = patch.reviewBy === undefined ? current.reviewBy : checkReviewBy(patch.reviewBy, now);

      // A sponsor already on the blueprint may stay while disabled; one being added must be active.
      for (const s of sponsors) {
        if (current.sponsors.includes(s)) await this.requireSponsor(tx, s);
        else await this.requireActiveSponsor(tx, s);
      }
      const removed = current.sponsors.filter((s) => !sponsors.includes(s));
      if (removed.length > 0) {
        const still = await tx
          .selectFrom('agents')
          .select(['id', 'sponsor'])
          .where('blueprint', '=', name)
          .where('sponsor', 'in', removed)
          .where('status', 'in', ['active', 'suspended'])
          .orderBy('id')
          .executeTakeFirst();
        if (still) {
          throw new RegistryError(
            'conflict',
            `cannot remove sponsor ${q(still.sponsor)} from blueprint ${q(name)}: agent ${q(still.id)} still has them as sponsor; retire the agent first`,
          );
        }
      }

      const next: BlueprintRow = {
        ...row,
        owners: JSON.stringify(owners),
        sponsors: JSON.stringify(sponsors),
        envelope: JSON.stringify(envelope),
        base_scope: JSON.stringify(baseScope),
        token_ttl_seconds: tokenTtl,
        max_delegation_depth: depth,
        review_by: reviewBy,
        version: current.version + 1,
        updated_at: now,
        invalid_before: now,
      };
      await tx
        .updateTable('blueprints')
        .set({
          owners: next.owners,
          sponsors: next.sponsors,
          envelope: next.envelope,
          base_scope: next.base_scope,
          token_ttl_seconds: next.token_ttl_seconds,
          max_delegation_depth: next.max_delegation_depth,
          review_by: next.review_by,
          version: next.version,
          updated_at: now,
          invalid_before: now,
        })
        .where('name', '=', name)
        .execute();
      const updated = blueprintFromRow(next);
      await this.commit(tx, now, 'blueprint', name, {
        type: 'blueprint.updated',
        actor: 'operator',
        subject: name,
        sponsor: null,
        authority: [],
        reason: null,
        details: { ...blueprintDetails(updated), version: updated.version, changed },
      });
      return updated;
    });
  }

  /** A retired blueprint issues no more tokens to its agents and gets no new agents. */
  async retireBlueprint(nameInput: string): Promise<Blueprint> {
    const name = checkString(nameInput, 'blueprint name');
    const now = this.now();
    return this.store.db.transaction().execute(async (tx) => {
      const row = await this.requireBlueprint(tx, name);
      if (row.status === 'retired')
        throw new RegistryError('conflict', `blueprint ${q(name)} is already retired`);
      await tx
        .updateTable('blueprints')
        .set({ status: 'retired', updated_at: now, invalid_before: now })
        .where('name', '=', name)
        .execute();
      await this.commit(tx, now, 'blueprint', name, {
        type: 'blueprint.retired',
        actor: 'operator',
        subject: name,
        sponsor: null,
        authority: [],
        reason: null,
        details: { version: Number(row.version) },
      });
      return blueprintFromRow({ ...row, status: 'retired', updated_at: now, invalid_before: now });
    });
  }

  // ---- agents ---------------------------------------------------------------------------------

  async createAgent(input: NewAgent): Promise<Agent> {
    const now = this.now();
    const blueprintName = checkString(input.blueprint, 'blueprint name');
    const name = checkName(input.name, 'agent');
    const sponsorId = checkString(input.sponsor, 'sponsor id');
    const days = checkInteger(
      input.expiresInDays ?? this.agentLifetimeDays,
      'agent lifetime (days)',
      1,
      AGENT_LIFETIME_MAX_DAYS,
      `1 to ${AGENT_LIFETIME_MAX_DAYS} days`,
    );
    let publicJwk;
    try {
      publicJwk = parsePublicJwk(input.publicJwk);
      importPublicJwk(publicJwk);
    } catch (err) {
      if (err instanceof JwkError)
        throw new RegistryError('invalid_argument', `invalid public key: ${err.message}`, { cause: err });
      throw err;
    }
    const jkt = jwkThumbprint(publicJwk);
    const id = agentSpiffeId(this.trustDomain, checkName(blueprintName, 'blueprint'), name);
    const row: AgentRow = {
      id,
      name,
      blueprint: blueprintName,
      sponsor: sponsorId,
      public_jwk: JSON.stringify(publicJwk),
      jkt,
      status: 'active',
      created_at: now,
      updated_at: now,
      expires_at: now + days * DAY_MS,
      invalid_before: 0,
    };
    await this.store.db.transaction().execute(async (tx) => {
      const bp = blueprintFromRow(await this.requireBlueprint(tx, blueprintName));
      if (bp.status === 'retired') {
        throw new RegistryError('forbidden', `blueprint ${q(bp.name)} is retired: it gets no new agents`);
      }
      if (bp.reviewBy !== null && now >= bp.reviewBy) {
        throw new RegistryError(
          'forbidden',
          `blueprint ${q(bp.name)} is past its review-by date ${isoDate(bp.reviewBy)}: review and update it before creating agents`,
        );
      }
      await this.requireSponsor(tx, sponsorId);
      if (!bp.sponsors.includes(sponsorId)) {
        throw new RegistryError(
          'forbidden',
          `sponsor ${q(sponsorId)} is not a sponsor of blueprint ${q(bp.name)}`,
        );
      }
      await this.requireActiveSponsor(tx, sponsorId);
      if (await tx.selectFrom('agents').select('id').where('id', '=', id).executeTakeFirst()) {
        throw new RegistryError('already_exists', `agent ${q(id)} already exists`);
      }
      // One key, one agent: a shared key would let one agent prove possession as another.
      const holder = await tx.selectFrom('agents').select('id').where('jkt', '=', jkt).executeTakeFirst();
      if (holder) {
        throw new RegistryError(
          'conflict',
          `public key ${q(jkt)} is already registered to agent ${q(holder.id)}: each agent needs its own key`,
        );
      }
      await tx.insertInto('agents').values(row).execute();
      await this.commit(tx, now, 'agent', id, {
        type: 'agent.created',
        actor: 'operator',
        subject: id,
        sponsor: sponsorId,
        authority: [],
        reason: null,
        details: { blueprint: bp.name, blueprintVersion: bp.version, jkt, expiresAt: row.expires_at },
      });
    });
    return agentFromRow(row);
  }

  async listAgents(filter: { blueprint?: string } = {}): Promise<Agent[]> {
    let query = this.store.db.selectFrom('agents').selectAll();
    if (filter.blueprint !== undefined)
      query = query.where('blueprint', '=', checkString(filter.blueprint, 'blueprint name'));
    const rows = await query.orderBy('id').execute();
    return rows.map(agentFromRow);
  }

  /** Accepts the full SPIFFE id or the `<blueprint>/<name>` shorthand. */
  async getAgent(ref: string): Promise<Agent> {
    return agentFromRow(await this.requireAgent(this.store.db, this.agentId(ref)));
  }

  /** Suspension kills outstanding tokens; they stay dead after a resume. */
  async suspendAgent(ref: string): Promise<Agent> {
    return this.transitionAgent(ref, 'agent.suspended', 'suspended', ['active'], true);
  }

  async resumeAgent(ref: string): Promise<Agent> {
    return this.transitionAgent(ref, 'agent.resumed', 'active', ['suspended'], false);
  }

  async retireAgent(ref: string): Promise<Agent> {
    return this.transitionAgent(ref, 'agent.retired', 'retired', ['active', 'suspended'], true);
  }

  private async transitionAgent(
    ref: string,
    type: 'agent.suspended' | 'agent.resumed' | 'agent.retired',
    to: AgentRow['status'],
    from: Array<AgentRow['status']>,
    invalidate: boolean,
  ): Promise<Agent> {
    const id = this.agentId(ref);
    const now = this.now();
    const verb = { 'agent.suspended': 'suspend', 'agent.resumed': 'resume', 'agent.retired': 'retire' }[type];
    return this.store.db.transaction().execute(async (tx) => {
      const row = await this.requireAgent(tx, id);
      if (!from.includes(row.status)) {
        const detail = row.status === to ? `is already ${to}` : `is ${row.status}`;
        throw new RegistryError('conflict', `cannot ${verb} agent ${q(id)}: it ${detail}`);
      }
      const invalidBefore = invalidate ? now : Number(row.invalid_before);
      await tx
        .updateTable('agents')
        .set({ status: to, updated_at: now, invalid_before: invalidBefore })
        .where('id', '=', id)
        .execute();
      await this.commit(tx, now, 'agent', id, {
        type,
        actor: 'operator',
        subject: id,
        sponsor: row.sponsor,
        authority: [],
        reason: null,
        details: { from: row.status, to },
      });
      return agentFromRow({ ...row, status: to, updated_at: now, invalid_before: invalidBefore });
    });
  }

  // ---- grants ---------------------------------------------------------------------------------

  async requestGrant(input: GrantRequest): Promise<Grant> {
    const now = this.now();
    const agentId = this.agentId(input.agent);
    const scope = checkList(input.scope, 'scope', checkScopeToken);
    if (scope.length === 0) throw invalid('a grant needs at least one scope');
    const duration = checkInteger(
      input.durationSeconds,
      'grant duration (seconds)',
      1,
      GRANT_DURATION_MAX_SECONDS,
      'at most 24 hours',
    );
    const reason = checkString(input.reason, 'reason').trim();
    if (reason.length === 0) throw invalid('a grant needs a reason');
    if (reason.length > 1000) throw invalid('the reason is too long: at most 1000 characters');
    const actor = input.actor === undefined ? 'operator' : checkString(input.actor, 'actor');
    const row: GrantRow = {
      id: `g_${randomBytes(16).toString('base64url')}`,
      agent: agentId,
      scope: JSON.stringify(scope),
      duration_seconds: duration,
      reason,
      status: 'pending',
      requested_at: now,
      decided_by: null,
      decided_at: null,
      starts_at: null,
      ends_at: null,
    };
    await this.store.db.transaction().execute(async (tx) => {
      const agent = await this.requireAgent(tx, agentId);
      const bp = await this.grantableBlueprint(tx, agent, scope, now);
      await tx.insertInto('grants').values(row).execute();
      await this.commit(tx, now, 'grant', row.id, {
        type: 'grant.requested',
        actor,
        subject: row.id,
        sponsor: agent.sponsor,
        authority: [],
        reason,
        details: { agent: agentId, scope, durationSeconds: duration, blueprintVersion: bp.version },
      });
    });
    return grantFromRow(row);
  }

  /** Only the agent's own, active sponsor may approve; the window starts at approval. */
  async approveGrant(id: string, sponsorId: string): Promise<Grant> {
    return this.decideGrant(id, sponsorId, 'approved');
  }

  async denyGrant(id: string, sponsorId: string): Promise<Grant> {
    return this.decideGrant(id, sponsorId, 'denied');
  }

  private async decideGrant(
    idInput: string,
    sponsorInput: string,
    status: 'approved' | 'denied',
  ): Promise<Grant> {
    const id = checkString(idInput, 'grant id');
    const sponsorId = checkString(sponsorInput, 'sponsor id');
    const now = this.now();
    return this.store.db.transaction().execute(async (tx) => {
      const row = await this.requireGrant(tx, id);
      const agent = await this.requireAgent(tx, row.agent);
      await this.requireAgentSponsor(tx, agent, sponsorId);
      if (row.status !== 'pending') {
        throw new RegistryError(
          'conflict',
          `grant ${q(id)} is ${grantViewAt(grantFromRow(row), now)}, not pending`,
        );
      }
      const grant = grantFromRow(row);
      // Approval re-checks the agent and the envelope: either may have changed since the request.
      if (status === 'approved') await this.grantableBlueprint(tx, agent, grant.scope, now);
      const decided: GrantRow = {
        ...row,
        status,
        decided_by: sponsorId,
        decided_at: now,
        starts_at: status === 'approved' ? now : null,
        ends_at: status === 'approved' ? now + Number(row.duration_seconds) * 1000 : null,
      };
      await tx
        .updateTable('grants')
        .set({
          status,
          decided_by: sponsorId,
          decided_at: now,
          starts_at: decided.starts_at,
          ends_at: decided.ends_at,
        })
        .where('id', '=', id)
        .execute();
      await this.commit(tx, now, 'grant', id, {
        type: status === 'approved' ? 'grant.approved' : 'grant.denied',
        actor: `sponsor:${sponsorId}`,
        subject: id,
        sponsor: sponsorId,
        authority: [sponsorId],
        reason: row.reason,
        details: {
          agent: agent.id,
          scope: grant.scope,
          startsAt: decided.starts_at,
          endsAt: decided.ends_at,
        },
      });
      return grantFromRow(decided);
    });
  }

  /** Revoke an approved grant: by the agent's sponsor when `sponsorId` is given, else the operator. */
  async revokeGrant(idInput: string, sponsorId?: string): Promise<Grant> {
    const id = checkString(idInput, 'grant id');
    if (sponsorId !== undefined) checkString(sponsorId, 'sponsor id');
    const now = this.now();
    return this.store.db.transaction().execute(async (tx) => {
      const row = await this.requireGrant(tx, id);
      const agent = await this.requireAgent(tx, row.agent);
      if (sponsorId !== undefined) await this.requireAgentSponsor(tx, agent, sponsorId);
      const grant = grantFromRow(row);
      const view = grantViewAt(grant, now);
      if (view !== 'approved') {
        const hint = view === 'pending' ? ': deny it instead' : '';
        throw new RegistryError('conflict', `cannot revoke grant ${q(id)}: it is ${view}${hint}`);
      }
      await tx.updateTable('grants').set({ status: 'revoked' }).where('id', '=', id).execute();
      await this.commit(tx, now, 'grant', id, {
        type: 'grant.revoked',
        actor: sponsorId === undefined ? 'operator' : `sponsor:${sponsorId}`,
        subject: id,
        sponsor: agent.sponsor,
        authority: sponsorId === undefined ? [] : [sponsorId],
        reason: null,
        details: { agent: agent.id, scope: grant.scope, endsAt: grant.endsAt },
      });
      return grantFromRow({ ...row, status: 'revoked' });
    });
  }

  async getGrant(idInput: string): Promise<ListedGrant> {
    const grant = grantFromRow(await this.requireGrant(this.store.db, checkString(idInput, 'grant id')));
    return { ...grant, effectiveStatus: grantViewAt(grant, this.now()) };
  }

  /** Grants, newest first. `status: 'approved'` means approved and still inside its window. */
  async listGrants(filter: { agent?: string; status?: GrantView } = {}): Promise<ListedGrant[]> {
    if (filter.status !== undefined && !GRANT_VIEWS.includes(filter.status)) {
      throw invalid(`unknown grant status ${q(filter.status)}: one of ${GRANT_VIEWS.join(', ')}`);
    }
    let query = this.store.db.selectFrom('grants').selectAll();
    if (filter.agent !== undefined) query = query.where('agent', '=', this.agentId(filter.agent));
    const rows = await query.orderBy('requested_at', 'desc').orderBy('id').execute();
    const now = this.now();
    return rows
      .map((r) => {
        const grant = grantFromRow(r);
        return { ...grant, effectiveStatus: grantViewAt(grant, now) };
      })
      .filter((g) => filter.status === undefined || g.effectiveStatus === filter.status);
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** Resolve `<blueprint>/<name>` to the full SPIFFE id; a full id passes through. */
  agentId(ref: string): string {
    const s = checkString(ref, 'agent id');
    if (s.startsWith('spiffe://')) return s;
    const m = SHORT_AGENT_RE.exec(s);
    if (!m)
      throw invalid(
        `invalid agent id ${q(s)}: expected spiffe://${this.trustDomain}/agent/<blueprint>/<name> or <blueprint>/<name>`,
      );
    return agentSpiffeId(this.trustDomain, m[1] ?? '', m[2] ?? '');
  }

  private async commit(
    tx: Tx,
    now: number,
    kind: ChangeRow['kind'],
    entityId: string,
    event: Omit<AuditEvent, 'outcome' | 'at'>,
  ): Promise<void> {
    await tx.insertInto('changes').values({ kind, entity_id: entityId, at: now }).execute();
    await this.audit.record({ ...event, outcome: 'success', at: now }, tx);
  }

  private sponsorRow(db: Kysely<Database>, id: string): Promise<SponsorRow | undefined> {
    return db.selectFrom('sponsors').selectAll().where('id', '=', id).executeTakeFirst();
  }

  private blueprintRow(db: Kysely<Database>, name: string): Promise<BlueprintRow | undefined> {
    return db.selectFrom('blueprints').selectAll().where('name', '=', name).executeTakeFirst();
  }

  private async requireSponsor(db: Kysely<Database>, id: string): Promise<SponsorRow> {
    const row = await this.sponsorRow(db, id);
    if (!row) throw new RegistryError('not_found', `sponsor ${q(id)} not found`);
    return row;
  }

  private async requireActiveSponsor(db: Kysely<Database>, id: string): Promise<SponsorRow> {
    const row = await this.requireSponsor(db, id);
    if (row.status !== 'active') throw new RegistryError('forbidden', `sponsor ${q(id)} is disabled`);
    return row;
  }

  private async requireBlueprint(db: Kysely<Database>, name: string): Promise<BlueprintRow> {
    const row = await this.blueprintRow(db, name);
    if (!row) throw new RegistryError('not_found', `blueprint ${q(name)} not found`);
    return row;
  }

  private async requireAgent(db: Kysely<Database>, id: string): Promise<AgentRow> {
    const row = await db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new RegistryError('not_found', `agent ${q(id)} not found`);
    return row;
  }

  private async requireGrant(db: Kysely<Database>, id: string): Promise<GrantRow> {
    const row = await db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new RegistryError('not_found', `grant ${q(id)} not found`);
    return row;
  }

  /** The sponsor must be the agent's own and still active: the authority behind a grant decision. */
  private async requireAgentSponsor(db: Kysely<Database>, agent: AgentRow, sponsorId: string): Promise<void> {
    await this.requireSponsor(db, sponsorId);
    if (agent.sponsor !== sponsorId) {
      throw new RegistryError(
        'forbidden',
        `sponsor ${q(sponsorId)} is not the sponsor of agent ${q(agent.id)}`,
      );
    }
    await this.requireActiveSponsor(db, sponsorId);
  }

  /** The agent may hold `scope` now: it is active and unexpired, and its live blueprint allows it. */
  private async grantableBlueprint(
    db: Kysely<Database>,
    agent: AgentRow,
    scope: string[],
    now: number,
  ): Promise<Blueprint> {
    if (agent.status !== 'active')
      throw new RegistryError('forbidden', `agent ${q(agent.id)} is ${agent.status}`);
    if (now >= Number(agent.expires_at)) {
      throw new RegistryError(
        'forbidden',
        `agent ${q(agent.id)} expired on ${isoDate(Number(agent.expires_at))}`,
      );
    }
    const bp = blueprintFromRow(await this.requireBlueprint(db, agent.blueprint));
    if (bp.status === 'retired') throw new RegistryError('forbidden', `blueprint ${q(bp.name)} is retired`);
    for (const s of scope) {
      if (!bp.envelope.scopes.includes(s)) {
        throw new RegistryError(
          'forbidden',
          `scope ${q(s)} is outside the envelope of blueprint ${q(bp.name)}`,
        );
      }
    }
    return bp;
  }
}

function blueprintDetails(b: Blueprint): Record<string, unknown> {
  return {
    owners: b.owners,
    sponsors: b.sponsors,
    envelope: b.envelope,
    baseScope: b.baseScope,
    tokenTtlSeconds: b.tokenTtlSeconds,
    maxDelegationDepth: b.maxDelegationDepth,
    reviewBy: b.reviewBy,
  };
}
