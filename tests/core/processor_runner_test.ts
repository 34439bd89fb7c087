/**
 * Asynchronous processors, the same cases on every store (memory, PGlite,
 * the server when `DATABASE_URL` names one): projectors that take effect
 * exactly once, checkpoints that pass events a processor ignores, claims
 * that fence, aggregates set aside on failure and let go in order,
 * workflows whose commands are stored once however often an event is
 * handled, and read-your-writes tokens.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  column,
  Command,
  CommandHandler,
  CommandService,
  Event,
  type EventStore,
  InMemoryEventStore,
  InMemoryProcessorStore,
  ProcessorRunner,
  ProcessorTimeoutError,
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

// --- domain ----------------------------------------------------------------

class Proc_Opened extends Event.define("Proc.Opened", {
  owner: attrs.string(),
}) {}
class Proc_Noted extends Event.define("Proc.Noted", {
  note: attrs.string(),
}) {}
class Proc_Ignored extends Event.define("Proc.Ignored", {}) {}
class Proc_Welcomed extends Event.define("Proc.Welcomed", {}) {}

class Proc_Open extends Command.define("Proc.Open", {
  owner: attrs.string().required(),
}) {}
class Proc_Note extends Command.define("Proc.Note", {
  note: attrs.string().required(),
}) {}
class Proc_Ignore extends Command.define("Proc.Ignore", {}) {}
class Proc_Welcome extends Command.define("Proc.Welcome", {}) {}

class Proc_Account extends AggregateRoot {
  static open(id: string, owner: string): Proc_Account {
    const account = new Proc_Account(id);
    account.apply(Proc_Opened, { owner });
    return account;
  }
  note(note: string): void {
    this.apply(Proc_Noted, { note });
  }
  ignore(): void {
    this.apply(Proc_Ignored);
  }
  welcome(): void {
    this.apply(Proc_Welcomed);
  }
  static {
    this.on(Proc_Opened, () => {});
    this.on(Proc_Noted, () => {});
    this.on(Proc_Ignored, () => {});
    this.on(Proc_Welcomed, () => {});
  }
}

class Proc_Handler extends CommandHandler {
  static {
    this.on(Proc_Open, (h, c) => {
      h.repository.addAggregate(Proc_Account.open(c.aggregateId, c.owner));
    });
    this.on(
      Proc_Note,
      (h, c) => h.doWithAggregate(c, Proc_Account, (a) => a.note(c.note)),
    );
    this.on(
      Proc_Ignore,
      (h, c) => h.doWithAggregate(c, Proc_Account, (a) => a.ignore()),
    );
    this.on(
      Proc_Welcome,
      (h, c) => h.doWithAggregate(c, Proc_Account, (a) => a.welcome()),
    );
  }
}

const procNotes = table("proc_notes", {
  aggregateId: column.uuid().primaryKey(),
  owner: column.text().nullable(),
  notes: column.text().nullable(),
});

/** Each account's owner, unique: a second account of one owner is refused. */
const procOwners = table("proc_owners", {
  owner: column.text().primaryKey(),
  aggregateId: column.uuid(),
});

class Proc_OwnerProjector extends Projector {
  static override readonly manages = [procOwners];
  static {
    this.on(Proc_Opened, (p, e) =>
      p.createRecord(procOwners, {
        owner: e.owner ?? "",
        aggregateId: e.aggregateId,
      }));
  }
}

/** Fails on a note "boom" while `failing` is set. */
const failing = { on: true };

class Proc_NoteProjector extends Projector {
  static override readonly manages = [procNotes];
  static {
    this.on(Proc_Opened, (p, e) =>
      p.createRecord(procNotes, {
        aggregateId: e.aggregateId,
        owner: e.owner ?? null,
        notes: "",
      }));
    this.on(Proc_Noted, async (p, e) => {
      if (e.note === "boom" && failing.on) throw new Error("boom!");
      const row = await p.getRecord(procNotes, { aggregateId: e.aggregateId });
      await p.updateRecord(procNotes, row, {
        notes: `${row.notes ?? ""}${e.note};`,
      });
    });
  }
}

/** Welcomes every new account: a command per event, stored once. */
class Proc_Welcomer extends Workflow {
  static readonly seen: string[] = [];
  static {
    this.on(Proc_Opened, (w, e) => {
      Proc_Welcomer.seen.push(w.idempotencyKey());
      return w.executeCommands(
        new Proc_Welcome({ aggregateId: e.aggregateId }),
      );
    });
  }
}

