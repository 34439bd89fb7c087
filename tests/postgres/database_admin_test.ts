import assert from "node:assert/strict";
import {
  createDatabase,
  dropDatabase,
  locateDatabase,
} from "@sequent/core/postgres";
import { SequentError } from "@sequent/core";
import { serverUrl } from "./_backends.ts";

Deno.test("locateDatabase() tells a server, a folder and memory apart", () => {
  const server = locateDatabase("postgres://app:secret@db.example:6543/blog");
  assert.equal(server.kind, "server");
  assert.equal(server.kind === "server" && server.database, "blog");
  assert.deepEqual(locateDatabase("memory://"), { kind: "memory" });
  assert.deepEqual(locateDatabase("file://./data/x"), {
    kind: "folder",
    path: "./data/x",
  });
  assert.deepEqual(locateDatabase("./data/y"), {
    kind: "folder",
    path: "./data/y",
  });
  assert.deepEqual(locateDatabase(undefined), {
    kind: "folder",
    path: "./data/db",
  });
});

Deno.test("locateDatabase() refuses an unknown scheme and a server URL without a database, naming them", () => {
  assert.throws(
    () => locateDatabase("mysql://x/y"),
    /"mysql:" is not supported/,
  );
  assert.throws(
    () => locateDatabase("postgres://user:secret@db.example:6543/"),
    (error: unknown) =>
      error instanceof TypeError && /db\.example:6543/.test(error.message) &&
      !error.message.includes("secret"),
  );
});

Deno.test("createDatabase() and dropDatabase() on an embedded database's folder", async () => {
  const parent = await Deno.makeTempDir();
  const folder = `${parent}/db`;
  try {
    assert.equal(await createDatabase(folder), true, "created");
    assert.ok((await Deno.stat(folder)).isDirectory);
    assert.equal(await createDatabase(folder), false, "already there");
    assert.equal(await dropDatabase(folder), true, "dropped");
    await assert.rejects(Deno.stat(folder), Deno.errors.NotFound);
    assert.equal(await dropDatabase(folder), false, "nothing left to drop");
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("locateDatabase() and dropDatabase() refuse file:// without a folder, as connectDatabase() does", async () => {
  assert.throws(() => locateDatabase("file://"), /"file:\/\/" names no folder/);
  await assert.rejects(dropDatabase("file://"), /"file:\/\/" names no folder/);
});

Deno.test("locateDatabase() refuses a mistyped server URL rather than take it for a folder's name, never quoting the password", () => {
  for (
    const url of [
      "postgresql:postgres:Hunter2Secret@localhost/test",
      "postgres:/postgres:Hunter2Secret@localhost/test",
      "POSTGRES:postgres:Hunter2Secret@localhost/test",
      "postgres:Hunter2Secret@localhost/test",
      "app:Hunter2Secret@db.example/blog",
      "./data/Hunter2Secret@db",
    ]
  ) {
    assert.throws(
      () => locateDatabase(url),
      (error: unknown) =>
        error instanceof TypeError && error.name === "DatabaseUrlError" &&
        !error.message.includes("Hunter2Secret"),
      url,
    );
  }
  assert.throws(
    () => locateDatabase("postgresql:x"),
    /starts with "postgresql:" but not "postgresql:\/\/"/,
  );
  assert.throws(
    () => locateDatabase("user:pw@host/db"),
    /holds an "@" as a server's address does; a folder whose path holds "@" is written file:\/\/<path>/,
  );
  assert.deepEqual(locateDatabase("file:///ci/workspace/job@2/db"), {
    kind: "folder",
    path: "/ci/workspace/job@2/db",
  });
});

Deno.test("dropDatabase() leaves a folder of other files, or a file, alone, naming it", async () => {
  const parent = await Deno.makeTempDir();
  try {
    const notes = `${parent}/notes`;
    await Deno.mkdir(notes);
    await Deno.writeTextFile(`${notes}/todo.txt`, "buy milk");
    await assert.rejects(
      dropDatabase(notes),
      (error: unknown) =>
        error instanceof SequentError &&
        error.message ===
          `The folder ${notes} holds other files (such as "todo.txt") and no embedded database: not deleting it`,
    );
    // nothing deleted, nothing added
    assert.deepEqual(
      await Array.fromAsync(Deno.readDir(notes), (e) => e.name),
      ["todo.txt"],
    );
    await assert.rejects(
      dropDatabase(`${notes}/todo.txt`),
      new RegExp(`^SequentError: ${notes}/todo\\.txt is a file`),
    );
    assert.equal(await Deno.readTextFile(`${notes}/todo.txt`), "buy milk");
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("dropDatabase() refuses an in-memory database", async () => {
  await assert.rejects(dropDatabase("memory://"), /cannot be dropped/);
});

Deno.test({
  name: "createDatabase() and dropDatabase() on a server",
  ignore: serverUrl === undefined,
  fn: async () => {
    const url = new URL(serverUrl as string);
    url.pathname = `/sequent_admin_${crypto.randomUUID().slice(0, 8)}`;
    try {
      assert.equal(await createDatabase(url.href), true);
      assert.equal(await createDatabase(url.href), false);
    } finally {
      assert.equal(await dropDatabase(url.href), true);
    }
    assert.equal(await dropDatabase(url.href), false);
  },
});
