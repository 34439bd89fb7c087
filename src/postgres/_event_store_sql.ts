/**
 * The statements of {@linkcode PostgresEventStore}, built once per schema.
 * Every value is a parameter; the quoted schema name is the only thing
 * interpolated. Parameters are cast from text (`$1::text::uuid[]`) so both
 * adapters send them the same way.
 *
 * @module
 */

/** An event row's columns, as `Reader` maps them (the events are `e`). */
export const EVENT_COLUMNS =
  "e.aggregate_id, e.sequence_number, e.created_at, e.event_type_id, e.event_json::text AS event_json";

/** A command record's columns, as `Reader` maps them (the commands are `c`). */
export const COMMAND_COLUMNS =
  "c.id::text AS id, c.command_id::text AS command_id, c.created_at, c.user_id, c.aggregate_id, c.command_type_id, " +
  "c.command_json::text AS command_json, c.event_aggregate_id, c.event_sequence_number, c.trace_context";

/** Which filters a `readAllEvents` batch applies. */
export interface ReadAllVariant {
  readonly after: boolean;
  readonly types: boolean;
}

/** The statements for one schema. */
export interface EventStoreSql {
  readonly storeCommit: string;
  /** The plain statement creating one aggregate with `events` events. */
  fastCreate(events: number): string;
  readonly typeDictionary: string;
  readonly loadStreams: string;
  readonly loadStreamsUntil: string;
  readonly loadStreamsAfter: string;
  readonly loadStreamsFromSnapshot: string;
  readonly loadStream: string;
  readonly loadStreamAfter: string;
  readonly loadStreamUntil: string;
  readonly loadStreamFromSnapshot: string;
  readonly loadEvent: string;
  readonly streamExists: string;
  readonly findByUniqueKey: string;
  readonly positionMark: string;
  readonly eventsSince: string;
  readAll(variant: ReadAllVariant): string;
  readonly commandForEvent: string;
  readonly commandsCausedBy: string;
  readonly eventsOfCommand: string;
  readonly storeSnapshots: string;
  readonly loadLatestSnapshot: string;
  readonly loadLatestSnapshotOfVersion: string;
  readonly aggregatesNeedingSnapshots: string;
  readonly markForSnapshotting: string;
  readonly deleteAllSnapshots: string;
  readonly deleteSnapshotsOfOtherVersions: string;
  readonly deleteStream: string;
  readonly archivedEvents: string;
  readonly storeCommits: string;
  readonly readEvents: string;
  readonly readEventsWithTypes: string;
  readonly readEventsOfPartitions: string;
  readonly readEventsOfPartitionsWithTypes: string;
  readonly readAggregateEvents: string;
  readonly commandStored: string;
}

