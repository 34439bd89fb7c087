/**
 * Time travel: an aggregate's state at sequence number N or at an
 * instant, rebuilt with the application's own aggregate class from its
 * stored events, beside the state one event before, and what changed
 * between the two.
 *
 * @module
 */
import {
  aggregateInternals,
  AggregateRoot,
  aggregateTypeOf,
  snapshotConfigOf,
} from "../core/aggregate_root.ts";
import type { BrowsedEvent, BrowseQueries } from "../core/browse_queries.ts";
import type { Event } from "../core/event.ts";
import type { MessageSerializer } from "../core/serializer.ts";
import { MASK } from "./_payload_view.ts";

/** Where to travel to: a sequence number, or an instant. */
export type TimeTravelTarget =
  | { readonly sequenceNumber: number }
  | { readonly instant: Date };

/** One field's change between two states. */
export interface FieldChange {
  /** The field. */
  readonly field: string;
  /** How it changed. */
  readonly change: "added" | "removed" | "changed" | "same";
  /** Its value before (absent when added). */
  readonly before: unknown;
  /** Its value after (absent when removed). */
  readonly after: unknown;
}

/** The state found, and the one before it. */
export interface TimeTravelResult {
  /** The last event applied. */
  readonly event: BrowsedEvent;
  /** The state after it. */
  readonly state: Readonly<Record<string, unknown>>;
  /** The state before it (`undefined` at the first event). */
  readonly previous: Readonly<Record<string, unknown>> | undefined;
  /** Field by field, from `previous` to `state`. */
  readonly changes: readonly FieldChange[];
}

/** Why time travel could not rebuild the state. */
export class TimeTravelError extends Error {
  /** The message without the reason quoted from elsewhere. */
  readonly summary: string;

  /**
   * Creates the error.
   *
   * @param summary What failed.
   * @param reason Why, in another part's words (a deserializer's message
   *   may quote the payload): appended to the message.
   */
  constructor(summary: string, reason?: string) {
    super(reason === undefined ? summary : `${summary}: ${reason}`);
    this.name = "TimeTravelError";
    this.summary = summary;
  }
}

const PAGE = 1000;
const BASE_ACCESSORS = new Set(Object.getOwnPropertyNames(
  AggregateRoot.prototype,
));

/**
 * A value as plain JSON-like data for display (dates as ISO text). A
 * `Map` becomes an object keyed by its keys, which are data: with
 * `maskKeys` they are replaced by numbered masks (`••• 1`, …), since the
 * masked mode keeps an object's keys (its shape), not a map's.
 */
export function plain(value: unknown, maskKeys = false, depth = 0): unknown {
  if (depth > 8) return "…";
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") {
    return undefined;
  }
  if (typeof value !== "object") return value;
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  }
  const inner = (v: unknown) => plain(v, maskKeys, depth + 1);
  if (value instanceof Map) {
    return Object.fromEntries(
      [...value].map((
        [k, v],
        i,
      ) => [maskKeys ? `${MASK} ${i + 1}` : String(k), inner(v)]),
    );
  }
  if (value instanceof Set) return [...value].map(inner);
  if (Array.isArray(value)) return value.map(inner);
  const toJson = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJson === "function") return inner(toJson.call(value));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const converted = inner(item);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

/**
 * An aggregate's state as data: its snapshot when its class takes
 * snapshots, else its own fields and the getters its classes declare.
 */
export function aggregateState(
  aggregate: AggregateRoot,
  maskKeys = false,
): Record<string, unknown> {
  const config = snapshotConfigOf(aggregate.constructor);
  if (config) {
    const taken = plain(config.take(aggregate), maskKeys);
    return taken !== null && typeof taken === "object" &&
        !Array.isArray(taken)
      ? taken as Record<string, unknown>
      : { snapshot: taken };
  }
  const state: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(aggregate)) {
    if (key === "id") continue;
    const converted = plain(value, maskKeys);
    if (converted !== undefined) state[key] = converted;
  }
  for (
    let proto: object | null = Object.getPrototypeOf(aggregate) as object;
    proto && proto !== AggregateRoot.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (
      const [key, descriptor] of Object.entries(
        Object.getOwnPropertyDescriptors(proto),
      )
    ) {
      if (!descriptor.get || BASE_ACCESSORS.has(key) || key in state) continue;
      try {
        const converted = plain(descriptor.get.call(aggregate), maskKeys);
        if (converted !== undefined) state[key] = converted;
      } catch (error) {
        state[key] = `(getter failed: ${
          error instanceof Error ? error.message : String(error)
        })`;
      }
    }
  }
  return state;
}

