/**
 * The replay persistor (`ReplayRecordStore`): rows held in memory and
 * written with COPY once more than `flushEvery` are held; flushed rows read
 * back when a later write or lookup needs them and rewritten at the next
 * flush; duplicate keys caught against flushed rows; tables that already
 * hold rows (`existingRows`); raw SQL seeing every row; orders by text or
 * JSON as the server gives them. Then the record store contract, the store
 * driven as a replay drives it (its known gaps listed, and ignored).
 *
 * On PGlite, and on the server when `DATABASE_URL` is a postgres:// URL;
 * each test makes its tables in a fresh schema and drops it (the
 * contract's tests share one, which the backend drops at the end).
 */
import assert from "node:assert/strict";
import {
  CalendarDate,
  column,
  Decimal,
  DuplicateRecordError,
  Projector,
  type RecordStore,
  type RecordTable,
  table,
  UnstorableTextError,
} from "@sequent/core";
import { withRecordStore } from "@sequent/core/internal";
import {
  ReplayRecordStore,
  type ReplayRecordStoreOptions,
  type SqlClient,
  SqlRecordStore,
} from "@sequent/core/postgres";
import { backends, disposeAtEnd, shared } from "./_backends.ts";
import { countingClient } from "./_counting_client.ts";
import { ddl, truncateSql } from "./_record_tables.ts";
import { freshName, rigSchemas } from "./_migration_domain.ts";
import {} from "@sequent/core/postgres";
import {
  recordStoreContract,
  recordStoreContractTables,
} from "../contract/record_store_contract.ts";

const list = backends({ served: true });

const posts = table("mig_rs_posts", {
  id: column.uuid().primaryKey(),
  title: column.text(),
  author: column.text().nullable(),
  n: column.integer().default(0),
}, { indexes: [["author"]] });

const pairs = table("mig_rs_pairs", {
  left: column.text(),
  right: column.integer(),
  note: column.text().nullable(),
}, { primaryKey: ["left", "right"] });

const kinds = table("mig_rs_kinds", {
  id: column.integer().primaryKey(),
  text: column.text().nullable(),
  big: column.bigint().nullable(),
  float: column.float().nullable(),
  flag: column.boolean().nullable(),
  amount: column.decimal().nullable(),
  day: column.date().nullable(),
  at: column.dateTime().nullable(),
  doc: column.json().nullable(),
  ref: column.uuid().nullable(),
});

/** Text and JSON to order by, and a column given a collation in a test. */
const labels = table("mig_rs_labels", {
  id: column.integer().primaryKey(),
  name: column.text().nullable(),
  folded: column.text().nullable(),
  doc: column.json().nullable(),
});

class Mig_RsProjector extends Projector {
  static override readonly manages = [posts, pairs];
}

const TABLES = [posts, pairs, kinds, labels];

const UNIQUE_IN_MEMORY =
  "unique indexes other than the key are checked among the rows in memory only: a clash with a flushed row fails the flush's COPY instead";

/** What the replay store does otherwise than the contract says. */
const REPLAY_GAPS: Readonly<Record<string, string>> = {
  "a taken value of a unique column fails with DuplicateRecordError; nulls never clash":
    UNIQUE_IN_MEMORY,
  "composite keys and composite unique indexes are enforced on all their columns together":
    UNIQUE_IN_MEMORY,
  "an update to a taken key or unique value fails with DuplicateRecordError and changes no row":
    UNIQUE_IN_MEMORY,
  "upsert refuses values of the wrong type and a new row clashing with a unique value":
    UNIQUE_IN_MEMORY,
  "upsert refuses a condition with a list, whether or not a row matches":
    "a list that matches rows updates them",
  "a taken unique value fails with DuplicateRecordError naming the table and the unique columns, with their values as the columns hold them":
    UNIQUE_IN_MEMORY,
};

interface Setup {
  readonly schema: string;
  readonly client: SqlClient;
  /** Counts what reaches the database (reset after setup). */
  readonly db: ReturnType<typeof countingClient>;
  store(options?: ReplayRecordStoreOptions): ReplayRecordStore;
  /** The rows of a table in the database, as text, in key order. */
  stored(name: string): Promise<string[]>;
}

function uuid(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
}

