/**
 * Concurrency, faults and ordering: many units on one aggregate, unique key
 * races, a backend killed mid-commit, concurrent type registration, and
 * ordered reading that never skips a transaction still in progress.
 */
import assert from "node:assert/strict";
import {
  AggregateKeyNotUniqueError,
  OptimisticLockError,
  type SerializedEvent,
} from "@sequent/core";
import {
  connectDatabase,
  PostgresEventStore,
  type SqlClient,
  SqlError,
  type SqlValue,
} from "@sequent/core/postgres";
import { command, event, stream } from "../contract/event_store_contract.ts";
import { backends, disposeAtEnd, serverUrl, shared } from "./_backends.ts";

const list = backends();

async function readAll(store: PostgresEventStore): Promise<SerializedEvent[]> {
  const all: SerializedEvent[] = [];
  for await (const batch of store.readAllEvents({ batchSize: 2 })) {
    all.push(...batch);
  }
  return all;
}

/**
 * A unit on its own connection that stores the first event of `aggregateId`
 * (of type `eventType`) as its first write and stays open until released:
 * its transaction id is taken, its events are not yet committed.
 */
async function openUnit(
  client: SqlClient,
  schema: string,
  aggregateId: string,
  eventType: string,
): Promise<{ release: () => void; done: Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  let opened!: () => void;
  const isOpen = new Promise<void>((r) => opened = r);
  const done = client.transaction(async (tx) => {
    await tx.query(`SELECT ${schema}.store_commits($1::text::jsonb)`, [
      JSON.stringify([{
        c: {
          t: "Contract_Do",
          u: null,
          a: aggregateId,
          ea: null,
          es: null,
          p: {},
        },
        s: [{
          a: aggregateId,
          t: "Contract_Thing",
          k: "",
          h: null,
          u: null,
          e: [{ s: 1, c: new Date().toISOString(), t: eventType, p: {} }],
        }],
        n: { e: [eventType], a: ["Contract_Thing"], c: ["Contract_Do"] },
      }]),
    ]);
    opened();
    await released;
  });
  await Promise.race([isOpen, done]);
  return { release, done };
}

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${b.name}: ${name}`, ...shared, fn });

  test("16 concurrent units appending to one aggregate: a contiguous stream of exactly the units that succeeded", async () => {
    const store = await b.emptyStore();
    const a = crypto.randomUUID();
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1, { unit: -1 })])])
    );
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, unit) =>
        store.transaction(async (tx) => {
          const [loaded] = await tx.loadStreams([a]);
          const next = loaded!.events.at(-1)!.sequenceNumber + 1;
          await tx.commit(command(a), [stream(a, [event(a, next, { unit })])]);
        })),
    );
    const succeeded = results.flatMap((r, unit) =>
      r.status === "fulfilled" ? [unit] : []
    );
    const failed = results.filter((r) => r.status === "rejected");
    assert.ok(succeeded.length >= 1);
    for (const f of failed) {
      const reason = (f as PromiseRejectedResult).reason;
      assert.ok(reason instanceof OptimisticLockError, String(reason));
      assert.equal(reason.aggregateId, a);
    }
    const [loaded] = await store.loadStreams([a]);
    const events = loaded!.events;
    assert.deepEqual(
      events.map((e) => e.sequenceNumber),
      Array.from({ length: succeeded.length + 1 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      events.slice(1).map((e) => JSON.parse(e.payload).unit).sort((x, y) =>
        x - y
      ),
      succeeded,
    );
  });

  test("two aggregates claiming one unique key at once: exactly one wins", async () => {
    const store = await b.emptyStore();
    for (let round = 0; round < 10; round++) {
      const key = `taken-${round}`;
      const ids = [crypto.randomUUID(), crypto.randomUUID()];
      const results = await Promise.allSettled(
        ids.map((id) =>
          store.transaction((tx) =>
            tx.commit(command(id), [
              stream(id, [event(id, 1)], { uniqueKeys: { name: key } }),
            ])
          )
        ),
      );
      const winners = ids.filter((_, i) => results[i]!.status === "fulfilled");
      assert.equal(winners.length, 1, `round ${round}`);
      const loser = results.find((r) =>
        r.status === "rejected"
      ) as PromiseRejectedResult;
      assert.ok(loser.reason instanceof AggregateKeyNotUniqueError);
      assert.equal(loser.reason.scope, "name");
      assert.equal(loser.reason.key, key);
      assert.equal(
        await store.findAggregateIdByUniqueKey("name", key),
        winners[0],
      );
      const loserId = ids.find((id) => id !== winners[0])!;
      assert.equal(await store.streamExists(loserId), false);
    }
  });

  test("stores with cold caches registering the same new type names at once all succeed", async () => {
    const client = await b.client();
    await b.emptyStore();
    const names = Array.from(
      { length: 5 },
      (_, i) => `Race_${crypto.randomUUID().slice(0, 6)}_${i}`,
    );
    const stores = Array.from(
      { length: 4 },
      () =>
        new PostgresEventStore(client, {
          schema: b.schema,
          closeClient: false,
        }),
    );
    const ids = stores.map(() => crypto.randomUUID());
    await Promise.all(
      stores.map((store, i) =>
        store.transaction((tx) =>
          tx.commit(command(ids[i]!, { commandType: names[0]! }), [
            stream(
              ids[i]!,
              names.map((name, n) => event(ids[i]!, n + 1, {}, name)),
              {
                aggregateType: names[1]!,
              },
            ),
          ])
        )
      ),
    );
    const rows = await client.query<{ type: string }>(
      `SELECT type FROM ${b.schema}.event_types WHERE type = ANY($1::text::text[])`,
      [`{${names.join(",")}}`],
    );
    assert.equal(rows.length, names.length);
    for (const [i, store] of stores.entries()) {
      const [loaded] = await store.loadStreams([ids[i]!]);
      assert.deepEqual(loaded?.events.map((e) => e.eventType), names);
      assert.equal(loaded?.aggregateType, names[1]);
    }
  });

  test("a type registered by a unit that failed is not cached", async () => {
    const store = await b.emptyStore();
    const a = crypto.randomUUID();
    const name = `Doomed_${crypto.randomUUID().slice(0, 8)}`;
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1)])])
    );
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.commit(command(a), [stream(a, [event(a, 2, {}, name)])]);
        await tx.commit(command(a), [stream(a, [event(a, 2)])]);
      }),
      OptimisticLockError,
    );
    const c = crypto.randomUUID();
    await store.transaction((tx) =>
      tx.commit(command(c), [stream(c, [event(c, 1, {}, name)])])
    );
    const [loaded] = await store.loadStreams([c]);
    assert.equal(loaded?.events[0]?.eventType, name);
  });

  test("a dry run runs its commits, reports their errors, and stores nothing", async () => {
    const store = await b.emptyStore();
    const a = crypto.randomUUID();
    await store.transaction(
      (tx) => tx.commit(command(a), [stream(a, [event(a, 1)])]),
      { rollback: true },
    );
    assert.equal(await store.streamExists(a), false);
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1)])])
    );
    await assert.rejects(
      store.transaction(
        (tx) => tx.commit(command(a), [stream(a, [event(a, 1)])]),
        { rollback: true },
      ),
      OptimisticLockError,
    );
    await store.transaction(async (tx) => {
      await tx.commit(command(a), [stream(a, [event(a, 2)])]);
      assert.equal((await tx.loadStreams([a]))[0]?.events.length, 2);
    }, { rollback: true });
    assert.equal((await store.loadStreams([a]))[0]?.events.length, 1);
  });
}

const url = serverUrl;
if (url) {
  const server = list.find((b) => b.name === "server")!;

  Deno.test({
    name:
      "server: a backend killed mid-commit fails the command clearly, stores nothing, and the next commit succeeds",
    ...shared,
    fn: async () => {
      const store = await server.emptyStore();
      const admin = await connectDatabase(url, { max: 2 });
      try {
        const a = crypto.randomUUID();
        await store.transaction((tx) =>
          tx.commit(command(a), [stream(a, [event(a, 1)])])
        );
        const [{ n: commandsBefore }] = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${server.schema}.commands`,
        ) as [{ n: number }];
        // Hold the aggregate's row so that the commit waits inside the
        // server, then terminate the backend running it.
        let locked!: () => void;
        const isLocked = new Promise<void>((r) => locked = r);
        const killed = admin.transaction(async (tx) => {
          await tx.query(
            `SELECT 1 FROM ${server.schema}.aggregates WHERE aggregate_id = $1 FOR UPDATE`,
            [a],
          );
          locked();
          let pid: number | undefined;
          for (let i = 0; i < 200 && pid === undefined; i++) {
            await new Promise((r) => setTimeout(r, 10));
            const [row] = await admin.query<{ pid: number }>(
              `SELECT pid FROM pg_stat_activity
               WHERE query LIKE '%store_commit%' AND wait_event_type = 'Lock'
                 AND datname = current_database()`,
            );
            pid = row?.pid;
          }
          assert.ok(pid, "the commit is waiting for the lock");
          await admin.query("SELECT pg_terminate_backend($1)", [pid]);
        });
        await isLocked;
        const commit = store.transaction((tx) =>
          tx.commit(command(a), [stream(a, [event(a, 2, { doomed: true })])])
        );
        const [outcome] = await Promise.allSettled([commit, killed]);
        assert.equal(outcome.status, "rejected");
        const error = (outcome as PromiseRejectedResult).reason;
        assert.ok(error instanceof SqlError, String(error));
        assert.ok(error.isConnectionError, `${error.code}: ${error.message}`);
        assert.match(error.message, /127\.0\.0\.1:5432|terminat/);
        assert.equal(error.message.includes("\n"), false);
        const [loaded] = await store.loadStreams([a]);
        assert.deepEqual(loaded?.events.map((e) => e.sequenceNumber), [1]);
        const [{ n: commandsAfter }] = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${server.schema}.commands`,
        ) as [{ n: number }];
        assert.equal(commandsAfter, commandsBefore);
        await store.transaction((tx) =>
          tx.commit(command(a), [stream(a, [event(a, 2, { retried: true })])])
        );
        const [again] = await store.loadStreams([a]);
        assert.deepEqual(JSON.parse(again!.events[1]!.payload), {
          retried: true,
        });
      } finally {
        await admin.close();
      }
    },
  });

  Deno.test({
    name:
      "server: a reader filtering by event type does not pass over the first events of a type registered while it reads",
    ...shared,
    fn: async () => {
      await server.emptyStore();
      const client = await server.client();
      const id = crypto.randomUUID();
      // the first event of a type never stored before, not yet committed
      const unit = await openUnit(
        client,
        server.schema,
        id,
        "Contract_Brand_New",
      );
      let committed: Promise<void> | undefined;
      // the reader's client lets the writer commit the moment any lookup of
      // type names returns: a reader that looks the type up before it reads
      // the events sees no such type, then sees its events committed
      const reader = new PostgresEventStore(
        new Proxy(client, {
          get(target, key, receiver) {
            if (key !== "query") return Reflect.get(target, key, receiver);
            return async (text: string, params?: readonly SqlValue[]) => {
              const rows = await target.query(text, params);
              if (
                committed === undefined && text.includes("event_types") &&
                !text.includes("xact_id")
              ) {
                unit.release();
                committed = unit.done;
                await committed;
              }
              return rows;
            };
          },
        }),
        { schema: server.schema, closeClient: false },
      );
      try {
        let after = "";
        const seen: string[] = [];
        for (let round = 0; round < 50; round++) {
          const batch = await reader.readEvents(after, {
            limit: 10,
            eventTypes: ["Contract_Brand_New"],
          });
          seen.push(...batch.events.map((e) => e.aggregateId));
          after = batch.next;
          if (seen.length > 0) break;
          // no lookup came before the read: let the writer commit now
          if (committed === undefined) {
            unit.release();
            committed = unit.done;
            await committed;
          }
        }
        assert.deepEqual(seen, [id]);
      } finally {
        unit.release();
        await unit.done;
      }
    },
  });

  Deno.test({
    name:
      "server: a transaction still running is read later, never skipped, and does not hold back readAllEvents",
    ...shared,
    fn: async () => {
      const store = await server.emptyStore();
      const [slow, fast] = [crypto.randomUUID(), crypto.randomUUID()];
      const mark = await store.positionMark();
      // A transaction that stores its events, then goes on (as one with
      // slow read-model writes would): its transaction id is older than the
      // next one's, and it commits after it.
      const slowUnit = await openUnit(
        await server.client(),
        server.schema,
        slow,
        "Contract_Happened",
      );
      try {
        await store.transaction((tx) =>
          tx.commit(command(fast), [stream(fast, [event(fast, 1)])])
        );
        // Everything committed so far, although an older transaction runs.
        assert.deepEqual((await readAll(store)).map((e) => e.aggregateId), [
          fast,
        ]);
        assert.deepEqual(
          (await store.eventsSince(mark)).map((e) => e.aggregateId),
          [fast],
        );
      } finally {
        slowUnit.release();
        await slowUnit.done;
      }
      // Once it commits, its events come first: its transaction is older.
      assert.deepEqual((await readAll(store)).map((e) => e.aggregateId), [
        slow,
        fast,
      ]);
      assert.deepEqual(
        (await store.eventsSince(mark)).map((e) => e.aggregateId),
        [slow, fast],
      );
    },
  });
}

disposeAtEnd(list);
