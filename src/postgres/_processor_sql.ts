/**
 * SQL on the processors' tables that more than one part of the adapter
 * runs.
 *
 * @module
 */

/**
 * Starts a processor over, in one statement: its checkpoint back to the
 * start, its claim ended (a new fencing token, so the holder's next commit
 * fails), its parked aggregates forgotten. Parameter: the processor's name.
 *
 * @param s The event store's quoted schema.
 */
export function resetProcessorSql(s: string): string {
  return `WITH forgotten AS (
      DELETE FROM ${s}.parked_aggregates WHERE processor = $1
    )
    UPDATE ${s}.processors SET checkpoint_xact = '0', checkpoint_position = 0,
      owner = NULL, expires_at = NULL, token = token + 1,
      updated_at = clock_timestamp()
    WHERE name = $1`;
}
