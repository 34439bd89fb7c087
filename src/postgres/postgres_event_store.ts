/**
 * The PostgreSQL implementation of the {@linkcode EventStore} port, over any
 * {@linkcode SqlClient}: a PostgreSQL server or the embedded PGlite.
 *
 * @module
 */
import { AggregateNotFoundError, SequentError } from "../core/errors.ts";
import type {
  CommandRecord,
  EventPosition,
  EventStore,
  EventStoreReader,
  EventStoreTransaction,
  LoadedStream,
  LoadOptions,
  ReadAllOptions,
  SerializedCommand,
  SerializedEvent,
  SerializedSnapshot,
  SnapshotCandidate,
  StreamCommit,
  TransactionOptions,
} from "../core/event_store.ts";
import type { JsonValue } from "../core/json.ts";
import type {
  EventBatch,
  EventReader,
  ReadEventsOptions,
  StoredEvent,
  StreamPosition,
} from "../core/event_reader.ts";
import type { SqlClient, SqlRow, SqlValue } from "./sql_client.ts";
import { SqlError } from "./sql_error.ts";
import { DEFAULT_EVENT_STORE_SCHEMA } from "./schema.ts";
import { quotedSchema } from "./_sql_text.ts";
import { type EventStoreSql, eventStoreSql } from "./_event_store_sql.ts";
import { TypeDictionary, type TypeKind } from "./_type_dictionary.ts";
import { buildSnapshots, isUuid, uuidOf } from "./_commit_json.ts";
import {
  checkStorableSnapshots,
  isStorableUniqueKey,
} from "../core/_storable_commit.ts";
import { SqlRecordStore } from "./sql_record_store.ts";
import { type Executor, Unit, UnitSql } from "./_unit.ts";
import type { RecordStore } from "../core/record_store.ts";

/**
 * Options of {@linkcode PostgresEventStore}.
 *
 * @example
 * ```ts
 * import type { PostgresEventStoreOptions } from "@sequent/core/postgres";
 *
 * const options: PostgresEventStoreOptions = { schema: "sequent_schema", closeClient: false };
 * ```
 */
export interface PostgresEventStoreOptions {
  /**
   * The schema {@linkcode installEventStore} installed into (default
   * `sequent_schema`).
   */
  readonly schema?: string | undefined;
  /**
   * The schema of the read-model tables that {@linkcode
   * PostgresEventStore.records} reads and writes (default `view_schema`).
   */
  readonly viewSchema?: string | undefined;
  /**
   * Whether {@linkcode PostgresEventStore.close} closes the client too
   * (default true). Pass false when the client is shared.
   */
  readonly closeClient?: boolean | undefined;
}

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

interface CommandRow {
  readonly id: string;
  readonly created_at: Date;
  readonly user_id: string | null;
  readonly aggregate_id: string;
  readonly command_type_id: number;
  readonly command_json: string;
  readonly event_aggregate_id: string | null;
  readonly event_sequence_number: number | null;
}

interface SnapshotRow {
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

function checkPosition(mark: EventPosition): string {
  if (!SNAPSHOT_TEXT.test(mark)) {
    throw new SequentError(
      `Event position "${mark}" is not valid: use a value returned by positionMark()`,
    );
  }
  return mark;
}

/** A row of `readEvents`/`readAggregateEvents` (event columns null: none). */
interface StreamEventRow {
  readonly horizon?: string | null;
  readonly x: string | null;
  readonly p: string | null;
  readonly aggregate_id: string | null;
  readonly sequence_number: number | null;
  readonly created_at: Date | null;
  readonly event_type_id: number | null;
  readonly json: string | null;
}

/** The largest `position` (a bigint): "past every event of that transaction". */
const MAX_POSITION = "9223372036854775807";

const STREAM_POSITION = /^(\d{1,20}):(\d{1,19})$/;

/**
 * A stream position's transaction id and position (`"x:p"`; `""` is the
 * start).
 */
export function parseStreamPosition(
  position: StreamPosition,
): [string, string] {
  if (position === "") return ["0", "0"];
  const m = STREAM_POSITION.exec(position);
  if (!m) {
    throw new SequentError(
      `Stream position ${
        JSON.stringify(position)
      } is not valid: use a position this store gave`,
    );
  }
  return [m[1]!, m[2]!];
}

/** Orders two stream positions of the PostgreSQL store. */
export function compareStreamPositions(
  a: StreamPosition,
  b: StreamPosition,
): number {
  const [ax, ap] = parseStreamPosition(a);
  const [bx, bp] = parseStreamPosition(b);
  const x = BigInt(ax) - BigInt(bx);
  if (x !== 0n) return x < 0n ? -1 : 1;
  const p = BigInt(ap) - BigInt(bp);
  return p === 0n ? 0 : p < 0n ? -1 : 1;
}

function uuidArray(ids: readonly string[]): string {
  return `{${ids.join(",")}}`;
}

/** The reads, over either executor. */
class Reader implements EventStoreReader {
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