/** Notes an account; waits at `slowNote.gate` once while it is set. */
class Proc_SlowNote extends Command.define("Proc.SlowNote", {
  note: attrs.string().required(),
}) {}
const slowNote: {
  /** Resolved once a handler waits at the gate. */
  waiting: PromiseWithResolvers<void> | undefined;
  gate: Promise<void> | undefined;
  /** Whose account the workflow notes. */
  target: string;
  attempts: number;
} = { waiting: undefined, gate: undefined, target: "", attempts: 0 };
class Proc_SlowHandler extends CommandHandler {
  static {
    this.on(Proc_SlowNote, async (h, c) => {
      slowNote.attempts++;
      const account = await h.repository.loadAggregate(
        c.aggregateId,
        Proc_Account,
      );
      const gate = slowNote.gate;
      if (gate) {
        slowNote.gate = undefined;
        slowNote.waiting?.resolve();
        await gate;
      }
      account.note(c.note);
    });
  }
}
/** Notes `slowNote.target`'s account for every ignored event. */
class Proc_Noter extends Workflow {
  static {
    this.on(
      Proc_Ignored,
      (w) =>
        w.executeCommands(
          new Proc_SlowNote({ aggregateId: slowNote.target, note: "workflow" }),
        ),
    );
  }
}

async function notesOf(
  store: EventStore,
  id: string,
): Promise<string | null | undefined> {
  const [row] = await store.records.find(procNotes, { aggregateId: id });
  return row?.notes;
}

/** Takes longer than its claim lasts on its first event, once. */
const slowOnce = { on: false };
class Proc_SlowProjector extends Projector {
  static override readonly manages = [procNotes];
  static {
    this.on(Proc_Opened, async (p, e) => {
      if (slowOnce.on) {
        slowOnce.on = false;
        await new Promise((resolve) => setTimeout(resolve, 120));
      }
      await p.createRecord(procNotes, {
        aggregateId: e.aggregateId,
        owner: e.owner ?? null,
        notes: "",
      });
    });
  }
}

/** Takes `paced.ms` per event. */
const paced = { ms: 0 };
class Proc_PacedProjector extends Projector {
  static override readonly manages = [procNotes];
  static {
    this.on(Proc_Opened, async (p, e) => {
      await new Promise((resolve) => setTimeout(resolve, paced.ms));
      await p.createRecord(procNotes, {
        aggregateId: e.aggregateId,
        owner: e.owner ?? null,
        notes: "",
      });
    });
  }
}

class Proc_Lonely extends Event.define("Proc.Lonely", {}) {}

/** Handles an event that no aggregate or inline handler of the app names. */
class Proc_LonelyProjector extends Projector {
  static {
    this.on(Proc_Lonely, () => {});
  }
}

/** A runner of Proc_LonelyProjector on a new in-memory service. */
function lonelyRunner(
  pollMs?: { min: number; max: number; busyMax?: number },
): { service: CommandService; runner: ProcessorRunner } {
  const service = new CommandService({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [],
  });
  const runner = new ProcessorRunner({
    store: new InMemoryProcessorStore(
      service.eventStore as InMemoryEventStore,
    ),
    service,
    processors: [new Proc_LonelyProjector()],
    logger: silentLogger,
    pollMs,
  });
  return { service, runner };
}

Deno.test("a runner registers the event classes its processors route on, so stored names resolve to them and not to the define()d base", () => {
  const row = {
    aggregateId: crypto.randomUUID(),
    sequenceNumber: 1,
    createdAt: new Date(),
    eventType: "Proc.Lonely",
    payload: "{}",
  };
  const { service } = lonelyRunner();
  assert.ok(service.serializer.deserializeEvent(row) instanceof Proc_Lonely);
});

Deno.test("a runner refuses pauses that cannot be waited, naming the option", () => {
  const runner = (pollMs: { min: number; max: number; busyMax?: number }) =>
    lonelyRunner(pollMs).runner;
  assert.throws(() => runner({ min: -1, max: 10 }), {
    name: "RangeError",
    message: /pollMs\.min must be a number of milliseconds ≥ 0, got -1/,
  });
  assert.throws(() => runner({ min: 10, max: NaN }), /pollMs\.max/);
  assert.throws(
    () => runner({ min: 20, max: 10 }),
    /min \(20\) must not exceed max \(10\)/,
  );
  assert.throws(
    () => runner({ min: 20, max: 100, busyMax: 10 }),
    /busyMax \(10\)/,
  );
  // a busy pause of its own, or by default the idle one when that is short
  runner({ min: 1, max: 5 });
  runner({ min: 10, max: 250, busyMax: 10 });
});

