/**
 * PostgreSQL figures of the event store alone (named `pg.store.…`), each
 * beside its raw baseline measured in the same run on the same database:
 * the store driven directly through the port with rows built by hand, so
 * the cost of the store itself is known apart from the domain layer. What
 * an application runs, the whole command path, is measured in
 * `command_bench.ts`.
 *
 * - `pg.store.create_post.cmds_per_s`, `pg.store.create_post_c8.cmds_per_s`:
 *   AddPost's rows (command record, aggregate, four events) one at a time
 *   and from 8 concurrent callers; baseline {@linkcode rawCreatePost}.
 * - `pg.store.load_1000.ms`: loading an aggregate's 1,000 stored rows and
 *   parsing the payloads (no events built); baseline {@linkcode rawLoad}.
 * - `pg.store.load_1000_snapshot.ms`: the same aggregate from a snapshot.
 * - `pglite.store.create_post.cmds_per_s`: the first figure on the
 *   embedded database; baseline: the raw statement through the PGlite
 *   client.
 *
 * The server is `DATABASE_URL` (skipped when it is not a postgres:// URL).
 * Run alone: `deno run -A bench/postgres_bench.ts`.
 */
import { partitionOf } from "@sequent/core";
import type {
  SerializedCommand,
  StreamCommit,
} from "../src/core/event_store.ts";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  type SqlClient,
} from "../src/postgres/mod.ts";
import { type Figure, figure, medianMs } from "./figure.ts";
import {
  compareRates,
  concurrently,
  rawCreatePost,
  rawLoad,
  rawSql,
  rawTypeIds,
} from "./postgres_baseline.ts";

/** The rows one AddPost produces, built by hand. */
export function addPostRows(
  aggregateId: string = crypto.randomUUID(),
): [SerializedCommand, StreamCommit[]] {
  const createdAt = new Date();
  const event = (
    sequenceNumber: number,
    eventType: string,
    payload: string,
  ) => ({
    aggregateId,
    sequenceNumber,
    createdAt,
    eventType,
    payload,
  });
  return [
    {
      commandType: "AddPost",
      aggregateId,
      userId: undefined,
      eventAggregateId: undefined,
      eventSequenceNumber: undefined,
      payload:
        '{"author":"ben","title":"My first blogpost","content":"Hello World!"}',
    },
    [{
      aggregateId,
      aggregateType: "Post",
      partitionKey: "",
      uniqueKeys: undefined,
      snapshotThreshold: undefined,
      events: [
        event(1, "PostAdded", "{}"),
        event(2, "PostAuthorChanged", '{"author":"ben"}'),
        event(3, "PostTitleChanged", '{"title":"My first blogpost"}'),
        event(4, "PostContentChanged", '{"content":"Hello World!"}'),
      ],
    }],
  ];
}

/** Stores one AddPost's rows through the store, as one unit of work. */
export function storeCreatePost(store: PostgresEventStore): Promise<void> {
  const [command, streams] = addPostRows();
  return store.transaction((tx) => tx.commit(command, streams));
}

/** AddPost throughput through the store. */
export async function storeCreatePostsPerSecond(
  store: PostgresEventStore,
  options: { ms: number; concurrency: number },
): Promise<number> {
  return await concurrently(
    () => storeCreatePost(store),
    options.ms,
    options.concurrency,
  );
}

/** Stores an aggregate with `count` events (in commits of 100). */
export async function seedLongStream(
  store: PostgresEventStore,
  count: number,
): Promise<string> {
  const [command, [stream]] = addPostRows();
  const id = stream!.aggregateId;
  for (let first = 1; first <= count; first += 100) {
    const events = Array.from(
      { length: Math.min(100, count - first + 1) },
      (_, i) => ({
        aggregateId: id,
        sequenceNumber: first + i,
        createdAt: new Date(),
        eventType: i % 2 ? "PostTitleChanged" : "PostContentChanged",
        payload: JSON.stringify(
          i % 2 ? { title: `Title ${first + i}` } : {
            content: `Some content of event ${first + i}, a sentence long.`,
          },
        ),
      }),
    );
    await store.transaction((tx) =>
      tx.commit(command, [{ ...stream!, events }])
    );
  }
  return id;
}

/** Median time to load a stream through the store and parse its payloads. */
export async function storeLoadMs(
  store: PostgresEventStore,
  aggregateId: string,
  options: { times: number; snapshotVersion?: number },
): Promise<number> {
  const load = async () => {
    const [stream] = await store.loadStreams([aggregateId], {
      snapshotVersion: options.snapshotVersion,
    });
    if (stream?.snapshot) JSON.parse(stream.snapshot.data);
    return stream!.events.map((e) => JSON.parse(e.payload));
  };
  for (let i = 0; i < 10; i++) await load();
  return await medianMs(load, options.times);
}

async function openStore(
  url: string,
  schema: string,
): Promise<{ client: SqlClient; store: PostgresEventStore }> {
  const client = await connectDatabase(url);
  await installEventStore(client, { schema });
  return {
    client,
    store: new PostgresEventStore(client, { schema, closeClient: false }),
  };
}

