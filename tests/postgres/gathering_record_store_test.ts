/**
 * The record store a processor's batch writes through: the record store
 * contract with each call in a transaction, then what gathering changes
 * (fewer statements) and what it must not change (order, errors, values),
 * on PGlite and the server.
 */
import assert from "node:assert/strict";
import { DuplicateRecordError } from "@sequent/core";
import { type SqlClient, SqlRecordStore } from "@sequent/core/postgres";
import { GatheringRecordStore } from "../../src/postgres/_gathering_record_store.ts";
import {
  recordStoreContract,
  recordStoreContractTables,
  rsItems,
  rsTyped,
} from "../contract/record_store_contract.ts";
import { countingClient } from "./_counting_client.ts";
import { ddl, truncateSql } from "./_record_tables.ts";
import { backends, disposeAtEnd, shared } from "./_backends.ts";

/**
 * Runs `work` on a gathering store in one transaction, flushed and read
 * from at the end.
 */
async function inBatch<T>(
  client: SqlClient,
  schema: string,
  work: (store: GatheringRecordStore) => Promise<T>,
): Promise<T> {
  return await client.transaction(async (tx) => {
    const store = new GatheringRecordStore(tx, schema);
    const result = await work(store);
    await store.flush();
    // a read sends what is queued, and names a clash as the store's error
    await store.executeSql("SELECT 1");
    return result;
  });
}

