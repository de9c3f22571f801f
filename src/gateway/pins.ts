// Tool pinning: the first definition of a tool that a person approves is the only one agents may
// use. A definition that changes afterwards (a "rug pull") is quarantined: the gateway hides the
// tool and refuses its calls until someone reviews the change (`warden tools diff`) and approves it.
//
// INVARIANT: every write is one transaction that changes `tool_definitions`, appends a `changes`
// row (kind `tool`, entity `<server>/<tool>`) and records the audit event through the same
// transaction. A refused request throws before or inside the transaction and so changes nothing.
// INVARIANT: at most one definition of a tool is `pinned` (also enforced by a partial unique index),
// and only a pinned definition ever yields status `pinned`.

import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditEvent, AuditSink } from '../audit/index.js';
import { StoreError, WardenError, q } from '../errors.js';
import type { Database, Store } from '../store/index.js';
import type { ToolDefinitionRow } from '../store/schema.js';
import { canonicalJson, canonicalJsonPretty } from '../jcs.js';
import {
  TOOL_NAME_RE,
  hasHighFindings,
  canonicalToolDefinition,
  scanToolDefinition,
  type ToolDefinition,
  type ToolFinding,
} from './tool-definition.js';

/** What the gateway may do with a tool as just listed: only `pinned` may be offered and called. */
export interface PinState {
  /**
   * `pinned`: this exact definition is approved. `pending`: nothing of this tool is approved yet and
   * this definition awaits review. `quarantined`: this definition is not the approved one (it
   * changed since a pin, or was rejected); calls are refused until it is approved.
   */
  status: 'pinned' | 'pending' | 'quarantined';
  /** Hash of the definition observed. */
  hash: string;
  /** Hash of the tool's pinned definition, if any. */
  pinnedHash: string | null;
  /** Findings of the scan made when this definition was first seen. */
  findings: ToolFinding[];
}

export type DefinitionStatus = ToolDefinitionRow['status'];

/** A tool's state across its definitions, as `warden tools list` shows it. */
export type ToolStatus = 'pinned' | 'pending' | 'quarantined' | 'rejected';

export interface StoredDefinition {
  server: string;
  name: string;
  hash: string;
  status: DefinitionStatus;
  definition: ToolDefinition;
  findings: ToolFinding[];
  firstSeen: number;
  decidedBy: string | null;
  decidedAt: number | null;
}

export interface ListedTool {
  server: string;
  name: string;
  /**
   * `pinned`: approved, nothing waiting. `quarantined`: approved, but a different definition was seen
   * and waits for review. `pending`: nothing approved yet, something waits. `rejected`: nothing
   * approved and nothing waiting.
   */
  status: ToolStatus;
  pinnedHash: string | null;
  /** Hashes of definitions awaiting review, newest first. */
  pendingHashes: string[];
  /** Every definition ever seen, newest first. */
  definitions: StoredDefinition[];
}

export interface DiffLine {
  op: ' ' | '-' | '+';
  text: string;
}

export interface FieldChange {
  field: keyof ToolDefinition;
  change: 'added' | 'removed' | 'changed';
}

export interface ToolDiff {
  server: string;
  name: string;
  /** The pinned definition, or null when nothing is pinned yet (then every line is an addition). */
  pinned: StoredDefinition | null;
  /** The newest definition awaiting review. */
  pending: StoredDefinition;
  /** Top-level fields of the definition that differ. */
  changedFields: FieldChange[];
  /** Every line of both pretty-printed canonical definitions, in diff order. */
  lines: DiffLine[];
  /** A unified diff (hunks with three lines of context) of the same. */
  text: string;
}

export interface PinDecision {
  server: string;
  name: string;
  hash: string;
  /** The definition the approval replaced, if one was pinned. */
  superseded: string | null;
  /** Findings the approver accepted (or the rejected definition had). */
  findings: ToolFinding[];
}

