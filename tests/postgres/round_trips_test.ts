/**
 * How few statements and round trips the store needs: counted through a
 * wrapping client on both backends, and timed through a latency-adding
 * proxy on the server (each round trip then costs a known 60 ms).
 */
import assert from "node:assert/strict";
import {
  clearEventStore,
  connectDatabase,
  PostgresEventStore,
} from "@sequent/core/postgres";
import { command, event, stream } from "../contract/event_store_contract.ts";
import { countingClient } from "./_counting_client.ts";
import { latencyProxy } from "./_latency_proxy.ts";
import { backends, disposeAtEnd, serverUrl, shared } from "./_backends.ts";

const list = backends();

async function countingStore(b: (typeof list)[number]) {
  const client = countingClient(await b.client());
  await clearEventStore(client, { schema: b.schema });
  const store = new PostgresEventStore(client, {
    schema: b.schema,
    closeClient: false,
  });
  client.reset();
  return { client, store };
}

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${b.name}: ${name}`, ...shared, fn });

  test("a unit that commits once and reads nothing after is one statement, without BEGIN or COMMIT", async () => {
    const { client, store } = await countingStore(b);
    const a = crypto.randomUUID();
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1), event(a, 2)])])
    );
    assert.deepEqual(client.kinds(), ["query"]);
    assert.match(client.calls[0]!.texts[0]!, /store_commit/);
    assert.equal((await store.loadStreams([a]))[0]?.events.length, 2);
  });

  test("a unit that reads and then commits is the read plus one statement, without a transaction", async () => {
    const { client, store } = await countingStore(b);
    const a = crypto.randomUUID();
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1)])])
    );
    client.reset();
    await store.transaction(async (tx) => {
      const [loaded] = await tx.loadStreams([a]);
      const next = loaded!.events.length + 1;
      await tx.commit(command(a), [stream(a, [event(a, next)])]);
    });
    assert.deepEqual(client.kinds(), ["query", "query"]);
  });

  test("a unit that commits twice sends both commits as one statement, without BEGIN or COMMIT", async () => {
    const { client, store } = await countingStore(b);
    const [a, c] = [crypto.randomUUID(), crypto.randomUUID()];
    await store.transaction(async (tx) => {
      await tx.commit(command(a), [stream(a, [event(a, 1)])]);
      await tx.commit(command(c), [stream(c, [event(c, 1)])]);
    });
    assert.deepEqual(client.kinds(), ["query"]);
    assert.match(client.calls[0]!.texts[0]!, /store_commits/);
    assert.equal((await store.loadStreams([a, c])).length, 2);
  });

  test("a read after a commit sees it: the read runs speculatively after the commit, and the commit is stored at the end", async () => {
    const { client, store } = await countingStore(b);
    const a = crypto.randomUUID();
    await store.transaction(async (tx) => {
      await tx.commit(command(a), [stream(a, [event(a, 1)])]);
      assert.equal(await tx.streamExists(a), true);
    });
    // BEGIN, the commit, the read, ROLLBACK (one round trip); then the
    // commit alone, as the first write of its own transaction
    assert.deepEqual(client.kinds(), [
      "transaction",
      "tx.enqueue",
      "tx.query",
      "query",
    ]);
    assert.equal(await store.streamExists(a), true);
  });

  test("loading a batch of streams is one query", async () => {
    const { client, store } = await countingStore(b);
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    await store.transaction((tx) =>
      tx.commit(command(ids[0]!), ids.map((id) => stream(id, [event(id, 1)])))
    );
    client.reset();
    assert.equal((await store.loadStreams(ids)).length, 2);
    assert.deepEqual(client.kinds(), ["query"]);
  });

  test("type names travel once: later commits refer to the cached ids", async () => {
    const { client, store } = await countingStore(b);
    const a = crypto.randomUUID();
    const name = `Fresh_${crypto.randomUUID().slice(0, 8)}`;
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 1, {}, name)])])
    );
    await store.transaction((tx) =>
      tx.commit(command(a), [stream(a, [event(a, 2, {}, name)])])
    );
    // one unit's commits travel as a JSON array of them
    const [[first], [second]] = client.calls.map((c) =>
      JSON.parse(c.params[0] as string)
    );
    assert.deepEqual(first.n.e, [name]);
    assert.equal(first.s[0].e[0].t, name);
    assert.equal(second.n, undefined);
    assert.equal(typeof second.s[0].e[0].t, "number");
    assert.equal(typeof second.c.t, "number");
    const [loaded] = await store.loadStreams([a]);
    assert.deepEqual(loaded?.events.map((e) => e.eventType), [name, name]);
  });
}

const url = serverUrl;
if (url) {
  const server = list.find((b) => b.name === "server")!;
  Deno.test({
    name: "server: round trips measured through a proxy adding 30 ms each way",
    ...shared,
    fn: async () => {
      await server.client(); // installs the schema
      const target = new URL(url);
      const proxy = latencyProxy(Number(target.port || 5432), 30);
      target.port = String(proxy.port);
      const client = await connectDatabase(target.href, { max: 1 });
      const store = new PostgresEventStore(client, { schema: server.schema });
      try {
        let seq = 0;
        const a = crypto.randomUUID();
        const scenarios: Record<string, () => Promise<unknown>> = {
          "commit once": () =>
            store.transaction((tx) =>
              tx.commit(command(a), [stream(a, [event(a, ++seq)])])
            ),
          "read, then commit": () =>
            store.transaction(async (tx) => {
              await tx.loadStreams([a]);
              await tx.commit(command(a), [stream(a, [event(a, ++seq)])]);
            }),
          "commit twice": () =>
            store.transaction(async (tx) => {
              await tx.commit(command(a), [stream(a, [event(a, ++seq)])]);
              await tx.commit(command(a), [stream(a, [event(a, ++seq)])]);
            }),
          "commit, then read": () =>
            store.transaction(async (tx) => {
              await tx.commit(command(a), [stream(a, [event(a, ++seq)])]);
              await tx.loadStreams([a]);
            }),
          "load a stream": () => store.loadStreams([a]),
        };
        const expected: Record<string, number> = {
          "commit once": 1,
          "read, then commit": 2,
          "commit twice": 1,
          "commit, then read": 2,
          "load a stream": 1,
        };
        // Run each once first: a connection prepares a statement the first
        // time it sees it, which costs a round trip of its own.
        for (const run of Object.values(scenarios)) await run();
        // The fastest of three runs: on a busy machine a run can take a few
        // milliseconds longer, never a round trip less.
        const measured: Record<string, number> = {};
        for (const [name, run] of Object.entries(scenarios)) {
          let fastest = Infinity;
          for (let i = 0; i < 3; i++) {
            const start = performance.now();
            await run();
            fastest = Math.min(fastest, performance.now() - start);
          }
          measured[name] = Math.round(fastest / 60);
        }
        assert.deepEqual(measured, expected);
      } finally {
        await store.close();
        await proxy.close();
      }
    },
  });
}

disposeAtEnd(list);