const list = backends();
for (const b of list) {
  const viewSchema = `${b.schema}_gather`;
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
  const empty = async () => {
    const client = await setup();
    await client.execute(truncateSql(recordStoreContractTables, viewSchema));
    return client;
  };

  recordStoreContract(`GatheringRecordStore (${b.name})`, async () => {
    const client = await empty();
    return {
      store: new GatheringRecordStore(client, viewSchema),
      unit: (work) => inBatch(client, viewSchema, work),
      sql: true,
      itemsTableName: `"${viewSchema}"."rs_items"`,
    };
  }, { testOptions: shared });

  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `GatheringRecordStore (${b.name}): ${name}`,
      ...shared,
      fn,
    });

  test("rows created and filled in by key go out as a few multi-row INSERTs, with the same result", async () => {
    const client = await empty();
    const counting = countingClient(client);
    const ids = Array.from({ length: 300 }, () => crypto.randomUUID());
    await inBatch(counting, viewSchema, async (store) => {
      for (const [i, id] of ids.entries()) {
        await store.insert(rsItems, [{ id, name: `n${i}` }]);
        await store.update(rsItems, { id }, { amount: i });
        await store.update(rsItems, { id }, { note: `note ${i}` });
      }
    });
    const inserts = counting.calls.filter((c) => c.kind === "tx.enqueue");
    // 300 rows: 256 + 32 + 8 + 4, each a power of two
    assert.deepEqual(
      inserts.map((c) => c.params.length / rsItems.columnNames.length),
      [256, 32, 8, 4],
    );
    const rows = await new SqlRecordStore(client, viewSchema).find(rsItems, {});
    assert.equal(rows.length, 300);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const [i, id] of ids.entries()) {
      const row = byId.get(id);
      assert.deepEqual(
        [row?.name, row?.amount, row?.note],
        [`n${i}`, i, `note ${i}`],
      );
    }
  });

  test("rows inserted in key order and filled in out of it: each change lands on its own row, in one INSERT", async () => {
    const client = await empty();
    const counting = countingClient(client);
    const ids = Array.from({ length: 40 }, () => crypto.randomUUID()).sort();
    await inBatch(counting, viewSchema, async (store) => {
      for (const [i, id] of ids.entries()) {
        await store.insert(rsItems, [{ id, name: `n${i}` }]);
        // the row before the last, then the last
        if (i > 0) {
          await store.update(rsItems, { id: ids[i - 1]! }, { amount: i - 1 });
        }
        await store.update(rsItems, { id }, { note: `note ${i}` });
      }
      for (const [i, id] of [...ids.entries()].reverse()) {
        await store.update(rsItems, { id }, { name: `m${i}` });
      }
    });
    assert.deepEqual(
      counting.calls.filter((c) => c.kind === "tx.enqueue").map((c) =>
        c.params.length / rsItems.columnNames.length
      ),
      [32, 8],
    );
    const rows = await new SqlRecordStore(client, viewSchema).find(rsItems, {});
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const [i, id] of ids.entries()) {
      const row = byId.get(id);
      assert.deepEqual(
        [row?.name, row?.amount, row?.note],
        [`m${i}`, i < ids.length - 1 ? i : 0, `note ${i}`],
      );
    }
  });

  test("other calls see the gathered rows and run after them", async () => {
    const client = await empty();
    const [a, c] = [crypto.randomUUID(), crypto.randomUUID()];
    await inBatch(client, viewSchema, async (store) => {
      await store.insert(rsItems, [{ id: a, name: "a" }]);
      assert.deepEqual(
        (await store.find(rsItems, { id: a })).map((r) => r.name),
        ["a"],
      );
      await store.insert(rsItems, [{ id: c, name: "c" }]);
      // not by key: sent after the INSERTs, so it changes both rows
      await store.update(rsItems, { amount: 0 }, { amount: 7 });
      await store.insert(rsItems, [{ id: crypto.randomUUID(), name: "d" }]);
      await store.delete(rsItems, { name: "d" });
      const [{ n }] = await store.executeSql(
        `SELECT count(*)::int AS n FROM ${store.tableName(rsItems)}`,
      ) as [{ n: number }];
      assert.equal(n, 2);
    });
    const rows = await new SqlRecordStore(client, viewSchema).find(
      rsItems,
      {},
      {
        orderBy: [["name", "asc"]],
      },
    );
    assert.deepEqual(rows.map((r) => [r.name, r.amount]), [["a", 7], ["c", 7]]);
  });

  test("a bad value fails the call that wrote it, not the flush", async () => {
    const client = await empty();
    const a = crypto.randomUUID();
    await inBatch(client, viewSchema, async (store) => {
      await assert.rejects(
        store.insert(rsItems, [{ id: a, name: 42 as unknown as string }]),
        TypeError,
      );
      await store.insert(rsItems, [{ id: a, name: "a" }]);
      await assert.rejects(
        store.update(rsItems, { id: a }, {
          amount: "many" as unknown as number,
        }),
        TypeError,
      );
      await assert.rejects(
        store.update(rsItems, { id: a }, { name: "x\u0000y" }),
        /NUL/,
      );
    });
    assert.deepEqual(
      (await new SqlRecordStore(client, viewSchema).find(rsItems, {})).map((
        r,
      ) => [r.name, r.amount]),
      [["a", 0]],
    );
  });

  test("a key inserted twice fails the batch with DuplicateRecordError and stores nothing", async () => {
    const client = await empty();
    const a = crypto.randomUUID();
    await assert.rejects(
      inBatch(client, viewSchema, async (store) => {
        await store.insert(rsItems, [{ id: crypto.randomUUID(), name: "b" }]);
        await store.insert(rsItems, [{ id: a, name: "a" }]);
        await store.insert(rsItems, [{ id: a, name: "again" }]);
        await store.find(rsItems, {});
      }),
      (e: unknown) =>
        e instanceof DuplicateRecordError && e.table === "rs_items",
    );
    assert.deepEqual(
      await new SqlRecordStore(client, viewSchema).find(rsItems, {}),
      [],
    );
  });

  test("values are taken when written: changing an object afterwards changes nothing stored", async () => {
    const client = await empty();
    const json = { list: [1, 2] };
    const moment = new Date("2024-01-02T03:04:05.000Z");
    await inBatch(client, viewSchema, async (store) => {
      await store.insert(rsTyped, [{ id: 1, json, moment }]);
      const later = { list: [3] };
      await store.update(rsTyped, { id: 1 }, { json: later });
      later.list.push(4);
      json.list.push(3);
      moment.setTime(0);
    });
    const [row] = await new SqlRecordStore(client, viewSchema).find(rsTyped, {
      id: 1,
    });
    assert.deepEqual(row?.json, { list: [3] });
    assert.deepEqual(row?.moment, new Date("2024-01-02T03:04:05.000Z"));
  });

  test("on a client, each call goes straight to the database", async () => {
    const client = await empty();
    const counting = countingClient(client);
    const store = new GatheringRecordStore(counting, viewSchema);
    const a = crypto.randomUUID();
    await store.insert(rsItems, [{ id: a, name: "a" }]);
    await assert.rejects(
      store.insert(rsItems, [{ id: a, name: "again" }]),
      DuplicateRecordError,
    );
    assert.deepEqual(counting.kinds(), ["query", "query"]);
  });

  // the backend drops its own schemas at the end, not this one
  Deno.test({
    name: `${b.name}: drop the view schema of these tests`,
    ...shared,
    fn: async () => {
      if (!ready) return;
      await (await ready).execute(
        `DROP SCHEMA IF EXISTS ${viewSchema} CASCADE`,
      );
    },
  });
}

disposeAtEnd(list);
