/**
 * Processor figures on a PostgreSQL server, each beside a baseline
 * measured in the same run on the same database:
 *
 * - `processor.catchup_noop.events_per_s`: a processor whose handlers do
 *   nothing catching up over 400,000 seeded events (the blog's Post events)
 *   in batches of 1,000: the reader's keyset reads below the horizon, the
 *   events deserialized and dispatched, a fenced checkpoint per batch.
 *   Baseline: a raw postgres.js keyset read of the same events in batches
 *   of 1,000 (rows fetched, payloads parsed, nothing else).
 * - `processor.catchup_records.events_per_s`: the Post projector run as a
 *   processor over the same events, writing its rows batch by batch, each
 *   batch in one transaction with its checkpoint. Baseline: the replay of
 *   the same events into the same table by `migrate` (COPY out, rows held,
 *   COPY in), measured in the same run: the issue asks for ≥ 0.5.
 * - `pg.create_post_c8_with_processors.cmds_per_s`: 8 callers executing
 *   AddPost through the command service while a runner in this process
 *   runs a processor that does nothing with the events: what running
 *   processors (polling, reads below the horizon, checkpoints) costs the
 *   writers in steady state (each runner has caught up before its turn).
 *   Baseline: the same callers with no runner, in turns.
 * - `pg.create_post_c8_with_projecting_processor.cmds_per_s`: the same with
 *   the runner projecting every post into the Post table in this process:
 *   on two cores, that work takes CPU from the writers.
 *
 * The catch-ups, the raw read and the replay run in three alternating
 * rounds, each figure the median of its rounds; the writers' turns (a
 * quarter of `BENCH_MS` each) rotate over forty-eight slices, each figure
 * the median of its slices and its ratio the median of the ratios within
 * each slice.
 *
 * Run alone: `deno run -A bench/processor_bench.ts` (`PROCESSOR_POSTS`
 * changes the number of posts seeded).
 */
import {
  CommandService,
  type MigrateOptions,
  ProcessorRunner,
  Projector,
  silentLogger,
} from "@sequent/core";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  PostgresProcessorStore,
  ViewSchemaMigrator,
} from "../src/postgres/mod.ts";
import {
  AddPost,
  Post,
  PostAdded,
  PostAuthorChanged,
  PostCommandHandler,
  PostContentChanged,
  PostTitleChanged,
} from "../tests/fixtures/blog.ts";
import {
  type Figure,
  figure,
  median,
  pairedFigure,
  rotated,
} from "./figure.ts";
import { concurrently, rawSql } from "./postgres_baseline.ts";
import { PostProjector, seedPosts } from "./read_model_bench.ts";

const quiet: MigrateOptions = { progress: false };

/** Handles every Post event and does nothing with it. */
class NoopProcessor extends Projector {
  static {
    this.on(PostAdded, () => {});
    this.on(PostAuthorChanged, () => {});
    this.on(PostTitleChanged, () => {});
    this.on(PostContentChanged, () => {});
  }
}

/** The raw keyset read: every event in batches of 1,000, payloads parsed. */
async function rawKeysetSeconds(
  sql: ReturnType<typeof rawSql>,
  schema: string,
): Promise<{ seconds: number; events: number }> {
  const start = performance.now();
  let x = "0";
  let p = "0";
  let events = 0;
  for (;;) {
    const rows = await sql.unsafe(
      `SELECT xact_id::text AS x, position::text AS p, aggregate_id,
         sequence_number, created_at, event_type_id, event_json::text AS json
       FROM "${schema}".events
       WHERE (xact_id, position) > ($1::text::xid8, $2::text::bigint)
       ORDER BY xact_id, position LIMIT 1000`,
      [x, p],
      { prepare: true },
    );
    if (rows.length === 0) break;
    for (const row of rows) JSON.parse(row.json as string);
    events += rows.length;
    const last = rows[rows.length - 1]!;
    x = last.x as string;
    p = last.p as string;
  }
  return { seconds: (performance.now() - start) / 1000, events };
}

