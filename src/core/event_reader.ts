/**
 * Reading the event stream in commit order, from a position: the port
 * asynchronous processors read through. Every event store implements it.
 *
 * A position is opaque text only the store that made it can compare (see
 * {@linkcode EventReader.comparePositions}); the empty string is the
 * start. Positions order events the way they were committed, and a reader
 * never skips one: an event whose transaction commits late, with a
 * position lower than events already read, is not returned before its
 * transaction has ended (on PostgreSQL the store reads only below the
 * oldest transaction still running), so reading on from the last position
 * read finds it.
 *
 * @module
 */
import type { SerializedEvent } from "./event_store.ts";

/**
 * A place in the event stream, in commit order; `""` is the start.
 *
 * @example
 * ```ts
 * import type { StreamPosition } from "@sequent/core/internal";
 *
 * const start: StreamPosition = "";
 * ```
 */
export type StreamPosition = string;

/**
 * A stored event and its place in the stream.
 *
 * @example
 * ```ts
 * import type { StoredEvent } from "@sequent/core/internal";
 *
 * function describe(event: StoredEvent): string {
 *   return `${event.eventType} ${event.sequenceNumber} of ${event.aggregateId} at ${event.position}`;
 * }
 * ```
 */
export interface StoredEvent extends SerializedEvent {
  /** Where the event is in commit order. */
  readonly position: StreamPosition;
  /**
   * The partition of the event's aggregate (see `partitionOf`): the same
   * for all its events.
   */
  readonly partition: number;
  /**
   * The type of the event's aggregate: set by
   * {@linkcode EventReader.readAggregateEvents}, and by
   * {@linkcode EventReader.readEvents} when asked
   * (`withAggregateTypes`), undefined otherwise (finding it costs a
   * lookup per event on PostgreSQL).
   */
  readonly aggregateType?: string | undefined;
}

/**
 * What one read gives.
 *
 * @example
 * ```ts
 * import type { EventBatch } from "@sequent/core/internal";
 *
 * function done(batch: EventBatch): boolean {
 *   return batch.caughtUp && batch.events.length === 0;
 * }
 * ```
 */
export interface EventBatch {
  /** The events, in commit order. */
  readonly events: readonly StoredEvent[];
  /**
   * Where to read on from: past every event this read scanned, including
   * those left out by an event-type filter, and, when the read caught up,
   * past every transaction that had ended when it began. So a processor
   * that moves its checkpoint here passes events it does not handle too.
   */
  readonly next: StreamPosition;
  /** Whether the read returned everything committed (it was not cut by the limit). */
  readonly caughtUp: boolean;
}

/**
 * Options of {@linkcode EventReader.readEvents}.
 *
 * @example
 * ```ts
 * import type { ReadEventsOptions } from "@sequent/core/internal";
 *
 * const options: ReadEventsOptions = { limit: 500, eventTypes: ["PostAdded"], partitions: [3, 17] };
 * ```
 */
export interface ReadEventsOptions {
  /** At most this many events. */
  readonly limit: number;
  /** Only events of these types (default: all). */
  readonly eventTypes?: readonly string[] | undefined;
  /**
   * Only events of these partitions (default: all). As with event types,
   * the position read on from passes the events of other partitions.
   */
  readonly partitions?: readonly number[] | undefined;
  /** Whether to give each event its aggregate's type (default false). */
  readonly withAggregateTypes?: boolean | undefined;
}

/**
 * The event stream in commit order.
 *
 * @example Reading everything, batch by batch
 * ```ts
 * import { InMemoryEventStore } from "@sequent/core";
 * import type { EventReader } from "@sequent/core/internal";
 *
 * async function count(reader: EventReader): Promise<number> {
 *   let position = "";
 *   let n = 0;
 *   for (;;) {
 *     const batch = await reader.readEvents(position, { limit: 100 });
 *     n += batch.events.length;
 *     position = batch.next;
 *     if (batch.caughtUp) return n;
 *   }
 * }
 * console.assert((await count(new InMemoryEventStore())) === 0);
 * ```
 */