Deno.test("a runner refuses a lease that cannot be kept, naming the option", () => {
  const service = new CommandService({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [],
  });
  const runner = (leaseMs: number) =>
    new ProcessorRunner({
      store: new InMemoryProcessorStore(
        service.eventStore as InMemoryEventStore,
      ),
      service,
      processors: [new Proc_LonelyProjector()],
      logger: silentLogger,
      leaseMs,
    });
  for (const leaseMs of [0, -1_000, NaN, Infinity, 1.5, 2 ** 31]) {
    assert.throws(() => runner(leaseMs), {
      name: "RangeError",
      message: new RegExp(`^leaseMs must .* got ${leaseMs}$`),
    });
  }
  runner(1);
  runner(2_147_483_647);
});

Deno.test("waitFor() times out at its timeoutMs while the read of the checkpoints stalls", async () => {
  const { service } = lonelyRunner();
  const events = service.eventStore as InMemoryEventStore;
  const processors = new InMemoryProcessorStore(events);
  let open = (): void => {};
  const gate = new Promise<void>((resolve) => open = resolve);
  // the database stalls on every read (for a failing run, 500 ms)
  const fallback = setTimeout(() => open(), 500);
  const stalled = new Proxy(processors, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key !== "records" || typeof value !== "function") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        await gate;
        return value.apply(target, args);
      };
    },
  });
  const r = new ProcessorRunner({
    store: stalled,
    service,
    processors: [new Proc_LonelyProjector()],
    logger: silentLogger,
  });
  const token = await service.commitEvents([{
    events: [
      new Proc_Lonely({ aggregateId: crypto.randomUUID(), sequenceNumber: 1 }),
    ],
  }]);
  const started = performance.now();
  try {
    await assert.rejects(
      r.waitFor(token, { timeoutMs: 30 }),
      (error: unknown) =>
        error instanceof ProcessorTimeoutError &&
        error.processors.join() === r.names.join(),
    );
    const took = performance.now() - started;
    assert.ok(took < 250, `timed out after ${took} ms, timeoutMs 30`);
  } finally {
    clearTimeout(fallback);
    open();
  }
});

// --- backends ---------------------------------------------------------------

const { list, disposeAtEnd } = storeBackends();

interface Setup {
  readonly store: EventStore;
  readonly processors: ProcessorStore;
  readonly service: CommandService;
  runner(
    options?: { owner?: string; leaseMs?: number; batchSize?: number },
  ): ProcessorRunner;
}

