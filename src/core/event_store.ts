/**
 * The event store port: what the framework needs from storage. Stores deal
 * only in serialised rows (JSON text plus columns); turning rows into
 * message instances, with upcasting and type checks, happens in the core.
 * The in-memory store and the PostgreSQL store implement this interface.
 *
 * @module
 */
import type { JsonValue } from "./json.ts";
import type { RecordStore } from "./record_store.ts";

/**
 * An event as stored: its columns and its payload as JSON text.
 *
 * @example
 * ```ts
 * import type { SerializedEvent } from "@sequent/core";
 *
 * const row: SerializedEvent = {
 *   aggregateId: "9b2c1c4e-2a57-4a57-8d43-2d0e7a2f1c11",
 *   sequenceNumber: 1,
 *   createdAt: new Date(),
 *   eventType: "PostAdded",
 *   payload: "{}",
 * };
 * ```
 */
export interface SerializedEvent {
  /** The aggregate the event belongs to. */
  readonly aggregateId: string;
  /** Its position in the aggregate's stream, from 1, without gaps. */
  readonly sequenceNumber: number;
  /** When it was applied. */
  readonly createdAt: Date;
  /** The event class's stable type name. */
  readonly eventType: string;
  /**
   * The event's own attributes (not the three above) as JSON text: one
   * JSON object.
   */
  readonly payload: string;
  /**
   * The W3C trace context (`traceparent`) of the command that stored the
   * event, when it was traced: one per commit, the same for all its
   * events. Set only by a store that keeps it; never payload.
   */
  readonly traceparent?: string | undefined;
}

/**
 * A command as stored in the command log.
 *
 * @example
 * ```ts
 * import type { SerializedCommand } from "@sequent/core";
 *
 * const record: SerializedCommand = {
 *   commandType: "AddPost",
 *   aggregateId: "9b2c1c4e-2a57-4a57-8d43-2d0e7a2f1c11",
 *   userId: undefined,
 *   eventAggregateId: undefined,
 *   eventSequenceNumber: undefined,
 *   payload: '{"title":"Hello"}',
 * };
 * ```
 */
export interface SerializedCommand {
  /**
   * The command's id, a UUID the caller knows before the commit: stored
   * with the command record, at most once per store. The command service
   * always sets it; a store gives commands without one an id of its own.
   */
  readonly commandId?: string | undefined;
  /** The command class's stable type name. */
  readonly commandType: string;
  /** The aggregate the command addressed. */
  readonly aggregateId: string;
  /** The user who issued it, if known. */
  readonly userId: string | undefined;
  /** Causation: the aggregate of the event whose handler issued it. */
  readonly eventAggregateId: string | undefined;
  /** Causation: the sequence number of the event whose handler issued it. */
  readonly eventSequenceNumber: number | undefined;
  /** The command's own attributes (not the four above) as JSON text. */
  readonly payload: string;
  /**
   * The W3C trace context (`traceparent`) of the command's span, when it
   * was traced (a valid, sampled context; never all zeros): the creation
   * context of the commit, kept with the command record.
   */
  readonly traceparent?: string | undefined;
}

/**
 * A command record read back from the command log.
 *
 * @example
 * ```ts
 * import type { CommandRecord } from "@sequent/core";
 *
 * function describe(record: CommandRecord): string {
 *   return `${record.commandType} #${record.id} at ${record.createdAt.toISOString()}`;
 * }
 * ```
 */
export interface CommandRecord extends SerializedCommand {
  /** The store's id of the record. */
  readonly id: string;
  /** When it was stored. */
  readonly createdAt: Date;
}

/**
 * Everything one commit stores for one aggregate.
 *
 * @example
 * ```ts
 * import type { StreamCommit } from "@sequent/core/internal";
 *
 * const commit: StreamCommit = {
 *   aggregateId: "9b2c1c4e-2a57-4a57-8d43-2d0e7a2f1c11",
 *   aggregateType: "Post",
 *   partitionKey: "",
 *   events: [],
 *   uniqueKeys: {},
 *   snapshotThreshold: undefined,
 * };
 * ```
 */
