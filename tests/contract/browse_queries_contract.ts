/**
 * The contract of the event browser's queries ({@linkcode BrowseQueries}):
 * each store's test file calls `browseQueriesContract` with a factory
 * giving an empty store, so the in-memory store, the embedded database and
 * a real server answer the same. Events are written through the public
 * `transaction(tx => tx.commit(…))` API.
 */
import assert from "node:assert/strict";
import type { EventStore, SerializedCommand } from "@sequent/core";
import type {
  BrowsedEvent,
  BrowseQueries,
  EventPage,
  EventSearch,
  StreamCommit,
} from "@sequent/core/internal";
import {
  command,
  type ContractOptions,
  contractTest,
  event,
  type StoreFactory,
  stream,
} from "./event_store_contract.ts";

/** A store under test: the event store and its browse queries. */
export type BrowsableStore = EventStore & BrowseQueries;

const id = (): string => crypto.randomUUID();

/** Commits one command's streams; returns the command's id. */
async function commit(
  store: EventStore,
  streams: StreamCommit[],
  extra: Partial<SerializedCommand> = {},
): Promise<string> {
  const commandId = extra.commandId ?? id();
  await store.transaction((tx) =>
    tx.commit(
      command(streams[0]!.aggregateId, { ...extra, commandId }),
      streams,
    )
  );
  return commandId;
}

/** `aggregate:sequence` of each event. */
function keys(events: readonly BrowsedEvent[]): string[] {
  return events.map((e) => `${e.aggregateId}:${e.sequenceNumber}`);
}

/** Every page of a list, walked from the first; checks each page's size. */
async function walk(
  read: (cursor: string | undefined) => Promise<EventPage>,
  limit: number,
): Promise<{ events: BrowsedEvent[]; pages: number }> {
  const events: BrowsedEvent[] = [];
  let cursor: string | undefined;
  for (let pages = 1; pages < 1000; pages++) {
    const page = await read(cursor);
    assert.ok(page.events.length <= limit, "a page holds at most `limit`");
    events.push(...page.events);
    if (page.next === undefined) return { events, pages };
    assert.equal(page.events.length, limit, "a page before the last is full");
    cursor = page.next;
  }
  throw new Error("the pages never ended");
}

const AWKWARD =
  `"quotes' <script>alert(1)</script> \u202Eevil\u202C 🙂🏳️‍🌈 \\ back`;

