/**
 * An app on a PostgreSQL server under the faults of real deployments:
 * backends killed mid-command, the server stopped and started, a network
 * that stalls. Each test runs with the process's default handlers: an
 * uncaught exception or unhandled rejection anywhere ends the run.
 *
 * The suite runs a few rounds of each. The acceptance run of issue #13
 * (`SEQUENT_ACCEPTANCE=1`, a CI step of its own) runs them all: 100 kills,
 * 10 outages of 3 s and 10 of 30 s.
 *
 * Kills happen on the shared server, to this file's own connections only;
 * outages and stalls on a private server (see `_private_server.ts`). Like
 * every server test, they run when `DATABASE_URL` names a server (the
 * server pass of `.ci/run`), not in the embedded and in-memory passes.
 */
import assert from "node:assert/strict";
import {
  type App,
  column,
  CommandTimeoutError,
  CommitOutcomeUnknownError,
  createApp,
  DuplicateCommandError,
  Projector,
  silentLogger,
  table,
} from "@sequent/core";
import {
  connectDatabase,
  type SqlClient,
  SqlError,
} from "@sequent/core/postgres";
import {
  AddPost,
  PostAdded,
  PostCommandHandler,
  PostTitleChanged,
} from "../fixtures/blog.ts";
import { serverUrl } from "../postgres/_backends.ts";
import { startPrivateServer } from "../postgres/_private_server.ts";
import { startStallProxy } from "../postgres/_stall_proxy.ts";
import { dropSchemas, schemaName } from "./_server_schemas.ts";
import { within } from "../_within.ts";
import { asyncEventLog, AsyncEventLogProjector } from "./_async_app.ts";

const acceptance = Deno.env.get("SEQUENT_ACCEPTANCE") === "1";
const COMMAND_TIMEOUT_MS = 2_000;
/** Every call must settle within the timeout plus this. */
const SETTLE_SLACK_MS = 1_000;

const faultPosts = table("fault_posts", {
  aggregateId: column.uuid().primaryKey(),
  title: column.text().nullable(),
});

class FaultPostProjector extends Projector {
  static override readonly manages = [faultPosts];
  static {
    this.on(
      PostAdded,
      (p, e) =>
        p.createRecord(faultPosts, { aggregateId: e.aggregateId, title: null }),
    );
    this.on(
      PostTitleChanged,
      (p, e) =>
        p.updateAllRecords(faultPosts, { aggregateId: e.aggregateId }, {
          title: e.title ?? null,
        }),
    );
  }
}

async function faultApp(url: string): Promise<{ app: App; schema: string }> {
  const schema = schemaName("faults");
  const app = await createApp({
    database: url,
    eventStoreSchema: schema,
    viewSchema: `${schema}_view`,
    commandHandlers: [new PostCommandHandler()],
    projectors: [FaultPostProjector],
    migrations: { 1: [FaultPostProjector] },
    connection: { max: 10, connectTimeoutMs: 1_000 },
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  });
  await app.migrator!.migrate();
  return { app, schema };
}

function addPost(title = "Hello"): AddPost {
  return new AddPost({
    aggregateId: crypto.randomUUID(),
    commandId: crypto.randomUUID(),
    author: "ben",
    title,
    content: "…",
  });
}

/** How a call ended, and how long it took. */
interface Outcome {
  readonly command: AddPost;
  readonly ok: boolean;
  readonly error: unknown;
  readonly ms: number;
}

async function timed(app: App, command: AddPost): Promise<Outcome> {
  const started = performance.now();
  try {
    await app.executeCommands(command);
    return {
      command,
      ok: true,
      error: undefined,
      ms: performance.now() - started,
    };
  } catch (error) {
    return { command, ok: false, error, ms: performance.now() - started };
  }
}

