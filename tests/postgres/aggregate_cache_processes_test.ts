/**
 * The aggregate cache never serves a stale aggregate across processes: two
 * processes, each with its own command service and cache, alternate
 * commands on one aggregate, and every command sees the other's last
 * event; nor when the aggregate's stream is deleted and stored again by
 * others. On an embedded database's folder (the other processes reaching
 * it through the first) and on the server when `DATABASE_URL` names one.
 */
import assert from "node:assert/strict";
import { connectDatabase, PostgresEventStore } from "@sequent/core/postgres";
import { Child } from "../_child_process.ts";
import { assertEntriesSawTheLast } from "../core/_ledger.ts";
import { freshSchema, serverUrl } from "./_backends.ts";

const CHILD = new URL("./_cache_writer_child.ts", import.meta.url);
const WRITES = 10;

/**
 * Runs the two writers (the first installs the store and, on a folder,
 * holds it), then checks what they stored.
 */
async function alternate(database: string, schema: string): Promise<void> {
  const id = crypto.randomUUID();
  const a = Child.spawn(CHILD, [database, schema, "a", id, "install"]);
  let b: Child | undefined;
  try {
    // b starts once a is connected: on a folder, a then holds it
    await a.waitFor(/^ready$/);
    b = Child.spawn(CHILD, [database, schema, "b", id]);
    await b.waitFor(/^ready$/);
    await a.send("open");
    await a.waitFor(/^opened$/);
    for (let i = 0; i < WRITES; i++) {
      const writer = i % 2 ? b : a;
      const n = Math.floor(i / 2) + 1;
      await writer.send("write");
      await writer.waitFor(new RegExp(`^wrote ${n} `));
    }
    // a opened the ledger, so never loaded it in full; b loaded it once.
    // Each then read only the entry it held last (still stored) and the
    // other's last entry before writing its own.
    const last = (child: Child) => child.lines.at(-1);
    assert.equal(last(a), `wrote 5 full=0 after=5 events=9`);
    assert.equal(last(b), `wrote 5 full=1 after=4 events=8`);
    await a.send("entries");
    const line = await a.waitFor(/^entries /);
    assertEntriesSawTheLast(JSON.parse(line.slice("entries ".length)), WRITES);
  } finally {
    if (b) {
      await b.endInput();
      assert.equal((await b.ended()).code, 0);
    }
    await a.endInput();
    assert.equal((await a.ended()).code, 0);
  }
}

/**
 * The first writer holds the ledger in its cache; this process deletes its
 * stream and the second writer stores it again, with as many events: the
 * first's next command must build on the new stream, not on what it held.
 */
async function storedAgain(database: string, schema: string): Promise<void> {
  const id = crypto.randomUUID();
  const a = Child.spawn(CHILD, [database, schema, "a", id, "install"]);
  let b: Child | undefined;
  try {
    await a.waitFor(/^ready$/);
    b = Child.spawn(CHILD, [database, schema, "b", id]);
    await b.waitFor(/^ready$/);
    await a.send("open");
    await a.waitFor(/^opened$/);
    await a.send("write");
    await a.waitFor(/^wrote 1 /);
    const client = await connectDatabase(database, { whenHeld: "use-holder" });
    try {
      const store = new PostgresEventStore(client, {
        schema,
        closeClient: false,
      });
      assert.equal(await store.deleteStream(id), 2);
    } finally {
      await client.close();
    }
    await b.send("open");
    await b.waitFor(/^opened$/);
    await b.send("write");
    await b.waitFor(/^wrote 1 /);
    await a.send("write");
    // a read the event under the sequence number it held, found it b's,
    // and loaded the ledger in full
    assert.equal(
      await a.waitFor(/^wrote 2 /),
      "wrote 2 full=1 after=2 events=2",
    );
    await a.send("entries");
    const line = await a.waitFor(/^entries /);
    const payloads = JSON.parse(line.slice("entries ".length));
    assertEntriesSawTheLast(payloads, 2);
    assert.deepEqual(
      payloads.slice(1).map((p: { writer: string }) => p.writer),
      ["b", "a"],
    );
  } finally {
    if (b) {
      await b.endInput();
      assert.equal((await b.ended()).code, 0);
    }
    await a.endInput();
    assert.equal((await a.ended()).code, 0);
  }
}

/** Runs `scenario` on a new embedded folder, then removes it. */
async function onFolder(
  scenario: (database: string, schema: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequent-cache-" });
  try {
    await scenario(`${dir}/db`, "sequent_schema");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `scenario` in a new schema of the server, then drops it. */
async function onServer(
  url: string,
  scenario: (database: string, schema: string) => Promise<void>,
): Promise<void> {
  const schema = freshSchema();
  try {
    await scenario(url, schema);
  } finally {
    const client = await connectDatabase(url);
    await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.close();
  }
}

Deno.test("two processes on one embedded folder alternate commands on one aggregate: each command sees the other's last event, reading only it and the one it held", async () => {
  await onFolder(alternate);
});

Deno.test("on one embedded folder, a process holding an aggregate whose stream another deleted and a third stored again builds on the new stream", async () => {
  await onFolder(storedAgain);
});

if (serverUrl !== undefined) {
  const url = serverUrl;
  Deno.test("two processes on the server alternate commands on one aggregate: each command sees the other's last event, reading only it and the one it held", async () => {
    await onServer(url, alternate);
  });

  Deno.test("on the server, a process holding an aggregate whose stream another deleted and a third stored again builds on the new stream", async () => {
    await onServer(url, storedAgain);
  });
}
