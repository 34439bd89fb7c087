import assert from "node:assert/strict";
import {
  AggregateKeyNotUniqueError,
  AggregateRoot,
  attrs,
  CalendarDate,
  Command,
  CommandHandler,
  CommandService,
  Decimal,
  Event,
  HasUncommittedEventsError,
  InMemoryEventStore,
  isA,
} from "@sequent/core";
import {
  aggregateInternals,
  aggregateTypeOf,
  hasUniqueKeyDefinitions,
  snapshotConfigOf,
  takeSnapshot,
  uniqueKeysOf,
} from "../../src/core/aggregate_root.ts";

// --- Domain -------------------------------------------------------------------

class Root_Opened extends Event.define("Root.Opened", {}) {}
class Root_Renamed extends Event.define("Root.Renamed", {
  name: attrs.string(),
}) {}
class Root_Priced extends Event.define("Root.Priced", {
  price: attrs.decimal(),
  due: attrs.date(),
}) {}
class Root_Noted extends Event.define("Root.Noted", {
  note: attrs.string().required(),
}) {}
class Root_Pinged extends Event.define("Root.Pinged", {}) {}

class Root_Account extends AggregateRoot {
  name: string | undefined;
  price: Decimal | undefined;
  due: CalendarDate | undefined;
  readonly seen: string[] = [];

  static open(id: string): Root_Account {
    const account = new Root_Account(id);
    account.apply(Root_Opened);
    return account;
  }

  rename(name: string): Root_Renamed {
    return this.apply(Root_Renamed, { name });
  }

  renameIfChanged(name: string): Root_Renamed | undefined {
    return this.applyIfChanged(Root_Renamed, { name });
  }

  priceIfChanged(price: Decimal, due: CalendarDate): Root_Priced | undefined {
    return this.applyIfChanged(Root_Priced, { price, due });
  }

  note(note: string): Root_Noted {
    return this.apply(Root_Noted, { note });
  }

  static {
    this.on(Root_Opened, (account) => {
      account.seen.push("opened");
    });
    this.on(Root_Renamed, (account, event) => {
      // Both parameters are typed: these lines compile without casts.
      const name: string | undefined = event.name;
      const sequenceNumber: number = event.sequenceNumber;
      account.name = name;
      account.seen.push(`renamed ${sequenceNumber}`);
    });
    this.on(Root_Priced, (account, event) => {
      account.price = event.price;
      account.due = event.due;
    });
  }
}

/** Compile-time checks only: never called. */
function _typingChecks(account: Root_Account): void {
  Root_Account.on(Root_Renamed, (_account, event) => {
    // @ts-expect-error: Root_Renamed has no attribute "price"
    void event.price;
  });
  Root_Account.on(Root_Priced, (acc, event) => {
    const price: Decimal | undefined = event.price;
    // @ts-expect-error: the aggregate parameter is a Root_Account
    acc.nonexistent = price;
  });
  class Root_Typed extends AggregateRoot {
    wrong(): void {
      // @ts-expect-error: name must be a string
      this.apply(Root_Renamed, { name: 42 });
    }
    missing(): void {
      // @ts-expect-error: Root_Noted requires its note
      this.apply(Root_Noted);
    }
    base(): void {
      // @ts-expect-error: apply fills in the aggregate id itself
      this.apply(Root_Renamed, { name: "x", aggregateId: this.id });
    }
  }
  void Root_Typed;
  const renamed: Root_Renamed = account.rename("x");
  void renamed;
}
void _typingChecks;

function newId(): string {
  return crypto.randomUUID();
}

/** Commits an aggregate's events as the repository would (clears them). */
function markCommitted(aggregate: AggregateRoot): void {
  aggregateInternals().takeUncommitted(aggregate);
}

// --- apply ----------------------------------------------------------------------

