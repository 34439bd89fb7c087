/**
 * Partitioned processors, the same cases on every store (memory, PGlite,
 * the server when `DATABASE_URL` names one): the store's rules for
 * members, partition claims and fenced per-partition checkpoints, and
 * runners sharing a processor's partitions — every event handled once and
 * in each aggregate's order, partitions handed over when a member comes or
 * goes, an aggregate set aside by one member let go in order; and a
 * processor never both partitioned and not (a rolling deploy either way).
 */
import assert from "node:assert/strict";
import {
  attrs,
  column,
  CommandService,
  Event,
  type EventStore,
  ProcessorRunner,
  Projector,
  silentLogger,
  table,
  Workflow,
} from "@sequent/core";
import type { ProcessorStore } from "@sequent/core/internal";
import {
  processorStoreFor,
  type StoreBackend,
  storeBackends,
} from "../postgres/_store_backends.ts";

class Part_Counted extends Event.define("Part.Counted", {
  n: attrs.integer().required(),
}) {}

const partLog = table("part_log", {
  aggregateId: column.uuid().primaryKey(),
  seqs: column.text(),
});

/** Appends the event's number to its aggregate's row. */
async function appendNumber(p: Projector, e: Part_Counted): Promise<void> {
  const [row] = await p.findRecords(partLog, { aggregateId: e.aggregateId });
  if (row) {
    await p.updateRecord(partLog, row, { seqs: `${row.seqs}${e.n};` });
  } else {
    await p.createRecord(partLog, {
      aggregateId: e.aggregateId,
      seqs: `${e.n};`,
    });
  }
}

/** Appends each event's number: `"1;2;3;"` shows every event once, in order. */
class Part_LogProjector extends Projector {
  static partitioned = true;
  static override readonly manages = [partLog];
  static {
    this.on(Part_Counted, async (p, e) => {
      if (Part_LogProjector.failOn.has(`${e.aggregateId}/${e.n}`)) {
        throw new Error(`boom at ${e.n}`);
      }
      await appendNumber(p, e);
    });
  }
  /** Events (`id/n`) it throws on. */
  static readonly failOn = new Set<string>();
}

/**
 * The same processor (its name is the partitioned one's), in a deploy that
 * runs it unpartitioned: it appends the same way.
 */
class Part_PlainLogProjector extends Projector {
  static readonly processorName = "Part_LogProjector";
  static override readonly manages = [partLog];
  static {
    this.on(Part_Counted, appendNumber);
  }
}

/** Records who handled which event, in handling order (at least once). */
class Part_Watcher extends Workflow {
  static partitioned = true;
  static readonly handled: { member: string; id: string; n: number }[] = [];
  static member = "";
  static {
    this.on(Part_Counted, (_w, e) => {
      Part_Watcher.handled.push({
        member: Part_Watcher.member,
        id: e.aggregateId,
        n: e.n,
      });
    });
  }
}

const { list, disposeAtEnd } = storeBackends();

interface Setup {
  readonly store: EventStore;
  readonly processors: ProcessorStore;
  readonly service: CommandService;
  member(owner: string, leaseMs?: number): ProcessorRunner;
}

async function setup(b: StoreBackend): Promise<Setup> {
  const store = await b.emptyStore([partLog]);
  const processors = await processorStoreFor(b, store);
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [],
  });
  Part_LogProjector.failOn.clear();
  return {
    store,
    processors,
    service,
    member: (owner, leaseMs = 1_000) =>
      new ProcessorRunner({
        store: processors,
        service,
        processors: [new Part_LogProjector()],
        owner,
        leaseMs,
        batchSize: 50,
        pollMs: { min: 5, max: 50 },
        logger: silentLogger,
      }),
  };
}