/** Runs the browse-queries contract against a store factory. */
export function browseQueriesContract(
  name: string,
  factory: StoreFactory<BrowsableStore>,
  options: ContractOptions = {},
): void {
  const test = contractTest(`${name}: browse`, factory, options);

  test("search filters each alone and combined, newest commit first", async (store) => {
    const [a, b] = [id(), id()];
    const t = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, n));
    const c1 = await commit(store, [
      stream(a, [
        event(a, 1, { n: 1 }, "Browse_X", t(1)),
        event(a, 2, { n: 2 }, "Browse_Y", t(2)),
      ], { aggregateType: "Browse_A" }),
    ]);
    const c2 = await commit(store, [
      stream(b, [event(b, 1, { n: 3 }, "Browse_Y", t(3))], {
        aggregateType: "Browse_B",
      }),
    ]);
    const c3 = await commit(store, [
      stream(a, [event(a, 3, { n: 4 }, "Browse_X", t(4))]),
      stream(b, [event(b, 2, { n: 5 }, "Browse_X", t(5))]),
    ]);
    const all = (await store.searchEvents({}, { limit: 1000 })).events;
    assert.equal(all.length, 5);
    const commitOf = new Map([
      [`${a}:1`, 1],
      [`${a}:2`, 1],
      [`${b}:1`, 2],
      [`${a}:3`, 3],
      [`${b}:2`, 3],
    ]);
    // newest commit first; within a commit, one stream's events newest first
    const order = keys(all).map((k) => commitOf.get(k)!);
    assert.deepEqual(order, [...order].sort().reverse());
    assert.deepEqual(keys(all.filter((e) => e.aggregateId === a)), [
      `${a}:3`,
      `${a}:2`,
      `${a}:1`,
    ]);
    const commandOf = { 1: c1, 2: c2, 3: c3 } as Record<number, string>;
    for (const e of all) {
      const key = `${e.aggregateId}:${e.sequenceNumber}`;
      assert.equal(e.commandId, commandOf[commitOf.get(key)!]);
      assert.equal(
        e.aggregateType,
        e.aggregateId === a ? "Browse_A" : "Browse_B",
      );
      assert.deepEqual(
        await store.browseEvent(e.aggregateId, e.sequenceNumber),
        e,
      );
    }
    const search = async (s: EventSearch) =>
      keys((await store.searchEvents(s, { limit: 1000 })).events);
    const expect = (keep: (e: BrowsedEvent) => boolean) =>
      keys(all.filter(keep));
    const cases: [EventSearch, (e: BrowsedEvent) => boolean][] = [
      [{ aggregateId: a }, (e) => e.aggregateId === a],
      [{ aggregateId: a.toUpperCase() }, (e) => e.aggregateId === a],
      [{ commandId: c3 }, (e) => e.commandId === c3],
      [{ commandId: c1.toUpperCase() }, (e) => e.commandId === c1],
      [{ eventType: "Browse_X" }, (e) => e.eventType === "Browse_X"],
      [{ from: t(3) }, (e) => e.createdAt >= t(3)],
      [{ until: t(3) }, (e) => e.createdAt < t(3)],
      [
        { from: t(2), until: t(5) },
        (e) => e.createdAt >= t(2) && e.createdAt < t(5),
      ],
      [
        { aggregateId: b, eventType: "Browse_X" },
        (e) => e.aggregateId === b && e.eventType === "Browse_X",
      ],
      [
        { commandId: c3, eventType: "Browse_X", from: t(5) },
        (e) => e.commandId === c3 && e.createdAt >= t(5),
      ],
      [{ aggregateId: a, commandId: c2 }, () => false],
      [{ eventType: "Browse_Unknown" }, () => false],
      [{ commandId: id() }, () => false],
      [{ aggregateId: id() }, () => false],
      [{ from: t(5), until: t(5) }, () => false],
    ];
    for (const [s, keep] of cases) {
      assert.deepEqual(await search(s), expect(keep), JSON.stringify(s));
    }
  });

  test("pages walked to the end give every event once, in order, `next` unset only on the last", async (store) => {
    const [a, b] = [id(), id()];
    let c = "";
    for (let n = 1; n <= 4; n++) {
      c = await commit(store, [
        stream(a, [event(a, 2 * n - 1), event(a, 2 * n, {}, "Browse_Even")]),
        ...(n % 2 === 0
          ? [stream(b, [event(b, n / 2, {}, "Browse_Even")])]
          : []),
      ]);
    }
    // 10 events: 5 pages of 2, the last exactly full
    const whole = await store.searchEvents({}, { limit: 1000 });
    assert.equal(whole.events.length, 10);
    assert.equal(whole.next, undefined);
    const all = await walk(
      (cursor) => store.searchEvents({}, { limit: 2, cursor }),
      2,
    );
    assert.equal(all.pages, 5);
    assert.deepEqual(keys(all.events), keys(whole.events));
    // 6 events of a type: 3 pages
    const even = await walk(
      (cursor) =>
        store.searchEvents({ eventType: "Browse_Even" }, { limit: 2, cursor }),
      2,
    );
    assert.deepEqual(
      keys(even.events),
      keys(whole.events.filter((e) => e.eventType === "Browse_Even")),
    );
    assert.equal(even.pages, 3);
    // pages of 3 of one aggregate: 3, 3, 2
    const mine = await walk(
      (cursor) => store.searchEvents({ aggregateId: a }, { limit: 3, cursor }),
      3,
    );
    assert.equal(mine.pages, 3);
    assert.deepEqual(
      keys(mine.events),
      keys(whole.events.filter((e) => e.aggregateId === a)),
    );
    // one aggregate's events by sequence number
    const seq = await walk(
      (cursor) => store.aggregateEvents(a, { limit: 2, cursor }),
      2,
    );
    assert.deepEqual(seq.events.map((e) => e.sequenceNumber), [
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
    ]);
    assert.equal(seq.pages, 4);
    const first = await store.aggregateEvents(a, { limit: 3 });
    assert.equal(
      first.next,
      "3",
      "aggregateEvents' cursor is the last sequence number",
    );
    assert.deepEqual(
      (await store.aggregateEvents(a, { limit: 1000, cursor: "6" })).events
        .map((e) => e.sequenceNumber),
      [7, 8],
    );
    // one command's events, in the order stored
    const ofCommand = await walk(
      (cursor) => store.commandEvents(c, { limit: 1, cursor }),
      1,
    );
    assert.equal(ofCommand.pages, 3);
    assert.deepEqual(
      keys(ofCommand.events),
      keys(whole.events.filter((e) => e.commandId === c)).reverse(),
    );
    assert.deepEqual(
      keys(ofCommand.events.filter((e) => e.aggregateId === a)),
      [`${a}:7`, `${a}:8`],
    );
    const one = await store.searchEvents({}, { limit: 1 });
    assert.equal(one.events.length, 1);
    assert.notEqual(one.next, undefined);
  });

  test("events committed between two pages make no row show twice or be skipped", async (store) => {
    const [a, b] = [id(), id()];
    for (let n = 1; n <= 3; n++) {
      await commit(store, [
        stream(a, [event(a, 2 * n - 1), event(a, 2 * n)]),
        stream(b, [event(b, n)]),
      ]);
    }
    const before = keys((await store.searchEvents({}, { limit: 1000 })).events);
    const first = await store.searchEvents({}, { limit: 4 });
    const firstOfA = await store.aggregateEvents(a, { limit: 4 });
    const firstOfB = await store.searchEvents({ aggregateId: b }, { limit: 2 });
    await commit(store, [stream(a, [event(a, 7)]), stream(b, [event(b, 4)])]);
    await commit(store, [stream(b, [event(b, 5)])]);
    const rest = await walk(
      (cursor) =>
        store.searchEvents({}, { limit: 4, cursor: cursor ?? first.next }),
      4,
    );
    const seen = [...keys(first.events), ...keys(rest.events)];
    assert.equal(new Set(seen).size, seen.length, "no row twice");
    assert.deepEqual(seen.filter((k) => before.includes(k)), before);
    const restOfB = await walk(
      (cursor) =>
        store.searchEvents({ aggregateId: b }, {
          limit: 2,
          cursor: cursor ?? firstOfB.next,
        }),
      2,
    );
    const seenOfB = [...keys(firstOfB.events), ...keys(restOfB.events)];
    assert.equal(new Set(seenOfB).size, seenOfB.length);
    assert.deepEqual(seenOfB.filter((k) => before.includes(k)), [
      `${b}:3`,
      `${b}:2`,
      `${b}:1`,
    ]);
    // by sequence number, what was appended follows
    const restOfA = await walk(
      (cursor) =>
        store.aggregateEvents(a, { limit: 4, cursor: cursor ?? firstOfA.next }),
      4,
    );
    assert.deepEqual(
      [...firstOfA.events, ...restOfA.events].map((e) => e.sequenceNumber),
      [1, 2, 3, 4, 5, 6, 7],
    );
  });

  test("ids that are not UUIDs match nothing, and are no error", async (store) => {
    const a = id();
    const c = await commit(store, [stream(a, [event(a, 1)])]);
    for (
      const bad of ["", "not-a-uuid", "' OR 1=1 --", `${a}x`, a.slice(1), "1"]
    ) {
      const page = { limit: 10 };
      assert.deepEqual(
        (await store.searchEvents({ aggregateId: bad }, page)).events,
        [],
      );
      assert.deepEqual(
        (await store.searchEvents({ commandId: bad }, page)).events,
        [],
      );
      assert.deepEqual(await store.aggregateEvents(bad, page), {
        events: [],
        next: undefined,
      });
      assert.deepEqual(await store.commandEvents(bad, page), {
        events: [],
        next: undefined,
      });
      assert.equal(await store.browseEvent(bad, 1), undefined);
      assert.equal(await store.aggregateSummary(bad), undefined);
      assert.equal(await store.commandById(bad), undefined);
      assert.deepEqual(await store.causedCommands(bad, 1, 10), []);
    }
    // what no store can hold matches nothing either
    assert.deepEqual(
      (await store.searchEvents({ eventType: "a\u0000b" }, { limit: 10 }))
        .events,
      [],
    );
    // sequence numbers out of range or fractional match nothing
    for (const n of [0, -1, 1.5, 2 ** 31, Number.NaN]) {
      assert.equal(await store.browseEvent(a, n), undefined);
      assert.deepEqual(await store.causedCommands(a, n, 10), []);
    }
    // a UUID in capitals is the same id
    assert.equal((await store.browseEvent(a.toUpperCase(), 1))?.aggregateId, a);
    assert.equal((await store.commandById(c.toUpperCase()))?.commandId, c);
    assert.equal(
      (await store.aggregateEvents(a.toUpperCase(), { limit: 10 })).events
        .length,
      1,
    );
  });

  test("a bad limit is a RangeError and a bad cursor a TypeError naming it", async (store) => {
    const a = id();
    const c = await commit(store, [stream(a, [event(a, 1), event(a, 2)])]);
    for (const limit of [0, -1, 1001, 1.5, Number.NaN, Infinity]) {
      const page = { limit };
      await assert.rejects(store.searchEvents({}, page), RangeError);
      await assert.rejects(store.aggregateEvents(a, page), RangeError);
      await assert.rejects(store.commandEvents(c, page), RangeError);
      await assert.rejects(store.causedCommands(a, 1, limit), RangeError);
      // checked before the id: a bad call is bad with any id
      await assert.rejects(store.aggregateEvents("x", page), RangeError);
    }
    assert.equal(
      (await store.searchEvents({}, { limit: 1000 })).events.length,
      2,
    );
    const cursors = [
      "",
      "garbage",
      "1:2:3",
      "-1",
      "1e3",
      " 1",
      "99999999999999999999999:1",
      "1:99999999999999999999",
    ];
    for (const cursor of cursors) {
      const named = (error: unknown) =>
        error instanceof TypeError &&
        error.message.includes(JSON.stringify(cursor));
      const page = { limit: 1, cursor };
      await assert.rejects(store.searchEvents({}, page), named, cursor);
      await assert.rejects(store.aggregateEvents(a, page), named, cursor);
      await assert.rejects(store.commandEvents(c, page), named, cursor);
      await assert.rejects(
        store.searchEvents({ aggregateId: "x" }, page),
        named,
      );
    }
    // past every sequence number is no error: nothing follows
    assert.deepEqual(
      await store.aggregateEvents(a, { limit: 1, cursor: "9999999999" }),
      { events: [], next: undefined },
    );
    await assert.rejects(
      store.searchEvents({ from: new Date("never") }, { limit: 1 }),
      RangeError,
    );
  });

  test("an aggregate's summary: type, partition key, last sequence number, snapshots newest first (20), unique keys", async (store) => {
    const [a, other] = [id(), id()];
    await commit(store, [
      stream(a, [event(a, 1), event(a, 2)], {
        aggregateType: "Browse_Account",
        partitionKey: "eu-1",
        uniqueKeys: { email: "a@example.com", code: { n: 7 } },
      }),
    ]);
    await commit(store, [
      stream(a, [event(a, 3)], {
        aggregateType: "Browse_Account",
        partitionKey: "eu-1",
      }),
    ]);
    await commit(store, [stream(other, [event(other, 1)])]);
    const at = (n: number) => new Date(Date.UTC(2026, 1, 1, 0, 0, n));
    await store.storeSnapshots([
      ...Array.from({ length: 22 }, (_, i) => ({
        aggregateId: a,
        aggregateType: "Browse_Account",
        version: 1,
        sequenceNumber: i + 1,
        createdAt: at(i),
        data: "{}",
      })),
      {
        aggregateId: a,
        aggregateType: "Browse_Account",
        version: 2,
        sequenceNumber: 22,
        createdAt: at(30),
        data: "{}",
      },
    ]);
    const summary = await store.aggregateSummary(a);
    assert.ok(summary);
    assert.equal(summary.aggregateId, a);
    assert.equal(summary.aggregateType, "Browse_Account");
    assert.equal(summary.partitionKey, "eu-1");
    assert.equal(summary.lastSequenceNumber, 3);
    assert.equal(summary.snapshots.length, 20);
    assert.deepEqual(summary.snapshots.slice(0, 3), [
      { version: 2, sequenceNumber: 22, createdAt: at(30) },
      { version: 1, sequenceNumber: 22, createdAt: at(21) },
      { version: 1, sequenceNumber: 21, createdAt: at(20) },
    ]);
    assert.deepEqual(summary.snapshots.at(-1), {
      version: 1,
      sequenceNumber: 4,
      createdAt: at(3),
    });
    assert.deepEqual(summary.uniqueKeys, [
      { scope: "code", key: { n: 7 } },
      { scope: "email", key: "a@example.com" },
    ]);
    const plain = await store.aggregateSummary(other);
    assert.deepEqual(plain, {
      aggregateId: other,
      aggregateType: "Contract_Thing",
      partitionKey: "",
      lastSequenceNumber: 1,
      snapshots: [],
      uniqueKeys: [],
    });
    assert.equal(await store.aggregateSummary(id()), undefined);
    await store.deleteStream(other);
    assert.equal(await store.aggregateSummary(other), undefined);
    assert.equal(await store.browseEvent(other, 1), undefined);
    assert.deepEqual(
      (await store.searchEvents({ aggregateId: other }, { limit: 10 })).events,
      [],
    );
  });

  test("a command by its id, its events, and the commands its events caused (a workflow's)", async (store) => {
    const [a, b, c] = [id(), id(), id()];
    const placed = await commit(
      store,
      [stream(a, [event(a, 1), event(a, 2, {}, "Browse_Placed")])],
      {
        commandType: "Browse_Place",
        userId: "user-1",
        payload: '{"why":"test"}',
      },
    );
    const cause = { eventAggregateId: a, eventSequenceNumber: 2 };
    const first = await commit(store, [stream(b, [event(b, 1)])], {
      commandType: "Browse_Invoice",
      ...cause,
    });
    const second = await commit(
      store,
      [stream(c, [event(c, 1), event(c, 2)])],
      { commandType: "Browse_Ship", ...cause },
    );
    const record = await store.commandById(placed);
    assert.ok(record);
    assert.equal(record.commandId, placed);
    assert.equal(record.commandType, "Browse_Place");
    assert.equal(record.userId, "user-1");
    assert.equal(record.aggregateId, a);
    assert.equal(record.eventAggregateId, undefined);
    assert.deepEqual(JSON.parse(record.payload), { why: "test" });
    assert.ok(record.createdAt instanceof Date);
    assert.deepEqual(await store.commandForEvent(a, 1), record);
    const events = await store.commandEvents(placed, { limit: 10 });
    assert.deepEqual(keys(events.events), [`${a}:1`, `${a}:2`]);
    assert.equal(events.next, undefined);
    assert.ok(events.events.every((e) => e.commandId === placed));
    const caused = await store.causedCommands(a, 2, 10);
    assert.deepEqual(caused.map((r) => r.commandId), [first, second]);
    assert.deepEqual(caused, await store.commandsCausedBy(a, 2));
    assert.equal(caused[0]?.eventSequenceNumber, 2);
    assert.equal(caused[1]?.eventAggregateId, a);
    assert.deepEqual(
      (await store.causedCommands(a, 2, 1)).map((r) => r.commandId),
      [first],
    );
    assert.deepEqual(await store.causedCommands(a, 1, 10), []);
    assert.deepEqual(await store.causedCommands(id(), 2, 10), []);
    assert.equal((await store.commandById(second))?.eventAggregateId, a);
    assert.equal((await store.browseEvent(c, 2))?.commandId, second);
    assert.equal(await store.commandById(id()), undefined);
    assert.deepEqual(await store.commandEvents(id(), { limit: 10 }), {
      events: [],
      next: undefined,
    });
  });

  test("event types, sorted", async (store) => {
    const tag = id().slice(0, 8);
    const names = [
      `Zeta_${tag}`,
      `alpha_${tag}`,
      `Beta_${tag}`,
      `Ärger_${tag}`,
      `_${tag}`,
    ];
    const a = id();
    await commit(store, [
      stream(a, names.map((type, i) => event(a, i + 1, {}, type))),
    ]);
    const types = await store.eventTypes();
    assert.deepEqual(types, [...types].sort());
    assert.deepEqual(types.filter((t) => t.endsWith(tag)), [...names].sort());
    assert.equal(new Set(types).size, types.length);
  });

  test("awkward text comes back verbatim", async (store) => {
    const a = id();
    const type = `Browse_${AWKWARD}`;
    const c = await commit(store, [
      stream(a, [event(a, 1, { text: AWKWARD, [AWKWARD]: 1 }, type)], {
        aggregateType: AWKWARD,
        partitionKey: AWKWARD,
        uniqueKeys: { [AWKWARD]: AWKWARD },
      }),
    ], {
      userId: AWKWARD,
      commandType: AWKWARD,
      payload: JSON.stringify({ text: AWKWARD }),
    });
    const [found] =
      (await store.searchEvents({ eventType: type }, { limit: 10 }))
        .events;
    assert.ok(found);
    assert.equal(found.eventType, type);
    assert.equal(found.aggregateType, AWKWARD);
    assert.deepEqual(JSON.parse(found.payload), {
      text: AWKWARD,
      [AWKWARD]: 1,
    });
    assert.deepEqual(await store.browseEvent(a, 1), found);
    const summary = await store.aggregateSummary(a);
    assert.equal(summary?.partitionKey, AWKWARD);
    assert.equal(summary?.aggregateType, AWKWARD);
    assert.deepEqual(summary?.uniqueKeys, [{ scope: AWKWARD, key: AWKWARD }]);
    const record = await store.commandById(c);
    assert.equal(record?.userId, AWKWARD);
    assert.equal(record?.commandType, AWKWARD);
    assert.deepEqual(JSON.parse(record?.payload ?? "null"), { text: AWKWARD });
    assert.ok((await store.eventTypes()).includes(type));
    assert.deepEqual(
      (await store.searchEvents({ eventType: AWKWARD }, { limit: 10 })).events,
      [],
    );
  });
}
