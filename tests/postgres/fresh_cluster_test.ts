/**
 * A new embedded database, in memory or in a new folder, starts from the
 * kept files of a fresh cluster (`src/postgres/_fresh_cluster.ts`): a new,
 * empty database each time; a kept copy that does not start is forgotten,
 * with nothing of it left in the folder, and replaced; the cache folder is
 * used only with the permissions already given.
 */
import assert from "node:assert/strict";
import { TarBytes } from "../../src/postgres/_fresh_cluster.ts";
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
  // each step in a process of its own: the cache folder comes from the
  // environment, which is the whole process's, and test files run beside
  // this one (deno test --parallel) open embedded databases too
  await withCacheDir(async (dir) => {
    // the first database in memory runs initdb and keeps its files; the
    // second in that process starts from the copy kept in the isolate
    const first = await child(["-A"], dir, "memory://", "memory://");
    assert.equal(first.stdout.trim(), "ok", first.stderr);
    const [name, ...more] = await cacheFiles(dir);
    assert.ok(name, "the fresh cluster's files are kept");
    assert.deepEqual(more, []);
    const kept = await Deno.stat(`${dir}/${name}`);
    assert.ok(kept.size > 1_000_000);
    // another process starts from the kept files on disk: new and empty
    const second = await child(["-A"], dir, "memory://");
    assert.equal(second.stdout.trim(), "ok", second.stderr);
    // a new data folder starts from the copy too, and keeps what it stores
    const folder = `${dir}/app/db`;
    const made = await child(["-A"], dir, folder);
    assert.equal(made.stdout.trim(), "ok", made.stderr);
    const reopened = await child(["-A"], dir, `kept:${folder}`);
    assert.equal(reopened.stdout.trim(), "ok", reopened.stderr);
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

Deno.test("the kept files' blob hands PGlite the bytes it holds, uncopied, and reads the same bytes every other way a Blob is read", async () => {
  const bytes = new TextEncoder().encode("PG_VERSION\0 17\n");
  const blob = new TarBytes(bytes);
  assert.ok(blob instanceof Blob);
  assert.equal(blob.type, "application/x-tar");
  assert.equal(blob.size, bytes.length);
  // what PGlite's loadDataDir calls: the very buffer, every time
  assert.equal(await blob.arrayBuffer(), bytes.buffer);
  assert.equal(await blob.arrayBuffer(), bytes.buffer);
  assert.deepEqual(await blob.bytes(), bytes);
  assert.equal(await blob.text(), "PG_VERSION\0 17\n");
  assert.deepEqual(await new Response(blob.stream()).bytes(), bytes);
  assert.equal(await blob.slice(11).text(), " 17\n");
  assert.equal(await blob.slice(-3, -1).text(), "17");
  assert.equal(blob.slice(0, 2, "text/plain").type, "text/plain");
  // a view into a larger buffer is copied once, so that the buffer handed
  // over holds the tar and nothing else
  const inside = new Uint8Array(64).subarray(8, 8 + bytes.length);
  inside.set(bytes);
  const copied = await new TarBytes(inside).arrayBuffer();
  assert.equal(copied.byteLength, bytes.length);
  assert.deepEqual(new Uint8Array(copied), bytes);
});
