/**
 * A database password never appears in what the framework prints or
 * throws, whatever the URL looks like: malformed (a bad port), with
 * unencoded `@ : / #` in the password, pointing at an unknown host, or
 * with the wrong password. Checked through `connectDatabase`, `createApp`,
 * every task of `runTasks` (with and without `--verbose`), and the
 * `sequent` CLI in a generated app.
 */
import assert from "node:assert/strict";
import { createApp } from "@sequent/core";
import { connectDatabase } from "@sequent/core/postgres";
import { runTasks, type TaskIo } from "@sequent/core/tasks";
import { CHECKOUT, deno, inTempDir } from "../cli/_helpers.ts";
import { startPrivateServer } from "../postgres/_private_server.ts";

const acceptance = Deno.env.get("SEQUENT_ACCEPTANCE") === "1";

/** The distinctive part of every password here: it must never show. */
const MARK = `Pw${crypto.randomUUID().slice(0, 8)}`;

/** URLs whose password holds MARK, in every shape the issue lists. */
function hostileUrls(wrongPasswordPort: number): Record<string, string> {
  return {
    "a bad port": `postgres://ben:${MARK}@127.0.0.1:99999/app`,
    "an unencoded @": `postgres://ben:${MARK}@x@127.0.0.1:1/app`,
    "an unencoded :": `postgres://ben:${MARK}:x@127.0.0.1:1/app`,
    "an unencoded /": `postgres://ben:${MARK}/x@127.0.0.1:1/app`,
    "an unencoded #": `postgres://ben:${MARK}#x@127.0.0.1:1/app`,
    "an unencoded ?": `postgres://ben:${MARK}?x=1@127.0.0.1:1/app`,
    "a percent-encoded @": `postgres://ben:${MARK}%40x@127.0.0.1:1/app`,
    "an unknown host": `postgres://ben:${MARK}@nosuchhost.invalid:5432/app`,
    "a broken IPv6 host": `postgres://ben:${MARK}@[::1/app`,
    "the wrong password":
      `postgres://ben:${MARK}@127.0.0.1:${wrongPasswordPort}/postgres`,
  };
}

const TASKS: readonly string[][] = [
  ["db", "create"],
  ["db", "drop", "--yes"],
  ["db", "create-event-store"],
  ["db", "create-view-schema"],
  ["migrate"],
  ["migrate", "online"],
  ["migrate", "offline"],
  ["migrate", "status"],
  ["snapshots", "take"],
  ["snapshots", "delete-all"],
];

/** What a failure to reach the database says (so it is that failure). */
const DATABASE_FAILURE =
  /Cannot connect|URL is not valid|password authentication failed/;

function assertHidden(where: string, text: string): void {
  assert.equal(
    text.includes(MARK),
    false,
    `${where} printed the password:\n${text}`,
  );
}

/** Everything an error shows: message, stack, causes, own fields. */
function everything(error: unknown): string {
  let text = Deno.inspect(error, { depth: 10 });
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    text += `\n${e.message}\n${e.stack ?? ""}`;
  }
  return text;
}

async function withPasswordServer(
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const server = await startPrivateServer({
    hba: [
      "host all postgres 127.0.0.1/32 trust",
      "host all ben 127.0.0.1/32 scram-sha-256",
    ],
  });
  try {
    const admin = await connectDatabase(server.url);
    await admin.execute(`CREATE ROLE ben LOGIN PASSWORD 'the-right-one'`);
    await admin.close();
    await fn(server.port);
  } finally {
    await server.dispose();
  }
}

const test = Deno.env.get("DATABASE_URL")?.startsWith("postgres")
  ? Deno.test
  : () => {};

test("connectDatabase(), createApp() and every task of runTasks, with and without --verbose, never print the password of a hostile URL", async () => {
  await withPasswordServer(async (port) => {
    for (const [shape, url] of Object.entries(hostileUrls(port))) {
      for (
        const open of [
          () => connectDatabase(url),
          () => createApp({ database: url, commandHandlers: [] }),
        ]
      ) {
        const error = await open().then(
          () => assert.fail(`${shape}: opened`),
          (e: unknown) => e,
        );
        assertHidden(`${shape}: opening`, everything(error));
        assert.match(String(error), DATABASE_FAILURE);
      }
      for (const task of TASKS) {
        for (const verbose of [[], ["--verbose"]]) {
          const lines: string[] = [];
          const io: TaskIo = {
            stdout: (line) => lines.push(line),
            stderr: (line) => lines.push(line),
            confirm: (question) => {
              lines.push(question);
              return Promise.resolve(true);
            },
          };
          const code = await runTasks(
            {
              database: url,
              commandHandlers: [],
              connection: { connectTimeoutMs: 2_000 },
            },
            [...task, ...verbose],
            io,
          );
          assert.equal(code, 1, `${shape}: ${task.join(" ")} failed`);
          assert.match(lines.join("\n"), DATABASE_FAILURE);
          assertHidden(
            `${shape}: ${task.join(" ")} ${verbose}`,
            lines.join("\n"),
          );
        }
      }
    }
  });
});

test("the sequent CLI in a generated app never prints the password of a hostile URL", async () => {
  await withPasswordServer((port) =>
    inTempDir(async (dir) => {
      const created = await deno(
        ["run", "-A", `${CHECKOUT}/cli.ts`, "new", "blog"],
        dir,
      );
      assert.equal(created.code, 0, created.stderr);
      const app = `${dir}/blog`;
      const urls = Object.entries(hostileUrls(port));
      const tasks = acceptance ? TASKS : [["migrate"], ["db", "create"]];
      const shapes = acceptance
        ? urls
        : urls.filter(([shape]) =>
          ["an unencoded @", "a bad port", "the wrong password"].includes(shape)
        );
      for (const [shape, url] of shapes) {
        for (const task of tasks) {
          const run = await deno(
            ["run", "-A", `${CHECKOUT}/cli.ts`, ...task, "--verbose"],
            app,
            { DATABASE_URL: url },
          );
          assert.notEqual(run.code, 0, `${shape}: ${task.join(" ")}`);
          assert.match(run.stderr, DATABASE_FAILURE);
          assertHidden(
            `${shape}: sequent ${task.join(" ")}`,
            run.stdout + run.stderr,
          );
        }
      }
    })
  );
});