Deno.test("apply() fills aggregateId, the next sequenceNumber and createdAt, and returns the event", () => {
  const id = newId();
  const before = Date.now();
  const account = Root_Account.open(id);
  const renamed = account.rename("Ben");
  assert.ok(renamed instanceof Root_Renamed);
  assert.equal(renamed.aggregateId, id);
  assert.equal(renamed.sequenceNumber, 2);
  assert.ok(renamed.createdAt instanceof Date);
  assert.ok(renamed.createdAt.getTime() >= before);
  assert.ok(renamed.createdAt.getTime() <= Date.now());
  assert.equal(renamed.name, "Ben");
  assert.equal(account.sequenceNumber, 2);
});

Deno.test("apply() runs the registered handler before returning", () => {
  const account = Root_Account.open(newId());
  account.rename("Ben");
  assert.equal(account.name, "Ben");
  assert.deepEqual(account.seen, ["opened", "renamed 2"]);
});

Deno.test("apply() queues events as uncommitted, in order, until they are taken", () => {
  const account = Root_Account.open(newId());
  const renamed = account.rename("Ben");
  assert.deepEqual(
    account.uncommittedEvents.map((e) => e.constructor),
    [Root_Opened, Root_Renamed],
  );
  assert.equal(account.uncommittedEvents[1], renamed);
  const taken = aggregateInternals().takeUncommitted(account);
  assert.equal(taken.length, 2);
  assert.equal(account.uncommittedEvents.length, 0);
  assert.equal(account.note("next").sequenceNumber, 3);
});

Deno.test("apply() of an event without a handler still advances the sequence number", () => {
  const account = Root_Account.open(newId());
  const noted = account.note("unhandled");
  assert.equal(noted.sequenceNumber, 2);
  assert.equal(account.sequenceNumber, 2);
  assert.equal(account.uncommittedEvents.length, 2);
});

Deno.test("a new aggregate has sequence number 0, no uncommitted events and is writable", () => {
  const account = new Root_Account(newId());
  assert.equal(account.sequenceNumber, 0);
  assert.deepEqual(account.uncommittedEvents, []);
  assert.equal(account.isReadOnly, false);
  assert.equal(account.eventsPartitionKey, "");
});

class Root_AsyncHandled extends AggregateRoot {
  handled = false;
  ping(): void {
    this.apply(Root_Pinged);
  }
  static {
    this.on(Root_Pinged, async (aggregate) => {
      await Promise.resolve();
      aggregate.handled = true;
    });
  }
}

Deno.test("apply() rejects an async handler and neither queues the event nor advances", async () => {
  const aggregate = new Root_AsyncHandled(newId());
  assert.throws(() => aggregate.ping(), {
    name: "TypeError",
    message: /Root_AsyncHandled must be synchronous/,
  });
  assert.equal(aggregate.sequenceNumber, 0);
  assert.equal(aggregate.uncommittedEvents.length, 0);
  await Promise.resolve();
});

class Root_Base extends AggregateRoot {
  readonly calls: string[] = [];
  ping(): void {
    this.apply(Root_Pinged);
  }
  static {
    this.on(Root_Pinged, (aggregate) => {
      aggregate.calls.push("base");
    });
  }
}

class Root_Derived extends Root_Base {
  static {
    this.on(Root_Pinged, (aggregate) => {
      aggregate.calls.push("derived");
    });
  }
}

Deno.test("apply() runs ancestors' handlers first, then the subclass's", () => {
  const derived = new Root_Derived(newId());
  derived.ping();
  assert.deepEqual(derived.calls, ["base", "derived"]);
});

Deno.test("a subclass's handlers do not run for its base class", () => {
  const base = new Root_Base(newId());
  base.ping();
  assert.deepEqual(base.calls, ["base"]);
});

class Root_Multi extends AggregateRoot {
  readonly calls: string[] = [];
  ping(): void {
    this.apply(Root_Pinged);
  }
  rename(): void {
    this.apply(Root_Renamed, { name: "x" });
  }
  static {
    this.on(Root_Pinged, (a) => {
      a.calls.push("first");
    });
    this.on([Root_Pinged, Root_Renamed], (a, event) => {
      a.calls.push(`list ${event.constructor.name}`);
    });
    this.on(isA(Event, { except: [Root_Renamed] }), (a) => {
      a.calls.push("any event but renamed");
    });
  }
}

