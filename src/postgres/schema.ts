/**
 * The event store's tables and functions, created and upgraded by a
 * versioned, idempotent installer.
 *
 * Everything lives in one PostgreSQL schema (default `sequent_schema`):
 *
 * | Table | What it holds |
 * |---|---|
 * | `schema_versions` | One row per migration applied |
 * | `event_types`, `aggregate_types`, `command_types` | Type names and their `smallint` ids |
 * | `aggregates` | `aggregate_id uuid` (key), type id, `events_partition_key`, `partition smallint` (fixed at its first commit), `created_at` |
 * | `commands` | The command log: `id bigint`, `created_at`, `user_id`, `aggregate_id`, type id, `command_json jsonb`, the causing event (`event_aggregate_id`, `event_sequence_number`), and `trace_context` (from version 8: the W3C `traceparent` of the command's span when the application traces; one per commit, which its events reach by `command_id`) |
 * | `events` | `aggregate_id`, `partition_key`, `sequence_number`, `created_at`, `command_id`, type id, `event_json jsonb`, `xact_id xid8` (the writing transaction), `position` (a sequence) and its aggregate's `partition`; key (`partition_key`, `aggregate_id`, `sequence_number`); indexed by (`xact_id`, `position`), by (`partition`, `xact_id`, `position`), by (type id, `xact_id`, `position`) and by `created_at`; range-partitioned by `partition_key`, with one default table partition |
 * | `aggregate_unique_keys` | (`aggregate_id`, `scope`) → `key jsonb`, unique per (`scope`, `key`) |
 * | `snapshot_records` | Snapshots by aggregate, version and sequence number |
 * | `aggregates_that_need_snapshots` | Aggregates marked for a new snapshot, with a high-water mark |
 * | `saved_event_records` | Copies of deleted or changed events (filled by triggers) |
 * | `processors`, `parked_aggregates` | Processors' checkpoints and claims (and from version 9 whether each is `partitioned`), and the aggregates they set aside |
 * | `processor_partitions`, `processor_members` | Partitioned processors' per-partition checkpoints and claims, and their members |
 *
 * Functions: `store_commit(jsonb)` stores a whole commit in one call,
 * `register_types(jsonb)` registers type names, `delete_stream(uuid)`
 * deletes a stream (the trigger archives its events), `partition_hash(uuid)`
 * and `partition_count()` give an aggregate's partition (see `partitionOf`
 * in `@sequent/core`: two meanings of "partition" meet here, the stored
 * processing partition and PostgreSQL's table partitions by
 * `partition_key`).
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";
import {
  checkPartitionCount,
  DEFAULT_PARTITION_COUNT,
} from "../core/partition.ts";
import type { SqlClient } from "./sql_client.ts";
import { quotedSchema } from "./_sql_text.ts";

/**
 * The schema the event store uses unless told otherwise.
 *
 * @example
 * ```ts
 * import { DEFAULT_EVENT_STORE_SCHEMA } from "@sequent/core/postgres";
 *
 * console.assert(DEFAULT_EVENT_STORE_SCHEMA === "sequent_schema");
 * ```
 */
export const DEFAULT_EVENT_STORE_SCHEMA: string = "sequent_schema";

/**
 * Where to install the event store.
 *
 * @example
 * ```ts
 * import type { EventStoreSchemaOptions } from "@sequent/core/postgres";
 *
 * const options: EventStoreSchemaOptions = { schema: "billing_events" };
 * ```
 */
export interface EventStoreSchemaOptions {
  /**
   * The PostgreSQL schema (default `sequent_schema`): lowercase letters,
   * digits and underscores, not starting with a digit.
   */
  readonly schema?: string | undefined;
  /**
   * Install or upgrade only up to this version (default: the newest,
   * {@linkcode EVENT_STORE_SCHEMA_VERSION}); for trying an upgrade.
   */
  readonly upToVersion?: number | undefined;
  /**
   * How many partitions the store has (default 64, at most 1024; see
   * `partitionOf` in `@sequent/core`). Fixed when the store is created, or upgraded
   * to version 5: asking an existing store for another count is an error.
   */
  readonly partitions?: number | undefined;
}

/**
 * What {@linkcode installEventStore} did.
 *
 * @example
 * ```ts
 * import type { InstallResult } from "@sequent/core/postgres";
 *
 * function describe(result: InstallResult): string {
 *   return result.previousVersion === result.version
 *     ? `${result.schema} is up to date`
 *     : `${result.schema} upgraded from ${result.previousVersion} to ${result.version}`;
 * }
 * ```
 */
export interface InstallResult {
  /** The schema installed into. */
  readonly schema: string;
  /** The version found (0: nothing was installed). */
  readonly previousVersion: number;
  /** The version now installed. */
  readonly version: number;
  /** The store's partition count (undefined below version 5). */
  readonly partitions: number | undefined;
}

interface Migration {
  readonly version: number;
  /** The statements, for a quoted schema and the store's partition count. */
  readonly sql: (s: string, partitions: number) => string;
}

function typeRef(kind: string, ref: string, map: string): string {
  return `CASE WHEN jsonb_typeof(${ref}) = 'number' THEN (${ref})::text::smallint ` +
    `ELSE (${map} -> '${kind}' ->> (${ref} #>> '{}'))::smallint END`;
}

/**
 * The `store_commit` function; from version 2 on, it stores the command's
 * id ("id" in the argument's command, else a new one).
 */
