// The registry's domain types, and the conversions from stored rows. Rows hold JSON text; the
// model holds parsed values. A row that does not parse is corruption and fails loudly.

import { StoreError } from '../errors.js';
import type { AgentRow, BlueprintRow, GrantRow, SponsorRow } from '../store/index.js';
import type { PublicJwk } from './jwk.js';

/** The most any agent of a blueprint may ever be granted. */
export interface Envelope {
  /** Upstream MCP servers (names or glob patterns) the gateway may route to. */
  servers: string[];
  /** Tools (`server/tool`, globs allowed) the gateway may allow. */
  tools: string[];
  /** OAuth scopes that may appear in tokens, through the base scope or grants. */
  scopes: string[];
}

export interface Sponsor {
  id: string;
  name: string;
  status: 'active' | 'disabled';
  createdAt: number;
  updatedAt: number;
  invalidBefore: number;
}

export interface Blueprint {
  name: string;
  owners: string[];
  sponsors: string[];
  envelope: Envelope;
  baseScope: string[];
  tokenTtlSeconds: number;
  maxDelegationDepth: number;
  reviewBy: number | null;
  version: number;
  status: 'active' | 'retired';
  createdAt: number;
  updatedAt: number;
  invalidBefore: number;
}

export interface Agent {
  id: string;
  name: string;
  blueprint: string;
  sponsor: string;
  publicJwk: PublicJwk;
  jkt: string;
  status: 'active' | 'suspended' | 'retired';
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  invalidBefore: number;
}

export interface Grant {
  id: string;
  agent: string;
  scope: string[];
  durationSeconds: number;
  reason: string;
  status: 'pending' | 'approved' | 'denied' | 'revoked';
  requestedAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  startsAt: number | null;
  endsAt: number | null;
}

export const TOKEN_TTL_DEFAULT_SECONDS = 600;
export const TOKEN_TTL_MAX_SECONDS = 3600;
export const DELEGATION_DEPTH_DEFAULT = 2;

/** SPIFFE id of an agent: `spiffe://<trust-domain>/agent/<blueprint>/<name>`. */
export function agentSpiffeId(trustDomain: string, blueprint: string, name: string): string {
  return `spiffe://${trustDomain}/agent/${blueprint}/${name}`;
}

/** A grant contributes its scope at `now` only while approved and inside its window. */
export function grantActiveAt(grant: Grant, now: number): boolean {
  return (
    grant.status === 'approved' &&
    grant.startsAt !== null &&
    grant.endsAt !== null &&
    grant.startsAt <= now &&
    now < grant.endsAt
  );
}

function json<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new StoreError(`stored ${what} is not valid JSON`, { cause: err });
  }
}

const n = (v: number | bigint | string): number => Number(v);
const nn = (v: number | bigint | string | null): number | null => (v === null ? null : Number(v));

export function sponsorFromRow(r: SponsorRow): Sponsor {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    createdAt: n(r.created_at),
    updatedAt: n(r.updated_at),
    invalidBefore: n(r.invalid_before),
  };
}

export function blueprintFromRow(r: BlueprintRow): Blueprint {
  return {
    name: r.name,
    owners: json<string[]>(r.owners, `owners of blueprint ${r.name}`),
    sponsors: json<string[]>(r.sponsors, `sponsors of blueprint ${r.name}`),
    envelope: json<Envelope>(r.envelope, `envelope of blueprint ${r.name}`),
    baseScope: json<string[]>(r.base_scope, `base scope of blueprint ${r.name}`),
    tokenTtlSeconds: n(r.token_ttl_seconds),
    maxDelegationDepth: n(r.max_delegation_depth),
    reviewBy: nn(r.review_by),
    version: n(r.version),
    status: r.status,
    createdAt: n(r.created_at),
    updatedAt: n(r.updated_at),
    invalidBefore: n(r.invalid_before),
  };
}

export function agentFromRow(r: AgentRow): Agent {
  return {
    id: r.id,
    name: r.name,
    blueprint: r.blueprint,
    sponsor: r.sponsor,
    publicJwk: json<PublicJwk>(r.public_jwk, `public key of agent ${r.id}`),
    jkt: r.jkt,
    status: r.status,
    createdAt: n(r.created_at),
    updatedAt: n(r.updated_at),
    expiresAt: n(r.expires_at),
    invalidBefore: n(r.invalid_before),
  };
}

export function grantFromRow(r: GrantRow): Grant {
  return {
    id: r.id,
    agent: r.agent,
    scope: json<string[]>(r.scope, `scope of grant ${r.id}`),
    durationSeconds: n(r.duration_seconds),
    reason: r.reason,
    status: r.status,
    requestedAt: n(r.requested_at),
    decidedBy: r.decided_by,
    decidedAt: nn(r.decided_at),
    startsAt: nn(r.starts_at),
    endsAt: nn(r.ends_at),
  };
}