export interface ToolPinsOptions {
  /** Pin a tool's first definition on sight unless it has high-severity findings. Development only. */
  autoPin: boolean;
  /** Milliseconds since the epoch, for recorded times; injected so tests can move time. */
  now?: () => number;
  /** How old (ms) the cache may get before `observe` catches up with the change feed; default 1000. */
  refreshMs?: number;
}

const SERVER_RE = /^[A-Za-z0-9_.-]{1,128}$/;
// Who approves or rejects: printed in tables and stored in the audit log, so no spaces, no
// control or invisible formatting characters.
const ACTOR_RE = /^[^\s\p{Cc}\p{Cf}]{1,255}$/u;
const HASH_RE = /^[0-9a-f]{64}$/;
const HASH_PREFIX_RE = /^[0-9a-f]{12,64}$/;
const FIELDS: ReadonlyArray<keyof ToolDefinition> = [
  'name',
  'title',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
];
/** Beyond this many cells the LCS table is skipped and the changed middle shown as removed then added. */
const LCS_MAX_CELLS = 4_000_000;
const DIFF_CONTEXT = 3;

function invalid(message: string): WardenError {
  return new WardenError('invalid_argument', message);
}

function checkServer(server: unknown): string {
  if (typeof server !== 'string' || !SERVER_RE.test(server)) {
    throw invalid(`invalid upstream name ${q(server)}: 1 to 128 characters of A-Z, a-z, 0-9, _, - and .`);
  }
  return server;
}

function checkToolName(name: unknown): string {
  if (typeof name !== 'string' || !TOOL_NAME_RE.test(name)) {
    throw invalid(`invalid tool name ${q(name)}: 1 to 128 characters of A-Z, a-z, 0-9, _, - and .`);
  }
  return name;
}

function checkActor(actor: unknown): string {
  if (typeof actor !== 'string' || !ACTOR_RE.test(actor)) {
    throw invalid(`invalid approver ${q(actor)}: 1 to 255 characters, no spaces or control characters`);
  }
  return actor;
}

function ref(server: string, name: string): string {
  return `${server}/${name}`;
}

function short(hash: string): string {
  return hash.slice(0, 12);
}

function parseStored<T>(text: string, what: string, check: (v: unknown) => v is T): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new StoreError(`the stored ${what} is not json`, { cause: err });
  }
  if (!check(value)) throw new StoreError(`the stored ${what} is malformed`);
  return value;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isDefinition = (v: unknown): v is ToolDefinition => isRecord(v) && typeof v['name'] === 'string';
// A finding whose severity cannot be read would let a high one pass unnoticed: refuse the row.
const isFindings = (v: unknown): v is ToolFinding[] =>
  Array.isArray(v) &&
  v.every(
    (f: unknown) =>
      isRecord(f) &&
      typeof f['rule'] === 'string' &&
      (f['severity'] === 'high' || f['severity'] === 'medium') &&
      typeof f['message'] === 'string',
  );

function fromRow(r: ToolDefinitionRow): StoredDefinition {
  const where = `definition ${short(r.hash)} of tool ${ref(r.server, r.name)}`;
  return {
    server: r.server,
    name: r.name,
    hash: r.hash,
    status: r.status,
    definition: parseStored(r.definition, where, isDefinition),
    findings: parseStored(r.findings, `findings of ${where}`, isFindings),
    firstSeen: Number(r.first_seen),
    decidedBy: r.decided_by,
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
  };
}

/** Newest first; the hash breaks ties so the order is stable. */
function newestFirst(a: ToolDefinitionRow, b: ToolDefinitionRow): number {
  return Number(b.first_seen) - Number(a.first_seen) || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0);
}

interface CachedDefinition {
  status: DefinitionStatus;
  findings: ToolFinding[];
}

interface CachedTool {
  pinnedHash: string | null;
  defs: Map<string, CachedDefinition>;
}