function storeCommit(
  s: string,
  commandIds: boolean,
  partitions = false,
  traceContexts = false,
): string {
  const idColumn = (commandIds ? "command_id, " : "") +
    (traceContexts ? "trace_context, " : "");
  const idValue =
    (commandIds
      ? "coalesce((v_command ->> 'id')::uuid, gen_random_uuid()), "
      : "") + (traceContexts ? "v_command ->> 'tc', " : "");
  // From version 5, a stream's "q" is the hash its partition comes from,
  // computed by the client; when it is missing, here (slower).
  const partitionExpr = (stream: string) =>
    `(coalesce((${stream} ->> 'q')::bigint, ${s}.partition_hash((${stream} ->> 'a')::uuid)) % ${s}.partition_count())::smallint`;
  const partitionColumn = partitions ? ", partition" : "";
  const partitionValue = (stream: string) =>
    partitions ? `, ${partitionExpr(stream)}` : "";
  return `-- Stores one commit: the command record, the aggregates, the events, the
-- unique keys and snapshot marks. The argument:
--   {"c": {"id": command id (from version 2), "t": type, "u": user id, "a": aggregate id, "ea": causing event's
--          aggregate id, "es": its sequence number, "p": payload,
--          "tc": traceparent (from version 8; optional)},
--    "s": [{"a": aggregate id, "t": type, "k": partition key,
--           "q": partition hash (from version 5; computed when missing),
--           "h": snapshot threshold, "u": {scope: key} or null,
--           "e": [{"s": sequence number, "c": created at, "t": type,
--                  "p": payload}]}],   -- sorted by aggregate id
--    "n": {"e"|"a"|"c": [type names to register]},   -- optional
--    "uk": true,   -- present when a stream has unique keys
--    "h": true}    -- present when a stream has a snapshot threshold
-- A type is a smallint id or, when "n" lists it, a name. Returns the ids of
-- the names in "n" (see register_types), else NULL.
-- Raises SQ001 when a stream's first sequence number is not the stored last
-- plus one, SQ002 when a unique key is taken; DETAIL is JSON. A new stream
-- that turns out to exist fails on the events' key instead (23505).
CREATE OR REPLACE FUNCTION ${s}.store_commit(p_commit jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  v_types jsonb := '{}';
  v_command jsonb := p_commit -> 'c';
  v_streams jsonb := p_commit -> 's';
  v_command_id bigint;
  v_stream jsonb;
  v_aggregate_id uuid;
  v_partition_key text;
  v_stored_partition_key text;${partitions ? "\n  v_partition smallint;" : ""}
  v_first integer;
  v_last integer;
  v_keys jsonb;
  v_scope text;
  v_key jsonb;
BEGIN
  IF p_commit ? 'n' THEN
    v_types := ${s}.register_types(p_commit -> 'n');
  END IF;

  IF jsonb_array_length(v_streams) = 1 AND (v_streams #>> '{0,e,0,s}') = '1' THEN
    -- One new stream, the usual "create" command: a single statement stores
    -- the command record, the aggregate and the events. Should the stream
    -- exist after all, its first event collides with the stored one on the
    -- events' primary key.
    v_stream := v_streams -> 0;
    v_aggregate_id := (v_stream ->> 'a')::uuid;
    WITH c AS (
      INSERT INTO ${s}.commands (${idColumn}user_id, aggregate_id, command_type_id, command_json,
        event_aggregate_id, event_sequence_number)
      VALUES (${idValue}v_command ->> 'u', (v_command ->> 'a')::uuid,
        ${typeRef("c", "v_command -> 't'", "v_types")},
        v_command -> 'p', (v_command ->> 'ea')::uuid, (v_command ->> 'es')::integer)
      RETURNING id
    ), a AS (
      INSERT INTO ${s}.aggregates (aggregate_id, aggregate_type_id, events_partition_key${partitionColumn})
      VALUES (v_aggregate_id, ${typeRef("a", "v_stream -> 't'", "v_types")},
        coalesce(v_stream ->> 'k', '')${partitionValue("v_stream")})
      ON CONFLICT (aggregate_id) DO NOTHING
    )
    INSERT INTO ${s}.events (aggregate_id, partition_key, sequence_number, created_at,
      command_id, event_type_id, event_json${partitionColumn})
    SELECT v_aggregate_id, coalesce(v_stream ->> 'k', ''), ev.s, ev.c, c.id,
      ${typeRef("e", "ev.t", "v_types")}, ev.p${partitionValue("v_stream")}
    FROM c CROSS JOIN jsonb_to_recordset(v_stream -> 'e')
      AS ev(s integer, c timestamptz, t jsonb, p jsonb);
    v_keys := v_stream -> 'u';
    IF p_commit ? 'uk' AND jsonb_typeof(v_keys) = 'object' THEN
      DELETE FROM ${s}.aggregate_unique_keys u
      WHERE u.aggregate_id = v_aggregate_id AND (v_keys -> u.scope) IS DISTINCT FROM u.key;
    END IF;
  ELSE
    INSERT INTO ${s}.commands (${idColumn}user_id, aggregate_id, command_type_id, command_json,
      event_aggregate_id, event_sequence_number)
    VALUES (${idValue}v_command ->> 'u', (v_command ->> 'a')::uuid,
      ${typeRef("c", "v_command -> 't'", "v_types")},
      v_command -> 'p', (v_command ->> 'ea')::uuid, (v_command ->> 'es')::integer)
    RETURNING id INTO v_command_id;

    -- Streams come sorted by aggregate id: rows are locked in that order.
    FOR v_stream IN SELECT value FROM jsonb_array_elements(v_streams) LOOP
      v_aggregate_id := (v_stream ->> 'a')::uuid;
      v_partition_key := coalesce(v_stream ->> 'k', '');
      v_first := (v_stream #>> '{e,0,s}')::integer;
      v_last := 0;

      INSERT INTO ${s}.aggregates (aggregate_id, aggregate_type_id, events_partition_key${partitionColumn})
      VALUES (v_aggregate_id, ${
    typeRef("a", "v_stream -> 't'", "v_types")
  }, v_partition_key${partitionValue("v_stream")})
      ON CONFLICT (aggregate_id) DO NOTHING;

      IF NOT FOUND THEN
        SELECT events_partition_key${partitionColumn} INTO v_stored_partition_key${
    partitions ? ", v_partition" : ""
  }
        FROM ${s}.aggregates WHERE aggregate_id = v_aggregate_id FOR NO KEY UPDATE;${
    partitions
      ? `
        IF v_partition <> ${partitionExpr("v_stream")} THEN
          -- the hash is computed by the client: a wrong one is a bug there
          RAISE EXCEPTION USING ERRCODE = 'SQ005',
            MESSAGE = format('Aggregate "%s" is in partition %s, the commit computed partition %s',
              v_aggregate_id, v_partition, ${partitionExpr("v_stream")});
        END IF;`
      : ""
  }
        IF v_stored_partition_key <> v_partition_key THEN
          -- Moves the events too (ON UPDATE CASCADE).
          UPDATE ${s}.aggregates SET events_partition_key = v_partition_key
          WHERE aggregate_id = v_aggregate_id;
        END IF;
        -- A statement of its own, after the lock: it sees what the previous
        -- lock holder committed.
        SELECT coalesce(max(sequence_number), 0) INTO v_last FROM ${s}.events
        WHERE partition_key = v_partition_key AND aggregate_id = v_aggregate_id;
        -- Unique keys released by this commit go now, before any claim, so
        -- that a key can move between two aggregates of one commit.
        v_keys := v_stream -> 'u';
        IF p_commit ? 'uk' AND jsonb_typeof(v_keys) = 'object' THEN
          DELETE FROM ${s}.aggregate_unique_keys u
          WHERE u.aggregate_id = v_aggregate_id AND (v_keys -> u.scope) IS DISTINCT FROM u.key;
        END IF;
      END IF;

      IF v_first IS NOT NULL AND v_first <> v_last + 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'SQ001',
          MESSAGE = format('Aggregate "%s" was changed concurrently: tried to store sequence number %s, expected %s',
            v_aggregate_id, v_first, v_last + 1),
          DETAIL = jsonb_build_object('aggregateId', v_aggregate_id,
            'sequenceNumber', v_first, 'expected', v_last + 1)::text;
      END IF;
    END LOOP;

    INSERT INTO ${s}.events (aggregate_id, partition_key, sequence_number, created_at,
      command_id, event_type_id, event_json${partitionColumn})
    SELECT (st ->> 'a')::uuid, coalesce(st ->> 'k', ''), ev.s, ev.c, v_command_id,
      ${typeRef("e", "ev.t", "v_types")}, ev.p${partitionValue("st")}
    FROM jsonb_array_elements(v_streams) st
    CROSS JOIN LATERAL jsonb_to_recordset(st -> 'e')
      AS ev(s integer, c timestamptz, t jsonb, p jsonb);
  END IF;

  IF p_commit ? 'uk' THEN
    -- Claims: a key another aggregate holds (or is claiming in a transaction
    -- that then commits) is skipped by ON CONFLICT and found missing below.
    INSERT INTO ${s}.aggregate_unique_keys (aggregate_id, scope, key)
    SELECT (st ->> 'a')::uuid, k.key, k.value
    FROM jsonb_array_elements(v_streams) st
    CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(st -> 'u') = 'object'
      THEN st -> 'u' ELSE '{}' END) k
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    SELECT (st ->> 'a')::uuid, k.key, k.value INTO v_aggregate_id, v_scope, v_key
    FROM jsonb_array_elements(v_streams) st
    CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(st -> 'u') = 'object'
      THEN st -> 'u' ELSE '{}' END) k
    WHERE NOT EXISTS (SELECT 1 FROM ${s}.aggregate_unique_keys u
      WHERE u.aggregate_id = (st ->> 'a')::uuid AND u.scope = k.key AND u.key = k.value)
    ORDER BY 1, 2 LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'SQ002',
        MESSAGE = format('Unique key %s %s of aggregate "%s" is already taken',
          v_scope, v_key, v_aggregate_id),
        DETAIL = jsonb_build_object('scope', v_scope, 'key', v_key,
          'aggregateId', v_aggregate_id,
          'aggregateType', (SELECT t.type FROM ${s}.aggregates a
            JOIN ${s}.aggregate_types t ON t.id = a.aggregate_type_id
            WHERE a.aggregate_id = v_aggregate_id))::text;
    END IF;
  END IF;

  IF p_commit ? 'h' THEN
    -- Marks aggregates with at least "h" events after their latest snapshot.
    INSERT INTO ${s}.aggregates_that_need_snapshots AS n (aggregate_id,
      snapshot_sequence_number_high_water_mark, snapshot_outdated_at)
    SELECT x.aggregate_id, x.last, now()
    FROM (
      SELECT (st ->> 'a')::uuid AS aggregate_id, (st ->> 'h')::integer AS threshold,
        (st #>> '{e,-1,s}')::integer AS last
      FROM jsonb_array_elements(v_streams) st
      WHERE st ->> 'h' IS NOT NULL AND jsonb_array_length(st -> 'e') > 0
    ) x
    WHERE x.last - coalesce((SELECT max(r.sequence_number) FROM ${s}.snapshot_records r
      WHERE r.aggregate_id = x.aggregate_id), 0) >= x.threshold
    ORDER BY 1
    ON CONFLICT (aggregate_id) DO UPDATE SET
      snapshot_sequence_number_high_water_mark = EXCLUDED.snapshot_sequence_number_high_water_mark,
      snapshot_outdated_at = EXCLUDED.snapshot_outdated_at
    WHERE n.snapshot_outdated_at IS NULL;
  END IF;

  RETURN CASE WHEN p_commit ? 'n' THEN v_types END;
END
$fn$;
`;
}

