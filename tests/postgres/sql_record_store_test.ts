/**
 * The record store contract on the SQL store, on PGlite and, when
 * `DATABASE_URL` names one, a PostgreSQL server: directly on the client,
 * and inside the event store's units of work (writes queued and sent with
 * the unit's next read or its end). Then what only SQL stores do.
 */
import assert from "node:assert/strict";
import {
  CalendarDate,
  column,
  Decimal,
  DuplicateRecordError,
  table,
} from "@sequent/core";
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

  test("on a transaction others queue statements on too, an update after an insert runs after what they queued between", async () => {
    const { client } = await empty();
    const a = crypto.randomUUID();
    const items = qualifiedTableName(rsItems, viewSchema);
    await client.transaction(async (tx) => {
      const store = new SqlRecordStore(tx, viewSchema);
      await store.insert(rsItems, [{ id: a, name: "a", amount: 0 }]);
      tx.enqueue({
        text: `UPDATE ${items} SET amount = amount + 100 WHERE id = $1`,
        params: [a],
      });
      await store.update(rsItems, { id: a }, { amount: 5 });
    });
    assert.deepEqual(
      (await new SqlRecordStore(client, viewSchema).find(rsItems, {})).map((
        r,
      ) => r.amount),
      [5],
    );
  });

  test("in a unit of work, an update of the row just inserted goes out in its INSERT", async () => {
    const { client } = await empty();
    const counting = countingClient(client);
    const events = new PostgresEventStore(counting, {
      schema: b.schema,
      viewSchema,
      closeClient: false,
    });
    const a = crypto.randomUUID();
    counting.reset();
    await events.transaction(async (tx) => {
      await tx.records.insert(rsItems, [{ id: a, name: "draft" }]);
      await tx.records.update(rsItems, { id: a }, { name: "final" });
      await tx.records.update(rsItems, { id: a }, { amount: 2 });
    });
    assert.deepEqual(counting.kinds(), ["transaction", "tx.enqueue"]);
    assert.deepEqual(
      (await events.records.find(rsItems, {})).map((r) => [r.name, r.amount]),
      [["final", 2]],
    );
  });

  test("in a transaction, a Date given to a condition is taken when the call is made", async () => {
    const { client } = await empty();
    const [a, c] = [crypto.randomUUID(), crypto.randomUUID()];
    const at = (year: number) => new Date(Date.UTC(year, 0, 1));
    const store = new SqlRecordStore(client, viewSchema);
    await store.insert(rsItems, [
      { id: a, name: "a", createdAt: at(2024) },
      { id: c, name: "c", createdAt: at(2025) },
    ]);
    await client.transaction(async (tx) => {
      const queued = new SqlRecordStore(tx, viewSchema);
      const when = at(2024);
      await queued.delete(rsItems, { createdAt: when });
      // (were it sent as it is now, row c would go)
      when.setUTCFullYear(2025);
    });
    assert.deepEqual((await store.find(rsItems, {})).map((r) => r.name), [
      "c",
    ]);
  });

  test("a unique violation names the table as declared and its key by column, typed, whatever the table's physical name", async () => {
    const { client } = await empty();
    const keys = table("srs_keys", {
      id: column.integer().primaryKey(),
      big: column.bigint(),
      amount: column.decimal(),
      day: column.date(),
      at: column.dateTime(),
      doc: column.json(),
      flag: column.boolean(),
      ratio: column.float(),
    }, {
      indexes: [{
        columns: ["big", "amount", "day", "at", "doc", "flag", "ratio"],
        unique: true,
      }],
    });
    await client.execute(ddl([keys], viewSchema, "_v7"));
    const store = new SqlRecordStore(
      client,
      (t) => qualifiedTableName(t, viewSchema, "_v7"),
    );
    const row = {
      big: -(2n ** 63n),
      amount: Decimal.from("-1.50"),
      day: CalendarDate.parse("0001-01-01"),
      at: new Date("0099-06-15T12:00:00.001Z"),
      doc: { a: [1, "b, c"] },
      flag: false,
      ratio: -1e-300,
    };
    await store.insert(keys, [{ id: 1, ...row }]);
    for (const [units, write] of [[false, store], [true, undefined]] as const) {
      const error = await (units
        ? client.transaction(async (tx) => {
          const queued = new SqlRecordStore(
            tx,
            (t) => qualifiedTableName(t, viewSchema, "_v7"),
          );
          await queued.insert(keys, [{ id: 2, ...row }]);
          await queued.find(keys, {});
        })
        : write!.insert(keys, [{ id: 2, ...row }])).then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(error instanceof DuplicateRecordError, String(error));
      assert.equal(error.table, "srs_keys");
      assert.deepEqual(error.key, row);
    }
    await assert.rejects(
      store.insert(keys, [{ ...row, id: 1, big: 1n }]),
      (e: unknown) =>
        e instanceof DuplicateRecordError && e.table === "srs_keys" &&
        Object.keys(e.key).join() === "id" && e.key.id === 1,
    );
  });

  test("tables whose index names would once have clashed are created side by side", async () => {
    const { client } = await empty();
    const account = table("srs_account", {
      id: column.uuid().primaryKey(),
      holderName: column.text(),
    }, { indexes: [["holderName"]] });
    const holder = table("srs_account_holder", {
      id: column.uuid().primaryKey(),
      name: column.text(),
    }, { indexes: [["name"]] });
    const cycles = table("srs_subscription_billing_cycle_records", {
      id: column.uuid().primaryKey(),
      customerAccountId: column.uuid(),
      billingPeriodStart: column.date(),
      billingPeriodEnd: column.date(),
    }, {
      indexes: [
        ["customerAccountId", "billingPeriodStart"],
        ["customerAccountId", "billingPeriodEnd"],
      ],
    });
    const schema = `${viewSchema}_names`;
    await client.execute(`CREATE SCHEMA ${schema}`);
    try {
      await client.execute(ddl([account, holder, cycles], schema));
      const [{ n }] = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND indexname NOT LIKE '%_pkey'",
        [schema],
      ) as [{ n: number }];
      assert.equal(n, 4);
    } finally {
      await client.execute(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
}

disposeAtEnd(list);