Deno.test("apply() runs every matching handler: class, list and matcher routes", () => {
  const multi = new Root_Multi(newId());
  multi.ping();
  assert.deepEqual(multi.calls, [
    "first",
    "list Root_Pinged",
    "any event but renamed",
  ]);
  multi.calls.length = 0;
  multi.rename();
  assert.deepEqual(multi.calls, ["list Root_Renamed"]);
});

Deno.test("on() rejects a missing handler or target", () => {
  class Root_BadRoutes extends AggregateRoot {}
  assert.throws(
    () => Root_BadRoutes.on(Root_Pinged, undefined as unknown as () => void),
    { name: "TypeError", message: /handler function/ },
  );
  assert.throws(
    () => Root_BadRoutes.on([], () => {}),
    { name: "TypeError", message: /at least one target/ },
  );
  assert.throws(
    () =>
      Root_BadRoutes.on(
        "Root.Pinged" as unknown as typeof Root_Pinged,
        () => {},
      ),
    { name: "TypeError" },
  );
});

// --- applyIfChanged ---------------------------------------------------------------

Deno.test("applyIfChanged() applies when the value differs from the property", () => {
  const account = Root_Account.open(newId());
  const event = account.renameIfChanged("Ben");
  assert.ok(event instanceof Root_Renamed);
  assert.equal(event.sequenceNumber, 2);
  assert.equal(account.name, "Ben");
});

Deno.test("applyIfChanged() applies nothing and returns undefined when the value is the same", () => {
  const account = Root_Account.open(newId());
  account.rename("Ben");
  assert.equal(account.renameIfChanged("Ben"), undefined);
  assert.equal(account.sequenceNumber, 2);
  assert.equal(account.uncommittedEvents.length, 2);
  assert.ok(account.renameIfChanged("Bob"));
  assert.equal(account.sequenceNumber, 3);
});

Deno.test("applyIfChanged() compares decimals and dates by value, not identity", () => {
  const account = Root_Account.open(newId());
  assert.ok(
    account.priceIfChanged(Decimal.from("1.10"), CalendarDate.of(2026, 1, 31)),
  );
  assert.equal(
    account.priceIfChanged(
      Decimal.from("1.1"),
      CalendarDate.parse("2026-01-31"),
    ),
    undefined,
    "equal decimal and date in new instances are no change",
  );
  assert.ok(
    account.priceIfChanged(Decimal.from("1.1"), CalendarDate.of(2026, 2, 1)),
    "a different date is a change",
  );
  assert.ok(
    account.priceIfChanged(Decimal.from("1.2"), CalendarDate.of(2026, 2, 1)),
    "a different decimal is a change",
  );
  assert.equal(account.sequenceNumber, 4);
});

class Root_Private extends AggregateRoot {
  #name: string | undefined;
  rename(name: string): void {
    this.applyIfChanged(Root_Renamed, { name });
  }
  static {
    this.on(Root_Renamed, (a, e) => {
      a.#name = e.name;
    });
  }
  get current(): string | undefined {
    return this.#name;
  }
}

Deno.test("applyIfChanged() without a property of that name throws a TypeError naming it", () => {
  const aggregate = new Root_Private(newId());
  assert.throws(() => aggregate.rename("Ben"), {
    name: "TypeError",
    message: /needs a property "name" on Root_Private/,
  });
  assert.equal(aggregate.sequenceNumber, 0);
  assert.equal(aggregate.current, undefined);
});

// --- unique keys ------------------------------------------------------------------

class Root_EmailSet extends Event.define("Root.EmailSet", {
  email: attrs.string(),
}) {}
class Root_HandleSet extends Event.define("Root.HandleSet", {
  handle: attrs.string(),
}) {}

