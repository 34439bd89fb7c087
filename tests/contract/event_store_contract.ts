/**
 * The contract every event store must pass. Each store's test file calls
 * `eventStoreContract` with a factory that gives an empty store, so the
 * in-memory store, the embedded database and a real server are held to the
 * same behaviour.
 */
import assert from "node:assert/strict";
import {
  AggregateKeyNotUniqueError,
  DuplicateCommandError,
  type EventStore,
  type JsonValue,
  OptimisticLockError,
  partitionOf,
  type SerializedCommand,
  type SerializedEvent,
  UnstorableTextError,
  type UnstorableTextLocation,
} from "@sequent/core";
import type {
  EventReader,
  ReplayEventsOptions,
  ReplayReader,
  SerializedSnapshot,
  StoredEvent,
  StreamCommit,
} from "@sequent/core/internal";

/** Gives an empty store, and how to dispose of it. */
export type StoreFactory<S = EventStore> = () => Promise<
  { store: S; dispose?: () => Promise<void> }
>;

/** Options of the contract run. */
export interface ContractOptions {
  /** Extra options passed to every Deno.test (e.g. sanitizers). */
  readonly testOptions?: Partial<Deno.TestDefinition>;
}

/**
 * The `test` of a contract run: registers a case, run on an empty store
 * from `factory`, named after the store.
 */
export function contractTest<S>(
  name: string,
  factory: StoreFactory<S>,
  options: ContractOptions = {},
): (title: string, fn: (store: S) => Promise<void>) => void {
  return (title, fn) =>
    Deno.test({
      ...options.testOptions,
      name: `${name}: ${title}`,
      fn: async () => {
        const { store, dispose } = await factory();
        try {
          await fn(store);
        } finally {
          await dispose?.();
        }
      },
    });
}

function id(): string {
  return crypto.randomUUID();
}

export function command(
  aggregateId: string,
  extra: Partial<SerializedCommand> = {},
): SerializedCommand {
  return {
    commandType: "Contract_Do",
    aggregateId,
    userId: undefined,
    eventAggregateId: undefined,
    eventSequenceNumber: undefined,
    payload: '{"n":1}',
    ...extra,
  };
}

export function event(
  aggregateId: string,
  sequenceNumber: number,
  payload: JsonValue = { n: sequenceNumber },
  eventType = "Contract_Happened",
  createdAt = new Date(),
): SerializedEvent {
  return {
    aggregateId,
    sequenceNumber,
    createdAt,
    eventType,
    payload: JSON.stringify(payload),
  };
}

export function stream(
  aggregateId: string,
  events: SerializedEvent[],
  extra: Partial<StreamCommit> = {},
): StreamCommit {
  return {
    aggregateId,
    aggregateType: "Contract_Thing",
    partitionKey: "",
    events,
    uniqueKeys: undefined,
    snapshotThreshold: undefined,
    ...extra,
  };
}

async function commit(
  store: EventStore,
  streams: StreamCommit[],
  cmd?: SerializedCommand,
): Promise<void> {
  await store.transaction((tx) =>
    tx.commit(cmd ?? command(streams[0]?.aggregateId ?? id()), streams)
  );
}

function payloads(events: readonly SerializedEvent[]): unknown[] {
  return events.map((e) => JSON.parse(e.payload));
}

async function allEvents(
  store: EventStore,
  options?: Parameters<EventStore["readAllEvents"]>[0],
): Promise<SerializedEvent[][]> {
  const batches: SerializedEvent[][] = [];
  for await (const batch of store.readAllEvents(options)) batches.push(batch);
  return batches;
}

/** The store as the replay port (every store implements it beside `EventStore`). */
function replayReader(store: EventStore): ReplayReader {
  assert.ok("replayEvents" in store && "replayBoundary" in store);
  return store as EventStore & ReplayReader;
}

async function replayed(
  store: EventStore,
  options?: ReplayEventsOptions,
): Promise<(readonly SerializedEvent[])[]> {
  const batches: (readonly SerializedEvent[])[] = [];
  for await (const batch of replayReader(store).replayEvents(options)) {
    batches.push(batch);
  }
  return batches;
}

/** `aggregate:sequence` of each event. */
function keys(events: readonly SerializedEvent[]): string[] {
  return events.map((e) => `${e.aggregateId}:${e.sequenceNumber}`);
}

/** Asserts each aggregate's events are together and in sequence order. */
function assertGroupedByAggregate(events: readonly SerializedEvent[]): void {
  const done = new Set<string>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const previous = events[i - 1];
    if (previous?.aggregateId === e.aggregateId) {
      assert.ok(
        e.sequenceNumber > previous.sequenceNumber,
        `${keys([e])} after ${keys([previous])}`,
      );
    } else {
      assert.ok(!done.has(e.aggregateId), `${e.aggregateId} comes twice`);
      done.add(e.aggregateId);
    }
  }
}

/** Every event after the start, read in batches of `limit`. */
async function readAll(
  reader: EventReader,
  options: {
    partitions?: readonly number[];
    limit?: number;
    withAggregateTypes?: boolean;
  },
): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let position = "";
  for (;;) {
    const batch = await reader.readEvents(position, {
      limit: options.limit ?? 1000,
      partitions: options.partitions,
      withAggregateTypes: options.withAggregateTypes,
    });
    events.push(...batch.events);
    position = batch.next;
    if (batch.caughtUp) return events;
  }
}