export interface StreamCommit {
  /** The aggregate's id. */
  readonly aggregateId: string;
  /** The aggregate class's stable type name. */
  readonly aggregateType: string;
  /** The partition the aggregate's events are kept in (`""` by default). */
  readonly partitionKey: string;
  /**
   * The new events, with consecutive sequence numbers that must follow the
   * stored ones exactly (else {@linkcode OptimisticLockError}).
   */
  readonly events: readonly SerializedEvent[];
  /**
   * The aggregate's unique keys after this commit, by scope. They replace
   * the stored ones; a key taken by another aggregate fails the commit with
   * {@linkcode AggregateKeyNotUniqueError}. `undefined` when the aggregate's
   * class declares no unique keys: stored keys are then left alone.
   */
  readonly uniqueKeys: Readonly<Record<string, JsonValue>> | undefined;
  /**
   * When set, the aggregate is marked as needing a snapshot once this many
   * events follow its latest snapshot.
   */
  readonly snapshotThreshold: number | undefined;
}

/**
 * A snapshot of an aggregate's state at a sequence number.
 *
 * @example
 * ```ts
 * import type { SerializedSnapshot } from "@sequent/core/internal";
 *
 * const snapshot: SerializedSnapshot = {
 *   aggregateId: "9b2c1c4e-2a57-4a57-8d43-2d0e7a2f1c11",
 *   aggregateType: "Post",
 *   version: 1,
 *   sequenceNumber: 20,
 *   createdAt: new Date(),
 *   data: '{"published":true}',
 * };
 * ```
 */
export interface SerializedSnapshot {
  /** The aggregate's id. */
  readonly aggregateId: string;
  /** The aggregate's type name. */
  readonly aggregateType: string;
  /** The snapshot format's version, as the aggregate class declares it. */
  readonly version: number;
  /** The last event the snapshot includes. */
  readonly sequenceNumber: number;
  /** When it was taken. */
  readonly createdAt: Date;
  /** The state as JSON text. */
  readonly data: string;
}

/**
 * One aggregate's stream as loaded: its type, the latest usable snapshot (if
 * asked for), and the events after it in sequence order.
 *
 * @example
 * ```ts
 * import type { LoadedStream } from "@sequent/core/internal";
 *
 * function lastSequenceNumber(stream: LoadedStream): number {
 *   return stream.events.at(-1)?.sequenceNumber ?? stream.snapshot?.sequenceNumber ?? 0;
 * }
 * ```
 */
export interface LoadedStream {
  /** The aggregate's id. */
  readonly aggregateId: string;
  /** The aggregate's type name (`""` when it was stored without one). */
  readonly aggregateType: string;
  /** The aggregate's partition key. */
  readonly partitionKey: string;
  /** The snapshot the events follow, if one was used. */
  readonly snapshot: SerializedSnapshot | undefined;
  /** The events, in sequence order. */
  readonly events: readonly SerializedEvent[];
}

/**
 * How to load streams.
 *
 * @example
 * ```ts
 * import type { LoadOptions } from "@sequent/core/internal";
 *
 * const asOfNewYear: LoadOptions = { until: new Date("2026-01-01T00:00:00Z") };
 * ```
 */
export interface LoadOptions {
  /** Only events created strictly before this instant (time travel; no snapshots). */
  readonly until?: Date | undefined;
  /** Start from the latest snapshot of this version, when there is one. */
  readonly snapshotVersion?: number | undefined;
  /**
   * Only the events after these sequence numbers, by aggregate id (an
   * aggregate not in it: all its events): what a holder of the aggregate
   * at that version lacks. A stream with no such events may be left out
   * of the result. Not with `until` or `snapshotVersion` (a TypeError).
   */
  readonly after?: ReadonlyMap<string, number> | undefined;
}

/**
 * An opaque mark of the store's position: everything committed after it can
 * be read with {@linkcode EventStoreReader.eventsSince}.
 */
