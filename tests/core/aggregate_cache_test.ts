/**
 * The aggregate cache: its bounds, and the command service keeping
 * aggregates between units of work on every store (memory, PGlite, and
 * the server when `DATABASE_URL` names one) without ever serving a stale
 * one.
 */
import assert from "node:assert/strict";
import {
  AggregateNotFoundError,
  CommandService,
  type EventStore,
  OptimisticLockError,
} from "@sequent/core";
import {
  assertEverySawTheLast,
  Ledger,
  LedgerHandler,
  type Loads,
  observed,
  OpenLedger,
  WriteEntry,
} from "./_ledger.ts";
import { AggregateCache } from "../../src/core/aggregate_cache.ts";
import { storeBackends } from "../postgres/_store_backends.ts";
import { shared } from "../postgres/_backends.ts";

// --- the cache itself ---------------------------------------------------------

const [A, B, C] = [1, 2, 3].map(() => crypto.randomUUID());

Deno.test("AggregateCache holds at most its capacity, forgetting the least recently kept first", () => {
  const cache = new AggregateCache(2);
  const [a, b, c] = [A, B, C].map((id) => Ledger.open(id!));
  cache.keep(a!);
  cache.keep(b!);
  cache.keep(a!); // a is now the most recent
  cache.keep(c!);
  assert.equal(cache.size, 2);
  assert.equal(cache.take(B!), undefined);
  assert.equal(cache.take(A!), a);
  assert.equal(cache.take(C!), c);
});

Deno.test("AggregateCache.take() hands an aggregate to one unit only", () => {
  const cache = new AggregateCache(10);
  const a = Ledger.open(A!);
  cache.keep(a);
  assert.equal(cache.take(A!), a);
  assert.equal(cache.take(A!), undefined);
  assert.equal(cache.size, 0);
});

Deno.test("AggregateCache.keep() keeps the later of two instances of one aggregate", () => {
  const cache = new AggregateCache(10);
  const older = Ledger.open(A!);
  const later = Ledger.open(A!);
  later.write("x");
  // given back by a unit that committed later, then by an earlier one
  cache.keep(later);
  cache.keep(older);
  assert.equal(cache.take(A!), later);
});

Deno.test("AggregateCache does not keep an aggregate with no event: it was never stored", () => {
  const cache = new AggregateCache(10);
  cache.keep(new Ledger(A!));
  assert.equal(cache.size, 0);
  assert.equal(cache.take(A!), undefined);
});

Deno.test("AggregateCache of capacity 0 holds nothing; a capacity that is not a non-negative integer is refused", () => {
  const cache = new AggregateCache(0);
  cache.keep(Ledger.open(A!));
  assert.equal(cache.size, 0);
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => new AggregateCache(bad),
      /aggregateCacheSize must be a non-negative integer, got/,
    );
  }
});

Deno.test("CommandService refuses an aggregateCacheSize that is not a non-negative integer", () => {
  assert.throws(
    () =>
      new CommandService({
        eventStore: {} as EventStore,
        commandHandlers: [],
        aggregateCacheSize: -1,
      }),
    /aggregateCacheSize must be a non-negative integer, got -1/,
  );
});

