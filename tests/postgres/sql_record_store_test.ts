/**
 * The record store contract on the SQL store, on PGlite and, when
 * `DATABASE_URL` names one, a PostgreSQL server: directly on the client,
 * and inside the event store's units of work (writes queued and sent with
 * the unit's next read or its end). Then what only SQL stores do.
 */
import assert from "node:assert/strict";
import { DuplicateRecordError } from "@sequent/core";
import {
  PostgresEventStore,
  type SqlClient,
  SqlRecordStore,
} from "@sequent/core/postgres";
import {
  recordStoreContract,
  recordStoreContractTables,
  rsItems,
} from "../contract/record_store_contract.ts";
import { countingClient } from "./_counting_client.ts";
import { backends, disposeAtEnd, shared } from "./_backends.ts";
import { ddl } from "./_record_tables.ts";
import { qualifiedTableName } from "@sequent/core/postgres";

const list = backends();
for (const b of list) {
  const viewSchema = `${b.schema}_view`;
  let ready:
    | Promise<{ client: SqlClient; events: PostgresEventStore }>
    | undefined;
  const setup = () =>
    ready ??= (async () => {
      const client = await b.client();
      await client.execute(
        `CREATE SCHEMA ${viewSchema};\n${
          ddl(recordStoreContractTables, viewSchema)
        };\n${ddl([rsItems], viewSchema, "_2")}`,
      );
      const events = new PostgresEventStore(client, {
        schema: b.schema,
        viewSchema,
        closeClient: false,
      });
      return { client, events };
    })();
  const empty = async () => {
    const { client, events } = await setup();
    await client.execute(
      `TRUNCATE ${
        [
          ...recordStoreContractTables.map((t) =>
            qualifiedTableName(t, viewSchema)
          ),
          qualifiedTableName(rsItems, viewSchema, "_2"),
        ]
          .join(", ")
      }`,
    );
    return { client, events };
  };

  recordStoreContract(`SqlRecordStore (${b.name})`, async () => {
    const { client, events } = await empty();
    return {
      store: new SqlRecordStore(client, viewSchema),
      unit: (work) => events.transaction((tx) => work(tx.records)),
      sql: true,
      itemsTableName: `"${viewSchema}"."rs_items"`,
    };
  }, { testOptions: shared });

  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `SqlRecordStore (${b.name}): ${name}`, ...shared, fn });

  test("in a transaction, writes are queued and travel with the next read", async () => {
    const { client } = await empty();
    const counting = countingClient(client);
    const [a, c] = [crypto.randomUUID(), crypto.randomUUID()];
    await counting.transaction(async (tx) => {
      const store = new SqlRecordStore(tx, viewSchema);
      await store.insert(rsItems, [{ id: a, name: "a" }]);
      await store.update(rsItems, { id: a }, { amount: 2 });
      await store.upsert(rsItems, { id: c }, { name: "c" });
      await store.delete(rsItems, { id: c });
      assert.deepEqual(counting.kinds(), [
        "transaction",
        "tx.enqueue",
        "tx.enqueue",
        "tx.enqueue",
        "tx.enqueue",
      ]);
      const rows = await store.find(rsItems, {});
      assert.deepEqual(rows.map((r) => [r.id, r.amount]), [[a, 2]]);
    });
    assert.equal(counting.kinds().at(-1), "tx.query");
  });

  test("a duplicate queued in a transaction fails the next read with DuplicateRecordError", async () => {
    const { client } = await empty();
    const a = crypto.randomUUID();
    await assert.rejects(
      client.transaction(async (tx) => {
        const store = new SqlRecordStore(tx, viewSchema);
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

  test("a table locator redirects every statement, and tableName() names the table it chose", async () => {
    const { client } = await empty();
    const store = new SqlRecordStore(
      client,
      (t) => qualifiedTableName(t, viewSchema, "_2"),
    );
    const base = new SqlRecordStore(client, viewSchema);
    const a = crypto.randomUUID();
    await store.insert(rsItems, [{ id: a, name: "moved" }]);
    await store.update(rsItems, { id: a }, { amount: 3 });
    await store.upsert(rsItems, { id: a }, { note: "n" });
    assert.deepEqual(
      (await store.find(rsItems, {})).map((r) => [r.name, r.amount, r.note]),
      [["moved", 3, "n"]],
    );
    assert.deepEqual(await base.find(rsItems, {}), []);
    assert.equal(store.tableName(rsItems), `"${viewSchema}"."rs_items_2"`);
    assert.deepEqual(
      await store.executeSql(
        `SELECT count(*)::int AS n FROM ${store.tableName(rsItems)}`,
      ),
      [{ n: 1 }],
    );
    await store.delete(rsItems, { id: a });
    assert.deepEqual(await store.find(rsItems, {}), []);
  });

  test("executeSql in a unit sees the unit's queued writes, and its own writes are undone with the unit", async () => {
    const { events } = await empty();
    const a = crypto.randomUUID();
    await assert.rejects(
      events.transaction(async (tx) => {
        await tx.records.insert(rsItems, [{ id: a, name: "queued" }]);
        const name = tx.records.tableName(rsItems);
        assert.deepEqual(
          await tx.records.executeSql(
            `SELECT name FROM ${name} WHERE id = $1`,
            [a],
          ),
          [{ name: "queued" }],
        );
        await tx.records.executeSql(`UPDATE ${name} SET amount = 5`);
        assert.deepEqual(
          (await tx.records.find(rsItems, { id: a })).map((r) => r.amount),
          [5],
        );
        throw new Error("undo");
      }),
      /undo/,
    );
    assert.deepEqual(await events.records.find(rsItems, {}), []);
    await events.records.insert(rsItems, [{ id: a, name: "stored" }]);
    await assert.rejects(
      events.transaction(async (tx) => {
        const name = tx.records.tableName(rsItems);
        await tx.records.executeSql(`UPDATE ${name} SET amount = 6`);
        throw new Error("undo the first statement too");
      }),
      /undo the first statement too/,
    );
    assert.deepEqual(
      (await events.records.find(rsItems, {})).map((r) => r.amount),
      [0],
    );
    await events.transaction(async (tx) => {
      const name = tx.records.tableName(rsItems);
      await tx.records.executeSql(`UPDATE ${name} SET amount = amount + 1`);
      await tx.records.executeSql(`UPDATE ${name} SET amount = amount * 10`);
    });
    assert.deepEqual(
      (await events.records.find(rsItems, {})).map((r) => r.amount),
      [10],
      "kept when the unit ends, each statement once",
    );
  });

  test("executeSql passes strings, numbers, bigints, booleans, Dates and null as parameters", async () => {
    const { client } = await empty();
    const store = new SqlRecordStore(client, viewSchema);
    const when = new Date("2024-05-06T07:08:09.010Z");
    const [row] = await store.executeSql(
      "SELECT $1::text AS s, $2::int AS n, $3::bigint::text AS b, $4::boolean AS t, $5::timestamptz AS d, $6::text AS z",
      ["s", 7, 9007199254740993n, true, when, null],
    );
    assert.deepEqual(row, {
      s: "s",
      n: 7,
      b: "9007199254740993",
      t: true,
      d: when,
      z: null,
    });
  });
}

disposeAtEnd(list);
