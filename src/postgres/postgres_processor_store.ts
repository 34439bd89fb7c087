/**
 * The PostgreSQL {@linkcode ProcessorStore}: processors' checkpoints,
 * claims and parked aggregates in the event store's schema (tables
 * `processors` and `parked_aggregates`, schema version 4), over any
 * {@linkcode SqlClient}.
 *
 * - A claim is a row update: it takes the processor when nobody holds it
 *   or the holder's claim has expired, and a new claim adds one to the
 *   fencing token.
 * - A commit is one transaction: the projector's row writes, the parking
 *   changes, and last `move_checkpoint`, which moves the checkpoint only
 *   `WHERE owner = … AND token = …` and not expired, and raises SQ004 when
 *   the claim was lost, so the whole batch rolls back. It is sent with the
 *   `COMMIT`, in the same round trip; it locks the processor's row, so a
 *   claim by another process waits for the commit. The projector's rows
 *   are gathered: a row created and filled in within the batch is one row
 *   of a multi-row INSERT.
 * - A commit of the checkpoint alone (a batch that wrote nothing, parked
 *   nothing) does not wait for its WAL to reach the disk
 *   (`synchronous_commit` off for its own transaction only): one statement
 *   when the batch had no projector work, and the fence sent with the
 *   `COMMIT` as above when a projector's handlers asked nothing of its
 *   records (a projector that ignores most of what it reads). A
 *   processor that keeps up with busy writers commits a checkpoint dozens
 *   of times a second, and each flush of its own cost the writers' commits
 *   some 4% of their rate, measured beside eight of them. Nothing is
 *   lost that matters: if the server crashes before the flush, the
 *   checkpoint is found where the last flushed commit left it, and the
 *   events after it, which wrote nothing, are handled again (workflows'
 *   delivery is at least once). A later commit that waits for its flush
 *   flushes this one too, so a checkpoint on disk never runs ahead of the
 *   rows written before it.
 * - A partitioned processor keeps a row per partition
 *   (`processor_partitions`, schema version 6), created on the first
 *   claim from the processor's checkpoint once no unpartitioned claim is
 *   live, which marks the processor's row `partitioned` (schema version
 *   9): unpartitioned claims are refused from then on. Both statements
 *   update that row, so one waits for the other and is checked again on
 *   what it wrote. And its members' entries
 *   (`processor_members`). A claim of partitions skips rows another
 *   statement has locked rather than wait (it asks again on its next
 *   renewal); a partitioned commit ends with `move_partition_checkpoints`,
 *   fenced on every partition's owner and token.
 *
 * @module
 */
import {
  DuplicateRecordError,
  RecordWriteRejectedError,
} from "../core/errors.ts";
import type { RecordStore } from "../core/record_store.ts";
import type {
  HorizonBlocker,
  Lease,
  Membership,
  ParkChange,
  ParkedAggregate,
  ParkRequest,
  PartitionClaim,
  PartitionRecord,
  ProcessorRecord,
  ProcessorStore,
} from "../core/processor_store.ts";
import type { StreamPosition } from "../core/event_reader.ts";
import { earliestPosition } from "../core/_earliest_position.ts";
import type { SqlClient, SqlStatement } from "./sql_client.ts";
import { quotedSchema } from "./_sql_text.ts";
import type { PostgresEventStore } from "./postgres_event_store.ts";
import { parseStreamPosition } from "./_stream_position.ts";
import { soleWriter, SqlRecordStore } from "./sql_record_store.ts";
import { GatheringRecordStore } from "./_gathering_record_store.ts";
import { resetProcessorSql } from "./_processor_sql.ts";
import { SqlError } from "./sql_error.ts";
import { DEFAULT_EVENT_STORE_SCHEMA } from "./schema.ts";

/**
 * The fence with a FROM item that turns `synchronous_commit` off for the
 * statement's own transaction (the setting ends with it), before the
 * select list runs: a commit that holds the checkpoint alone does not wait
 * for its flush (see the module documentation).
 */
function unflushed(fence: SqlStatement): SqlStatement {
  return {
    text:
      `${fence.text} FROM (SELECT pg_catalog.set_config('synchronous_commit', 'off', true)) AS unflushed`,
    params: fence.params,
  };
}

/**
 * Options of {@linkcode PostgresProcessorStore}.
 *
 * @example
 * ```ts
 * import type { PostgresProcessorStoreOptions } from "@sequent/core/postgres";
 *
 * const options: PostgresProcessorStoreOptions = { schema: "sequent_schema", viewSchema: "view_schema" };
 * ```
 */
