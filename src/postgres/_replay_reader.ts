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
 * runs once the slice being read has ended.
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";
import { hexDigitValue } from "../core/_hex.ts";
import type {
  ReplayEventsOptions,
  ReplayReader,
  StreamPosition,
} from "../core/event_reader.ts";
import type { SerializedEvent } from "../core/event_store.ts";
import {
  CopyTextDecoder,
  type CopyTextRow,
  detachedCopy,
} from "./_copy_text.ts";
import { parseStreamPosition } from "./_stream_position.ts";
import type { SqlExecutor } from "./sql_client.ts";

/** The columns each row has (see {@linkcode ReplayRow}). */
const WIDTH = 6;

/**
 * A stored event as read for a replay: partition key, aggregate id,
 * sequence number, `created_at` as `timestamptz_send` text (see
 * {@linkcode createdAtMillis}), event type id and payload; all as text.
 */
export type ReplayRow = CopyTextRow;

/** What to read. */
export interface ReplayReadOptions {
  /** The qualified events table. */
  readonly table: string;
  /** The condition on `e` (its values as literals: COPY has no parameters). */
  readonly where: string;
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
 * A stored event as {@linkcode CopyReplayReader} gives it: with its
 * partition key, so that where a replay got to can be named by
 * {@linkcode replayKeyOf}.
 */
export interface ReplayedEvent extends SerializedEvent {
  /** The partition key it is stored under. */
  readonly partitionKey: string;
}

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
 * @param options The table, the condition and the slice size.
 */
export async function* readReplayRows(
  executor: SqlExecutor,
  options: ReplayReadOptions,
): AsyncGenerator<ReplayRow[]> {
  const { table, where, sliceSize } = options;
  const limit = sliceSize * (options.readAhead ?? 3);
  const queue: ReplayRow[][] = [];
  let queued = 0;
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
      while (queued > limit && !stopped) {
        await new Promise<void>((resolve) => resume = resolve);
      }
      if (stopped) return;
      // (created_at is read by createdAtMillis, escapes and all)
      const decoder = new CopyTextDecoder(WIDTH, [3]);
      let count = 0;
      let last: ReplayRow | undefined;
      await executor.copyOut(
        sliceQuery(table, where, after, sliceSize),
        (chunk) => {
          const rows: ReplayRow[] = [];
          decoder.decode(chunk, rows);
          if (rows.length === 0 || stopped) return;
          count += rows.length;
          last = rows[rows.length - 1];
          queue.push(rows);
          queued += rows.length;
          signal();
        },
      );
      decoder.end();
      if (last) {
        after = [last[0] as string, last[1] as string, last[2] as string];
        if (options.progress) options.progress.last = after;
      }
      total += count;
      if (count < sliceSize || stopped) return;
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
      const rows = queue.shift();
      if (rows) {
        queued -= rows.length;
        if (queued <= limit && resume) {
          const r = resume;
          resume = undefined;
          r();
        }
        yield rows;
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
    // An aggregate's events come together: they share one id string (and
    // one partition key), copied out of its chunk (read models keep ids as
    // keys, and a slice would keep the chunk alive with them).
    let aggregateId = "";
    let partitionKey = "";
    for await (
      const rows of readReplayRows(this.#executor, {
        table: `${this.#schema}.events`,
        where,
        sliceSize,
        resumeAfter: this.#part.resumeAfter,
        stopAfter: this.#part.stopAfter,
        progress: this.#part.progress,
      })
    ) {
      const events: ReplayedEvent[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        // partition key, aggregate, sequence number, created_at, type id, payload
        const [k, a, s, c, t, p] = rows[i] as ReplayRow;
        const eventType = typeNames.get(Number(t));
        if (eventType === undefined) {
          throw new SequentError(
            `Event ${s} of aggregate ${a} has the unknown type id ${t}`,
          );
        }
        if (a !== aggregateId || k !== partitionKey) {
          aggregateId = detachedCopy(a as string);
          partitionKey = k === "" ? "" : detachedCopy(k as string);
        }
        events[i] = {
          aggregateId,
          sequenceNumber: Number(s),
          createdAt: new Date(createdAtMillis(c as string)),
          eventType,
          payload: p as string,
          partitionKey,
        };
      }
      yield events;
    }
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

/** Milliseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch. */
const PG_EPOCH_MS = 946_684_800_000;

/**
 * `created_at` as JavaScript milliseconds, from `timestamptz_send`'s eight
 * bytes (microseconds since 2000-01-01, big-endian) as copied text
 * (`\\x` and sixteen hex digits). Microseconds are truncated, as reading a
 * timestamp into a `Date` does. Sending the raw value is the cheapest way
 * out of the server; its text form would cost the server more to write
 * and us more to read.
 *
 * @throws {Error} on any other text.
 */
export function createdAtMillis(text: string): number {
  const at = text.charCodeAt(1) === 0x5c ? 3 : 2; // `\\x` or `\x`
  if (
    text.length !== at + 16 || text.charCodeAt(0) !== 0x5c ||
    text.charCodeAt(at - 1) !== 0x78
  ) {
    throw unexpected(text);
  }
  let high = 0;
  let low = 0;
  for (let i = 0; i < 16; i++) {
    const c = text.charCodeAt(at + i);
    const digit = hexDigitValue(c);
    if (digit < 0) throw unexpected(text);
    if (i < 8) high = high * 16 + digit;
    else low = low * 16 + digit;
  }
  // a signed 64-bit count: exact within 285 years of 2000
  const micros = (high >= 0x80000000 ? high - 0x100000000 : high) *
      0x100000000 + low;
  return Math.floor(micros / 1000) + PG_EPOCH_MS;
}

function unexpected(text: string): Error {
  return new Error(`Unexpected created_at bytes: ${JSON.stringify(text)}`);
}
