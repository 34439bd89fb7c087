/**
 * The snapshotter: one aggregate's snapshot, the aggregates the store
 * marked (with a limit, in batches), classes without snapshots, and
 * deleting snapshots of outdated versions; on the in-memory store, PGlite,
 * and the server in `DATABASE_URL`.
 */
import assert from "node:assert/strict";
import {
  AggregateNotFoundError,
  AggregateRepository,
  AggregateRoot,
  attrs,
  CommandService,
  Event,
  type EventStore,
  silentLogger,
  Snapshotter,
} from "@sequent/core";
import { storeRows } from "./_stored_rows.ts";
import { shared } from "../postgres/_backends.ts";
import { storeBackends } from "../postgres/_store_backends.ts";

class Snap_Ticked
  extends Event.define("Snap.Ticked", { by: attrs.integer() }) {}
class Snap_Noted extends Event.define("Snap.Noted", {}) {}

class Snap_Counter extends AggregateRoot {
  count = 0;
  restoredFrom: number | undefined;
  static {
    this.on(Snap_Ticked, (c, e) => {
      c.count += e.by ?? 1;
    });
    this.enableSnapshots({
      version: 2,
      threshold: 3,
      take: (c) => ({ count: c.count }),
      restore: (c, state) => {
        c.count = state.count;
        c.restoredFrom = state.count;
      },
    });
  }
}

/** An aggregate whose class takes no snapshots. */
class Snap_Plain extends AggregateRoot {
  static {
    this.on(Snap_Noted, () => {});
  }
}

/**
 * An aggregate and its event, declared afresh under names of `suffix`'s:
 * never built before their rows are read, as in a fresh process running
 * the snapshot task, which knows them only by their classes.
 */
function freshNamed(suffix: string) {
  class Renamed extends Event.define(`Snap.Renamed.${suffix}`, {
    name: attrs.string(),
  }) {}
  class Named extends AggregateRoot {
    static override readonly aggregateType = `Snap_Named_${suffix}`;
    name = "(none)";
    static {
      this.on(Renamed, (n, e) => {
        n.name = e.name ?? "";
      });
      this.enableSnapshots({
        version: 1,
        threshold: 1,
        take: (n) => ({ name: n.name }),
        restore: (n, state) => {
          n.name = state.name;
        },
      });
    }
  }
  return Named;
}

// An event whose type name another class in the process also uses (as
// another app's might): the process-wide catalog cannot tell which is
// meant, only the aggregate's own routes can.
class Snap_Labelled
  extends Event.define("Snap.Labelled", { label: attrs.string() }) {}
Event.define("Snap.Labelled", { other: attrs.integer() });
class Snap_Label extends AggregateRoot {
  label = "(none)";
  static {
    this.on(Snap_Labelled, (l, e) => {
      l.label = e.label ?? "";
    });
    this.enableSnapshots({
      version: 1,
      threshold: 1,
      take: (l) => ({ label: l.label }),
      restore: (l, state) => {
        l.label = state.label;
      },
    });
  }
}

function ticks(id: string, from: number, n: number): Snap_Ticked[] {
  return Array.from(
    { length: n },
    (_, i) =>
      new Snap_Ticked({ aggregateId: id, sequenceNumber: from + i, by: 1 }),
  );
}

/** Records the calls the snapshotter makes to the store. */
function spy(store: EventStore) {
  const calls: string[] = [];
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (key === "aggregatesNeedingSnapshots") {
          calls.push(`needing ${args[0]}`);
        }
        if (key === "storeSnapshots") {
          calls.push(`store ${(args[0] as unknown[]).length}`);
        }
        return value.apply(target, args);
      };
    },
  });
  return { proxy, calls };
}

const backends = storeBackends();