function stateOf(tool: CachedTool, hash: string, def: CachedDefinition): PinState {
  const base = { hash, pinnedHash: tool.pinnedHash, findings: def.findings };
  if (tool.pinnedHash === hash) return { status: 'pinned', ...base };
  if (tool.pinnedHash === null && def.status === 'pending') return { status: 'pending', ...base };
  // Not the pinned definition: a change since the pin, or one that was rejected or superseded.
  return { status: 'quarantined', ...base };
}

export class ToolPins {
  private readonly autoPin: boolean;
  private readonly now: () => number;
  private readonly refreshMs: number;
  /** `<server>/<tool>` → the tool's definitions by hash. Filled lazily, dropped on change. */
  private readonly tools = new Map<string, CachedTool>();
  private lastSeq: number | undefined;
  private lastRefresh = 0;
  /** Bumped whenever the feed invalidates something, so a load that raced it is not cached. */
  private epoch = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditSink,
    opts: ToolPinsOptions,
  ) {
    this.autoPin = opts.autoPin;
    this.now = opts.now ?? Date.now;
    this.refreshMs = opts.refreshMs ?? 1000;
  }

  /**
   * Record that `server` lists `def` and say what the gateway may do with it. Cheap when the
   * definition is known: one hash and a map lookup, plus a read of the change feed at most once
   * per `refreshMs`. A new definition is stored (pending, or pinned under `autoPin` on first sight
   * when the scan finds nothing high) with one audit event. Throws when the store cannot be read:
   * the caller must then treat the tool as unavailable.
   */
  async observe(server: string, def: ToolDefinition): Promise<PinState> {
    checkServer(server);
    const canonical = canonicalToolDefinition(def);
    const name = checkToolName(canonical.name);
    const text = canonicalJson(canonical);
    const hash = createHash('sha256').update(text, 'utf8').digest('hex');
    if (this.lastSeq === undefined || Date.now() - this.lastRefresh >= this.refreshMs) await this.refresh();
    let tool = await this.cachedTool(server, name);
    let known = tool.defs.get(hash);
    if (!known) {
      await this.record(server, canonical, text, hash);
      tool = await this.loadTool(server, name);
      known = tool.defs.get(hash);
      if (!known)
        throw new StoreError(`definition ${short(hash)} of tool ${q(ref(server, name))} was not stored`);
    }
    return stateOf(tool, hash, known);
  }

  /** Catch up with the change feed: approvals and rejections made by other processes. */
  refresh(): Promise<void> {
    this.refreshing ??= this.applyChanges().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * Pin a definition: the one named by `hash` (full, or a unique prefix of at least 12 hex digits),
   * else the tool's only pending one. The previously pinned definition becomes `superseded`.
   * A definition with high-severity findings is pinned only with `acceptFindings`.
   */
  async approve(
    server: string,
    name: string,
    hash: string | undefined,
    actor: string,
    opts: { acceptFindings?: boolean } = {},
  ): Promise<PinDecision> {
    checkServer(server);
    checkToolName(name);
    checkActor(actor);
    const tool = q(ref(server, name));
    const now = this.now();
    const decision = await this.store.db.transaction().execute(async (tx) => {
      const rows = await this.rows(tx, server, name);
      const target = hash === undefined ? onlyPending(rows, tool) : resolveHash(rows, hash, tool);
      if (target.status === 'pinned') {
        throw new WardenError(
          'conflict',
          `definition ${q(short(target.hash))} of tool ${tool} is already pinned`,
        );
      }
      const findings = fromRow(target).findings;
      if (hasHighFindings(findings) && opts.acceptFindings !== true) {
        const rules = [...new Set(findings.filter((f) => f.severity === 'high').map((f) => f.rule))];
        throw new WardenError(
          'forbidden',
          `definition ${q(short(target.hash))} of tool ${tool} has high-severity findings (${rules.join(', ')}): review it and accept the findings explicitly to pin it`,
        );
      }
      const previous = rows.find((r) => r.status === 'pinned');
      // The old pin goes first: the partial unique index allows one pinned row per tool.
      if (previous) await this.setStatus(tx, previous, 'superseded', actor, now);
      await this.setStatus(tx, target, 'pinned', actor, now);
      await this.commit(tx, now, server, name, {
        type: 'tool.pinned',
        outcome: 'success',
        actor,
        subject: ref(server, name),
        sponsor: null,
        authority: [actor],
        reason: previous ? `replaces ${short(previous.hash)}` : null,
        details: {
          server,
          tool: name,
          hash: target.hash,
          previousStatus: target.status,
          superseded: previous?.hash ?? null,
          acceptedFindings: findings.filter((f) => f.severity === 'high'),
        },
      });
      return { server, name, hash: target.hash, superseded: previous?.hash ?? null, findings };
    });
    this.forget(server, name);
    return decision;
  }

  /**
   * Reject a definition so it can never be used unless approved later. Rejecting the pinned
   * definition unpins the tool: every definition of it is refused until one is approved.
   */
  async reject(server: string, name: string, hash: string, actor: string): Promise<PinDecision> {
    checkServer(server);
    checkToolName(name);
    checkActor(actor);
    if (typeof hash !== 'string') throw invalid('a definition hash is required');
    const tool = q(ref(server, name));
    const now = this.now();
    const decision = await this.store.db.transaction().execute(async (tx) => {
      const rows = await this.rows(tx, server, name);
      const target = resolveHash(rows, hash, tool);
      if (target.status === 'rejected') {
        throw new WardenError(
          'conflict',
          `definition ${q(short(target.hash))} of tool ${tool} is already rejected`,
        );
      }
      const findings = fromRow(target).findings;
      await this.setStatus(tx, target, 'rejected', actor, now);
      await this.commit(tx, now, server, name, {
        type: 'tool.rejected',
        outcome: 'success',
        actor,
        subject: ref(server, name),
        sponsor: null,
        authority: [actor],
        reason: target.status === 'pinned' ? 'unpinned: every definition of the tool is now refused' : null,
        details: { server, tool: name, hash: target.hash, previousStatus: target.status },
      });
      return { server, name, hash: target.hash, superseded: null, findings };
    });
    this.forget(server, name);
    return decision;
  }

  /** The pinned definition against the newest pending one, line by line and field by field. */
  async diff(server: string, name: string): Promise<ToolDiff> {
    checkServer(server);
    checkToolName(name);
    const tool = q(ref(server, name));
    const rows = await this.rows(this.store.db, server, name);
    if (rows.length === 0) throw new WardenError('not_found', `tool ${tool} has never been seen`);
    const pendingRow = rows.filter((r) => r.status === 'pending').sort(newestFirst)[0];
    if (!pendingRow) throw new WardenError('conflict', `tool ${tool} has no definition awaiting review`);
    const pinnedRow = rows.find((r) => r.status === 'pinned');
    const pending = fromRow(pendingRow);
    const pinned = pinnedRow ? fromRow(pinnedRow) : null;
    const before = pinned ? canonicalJsonPretty(pinned.definition).split('\n') : [];
    const after = canonicalJsonPretty(pending.definition).split('\n');
    const lines = lineDiff(before, after);
    return {
      server,
      name,
      pinned,
      pending,
      changedFields: changedFields(pinned?.definition, pending.definition),
      lines,
      text: unified(lines),
    };
  }

  /** Every tool ever seen, by upstream and name, with every definition. */
  async list(): Promise<ListedTool[]> {
    const rows = await this.store.db
      .selectFrom('tool_definitions')
      .selectAll()
      .orderBy('server')
      .orderBy('name')
      .execute();
    const byTool = new Map<string, ToolDefinitionRow[]>();
    for (const r of rows) {
      const key = ref(r.server, r.name);
      byTool.set(key, [...(byTool.get(key) ?? []), r]);
    }
    return [...byTool.values()].map((group) => {
      const defs = [...group].sort(newestFirst).map(fromRow);
      const pinnedHash = defs.find((d) => d.status === 'pinned')?.hash ?? null;
      const pendingHashes = defs.filter((d) => d.status === 'pending').map((d) => d.hash);
      const status: ToolStatus =
        pinnedHash !== null
          ? pendingHashes.length > 0
            ? 'quarantined'
            : 'pinned'
          : pendingHashes.length > 0
            ? 'pending'
            : 'rejected';
      const first = defs[0] as StoredDefinition;
      return { server: first.server, name: first.name, status, pinnedHash, pendingHashes, definitions: defs };
    });
  }

  // ---- internals ------------------------------------------------------------------------------

  private async record(server: string, def: ToolDefinition, text: string, hash: string): Promise<void> {
    const findings = scanToolDefinition(def);
    const high = hasHighFindings(findings);
    const now = this.now();
    const name = def.name;
    await this.store.db.transaction().execute(async (tx) => {
      const rows = await this.rows(tx, server, name);
      // Another process (a second gateway replica) may have recorded it in the meantime.
      if (rows.some((r) => r.hash === hash)) return;
      const pinned = rows.find((r) => r.status === 'pinned');
      const autoPinned = rows.length === 0 && this.autoPin && !high;
      await tx
        .insertInto('tool_definitions')
        .values({
          server,
          name,
          hash,
          definition: text,
          status: autoPinned ? 'pinned' : 'pending',
          findings: JSON.stringify(findings),
          first_seen: now,
          decided_by: autoPinned ? 'gateway.autoPin' : null,
          decided_at: autoPinned ? now : null,
        })
        .execute();
      const details = {
        server,
        tool: name,
        hash,
        status: pinned ? 'quarantined' : autoPinned ? 'pinned' : 'pending',
        pinnedHash: pinned?.hash ?? null,
        findings,
      };
      const common = { actor: `upstream:${server}`, subject: ref(server, name), sponsor: null, details };
      await this.commit(
        tx,
        now,
        server,
        name,
        pinned
          ? {
              ...common,
              type: 'tool.quarantined',
              outcome: 'refused',
              authority: [],
              reason: `the definition differs from the pinned ${short(pinned.hash)}`,
            }
          : {
              ...common,
              type: 'tool.seen',
              outcome: 'success',
              authority: autoPinned ? ['config:gateway.autoPin'] : [],
              reason: autoPinned
                ? 'pinned on first sight (gateway.autoPin)'
                : this.autoPin && rows.length === 0 && high
                  ? 'not pinned automatically: high-severity findings'
                  : null,
            },
      );
    });
  }

  private async commit(
    tx: Kysely<Database>,
    now: number,
    server: string,
    name: string,
    event: Omit<AuditEvent, 'at'>,
  ): Promise<void> {
    await tx
      .insertInto('changes')
      .values({ kind: 'tool', entity_id: ref(server, name), at: now })
      .execute();
    await this.audit.record({ ...event, at: now }, tx);
  }

  private async setStatus(
    tx: Kysely<Database>,
    row: ToolDefinitionRow,
    status: DefinitionStatus,
    actor: string,
    now: number,
  ): Promise<void> {
    await tx
      .updateTable('tool_definitions')
      .set({ status, decided_by: actor, decided_at: now })
      .where('server', '=', row.server)
      .where('name', '=', row.name)
      .where('hash', '=', row.hash)
      .execute();
  }

  private rows(db: Kysely<Database>, server: string, name: string): Promise<ToolDefinitionRow[]> {
    return db
      .selectFrom('tool_definitions')
      .selectAll()
      .where('server', '=', server)
      .where('name', '=', name)
      .execute();
  }

  private async cachedTool(server: string, name: string): Promise<CachedTool> {
    return this.tools.get(ref(server, name)) ?? this.loadTool(server, name);
  }

  private async loadTool(server: string, name: string): Promise<CachedTool> {
    const epoch = this.epoch;
    const rows = await this.rows(this.store.db, server, name);
    const tool: CachedTool = {
      pinnedHash: rows.find((r) => r.status === 'pinned')?.hash ?? null,
      defs: new Map(
        rows.map((r) => {
          const where = `findings of definition ${short(r.hash)} of tool ${ref(r.server, r.name)}`;
          return [r.hash, { status: r.status, findings: parseStored(r.findings, where, isFindings) }];
        }),
      ),
    };
    // A change that arrived while we read may postdate what we read: use the result, don't keep it.
    if (epoch === this.epoch) this.tools.set(ref(server, name), tool);
    return tool;
  }

  private forget(server: string, name: string): void {
    this.tools.delete(ref(server, name));
    this.epoch++;
  }

  private async applyChanges(): Promise<void> {
    const started = Date.now();
    const db = this.store.db;
    if (this.lastSeq === undefined) {
      // Start from the feed's end: the cache is empty and fills from the table itself.
      const row = await db
        .selectFrom('changes')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .executeTakeFirst();
      this.lastSeq = Number(row?.seq ?? 0);
      this.lastRefresh = started;
      return;
    }
    const changes = await db
      .selectFrom('changes')
      .select(['seq', 'entity_id'])
      .where('kind', '=', 'tool')
      .where('seq', '>', this.lastSeq)
      .orderBy('seq')
      .execute();
    for (const c of changes) {
      this.tools.delete(c.entity_id);
      this.lastSeq = Number(c.seq);
    }
    if (changes.length > 0) this.epoch++;
    this.lastRefresh = started;
  }
}