export type EventPosition = string;

/**
 * How to read all events for a replay.
 *
 * @example
 * ```ts
 * import type { ReadAllOptions } from "@sequent/core";
 *
 * const options: ReadAllOptions = { batchSize: 1000, eventTypes: ["PostAdded"] };
 * ```
 */
export interface ReadAllOptions {
  /** Events per batch (default 1,000). */
  readonly batchSize?: number | undefined;
  /** Only these event types (default: all). */
  readonly eventTypes?: readonly string[] | undefined;
  /** Only events committed after this position. */
  readonly after?: EventPosition | undefined;
}

/**
 * An aggregate that should get a fresh snapshot.
 *
 * @example
 * ```ts
 * import type { SnapshotCandidate } from "@sequent/core/internal";
 *
 * const candidate: SnapshotCandidate = {
 *   aggregateId: "9b2c1c4e-2a57-4a57-8d43-2d0e7a2f1c11",
 *   aggregateType: "Post",
 * };
 * ```
 */
export interface SnapshotCandidate {
  /** The aggregate's id. */
  readonly aggregateId: string;
  /** The aggregate's type name. */
  readonly aggregateType: string;
}

/**
 * What the command path reads, inside a unit of work or outside one: the
 * streams to load aggregates from, and unique keys.
 */
export interface EventStoreReader {
  /**
   * The read-model tables: inside a transaction, writes are part of the
   * unit of work; on the store itself, each call stands alone.
   */
  readonly records: RecordStore;
  /**
   * Loads the streams of the given aggregates in one round trip. Unknown ids
   * are left out of the result; order follows `aggregateIds`.
   */
  loadStreams(
    aggregateIds: readonly string[],
    options?: LoadOptions,
  ): Promise<LoadedStream[]>;
  /** Whether any event was stored for the aggregate. */
  streamExists(aggregateId: string): Promise<boolean>;
  /**
   * The aggregate holding a unique key, if any (none for a key with
   * unstorable text: no such key can be stored).
   */
  findAggregateIdByUniqueKey(
    scope: string,
    key: JsonValue,
  ): Promise<string | undefined>;
}

/**
 * The audit queries: single events, what was committed since a mark, the
 * command records and their causation, the archive of deleted streams.
 * For tools, tests and operators; the command path does not use them.
 *
 * @example
 * ```ts
 * import { type AuditQueries, InMemoryEventStore } from "@sequent/core";
 *
 * const audit: AuditQueries = new InMemoryEventStore();
 * const mark = await audit.positionMark();
 * console.assert((await audit.eventsSince(mark)).length === 0);
 * ```
 */
