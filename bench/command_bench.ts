/**
 * The whole command path on a PostgreSQL server, each figure beside a
 * baseline measured in the same run on the same database. "Ours" is what
 * an application runs: `CommandService.executeCommands` with the blog's
 * handler, the `Post` aggregate, serialisation, the command record and the
 * Post projector inline.
 *
 * - `pg.command_c1.cmds_per_s`, `pg.command_c8.cmds_per_s`: AddPost end to
 *   end (four events, the command record, the post's row created then
 *   updated three times), from 1 and from 8 concurrent callers. Baseline:
 *   the fastest raw postgres.js loop storing the same rows and the post's
 *   final row in one statement per post, on sockets with Nagle's algorithm
 *   off (as our adapter has them). The two take turns in rounds and each
 *   figure is the median of its rounds.
 * - `pg.deep_aggregate.cmds_per_s`: EditPost (one event, the post's row
 *   updated) as commands 4,001 to 5,000 of one aggregate that has no
 *   snapshot, the first of them loading the 4,000 stored events; the
 *   median of three aggregates. Baseline: `pg.command_c1.cmds_per_s` of
 *   the same run (a command on a new aggregate).
 * - `pg.load_1000_aggregate.ms`: a cold load of an aggregate with 1,000
 *   events through a new `AggregateRepository` (the rows read, every event
 *   built and applied). Baseline: one raw SELECT of the events plus
 *   `JSON.parse` of each payload. Calls alternate; medians of each.
 *
 * The server is `DATABASE_URL` (default the local one). Run alone:
 * `deno run -A bench/command_bench.ts`.
 */
import {
  AggregateRepository,
  CommandService,
  type MigrateOptions,
} from "@sequent/core";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  type SqlClient,
  ViewSchemaMigrator,
} from "../src/postgres/mod.ts";
import {
  AddPost,
  EditPost,
  Post,
  PostCommandHandler,
} from "../tests/fixtures/blog.ts";
import { type Figure, figure, median } from "./figure.ts";
import {
  compareRates,
  rawCreatePost,
  rawLoad,
  type RawSql,
  rawTypeIds,
} from "./postgres_baseline.ts";
import { PostProjector, rawSql } from "./read_model_bench.ts";

const quiet: MigrateOptions = { progress: false };

/** AddPost through the command service. */
function addPost(service: CommandService): Promise<string> {
  return service.executeCommands(
    new AddPost({
      aggregateId: crypto.randomUUID(),
      author: "ben",
      title: "My first blogpost",
      content: "Hello World!",
    }),
  );
}

/**
 * Stores a post with `events` events (PostAdded, its author, title and
 * content, then title changes) in commits of 500, as rows, and its row.
 */
async function seedDeepPost(
  store: PostgresEventStore,
  service: CommandService,
  events: number,
): Promise<string> {
  const id = crypto.randomUUID();
  await service.executeCommands(
    new AddPost({ aggregateId: id, author: "ben", title: "T", content: "c" }),
  );
  const command = {
    commandType: "EditPost",
    aggregateId: id,
    userId: undefined,
    eventAggregateId: undefined,
    eventSequenceNumber: undefined,
    payload: '{"title":"seeded","content":"c"}',
  };
  for (let first = 5; first <= events; first += 500) {
    const rows = Array.from(
      { length: Math.min(500, events - first + 1) },
      (_, i) => ({
        aggregateId: id,
        sequenceNumber: first + i,
        createdAt: new Date(),
        eventType: "PostTitleChanged",
        payload: JSON.stringify({ title: `Title ${first + i}` }),
      }),
    );
    await store.transaction((tx) =>
      tx.commit(command, [{
        aggregateId: id,
        aggregateType: "Post",
        partitionKey: "",
        uniqueKeys: undefined,
        snapshotThreshold: undefined,
        events: rows,
      }])
    );
  }
  return id;
}