/** Events a stopped runner still had to handle: it handles them now. */
async function drain(runner: ProcessorRunner): Promise<number> {
  let events = 0;
  for (let handled; (handled = await runner.round()) > 0;) events += handled;
  return events;
}

/** A list of lags as its median and its most. */
function lagOf(lags: readonly number[]): string {
  return `median ${median(lags)}, most ${Math.max(...lags)} events`;
}

/** Seconds for a runner of `processor` to catch up from the start. */
async function catchUpSeconds(
  runner: ProcessorRunner,
  name: string,
): Promise<number> {
  await runner.reset(name);
  const start = performance.now();
  await runner.catchUp([name]);
  return (performance.now() - start) / 1000;
}

/** The processor figures, on the server at `url`. */
export async function processorFigures(
  url: string,
  posts: number,
  ms: number,
): Promise<Figure[]> {
  const schema = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const viewSchema = `${schema}_view`;
  const client = await connectDatabase(url);
  const sql = rawSql(url, 2);
  try {
    await installEventStore(client, { schema });
    await seedPosts(client, schema, posts);
    const events = posts * 4;
    const store = new PostgresEventStore(client, {
      schema,
      viewSchema,
      closeClient: false,
    });
    const service = new CommandService({
      eventStore: store,
      commandHandlers: [new PostCommandHandler()],
      eventHandlers: [],
      aggregates: [Post],
    });
    // the replay the records figure stands beside, into `into`: seconds
    const replay = async (into: string) => {
      const start = performance.now();
      await new ViewSchemaMigrator({
        client,
        eventStoreSchema: schema,
        viewSchema: into,
        versions: { 1: [PostProjector] },
        serializer: service.serializer,
      }).migrate(quiet);
      return (performance.now() - start) / 1000;
    };
    // the Post table the processors write to
    const replays = [await replay(viewSchema)];

    const processors = new PostgresProcessorStore(client, store, {
      schema,
      viewSchema,
    });
    const runner = new ProcessorRunner({
      store: processors,
      service,
      processors: [new NoopProcessor(), new PostProjector()],
      batchSize: 1_000,
      logger: silentLogger,
    });
    await sql.unsafe(`SELECT count(*) FROM "${schema}".events`);
    // Rounds alternate (three): the raw read, the no-op catch-up, the
    // records catch-up, then a replay into a scratch view schema; each
    // figure is the median of its rounds (the first replay, which built
    // the processors' table, is one of the replay's).
    const raws: number[] = [];
    const noops: number[] = [];
    const recordRuns: number[] = [];
    for (let round = 0; round < 3; round++) {
      const raw = await rawKeysetSeconds(sql, schema);
      if (raw.events !== events) {
        throw new Error(`the raw read saw ${raw.events} events, not ${events}`);
      }
      raws.push(raw.seconds);
      noops.push(await catchUpSeconds(runner, "NoopProcessor"));
      recordRuns.push(await catchUpSeconds(runner, "PostProjector"));
      const [check] = await client.query<{ n: number; filled: number }>(
        `SELECT count(*)::int AS n, count(content)::int AS filled FROM "${viewSchema}".post_records`,
      );
      if (check?.n !== posts || check.filled !== posts) {
        throw new Error(`post_records: ${JSON.stringify(check)}`);
      }
      if (round < 2) {
        const scratch = `${viewSchema}_${round}`;
        replays.push(await replay(scratch));
        await client.execute(`DROP SCHEMA "${scratch}" CASCADE`);
      }
    }
    const rawSeconds = median(raws);
    const noop = median(noops);
    const records = median(recordRuns);
    const replaySeconds = median(replays);
    const list = (values: number[]) =>
      values.map((v) => v.toFixed(2)).join(" / ");
    console.error(
      `catch-up: noop ${list(noops)} s, records ${
        list(recordRuns)
      } s; raw keyset read ${list(raws)} s; replay ${list(replays)} s`,
    );

    // commands with and without a runner projecting them, taking turns
    const addPost = () =>
      service.executeCommands(
        new AddPost({
          aggregateId: crypto.randomUUID(),
          author: "ben",
          title: "My first blogpost",
          content: "Hello World!",
        }),
      );
    // three turns per slice, in rotating order: no runner, a runner whose
    // processor does nothing (what running processors costs the writers:
    // polling, reads, checkpoints), and one projecting every post's rows
    const only = (processor: Projector) =>
      new ProcessorRunner({
        store: processors,
        service,
        processors: [processor],
        batchSize: 1_000,
        logger: silentLogger,
      });
    const turns: (ProcessorRunner | undefined)[] = [
      undefined,
      only(new NoopProcessor()),
      only(new PostProjector()),
    ];
    const rates: [number[], number[], number[]] = [[], [], []];
    // what each runner had still to handle when its turn ended: a runner
    // that slept through its turns would leave the writers alone and the
    // figure would not be the steady cost (beside a busy pause of 500 ms
    // and an idle one of 1 s, a no-op runner left 6,112 of its turns'
    // 6,118 events for after them, and its ratio rose from ~0.92 to ~0.98)
    const lags: [number[], number[], number[]] = [[], [], []];
    // forty-eight slices of three turns of half a second (at the default
    // 2 s): one slice's ratio spreads widely with the disk (over 60 slices
    // of the writers alone and beside the no-op runner, a standard
    // deviation of 0.08 about a mean of 0.941), and the median of twelve
    // ran from 0.91 to 0.96 in five such runs; of forty-eight, its
    // standard error is some 0.015
    const slices = 48;
    const turnMs = ms / 4;
    await concurrently(addPost, 200, 8);
    for (let i = 0; i < slices; i++) {
      for (const t of rotated(turns.map((_, k) => k), i)) {
        const beside = turns[t];
        // caught up first: a runner that sat out the other turns would
        // otherwise charge their events to this one (three times the
        // steady rate), where the figure means the steady cost
        await beside?.catchUp();
        const stop = new AbortController();
        const running = beside?.run({ signal: stop.signal });
        rates[t]!.push(
          await concurrently(addPost, turnMs, 8, 0),
        );
        stop.abort();
        await running;
        if (beside) lags[t]!.push(await drain(beside));
      }
    }
    const eventsPerTurn = median(rates[0]) * (turnMs / 1000) * 4;
    console.error(
      `left at a turn's end (of ~${
        eventsPerTurn.toFixed(0)
      } events written): no-op runner ${lagOf(lags[1])}, projecting runner ${
        lagOf(lags[2])
      }`,
    );
    const [without, withNoop, withRecords] = rates;
    await runner.catchUp();
    return [
      figure(
        "processor.catchup_noop.events_per_s",
        events / noop,
        "events/s",
        events / rawSeconds,
      ),
      figure(
        "processor.catchup_records.events_per_s",
        events / records,
        "events/s",
        events / replaySeconds,
      ),
      pairedFigure(
        "pg.create_post_c8_with_processors.cmds_per_s",
        withNoop,
        "cmds/s",
        without,
      ),
      pairedFigure(
        "pg.create_post_c8_with_projecting_processor.cmds_per_s",
        withRecords,
        "cmds/s",
        without,
      ),
    ];
  } finally {
    await sql.end();
    await client.execute(
      `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${viewSchema}" CASCADE`,
    );
    await client.close();
  }
}

/** Every processor figure, on `DATABASE_URL` (default the local server). */
export async function run(ms: number): Promise<Figure[]> {
  const url = Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/test";
  if (!url.startsWith("postgres")) return [];
  const posts = Number(Deno.env.get("PROCESSOR_POSTS") ?? 100_000);
  return await processorFigures(url, posts, ms);
}

if (import.meta.main) {
  const ms = Number(Deno.env.get("BENCH_MS") ?? 2000);
  for (const f of await run(ms)) console.log(JSON.stringify(f));
  console.log(JSON.stringify({ loadavg: Deno.loadavg() }));
}
