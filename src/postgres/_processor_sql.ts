/**
 * SQL on the processors' tables that more than one part of the adapter
 * runs.
 *
 * @module
 */

/**
 * Starts a processor over, in one statement: its checkpoint back to the
 * start, its claim ended (a new fencing token, so the holder's next commit
 * fails), its parked aggregates and partitions forgotten (the members'
 * next commits fail, and their next claims start the partitions again
 * from the processor's checkpoint). Parameter: the processor's name.
 *
 * @param s The event store's quoted schema.
 */
export function resetProcessorSql(s: string): string {
  return `WITH forgotten AS (
      DELETE FROM ${s}.parked_aggregates WHERE processor = $1
    ), unpartitioned AS (
      DELETE FROM ${s}.processor_partitions WHERE processor = $1
    )
    UPDATE ${s}.processors SET checkpoint_xact = '0', checkpoint_position = 0,
      owner = NULL, expires_at = NULL, token = token + 1, partitioned = false,
      updated_at = clock_timestamp()
    WHERE name = $1`;
}

/**
 * Restarts a processor at a boundary, in one statement, creating its row
 * when it has none: its checkpoint moved to `"<$2>:0"`, its claim ended (a
 * new fencing token, so the holder's next commit fails and it reads the
 * checkpoint again), its parked aggregates and partitions forgotten. For a processor
 * whose new tables a migration has built up to that boundary. Parameters:
 * the processor's name and the boundary's transaction id.
 *
 * @param s The event store's quoted schema.
 */
export function restartProcessorSql(s: string): string {
  return `WITH forgotten AS (
      DELETE FROM ${s}.parked_aggregates WHERE processor = $1
    ), unpartitioned AS (
      DELETE FROM ${s}.processor_partitions WHERE processor = $1
    )
    INSERT INTO ${s}.processors AS p (name, checkpoint_xact, checkpoint_position)
    VALUES ($1, $2::text::xid8, 0)
    ON CONFLICT (name) DO UPDATE SET
      checkpoint_xact = excluded.checkpoint_xact, checkpoint_position = 0,
      owner = NULL, expires_at = NULL, token = p.token + 1, partitioned = false,
      updated_at = clock_timestamp()`;
}