class Root_Author extends AggregateRoot {
  email: string | undefined | null;
  handle: string | undefined;

  setEmail(email: string | undefined): void {
    this.apply(Root_EmailSet, { email });
  }
  setHandle(handle: string): void {
    this.apply(Root_HandleSet, { handle });
  }

  static {
    this.uniqueKey("root_author_email", (a) => a.email?.toLowerCase());
    this.uniqueKey("root_author_handle", (a) => a.handle);
    this.on(Root_EmailSet, (a, e) => {
      a.email = e.email;
    });
    this.on(Root_HandleSet, (a, e) => {
      a.handle = e.handle;
    });
  }
}

Deno.test("uniqueKeysOf() gives each scope's value or derived value", () => {
  const author = new Root_Author(newId());
  author.setEmail("Ben@Example.COM");
  author.setHandle("Ben");
  assert.deepEqual(uniqueKeysOf(author), {
    root_author_email: "ben@example.com",
    root_author_handle: "Ben",
  });
  assert.equal(hasUniqueKeyDefinitions(author), true);
});

Deno.test("uniqueKeysOf() leaves out keys that are undefined or null", () => {
  const author = new Root_Author(newId());
  assert.deepEqual(uniqueKeysOf(author), {});
  author.email = null;
  author.setHandle("ben");
  assert.deepEqual(uniqueKeysOf(author), { root_author_handle: "ben" });
});

Deno.test("uniqueKey() rejects a scope declared twice on one class", () => {
  class Root_TwiceKeyed extends AggregateRoot {
    email = "";
  }
  Root_TwiceKeyed.uniqueKey("root_twice", (a) => a.email);
  assert.throws(() => Root_TwiceKeyed.uniqueKey("root_twice", (a) => a.email), {
    name: "TypeError",
    message: /Root_TwiceKeyed declares unique key "root_twice" twice/,
  });
});

Deno.test("uniqueKey() rejects an empty scope and a key that is not a function", () => {
  class Root_BadKeyed extends AggregateRoot {}
  assert.throws(() => Root_BadKeyed.uniqueKey("", () => "x"), {
    name: "TypeError",
    message: /non-empty string/,
  });
  assert.throws(
    () =>
      Root_BadKeyed.uniqueKey(
        "root_bad",
        "email" as unknown as (a: Root_BadKeyed) => string,
      ),
    { name: "TypeError", message: /needs a function/ },
  );
});

Deno.test("a subclass inherits its base's unique keys and may redefine a scope", () => {
  class Root_GuestAuthor extends Root_Author {
    static {
      this.uniqueKey("root_author_handle", (a) => `guest:${a.handle}`);
    }
  }
  const guest = new Root_GuestAuthor(newId());
  guest.setEmail("G@x.org");
  guest.setHandle("g");
  assert.deepEqual(uniqueKeysOf(guest), {
    root_author_handle: "guest:g",
    root_author_email: "g@x.org",
  });
});

Deno.test("a unique key that is not a JSON value is a TypeError", () => {
  class Root_DateKeyed extends AggregateRoot {
    static {
      this.uniqueKey("root_date", () => new Date() as unknown as string);
    }
  }
  assert.throws(() => uniqueKeysOf(new Root_DateKeyed(newId())), {
    name: "TypeError",
    message: /"root_date" of Root_DateKeyed must be a JSON value/,
  });
});

Deno.test("an aggregate without unique keys has no unique key definitions", () => {
  assert.equal(hasUniqueKeyDefinitions(new Root_Account(newId())), false);
  assert.deepEqual(uniqueKeysOf(new Root_Account(newId())), {});
});

class Root_SetEmail extends Command.define("Root.SetEmail", {
  email: attrs.string(),
}) {}

class Root_Publisher extends AggregateRoot {
  email: string | undefined;
  static {
    this.uniqueKey("root_author_email", (a) => a.email?.toLowerCase());
    this.on(Root_EmailSet, (a, e) => {
      a.email = e.email;
    });
  }
  setEmail(email: string | undefined): void {
    this.apply(Root_EmailSet, { email });
  }
}

