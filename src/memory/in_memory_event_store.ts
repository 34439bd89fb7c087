/**
 * An event store kept in memory, with the semantics of the PostgreSQL
 * store: consecutive sequence numbers per aggregate (a duplicate or a gap is
 * an {@linkcode OptimisticLockError}), unique keys enforced across all
 * aggregates, command records with causation, atomic units of work, events
 * kept as JSON text and read back through deserialisation, snapshots, a
 * commit-ordered log for replays, and an archive of deleted streams.
 *
 * @module
 */
import {
  AggregateKeyNotUniqueError,
  DuplicateCommandError,
  OptimisticLockError,
  SequentError,
} from "../core/errors.ts";
import { newCommandId } from "../core/_command_id.ts";
import { isUuid } from "../core/_uuid.ts";
import {
  checkPartitionCount,
  checkPartitions,
  DEFAULT_PARTITION_COUNT,
  partitionOf,
} from "../core/partition.ts";
import type {
  CommandRecord,
  EventPosition,
  EventStore,
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
import { checkLoadOptions } from "../core/event_store.ts";
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
import {
  checkStorableCommit,
  checkStorableSnapshots,
} from "../core/_storable_commit.ts";
import type {
  AggregateSummary,
  BrowsedEvent,
  BrowseQueries,
  EventPage,
  EventSearch,
  PageRequest,
} from "../core/browse_queries.ts";
import {
  badCursor,
  checkPageLimit,
  cursorNumbers,
  EMPTY_PAGE,
  pageOf,
  pageStart,
  searchCanMatch,
} from "../core/_browse_page.ts";
import {
  InMemoryRecordStore,
  type InMemoryRecordTransaction,
} from "./in_memory_record_store.ts";

interface StreamState {
  readonly aggregateType: string;
  readonly partitionKey: string;
  readonly events: SerializedEvent[];
  /** The id of the command record that stored each event, in step. */
  readonly commandIds: string[];
}

interface LogEntry {
  readonly event: SerializedEvent;
  readonly commandId: string;
  /** Set when the event's stream was deleted (positions stay stable). */
  deleted: boolean;
}

interface SnapshotMark {
  readonly aggregateType: string;
  readonly markedAt: number;
}

/** The committed state; a transaction stages changes in a copy-on-write overlay. */
interface State {
  readonly streams: Map<string, StreamState>;
  /** `scope\0canonical key` → aggregate id. */
  readonly keyOwners: Map<string, string>;
  /** aggregate id → scope → `scope\0canonical key`. */
  readonly keysByAggregate: Map<string, Map<string, string>>;
  readonly keyValues: Map<string, JsonValue>;
  readonly commands: Map<string, CommandRecord>;
  /** The command ids (UUIDs) stored: each at most once. */
  readonly commandIds: Set<string>;
  readonly log: LogEntry[];
  readonly snapshots: Map<string, SerializedSnapshot[]>;
  readonly needsSnapshot: Map<string, SnapshotMark>;
  readonly archive: Map<string, SerializedEvent[]>;
  /** Grows with every change to streams or keys, so staged work can be reused. */
  version: number;
}

interface PendingCommit {
  readonly command: CommandRecord;
  readonly streams: readonly StreamCommit[];
}

function emptyState(): State {
  return {
    streams: new Map(),
    keyOwners: new Map(),
    keysByAggregate: new Map(),
    keyValues: new Map(),
    commands: new Map(),
    commandIds: new Set(),
    log: [],
    snapshots: new Map(),
    needsSnapshot: new Map(),
    archive: new Map(),
    version: 0,
  };
}

/** JSON text with object keys sorted, so equal keys compare equal. */
function canonical(value: JsonValue): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  return `{${
    Object.keys(value).sort().map((k) =>
      `${JSON.stringify(k)}:${canonical(value[k] as JsonValue)}`
    ).join(",")
  }}`;
}

function copyEvent(row: SerializedEvent): SerializedEvent {
  return { ...row, createdAt: new Date(row.createdAt.getTime()) };
}

function checkId(id: string): void {
  if (!isUuid(id)) {
    throw new TypeError(
      `Aggregate id must be a lower-case UUID, got ${JSON.stringify(id)}`,
    );
  }
}

/**
 * Stages commits on top of a state without changing it; `apply` then writes
 * them into the state. Staging throws on the first conflict.
 */
class Overlay {
  readonly base: State;
  readonly events = new Map<string, SerializedEvent[]>();
  readonly streams = new Map<
    string,
    { aggregateType: string; partitionKey: string }
  >();
  readonly keys = new Map<string, Map<string, string>>();
  readonly keyValues = new Map<string, JsonValue>();
  readonly commits: PendingCommit[] = [];
  readonly log: LogEntry[] = [];
  /** The base's version the staging was checked against. */
  readonly baseVersion: number;

  constructor(base: State) {
    this.base = base;
    this.baseVersion = base.version;
  }

