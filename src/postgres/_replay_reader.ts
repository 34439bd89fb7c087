/**
 * Reads the events a replay needs with `COPY … TO STDOUT`, in the order the
 * replay handles them: by partition key, aggregate and sequence number.
 *
 * The events come in slices of `sliceSize`, one `COPY` each, every slice
 * starting after the last event of the one before (keyset pagination, so
 * each starts with an index lookup). Slices bound memory: the next ones
 * are read while the caller handles the one before, a few slices ahead. The
 * copy is read as fast as the server sends it, whatever the caller does,
 * so a statement the caller issues meanwhile (a flush, a lookup) simply
 * runs once the slice being read has ended. What is read ahead waits as
 * bytes; each chunk is decoded (by `ReplayEventDecoder`) when the caller
 * comes to it, and only a slice's last row is decoded ahead, for where the
 * next slice starts.
 *
 * @module
 */
import type {
  ReplayEventsOptions,
  ReplayReader,
  StreamPosition,
} from "../core/event_reader.ts";
import { LastCopiedRow } from "./_copy_rows.ts";
import { type ReplayedEvent, ReplayEventDecoder } from "./_replay_decoder.ts";
import { parseStreamPosition } from "./_stream_position.ts";
import type { SqlExecutor } from "./sql_client.ts";

/** What to read. */
export interface ReplayReadOptions {
  /** The qualified events table. */
  readonly table: string;
  /** The condition on `e` (its values as literals: COPY has no parameters). */
  readonly where: string;
  /** The event type names, by id. */
  readonly typeNames: ReadonlyMap<number, string>;
  /** Events per slice. */
  readonly sliceSize: number;
  /**
   * How many slices may wait to be handled (default 3): enough to go on
   * while a flush holds the connection.
   */
  readonly readAhead?: number | undefined;
  /** Start after this event (its key), instead of at the first. */
  readonly resumeAfter?: ReplayKey | undefined;
  /**
   * Stop at the end of the slice that brings the events read to this
   * many (default: read to the end); {@linkcode ReplayProgress.cut} then
   * says so.
   */
  readonly stopAfter?: number | undefined;
  /** Where the read got to, kept up to date as it goes. */
  readonly progress?: ReplayProgress | undefined;
}

/** An event's key in replay order: partition key, aggregate id, sequence number. */
export type ReplayKey = readonly [string, string, string];

/**
 * The key of an event the {@linkcode CopyReplayReader} gave: resuming
 * after it goes on with the next.
 *
 * @param event An event of {@linkcode CopyReplayReader.replayEvents}.
 * @returns Its key.
 */
export function replayKeyOf(event: ReplayedEvent): ReplayKey {
  return [event.partitionKey, event.aggregateId, String(event.sequenceNumber)];
}

/** Where a read got to (see {@linkcode ReplayReadOptions.progress}). */
export interface ReplayProgress {
  /** The key of the last event read. */
  last: ReplayKey | undefined;
  /** Whether the read stopped at `stopAfter` before the end of the range. */
  cut: boolean;
}

/**
 * The events, in batches as they arrive (see the module documentation).
 *
 * @param executor The migration's transaction.
 * @param options The table, the condition, the type names and the slice
 *   size.
 */
