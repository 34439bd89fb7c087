/**
 * Raw-SQL baselines for the PostgreSQL figures: the fastest hand-written
 * postgres.js code storing and loading the same rows the event store does,
 * in the same tables (installed by `installEventStore`, so indexes, foreign
 * keys and triggers cost both sides the same).
 *
 * - {@linkcode rawCreatePost}: one AddPost (an aggregate row, a command
 *   record, four events) in one statement, atomically, with the type ids
 *   known in advance and no concurrency check.
 * - {@linkcode rawLoad}: one SELECT of an aggregate's events plus
 *   `JSON.parse` of each payload.
 *
 * Run alone: `deno run -A bench/postgres_baseline.ts` (uses DATABASE_URL).
 */
import { partitionOf } from "@sequent/core";
import postgres from "postgres";
import { median } from "./figure.ts";

/** A postgres.js pool as the baselines use it (driver defaults). */
export type RawSql = postgres.Sql<Record<string, never>>;

/** Type ids the baseline uses, registered once up front. */
export interface RawTypeIds {
  readonly post: number;
  readonly addPost: number;
  readonly postAdded: number;
  readonly authorChanged: number;
  readonly titleChanged: number;
  readonly contentChanged: number;
}

/** Opens a pool with the driver's defaults (plus silenced notices). */
export function rawSql(url: string, max = 10): RawSql {
  return postgres(url, { max, onnotice: () => {} }) as unknown as RawSql;
}

async function typeId(
  sql: RawSql,
  schema: string,
  table: string,
  name: string,
): Promise<number> {
  await sql.unsafe(
    `INSERT INTO ${schema}.${table} (type) VALUES ($1) ON CONFLICT (type) DO NOTHING`,
    [name],
  );
  const [row] = await sql.unsafe(
    `SELECT id FROM ${schema}.${table} WHERE type = $1`,
    [name],
  );
  return row!.id as number;
}

/** Registers the blog's type names and returns their ids. */
export async function rawTypeIds(
  sql: RawSql,
  schema: string,
): Promise<RawTypeIds> {
  return {
    post: await typeId(sql, schema, "aggregate_types", "Post"),
    addPost: await typeId(sql, schema, "command_types", "AddPost"),
    postAdded: await typeId(sql, schema, "event_types", "PostAdded"),
    authorChanged: await typeId(
      sql,
      schema,
      "event_types",
      "PostAuthorChanged",
    ),
    titleChanged: await typeId(sql, schema, "event_types", "PostTitleChanged"),
    contentChanged: await typeId(
      sql,
      schema,
      "event_types",
      "PostContentChanged",
    ),
  };
}

/**
 * Stores the rows of one AddPost in one statement: the command record, the
 * aggregate and four events, atomically (a single statement is its own
 * transaction). With `viewSchema`, the post's row in its `post_records`
 * table too, as its projector leaves it.
 */
export async function rawCreatePost(
  sql: RawSql,
  schema: string,
  ids: RawTypeIds,
  options: { aggregateId?: string; viewSchema?: string } = {},
): Promise<void> {
  const aggregateId = options.aggregateId ?? crypto.randomUUID();
  const view = options.viewSchema;
  const params: unknown[] = [
    aggregateId,
    ids.addPost,
    '{"author":"ben","title":"My first blogpost","content":"Hello World!"}',
    ids.post,
    new Date(),
    ids.postAdded,
    "{}",
    ids.authorChanged,
    '{"author":"ben"}',
    ids.titleChanged,
    '{"title":"My first blogpost"}',
    ids.contentChanged,
    '{"content":"Hello World!"}',
    partitionOf(aggregateId),
  ];
  if (view !== undefined) {
    params.push("ben", "My first blogpost", "Hello World!");
  }
  await sql.unsafe(
    `WITH c AS (
       INSERT INTO ${schema}.commands (aggregate_id, command_type_id, command_json)
       VALUES ($1, $2, $3) RETURNING id
     ), a AS (
       INSERT INTO ${schema}.aggregates (aggregate_id, aggregate_type_id, partition)
       VALUES ($1, $4, $14)
     )${
      view === undefined ? "" : `, p AS (
       INSERT INTO ${view}.post_records (aggregate_id, author, title, content)
       VALUES ($1, $15, $16, $17)
     )`
    }
     INSERT INTO ${schema}.events (aggregate_id, partition_key, sequence_number,
       created_at, command_id, event_type_id, event_json, partition)
     SELECT $1, '', v.n, $5, c.id, v.t, v.j, $14 FROM c, (VALUES
       (1, $6::smallint, $7::jsonb), (2, $8::smallint, $9::jsonb),
       (3, $10::smallint, $11::jsonb), (4, $12::smallint, $13::jsonb)) v(n, t, j)`,
    params as never[],
    { prepare: true },
  );
}

