/**
 * The event browser at scale, on a PostgreSQL server: 1,000,000 events of
 * 100,000 aggregates spread over a year (ten events each, one in a hundred
 * published), plus one aggregate of 5,000 events, seeded straight into the
 * event store's tables.
 *
 * - `browser.page_p95.ms`: the server time of a page (the browser's
 *   `fetch`, in this process: queries and rendering, no network), 95th
 *   percentile over the search (first page, next page, by type, by time
 *   range, by type and time range, by aggregate), aggregate and event
 *   pages, random targets. Target ≤ 30 ms. Baseline: the 95th percentile
 *   of the raw keyset query of a search's first page on postgres.js.
 * - `browser.time_travel_5000.ms`: the state page of the deep aggregate at
 *   event 5,000 (read 5,000 events, rebuild with the app's class, diff),
 *   median of ten. Target ≤ 200 ms. Baseline: reading the same 5,000 rows
 *   with postgres.js and parsing their JSON.
 *
 * Run alone: `deno run -A bench/browser_bench.ts`.
 */
import { createHash } from "node:crypto";
import { createApp } from "@sequent/core";
import { createEventBrowser, type EventBrowser } from "@sequent/core/browser";
import { connectDatabase, installEventStore } from "../src/postgres/mod.ts";
import { Post, PostCommandHandler } from "../tests/fixtures/blog.ts";
import { type Figure, figure } from "./figure.ts";
import { rawSql } from "./postgres_baseline.ts";

const AGGREGATES = Number(Deno.env.get("BROWSER_AGGREGATES") ?? 100_000);
const DEEP = 5_000;

