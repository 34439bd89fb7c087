/**
 * The app `sequent new` makes, and what the generators add to it, checked
 * with Deno's own tools in a temp folder: formatted, lint-free, type-checked
 * against this checkout, tests passing.
 */
import assert from "node:assert/strict";
import { runCli } from "../../src/cli/main.ts";
import { connectDatabase } from "../../src/postgres/connect.ts";
import {
  createDatabase,
  dropDatabase,
} from "../../src/postgres/database_admin.ts";
import {
  assertSucceeded,
  CHECKOUT,
  databases,
  deno,
  inTempDir,
  type Output,
  recorder,
  scratchDatabase,
} from "./_helpers.ts";

/** Runs the CLI in `cwd`, failing with its output unless it succeeds. */
async function sequent(cwd: string, ...args: string[]): Promise<void> {
  const r = recorder();
  const code = await runCli(cwd, args, r.io);
  assert.equal(code, 0, `sequent ${args.join(" ")}:\n${r.err()}`);
  assert.equal(r.err(), "", `sequent ${args.join(" ")}`);
}

/** Runs `fn` with a new blog app in a temp folder. */
function inNewBlog(fn: (app: string) => Promise<void>): Promise<void> {
  return inTempDir(async (dir) => {
    await sequent(dir, "new", "blog");
    await fn(`${dir}/blog`);
  });
}

/** The generator sequence of the guide's second chapter. */
async function addAuthor(app: string): Promise<void> {
  await sequent(app, "generate", "aggregate", "Author");
  await sequent(
    app,
    "generate",
    "command",
    "Author",
    "AddAuthor",
    "name:string",
    "email:string",
  );
  await sequent(
    app,
    "generate",
    "event",
    "Author",
    "AuthorNameSet",
    "name:string",
  );
}

function passed(output: Output): number {
  const match = /^ok \| (\d+) passed \| 0 failed/m.exec(output.stdout);
  assert.ok(
    match,
    `deno test did not pass:\n${output.stdout}\n${output.stderr}`,
  );
  return Number(match[1]);
}

Deno.test("generated blog app: deno fmt --check and deno lint pass", async () => {
  await inNewBlog(async (app) => {
    assertSucceeded("deno fmt --check", await deno(["fmt", "--check"], app));
    assertSucceeded("deno lint", await deno(["lint"], app));
  });
});

Deno.test("generated blog app: its domain and command handler test type-check against this checkout and pass", async () => {
  await inNewBlog(async (app) => {
    assertSucceeded(
      "deno check",
      await deno(["check", "lib", "tests/lib"], app),
    );
    const test = await deno(["test", "-A", "tests/lib"], app, {
      DATABASE_URL: undefined,
    });
    assert.equal(passed(test), 1);
  });
});

Deno.test("generated blog app: a plain deno test refuses to run rather than ignore DATABASE_URL, and deno task test honours it", async () => {
  await inNewBlog(async (app) => {
    const nowhere = { DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere" };
    const plain = await deno(["test", "tests/lib"], app, nowhere);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /permissions were found in the config file/i);
    assert.match(plain.stderr, /-P\b/);
    assert.doesNotMatch(plain.stdout, /passed/);
    const task = await deno(["task", "test", "tests/lib"], app, nowhere);
    assert.notEqual(task.code, 0);
    assert.match(
      task.stdout + task.stderr,
      /Cannot connect to PostgreSQL at 127\.0\.0\.1:1\/nowhere/,
    );
  });
});

Deno.test("generated blog app after generate aggregate Author, command AddAuthor name email, event AuthorNameSet name: the domain type-checks; fmt, lint and the command handler tests pass", async () => {
  await inNewBlog(async (app) => {
    await addAuthor(app);
    assertSucceeded(
      "deno check",
      await deno(["check", "lib", "tests/lib"], app),
    );
    assertSucceeded("deno fmt --check", await deno(["fmt", "--check"], app));
    assertSucceeded("deno lint", await deno(["lint"], app));
    const test = await deno(["test", "-A", "tests/lib"], app, {
      DATABASE_URL: undefined,
    });
    assert.equal(passed(test), 2);
  });
});