/** The server figures (`DATABASE_URL`), each with its raw baseline. */
export async function serverFigures(
  url: string,
  ms: number,
): Promise<Figure[]> {
  const schema = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const { client, store } = await openStore(url, schema);
  const sql = rawSql(url);
  try {
    const figures: Figure[] = [];
    const ids = await rawTypeIds(sql, schema);
    for (const concurrency of [1, 8]) {
      // Twice the time of one figure: the two take turns (see compareRates).
      const [raw, ours] = await compareRates(
        () => rawCreatePost(sql, schema, ids),
        () => storeCreatePost(store),
        { ms: 2 * ms, concurrency },
      );
      figures.push(
        figure(
          concurrency === 1
            ? "pg.store.create_post.cmds_per_s"
            : "pg.store.create_post_c8.cmds_per_s",
          ours,
          "cmds/s",
          raw,
        ),
      );
    }
    const id = await seedLongStream(store, 1000);
    for (let i = 0; i < 10; i++) await rawLoad(sql, schema, id);
    const rawMs = await medianMs(() => rawLoad(sql, schema, id), 50);
    const ourMs = await storeLoadMs(store, id, { times: 50 });
    figures.push(figure("pg.store.load_1000.ms", ourMs, "ms", rawMs));
    const [loaded] = await store.loadStreams([id]);
    await store.storeSnapshots([{
      aggregateId: id,
      aggregateType: "Post",
      version: 1,
      sequenceNumber: 1000,
      createdAt: new Date(),
      data: JSON.stringify({
        title: "Title 999",
        content: "Some content of event 1000, a sentence long.",
        events: loaded!.events.length,
      }),
    }]);
    figures.push(
      figure(
        "pg.store.load_1000_snapshot.ms",
        await storeLoadMs(store, id, { times: 50, snapshotVersion: 1 }),
        "ms",
      ),
    );
    return figures;
  } finally {
    await sql.end();
    await client.execute(`DROP SCHEMA ${schema} CASCADE`);
    await client.close();
  }
}

/** The embedded-database figure, with the raw statement as baseline. */
export async function pgliteFigures(ms: number): Promise<Figure[]> {
  const schema = "sequent_schema";
  const { client, store } = await openStore("memory://", schema);
  try {
    const [raw, ours] = await compareRates(
      () => rawPgliteCreatePost(client, schema),
      () => storeCreatePost(store),
      { ms: 2 * ms, concurrency: 1 },
    );
    return [figure("pglite.store.create_post.cmds_per_s", ours, "cmds/s", raw)];
  } finally {
    await client.close();
  }
}

let pgliteIds: Promise<readonly number[]> | undefined;

/** The raw AddPost statement through the PGlite client. */
async function rawPgliteCreatePost(
  client: SqlClient,
  schema: string,
): Promise<void> {
  pgliteIds ??= (async () => {
    const id = async (table: string, name: string) => {
      await client.query(
        `INSERT INTO ${schema}.${table} (type) VALUES ($1) ON CONFLICT (type) DO NOTHING`,
        [name],
      );
      const [row] = await client.query<{ id: number }>(
        `SELECT id FROM ${schema}.${table} WHERE type = $1`,
        [name],
      );
      return row!.id;
    };
    return [
      await id("command_types", "AddPost"),
      await id("aggregate_types", "Post"),
      await id("event_types", "PostAdded"),
      await id("event_types", "PostAuthorChanged"),
      await id("event_types", "PostTitleChanged"),
      await id("event_types", "PostContentChanged"),
    ];
  })();
  const [addPost, post, added, author, title, content] = await pgliteIds;
  const aggregateId = crypto.randomUUID();
  await client.query(
    `WITH c AS (
       INSERT INTO ${schema}.commands (aggregate_id, command_type_id, command_json)
       VALUES ($1::text::uuid, $2::smallint, $3::text::jsonb) RETURNING id
     ), a AS (
       INSERT INTO ${schema}.aggregates (aggregate_id, aggregate_type_id, partition)
       VALUES ($1::text::uuid, $4::smallint, $14::smallint)
     )
     INSERT INTO ${schema}.events (aggregate_id, partition_key, sequence_number,
       created_at, command_id, event_type_id, event_json, partition)
     SELECT $1::text::uuid, '', v.n, $5::timestamptz, c.id, v.t, v.j, $14::smallint
     FROM c, (VALUES
       (1, $6::smallint, $7::text::jsonb), (2, $8::smallint, $9::text::jsonb),
       (3, $10::smallint, $11::text::jsonb), (4, $12::smallint, $13::text::jsonb)) v(n, t, j)`,
    [
      aggregateId,
      addPost!,
      '{"author":"ben","title":"My first blogpost","content":"Hello World!"}',
      post!,
      new Date(),
      added!,
      "{}",
      author!,
      '{"author":"ben"}',
      title!,
      '{"title":"My first blogpost"}',
      content!,
      '{"content":"Hello World!"}',
      partitionOf(aggregateId),
    ],
  );
}

/** Every PostgreSQL figure: the server's when DATABASE_URL is set, and PGlite's. */
export async function run(ms: number): Promise<Figure[]> {
  const url = Deno.env.get("DATABASE_URL");
  const figures: Figure[] = [];
  if (url?.startsWith("postgres")) {
    figures.push(...await serverFigures(url, ms));
  }
  figures.push(...await pgliteFigures(ms));
  return figures;
}

// Keep the raw single-command function reachable for callers of this file.
export { rawCreatePost };

if (import.meta.main) {
  const ms = Number(Deno.env.get("BENCH_MS") ?? 2000);
  for (const f of await run(ms)) console.log(JSON.stringify(f));
  console.log(JSON.stringify({ loadavg: Deno.loadavg() }));
}
