/**
 * connectDatabase: which database a URL opens, and the errors of bad URLs
 * and unreachable servers.
 */
import { moduleSpecifiers } from "../_module_graph.ts";
import assert from "node:assert/strict";
import { connectDatabase, SqlError } from "@sequent/core/postgres";
import { serverUrl, shared } from "./_backends.ts";

Deno.test({
  name: "connectDatabase() opens an in-memory embedded database for memory://",
  ...shared,
  fn: async () => {
    const client = await connectDatabase("memory://");
    try {
      assert.equal(client.engine, "pglite");
      assert.equal(client.description, "embedded PostgreSQL in memory");
      const [row] = await client.query<{ v: string }>(
        "SELECT current_setting('server_version') AS v",
      );
      assert.match(row!.v, /^\d+/);
    } finally {
      await client.close();
    }
  },
});

Deno.test({
  name:
    "connectDatabase() keeps the embedded database in a folder across restarts, for a path, a file:// URL or no URL",
  ...shared,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const first = await connectDatabase(`${dir}/nested/db`);
      await first.execute(
        "CREATE TABLE kept (n integer); INSERT INTO kept VALUES (7)",
      );
      await first.close();
      const again = await connectDatabase(`file://${dir}/nested/db`);
      assert.deepEqual(await again.query("SELECT n FROM kept"), [{ n: 7 }]);
      await again.close();
      // no URL: ./data/db of the working directory, which is the process's
      // own (a chdir here would move it under test files running beside
      // this one in --parallel), so a child runs in the folder
      const byDefault = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          "--config",
          new URL("../../deno.json", import.meta.url).pathname,
          `import { connectDatabase } from ${
            JSON.stringify(import.meta.resolve("@sequent/core/postgres"))
          };
          const client = await connectDatabase();
          console.log(client.description);
          await client.close();`,
        ],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(byDefault.stderr);
      assert.ok(byDefault.success, stderr);
      assert.equal(
        new TextDecoder().decode(byDefault.stdout).trim(),
        "embedded PostgreSQL in ./data/db",
        stderr,
      );
      assert.ok((await Deno.stat(`${dir}/data/db/PG_VERSION`)).isFile);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("connectDatabase() refuses a mistyped server URL, creating no folder and never quoting the password", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const url of [
        "postgresql:postgres:Hunter2Secret@localhost/test",
        "postgres:/postgres:Hunter2Secret@localhost/test",
        `${dir}/app:Hunter2Secret@db.example`,
      ]
    ) {
      const error = await connectDatabase(url).then(
        (client) => client.close(),
        (e: unknown) => e,
      );
      assert.ok(
        error instanceof TypeError && error.name === "DatabaseUrlError",
        `${url}: ${error}`,
      );
      assert.ok(!error.message.includes("Hunter2Secret"), error.message);
    }
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "connectDatabase() creates the embedded database in a new or empty folder, never among other files",
  ...shared,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/main.ts`, "// the app's sources");
      const error = await connectDatabase(dir).then(
        (client) => client.close(),
        (e: unknown) => e,
      );
      assert.ok(error instanceof Error);
      assert.equal(
        error.message,
        `The folder ${dir} holds other files (such as "main.ts") and no embedded database: not creating a database among them (use a new or empty folder)`,
      );
      assert.deepEqual(
        await Array.fromAsync(Deno.readDir(dir), (e) => e.name),
        ["main.ts"],
      );
      await Deno.mkdir(`${dir}/empty`);
      const client = await connectDatabase(`${dir}/empty`);
      await client.close();
      assert.ok((await Deno.stat(`${dir}/empty/PG_VERSION`)).isFile);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("connectDatabase() refuses an unsupported scheme, naming it and nothing else of the URL", async () => {
  const error = await connectDatabase("mysql://admin:s3cret@db.example/app")
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(error instanceof TypeError);
  assert.match(error.message, /"mysql:"/);
  assert.doesNotMatch(error.message, /s3cret|admin|db\.example/);
});

Deno.test({
  name:
    "connectDatabase() reports an unreachable server in one line naming host and port, never the password",
  ...shared,
  fn: async () => {
    const error = await connectDatabase("postgres://app:s3cret@127.0.0.1:1/app")
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof SqlError);
    assert.equal(error.code, "08001");
    assert.equal(error.isConnectionError, true);
    assert.equal(
      error.message,
      "Cannot connect to PostgreSQL at 127.0.0.1:1/app: connection refused",
    );
  },
});

const url = serverUrl;
if (url) {
  Deno.test({
    name:
      "connectDatabase() reports the server's reason when it refuses the connection",
    ...shared,
    fn: async () => {
      const target = new URL(url);
      target.pathname = "/no_such_database";
      const error = await connectDatabase(target.href).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof SqlError);
      assert.equal(error.code, "3D000");
      assert.match(
        error.message,
        /^Cannot connect to PostgreSQL at [^ ]+\/no_such_database: database "no_such_database" does not exist$/,
      );
    },
  });

  Deno.test({
    name: "connectDatabase() opens a server for postgres:// URLs",
    ...shared,
    fn: async () => {
      const client = await connectDatabase(url);
      try {
        assert.equal(client.engine, "postgres");
        assert.match(client.description, /^PostgreSQL at /);
        assert.deepEqual(await client.query("SELECT 1 AS one"), [{ one: 1 }]);
      } finally {
        await client.close();
      }
    },
  });
}

Deno.test("the package's entry points leave PGlite out of their module graph: only opening an embedded database loads it", async () => {
  for (const entry of ["mod.ts", "src/postgres/mod.ts", "src/app/tasks.ts"]) {
    const modules = await moduleSpecifiers(entry);
    const specifiers = modules.map((m) => m.specifier);
    assert.ok(specifiers.some((s) => s.endsWith("/connect.ts")), entry);
    assert.ok(
      !specifiers.some((s) => s.includes("pglite")),
      `${entry} reaches ${specifiers.filter((s) => s.includes("pglite"))}`,
    );
    // our own code, a small fraction of PGlite's 26 MB
    const size = modules.reduce((n, m) => n + (m.size ?? 0), 0);
    assert.ok(size < 2_000_000, `${entry}: ${size} bytes`);
  }
});
