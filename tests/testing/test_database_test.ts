/**
 * The shared test database behind `testEventStore` when `DATABASE_URL` is
 * set: every store it hands out is empty, and the record tables asked for
 * exist, empty, as declared.
 */
import assert from "node:assert/strict";
import { column, table } from "@sequent/core";
import { databaseTestStore } from "../../src/testing/test_database.ts";
import { command, event, stream } from "../contract/event_store_contract.ts";

const url = Deno.env.get("DATABASE_URL") ?? "memory://";
const shared = { sanitizeOps: false, sanitizeResources: false } as const;

const tdNotes = table("td_notes", {
  id: column.uuid().primaryKey(),
  text: column.text(),
});
const tdNotesV2 = table("td_notes", {
  id: column.uuid().primaryKey(),
  text: column.text(),
  stars: column.integer().default(0),
});

Deno.test({
  name: "databaseTestStore() hands out an empty event store each time",
  ...shared,
  fn: async () => {
    const first = await databaseTestStore(url, []);
    const id = crypto.randomUUID();
    await first.transaction((tx) =>
      tx.commit(command(id), [stream(id, [event(id, 1)])])
    );
    assert.equal(await first.streamExists(id), true);
    const second = await databaseTestStore(url, []);
    assert.equal(await second.streamExists(id), false);
    const all = [];
    for await (const batch of second.readAllEvents()) all.push(...batch);
    assert.deepEqual(all, []);
  },
});

Deno.test({
  name:
    "databaseTestStore() creates the record tables asked for, empties them, and recreates one declared differently",
  ...shared,
  fn: async () => {
    const store = await databaseTestStore(url, [tdNotes]);
    const id = crypto.randomUUID();
    await store.records.insert(tdNotes, [{ id, text: "a" }]);
    assert.equal((await store.records.find(tdNotes, {})).length, 1);

    const again = await databaseTestStore(url, [tdNotes]);
    assert.deepEqual(await again.records.find(tdNotes, {}), []);

    const changed = await databaseTestStore(url, [tdNotesV2]);
    await changed.records.insert(tdNotesV2, [{ id, text: "b" }]);
    assert.deepEqual(await changed.records.find(tdNotesV2, { id }), [
      { id, text: "b", stars: 0 },
    ]);
  },
});