export async function* readReplayEvents(
  executor: SqlExecutor,
  options: ReplayReadOptions,
): AsyncGenerator<ReplayedEvent[]> {
  const { table, where, sliceSize, typeNames } = options;
  const readAhead = options.readAhead ?? 3;
  // The chunks as they came, decoded only when their turn comes: events
  // decoded ahead would live through many young-generation collections
  // (a slice is 20,000 events), copied at each; bytes are not.
  const queue: QueuedChunk[] = [];
  /** Slices read whose end the caller has not reached yet. */
  let waiting = 0;
  let finished = false;
  let stopped = false;
  let failure: { readonly error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let resume: (() => void) | undefined;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const pump = async () => {
    let after: ReplayKey | undefined = options.resumeAfter;
    let total = 0;
    for (;;) {
      // no more than `readAhead` slices wait to be handled
      while (waiting >= readAhead && !stopped) {
        await new Promise<void>((resolve) => resume = resolve);
      }
      if (stopped) return;
      const decoder = new ReplayEventDecoder(typeNames);
      const last = new LastCopiedRow();
      // (the copy counts its rows: none are counted here)
      const count = await executor.copyOut(
        sliceQuery(table, where, after, sliceSize),
        (chunk) => {
          if (stopped) return;
          // (the executor does not write to a chunk it handed over)
          last.add(chunk);
          queue.push({ decoder, chunk });
          signal();
        },
      );
      if (stopped) return;
      waiting++;
      queue.push({ decoder, chunk: undefined });
      signal();
      if (count > 0) {
        after = replayKeyOf(lastEvent(last.lastRow, typeNames));
        if (options.progress) options.progress.last = after;
      }
      total += count;
      if (count < sliceSize) return;
      if (options.stopAfter !== undefined && total >= options.stopAfter) {
        if (options.progress) options.progress.cut = true;
        return;
      }
    }
  };
  const pumping = pump().then(
    () => {
      finished = true;
      signal();
    },
    (error: unknown) => {
      failure = { error };
      signal();
    },
  );

  try {
    for (;;) {
      const next = queue.shift();
      if (next) {
        if (next.chunk === undefined) {
          next.decoder.end();
          waiting--;
          if (resume) {
            const r = resume;
            resume = undefined;
            r();
          }
          continue;
        }
        const events: ReplayedEvent[] = [];
        next.decoder.decode(next.chunk, events);
        if (events.length > 0) yield events;
        continue;
      }
      if (failure) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => wake = resolve);
    }
  } finally {
    // stopped early (a handler failed): let the slice being read end
    stopped = true;
    resume?.();
    await pumping;
  }
}

/**
 * A chunk of a slice's copy, waiting to be decoded by its slice's decoder;
 * without a chunk, the end of the slice.
 */
interface QueuedChunk {
  readonly decoder: ReplayEventDecoder;
  readonly chunk: Uint8Array | undefined;
}

/** The event of a slice's last row (its bytes, in pieces). */
function lastEvent(
  pieces: readonly Uint8Array[],
  typeNames: ReadonlyMap<number, string>,
): ReplayedEvent {
  const decoder = new ReplayEventDecoder(typeNames);
  const events: ReplayedEvent[] = [];
  for (const piece of pieces) decoder.decode(piece, events);
  decoder.end();
  return events[0]!;
}

/** A part of a replay's range (see {@linkcode CopyReplayReader}). */
export interface ReplayPart {
  /** Start after this event. */
  readonly resumeAfter?: ReplayKey | undefined;
  /** Stop after the slice that brings the events read to this many. */
  readonly stopAfter?: number | undefined;
  /** Where the read got to. */
  readonly progress?: ReplayProgress | undefined;
}

/**
 * The PostgreSQL side of the {@linkcode ReplayReader} port, on any
 * executor: the store's client, or a migration's transaction (where the
 * read sees the tables that transaction holds locked).
 *
 * Its boundary is `"<xmin>:0"`, `xmin` being the oldest transaction still
 * running (`pg_snapshot_xmin`): every transaction below it has ended, so
 * the events `upTo` it are final, and those `after` it are those of the
 * transactions that were running then, or started since.
 */
export class CopyReplayReader implements ReplayReader {
  readonly #executor: SqlExecutor;
  readonly #schema: string;
  readonly #part: ReplayPart;

  /**
   * @param executor Where the events are read.
   * @param schema The event store's schema, quoted.
   * @param part Read only part of the range: from after an event, up to a
   *   number of events (a replay done in several transactions).
   */
  constructor(executor: SqlExecutor, schema: string, part: ReplayPart = {}) {
    this.#executor = executor;
    this.#schema = schema;
    this.#part = part;
  }