class Root_AuthorHandler extends CommandHandler {
  static {
    this.on(Root_SetEmail, async (handler, command) => {
      const existing = await handler.repository.findAggregate(
        command.aggregateId,
        Root_Author,
      );
      const author = existing ?? new Root_Author(command.aggregateId);
      if (!existing) handler.repository.addAggregate(author);
      author.setEmail(command.email);
    });
  }
}

class Root_SetPublisherEmail extends Command.define("Root.SetPublisherEmail", {
  email: attrs.string(),
}) {}
class Root_PublisherHandler extends CommandHandler {
  static {
    this.on(Root_SetPublisherEmail, (handler, command) => {
      const publisher = new Root_Publisher(command.aggregateId);
      handler.repository.addAggregate(publisher);
      publisher.setEmail(command.email);
    });
  }
}

function keyedService(store = new InMemoryEventStore()): CommandService {
  return new CommandService({
    eventStore: store,
    commandHandlers: [new Root_AuthorHandler(), new Root_PublisherHandler()],
  });
}

Deno.test("unique keys are enforced at commit across aggregates of every type in the scope", async () => {
  const store = new InMemoryEventStore();
  const service = keyedService(store);
  const first = newId();
  await service.executeCommands(
    new Root_SetEmail({ aggregateId: first, email: "ben@example.com" }),
  );
  const second = newId();
  await assert.rejects(
    service.executeCommands(
      new Root_SetEmail({ aggregateId: second, email: "BEN@example.com" }),
    ),
    (error: unknown) => {
      assert.ok(error instanceof AggregateKeyNotUniqueError);
      assert.equal(error.scope, "root_author_email");
      assert.equal(error.key, "ben@example.com");
      assert.equal(error.aggregateId, second);
      assert.equal(error.aggregateType, "Root_Author");
      return true;
    },
  );
  const publisher = newId();
  await assert.rejects(
    service.executeCommands(
      new Root_SetPublisherEmail({
        aggregateId: publisher,
        email: "ben@example.com",
      }),
    ),
    AggregateKeyNotUniqueError,
  );
  assert.equal(await store.streamExists(second), false);
  assert.equal(await store.streamExists(publisher), false);
  assert.equal(
    await store.findAggregateIdByUniqueKey(
      "root_author_email",
      "ben@example.com",
    ),
    first,
  );
});

Deno.test("aggregates without a key (undefined) do not clash with each other", async () => {
  const store = new InMemoryEventStore();
  const service = keyedService(store);
  const a = newId();
  const b = newId();
  await service.executeCommands(new Root_SetEmail({ aggregateId: a }));
  await service.executeCommands(new Root_SetEmail({ aggregateId: b }));
  assert.equal(await store.streamExists(a), true);
  assert.equal(await store.streamExists(b), true);
});

Deno.test("a key released by one aggregate can be claimed by another", async () => {
  const store = new InMemoryEventStore();
  const service = keyedService(store);
  const a = newId();
  const b = newId();
  await service.executeCommands(
    new Root_SetEmail({ aggregateId: a, email: "x@y.z" }),
  );
  await service.executeCommands(
    new Root_SetEmail({ aggregateId: a, email: "other@y.z" }),
  );
  await service.executeCommands(
    new Root_SetEmail({ aggregateId: b, email: "x@y.z" }),
  );
  assert.equal(
    await store.findAggregateIdByUniqueKey("root_author_email", "x@y.z"),
    b,
  );
  assert.equal(
    await store.findAggregateIdByUniqueKey("root_author_email", "other@y.z"),
    a,
  );
});

// --- snapshots ----------------------------------------------------------------------

class Root_Counted extends Event.define("Root.Counted", {
  by: attrs.integer().required(),
}) {}

