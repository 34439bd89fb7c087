/**
 * Replaying events into projectors: rebuilding read models from the event
 * stream, read in bulk through the {@linkcode ReplayReader} port and
 * delivered on the same routes inline projection and processors use.
 * Workflows never run in a replay.
 *
 * @module
 */
import type { ReplayReader, StreamPosition } from "./event_reader.ts";
import type { SerializedEvent } from "./event_store.ts";
import { deliver, EventRoutes, handledEventTypes } from "./event_dispatch.ts";
import { type Projector, withRecordStore } from "./projector.ts";
import type { RecordStore } from "./record_store.ts";
import type { MessageSerializer } from "./serializer.ts";
import type { Telemetry } from "./telemetry.ts";

/**
 * How to replay (see {@linkcode replayProjectors}).
 *
 * @example
 * ```ts
 * import { InMemoryRecordStore, type ReplayOptions } from "@sequent/core";
 * import { MessageSerializer } from "@sequent/core/internal";
 *
 * const options: ReplayOptions = {
 *   projectors: [],
 *   serializer: new MessageSerializer(),
 *   records: new InMemoryRecordStore(),
 * };
 * ```
 */
export interface ReplayOptions {
  /** The projectors to rebuild. */
  readonly projectors: readonly Projector[];
  /** Reads the stored events (the app's serializer: it knows the upcasters). */
  readonly serializer: MessageSerializer;
  /** Where the projectors write during the replay. */
  readonly records: RecordStore;
  /** Only events after this position (default: from the start). */
  readonly after?: StreamPosition | undefined;
  /** Only events at or before this position (default: the reader's boundary). */
  readonly upTo?: StreamPosition | undefined;
  /** Events per batch read (default: the reader's). */
  readonly batchSize?: number | undefined;
  /** Told how many events each batch held, once it is handled. */
  readonly onBatch?: ((events: number) => void) | undefined;
  /**
   * Called between two aggregates' events: where a record store that
   * buffers rows can flush them, since no handler is in the middle of an
   * aggregate then. Given the last event handled (the aggregate just
   * finished's last; undefined before the first event), whose handlers have
   * all completed. May return a promise to wait for.
   */
  readonly betweenAggregates?:
    | ((previous: SerializedEvent | undefined) => Promise<void> | undefined)
    | undefined;
  /**
   * Where the replay is traced (one span for all of it, in a trace of its
   * own) and its progress counted; default: nowhere.
   */
  readonly telemetry?: Telemetry | undefined;
}

/**
 * Rebuilds projectors' tables by replaying every stored event of the types
 * they handle into `records`, aggregate by aggregate. Empty the tables
 * first (or give a fresh store): the projectors' `create` handlers run
 * again.
 *
 * @example Rebuilding a read model on the in-memory store
 * ```ts
 * import { column, InMemoryEventStore, InMemoryRecordStore, Projector, replayProjectors, table } from "@sequent/core";
 * import { MessageSerializer } from "@sequent/core/internal";
 *
 * const notes = table("note_records", { aggregateId: column.uuid().primaryKey() });
 * class NoteProjector extends Projector {
 *   static override readonly manages = [notes];
 * }
 * const report = await replayProjectors(new InMemoryEventStore(), {
 *   projectors: [new NoteProjector()],
 *   serializer: new MessageSerializer(),
 *   records: new InMemoryRecordStore(),
 * });
 * console.assert(report.events === 0);
 * ```
 *
 * @param reader The event stream.
 * @param options The projectors, the serializer, where they write, the range.
 * @returns How many events were replayed.
 * @throws whatever a projector or the reader throws; what was written
 *   before stays written to `records`.
 */
export function replayProjectors(
  reader: ReplayReader,
  options: ReplayOptions,
): Promise<{ readonly events: number }> {
  const eventTypes = handledEventTypes(options.projectors);
  if (eventTypes?.length === 0) return Promise.resolve({ events: 0 });
  const telemetry = options.telemetry;
  if (telemetry) {
    return telemetry.replay(
      options.projectors.map((p) => p.constructor.name),
      () => replay(reader, options, eventTypes, telemetry),
    );
  }
  return replay(reader, options, eventTypes, undefined);
}

async function replay(
  reader: ReplayReader,
  options: ReplayOptions,
  eventTypes: readonly string[] | undefined,
  telemetry: Telemetry | undefined,
): Promise<{ readonly events: number }> {
  const routes = new EventRoutes(options.projectors);
  const { serializer, onBatch, betweenAggregates } = options;
  let events = 0;
  await withRecordStore(options.records, async () => {
    let aggregate: string | undefined;
    let previous: SerializedEvent | undefined;
    for await (
      const batch of reader.replayEvents({
        eventTypes,
        after: options.after,
        upTo: options.upTo,
        batchSize: options.batchSize,
      })
    ) {
      for (let i = 0; i < batch.length; i++) {
        const stored = batch[i]!;
        if (stored.aggregateId !== aggregate) {
          aggregate = stored.aggregateId;
          const flushing = betweenAggregates?.(previous);
          if (flushing) await flushing;
        }
        const delivering = deliver(
          routes,
          serializer.deserializeEvent(stored),
        );
        if (delivering) await delivering;
        previous = stored;
      }
      events += batch.length;
      telemetry?.replayProgress(batch.length);
      onBatch?.(batch.length);
    }
  });
  return { events };
}
