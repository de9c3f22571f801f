// A map that holds at most `limit` entries: adding one more drops the oldest. For memories of
// answers that can always be worked out again (imported keys, verified tokens, a proof header's
// checks), where a dropped entry costs only the recomputation.

export class BoundedMap<K, V> {
  readonly #entries = new Map<K, V>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  }

  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  set(key: K, value: V): void {
    if (!this.#entries.has(key) && this.#entries.size >= this.limit) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  /** The answer for `key`: remembered, or computed now and remembered (a throw remembers nothing). */
  of(key: K, compute: (key: K) => V): V {
    if (this.#entries.has(key)) return this.#entries.get(key) as V;
    const value = compute(key);
    this.set(key, value);
    return value;
  }

  get size(): number {
    return this.#entries.size;
  }
}