const saveUpdatedEventsTrigger = (s: string): string =>
  `CREATE TRIGGER save_updated_events AFTER UPDATE ON ${s}.events
  REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.save_updated_events();`;

const version1 = (s: string): string => `
CREATE TABLE ${s}.event_types (
  id smallint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  type text NOT NULL UNIQUE
);
CREATE TABLE ${s}.aggregate_types (
  id smallint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  type text NOT NULL UNIQUE
);
CREATE TABLE ${s}.command_types (
  id smallint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  type text NOT NULL UNIQUE
);

CREATE TABLE ${s}.aggregates (
  aggregate_id uuid PRIMARY KEY,
  aggregate_type_id smallint NOT NULL REFERENCES ${s}.aggregate_types (id),
  events_partition_key text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (events_partition_key, aggregate_id)
);
CREATE INDEX aggregates_aggregate_type_id_idx ON ${s}.aggregates (aggregate_type_id);

CREATE TABLE ${s}.commands (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  user_id text,
  aggregate_id uuid,
  command_type_id smallint NOT NULL REFERENCES ${s}.command_types (id),
  command_json jsonb NOT NULL,
  event_aggregate_id uuid,
  event_sequence_number integer
);
CREATE INDEX commands_causation_idx ON ${s}.commands (event_aggregate_id, event_sequence_number)
  WHERE event_aggregate_id IS NOT NULL;

CREATE SEQUENCE ${s}.events_position_seq AS bigint;
CREATE TABLE ${s}.events (
  aggregate_id uuid NOT NULL,
  partition_key text NOT NULL DEFAULT '',
  sequence_number integer NOT NULL,
  created_at timestamptz NOT NULL,
  command_id bigint NOT NULL REFERENCES ${s}.commands (id),
  event_type_id smallint NOT NULL REFERENCES ${s}.event_types (id),
  event_json jsonb NOT NULL,
  xact_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  position bigint NOT NULL DEFAULT nextval('${s}.events_position_seq'),
  PRIMARY KEY (partition_key, aggregate_id, sequence_number),
  FOREIGN KEY (partition_key, aggregate_id)
    REFERENCES ${s}.aggregates (events_partition_key, aggregate_id) ON UPDATE CASCADE
) PARTITION BY RANGE (partition_key);
ALTER SEQUENCE ${s}.events_position_seq OWNED BY ${s}.events.position;
CREATE TABLE ${s}.events_default PARTITION OF ${s}.events DEFAULT;
CREATE INDEX events_command_id_idx ON ${s}.events (command_id);
CREATE INDEX events_xact_id_position_idx ON ${s}.events (xact_id, position);

CREATE TABLE ${s}.aggregate_unique_keys (
  aggregate_id uuid NOT NULL REFERENCES ${s}.aggregates (aggregate_id) ON DELETE CASCADE,
  scope text NOT NULL,
  key jsonb NOT NULL,
  PRIMARY KEY (aggregate_id, scope),
  UNIQUE (scope, key)
);

CREATE TABLE ${s}.aggregates_that_need_snapshots (
  aggregate_id uuid PRIMARY KEY REFERENCES ${s}.aggregates (aggregate_id) ON DELETE CASCADE,
  snapshot_sequence_number_high_water_mark integer,
  snapshot_outdated_at timestamptz,
  snapshot_scheduled_at timestamptz
);
CREATE INDEX aggregates_that_need_snapshots_outdated_idx
  ON ${s}.aggregates_that_need_snapshots
  (snapshot_outdated_at ASC, snapshot_sequence_number_high_water_mark DESC, aggregate_id ASC)
  WHERE snapshot_outdated_at IS NOT NULL;

CREATE TABLE ${s}.snapshot_records (
  aggregate_id uuid NOT NULL REFERENCES ${s}.aggregates (aggregate_id) ON DELETE CASCADE,
  snapshot_version integer NOT NULL,
  sequence_number integer NOT NULL,
  created_at timestamptz NOT NULL,
  snapshot_json jsonb NOT NULL,
  PRIMARY KEY (aggregate_id, snapshot_version, sequence_number)
);

CREATE TABLE ${s}.saved_event_records (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operation char(1) NOT NULL CHECK (operation IN ('U', 'D')),
  saved_at timestamptz NOT NULL DEFAULT now(),
  saved_by text NOT NULL DEFAULT current_user,
  aggregate_id uuid NOT NULL,
  partition_key text NOT NULL,
  sequence_number integer NOT NULL,
  created_at timestamptz NOT NULL,
  command_id bigint NOT NULL,
  event_type text NOT NULL,
  event_json jsonb NOT NULL,
  xact_id xid8 NOT NULL,
  position bigint NOT NULL
);
CREATE INDEX saved_event_records_aggregate_idx
  ON ${s}.saved_event_records (aggregate_id, sequence_number);

CREATE FUNCTION ${s}.save_deleted_events() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO ${s}.saved_event_records (operation, aggregate_id, partition_key,
    sequence_number, created_at, command_id, event_type, event_json, xact_id, position)
  SELECT 'D', o.aggregate_id, o.partition_key, o.sequence_number, o.created_at,
    o.command_id, t.type, o.event_json, o.xact_id, o.position
  FROM old_events o JOIN ${s}.event_types t ON t.id = o.event_type_id
  ORDER BY o.xact_id, o.position;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER save_deleted_events AFTER DELETE ON ${s}.events
  REFERENCING OLD TABLE AS old_events
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.save_deleted_events();

CREATE FUNCTION ${s}.save_updated_events() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO ${s}.saved_event_records (operation, aggregate_id, partition_key,
    sequence_number, created_at, command_id, event_type, event_json, xact_id, position)
  SELECT 'U', o.aggregate_id, o.partition_key, o.sequence_number, o.created_at,
    o.command_id, t.type, o.event_json, o.xact_id, o.position
  FROM old_events o
  JOIN new_events n ON n.aggregate_id = o.aggregate_id AND n.sequence_number = o.sequence_number
  JOIN ${s}.event_types t ON t.id = o.event_type_id
  WHERE (n.event_json, n.event_type_id, n.created_at, n.command_id)
    IS DISTINCT FROM (o.event_json, o.event_type_id, o.created_at, o.command_id)
  ORDER BY o.xact_id, o.position;
  RETURN NULL;
END
$fn$;
${saveUpdatedEventsTrigger(s)}

-- Registers type names not known yet; returns {"e"|"a"|"c": {name: id}} for
-- the names given. Names are inserted in sorted order so that concurrent
-- registrations cannot deadlock; ON CONFLICT lets a concurrent registration
-- of the same name win without an error.
CREATE FUNCTION ${s}.register_types(p_names jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO ${s}.event_types (type)
  SELECT DISTINCT n FROM jsonb_array_elements_text(coalesce(p_names -> 'e', '[]')) n
  WHERE NOT EXISTS (SELECT 1 FROM ${s}.event_types t WHERE t.type = n)
  ORDER BY n ON CONFLICT (type) DO NOTHING;
  INSERT INTO ${s}.aggregate_types (type)
  SELECT DISTINCT n FROM jsonb_array_elements_text(coalesce(p_names -> 'a', '[]')) n
  WHERE NOT EXISTS (SELECT 1 FROM ${s}.aggregate_types t WHERE t.type = n)
  ORDER BY n ON CONFLICT (type) DO NOTHING;
  INSERT INTO ${s}.command_types (type)
  SELECT DISTINCT n FROM jsonb_array_elements_text(coalesce(p_names -> 'c', '[]')) n
  WHERE NOT EXISTS (SELECT 1 FROM ${s}.command_types t WHERE t.type = n)
  ORDER BY n ON CONFLICT (type) DO NOTHING;
  RETURN jsonb_build_object(
    'e', (SELECT coalesce(jsonb_object_agg(t.type, t.id), '{}') FROM ${s}.event_types t
          WHERE t.type IN (SELECT jsonb_array_elements_text(coalesce(p_names -> 'e', '[]')))),
    'a', (SELECT coalesce(jsonb_object_agg(t.type, t.id), '{}') FROM ${s}.aggregate_types t
          WHERE t.type IN (SELECT jsonb_array_elements_text(coalesce(p_names -> 'a', '[]')))),
    'c', (SELECT coalesce(jsonb_object_agg(t.type, t.id), '{}') FROM ${s}.command_types t
          WHERE t.type IN (SELECT jsonb_array_elements_text(coalesce(p_names -> 'c', '[]')))));
END
$fn$;

${storeCommit(s, false)}

-- Deletes a stream with its unique keys, snapshots and snapshot mark; the
-- trigger on events archives the events. Returns how many were deleted.
CREATE FUNCTION ${s}.delete_stream(p_aggregate_id uuid) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  v_partition_key text;
  v_count integer;
BEGIN
  SELECT events_partition_key INTO v_partition_key FROM ${s}.aggregates
  WHERE aggregate_id = p_aggregate_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  DELETE FROM ${s}.events
  WHERE partition_key = v_partition_key AND aggregate_id = p_aggregate_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  DELETE FROM ${s}.aggregate_unique_keys WHERE aggregate_id = p_aggregate_id;
  DELETE FROM ${s}.snapshot_records WHERE aggregate_id = p_aggregate_id;
  DELETE FROM ${s}.aggregates_that_need_snapshots WHERE aggregate_id = p_aggregate_id;
  DELETE FROM ${s}.aggregates WHERE aggregate_id = p_aggregate_id;
  RETURN v_count;
END
$fn$;
`;