function onlyPending(rows: readonly ToolDefinitionRow[], tool: string): ToolDefinitionRow {
  if (rows.length === 0) throw new WardenError('not_found', `tool ${tool} has never been seen`);
  const pending = rows.filter((r) => r.status === 'pending').sort(newestFirst);
  if (pending.length === 0)
    throw new WardenError('conflict', `tool ${tool} has no definition awaiting review`);
  if (pending.length > 1) {
    throw new WardenError(
      'conflict',
      `tool ${tool} has ${pending.length} definitions awaiting review (${pending.map((r) => short(r.hash)).join(', ')}): name one by its hash`,
    );
  }
  return pending[0] as ToolDefinitionRow;
}

function resolveHash(rows: readonly ToolDefinitionRow[], input: string, tool: string): ToolDefinitionRow {
  const hash = typeof input === 'string' ? input.toLowerCase() : '';
  if (!HASH_PREFIX_RE.test(hash)) {
    throw invalid(`invalid definition hash ${q(input)}: 12 to 64 hex digits of its sha-256`);
  }
  if (rows.length === 0) throw new WardenError('not_found', `tool ${tool} has never been seen`);
  const matches = HASH_RE.test(hash)
    ? rows.filter((r) => r.hash === hash)
    : rows.filter((r) => r.hash.startsWith(hash));
  if (matches.length === 0) throw new WardenError('not_found', `tool ${tool} has no definition ${q(input)}`);
  if (matches.length > 1) {
    throw new WardenError(
      'conflict',
      `definition hash ${q(input)} of tool ${tool} is ambiguous: give more digits`,
    );
  }
  return matches[0] as ToolDefinitionRow;
}