/** Commits `count` events to each aggregate, in commits of several aggregates. */
async function commitEvents(
  service: CommandService,
  ids: readonly string[],
  from: number,
  count: number,
): Promise<string> {
  let token = "";
  for (let n = from; n < from + count; n++) {
    token = await service.commitEvents(ids.map((id) => ({
      events: [new Part_Counted({ aggregateId: id, sequenceNumber: n, n })],
    })));
  }
  return token;
}

function expected(count: number): string {
  return Array.from({ length: count }, (_, i) => `${i + 1};`).join("");
}

async function logOf(store: EventStore, id: string): Promise<string> {
  const [row] = await store.records.find(partLog, { aggregateId: id });
  return row?.seqs ?? "";
}

async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `${b.name}: ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn,
    });

  test("members join a partitioned processor's list and drop off when their entries lapse", async () => {
    const { processors } = await setup(b);
    const first = await processors.join("part", "m-b", 150);
    assert.deepEqual(first.members, ["m-b"]);
    assert.equal(first.partitions, 64);
    const both = await processors.join("part", "m-a", 5_000);
    assert.deepEqual(both.members, ["m-a", "m-b"]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual((await processors.join("part", "m-a", 5_000)).members, [
      "m-a",
    ]);
    await processors.leave("part", "m-a");
    const [record] = await processors.records(["part"]);
    assert.deepEqual(record?.members, []);
  });

  test("partition claims are each their own: another member gets only free or lapsed ones, with a larger token", async () => {
    const { processors } = await setup(b);
    const a = await processors.claimPartitions("part", "m-a", [0, 1, 2], 150);
    assert.deepEqual(a.partitions?.map((c) => c.partition), [0, 1, 2]);
    const b1 = await processors.claimPartitions("part", "m-b", [2, 3], 5_000);
    assert.deepEqual(b1.partitions?.map((c) => c.partition), [3]);
    // renewing keeps the token
    const again = await processors.claimPartitions("part", "m-a", [0], 150);
    assert.equal(again.partitions?.[0]?.token, a.partitions?.[0]?.token);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const b2 = await processors.claimPartitions("part", "m-b", [2, 3], 5_000);
    assert.deepEqual(b2.partitions?.map((c) => c.partition), [2, 3]);
    assert.ok(b2.partitions![0]!.token > a.partitions![2]!.token);
    const [record] = await processors.records(["part"]);
    assert.equal(record?.partitions.length, 64);
    assert.equal(record?.partitions[2]?.owner, "m-b");
    assert.equal(record?.partitions[0]?.owner, undefined);
    // every processor recorded, when none is named
    assert.deepEqual((await processors.records()).map((r) => r.name), ["part"]);
    // released partitions are free at once
    await processors.release("part", b2);
    const c = await processors.claimPartitions("part", "m-c", [2, 3], 5_000);
    assert.deepEqual(c.partitions?.map((x) => x.partition), [2, 3]);
  });

  test("a commit under a partitioned claim moves every held partition not past it, and stores nothing once one is lost", async () => {
    const { store, processors, service } = await setup(b);
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    await commitEvents(service, ids, 1, 3);
    const all = await processors.reader.readEvents(
      (await processors.claimPartitions("other", "x", [], 1_000)).checkpoint,
      { limit: 100 },
    );
    const [e1, e2, e3] = all.events;
    const lease = await processors.claimPartitions("part", "m-a", [5, 6], 200);
    assert.ok(await processors.commit("part", lease, e2!.position));
    // a partition taken ahead by itself is not moved back
    const six = await processors.claimPartitions("part", "m-a", [6], 200);
    assert.ok(await processors.commit("part", six, e3!.position));
    assert.ok(await processors.commit("part", lease, e1!.position));
    let [record] = await processors.records(["part"]);
    assert.equal(record?.partitions[5]?.checkpoint, e2!.position);
    assert.equal(record?.partitions[6]?.checkpoint, e3!.position);
    // the processor's checkpoint is the earliest of its partitions'
    assert.equal(record?.checkpoint, record?.partitions[0]?.checkpoint);
    // partition 6 lapses and another member takes it
    await new Promise((resolve) => setTimeout(resolve, 300));
    await processors.claimPartitions("part", "m-b", [6], 5_000);
    const stored = await processors.commit(
      "part",
      lease,
      e3!.position,
      async (records) => {
        await records.insert(partLog, [{ aggregateId: ids[0]!, seqs: "x" }]);
      },
    );
    assert.equal(stored, false);
    assert.equal(await logOf(store, ids[0]!), "");
    [record] = await processors.records(["part"]);
    assert.equal(record?.partitions[5]?.checkpoint, e2!.position);
    // a claim on no partition holds nothing
    const none = await processors.claimPartitions("part", "m-c", [6], 1_000);
    assert.deepEqual(none.partitions, []);
    assert.equal(await processors.commit("part", none, e3!.position), false);
  });

  test("a processor becoming partitioned goes on from its checkpoint in every partition; a reset forgets its partitions", async () => {
    const { processors, service } = await setup(b);
    const ids = [crypto.randomUUID()];
    await commitEvents(service, ids, 1, 2);
    const plain = await processors.claim("part", "m-a", 1_000);
    const [first] = (await processors.reader.readEvents(plain!.checkpoint, {
      limit: 1,
    })).events;
    assert.ok(await processors.commit("part", plain!, first!.position));
    await processors.release("part", plain!);
    const lease = await processors.claimPartitions(
      "part",
      "m-a",
      [0, 63],
      1_000,
    );
    assert.deepEqual(
      lease.partitions?.map((c) => c.checkpoint),
      [first!.position, first!.position],
    );
    await processors.reset("part");
    const [record] = await processors.records(["part"]);
    assert.deepEqual(record?.partitions, []);
    assert.equal(
      await processors.commit("part", lease, first!.position),
      false,
    );
  });

  test("a processor is never both: no partition while an unpartitioned claim is live; once partitioned, unpartitioned claims are refused and the old one's commit fails, until a reset", async () => {
    const { processors, service } = await setup(b);
    await commitEvents(service, [crypto.randomUUID()], 1, 1);
    const old = await processors.claim("part", "old", 200);
    assert.ok(old);
    const [first] = (await processors.reader.readEvents(old.checkpoint, {
      limit: 1,
    })).events;
    // an old runner still holds it: the new members wait
    const early = await processors.claimPartitions(
      "part",
      "new",
      [0, 1],
      5_000,
    );
    assert.deepEqual(early.partitions, []);
    assert.deepEqual((await processors.records(["part"]))[0]?.partitions, []);
    assert.ok(await processors.claim("part", "old", 200), "the old one renews");
    await new Promise((resolve) => setTimeout(resolve, 300));
    // its claim lapsed: the partitions are made, from its checkpoint
    const lease = await processors.claimPartitions(
      "part",
      "new",
      [0, 1],
      5_000,
    );
    assert.deepEqual(lease.partitions?.map((c) => c.partition), [0, 1]);
    const [record] = await processors.records(["part"]);
    assert.equal(record?.owner, undefined);
    assert.equal(record?.partitions.length, 64);
    // and the old one is out for good
    assert.equal(await processors.claim("part", "old", 5_000), undefined);
    assert.equal(await processors.claim("part", "other", 5_000), undefined);
    assert.equal(await processors.commit("part", old, first!.position), false);
    assert.ok(await processors.commit("part", lease, first!.position));
    // a reset starts it over, unpartitioned until members claim again
    await processors.reset("part");
    assert.ok(await processors.claim("part", "old", 5_000));
  });

  test("an old holder renewing while a member makes the partitions: never both, whichever comes first", async () => {
    const { processors } = await setup(b);
    let claimed = 0;
    let partitioned = 0;
    for (let i = 0; i < 30; i++) {
      const name = `race_${i}`;
      assert.ok(await processors.claim(name, "old", 30));
      await new Promise((resolve) => setTimeout(resolve, 40));
      // the old claim has lapsed: its holder renews as a member starts
      const [renewed, lease] = await Promise.all([
        processors.claim(name, "old", 5_000),
        processors.claimPartitions(name, "new", [0, 1, 2], 5_000),
      ]);
      const made = (lease.partitions?.length ?? 0) > 0;
      assert.ok(
        !(renewed && made),
        `${name}: renewed unpartitioned and partitioned at once`,
      );
      if (renewed) claimed++;
      if (made) partitioned++;
    }
    // one of the two won each race
    assert.equal(claimed + partitioned, 30);
  });

  test("a processor run partitioned goes on under a runner configured unpartitioned, as a member holding every partition: each event once, in order", async () => {
    const { store, processors, service, member } = await setup(b);
    const ids = Array.from({ length: 10 }, () => crypto.randomUUID());
    const partitioned = member("m-1");
    const stop = new AbortController();
    const run = partitioned.run({ signal: stop.signal });
    try {
      const token = await commitEvents(service, ids, 1, 3);
      await partitioned.waitFor(token, { timeoutMs: 10_000 });
    } finally {
      stop.abort();
      await run;
    }
    const token = await commitEvents(service, ids, 4, 3);
    const plain = new ProcessorRunner({
      store: processors,
      service,
      processors: [new Part_PlainLogProjector()],
      owner: "plain",
      leaseMs: 1_000,
      batchSize: 50,
      pollMs: { min: 5, max: 50 },
      logger: silentLogger,
    });
    const stopPlain = new AbortController();
    const plainRun = plain.run({ signal: stopPlain.signal });
    try {
      await plain.waitFor(token, { timeoutMs: 10_000 });
      for (const id of ids) assert.equal(await logOf(store, id), expected(6));
      const [record] = await processors.records(["Part_LogProjector"]);
      assert.deepEqual(
        new Set(record?.partitions.map((q) => q.owner)),
        new Set(["plain"]),
      );
      assert.equal(record?.owner, undefined);
    } finally {
      stopPlain.abort();
      await plainRun;
    }
  });

  test("three members share the partitions evenly, and every event is handled once, in its aggregate's order", async () => {
    const { store, processors, service, member } = await setup(b);
    // entries of 3 s: the test pins the shares and the order, not a lapse,
    // and on a loaded machine a member of PGlite's single connection may
    // wait its turn past the half-second renewal of a 1 s entry
    const members = ["m-1", "m-2", "m-3"].map((owner) => member(owner, 3_000));
    const stop = new AbortController();
    const runs = members.map((m) => m.run({ signal: stop.signal }));
    try {
      // the shares settle: every partition held, by all three, none above
      // its share, ceil(64 / 3) (the largest share sets the pace); a member
      // gives its surplus up at its next turn, so a member that joined
      // last may hold its share while another still holds more
      let shares: number[] = [];
      await until("partitions shared evenly by three members", async () => {
        const [r] = await processors.records(["Part_LogProjector"]);
        const held = new Map<string | undefined, number>();
        for (const q of r?.partitions ?? []) {
          held.set(q.owner, (held.get(q.owner) ?? 0) + 1);
        }
        shares = [...held.values()];
        return r?.partitions.length === 64 && !held.has(undefined) &&
          held.size === 3 && shares.every((n) => n <= 22);
      }).catch((error) => {
        throw new Error(`${error.message} (shares ${shares})`);
      });
      const [r] = await processors.records(["Part_LogProjector"]);
      assert.deepEqual(r?.members, ["m-1", "m-2", "m-3"]);
      const ids = Array.from({ length: 30 }, () => crypto.randomUUID());
      const token = await commitEvents(service, ids, 1, 6);
      await members[0]!.waitFor(token, { timeoutMs: 10_000 });
      for (const id of ids) assert.equal(await logOf(store, id), expected(6));
      const [status] = await members[0]!.status();
      assert.equal(status?.lagEvents, 0);
      assert.equal(status?.partitions.length, 64);
      assert.deepEqual(status?.members, ["m-1", "m-2", "m-3"]);
    } finally {
      stop.abort();
      await Promise.all(runs);
    }
  });

  test("a member that stops gives its partitions up, and the others take them on and go on in order", async () => {
    const { store, processors, service, member } = await setup(b);
    const one = member("m-1");
    const two = member("m-2");
    const stopOne = new AbortController();
    const stopTwo = new AbortController();
    const runs = [
      one.run({ signal: stopOne.signal }),
      two.run({ signal: stopTwo.signal }),
    ];
    try {
      const owners = async () => {
        const [r] = await processors.records(["Part_LogProjector"]);
        return new Set(r?.partitions.map((q) => q.owner));
      };
      await until("two members", async () => (await owners()).size === 2);
      const ids = Array.from({ length: 20 }, () => crypto.randomUUID());
      await commitEvents(service, ids, 1, 3);
      stopOne.abort();
      await runs[0];
      const started = performance.now();
      await until(
        "one member holding all",
        async () => {
          const o = await owners();
          return o.size === 1 && o.has("m-2");
        },
      );
      // handed over at m-2's next renewal, not after a lapse
      assert.ok(performance.now() - started < 1_000);
      const token = await commitEvents(service, ids, 4, 3);
      await two.waitFor(token, { timeoutMs: 10_000 });
      for (const id of ids) assert.equal(await logOf(store, id), expected(6));
    } finally {
      stopOne.abort();
      stopTwo.abort();
      await Promise.all(runs);
    }
  });

  test("a partitioned workflow's events are handled by one member at a time, in each aggregate's order", async () => {
    const { processors, service } = await setup(b);
    Part_Watcher.handled.length = 0;
    const make = (owner: string) =>
      new ProcessorRunner({
        store: processors,
        service,
        processors: [new Part_Watcher()],
        owner,
        leaseMs: 1_000,
        batchSize: 20,
        logger: silentLogger,
      });
    const ids = Array.from({ length: 12 }, () => crypto.randomUUID());
    await commitEvents(service, ids, 1, 4);
    const [m1, m2] = [make("w-1"), make("w-2")];
    // alternate rounds of the two members, as two processes would run them
    for (let i = 0; i < 40; i++) {
      Part_Watcher.member = "w-1";
      await m1.round();
      Part_Watcher.member = "w-2";
      await m2.round();
    }
    const byId = new Map<string, number[]>();
    for (const h of Part_Watcher.handled) {
      byId.set(h.id, [...(byId.get(h.id) ?? []), h.n]);
    }
    for (const id of ids) assert.deepEqual(byId.get(id), [1, 2, 3, 4], id);
    const [status] = await m1.status();
    assert.equal(status?.lagEvents, 0);
  });

  test("a member sets a failing aggregate aside; the others go on, and a retry finishes it in order", async () => {
    const { store, service, member } = await setup(b);
    const ids = Array.from({ length: 8 }, () => crypto.randomUUID());
    const bad = ids[3]!;
    Part_LogProjector.failOn.add(`${bad}/2`);
    await commitEvents(service, ids, 1, 4);
    const one = member("m-1");
    const two = member("m-2");
    for (let i = 0; i < 6; i++) {
      await one.round();
      await two.round();
    }
    await one.catchUp();
    for (const id of ids) {
      assert.equal(await logOf(store, id), id === bad ? "1;" : expected(4));
    }
    const [status] = await one.status();
    assert.deepEqual(status?.parked.map((k) => k.aggregateId), [bad]);
    Part_LogProjector.failOn.clear();
    await one.retry("Part_LogProjector", bad);
    // whichever member holds its partition lets it go on, at once or at
    // its next renewal (within half the claim's time)
    await until("the retry", async () => {
      await one.round();
      await two.round();
      return await logOf(store, bad) === expected(4);
    }, 2_000);
    const [after] = await two.status();
    assert.deepEqual(after?.parked, []);
  });
}

disposeAtEnd();
