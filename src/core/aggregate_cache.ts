/**
 * The aggregate cache: aggregates kept between units of work, so the next
 * command on one reads only the events stored since (none, usually)
 * instead of its whole history.
 *
 * A unit takes an aggregate out of the cache (no two units ever hold one
 * instance), brings it up to date with the events after its sequence
 * number, and gives it back once its transaction has committed; a unit
 * that fails gives nothing back, so an aggregate a failed command changed
 * is never reused. Freshness never depends on the cache: every load reads
 * what was stored after the cached version, in the same round trip a full
 * load would take, starting with the event the aggregate holds last, which
 * must still be stored as that very event (its creation time and type
 * compared, not just its sequence number): a stream deleted since, or
 * deleted and stored again, is loaded in full. The commit's
 * optimistic-concurrency check decides between concurrent writers as it
 * does without a cache. (The repository gives back only aggregates whose
 * last event it knows: one loaded from a snapshot alone is not kept.)
 *
 * The cache holds at most `capacity` aggregates and forgets the least
 * recently used first.
 *
 * @module
 */
import type { AggregateRoot } from "./aggregate_root.ts";

/** The aggregates a command service keeps between units of work. */
export class AggregateCache {
  readonly #capacity: number;
  // insertion order is recency order: a kept aggregate moves to the end
  readonly #held = new Map<string, AggregateRoot>();

  /**
   * @param capacity The most aggregates held (a non-negative integer; 0
   *   holds none).
   */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError(
        `aggregateCacheSize must be a non-negative integer, got ${capacity}`,
      );
    }
    this.#capacity = capacity;
  }

  /** How many aggregates are held. */
  get size(): number {
    return this.#held.size;
  }

  /** Takes an aggregate out of the cache, if it is there. */
  take(id: string): AggregateRoot | undefined {
    const held = this.#held.get(id);
    if (held !== undefined) this.#held.delete(id);
    return held;
  }

  /**
   * Keeps an aggregate whose events are all committed (none: it was never
   * stored, and is not kept). One already held
   * at a later sequence number (given back by a unit that committed after
   * this one) stays.
   */
  keep(aggregate: AggregateRoot): void {
    // one with no event was never stored (added, then nothing applied):
    // held, it would be found where the store has no such aggregate
    if (this.#capacity === 0 || aggregate.sequenceNumber === 0) return;
    const id = aggregate.id;
    const held = this.#held.get(id);
    if (held !== undefined) {
      this.#held.delete(id);
      if (held.sequenceNumber > aggregate.sequenceNumber) aggregate = held;
    }
    this.#held.set(id, aggregate);
    if (this.#held.size > this.#capacity) {
      const oldest = this.#held.keys().next();
      if (!oldest.done) this.#held.delete(oldest.value);
    }
  }

  /** Forgets every aggregate. */
  clear(): void {
    this.#held.clear();
  }
}