class Root_Counter extends AggregateRoot {
  count = 0;
  restoredFrom: number | undefined;
  increment(by: number): void {
    this.apply(Root_Counted, { by });
  }
  static {
    this.on(Root_Counted, (counter, event) => {
      counter.count += event.by;
    });
    this.enableSnapshots({
      version: 3,
      threshold: 5,
      take: (counter) => ({ count: counter.count }),
      restore: (counter, state) => {
        // `state` is typed by what `take` returns
        counter.count = state.count;
        // @ts-expect-error: the snapshot state has no "total"
        void state.total;
        counter.restoredFrom = state.count;
      },
    });
  }
}

Deno.test("enableSnapshots() keeps the version, threshold and functions", () => {
  const config = snapshotConfigOf(Root_Counter);
  assert.ok(config);
  assert.equal(config.version, 3);
  assert.equal(config.threshold, 5);
});

Deno.test("enableSnapshots() defaults the threshold to 20 and is inherited by subclasses", () => {
  class Root_SnapBase extends AggregateRoot {
    static {
      this.enableSnapshots({ version: 1, take: () => null, restore: () => {} });
    }
  }
  class Root_SnapSub extends Root_SnapBase {}
  assert.equal(snapshotConfigOf(Root_SnapBase)?.threshold, 20);
  assert.equal(snapshotConfigOf(Root_SnapSub)?.version, 1);
  assert.equal(snapshotConfigOf(Root_Account), undefined);
});

Deno.test("enableSnapshots() rejects a version that is not a positive integer", () => {
  class Root_BadVersion extends AggregateRoot {}
  for (const version of [0, -1, 1.5, Number.NaN, "1" as unknown as number]) {
    assert.throws(
      () =>
        Root_BadVersion.enableSnapshots({
          version,
          take: () => 1,
          restore: () => {},
        }),
      {
        name: "RangeError",
        message:
          /Snapshot version of Root_BadVersion must be a positive integer/,
      },
      String(version),
    );
  }
  assert.equal(snapshotConfigOf(Root_BadVersion), undefined);
});

Deno.test("enableSnapshots() rejects a threshold that is not a positive integer", () => {
  class Root_BadThreshold extends AggregateRoot {}
  for (const threshold of [0, -5, 2.5, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () =>
        Root_BadThreshold.enableSnapshots({
          version: 1,
          threshold,
          take: () => 1,
          restore: () => {},
        }),
      { name: "RangeError", message: /threshold of Root_BadThreshold/ },
      String(threshold),
    );
  }
});

Deno.test("enableSnapshots() rejects missing take or restore functions", () => {
  class Root_NoTake extends AggregateRoot {}
  assert.throws(
    () =>
      Root_NoTake.enableSnapshots(
        {
          version: 1,
          restore: () => {},
        } as unknown as Parameters<typeof Root_NoTake.enableSnapshots>[0],
      ),
    { name: "TypeError", message: /need take and restore functions/ },
  );
  assert.throws(
    () =>
      Root_NoTake.enableSnapshots(
        {
          version: 1,
          take: () => 1,
        } as unknown as Parameters<typeof Root_NoTake.enableSnapshots>[0],
      ),
    { name: "TypeError" },
  );
});

Deno.test("takeSnapshot() serialises the state with the version and sequence number", () => {
  const counter = new Root_Counter(newId());
  counter.increment(2);
  counter.increment(5);
  markCommitted(counter);
  const snapshot = takeSnapshot(counter);
  assert.deepEqual(snapshot, {
    version: 3,
    sequenceNumber: 2,
    data: JSON.stringify({ count: 7 }),
  });
});

Deno.test("takeSnapshot() refuses an aggregate with uncommitted events", () => {
  const id = newId();
  const counter = new Root_Counter(id);
  counter.increment(1);
  assert.throws(() => takeSnapshot(counter), (error: unknown) => {
    assert.ok(error instanceof HasUncommittedEventsError);
    assert.deepEqual(error.aggregateIds, [id]);
    assert.match(error.message, new RegExp(id));
    return true;
  });
});

