/**
 * Read-model figures on a PostgreSQL server, each beside a raw baseline
 * measured in the same run on the same database:
 *
 * - `replay.events_per_s`: `migrate` (online, then offline) replaying
 *   1,000,000 events (the blog's Post events: 250,000 posts of four events
 *   each, seeded straight into the event store's tables) into the Post
 *   table. Baseline, as the read-model issue defines it: the raw `COPY`
 *   rate of the same 250,000 final rows into a fresh table of the same
 *   shape, in one transaction, in rows per second. The ratio compares our
 *   events per second with those rows per second.
 * - `replay.seconds`: the same replay in seconds beside the seconds of that
 *   raw `COPY`: how many times longer than writing the final rows alone the
 *   whole replay takes (a stricter reading of the same comparison).
 * - `replay.vs_hand_written.events_per_s`: our replay beside a hand-written
 *   one on postgres.js with no framework at all (`COPY` the events out,
 *   `JSON.parse`, a `Map` of rows, `COPY` the rows in): what the framework
 *   costs over the least code that does the job.
 * - `replay.peak_rss.mb`: the most resident memory of this process while
 *   the first replay ran (sampled); it must stay under 1 GiB.
 *
 * Rounds alternate (`REPLAY_ROUNDS`, default 5): ours, the hand-written
 * replay, the raw `COPY`, in an order that rotates from round to round;
 * every figure is the median of its rounds. With
 * `--expose-gc` (as `deno task bench` runs), each timed round starts after
 * a full garbage collection: otherwise a round pays for the garbage the
 * round before left, which was another side's.
 *
 * The server is `DATABASE_URL` (default the local one). Run alone:
 * `deno run -A --v8-flags=--expose-gc bench/read_model_bench.ts`
 * (`REPLAY_POSTS` changes the number of posts replayed).
 */
import {
  column,
  CommandService,
  type MigrateOptions,
  type MigrationReport,
  Projector,
  table,
} from "@sequent/core";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  type SqlClient,
  ViewSchemaMigrator,
} from "../src/postgres/mod.ts";
import {
  Post,
  PostAdded,
  PostAuthorChanged,
  PostCommandHandler,
  PostContentChanged,
  PostTitleChanged,
} from "../tests/fixtures/blog.ts";
import postgres from "postgres";
import { connect } from "node:net";
import { once } from "node:events";
import {
  collectGarbage,
  type Figure,
  figure,
  median,
  rotated,
} from "./figure.ts";
import { resumeAfterCopyOut } from "./postgres_js.ts";
import type { RawSql } from "./postgres_baseline.ts";

/**
 * A postgres.js pool for the baselines, with Nagle's algorithm off on its
 * sockets as the framework's adapter has it (else each COPY waits some
 * 40 ms for a delayed ACK): the baselines get the fastest raw client.
 */
export function rawSql(url: string, max = 10): RawSql {
  const socket = async (o: { host: string[]; port: number[] }) => {
    const s = connect({
      host: o.host[0],
      port: o.port[0] ?? 5432,
      noDelay: true,
    });
    await once(s, "connect");
    return s;
  };
  return postgres(url, {
    max,
    onnotice: () => {},
    ...({ socket } as Record<string, unknown>),
  }) as unknown as RawSql;
}

/** The Post read model: one row per post. */
export const postRecords = table("post_records", {
  aggregateId: column.uuid().primaryKey(),
  author: column.text().nullable(),
  title: column.text().nullable(),
  content: column.text().nullable(),
});

/** The blog's Post projector: a row created, then updated by each change. */
export class PostProjector extends Projector {
  static override readonly manages = [postRecords];
  static {
    this.on(
      PostAdded,
      (p, e) => p.createRecord(postRecords, { aggregateId: e.aggregateId }),
    );
    this.on(
      PostAuthorChanged,
      (p, e) =>
        p.updateAllRecords(postRecords, { aggregateId: e.aggregateId }, {
          author: e.author ?? null,
        }),
    );
    this.on(
      PostTitleChanged,
      (p, e) =>
        p.updateAllRecords(postRecords, { aggregateId: e.aggregateId }, {
          title: e.title ?? null,
        }),
    );
    this.on(
      PostContentChanged,
      (p, e) =>
        p.updateAllRecords(postRecords, { aggregateId: e.aggregateId }, {
          content: e.content ?? null,
        }),
    );
  }
}