export interface AuditQueries {
  /** One event by aggregate and sequence number. */
  loadEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<SerializedEvent | undefined>;
  /** The current position; see {@linkcode AuditQueries.eventsSince}. */
  positionMark(): Promise<EventPosition>;
  /** Every event committed after `mark`, in commit order. */
  eventsSince(mark: EventPosition): Promise<SerializedEvent[]>;
  /**
   * Every event, in commit order, in batches, as of when the read starts.
   * (Processors read with `EventReader.readEvents` instead, which never
   * skips a transaction that commits late.)
   */
  readAllEvents(options?: ReadAllOptions): AsyncIterable<SerializedEvent[]>;
  /** The command record that stored an event. */
  commandForEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord | undefined>;
  /** The commands issued while an event was handled (by workflows). */
  commandsCausedBy(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<CommandRecord[]>;
  /** The events a command record stored. */
  eventsOfCommand(commandId: string): Promise<SerializedEvent[]>;
  /**
   * Deletes an aggregate's stream, snapshots and unique keys permanently,
   * keeping a copy of the events in the archive. Returns how many events
   * were deleted.
   */
  deleteStream(aggregateId: string): Promise<number>;
  /** Deleted events kept in the archive for an aggregate. */
  archivedEvents(aggregateId: string): Promise<SerializedEvent[]>;
}

/**
 * Snapshots: what the `Snapshotter` and the snapshot tasks use.
 *
 * @example
 * ```ts
 * import { InMemoryEventStore } from "@sequent/core";
 * import type { SnapshotStore } from "@sequent/core/internal";
 *
 * const snapshots: SnapshotStore = new InMemoryEventStore();
 * console.assert((await snapshots.aggregatesNeedingSnapshots(10)).length === 0);
 * ```
 */
export interface SnapshotStore {
  /**
   * Stores snapshots (replacing none: older ones stay until deleted).
   * Unstorable text in their state is refused with
   * {@linkcode UnstorableTextError}, storing none of them; so, with a
   * `TypeError` or `RangeError`, is a snapshot whose state is not exactly
   * one JSON value, whose aggregate id is not a UUID, whose version or
   * sequence number is not an integer from 1 to 2,147,483,647, or whose
   * `createdAt` is invalid or outside the years 1 to 9999.
   */
  storeSnapshots(snapshots: readonly SerializedSnapshot[]): Promise<void>;
  /** The latest snapshot of an aggregate, optionally of one version only. */
  loadLatestSnapshot(
    aggregateId: string,
    version?: number,
  ): Promise<SerializedSnapshot | undefined>;
  /** Aggregates marked as needing a snapshot, most outdated first. */
  aggregatesNeedingSnapshots(limit: number): Promise<SnapshotCandidate[]>;
  /** Marks aggregates as needing a snapshot regardless of thresholds. */
  markForSnapshotting(aggregateIds: readonly string[]): Promise<void>;
  /** Deletes every snapshot. */
  deleteAllSnapshots(): Promise<void>;
  /**
   * Deletes snapshots whose version is not the current one of their
   * aggregate type; `currentVersions` maps type name to version.
   */
  deleteSnapshotsOfOtherVersions(
    currentVersions: Readonly<Record<string, number>>,
  ): Promise<number>;
}

/**
 * A unit of work's view of the store: reads see its own commits; commits
 * become visible to others, all together, only when the unit succeeds.
 */
export interface EventStoreTransaction extends EventStoreReader {
  /**
   * Stores a command record and the events it caused, with unique keys and
   * snapshot marks, atomically with the rest of the unit.
   *
   * Every store holds the same text: none holds a NUL character (U+0000)
   * or a lone surrogate (see {@linkcode isStorableText}), as PostgreSQL
   * cannot. A commit with such text anywhere — a command or event payload
   * (as the character or as a JSON escape, in a string or a key), the user
   * id, the trace context, a unique key or its scope, the partition key, a
   * type name — is refused with {@linkcode UnstorableTextError} naming
   * where it is, before anything of it is stored; it is never stored
   * changed. So is a unique key longer than 2,000 bytes (scope and JSON),
   * which no PostgreSQL index entry holds.
   *
   * Every store refuses the same malformed commits, with a `TypeError` or
   * `RangeError` naming the command, stream or event (type, sequence
   * number, aggregate) and the field:
   *
   * - an id that is not a UUID: the command's aggregate, its `commandId`
   *   or causing event's aggregate, a stream's aggregate;
   * - a payload that is not exactly one complete JSON value, with nothing
   *   but whitespace around it — for an event, one JSON object — since a
   *   store may write it into other JSON as it is;
   * - an aggregate with two streams in the commit, or an event in the
   *   stream of another aggregate;
   * - a sequence number, causing event's sequence number or snapshot
   *   threshold that is not an integer from 1 to 2,147,483,647 (NaN
   *   included);
   * - an event's `createdAt` that is an invalid Date or outside the years
   *   1 to 9999.
   *
   * When errors surface, on every store: what is wrong with the commit
   * itself (everything above) fails `commit()`, before anything of it is
   * buffered. A conflict with what is stored — `OptimisticLockError`,
   * `AggregateKeyNotUniqueError`, `DuplicateCommandError` — does not: it
   * surfaces at the unit's next read of the store, or when the unit ends
   * (`transaction()` rejects with it), and the unit stores nothing.
   * (PostgreSQL stores a unit's commits in one statement at its end; the
   * in-memory store keeps the same rule.) A store may hold on to what
   * `commit()` was given until the unit ends: change none of it after.
   */
  commit(
    command: SerializedCommand,
    streams: readonly StreamCommit[],
  ): Promise<void>;
}

/**
 * Options of {@linkcode EventStore.transaction}.
 *
 * @example
 * ```ts
 * import type { TransactionOptions } from "@sequent/core/internal";
 *
 * const dryRun: TransactionOptions = { rollback: true };
 * ```
 */
export interface TransactionOptions {
  /** Roll back at the end even when the work succeeds (default false). */
  readonly rollback?: boolean | undefined;
  /**
   * Stops the unit: once it aborts, statements not yet sent are not sent
   * and the transaction rejects with the signal's reason, storing nothing.
   * A commit already on its way either completes (the transaction
   * resolves), is cancelled (rejects with the reason; nothing stored), or,
   * when the database does not answer, fails with
   * `CommitOutcomeUnknownError`.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Called once the unit's events are stored, with the position of the
   * last of them in the event stream (see `EventReader`): what a
   * read-your-writes token is made of; and with the database's id of the
   * transaction that stored them, where the store has one (PostgreSQL's
   * `xact_id`, as text; the in-memory store has none). Not called when
   * nothing was stored.
   */
  readonly onStored?:
    | ((position: string, transactionId: string | undefined) => void)
    | undefined;
}

/**
 * The event store port, cut by who uses it: the command path
 * ({@linkcode EventStoreReader}, `transaction`, `commandStored`),
 * {@linkcode SnapshotStore}, {@linkcode AuditQueries}, and the event
 * stream (`EventReader`, which the stores implement beside this port).
 * Depend on the part you use. Implementations: the in-memory store and
 * the PostgreSQL store.
 */
export interface EventStore
  extends EventStoreReader, SnapshotStore, AuditQueries {
  /**
   * Runs `work` as one atomic unit. Everything committed through the
   * transaction is stored when `work` resolves, and nothing when it rejects
   * (or, with `rollback`, ever: dry runs).
   *
   * Rules every store keeps:
   *
   * - A command id is stored at most once: committing a command whose
   *   `commandId` is stored already fails the unit with
   *   `DuplicateCommandError`, storing nothing.
   * - When the connection is lost while the unit's commit awaits its
   *   answer, the transaction rejects with `CommitOutcomeUnknownError`
   *   naming the command ids; {@linkcode EventStore.commandStored} then
   *   tells what happened. Any other failure means nothing was stored.
   */
  transaction<T>(
    work: (tx: EventStoreTransaction) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T>;
  /**
   * Whether a command with this id is stored. A commit of that id still
   * running on the server is waited for, so after a
   * `CommitOutcomeUnknownError` the answer holds for every commit the
   * database has received. (Bytes still held up in a stalled network could
   * in principle arrive later; executing the command again with the same
   * `commandId` settles even that, since an id is stored at most once.)
   *
   * @param commandId The command's id.
   * @returns `true` once stored, `false` if not (and then never by that commit).
   */
  commandStored(commandId: string): Promise<boolean>;
  /** Releases connections; the store cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * Fails on load options every store refuses: `after` with `until` or
 * `snapshotVersion`, or an `after` that is not a sequence number.
 *
 * @throws {TypeError} naming what was wrong.
 */
export function checkLoadOptions(options: LoadOptions): void {
  if (options.after === undefined) return;
  for (const [id, n] of options.after) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new TypeError(
        `loadStreams(): "after" of aggregate "${id}" must be a sequence number (a non-negative integer), got ${n}`,
      );
    }
  }
  if (options.until !== undefined || options.snapshotVersion !== undefined) {
    throw new TypeError(
      `loadStreams(): "after" cannot be combined with ${
        options.until !== undefined ? '"until"' : '"snapshotVersion"'
      }`,
    );
  }
}
