// An in-memory snapshot of the registry for the hot path. A request never waits on the database:
// the snapshot follows the `changes` feed, polled every `revocationPollMs` (at most 1 s), so a
// suspension made by another process takes effect within one poll. If the feed cannot be read,
// the snapshot goes stale and the verifier refuses everything (fail closed).

import type { KeyObject } from 'node:crypto';
import type { Store } from '../store/index.js';
import { WardenError } from '../errors.js';
import { importPublicJwk } from './jwk.js';
import type { ServiceKeys } from './keys.js';
import {
  agentFromRow,
  blueprintFromRow,
  grantFromRow,
  sponsorFromRow,
  type Agent,
  type Blueprint,
  type Grant,
  type Sponsor,
} from './model.js';

export class IdentityState {
  readonly agents = new Map<string, Agent>();
  readonly sponsors = new Map<string, Sponsor>();
  readonly blueprints = new Map<string, Blueprint>();
  readonly grants = new Map<string, Grant>();
  private readonly agentKeys = new Map<string, KeyObject>();
  private lastSeq = 0;
  private lastRefreshOk = 0;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly keys: ServiceKeys,
    private readonly pollMs: number,
  ) {}

  /** Load everything, then follow the change feed. */
  async start(): Promise<void> {
    await this.loadAll();
    this.timer = setInterval(() => {
      this.refresh().catch(() => {
        // Staleness is detected by `assertFresh`; the next tick tries again.
      });
    }, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Refuse to decide on a snapshot older than a few polls: revocations could be missing from it. */
  assertFresh(now: number = Date.now()): void {
    if (now - this.lastRefreshOk > Math.max(5 * this.pollMs, 1000) + 1000) {
      throw new WardenError('store_error', 'revocation state is stale: the registry cannot be read');
    }
  }

  /** Apply every change since the last one seen. Concurrent callers share one refresh. */
  refresh(): Promise<void> {
    this.refreshing ??= this.applyChanges().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  agentKey(agent: Agent): KeyObject {
    let key = this.agentKeys.get(agent.id);
    if (!key) {
      key = importPublicJwk(agent.publicJwk);
      this.agentKeys.set(agent.id, key);
    }
    return key;
  }

  private async loadAll(): Promise<void> {
    const db = this.store.db;
    const seq = await db
      .selectFrom('changes')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .executeTakeFirst();
    const [sponsors, blueprints, agents, grants] = await Promise.all([
      db.selectFrom('sponsors').selectAll().execute(),
      db.selectFrom('blueprints').selectAll().execute(),
      db.selectFrom('agents').selectAll().execute(),
      db.selectFrom('grants').selectAll().execute(),
    ]);
    for (const r of sponsors) this.sponsors.set(r.id, sponsorFromRow(r));
    for (const r of blueprints) this.blueprints.set(r.name, blueprintFromRow(r));
    for (const r of agents) this.agents.set(r.id, agentFromRow(r));
    for (const r of grants) this.grants.set(r.id, grantFromRow(r));
    this.agentKeys.clear();
    await this.keys.reload();
    this.lastSeq = Number(seq?.seq ?? 0);
    this.lastRefreshOk = Date.now();
  }

  private async applyChanges(): Promise<void> {
    const db = this.store.db;
    const started = Date.now();
    const changes = await db
      .selectFrom('changes')
      .selectAll()
      .where('seq', '>', this.lastSeq)
      .orderBy('seq')
      .execute();
    let keysChanged = false;
    for (const c of changes) {
      switch (c.kind) {
        case 'sponsor': {
          const r = await db
            .selectFrom('sponsors')
            .selectAll()
            .where('id', '=', c.entity_id)
            .executeTakeFirst();
          if (r) this.sponsors.set(r.id, sponsorFromRow(r));
          else this.sponsors.delete(c.entity_id);
          break;
        }
        case 'blueprint': {
          const r = await db
            .selectFrom('blueprints')
            .selectAll()
            .where('name', '=', c.entity_id)
            .executeTakeFirst();
          if (r) this.blueprints.set(r.name, blueprintFromRow(r));
          else this.blueprints.delete(c.entity_id);
          break;
        }
        case 'agent': {
          const r = await db
            .selectFrom('agents')
            .selectAll()
            .where('id', '=', c.entity_id)
            .executeTakeFirst();
          this.agentKeys.delete(c.entity_id);
          if (r) this.agents.set(r.id, agentFromRow(r));
          else this.agents.delete(c.entity_id);
          break;
        }
        case 'grant': {
          const r = await db
            .selectFrom('grants')
            .selectAll()
            .where('id', '=', c.entity_id)
            .executeTakeFirst();
          if (r) this.grants.set(r.id, grantFromRow(r));
          else this.grants.delete(c.entity_id);
          break;
        }
        case 'key':
          keysChanged = true;
          break;
      }
      this.lastSeq = Number(c.seq);
    }
    if (keysChanged) await this.keys.reload();
    this.lastRefreshOk = started;
  }
}
