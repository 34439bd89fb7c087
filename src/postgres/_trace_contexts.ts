/**
 * The trace contexts of a processor batch's commits: one `traceparent` is
 * kept per commit, in its command record (`commands.trace_context`, schema
 * version 8); the batch's events reach it by `command_id`. One statement
 * per batch, run only when the application traces.
 *
 * @module
 */
import type { StoredEvent } from "../core/event_reader.ts";
import { parseStreamPosition } from "./_stream_position.ts";
import type { SqlValue } from "./sql_client.ts";

/** The statement, for the quoted schema `s`. */
export function traceContextsSql(s: string): string {
  return `SELECT DISTINCT c.trace_context AS tc
FROM unnest($1::text::xid8[], $2::text::bigint[]) AS w(x, p)
JOIN ${s}.events e ON e.xact_id = w.x AND e.position = w.p
JOIN ${s}.commands c ON c.id = e.command_id
WHERE c.trace_context IS NOT NULL
LIMIT $3::integer`;
}

/** The statement's parameters: the events' positions, and the limit. */
export function traceContextsParams(
  events: readonly StoredEvent[],
  limit: number,
): SqlValue[] {
  const xacts: string[] = [];
  const positions: string[] = [];
  for (const event of events) {
    const [xact, position] = parseStreamPosition(event.position);
    xacts.push(xact);
    positions.push(position);
  }
  return [`{${xacts.join(",")}}`, `{${positions.join(",")}}`, limit];
}
