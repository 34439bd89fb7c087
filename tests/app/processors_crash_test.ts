/**
 * Processor workers killed with SIGKILL while commands keep coming: the
 * read models they leave equal a rebuild from scratch (crash-only), and a
 * second worker takes a dead holder's processors over within the claim's
 * time, never both at once (an event handled twice would fail the log
 * projector's primary key and set its aggregate aside).
 *
 * And the server itself crashing under running processors: a checkpoint
 * committed alone does not wait for its flush, so a crash may take it
 * back, never ahead of the rows written before it.
 *
 * On the server (`DATABASE_URL`), in the server pass of `.ci/run` with a
 * few kills; the acceptance step (`SEQUENT_ACCEPTANCE=1`) kills 100 times
 * during a 200,000-event run, takes over 20 times, and crashes a private
 * server 20 times.
 */
import assert from "node:assert/strict";
import { type App, createApp, Projector } from "@sequent/core";
import { connectDatabase } from "@sequent/core/postgres";
import { AddPost, PostAdded, PostTitleChanged } from "../fixtures/blog.ts";
import { serverUrl } from "../postgres/_backends.ts";
import { startPrivateServer } from "../postgres/_private_server.ts";
import { Child } from "../_child_process.ts";
import {
  asyncAppConfig,
  asyncEventLog,
  asyncTitles,
  POLL_MS,
} from "./_async_app.ts";
import { dropSchemas, schemaName } from "./_server_schemas.ts";

const acceptance = Deno.env.get("SEQUENT_ACCEPTANCE") === "1";
const test = serverUrl === undefined ? () => {} : Deno.test;
const CHILD = new URL("./_processor_child.ts", import.meta.url);
const NAMES = ["AsyncTitleProjector", "AsyncEventLogProjector"];

/** Both read models, in a stable order. */
async function readModels(app: App): Promise<unknown> {
  const sort = (rows: Record<string, unknown>[]) =>
    rows.map((r) => JSON.stringify(r)).sort();
  return {
    titles: sort(await app.eventStore.records.find(asyncTitles, {})),
    log: sort(await app.eventStore.records.find(asyncEventLog, {})),
  };
}

/**
 * Executes AddPosts from `callers` callers while `more(started)` holds;
 * resolves to the last token and the number of posts stored.
 */
async function write(
  app: App,
  more: (started: number) => boolean,
  callers: number,
  pauseMs = 0,
): Promise<{ last: string; posts: number }> {
  let started = 0;
  let last = "";
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (more(started)) {
        started++;
        last = await app.executeCommands(
          new AddPost({
            aggregateId: crypto.randomUUID(),
            author: "ben",
            title: `post ${started}`,
            content: "…",
          }),
        );
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    }),
  );
  return { last, posts: started };
}

/** No aggregate set aside, and the log holds every handled event once. */
async function assertNothingParked(app: App): Promise<void> {
  for (const status of await app.processors!.status()) {
    assert.deepEqual(
      status.parked.map((k) => k.error),
      [],
      `${status.name} set aggregates aside`,
    );
  }
}

/** Resets both processors here and rebuilds their tables from scratch. */
async function rebuilt(app: App): Promise<unknown> {
  for (const name of NAMES) await app.processors!.reset(name);
  await app.processors!.catchUp();
  return await readModels(app);
}