/** Raw AddPost throughput: `concurrency` callers, each one at a time. */
export async function rawCreatePostsPerSecond(
  sql: RawSql,
  schema: string,
  options: { ms: number; concurrency: number },
): Promise<number> {
  const ids = await rawTypeIds(sql, schema);
  return await concurrently(
    () => rawCreatePost(sql, schema, ids),
    options.ms,
    options.concurrency,
  );
}

/** Loads an aggregate's events with one SELECT and parses every payload. */
export async function rawLoad(
  sql: RawSql,
  schema: string,
  aggregateId: string,
): Promise<unknown[]> {
  const rows = await sql.unsafe(
    `SELECT aggregate_id, sequence_number, created_at, event_type_id, event_json::text AS event_json
     FROM ${schema}.events
     WHERE partition_key = '' AND aggregate_id = $1
     ORDER BY sequence_number`,
    [aggregateId],
    { prepare: true },
  );
  return rows.map((row) => JSON.parse(row.event_json as string));
}

/**
 * Runs `fn` from `concurrency` callers for about `ms` milliseconds;
 * returns completed calls per second. `warmup` calls run first.
 */
export async function concurrently(
  fn: () => Promise<unknown>,
  ms: number,
  concurrency: number,
  warmup = 100,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  let count = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - start < ms) {
        await fn();
        count++;
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

/**
 * Measures two implementations of the same operation fairly on a shared,
 * noisy machine: after a warm-up of each, they take turns in `slices`
 * short rounds (alternating which goes first), so background load,
 * autovacuum and checkpoints hit both alike. Returns each one's median
 * rate over its rounds (calls per second): one disturbed round moves
 * neither.
 */
export async function compareRates(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  options: { ms: number; concurrency: number; slices?: number },
): Promise<[number, number]> {
  const slices = options.slices ?? 8;
  if (slices < 3) throw new RangeError("compareRates needs 3 rounds or more");
  const slice = options.ms / slices;
  await concurrently(a, 200, options.concurrency);
  await concurrently(b, 200, options.concurrency);
  const ratesA: number[] = [];
  const ratesB: number[] = [];
  for (let i = 0; i < slices; i++) {
    if (i % 2 === 0) {
      ratesA.push(await concurrently(a, slice, options.concurrency, 0));
      ratesB.push(await concurrently(b, slice, options.concurrency, 0));
    } else {
      ratesB.push(await concurrently(b, slice, options.concurrency, 0));
      ratesA.push(await concurrently(a, slice, options.concurrency, 0));
    }
  }
  return [median(ratesA), median(ratesB)];
}

if (import.meta.main) {
  const url = Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/test";
  const { connectDatabase, installEventStore } = await import(
    "../src/postgres/mod.ts"
  );
  const schema = `bench_raw_${crypto.randomUUID().slice(0, 8)}`;
  const client = await connectDatabase(url);
  await installEventStore(client, { schema });
  const sql = rawSql(url);
  try {
    const ms = Number(Deno.env.get("BENCH_MS") ?? 2000);
    console.log(
      "raw create_post cmds/s:",
      (await rawCreatePostsPerSecond(sql, schema, { ms, concurrency: 1 }))
        .toFixed(0),
    );
    console.log(
      "raw create_post c8 cmds/s:",
      (await rawCreatePostsPerSecond(sql, schema, { ms, concurrency: 8 }))
        .toFixed(0),
    );
  } finally {
    await sql.end();
    await client.execute(`DROP SCHEMA ${schema} CASCADE`);
    await client.close();
  }
}