/** Field by field, what changed from `before` to `after`. */
export function diffStates(
  before: Readonly<Record<string, unknown>> | undefined,
  after: Readonly<Record<string, unknown>>,
): FieldChange[] {
  const fields = [
    ...new Set([...Object.keys(before ?? {}), ...Object.keys(after)]),
  ];
  return fields.map((field) => {
    const had = before !== undefined && Object.hasOwn(before, field);
    const has = Object.hasOwn(after, field);
    const was = had ? before[field] : undefined;
    const is = has ? after[field] : undefined;
    const change = !had
      ? "added"
      : !has
      ? "removed"
      : JSON.stringify(was) === JSON.stringify(is)
      ? "same"
      : "changed";
    return { field, change, before: was, after: is };
  });
}

function reached(event: BrowsedEvent, target: TimeTravelTarget): boolean {
  return "sequenceNumber" in target
    ? event.sequenceNumber > target.sequenceNumber
    : event.createdAt.getTime() >= target.instant.getTime();
}

/**
 * Rebuilds an aggregate's state at a target with the application's class
 * for its type, reading its events a page at a time.
 *
 * @throws {TimeTravelError} when the aggregate has no events by then, or
 *   the application has no class for its type, or an event cannot be
 *   read as the application's event class.
 * @param maskKeys Whether maps' keys in the states are masked (see
 *   {@linkcode plain}).
 */
export async function travel(
  queries: BrowseQueries,
  serializer: MessageSerializer,
  aggregateClasses: readonly (new (id: string) => AggregateRoot)[],
  aggregateId: string,
  aggregateType: string,
  target: TimeTravelTarget,
  maskKeys = false,
): Promise<TimeTravelResult> {
  const cls = aggregateClasses.find((c) =>
    aggregateTypeOf(c) === aggregateType
  );
  if (!cls) {
    throw new TimeTravelError(
      `The application declares no aggregate class for the type "${aggregateType}": list it in the app's aggregates to travel in time`,
    );
  }
  const aggregate = new cls(aggregateId);
  const internals = aggregateInternals();
  // The last event found is applied only once the next one is known not
  // to be wanted, so the state before it can be taken first.
  let pending: { row: BrowsedEvent; event: Event } | undefined;
  let cursor: string | undefined;
  outer: do {
    const page = await queries.aggregateEvents(aggregateId, {
      limit: PAGE,
      cursor,
    });
    for (const row of page.events) {
      if (reached(row, target)) break outer;
      if (pending) internals.replay(aggregate, pending.event);
      pending = { row, event: readEvent(serializer, row) };
    }
    cursor = page.next;
  } while (cursor !== undefined);
  if (!pending) {
    throw new TimeTravelError(
      "sequenceNumber" in target
        ? `The aggregate has no event ${target.sequenceNumber}`
        : `The aggregate had no events before ${target.instant.toISOString()}`,
    );
  }
  const previous = pending.row.sequenceNumber > 1
    ? aggregateState(aggregate, maskKeys)
    : undefined;
  internals.replay(aggregate, pending.event);
  const state = aggregateState(aggregate, maskKeys);
  return {
    event: pending.row,
    state,
    previous,
    changes: diffStates(previous, state),
  };
}

function readEvent(serializer: MessageSerializer, row: BrowsedEvent): Event {
  try {
    return serializer.deserializeEvent(row);
  } catch (error) {
    throw new TimeTravelError(
      `Event ${row.sequenceNumber} (${row.eventType}) cannot be read with the application's classes`,
      error instanceof Error ? error.message : String(error),
    );
  }
}
