/**
 * The event browser's queries: searching events, one aggregate's page,
 * a command by its id. Every list is a bounded page read by keyset: no
 * query the browser makes reads more rows than it shows, plus one.
 *
 * The in-memory and the PostgreSQL event store implement this port, and
 * one contract test pins both.
 *
 * @module
 */
import type { CommandRecord, SerializedEvent } from "./event_store.ts";
import type { JsonValue } from "./json.ts";

/**
 * What an event search matches: every condition given must hold.
 *
 * @example
 * ```ts
 * import type { EventSearch } from "@sequent/core/internal";
 *
 * const lastHour: EventSearch = {
 *   eventType: "PostPublished",
 *   from: new Date(Date.now() - 3_600_000),
 * };
 * ```
 */
export interface EventSearch {
  /** Only this aggregate's events. */
  readonly aggregateId?: string | undefined;
  /** Only the events stored by the command with this id (its UUID). */
  readonly commandId?: string | undefined;
  /** Only events of this type. */
  readonly eventType?: string | undefined;
  /** Only events created at or after this instant. */
  readonly from?: Date | undefined;
  /** Only events created strictly before this instant. */
  readonly until?: Date | undefined;
}

/**
 * One page of a keyset-paged list: at most `limit` rows, after `cursor`.
 *
 * @example
 * ```ts
 * import type { PageRequest } from "@sequent/core/internal";
 *
 * const first: PageRequest = { limit: 50 };
 * ```
 */
export interface PageRequest {
  /** At most this many rows (1 to 1,000). */
  readonly limit: number;
  /**
   * Where the previous page ended: its `next`, opaque text only the store
   * that made it understands. Absent for the first page.
   */
  readonly cursor?: string | undefined;
}

/**
 * An event as the browser shows it: its row, its aggregate's type and the
 * id of the command that stored it.
 *
 * @example
 * ```ts
 * import type { BrowsedEvent } from "@sequent/core/internal";
 *
 * function eventId(event: BrowsedEvent): string {
 *   return `${event.aggregateId}/${event.sequenceNumber}`;
 * }
 * ```
 */
export interface BrowsedEvent extends SerializedEvent {
  /** The type of the event's aggregate (`""` when stored without one). */
  readonly aggregateType: string;
  /** The UUID of the command that stored it. */
  readonly commandId: string;
}

/**
 * A page of events.
 *
 * @example
 * ```ts
 * import type { EventPage } from "@sequent/core/internal";
 *
 * function more(page: EventPage): boolean {
 *   return page.next !== undefined;
 * }
 * ```
 */
export interface EventPage {
  /** The events, in the list's order. */
  readonly events: readonly BrowsedEvent[];
  /** The cursor of the next page, `undefined` on the last one. */
  readonly next: string | undefined;
}

/**
 * A snapshot as listed on an aggregate's page (without its state).
 *
 * @example
 * ```ts
 * import type { SnapshotInfo } from "@sequent/core/internal";
 *
 * const info: SnapshotInfo = { version: 1, sequenceNumber: 20, createdAt: new Date() };
 * ```
 */
export interface SnapshotInfo {
  /** The snapshot format's version. */
  readonly version: number;
  /** The last event it includes. */
  readonly sequenceNumber: number;
  /** When it was taken. */
  readonly createdAt: Date;
}

/**
 * What an aggregate's page shows above its events.
 *
 * @example
 * ```ts
 * import type { AggregateSummary } from "@sequent/core/internal";
 *
 * function title(summary: AggregateSummary): string {
 *   return `${summary.aggregateType} ${summary.aggregateId} (${summary.lastSequenceNumber} events)`;
 * }
 * ```
 */
export interface AggregateSummary {
  /** The aggregate's id. */
  readonly aggregateId: string;
  /** Its type name (`""` when stored without one). */
  readonly aggregateType: string;
  /** Its partition key (`""` by default). */
  readonly partitionKey: string;
  /** The sequence number of its last event. */
  readonly lastSequenceNumber: number;
  /** Its newest snapshots, newest first: at most 20. */
  readonly snapshots: readonly SnapshotInfo[];
  /** The unique keys it holds, by scope. */
  readonly uniqueKeys: readonly {
    readonly scope: string;
    readonly key: JsonValue;
  }[];
}

/**
 * The queries behind the event browser. Each reads one bounded page.
 *
 * Rules every store keeps:
 *
 * - An id that is not a UUID (aggregate or command) matches nothing: it is
 *   not an error, since it is what a user typed.
 * - `searchEvents` lists newest commit first; `aggregateEvents` lists by
 *   sequence number, ascending; `commandEvents` and `causedCommands`
 *   keep the order they were stored in.
 * - A page holds at most `limit` rows, and `next` is set exactly when more
 *   rows follow. Rows committed after a first page was read may or may not
 *   show on later pages, but no row shows twice and none in between is
 *   left out.
 * - A `limit` that is not an integer from 1 to 1,000 is a `RangeError`; a
 *   cursor the store did not give is a `TypeError` naming it. Both are
 *   checked before the ids.
 *
 * @example
 * ```ts
 * import { InMemoryEventStore } from "@sequent/core";
 * import type { BrowseQueries } from "@sequent/core/internal";
 *
 * const queries: BrowseQueries = new InMemoryEventStore();
 * const page = await queries.searchEvents({ eventType: "PostAdded" }, { limit: 20 });
 * console.assert(page.events.length === 0 && page.next === undefined);
 * ```
 */
export interface BrowseQueries {
  /** Events matching `search`, newest commit first. */
  searchEvents(search: EventSearch, page: PageRequest): Promise<EventPage>;
  /**
   * One aggregate's events by sequence number, from the first; the cursor
   * is the last sequence number shown, as text.
   */
  aggregateEvents(aggregateId: string, page: PageRequest): Promise<EventPage>;
  /** One event, with its aggregate's type and its command's id. */
  browseEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<BrowsedEvent | undefined>;
  /** An aggregate's summary, or `undefined` when it has no events. */
  aggregateSummary(aggregateId: string): Promise<AggregateSummary | undefined>;
  /** The command record with this UUID. */
  commandById(commandId: string): Promise<CommandRecord | undefined>;
  /** The events a command stored, in the order stored. */
  commandEvents(commandId: string, page: PageRequest): Promise<EventPage>;
  /**
   * The commands issued while an event was handled (by workflows), in the
   * order stored, at most `limit`.
   */
  causedCommands(
    aggregateId: string,
    sequenceNumber: number,
    limit: number,
  ): Promise<CommandRecord[]>;
  /** Every event type name the store knows, sorted. */
  eventTypes(): Promise<string[]>;
}