/**
 * Version 2: every command record carries the command's id, a UUID the
 * caller knows before the commit, stored at most once; so whether a commit
 * whose answer was lost is stored can be asked.
 */
const version2 = (s: string): string => `
ALTER TABLE ${s}.commands ADD COLUMN command_id uuid;
UPDATE ${s}.commands SET command_id = gen_random_uuid();
ALTER TABLE ${s}.commands ALTER COLUMN command_id SET NOT NULL,
  ALTER COLUMN command_id SET DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX commands_command_id_key ON ${s}.commands (command_id);
${storeCommit(s, true)}
`;

/**
 * Version 3: a unit of work's commits are stored by one call, the first
 * write of its transaction. A transaction gets its id when it first
 * writes; storing events only as the first write makes every appending
 * transaction get its id after it read the streams it appends to, so
 * `(xact_id, position)` order never puts S:3 before S:2 (processors read
 * in that order). The guard makes breaking the rule an error.
 */
const version3 = (s: string): string => `
-- Stores the commits of one unit of work, in order. Returns
-- {"registered": [per commit, the type ids it registered (see
-- store_commit)], "x": the transaction id, "p": the last event's position}.
-- Raises SQ003 when the transaction has written before: see the schema
-- version 3 notes.
CREATE FUNCTION ${s}.store_commits(p_commits jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  v_commit jsonb;
  v_registered jsonb := '[]';
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'SQ003',
      MESSAGE = 'Events must be the first write of their transaction: '
        || 'this transaction wrote before storing them, so its id could '
        || 'order them before events it has read';
  END IF;
  FOR v_commit IN SELECT value FROM jsonb_array_elements(p_commits) LOOP
    v_registered := v_registered || jsonb_build_array(${s}.store_commit(v_commit));
  END LOOP;
  RETURN jsonb_build_object('registered', v_registered,
    'x', pg_current_xact_id_if_assigned()::text,
    'p', (SELECT max(e.position)::text FROM ${s}.events e
          WHERE e.xact_id = pg_current_xact_id_if_assigned()));
END
$fn$;
`;