for (const b of backends.list) {
  const test = (
    name: string,
    fn: (store: EventStore, service: CommandService) => Promise<void>,
  ) =>
    Deno.test({
      name: `Snapshotter (${b.name}): ${name}`,
      ...shared,
      fn: async () => {
        const store = await b.emptyStore([]);
        const service = new CommandService({
          eventStore: store,
          commandHandlers: [],
          aggregates: [Snap_Counter, Snap_Plain],
          logger: silentLogger,
        });
        await fn(store, service);
      },
    });

  /** Stores `n` ticks for each of `count` new counters; returns their ids. */
  const counters = async (
    service: CommandService,
    count: number,
    n: number,
  ) => {
    const ids = Array.from({ length: count }, () => crypto.randomUUID());
    await service.commitEvents(
      ids.map((id) => ({
        aggregateClass: Snap_Counter,
        events: ticks(id, 1, n),
      })),
    );
    return ids;
  };

  test(
    "takeSnapshot stores the aggregate's state at its last event, and loads start from it",
    async (store, service) => {
      const [id] = await counters(service, 1, 2);
      const snapshotter = new Snapshotter({
        eventStore: store,
        aggregates: [Snap_Counter],
      });
      assert.equal(await snapshotter.takeSnapshot(id!), true);
      const snapshot = await store.loadLatestSnapshot(id!);
      assert.equal(snapshot?.sequenceNumber, 2);
      assert.equal(snapshot?.version, 2);
      assert.equal(snapshot?.aggregateType, "Snap_Counter");
      assert.deepEqual(JSON.parse(snapshot!.data), { count: 2 });
      await service.commitEvents([{
        aggregateClass: Snap_Counter,
        events: ticks(id!, 3, 1),
      }]);
      const counter = await new AggregateRepository(store, service.serializer)
        .loadAggregate(id!, Snap_Counter);
      assert.equal(counter.restoredFrom, 2);
      assert.equal(counter.count, 3);
    },
  );

  test(
    "takeSnapshot of an aggregate whose class takes none stores nothing; of a missing one fails",
    async (store, service) => {
      const id = crypto.randomUUID();
      await service.commitEvents([{
        aggregateClass: Snap_Plain,
        events: [new Snap_Noted({ aggregateId: id, sequenceNumber: 1 })],
      }]);
      const snapshotter = new Snapshotter({
        eventStore: store,
        aggregates: [Snap_Plain],
      });
      assert.equal(await snapshotter.takeSnapshot(id), false);
      assert.equal(await store.loadLatestSnapshot(id), undefined);
      await assert.rejects(
        snapshotter.takeSnapshot(crypto.randomUUID()),
        AggregateNotFoundError,
      );
    },
  );

  test(
    "takeMarkedSnapshots snapshots every aggregate past its threshold, and then has nothing left to do",
    async (store, service) => {
      const marked = await counters(service, 3, 3);
      const below = await counters(service, 1, 2);
      assert.equal((await store.aggregatesNeedingSnapshots(10)).length, 3);
      const snapshotter = new Snapshotter({
        eventStore: store,
        aggregates: [Snap_Counter],
      });
      assert.equal(await snapshotter.takeMarkedSnapshots(), 3);
      for (const id of marked) {
        assert.equal((await store.loadLatestSnapshot(id))?.sequenceNumber, 3);
      }
      assert.equal(await store.loadLatestSnapshot(below[0]!), undefined);
      assert.deepEqual(await store.aggregatesNeedingSnapshots(10), []);
      assert.equal(await snapshotter.takeMarkedSnapshots(), 0);
    },
  );

  test(
    "takeMarkedSnapshots takes at most limit snapshots, in batches of batchSize",
    async (store, service) => {
      await counters(service, 5, 3);
      const { proxy, calls } = spy(store);
      const snapshotter = new Snapshotter({
        eventStore: proxy,
        aggregates: [Snap_Counter],
      });
      assert.equal(
        await snapshotter.takeMarkedSnapshots({ limit: 3, batchSize: 2 }),
        3,
      );
      assert.deepEqual(calls, ["needing 2", "store 2", "needing 3", "store 1"]);
      assert.equal((await store.aggregatesNeedingSnapshots(10)).length, 2);
      calls.splice(0);
      assert.equal(await snapshotter.takeMarkedSnapshots({ batchSize: 1 }), 2);
      assert.deepEqual(calls, [
        "needing 1",
        "store 1",
        "needing 2",
        "store 1",
        "needing 3",
      ]);
      assert.equal(await snapshotter.takeMarkedSnapshots({ limit: 0 }), 0);
    },
  );

  test(
    "marked aggregates whose class takes no snapshots are skipped, not retried forever",
    async (store, service) => {
      const plain = crypto.randomUUID();
      await service.commitEvents([{
        aggregateClass: Snap_Plain,
        events: [new Snap_Noted({ aggregateId: plain, sequenceNumber: 1 })],
      }]);
      await store.markForSnapshotting([plain]);
      const [counter] = await counters(service, 1, 3);
      const snapshotter = new Snapshotter({
        eventStore: store,
        aggregates: [Snap_Counter, Snap_Plain],
      });
      assert.equal(await snapshotter.takeMarkedSnapshots({ batchSize: 1 }), 1);
      assert.equal(
        (await store.loadLatestSnapshot(counter!))?.sequenceNumber,
        3,
      );
      assert.equal(await store.loadLatestSnapshot(plain), undefined);
    },
  );

  test("takeMarkedSnapshots refuses a negative limit and a batch size below 1", async (store) => {
    const snapshotter = new Snapshotter({ eventStore: store });
    await assert.rejects(
      snapshotter.takeMarkedSnapshots({ limit: -1 }),
      RangeError,
    );
    for (const batchSize of [0, 1.5]) {
      await assert.rejects(
        snapshotter.takeMarkedSnapshots({ batchSize }),
        RangeError,
      );
    }
  });

  test(
    "deleteOutdatedSnapshots deletes snapshots of other versions than their class's, and keeps the rest",
    async (store, service) => {
      const [current, outdated] = await counters(service, 2, 3);
      const snapshotter = new Snapshotter({
        eventStore: store,
        aggregates: [Snap_Counter],
      });
      await snapshotter.takeSnapshot(current!);
      await store.storeSnapshots([{
        aggregateId: outdated!,
        aggregateType: "Snap_Counter",
        version: 1,
        sequenceNumber: 3,
        createdAt: new Date(),
        data: JSON.stringify({ count: 99 }),
      }]);
      assert.equal(
        await snapshotter.deleteOutdatedSnapshots([Snap_Counter, Snap_Plain]),
        1,
      );
      assert.equal((await store.loadLatestSnapshot(current!))?.version, 2);
      assert.equal(await store.loadLatestSnapshot(outdated!), undefined);
      assert.equal(
        await snapshotter.deleteOutdatedSnapshots([Snap_Counter]),
        0,
      );
    },
  );

  test(
    "a snapshotter reads an aggregate's stored events as the classes it routes on, with or without the aggregates option, before the process built any",
    async (store) => {
      for (const given of [true, false]) {
        // classes of its own for each: a load through one would tell the
        // process the other's
        const suffix = `${b.name}_${given}`;
        const Named = freshNamed(suffix);
        const id = crypto.randomUUID();
        await storeRows(store, `Snap_Named_${suffix}`, id, [
          { eventType: `Snap.Renamed.${suffix}`, payload: '{"name":"Ben"}' },
          { eventType: `Snap.Renamed.${suffix}`, payload: '{"name":"Ann"}' },
        ], 1);
        const snapshotter = new Snapshotter({
          eventStore: store,
          ...(given ? { aggregates: [Named] } : {}),
        });
        assert.equal(await snapshotter.takeMarkedSnapshots(), 1);
        const snapshot = await store.loadLatestSnapshot(id);
        assert.deepEqual(
          JSON.parse(snapshot?.data ?? "null"),
          { name: "Ann" },
          `aggregates ${given ? "given" : "left out"}`,
        );
      }
    },
  );

  test(
    "a snapshotter given aggregates reads their events as the classes they route on, whatever else the process declares under those names",
    async (store) => {
      const id = crypto.randomUUID();
      await storeRows(store, "Snap_Label", id, [
        { eventType: "Snap.Labelled", payload: '{"label":"draft"}' },
      ], 1);
      const snapshotter = new Snapshotter({
        eventStore: store,
        aggregates: [Snap_Label],
      });
      assert.equal(await snapshotter.takeMarkedSnapshots(), 1);
      const snapshot = await store.loadLatestSnapshot(id);
      assert.deepEqual(JSON.parse(snapshot?.data ?? "null"), {
        label: "draft",
      });
    },
  );
}

backends.disposeAtEnd();