/** Only the typed failures a fault may cause. */
function assertTypedFailure(outcome: Outcome): void {
  if (outcome.ok) return;
  const e = outcome.error;
  const typed = (e instanceof SqlError && e.isConnectionError) ||
    e instanceof CommitOutcomeUnknownError || e instanceof CommandTimeoutError;
  assert.ok(
    typed,
    `a fault gave an untyped error: ${
      e instanceof Error ? e.stack : String(e)
    }`,
  );
  assert.ok(
    !(e instanceof Error) || !e.message.includes("\n"),
    `a one-line message: ${e instanceof Error ? e.message : ""}`,
  );
}

/**
 * Whether the command's commit is stored: from the error when it says so,
 * else by asking (the answer is definitive).
 */
async function stored(app: App, outcome: Outcome): Promise<boolean> {
  if (outcome.ok) return true;
  if (outcome.error instanceof CommitOutcomeUnknownError) {
    const [id] = outcome.error.commandIds;
    return await app.commandStored(id!);
  }
  return false;
}

/**
 * The recovery the framework promises after any failure: executing the
 * same command (same `commandId`) again either stores it or says it was
 * stored already, never twice. A retry can itself meet a fault: a
 * `pg_terminate_backend` returns before its signal is handled, so a
 * connection the pool holds can end while the retry uses it. Such a
 * failure must be typed like the first, and the next retry goes on.
 */
async function retried(app: App, outcome: Outcome): Promise<void> {
  if (outcome.ok) return;
  for (let attempt = 1;; attempt++) {
    try {
      await app.executeCommands(outcome.command);
      return;
    } catch (error) {
      if (error instanceof DuplicateCommandError) return;
      const typed = error instanceof SqlError && error.isConnectionError ||
        error instanceof CommitOutcomeUnknownError;
      assert.ok(
        typed && attempt < 3,
        `retry ${attempt} failed otherwise: ${String(error)}`,
      );
    }
  }
}

/**
 * All or nothing: the command record, both events and the projected row
 * are all there, or none is.
 */
async function assertWhole(
  admin: Awaited<ReturnType<typeof connectDatabase>>,
  schema: string,
  outcome: Outcome,
  expectStored: boolean,
): Promise<void> {
  const id = outcome.command.aggregateId;
  const [row] = await admin.query<
    { events: number; commands: number; rows: number }
  >(
    `SELECT
       (SELECT count(*)::int FROM ${schema}.events WHERE aggregate_id = $1) AS events,
       (SELECT count(*)::int FROM ${schema}.commands WHERE aggregate_id = $1) AS commands,
       (SELECT count(*)::int FROM ${schema}_view.fault_posts WHERE aggregate_id = $1) AS rows`,
    [id],
  );
  const expected = expectStored
    ? { events: 4, commands: 1, rows: 1 }
    : { events: 0, commands: 0, rows: 0 };
  assert.deepEqual(row, expected, `post ${id}: ${JSON.stringify(outcome)}`);
}

const test = serverUrl === undefined ? () => {} : Deno.test;