async function setup(b: StoreBackend): Promise<Setup> {
  const store = await b.emptyStore([procNotes, procOwners]);
  const processors = await processorStoreFor(b, store);
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Proc_Handler()],
    aggregates: [Proc_Account],
    eventHandlers: [],
  });
  return {
    store,
    processors,
    service,
    runner: (options = {}) =>
      new ProcessorRunner({
        store: processors,
        service,
        processors: [new Proc_NoteProjector(), new Proc_Welcomer()],
        logger: silentLogger,
        ...options,
      }),
  };
}

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `${b.name}: ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn,
    });

  test("a projector run as a processor catches up in batches, each event taking effect once", async () => {
    const { store, service, runner } = await setup(b);
    failing.on = false;
    const ids = Array.from({ length: 7 }, () => crypto.randomUUID());
    for (const id of ids) {
      await service.executeCommands(
        new Proc_Open({ aggregateId: id, owner: "o" }),
      );
      await service.executeCommands(
        new Proc_Note({ aggregateId: id, note: "a" }),
      );
      await service.executeCommands(
        new Proc_Note({ aggregateId: id, note: "b" }),
      );
    }
    const r = runner({ batchSize: 4 });
    await r.catchUp(["Proc_NoteProjector"]);
    for (const id of ids) {
      assert.equal(await notesOf(store, id), "a;b;", id);
    }
    // nothing more to do: another round handles nothing
    assert.equal(await r.round(["Proc_NoteProjector"]), 0);
    const [status] = await r.status();
    assert.equal(status?.lagEvents, 0);
  });

  test("catching up, the batch after a full one is read while that one is handled and stored", async () => {
    const { store, processors, service } = await setup(b);
    failing.on = false;
    const ids = Array.from({ length: 6 }, () => crypto.randomUUID());
    for (const id of ids) {
      await service.executeCommands(
        new Proc_Open({ aggregateId: id, owner: "o" }),
        new Proc_Note({ aggregateId: id, note: "a" }),
      );
    }
    const log: string[] = [];
    const reader = new Proxy(processors.reader, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (key !== "readEvents") {
          return typeof value === "function" ? value.bind(target) : value;
        }
        return (after: string, options: { limit: number }) => {
          log.push(`read ${after}`);
          return target.readEvents(after, options);
        };
      },
    });
    const watched = new Proxy(processors, {
      get(target, key) {
        if (key === "reader") return reader;
        const value = Reflect.get(target, key);
        if (key !== "commit") {
          return typeof value === "function" ? value.bind(target) : value;
        }
        return async (...args: Parameters<ProcessorStore["commit"]>) => {
          const ok = await target.commit(...args);
          log.push(`stored ${args[2]}`);
          return ok;
        };
      },
    });
    const r = new ProcessorRunner({
      store: watched,
      service,
      processors: [new Proc_NoteProjector()],
      logger: silentLogger,
      batchSize: 2,
    });
    await r.catchUp();
    for (const id of ids) assert.equal(await notesOf(store, id), "a;", id);
    const stored = log.filter((l) => l.startsWith("stored ")).map((l) =>
      l.slice(7)
    );
    const early = stored.filter((to) =>
      log.indexOf(`read ${to}`) >= 0 &&
      log.indexOf(`read ${to}`) < log.indexOf(`stored ${to}`)
    );
    // six full batches of two: each next one was asked for before the
    // one before it was stored
    assert.ok(early.length >= 5, log.join("\n"));
    // and no batch was read twice (the end is asked again: is there more?)
    for (const to of stored.slice(0, -1)) {
      assert.equal(log.filter((l) => l === `read ${to}`).length, 1, to);
    }
  });

  test("catchUp claims again when its claim lapses during a slow round: that batch stores nothing, and is handled once after", async () => {
    const { store, service, processors } = await setup(b);
    const ids = Array.from({ length: 3 }, () => crypto.randomUUID());
    for (const id of ids) {
      await service.executeCommands(
        new Proc_Open({ aggregateId: id, owner: "o" }),
      );
    }
    const r = new ProcessorRunner({
      store: processors,
      service,
      processors: [new Proc_SlowProjector()],
      logger: silentLogger,
      leaseMs: 40,
    });
    slowOnce.on = true;
    await r.catchUp();
    assert.equal(slowOnce.on, false, "the slow round ran");
    for (const id of ids) assert.equal(await notesOf(store, id), "", id);
  });

  test("a round that may outlast what is left of its claim renews the claim first: a slow batch after a quicker one is stored, not refused", async () => {
    const { store, service, processors } = await setup(b);
    const r = new ProcessorRunner({
      store: processors,
      service,
      processors: [new Proc_PacedProjector()],
      logger: silentLogger,
      leaseMs: 1_000,
    });
    const open = (id: string) =>
      service.executeCommands(new Proc_Open({ aggregateId: id, owner: "o" }));
    const [first, second] = [crypto.randomUUID(), crypto.randomUUID()];
    await open(first);
    const claimed = performance.now();
    paced.ms = 350;
    assert.equal(await r.round(), 1, "claimed, in a 350 ms round");
    // before half the claim's time: no renewal due by the clock
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, 400 - (performance.now() - claimed)))
    );
    await open(second);
    paced.ms = 650;
    // it would end past the claim's 1,000 ms
    assert.equal(await r.round(), 1);
    assert.equal(await notesOf(store, second), "");
    paced.ms = 0;
  });

  test("the checkpoint passes events the processor ignores, so a token of theirs resolves", async () => {
    const { service, runner } = await setup(b);
    const id = crypto.randomUUID();
    await service.executeCommands(
      new Proc_Open({ aggregateId: id, owner: "o" }),
    );
    const r = runner();
    await r.round();
    const token = await service.executeCommands(
      new Proc_Ignore({ aggregateId: id }),
    );
    assert.notEqual(token, "");
    await assert.rejects(
      r.waitFor(token, { processors: ["Proc_NoteProjector"], timeoutMs: 50 }),
      ProcessorTimeoutError,
    );
    await r.round(["Proc_NoteProjector"]);
    await r.waitFor(token, {
      processors: ["Proc_NoteProjector"],
      timeoutMs: 1_000,
    });
  });

  test("waitFor() refuses a token that is not a position of the store, naming it, and later waits still end", async () => {
    const { service, runner } = await setup(b);
    const r = runner();
    // a typo, a tampered header, a token of another kind of store
    for (const bad of ["12:40x", "bogus", "-1"]) {
      await assert.rejects(
        r.waitFor(bad, { timeoutMs: 50 }),
        (error: unknown) =>
          error instanceof TypeError && error.message.includes(`"${bad}"`) &&
          error.cause instanceof Error,
      );
    }
    const token = await service.executeCommands(
      new Proc_Open({ aggregateId: crypto.randomUUID(), owner: "o" }),
    );
    await r.round();
    await r.waitFor(token, { timeoutMs: 500 });
  });

  test("callers waiting at once share each read of the checkpoints, and each resolves once its own token is passed", async () => {
    const { processors, service } = await setup(b);
    let reads = 0;
    const counted = new Proxy(processors, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key !== "records" || typeof value !== "function") {
          return typeof value === "function" ? value.bind(target) : value;
        }
        return (...args: unknown[]) => {
          reads++;
          return value.apply(target, args);
        };
      },
    });
    const r = new ProcessorRunner({
      store: counted,
      service,
      processors: [new Proc_NoteProjector(), new Proc_Welcomer()],
      logger: silentLogger,
    });
    const id = crypto.randomUUID();
    const first = await service.executeCommands(
      new Proc_Open({ aggregateId: id, owner: "o" }),
    );
    await r.round(["Proc_NoteProjector"]);
    const second = await service.executeCommands(
      new Proc_Note({ aggregateId: id, note: "n" }),
    );
    const waitFor = (token: string) =>
      r.waitFor(token, {
        processors: ["Proc_NoteProjector"],
        timeoutMs: 5_000,
      });
    // forty callers wait for the second token: none resolves before the
    // processor has passed it
    let resolved = 0;
    const waits = Array.from({ length: 40 }, () =>
      waitFor(second).then(() => {
        resolved++;
      }));
    // one for the first token, passed already, resolves while they wait
    reads = 0;
    await waitFor(first);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(resolved, 0);
    const whileWaiting = reads;
    // at most one read every 2 ms, for all of them together
    assert.ok(
      whileWaiting >= 1 && whileWaiting <= 30,
      `${whileWaiting} reads in 50 ms for 41 waiting callers`,
    );
    // a wait that cannot end is refused at once, naming the option
    for (const timeoutMs of [-1, Number.NaN, Infinity]) {
      await assert.rejects(
        r.waitFor(second, { timeoutMs }),
        (error: unknown) =>
          error instanceof RangeError && error.message.includes("timeoutMs") &&
          error.message.includes(String(timeoutMs)),
      );
    }
    await r.round(["Proc_NoteProjector"]);
    await Promise.all(waits);
    assert.equal(resolved, 40);
    // nobody waits: nothing is read
    const after = reads;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(reads, after);
  });

  test("a claim fences: another runner cannot act while it holds, and takes over once it lapses; a batch of the old holder stores nothing", async () => {
    const { store, service, processors, runner } = await setup(b);
    failing.on = false;
    const a = runner({ owner: "runner-a", leaseMs: 300 });
    const c = runner({ owner: "runner-b", leaseMs: 300 });
    const id = crypto.randomUUID();
    await service.executeCommands(
      new Proc_Open({ aggregateId: id, owner: "o" }),
    );
    assert.equal(await a.round(["Proc_NoteProjector"]), 1);
    await service.executeCommands(
      new Proc_Note({ aggregateId: id, note: "x" }),
    );
    assert.equal(await c.round(["Proc_NoteProjector"]), 0, "a holds the claim");
    const held = await processors.claim("Proc_NoteProjector", "runner-a", 300);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await c.round(["Proc_NoteProjector"]), 1, "b takes over");
    // a's claim has lapsed: what it would store is refused
    assert.equal(
      await processors.commit(
        "Proc_NoteProjector",
        held!,
        "",
        async (records) => {
          await records.insert(procNotes, [{
            aggregateId: crypto.randomUUID(),
            owner: "stale",
            notes: null,
          }]);
        },
      ),
      false,
    );
    assert.equal(
      (await store.records.find(procNotes, { owner: "stale" })).length,
      0,
    );
    assert.equal(
      await notesOf(store, id),
      "x;",
    );
  });

  test("a failing handler sets its aggregate aside: its later events wait, others go on; a retry then handles them in order", async () => {
    const { store, service, runner } = await setup(b);
    failing.on = true;
    const [bad, good] = [crypto.randomUUID(), crypto.randomUUID()];
    for (const id of [bad, good]) {
      await service.executeCommands(
        new Proc_Open({ aggregateId: id, owner: "o" }),
      );
    }
    await service.executeCommands(
      new Proc_Note({ aggregateId: bad, note: "boom" }),
    );
    await service.executeCommands(
      new Proc_Note({ aggregateId: bad, note: "after" }),
    );
    await service.executeCommands(
      new Proc_Note({ aggregateId: good, note: "fine" }),
    );
    const r = runner();
    await r.catchUp(["Proc_NoteProjector"]);
    assert.equal(
      await notesOf(store, good),
      "fine;",
    );
    assert.equal(
      await notesOf(store, bad),
      "",
    );
    const [status] = await r.status();
    assert.equal(status?.parked.length, 1);
    assert.equal(status?.parked[0]?.aggregateId, bad);
    assert.equal(status?.parked[0]?.sequenceNumber, 2);
    assert.match(status?.parked[0]?.error ?? "", /boom!/);
    // its later events keep waiting
    await service.executeCommands(
      new Proc_Note({ aggregateId: bad, note: "later" }),
    );
    await r.catchUp(["Proc_NoteProjector"]);
    assert.equal(
      await notesOf(store, bad),
      "",
    );
    // a retry that fails again keeps it parked; fixed, it goes through in order
    await r.retry("Proc_NoteProjector", bad);
    await r.round(["Proc_NoteProjector"]);
    assert.equal((await r.status())[0]?.parked.length, 1);
    failing.on = false;
    await r.retry("Proc_NoteProjector", bad);
    await r.round(["Proc_NoteProjector"]);
    assert.equal(
      await notesOf(store, bad),
      "boom;after;later;",
    );
    assert.equal((await r.status())[0]?.parked.length, 0);
    await assert.rejects(r.retry("Proc_NoteProjector", bad), /not set aside/);
  });

  test("a status with parkedLimit lists only that many parked aggregates, and counts them all", async () => {
    const { service, runner } = await setup(b);
    failing.on = true;
    const ids: string[] = [
      crypto.randomUUID(),
      crypto.randomUUID(),
      crypto.randomUUID(),
    ];
    for (const id of ids) {
      await service.executeCommands(
        new Proc_Open({ aggregateId: id, owner: "o" }),
      );
      await service.executeCommands(
        new Proc_Note({ aggregateId: id, note: "boom" }),
      );
    }
    const r = runner();
    try {
      await r.catchUp(["Proc_NoteProjector"]);
    } finally {
      failing.on = false;
    }
    const [all] = await r.status();
    assert.equal(all?.parkedCount, 3);
    assert.deepEqual(all?.parked.map((k) => k.aggregateId).sort(), ids.sort());
    const [some] = await r.status({ parkedLimit: 2 });
    assert.equal(some?.parkedCount, 3);
    assert.equal(some?.parked.length, 2);
    assert.equal(new Set(some?.parked.map((k) => k.aggregateId)).size, 2);
    for (const k of some?.parked ?? []) assert.ok(ids.includes(k.aggregateId));
    const [none] = await r.status({ parkedLimit: 0 });
    assert.deepEqual([none?.parked, none?.parkedCount], [[], 3]);
  });

  test("skipping a parked aggregate's failed event handles the ones behind it", async () => {
    const { store, service, runner } = await setup(b);
    failing.on = true;
    const id = crypto.randomUUID();
    await service.executeCommands(
      new Proc_Open({ aggregateId: id, owner: "o" }),
    );
    await service.executeCommands(
      new Proc_Note({ aggregateId: id, note: "boom" }),
    );
    await service.executeCommands(
      new Proc_Note({ aggregateId: id, note: "next" }),
    );
    const r = runner();
    await r.catchUp(["Proc_NoteProjector"]);
    await r.skip("Proc_NoteProjector", id);
    await r.round(["Proc_NoteProjector"]);
    assert.equal(
      await notesOf(store, id),
      "next;",
    );
    failing.on = false;
  });

  test("a write the store refuses sets only its aggregate aside, found after the handlers ran or not", async () => {
    const { store, processors, service } = await setup(b);
    const r = new ProcessorRunner({
      store: processors,
      service,
      processors: [new Proc_OwnerProjector()],
      logger: silentLogger,
    });
    const [first, second, third] = [
      crypto.randomUUID(),
      crypto.randomUUID(),
      crypto.randomUUID(),
    ];
    await service.executeCommands(
      new Proc_Open({ aggregateId: first, owner: "ann" }),
    );
    await r.catchUp();
    // the second account's owner is taken; the third is unrelated
    await service.executeCommands(
      new Proc_Open({ aggregateId: second, owner: "ann" }),
    );
    const token = await service.executeCommands(
      new Proc_Open({ aggregateId: third, owner: "bob" }),
    );
    await r.catchUp();
    const [status] = await r.status();
    assert.deepEqual(status?.parked.map((k) => k.aggregateId), [second]);
    assert.match(
      status?.parked[0]?.error ?? "",
      /ann|already exists|duplicate/,
    );
    assert.equal(status?.lagEvents, 0);
    await r.waitFor(token, { timeoutMs: 1_000 });
    const owners = await store.records.find(procOwners, {});
    assert.deepEqual(
      owners.map((o) => [o.owner, o.aggregateId]).sort(),
      [["ann", first], ["bob", third]],
    );
    // asked again while the key is still taken, it stays aside, and says why
    await r.retry("Proc_OwnerProjector", second);
    await r.round();
    const [again] = await r.status();
    assert.deepEqual(again?.parked.map((k) => k.aggregateId), [second]);
  });

  test("a parked aggregate's events handled again take effect once each, when a later one fails again", async () => {
    const { store, service, runner } = await setup(b);
    failing.on = true;
    const id = crypto.randomUUID();
    await service.executeCommands(
      new Proc_Open({ aggregateId: id, owner: "o" }),
    );
    for (const note of ["boom", "next", "boom", "last"]) {
      await service.executeCommands(new Proc_Note({ aggregateId: id, note }));
    }
    const r = runner();
    try {
      await r.catchUp(["Proc_NoteProjector"]);
      // skipped, "next" goes through and the second "boom" fails: the
      // aggregate waits at it, with "next" stored (once)
      await r.skip("Proc_NoteProjector", id);
      await r.round(["Proc_NoteProjector"]);
      const [status] = await r.status();
      assert.deepEqual(
        status?.parked.map((k) => [k.aggregateId, k.sequenceNumber]),
        [[id, 4]],
      );
      assert.equal(await notesOf(store, id), "next;");
      failing.on = false;
      await r.retry("Proc_NoteProjector", id);
      await r.round(["Proc_NoteProjector"]);
      assert.equal(await notesOf(store, id), "next;boom;last;");
      assert.equal((await r.status())[0]?.parked.length, 0);
    } finally {
      failing.on = false;
    }
  });

  test("reset empties a projector's tables with its checkpoint, and the next catch-up rebuilds them from the first event", async () => {
    const { store, service, runner } = await setup(b);
    failing.on = false;
    const id = crypto.randomUUID();
    await service.executeCommands(
      new Proc_Open({ aggregateId: id, owner: "o" }),
    );
    await service.executeCommands(
      new Proc_Note({ aggregateId: id, note: "a" }),
    );
    const r = runner();
    await r.catchUp(["Proc_NoteProjector"]);
    assert.equal(await notesOf(store, id), "a;");
    await r.reset("Proc_NoteProjector");
    assert.equal(await notesOf(store, id), undefined, "emptied");
    const [status] = await r.status();
    assert.equal(status?.lagEvents, 2, "behind by every event again");
    await r.catchUp(["Proc_NoteProjector"]);
    assert.equal(await notesOf(store, id), "a;", "rebuilt, each event once");
    await assert.rejects(r.reset("Nope"), /No processor "Nope"/);
  });

  test("run goes on until its signal aborts or stop() is called; either ends it with the claims given up", async () => {
    const { service, processors, runner } = await setup(b);
    failing.on = false;
    const r = runner({ owner: "runner-stop" });
    const stop = new AbortController();
    const first = r.run({ signal: stop.signal });
    const second = r.run();
    const id = crypto.randomUUID();
    const token = await service.executeCommands(
      new Proc_Open({ aggregateId: id, owner: "o" }),
    );
    await r.waitFor(token, { timeoutMs: 5_000 });
    stop.abort();
    await first;
    await r.stop();
    await second;
    const records = await processors.records(r.names);
    assert.deepEqual(records.map((k) => k.owner), [undefined, undefined]);
  });

  test("a workflow's unit that meets a concurrent change is run again as retryOnConflict says, with the same command ids: nothing is parked", async () => {
    const store = await b.emptyStore([procNotes, procOwners]);
    const service = new CommandService({
      eventStore: store,
      commandHandlers: [new Proc_Handler(), new Proc_SlowHandler()],
      aggregates: [Proc_Account],
      retryOnConflict: 2,
      logger: silentLogger,
    });
    const r = new ProcessorRunner({
      store: await processorStoreFor(b, store),
      service,
      processors: [new Proc_Noter()],
      logger: silentLogger,
    });
    const [target, trigger] = [crypto.randomUUID(), crypto.randomUUID()];
    await service.executeCommands(
      new Proc_Open({ aggregateId: target, owner: "t" }),
      new Proc_Open({ aggregateId: trigger, owner: "o" }),
      new Proc_Ignore({ aggregateId: trigger }),
    );
    slowNote.target = target;
    slowNote.attempts = 0;
    slowNote.waiting = Promise.withResolvers();
    const gate = Promise.withResolvers<void>();
    slowNote.gate = gate.promise;
    const waiting = slowNote.waiting.promise.then(() => true);
    let round = r.catchUp();
    // (a round may end short of the event while a transaction elsewhere on
    // the server holds back what processors read: go again)
    while (!await Promise.race([waiting, round.then(() => false)])) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      round = r.catchUp();
    }
    // the workflow's command has loaded the account: change it meanwhile
    await service.executeCommands(
      new Proc_Note({ aggregateId: target, note: "meanwhile" }),
    );
    gate.resolve();
    await round;
    const [status] = await r.status();
    assert.deepEqual(status?.parked.map((k) => k.error), []);
    assert.equal(slowNote.attempts, 2);
    const [stream] = await store.loadStreams([target]);
    assert.deepEqual(
      stream?.events.map((e) => JSON.parse(e.payload).note),
      [undefined, "meanwhile", "workflow"],
    );
    // stored under the id derived from the event: handled again, it is
    // not stored twice
    await r.reset("Proc_Noter");
    await r.catchUp();
    const [again] = await store.loadStreams([target]);
    assert.equal(again?.events.length, 3);
    assert.deepEqual((await r.status())[0]?.parked, []);
  });

  test("a workflow's unit gets the service's commandTimeoutMs: one that takes longer stops with CommandTimeoutError, stores nothing, and its aggregate is parked", async () => {
    const store = await b.emptyStore([procNotes, procOwners]);
    const service = new CommandService({
      eventStore: store,
      commandHandlers: [new Proc_Handler(), new Proc_SlowHandler()],
      aggregates: [Proc_Account],
      commandTimeoutMs: 50,
      logger: silentLogger,
    });
    const r = new ProcessorRunner({
      store: await processorStoreFor(b, store),
      service,
      processors: [new Proc_Noter()],
      logger: silentLogger,
    });
    const [target, trigger] = [crypto.randomUUID(), crypto.randomUUID()];
    await service.executeCommands(
      new Proc_Open({ aggregateId: target, owner: "t" }),
      new Proc_Open({ aggregateId: trigger, owner: "o" }),
      new Proc_Ignore({ aggregateId: trigger }),
    );
    slowNote.target = target;
    slowNote.attempts = 0;
    slowNote.waiting = undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    slowNote.gate = new Promise((resolve) => timer = setTimeout(resolve, 300));
    try {
      // (a round may end short of the event while a transaction elsewhere
      // on the server holds back what processors read: go again)
      for (let i = 0; slowNote.attempts === 0 && i < 250; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
        await r.catchUp();
      }
    } finally {
      clearTimeout(timer);
      slowNote.gate = undefined;
    }
    const [status] = await r.status();
    assert.equal(status?.parked.length, 1);
    assert.equal(status?.parked[0]?.aggregateId, trigger);
    assert.match(
      status?.parked[0]?.error ?? "",
      /Proc_Noter handling Proc\.Ignored did not finish within 50 ms/,
    );
    const [stream] = await store.loadStreams([target]);
    assert.equal(stream?.events.length, 1);
  });

  test("a workflow run as a processor issues its commands once, however often an event is handled", async () => {
    const { store, service, runner } = await setup(b);
    Proc_Welcomer.seen.length = 0;
    const id = crypto.randomUUID();
    await service.executeCommands(
      new Proc_Open({ aggregateId: id, owner: "o" }),
    );
    const r = runner();
    await r.catchUp(["Proc_Welcomer"]);
    await r.reset("Proc_Welcomer");
    await r.catchUp(["Proc_Welcomer"]);
    // the event was handled twice, with the same key both times
    const keys = Proc_Welcomer.seen.filter((k) => k.includes(id));
    assert.ok(keys.length >= 2, String(keys.length));
    assert.equal(new Set(keys).size, 1);
    assert.equal(keys[0], `Proc_Welcomer:${id}:1`);
    const [stream] = await store.loadStreams([id]);
    assert.deepEqual(stream?.events.map((e) => e.eventType), [
      "Proc.Opened",
      "Proc.Welcomed",
    ]);
  });
}

disposeAtEnd();
