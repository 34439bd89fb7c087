/**
 * Processors on a PostgreSQL server, where other sessions and other
 * processes share the database: a transaction in another database that
 * holds the horizon back (named by the status, nothing skipped, resumed at
 * once when it ends), and read-your-writes across processes. They run when
 * `DATABASE_URL` names a server (the server pass of `.ci/run`).
 */
import assert from "node:assert/strict";
import { type App, createApp, ProcessorTimeoutError } from "@sequent/core";
import {
  connectDatabase,
  createDatabase,
  dropDatabase,
  type SqlClient,
} from "@sequent/core/postgres";
import { AddPost } from "../fixtures/blog.ts";
import { serverUrl } from "../postgres/_backends.ts";
import { Child } from "../_child_process.ts";
import {
  asyncAppConfig,
  AsyncTitleProjector,
  asyncTitles,
  POLL_MS,
} from "./_async_app.ts";
import { dropSchemas, schemaName } from "./_server_schemas.ts";

const test = serverUrl === undefined ? () => {} : Deno.test;

async function openApp(schema: string): Promise<App> {
  const app = await createApp(asyncAppConfig(serverUrl!, schema));
  await app.migrator!.migrate();
  return app;
}

function addPost(title: string): AddPost {
  return new AddPost({
    aggregateId: crypto.randomUUID(),
    author: "ben",
    title,
    content: "…",
  });
}

async function titleOf(
  app: App,
  id: string,
): Promise<string | null | undefined> {
  const [row] = await app.eventStore.records.find(asyncTitles, {
    aggregateId: id,
  });
  return row === undefined ? undefined : row.title;
}

/** `url` naming the database `name` instead of its own. */
function otherDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.href;
}

test({
  name:
    "a transaction holding an id in another database is named by the status within two polling pauses; the events behind it wait, none is skipped, and processing resumes within 1 s of its end",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const schema = schemaName("horizon");
    const app = await openApp(schema);
    const runner = app.processors!;
    const otherName = schemaName("sequent_other");
    const otherUrl = otherDatabase(serverUrl!, otherName);
    assert.equal(await createDatabase(otherUrl), true);
    let blocker: SqlClient | undefined;
    const stop = new AbortController();
    let running: Promise<void> | undefined;
    try {
      // an event before the blocker: read at once
      const before = addPost("before");
      await app.executeCommands(before);
      running = runner.run({ signal: stop.signal });
      await app.waitFor(await app.executeCommands(addPost("warm-up")), {
        timeoutMs: 5_000,
      });

      // the blocker: idle in a transaction that holds an id, elsewhere
      blocker = await connectDatabase(otherUrl);
      let endBlocker!: () => void;
      const blockerEnds = new Promise<void>((r) => endBlocker = r);
      let blockerPid = 0;
      const started = Promise.withResolvers<void>();
      const blocking = blocker.transaction(async (tx) => {
        const [row] = await tx.query<{ pid: number }>(
          "SELECT pg_backend_pid() AS pid, pg_current_xact_id()::text AS xid",
        );
        blockerPid = row!.pid;
        started.resolve();
        await blockerEnds;
      });
      await started.promise;
      const startedAt = performance.now();

      // events committed after it began: they wait behind it
      const behind = [addPost("behind 1"), addPost("behind 2")];
      let token = "";
      for (const command of behind) token = await app.executeCommands(command);

      await new Promise((r) => setTimeout(r, 2 * POLL_MS.max + 20));
      const [status] = await runner.status();
      assert.ok(status?.blockedBy, "the status names a blocker");
      assert.equal(status.blockedBy.pid, blockerPid);
      assert.equal(status.blockedBy.database, otherName);
      assert.equal(status.blockedBy.state, "idle in transaction");
      assert.ok(status.blockedBy.ageMs >= POLL_MS.max);
      assert.ok(
        performance.now() - startedAt < 2 * POLL_MS.max + 500,
        "named within two polling pauses (and the time to ask)",
      );
      for (const command of behind) {
        assert.equal(
          await titleOf(app, command.aggregateId),
          undefined,
          "not read while the blocker runs",
        );
      }
      await assert.rejects(
        app.waitFor(token, { timeoutMs: 50 }),
        ProcessorTimeoutError,
      );

      // the blocker ends: the events are read within 1 s, none skipped
      endBlocker();
      await blocking;
      const ended = performance.now();
      await app.waitFor(token, { timeoutMs: 5_000 });
      const resumedMs = performance.now() - ended;
      console.log(`resumed ${resumedMs.toFixed(0)} ms after the blocker ended`);
      assert.ok(resumedMs < 1_000, `resumed after ${resumedMs.toFixed(0)} ms`);
      for (const command of [before, ...behind]) {
        assert.equal(await titleOf(app, command.aggregateId), command.title);
      }
      const [after] = await runner.status();
      assert.equal(after?.blockedBy, undefined);
      assert.equal(after?.lagEvents, 0);
    } finally {
      stop.abort();
      await running;
      await blocker?.close();
      await app.close();
      await dropDatabase(otherUrl);
      await dropSchemas(serverUrl!, schema);
    }
  },
});