Deno.test({
  name: `generated blog app: deno check passes on every file`,
  fn: () =>
    inNewBlog(async (app) => {
      assertSucceeded("deno check .", await deno(["check", "."], app));
    }),
});

Deno.test({
  name:
    `end to end: sequent new blog, deno task migrate, deno task test reports 3 passed`,
  fn: async () => {
    for (const url of databases()) {
      await inTempDir(async (dir) => {
        const created = await deno([
          "run",
          "-A",
          `${CHECKOUT}/cli.ts`,
          "new",
          "blog",
        ], dir);
        assertSucceeded("sequent new blog", created);
        const app = `${dir}/blog`;
        // a database of its own on the server: nothing an earlier run (or
        // newer code) left in the shared one decides the outcome
        const own = url === undefined
          ? undefined
          : scratchDatabase(url, "sequent_e2e");
        if (own !== undefined) assert.equal(await createDatabase(own), true);
        try {
          const env = { DATABASE_URL: own };
          assertSucceeded(
            "deno task migrate",
            await deno(["task", "migrate"], app, env),
          );
          assert.equal(
            passed(await deno(["task", "test"], app, env)),
            3,
            url ?? "embedded",
          );
        } finally {
          if (own !== undefined) await dropDatabase(own);
        }
      });
    }
  },
});

Deno.test({
  name:
    `end to end: the Author generators leave an app that passes deno check and deno task test`,
  fn: () =>
    inNewBlog(async (app) => {
      await addAuthor(app);
      assertSucceeded("deno check .", await deno(["check", "."], app));
      const env = { DATABASE_URL: undefined };
      assertSucceeded(
        "deno task migrate",
        await deno(["task", "migrate"], app, env),
      );
      assert.equal(passed(await deno(["task", "test"], app, env)), 4);
    }),
});

Deno.test({
  name:
    "generated blog app: web/server.ts fails to start in one line, exit 1, when the database is in use, unreachable or its URL mistyped, or the port is taken",
  fn: () =>
    inNewBlog(async (app) => {
      const serve = (env: Record<string, string | undefined>) =>
        deno(["run", "-A", "web/server.ts"], app, { PORT: "0", ...env });
      const oneLine = (output: Output, line: RegExp | string) => {
        assert.equal(output.code, 1, output.stderr);
        assert.equal(output.stdout, "");
        const lines = output.stderr.trimEnd().split("\n");
        assert.equal(lines.length, 1, output.stderr);
        if (typeof line === "string") assert.equal(lines[0], line);
        else assert.match(lines[0]!, line);
        assert.ok(!output.stderr.includes("Hunter2Secret"), output.stderr);
      };
      // a second start on the same folder (this process holds it)
      const held = await connectDatabase(`${app}/data/db`);
      try {
        oneLine(
          await serve({ DATABASE_URL: undefined }),
          new RegExp(
            `^error: The embedded database in \\./data/db is in use by process ${Deno.pid} `,
          ),
        );
      } finally {
        await held.close();
      }
      oneLine(
        await serve({
          DATABASE_URL: "postgres://blog:Hunter2Secret@127.0.0.1:1/blog",
        }),
        "error: Cannot connect to PostgreSQL at 127.0.0.1:1/blog: connection refused",
      );
      oneLine(
        await serve({
          DATABASE_URL: "postgres://blog@127.0.0.1:1/blog?sslmode=bogus",
        }),
        /^error: The database URL is not valid: sslmode must be one of /,
      );
      oneLine(
        await serve({
          DATABASE_URL: "postgresql:blog:Hunter2Secret@localhost/blog",
        }),
        /^error: The database URL is not valid: it starts with "postgresql:" but not "postgresql:\/\/"/,
      );
      using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      oneLine(
        await serve({
          DATABASE_URL: "memory://",
          PORT: String(taken.addr.port),
        }),
        `error: Cannot serve on 127.0.0.1:${taken.addr.port}: the port is in use (set PORT to another one)`,
      );
    }),
});