const quiet: MigrateOptions = { progress: false };

function author(i: number): string {
  return `author ${i % 100}`;
}
function title(i: number): string {
  return `Post number ${i}`;
}
function content(i: number): string {
  return `The content of post ${i}, a sentence or two long, with some words.`;
}

/**
 * Seeds `posts` AddPosts' rows (command, aggregate, four events) straight
 * into the event store's tables with INSERT … SELECT.
 */
export async function seedPosts(
  client: SqlClient,
  schema: string,
  posts: number,
): Promise<void> {
  const s = `"${schema}"`;
  await client.transaction(async (tx) => {
    await tx.execute(`
      SET LOCAL session_replication_role = replica;
      INSERT INTO ${s}.command_types (type) VALUES ('AddPost') ON CONFLICT DO NOTHING;
      INSERT INTO ${s}.aggregate_types (type) VALUES ('Post') ON CONFLICT DO NOTHING;
      INSERT INTO ${s}.event_types (type) VALUES ('PostAdded'), ('PostAuthorChanged'),
        ('PostTitleChanged'), ('PostContentChanged') ON CONFLICT DO NOTHING;
      CREATE TEMP TABLE seed_ids ON COMMIT DROP AS
        SELECT g, md5('post' || g)::uuid AS id,
          ${s}.partition_hash(md5('post' || g)::uuid) % ${s}.partition_count() AS p,
          'author ' || (g % 100) AS author, 'Post number ' || g AS title,
          'The content of post ' || g || ', a sentence or two long, with some words.' AS content
        FROM generate_series(1, ${posts}) g;
      INSERT INTO ${s}.commands (id, aggregate_id, command_type_id, command_json)
        OVERRIDING SYSTEM VALUE
        SELECT g, id, (SELECT id FROM ${s}.command_types WHERE type = 'AddPost'),
          jsonb_build_object('author', author, 'title', title, 'content', content)
        FROM seed_ids;
      SELECT setval(pg_get_serial_sequence('${s}.commands', 'id'), ${posts});
      INSERT INTO ${s}.aggregates (aggregate_id, aggregate_type_id, partition)
        SELECT id, (SELECT id FROM ${s}.aggregate_types WHERE type = 'Post'), p
        FROM seed_ids;
      INSERT INTO ${s}.events (aggregate_id, partition_key, sequence_number, created_at,
          command_id, event_type_id, event_json, partition)
        SELECT i.id, '', n, now(), i.g, t.id,
          CASE n WHEN 1 THEN '{}'::jsonb
            WHEN 2 THEN jsonb_build_object('author', i.author)
            WHEN 3 THEN jsonb_build_object('title', i.title)
            ELSE jsonb_build_object('content', i.content) END, i.p
        FROM seed_ids i CROSS JOIN generate_series(1, 4) n
        JOIN ${s}.event_types t ON t.type = (ARRAY['PostAdded', 'PostAuthorChanged',
          'PostTitleChanged', 'PostContentChanged'])[n]
        ORDER BY i.id, n;
    `);
  });
  await client.execute(`VACUUM ANALYZE ${s}.events`);
}

/**
 * Writes Post rows into `name` with one raw `COPY … FROM STDIN`, in 64 KB
 * chunks (the values need no escaping).
 */
async function copyPostRows(
  tx: Pick<RawSql, "unsafe">,
  name: string,
  rows: Iterable<readonly (string | null)[]>,
): Promise<void> {
  const writable = await tx.unsafe(
    `COPY ${name} (aggregate_id, author, title, content) FROM STDIN`,
  ).writable();
  let chunk = "";
  for (const row of rows) {
    chunk += `${row[0]}\t${row[1] ?? "\\N"}\t${row[2] ?? "\\N"}\t${
      row[3] ?? "\\N"
    }\n`;
    if (chunk.length >= 65536) {
      if (!writable.write(chunk)) {
        await new Promise((resolve) => writable.once("drain", resolve));
      }
      chunk = "";
    }
  }
  if (chunk) writable.write(chunk);
  await new Promise((resolve, reject) => {
    writable.once("finish", resolve);
    writable.once("error", reject);
    writable.end();
  });
}

