/**
 * A new embedded database, in memory or in a new folder, starts from the
 * kept files of a fresh cluster (`src/postgres/_fresh_cluster.ts`): a new,
 * empty database each time; a kept copy that does not start is forgotten,
 * with nothing of it left in the folder, and replaced; the cache folder is
 * used only with the permissions already given.
 */
import assert from "node:assert/strict";
import { connectDatabase } from "@sequent/core/postgres";
import { deno, type Output } from "../cli/_helpers.ts";

const CHILD = new URL("./_fresh_cluster_child.ts", import.meta.url);

async function cacheFiles(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir), (entry) => entry.name))
    .sort();
}

async function withCacheDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "sequent-cache-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A cluster's tar with its top-level `PG_VERSION` file saying 99. */
function ofVersion99(tar: Uint8Array): Uint8Array {
  const decoder = new TextDecoder();
  for (let at = 0; at + 512 <= tar.length; at += 512) {
    const name = decoder.decode(tar.subarray(at, at + 100)).split("\0")[0]!;
    if (
      name === "/PG_VERSION" ||
      name.endsWith("/PG_VERSION") && name.split("/").length === 2
    ) {
      const copy = tar.slice();
      copy.set(new TextEncoder().encode("99"), at + 512);
      return copy;
    }
  }
  throw new Error("no PG_VERSION in the kept files");
}

/** Runs the child with `flags`, the cache in `dir`; its output. */
function child(
  flags: readonly string[],
  dir: string,
  ...args: string[]
): Promise<Output> {
  return deno(
    ["run", "--no-prompt", ...flags, CHILD.pathname, ...args],
    Deno.cwd(),
    { SEQUENT_CACHE_DIR: dir },
  );
}

Deno.test("each new embedded database, in memory or in a folder, is new and empty, started from kept files after the first; kept files that do not start are replaced", async () => {
  await withCacheDir(async (dir) => {
    const before = Deno.env.get("SEQUENT_CACHE_DIR");
    Deno.env.set("SEQUENT_CACHE_DIR", dir);
    try {
      const first = await connectDatabase("memory://");
      try {
        await first.execute(
          "CREATE TABLE kept (a int); INSERT INTO kept VALUES (1)",
        );
      } finally {
        await first.close();
      }
      const [name] = await Array.fromAsync(Deno.readDir(dir), (e) => e.name);
      assert.ok(name, "the fresh cluster's files are kept");
      const kept = await Deno.stat(`${dir}/${name}`);
      assert.ok(kept.size > 1_000_000);
      const second = await connectDatabase("memory://");
      try {
        const tables = await second.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'",
        );
        assert.deepEqual(tables, [{ n: 0 }]);
        await second.execute("CREATE TABLE kept (a int)");
        assert.deepEqual(await second.query("SELECT a FROM kept"), []);
      } finally {
        await second.close();
      }
      // a new data folder starts from the copy too, and keeps what it stores
      const folder = `${dir}/app/db`;
      const made = await connectDatabase(folder);
      try {
        await made.execute(
          "CREATE TABLE kept (a int); INSERT INTO kept VALUES (7)",
        );
      } finally {
        await made.close();
      }
      const reopened = await connectDatabase(folder);
      try {
        assert.deepEqual(await reopened.query("SELECT a FROM kept"), [{
          a: 7,
        }]);
      } finally {
        await reopened.close();
      }
      // another process finds a copy PostgreSQL refuses (files of another
      // major version): unpacked into a new folder it fails to start, so it
      // is forgotten, all it unpacked is removed, and initdb makes the folder
      await Deno.writeFile(
        `${dir}/${name}`,
        ofVersion99(await Deno.readFile(`${dir}/${name}`)),
      );
      const third = await child(["-A"], dir, `${dir}/other/db`);
      assert.equal(third.stdout.trim(), "ok", third.stderr);
      assert.deepEqual(await cacheFiles(dir), ["app", "other"]);
      // and the next database in memory keeps a good copy again
      const fourth = await child(["-A"], dir);
      assert.equal(fourth.stdout.trim(), "ok", fourth.stderr);
      assert.equal((await Deno.stat(`${dir}/${name}`)).size, kept.size);
    } finally {
      if (before === undefined) Deno.env.delete("SEQUENT_CACHE_DIR");
      else Deno.env.set("SEQUENT_CACHE_DIR", before);
    }
  });
});

Deno.test("the cache folder is used only with the permissions given: never written without write permission, and no prompt without env permission", async () => {
  await withCacheDir(async (dir) => {
    const noWrite = await child(
      ["--allow-read", "--allow-env=SEQUENT_CACHE_DIR"],
      dir,
    );
    assert.equal(noWrite.stdout.trim(), "ok", noWrite.stderr);
    assert.deepEqual(await cacheFiles(dir), []);
    const noEnv = await child(["--allow-read"], dir);
    assert.equal(noEnv.stdout.trim(), "ok", noEnv.stderr);
    assert.deepEqual(await cacheFiles(dir), []);
  });
});
