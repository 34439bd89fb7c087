/**
 * The PostgreSQL event store's reads, over the client or a unit of work:
 * streams, the event stream by position, and the audit queries (command
 * records, causation). The store and its transactions share them.
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";
import { checkLoadOptions } from "../core/event_store.ts";
import type {
  CommandRecord,
  EventPosition,
  EventStoreReader,
  LoadedStream,
  LoadOptions,
  ReadAllOptions,
  SerializedEvent,
  SerializedSnapshot,
  SnapshotCandidate,
} from "../core/event_store.ts";
import type { JsonValue } from "../core/json.ts";
import type {
  EventBatch,
  ReadEventsOptions,
  StoredEvent,
  StreamPosition,
} from "../core/event_reader.ts";
import type { SqlRow, SqlValue } from "./sql_client.ts";
import type { EventStoreSql } from "./_event_store_sql.ts";
import type { TypeKind } from "./_type_dictionary.ts";
import { isUuid } from "./_commit_json.ts";
import { checkPartitions } from "../core/partition.ts";
import { isStorableUniqueKey } from "../core/_storable_commit.ts";
import type { Executor } from "./_unit.ts";
import type { RecordStore } from "../core/record_store.ts";
import {
  compareStreamPositions,
  compareXactPositions,
  MAX_POSITION,
  parseStreamPosition,
} from "./_stream_position.ts";

interface EventRow {
  readonly aggregate_id: string;
  readonly sequence_number: number;
  readonly created_at: Date;
  readonly event_type_id: number;
  readonly event_json: string;
}

interface StreamRow {
  readonly aggregate_type_id: number;
  readonly events_partition_key: string;
  readonly kind: number;
  readonly sequence_number: number;
  readonly created_at: Date;
  readonly event_type_id: number | null;
  readonly json: string;
}

/**
 * A row of a single-stream query: first the head (sequence number NULL,
 * the aggregate's type id and partition key), then one per event.
 */
interface HeadedRow {
  readonly sequence_number: number | null;
  readonly created_at: Date | null;
  readonly event_type_id: number;
  readonly json: string;
}

interface CommandRow {
  readonly id: string;
  readonly command_id: string;
  readonly created_at: Date;
  readonly user_id: string | null;
  readonly aggregate_id: string;
  readonly command_type_id: number;
  readonly command_json: string;
  readonly event_aggregate_id: string | null;
  readonly event_sequence_number: number | null;
  readonly trace_context: string | null;
}

export interface SnapshotRow {
  readonly aggregate_id: string;
  readonly aggregate_type_id: number;
  readonly snapshot_version: number;
  readonly sequence_number: number;
  readonly created_at: Date;
  readonly json: string;
}

const KIND_NAMES: Record<TypeKind, string> = {
  e: "event",
  a: "aggregate",
  c: "command",
};

const SNAPSHOT_TEXT = /^\d+:\d+:(\d+(,\d+)*)?$/;

export function checkPosition(mark: EventPosition): string {
  if (!SNAPSHOT_TEXT.test(mark)) {
    throw new SequentError(
      `Event position "${mark}" is not valid: use a value returned by positionMark()`,
    );
  }
  return mark;
}

/** A row of `readEvents`/`readAggregateEvents` (event columns null: none). */
export interface StreamEventRow {
  readonly horizon?: string | null;
  readonly x: string | null;
  readonly p: string | null;
  readonly aggregate_id: string | null;
  readonly sequence_number: number | null;
  readonly created_at: Date | null;
  readonly event_type_id: number | null;
  readonly json: string | null;
  readonly partition: number | null;
  readonly aggregate_type_id: number | null;
}

/**
 * The rows of a read in stream order: as they came when they came so (the
 * statement has no outer sort; see `readEvents` in `_event_store_sql.ts`),
 * else sorted.
 */
export function inStreamOrder(rows: StreamEventRow[]): StreamEventRow[] {
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1]!;
    const b = rows[i]!;
    if (compareXactPositions(a.x!, a.p!, b.x!, b.p!) > 0) {
      return [...rows].sort((r, q) =>
        compareXactPositions(r.x!, r.p!, q.x!, q.p!)
      );
    }
  }
  return rows;
}

export function uuidArray(ids: readonly string[]): string {
  return `{${ids.join(",")}}`;
}