/** The raw COPY of the final rows: seconds for BEGIN, CREATE, COPY, COMMIT. */
async function rawCopySeconds(
  sql: RawSql,
  schema: string,
  rows: readonly (readonly string[])[],
): Promise<number> {
  const name = `"${schema}"."raw_posts_${crypto.randomUUID().slice(0, 8)}"`;
  const start = performance.now();
  await sql.begin(async (tx) => {
    await tx.unsafe(
      `CREATE TABLE ${name} (aggregate_id uuid NOT NULL, author text, title text, content text, PRIMARY KEY (aggregate_id))`,
    );
    await copyPostRows(tx, name, rows);
  });
  const seconds = (performance.now() - start) / 1000;
  await sql.unsafe(`DROP TABLE ${name}`);
  return seconds;
}

/**
 * The least code that replays the Post events into a fresh table: the
 * events `COPY`-ed out in order, each row's payload parsed, the rows kept
 * in a `Map`, then `COPY`-ed in; one transaction. Seconds.
 */
async function handWrittenReplaySeconds(
  sql: RawSql,
  schema: string,
): Promise<number> {
  const name = `"${schema}"."hand_posts_${crypto.randomUUID().slice(0, 8)}"`;
  const start = performance.now();
  await sql.begin(async (tx) => {
    await tx.unsafe(
      `CREATE TABLE ${name} (aggregate_id uuid NOT NULL, author text, title text, content text, PRIMARY KEY (aggregate_id))`,
    );
    const types = new Map<number, string>();
    for (
      const r of await tx.unsafe(`SELECT id, type FROM "${schema}".event_types`)
    ) types.set(r.id as number, r.type as string);
    type PostRow = [string, string | null, string | null, string | null];
    const posts = new Map<string, PostRow>();
    const readable = await tx.unsafe(
      `COPY (SELECT aggregate_id, event_type_id, event_json FROM "${schema}".events
        ORDER BY partition_key, aggregate_id, sequence_number) TO STDOUT`,
    ).readable();
    const decoder = new TextDecoder();
    await new Promise<void>((resolve, reject) => {
      // the server sends one message per row (the seeded payloads have no
      // characters COPY escapes)
      readable.on("data", (chunk: Uint8Array) => {
        const line = decoder.decode(chunk);
        const tab1 = line.indexOf("\t");
        const tab2 = line.indexOf("\t", tab1 + 1);
        const id = line.slice(0, tab1);
        const type = types.get(Number(line.slice(tab1 + 1, tab2)));
        const payload = JSON.parse(line.slice(tab2 + 1, line.length - 1));
        if (type === "PostAdded") posts.set(id, [id, null, null, null]);
        else {
          const post = posts.get(id) as PostRow;
          if (type === "PostAuthorChanged") post[1] = payload.author;
          else if (type === "PostTitleChanged") post[2] = payload.title;
          else if (type === "PostContentChanged") post[3] = payload.content;
        }
      });
      readable.once("end", () => {
        // else the COPY below may wait forever (see postgres_js.ts)
        resumeAfterCopyOut(readable);
        resolve();
      });
      readable.once("error", reject);
    });
    await copyPostRows(tx, name, posts.values());
  });
  const seconds = (performance.now() - start) / 1000;
  await sql.unsafe(`DROP TABLE ${name}`);
  return seconds;
}

