/**
 * The PostgreSQL event store's {@linkcode BrowseQueries}: the event
 * browser's bounded pages. Every list reads `limit + 1` rows by keyset
 * (the extra row only tells that a next page exists), its filters and
 * names looked up in the same statement; rows map to events and command
 * records as `Reader` maps them.
 *
 * @module
 */
import type {
  AggregateSummary,
  BrowsedEvent,
  BrowseQueries,
  EventPage,
  EventSearch,
  PageRequest,
  SnapshotInfo,
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
import type { CommandRecord } from "../core/event_store.ts";
import type { JsonValue } from "../core/json.ts";
import type { SqlRow, SqlValue } from "./sql_client.ts";
import { COMMAND_COLUMNS, EVENT_COLUMNS } from "./_event_store_sql.ts";
import type { Reader } from "./_event_store_reads.ts";
import { isUuid } from "./_commit_json.ts";
import type { Executor } from "./_unit.ts";
import { MAX_POSITION, MAX_XACT_ID } from "./_stream_position.ts";

/** `searchEvents`' cursor: the last row's `xact_id:position`. */
const SEARCH_CURSOR = /^(\d{1,20}):(\d{1,19})$/;
/** `aggregateEvents`' cursor: the last sequence number shown. */
const SEQUENCE_CURSOR = /^(\d{1,10})$/;
/** `commandEvents`' cursor: the last row's `position`. */
const POSITION_CURSOR = /^(\d{1,19})$/;

const MAX_INTEGER = 2 ** 31 - 1;

/** Whether `n` is a sequence number PostgreSQL's `integer` holds. */
function isSequenceNumber(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_INTEGER;
}

/** The numbers of a cursor, each at most its column's largest value. */
function cursorOf(
  cursor: string,
  pattern: RegExp,
  max: readonly string[],
): string[] {
  const numbers = cursorNumbers(cursor, pattern);
  if (numbers.some((n, i) => BigInt(n) > BigInt(max[i]!))) {
    throw badCursor(cursor);
  }
  return numbers;
}

interface BrowsedRow {
  readonly aggregate_type_id: number;
  readonly command_uuid: string;
  readonly sequence_number: number;
  readonly x: string;
  readonly p: string;
}

interface SummaryRow {
  readonly aggregate_type_id: number;
  readonly events_partition_key: string;
  readonly last_sequence_number: number | null;
  /** JSON: `[[version, sequence number, created_at in ms], …]`. */
  readonly snapshots: string;
  /** JSON: `[[scope, key], …]`. */
  readonly unique_keys: string;
}

/** The statements for one schema (already checked and quoted). */
interface BrowseSql {
  search(search: EventSearch, after: boolean): string;
  readonly aggregateEvents: string;
  readonly browseEvent: string;
  readonly commandEvents: string;
  readonly aggregateSummary: string;
  readonly commandById: string;
  readonly causedCommands: string;
  readonly eventTypes: string;
}

function browseSql(s: string): BrowseSql {
  // One aggregate's events straight off the primary key: its partition
  // key comes from an InitPlan.
  const ofAggregate = (n: number) =>
    `e.partition_key = (SELECT events_partition_key FROM ${s}.aggregates
        WHERE aggregate_id = $${n}::text::uuid)
      AND e.aggregate_id = $${n}::text::uuid`;
  // At most $1 events (the page and one more) by `where` in `order`, then
  // their aggregate types and command ids, a lookup per row.
  const browsed = (where: string, order: string) => `
    SELECT ${EVENT_COLUMNS}, a.aggregate_type_id,
      c.command_id::text AS command_uuid, e.xact_id::text AS x,
      e.position::text AS p
    FROM (
      SELECT e.aggregate_id, e.sequence_number, e.created_at, e.event_type_id,
        e.event_json, e.command_id, e.xact_id, e.position
      FROM ${s}.events e
      WHERE ${where}
      ORDER BY ${order}
      LIMIT $1::integer
    ) e
    JOIN ${s}.aggregates a ON a.aggregate_id = e.aggregate_id
    JOIN ${s}.commands c ON c.id = e.command_id
    ORDER BY ${order}`;
  const searches = new Map<string, string>();
  return {
    // $1 the limit, then the cursor's two numbers and each filter given,
    // in the order below
    search(search: EventSearch, after: boolean): string {
      const key = [
        after,
        search.aggregateId,
        search.commandId,
        search.eventType,
        search.from,
        search.until,
      ].map((v) => v === undefined || v === false ? 0 : 1).join("");
      let text = searches.get(key);
      if (text === undefined) {
        let n = 2;
        const where = ["true"];
        if (after) {
          where.push(
            `(e.xact_id, e.position) < ($${n++}::text::xid8, $${n++}::text::bigint)`,
          );
        }
        if (search.aggregateId !== undefined) where.push(ofAggregate(n++));
        if (search.commandId !== undefined) {
          where.push(`e.command_id = (SELECT id FROM ${s}.commands
            WHERE command_id = $${n++}::text::uuid)`);
        }
        if (search.eventType !== undefined) {
          // the EXISTS is a one-time filter: an unknown type reads no row
          // (`event_type_id = NULL` alone would scan them all)
          where.push(`e.event_type_id = (SELECT id FROM ${s}.event_types
            WHERE type = $${n}::text)
            AND EXISTS (SELECT FROM ${s}.event_types WHERE type = $${n++}::text)`);
        }
        if (search.from !== undefined) {
          where.push(`e.created_at >= $${n++}::timestamptz`);
        }
        if (search.until !== undefined) {
          where.push(`e.created_at < $${n++}::timestamptz`);
        }
        text = browsed(
          where.join("\n        AND "),
          "e.xact_id DESC, e.position DESC",
        );
        searches.set(key, text);
      }
      return text;
    },
    aggregateEvents: browsed(
      `${ofAggregate(2)} AND e.sequence_number > $3::integer`,
      "e.sequence_number",
    ),
    browseEvent: browsed(
      `${ofAggregate(2)} AND e.sequence_number = $3::integer`,
      "e.sequence_number",
    ),
    // a command's events are one transaction's: stored in position order
    commandEvents: browsed(
      `e.command_id = (SELECT id FROM ${s}.commands
          WHERE command_id = $2::text::uuid)
        AND e.position > $3::bigint`,
      "e.position",
    ),
    aggregateSummary: `
      SELECT a.aggregate_type_id, a.events_partition_key,
        (SELECT max(e.sequence_number) FROM ${s}.events e
          WHERE e.partition_key = a.events_partition_key
            AND e.aggregate_id = a.aggregate_id) AS last_sequence_number,
        (SELECT coalesce(json_agg(json_build_array(r.snapshot_version,
            r.sequence_number, r.ms) ORDER BY r.sequence_number DESC,
            r.snapshot_version DESC, r.ms DESC), '[]')::text
          FROM (
            SELECT r.snapshot_version, r.sequence_number,
              floor(extract(epoch FROM r.created_at) * 1000) AS ms
            FROM ${s}.snapshot_records r
            WHERE r.aggregate_id = a.aggregate_id
            ORDER BY r.sequence_number DESC, r.snapshot_version DESC,
              r.created_at DESC
            LIMIT 20
          ) r) AS snapshots,
        (SELECT coalesce(json_agg(json_build_array(k.scope, k.key)
            ORDER BY k.scope COLLATE "C"), '[]')::text
          FROM ${s}.aggregate_unique_keys k
          WHERE k.aggregate_id = a.aggregate_id) AS unique_keys
      FROM ${s}.aggregates a
      WHERE a.aggregate_id = $1::text::uuid`,
    commandById: `
      SELECT ${COMMAND_COLUMNS} FROM ${s}.commands c
      WHERE c.command_id = $1::text::uuid`,
    causedCommands: `
      SELECT ${COMMAND_COLUMNS} FROM ${s}.commands c
      WHERE c.event_aggregate_id = $1::text::uuid
        AND c.event_sequence_number = $2::integer
      ORDER BY c.id
      LIMIT $3::integer`,
    eventTypes: `SELECT type FROM ${s}.event_types ORDER BY type COLLATE "C"`,
  };
}

/** The browse queries, over the store's executor and reader. */
export class BrowseReader implements BrowseQueries {
  readonly #exec: Executor;
  readonly #reader: Reader;
  readonly #sql: BrowseSql;

  /** @param schema The event store's schema, already checked and quoted. */
  constructor(exec: Executor, reader: Reader, schema: string) {
    this.#exec = exec;
    this.#reader = reader;
    this.#sql = browseSql(schema);
  }

  /** Events with their aggregate types and command ids. */
  async #browsed(rows: readonly SqlRow[]): Promise<BrowsedEvent[]> {
    const extra = rows as unknown as readonly BrowsedRow[];
    const events = await this.#reader.serializedEvents(rows);
    const types = await this.#reader.typeNames(
      "a",
      extra.map((r) => r.aggregate_type_id),
    );
    return events.map((event, i) => ({
      ...event,
      aggregateType: types[i]!,
      commandId: extra[i]!.command_uuid,
    }));
  }

  /** Runs a list's statement ($1: the limit plus one) and cuts the page. */
  async #page(
    text: string,
    limit: number,
    params: readonly SqlValue[],
    cursor: (last: BrowsedRow) => string,
  ): Promise<EventPage> {
    const rows = await this.#exec.run(text, [limit + 1, ...params]);
    const page = pageOf(
      rows,
      limit,
      (last) => cursor(last as unknown as BrowsedRow),
    );
    return { events: await this.#browsed(page.rows), next: page.next };
  }

  async searchEvents(
    search: EventSearch,
    page: PageRequest,
  ): Promise<EventPage> {
    const { limit, after } = pageStart(
      page,
      [],
      (cursor) => cursorOf(cursor, SEARCH_CURSOR, [MAX_XACT_ID, MAX_POSITION]),
    );
    if (
      !searchCanMatch(search) ||
      (search.aggregateId !== undefined && !isUuid(search.aggregateId)) ||
      (search.commandId !== undefined && !isUuid(search.commandId))
    ) return EMPTY_PAGE;
    const params: SqlValue[] = [...after];
    for (
      const value of [
        search.aggregateId,
        search.commandId,
        search.eventType,
        search.from,
        search.until,
      ]
    ) {
      if (value !== undefined) params.push(value);
    }
    return await this.#page(
      this.#sql.search(search, page.cursor !== undefined),
      limit,
      params,
      (last) => `${last.x}:${last.p}`,
    );
  }

  async aggregateEvents(
    aggregateId: string,
    page: PageRequest,
  ): Promise<EventPage> {
    const { limit, after } = pageStart(
      page,
      0,
      (cursor) => Number(cursorNumbers(cursor, SEQUENCE_CURSOR)[0]),
    );
    // past every sequence number: nothing follows
    if (!isUuid(aggregateId) || after >= MAX_INTEGER) return EMPTY_PAGE;
    return await this.#page(
      this.#sql.aggregateEvents,
      limit,
      [aggregateId, after],
      (last) => String(last.sequence_number),
    );
  }

  async browseEvent(
    aggregateId: string,
    sequenceNumber: number,
  ): Promise<BrowsedEvent | undefined> {
    if (!isUuid(aggregateId) || !isSequenceNumber(sequenceNumber)) {
      return undefined;
    }
    const rows = await this.#exec.run(this.#sql.browseEvent, [
      1,
      aggregateId,
      sequenceNumber,
    ]);
    return (await this.#browsed(rows))[0];
  }

  async aggregateSummary(
    aggregateId: string,
  ): Promise<AggregateSummary | undefined> {
    if (!isUuid(aggregateId)) return undefined;
    const [row] = await this.#exec.run(this.#sql.aggregateSummary, [
      aggregateId,
    ]) as unknown as SummaryRow[];
    if (row === undefined || row.last_sequence_number === null) {
      return undefined;
    }
    const [aggregateType] = await this.#reader.typeNames("a", [
      row.aggregate_type_id,
    ]);
    const snapshots = JSON.parse(row.snapshots) as [number, number, number][];
    const keys = JSON.parse(row.unique_keys) as [string, JsonValue][];
    return {
      aggregateId: aggregateId.toLowerCase(),
      aggregateType: aggregateType!,
      partitionKey: row.events_partition_key,
      lastSequenceNumber: row.last_sequence_number,
      snapshots: snapshots.map((
        [version, sequenceNumber, ms],
      ): SnapshotInfo => ({
        version,
        sequenceNumber,
        createdAt: new Date(ms),
      })),
      uniqueKeys: keys.map(([scope, key]) => ({ scope, key })),
    };
  }

  async commandById(commandId: string): Promise<CommandRecord | undefined> {
    if (!isUuid(commandId)) return undefined;
    const rows = await this.#exec.run(this.#sql.commandById, [commandId]);
    return (await this.#reader.commandRecords(rows))[0];
  }

  async commandEvents(
    commandId: string,
    page: PageRequest,
  ): Promise<EventPage> {
    const { limit, after } = pageStart(
      page,
      "0",
      (cursor) => cursorOf(cursor, POSITION_CURSOR, [MAX_POSITION])[0]!,
    );
    if (!isUuid(commandId)) return EMPTY_PAGE;
    return await this.#page(
      this.#sql.commandEvents,
      limit,
      [commandId, after],
      (last) => last.p,
    );
  }

  async causedCommands(
    aggregateId: string,
    sequenceNumber: number,
    limit: number,
  ): Promise<CommandRecord[]> {
    checkPageLimit(limit);
    if (!isUuid(aggregateId) || !isSequenceNumber(sequenceNumber)) return [];
    const rows = await this.#exec.run(this.#sql.causedCommands, [
      aggregateId,
      sequenceNumber,
      limit,
    ]);
    return await this.#reader.commandRecords(rows);
  }

  async eventTypes(): Promise<string[]> {
    const rows = await this.#exec.run(this.#sql.eventTypes, []);
    return rows.map((r) => r.type as string);
  }
}
