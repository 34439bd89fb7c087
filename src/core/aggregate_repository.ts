/**
 * The aggregate repository: the unit of work's identity map. Each command
 * execution gets its own; an aggregate is loaded at most once per unit, and
 * every aggregate it holds with new events is committed at the end of each
 * command.
 *
 * @module
 */
import {
  type AggregateClass,
  aggregateInternals,
  AggregateRoot,
  aggregateTypeOf,
  snapshotConfigOf,
  uniqueKeysOf,
} from "./aggregate_root.ts";
import type { AggregateCache } from "./aggregate_cache.ts";
import { jsonEquals } from "./attributes.ts";
import {
  AggregateNotFoundError,
  AggregateTypeMismatchError,
  DuplicateAggregateError,
  HasUncommittedEventsError,
} from "./errors.ts";
import type { Event } from "./event.ts";
import type {
  EventStoreReader,
  LoadedStream,
  LoadOptions,
  SerializedEvent,
} from "./event_store.ts";
import type { JsonValue } from "./json.ts";
import type { MessageSerializer } from "./serializer.ts";
import type { AnyClass } from "./type_registry.ts";

/**
 * What loading methods accept as the aggregate's class: a concrete class, or
 * an abstract base (then the stored type decides the concrete class).
 */
export type AggregateClassLike<A extends AggregateRoot> =
  & (abstract new (id: string) => A)
  & { readonly aggregateType?: string | undefined; readonly name: string };

/** An aggregate together with the events it applied since its last commit. */
export interface AggregateChange {
  /** The aggregate. */
  readonly aggregate: AggregateRoot;
  /** Its new events, in order. */
  readonly events: readonly Event[];
}

/**
 * The stored event an aggregate holds last, as far as it tells that event
 * from another stored under its sequence number later (its stream deleted
 * and stored again): its creation time, to the millisecond, and its type.
 * Loaded rows carry no id of their own to compare instead.
 */
interface LastEvent {
  readonly sequenceNumber: number;
  readonly createdAt: number;
  readonly eventType: string;
}

/**
 * The last stored event of each aggregate a repository loaded or stored
 * events of (an aggregate without one is not kept in the cache).
 */
const lastEvents = new WeakMap<AggregateRoot, LastEvent>();

/** Notes the stored row `aggregate` holds last, if any. */
function noteLastRow(
  aggregate: AggregateRoot,
  row: SerializedEvent | undefined,
): void {
  if (row === undefined) return;
  lastEvents.set(aggregate, {
    sequenceNumber: row.sequenceNumber,
    createdAt: row.createdAt.getTime(),
    eventType: row.eventType,
  });
}

/** Notes the event `aggregate` applied last, as it is about to be stored. */
function noteLastApplied(
  aggregate: AggregateRoot,
  event: Event | undefined,
): void {
  if (event === undefined) return;
  lastEvents.set(aggregate, {
    sequenceNumber: event.sequenceNumber,
    createdAt: event.createdAt.getTime(),
    // what the serializer stores as its type
    eventType: (event.constructor as unknown as { typeName: string }).typeName,
  });
}

/** Whether `aggregate` knows the stored event it holds last. */
function knowsLastEvent(aggregate: AggregateRoot): boolean {
  return lastEvents.get(aggregate)?.sequenceNumber ===
    aggregate.sequenceNumber;
}

/**
 * Whether `row` is the stored event `aggregate` holds last, not just one
 * under its sequence number.
 */
function isLastEvent(aggregate: AggregateRoot, row: SerializedEvent): boolean {
  const last = lastEvents.get(aggregate);
  return last !== undefined &&
    last.sequenceNumber === aggregate.sequenceNumber &&
    row.sequenceNumber === last.sequenceNumber &&
    row.createdAt.getTime() === last.createdAt &&
    row.eventType === last.eventType;
}

let cacheOf: (
  repository: AggregateRepository,
  cache: AggregateCache,
) => void;
let giveBack: (repository: AggregateRepository) => void;

