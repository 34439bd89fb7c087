/**
 * The record store contract on the in-memory store (inside units of work of
 * an InMemoryEventStore, whose transactions keep an undo journal), then
 * what only the in-memory store has: counts, resets, and its transactions
 * used directly.
 */
import assert from "node:assert/strict";
import {
  column,
  InMemoryEventStore,
  InMemoryRecordStore,
  SequentError,
  table,
} from "@sequent/core";
import {
  recordStoreContract,
  rsItems,
} from "../contract/record_store_contract.ts";

recordStoreContract("InMemoryRecordStore", () => {
  const events = new InMemoryEventStore();
  return Promise.resolve({
    store: events.records,
    unit: (work) => events.transaction((tx) => work(tx.records)),
    sql: false,
    itemsTableName: "rs_items",
  });
});

const notes = table("mrs_notes", {
  id: column.integer().primaryKey(),
  text: column.text(),
  tag: column.text().nullable(),
});

Deno.test("count(), tables() and rows() describe what is stored; reset() forgets one table or all", async () => {
  const store = new InMemoryRecordStore();
  assert.equal(store.count(), 0);
  await store.insert(notes, [{ id: 1, text: "a" }, { id: 2, text: "b" }]);
  await store.insert(rsItems, [{ id: crypto.randomUUID(), name: "x" }]);
  assert.equal(store.count(notes), 2);
  assert.equal(store.count(), 3);
  assert.deepEqual(new Set(store.tables()), new Set([notes, rsItems]));
  const rows = store.rows(notes);
  assert.deepEqual(rows.sort((a, b) => a.id - b.id), [
    { id: 1, text: "a", tag: null },
    { id: 2, text: "b", tag: null },
  ]);
  rows[0]!.text = "changed";
  assert.deepEqual((await store.find(notes, { id: 1 }))[0]?.text, "a");
  store.reset(notes);
  assert.equal(store.count(notes), 0);
  assert.equal(store.count(), 1);
  store.reset();
  assert.equal(store.count(), 0);
});

Deno.test("the event store's reset() empties its record tables too", async () => {
  const events = new InMemoryEventStore();
  await events.records.insert(notes, [{ id: 1, text: "a" }]);
  events.reset();
  assert.deepEqual(await events.records.find(notes, {}), []);
});

Deno.test("a transaction's writes show at once; rollback() undoes them newest first, indexes included", async () => {
  const store = new InMemoryRecordStore();
  await store.insert(notes, [{ id: 1, text: "one", tag: "t" }]);
  await store.find(notes, { tag: "t" }); // builds the tag index
  const tx = store.begin();
  await tx.update(notes, { id: 1 }, { tag: "u" });
  await tx.update(notes, { id: 1 }, { tag: "v", text: "uno" });
  await tx.insert(notes, [{ id: 2, text: "two", tag: "t" }]);
  await tx.update(notes, { id: 2 }, { id: 3 });
  await tx.delete(notes, { id: 1 });
  await tx.upsert(notes, { id: 1 }, { text: "reborn", tag: "v" });
  assert.deepEqual(
    (await store.find(notes, {}, { orderBy: [["id", "asc"]] })).map((r) => [
      r.id,
      r.text,
      r.tag,
    ]),
    [[1, "reborn", "v"], [3, "two", "t"]],
    "visible outside the transaction before it ends",
  );
  tx.rollback();
  assert.deepEqual(await store.find(notes, {}), [
    { id: 1, text: "one", tag: "t" },
  ]);
  assert.deepEqual((await store.find(notes, { tag: "t" })).map((r) => r.id), [
    1,
  ]);
  assert.deepEqual(await store.find(notes, { tag: ["u", "v"] }), []);
});

Deno.test("commit() keeps a transaction's writes; rollback() after it changes nothing", async () => {
  const store = new InMemoryRecordStore();
  const tx = store.begin();
  await tx.insert(notes, [{ id: 1, text: "kept" }]);
  tx.commit();
  tx.rollback();
  assert.equal(store.count(notes), 1);
});

Deno.test("an ended transaction refuses reads and writes", async () => {
  const store = new InMemoryRecordStore();
  for (const end of ["commit", "rollback"] as const) {
    const tx = store.begin();
    tx[end]();
    for (
      const use of [
        () => tx.insert(notes, [{ id: 9, text: "late" }]),
        () => tx.find(notes, {}),
        () => tx.update(notes, {}, { text: "late" }),
        () => tx.upsert(notes, { id: 9 }, { text: "late" }),
        () => tx.delete(notes, {}),
      ]
    ) {
      await assert.rejects(
        Promise.resolve().then(use as () => Promise<unknown>),
        (e: unknown) =>
          e instanceof SequentError &&
          /record transaction has ended/.test(e.message),
      );
    }
  }
  assert.equal(store.count(notes), 0);
});

Deno.test("a write that fails inside a transaction leaves the transaction's earlier writes to its rollback", async () => {
  const store = new InMemoryRecordStore();
  const tx = store.begin();
  await tx.insert(notes, [{ id: 1, text: "a" }]);
  await assert.rejects(tx.insert(notes, [{ id: 1, text: "again" }]));
  assert.equal(store.count(notes), 1, "the failed write changed nothing");
  tx.rollback();
  assert.equal(store.count(notes), 0);
});
