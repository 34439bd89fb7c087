/**
 * The PostgreSQL implementation of the {@linkcode EventStore} port, over any
 * {@linkcode SqlClient}: a PostgreSQL server or the embedded PGlite. The
 * write path is the unit of work (`_unit.ts`), the reads and audit queries
 * are in `_event_store_reads.ts`, stream positions in `_stream_position.ts`;
 * this file holds the store itself: transactions, snapshots, the archive.
 *
 * @module
 */
import { AggregateNotFoundError, SequentError } from "../core/errors.ts";
import type {
  CommandRecord,
  EventPosition,
  EventStore,
  EventStoreTransaction,
  LoadedStream,
  LoadOptions,
  ReadAllOptions,
  SerializedEvent,
  SerializedSnapshot,
  SnapshotCandidate,
  TransactionOptions,
} from "../core/event_store.ts";
import type { JsonValue } from "../core/json.ts";
import type {
  EventBatch,
  EventReader,
  ReadEventsOptions,
  ReplayEventsOptions,
  ReplayReader,
  StoredEvent,
  StreamPosition,
} from "../core/event_reader.ts";
import type { SqlClient, SqlValue } from "./sql_client.ts";
import { SqlError } from "./sql_error.ts";
import { DEFAULT_EVENT_STORE_SCHEMA } from "./schema.ts";
import { quotedSchema } from "./_sql_text.ts";
import { type EventStoreSql, eventStoreSql } from "./_event_store_sql.ts";
import { TypeDictionary } from "./_type_dictionary.ts";
import { parseStreamPosition } from "./_stream_position.ts";
import { buildSnapshots, isUuid, uuidOf } from "./_commit_json.ts";
import { checkStorableSnapshots } from "../core/_storable_commit.ts";
import { SqlRecordStore } from "./sql_record_store.ts";
import { Unit } from "./_unit.ts";
import { compareStreamPositions } from "./_stream_position.ts";
import { Reader, uuidArray } from "./_event_store_reads.ts";
import { CopyReplayReader } from "./_replay_reader.ts";
import { UnitTransaction } from "./_unit_transaction.ts";
import type { RecordStore } from "../core/record_store.ts";
import type {
  AggregateSummary,
  BrowsedEvent,
  BrowseQueries,
  EventPage,
  EventSearch,
  PageRequest,
} from "../core/browse_queries.ts";
import { BrowseReader } from "./_browse_queries.ts";
import { traceContextsParams, traceContextsSql } from "./_trace_contexts.ts";

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
 * - **Positions and marks**: every event carries the id of the transaction
 *   that wrote it (`xact_id`, `pg_current_xact_id()`) and a position from a
 *   sequence; "commit order" is (`xact_id`, `position`) order.
 *   {@linkcode PostgresEventStore.readEvents} (the processors' reader)
 *   reads in that order only below the oldest transaction still running.
 *   {@linkcode PostgresEventStore.positionMark} is a snapshot
 *   (`pg_current_snapshot()`); "since a mark" means written by a
 *   transaction the snapshot did not see, so a transaction that was still
 *   running at the mark is never missed, however late it commits.
 *   {@linkcode PostgresEventStore.replayEvents} (replays) reads a range
 *   grouped by aggregate, with `COPY`, up to a boundary below which every
 *   transaction has ended ({@linkcode PostgresEventStore.replayBoundary}).
 *   {@linkcode PostgresEventStore.readAllEvents} (audits) reads everything
 *   committed as of one snapshot taken when it starts, in commit order, by
 *   keyset pagination: rows visible in a snapshot are final, so no page can
 *   miss one. A transaction running at that moment is not included: take a
 *   mark first and read {@linkcode PostgresEventStore.eventsSince} it
 *   afterwards (events committed meanwhile come twice rather than never).
 *   Unlike reading only below the oldest running transaction (the
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
export class PostgresEventStore
  implements EventStore, EventReader, ReplayReader, BrowseQueries {
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
  readonly #replay: CopyReplayReader;
  readonly #browse: BrowseReader;
  readonly #closeClient: boolean;
  readonly #traceContextsSql: string;
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
    this.#traceContextsSql = traceContextsSql(quotedSchema(this.#schema));
    this.#viewSchema = options.viewSchema ?? "view_schema";
    quotedSchema(this.#viewSchema);
    this.#closeClient = options.closeClient ?? true;
    this.records = new SqlRecordStore(client, this.#viewSchema);
    this.#replay = new CopyReplayReader(client, quotedSchema(this.#schema));
    const exec = {
      run: (text: string, params: readonly SqlValue[]) => {
        this.#check();
        return client.query(text, params);
      },
      types: this.#types,
    };
    this.#reader = new Reader(exec, this.#sql, this.records);
    this.#browse = new BrowseReader(
      exec,
      this.#reader,
      quotedSchema(this.#schema),
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
    if (position !== undefined) {
      options.onStored?.(position, parseStreamPosition(position)[0]);
    }
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

  /** {@inheritDoc EventReader.traceContexts} */
  async traceContexts(
    events: readonly StoredEvent[],
    limit: number,
  ): Promise<readonly string[]> {
    this.#check();
    if (events.length === 0) return [];
    const rows = await this.#client.query(
      this.#traceContextsSql,
      traceContextsParams(events, limit),
    );
    return rows.map((r) => r.tc as string);
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
   * `"<xmin>:0"`: every transaction below the oldest one still running has
   * ended (see {@linkcode ReplayReader.replayBoundary}).
   *
   * @returns The boundary.
   */
  replayBoundary(): Promise<StreamPosition> {
    this.#check();
    return this.#replay.replayBoundary();
  }

  /**
   * The events in a range, grouped by partition key and aggregate, each
   * aggregate's in sequence order, read with `COPY` in keyset slices a
   * few slices ahead of the caller (see {@linkcode ReplayReader}).
   *
   * @param options The range, an event-type filter and the slice size
   *   (default 20,000).
   * @returns The batches.
   */
  replayEvents(
    options?: ReplayEventsOptions,
  ): AsyncIterable<readonly SerializedEvent[]> {
    this.#check();
    return this.#replay.replayEvents(options);
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
   * Events matching a search, newest commit first (by `xact_id`, then
   * `position`, descending), one page read by keyset.
   *
   * @param search The conditions (every one given must hold).
   * @param page The page size (1 to 1,000) and the previous page's `next`.
   * @returns The page.
   * @throws {RangeError} for a bad limit or an invalid date.
   * @throws {TypeError} for a cursor this store did not give.
   */
  searchEvents(search: EventSearch, page: PageRequest): Promise<EventPage> {
    return this.#browse.searchEvents(search, page);
  }

  /**
   * One page of an aggregate's events, by sequence number.
   *
   * @param aggregateId The aggregate (not a UUID: no events).
   * @param page The page size (1 to 1,000) and the previous page's `next`.
   * @returns The page.
   */
  aggregateEvents(aggregateId: string, page: PageRequest): Promise<EventPage> {
    return this.#browse.aggregateEvents(aggregateId, page);
  }

  /**
   * One event, with its aggregate's type and its command's id.
   *
   * @param aggregateId The event's aggregate.
   * @param sequenceNumber The event's sequence number.
   * @returns The event, if stored.
   */
  browseEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<BrowsedEvent | undefined> {
    return this.#browse.browseEvent(aggregateId, sequenceNumber);
  }

  /**
   * An aggregate's type, partition key, last sequence number, newest
   * snapshots (at most 20) and unique keys.
   *
   * @param aggregateId The aggregate.
   * @returns The summary, or `undefined` when it has no events.
   */
  aggregateSummary(aggregateId: string): Promise<AggregateSummary | undefined> {
    return this.#browse.aggregateSummary(aggregateId);
  }

  /**
   * The command record with this command id.
   *
   * @param commandId The command's UUID.
   * @returns The record, if stored.
   */
  commandById(commandId: string): Promise<CommandRecord | undefined> {
    return this.#browse.commandById(commandId);
  }

  /**
   * One page of the events a command stored, in the order stored.
   *
   * @param commandId The command's UUID.
   * @param page The page size (1 to 1,000) and the previous page's `next`.
   * @returns The page.
   */
  commandEvents(commandId: string, page: PageRequest): Promise<EventPage> {
    return this.#browse.commandEvents(commandId, page);
  }

  /**
   * The commands issued while an event was handled, in the order stored.
   *
   * @param aggregateId The event's aggregate.
   * @param sequenceNumber The event's sequence number.
   * @param limit At most this many (1 to 1,000).
   * @returns The command records.
   */
  causedCommands(
    aggregateId: string,
    sequenceNumber: number,
    limit: number,
  ): Promise<CommandRecord[]> {
    return this.#browse.causedCommands(aggregateId, sequenceNumber, limit);
  }

  /**
   * Every event type name registered, sorted.
   *
   * @returns The names.
   */
  eventTypes(): Promise<string[]> {
    return this.#browse.eventTypes();
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