Deno.test("takeSnapshot() of an aggregate without snapshots gives undefined", () => {
  assert.equal(takeSnapshot(new Root_Account(newId())), undefined);
});

Deno.test("committing past the snapshot threshold marks the aggregate for a snapshot", async () => {
  class Root_Count extends Command.define("Root.Count", {
    times: attrs.integer().required(),
  }) {}
  class Root_CounterHandler extends CommandHandler {
    static {
      this.on(Root_Count, async (handler, command) => {
        const counter = await handler.repository.findAggregate(
          command.aggregateId,
          Root_Counter,
        );
        const target = counter ?? new Root_Counter(command.aggregateId);
        if (!counter) handler.repository.addAggregate(target);
        for (let i = 0; i < command.times; i++) target.increment(1);
      });
    }
  }
  const store = new InMemoryEventStore();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Root_CounterHandler()],
  });
  const id = newId();
  await service.executeCommands(new Root_Count({ aggregateId: id, times: 4 }));
  assert.deepEqual(await store.aggregatesNeedingSnapshots(10), []);
  await service.executeCommands(new Root_Count({ aggregateId: id, times: 1 }));
  assert.deepEqual(await store.aggregatesNeedingSnapshots(10), [
    { aggregateId: id, aggregateType: "Root_Counter" },
  ]);
});

// --- ids and types ------------------------------------------------------------------

Deno.test("the constructor rejects ids that are not lower-case UUIDs", () => {
  const bad: unknown[] = [
    "not-a-uuid",
    "",
    crypto.randomUUID().toUpperCase(),
    ` ${crypto.randomUUID()}`,
    42,
    undefined,
    null,
  ];
  for (const id of bad) {
    assert.throws(() => new Root_Account(id as string), {
      name: "TypeError",
      message: /Aggregate id must be a lower-case UUID/,
    }, String(id));
  }
});

class Root_Renamable extends AggregateRoot {
  static override readonly aggregateType = "Root.StableName";
  touch(): void {
    this.apply(Root_Pinged);
  }
}

class Root_Partitioned extends AggregateRoot {
  override get eventsPartitionKey(): string {
    return "tenant-7";
  }
  touch(): void {
    this.apply(Root_Pinged);
  }
}

Deno.test("aggregateType defaults to the class name and can be overridden", () => {
  assert.equal(aggregateTypeOf(Root_Account), "Root_Account");
  assert.equal(Root_Account.aggregateType, undefined);
  assert.equal(aggregateTypeOf(Root_Renamable), "Root.StableName");
});

Deno.test("the stored stream carries the aggregate type and partition key", async () => {
  class Root_Touch extends Command.define("Root.Touch", {
    kind: attrs.oneOf("renamable", "partitioned"),
  }) {}
  class Root_TouchHandler extends CommandHandler {
    static {
      this.on(Root_Touch, (handler, command) => {
        const aggregate = command.kind === "renamable"
          ? new Root_Renamable(command.aggregateId)
          : new Root_Partitioned(command.aggregateId);
        handler.repository.addAggregate(aggregate);
        aggregate.touch();
      });
    }
  }
  const store = new InMemoryEventStore();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Root_TouchHandler()],
  });
  const renamable = newId();
  const partitioned = newId();
  await service.executeCommands(
    new Root_Touch({ aggregateId: renamable, kind: "renamable" }),
    new Root_Touch({ aggregateId: partitioned, kind: "partitioned" }),
  );
  const [a, b] = await store.loadStreams([renamable, partitioned]);
  assert.equal(a?.aggregateType, "Root.StableName");
  assert.equal(a?.partitionKey, "");
  assert.equal(b?.aggregateType, "Root_Partitioned");
  assert.equal(b?.partitionKey, "tenant-7");
});

// --- Events never change --------------------------------------------------------