/**
 * For each id that is a UUID (in order), the sequence number its events
 * start after: from `after`, else 0.
 */
function fromSequenceNumbers(
  aggregateIds: readonly string[],
  after: ReadonlyMap<string, number>,
): number[] {
  const from: number[] = [];
  for (const id of aggregateIds) {
    if (!isUuid(id)) continue;
    from.push(after.get(id) ?? 0);
  }
  return from;
}

/** The reads, over either executor. */
export class Reader implements EventStoreReader {
  readonly records: RecordStore;
  readonly #exec: Executor;
  readonly #sql: EventStoreSql;

  constructor(exec: Executor, sql: EventStoreSql, records: RecordStore) {
    this.#exec = exec;
    this.#sql = sql;
    this.records = records;
  }

  /** Makes sure every id is in the dictionary, reloading it once if not. */
  async #known(kind: TypeKind, ids: Iterable<number | null>): Promise<void> {
    const types = this.#exec.types;
    for (const id of ids) {
      if (id !== null && types.name(kind, id) === undefined) {
        await this.reloadTypes();
        return;
      }
    }
  }

  async reloadTypes(): Promise<void> {
    const rows = await this.#exec.run(this.#sql.typeDictionary, []);
    for (const row of rows) {
      this.#exec.types.add(
        row.kind as TypeKind,
        row.type as string,
        row.id as number,
      );
    }
  }

  #name(kind: TypeKind, id: number): string {
    const name = this.#exec.types.name(kind, id);
    if (name === undefined) {
      throw new SequentError(`Unknown ${KIND_NAMES[kind]} type id ${id}`);
    }
    return name;
  }

  async #events(rows: readonly SqlRow[]): Promise<SerializedEvent[]> {
    const events = rows as unknown as readonly EventRow[];
    await this.#known("e", events.map((r) => r.event_type_id));
    return events.map((r) => ({
      aggregateId: r.aggregate_id,
      sequenceNumber: r.sequence_number,
      createdAt: r.created_at,
      eventType: this.#name("e", r.event_type_id),
      payload: r.event_json,
    }));
  }

  /** {@inheritDoc EventReader.readEvents} */
  async readEvents(
    after: StreamPosition,
    options: ReadEventsOptions,
  ): Promise<EventBatch> {
    const limit = options.limit;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    }
    const [xact, position] = parseStreamPosition(after);
    // by name: the statement looks the ids up in its own snapshot
    const types = options.eventTypes === undefined
      ? null
      : JSON.stringify(options.eventTypes);
    const partitions = options.partitions === undefined
      ? null
      : `{${checkPartitions(options.partitions).join(",")}}`;
    const withTypes = options.withAggregateTypes === true;
    const sql = this.#sql;
    const rows = await this.#exec.run(
      partitions === null
        ? (withTypes ? sql.readEventsWithTypes : sql.readEvents)
        : (withTypes
          ? sql.readEventsOfPartitionsWithTypes
          : sql.readEventsOfPartitions),
      partitions === null
        ? [xact, position, limit, types]
        : [xact, position, limit, types, partitions],
    ) as unknown as StreamEventRow[];
    const horizon = rows[0]?.horizon;
    const found = rows[0]?.x === null || rows[0]?.x === undefined
      ? []
      : inStreamOrder(rows);
    await this.#known("e", found.map((r) => r.event_type_id));
    if (withTypes) {
      await this.#known(
        "a",
        found.map((r) => r.aggregate_type_id),
      );
    }
    const events: StoredEvent[] = found.map((r) => ({
      aggregateId: r.aggregate_id!,
      sequenceNumber: r.sequence_number!,
      createdAt: r.created_at!,
      eventType: this.#name("e", r.event_type_id!),
      payload: r.json!,
      position: `${r.x}:${r.p}`,
      partition: r.partition!,
      aggregateType: withTypes
        ? this.#name("a", r.aggregate_type_id!)
        : undefined,
    }));
    const caughtUp = events.length < limit;
    let next = events.at(-1)?.position ?? after;
    if (caughtUp && horizon !== undefined && horizon !== null) {
      // every transaction below the horizon has ended and was read
      const passed = `${BigInt(horizon) - 1n}:${MAX_POSITION}`;
      if (compareStreamPositions(passed, next) > 0) next = passed;
    }
    return { events, next, caughtUp };
  }

  /** {@inheritDoc EventReader.readAggregateEvents} */
  async readAggregateEvents(
    aggregateId: string,
    fromSequenceNumber: number,
    upTo: StreamPosition,
  ): Promise<StoredEvent[]> {
    if (!isUuid(aggregateId)) return [];
    const [xact, position] = parseStreamPosition(upTo);
    const rows = await this.#exec.run(this.#sql.readAggregateEvents, [
      aggregateId,
      fromSequenceNumber,
      xact,
      position,
    ]) as unknown as StreamEventRow[];
    await this.#known("e", rows.map((r) => r.event_type_id));
    await this.#known("a", rows.map((r) => r.aggregate_type_id));
    return rows.map((r) => ({
      aggregateId: r.aggregate_id!,
      sequenceNumber: r.sequence_number!,
      createdAt: r.created_at!,
      eventType: this.#name("e", r.event_type_id!),
      payload: r.json!,
      position: `${r.x}:${r.p}`,
      partition: r.partition!,
      aggregateType: this.#name("a", r.aggregate_type_id!),
    }));
  }

  /** {@inheritDoc EventReader.comparePositions} */
  comparePositions(a: StreamPosition, b: StreamPosition): number {
    return compareStreamPositions(a, b);
  }

  /** Events from rows of `EVENT_COLUMNS`, with their type names. */
  serializedEvents(rows: readonly SqlRow[]): Promise<SerializedEvent[]> {
    return this.#events(rows);
  }

  /** Command records from rows of `COMMAND_COLUMNS`. */
  commandRecords(rows: readonly SqlRow[]): Promise<CommandRecord[]> {
    return this.#commands(rows);
  }

  /** The names of type ids of one kind (the dictionary reloaded once for a new id). */
  async typeNames(kind: TypeKind, ids: readonly number[]): Promise<string[]> {
    await this.#known(kind, ids);
    return ids.map((id) => this.#name(kind, id));
  }

  async #commands(rows: readonly SqlRow[]): Promise<CommandRecord[]> {
    const commands = rows as unknown as readonly CommandRow[];
    await this.#known("c", commands.map((r) => r.command_type_id));
    return commands.map((r) => ({
      id: r.id,
      commandId: r.command_id,
      createdAt: r.created_at,
      commandType: this.#name("c", r.command_type_id),
      aggregateId: r.aggregate_id,
      userId: r.user_id ?? undefined,
      eventAggregateId: r.event_aggregate_id ?? undefined,
      eventSequenceNumber: r.event_sequence_number ?? undefined,
      payload: r.command_json,
      // only when traced: records of untraced commands keep their shape
      ...(r.trace_context === null ? {} : { traceparent: r.trace_context }),
    }));
  }

  async loadStreams(
    aggregateIds: readonly string[],
    options: LoadOptions = {},
  ): Promise<LoadedStream[]> {
    checkLoadOptions(options);
    const ids = aggregateIds.filter(isUuid).map((id) => id.toLowerCase());
    if (ids.length === 0) return [];
    const { until, snapshotVersion, after } = options;
    // the sequence number each id's events start after (0: all of them)
    const from = after && fromSequenceNumbers(aggregateIds, after);
    if (ids.length === 1) {
      const id = ids[0]!;
      if (snapshotVersion === undefined || from !== undefined) {
        return await this.#oneStream(
          id,
          (from !== undefined
            ? await this.#exec.run(this.#sql.loadStreamAfter, [id, from[0]!])
            : until !== undefined
            ? await this.#exec.run(this.#sql.loadStreamUntil, [id, until])
            : await this.#exec.run(this.#sql.loadStream, [
              id,
            ])) as unknown as readonly HeadedRow[],
        );
      }
      const rows = (await this.#exec.run(this.#sql.loadStreamFromSnapshot, [
        id,
        snapshotVersion,
      ])) as unknown as readonly StreamRow[];
      if (rows.length === 0) {
        return [];
      }
      await this.#known("a", [rows[0]!.aggregate_type_id]);
      await this.#known(
        "e",
        rows.map((r) => r.event_type_id),
      );
      return [this.#stream(id, rows, 0, rows.length, snapshotVersion)];
    }
    const rows =
      (from !== undefined
        ? await this.#exec.run(this.#sql.loadStreamsAfter, [
          uuidArray(ids),
          `{${from.join(",")}}`,
        ])
        : until !== undefined
        ? await this.#exec.run(this.#sql.loadStreamsUntil, [
          uuidArray(ids),
          until,
        ])
        : snapshotVersion !== undefined
        ? await this.#exec.run(this.#sql.loadStreamsFromSnapshot, [
          uuidArray(ids),
          snapshotVersion,
        ])
        : await this.#exec.run(this.#sql.loadStreams, [
          uuidArray(ids),
        ])) as unknown as readonly (StreamRow & { ord: number })[];
    await this.#known("a", rows.map((r) => r.aggregate_type_id));
    await this.#known("e", rows.map((r) => r.event_type_id));
    const streams: LoadedStream[] = [];
    let i = 0;
    while (i < rows.length) {
      const start = i;
      const ord = rows[i]!.ord;
      while (i < rows.length && rows[i]!.ord === ord) i++;
      streams.push(
        this.#stream(ids[ord - 1]!, rows, start, i, snapshotVersion),
      );
    }
    return streams;
  }

  /**
   * One stream from a single-stream query's rows: a head row with the
   * aggregate's type and partition key, then its events. No stream when
   * there is no event.
   */
  async #oneStream(
    aggregateId: string,
    rows: readonly HeadedRow[],
  ): Promise<LoadedStream[]> {
    const head = rows[0];
    if (rows.length < 2 || head!.sequence_number !== null) return [];
    await this.#known("a", [head!.event_type_id]);
    const names = this.#exec.types;
    let unknown = false;
    for (let i = 1; i < rows.length; i++) {
      if (names.name("e", rows[i]!.event_type_id) === undefined) {
        unknown = true;
        break;
      }
    }
    if (unknown) await this.reloadTypes();
    const events: SerializedEvent[] = new Array(rows.length - 1);
    for (let i = 1; i < rows.length; i++) {
      const r = rows[i]!;
      events[i - 1] = {
        aggregateId,
        sequenceNumber: r.sequence_number!,
        createdAt: r.created_at!,
        eventType: names.name("e", r.event_type_id) ??
          this.#name("e", r.event_type_id),
        payload: r.json,
      };
    }
    return [{
      aggregateId,
      aggregateType: this.#name("a", head!.event_type_id),
      partitionKey: head!.json,
      snapshot: undefined,
      events,
    }];
  }

  /** One stream from `rows[start..end)`: a snapshot row, then events. */
  #stream(
    aggregateId: string,
    rows: readonly StreamRow[],
    start: number,
    end: number,
    snapshotVersion: number | undefined,
  ): LoadedStream {
    const head = rows[start]!;
    const aggregateType = this.#name("a", head.aggregate_type_id);
    let snapshot: SerializedSnapshot | undefined;
    const events: SerializedEvent[] = [];
    const names = this.#exec.types;
    for (let i = start; i < end; i++) {
      const r = rows[i]!;
      if (r.kind === 0) {
        snapshot = {
          aggregateId,
          aggregateType,
          version: snapshotVersion ?? 0,
          sequenceNumber: r.sequence_number,
          createdAt: r.created_at,
          data: r.json,
        };
      } else {
        events.push({
          aggregateId,
          sequenceNumber: r.sequence_number,
          createdAt: r.created_at,
          eventType: names.name("e", r.event_type_id!) ??
            this.#name("e", r.event_type_id!),
          payload: r.json,
        });
      }
    }
    return {
      aggregateId,
      aggregateType,
      partitionKey: head.events_partition_key,
      snapshot,
      events,
    };
  }

  async loadEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<SerializedEvent | undefined> {
    if (!isUuid(aggregateId)) return undefined;
    const rows = await this.#exec.run(this.#sql.loadEvent, [
      aggregateId,
      sequenceNumber,
    ]);
    return (await this.#events(rows))[0];
  }

  async streamExists(aggregateId: string): Promise<boolean> {
    if (!isUuid(aggregateId)) return false;
    const [row] = await this.#exec.run(this.#sql.streamExists, [aggregateId]);
    return row?.found === true;
  }

  async findAggregateIdByUniqueKey(
    scope: string,
    key: JsonValue,
  ): Promise<string | undefined> {
    if (!isStorableUniqueKey(scope, key)) return undefined;
    const [row] = await this.#exec.run(this.#sql.findByUniqueKey, [
      scope,
      JSON.stringify(key),
    ]);
    return row?.aggregate_id as string | undefined;
  }

  async positionMark(): Promise<EventPosition> {
    const [row] = await this.#exec.run(this.#sql.positionMark, []);
    return row!.mark as string;
  }

  async eventsSince(mark: EventPosition): Promise<SerializedEvent[]> {
    const rows = await this.#exec.run(this.#sql.eventsSince, [
      checkPosition(mark),
    ]);
    return await this.#events(rows);
  }

  async *readAllEvents(
    options: ReadAllOptions = {},
  ): AsyncIterable<SerializedEvent[]> {
    const batchSize = options.batchSize ?? 1000;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `Batch size ${batchSize} is not valid: use a positive integer`,
      );
    }
    const after = options.after === undefined
      ? undefined
      : checkPosition(options.after);
    // Everything committed as of one snapshot, taken now: rows visible in
    // it are final (no transaction still running can add any), so keyset
    // pagination in (xact_id, position) order skips nothing. Transactions
    // running now are read later, by eventsSince() with an earlier mark.
    // Taken before the types are looked up: a type registered by a
    // transaction within the mark is then known.
    const asOf = await this.positionMark();
    let typeIds: string | undefined;
    if (options.eventTypes !== undefined) {
      const types = this.#exec.types;
      if (
        options.eventTypes.some((name) => types.id("e", name) === undefined)
      ) {
        await this.reloadTypes();
      }
      const ids = options.eventTypes
        .map((name) => types.id("e", name))
        .filter((id): id is number => id !== undefined);
      if (ids.length === 0) return;
      typeIds = `{${ids.join(",")}}`;
    }
    const text = this.#sql.readAll({
      after: after !== undefined,
      types: typeIds !== undefined,
    });
    let lastXact = "0";
    let lastPosition = "0";
    for (;;) {
      const params: SqlValue[] = [lastXact, lastPosition, batchSize, asOf];
      if (after !== undefined) params.push(after);
      if (typeIds !== undefined) params.push(typeIds);
      const rows = await this.#exec.run(text, params);
      if (rows.length === 0) return;
      const last = rows.at(-1)!;
      lastXact = last.xact_id as string;
      lastPosition = last.position as string;
      yield await this.#events(rows);
      if (rows.length < batchSize) return;
    }
  }

  async commandForEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord | undefined> {
    if (!isUuid(aggregateId)) return undefined;
    const rows = await this.#exec.run(this.#sql.commandForEvent, [
      aggregateId,
      sequenceNumber,
    ]);
    return (await this.#commands(rows))[0];
  }

  async commandsCausedBy(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord[]> {
    if (!isUuid(aggregateId)) return [];
    const rows = await this.#exec.run(this.#sql.commandsCausedBy, [
      aggregateId,
      sequenceNumber,
    ]);
    return await this.#commands(rows);
  }

  async eventsOfCommand(commandId: string): Promise<SerializedEvent[]> {
    if (!/^\d{1,19}$/.test(commandId)) return [];
    const rows = await this.#exec.run(this.#sql.eventsOfCommand, [commandId]);
    return await this.#events(rows);
  }

  async snapshot(
    row: SqlRow | undefined,
  ): Promise<SerializedSnapshot | undefined> {
    if (row === undefined) return undefined;
    const r = row as unknown as SnapshotRow;
    await this.#known("a", [r.aggregate_type_id]);
    return {
      aggregateId: r.aggregate_id,
      aggregateType: this.#name("a", r.aggregate_type_id),
      version: r.snapshot_version,
      sequenceNumber: r.sequence_number,
      createdAt: r.created_at,
      data: r.json,
    };
  }

  async candidates(rows: readonly SqlRow[]): Promise<SnapshotCandidate[]> {
    await this.#known("a", rows.map((r) => r.aggregate_type_id as number));
    return rows.map((r) => ({
      aggregateId: r.aggregate_id as string,
      aggregateType: this.#name("a", r.aggregate_type_id as number),
    }));
  }
}