/**
 * Version 4: asynchronous processors. Per processor a checkpoint (the
 * stream position handled up to), a claim (owner, fencing token, expiry)
 * and the aggregates it set aside.
 */
const version4 = (s: string): string => `
CREATE TABLE ${s}.processors (
  name text PRIMARY KEY,
  checkpoint_xact xid8 NOT NULL DEFAULT '0',
  checkpoint_position bigint NOT NULL DEFAULT 0,
  owner text,
  token bigint NOT NULL DEFAULT 0,
  expires_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ${s}.parked_aggregates (
  processor text NOT NULL REFERENCES ${s}.processors (name) ON DELETE CASCADE,
  aggregate_id uuid NOT NULL,
  sequence_number integer NOT NULL,
  error text NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now(),
  request text CHECK (request IN ('retry', 'skip')),
  PRIMARY KEY (processor, aggregate_id)
);
-- Moves a checkpoint under the live claim only (owner, fencing token, not
-- expired); raises SQ004 otherwise, which rolls back the batch it ends. An
-- error, not an empty result, so it can be sent with the COMMIT.
CREATE FUNCTION ${s}.move_checkpoint(p_name text, p_owner text, p_token bigint,
    p_xact xid8, p_position bigint) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE ${s}.processors SET checkpoint_xact = p_xact,
    checkpoint_position = p_position, updated_at = clock_timestamp()
  WHERE name = p_name AND owner = p_owner AND token = p_token
    AND expires_at > clock_timestamp();
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'SQ004',
      MESSAGE = format('Processor %s: the claim of %s (token %s) is lost',
        p_name, p_owner, p_token);
  END IF;
END
$fn$;
`;