test({
  name:
    "crash-only: workers killed with SIGKILL mid-batch while commands keep coming leave read models equal to a rebuild from scratch",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const kills = acceptance ? 100 : 3;
    const posts = acceptance ? 50_000 : 1_000; // four events each
    const leaseMs = 500;
    const schema = schemaName("crash");
    const app = await createApp(asyncAppConfig(serverUrl!, schema, leaseMs));
    await app.migrator!.migrate();
    let child: Child | undefined;
    try {
      let killed = 0;
      // at least `posts`, and on until the last kill
      const writing = write(app, (n) => n < posts || killed < kills, 4);
      while (killed < kills) {
        child = Child.spawn(CHILD, [serverUrl!, schema, String(leaseMs)]);
        await child.waitFor(/^running /);
        // a claim lapses in leaseMs: the worker is at work after that
        await new Promise((r) =>
          setTimeout(r, leaseMs + 50 + Math.random() * 300)
        );
        child.kill();
        await child.ended();
        killed++;
      }
      const { last, posts: written } = await writing;
      child = Child.spawn(CHILD, [serverUrl!, schema, String(leaseMs)]);
      await child.waitFor(/^running /);
      await app.waitFor(last, { timeoutMs: acceptance ? 600_000 : 60_000 });
      await child.ended();
      child = undefined;
      await assertNothingParked(app);
      const after = await readModels(app);
      const fresh = await rebuilt(app);
      assert.deepEqual(after, fresh);
      const [{ n }] = await app.eventStore.records.executeSql(
        `SELECT count(*)::int AS n FROM ${
          app.eventStore.records.tableName(asyncEventLog)
        }`,
      ) as [{ n: number }];
      assert.equal(n, written * 2, "PostAdded and PostTitleChanged, once each");
      console.log(
        `${kills} kills during ${written * 4} events: tables equal a rebuild`,
      );
    } finally {
      child?.kill();
      await app.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});

test({
  name:
    "leadership: of two workers, the other takes a killed holder's processors over within the claim's time, and no event is handled by both",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const kills = acceptance ? 20 : 3;
    const leaseMs = 1_000;
    const schema = schemaName("leader");
    const app = await createApp(asyncAppConfig(serverUrl!, schema, leaseMs));
    await app.migrator!.migrate();
    const admin = await connectDatabase(serverUrl);
    const workers = new Map<string, Child>();
    const spawn = async () => {
      const child = Child.spawn(CHILD, [serverUrl!, schema, String(leaseMs)]);
      const owner = (await child.waitFor(/^running /)).slice("running ".length);
      workers.set(owner, child);
    };
    const holder = async (): Promise<string | undefined> => {
      const [row] = await admin.query<{ owner: string | null }>(
        `SELECT owner FROM ${schema}.processors
         WHERE name = 'AsyncTitleProjector' AND expires_at > clock_timestamp()`,
      );
      return row?.owner ?? undefined;
    };
    let writing: Promise<string> | undefined;
    let taken = 0;
    try {
      await spawn();
      await spawn();
      writing = write(app, (n) => n < 200 || taken < kills, 2, 5)
        .then((w) => w.last);
      const takeovers: number[] = [];
      for (let k = 0; k < kills; k++) {
        let owner: string | undefined;
        while (!(owner = await holder())) {
          await new Promise((r) => setTimeout(r, 10));
        }
        const victim = workers.get(owner);
        assert.ok(victim, `the holder ${owner} is one of the workers`);
        victim.kill();
        const killedAt = performance.now();
        await victim.ended();
        workers.delete(owner);
        let next: string | undefined;
        while ((next = await holder()) === undefined || next === owner) {
          assert.ok(
            performance.now() - killedAt < leaseMs + 2 * POLL_MS.max + 1_000,
            "taken over in time",
          );
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.ok(workers.has(next), `taken over by the other worker`);
        takeovers.push(performance.now() - killedAt);
        taken++;
        await spawn();
      }
      const last = await writing;
      await app.waitFor(last, { timeoutMs: 60_000 });
      await assertNothingParked(app);
      const after = await readModels(app);
      for (const child of workers.values()) await child.ended();
      workers.clear();
      assert.deepEqual(after, await rebuilt(app));
      const worst = Math.max(...takeovers);
      console.log(
        `${kills} takeovers, the slowest after ${
          worst.toFixed(0)
        } ms (claims last ${leaseMs} ms)`,
      );
      assert.ok(worst <= leaseMs + 2 * POLL_MS.max + 1_000);
    } finally {
      for (const child of workers.values()) child.kill();
      await writing?.catch(() => {});
      await admin.close();
      await app.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});

/** How often the counting projector met each event, by aggregate and sequence number. */
const met = new Map<string, number>();

/**
 * A processor whose batches write nothing: its checkpoint is committed
 * alone, without waiting for the flush. It counts the events it meets, in
 * this process.
 */
class CountingProjector extends Projector {
  static {
    for (const type of [PostAdded, PostTitleChanged]) {
      this.on(type, (_p, e) => {
        const key = `${e.aggregateId}:${e.sequenceNumber}`;
        met.set(key, (met.get(key) ?? 0) + 1);
      });
    }
  }
}

test({
  name:
    "server crashes under running processors: no acknowledged command is lost, the projectors' rows equal a rebuild with every event once, and the processor that writes nothing meets every event at least once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const crashes = acceptance ? 20 : 3;
    const server = await startPrivateServer();
    const schema = schemaName("srvcrash");
    const config = asyncAppConfig(server.url, schema, 1_000);
    const app = await createApp({
      ...config,
      processors: [...config.processors!, CountingProjector],
      connection: { max: 10, connectTimeoutMs: 1_000 },
    });
    met.clear();
    const stop = new AbortController();
    let writing = true;
    try {
      await app.migrator!.migrate();
      const running = app.processors!.run({ signal: stop.signal });
      // writers that go on through the outages (a failed command is
      // retried as a new post: only acknowledged ones must be stored)
      const acknowledged: string[] = [];
      const writers = Array.from({ length: 3 }, async () => {
        while (writing) {
          const aggregateId = crypto.randomUUID();
          try {
            await app.executeCommands(
              new AddPost({
                aggregateId,
                author: "ben",
                title: "crash",
                content: "…",
              }),
            );
            acknowledged.push(aggregateId);
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      });
      for (let c = 0; c < crashes; c++) {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 400));
        await server.stop("immediate");
        await server.start();
      }
      await new Promise((r) => setTimeout(r, 300));
      writing = false;
      await Promise.all(writers);
      await app.processors!.catchUp();
      stop.abort();
      await running;
      await assertNothingParked(app);
      const events = await app.eventStore.records.executeSql(
        `SELECT e.aggregate_id::text AS a, e.sequence_number AS s
         FROM ${schema}.events e
         JOIN ${schema}.event_types t ON t.id = e.event_type_id
         WHERE t.type IN ('PostAdded', 'PostTitleChanged')`,
      ) as { a: string; s: number }[];
      assert.ok(events.length > 0, "events were stored");
      const missed = events.filter((e) => !met.has(`${e.a}:${e.s}`));
      assert.deepEqual(missed, [], "events the counting processor never met");
      const again = [...met.values()].filter((n) => n > 1).length;
      const after = await readModels(app);
      assert.deepEqual(after, await rebuilt(app));
      const [{ n }] = await app.eventStore.records.executeSql(
        `SELECT count(*)::int AS n FROM ${
          app.eventStore.records.tableName(asyncEventLog)
        }`,
      ) as [{ n: number }];
      assert.equal(n, events.length, "each event logged once");
      // the writers share the pool with the processors: a commit that did
      // not wait for its flush must not make theirs stop waiting
      const titled = new Set(
        (await app.eventStore.records.find(asyncTitles, {})).map((r) =>
          r.aggregateId
        ),
      );
      assert.deepEqual(
        acknowledged.filter((id) => !titled.has(id)),
        [],
        "acknowledged posts lost in a crash",
      );
      console.log(
        `${crashes} crashes during ${events.length} events: tables equal a rebuild; the counting processor met ${again} events again`,
      );
    } finally {
      writing = false;
      stop.abort();
      await app.close();
      await server.dispose();
    }
  },
});
