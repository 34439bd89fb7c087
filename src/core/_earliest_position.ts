/**
 * The earliest of several stream positions, in a reader's order: a
 * partitioned processor's checkpoint is the earliest of its partitions'.
 *
 * @module
 */
import type { EventReader, StreamPosition } from "./event_reader.ts";

/**
 * The earliest of `positions` (undefined when there are none).
 *
 * @param reader Whose order positions have.
 * @param positions The positions.
 */
export function earliestPosition(
  reader: Pick<EventReader, "comparePositions">,
  positions: Iterable<StreamPosition>,
): StreamPosition | undefined {
  let earliest: StreamPosition | undefined;
  for (const p of positions) {
    if (earliest === undefined || reader.comparePositions(p, earliest) < 0) {
      earliest = p;
    }
  }
  return earliest;
}