/**
 * Version 5: partitions (see `src/core/partition.ts`). Every aggregate and
 * every event carries its partition, `partition_hash(aggregate_id) mod
 * partition_count()`; the count is fixed here, for good, as the body of an
 * immutable function. Events are indexed by (partition, xact_id, position)
 * for processors that read some partitions only. Existing rows get their
 * partitions here (a rewrite of the events table, in the installer's
 * transaction); the update trigger is set aside meanwhile, since no event
 * changes.
 */
const version5 = (s: string, partitions: number): string => `
-- xxHash32 (seed 0) of the 16 bytes of a UUID, as partitionHash() in
-- src/core/partition.ts computes it. 32-bit products are taken in 16-bit
-- halves, so that they stay within bigint.
CREATE FUNCTION ${s}.partition_hash(p_id uuid) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  m constant bigint := 4294967295;
  p1 constant bigint := 2654435761;
  p2 constant bigint := 2246822519;
  p3 constant bigint := 3266489917;
  b bytea := uuid_send(p_id);
  v bigint[] := ARRAY[(p1 + p2) & m, p2, 0, (4294967296 - p1) & m];
  r integer[] := ARRAY[1, 7, 12, 18];
  w bigint;
  x bigint;
  h bigint := 0;
  i integer;
BEGIN
  FOR i IN 0..3 LOOP
    w := get_byte(b, i * 4) | (get_byte(b, i * 4 + 1) << 8)
      | (get_byte(b, i * 4 + 2) << 16) | (get_byte(b, i * 4 + 3)::bigint << 24);
    x := (v[i + 1] + ((w * (p2 & 65535)) + (((w * (p2 >> 16)) & 65535) << 16))) & m;
    x := ((x << 13) | (x >> 19)) & m;
    x := ((x * (p1 & 65535)) + (((x * (p1 >> 16)) & 65535) << 16)) & m;
    h := (h + (((x << r[i + 1]) | (x >> (32 - r[i + 1]))) & m)) & m;
  END LOOP;
  h := (h + 16) & m;
  h := h # (h >> 15);
  h := ((h * (p2 & 65535)) + (((h * (p2 >> 16)) & 65535) << 16)) & m;
  h := h # (h >> 13);
  h := ((h * (p3 & 65535)) + (((h * (p3 >> 16)) & 65535) << 16)) & m;
  RETURN h # (h >> 16);
END
$fn$;
-- The store's partition count, fixed when version 5 was installed.
CREATE FUNCTION ${s}.partition_count() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT ${partitions}';

ALTER TABLE ${s}.aggregates ADD COLUMN partition smallint;
UPDATE ${s}.aggregates
SET partition = ${s}.partition_hash(aggregate_id) % ${s}.partition_count();
ALTER TABLE ${s}.aggregates ALTER COLUMN partition SET NOT NULL;

ALTER TABLE ${s}.events ADD COLUMN partition smallint;
DROP TRIGGER save_updated_events ON ${s}.events;
UPDATE ${s}.events e SET partition = a.partition
FROM ${s}.aggregates a WHERE a.aggregate_id = e.aggregate_id;
${saveUpdatedEventsTrigger(s)}
ALTER TABLE ${s}.events ALTER COLUMN partition SET NOT NULL;
CREATE INDEX events_partition_xact_id_position_idx
  ON ${s}.events (partition, xact_id, position);
${storeCommit(s, true, true)}
`;