/** Seeds the events (see the module documentation); returns the deep aggregate's id. */
async function seed(url: string, schema: string): Promise<string> {
  const client = await connectDatabase(url);
  const s = `"${schema}"`;
  const deep = crypto.randomUUID();
  try {
    await installEventStore(client, { schema });
    await client.transaction(async (tx) => {
      await tx.execute(`
        SET LOCAL session_replication_role = replica;
        INSERT INTO ${s}.command_types (type) VALUES ('AddPost'), ('EditPost');
        INSERT INTO ${s}.aggregate_types (type) VALUES ('Post');
        INSERT INTO ${s}.event_types (type) VALUES ('PostAdded'),
          ('PostAuthorChanged'), ('PostTitleChanged'), ('PostContentChanged'),
          ('PostPublished');
        CREATE TEMP TABLE seed_ids ON COMMIT DROP AS
          SELECT g, md5('post' || g)::uuid AS id,
            ${s}.partition_hash(md5('post' || g)::uuid) % ${s}.partition_count() AS p
          FROM generate_series(1, ${AGGREGATES}) g;
        INSERT INTO ${s}.commands (id, command_id, aggregate_id, command_type_id, command_json, created_at)
          OVERRIDING SYSTEM VALUE
          SELECT g, md5('command' || g)::uuid, id, 1, jsonb_build_object('title', 'Post ' || g),
            now() - interval '365 days' + g * interval '315 seconds'
          FROM seed_ids;
        INSERT INTO ${s}.commands (id, command_id, aggregate_id, command_type_id, command_json)
          OVERRIDING SYSTEM VALUE
          VALUES (${
        AGGREGATES + 1
      }, '${crypto.randomUUID()}', '${deep}', 2, '{}');
        SELECT setval(pg_get_serial_sequence('${s}.commands', 'id'), ${
        AGGREGATES + 1
      });
        INSERT INTO ${s}.aggregates (aggregate_id, aggregate_type_id, partition)
          SELECT id, 1, p FROM seed_ids
          UNION ALL SELECT '${deep}', 1, ${s}.partition_hash('${deep}') % ${s}.partition_count();
        INSERT INTO ${s}.events (aggregate_id, partition_key, sequence_number, created_at,
            command_id, event_type_id, event_json, partition)
          SELECT i.id, '', n,
            now() - interval '365 days' + i.g * interval '315 seconds' + n * interval '1 second',
            i.g,
            CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN 2
              WHEN n = 10 AND i.g % 100 = 0 THEN 5
              WHEN n % 2 = 1 THEN 3 ELSE 4 END,
            CASE WHEN n = 1 THEN '{}'::jsonb
              WHEN n = 2 THEN jsonb_build_object('author', 'author ' || (i.g % 100))
              WHEN n = 10 AND i.g % 100 = 0 THEN jsonb_build_object('publicationDate', '2026-12-05')
              WHEN n % 2 = 1 THEN jsonb_build_object('title', 'Title ' || i.g || '.' || n)
              ELSE jsonb_build_object('content', 'Content of post ' || i.g || ', version ' || n) END,
            i.p
          FROM seed_ids i CROSS JOIN generate_series(1, 10) n
          ORDER BY i.g, n;
        INSERT INTO ${s}.events (aggregate_id, partition_key, sequence_number, created_at,
            command_id, event_type_id, event_json, partition)
          SELECT '${deep}', '', n, now() - interval '1 day' + n * interval '1 second',
            ${AGGREGATES + 1}, CASE WHEN n = 1 THEN 1 ELSE 3 END,
            CASE WHEN n = 1 THEN '{}'::jsonb
              ELSE jsonb_build_object('title', 'Deep title ' || n) END,
            ${s}.partition_hash('${deep}') % ${s}.partition_count()
          FROM generate_series(1, ${DEEP}) n;
      `);
    });
    await client.execute(
      `VACUUM ANALYZE ${s}.events, ${s}.commands, ${s}.aggregates`,
    );
  } finally {
    await client.close();
  }
  return deep;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function timed(browser: EventBrowser, path: string): Promise<number> {
  const start = performance.now();
  const response = await browser.fetch(new Request(`http://bench${path}`));
  await response.text();
  const ms = performance.now() - start;
  if (response.status !== 200) {
    throw new Error(`${path} answered ${response.status}`);
  }
  return ms;
}

/** The id the seed gave post `g`: `md5('post' || g)::uuid`. */
function postId(g: number): string {
  const hex = createHash("md5").update(`post${g}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${
    hex.slice(16, 20)
  }-${hex.slice(20)}`;
}

/** The browser's figures on the server at `url`. */
export async function run(_ms: number): Promise<Figure[]> {
  const url = Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/test";
  const schema = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const seeding = performance.now();
  const deep = await seed(url, schema);
  console.error(
    `seeded ${AGGREGATES * 10 + DEEP} events in ${
      ((performance.now() - seeding) / 1000).toFixed(1)
    } s`,
  );
  const app = await createApp({
    database: url,
    eventStoreSchema: schema,
    viewSchema: `${schema}_view`,
    commandHandlers: [new PostCommandHandler()],
    aggregates: [Post],
  });
  const sql = rawSql(url, 1);
  try {
    const browser = createEventBrowser(app);
    const random = () => 1 + Math.floor(Math.random() * AGGREGATES);
    const day = 86_400_000;
    const now = Date.now();
    const iso = (t: number) => new Date(t).toISOString().slice(0, 16);
    const first = await browser.fetch(new Request("http://bench/"));
    const next = /href="(\/\?cursor=[^"]+)"/.exec(await first.text())?.[1]
      ?.replaceAll("&amp;", "&");
    if (!next) throw new Error("the first page links no next page");
    const kinds: Record<string, () => string> = {
      "search": () => "/",
      "search next page": () => next,
      "search by type": () => "/?type=PostPublished",
      "search by time": () => {
        const from = now - (30 + Math.random() * 300) * day;
        return `/?from=${iso(from)}&until=${iso(from + day)}`;
      },
      "search by type and time": () => {
        const from = now - (30 + Math.random() * 300) * day;
        return `/?type=PostPublished&from=${iso(from)}&until=${
          iso(from + 7 * day)
        }`;
      },
      "search by aggregate": () => `/?aggregate=${postId(random())}`,
      "aggregate": () => `/aggregates/${postId(random())}`,
      "event": () =>
        `/events/${postId(random())}/${1 + Math.floor(Math.random() * 10)}`,
    };
    const all: number[] = [];
    for (const [kind, path] of Object.entries(kinds)) {
      for (let i = 0; i < 3; i++) await timed(browser, path());
      const samples: number[] = [];
      for (let i = 0; i < 40; i++) samples.push(await timed(browser, path()));
      all.push(...samples);
      console.error(
        `  ${kind}: p50 ${percentile(samples, 0.5).toFixed(1)} ms, p95 ${
          percentile(samples, 0.95).toFixed(1)
        } ms`,
      );
    }
    const raw: number[] = [];
    for (let i = 0; i < 43; i++) {
      const start = performance.now();
      await sql.unsafe(
        `SELECT e.aggregate_id, e.sequence_number, e.created_at, e.event_json::text, t.type
           FROM "${schema}".events e JOIN "${schema}".event_types t ON t.id = e.event_type_id
          ORDER BY e.xact_id DESC, e.position DESC LIMIT 51`,
      );
      if (i >= 3) raw.push(performance.now() - start);
    }
    const travel: number[] = [];
    const rawTravel: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t = await timed(browser, `/aggregates/${deep}/state?at=${DEEP}`);
      const start = performance.now();
      const rows = await sql.unsafe(
        `SELECT sequence_number, event_json::text AS json FROM "${schema}".events
          WHERE partition_key = '' AND aggregate_id = $1 ORDER BY sequence_number`,
        [deep],
      );
      for (const row of rows) JSON.parse(row.json as string);
      const r = performance.now() - start;
      if (i >= 2) {
        travel.push(t);
        rawTravel.push(r);
      }
    }
    return [
      figure(
        "browser.page_p95.ms",
        percentile(all, 0.95),
        "ms",
        percentile(raw, 0.95),
      ),
      figure(
        "browser.time_travel_5000.ms",
        percentile(travel, 0.5),
        "ms",
        percentile(rawTravel, 0.5),
      ),
    ];
  } finally {
    await app.close();
    await sql.unsafe(
      `DROP SCHEMA "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${schema}_view" CASCADE`,
    );
    await sql.end();
  }
}

if (import.meta.main) {
  for (const f of await run(0)) console.log(JSON.stringify(f));
}