/** Resolves once `Date.now()` has moved on from when it was called. */
async function aMillisecondLater(): Promise<void> {
  const now = Date.now();
  while (Date.now() === now) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

// --- the command service with its cache, on every store -----------------------

const backends = storeBackends();

for (const b of backends.list) {
  const test = (name: string, fn: (store: EventStore) => Promise<void>) =>
    Deno.test({
      name: `aggregate cache (${b.name}): ${name}`,
      ...shared,
      fn: async () => fn(await b.emptyStore([])),
    });

  const service = (
    store: EventStore,
    options: { aggregateCacheSize?: number } = {},
    afterLoad?: () => Promise<void>,
  ) =>
    new CommandService({
      eventStore: store,
      commandHandlers: [new LedgerHandler(afterLoad)],
      aggregates: [Ledger],
      ...options,
    });

  test("the next command on an aggregate reads only the events stored after it", async (store) => {
    const loads: Loads = { full: 0, after: 0, afterEvents: 0 };
    const commands = service(observed(store, loads));
    const id = crypto.randomUUID();
    await commands.executeCommands(new OpenLedger({ aggregateId: id }));
    for (let i = 0; i < 5; i++) {
      await commands.executeCommands(
        new WriteEntry({ aggregateId: id, writer: "one" }),
      );
    }
    // the ledger was added by this service: never loaded in full; each read
    // gives the one event it holds last (still stored) and nothing after
    assert.deepEqual(loads, { full: 0, after: 5, afterEvents: 5 });
    await assertEverySawTheLast(store, id, 5);
  });

  test("two services over one store alternate commands on one aggregate, and every command sees the other's last event", async (store) => {
    const loadsA: Loads = { full: 0, after: 0, afterEvents: 0 };
    const loadsB: Loads = { full: 0, after: 0, afterEvents: 0 };
    const a = service(observed(store, loadsA));
    const bb = service(observed(store, loadsB));
    const id = crypto.randomUUID();
    await a.executeCommands(new OpenLedger({ aggregateId: id }));
    for (let i = 0; i < 10; i++) {
      const [writer, commands] = i % 2 ? ["b", bb] : ["a", a];
      await commands.executeCommands(
        new WriteEntry({ aggregateId: id, writer }),
      );
    }
    await assertEverySawTheLast(store, id, 10);
    // b loaded the ledger in full once, then each read the other's event
    // (each read after gives the event the aggregate holds last, then the
    // other's one)
    assert.deepEqual(loadsA, { full: 0, after: 5, afterEvents: 9 });
    assert.deepEqual(loadsB, { full: 1, after: 4, afterEvents: 8 });
  });

  test("an aggregate a failed command changed is not kept: the next command loads what was stored", async (store) => {
    const loads: Loads = { full: 0, after: 0, afterEvents: 0 };
    const commands = service(observed(store, loads));
    const id = crypto.randomUUID();
    await commands.executeCommands(new OpenLedger({ aggregateId: id }));
    await commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "one" }),
    );
    await assert.rejects(
      commands.executeCommands(
        new WriteEntry({ aggregateId: id, writer: "failed", fail: true }),
      ),
      /the handler failed after applying/,
    );
    await commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "two" }),
    );
    await assertEverySawTheLast(store, id, 2);
    assert.equal(loads.full, 1);
  });

  test("a dry run neither takes an aggregate from the cache nor gives one back", async (store) => {
    const loads: Loads = { full: 0, after: 0, afterEvents: 0 };
    const commands = service(observed(store, loads));
    const id = crypto.randomUUID();
    await commands.executeCommands(new OpenLedger({ aggregateId: id }));
    await commands.dryRun(new WriteEntry({ aggregateId: id, writer: "dry" }));
    assert.deepEqual(loads, { full: 1, after: 0, afterEvents: 0 });
    await commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "one" }),
    );
    assert.equal(loads.after, 1);
    await assertEverySawTheLast(store, id, 1);
  });

  test("a unit holding a kept aggregate that loses a race fails with OptimisticLockError, as without the cache; the next command reads the winner's event", async (store) => {
    // the slow unit takes the kept ledger and waits after loading it
    const loaded = Promise.withResolvers<void>();
    const go = Promise.withResolvers<void>();
    let hold = false;
    const loads: Loads = { full: 0, after: 0, afterEvents: 0 };
    const commands = service(observed(store, loads), {}, async () => {
      if (!hold) return;
      hold = false;
      loaded.resolve();
      await go.promise;
    });
    const id = crypto.randomUUID();
    await commands.executeCommands(new OpenLedger({ aggregateId: id }));
    await commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "one" }),
    );
    hold = true;
    const slow = commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "slow" }),
    );
    await loaded.promise;
    // the kept instance is the slow unit's: this one loads in full and wins
    await commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "fast" }),
    );
    assert.equal(loads.full, 1);
    go.resolve();
    await assert.rejects(slow, OptimisticLockError);
    await commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "after" }),
    );
    await assertEverySawTheLast(store, id, 3);
    const [stream] = await store.loadStreams([id]);
    assert.deepEqual(
      stream!.events.slice(1).map((e) => JSON.parse(e.payload).writer),
      ["one", "fast", "after"],
    );
  });

  test("a stream deleted since the cache took its aggregate is not served from it, nor built on when its id is used again", async (store) => {
    const commands = service(store);
    const id = crypto.randomUUID();
    await commands.executeCommands(new OpenLedger({ aggregateId: id }));
    await commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "before" }),
    );
    assert.equal(await store.deleteStream(id), 2);
    await assert.rejects(
      commands.executeCommands(
        new WriteEntry({ aggregateId: id, writer: "after" }),
      ),
      (error: unknown) => error instanceof AggregateNotFoundError,
    );
    // the id stored again: its new stream, not the deleted one's state
    await commands.executeCommands(new OpenLedger({ aggregateId: id }));
    await commands.executeCommands(
      new WriteEntry({ aggregateId: id, writer: "new" }),
    );
    const [stream] = await store.loadStreams([id]);
    const written = stream!.events.slice(1).map((e) => JSON.parse(e.payload));
    assert.deepEqual(written, [{ writer: "new", sawCount: 0, sawLast: "" }]);
  });

  test("a stream deleted and stored again with as many events, or more, is not served from the cache: the event it held last is another one now", async (store) => {
    const loads: Loads = { full: 0, after: 0, afterEvents: 0 };
    const commands = service(observed(store, loads));
    // another process, with a cache of its own
    const other = service(store);
    const [same, more] = [crypto.randomUUID(), crypto.randomUUID()];
    for (const id of [same, more]) {
      await commands.executeCommands(new OpenLedger({ aggregateId: id }));
      await commands.executeCommands(
        new WriteEntry({ aggregateId: id, writer: "old" }),
      );
      assert.equal(await store.deleteStream(id), 2);
    }
    // (events created in the millisecond of the deleted ones would not be
    // told apart from them: loaded rows carry no id)
    await aMillisecondLater();
    await other.executeCommands(new OpenLedger({ aggregateId: same }));
    await other.executeCommands(
      new WriteEntry({ aggregateId: same, writer: "new" }),
    );
    await other.executeCommands(new OpenLedger({ aggregateId: more }));
    for (const writer of ["new", "newer"]) {
      await other.executeCommands(
        new WriteEntry({ aggregateId: more, writer }),
      );
    }
    const before = { ...loads };
    for (const id of [same, more]) {
      await commands.executeCommands(
        new WriteEntry({ aggregateId: id, writer: "after" }),
      );
    }
    await assertEverySawTheLast(store, same, 2);
    await assertEverySawTheLast(store, more, 3);
    // each read the event under the sequence number it held (and, of the
    // longer stream, the one after), found it another, and loaded in full
    assert.deepEqual(
      {
        full: loads.full - before.full,
        after: loads.after - before.after,
        afterEvents: loads.afterEvents - before.afterEvents,
      },
      { full: 2, after: 2, afterEvents: 3 },
    );
  });

  test("aggregateCacheSize 0 keeps nothing: every command loads in full", async (store) => {
    const loads: Loads = { full: 0, after: 0, afterEvents: 0 };
    const commands = service(observed(store, loads), { aggregateCacheSize: 0 });
    const id = crypto.randomUUID();
    await commands.executeCommands(new OpenLedger({ aggregateId: id }));
    for (let i = 0; i < 3; i++) {
      await commands.executeCommands(
        new WriteEntry({ aggregateId: id, writer: "one" }),
      );
    }
    assert.deepEqual(loads, { full: 3, after: 0, afterEvents: 0 });
    await assertEverySawTheLast(store, id, 3);
  });

  test("loadStreams() with after gives only the later events, and refuses after with until or snapshotVersion", async (store) => {
    const commands = service(store, { aggregateCacheSize: 0 });
    const [x, y] = [crypto.randomUUID(), crypto.randomUUID()];
    for (const id of [x, y]) {
      await commands.executeCommands(new OpenLedger({ aggregateId: id }));
      for (let i = 0; i < 3; i++) {
        await commands.executeCommands(
          new WriteEntry({ aggregateId: id, writer: "w" }),
        );
      }
    }
    const after = new Map([[x, 2], [y, 4]]);
    const streams = await store.loadStreams([x, y], { after });
    const sequenceNumbers = streams
      .filter((s) => s.events.length > 0)
      .map((s) => [s.aggregateId, s.events.map((e) => e.sequenceNumber)]);
    assert.deepEqual(sequenceNumbers, [[x, [3, 4]]]);
    const [one] = await store.loadStreams([x], { after: new Map([[x, 3]]) });
    assert.deepEqual(one?.events.map((e) => e.sequenceNumber), [4]);
    await assert.rejects(
      store.loadStreams([x], { after, until: new Date() }),
      /"after" cannot be combined with "until"/,
    );
    await assert.rejects(
      store.loadStreams([x], { after, snapshotVersion: 1 }),
      /"after" cannot be combined with "snapshotVersion"/,
    );
    await assert.rejects(
      store.loadStreams([x], { after: new Map([[x, -1]]) }),
      /"after" of aggregate "[^"]+" must be a sequence number \(a non-negative integer\), got -1/,
    );
  });
}

backends.disposeAtEnd();