/**
 * Version 6: partitioned processors. Each partition of a processor has a
 * row of its own (claim, fencing token, checkpoint), and its members keep
 * entries that lapse like claims.
 */
const version6 = (s: string): string => `
CREATE TABLE ${s}.processor_partitions (
  processor text NOT NULL REFERENCES ${s}.processors (name) ON DELETE CASCADE,
  partition integer NOT NULL,
  checkpoint_xact xid8 NOT NULL DEFAULT '0',
  checkpoint_position bigint NOT NULL DEFAULT 0,
  owner text,
  token bigint NOT NULL DEFAULT 0,
  expires_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (processor, partition)
);
CREATE TABLE ${s}.processor_members (
  processor text NOT NULL REFERENCES ${s}.processors (name) ON DELETE CASCADE,
  member text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (processor, member)
);
-- Moves the checkpoints of the partitions a member holds to a position,
-- those not past it already, only while it holds every one of them with
-- its token; raises SQ004 otherwise (see move_checkpoint). The rows are
-- locked in partition order, as every statement that locks several does,
-- so two members never wait for each other in a circle.
CREATE FUNCTION ${s}.move_partition_checkpoints(p_name text, p_owner text,
    p_partitions integer[], p_tokens bigint[], p_xact xid8, p_position bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  n integer;
BEGIN
  PERFORM 1 FROM ${s}.processor_partitions
  WHERE processor = p_name AND partition = ANY (p_partitions)
  ORDER BY partition FOR UPDATE;
  UPDATE ${s}.processor_partitions q SET
    checkpoint_xact = CASE WHEN (q.checkpoint_xact, q.checkpoint_position)
      < (p_xact, p_position) THEN p_xact ELSE q.checkpoint_xact END,
    checkpoint_position = CASE WHEN (q.checkpoint_xact, q.checkpoint_position)
      < (p_xact, p_position) THEN p_position ELSE q.checkpoint_position END,
    updated_at = clock_timestamp()
  FROM unnest(p_partitions, p_tokens) AS c (partition, token)
  WHERE q.processor = p_name AND q.partition = c.partition
    AND q.token = c.token AND q.owner = p_owner
    AND q.expires_at > clock_timestamp();
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n <> cardinality(p_partitions) THEN
    RAISE EXCEPTION USING ERRCODE = 'SQ004',
      MESSAGE = format('Processor %s: %s lost the claim on some of partitions %s',
        p_name, p_owner, p_partitions);
  END IF;
END
$fn$;
`;

/**
 * Version 7: the event browser's searches. Events by type in commit order
 * (a rare type would otherwise be found by reading every newer event),
 * and by creation time (a time range would otherwise be found by reading
 * every event after it).
 */
const version7 = (s: string): string => `
CREATE INDEX events_event_type_id_xact_id_position_idx
  ON ${s}.events (event_type_id, xact_id, position);
CREATE INDEX events_created_at_idx ON ${s}.events (created_at);
`;

/**
 * Version 8: a command record keeps the trace context (`traceparent`) of
 * the command's span when the application traces (`@sequent/core/otel`):
 * one per commit, which its events reach by `command_id`; a processor's
 * batch span links to it. A nullable column: the table is not rewritten.
 */
const version8 = (s: string): string => `
ALTER TABLE ${s}.commands ADD COLUMN trace_context text;
${storeCommit(s, true, true, true)}
`;

/**
 * Version 9: a processor is either unpartitioned or partitioned, marked on
 * its row (`processors.partitioned`), which both kinds of claim lock: its
 * partitions are made only while no unpartitioned claim is live, and an
 * unpartitioned claim is refused once they are. Those that have partitions
 * are marked. A column with a constant default: the table is not
 * rewritten.
 */