  async replayBoundary(): Promise<StreamPosition> {
    const [row] = await this.#executor.query<{ xmin: string }>(
      "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin",
    );
    return `${row!.xmin}:0`;
  }

  /**
   * How many events {@linkcode CopyReplayReader.replayEvents} gives for
   * these options (for a progress bar; `upTo` is needed: the boundary
   * moves).
   */
  async count(
    options: ReplayEventsOptions & { readonly upTo: StreamPosition },
  ): Promise<number> {
    let where = await this.#where(options, options.upTo);
    if (where === undefined) return 0;
    if (this.#part.resumeAfter) {
      where += ` AND ${afterKey(this.#part.resumeAfter)}`;
    }
    const [row] = await this.#executor.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${this.#schema}.events e WHERE ${where}`,
    );
    return Number(row?.n ?? 0);
  }

  async *replayEvents(
    options: ReplayEventsOptions = {},
  ): AsyncIterable<readonly ReplayedEvent[]> {
    const sliceSize = options.batchSize ?? 20_000;
    if (!Number.isSafeInteger(sliceSize) || sliceSize < 1) {
      throw new RangeError(
        `batchSize must be a positive integer, got ${sliceSize}`,
      );
    }
    const upTo = options.upTo ?? await this.replayBoundary();
    // Type names are few: read them once instead of joining every event.
    const typeNames = new Map<number, string>();
    for (
      const row of await this.#executor.query<{ id: number; type: string }>(
        `SELECT id, type FROM ${this.#schema}.event_types`,
      )
    ) {
      typeNames.set(row.id, row.type);
    }
    const where = await this.#where(options, upTo, typeNames);
    if (where === undefined) return;
    yield* readReplayEvents(this.#executor, {
      table: `${this.#schema}.events`,
      where,
      typeNames,
      sliceSize,
      resumeAfter: this.#part.resumeAfter,
      stopAfter: this.#part.stopAfter,
      progress: this.#part.progress,
    });
  }

  /**
   * The condition on `e` for a range and a type filter, with literals (COPY
   * takes no parameters); `undefined` when no event can match.
   */
  async #where(
    options: ReplayEventsOptions,
    upTo: StreamPosition,
    known?: ReadonlyMap<number, string>,
  ): Promise<string | undefined> {
    const conditions = [`(e.xact_id, e.position) <= ${positionLiteral(upTo)}`];
    if (options.after !== undefined && options.after !== "") {
      conditions.push(
        `(e.xact_id, e.position) > ${positionLiteral(options.after)}`,
      );
    }
    if (options.eventTypes !== undefined) {
      const wanted = new Set(options.eventTypes);
      let ids: number[];
      if (known) {
        ids = [...known].filter(([, type]) => wanted.has(type)).map(([id]) =>
          id
        );
      } else {
        ids = (await this.#executor.query<{ id: number; type: string }>(
          `SELECT id, type FROM ${this.#schema}.event_types`,
        )).filter((r) => wanted.has(r.type)).map((r) => r.id);
      }
      if (ids.length === 0) return undefined;
      conditions.push(
        `e.event_type_id IN (${ids.map((id) => Number(id)).join(", ")})`,
      );
    }
    return conditions.join(" AND ");
  }
}

/** A stream position as a row literal (its parts are checked digits). */
function positionLiteral(position: StreamPosition): string {
  const [xact, at] = parseStreamPosition(position);
  return `('${xact}'::xid8, ${at}::bigint)`;
}

/** The `SELECT` of one slice. */
function sliceQuery(
  table: string,
  where: string,
  after: ReplayKey | undefined,
  size: number,
): string {
  const conditions = [where];
  if (after) conditions.push(afterKey(after));
  return `SELECT e.partition_key, e.aggregate_id, e.sequence_number,
    pg_catalog.timestamptz_send(e.created_at), e.event_type_id, e.event_json
  FROM ${table} e
  WHERE ${conditions.join(" AND ")}
  ORDER BY e.partition_key, e.aggregate_id, e.sequence_number
  LIMIT ${size}`;
}

/** The condition on `e`: after this event in replay order. */
function afterKey(after: ReplayKey): string {
  return `(e.partition_key, e.aggregate_id, e.sequence_number) > (${
    textLiteral(after[0])
  }, ${textLiteral(after[1])}::uuid, ${Number(after[2])}::integer)`;
}

/** A string as an SQL literal, whatever `standard_conforming_strings` is. */
function textLiteral(value: string): string {
  return `E'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}