/**
 * Loads and tracks aggregates for one unit of work. Reach it in a command
 * handler as `handler.repository`.
 *
 * @example
 * ```ts
 * import { AggregateRoot, attrs, Command, CommandHandler, Event } from "@sequent/core";
 * import { commandSpec } from "@sequent/core/testing";
 *
 * class Opened extends Event.define("AccountOpened", {}) {}
 * class Account extends AggregateRoot {
 *   static open(id: string): Account {
 *     const account = new Account(id);
 *     account.apply(Opened);
 *     return account;
 *   }
 * }
 * class OpenAccount extends Command.define("OpenAccount", {}) {}
 * class AccountHandler extends CommandHandler {
 *   static {
 *     this.on(OpenAccount, (handler, command) => {
 *       handler.repository.addAggregate(Account.open(command.aggregateId));
 *     });
 *   }
 * }
 *
 * const spec = commandSpec({ commandHandlers: [new AccountHandler()] });
 * const id = crypto.randomUUID();
 * await spec.whenCommand(new OpenAccount({ aggregateId: id }));
 * spec.thenEvents(Opened);
 * ```
 */
export class AggregateRepository {
  readonly #reader: EventStoreReader;
  readonly #serializer: MessageSerializer;
  readonly #identityMap = new Map<string, AggregateRoot>();
  #cache: AggregateCache | undefined;

  static {
    cacheOf = (repository, cache) => {
      repository.#cache = cache;
    };
    giveBack = (repository) => {
      const cache = repository.#cache;
      if (cache === undefined) return;
      for (const aggregate of repository.#identityMap.values()) {
        // one whose last event is not known (loaded from a snapshot alone,
        // say) could not be told apart from a stream stored again
        if (
          aggregate.uncommittedEvents.length === 0 && knowsLastEvent(aggregate)
        ) cache.keep(aggregate);
      }
    };
  }

  /**
   * Creates the instance.
   *
   * @param reader Where streams are loaded from (the unit's transaction).
   * @param serializer Turns stored rows into events.
   */
  constructor(reader: EventStoreReader, serializer: MessageSerializer) {
    this.#reader = reader;
    this.#serializer = serializer;
  }