function changedFields(before: ToolDefinition | undefined, after: ToolDefinition): FieldChange[] {
  const out: FieldChange[] = [];
  for (const field of FIELDS) {
    const a = before?.[field];
    const b = after[field];
    if (a === undefined && b === undefined) continue;
    if (a === undefined) out.push({ field, change: 'added' });
    else if (b === undefined) out.push({ field, change: 'removed' });
    else if (canonicalJson(a) !== canonicalJson(b)) out.push({ field, change: 'changed' });
  }
  return out;
}

/**
 * A line diff by longest common subsequence, after trimming the common head and tail. Past
 * LCS_MAX_CELLS the changed middle is shown as all removed then all added: still correct, less tidy.
 */
export function lineDiff(before: readonly string[], after: readonly string[]): DiffLine[] {
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head++;
  let tail = 0;
  while (
    tail < before.length - head &&
    tail < after.length - head &&
    before[before.length - 1 - tail] === after[after.length - 1 - tail]
  ) {
    tail++;
  }
  const a = before.slice(head, before.length - tail);
  const b = after.slice(head, after.length - tail);
  const out: DiffLine[] = before.slice(0, head).map((text) => ({ op: ' ', text }));
  const n = a.length;
  const m = b.length;
  if ((n + 1) * (m + 1) > LCS_MAX_CELLS) {
    for (const text of a) out.push({ op: '-', text });
    for (const text of b) out.push({ op: '+', text });
  } else {
    // lcs[i * (m + 1) + j]: length of the LCS of a[i..] and b[j..].
    const lcs = new Uint32Array((n + 1) * (m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * (m + 1) + j] =
          a[i] === b[j]
            ? (lcs[(i + 1) * (m + 1) + j + 1] ?? 0) + 1
            : Math.max(lcs[(i + 1) * (m + 1) + j] ?? 0, lcs[i * (m + 1) + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) {
        out.push({ op: ' ', text: a[i] as string });
        i++;
        j++;
      } else if ((lcs[(i + 1) * (m + 1) + j] ?? 0) >= (lcs[i * (m + 1) + j + 1] ?? 0)) {
        out.push({ op: '-', text: a[i] as string });
        i++;
      } else {
        out.push({ op: '+', text: b[j] as string });
        j++;
      }
    }
    for (; i < n; i++) out.push({ op: '-', text: a[i] as string });
    for (; j < m; j++) out.push({ op: '+', text: b[j] as string });
  }
  for (const text of before.slice(before.length - tail)) out.push({ op: ' ', text });
  return out;
}

/** Unified-diff hunks (`@@ -a,b +c,d @@`) with DIFF_CONTEXT lines of context around each change. */
function unified(lines: readonly DiffLine[]): string {
  const changed = lines.flatMap((l, i) => (l.op === ' ' ? [] : [i]));
  if (changed.length === 0) return '';
  // Group changes whose context windows touch.
  const groups: Array<[number, number]> = [];
  for (const i of changed) {
    const last = groups[groups.length - 1];
    if (last && i - last[1] <= 2 * DIFF_CONTEXT + 1) last[1] = i;
    else groups.push([i, i]);
  }
  // Line numbers (1-based) in the old and new text at each position of `lines`.
  const oldAt: number[] = [];
  const newAt: number[] = [];
  let o = 1;
  let n = 1;
  for (const l of lines) {
    oldAt.push(o);
    newAt.push(n);
    if (l.op !== '+') o++;
    if (l.op !== '-') n++;
  }
  const out: string[] = [];
  for (const [first, last] of groups) {
    const start = Math.max(0, first - DIFF_CONTEXT);
    const end = Math.min(lines.length - 1, last + DIFF_CONTEXT);
    const hunk = lines.slice(start, end + 1);
    const oldLen = hunk.filter((l) => l.op !== '+').length;
    const newLen = hunk.filter((l) => l.op !== '-').length;
    // Unified diff convention: an empty side starts at the line before.
    const oldStart = oldLen === 0 ? (oldAt[start] ?? 1) - 1 : (oldAt[start] ?? 1);
    const newStart = newLen === 0 ? (newAt[start] ?? 1) - 1 : (newAt[start] ?? 1);
    out.push(`@@ -${oldStart},${oldLen} +${newStart},${newLen} @@`);
    for (const l of hunk) out.push(`${l.op}${l.text}`);
  }
  return out.join('\n');
}
