/**
 * Taking snapshots: of one aggregate, or of every aggregate the store has
 * marked as needing one (those whose events since their last snapshot
 * reached their class's threshold), in batches.
 *
 * @module
 */
import { AggregateRepository } from "./aggregate_repository.ts";
import {
  type AggregateClass,
  AggregateRoot,
  snapshotConfigOf,
  takeSnapshot,
} from "./aggregate_root.ts";
import type {
  EventStoreReader,
  SerializedSnapshot,
  SnapshotStore,
} from "./event_store.ts";
import { routedClasses } from "./message_router.ts";
import { MessageSerializer } from "./serializer.ts";
import { TypeRegistry } from "./type_registry.ts";

/**
 * How to build a {@linkcode Snapshotter}.
 *
 * @example
 * ```ts
 * import { InMemoryEventStore, type SnapshotterOptions } from "@sequent/core";
 *
 * const options: SnapshotterOptions = { eventStore: new InMemoryEventStore(), aggregates: [] };
 * ```
 */
export interface SnapshotterOptions {
  /** The store: its snapshots, and the streams the aggregates load from. */
  readonly eventStore: SnapshotStore & EventStoreReader;
  /**
   * The aggregate classes whose stored type names must resolve; the event
   * classes their handlers route on are registered with them.
   */
  readonly aggregates?: readonly AggregateClass[] | undefined;
  /** The serializer (default: one over a new registry of `aggregates`). */
  readonly serializer?: MessageSerializer | undefined;
}

/**
 * Options of {@linkcode Snapshotter.takeMarkedSnapshots}.
 *
 * @example
 * ```ts
 * import type { TakeSnapshotsOptions } from "@sequent/core";
 *
 * const options: TakeSnapshotsOptions = { limit: 10_000, batchSize: 100 };
 * ```
 */
export interface TakeSnapshotsOptions {
  /** At most this many snapshots (default: all marked aggregates). */
  readonly limit?: number | undefined;
  /** Aggregates loaded per batch (default 100). */
  readonly batchSize?: number | undefined;
}

/**
 * Takes snapshots of aggregates whose classes enable them.
 *
 * @example
 * ```ts
 * import { AggregateRoot, attrs, CommandService, Event, InMemoryEventStore, Snapshotter } from "@sequent/core";
 *
 * class Ticked extends Event.define("Ticked", {}) {}
 * class Clock extends AggregateRoot {
 *   ticks = 0;
 *   static {
 *     this.on(Ticked, (clock) => { clock.ticks++; });
 *     this.enableSnapshots({
 *       version: 1,
 *       threshold: 2,
 *       take: (clock) => ({ ticks: clock.ticks }),
 *       restore: (clock, state) => { clock.ticks = state.ticks; },
 *     });
 *   }
 * }
 *
 * const store = new InMemoryEventStore();
 * const service = new CommandService({ eventStore: store, commandHandlers: [], aggregates: [Clock] });
 * const id = crypto.randomUUID();
 * await service.commitEvents([{
 *   aggregateClass: Clock,
 *   events: [new Ticked({ aggregateId: id, sequenceNumber: 1 }), new Ticked({ aggregateId: id, sequenceNumber: 2 })],
 * }]);
 * const snapshotter = new Snapshotter({ eventStore: store, aggregates: [Clock] });
 * console.assert((await snapshotter.takeMarkedSnapshots()) === 1);
 * console.assert((await store.loadLatestSnapshot(id))?.sequenceNumber === 2);
 * ```
 */
export class Snapshotter {
  readonly #store: SnapshotStore & EventStoreReader;
  readonly #serializer: MessageSerializer;

  /**
   * Creates a snapshotter.
   *
   * @param options The store and the aggregate classes.
   */
  constructor(options: SnapshotterOptions) {
    this.#store = options.eventStore;
    this.#serializer = options.serializer ??
      new MessageSerializer(new TypeRegistry());
    const registry = this.#serializer.registry;
    for (const cls of options.aggregates ?? []) {
      registry.register("aggregate", cls);
      // As CommandService does: the aggregate's events are read back as the
      // classes its handlers route on, whatever else the process declares
      // under their names, or the snapshot stores a state they never made.
      for (const routed of routedClasses(cls)) {
        registry.register("event", routed);
      }
    }
  }

  /**
   * Takes a snapshot of one aggregate as it is now.
   *
   * @param aggregateId The aggregate's id.
   * @returns Whether a snapshot was stored (false when its class does not
   * enable snapshots).
   * @throws {AggregateNotFoundError} when the aggregate does not exist.
   */
  async takeSnapshot(aggregateId: string): Promise<boolean> {
    const repository = new AggregateRepository(this.#store, this.#serializer);
    const aggregate = await repository.loadAggregate(
      aggregateId,
      AggregateRoot,
    );
    const snapshot = this.#snapshotOf(aggregate);
    if (!snapshot) return false;
    await this.#store.storeSnapshots([snapshot]);
    return true;
  }

  /**
   * Takes snapshots of the aggregates the store marked as needing one, in
   * batches, most outdated first.
   *
   * @param options Limit and batch size.
   * @returns How many snapshots were stored.
   */
  async takeMarkedSnapshots(
    options: TakeSnapshotsOptions = {},
  ): Promise<number> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const batchSize = options.batchSize ?? 100;
    if (!(limit >= 0)) {
      throw new RangeError(`limit must not be negative, got ${limit}`);
    }
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `batchSize must be a positive integer, got ${batchSize}`,
      );
    }
    const seen = new Set<string>();
    let taken = 0;
    while (taken < limit) {
      const size = Math.min(batchSize, limit - taken);
      const candidates =
        (await this.#store.aggregatesNeedingSnapshots(size + seen.size))
          .filter((c) => !seen.has(c.aggregateId))
          .slice(0, size);
      if (candidates.length === 0) break;
      for (const c of candidates) seen.add(c.aggregateId);
      const repository = new AggregateRepository(this.#store, this.#serializer);
      const aggregates = await repository.loadAggregates(
        candidates.map((c) => c.aggregateId),
        AggregateRoot,
      );
      const snapshots = aggregates.map((a) => this.#snapshotOf(a)).filter((s) =>
        s !== undefined
      );
      if (snapshots.length > 0) await this.#store.storeSnapshots(snapshots);
      taken += snapshots.length;
    }
    return taken;
  }

  /**
   * Deletes snapshots whose version is not the current one of their class
   * (those the code can no longer restore).
   *
   * @param aggregates The aggregate classes in use.
   * @returns How many snapshots were deleted.
   */
  deleteOutdatedSnapshots(
    aggregates: readonly AggregateClass[],
  ): Promise<number> {
    const versions: Record<string, number> = {};
    for (const cls of aggregates) {
      const config = snapshotConfigOf(cls);
      if (config) {
        versions[TypeRegistry.nameOf("aggregate", cls)] = config.version;
      }
    }
    return this.#store.deleteSnapshotsOfOtherVersions(versions);
  }

  #snapshotOf(aggregate: AggregateRoot): SerializedSnapshot | undefined {
    const taken = takeSnapshot(aggregate);
    if (!taken) return undefined;
    return {
      aggregateId: aggregate.id,
      aggregateType: TypeRegistry.nameOf(
        "aggregate",
        aggregate.constructor as AggregateClass,
      ),
      version: taken.version,
      sequenceNumber: taken.sequenceNumber,
      createdAt: new Date(),
      data: taken.data,
    };
  }
}
