/**
 * The event store contract on the embedded database and, when
 * `DATABASE_URL` is set, on a PostgreSQL server; then what is particular to
 * the PostgreSQL store: read-model writes travelling with the commits.
 */
import assert from "node:assert/strict";
import { column, DuplicateRecordError, table } from "@sequent/core";
import { PostgresEventStore } from "@sequent/core/postgres";
import {
  command,
  event,
  eventStoreContract,
  stream,
} from "../contract/event_store_contract.ts";
import { countingClient } from "./_counting_client.ts";
import { type Backend, backends, disposeAtEnd, shared } from "./_backends.ts";
import { createTableSql } from "@sequent/core/postgres";

const list = backends();
for (const b of list) {
  eventStoreContract(
    `PostgresEventStore (${b.name})`,
    async () => ({ store: await b.emptyStore() }),
    { testOptions: shared },
  );
}

const posts = table("posts", {
  id: column.uuid().primaryKey(),
  title: column.text(),
});

async function storeWithViews(b: Backend, viewSchema: string) {
  const client = countingClient(await b.client());
  await b.emptyStore();
  await client.execute(`
    DROP SCHEMA IF EXISTS ${viewSchema} CASCADE;
    CREATE SCHEMA ${viewSchema};
    ${createTableSql(posts, viewSchema)}`);
  client.reset();
  const store = new PostgresEventStore(client, {
    schema: b.schema,
    viewSchema,
    closeClient: false,
  });
  return { client, store };
}

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${b.name}: ${name}`, ...shared, fn });
  const viewSchema = `${b.schema}_view`;

  test("read-model writes in a unit travel with its commit in one transaction", async () => {
    const { client, store } = await storeWithViews(b, viewSchema);
    const a = crypto.randomUUID();
    await store.transaction(async (tx) => {
      await tx.commit(command(a), [stream(a, [event(a, 1)])]);
      await tx.records.insert(posts, [{ id: a, title: "Hello" }]);
    });
    assert.deepEqual(client.kinds(), [
      "transaction",
      "tx.enqueue",
      "tx.enqueue",
    ]);
    assert.deepEqual(await store.records.find(posts, { id: a }), [{
      id: a,
      title: "Hello",
    }]);
  });

  test("a unit reads its own read-model writes; a failed unit leaves none", async () => {
    const { store } = await storeWithViews(b, viewSchema);
    const a = crypto.randomUUID();
    let outside: unknown[] = ["not read"];
    await store.transaction(async (tx) => {
      await tx.commit(command(a), [stream(a, [event(a, 1)])]);
      await tx.records.insert(posts, [{ id: a, title: "Draft" }]);
      await tx.records.update(posts, { id: a }, { title: "Final" });
      assert.deepEqual(await tx.records.find(posts, { id: a }), [{
        id: a,
        title: "Final",
      }]);
      outside = await store.records.find(posts, { id: a });
    });
    assert.deepEqual(outside, []);
    const c = crypto.randomUUID();
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.records.insert(posts, [{ id: c, title: "Lost" }]);
        await tx.commit(command(c), [stream(c, [event(c, 1)])]);
        throw new Error("handler failed");
      }),
      /handler failed/,
    );
    assert.deepEqual(await store.records.find(posts, { id: c }), []);
    assert.equal(await store.streamExists(c), false);
  });

  test("a duplicate read-model row fails the unit with DuplicateRecordError and stores nothing", async () => {
    const { store } = await storeWithViews(b, viewSchema);
    const [a, c] = [crypto.randomUUID(), crypto.randomUUID()];
    await store.records.insert(posts, [{ id: a, title: "Taken" }]);
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.commit(command(c), [stream(c, [event(c, 1)])]);
        await tx.records.insert(posts, [{ id: a, title: "Again" }]);
      }),
      DuplicateRecordError,
    );
    assert.equal(await store.streamExists(c), false);
  });
}

disposeAtEnd(list);