test({
  name:
    "backend kills while three commands with inline projectors are in flight: every call settles in time with a typed error or success, nothing partial, executing it again stores it exactly once, and the next command succeeds",
  async fn() {
    const rounds = acceptance ? 100 : 12;
    const appName = schemaName("kills");
    const url = `${serverUrl}${
      serverUrl!.includes("?") ? "&" : "?"
    }application_name=${appName}`;
    const { app, schema } = await faultApp(url);
    const admin = await connectDatabase(serverUrl);
    let interrupted = 0;
    try {
      for (let round = 0; round < rounds; round++) {
        const calls = [addPost(), addPost(), addPost()].map((c) =>
          timed(app, c)
        );
        // at once, or after a moment: the commands are then at different steps
        if (round % 2 === 1) {
          await new Promise((r) => setTimeout(r, Math.random() * 3));
        }
        const killed = await admin.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n
           FROM pg_stat_activity WHERE application_name = $1`,
          [appName],
        );
        assert.ok(killed[0]!.n >= 0);
        const outcomes = await Promise.all(calls);
        for (const outcome of outcomes) {
          assertTypedFailure(outcome);
          assert.ok(
            outcome.ms <= COMMAND_TIMEOUT_MS + SETTLE_SLACK_MS,
            `settled after ${outcome.ms} ms`,
          );
          if (!outcome.ok) interrupted++;
          await assertWhole(admin, schema, outcome, await stored(app, outcome));
          await retried(app, outcome);
          await assertWhole(admin, schema, outcome, true);
        }
        const next = await timed(app, addPost());
        assert.ok(next.ok, `the next command failed: ${String(next.error)}`);
        await assertWhole(admin, schema, next, true);
      }
      console.log(
        `${rounds} kills; ${interrupted} of ${
          rounds * 3
        } commands were interrupted`,
      );
      assert.ok(interrupted > 0, "the kills hit no command in flight");
    } finally {
      await app.close();
      await admin.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});

test({
  name:
    "server outages: commands running throughout all settle in time, the first command after the server returns succeeds within 1 s, and nothing acknowledged is missing",
  async fn() {
    const server = await startPrivateServer();
    const outages = acceptance
      ? [...Array(10).fill(3_000), ...Array(10).fill(30_000)]
      : [1_500, 3_000];
    const { app, schema } = await faultApp(server.url);
    const acknowledged: string[] = [];
    const failures = new Map<string, number>();
    let running = true;
    const workers = Array.from({ length: 3 }, async () => {
      while (running) {
        const outcome = await timed(app, addPost());
        assertTypedFailure(outcome);
        assert.ok(
          outcome.ms <= COMMAND_TIMEOUT_MS + SETTLE_SLACK_MS,
          `settled after ${outcome.ms} ms`,
        );
        if (outcome.ok) acknowledged.push(outcome.command.aggregateId);
        else {
          const name = (outcome.error as Error).name;
          failures.set(name, (failures.get(name) ?? 0) + 1);
          // a refused connection fails at once: do not spin
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    try {
      for (const ms of outages) {
        await new Promise((r) => setTimeout(r, 300));
        await server.stop("immediate");
        await new Promise((r) => setTimeout(r, ms));
        await server.start();
        const started = performance.now();
        const first = await timed(app, addPost());
        const elapsed = performance.now() - started;
        assert.ok(
          first.ok,
          `the first command after the outage failed: ${String(first.error)}`,
        );
        assert.ok(elapsed <= 1_000, `the first command took ${elapsed} ms`);
        acknowledged.push(first.command.aggregateId);
      }
    } finally {
      running = false;
      await Promise.allSettled(workers);
    }
    await Promise.all(workers);
    const admin = await connectDatabase(server.url);
    try {
      const rows = await admin.query<{ aggregate_id: string }>(
        `SELECT aggregate_id FROM ${schema}_view.fault_posts`,
      );
      const have = new Set(rows.map((r) => r.aggregate_id));
      const missing = acknowledged.filter((id) => !have.has(id));
      assert.deepEqual(missing, [], "acknowledged commands are missing");
      console.log(
        `${outages.length} outages; ${acknowledged.length} commands acknowledged; failures: ${
          JSON.stringify(Object.fromEntries(failures))
        }`,
      );
    } finally {
      await admin.close();
      await app.close();
      await server.dispose();
    }
  },
});

test({
  name:
    "a network stall: commands in flight settle within the command timeout plus 1 s, nothing partial, executing them again stores each exactly once, and after it the next command succeeds",
  async fn() {
    const server = await startPrivateServer();
    const proxy = startStallProxy(server.port);
    const url = `postgres://postgres@127.0.0.1:${proxy.port}/postgres`;
    const { app, schema } = await faultApp(url);
    const admin = await connectDatabase(server.url);
    let stalled = 0;
    try {
      for (let round = 0; round < (acceptance ? 5 : 2); round++) {
        // the first round stalls before the commands are sent, the others
        // at a random moment while they run
        if (round === 0) proxy.freeze();
        const calls = [addPost(), addPost(), addPost()].map((c) =>
          timed(app, c)
        );
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        proxy.freeze();
        const outcomes = await Promise.all(calls);
        proxy.thaw();
        // what the stalled network held still reaches the server (TCP
        // delivers it): let it, before asking what was stored
        await new Promise((r) => setTimeout(r, 500));
        for (const outcome of outcomes) {
          assertTypedFailure(outcome);
          assert.ok(
            outcome.ms <= COMMAND_TIMEOUT_MS + SETTLE_SLACK_MS,
            `settled after ${outcome.ms} ms`,
          );
          if (!outcome.ok) stalled++;
          await assertWhole(admin, schema, outcome, await stored(app, outcome));
          await retried(app, outcome);
          await assertWhole(admin, schema, outcome, true);
        }
        const next = await timed(app, addPost());
        assert.ok(next.ok, `the next command failed: ${String(next.error)}`);
      }
      assert.ok(stalled > 0, "the stall caught no command in flight");
    } finally {
      await app.close();
      await admin.close();
      await proxy.close();
      await server.dispose();
    }
  },
});

test({
  name:
    "a network stall under running processors: their stop ends within the claim's time plus 1 s and the app closes; after it, the processor has handled every event once",
  async fn() {
    const server = await startPrivateServer();
    const proxy = startStallProxy(server.port);
    const url = `postgres://postgres@127.0.0.1:${proxy.port}/postgres`;
    const schema = schemaName("stall_processors");
    const leaseMs = 1_000;
    const config = {
      database: url,
      eventStoreSchema: schema,
      viewSchema: `${schema}_view`,
      commandHandlers: [new PostCommandHandler()],
      processors: [AsyncEventLogProjector],
      migrations: { 1: [AsyncEventLogProjector] },
      connection: { max: 10, connectTimeoutMs: 1_000 },
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      processorOptions: {
        leaseMs,
        batchSize: 20,
        pollMs: { min: 5, max: 20 },
      },
      logger: silentLogger,
    };
    const admin = await connectDatabase(server.url);
    let acknowledged = 0;
    // stops that gave up a round under way, past the claim's time
    let givenUp = 0;
    try {
      for (let round = 0; round < (acceptance ? 10 : 3); round++) {
        const app = await createApp(config);
        let stalled = false;
        try {
          if (round === 0) await app.migrator!.migrate();
          // a backlog, so that the processor's rounds follow one another
          // (a full batch is followed by the next at once) and the stall
          // catches one reading or writing
          await Promise.all(
            Array.from({ length: 8 }, async () => {
              for (let i = 0; i < 25; i++) {
                await app.executeCommands(addPost());
                acknowledged++;
              }
            }),
          );
          const before = await handledRows(admin, schema);
          const running = app.processors!.run();
          // the stall comes once the processor is under way: its rounds
          // follow one another, and it is reading or writing
          while (await handledRows(admin, schema) === before) {
            await new Promise((r) => setTimeout(r, 1));
          }
          proxy.freeze();
          stalled = true;
          const started = performance.now();
          await within(
            app.processors!.stop(),
            leaseMs + SETTLE_SLACK_MS,
            `the processors' stop in round ${round}`,
          );
          await running;
          const took = performance.now() - started;
          assert.ok(took <= leaseMs + SETTLE_SLACK_MS, `stop took ${took} ms`);
          if (took >= leaseMs) givenUp++;
        } finally {
          // (the pool waits 5 s for a connection still in use, then ends it)
          await within(app.close(), 5_000 + SETTLE_SLACK_MS, "app.close()");
          if (stalled) proxy.thaw();
        }
      }
      // what the stalled network held reaches the server: let it
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(givenUp > 0, "no stop found a round under way");
      const app = await createApp(config);
      try {
        await app.processors!.catchUp();
        // a row per event (the key refuses a second one, and would have
        // set its aggregate aside)
        const rows = await app.records.find(asyncEventLog, {});
        assert.equal(rows.length, acknowledged * 2);
        const [status] = await app.processors!.status();
        assert.equal(status?.parkedCount, 0);
      } finally {
        await app.close();
      }
    } finally {
      await admin.close();
      await proxy.close();
      await server.dispose();
    }
  },
});

/** The rows the stall test's processor has written. */
async function handledRows(
  admin: SqlClient,
  schema: string,
): Promise<number> {
  const [row] = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${schema}_view".async_event_log`,
  );
  return row!.n;
}