export interface EventReader {
  /**
   * Events committed after `after`, in commit order: at most `limit`,
   * never one whose transaction is still running (see the module
   * documentation).
   *
   * @param after The position read up to so far (`""`: the start).
   * @param options The limit, an event-type and a partition filter.
   * @returns The events and where to read on from.
   * @throws {RangeError} for a limit that is not a positive integer, or a
   *   partition that is not an integer from 0 to 1023.
   */
  readEvents(
    after: StreamPosition,
    options: ReadEventsOptions,
  ): Promise<EventBatch>;
  /**
   * An aggregate's events from a sequence number on, up to a position: for
   * handling again the events of an aggregate a processor set aside.
   *
   * @param aggregateId The aggregate.
   * @param fromSequenceNumber The first sequence number.
   * @param upTo The last position included.
   * @returns The events, in sequence order.
   */
  readAggregateEvents(
    aggregateId: string,
    fromSequenceNumber: number,
    upTo: StreamPosition,
  ): Promise<StoredEvent[]>;
  /**
   * Compares two positions of this store.
   *
   * @returns Negative, zero or positive as `a` is before, at or after `b`.
   */
  comparePositions(a: StreamPosition, b: StreamPosition): number;
  /**
   * The distinct trace contexts (`traceparent`) stored with the commits
   * of these events, at most `limit`: what a processor's batch span links
   * to, for a store whose reads do not carry them on the events (one
   * query per batch, asked only when the application traces).
   *
   * @param events Events this reader read.
   * @param limit The most to return.
   * @returns The contexts, in no particular order.
   */
  traceContexts?(
    events: readonly StoredEvent[],
    limit: number,
  ): Promise<readonly string[]>;
}

/**
 * Options of {@linkcode ReplayReader.replayEvents}.
 *
 * @example
 * ```ts
 * import type { ReplayEventsOptions } from "@sequent/core/internal";
 *
 * const options: ReplayEventsOptions = { eventTypes: ["PostAdded", "PostTitleChanged"] };
 * ```
 */
export interface ReplayEventsOptions {
  /** Only events of these types (default: all). */
  readonly eventTypes?: readonly string[] | undefined;
  /**
   * Only events after this position (default: from the start). Pass a
   * boundary an earlier replay read `upTo` to read what it left.
   */
  readonly after?: StreamPosition | undefined;
  /**
   * Only events at or before this position (default: the
   * {@linkcode ReplayReader.replayBoundary} when the read starts).
   */
  readonly upTo?: StreamPosition | undefined;
  /**
   * At most this many events per batch (default: the store's; 20,000 on
   * PostgreSQL, whose batches are what each read of a slice brought).
   */
  readonly batchSize?: number | undefined;
}

/**
 * The event stream in bulk, for a replay: every event in a range, grouped
 * by aggregate, each aggregate's events in sequence order (how aggregates
 * follow one another is the store's choice). On PostgreSQL the events
 * come by `COPY`, in keyset slices read ahead while the caller handles the
 * ones before.
 *
 * @example Counting the events a replay would handle
 * ```ts
 * import { InMemoryEventStore } from "@sequent/core";
 * import type { ReplayReader } from "@sequent/core/internal";
 *
 * async function count(reader: ReplayReader, eventTypes: string[]): Promise<number> {
 *   let n = 0;
 *   for await (const batch of reader.replayEvents({ eventTypes })) n += batch.length;
 *   return n;
 * }
 * console.assert((await count(new InMemoryEventStore(), ["PostAdded"])) === 0);
 * ```
 */
export interface ReplayReader {
  /**
   * A position below which every transaction has ended: a replay `upTo`
   * it and a later one `after` it read every event exactly once between
   * them, however late a transaction running now commits.
   *
   * @returns The boundary.
   */
  replayBoundary(): Promise<StreamPosition>;
  /**
   * The events in a range, in batches (see the interface documentation).
   *
   * @param options The range, an event-type filter and the batch size.
   * @returns The batches.
   * @throws {RangeError} for a batch size that is not a positive integer.
   */
  replayEvents(
    options?: ReplayEventsOptions,
  ): AsyncIterable<readonly SerializedEvent[]>;
}