  /** Type ids of the given names (those never stored are left out). */
  async typeIds(names: readonly string[]): Promise<number[]> {
    const types = this.#exec.types;
    if (names.some((name) => types.id("e", name) === undefined)) {
      await this.reloadTypes();
    }
    return names.map((name) => types.id("e", name)).filter((id) =>
      id !== undefined
    ) as number[];
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
    let types: string | null = null;
    if (options.eventTypes !== undefined) {
      types = `{${(await this.typeIds(options.eventTypes)).join(",")}}`;
    }
    const rows = await this.#exec.run(this.#sql.readEvents, [
      xact,
      position,
      limit,
      types,
    ]) as unknown as StreamEventRow[];
    const horizon = rows[0]?.horizon;
    const found = rows[0]?.x === null || rows[0]?.x === undefined ? [] : rows;
    await this.#known("e", found.map((r) => r.event_type_id));
    const events: StoredEvent[] = found.map((r) => ({
      aggregateId: r.aggregate_id!,
      sequenceNumber: r.sequence_number!,
      createdAt: r.created_at!,
      eventType: this.#name("e", r.event_type_id!),
      payload: r.json!,
      position: `${r.x}:${r.p}`,
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
    return rows.map((r) => ({
      aggregateId: r.aggregate_id!,
      sequenceNumber: r.sequence_number!,
      createdAt: r.created_at!,
      eventType: this.#name("e", r.event_type_id!),
      payload: r.json!,
      position: `${r.x}:${r.p}`,
    }));
  }

  /** {@inheritDoc EventReader.comparePositions} */
  comparePositions(a: StreamPosition, b: StreamPosition): number {
    return compareStreamPositions(a, b);
  }

  async #commands(rows: readonly SqlRow[]): Promise<CommandRecord[]> {
    const commands = rows as unknown as readonly CommandRow[];
    await this.#known("c", commands.map((r) => r.command_type_id));
    return commands.map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      commandType: this.#name("c", r.command_type_id),
      aggregateId: r.aggregate_id,
      userId: r.user_id ?? undefined,
      eventAggregateId: r.event_aggregate_id ?? undefined,
      eventSequenceNumber: r.event_sequence_number ?? undefined,
      payload: r.command_json,
    }));
  }

  async loadStreams(
    aggregateIds: readonly string[],
    options: LoadOptions = {},
  ): Promise<LoadedStream[]> {
    const ids = aggregateIds.filter(isUuid).map((id) => id.toLowerCase());
    if (ids.length === 0) return [];
    const { until, snapshotVersion } = options;
    if (ids.length === 1) {
      const id = ids[0]!;
      const rows = (until !== undefined
        ? await this.#exec.run(this.#sql.loadStreamUntil, [id, until])
        : snapshotVersion !== undefined
        ? await this.#exec.run(this.#sql.loadStreamFromSnapshot, [
          id,
          snapshotVersion,
        ])
        : await this.#exec.run(this.#sql.loadStream, [
          id,
        ])) as unknown as readonly StreamRow[];
      if (rows.length === 0) {
        return [];
      }
      await this.#known("a", [rows[0]!.aggregate_type_id]);
      await this.#known(
        "e",
        rows.map((r) =>
          r.event_type_id
        ),
      );
      return [this.#stream(id, rows, 0, rows.length, snapshotVersion)];
    }
    const rows =
      (until !== undefined
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
    // Everything committed as of one snapshot, taken now: rows visible in
    // it are final (no transaction still running can add any), so keyset
    // pagination in (xact_id, position) order skips nothing. Transactions
    // running now are read later, by eventsSince() with an earlier mark.
    const asOf = await this.positionMark();
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

/** The transaction handed to a unit's work. */
class UnitTransaction extends Reader implements EventStoreTransaction {
  readonly #unit: Unit;

  constructor(unit: Unit, sql: EventStoreSql, viewSchema: string) {
    super(unit, sql, new SqlRecordStore(new UnitSql(unit), viewSchema));
    this.#unit = unit;
  }

  commit(
    command: SerializedCommand,
    streams: readonly StreamCommit[],
  ): Promise<void> {
    try {
      this.#unit.commit(command, streams);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/**
 * The event store on PostgreSQL, over a {@linkcode SqlClient} (a server or
 * the embedded PGlite). Install the schema first with
 * {@linkcode installEventStore}.
 *
 * - **Commits** take one round trip: every commit of a unit of work
 *   (command records, aggregates, events, unique keys, snapshot marks) goes
 *   to the server as one statement when the unit ends, the first write of
 *   its transaction, followed by the read-model writes; a unit that commits
 *   once and reads nothing afterwards is exactly that one statement,
 *   without BEGIN or COMMIT. Errors of a commit
 *   ({@linkcode OptimisticLockError},
 *   {@linkcode AggregateKeyNotUniqueError}) therefore surface when the
 *   statement runs: from `transaction()` itself, or from a read in the unit
 *   that must see the commit, not from `commit()`.
 * - **Ordering**: because the events are a transaction's first write, the
 *   transaction gets its id only after it has read the streams it appends
 *   to, so of two commits to one stream the earlier has the smaller
 *   `xact_id`: reading in (`xact_id`, `position`) order never sees S:3
 *   before S:2.
 * - **Concurrency**: a commit locks its aggregates' rows in id order and
 *   checks that each stream's first new sequence number is the stored last
 *   plus one; a unique key taken by another aggregate fails the commit.
 *   Nothing of a failed commit is stored.
 * - **Ordering**: every event carries the id of the transaction that wrote
 *   it (`xact_id`, `pg_current_xact_id()`) and a position from a sequence;
 *   "commit order" is (`xact_id`, `position`) order.
 *   {@linkcode PostgresEventStore.positionMark} is a snapshot
 *   (`pg_current_snapshot()`); "since a mark" means written by a
 *   transaction the snapshot did not see, so a transaction that was still
 *   running at the mark is never missed, however late it commits.
 *   {@linkcode PostgresEventStore.readAllEvents} reads everything committed
 *   as of one snapshot taken when it starts, in that order, by keyset
 *   pagination: rows visible in a snapshot are final, so no page can miss
 *   one. A transaction running at that moment is not included: take a mark
 *   before the replay and read {@linkcode PostgresEventStore.eventsSince}
 *   it afterwards (events committed meanwhile come twice rather than
 *   never). Unlike reading only below the oldest running transaction (the
 *   snapshot's xmin), this is not held back by a long transaction elsewhere
 *   in the cluster.
 * - **Units of work** hold no connection while their work runs. A read
 *   that must see the unit's buffered commits runs speculatively: in a
 *   transaction that replays them, reads and rolls back, in one round trip.
 * - **Type names** are stored as smallint ids; the store caches the mapping
 *   and registers new names inside the commit that first uses them
 *   (concurrent registrations of one name are safe).
 * - Aggregate ids must be UUIDs; they come back in lowercase.
 *
 * @example Store and load a stream
 * ```ts
 * import { connectDatabase, installEventStore, PostgresEventStore } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://");
 * await installEventStore(client);
 * const store = new PostgresEventStore(client);
 * const id = crypto.randomUUID();
 * await store.transaction((tx) =>
 *   tx.commit(
 *     { commandType: "AddPost", aggregateId: id, userId: undefined, eventAggregateId: undefined, eventSequenceNumber: undefined, payload: "{}" },
 *     [{
 *       aggregateId: id, aggregateType: "Post", partitionKey: "", uniqueKeys: {}, snapshotThreshold: undefined,
 *       events: [{ aggregateId: id, sequenceNumber: 1, createdAt: new Date(), eventType: "PostAdded", payload: '{"title":"Hi"}' }],
 *     }],
 *   )
 * );
 * const [stream] = await store.loadStreams([id]);
 * console.assert(stream?.events[0]?.eventType === "PostAdded");
 * await store.close();
 * ```
 */
export class PostgresEventStore implements EventStore, EventReader {
  /**
   * The read-model tables in the view schema; each call stands alone (a
   * statement of its own). Inside {@linkcode PostgresEventStore.transaction}
   * use the transaction's `records`, whose writes travel with the commits.
   */
  readonly records: RecordStore;
  readonly #client: SqlClient;
  readonly #schema: string;
  readonly #viewSchema: string;
  readonly #sql: EventStoreSql;
  readonly #types: TypeDictionary = new TypeDictionary();
  readonly #reader: Reader;
  readonly #closeClient: boolean;
  #closed = false;

  /**
   * Creates the store over a client; it opens nothing by itself.
   *
   * @param client The database, with the schema installed.
   * @param options The schema and whether `close()` closes the client.
   */
  constructor(client: SqlClient, options: PostgresEventStoreOptions = {}) {
    this.#client = client;
    this.#schema = options.schema ?? DEFAULT_EVENT_STORE_SCHEMA;
    this.#sql = eventStoreSql(quotedSchema(this.#schema));
    this.#viewSchema = options.viewSchema ?? "view_schema";
    quotedSchema(this.#viewSchema);
    this.#closeClient = options.closeClient ?? true;
    this.records = new SqlRecordStore(client, this.#viewSchema);
    this.#reader = new Reader(
      {
        run: (text, params) => {
          this.#check();
          return client.query(text, params);
        },
        types: this.#types,
      },
      this.#sql,
      this.records,
    );
  }

  #check(): void {
    if (this.#closed) {
      throw new SequentError("The event store is closed");
    }
  }

  /**
   * Runs `work` as one unit: its commits are stored together when `work`
   * resolves, and none when it (or a commit) fails. See the class
   * documentation for how few round trips that takes.
   *
   * @typeParam T What `work` resolves to.
   * @param work Reads and commits through the transaction it is given.
   * @param options `rollback: true` for a dry run: the commits run (so
   *   their errors show) and are rolled back.
   * @returns What `work` resolved to.
   */
  async transaction<T>(
    work: (tx: EventStoreTransaction) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    this.#check();
    options.signal?.throwIfAborted();
    const unit = new Unit(
      this.#client,
      this.#sql,
      this.#types,
      this.#schema,
      options.signal,
    );
    let result: T;
    try {
      result = await work(
        new UnitTransaction(unit, this.#sql, this.#viewSchema),
      );
    } catch (error) {
      await unit.abort();
      throw error;
    }
    const position = await unit.finish(options.rollback ?? false);
    if (position !== undefined) options.onStored?.(position);
    return result;
  }

  /**
   * Loads streams in one query; see {@linkcode EventStoreReader.loadStreams}.
   *
   * @param aggregateIds The aggregates (ids that are not UUIDs are unknown).
   * @param options Time travel (`until`) or a snapshot version to start from.
   * @returns The streams found, in the order asked.
   */
  loadStreams(
    aggregateIds: readonly string[],
    options?: LoadOptions,
  ): Promise<LoadedStream[]> {
    return this.#reader.loadStreams(aggregateIds, options);
  }

  /**
   * One event by aggregate and sequence number.
   *
   * @param aggregateId The aggregate.
   * @param sequenceNumber The event's sequence number.
   * @returns The event, if stored.
   */
  loadEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<SerializedEvent | undefined> {
    return this.#reader.loadEvent(aggregateId, sequenceNumber);
  }

  /** {@inheritDoc EventReader.readEvents} */
  readEvents(
    after: StreamPosition,
    options: ReadEventsOptions,
  ): Promise<EventBatch> {
    this.#check();
    return this.#reader.readEvents(after, options);
  }

  /** {@inheritDoc EventReader.readAggregateEvents} */
  readAggregateEvents(
    aggregateId: string,
    fromSequenceNumber: number,
    upTo: StreamPosition,
  ): Promise<StoredEvent[]> {
    this.#check();
    return this.#reader.readAggregateEvents(
      aggregateId,
      fromSequenceNumber,
      upTo,
    );
  }

  /** {@inheritDoc EventReader.comparePositions} */
  comparePositions(a: StreamPosition, b: StreamPosition): number {
    return compareStreamPositions(a, b);
  }

  /**
   * Whether a command with this id is stored; see
   * {@linkcode EventStore.commandStored}. A commit of that id still under
   * way on the server is waited for.
   *
   * @param commandId The command's id.
   * @returns `true` once stored, `false` if not.
   */
  async commandStored(commandId: string): Promise<boolean> {
    this.#check();
    const id = uuidOf(commandId, "Command id");
    try {
      await this.#client.query(this.#sql.commandStored, [id]);
      return true;
    } catch (error) {
      if (error instanceof SqlError && error.code === "23503") return false;
      throw error;
    }
  }

  /**
   * Whether any event is stored for the aggregate.
   *
   * @param aggregateId The aggregate.
   * @returns True when it has events.
   */
  streamExists(aggregateId: string): Promise<boolean> {
    return this.#reader.streamExists(aggregateId);
  }

  /**
   * The aggregate holding a unique key.
   *
   * @param scope The key's scope.
   * @param key The key.
   * @returns The aggregate's id, if any holds it.
   */
  findAggregateIdByUniqueKey(
    scope: string,
    key: JsonValue,
  ): Promise<string | undefined> {
    return this.#reader.findAggregateIdByUniqueKey(scope, key);
  }

  /**
   * The current position: a snapshot of which transactions have committed.
   *
   * @returns An opaque mark for {@linkcode PostgresEventStore.eventsSince}.
   */
  positionMark(): Promise<EventPosition> {
    return this.#reader.positionMark();
  }

  /**
   * The events written by transactions `mark` did not see, in
   * (`xact_id`, `position`) order.
   *
   * @param mark A value from {@linkcode PostgresEventStore.positionMark}.
   * @returns The events.
   */
  eventsSince(mark: EventPosition): Promise<SerializedEvent[]> {
    return this.#reader.eventsSince(mark);
  }

  /**
   * Every event committed when the read starts, in (`xact_id`, `position`)
   * order, in batches, by keyset pagination (see the class documentation).
   *
   * @param options Batch size, event types, and a mark to start after.
   * @returns The batches.
   */
  readAllEvents(options?: ReadAllOptions): AsyncIterable<SerializedEvent[]> {
    return this.#reader.readAllEvents(options);
  }

  /**
   * The command record that stored an event.
   *
   * @param aggregateId The event's aggregate.
   * @param sequenceNumber The event's sequence number.
   * @returns The command record, if the event exists.
   */
  commandForEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord | undefined> {
    return this.#reader.commandForEvent(aggregateId, sequenceNumber);
  }

  /**
   * The commands issued while an event was handled.
   *
   * @param aggregateId The event's aggregate.
   * @param sequenceNumber The event's sequence number.
   * @returns The command records, oldest first.
   */
  commandsCausedBy(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord[]> {
    return this.#reader.commandsCausedBy(aggregateId, sequenceNumber);
  }

  /**
   * The events a command record stored.
   *
   * @param commandId The command record's id.
   * @returns The events, in the order they were stored.
   */
  eventsOfCommand(commandId: string): Promise<SerializedEvent[]> {
    return this.#reader.eventsOfCommand(commandId);
  }

  /**
   * Stores snapshots in one statement (a snapshot with the same aggregate,
   * version and sequence number is replaced) and clears the snapshot mark
   * of aggregates whose snapshot is now up to date. Throws
   * {@linkcode AggregateNotFoundError} (storing none) when an aggregate does
   * not exist.
   *
   * @param snapshots The snapshots.
   */
  async storeSnapshots(
    snapshots: readonly SerializedSnapshot[],
  ): Promise<void> {
    this.#check();
    if (snapshots.length === 0) return;
    checkStorableSnapshots(snapshots);
    try {
      await this.#client.query(this.#sql.storeSnapshots, [
        buildSnapshots(snapshots),
      ]);
    } catch (error) {
      const missing = error instanceof SqlError && error.code === "23503"
        ? /\(aggregate_id\)=\(([0-9a-f-]{36})\)/.exec(error.detail ?? "")?.[1]
        : undefined;
      if (missing !== undefined) throw new AggregateNotFoundError([missing]);
      throw error;
    }
  }

  /**
   * The latest snapshot of an aggregate.
   *
   * @param aggregateId The aggregate.
   * @param version Only snapshots of this version (default: any).
   * @returns The snapshot with the highest sequence number, if any.
   */
  async loadLatestSnapshot(
    aggregateId: string,
    version?: number,
  ): Promise<SerializedSnapshot | undefined> {
    this.#check();
    if (!isUuid(aggregateId)) return undefined;
    const rows = version === undefined
      ? await this.#client.query(this.#sql.loadLatestSnapshot, [aggregateId])
      : await this.#client.query(this.#sql.loadLatestSnapshotOfVersion, [
        aggregateId,
        version,
      ]);
    return await this.#reader.snapshot(rows[0]);
  }

  /**
   * Aggregates marked as needing a snapshot, the longest-marked first (then
   * the most events first).
   *
   * @param limit How many at most.
   * @returns The candidates.
   */
  async aggregatesNeedingSnapshots(
    limit: number,
  ): Promise<SnapshotCandidate[]> {
    this.#check();
    const rows = await this.#client.query(
      this.#sql.aggregatesNeedingSnapshots,
      [limit],
    );
    return await this.#reader.candidates(rows);
  }

  /**
   * Marks aggregates as needing a snapshot; unknown ids are ignored.
   *
   * @param aggregateIds The aggregates.
   */
  async markForSnapshotting(aggregateIds: readonly string[]): Promise<void> {
    this.#check();
    const ids = aggregateIds.filter(isUuid);
    if (ids.length === 0) return;
    await this.#client.query(this.#sql.markForSnapshotting, [uuidArray(ids)]);
  }

  /**
   * Deletes every snapshot and marks the aggregates that had one as needing
   * a new one.
   */
  async deleteAllSnapshots(): Promise<void> {
    this.#check();
    await this.#client.query(this.#sql.deleteAllSnapshots, []);
  }

  /**
   * Deletes the snapshots whose version is not the current one of their
   * aggregate type, including every snapshot of a type missing from
   * `currentVersions`. Aggregates of a listed type that lost a snapshot are
   * marked as needing a new one.
   *
   * @param currentVersions The current snapshot version by aggregate type.
   * @returns How many snapshots were deleted.
   */
  async deleteSnapshotsOfOtherVersions(
    currentVersions: Readonly<Record<string, number>>,
  ): Promise<number> {
    this.#check();
    const [row] = await this.#client.query(
      this.#sql.deleteSnapshotsOfOtherVersions,
      [JSON.stringify(currentVersions)],
    );
    return (row?.deleted as number | undefined) ?? 0;
  }

  /**
   * Deletes a stream in one transaction: its events (copied to the archive
   * first, by a trigger), unique keys, snapshots, snapshot mark and
   * aggregate row. Command records stay.
   *
   * @param aggregateId The aggregate.
   * @returns How many events were deleted.
   */
  async deleteStream(aggregateId: string): Promise<number> {
    this.#check();
    if (!isUuid(aggregateId)) return 0;
    const [row] = await this.#client.query(this.#sql.deleteStream, [
      uuidOf(aggregateId),
    ]);
    return (row?.deleted as number | undefined) ?? 0;
  }

  /**
   * The archived copies of an aggregate's deleted events.
   *
   * @param aggregateId The aggregate.
   * @returns The events, in the order they were deleted.
   */
  async archivedEvents(aggregateId: string): Promise<SerializedEvent[]> {
    this.#check();
    if (!isUuid(aggregateId)) return [];
    const rows = await this.#client.query(this.#sql.archivedEvents, [
      aggregateId,
    ]);
    return rows.map((r) => ({
      aggregateId: r.aggregate_id as string,
      sequenceNumber: r.sequence_number as number,
      createdAt: r.created_at as Date,
      eventType: r.event_type as string,
      payload: r.event_json as string,
    }));
  }

  /** Closes the client (unless `closeClient: false`); idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#closeClient) await this.#client.close();
  }
}