  lastSequenceNumber(id: string): number {
    const own = this.events.get(id);
    if (own && own.length > 0) {
      return (own[own.length - 1] as SerializedEvent).sequenceNumber;
    }
    const stream = this.base.streams.get(id);
    return stream?.events.at(-1)?.sequenceNumber ?? 0;
  }

  keyOwner(keyId: string): string | undefined {
    for (const [aggregateId, scopes] of this.keys) {
      for (const owned of scopes.values()) {
        if (owned === keyId) return aggregateId;
      }
    }
    const owner = this.base.keyOwners.get(keyId);
    if (owner === undefined) return undefined;
    const replaced = this.keys.get(owner);
    if (replaced && ![...replaced.values()].includes(keyId)) return undefined;
    return owner;
  }

  stage(commit: PendingCommit): void {
    const commandId = commit.command.commandId!;
    if (
      this.base.commandIds.has(commandId) ||
      this.commits.some((c) => c.command.commandId === commandId)
    ) {
      throw new DuplicateCommandError(commandId);
    }
    for (const stream of commit.streams) {
      checkId(stream.aggregateId);
      let expected = this.lastSequenceNumber(stream.aggregateId) + 1;
      for (const event of stream.events) {
        if (event.aggregateId !== stream.aggregateId) {
          throw new TypeError(
            `Event ${event.eventType} of aggregate "${event.aggregateId}" was committed in the stream of "${stream.aggregateId}"`,
          );
        }
        if (event.sequenceNumber !== expected) {
          throw new OptimisticLockError(
            stream.aggregateId,
            event.sequenceNumber,
            expected,
          );
        }
        // the payload is one JSON object: checkStorableCommit, at commit()
        expected++;
      }
      if (stream.uniqueKeys) {
        const next = new Map<string, string>();
        for (const [scope, key] of Object.entries(stream.uniqueKeys)) {
          const keyId = `${scope}\0${canonical(key)}`;
          const owner = this.keyOwner(keyId);
          if (owner !== undefined && owner !== stream.aggregateId) {
            throw new AggregateKeyNotUniqueError(
              scope,
              key,
              stream.aggregateId,
              stream.aggregateType,
            );
          }
          next.set(scope, keyId);
          this.keyValues.set(keyId, key);
        }
        this.keys.set(stream.aggregateId, next);
      }
    }
    // all checks passed: record the commit
    for (const stream of commit.streams) {
      if (
        !this.base.streams.has(stream.aggregateId) &&
        !this.streams.has(stream.aggregateId)
      ) {
        this.streams.set(stream.aggregateId, {
          aggregateType: stream.aggregateType,
          partitionKey: stream.partitionKey,
        });
      }
      const list = this.events.get(stream.aggregateId) ?? [];
      for (const event of stream.events) {
        const row = Object.freeze(copyEvent(event));
        list.push(row);
        this.log.push({
          event: row,
          commandId: commit.command.id,
          deleted: false,
        });
      }
      this.events.set(stream.aggregateId, list);
    }
    this.commits.push(commit);
  }

  /** Writes the staged commits into the base state. */
  apply(): void {
    const state = this.base;
    state.version++;
    for (const [id, info] of this.streams) {
      state.streams.set(id, { ...info, events: [], commandIds: [] });
    }
    for (const { event, commandId } of this.log) {
      const stream = state.streams.get(event.aggregateId) as StreamState;
      stream.events.push(event);
      stream.commandIds.push(commandId);
    }
    for (const [aggregateId, scopes] of this.keys) {
      for (
        const keyId of state.keysByAggregate.get(aggregateId)?.values() ?? []
      ) {
        if (state.keyOwners.get(keyId) === aggregateId) {
          state.keyOwners.delete(keyId);
          state.keyValues.delete(keyId);
        }
      }
      for (const keyId of scopes.values()) {
        state.keyOwners.set(keyId, aggregateId);
        state.keyValues.set(keyId, this.keyValues.get(keyId) as JsonValue);
      }
      state.keysByAggregate.set(aggregateId, scopes);
    }
    for (const commit of this.commits) {
      state.commands.set(commit.command.id, commit.command);
      state.commandIds.add(commit.command.commandId!);
      for (const stream of commit.streams) {
        if (
          stream.snapshotThreshold !== undefined && stream.events.length > 0
        ) {
          const last = (state.streams.get(stream.aggregateId) as StreamState)
            .events.at(-1)?.sequenceNumber ?? 0;
          const snapshotAt = state.snapshots.get(stream.aggregateId)?.reduce(
            (max, s) => Math.max(max, s.sequenceNumber),
            0,
          ) ?? 0;
          if (
            last - snapshotAt >= stream.snapshotThreshold &&
            !state.needsSnapshot.has(stream.aggregateId)
          ) {
            state.needsSnapshot.set(stream.aggregateId, {
              aggregateType: stream.aggregateType,
              markedAt: Date.now(),
            });
          }
        }
      }
    }
    state.log.push(...this.log);
  }
}

/**
 * Options of {@linkcode InMemoryEventStore}.
 *
 * @example
 * ```ts
 * import type { InMemoryEventStoreOptions } from "@sequent/core";
 *
 * const options: InMemoryEventStoreOptions = { partitions: 16 };
 * ```
 */
