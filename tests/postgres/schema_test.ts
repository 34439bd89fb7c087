/**
 * The installer (versioned, idempotent, safe to run concurrently), schema
 * names, clearing, and the partitioned events table.
 */
import assert from "node:assert/strict";
import { SequentError } from "@sequent/core";
import {
  clearEventStore,
  connectDatabase,
  EVENT_STORE_SCHEMA_VERSION,
  installEventStore,
  PostgresEventStore,
} from "@sequent/core/postgres";
import { command, event, stream } from "../contract/event_store_contract.ts";
import { backends, disposeAtEnd, freshSchema, shared } from "./_backends.ts";

const list = backends();

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${b.name}: ${name}`, ...shared, fn });

  test("installEventStore() creates the schema once; running it again changes nothing", async () => {
    const client = await b.client();
    const schema = freshSchema();
    try {
      assert.deepEqual(await installEventStore(client, { schema }), {
        schema,
        previousVersion: 0,
        version: EVENT_STORE_SCHEMA_VERSION,
      });
      assert.deepEqual(await installEventStore(client, { schema }), {
        schema,
        previousVersion: EVENT_STORE_SCHEMA_VERSION,
        version: EVENT_STORE_SCHEMA_VERSION,
      });
      const tables = await client.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables
         WHERE table_schema = $1 AND table_name NOT LIKE 'events_%' ORDER BY 1`,
        [schema],
      );
      assert.deepEqual(tables.map((t) => t.name), [
        "aggregate_types",
        "aggregate_unique_keys",
        "aggregates",
        "aggregates_that_need_snapshots",
        "command_types",
        "commands",
        "event_types",
        "events",
        "parked_aggregates",
        "processors",
        "saved_event_records",
        "schema_versions",
        "snapshot_records",
      ]);
    } finally {
      await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  test("concurrent installs of one schema all succeed", async () => {
    const schema = freshSchema();
    const clients = b.name === "pglite"
      ? [await b.client()]
      : await Promise.all([1, 2, 3].map(() => connectDatabase(b.url)));
    try {
      const results = await Promise.all(
        [0, 1, 2].map((i) =>
          installEventStore(clients[i % clients.length]!, { schema })
        ),
      );
      assert.deepEqual(results.map((r) => r.previousVersion).sort(), [
        0,
        EVENT_STORE_SCHEMA_VERSION,
        EVENT_STORE_SCHEMA_VERSION,
      ]);
    } finally {
      await clients[0]!.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      if (b.name !== "pglite") { for (const c of clients) await c.close(); }
    }
  });

  test("upgrading a version-1 store keeps its events and commands, gives each command an id, and then stores command ids at most once", async () => {
    const client = await b.client();
    const schema = freshSchema();
    try {
      assert.equal(
        (await installEventStore(client, { schema, upToVersion: 1 })).version,
        1,
      );
      // a commit as version 1's code stored it
      const a = crypto.randomUUID();
      await client.query(
        `SELECT ${schema}.store_commit($1::text::jsonb)`,
        [JSON.stringify({
          c: { t: "V1_Do", u: null, a, ea: null, es: null, p: { n: 1 } },
          s: [{
            a,
            t: "V1_Thing",
            k: "",
            h: null,
            u: null,
            e: [{ s: 1, c: new Date().toISOString(), t: "V1_Happened", p: {} }],
          }],
          n: { e: ["V1_Happened"], a: ["V1_Thing"], c: ["V1_Do"] },
        })],
      );
      assert.deepEqual(await installEventStore(client, { schema }), {
        schema,
        previousVersion: 1,
        version: EVENT_STORE_SCHEMA_VERSION,
      });
      const [row] = await client.query<{ n: number; ids: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT command_id)::int AS ids FROM ${schema}.commands`,
      );
      assert.deepEqual(row, { n: 1, ids: 1 });
      const store = new PostgresEventStore(client, {
        schema,
        closeClient: false,
      });
      const commandId = crypto.randomUUID();
      const b2 = crypto.randomUUID();
      await store.transaction((tx) =>
        tx.commit({ ...command(b2), commandId }, [stream(b2, [event(b2, 1)])])
      );
      assert.equal(await store.commandStored(commandId), true);
      const [loaded] = await store.loadStreams([a]);
      assert.equal(loaded?.events.length, 1);
    } finally {
      await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  test("a schema newer than the code is reported, not touched", async () => {
    const client = await b.client();
    const schema = freshSchema();
    try {
      await installEventStore(client, { schema });
      await client.query(
        `INSERT INTO ${schema}.schema_versions (version) VALUES (99)`,
      );
      await assert.rejects(
        installEventStore(client, { schema }),
        (error: unknown) =>
          error instanceof SequentError &&
          /version 99, newer than/.test(error.message),
      );
    } finally {
      await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  test("schema names must be plain lowercase identifiers", async () => {
    const client = await b.client();
    for (
      const schema of ['x"; DROP SCHEMA public; --', "Upper", "1st", "a-b", ""]
    ) {
      await assert.rejects(installEventStore(client, { schema }), TypeError);
      assert.throws(
        () => new PostgresEventStore(client, { schema }),
        TypeError,
      );
    }
  });

  test("clearEventStore() empties the store but keeps the type names", async () => {
    const client = await b.client();
    const store = await b.emptyStore();
    const a = crypto.randomUUID();
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1)])])
    );
    await clearEventStore(client, { schema: b.schema });
    assert.equal(await store.streamExists(a), false);
    const [row] = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${b.schema}.event_types`,
    );
    assert.ok(row!.n >= 1);
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1)])])
    );
    assert.equal(await store.streamExists(a), true);
  });

  test("events are partitioned by partition key; a changed key moves an aggregate's events", async () => {
    const client = await b.client();
    const store = await b.emptyStore();
    await client.execute(`
      CREATE TABLE IF NOT EXISTS ${b.schema}.events_y2026 PARTITION OF ${b.schema}.events
        FOR VALUES FROM ('Y2026') TO ('Y2027')`);
    const a = crypto.randomUUID();
    await store.transaction((tx) =>
      tx.commit(command(a), [
        stream(a, [event(a, 1)], { partitionKey: "Y2026-03" }),
      ])
    );
    const where = async () =>
      (await client.query<{ p: string }>(
        `SELECT tableoid::regclass::text AS p FROM ${b.schema}.events WHERE aggregate_id = $1`,
        [a],
      )).map((r) => r.p);
    assert.deepEqual(await where(), [`${b.schema}.events_y2026`]);
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 2)], { partitionKey: "" })])
    );
    assert.deepEqual(await where(), [
      `${b.schema}.events_default`,
      `${b.schema}.events_default`,
    ]);
    const [loaded] = await store.loadStreams([a]);
    assert.equal(loaded?.partitionKey, "");
    assert.deepEqual(loaded?.events.map((e) => e.sequenceNumber), [1, 2]);
    assert.deepEqual(await store.archivedEvents(a), []);
    assert.equal(await store.deleteStream(a), 2);
    await client.execute(`DROP TABLE ${b.schema}.events_y2026`);
  });
}

disposeAtEnd(list);