export interface PostgresProcessorStoreOptions {
  /** The event store's schema (default `sequent_schema`). */
  readonly schema?: string | undefined;
  /** The schema of the read-model tables projectors write (default `view_schema`). */
  readonly viewSchema?: string | undefined;
}

/** Whether `error` is move_checkpoint's: the claim was lost. */
/**
 * Whether the database refused a write for its data's sake, whoever
 * sends it again: a key taken, a check or a foreign key failed (class 23),
 * a value out of its column's range or shape (class 22).
 */
function isRefusedWrite(error: unknown): error is Error {
  return error instanceof DuplicateRecordError ||
    (error instanceof SqlError && /^2[23]/.test(error.code ?? ""));
}

function isLostClaim(error: unknown): boolean {
  return error instanceof SqlError && error.code === "SQ004";
}

interface ProcessorRow {
  readonly name: string;
  readonly x: string;
  readonly p: string;
  readonly owner: string | null;
  readonly expires_at: Date | null;
  readonly live: boolean;
  readonly parked: string;
  readonly parked_count: number;
  readonly partitions: string;
  readonly members: string;
}

/** A PostgreSQL array literal of integers. */
function intArray(values: readonly number[]): string {
  return `{${values.join(",")}}`;
}

/**
 * Processors' state on PostgreSQL; see the module documentation.
 *
 * @example
 * ```ts
 * import { connectDatabase, installEventStore, PostgresEventStore, PostgresProcessorStore } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://");
 * await installEventStore(client);
 * const store = new PostgresEventStore(client, { closeClient: false });
 * const processors = new PostgresProcessorStore(client, store);
 * const lease = await processors.claim("search", "worker-1", 5_000);
 * console.assert(lease?.checkpoint === "0:0");
 * await client.close();
 * ```
 */
export class PostgresProcessorStore implements ProcessorStore {
  /** The event store read. */
  readonly reader: PostgresEventStore;
  readonly #client: SqlClient;
  readonly #s: string;
  readonly #viewSchema: string;

