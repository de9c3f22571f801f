// Cedar's answers remembered by request. An evaluation is a pure function of the preparsed policy
// set and the request (principal, action, resource, context, entities): no clock, no randomness,
// no state between calls. After pruning (attribute-use.ts) a request holds only what some policy
// reads, so an agent that calls the same tool in the same flow state sends the same request again,
// and Cedar's ~100-300 µs need not be spent twice.
//
// The key is the set's content-addressed id and the request's exact JSON text: two requests share
// a key only when Cedar would be given the same input. Requests that JSON cannot carry exactly (a
// number that is not finite, an undefined property) or whose text is long (large arguments some
// policy reads) are not remembered. Only successful answers are kept; a failure, or an evaluator
// that threw, is asked again next time.
//
// INVARIANT: an answer is shared between decisions and never mutated (decide.ts only reads it).

import type { AuthorizationAnswer } from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarRequest } from './request.js';

/** Requests whose JSON text is longer than this are evaluated every time. */
export const MAX_KEY_CHARS = 8192;
/** Answers kept, least recently used dropped first. */
export const DEFAULT_CAPACITY = 2048;

class NotExact extends Error {}

/** JSON.stringify's replacer: refuse what the text would drop or change rather than carry. */
function exactly(_key: string, value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new NotExact();
      return value;
    case 'undefined':
    case 'function':
    case 'symbol':
      // Left out of an object, or written as null in an array: not the value Cedar is given.
      throw new NotExact();
    default:
      return value;
  }
}

export class EvaluationCache {
  readonly #answers = new Map<string, AuthorizationAnswer>();
  #hits = 0;
  #misses = 0;

  constructor(readonly capacity: number = DEFAULT_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  /** The key of an evaluation, or undefined when it must not be remembered. */
  key(preparsedId: string, call: CedarRequest): string | undefined {
    let text: string;
    try {
      text = JSON.stringify(call, exactly);
    } catch {
      // A value the text would not carry exactly (above), or none at all (a BigInt, a cycle).
      return undefined;
    }
    if (text.length > MAX_KEY_CHARS) return undefined;
    return `${preparsedId}\n${text}`;
  }

  get(key: string): AuthorizationAnswer | undefined {
    const answer = this.#answers.get(key);
    if (answer === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    // Most recently used last: delete and insert again.
    this.#answers.delete(key);
    this.#answers.set(key, answer);
    return answer;
  }

  set(key: string, answer: AuthorizationAnswer): void {
    if (answer.type !== 'success') return;
    this.#answers.delete(key);
    this.#answers.set(key, answer);
    if (this.#answers.size > this.capacity) {
      const oldest = this.#answers.keys().next();
      if (!oldest.done) this.#answers.delete(oldest.value);
    }
  }

  get size(): number {
    return this.#answers.size;
  }

  /** Lookups answered from the cache and lookups that were not, since it was made. */
  get stats(): { hits: number; misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }
}