/** Commands 4,001–5,000 of one aggregate, per second. */
async function deepCommandsPerSecond(
  store: PostgresEventStore,
  service: CommandService,
): Promise<number> {
  const id = await seedDeepPost(store, service, 4000);
  const start = performance.now();
  for (let n = 4001; n <= 5000; n++) {
    await service.executeCommands(
      new EditPost({ aggregateId: id, title: `Edit ${n}`, content: "c" }),
    );
  }
  return 1000 / ((performance.now() - start) / 1000);
}

/** Alternates cold repository loads and raw loads; the medians in ms. */
async function loadMs(
  store: PostgresEventStore,
  service: CommandService,
  sql: RawSql,
  schema: string,
  times: number,
): Promise<[ours: number, raw: number]> {
  const id = await seedDeepPost(store, service, 1000);
  const ours = () =>
    new AggregateRepository(store, service.serializer).loadAggregate(id, Post);
  const raw = () => rawLoad(sql, schema, id);
  for (let i = 0; i < 20; i++) {
    await ours();
    await raw();
  }
  const oursMs: number[] = [];
  const rawMs: number[] = [];
  const time = async (fn: () => Promise<unknown>, into: number[]) => {
    const start = performance.now();
    await fn();
    into.push(performance.now() - start);
  };
  for (let i = 0; i < times; i++) {
    if (i % 2 === 0) {
      await time(ours, oursMs);
      await time(raw, rawMs);
    } else {
      await time(raw, rawMs);
      await time(ours, oursMs);
    }
  }
  return [median(oursMs), median(rawMs)];
}

/** Opens the store and the service over a fresh schema, projector migrated. */
async function open(url: string, schema: string, viewSchema: string): Promise<{
  client: SqlClient;
  store: PostgresEventStore;
  service: CommandService;
}> {
  const client = await connectDatabase(url);
  await installEventStore(client, { schema });
  const store = new PostgresEventStore(client, {
    schema,
    viewSchema,
    closeClient: false,
  });
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new PostCommandHandler()],
    eventHandlers: [new PostProjector()],
    aggregates: [Post],
  });
  await new ViewSchemaMigrator({
    client,
    eventStoreSchema: schema,
    viewSchema,
    versions: { 1: [PostProjector] },
    serializer: service.serializer,
  }).migrate(quiet);
  return { client, store, service };
}

/** Every command-path figure, on the server at `url`. */
export async function commandFigures(
  url: string,
  ms: number,
): Promise<Figure[]> {
  const schema = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const viewSchema = `${schema}_view`;
  const { client, store, service } = await open(url, schema, viewSchema);
  const sql = rawSql(url);
  try {
    const ids = await rawTypeIds(sql, schema);
    const figures: Figure[] = [];
    let c1 = 0;
    for (const concurrency of [1, 8]) {
      // Twice the time of one figure: the two take turns (see compareRates).
      const [raw, ours] = await compareRates(
        () => rawCreatePost(sql, schema, ids, { viewSchema }),
        () => addPost(service),
        { ms: 2 * ms, concurrency },
      );
      if (concurrency === 1) c1 = ours;
      figures.push(
        figure(`pg.command_c${concurrency}.cmds_per_s`, ours, "cmds/s", raw),
      );
    }
    const deep: number[] = [];
    for (let i = 0; i < 3; i++) {
      deep.push(await deepCommandsPerSecond(store, service));
    }
    figures.push(
      figure(
        "pg.deep_aggregate.cmds_per_s",
        median(deep),
        "cmds/s",
        c1,
        undefined,
        "pg.command_c1.cmds_per_s of the same run",
      ),
    );
    const [ours, raw] = await loadMs(store, service, sql, schema, 200);
    figures.push(figure("pg.load_1000_aggregate.ms", ours, "ms", raw));
    return figures;
  } finally {
    await sql.end();
    await client.execute(
      `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${viewSchema}" CASCADE`,
    );
    await client.close();
  }
}

/** The command-path figures, on `DATABASE_URL` (default the local server). */
export async function run(ms: number): Promise<Figure[]> {
  const url = Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/test";
  if (!url.startsWith("postgres")) return [];
  return await commandFigures(url, ms);
}

if (import.meta.main) {
  const ms = Number(Deno.env.get("BENCH_MS") ?? 2000);
  for (const f of await run(ms)) console.log(JSON.stringify(f));
}
