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
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TimeTravelError";
  }
}

const PAGE = 1000;
const BASE_ACCESSORS = new Set(Object.getOwnPropertyNames(
  AggregateRoot.prototype,
));

/** A value as plain JSON-like data for display (dates as ISO text). */
export function plain(value: unknown, depth = 0): unknown {
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
  if (value instanceof Map) {
    return Object.fromEntries(
      [...value].map(([k, v]) => [String(k), plain(v, depth + 1)]),
    );
  }
  if (value instanceof Set) return [...value].map((v) => plain(v, depth + 1));
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1));
  const toJson = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJson === "function") {
    return plain(toJson.call(value), depth + 1);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const converted = plain(item, depth + 1);
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
): Record<string, unknown> {
  const config = snapshotConfigOf(aggregate.constructor);
  if (config) {
    const taken = plain(config.take(aggregate));
    return taken !== null && typeof taken === "object" &&
        !Array.isArray(taken)
      ? taken as Record<string, unknown>
      : { snapshot: taken };
  }
  const state: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(aggregate)) {
    if (key === "id") continue;
    const converted = plain(value);
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
        const converted = plain(descriptor.get.call(aggregate));
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
 */
export async function travel(
  queries: BrowseQueries,
  serializer: MessageSerializer,
  aggregateClasses: readonly (new (id: string) => AggregateRoot)[],
  aggregateId: string,
  aggregateType: string,
  target: TimeTravelTarget,
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
    ? aggregateState(aggregate)
    : undefined;
  internals.replay(aggregate, pending.event);
  const state = aggregateState(aggregate);
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
      `Event ${row.sequenceNumber} (${row.eventType}) cannot be read with the application's classes: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
}