for (const b of list) {
  const test = (name: string, fn: (s: Setup) => Promise<void>) =>
    Deno.test({
      name: `${b.name}: ${name}`,
      ...shared,
      fn: async () => {
        const client = await b.client();
        const schema = freshName();
        rigSchemas.add(schema);
        await client.execute(
          `CREATE SCHEMA ${schema}; ${ddl(TABLES, schema)}`,
        );
        const db = countingClient(client);
        try {
          await fn({
            schema,
            client,
            db,
            store: (options) =>
              new ReplayRecordStore(
                db,
                (t) => ({ schema, name: t.name }),
                options,
              ),
            stored: async (name) => {
              const rows = await client.query<{ r: string }>(
                `SELECT t::text AS r FROM ${schema}.${name} t ORDER BY 1`,
              );
              return rows.map((r) => r.r);
            },
          });
        } finally {
          await client.execute(`DROP SCHEMA ${schema} CASCADE`);
        }
      },
    });

  test("rows stay in memory until flushIfFull finds more than flushEvery held, then go in one COPY", async ({ db, store: make, stored }) => {
    const store = make({ flushEvery: 3 });
    for (let i = 1; i <= 3; i++) {
      await store.insert(posts, [{ id: uuid(i), title: `t${i}` }]);
    }
    await store.flushIfFull();
    assert.deepEqual(db.kinds(), []);
    assert.deepEqual(await stored("mig_rs_posts"), []);
    assert.equal(store.flushedRows, 0);
    // past flushEvery, writes alone do not flush (a replay flushes between
    // aggregates), so the row just written is not written out from under
    // the next event
    await store.insert(posts, [{ id: uuid(4), title: "t4" }]);
    assert.deepEqual(db.kinds(), []);
    await store.flushIfFull();
    await store.flush(); // (waits for the writes flushIfFull started)
    assert.deepEqual(db.kinds(), ["copyIn"]);
    assert.equal((await stored("mig_rs_posts")).length, 4);
    assert.equal(store.flushedRows, 4);
    assert.equal(store.peakRows, 4);
    // memory is empty again; past twice flushEvery, writes flush by themselves
    db.reset();
    for (let i = 5; i <= 10; i++) {
      await store.insert(posts, [{ id: uuid(i), title: `t${i}` }]);
    }
    assert.deepEqual(db.kinds(), []);
    await store.insert(posts, [{ id: uuid(11), title: "t11" }]);
    await store.flush();
    assert.deepEqual(db.kinds(), ["copyIn"]);
    assert.equal((await stored("mig_rs_posts")).length, 11);
    assert.equal(store.flushedRows, 11);
    assert.equal(store.peakRows, 7);
    db.reset();
    await store.flush();
    assert.deepEqual(db.kinds(), [], "nothing held, nothing written");
  });

  test("a flush of more than 10,000 rows copies them in pieces of 10,000, every row once", async ({ db, store: make, client, schema }) => {
    const store = make({ flushEvery: 100_000 });
    for (let i = 1; i <= 25_001; i++) {
      await store.insert(posts, [{ id: uuid(i), title: `t${i}` }]);
    }
    await store.flush();
    assert.deepEqual(db.kinds(), ["copyIn", "copyIn", "copyIn"]);
    assert.deepEqual(
      await client.query(
        `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids,
           min(title) AS low, max(title) AS high FROM ${schema}.mig_rs_posts`,
      ),
      [{ n: 25_001, ids: 25_001, low: "t1", high: "t9999" }],
    );
    assert.equal(store.flushedRows, 25_001);
  });

  test("flushEvery counts the rows of every table together", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 2 });
    await store.insert(posts, [{ id: uuid(1), title: "a" }]);
    await store.insert(pairs, [{ left: "x", right: 1 }]);
    await store.flushIfFull();
    assert.deepEqual(await stored("mig_rs_posts"), []);
    await store.insert(pairs, [{ left: "x", right: 2 }]);
    await store.flushIfFull();
    await store.flush();
    assert.equal((await stored("mig_rs_posts")).length, 1);
    assert.equal((await stored("mig_rs_pairs")).length, 2);
  });

  test("a flush writes in the background; a lookup that needs the database waits for its writes", async ({ db, store: make }) => {
    const store = make({ flushEvery: 1 });
    await store.insert(posts, [{ id: uuid(1), title: "a" }]);
    await store.insert(posts, [{ id: uuid(2), title: "b" }]);
    const started = store.flushIfFull(); // not awaited: the replay goes on
    await store.insert(posts, [{ id: uuid(3), title: "c" }]);
    const [found] = await store.find(posts, { id: uuid(1) });
    assert.equal(found?.title, "a");
    await started;
    // the copy came before the read-back, though the read was not told to wait
    assert.deepEqual(db.kinds(), ["copyIn", "query"]);
    await store.update(posts, { id: uuid(2) }, { title: "B" });
    await store.flush();
    const rows = await store.find(posts, {}, { orderBy: [["id", "asc"]] });
    assert.deepEqual(rows.map((r) => r.title), ["a", "B", "c"]);
  });

  test("written() waits for the flushes started, without starting one: rows held since stay in memory; flushes counts the flushes that wrote", async ({ db, store: make, stored }) => {
    const store = make({ flushEvery: 1 });
    await store.written(); // nothing started: at once
    assert.equal(store.flushes, 0);
    await store.flushIfFull(); // nothing held: no flush
    assert.equal(store.flushes, 0);
    await store.insert(posts, [{ id: uuid(1), title: "a" }]);
    await store.insert(posts, [{ id: uuid(2), title: "b" }]);
    void store.flushIfFull(); // starts the writes of both rows
    assert.equal(store.flushes, 1);
    await store.insert(posts, [{ id: uuid(3), title: "c" }]);
    await store.written();
    assert.deepEqual(db.kinds(), ["copyIn"]);
    assert.equal((await stored("mig_rs_posts")).length, 2);
    assert.equal(store.flushedRows, 2);
    // the row held since is not written, and is still found
    assert.equal((await store.find(posts, { id: uuid(3) }))[0]?.title, "c");
    assert.equal(store.flushes, 1);
    await store.flush();
    assert.equal(store.flushes, 2);
    assert.equal((await stored("mig_rs_posts")).length, 3);
    await store.flush(); // nothing held: not counted
    assert.equal(store.flushes, 2);
  });

  test("a flush whose writes fail fails the flushes after it, and the end", async ({ client, schema, store: make }) => {
    const store = make({ flushEvery: 1 });
    await store.insert(posts, [{ id: uuid(1), title: "a" }]);
    await store.insert(posts, [{ id: uuid(2), title: "b" }]);
    await client.execute(`DROP TABLE ${schema}.mig_rs_posts`);
    await store.flushIfFull(); // starts the writes; they fail in the background
    await assert.rejects(store.flush(), /mig_rs_posts/);
    await store.insert(posts, [{ id: uuid(3), title: "c" }]);
    await store.insert(posts, [{ id: uuid(4), title: "d" }]);
    await assert.rejects(store.flushIfFull(), /mig_rs_posts/);
    await assert.rejects(store.flush(), /mig_rs_posts/);
  });

  test("an update of a flushed row reads it back; the next flush rewrites it", async ({ db, store: make, stored }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [
      { id: uuid(1), title: "one", author: "ann" },
      { id: uuid(2), title: "two", author: "bob" },
    ]);
    await store.flush();
    await store.update(posts, { id: uuid(1) }, { title: "one, edited", n: 5 });
    assert.deepEqual(await store.find(posts, { id: uuid(1) }), [
      { id: uuid(1), title: "one, edited", author: "ann", n: 5 },
    ]);
    // not written yet
    assert.deepEqual(await stored("mig_rs_posts"), [
      `(${uuid(1)},one,ann,0)`,
      `(${uuid(2)},two,bob,0)`,
    ]);
    await store.flush();
    assert.deepEqual(await stored("mig_rs_posts"), [
      `(${uuid(1)},"one, edited",ann,5)`,
      `(${uuid(2)},two,bob,0)`,
    ]);
    assert.equal(store.flushedRows, 3);
    // a row read back and left alone is not written again
    db.reset();
    assert.equal((await store.find(posts, { id: uuid(2) }))[0]?.title, "two");
    await store.flush();
    assert.ok(!db.kinds().includes("copyIn"), db.kinds().join());
    assert.equal(store.flushedRows, 3);
  });

  test("updateRecord with a function, and deleteRecord, work on flushed rows through a projector", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 1 });
    const p = new Mig_RsProjector();
    await withRecordStore(store, async () => {
      await p.createRecord(posts, { id: uuid(1), title: "a", n: 1 });
      await p.createRecord(posts, { id: uuid(2), title: "b", n: 1 });
      // both flushed by now (more than one row held)
      const updated = await p.updateRecord(
        posts,
        { id: uuid(1) },
        (row) => ({ n: row.n + 41, title: row.title.toUpperCase() }),
      );
      assert.deepEqual(updated, {
        id: uuid(1),
        title: "A",
        author: null,
        n: 42,
      });
      const gone = await p.getRecord(posts, { id: uuid(2) });
      await p.deleteRecord(posts, gone);
      assert.equal(await p.findRecord(posts, { id: uuid(2) }), undefined);
      await store.flush();
    });
    assert.deepEqual(await stored("mig_rs_posts"), [`(${uuid(1)},A,,42)`]);
  });

  test("a delete of a flushed row hides it at once and deletes it at the next flush", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [
      { id: uuid(1), title: "a", author: "ann" },
      { id: uuid(2), title: "b", author: "ann" },
      { id: uuid(3), title: "c", author: "bob" },
    ]);
    await store.flush();
    await store.delete(posts, { author: "ann" });
    assert.deepEqual(await store.find(posts, { author: "ann" }), []);
    assert.equal((await store.find(posts, {})).length, 1);
    assert.equal((await stored("mig_rs_posts")).length, 3);
    await store.flush();
    assert.deepEqual(await stored("mig_rs_posts"), [`(${uuid(3)},c,bob,0)`]);
  });

  test("an upsert updates a flushed row, and inserts when no row matches", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(pairs, [{ left: "x", right: 1, note: "first" }]);
    await store.flush();
    await store.upsert(pairs, { left: "x", right: 1 }, { note: "again" });
    await store.upsert(pairs, { left: "x", right: 2 }, { note: "new" });
    assert.deepEqual(
      await store.find(pairs, { left: "x" }, {
        orderBy: [["right", "asc"]],
      }),
      [
        { left: "x", right: 1, note: "again" },
        { left: "x", right: 2, note: "new" },
      ],
    );
    await store.flush();
    assert.deepEqual(await stored("mig_rs_pairs"), [
      "(x,1,again)",
      "(x,2,new)",
    ]);
  });

  test("a flushed key is found whatever the order of the keys: below, at and between the greatest flushed, and after a second flush", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 100 });
    for (const n of [9, 1, 5]) {
      await store.insert(posts, [{ id: uuid(n), title: `t${n}` }]);
    }
    await store.flush();
    for (const n of [1, 5, 9]) {
      await assert.rejects(
        store.insert(posts, [{ id: uuid(n), title: "again" }]),
        DuplicateRecordError,
        `uuid(${n})`,
      );
      // and an update of it reads it back
      await store.update(posts, { id: uuid(n) }, { author: `a${n}` });
    }
    // new keys past the greatest, and below it, are new
    await store.insert(posts, [{ id: uuid(12), title: "t12" }]);
    await store.insert(posts, [{ id: uuid(3), title: "t3" }]);
    await store.flush();
    for (const n of [3, 12]) {
      await assert.rejects(
        store.insert(posts, [{ id: uuid(n), title: "again" }]),
        DuplicateRecordError,
        `uuid(${n})`,
      );
    }
    assert.deepEqual(
      (await stored("mig_rs_posts")).length,
      5,
    );
  });

  test("inserting a key that was flushed fails with DuplicateRecordError; once deleted, it can be inserted again", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [{ id: uuid(1), title: "first" }]);
    await store.insert(pairs, [{ left: "k", right: 7 }]);
    await store.flush();
    await assert.rejects(
      store.insert(posts, [{ id: uuid(1), title: "again" }]),
      (error: unknown) =>
        error instanceof DuplicateRecordError &&
        error.table === "mig_rs_posts" &&
        error.key.id === uuid(1),
    );
    await assert.rejects(
      store.insert(pairs, [{ left: "k", right: 7 }]),
      DuplicateRecordError,
    );
    // a duplicate in memory fails too
    await store.insert(posts, [{ id: uuid(2), title: "two" }]);
    await assert.rejects(
      store.insert(posts, [{ id: uuid(2), title: "two again" }]),
      DuplicateRecordError,
    );
    await store.delete(posts, { id: uuid(1) });
    await store.insert(posts, [{ id: uuid(1), title: "second life" }]);
    assert.deepEqual(
      (await store.find(posts, { id: uuid(1) })).map((r) => r.title),
      ["second life"],
    );
    await store.flush();
    assert.deepEqual(await stored("mig_rs_posts"), [
      `(${uuid(1)},"second life",,0)`,
      `(${uuid(2)},two,,0)`,
    ]);
    // and, written again, it is taken again
    await assert.rejects(
      store.insert(posts, [{ id: uuid(1), title: "third" }]),
      DuplicateRecordError,
    );
    // deleted and created again across a flush as well
    await store.delete(posts, { id: uuid(2) });
    await store.flush();
    await store.insert(posts, [{ id: uuid(2), title: "back" }]);
    await store.flush();
    assert.deepEqual(
      (await stored("mig_rs_posts")).map((r) => r.split(",")[1]),
      ['"second life"', "back"],
    );
    await assert.rejects(
      store.insert(posts, [{ id: uuid(2), title: "again" }]),
      DuplicateRecordError,
    );
  });

  test("unstorable text is refused with UnstorableTextError before it is held, so a flush writes only the good rows", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [{ id: uuid(1), title: "kept 😀" }]);
    const refused = (column: string) => (error: unknown) =>
      error instanceof UnstorableTextError &&
      error.location.kind === "record" &&
      error.location.table === "mig_rs_posts" &&
      error.location.column === column;
    await assert.rejects(
      store.insert(posts, [
        { id: uuid(2), title: "fine" },
        { id: uuid(3), title: "nul\0" },
      ]),
      refused("title"),
    );
    await assert.rejects(
      store.update(posts, { id: uuid(1) }, { author: "\ud800" }),
      refused("author"),
    );
    await assert.rejects(
      store.upsert(posts, { id: uuid(4) }, { title: "\udc00" }),
      refused("title"),
    );
    await assert.rejects(
      store.insert(kinds, [{ id: 1, doc: { ["k\0"]: 1 } }]),
      (error: unknown) =>
        error instanceof UnstorableTextError &&
        error.location.kind === "record" && error.location.column === "doc",
    );
    await store.flush();
    assert.deepEqual(await stored("mig_rs_posts"), [
      `(${uuid(1)},"kept 😀",,0)`,
    ]);
    assert.deepEqual(await stored("mig_rs_kinds"), []);
  });

  test("an update of the row just inserted refuses an unknown column, a wrong value and unstorable text, changing nothing; a column looked up keeps finding it", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [{ id: uuid(1), title: "t" }]);
    await assert.rejects(
      store.update(posts, { id: uuid(1) }, { nope: "x" } as never),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.includes('has no column "nope"'),
    );
    await assert.rejects(
      store.update(posts, { id: uuid(1) }, { title: 42 } as never),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes("title"),
    );
    await assert.rejects(
      store.update(posts, { id: uuid(1) }, { title: "ok", author: "\ud800" }),
      UnstorableTextError,
    );
    // nothing of a refused update was applied, not even its valid column
    assert.deepEqual(
      (await store.find(posts, { id: uuid(1) })).map((r) => r.title),
      ["t"],
    );
    // author is looked up now: a change of it moves the row in that lookup
    assert.deepEqual(await store.find(posts, { author: "a" }), []);
    await store.update(posts, { id: uuid(1) }, { author: "a", n: 2 });
    assert.deepEqual(
      (await store.find(posts, { author: "a" })).map((r) => r.id),
      [uuid(1)],
    );
    await store.flush();
    assert.deepEqual(await stored("mig_rs_posts"), [`(${uuid(1)},t,a,2)`]);
  });

  test("an update that changes the key replaces the flushed row", async ({ store: make, stored }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(pairs, [{ left: "a", right: 1, note: "n" }]);
    await store.flush();
    await store.update(pairs, { left: "a", right: 1 }, { right: 2 });
    await store.flush();
    assert.deepEqual(await stored("mig_rs_pairs"), ["(a,2,n)"]);
    await assert.rejects(
      store.insert(pairs, [{ left: "a", right: 2 }]),
      DuplicateRecordError,
    );
    await store.insert(pairs, [{ left: "a", right: 1 }]);
    await store.flush();
    assert.deepEqual(await stored("mig_rs_pairs"), ["(a,1,)", "(a,2,n)"]);
  });

  test("a lookup by another column merges flushed rows with those in memory, ordered and limited", async ({ store: make }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [
      { id: uuid(1), title: "a", author: "ann", n: 1 },
      { id: uuid(2), title: "b", author: "bob", n: 2 },
      { id: uuid(3), title: "c", author: "ann", n: 3 },
    ]);
    await store.flush();
    await store.insert(posts, [{
      id: uuid(4),
      title: "d",
      author: "ann",
      n: 4,
    }]);
    await store.update(posts, { id: uuid(1) }, { n: 10 });
    const found = await store.find(posts, { author: "ann" }, {
      orderBy: [["n", "desc"]],
      limit: 2,
    });
    assert.deepEqual(found.map((r) => [r.id, r.n]), [[uuid(1), 10], [
      uuid(4),
      4,
    ]]);
    assert.deepEqual(
      (await store.find(posts, { author: ["bob", null] })).map((r) => r.id),
      [uuid(2)],
    );
  });

  test("a lookup by a column first used after rows were flushed finds them, in every earlier flush", async ({ store: make }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [{ id: uuid(1), title: "a", author: "ann" }]);
    await store.flush();
    assert.deepEqual(await store.find(posts, { author: "bob" }), []);
    await store.insert(posts, [{ id: uuid(2), title: "b", author: "bob" }]);
    await store.flush();
    assert.deepEqual(
      (await store.find(posts, { author: "ann" })).map((r) => r.id),
      [uuid(1)],
    );
    assert.deepEqual(
      (await store.find(posts, { author: "bob" })).map((r) => r.id),
      [uuid(2)],
    );
  });

  test("a lookup for values no flushed row had does not query the database", async ({ db, store: make }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [{ id: uuid(1), title: "a", author: "ann" }]);
    assert.deepEqual(await store.find(posts, { id: uuid(9) }), []);
    // looked up before the flush: the values written are kept from then on
    assert.deepEqual(await store.find(posts, { author: "nobody" }), []);
    await store.flush();
    db.reset();
    assert.deepEqual(await store.find(posts, { id: uuid(9) }), []);
    assert.deepEqual(await store.find(posts, { author: "zed" }), []);
    await store.insert(posts, [{ id: uuid(2), title: "b", author: "bob" }]);
    assert.deepEqual(db.kinds(), []);
    assert.equal((await store.find(posts, { author: "ann" })).length, 1);
    assert.deepEqual(db.kinds(), ["query"]);
  });

  test("a flushed row once read back is not read again before the next flush", async ({ db, store: make }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [{ id: uuid(1), title: "a", author: "ann" }]);
    await store.flush();
    db.reset();
    const round = async (i: number) => {
      await store.update(posts, { id: uuid(1) }, { n: i });
      assert.equal((await store.find(posts, { id: uuid(1) }))[0]?.n, i);
      assert.equal((await store.find(posts, { author: "ann" }))[0]?.n, i);
    };
    await round(0);
    // the row by its key, the values of a column first looked up, the rows
    // with that value
    assert.deepEqual(db.kinds(), ["query", "query", "query"]);
    for (let i = 1; i < 5; i++) await round(i);
    assert.equal(db.kinds().length, 3, db.kinds().join());
  });

  test("values of every column kind survive a flush and a read-back", async ({ store: make }) => {
    const store = make({ flushEvery: 100 });
    const rows = [
      {
        id: 1,
        text: "tab\there, new\nline, back\\slash, \\N, quote \" and ' «ü»",
        big: 9007199254740993n,
        float: 0.1 + 0.2,
        flag: true,
        amount: Decimal.from("-12345678901234567890.000000001"),
        day: CalendarDate.parse("2024-02-29"),
        at: new Date("2024-01-02T03:04:05.678Z"),
        doc: { a: [1, "two", null, { b: false }], "tab\tkey": "x\ny" },
        ref: uuid(5),
      },
      {
        id: 2,
        text: "",
        big: -1n,
        float: -0.5,
        flag: false,
        amount: Decimal.from("0"),
        day: CalendarDate.parse("0001-01-01"),
        at: new Date(0),
        doc: [],
        ref: null,
      },
      {
        id: 3,
        text: null,
        big: null,
        float: null,
        flag: null,
        amount: null,
        day: null,
        at: null,
        doc: null,
        ref: null,
      },
    ];
    await store.insert(kinds, rows);
    await store.flush();
    const back = await store.find(kinds, { id: [1, 2, 3] }, {
      orderBy: [["id", "asc"]],
    });
    assert.equal(back.length, 3);
    for (const [i, row] of back.entries()) {
      const want = rows[i]!;
      for (const [key, value] of Object.entries(want)) {
        const got = (row as Record<string, unknown>)[key];
        if (value instanceof Decimal) {
          assert.ok(value.equals(got as Decimal), `${key}: ${got}`);
        } else if (value instanceof CalendarDate) {
          assert.equal(String(got), String(value));
        } else {
          assert.deepEqual(got, value, key);
        }
      }
    }
  });

  test("existingRows: rows already in the tables are found, updated, deleted, and collide on insert", async ({ client, schema, store: make, stored }) => {
    await client.execute(
      `INSERT INTO ${schema}.mig_rs_posts (id, title, author, n) VALUES
        ('${uuid(1)}', 'old one', 'ann', 1), ('${
        uuid(2)
      }', 'old two', 'ann', 2),
        ('${uuid(3)}', 'old three', 'bob', 3)`,
    );
    const blind = make({ flushEvery: 100 });
    assert.deepEqual(
      await blind.find(posts, { id: uuid(1) }),
      [],
      "without existingRows only its own rows are seen",
    );
    const store = make({ flushEvery: 100, existingRows: true });
    assert.equal((await store.find(posts, { author: "ann" })).length, 2);
    await assert.rejects(
      store.insert(posts, [{ id: uuid(3), title: "clash" }]),
      DuplicateRecordError,
    );
    await store.update(posts, { id: uuid(1) }, { title: "new one" });
    await store.delete(posts, { id: uuid(2) });
    await store.upsert(posts, { id: uuid(3) }, { n: 30 });
    await store.insert(posts, [{ id: uuid(4), title: "four" }]);
    await store.flush();
    assert.deepEqual(await stored("mig_rs_posts"), [
      `(${uuid(1)},"new one",ann,1)`,
      `(${uuid(3)},"old three",bob,30)`,
      `(${uuid(4)},four,,0)`,
    ]);
  });

  test("executeSql writes what memory holds first, and rows raw SQL wrote are found afterwards", async ({ schema, store: make }) => {
    const store = make({ flushEvery: 100 });
    await store.insert(posts, [
      { id: uuid(1), title: "a", author: "ann" },
      { id: uuid(2), title: "b", author: "ann" },
    ]);
    assert.deepEqual(await store.find(posts, { author: "raw author" }), []);
    const [count] = await store.executeSql(
      `SELECT count(*)::int AS n FROM ${
        store.tableName(posts)
      } WHERE author = $1`,
      ["ann"],
    );
    assert.equal(count?.n, 2);
    assert.equal(store.tableName(posts), `"${schema}"."mig_rs_posts"`);
    await store.executeSql(
      `INSERT INTO ${
        store.tableName(posts)
      } (id, title, author, n) VALUES ($1::text::uuid, 'raw', 'raw author', 7)`,
      [uuid(3)],
    );
    await store.executeSql(
      `UPDATE ${store.tableName(posts)} SET n = 99 WHERE id = $1::text::uuid`,
      [uuid(1)],
    );
    assert.deepEqual(
      (await store.find(posts, { author: "raw author" })).map((r) => r.title),
      ["raw"],
    );
    assert.equal((await store.find(posts, { id: uuid(1) }))[0]?.n, 99);
    await store.update(posts, { id: uuid(3) }, { n: 8 });
    await assert.rejects(
      store.insert(posts, [{ id: uuid(3), title: "clash" }]),
      DuplicateRecordError,
    );
    // a row raw SQL deleted can be inserted again
    await store.executeSql(
      `DELETE FROM ${store.tableName(posts)} WHERE id = $1::text::uuid`,
      [uuid(2)],
    );
    await store.insert(posts, [{ id: uuid(2), title: "b again" }]);
    await store.flush();
    const [row] = await store.executeSql(
      `SELECT n FROM ${store.tableName(posts)} WHERE id = $1::text::uuid`,
      [uuid(3)],
    );
    assert.equal(row?.n, 8);
  });

  test("a lookup by key and another column reads the key's flushed row whole: a later lookup by key alone finds it", async ({ store: make }) => {
    for (const existingRows of [false, true]) {
      const store = make({ existingRows });
      const left = `l${existingRows}`;
      await store.insert(posts, [{ id: uuid(1), title: "open" }]);
      await store.insert(pairs, [{ left, right: 1, note: "open" }]);
      await store.flush();
      assert.deepEqual(
        await store.find(posts, { id: uuid(1), title: "x" }),
        [],
      );
      await store.update(posts, { id: uuid(1) }, { n: 2 });
      assert.deepEqual(
        await store.find(pairs, { left, right: 1, note: "closed" }),
        [],
      );
      await store.upsert(pairs, { left, right: 1 }, { note: "closed" });
      assert.deepEqual(
        (await store.find(posts, { id: uuid(1), title: "open" })).map((r) =>
          r.n
        ),
        [2],
      );
      assert.deepEqual(
        (await store.find(pairs, { left })).map((r) => r.note),
        ["closed"],
      );
      await store.flush();
      await store.delete(posts, {});
      await store.delete(pairs, {});
      await store.flush();
    }
  });

  test("a delete by a list naming a held row twice counts the row out once", async ({ store: make }) => {
    const store = make({ flushEvery: 2 });
    for (let i = 1; i <= 3; i++) {
      await store.insert(posts, [{ id: uuid(i), title: `t${i}` }]);
    }
    await store.delete(posts, { id: [uuid(1), uuid(1)] });
    await store.insert(posts, [{ id: uuid(4), title: "t4" }]);
    // three rows held: more than flushEvery
    await store.flushIfFull();
    assert.equal(store.flushes, 1);
    await store.flush();
  });

  test("raw SQL before a table's first use is seen: the table may hold rows the store did not write", async ({ store: make }) => {
    const store = make();
    await store.executeSql(
      `INSERT INTO ${
        store.tableName(posts)
      } (id, title, n) VALUES ($1::text::uuid, 'raw', 0)`,
      [uuid(1)],
    );
    assert.deepEqual(
      (await store.find(posts, { id: uuid(1) })).map((r) => r.title),
      ["raw"],
    );
    await assert.rejects(
      store.insert(posts, [{ id: uuid(1), title: "again" }]),
      DuplicateRecordError,
    );
  });

  test("a find ordered by text or JSON gives the rows and order inline projection's ORDER BY gives", async ({ client, db, schema, store: make }) => {
    // the database's collation for `name` (C.UTF-8 on the test server puts
    // U+FF21 before U+1F600, as code points go; UTF-16 puts it after), and
    // one that folds case for `folded`, where the server has ICU
    const [icu] = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_collation WHERE collname = 'und-x-icu'`,
    );
    if (icu?.n) {
      await client.execute(
        `ALTER TABLE ${schema}.mig_rs_labels ALTER COLUMN folded TYPE text COLLATE "und-x-icu"`,
      );
    }
    const texts = ["\u{1F600}", "\uFF21", "b", "B", "a", "A", "é", "e", "z"];
    const docs = [
      { b: 1 },
      { a: 1, b: 0 },
      [1],
      [0, 0],
      "s",
      2,
      true,
      false,
      { a: [1] },
    ];
    const store = make({ flushEvery: 1_000 });
    const rows = texts.map((text, i) => ({
      id: i + 1,
      name: text,
      folded: text,
      doc: docs[i] ?? null,
    }));
    // some rows flushed, some held (a flushed row changed, another not)
    await store.insert(labels, rows.slice(0, 4));
    await store.flush();
    await store.update(labels, { id: 1 }, { doc: "t" });
    await store.insert(labels, [...rows.slice(4), { id: 99, name: null }]);
    const orders: [string, "asc" | "desc"][][] = [
      [["name", "asc"]],
      [["name", "desc"]],
      [["folded", "asc"], ["id", "desc"]],
      [["doc", "asc"], ["name", "asc"]],
      [["doc", "desc"]],
    ];
    await store.find(labels, {}); // (reads back the flushed rows)
    const replayed: number[][] = [];
    db.reset();
    for (const orderBy of orders) {
      for (const limit of [undefined, 3]) {
        const found = await store.find(labels, {}, { orderBy, limit });
        replayed.push(found.map((r) => r.id));
      }
    }
    const asked = db.kinds();
    db.reset();
    const byId = await store.find(labels, {}, { orderBy: [["id", "desc"]] });
    assert.equal(byId[0]?.id, 99);
    const askedById = db.kinds();
    await store.flush();
    const inline = new SqlRecordStore(client, (t) => store.tableName(t));
    const expected: number[][] = [];
    for (const orderBy of orders) {
      for (const limit of [undefined, 3]) {
        const found = await inline.find(labels, {}, { orderBy, limit });
        expected.push(found.map((r) => r.id));
      }
    }
    assert.deepEqual(replayed, expected);
    // each find ordered by text or JSON asked the server once (no row was
    // written); other kinds are ordered in memory
    assert.deepEqual(asked, orders.flatMap(() => ["query", "query"]));
    assert.deepEqual(askedById, []);
  });

  test("flushEvery must be a positive integer", () => {
    for (const flushEvery of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () =>
          new ReplayRecordStore(
            {} as SqlClient,
            () => ({ schema: "s", name: "t" }),
            { flushEvery },
          ),
        RangeError,
      );
    }
    return Promise.resolve();
  });

  // --- the record store contract ---------------------------------------------

  // One store per test, driven as a replay drives it (a flush whenever more
  // than one row is held after a call), so later calls read back rows
  // earlier ones flushed; a unit is a replay continuing in a transaction.
  const viewSchema = `${b.schema}_view`;
  let ready: Promise<SqlClient> | undefined;
  const setup = () =>
    ready ??= (async () => {
      const client = await b.client();
      await client.execute(
        `CREATE SCHEMA ${viewSchema};\n${
          ddl(recordStoreContractTables, viewSchema)
        }`,
      );
      return client;
    })();
  recordStoreContract(`ReplayRecordStore (${b.name})`, async () => {
    const client = await setup();
    await client.execute(truncateSql(recordStoreContractTables, viewSchema));
    const target = (t: RecordTable) => ({ schema: viewSchema, name: t.name });
    const store = new ReplayRecordStore(client, target, { flushEvery: 1 });
    return {
      store: betweenAggregates(store),
      unit: async (work) => {
        await store.flush();
        const result = await client.transaction(async (tx) => {
          const inUnit = new ReplayRecordStore(tx, target, {
            existingRows: true,
          });
          const out = await work(inUnit);
          await inUnit.flush();
          return out;
        });
        // raw SQL is how the store learns that rows changed behind it
        await store.executeSql("SELECT 1");
        return result;
      },
      sql: true,
      itemsTableName: `"${viewSchema}"."rs_items"`,
    };
  }, { testOptions: shared, knownGaps: REPLAY_GAPS });
}

/**
 * A replay store called as a replay calls it, each call standing for an
 * aggregate's events: after each, a flush if more than `flushEvery` rows
 * are held. Its writes are waited for, so none lands after its test.
 */
function betweenAggregates(store: ReplayRecordStore): RecordStore {
  const then = async <T>(call: Promise<T>): Promise<T> => {
    try {
      return await call;
    } finally {
      await store.flushIfFull();
      await store.written();
    }
  };
  return {
    insert: (t, rows) => then(store.insert(t, rows)),
    find: (t, where, options) => then(store.find(t, where, options)),
    update: (t, where, changes) => then(store.update(t, where, changes)),
    upsert: (t, where, values) => then(store.upsert(t, where, values)),
    delete: (t, where) => then(store.delete(t, where)),
    executeSql: (text, params) => then(store.executeSql(text, params)),
    tableName: (t) => store.tableName(t),
  };
}

disposeAtEnd(list);