class Root_TagsSet extends Event.define("Root.TagsSet", {
  tags: attrs.array(attrs.string()).required(),
}) {}
class Root_TagAdded extends Event.define("Root.TagAdded", {
  tag: attrs.string().required(),
}) {}
class Root_Tag extends Command.define("Root.Tag", {
  tags: attrs.array(attrs.string()).required(),
  extra: attrs.string().required(),
}) {}

/** Keeps the event's own array as state, and pushes onto it later. */
class Root_SharingDoc extends AggregateRoot {
  tags: string[] = [];

  tag(command: Root_Tag): void {
    this.apply(Root_TagsSet, { tags: command.tags });
    this.apply(Root_TagAdded, { tag: command.extra });
  }

  static {
    this.on(Root_TagsSet, (doc, event) => {
      doc.tags = event.tags as string[];
    });
    this.on(Root_TagAdded, (doc, event) => {
      doc.tags.push(event.tag);
    });
  }
}

/** Keeps a copy of the event's array as state. */
class Root_CopyingDoc extends AggregateRoot {
  tags: string[] = [];

  tag(command: Root_Tag): void {
    this.apply(Root_TagsSet, { tags: command.tags });
    this.apply(Root_TagAdded, { tag: command.extra });
  }

  static {
    this.on(Root_TagsSet, (doc, event) => {
      doc.tags = [...event.tags];
    });
    this.on(Root_TagAdded, (doc, event) => {
      doc.tags.push(event.tag);
    });
  }
}

Deno.test("a handler that pushes onto an earlier event's array fails with a TypeError saying to keep a copy, and changes neither that event nor the command", () => {
  const doc = new Root_SharingDoc(newId());
  const command = new Root_Tag({
    aggregateId: doc.id,
    tags: ["a"],
    extra: "b",
  });
  assert.throws(
    () => doc.tag(command),
    (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(
        error.message,
        /^Root_SharingDoc handling Root\.TagAdded: .*not extensible.*frozen.*keep a copy as state/,
      );
      assert.ok(error.cause instanceof TypeError);
      return true;
    },
  );
  const [set] = doc.uncommittedEvents as Root_TagsSet[];
  assert.deepEqual(set?.tags, ["a"]);
  assert.deepEqual(command.tags, ["a"]);
});

class Root_ReadTags extends Command.define("Root.ReadTags", {}) {}

Deno.test("events a command applies replay to the aggregate's live state", async () => {
  const seen: string[][] = [];
  class Root_TagHandler extends CommandHandler {
    static {
      this.on(Root_Tag, (handler, command) => {
        const doc = new Root_CopyingDoc(command.aggregateId);
        doc.tag(command);
        seen.push([...doc.tags]);
        handler.repository.addAggregate(doc);
      });
      this.on(Root_ReadTags, async (handler, command) => {
        const doc = await handler.repository.loadAggregate(
          command.aggregateId,
          Root_CopyingDoc,
        );
        seen.push([...doc.tags]);
      });
    }
  }
  const store = new InMemoryEventStore();
  const service = () =>
    new CommandService({
      eventStore: store,
      commandHandlers: [new Root_TagHandler()],
    });
  const id = newId();
  const command = new Root_Tag({ aggregateId: id, tags: ["a"], extra: "b" });
  await service().executeCommands(command);
  // a new service: the aggregate is rebuilt from the stored events
  await service().executeCommands(new Root_ReadTags({ aggregateId: id }));
  assert.deepEqual(seen, [["a", "b"], ["a", "b"]]);
  assert.deepEqual(command.tags, ["a"]);
});

Deno.test("an error of a handler that changes no frozen value is thrown as it is", () => {
  class Root_Failing extends AggregateRoot {
    fail(): void {
      this.apply(Root_Pinged);
    }
    static {
      this.on(Root_Pinged, () => {
        throw new TypeError("not about frozen values");
      });
    }
  }
  assert.throws(
    () => new Root_Failing(newId()).fail(),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message === "not about frozen values" && error.cause === undefined,
  );
});