  /**
   * Adds a new aggregate to the unit of work; its events are stored when
   * the command completes.
   *
   * @param aggregate The new aggregate.
   * @throws {DuplicateAggregateError} when the unit already holds another
   * aggregate with its id (adding the same instance again does nothing).
   */
  addAggregate(aggregate: AggregateRoot): void {
    if (!(aggregate instanceof AggregateRoot)) {
      throw new TypeError("addAggregate() needs an AggregateRoot");
    }
    const known = this.#identityMap.get(aggregate.id);
    if (known === aggregate) return;
    if (known) throw new DuplicateAggregateError(aggregate.id);
    this.#serializer.registry.register(
      "aggregate",
      aggregate.constructor as AnyClass,
    );
    this.#identityMap.set(aggregate.id, aggregate);
  }

  /**
   * Loads an aggregate: from the unit's identity map, else from its stored
   * events (starting at its latest snapshot when it has snapshots).
   *
   * @param id The aggregate's id.
   * @param cls Its class (or a base class of it).
   * @throws {AggregateNotFoundError} when no such aggregate exists.
   * @throws {AggregateTypeMismatchError} when it is of another class.
   */
  async loadAggregate<A extends AggregateRoot>(
    id: string,
    cls: AggregateClassLike<A>,
  ): Promise<A> {
    const [aggregate] = await this.loadAggregates([id], cls);
    return aggregate as A;
  }

  /**
   * Loads several aggregates of one class, those not yet in the unit in one
   * batch.
   *
   * @param ids The aggregates' ids.
   * @param cls Their class (or a base class).
   * @throws {AggregateNotFoundError} naming every id not found.
   */
  async loadAggregates<A extends AggregateRoot>(
    ids: readonly string[],
    cls: AggregateClassLike<A>,
  ): Promise<A[]> {
    checkAggregateClass(cls);
    const missing = new Set<string>();
    for (const id of ids) {
      const known = this.#identityMap.get(id);
      if (known) checkInstance(known, cls);
      else missing.add(id);
    }
    if (missing.size > 0 && this.#cache !== undefined) {
      await this.#fromCache(missing, cls);
    }
    if (missing.size > 0) {
      const wanted = [...missing];
      const streams = await this.#reader.loadStreams(wanted, {
        snapshotVersion: snapshotConfigOf(cls)?.version,
      });
      // A subclass may declare another snapshot version than `cls`: its
      // streams are read again from the first event.
      const stale: string[] = [];
      for (const stream of streams) {
        if (this.#identityMap.has(stream.aggregateId)) continue;
        if (stream.snapshot && !this.#snapshotFits(stream, cls)) {
          stale.push(stream.aggregateId);
          continue;
        }
        const aggregate = this.#build(stream, cls);
        if (aggregate) this.#identityMap.set(stream.aggregateId, aggregate);
      }
      if (stale.length > 0) {
        for (const stream of await this.#reader.loadStreams(stale)) {
          if (this.#identityMap.has(stream.aggregateId)) continue;
          const aggregate = this.#build(stream, cls);
          if (aggregate) this.#identityMap.set(stream.aggregateId, aggregate);
        }
      }
      const notFound = wanted.filter((id) => !this.#identityMap.has(id));
      if (notFound.length > 0) throw new AggregateNotFoundError(notFound);
    }
    return ids.map((id) => this.#identityMap.get(id) as A);
  }

  /**
   * Like {@linkcode AggregateRepository.loadAggregate}, but `undefined`
   * when the aggregate does not exist.
   *
   * @param id The aggregate's id.
   * @param cls Its class.
   */
  async findAggregate<A extends AggregateRoot>(
    id: string,
    cls: AggregateClassLike<A>,
  ): Promise<A | undefined> {
    try {
      return await this.loadAggregate(id, cls);
    } catch (error) {
      if (error instanceof AggregateNotFoundError) return undefined;
      throw error;
    }
  }

  /**
   * Fails unless the aggregate exists and is of the given class.
   *
   * @param id The aggregate's id.
   * @param cls Its class.
   * @throws {AggregateNotFoundError} or {AggregateTypeMismatchError}.
   */
  async ensureExists<A extends AggregateRoot>(
    id: string,
    cls: AggregateClassLike<A>,
  ): Promise<void> {
    await this.loadAggregate(id, cls);
  }

  /**
   * Whether the unit holds the aggregate or the store has events for it.
   *
   * @param id The aggregate's id.
   */
  async containsAggregate(id: string): Promise<boolean> {
    return this.#identityMap.has(id) || await this.#reader.streamExists(id);
  }

  /**
   * The aggregate that holds a unique key, counting the unit's own
   * uncommitted changes.
   *
   * @param scope The unique key's scope.
   * @param key The key.
   * @param cls The expected class (default: any aggregate).
   */
  async findAggregateByUniqueKey<A extends AggregateRoot = AggregateRoot>(
    scope: string,
    key: JsonValue,
    cls?: AggregateClassLike<A>,
  ): Promise<A | undefined> {
    const target = (cls ?? AggregateRoot) as AggregateClassLike<A>;
    for (const aggregate of this.#identityMap.values()) {
      const own = uniqueKeysOf(aggregate)[scope];
      if (own !== undefined && jsonEquals(own, key)) {
        checkInstance(aggregate, target);
        return aggregate as A;
      }
    }
    const id = await this.#reader.findAggregateIdByUniqueKey(scope, key);
    if (id === undefined) return undefined;
    const known = this.#identityMap.get(id);
    if (known) return undefined; // it no longer holds the key in this unit
    return await this.findAggregate(id, target);
  }

  /**
   * Loads an aggregate as it was just before `instant` (time travel). The
   * result is read-only and not kept in the identity map.
   *
   * @param id The aggregate's id.
   * @param cls Its class.
   * @param instant Only events created before this instant count.
   * @throws {AggregateNotFoundError} when it had no events by then.
   */
  async loadAggregateAsOf<A extends AggregateRoot>(
    id: string,
    cls: AggregateClassLike<A>,
    instant: Date,
  ): Promise<A> {
    checkAggregateClass(cls);
    if (!(instant instanceof Date) || Number.isNaN(instant.getTime())) {
      throw new TypeError("loadAggregateAsOf() needs a valid Date");
    }
    const options: LoadOptions = { until: instant };
    const [stream] = await this.#reader.loadStreams([id], options);
    const aggregate = stream ? this.#build(stream, cls) : undefined;
    if (!aggregate) throw new AggregateNotFoundError([id]);
    aggregateInternals().makeReadOnly(aggregate);
    return aggregate;
  }

  /**
   * Forgets every aggregate of the unit.
   *
   * @throws {HasUncommittedEventsError} when some have uncommitted events.
   */
  clear(): void {
    const pending = [...this.#identityMap.values()].filter((a) =>
      a.uncommittedEvents.length > 0
    );
    if (pending.length > 0) {
      throw new HasUncommittedEventsError(pending.map((a) => a.id));
    }
    this.#identityMap.clear();
  }

  /**
   * Takes every aggregate's uncommitted events, in the order the aggregates
   * were loaded or added (used by the command service to commit).
   */
  takeChanges(): AggregateChange[] {
    const changes: AggregateChange[] = [];
    for (const aggregate of this.#identityMap.values()) {
      if (aggregate.uncommittedEvents.length === 0) continue;
      const events = aggregateInternals().takeUncommitted(aggregate);
      if (this.#cache !== undefined) noteLastApplied(aggregate, events.at(-1));
      changes.push({ aggregate, events });
    }
    return changes;
  }

  /**
   * Takes the aggregates of `missing` the cache holds (removing them from
   * `missing`) and brings them up to date with the events stored after
   * them, in one read. One of another class is dropped: the full load then
   * reports the mismatch.
   *
   * The read starts at the last event each one holds, which must still be
   * stored: a stream deleted since (`deleteStream`, in any process) has no
   * such event, and its aggregate goes back to `missing`, for the full load
   * to find, or not. Nor has a stream deleted and stored again under the
   * same id, with as many events or more: the event under that sequence
   * number is another, created at another time (or of another type). (One
   * of the same type created in the same millisecond is not told apart:
   * loaded rows carry no id of their own.)
   */
  async #fromCache<A extends AggregateRoot>(
    missing: Set<string>,
    cls: AggregateClassLike<A>,
  ): Promise<void> {
    let after: Map<string, number> | undefined;
    for (const id of missing) {
      const held = this.#cache!.take(id);
      if (held === undefined || !((held as object) instanceof cls)) continue;
      this.#identityMap.set(id, held);
      missing.delete(id);
      // (the cache holds none without events)
      (after ??= new Map()).set(id, held.sequenceNumber - 1);
    }
    if (after === undefined) return;
    const streams = await this.#reader.loadStreams([...after.keys()], {
      after,
    });
    const internals = aggregateInternals();
    const current = new Set<string>();
    for (const stream of streams) {
      const aggregate = this.#identityMap.get(stream.aggregateId);
      if (aggregate === undefined || !after.has(stream.aggregateId)) {
        throw new TypeError(
          `The store returned the stream of "${stream.aggregateId}", which was not asked for`,
        );
      }
      const [last, ...rest] = stream.events;
      if (last === undefined || !isLastEvent(aggregate, last)) continue;
      current.add(stream.aggregateId);
      for (const row of rest) {
        internals.replay(aggregate, this.#serializer.deserializeEvent(row));
      }
      noteLastRow(aggregate, rest.at(-1));
    }
    for (const id of after.keys()) {
      if (current.has(id)) continue;
      this.#identityMap.delete(id);
      missing.add(id);
    }
  }

  #build<A extends AggregateRoot>(
    stream: LoadedStream,
    cls: AggregateClassLike<A>,
  ): A | undefined {
    if (stream.events.length === 0 && !stream.snapshot) return undefined;
    const concrete = this.#concreteClass(stream, cls);
    const aggregate = new concrete(stream.aggregateId);
    if (aggregate.uncommittedEvents.length > 0) {
      throw new TypeError(
        `The constructor of ${concrete.name} applies events: apply them in a factory method instead, so loading does not repeat them`,
      );
    }
    const internals = aggregateInternals();
    if (stream.snapshot) {
      const config = snapshotConfigOf(concrete);
      if (config?.version !== stream.snapshot.version) {
        throw new TypeError(
          `Snapshot version ${stream.snapshot.version} of aggregate "${stream.aggregateId}" does not match ${concrete.name}`,
        );
      }
      config.restore(aggregate, JSON.parse(stream.snapshot.data));
      internals.setSequenceNumber(aggregate, stream.snapshot.sequenceNumber);
    }
    for (const row of stream.events) {
      internals.replay(aggregate, this.#serializer.deserializeEvent(row));
    }
    if (this.#cache !== undefined) noteLastRow(aggregate, stream.events.at(-1));
    return aggregate;
  }

  #snapshotFits<A extends AggregateRoot>(
    stream: LoadedStream,
    cls: AggregateClassLike<A>,
  ): boolean {
    const config = snapshotConfigOf(this.#concreteClass(stream, cls));
    return config !== undefined && config.version === stream.snapshot?.version;
  }

  #concreteClass<A extends AggregateRoot>(
    stream: LoadedStream,
    cls: AggregateClassLike<A>,
  ): AggregateClass<A> {
    const wanted = aggregateTypeOf(cls);
    const stored = stream.aggregateType;
    if (stored === "" || stored === wanted) {
      if (isAbstractBase(cls)) {
        throw new TypeError(
          `Cannot tell the class of aggregate "${stream.aggregateId}": it was stored without a type`,
        );
      }
      return cls as unknown as AggregateClass<A>;
    }
    const found = this.#serializer.registry.lookup("aggregate", stored);
    if (
      typeof found === "function" &&
      (found === cls || found.prototype instanceof cls)
    ) {
      return found as unknown as AggregateClass<A>;
    }
    throw new AggregateTypeMismatchError(stream.aggregateId, wanted, stored);
  }
}

/**
 * Makes the repository take aggregates from `cache` before it loads them
 * (see `aggregate_cache.ts`). Wiring of the command service.
 */
export function useAggregateCache(
  repository: AggregateRepository,
  cache: AggregateCache,
): void {
  cacheOf(repository, cache);
}

/**
 * Gives the repository's aggregates to its cache: once, after the unit's
 * transaction has committed. Those with uncommitted events are not given.
 */
export function returnAggregatesToCache(repository: AggregateRepository): void {
  giveBack(repository);
}

function isAbstractBase(cls: object): boolean {
  return cls === AggregateRoot;
}

function checkAggregateClass(cls: unknown): void {
  if (
    typeof cls !== "function" ||
    (cls !== AggregateRoot && !(cls.prototype instanceof AggregateRoot))
  ) {
    throw new TypeError("Expected an AggregateRoot class");
  }
}

function checkInstance(
  aggregate: AggregateRoot,
  cls: AggregateClassLike<AggregateRoot>,
): void {
  if (!((aggregate as object) instanceof cls)) {
    throw new AggregateTypeMismatchError(
      aggregate.id,
      aggregateTypeOf(cls),
      aggregateTypeOf(aggregate.constructor),
    );
  }
}