/** Registers the contract's tests for one store. */
export function eventStoreContract(
  name: string,
  factory: StoreFactory,
  options: ContractOptions = {},
): void {
  const test = contractTest(name, factory, options);

  test("stores events and loads them back in sequence order", async (store) => {
    const a = id();
    const createdAt = new Date("2026-01-02T03:04:05.678Z");
    await commit(store, [
      stream(a, [
        event(a, 1, { title: "x" }, "Contract_Added", createdAt),
        event(a, 2, { n: 2 }),
      ]),
    ]);
    const [loaded] = await store.loadStreams([a]);
    assert.ok(loaded);
    assert.equal(loaded.aggregateId, a);
    assert.equal(loaded.aggregateType, "Contract_Thing");
    assert.equal(loaded.partitionKey, "");
    assert.equal(loaded.snapshot, undefined);
    assert.deepEqual(loaded.events.map((e) => e.sequenceNumber), [1, 2]);
    assert.deepEqual(loaded.events.map((e) => e.eventType), [
      "Contract_Added",
      "Contract_Happened",
    ]);
    assert.equal(loaded.events[0]?.createdAt.getTime(), createdAt.getTime());
    assert.deepEqual(payloads(loaded.events), [{ title: "x" }, { n: 2 }]);
  });

  test("continues a stream across commits", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1)])]);
    await commit(store, [stream(a, [event(a, 2), event(a, 3)])]);
    const [loaded] = await store.loadStreams([a]);
    assert.deepEqual(loaded?.events.map((e) => e.sequenceNumber), [1, 2, 3]);
  });

  test("a duplicate sequence number is an OptimisticLockError naming the aggregate", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1), event(a, 2)])]);
    await assert.rejects(
      commit(store, [stream(a, [event(a, 2)])]),
      (error: unknown) =>
        error instanceof OptimisticLockError && error.aggregateId === a,
    );
    const [loaded] = await store.loadStreams([a]);
    assert.deepEqual(payloads(loaded?.events ?? []), [{ n: 1 }, { n: 2 }]);
  });

  test("a gap in sequence numbers is an OptimisticLockError naming the aggregate", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1)])]);
    await assert.rejects(
      commit(store, [stream(a, [event(a, 3)])]),
      (error: unknown) =>
        error instanceof OptimisticLockError && error.aggregateId === a,
    );
    const b = id();
    await assert.rejects(
      commit(store, [stream(b, [event(b, 2)])]),
      (error: unknown) =>
        error instanceof OptimisticLockError && error.aggregateId === b,
    );
    assert.equal(await store.streamExists(b), false);
  });

  test("a conflicting commit does not fail commit(): it surfaces at the unit's next read, or when the unit ends, and the unit stores nothing", async (store) => {
    const a = id();
    const b = id();
    await commit(store, [stream(a, [event(a, 1)])]);
    let committed = false;
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.commit(command(b), [stream(b, [event(b, 1)])]);
        await tx.commit(command(a), [stream(a, [event(a, 1)])]);
        committed = true;
      }),
      (error: unknown) =>
        error instanceof OptimisticLockError && error.aggregateId === a,
    );
    assert.equal(committed, true, "commit() itself did not fail");
    assert.equal(await store.streamExists(b), false);
    let read = false;
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.commit(command(a), [stream(a, [event(a, 1)])]);
        await tx.loadStreams([b]);
        read = true;
      }),
      OptimisticLockError,
    );
    assert.equal(read, false, "the next read surfaced it");
  });

  test("nothing of a failed commit is stored", async (store) => {
    const a = id();
    const b = id();
    await commit(store, [stream(b, [event(b, 1)])]);
    const mark = await store.positionMark();
    await assert.rejects(
      commit(store, [stream(a, [event(a, 1)]), stream(b, [event(b, 1)])]),
      OptimisticLockError,
    );
    assert.equal(await store.streamExists(a), false);
    assert.deepEqual(await store.eventsSince(mark), []);
  });

  test("a unit that throws stores nothing, including earlier commits of it", async (store) => {
    const a = id();
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.commit(command(a), [stream(a, [event(a, 1)])]);
        throw new Error("handler failed");
      }),
      /handler failed/,
    );
    assert.equal(await store.streamExists(a), false);
    assert.equal(await store.commandForEvent(a, 1), undefined);
  });

  test("a command id is stored at most once: storing it again fails with DuplicateCommandError and stores nothing of that unit", async (store) => {
    const commandId = id();
    const a = id();
    const b = id();
    await commit(store, [stream(a, [event(a, 1)])], command(a, { commandId }));
    await assert.rejects(
      commit(store, [stream(b, [event(b, 1)])], command(b, { commandId })),
      (error: unknown) =>
        error instanceof DuplicateCommandError && error.commandId === commandId,
    );
    assert.equal(await store.streamExists(b), false);
    // two commits of one unit with one id: the same
    const c = id();
    const twice = id();
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.commit(command(c, { commandId: twice }), [
          stream(c, [event(c, 1)]),
        ]);
        await tx.commit(command(c, { commandId: twice }), [
          stream(c, [event(c, 2)]),
        ]);
      }),
      DuplicateCommandError,
    );
    assert.equal(await store.streamExists(c), false);
    assert.equal(await store.commandStored(twice), false);
  });

  test("commandStored() tells a stored command id from one never stored", async (store) => {
    const commandId = id();
    const a = id();
    assert.equal(await store.commandStored(commandId), false);
    await commit(store, [stream(a, [event(a, 1)])], command(a, { commandId }));
    assert.equal(await store.commandStored(commandId), true);
    assert.equal(await store.commandStored(id()), false);
  });

  test("a unit aborted before it commits stores nothing and rejects with the signal's reason", async (store) => {
    const a = id();
    const controller = new AbortController();
    const reason = new Error("stop");
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.commit(command(a), [stream(a, [event(a, 1)])]);
        controller.abort(reason);
        await tx.loadStreams([a]);
      }, { signal: controller.signal }),
      (error: unknown) => error === reason,
    );
    assert.equal(await store.streamExists(a), false);
    await assert.rejects(
      store.transaction(() => Promise.resolve(), { signal: controller.signal }),
      (error: unknown) => error === reason,
    );
  });

  test("a unit reads its own commits; others see them only after it ends", async (store) => {
    const a = id();
    let seenOutside = true;
    await store.transaction(async (tx) => {
      await tx.commit(command(a), [stream(a, [event(a, 1)])]);
      const [inside] = await tx.loadStreams([a]);
      assert.deepEqual(inside?.events.map((e) => e.sequenceNumber), [1]);
      assert.equal(await tx.streamExists(a), true);
      await tx.commit(command(a), [stream(a, [event(a, 2)])]);
      const [again] = await tx.loadStreams([a]);
      assert.deepEqual(again?.events.map((e) => e.sequenceNumber), [1, 2]);
      seenOutside = await store.streamExists(a);
    });
    assert.equal(seenOutside, false);
    const [after] = await store.loadStreams([a]);
    assert.deepEqual(after?.events.map((e) => e.sequenceNumber), [1, 2]);
  });

  test("several units appending to one aggregate at once: one wins, the rest get OptimisticLockError", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1)])]);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        store.transaction(async (tx) => {
          const [loaded] = await tx.loadStreams([a]);
          const next = (loaded?.events.at(-1)?.sequenceNumber ?? 0) + 1;
          await tx.commit(command(a), [stream(a, [event(a, next, { i })])]);
        })),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const conflicts =
      results.filter((r) =>
        r.status === "rejected" && r.reason instanceof OptimisticLockError
      ).length;
    assert.ok(ok >= 1, "at least one unit succeeds");
    assert.equal(ok + conflicts, 8);
    const [loaded] = await store.loadStreams([a]);
    assert.deepEqual(
      loaded?.events.map((e) => e.sequenceNumber),
      Array.from({ length: ok + 1 }, (_, i) => i + 1),
    );
  });

  test("loads a batch of streams in the order asked, leaving out unknown ids", async (store) => {
    const [a, b, c] = [id(), id(), id()];
    await commit(store, [
      stream(a, [event(a, 1)]),
      stream(b, [event(b, 1), event(b, 2)]),
    ]);
    const loaded = await store.loadStreams([b, c, a]);
    assert.deepEqual(loaded.map((s) => s.aggregateId), [b, a]);
    assert.deepEqual(loaded.map((s) => s.events.length), [2, 1]);
    assert.deepEqual(await store.loadStreams([]), []);
  });

  test("loads a stream as it was before an instant", async (store) => {
    const a = id();
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    await commit(store, [
      stream(a, [
        event(a, 1, {}, "Contract_Happened", t(1)),
        event(a, 2, {}, "Contract_Happened", t(2)),
        event(a, 3, {}, "Contract_Happened", t(3)),
      ]),
    ]);
    const [asOf] = await store.loadStreams([a], { until: t(3) });
    assert.deepEqual(asOf?.events.map((e) => e.sequenceNumber), [1, 2]);
    assert.deepEqual(await store.loadStreams([a], { until: t(1) }), []);
  });

  test("loads one event by aggregate and sequence number", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1), event(a, 2, { x: "two" })])]);
    const found = await store.loadEvent(a, 2);
    assert.deepEqual(JSON.parse(found?.payload ?? "null"), { x: "two" });
    assert.equal(await store.loadEvent(a, 3), undefined);
    assert.equal(await store.loadEvent(id(), 1), undefined);
  });

  test("unique keys are enforced across aggregates", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [
      stream(a, [event(a, 1)], { uniqueKeys: { email: "ben@example.com" } }),
    ]);
    assert.equal(
      await store.findAggregateIdByUniqueKey("email", "ben@example.com"),
      a,
    );
    await assert.rejects(
      commit(store, [
        stream(b, [event(b, 1)], {
          aggregateType: "Contract_Other",
          uniqueKeys: { email: "ben@example.com" },
        }),
      ]),
      (error: unknown) =>
        error instanceof AggregateKeyNotUniqueError &&
        error.scope === "email" && error.key === "ben@example.com" &&
        error.aggregateId === b,
    );
    assert.equal(await store.streamExists(b), false);
    // the same key in another scope is fine
    await commit(store, [
      stream(b, [event(b, 1)], { uniqueKeys: { login: "ben@example.com" } }),
    ]);
    assert.equal(
      await store.findAggregateIdByUniqueKey("login", "ben@example.com"),
      b,
    );
  });

  test("unique keys are replaced by each commit, and left alone when undefined", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [
      stream(a, [event(a, 1)], { uniqueKeys: { email: "old" } }),
    ]);
    await commit(store, [stream(a, [event(a, 2)])]);
    assert.equal(await store.findAggregateIdByUniqueKey("email", "old"), a);
    await commit(store, [
      stream(a, [event(a, 3)], { uniqueKeys: { email: "new" } }),
    ]);
    assert.equal(
      await store.findAggregateIdByUniqueKey("email", "old"),
      undefined,
    );
    assert.equal(await store.findAggregateIdByUniqueKey("email", "new"), a);
    await commit(store, [
      stream(b, [event(b, 1)], { uniqueKeys: { email: "old" } }),
    ]);
    assert.equal(await store.findAggregateIdByUniqueKey("email", "old"), b);
    await commit(store, [stream(a, [event(a, 4)], { uniqueKeys: {} })]);
    assert.equal(
      await store.findAggregateIdByUniqueKey("email", "new"),
      undefined,
    );
  });

  test("structured unique keys compare by value, whatever the key order", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [
      stream(a, [event(a, 1)], {
        uniqueKeys: { slot: { day: "mon", room: 1 } },
      }),
    ]);
    assert.equal(
      await store.findAggregateIdByUniqueKey("slot", { room: 1, day: "mon" }),
      a,
    );
    await assert.rejects(
      commit(store, [
        stream(b, [event(b, 1)], {
          uniqueKeys: { slot: { room: 1, day: "mon" } },
        }),
      ]),
      AggregateKeyNotUniqueError,
    );
  });

  test("a key released and claimed in one commit moves between aggregates", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [
      stream(a, [event(a, 1)], { uniqueKeys: { name: "x" } }),
    ]);
    await commit(store, [
      stream(a, [event(a, 2)], { uniqueKeys: {} }),
      stream(b, [event(b, 1)], { uniqueKeys: { name: "x" } }),
    ]);
    assert.equal(await store.findAggregateIdByUniqueKey("name", "x"), b);
  });

  test("positionMark and eventsSince give what was committed after the mark, in commit order", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [stream(a, [event(a, 1)])]);
    const mark = await store.positionMark();
    await commit(store, [stream(b, [event(b, 1)])]);
    await commit(store, [stream(a, [event(a, 2)])]);
    const since = await store.eventsSince(mark);
    assert.deepEqual(
      since.map((e) => [e.aggregateId, e.sequenceNumber]),
      [[b, 1], [a, 2]],
    );
    assert.deepEqual(await store.eventsSince(await store.positionMark()), []);
  });

  test("readAllEvents gives every event in commit order, in batches, filtered by type", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [stream(a, [event(a, 1, {}, "Contract_A")])]);
    await commit(store, [
      stream(b, [event(b, 1, {}, "Contract_B"), event(b, 2, {}, "Contract_A")]),
    ]);
    await commit(store, [stream(a, [event(a, 2, {}, "Contract_B")])]);
    const batches = await allEvents(store, { batchSize: 3 });
    assert.deepEqual(batches.map((batch) => batch.length), [3, 1]);
    assert.deepEqual(
      batches.flat().map((e) => [e.aggregateId, e.sequenceNumber]),
      [[a, 1], [b, 1], [b, 2], [a, 2]],
    );
    const onlyA = (await allEvents(store, { eventTypes: ["Contract_A"] }))
      .flat();
    assert.deepEqual(onlyA.map((e) => [e.aggregateId, e.sequenceNumber]), [[
      a,
      1,
    ], [b, 2]]);
    await assert.rejects(async () => {
      for await (const _ of store.readAllEvents({ batchSize: 0 })) {
        // never reached
      }
    }, RangeError);
  });

  test("replayEvents gives every event grouped by aggregate, each aggregate's in sequence order, in batches of at most the size asked, filtered by type", async (store) => {
    const [a, b, c] = [id(), id(), id()];
    await commit(store, [stream(a, [event(a, 1, {}, "Contract_A")])]);
    await commit(store, [
      stream(b, [event(b, 1, {}, "Contract_B"), event(b, 2, {}, "Contract_A")]),
      stream(c, [event(c, 1, { n: 1 }, "Contract_A")]),
    ]);
    await commit(store, [stream(a, [event(a, 2, {}, "Contract_B")])]);
    await commit(store, [stream(c, [event(c, 2, { n: 2 }, "Contract_B")])]);
    const all = [`${a}:1`, `${a}:2`, `${b}:1`, `${b}:2`, `${c}:1`, `${c}:2`];
    const read = async (options: ReplayEventsOptions) => {
      const reader = replayReader(store);
      // on a shared server a transaction elsewhere can hold the boundary
      // back for a moment: what it holds back is read once it has ended
      for (let tries = 0;; tries++) {
        const batches = await replayed(store, {
          ...options,
          upTo: await reader.replayBoundary(),
        });
        const events = batches.flat();
        const wanted = options.eventTypes ? 3 : 6;
        if (events.length === wanted || tries === 100) return batches;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const batches = await read({ batchSize: 4 });
    assert.ok(batches.every((batch) => batch.length <= 4), "batches of 4");
    assert.ok(batches.length >= 2);
    const events = batches.flat();
    assertGroupedByAggregate(events);
    assert.deepEqual(keys(events).sort(), all.sort());
    const third = events.find((e) =>
      e.aggregateId === c && e.sequenceNumber === 2
    );
    assert.equal(third?.eventType, "Contract_B");
    assert.deepEqual(JSON.parse(third?.payload ?? "null"), { n: 2 });
    assert.ok(third?.createdAt instanceof Date);
    const onlyA = (await read({ eventTypes: ["Contract_A"] })).flat();
    assertGroupedByAggregate(onlyA);
    assert.deepEqual(
      keys(onlyA).sort(),
      [`${a}:1`, `${b}:2`, `${c}:1`].sort(),
    );
    assert.deepEqual(await replayed(store, { eventTypes: ["Nothing"] }), []);
    await assert.rejects(() => replayed(store, { batchSize: 0 }), RangeError);
  });

  test("a replay up to a boundary and one after it read every event exactly once between them", async (store) => {
    const reader = replayReader(store);
    const [a, b] = [id(), id()];
    await commit(store, [stream(a, [event(a, 1)]), stream(b, [event(b, 1)])]);
    const boundary = await reader.replayBoundary();
    await commit(store, [stream(a, [event(a, 2)])]);
    await commit(store, [stream(b, [event(b, 2)])]);
    const before = keys((await replayed(store, { upTo: boundary })).flat());
    // (on a server, a transaction running elsewhere when the boundary was
    // taken leaves events of ours after it too; never one before it that
    // was not committed then)
    assert.ok(
      before.every((k) => k === `${a}:1` || k === `${b}:1`),
      `${before}`,
    );
    for (let tries = 0;; tries++) {
      const after = keys(
        (await replayed(store, {
          after: boundary,
          upTo: await reader.replayBoundary(),
        })).flat(),
      );
      if (after.length + before.length < 4 && tries < 100) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      assert.deepEqual(
        [...before, ...after].sort(),
        [`${a}:1`, `${a}:2`, `${b}:1`, `${b}:2`].sort(),
      );
      break;
    }
  });

  test("readAllEvents after a mark gives only later events", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1)])]);
    const mark = await store.positionMark();
    await commit(store, [stream(a, [event(a, 2)])]);
    const later = (await allEvents(store, { after: mark })).flat();
    assert.deepEqual(later.map((e) => e.sequenceNumber), [2]);
  });

  test("command records keep causation both ways", async (store) => {
    const [a, b] = [id(), id()];
    await commit(
      store,
      [stream(a, [event(a, 1), event(a, 2)])],
      command(a, {
        commandType: "Contract_Start",
        userId: "user-1",
        payload: '{"why":"test"}',
      }),
    );
    const first = await store.commandForEvent(a, 2);
    assert.equal(first?.commandType, "Contract_Start");
    assert.equal(first?.userId, "user-1");
    assert.equal(first?.aggregateId, a);
    assert.deepEqual(JSON.parse(first?.payload ?? "null"), { why: "test" });
    assert.ok(first?.createdAt instanceof Date);
    await commit(
      store,
      [stream(b, [event(b, 1)])],
      command(b, {
        commandType: "Contract_Follow",
        eventAggregateId: a,
        eventSequenceNumber: 2,
      }),
    );
    const caused = await store.commandsCausedBy(a, 2);
    assert.deepEqual(caused.map((c) => c.commandType), ["Contract_Follow"]);
    assert.equal(caused[0]?.eventSequenceNumber, 2);
    assert.deepEqual(await store.commandsCausedBy(a, 1), []);
    const events = await store.eventsOfCommand(caused[0]?.id ?? "");
    assert.deepEqual(events.map((e) => [e.aggregateId, e.sequenceNumber]), [[
      b,
      1,
    ]]);
    assert.equal(await store.commandForEvent(a, 3), undefined);
  });

  test("snapshots: latest of a version, and loading from it", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1), event(a, 2), event(a, 3)])]);
    const at = (version: number, sequenceNumber: number) => ({
      aggregateId: a,
      aggregateType: "Contract_Thing",
      version,
      sequenceNumber,
      createdAt: new Date(),
      data: JSON.stringify({ at: sequenceNumber, version }),
    });
    await store.storeSnapshots([at(1, 1), at(1, 2), at(2, 1)]);
    assert.deepEqual(
      JSON.parse((await store.loadLatestSnapshot(a, 1))?.data ?? "null"),
      { at: 2, version: 1 },
    );
    assert.equal((await store.loadLatestSnapshot(a))?.sequenceNumber, 2);
    assert.equal(await store.loadLatestSnapshot(a, 3), undefined);
    const [fromSnapshot] = await store.loadStreams([a], { snapshotVersion: 1 });
    assert.equal(fromSnapshot?.snapshot?.sequenceNumber, 2);
    assert.deepEqual(fromSnapshot?.events.map((e) => e.sequenceNumber), [3]);
    const [otherVersion] = await store.loadStreams([a], { snapshotVersion: 2 });
    assert.deepEqual(otherVersion?.events.map((e) => e.sequenceNumber), [2, 3]);
    const [noSnapshots] = await store.loadStreams([a]);
    assert.equal(noSnapshots?.snapshot, undefined);
    assert.equal(noSnapshots?.events.length, 3);
  });

  test("commits mark aggregates for snapshotting at the threshold; storing a snapshot clears the mark", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [
      stream(a, [event(a, 1), event(a, 2)], { snapshotThreshold: 3 }),
      stream(b, [event(b, 1), event(b, 2), event(b, 3)], {
        snapshotThreshold: 3,
      }),
    ]);
    assert.deepEqual(
      (await store.aggregatesNeedingSnapshots(10)).map((c) => c.aggregateId),
      [b],
    );
    await commit(store, [stream(a, [event(a, 3)], { snapshotThreshold: 3 })]);
    const marked = await store.aggregatesNeedingSnapshots(10);
    assert.deepEqual(
      new Set(marked.map((c) => c.aggregateId)),
      new Set([a, b]),
    );
    assert.equal(marked[0]?.aggregateType, "Contract_Thing");
    assert.equal((await store.aggregatesNeedingSnapshots(1)).length, 1);
    await store.storeSnapshots([{
      aggregateId: b,
      aggregateType: "Contract_Thing",
      version: 1,
      sequenceNumber: 3,
      createdAt: new Date(),
      data: "{}",
    }]);
    assert.deepEqual(
      (await store.aggregatesNeedingSnapshots(10)).map((c) => c.aggregateId),
      [a],
    );
    await commit(store, [stream(b, [event(b, 4)], { snapshotThreshold: 3 })]);
    assert.deepEqual(
      (await store.aggregatesNeedingSnapshots(10)).map((c) => c.aggregateId),
      [a],
    );
  });

  test("markForSnapshotting marks aggregates regardless of thresholds", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1)])]);
    await store.markForSnapshotting([a, id()]);
    assert.deepEqual(
      (await store.aggregatesNeedingSnapshots(10)).map((c) => c.aggregateId),
      [a],
    );
  });

  test("deleting snapshots: all, or those of versions no longer current", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [
      stream(a, [event(a, 1)]),
      stream(b, [event(b, 1)], { aggregateType: "Contract_Other" }),
    ]);
    const snap = (
      aggregateId: string,
      aggregateType: string,
      version: number,
    ) => ({
      aggregateId,
      aggregateType,
      version,
      sequenceNumber: 1,
      createdAt: new Date(),
      data: "{}",
    });
    await store.storeSnapshots([
      snap(a, "Contract_Thing", 1),
      snap(a, "Contract_Thing", 2),
      snap(b, "Contract_Other", 1),
    ]);
    assert.equal(
      await store.deleteSnapshotsOfOtherVersions({ Contract_Thing: 2 }),
      2,
    );
    assert.equal(await store.loadLatestSnapshot(a, 1), undefined);
    assert.equal((await store.loadLatestSnapshot(a, 2))?.version, 2);
    assert.equal(await store.loadLatestSnapshot(b), undefined);
    await store.deleteAllSnapshots();
    assert.equal(await store.loadLatestSnapshot(a), undefined);
  });

  test("deleting a stream archives its events and frees its unique keys", async (store) => {
    const [a, b] = [id(), id()];
    await commit(store, [
      stream(a, [event(a, 1), event(a, 2)], { uniqueKeys: { name: "x" } }),
      stream(b, [event(b, 1)]),
    ]);
    assert.equal(await store.deleteStream(a), 2);
    assert.equal(await store.streamExists(a), false);
    assert.deepEqual(await store.loadStreams([a]), []);
    assert.equal(
      await store.findAggregateIdByUniqueKey("name", "x"),
      undefined,
    );
    const archived = await store.archivedEvents(a);
    assert.deepEqual(archived.map((e) => e.sequenceNumber), [1, 2]);
    const remaining = (await allEvents(store)).flat();
    assert.deepEqual(remaining.map((e) => e.aggregateId), [b]);
    assert.equal(await store.deleteStream(a), 0);
    // the id can be used again from sequence number 1
    await commit(store, [
      stream(a, [event(a, 1)], { uniqueKeys: { name: "x" } }),
    ]);
    assert.equal(await store.findAggregateIdByUniqueKey("name", "x"), a);
  });

  test("values full of quotes, backslashes, $1 and unicode, and a 1 MB string, round-trip", async (store) => {
    const a = id();
    const tricky =
      `'"\\ $1 $$ -- ; DROP TABLE x; \u00e9\u4e2d\u{1F600} \\u0000`;
    const big = "x".repeat(1024 * 1024);
    await commit(store, [
      stream(a, [
        event(a, 1, { tricky, big }, tricky.slice(0, 0) + "Contract_Tricky"),
      ], {
        uniqueKeys: { [tricky]: tricky },
      }),
    ], command(a, { userId: tricky, payload: JSON.stringify({ tricky }) }));
    const [loaded] = await store.loadStreams([a]);
    assert.deepEqual(JSON.parse(loaded?.events[0]?.payload ?? "null"), {
      tricky,
      big,
    });
    assert.equal(await store.findAggregateIdByUniqueKey(tricky, tricky), a);
    const record = await store.commandForEvent(a, 1);
    assert.equal(record?.userId, tricky);
    assert.deepEqual(JSON.parse(record?.payload ?? "null"), { tricky });
  });

  test("text no store can hold is refused with UnstorableTextError naming where it is, and nothing of the commit is stored", async (store) => {
    const a = id();
    const nul = "nul \u0000";
    const lone = "half \ud83d";
    const cases: [
      string,
      (a: string) => [StreamCommit[], SerializedCommand],
      UnstorableTextLocation,
      RegExp,
    ][] = [
      [
        "a NUL in an event attribute",
        (
          a,
        ) => [
          [stream(a, [event(a, 1), event(a, 2, { title: nul })])],
          command(a),
        ],
        {
          kind: "event",
          eventType: "Contract_Happened",
          aggregateId: a,
          sequenceNumber: 2,
          path: "title",
        },
        /^Event Contract_Happened 2 of aggregate "[0-9a-f-]+" cannot be stored: attribute "title" contains a NUL character \(U\+0000\) at index 4$/,
      ],
      [
        "a lone surrogate deep in an event attribute",
        (
          a,
        ) => [
          [stream(a, [event(a, 1, { lines: [{}, { note: lone }] })])],
          command(a),
        ],
        {
          kind: "event",
          eventType: "Contract_Happened",
          aggregateId: a,
          sequenceNumber: 1,
          path: "lines.1.note",
        },
        /attribute "lines\.1\.note" contains a lone surrogate \(U\+D83D\) at index 5$/,
      ],
      [
        "a NUL in a key of an event's JSON",
        (a) => [[stream(a, [event(a, 1, { data: { [nul]: 1 } })])], command(a)],
        {
          kind: "event",
          eventType: "Contract_Happened",
          aggregateId: a,
          sequenceNumber: 1,
          path: "data",
        },
        /attribute "data" has a key "nul \\u0000" that contains a NUL character/,
      ],
      [
        "a lone surrogate written as itself, not escaped, in an event payload",
        (
          a,
        ) => [
          [stream(a, [{ ...event(a, 1), payload: `{"t":"${lone}"}` }])],
          command(a),
        ],
        {
          kind: "event",
          eventType: "Contract_Happened",
          aggregateId: a,
          sequenceNumber: 1,
          path: "t",
        },
        /lone surrogate \(U\+D83D\)/,
      ],
      [
        "a NUL in a command attribute",
        (
          a,
        ) => [
          [stream(a, [event(a, 1)])],
          command(a, { payload: JSON.stringify({ name: nul }) }),
        ],
        { kind: "command", commandType: "Contract_Do", path: "name" },
        /^Command Contract_Do cannot be stored: attribute "name" contains a NUL/,
      ],
      [
        "a lone surrogate in the user id",
        (a) => [[stream(a, [event(a, 1)])], command(a, { userId: "\udc00" })],
        { kind: "command", commandType: "Contract_Do", path: "userId" },
        /attribute "userId" contains a lone surrogate \(U\+DC00\) at index 0/,
      ],
      [
        "a NUL in a unique key",
        (
          a,
        ) => [
          [stream(a, [event(a, 1)], { uniqueKeys: { email: nul } })],
          command(a),
        ],
        { kind: "uniqueKey", aggregateId: a, scope: "email", path: "" },
        /^Unique key "email" of aggregate "[0-9a-f-]+" cannot be stored: it contains a NUL/,
      ],
      [
        "a lone surrogate inside a structured unique key",
        (
          a,
        ) => [[
          stream(a, [event(a, 1)], { uniqueKeys: { pair: { b: [lone] } } }),
        ], command(a)],
        { kind: "uniqueKey", aggregateId: a, scope: "pair", path: "b.0" },
        /"b\.0" contains a lone surrogate/,
      ],
      [
        "a NUL in a unique key's scope",
        (
          a,
        ) => [
          [stream(a, [event(a, 1)], { uniqueKeys: { [nul]: "x" } })],
          command(a),
        ],
        { kind: "uniqueKey", aggregateId: a, scope: nul, path: "" },
        /it has a scope that contains a NUL/,
      ],
      [
        "a unique key longer than any store's index holds",
        (
          a,
        ) => [
          [stream(a, [event(a, 1)], {
            uniqueKeys: { email: `${"x".repeat(3000)}@example.com` },
          })],
          command(a),
        ],
        { kind: "uniqueKey", aggregateId: a, scope: "email", path: "" },
        /^Unique key "email" of aggregate "[0-9a-f-]+" cannot be stored: it is 30\d\d bytes long, more than the 2000 a unique key may be/,
      ],
      [
        "a NUL in the partition key",
        (a) => [[stream(a, [event(a, 1)], { partitionKey: nul })], command(a)],
        { kind: "partitionKey", aggregateId: a },
        /^Partition key of aggregate "[0-9a-f-]+" cannot be stored: it contains a NUL/,
      ],
      [
        "a lone surrogate in the trace context",
        (a) => [
          [stream(a, [event(a, 1)])],
          command(a, { traceparent: `00-${"0".repeat(31)}1-\ud800` }),
        ],
        { kind: "command", commandType: "Contract_Do", path: "traceparent" },
        /^Command Contract_Do cannot be stored: attribute "traceparent" contains a lone surrogate \(U\+D800\)/,
      ],
      [
        "a lone surrogate in an event type name",
        (a) => [[stream(a, [event(a, 1, {}, "Contract_\ud800")])], command(a)],
        { kind: "typeName", typeKind: "event", typeName: "Contract_\ud800" },
        /^Event type name "Contract_\\ud800" cannot be stored: it contains a lone surrogate/,
      ],
    ];
    const mark = await store.positionMark();
    for (const [label, make, location, message] of cases) {
      const [streams, cmd] = make(a);
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.commit(cmd, streams);
        }),
        (error: unknown) => {
          assert.ok(error instanceof UnstorableTextError, `${label}: ${error}`);
          assert.deepEqual(error.location, location, label);
          assert.match(error.message, message, label);
          return true;
        },
        label,
      );
      // a unit whose later commit is refused stores none of its commits
      const b = id();
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.commit(command(b), [stream(b, [event(b, 1)])]);
          await tx.commit(cmd, streams);
        }),
        UnstorableTextError,
        label,
      );
      assert.equal(await store.streamExists(b), false, label);
    }
    assert.deepEqual(await store.eventsSince(mark), []);
    assert.equal(await store.streamExists(a), false);
    assert.equal(
      await store.findAggregateIdByUniqueKey("email", nul),
      undefined,
    );
    assert.equal(await store.findAggregateIdByUniqueKey(nul, "x"), undefined);
    await assert.rejects(
      store.storeSnapshots([{
        aggregateId: a,
        aggregateType: "Contract_Thing",
        version: 1,
        sequenceNumber: 1,
        createdAt: new Date(),
        data: JSON.stringify({ state: [nul] }),
      }]),
      (error: unknown) =>
        error instanceof UnstorableTextError &&
        error.location.kind === "snapshot" && error.location.path === "state.0",
    );
  });

  test("storable text round-trips unchanged: surrogate pairs, escaped or not, and a backslash before u0000", async (store) => {
    const a = id();
    const text = "😀 \\u0000 \\ud800 \u{10FFFF} \uFFFF \u0001";
    await commit(store, [
      stream(a, [
        event(a, 1, { text, [text]: [text] }),
        { ...event(a, 2), payload: '{"escaped":"\\ud83d\\ude00"}' },
      ], { uniqueKeys: { [text]: { [text]: text } }, partitionKey: text }),
    ], command(a, { userId: text, payload: JSON.stringify({ text }) }));
    const [loaded] = await store.loadStreams([a]);
    assert.deepEqual(payloads(loaded?.events ?? []), [
      { text, [text]: [text] },
      { escaped: "😀" },
    ]);
    assert.equal(loaded?.partitionKey, text);
    assert.equal(
      await store.findAggregateIdByUniqueKey(text, { [text]: text }),
      a,
    );
    const record = await store.commandForEvent(a, 1);
    assert.equal(record?.userId, text);
    assert.deepEqual(JSON.parse(record?.payload ?? "null"), { text });
  });

  test("a malformed commit fails commit() itself, naming the command or event and the field, and nothing of its unit is stored", async (store) => {
    const a = id();
    const b = id();
    const at = "2024-01-01T00:00:00.000Z";
    const bc = new Date(0);
    bc.setUTCFullYear(-5, 0, 1);
    const raw = (sequenceNumber: number, payload: string) => ({
      ...event(a, sequenceNumber),
      payload,
    });
    const one = (...events: SerializedEvent[]) => [stream(a, events)];
    const eventA1 = (field: string) =>
      new RegExp(
        `^Event Contract_Happened 1 of aggregate "${a}" cannot be stored: its ${field}`,
      );
    const cases: [
      string,
      SerializedCommand,
      StreamCommit[],
      typeof TypeError | typeof RangeError,
      RegExp,
    ][] = [
      // Payload text that is not one whole JSON value: PostgreSQL splices
      // payloads into its commit's JSON, where these would add an event,
      // rewrite a field or add a stream.
      [
        "an event payload that closes itself and adds an event",
        command(a),
        one(raw(
          1,
          `{"x":1}},{"s":2,"c":"${at}","t":"Contract_Happened","p":{"injected":true}`,
        )),
        TypeError,
        /^Event Contract_Happened 1 of aggregate "[0-9a-f-]+" cannot be stored: its payload is not valid JSON/,
      ],
      [
        "an event payload that overrides the event's type",
        command(a),
        one(raw(1, `{"x":1},"t":"Contract_Other"`)),
        TypeError,
        eventA1("payload is not valid JSON"),
      ],
      [
        "an event payload that adds a stream",
        command(a),
        one(raw(
          1,
          `{}}]},{"a":"${b}","t":"Contract_Thing","k":"","q":0,"h":null,"u":null,"e":[{"s":1,"c":"${at}","t":"Contract_Happened","p":{}`,
        )),
        TypeError,
        eventA1("payload is not valid JSON"),
      ],
      [
        "an event payload with text after the object",
        command(a),
        one(raw(1, "{} {}")),
        TypeError,
        eventA1("payload is not valid JSON"),
      ],
      [
        "an event payload cut short",
        command(a),
        one(raw(1, '{"x":[1,2}')),
        TypeError,
        eventA1("payload is not valid JSON"),
      ],
      [
        "an empty event payload",
        command(a),
        one(raw(1, "")),
        TypeError,
        eventA1("payload is not valid JSON"),
      ],
      [
        "an event payload that is JSON but not an object",
        command(a),
        one(raw(1, "[1]")),
        TypeError,
        eventA1("payload is not a JSON object$"),
      ],
      [
        "a second event's payload that is not JSON",
        command(a),
        one(event(a, 1), raw(2, "{'x':1}")),
        TypeError,
        /^Event Contract_Happened 2 of aggregate "[0-9a-f-]+" cannot be stored: its payload is not valid JSON/,
      ],
      [
        "a long event payload with text after the object",
        command(a),
        one(raw(1, `${JSON.stringify({ text: "x".repeat(5000) })},"t":"X"`)),
        TypeError,
        eventA1("payload is not valid JSON"),
      ],
      [
        "a command payload that closes itself and adds fields",
        command(a, { payload: '{}},"s":[],"x":{' }),
        one(event(a, 1)),
        TypeError,
        /^Command Contract_Do cannot be stored: its payload is not valid JSON/,
      ],
      // ids
      [
        "a command's aggregate id that is not a UUID",
        command("not-a-uuid"),
        one(event(a, 1)),
        TypeError,
        /^Command Contract_Do cannot be stored: its aggregate id "not-a-uuid" is not a UUID$/,
      ],
      [
        "a command id that is not a UUID",
        command(a, { commandId: 'x","id":"1' }),
        one(event(a, 1)),
        TypeError,
        /^Command Contract_Do cannot be stored: its command id "x\\",\\"id\\":\\"1" is not a UUID$/,
      ],
      [
        "a causing event's aggregate id that is not a UUID",
        command(a, { eventAggregateId: "x", eventSequenceNumber: 1 }),
        one(event(a, 1)),
        TypeError,
        /its causing event's aggregate id "x" is not a UUID$/,
      ],
      [
        "a stream's aggregate id that is not a UUID",
        command(a),
        [stream("not-a-uuid", [event("not-a-uuid", 1)])],
        TypeError,
        /^Stream of aggregate "not-a-uuid" cannot be stored: its aggregate id "not-a-uuid" is not a UUID$/,
      ],
      // the streams' shape
      [
        "an event in the stream of another aggregate",
        command(a),
        [stream(a, [event(a, 1), event(b, 2)])],
        TypeError,
        /^Event Contract_Happened 2 of aggregate "[0-9a-f-]+" cannot be stored: it is in the stream of aggregate "[0-9a-f-]+"$/,
      ],
      [
        "one aggregate with two streams",
        command(a),
        [
          stream(a, [event(a, 1)]),
          stream(b, [event(b, 1)]),
          stream(a, [
            event(a, 2),
          ]),
        ],
        TypeError,
        /^Aggregate "[0-9a-f-]+" appears twice in one commit$/,
      ],
      // numbers and dates
      ...[0, -1, 1.5, NaN, Infinity, 2 ** 31].map((n): typeof cases[0] => [
        `a sequence number of ${n}`,
        command(a),
        one(event(a, n)),
        RangeError,
        new RegExp(
          `^Event Contract_Happened ${n} of aggregate "${a}" cannot be stored: its sequence number ${n} is not an integer from 1 to 2147483647$`,
        ),
      ]),
      ...[NaN, 0, 2.5].map((n): typeof cases[0] => [
        `a causing event's sequence number of ${n}`,
        command(a, { eventAggregateId: b, eventSequenceNumber: n }),
        one(event(a, 1)),
        RangeError,
        new RegExp(
          `^Command Contract_Do cannot be stored: its causing event's sequence number ${n} is not an integer from 1 to 2147483647$`,
        ),
      ]),
      [
        "a snapshot threshold of NaN",
        command(a),
        [stream(a, [event(a, 1)], { snapshotThreshold: NaN })],
        RangeError,
        /^Stream of aggregate "[0-9a-f-]+" cannot be stored: its snapshot threshold NaN is not an integer/,
      ],
      [
        "an invalid createdAt",
        command(a),
        one(event(a, 1, {}, "Contract_Happened", new Date(NaN))),
        RangeError,
        eventA1("createdAt is an invalid Date$"),
      ],
      [
        "a createdAt before the year 1",
        command(a),
        one(event(a, 1, {}, "Contract_Happened", bc)),
        RangeError,
        eventA1(
          "createdAt -000005-01-01T00:00:00\\.000Z is not in the years 1 to 9999$",
        ),
      ],
      [
        "a createdAt after the year 9999",
        command(a),
        one(event(a, 1, {}, "Contract_Happened", new Date(253402300800000))),
        RangeError,
        eventA1("createdAt \\+010000-01-01T00:00:00\\.000Z is not in the"),
      ],
    ];
    const mark = await store.positionMark();
    for (const [label, cmd, streams, kind, message] of cases) {
      for (const first of [false, true]) {
        // alone, and after a good commit of the same unit (then on
        // PostgreSQL the unit's statement would be store_commits)
        const c = id();
        let atCommit: unknown;
        await assert.rejects(
          store.transaction(async (tx) => {
            if (first) await tx.commit(command(c), [stream(c, [event(c, 1)])]);
            try {
              await tx.commit(cmd, streams);
            } catch (error) {
              atCommit = error;
              throw error;
            }
          }),
          kind,
          label,
        );
        assert.ok(atCommit instanceof kind, `${label}: commit() failed`);
        assert.match((atCommit as Error).message, message, label);
        assert.equal(await store.streamExists(c), false, label);
      }
    }
    assert.deepEqual(await store.eventsSince(mark), []);
    assert.equal(await store.streamExists(a), false);
    assert.equal(await store.streamExists(b), false);
    // the store still works; a payload with whitespace around it and inside
    // it is one JSON object; the first instant of year 1 and the last of
    // 9999 are taken (on PostgreSQL once in store_commit's JSON, then as
    // parameters of the plain create). Only the last is compared as read:
    // the PGlite client reads years 1 to 99 as 19xx or 20xx.
    await commit(store, [
      stream(a, [raw(1, ' \n{ "x" : [ 1 , { "y" : null } ] }\t')]),
    ]);
    const [loaded] = await store.loadStreams([a]);
    assert.deepEqual(payloads(loaded?.events ?? []), [{ x: [1, { y: null }] }]);
    for (const time of [-62135596800000, 253402300799999]) {
      const c = id();
      const createdAt = new Date(time);
      await commit(store, [
        stream(c, [event(c, 1, {}, "Contract_Happened", createdAt)]),
      ]);
      const [edge] = await store.loadStreams([c]);
      assert.equal(edge?.events[0]?.sequenceNumber, 1);
      if (time > 0) assert.equal(edge?.events[0]?.createdAt.getTime(), time);
    }
  });

  test("a malformed snapshot is refused before any snapshot is stored, naming the aggregate and the field", async (store) => {
    const a = id();
    await commit(store, [stream(a, [event(a, 1), event(a, 2)])]);
    const snapshot = (extra: Partial<SerializedSnapshot> = {}) => ({
      aggregateId: a,
      aggregateType: "Contract_Thing",
      version: 1,
      sequenceNumber: 1,
      createdAt: new Date(),
      data: "{}",
      ...extra,
    });
    const cases: [
      string,
      SerializedSnapshot,
      typeof TypeError | typeof RangeError,
      RegExp,
    ][] = [
      [
        "a state that closes itself and adds a snapshot",
        snapshot({
          data:
            `{}},{"a":"${a}","v":7,"s":2,"c":"2024-01-01T00:00:00.000Z","d":{"injected":true}`,
        }),
        TypeError,
        /^Snapshot of aggregate "[0-9a-f-]+" cannot be stored: its state is not valid JSON/,
      ],
      [
        "a state that is not JSON",
        snapshot({ data: "{" }),
        TypeError,
        /its state is not valid JSON/,
      ],
      [
        "a version of NaN",
        snapshot({ version: NaN }),
        RangeError,
        /^Snapshot of aggregate "[0-9a-f-]+" cannot be stored: its version NaN is not an integer from 1 to 2147483647$/,
      ],
      [
        "a sequence number of 1.5",
        snapshot({ sequenceNumber: 1.5 }),
        RangeError,
        /its sequence number 1\.5 is not an integer/,
      ],
      [
        "an invalid createdAt",
        snapshot({ createdAt: new Date(NaN) }),
        RangeError,
        /its createdAt is an invalid Date$/,
      ],
      [
        "an aggregate id that is not a UUID",
        snapshot({ aggregateId: "not-a-uuid" }),
        TypeError,
        /^Snapshot of aggregate "not-a-uuid" cannot be stored: its aggregate id "not-a-uuid" is not a UUID$/,
      ],
    ];
    for (const [label, bad, kind, message] of cases) {
      await assert.rejects(
        store.storeSnapshots([snapshot({ sequenceNumber: 2 }), bad]),
        (error: unknown) => {
          assert.ok(error instanceof kind, `${label}: ${error}`);
          assert.match(error.message, message, label);
          return true;
        },
        label,
      );
    }
    assert.equal(await store.loadLatestSnapshot(a), undefined);
    assert.equal(await store.loadLatestSnapshot(a, 7), undefined);
  });

  test("every event carries its aggregate's partition, and its type when asked; a read of some partitions gives exactly their events in commit order, and passes the others", async (store) => {
    const reader = store as unknown as EventReader;
    const ids = Array.from({ length: 24 }, () => id());
    // new streams one by one (the single-statement path), several in one
    // commit, and existing streams continued
    for (const a of ids.slice(0, 8)) {
      await commit(store, [stream(a, [event(a, 1), event(a, 2)])]);
    }
    await commit(store, ids.slice(8).map((a) => stream(a, [event(a, 1)])));
    await commit(
      store,
      ids.slice(4, 12).map((a, i) => stream(a, [event(a, i < 4 ? 3 : 2)])),
    );
    const all = await readAll(reader, { withAggregateTypes: true });
    assert.equal(all.length, 8 * 2 + 16 + 8);
    for (const e of all) {
      assert.equal(e.partition, partitionOf(e.aggregateId));
      assert.equal(e.aggregateType, "Contract_Thing");
    }
    const [one] = await reader.readAggregateEvents(
      ids[0]!,
      2,
      all.at(-1)!.position,
    );
    assert.deepEqual(
      [one?.sequenceNumber, one?.partition, one?.aggregateType],
      [2, partitionOf(ids[0]!), "Contract_Thing"],
    );
    const some = [...new Set(ids.slice(0, 6).map((a) => partitionOf(a)))];
    const plain = await reader.readEvents("", { limit: 1 });
    assert.equal(plain.events[0]?.aggregateType, undefined);
    for (const limit of [1, 3, 1000]) {
      const read = await readAll(reader, { partitions: some, limit });
      assert.deepEqual(
        read.map((e) => e.position),
        all.filter((e) => some.includes(e.partition)).map((e) => e.position),
        `limit ${limit}`,
      );
    }
    const none = await reader.readEvents("", { limit: 10, partitions: [] });
    assert.deepEqual(none.events, []);
    assert.ok(none.caughtUp);
    assert.ok(reader.comparePositions(none.next, all.at(-1)!.position) >= 0);
    for (const bad of [-1, 1.5, 1024]) {
      await assert.rejects(
        reader.readEvents("", { limit: 10, partitions: [0, bad] }),
        (error: unknown) =>
          error instanceof RangeError && error.message.includes(`got ${bad}`),
      );
    }
  });

  test("an aggregate id that is not a UUID is refused and nothing is stored", async (store) => {
    const mark = await store.positionMark();
    await assert.rejects(
      commit(store, [stream("not-a-uuid", [event("not-a-uuid", 1)])]),
    );
    assert.deepEqual(await store.eventsSince(mark), []);
  });
}