export interface InMemoryEventStoreOptions {
  /**
   * How many partitions the store has (default 64, at most 1024), as
   * `installEventStore` fixes them for PostgreSQL.
   */
  readonly partitions?: number | undefined;
}

/**
 * An in-memory {@linkcode EventStore}: for tests, examples and benchmarks.
 * It behaves like the PostgreSQL store, including its errors, so domain
 * tests that pass here pass there.
 *
 * @example
 * ```ts
 * import { InMemoryEventStore } from "@sequent/core";
 *
 * const store = new InMemoryEventStore();
 * const id = crypto.randomUUID();
 * await store.transaction((tx) =>
 *   tx.commit(
 *     { commandType: "Open", aggregateId: id, userId: undefined, eventAggregateId: undefined, eventSequenceNumber: undefined, payload: "{}" },
 *     [{
 *       aggregateId: id,
 *       aggregateType: "Account",
 *       partitionKey: "",
 *       events: [{ aggregateId: id, sequenceNumber: 1, createdAt: new Date(), eventType: "Opened", payload: "{}" }],
 *       uniqueKeys: undefined,
 *       snapshotThreshold: undefined,
 *     }],
 *   )
 * );
 * console.assert(await store.streamExists(id));
 * ```
 */
export class InMemoryEventStore
  implements EventStore, EventReader, ReplayReader, BrowseQueries {
  /** The read-model tables, kept in memory. */
  readonly records: InMemoryRecordStore = new InMemoryRecordStore();
  /** How many partitions the store has (see `partitionOf`). */
  readonly partitions: number;
  #state: State = emptyState();
  #nextCommandId = 1;
  #closed = false;

  /**
   * An empty store.
   *
   * @example
   * ```ts
   * import { InMemoryEventStore } from "@sequent/core";
   *
   * console.assert(new InMemoryEventStore({ partitions: 8 }).partitions === 8);
   * ```
   *
   * @param options The partition count (default 64).
   * @throws {RangeError} for a count that is not an integer from 1 to 1024.
   */
  constructor(options: InMemoryEventStoreOptions = {}) {
    this.partitions = checkPartitionCount(
      options.partitions ?? DEFAULT_PARTITION_COUNT,
    );
  }

  #stored(entry: LogEntry, index: number, withType: boolean): StoredEvent {
    return {
      ...copyEvent(entry.event),
      position: String(index + 1),
      partition: partitionOf(entry.event.aggregateId, this.partitions),
      aggregateType: withType
        ? this.#state.streams.get(entry.event.aggregateId)?.aggregateType
        : undefined,
    };
  }

  /** Forgets everything stored (for tests). */
  reset(): void {
    this.#state = emptyState();
    this.records.reset();
  }

  #open(): State {
    if (this.#closed) throw new SequentError("The event store is closed");
    return this.#state;
  }

  /**
   * Runs `work` as one atomic unit; see {@linkcode EventStore.transaction}.
   *
   * @param work The unit's work.
   * @param options `rollback`: discard everything at the end; `signal`:
   *   stop, storing nothing, once it aborts.
   */
  async transaction<T>(
    work: (tx: EventStoreTransaction) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    this.#open();
    options.signal?.throwIfAborted();
    const tx = new InMemoryTransaction(this, this.records.begin());
    try {
      const result = await work(tx);
      // the commit is the step below: an abort until now stores nothing
      options.signal?.throwIfAborted();
      tx.finish();
      if (tx.conflict) throw tx.conflict;
      if (options.rollback) {
        tx.records.rollback();
        return result;
      }
      // When another unit committed meanwhile, stage the commits again on
      // the state as it is now (else what was staged still holds). Staging
      // and applying are synchronous, so this is atomic.
      const state = this.#open();
      let overlay = tx.overlay;
      if (overlay.base !== state || overlay.baseVersion !== state.version) {
        overlay = new Overlay(state);
        for (const commit of tx.commits) overlay.stage(commit);
      }
      overlay.apply();
      tx.records.commit();
      if (overlay.log.length > 0) {
        options.onStored?.(String(state.log.length), undefined);
      }
      return result;
    } catch (error) {
      tx.finish();
      tx.records.rollback();
      throw error;
    }
  }

  /** @internal Allocates a command record id. */
  nextCommandId(): string {
    return String(this.#nextCommandId++);
  }

  /** @internal The committed state. */
  get state(): State {
    return this.#open();
  }

  /** {@inheritDoc EventStoreReader.loadStreams} */
  loadStreams(
    aggregateIds: readonly string[],
    options?: LoadOptions,
  ): Promise<LoadedStream[]> {
    try {
      return Promise.resolve(
        readStreams(this.#open(), undefined, aggregateIds, options),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@inheritDoc EventStoreReader.loadEvent} */
  loadEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<SerializedEvent | undefined> {
    const event = this.#open().streams.get(aggregateId)
      ?.events[sequenceNumber - 1];
    return Promise.resolve(event ? copyEvent(event) : undefined);
  }

  /** {@inheritDoc EventStoreReader.streamExists} */
  streamExists(aggregateId: string): Promise<boolean> {
    return Promise.resolve(this.#open().streams.has(aggregateId));
  }

  /** {@inheritDoc EventStoreReader.findAggregateIdByUniqueKey} */
  findAggregateIdByUniqueKey(
    scope: string,
    key: JsonValue,
  ): Promise<string | undefined> {
    return Promise.resolve(
      this.#open().keyOwners.get(`${scope}\0${canonical(key)}`),
    );
  }

  /** {@inheritDoc EventStoreReader.positionMark} */
  positionMark(): Promise<EventPosition> {
    return Promise.resolve(String(this.#open().log.length));
  }

  /** {@inheritDoc EventStoreReader.eventsSince} */
  eventsSince(mark: EventPosition): Promise<SerializedEvent[]> {
    return Promise.resolve(
      this.#open().log.slice(parsePosition(mark)).filter((e) => !e.deleted).map(
        (
          e,
        ) => copyEvent(e.event),
      ),
    );
  }

  /** {@inheritDoc EventStoreReader.readAllEvents} */
  async *readAllEvents(
    options: ReadAllOptions = {},
  ): AsyncIterable<SerializedEvent[]> {
    const batchSize = options.batchSize ?? 1000;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `batchSize must be a positive integer, got ${batchSize}`,
      );
    }
    const types = options.eventTypes ? new Set(options.eventTypes) : undefined;
    const log = this.#open().log;
    const end = log.length;
    let batch: SerializedEvent[] = [];
    for (
      let i = options.after ? parsePosition(options.after) : 0;
      i < end;
      i++
    ) {
      const entry = log[i] as LogEntry;
      if (entry.deleted) continue;
      const event = entry.event;
      if (types && !types.has(event.eventType)) continue;
      batch.push(copyEvent(event));
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** {@inheritDoc EventReader.readEvents} */
  readEvents(
    after: StreamPosition,
    options: ReadEventsOptions,
  ): Promise<EventBatch> {
    const log = this.#open().log;
    const limit = options.limit;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      return Promise.reject(
        new RangeError(`limit must be a positive integer, got ${limit}`),
      );
    }
    const types = options.eventTypes ? new Set(options.eventTypes) : undefined;
    let partitions: Set<number> | undefined;
    try {
      if (options.partitions) {
        partitions = new Set(checkPartitions(options.partitions));
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const events: StoredEvent[] = [];
    let i = after === "" ? 0 : parsePosition(after);
    for (; i < log.length && events.length < limit; i++) {
      const entry = log[i] as LogEntry;
      if (entry.deleted) continue;
      if (types && !types.has(entry.event.eventType)) continue;
      const event = this.#stored(entry, i, options.withAggregateTypes === true);
      if (partitions && !partitions.has(event.partition)) continue;
      events.push(event);
    }
    // every commit is whole the moment it is applied: nothing can commit
    // later below the end of the log
    return Promise.resolve({
      events,
      next: String(i),
      caughtUp: i >= log.length,
    });
  }

  /** {@inheritDoc EventReader.readAggregateEvents} */
  readAggregateEvents(
    aggregateId: string,
    fromSequenceNumber: number,
    upTo: StreamPosition,
  ): Promise<StoredEvent[]> {
    const log = this.#open().log;
    const end = upTo === "" ? 0 : parsePosition(upTo);
    const events: StoredEvent[] = [];
    for (let i = 0; i < end && i < log.length; i++) {
      const entry = log[i] as LogEntry;
      if (
        entry.deleted || entry.event.aggregateId !== aggregateId ||
        entry.event.sequenceNumber < fromSequenceNumber
      ) continue;
      events.push(this.#stored(entry, i, true));
    }
    return Promise.resolve(events);
  }

  /** {@inheritDoc ReplayReader.replayBoundary} */
  replayBoundary(): Promise<StreamPosition> {
    // every commit is whole the moment it is applied
    return Promise.resolve(String(this.#open().log.length));
  }

  /** {@inheritDoc ReplayReader.replayEvents} */
  async *replayEvents(
    options: ReplayEventsOptions = {},
  ): AsyncIterable<readonly SerializedEvent[]> {
    const batchSize = options.batchSize ?? 1000;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `batchSize must be a positive integer, got ${batchSize}`,
      );
    }
    const log = this.#open().log;
    const from = options.after ? parsePosition(options.after) : 0;
    const to = Math.min(
      log.length,
      options.upTo === undefined
        ? log.length
        : options.upTo === ""
        ? 0
        : parsePosition(options.upTo),
    );
    const types = options.eventTypes ? new Set(options.eventTypes) : undefined;
    // grouped by aggregate: in a stream, log order is sequence order
    const streams = new Map<string, SerializedEvent[]>();
    for (let i = from; i < to; i++) {
      const entry = log[i] as LogEntry;
      if (entry.deleted) continue;
      if (types && !types.has(entry.event.eventType)) continue;
      const id = entry.event.aggregateId;
      let stream = streams.get(id);
      if (!stream) streams.set(id, stream = []);
      stream.push(copyEvent(entry.event));
    }
    let batch: SerializedEvent[] = [];
    for (const id of [...streams.keys()].sort()) {
      for (const event of streams.get(id)!) {
        batch.push(event);
        if (batch.length === batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** {@inheritDoc EventReader.comparePositions} */
  comparePositions(a: StreamPosition, b: StreamPosition): number {
    return (a === "" ? 0 : parsePosition(a)) -
      (b === "" ? 0 : parsePosition(b));
  }

  /** {@inheritDoc EventStore.commandStored} */
  commandStored(commandId: string): Promise<boolean> {
    return Promise.resolve(this.#open().commandIds.has(commandId));
  }

  /** {@inheritDoc EventStoreReader.commandForEvent} */
  commandForEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord | undefined> {
    const state = this.#open();
    const id = state.streams.get(aggregateId)?.commandIds[sequenceNumber - 1];
    return Promise.resolve(
      id === undefined ? undefined : state.commands.get(id),
    );
  }

  /** {@inheritDoc EventStoreReader.commandsCausedBy} */
  commandsCausedBy(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord[]> {
    return Promise.resolve(
      [...this.#open().commands.values()].filter((c) =>
        c.eventAggregateId === aggregateId &&
        c.eventSequenceNumber === sequenceNumber
      ),
    );
  }

  /** {@inheritDoc EventStoreReader.eventsOfCommand} */
  eventsOfCommand(commandId: string): Promise<SerializedEvent[]> {
    return Promise.resolve(
      this.#open().log.filter((e) => e.commandId === commandId && !e.deleted)
        .map((e) => copyEvent(e.event)),
    );
  }

  #browsed(event: SerializedEvent, commandRecordId: string): BrowsedEvent {
    const state = this.#state;
    return {
      ...copyEvent(event),
      aggregateType: state.streams.get(event.aggregateId)?.aggregateType ?? "",
      commandId: state.commands.get(commandRecordId)?.commandId ?? "",
    };
  }

  /** The page of log entries at `indices` (read with one more than `limit`). */
  #logPage(indices: readonly number[], limit: number): EventPage {
    const log = this.#state.log;
    const page = pageOf(indices, limit, String);
    return {
      events: page.rows.map((i) =>
        this.#browsed(log[i]!.event, log[i]!.commandId)
      ),
      next: page.next,
    };
  }

  /** {@inheritDoc BrowseQueries.searchEvents} */
  searchEvents(search: EventSearch, page: PageRequest): Promise<EventPage> {
    return settle(() => {
      const state = this.#open();
      const log = state.log;
      // the cursor: the log index of the last event shown
      const { limit, after: before } = pageStart(
        page,
        log.length,
        (cursor) => logIndex(cursor, log.length),
      );
      if (!searchCanMatch(search)) return EMPTY_PAGE;
      const aggregateId = search.aggregateId?.toLowerCase();
      let command: string | undefined;
      if (search.commandId !== undefined) {
        command = commandById(state, search.commandId)?.id;
        if (command === undefined) return EMPTY_PAGE;
      }
      const from = search.from?.getTime() ?? -Infinity;
      const until = search.until?.getTime() ?? Infinity;
      const found: number[] = [];
      for (let i = before - 1; i >= 0 && found.length <= limit; i--) {
        const entry = log[i]!;
        const event = entry.event;
        const at = event.createdAt.getTime();
        if (
          entry.deleted ||
          (aggregateId !== undefined && event.aggregateId !== aggregateId) ||
          (command !== undefined && entry.commandId !== command) ||
          (search.eventType !== undefined &&
            event.eventType !== search.eventType) ||
          at < from || at >= until
        ) continue;
        found.push(i);
      }
      return this.#logPage(found, limit);
    });
  }

  /** {@inheritDoc BrowseQueries.aggregateEvents} */
  aggregateEvents(aggregateId: string, page: PageRequest): Promise<EventPage> {
    return settle(() => {
      const state = this.#open();
      // the cursor: the last sequence number shown
      const { limit, after } = pageStart(
        page,
        0,
        (cursor) => Number(cursorNumbers(cursor, /^(\d{1,10})$/)[0]),
      );
      const stream = state.streams.get(aggregateId.toLowerCase());
      if (stream === undefined) return EMPTY_PAGE;
      // sequence number n is at index n - 1
      const events = stream.events.slice(after, after + limit + 1);
      const shown = pageOf(events, limit, (e) => String(e.sequenceNumber));
      return {
        events: shown.rows.map((e) =>
          this.#browsed(e, stream.commandIds[e.sequenceNumber - 1]!)
        ),
        next: shown.next,
      };
    });
  }

  /** {@inheritDoc BrowseQueries.browseEvent} */
  browseEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<BrowsedEvent | undefined> {
    const stream = this.#open().streams.get(aggregateId.toLowerCase());
    const event = Number.isInteger(sequenceNumber)
      ? stream?.events[sequenceNumber - 1]
      : undefined;
    return Promise.resolve(
      event && this.#browsed(event, stream!.commandIds[sequenceNumber - 1]!),
    );
  }

  /** {@inheritDoc BrowseQueries.aggregateSummary} */
  aggregateSummary(aggregateId: string): Promise<AggregateSummary | undefined> {
    const state = this.#open();
    const id = aggregateId.toLowerCase();
    const stream = state.streams.get(id);
    const last = stream?.events.at(-1);
    if (stream === undefined || last === undefined) {
      return Promise.resolve(undefined);
    }
    const snapshots = [...state.snapshots.get(id) ?? []].sort((a, b) =>
      b.sequenceNumber - a.sequenceNumber || b.version - a.version ||
      b.createdAt.getTime() - a.createdAt.getTime()
    ).slice(0, 20);
    const keys = [...state.keysByAggregate.get(id) ?? []]
      .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    return Promise.resolve({
      aggregateId: id,
      aggregateType: stream.aggregateType,
      partitionKey: stream.partitionKey,
      lastSequenceNumber: last.sequenceNumber,
      snapshots: snapshots.map((s) => ({
        version: s.version,
        sequenceNumber: s.sequenceNumber,
        createdAt: new Date(s.createdAt.getTime()),
      })),
      uniqueKeys: keys.map(([scope, keyId]) => ({
        scope,
        key: state.keyValues.get(keyId) as JsonValue,
      })),
    });
  }

  /** {@inheritDoc BrowseQueries.commandById} */
  commandById(commandId: string): Promise<CommandRecord | undefined> {
    return Promise.resolve(commandById(this.#open(), commandId));
  }

  /** {@inheritDoc BrowseQueries.commandEvents} */
  commandEvents(commandId: string, page: PageRequest): Promise<EventPage> {
    return settle(() => {
      const state = this.#open();
      const log = state.log;
      // the cursor: the log index of the last event shown
      const { limit, after: start } = pageStart(
        page,
        0,
        (cursor) => logIndex(cursor, log.length) + 1,
      );
      const command = commandById(state, commandId)?.id;
      if (command === undefined) return EMPTY_PAGE;
      const found: number[] = [];
      for (let i = start; i < log.length && found.length <= limit; i++) {
        const entry = log[i]!;
        if (!entry.deleted && entry.commandId === command) found.push(i);
      }
      return this.#logPage(found, limit);
    });
  }

  /** {@inheritDoc BrowseQueries.causedCommands} */
  causedCommands(
    aggregateId: string,
    sequenceNumber: number,
    limit: number,
  ): Promise<CommandRecord[]> {
    return settle(() => {
      const state = this.#open();
      checkPageLimit(limit);
      const id = aggregateId.toLowerCase();
      const found: CommandRecord[] = [];
      for (const c of state.commands.values()) {
        if (found.length === limit) break;
        if (
          c.eventAggregateId === id && c.eventSequenceNumber === sequenceNumber
        ) {
          found.push(c);
        }
      }
      return found;
    });
  }

  /** {@inheritDoc BrowseQueries.eventTypes} */
  eventTypes(): Promise<string[]> {
    const types = new Set(this.#open().log.map((e) => e.event.eventType));
    return Promise.resolve([...types].sort());
  }

  /** {@inheritDoc EventStore.storeSnapshots} */
  storeSnapshots(snapshots: readonly SerializedSnapshot[]): Promise<void> {
    const state = this.#open();
    try {
      // all checked first: a refused snapshot stores none of them
      checkStorableSnapshots(snapshots);
      for (const snapshot of snapshots) checkId(snapshot.aggregateId);
    } catch (error) {
      return Promise.reject(error);
    }
    for (const snapshot of snapshots) {
      const list = state.snapshots.get(snapshot.aggregateId) ?? [];
      list.push(Object.freeze({ ...snapshot }));
      state.snapshots.set(snapshot.aggregateId, list);
      state.needsSnapshot.delete(snapshot.aggregateId);
    }
    return Promise.resolve();
  }

  /** {@inheritDoc EventStore.loadLatestSnapshot} */
  loadLatestSnapshot(
    aggregateId: string,
    version?: number,
  ): Promise<SerializedSnapshot | undefined> {
    return Promise.resolve(latestSnapshot(this.#open(), aggregateId, version));
  }

  /** {@inheritDoc EventStore.aggregatesNeedingSnapshots} */
  aggregatesNeedingSnapshots(limit: number): Promise<SnapshotCandidate[]> {
    const state = this.#open();
    const lag = (id: string): number =>
      (state.streams.get(id)?.events.length ?? 0) -
      (latestSnapshot(state, id, undefined)?.sequenceNumber ?? 0);
    return Promise.resolve(
      [...state.needsSnapshot.entries()]
        .sort(([a, x], [b, y]) => x.markedAt - y.markedAt || lag(b) - lag(a))
        .slice(0, limit)
        .map(([aggregateId, mark]) => ({
          aggregateId,
          aggregateType: mark.aggregateType,
        })),
    );
  }

  /** {@inheritDoc EventStore.markForSnapshotting} */
  markForSnapshotting(aggregateIds: readonly string[]): Promise<void> {
    const state = this.#open();
    for (const id of aggregateIds) {
      const stream = state.streams.get(id);
      if (stream && !state.needsSnapshot.has(id)) {
        state.needsSnapshot.set(id, {
          aggregateType: stream.aggregateType,
          markedAt: Date.now(),
        });
      }
    }
    return Promise.resolve();
  }

  /** {@inheritDoc EventStore.deleteAllSnapshots} */
  deleteAllSnapshots(): Promise<void> {
    this.#open().snapshots.clear();
    return Promise.resolve();
  }

  /** {@inheritDoc EventStore.deleteSnapshotsOfOtherVersions} */
  deleteSnapshotsOfOtherVersions(
    currentVersions: Readonly<Record<string, number>>,
  ): Promise<number> {
    let deleted = 0;
    for (const [id, list] of this.#open().snapshots) {
      const kept = list.filter((s) =>
        Object.hasOwn(currentVersions, s.aggregateType) &&
        currentVersions[s.aggregateType] === s.version
      );
      deleted += list.length - kept.length;
      this.#state.snapshots.set(id, kept);
    }
    return Promise.resolve(deleted);
  }

  /** {@inheritDoc EventStore.deleteStream} */
  deleteStream(aggregateId: string): Promise<number> {
    const state = this.#open();
    const stream = state.streams.get(aggregateId);
    if (!stream) return Promise.resolve(0);
    state.version++;
    const archived = state.archive.get(aggregateId) ?? [];
    archived.push(...stream.events);
    state.archive.set(aggregateId, archived);
    state.streams.delete(aggregateId);
    for (
      const keyId of state.keysByAggregate.get(aggregateId)?.values() ?? []
    ) {
      state.keyOwners.delete(keyId);
      state.keyValues.delete(keyId);
    }
    state.keysByAggregate.delete(aggregateId);
    state.snapshots.delete(aggregateId);
    state.needsSnapshot.delete(aggregateId);
    for (const entry of state.log) {
      if (entry.event.aggregateId === aggregateId) entry.deleted = true;
    }
    return Promise.resolve(stream.events.length);
  }

  /** {@inheritDoc EventStore.archivedEvents} */
  archivedEvents(aggregateId: string): Promise<SerializedEvent[]> {
    return Promise.resolve(
      (this.#open().archive.get(aggregateId) ?? []).map(copyEvent),
    );
  }

  /** {@inheritDoc EventStore.close} */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

/** What `fn` returns, or its error, as a promise. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** A browse cursor that is a log index: at most the log's length. */
function logIndex(cursor: string, length: number): number {
  const index = Number(cursorNumbers(cursor, /^(\d{1,15})$/)[0]);
  if (index > length) throw badCursor(cursor);
  return index;
}

/** The command record with this command id (any case). */
function commandById(
  state: State,
  commandId: string,
): CommandRecord | undefined {
  const id = commandId.toLowerCase();
  for (const command of state.commands.values()) {
    if (command.commandId === id) return command;
  }
  return undefined;
}

function parsePosition(mark: EventPosition): number {
  const n = Number(mark);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new TypeError(`Invalid position mark ${JSON.stringify(mark)}`);
  }
  return n;
}

function latestSnapshot(
  state: State,
  aggregateId: string,
  version: number | undefined,
): SerializedSnapshot | undefined {
  let best: SerializedSnapshot | undefined;
  for (const s of state.snapshots.get(aggregateId) ?? []) {
    if (version !== undefined && s.version !== version) continue;
    if (!best || s.sequenceNumber >= best.sequenceNumber) best = s;
  }
  return best;
}

function readStreams(
  state: State,
  overlay: Overlay | undefined,
  aggregateIds: readonly string[],
  options: LoadOptions = {},
): LoadedStream[] {
  checkLoadOptions(options);
  const result: LoadedStream[] = [];
  const seen = new Set<string>();
  for (const id of aggregateIds) {
    if (seen.has(id)) continue;
    seen.add(id);
    const stored = state.streams.get(id);
    const info = stored ?? overlay?.streams.get(id);
    if (!info) continue;
    // sequence numbers run from 1 without gaps: event n is at index n - 1
    const from = options.after?.get(id) ?? 0;
    let events: SerializedEvent[] = [
      ...(stored?.events.slice(from) ?? []),
      ...(overlay?.events.get(id) ?? []).filter((e) => e.sequenceNumber > from),
    ];
    let snapshot: SerializedSnapshot | undefined;
    if (options.until) {
      const until = options.until.getTime();
      events = events.filter((e) => e.createdAt.getTime() < until);
    } else if (options.snapshotVersion !== undefined) {
      snapshot = latestSnapshot(state, id, options.snapshotVersion);
      if (snapshot) {
        const after = snapshot.sequenceNumber;
        events = events.filter((e) => e.sequenceNumber > after);
      }
    }
    if (events.length === 0 && !snapshot) continue;
    result.push({
      aggregateId: id,
      aggregateType: info.aggregateType,
      partitionKey: info.partitionKey,
      snapshot,
      events: events.map(copyEvent),
    });
  }
  return result;
}

/** A unit of work on the in-memory store: commits are staged until it ends. */
class InMemoryTransaction implements EventStoreTransaction {
  readonly #store: InMemoryEventStore;
  readonly records: InMemoryRecordTransaction;
  #overlay: Overlay;
  #finished = false;

  constructor(store: InMemoryEventStore, records: InMemoryRecordTransaction) {
    this.#store = store;
    this.records = records;
    this.#overlay = new Overlay(store.state);
  }

  get commits(): readonly PendingCommit[] {
    return this.#overlay.commits;
  }

  /** What the unit staged. */
  get overlay(): Overlay {
    return this.#overlay;
  }

  /**
   * The first commit of the unit that conflicted with what is stored; it
   * surfaces at the unit's next read or when the unit ends, as on
   * PostgreSQL (see `EventStoreTransaction.commit`).
   */
  conflict: Error | undefined;

  finish(): void {
    this.#finished = true;
  }

  #live(): Overlay {
    if (this.#finished) {
      throw new SequentError("The transaction has ended");
    }
    if (this.conflict) throw this.conflict;
    // The committed state may have been replaced by reset(); follow it.
    if (this.#overlay.base !== this.#store.state) {
      const fresh = new Overlay(this.#store.state);
      for (const commit of this.#overlay.commits) fresh.stage(commit);
      this.#overlay = fresh;
    }
    return this.#overlay;
  }

  commit(
    command: SerializedCommand,
    streams: readonly StreamCommit[],
  ): Promise<void> {
    const overlay = this.#live();
    // the rule every store keeps first, so both word its errors alike; then
    // this store's own: ids in lower case
    checkStorableCommit(command, streams);
    checkId(command.aggregateId);
    const commandId = command.commandId ?? newCommandId();
    if (!isUuid(commandId)) {
      throw new TypeError(
        `Command id must be a lower-case UUID, got ${
          JSON.stringify(commandId)
        }`,
      );
    }
    const record: CommandRecord = Object.freeze({
      ...command,
      commandId,
      id: this.#store.nextCommandId(),
      createdAt: new Date(),
    });
    try {
      overlay.stage({ command: record, streams });
    } catch (error) {
      if (
        !(error instanceof OptimisticLockError ||
          error instanceof AggregateKeyNotUniqueError ||
          error instanceof DuplicateCommandError)
      ) throw error;
      this.conflict = error;
    }
    return Promise.resolve();
  }

  loadStreams(
    aggregateIds: readonly string[],
    options?: LoadOptions,
  ): Promise<LoadedStream[]> {
    try {
      const overlay = this.#live();
      return Promise.resolve(
        readStreams(overlay.base, overlay, aggregateIds, options),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async loadEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<SerializedEvent | undefined> {
    const [stream] = await this.loadStreams([aggregateId]);
    return stream?.events.find((e) => e.sequenceNumber === sequenceNumber);
  }

  streamExists(aggregateId: string): Promise<boolean> {
    const overlay = this.#live();
    return Promise.resolve(
      overlay.base.streams.has(aggregateId) || overlay.streams.has(aggregateId),
    );
  }

  findAggregateIdByUniqueKey(
    scope: string,
    key: JsonValue,
  ): Promise<string | undefined> {
    return Promise.resolve(
      this.#live().keyOwner(`${scope}\0${canonical(key)}`),
    );
  }

  positionMark(): Promise<EventPosition> {
    return this.#store.positionMark();
  }

  async eventsSince(mark: EventPosition): Promise<SerializedEvent[]> {
    const overlay = this.#live();
    return [
      ...await this.#store.eventsSince(mark),
      ...overlay.log.map((e) => copyEvent(e.event)),
    ];
  }

  readAllEvents(options?: ReadAllOptions): AsyncIterable<SerializedEvent[]> {
    return this.#store.readAllEvents(options);
  }

  commandForEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord | undefined> {
    const overlay = this.#live();
    const own = overlay.log.find((e) =>
      e.event.aggregateId === aggregateId &&
      e.event.sequenceNumber === sequenceNumber
    );
    if (own) {
      return Promise.resolve(
        overlay.commits.find((c) => c.command.id === own.commandId)?.command,
      );
    }
    return this.#store.commandForEvent(aggregateId, sequenceNumber);
  }

  async commandsCausedBy(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord[]> {
    const overlay = this.#live();
    return [
      ...await this.#store.commandsCausedBy(aggregateId, sequenceNumber),
      ...overlay.commits.map((c) => c.command).filter((c) =>
        c.eventAggregateId === aggregateId &&
        c.eventSequenceNumber === sequenceNumber
      ),
    ];
  }

  async eventsOfCommand(commandId: string): Promise<SerializedEvent[]> {
    const overlay = this.#live();
    return [
      ...await this.#store.eventsOfCommand(commandId),
      ...overlay.log.filter((e) => e.commandId === commandId).map((e) =>
        copyEvent(e.event)
      ),
    ];
  }
}
