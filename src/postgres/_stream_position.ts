/**
 * Stream positions of the PostgreSQL store: `"<xact_id>:<position>"`, in
 * commit order (`""` is the start).
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";
import type { StreamPosition } from "../core/event_reader.ts";

/** The largest `position` (a bigint): "past every event of that transaction". */
export const MAX_POSITION = "9223372036854775807";

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

/** Orders two unsigned integers given as their decimal digits. */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders two events by transaction id, then position, each given as its
 * decimal digits (no leading zeros, as the server writes them): no
 * parsing, for a check over every row of a read.
 */
export function compareXactPositions(
  ax: string,
  ap: string,
  bx: string,
  bp: string,
): number {
  return compareDigits(ax, bx) || compareDigits(ap, bp);
}

/**
 * The largest transaction id (an `xid8`): `"<MAX_XACT_ID>:0"` is past every
 * event.
 */
export const MAX_XACT_ID = "18446744073709551615";
