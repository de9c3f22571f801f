// Bounded memory of one-time identifiers (DPoP `jti`, client assertion `jti`).

/**
 * Remembers identifiers until they expire. Entries are kept in insertion order with expiries that
 * never decrease, so expired ones are dropped from the head in amortised O(1).
 * INVARIANT: a remembered id is kept at least as long as a proof carrying it could be accepted;
 * when the cache is full it refuses new ids instead of forgetting live ones.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly capacity: number,
    private readonly retainMs: number,
  ) {}

  /** Record `id`; returns 'ok', 'replayed' if it is already remembered, or 'full'. */
  remember(id: string, now: number): 'ok' | 'replayed' | 'full' {
    this.evict(now);
    if (this.seen.has(id)) return 'replayed';
    if (this.seen.size >= this.capacity) return 'full';
    this.seen.set(id, now + this.retainMs);
    return 'ok';
  }

  get size(): number {
    return this.seen.size;
  }

  private evict(now: number): void {
    for (const [id, expiry] of this.seen) {
      if (expiry > now) break;
      this.seen.delete(id);
    }
  }
}