/** The replay figures: events per second beside the raw baselines, peak RSS. */
export async function replayFigures(
  url: string,
  posts: number,
  rounds = 5,
): Promise<Figure[]> {
  const schema = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const viewSchema = `${schema}_view`;
  const client = await connectDatabase(url);
  const sql = rawSql(url, 2);
  try {
    await installEventStore(client, { schema });
    const seeding = performance.now();
    await seedPosts(client, schema, posts);
    console.error(
      `seeded ${posts * 4} events in ${
        ((performance.now() - seeding) / 1000).toFixed(1)
      } s`,
    );
    const service = new CommandService({
      eventStore: new PostgresEventStore(client, {
        schema,
        viewSchema,
        closeClient: false,
      }),
      commandHandlers: [new PostCommandHandler()],
      eventHandlers: [new PostProjector()],
      aggregates: [Post],
    });
    const migrator = (version: number) =>
      new ViewSchemaMigrator({
        client,
        eventStoreSchema: schema,
        viewSchema,
        versions: Object.fromEntries(
          Array.from({ length: version }, (_, i) => [i + 1, [PostProjector]]),
        ),
        serializer: service.serializer,
      });
    const rows = await sql.unsafe(
      `SELECT aggregate_id::text AS id FROM "${schema}".aggregates ORDER BY aggregate_id`,
    );
    const finalRows = rows.map((r, i) => {
      const g = Number(i); // payload text only needs the same shape and size
      return [r.id as string, author(g), title(g), content(g)];
    });
    // Warm the server's caches for both sides alike.
    await sql.unsafe(`SELECT count(*) FROM "${schema}".events`);
    // Rounds alternate: ours, the hand-written replay, the raw COPY, in a
    // rotating order; each figure is the median of its rounds, so each side
    // gets a cold first round and the machine's slow moments alike. The
    // peak memory is that of our first round (the run's first measurement),
    // before the baselines have grown the heap.
    const copies: number[] = [];
    const hands: number[] = [];
    const ours: number[] = [];
    let peak = Deno.memoryUsage().rss;
    let report: MigrationReport | undefined;
    const replayOurs = async (round: number) => {
      await client.execute(`DROP SCHEMA IF EXISTS "${viewSchema}" CASCADE`);
      const sampler = round > 0 ? undefined : setInterval(() => {
        peak = Math.max(peak, Deno.memoryUsage().rss);
      }, 20);
      collectGarbage();
      const start = performance.now();
      [report] = await migrator(1).migrate(quiet);
      ours.push((performance.now() - start) / 1000);
      if (sampler !== undefined) {
        clearInterval(sampler);
        peak = Math.max(peak, Deno.memoryUsage().rss);
      }
      if (report?.events !== posts * 4) {
        throw new Error(`replayed ${report?.events} events, not ${posts * 4}`);
      }
      const [check] = await client.query<{ n: number; filled: number }>(
        `SELECT count(*)::int AS n, count(content)::int AS filled FROM "${viewSchema}".post_records`,
      );
      if (check?.n !== posts || check.filled !== posts) {
        throw new Error(`post_records: ${JSON.stringify(check)}`);
      }
    };
    const sides = [
      replayOurs,
      async () => {
        collectGarbage();
        hands.push(await handWrittenReplaySeconds(sql, schema));
      },
      async () => {
        collectGarbage();
        copies.push(await rawCopySeconds(sql, schema, finalRows));
      },
    ];
    // the order rotates: each side runs first once (the server still
    // writing out the round before's rows), and after each of the others
    for (let round = 0; round < rounds; round++) {
      for (const side of rotated(sides, round)) await side(round);
    }
    const seconds = median(ours);
    const copySeconds = median(copies);
    const handSeconds = median(hands);
    const list = (values: number[]) =>
      values.map((v) => v.toFixed(2)).join(" / ");
    console.error(
      `replay ${list(ours)} s (${report!.rows} rows, peak ${
        report!.peakRows
      } held); raw COPY ${list(copies)} s; hand-written replay ${
        list(hands)
      } s`,
    );
    const events = posts * 4;
    return [
      figure(
        "replay.events_per_s",
        events / seconds,
        "events/s",
        posts / copySeconds,
        "rows/s",
      ),
      figure("replay.seconds", seconds, "s", copySeconds),
      figure(
        "replay.vs_hand_written.events_per_s",
        events / seconds,
        "events/s",
        events / handSeconds,
      ),
      figure("replay.peak_rss.mb", peak / 2 ** 20, "MB"),
    ];
  } finally {
    await sql.end();
    await client.execute(
      `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${viewSchema}" CASCADE`,
    );
    await client.close();
  }
}

/** Every read-model figure, on `DATABASE_URL` (default the local server). */
export async function run(ms: number): Promise<Figure[]> {
  const url = Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/test";
  if (!url.startsWith("postgres")) return [];
  const posts = Number(Deno.env.get("REPLAY_POSTS") ?? 250_000);
  const rounds = Number(Deno.env.get("REPLAY_ROUNDS") ?? 5);
  void ms; // the replay runs to its end, however long
  return await replayFigures(url, posts, rounds);
}

if (import.meta.main) {
  const ms = Number(Deno.env.get("BENCH_MS") ?? 2000);
  for (const f of await run(ms)) console.log(JSON.stringify(f));
  console.log(JSON.stringify({ loadavg: Deno.loadavg() }));
}