/** Builds the statements for a schema (already checked and quoted). */
export function eventStoreSql(s: string): EventStoreSql {
  const streamRows = (where: string) => `
    SELECT w.ord::integer AS ord, a.aggregate_id, a.aggregate_type_id,
      a.events_partition_key, 1 AS kind, e.sequence_number, e.created_at,
      e.event_type_id, e.event_json::text AS json
    FROM unnest($1::text::uuid[]) WITH ORDINALITY AS w(id, ord)
    JOIN ${s}.aggregates a ON a.aggregate_id = w.id
    JOIN ${s}.events e ON e.partition_key = a.events_partition_key
      AND e.aggregate_id = a.aggregate_id
    ${where}
    ORDER BY w.ord, e.sequence_number`;

  // One aggregate: a first row with its type and partition key (sequence
  // number NULL; none when it does not exist), then its events, read
  // straight off the primary key in sequence order (the partition key from
  // an InitPlan, run once), with no join and no sort. Four columns per
  // event: nothing repeats on every row.
  const oneStream = (where: string) => `
    SELECT NULL::integer AS sequence_number, NULL::timestamptz AS created_at,
      a.aggregate_type_id AS event_type_id, a.events_partition_key AS json
    FROM ${s}.aggregates a WHERE a.aggregate_id = $1::text::uuid
    UNION ALL
    SELECT * FROM (
      SELECT e.sequence_number, e.created_at, e.event_type_id, e.event_json::text
      FROM ${s}.events e
      WHERE e.partition_key = (SELECT events_partition_key FROM ${s}.aggregates
          WHERE aggregate_id = $1::text::uuid)
        AND e.aggregate_id = $1::text::uuid ${where}
      ORDER BY e.sequence_number
    ) events`;

  // the partition of the new aggregate, from the hash in parameter 10
  const partition = `($10::bigint % ${s}.partition_count())::smallint`;
  // Only below the oldest transaction still running (the horizon): one
  // that commits later with a smaller transaction id is read later, not
  // skipped. Ordered by the columns themselves (an index range scan). The
  // aggregates' types only when asked: a lookup per event. The partition
  // filter only when asked too: an "$5 IS NULL OR …" clause made the
  // planner's generic plan sort the whole range after the checkpoint, and a
  // processor reading one event at a time fell from ~1,700 to ~20 events/s
  // 90,000 events behind. The event types are asked for by name, looked up
  // in the same snapshot: ids looked up by an earlier statement miss a type
  // registered in between, whose events this one would then pass over.
  // (That skipped the first events of a new type: a processor's lookup ran
  // just before the writer committed, its read just after.)
  // Without the aggregates' join the rows come in the lateral read's order
  // (a nested loop over the one horizon row), so there is no outer sort: it
  // cost more than the read itself (1.8 ms against 0.7 ms of server time
  // for 1,000 events). The reader checks the order all the same.
  const readEvents = (types: boolean, partitions: boolean) => `
      WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
      SELECT h.xmin::text AS horizon, e.x, e.p, e.aggregate_id,
        e.sequence_number, e.created_at, e.event_type_id, e.json, e.partition,
        ${types ? "a.aggregate_type_id" : "NULL::smallint AS aggregate_type_id"}
      FROM h LEFT JOIN LATERAL (
        SELECT e.xact_id::text AS x, e.position::text AS p, e.aggregate_id,
          e.sequence_number, e.created_at, e.event_type_id,
          e.event_json::text AS json, e.partition, e.xact_id, e.position
        FROM ${s}.events e
        WHERE e.xact_id < h.xmin
          AND (e.xact_id, e.position) > ($1::text::xid8, $2::text::bigint)
          AND ($4::text IS NULL OR e.event_type_id = ANY (ARRAY(
            SELECT t.id FROM ${s}.event_types t
            WHERE t.type IN (SELECT jsonb_array_elements_text($4::text::jsonb)))))
          ${partitions ? "AND e.partition = ANY($5::text::smallint[])" : ""}
        ORDER BY e.xact_id, e.position
        LIMIT $3::integer
      ) e ON true
      ${
    types
      ? `LEFT JOIN ${s}.aggregates a ON a.aggregate_id = e.aggregate_id
      ORDER BY e.xact_id, e.position`
      : ""
  }`;
  const readAll = new Map<string, string>();
  const fastCreate = new Map<number, string>();

  return {
    storeCommit:
      `SELECT ${s}.store_commit($1::text::jsonb)::text AS registered`,
    storeCommits:
      `SELECT ${s}.store_commits($1::text::jsonb)::text AS registered`,
    readEvents: readEvents(false, false),
    readEventsWithTypes: readEvents(true, false),
    readEventsOfPartitions: readEvents(false, true),
    readEventsOfPartitionsWithTypes: readEvents(true, true),
    readAggregateEvents: `
      SELECT e.xact_id::text AS x, e.position::text AS p, e.aggregate_id,
        e.sequence_number, e.created_at, e.event_type_id,
        e.event_json::text AS json, e.partition,
        (SELECT aggregate_type_id FROM ${s}.aggregates
          WHERE aggregate_id = $1::text::uuid) AS aggregate_type_id
      FROM ${s}.events e
      WHERE e.partition_key = (SELECT events_partition_key FROM ${s}.aggregates
          WHERE aggregate_id = $1::text::uuid)
        AND e.aggregate_id = $1::text::uuid
        AND e.sequence_number >= $2::integer
        AND (e.xact_id, e.position) <= ($3::text::xid8, $4::text::bigint)
      ORDER BY e.sequence_number`,
    fastCreate(events: number): string {
      let text = fastCreate.get(events);
      if (text === undefined) {
        const rows: string[] = [];
        for (let j = 0; j < events; j++) {
          const p = 12 + j * 4;
          rows.push(
            `($${p}::integer, $${p + 1}::timestamptz, $${p + 2}::smallint, $${
              p + 3
            }::text::jsonb)`,
          );
        }
        text = `WITH c AS (
  INSERT INTO ${s}.commands (command_id, user_id, aggregate_id, command_type_id,
    command_json, event_aggregate_id, event_sequence_number, trace_context)
  VALUES ($9::uuid, $1::text, $2::uuid, $3::smallint, $4::text::jsonb, $5::uuid,
    $6::integer, $11::text)
  RETURNING id
), a AS (
  INSERT INTO ${s}.aggregates (aggregate_id, aggregate_type_id, events_partition_key,
    partition)
  VALUES ($7::uuid, $8::smallint, '', ${partition})
  ON CONFLICT (aggregate_id) DO NOTHING
)
INSERT INTO ${s}.events (aggregate_id, partition_key, sequence_number, created_at,
  command_id, event_type_id, event_json, partition)
SELECT $7::uuid, '', v.n, v.c, c.id, v.t, v.j, ${partition}
FROM c, (VALUES ${rows.join(", ")}) AS v(n, c, t, j)
RETURNING xact_id::text AS x, position::text AS p`;
        fastCreate.set(events, text);
      }
      return text;
    },
    typeDictionary: `
      SELECT 'e' AS kind, id, type FROM ${s}.event_types
      UNION ALL SELECT 'a', id, type FROM ${s}.aggregate_types
      UNION ALL SELECT 'c', id, type FROM ${s}.command_types`,
    loadStreams: streamRows(""),
    loadStreamsUntil: streamRows("WHERE e.created_at < $2::timestamptz"),
    loadStreamsAfter: `
    SELECT w.ord::integer AS ord, a.aggregate_id, a.aggregate_type_id,
      a.events_partition_key, 1 AS kind, e.sequence_number, e.created_at,
      e.event_type_id, e.event_json::text AS json
    FROM unnest($1::text::uuid[], $2::text::integer[]) WITH ORDINALITY AS w(id, after, ord)
    JOIN ${s}.aggregates a ON a.aggregate_id = w.id
    JOIN ${s}.events e ON e.partition_key = a.events_partition_key
      AND e.aggregate_id = a.aggregate_id AND e.sequence_number > w.after
    ORDER BY w.ord, e.sequence_number`,
    loadStreamsFromSnapshot: `
      WITH st AS (
        SELECT w.ord, a.aggregate_id, a.aggregate_type_id, a.events_partition_key,
          sn.sequence_number AS snapshot_sequence_number,
          sn.created_at AS snapshot_created_at, sn.snapshot_json
        FROM unnest($1::text::uuid[]) WITH ORDINALITY AS w(id, ord)
        JOIN ${s}.aggregates a ON a.aggregate_id = w.id
        LEFT JOIN LATERAL (
          SELECT r.sequence_number, r.created_at, r.snapshot_json
          FROM ${s}.snapshot_records r
          WHERE r.aggregate_id = a.aggregate_id AND r.snapshot_version = $2::integer
          ORDER BY r.sequence_number DESC LIMIT 1
        ) sn ON true
      )
      SELECT st.ord::integer AS ord, st.aggregate_id, st.aggregate_type_id,
        st.events_partition_key, 0 AS kind,
        st.snapshot_sequence_number AS sequence_number,
        st.snapshot_created_at AS created_at, NULL::smallint AS event_type_id,
        st.snapshot_json::text AS json
      FROM st WHERE st.snapshot_sequence_number IS NOT NULL
      UNION ALL
      SELECT st.ord::integer, st.aggregate_id, st.aggregate_type_id,
        st.events_partition_key, 1, e.sequence_number, e.created_at,
        e.event_type_id, e.event_json::text
      FROM st JOIN ${s}.events e ON e.partition_key = st.events_partition_key
        AND e.aggregate_id = st.aggregate_id
        AND e.sequence_number > coalesce(st.snapshot_sequence_number, 0)
      ORDER BY 1, 5, 6`,
    loadStream: oneStream(""),
    // a cached aggregate's new events: a range of the primary key
    loadStreamAfter: oneStream("AND e.sequence_number > $2::integer"),
    loadStreamUntil: oneStream("AND e.created_at < $2::timestamptz"),
    loadStreamFromSnapshot: `
      WITH a AS (
        SELECT aggregate_type_id, events_partition_key FROM ${s}.aggregates
        WHERE aggregate_id = $1::text::uuid
      ), sn AS (
        SELECT r.sequence_number, r.created_at, r.snapshot_json
        FROM ${s}.snapshot_records r
        WHERE r.aggregate_id = $1::text::uuid AND r.snapshot_version = $2::integer
        ORDER BY r.sequence_number DESC LIMIT 1
      )
      SELECT 0 AS kind, sn.sequence_number, sn.created_at, NULL::smallint AS event_type_id,
        sn.snapshot_json::text AS json, a.aggregate_type_id, a.events_partition_key
      FROM sn, a
      UNION ALL
      SELECT * FROM (
        SELECT 1, e.sequence_number, e.created_at, e.event_type_id,
          e.event_json::text, a.aggregate_type_id, a.events_partition_key
        FROM ${s}.events e, a
        WHERE e.partition_key = (SELECT events_partition_key FROM a)
          AND e.aggregate_id = $1::text::uuid
          AND e.sequence_number > coalesce((SELECT sequence_number FROM sn), 0)
        ORDER BY e.sequence_number
      ) events`,
    loadEvent: `
      SELECT ${EVENT_COLUMNS}
      FROM ${s}.aggregates a
      JOIN ${s}.events e ON e.partition_key = a.events_partition_key
        AND e.aggregate_id = a.aggregate_id
      WHERE a.aggregate_id = $1::text::uuid AND e.sequence_number = $2::integer`,
    streamExists: `
      SELECT EXISTS (
        SELECT 1 FROM ${s}.aggregates a
        JOIN ${s}.events e ON e.partition_key = a.events_partition_key
          AND e.aggregate_id = a.aggregate_id
        WHERE a.aggregate_id = $1::text::uuid
      ) AS found`,
    findByUniqueKey: `
      SELECT aggregate_id FROM ${s}.aggregate_unique_keys
      WHERE scope = $1::text AND key = $2::text::jsonb`,
    positionMark: "SELECT pg_current_snapshot()::text AS mark",
    eventsSince: `
      SELECT ${EVENT_COLUMNS} FROM ${s}.events e
      WHERE e.xact_id >= pg_snapshot_xmin($1::text::pg_snapshot)
        AND NOT pg_visible_in_snapshot(e.xact_id, $1::text::pg_snapshot)
      ORDER BY e.xact_id, e.position`,
    readAll(variant: ReadAllVariant): string {
      const key = `${variant.after}/${variant.types}`;
      let text = readAll.get(key);
      if (text === undefined) {
        // $1, $2: the last row read (keyset); $3: batch size; $4: the
        // snapshot the whole read is made as of; then the optional `after`
        // snapshot and event type ids.
        let next = 5;
        const after = variant.after
          ? `AND e.xact_id >= pg_snapshot_xmin($${next}::text::pg_snapshot)
             AND NOT pg_visible_in_snapshot(e.xact_id, $${next++}::text::pg_snapshot)`
          : "";
        const types = variant.types
          ? `AND e.event_type_id = ANY($${next++}::text::smallint[])`
          : "";
        text = `
          SELECT e.xact_id::text AS xact_id, e.position::text AS position, ${EVENT_COLUMNS}
          FROM ${s}.events e
          WHERE e.xact_id < pg_snapshot_xmax($4::text::pg_snapshot)
            AND pg_visible_in_snapshot(e.xact_id, $4::text::pg_snapshot)
            AND (e.xact_id, e.position) > ($1::text::xid8, $2::text::bigint)
            ${after} ${types}
          ORDER BY e.xact_id, e.position
          LIMIT $3::integer`;
        readAll.set(key, text);
      }
      return text;
    },
    commandForEvent: `
      SELECT ${COMMAND_COLUMNS}
      FROM ${s}.aggregates a
      JOIN ${s}.events e ON e.partition_key = a.events_partition_key
        AND e.aggregate_id = a.aggregate_id
      JOIN ${s}.commands c ON c.id = e.command_id
      WHERE a.aggregate_id = $1::text::uuid AND e.sequence_number = $2::integer`,
    commandsCausedBy: `
      SELECT ${COMMAND_COLUMNS} FROM ${s}.commands c
      WHERE c.event_aggregate_id = $1::text::uuid
        AND c.event_sequence_number = $2::integer
      ORDER BY c.id`,
    eventsOfCommand: `
      SELECT ${EVENT_COLUMNS} FROM ${s}.events e
      WHERE e.command_id = $1::text::bigint
      ORDER BY e.xact_id, e.position`,
    storeSnapshots: `
      WITH input AS (
        SELECT (x ->> 'a')::uuid AS aggregate_id, (x ->> 'v')::integer AS snapshot_version,
          (x ->> 's')::integer AS sequence_number, (x ->> 'c')::timestamptz AS created_at,
          x -> 'd' AS snapshot_json
        FROM jsonb_array_elements($1::text::jsonb) x
      ), stored AS (
        INSERT INTO ${s}.snapshot_records AS r (aggregate_id, snapshot_version,
          sequence_number, created_at, snapshot_json)
        SELECT aggregate_id, snapshot_version, sequence_number, created_at, snapshot_json
        FROM input ORDER BY aggregate_id, snapshot_version, sequence_number
        ON CONFLICT (aggregate_id, snapshot_version, sequence_number) DO UPDATE
          SET created_at = EXCLUDED.created_at, snapshot_json = EXCLUDED.snapshot_json
        RETURNING r.aggregate_id, r.sequence_number
      )
      UPDATE ${s}.aggregates_that_need_snapshots n
      SET snapshot_outdated_at = NULL, snapshot_scheduled_at = NULL,
        snapshot_sequence_number_high_water_mark = greatest(
          n.snapshot_sequence_number_high_water_mark, st.sequence_number)
      FROM (SELECT aggregate_id, max(sequence_number) AS sequence_number
            FROM stored GROUP BY aggregate_id) st
      WHERE n.aggregate_id = st.aggregate_id
        AND coalesce(n.snapshot_sequence_number_high_water_mark, 0) <= st.sequence_number`,
    loadLatestSnapshot: `
      SELECT r.aggregate_id, a.aggregate_type_id, r.snapshot_version, r.sequence_number,
        r.created_at, r.snapshot_json::text AS json
      FROM ${s}.snapshot_records r JOIN ${s}.aggregates a ON a.aggregate_id = r.aggregate_id
      WHERE r.aggregate_id = $1::text::uuid
      ORDER BY r.sequence_number DESC, r.snapshot_version DESC LIMIT 1`,
    loadLatestSnapshotOfVersion: `
      SELECT r.aggregate_id, a.aggregate_type_id, r.snapshot_version, r.sequence_number,
        r.created_at, r.snapshot_json::text AS json
      FROM ${s}.snapshot_records r JOIN ${s}.aggregates a ON a.aggregate_id = r.aggregate_id
      WHERE r.aggregate_id = $1::text::uuid AND r.snapshot_version = $2::integer
      ORDER BY r.sequence_number DESC LIMIT 1`,
    aggregatesNeedingSnapshots: `
      SELECT n.aggregate_id, a.aggregate_type_id
      FROM ${s}.aggregates_that_need_snapshots n
      JOIN ${s}.aggregates a ON a.aggregate_id = n.aggregate_id
      WHERE n.snapshot_outdated_at IS NOT NULL
      ORDER BY n.snapshot_outdated_at, n.snapshot_sequence_number_high_water_mark DESC,
        n.aggregate_id
      LIMIT $1::integer`,
    markForSnapshotting: `
      INSERT INTO ${s}.aggregates_that_need_snapshots AS n (aggregate_id,
        snapshot_sequence_number_high_water_mark, snapshot_outdated_at)
      SELECT a.aggregate_id,
        (SELECT max(e.sequence_number) FROM ${s}.events e
         WHERE e.partition_key = a.events_partition_key AND e.aggregate_id = a.aggregate_id),
        now()
      FROM ${s}.aggregates a WHERE a.aggregate_id = ANY($1::text::uuid[])
      ORDER BY a.aggregate_id
      ON CONFLICT (aggregate_id) DO UPDATE SET
        snapshot_sequence_number_high_water_mark = EXCLUDED.snapshot_sequence_number_high_water_mark,
        snapshot_outdated_at = coalesce(n.snapshot_outdated_at, EXCLUDED.snapshot_outdated_at)`,
    deleteAllSnapshots: `
      WITH deleted AS (
        DELETE FROM ${s}.snapshot_records RETURNING aggregate_id, sequence_number
      )
      INSERT INTO ${s}.aggregates_that_need_snapshots AS n (aggregate_id,
        snapshot_sequence_number_high_water_mark, snapshot_outdated_at)
      SELECT aggregate_id, max(sequence_number), now() FROM deleted
      GROUP BY aggregate_id ORDER BY aggregate_id
      ON CONFLICT (aggregate_id) DO UPDATE SET
        snapshot_outdated_at = coalesce(n.snapshot_outdated_at, EXCLUDED.snapshot_outdated_at)`,
    deleteSnapshotsOfOtherVersions: `
      WITH current_versions AS (
        SELECT t.id AS aggregate_type_id, v.value::integer AS snapshot_version
        FROM jsonb_each_text($1::text::jsonb) v
        JOIN ${s}.aggregate_types t ON t.type = v.key
      ), deleted AS (
        DELETE FROM ${s}.snapshot_records r
        USING ${s}.aggregates a
        LEFT JOIN current_versions c ON c.aggregate_type_id = a.aggregate_type_id
        WHERE a.aggregate_id = r.aggregate_id
          AND r.snapshot_version IS DISTINCT FROM c.snapshot_version
        RETURNING r.aggregate_id, r.sequence_number, c.snapshot_version AS current_version
      ), marked AS (
        INSERT INTO ${s}.aggregates_that_need_snapshots AS n (aggregate_id,
          snapshot_sequence_number_high_water_mark, snapshot_outdated_at)
        SELECT aggregate_id, max(sequence_number), now() FROM deleted
        WHERE current_version IS NOT NULL
        GROUP BY aggregate_id ORDER BY aggregate_id
        ON CONFLICT (aggregate_id) DO UPDATE SET
          snapshot_outdated_at = coalesce(n.snapshot_outdated_at, EXCLUDED.snapshot_outdated_at)
      )
      SELECT count(*)::integer AS deleted FROM deleted`,
    deleteStream: `SELECT ${s}.delete_stream($1::text::uuid) AS deleted`,
    // Tries to claim the command id: ON CONFLICT waits for a transaction
    // still inserting it and then does nothing (stored); without a conflict
    // the row goes in and the command type -1, which never exists, fails
    // the statement with 23503 (not stored; nothing is kept).
    commandStored: `
      INSERT INTO ${s}.commands (command_id, command_type_id, command_json)
      VALUES ($1::text::uuid, -1, '{}') ON CONFLICT (command_id) DO NOTHING`,
    archivedEvents: `
      SELECT aggregate_id, sequence_number, created_at, event_type,
        event_json::text AS event_json
      FROM ${s}.saved_event_records
      WHERE aggregate_id = $1::text::uuid AND operation = 'D'
      ORDER BY id`,
  };
}