  /**
   * Creates the store; the schema must be at version 4 or later.
   *
   * @param client The database.
   * @param reader The event store the processors read.
   * @param options The schemas.
   */
  constructor(
    client: SqlClient,
    reader: PostgresEventStore,
    options: PostgresProcessorStoreOptions = {},
  ) {
    this.#client = client;
    this.reader = reader;
    this.#s = quotedSchema(options.schema ?? DEFAULT_EVENT_STORE_SCHEMA);
    this.#viewSchema = options.viewSchema ?? "view_schema";
    quotedSchema(this.#viewSchema);
  }

  /** {@inheritDoc ProcessorStore.claim} */
  async claim(
    name: string,
    owner: string,
    ttlMs: number,
  ): Promise<Lease | undefined> {
    const s = this.#s;
    const [, rows] = await this.#client.batch([
      {
        text:
          `INSERT INTO ${s}.processors (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`,
        params: [name],
      },
      {
        text: `UPDATE ${s}.processors SET
            token = CASE WHEN owner = $2 AND expires_at > clock_timestamp()
              THEN token ELSE token + 1 END,
            owner = $2,
            expires_at = clock_timestamp() + make_interval(secs => $3::integer / 1000.0),
            updated_at = clock_timestamp()
          WHERE name = $1 AND NOT partitioned
            AND (owner IS NULL OR owner = $2 OR expires_at <= clock_timestamp())
          RETURNING token::text AS token, checkpoint_xact::text AS x,
            checkpoint_position::text AS p`,
        params: [name, owner, Math.max(1, Math.round(ttlMs))],
      },
    ]);
    const row = rows?.[0];
    if (!row) return undefined;
    return {
      owner,
      token: Number(row.token),
      checkpoint: `${row.x}:${row.p}`,
    };
  }

  /** {@inheritDoc ProcessorStore.join} */
  async join(name: string, member: string, ttlMs: number): Promise<Membership> {
    const s = this.#s;
    const [, , rows] = await this.#client.batch([
      {
        text:
          `INSERT INTO ${s}.processors (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`,
        params: [name],
      },
      {
        text:
          `INSERT INTO ${s}.processor_members AS m (processor, member, expires_at)
          VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::integer / 1000.0))
          ON CONFLICT (processor, member) DO UPDATE SET expires_at = excluded.expires_at`,
        params: [name, member, Math.max(1, Math.round(ttlMs))],
      },
      {
        text: `WITH lapsed AS (
            DELETE FROM ${s}.processor_members
            WHERE processor = $1 AND expires_at <= clock_timestamp()
            RETURNING member
          )
          SELECT coalesce(json_agg(member ORDER BY member), '[]')::text AS members,
            ${s}.partition_count() AS partitions,
            (extract(epoch FROM min(expires_at) FILTER (WHERE member <> $2)
              - clock_timestamp()) * 1000)::float8 AS next_lapse_ms
          FROM ${s}.processor_members
          WHERE processor = $1 AND member NOT IN (SELECT member FROM lapsed)`,
        params: [name, member],
      },
    ]);
    const row = rows?.[0];
    const next = row?.next_lapse_ms;
    return {
      members: JSON.parse(String(row?.members ?? "[]")) as string[],
      partitions: Number(row?.partitions),
      nextLapseMs: next === null || next === undefined
        ? undefined
        : Math.max(0, Number(next)),
    };
  }

  /** {@inheritDoc ProcessorStore.leave} */
  async leave(name: string, member: string): Promise<void> {
    await this.#client.query(
      `DELETE FROM ${this.#s}.processor_members WHERE processor = $1 AND member = $2`,
      [name, member],
    );
  }

  /** {@inheritDoc ProcessorStore.claimPartitions} */
  async claimPartitions(
    name: string,
    owner: string,
    partitions: readonly number[],
    ttlMs: number,
  ): Promise<Lease> {
    const s = this.#s;
    const [, , rows] = await this.#client.batch([
      {
        text:
          `INSERT INTO ${s}.processors (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`,
        params: [name],
      },
      {
        // the first claim starts every partition from the processor's
        // checkpoint, once no unpartitioned claim is live, and ends those
        // claims for good; the row's update waits for a claim's, and is
        // checked again on the claim's row (and a claim on this one's)
        text: `WITH p AS (
            UPDATE ${s}.processors SET partitioned = true, owner = NULL,
              expires_at = NULL, token = token + 1,
              updated_at = clock_timestamp()
            WHERE name = $1 AND NOT partitioned
              AND (owner IS NULL OR expires_at <= clock_timestamp())
            RETURNING name, checkpoint_xact, checkpoint_position
          )
          INSERT INTO ${s}.processor_partitions
            (processor, partition, checkpoint_xact, checkpoint_position)
          SELECT p.name, g, p.checkpoint_xact, p.checkpoint_position
          FROM p, generate_series(0, ${s}.partition_count() - 1) g
          ON CONFLICT DO NOTHING`,
        params: [name],
      },
      {
        text: `WITH locked AS (
            SELECT partition FROM ${s}.processor_partitions
            WHERE processor = $1 AND partition = ANY ($4::text::integer[])
            ORDER BY partition FOR UPDATE SKIP LOCKED
          )
          UPDATE ${s}.processor_partitions q SET
            token = CASE WHEN q.owner = $2 AND q.expires_at > clock_timestamp()
              THEN q.token ELSE q.token + 1 END,
            owner = $2,
            expires_at = clock_timestamp() + make_interval(secs => $3::integer / 1000.0),
            updated_at = clock_timestamp()
          FROM locked
          WHERE q.processor = $1 AND q.partition = locked.partition
            AND (q.owner IS NULL OR q.owner = $2 OR q.expires_at <= clock_timestamp())
          RETURNING q.partition, q.token::text AS token,
            q.checkpoint_xact::text AS x, q.checkpoint_position::text AS p`,
        params: [
          name,
          owner,
          Math.max(1, Math.round(ttlMs)),
          intArray(partitions),
        ],
      },
    ]);
    const claims: PartitionClaim[] = (rows ?? []).map((row) => ({
      partition: Number(row.partition),
      token: Number(row.token),
      checkpoint: `${row.x}:${row.p}`,
    })).sort((a, b) => a.partition - b.partition);
    return {
      owner,
      token: 0,
      checkpoint:
        earliestPosition(this.reader, claims.map((c) => c.checkpoint)) ?? "0:0",
      partitions: claims,
    };
  }

  /** {@inheritDoc ProcessorStore.release} */
  async release(name: string, lease: Lease): Promise<void> {
    if (lease.partitions) {
      if (lease.partitions.length === 0) return;
      await this.#client.query(
        `UPDATE ${this.#s}.processor_partitions q SET owner = NULL, expires_at = NULL
         FROM unnest($3::text::integer[], $4::text::bigint[]) AS c (partition, token)
         WHERE q.processor = $1 AND q.owner = $2 AND q.partition = c.partition
           AND q.token = c.token`,
        [
          name,
          lease.owner,
          intArray(lease.partitions.map((c) => c.partition)),
          intArray(lease.partitions.map((c) => c.token)),
        ],
      );
      return;
    }
    await this.#client.query(
      `UPDATE ${this.#s}.processors SET owner = NULL, expires_at = NULL
       WHERE name = $1 AND owner = $2 AND token = $3::text::bigint`,
      [name, lease.owner, String(lease.token)],
    );
  }

  /** {@inheritDoc ProcessorStore.commit} */
  async commit(
    name: string,
    lease: Lease,
    to: StreamPosition,
    work?: (records: RecordStore) => Promise<void>,
    changes: readonly ParkChange[] = [],
  ): Promise<boolean> {
    const [x, p] = parseStreamPosition(to);
    const s = this.#s;
    const fence = lease.partitions
      ? {
        text:
          `SELECT ${s}.move_partition_checkpoints($1, $2, $3::text::integer[], $4::text::bigint[], $5::text::xid8, $6::text::bigint)`,
        params: [
          name,
          lease.owner,
          intArray(lease.partitions.map((c) => c.partition)),
          intArray(lease.partitions.map((c) => c.token)),
          x,
          p,
        ],
      }
      : {
        text:
          `SELECT ${s}.move_checkpoint($1, $2, $3::text::bigint, $4::text::xid8, $5::text::bigint)`,
        params: [name, lease.owner, String(lease.token), x, p],
      };
    // a claim on no partition holds nothing
    if (lease.partitions?.length === 0) return false;
    if (!work && changes.length === 0) {
      // the checkpoint alone: one statement, fenced the same way, which
      // commits without waiting for the flush (see the module
      // documentation); the setting's scope is the statement's own
      // transaction, and the FROM item is evaluated before the select list
      const alone = unflushed(fence);
      try {
        await this.#client.query(alone.text, alone.params);
        return true;
      } catch (error) {
        if (isLostClaim(error)) return false;
        throw error;
      }
    }
    try {
      await this.#client.transaction(async (tx) => {
        let wrote = false;
        if (work) {
          // a batch's rows go out as multi-row INSERTs
          const records = new GatheringRecordStore(tx, this.#viewSchema);
          await work(records);
          await records.flush();
          wrote = !records.untouched;
        }
        for (const change of changes) {
          if ("park" in change) {
            tx.enqueue({
              text: `INSERT INTO ${s}.parked_aggregates
                  (processor, aggregate_id, sequence_number, error)
                VALUES ($1, $2::text::uuid, $3::integer, $4)
                ON CONFLICT (processor, aggregate_id) DO UPDATE SET
                  sequence_number = EXCLUDED.sequence_number,
                  error = EXCLUDED.error, parked_at = now(), request = NULL`,
              params: [
                name,
                change.park.aggregateId,
                change.park.sequenceNumber,
                change.park.error,
              ],
            });
          } else {
            tx.enqueue({
              text:
                `DELETE FROM ${s}.parked_aggregates WHERE processor = $1 AND aggregate_id = $2::text::uuid`,
              params: [name, change.unpark],
            });
          }
        }
        // last, sent with the COMMIT: a batch whose writes need no answer
        // takes one round trip. It locks the processor's row until the
        // commit, and fails the transaction when the claim was lost (the
        // token changes with every new claim, so a claim taken while the
        // batch ran is seen here). A projector's batch that asked nothing
        // of its records holds the checkpoint alone, which commits without
        // waiting for the flush, as the single statement above does.
        tx.enqueue(wrote || changes.length > 0 ? fence : unflushed(fence));
      });
    } catch (error) {
      if (isLostClaim(error)) return false;
      if (work && isRefusedWrite(error)) {
        // found at the flush or the commit, after the handlers ran: the
        // runner finds whose event it was by going one at a time
        throw new RecordWriteRejectedError(error.message, { cause: error });
      }
      throw error;
    }
    return true;
  }

  /** {@inheritDoc ProcessorStore.request} */
  async request(
    name: string,
    aggregateId: string,
    request: ParkRequest,
  ): Promise<boolean> {
    const rows = await this.#client.query(
      `UPDATE ${this.#s}.parked_aggregates SET request = $3
       WHERE processor = $1 AND aggregate_id::text = $2 RETURNING 1 AS found`,
      [name, aggregateId.toLowerCase(), request],
    );
    return rows.length > 0;
  }

  /** {@inheritDoc ProcessorStore.reset} */
  async reset(
    name: string,
    work?: (records: RecordStore) => Promise<void>,
  ): Promise<void> {
    await this.#client.transaction(async (tx) => {
      // the work's store is the only writer of the transaction meanwhile
      if (work) {
        await work(soleWriter(new SqlRecordStore(tx, this.#viewSchema)));
      }
      await tx.query(resetProcessorSql(this.#s), [name]);
    });
  }

  /** {@inheritDoc ProcessorStore.records} */
  async records(
    names?: readonly string[],
    options: { readonly parkedLimit?: number | undefined } = {},
  ): Promise<ProcessorRecord[]> {
    const rows = await this.#client.query<ProcessorRow>(
      `SELECT p.name, p.checkpoint_xact::text AS x,
         p.checkpoint_position::text AS p, p.owner, p.expires_at,
         coalesce(p.expires_at > clock_timestamp(), false) AS live,
         coalesce((SELECT json_agg(json_build_object(
             'a', k.aggregate_id, 's', k.sequence_number, 'e', k.error,
             't', k.parked_at, 'r', k.request) ORDER BY k.parked_at)
           FROM (SELECT * FROM ${this.#s}.parked_aggregates k
             WHERE k.processor = p.name
             ORDER BY k.parked_at LIMIT $2::integer) k),
           '[]')::text AS parked,
         (SELECT count(*)::integer FROM ${this.#s}.parked_aggregates k
           WHERE k.processor = p.name) AS parked_count,
         coalesce((SELECT json_agg(json_build_object(
             'n', q.partition, 'x', q.checkpoint_xact::text,
             'p', q.checkpoint_position::text,
             'o', CASE WHEN q.expires_at > clock_timestamp() THEN q.owner END,
             'e', CASE WHEN q.expires_at > clock_timestamp() THEN q.expires_at END)
             ORDER BY q.partition)
           FROM ${this.#s}.processor_partitions q WHERE q.processor = p.name),
           '[]')::text AS partitions,
         coalesce((SELECT json_agg(m.member ORDER BY m.member)
           FROM ${this.#s}.processor_members m
           WHERE m.processor = p.name AND m.expires_at > clock_timestamp()),
           '[]')::text AS members
       FROM ${this.#s}.processors p
       WHERE $1::text IS NULL OR p.name = ANY($1::text::text[])
       ORDER BY p.name`,
      [
        names === undefined
          ? null
          : `{${
            names.map((n) =>
              `"${n.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`
            )
              .join(",")
          }}`,
        options.parkedLimit ?? null,
      ],
    );
    return rows.map((row) => {
      const partitions = (JSON.parse(row.partitions) as {
        n: number;
        x: string;
        p: string;
        o: string | null;
        e: string | null;
      }[]).map((q): PartitionRecord => ({
        partition: q.n,
        checkpoint: `${q.x}:${q.p}`,
        owner: q.o ?? undefined,
        leaseExpiresAt: q.e === null ? undefined : new Date(q.e),
      }));
      return this.#record(row, partitions);
    });
  }

  #record(
    row: ProcessorRow,
    partitions: readonly PartitionRecord[],
  ): ProcessorRecord {
    return {
      name: row.name,
      checkpoint: partitions.length > 0
        ? earliestPosition(this.reader, partitions.map((q) => q.checkpoint)) ??
          "0:0"
        : `${row.x}:${row.p}`,
      owner: row.live && row.owner ? row.owner : undefined,
      leaseExpiresAt: row.live && row.expires_at ? row.expires_at : undefined,
      parked: (JSON.parse(row.parked) as {
        a: string;
        s: number;
        e: string;
        t: string;
        r: ParkRequest | null;
      }[]).map((k): ParkedAggregate => ({
        aggregateId: k.a,
        sequenceNumber: k.s,
        error: k.e,
        parkedAt: new Date(k.t),
        request: k.r ?? undefined,
      })),
      parkedCount: row.parked_count,
      partitions,
      members: JSON.parse(row.members) as string[],
    };
  }

  /** {@inheritDoc ProcessorStore.horizonBlocker} */
  async horizonBlocker(): Promise<HorizonBlocker | undefined> {
    const [row] = await this.#client.query<{
      pid: number;
      database: string | null;
      state: string | null;
      age_ms: number | null;
      query: string | null;
    }>(
      `SELECT a.pid, a.datname AS database, a.state,
         (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8 AS age_ms,
         a.query
       FROM pg_stat_activity a
       WHERE a.backend_xid IS NOT NULL
         AND a.backend_xid::text = (pg_snapshot_xmin(pg_current_snapshot())::text::numeric % 4294967296)::text
       LIMIT 1`,
    );
    if (!row) return undefined;
    return {
      pid: row.pid,
      database: row.database ?? "",
      state: row.state ?? "",
      ageMs: Math.round(row.age_ms ?? 0),
      query: row.query ?? "",
    };
  }
}