const version9 = (s: string): string => `
ALTER TABLE ${s}.processors ADD COLUMN partitioned boolean NOT NULL DEFAULT false;
UPDATE ${s}.processors p SET partitioned = true
  WHERE EXISTS (SELECT 1 FROM ${s}.processor_partitions q WHERE q.processor = p.name);
`;

/** The version that brought partitions. */
const PARTITIONS_VERSION = 5;

const MIGRATIONS: readonly Migration[] = [
  { version: 1, sql: version1 },
  { version: 2, sql: version2 },
  { version: 3, sql: version3 },
  { version: 4, sql: version4 },
  { version: 5, sql: version5 },
  { version: 6, sql: version6 },
  { version: 7, sql: version7 },
  { version: 8, sql: version8 },
  { version: 9, sql: version9 },
];

/**
 * The newest schema version this code installs.
 *
 * @example
 * ```ts
 * import { EVENT_STORE_SCHEMA_VERSION } from "@sequent/core/postgres";
 *
 * console.assert(EVENT_STORE_SCHEMA_VERSION >= 1);
 * ```
 */
export const EVENT_STORE_SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.version ??
  0;

/**
 * Creates the event store's schema, or upgrades it to
 * {@linkcode EVENT_STORE_SCHEMA_VERSION}, in one transaction. Safe to call
 * every time an app starts and from several processes at once: an advisory
 * lock serialises installers, and migrations already applied (listed in
 * `schema_versions`) are skipped. A schema newer than this code is left
 * alone and reported with an error.
 *
 * @example
 * ```ts
 * import { connectDatabase, installEventStore } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://");
 * const first = await installEventStore(client);
 * const again = await installEventStore(client);
 * console.assert(first.previousVersion === 0 && again.previousVersion === first.version);
 * await client.close();
 * ```
 *
 * @param client The database.
 * @param options The schema to install into.
 * @returns The versions before and after.
 */
export async function installEventStore(
  client: SqlClient,
  options: EventStoreSchemaOptions = {},
): Promise<InstallResult> {
  const schema = options.schema ?? DEFAULT_EVENT_STORE_SCHEMA;
  const s = quotedSchema(schema);
  return await client.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `sequent event store ${schema}`,
    ]);
    await tx.execute(`
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.schema_versions (
        version integer PRIMARY KEY,
        installed_at timestamptz NOT NULL DEFAULT now()
      );`);
    const [row] = await tx.query<{ version: number }>(
      `SELECT coalesce(max(version), 0)::integer AS version FROM ${s}.schema_versions`,
    );
    const previousVersion = row?.version ?? 0;
    if (previousVersion > EVENT_STORE_SCHEMA_VERSION) {
      throw new SequentError(
        `Event store schema "${schema}" has version ${previousVersion}, newer than version ${EVENT_STORE_SCHEMA_VERSION} this code knows: upgrade the code`,
      );
    }
    let partitions = options.partitions === undefined
      ? DEFAULT_PARTITION_COUNT
      : checkPartitionCount(options.partitions);
    if (previousVersion >= PARTITIONS_VERSION) {
      const [stored] = await tx.query<{ partitions: number }>(
        `SELECT ${s}.partition_count() AS partitions`,
      );
      const count = Number(stored?.partitions);
      if (options.partitions !== undefined && options.partitions !== count) {
        throw new SequentError(
          `Event store schema "${schema}" has ${count} partitions, fixed when it was created: it cannot have ${options.partitions}`,
        );
      }
      partitions = count;
    }
    const target = options.upToVersion ?? EVENT_STORE_SCHEMA_VERSION;
    for (const migration of MIGRATIONS) {
      if (migration.version <= previousVersion) continue;
      if (migration.version > target) break;
      await tx.execute(migration.sql(s, partitions));
      await tx.query(
        `INSERT INTO ${s}.schema_versions (version) VALUES ($1)`,
        [migration.version],
      );
    }
    const version = Math.max(
      previousVersion,
      Math.min(target, EVENT_STORE_SCHEMA_VERSION),
    );
    return {
      schema,
      previousVersion,
      version,
      partitions: version >= PARTITIONS_VERSION ? partitions : undefined,
    };
  });
}

/**
 * Deletes every event, command, aggregate, unique key, snapshot, archived
 * event and processor checkpoint, and restarts the id sequences; the type
 * dictionaries are kept. Meant for tests: far faster than dropping and reinstalling.
 * {@linkcode PostgresEventStore} instances stay usable.
 *
 * @example
 * ```ts
 * import { clearEventStore, connectDatabase, installEventStore } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://");
 * await installEventStore(client);
 * await clearEventStore(client);
 * await client.close();
 * ```
 *
 * @param client The database.
 * @param options The schema to clear.
 */
export async function clearEventStore(
  client: SqlClient,
  options: EventStoreSchemaOptions = {},
): Promise<void> {
  const s = quotedSchema(options.schema ?? DEFAULT_EVENT_STORE_SCHEMA);
  await client.execute(
    `TRUNCATE ${s}.events, ${s}.commands, ${s}.aggregates, ${s}.aggregate_unique_keys,
      ${s}.snapshot_records, ${s}.aggregates_that_need_snapshots,
      ${s}.saved_event_records, ${s}.processors, ${s}.parked_aggregates,
      ${s}.processor_partitions, ${s}.processor_members
      RESTART IDENTITY`,
  );
}
