/**
 * The installer (versioned, idempotent, safe to run concurrently), schema
 * names, clearing, and the partitioned events table.
 */
import assert from "node:assert/strict";
import {
  DEFAULT_PARTITION_COUNT,
  partitionOf,
  SequentError,
} from "@sequent/core";
import { partitionHash } from "@sequent/core/internal";
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
        partitions: DEFAULT_PARTITION_COUNT,
      });
      assert.deepEqual(await installEventStore(client, { schema }), {
        schema,
        previousVersion: EVENT_STORE_SCHEMA_VERSION,
        version: EVENT_STORE_SCHEMA_VERSION,
        partitions: DEFAULT_PARTITION_COUNT,
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
        "processor_members",
        "processor_partitions",
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
        partitions: DEFAULT_PARTITION_COUNT,
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

  test("partition_hash() in SQL gives what partitionHash() gives, for every UUID tried", async () => {
    const client = await b.client();
    const ids = Array.from({ length: 2000 }, () => crypto.randomUUID());
    ids.push(
      "00000000-0000-0000-0000-000000000000",
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
      "80000000-8000-8000-8000-800000000000",
    );
    const rows = await client.query<{ id: string; h: string }>(
      `SELECT id::text AS id, ${b.schema}.partition_hash(id)::text AS h
       FROM unnest($1::text::uuid[]) AS id`,
      [`{${ids.join(",")}}`],
    );
    assert.equal(rows.length, ids.length);
    for (const row of rows) {
      assert.equal(Number(row.h), partitionHash(row.id), row.id);
    }
  });

  test("a store's partition count is fixed when it is created: another is refused, naming both, and changes nothing", async () => {
    const client = await b.client();
    const schema = freshSchema();
    try {
      for (const bad of [0, 1025, 2.5]) {
        await assert.rejects(
          installEventStore(client, { schema, partitions: bad }),
          (error: unknown) =>
            error instanceof RangeError && error.message.includes(`got ${bad}`),
        );
      }
      const [none] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`,
        [schema],
      );
      assert.equal(none?.n, 0);
      assert.equal(
        (await installEventStore(client, { schema, partitions: 16 }))
          .partitions,
        16,
      );
      const store = new PostgresEventStore(client, {
        schema,
        closeClient: false,
      });
      const ids = Array.from({ length: 40 }, () => crypto.randomUUID());
      for (const a of ids.slice(0, 20)) {
        await store.transaction((tx) =>
          tx.commit(command(a), [stream(a, [event(a, 1)])])
        );
      }
      await store.transaction((tx) =>
        tx.commit(
          command(ids[0]!),
          ids.slice(20).map((a) => stream(a, [event(a, 1)])),
        )
      );
      const batch = await store.readEvents("", { limit: 100 });
      assert.equal(batch.events.length, 40);
      for (const e of batch.events) {
        assert.equal(e.partition, partitionOf(e.aggregateId, 16));
      }
      await assert.rejects(
        installEventStore(client, { schema, partitions: 32 }),
        (error: unknown) =>
          error instanceof SequentError &&
          /has 16 partitions, fixed when it was created: it cannot have 32/
            .test(error.message),
      );
      assert.equal(
        (await installEventStore(client, { schema })).partitions,
        16,
      );
      assert.equal(
        (await installEventStore(client, { schema, partitions: 16 }))
          .partitions,
        16,
      );
    } finally {
      await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  test("upgrading a version-4 store gives every aggregate and event its partition, archives nothing, and later commits continue its streams", async () => {
    const client = await b.client();
    const schema = freshSchema();
    try {
      assert.equal(
        (await installEventStore(client, { schema, upToVersion: 4 }))
          .partitions,
        undefined,
      );
      const store = new PostgresEventStore(client, {
        schema,
        closeClient: false,
      });
      // several streams in one commit: version 4's store_commit takes them
      // (and ignores the partition hashes it does not know)
      const ids = Array.from({ length: 30 }, () => crypto.randomUUID());
      await store.transaction((tx) =>
        tx.commit(
          command(ids[0]!),
          ids.map((a) => stream(a, [event(a, 1), event(a, 2)])),
        )
      );
      assert.deepEqual(await installEventStore(client, { schema }), {
        schema,
        previousVersion: 4,
        version: EVENT_STORE_SCHEMA_VERSION,
        partitions: DEFAULT_PARTITION_COUNT,
      });
      const rows = await client.query<{ id: string; p: number; q: number }>(
        `SELECT e.aggregate_id::text AS id, e.partition AS p, a.partition AS q
         FROM ${schema}.events e JOIN ${schema}.aggregates a USING (aggregate_id)`,
      );
      assert.equal(rows.length, 60);
      for (const row of rows) {
        assert.equal(row.p, partitionOf(row.id));
        assert.equal(row.q, row.p);
      }
      const [archived] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${schema}.saved_event_records`,
      );
      assert.equal(archived?.n, 0);
      await store.transaction((tx) =>
        tx.commit(command(ids[0]!), [
          stream(ids[0]!, [event(ids[0]!, 3)]),
          stream(ids[1]!, [event(ids[1]!, 3)]),
        ])
      );
      const later = await store.readAggregateEvents(ids[1]!, 3, "9999999:0");
      assert.deepEqual(
        later.map((e) => [e.sequenceNumber, e.partition]),
        [[3, partitionOf(ids[1]!)]],
      );
    } finally {
      await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  /**
   * `store_commits` as a client calls it, with one event per stream: each
   * stream's aggregate, sequence number and partition hash (left out when
   * undefined).
   */
  const rawCommit = (
    streams: { a: string; s: number; q?: number }[],
  ): Promise<unknown> =>
    b.client().then((client) =>
      client.query(`SELECT ${b.schema}.store_commits($1::text::jsonb)`, [
        JSON.stringify([{
          c: {
            t: "Contract_Do",
            u: null,
            a: streams[0]!.a,
            ea: null,
            es: null,
            p: {},
          },
          s: streams.map(({ a, s, q }) => ({
            a,
            t: "Contract_Thing",
            k: "",
            ...(q === undefined ? {} : { q }),
            h: null,
            u: null,
            e: [{
              s,
              c: new Date().toISOString(),
              t: "Contract_Happened",
              p: {},
            }],
          })),
          n: {
            e: ["Contract_Happened"],
            a: ["Contract_Thing"],
            c: ["Contract_Do"],
          },
        }]),
      ])
    );

  test("a commit whose partition hash disagrees with its stored aggregate's is refused and stores nothing", async () => {
    const store = await b.emptyStore();
    const a = crypto.randomUUID();
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1)])])
    );
    const wrong = (partitionHash(a) + 1) % 2 ** 32;
    await assert.rejects(
      rawCommit([{ a, s: 2, q: wrong }]),
      /is in partition \d+, the commit computed partition \d+/,
    );
    const [loaded] = await store.loadStreams([a]);
    assert.equal(loaded?.events.length, 1);
  });

  test("a raw commit without partition hashes gets its partitions computed in SQL", async () => {
    const store = await b.emptyStore();
    const [a, c] = [crypto.randomUUID(), crypto.randomUUID()].sort();
    await rawCommit([{ a: a!, s: 1 }, { a: c!, s: 1 }]);
    await rawCommit([{ a: a!, s: 2 }]);
    const batch = await store.readEvents("", { limit: 10 });
    assert.equal(batch.events.length, 3);
    for (const e of batch.events) {
      assert.equal(e.partition, partitionOf(e.aggregateId));
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

  test("upgrading a version-6 store indexes its events by type and by creation time, for the browser's searches", async () => {
    const client = await b.client();
    const schema = freshSchema();
    const indexes = async () =>
      (await client.query<{ name: string; def: string }>(
        `SELECT indexname AS name, indexdef AS def FROM pg_indexes
         WHERE schemaname = $1 AND tablename = 'events'
           AND indexname IN ('events_event_type_id_xact_id_position_idx', 'events_created_at_idx')
         ORDER BY 1`,
        [schema],
      )).map((r) => `${r.name}: ${r.def.replace(/^.* USING btree /, "")}`);
    try {
      await installEventStore(client, { schema, upToVersion: 6 });
      assert.deepEqual(await indexes(), []);
      assert.equal(
        (await installEventStore(client, { schema })).version,
        EVENT_STORE_SCHEMA_VERSION,
      );
      assert.deepEqual(await indexes(), [
        "events_created_at_idx: (created_at)",
        'events_event_type_id_xact_id_position_idx: (event_type_id, xact_id, "position")',
      ]);
    } finally {
      await client.execute(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
}

disposeAtEnd(list);