test({
  name:
    "read-your-writes across processes: a command executed in another process is waited for here, and the projector's row is visible when the wait ends, never before",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const schema = schemaName("ryw");
    const app = await openApp(schema);
    const child = Child.spawn(
      new URL("./_async_app_child.ts", import.meta.url),
      [
        serverUrl!,
        schema,
      ],
    );
    const stop = new AbortController();
    let running: Promise<void> | undefined;
    try {
      const line = await child.waitFor(/^token /);
      const [, token, id] = line.split(" ") as [string, string, string];
      assert.match(token, /^\d+:\d+$/);
      // nothing runs the processor yet: the wait times out, no row
      await assert.rejects(
        app.waitFor(token, { timeoutMs: 100 }),
        ProcessorTimeoutError,
      );
      assert.equal(await titleOf(app, id), undefined);
      // the row must be visible the moment the wait ends: the processor
      // runs here, and every poll of the waiter races it
      running = app.processors!.run({ signal: stop.signal });
      await app.waitFor(token, { timeoutMs: 5_000 });
      assert.equal(await titleOf(app, id), "from the child");
      const { code } = await child.ended();
      assert.equal(code, 0);
    } finally {
      child.kill();
      stop.abort();
      await running;
      await app.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});

test({
  name:
    "a new view-schema version is built for its processors too, and they go on from where the replay ended: no gap after the swap, nothing handled twice",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const schema = schemaName("swap");
    const app = await openApp(schema);
    let next: App | undefined;
    try {
      const post = addPost("before the swap");
      const token = await app.executeCommands(post);
      await app.processors!.catchUp();
      await app.waitFor(token, { timeoutMs: 1_000 });
      assert.equal(await titleOf(app, post.aggregateId), "before the swap");
      const config = asyncAppConfig(serverUrl!, schema);
      next = await createApp({
        ...config,
        migrations: { ...config.migrations, 2: [AsyncTitleProjector] },
      });
      const pending = await next.migrator!.status();
      assert.deepEqual(
        pending.projectors.find((p) => p.name === "AsyncTitleProjector"),
        { name: "AsyncTitleProjector", state: "active", processor: true },
      );
      await next.migrator!.online({ progress: false });
      assert.equal(
        (await next.migrator!.status()).projectors.find((p) =>
          p.name === "AsyncTitleProjector"
        )?.state,
        "replaying",
      );
      const between = addPost("between online and offline");
      await next.executeCommands(between);
      await next.migrator!.offline({ progress: false });
      // the version-2 table was built before the swap: no gap
      assert.equal(await titleOf(next, post.aggregateId), "before the swap");
      const [status] = await next.processors!.status();
      assert.equal(status?.name, "AsyncTitleProjector");
      assert.match(status?.checkpoint ?? "", /^[1-9][0-9]*:0$/);
      const after = addPost("after the swap");
      const afterToken = await next.executeCommands(after);
      await next.processors!.catchUp();
      await next.waitFor(afterToken, { timeoutMs: 1_000 });
      assert.equal(
        await titleOf(next, between.aggregateId),
        "between online and offline",
      );
      assert.equal(await titleOf(next, after.aggregateId), "after the swap");
      // handled twice, a row would have failed its key and parked
      const [done] = await next.processors!.status();
      assert.deepEqual(done?.parked, []);
      assert.equal(done?.lagEvents, 0);
    } finally {
      await next?.close();
      await app.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});
