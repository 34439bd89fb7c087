import assert from "node:assert/strict";
import {
  AggregateNotFoundError,
  AggregateRepository,
  AggregateRoot,
  AggregateTypeMismatchError,
  attrs,
  Command,
  CommandHandler,
  CommandService,
  DuplicateAggregateError,
  Event,
  HasUncommittedEventsError,
  InMemoryEventStore,
  isA,
  OptimisticLockError,
  ReadOnlyAggregateError,
} from "@sequent/core";
import {
  type EventStoreReader,
  type EventStoreTransaction,
  type LoadOptions,
  MessageSerializer,
} from "@sequent/core/internal";
import { commandSpec } from "@sequent/core/testing";
import {
  aggregateInternals,
  takeSnapshot,
} from "../../src/core/aggregate_root.ts";
import { storeRows } from "./_stored_rows.ts";

// --- Domain -------------------------------------------------------------------

class Repo_AuthorCreated extends Event.define("Repo.AuthorCreated", {
  name: attrs.string(),
}) {}
class Repo_EmailChanged extends Event.define("Repo.EmailChanged", {
  email: attrs.string(),
}) {}
class Repo_Note extends Event.define("Repo.Note", { text: attrs.string() }) {}

class Repo_Author extends AggregateRoot {
  name: string | undefined;
  email: string | undefined;

  static create(id: string, name: string, email?: string): Repo_Author {
    const author = new Repo_Author(id);
    author.apply(Repo_AuthorCreated, { name });
    if (email !== undefined) author.changeEmail(email);
    return author;
  }

  changeEmail(email: string): void {
    this.apply(Repo_EmailChanged, { email });
  }

  static {
    this.uniqueKey("repo_email", (a) => a.email?.toLowerCase());
    this.on(Repo_AuthorCreated, (a, e) => {
      a.name = e.name;
    });
    this.on(Repo_EmailChanged, (a, e) => {
      a.email = e.email;
    });
  }
}

class Repo_Other extends AggregateRoot {
  static {
    this.on(Repo_Note, () => {});
  }
}

abstract class Repo_Vehicle extends AggregateRoot {
  notes: string[] = [];
  static {
    this.on(Repo_Note, (v, e) => {
      v.notes.push(e.text ?? "");
    });
  }
}
class Repo_Car extends Repo_Vehicle {
  honk(): string {
    return "beep";
  }
}
class Repo_Bike extends Repo_Vehicle {}

class Repo_Counted extends Event.define("Repo.Counted", {
  by: attrs.integer().required(),
}) {}

class Repo_Counter extends AggregateRoot {
  count = 0;
  restored = false;
  increment(by: number): void {
    this.apply(Repo_Counted, { by });
  }
  static {
    this.on(Repo_Counted, (c, e) => {
      c.count += e.by;
    });
    this.enableSnapshots({
      version: 2,
      take: (c) => ({ count: c.count }),
      restore: (c, state) => {
        c.count = state.count;
        c.restored = true;
      },
    });
  }
}

class Repo_Eager extends AggregateRoot {
  constructor(id: string) {
    super(id);
    this.apply(Repo_Note, { text: "born" });
  }
}

// --- Helpers ------------------------------------------------------------------

function newId(): string {
  return crypto.randomUUID();
}

function seeder(store: InMemoryEventStore): CommandService {
  return new CommandService({ eventStore: store, commandHandlers: [] });
}

async function seedAuthor(
  store: InMemoryEventStore,
  name = "Ben",
  email?: string,
): Promise<string> {
  const id = newId();
  const events: Event[] = [
    new Repo_AuthorCreated({ aggregateId: id, sequenceNumber: 1, name }),
  ];
  if (email !== undefined) {
    events.push(
      new Repo_EmailChanged({ aggregateId: id, sequenceNumber: 2, email }),
    );
  }
  await seeder(store).commitEvents([{ aggregateClass: Repo_Author, events }]);
  return id;
}

/** Runs `work` with a fresh repository over a transaction of `store`. */
function inUnit<T>(
  store: InMemoryEventStore,
  work: (
    repository: AggregateRepository,
    tx: EventStoreTransaction,
  ) => Promise<T>,
  wrap: (tx: EventStoreTransaction) => EventStoreReader = (tx) => tx,
): Promise<T> {
  return store.transaction((tx) =>
    work(new AggregateRepository(wrap(tx), new MessageSerializer()), tx)
  );
}

/** A reader that records the ids of every `loadStreams` call. */
function counting(
  reader: EventStoreReader,
  calls: (readonly string[])[],
): EventStoreReader {
  return new Proxy(reader, {
    get(target, property) {
      if (property === "loadStreams") {
        return (ids: readonly string[], options?: LoadOptions) => {
          calls.push([...ids]);
          return target.loadStreams(ids, options);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

// --- addAggregate ---------------------------------------------------------------

Deno.test("addAggregate() rejects a second aggregate with the same id in the unit", async () => {
  const store = new InMemoryEventStore();
  await inUnit(store, async (repository) => {
    const id = newId();
    repository.addAggregate(Repo_Author.create(id, "Ben"));
    assert.throws(
      () => repository.addAggregate(Repo_Author.create(id, "Bob")),
      (error: unknown) => {
        assert.ok(error instanceof DuplicateAggregateError);
        assert.equal(error.aggregateId, id);
        assert.match(error.message, new RegExp(id));
        return true;
      },
    );
    assert.equal((await repository.loadAggregate(id, Repo_Author)).name, "Ben");
  });
});

Deno.test("addAggregate() rejects an id already loaded in the unit", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store);
  await inUnit(store, async (repository) => {
    await repository.loadAggregate(id, Repo_Author);
    assert.throws(
      () => repository.addAggregate(Repo_Author.create(id, "Bob")),
      DuplicateAggregateError,
    );
  });
});

Deno.test("addAggregate() rejects what is not an aggregate", async () => {
  await inUnit(new InMemoryEventStore(), (repository) => {
    assert.throws(
      () =>
        repository.addAggregate({ id: newId() } as unknown as AggregateRoot),
      { name: "TypeError", message: /needs an AggregateRoot/ },
    );
    return Promise.resolve();
  });
});

Deno.test("adding a new aggregate whose id is already stored fails the commit with OptimisticLockError", async () => {
  class Repo_CreateAuthor extends Command.define("Repo.CreateAuthor", {
    name: attrs.string().required(),
  }) {}
  class Repo_CreateHandler extends CommandHandler {
    static {
      this.on(Repo_CreateAuthor, (handler, command) => {
        handler.repository.addAggregate(
          Repo_Author.create(command.aggregateId, command.name),
        );
      });
    }
  }
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store, "Ben");
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Repo_CreateHandler()],
  });
  await assert.rejects(
    service.executeCommands(
      new Repo_CreateAuthor({ aggregateId: id, name: "Bob" }),
    ),
    (error: unknown) =>
      error instanceof OptimisticLockError && error.aggregateId === id,
  );
  const [stream] = await store.loadStreams([id]);
  assert.equal(stream?.events.length, 1);
});

// --- loadAggregate ---------------------------------------------------------------

Deno.test("loadAggregate() rebuilds the aggregate from its stored events", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store, "Ben", "ben@example.com");
  await inUnit(store, async (repository) => {
    const author = await repository.loadAggregate(id, Repo_Author);
    assert.ok(author instanceof Repo_Author);
    assert.equal(author.id, id);
    assert.equal(author.name, "Ben");
    assert.equal(author.email, "ben@example.com");
    assert.equal(author.sequenceNumber, 2);
    assert.deepEqual(author.uncommittedEvents, []);
  });
});

// Never built in this file before its rows are read, as in a process that
// did not store them: the process knows it only by the route below.
class Repo_Tagged
  extends Event.define("Repo.Tagged", { tag: attrs.string() }) {}
class Repo_Labels extends AggregateRoot {
  tags: string[] = [];
  static {
    this.on(isA(Repo_Tagged), (labels, e) => {
      labels.tags.push(e.tag ?? "");
    });
  }
}

Deno.test("loadAggregate() in a fresh process reads stored events as the class an isA() route names, so the route sees them", async () => {
  const store = new InMemoryEventStore();
  const id = newId();
  await storeRows(store, "Repo_Labels", id, [
    { eventType: "Repo.Tagged", payload: '{"tag":"red"}' },
    { eventType: "Repo.Tagged", payload: '{"tag":"blue"}' },
  ]);
  // a fresh serializer, its registry given nothing (no aggregates option)
  await inUnit(store, async (repository) => {
    const labels = await repository.loadAggregate(id, Repo_Labels);
    assert.deepEqual(labels.tags, ["red", "blue"]);
    assert.equal(labels.sequenceNumber, 2);
  });
});

Deno.test("loadAggregate() of an unknown id throws AggregateNotFoundError naming the id", async () => {
  const id = newId();
  await inUnit(new InMemoryEventStore(), async (repository) => {
    await assert.rejects(
      repository.loadAggregate(id, Repo_Author),
      (error: unknown) => {
        assert.ok(error instanceof AggregateNotFoundError);
        assert.deepEqual(error.aggregateIds, [id]);
        assert.equal(error.message, `Aggregate "${id}" not found`);
        return true;
      },
    );
  });
});

Deno.test("loadAggregate() with the wrong class throws AggregateTypeMismatchError", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store);
  await inUnit(store, async (repository) => {
    await assert.rejects(
      repository.loadAggregate(id, Repo_Other),
      (error: unknown) => {
        assert.ok(error instanceof AggregateTypeMismatchError);
        assert.equal(error.aggregateId, id);
        assert.equal(error.expectedType, "Repo_Other");
        assert.equal(error.actualType, "Repo_Author");
        return true;
      },
    );
  });
});

Deno.test("loadAggregate() with the wrong class fails for an aggregate already in the unit too", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store);
  await inUnit(store, async (repository) => {
    await repository.loadAggregate(id, Repo_Author);
    await assert.rejects(
      repository.loadAggregate(id, Repo_Other),
      AggregateTypeMismatchError,
    );
  });
});

Deno.test("loadAggregate() through a base class gives the stored subclass", async () => {
  const store = new InMemoryEventStore();
  const carId = newId();
  const bikeId = newId();
  await seeder(store).commitEvents([
    {
      aggregateClass: Repo_Car,
      events: [
        new Repo_Note({ aggregateId: carId, sequenceNumber: 1, text: "vroom" }),
      ],
    },
    {
      aggregateClass: Repo_Bike,
      events: [
        new Repo_Note({ aggregateId: bikeId, sequenceNumber: 1, text: "ring" }),
      ],
    },
  ]);
  await inUnit(store, async (repository) => {
    const [car, bike] = await repository.loadAggregates(
      [carId, bikeId],
      Repo_Vehicle,
    );
    assert.ok(car instanceof Repo_Car);
    assert.equal(car.honk(), "beep");
    assert.deepEqual(car.notes, ["vroom"]);
    assert.ok(bike instanceof Repo_Bike);
    assert.equal(await repository.loadAggregate(carId, Repo_Car), car);
    await assert.rejects(
      repository.loadAggregate(bikeId, Repo_Car),
      AggregateTypeMismatchError,
    );
  });
});

Deno.test("loadAggregate() through AggregateRoot finds the concrete class by its stored type", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store, "Ben");
  await inUnit(store, async (repository) => {
    const loaded = await repository.loadAggregate(id, AggregateRoot);
    assert.ok(loaded instanceof Repo_Author);
    assert.equal(loaded.name, "Ben");
  });
});

Deno.test("loadAggregate() through AggregateRoot refuses a stream stored without a type", async () => {
  const store = new InMemoryEventStore();
  const id = newId();
  await seeder(store).commitEvents([
    {
      events: [
        new Repo_Note({ aggregateId: id, sequenceNumber: 1, text: "untyped" }),
      ],
    },
  ]);
  await inUnit(store, async (repository) => {
    await assert.rejects(repository.loadAggregate(id, AggregateRoot), {
      name: "TypeError",
      message: new RegExp(`class of aggregate "${id}".*without a type`),
    });
    const car = await repository.loadAggregate(id, Repo_Car);
    assert.deepEqual(car.notes, ["untyped"]);
  });
});

Deno.test("loadAggregate() returns the same instance twice within a unit, loading once", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store);
  const calls: (readonly string[])[] = [];
  await inUnit(store, async (repository) => {
    const first = await repository.loadAggregate(id, Repo_Author);
    first.changeEmail("changed@example.com");
    const second = await repository.loadAggregate(id, Repo_Author);
    assert.equal(second, first);
    assert.equal(second.email, "changed@example.com");
  }, (tx) => counting(tx, calls));
  assert.equal(calls.length, 1);
});

Deno.test("loadAggregate() returns an aggregate added in the same unit without reading the store", async () => {
  const calls: (readonly string[])[] = [];
  await inUnit(new InMemoryEventStore(), async (repository) => {
    const author = Repo_Author.create(newId(), "New");
    repository.addAggregate(author);
    assert.equal(
      await repository.loadAggregate(author.id, Repo_Author),
      author,
    );
  }, (tx) => counting(tx, calls));
  assert.deepEqual(calls, []);
});

Deno.test("different units load different instances of one aggregate", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store);
  const first = await inUnit(store, (r) => r.loadAggregate(id, Repo_Author));
  const second = await inUnit(store, (r) => r.loadAggregate(id, Repo_Author));
  assert.notEqual(first, second);
});

Deno.test("loadAggregate() rejects a class that is not an aggregate class", async () => {
  await inUnit(new InMemoryEventStore(), async (repository) => {
    await assert.rejects(
      repository.loadAggregate(newId(), Date as unknown as typeof Repo_Author),
      { name: "TypeError", message: /Expected an AggregateRoot class/ },
    );
  });
});

Deno.test("loadAggregate() refuses a class whose constructor applies events", async () => {
  const store = new InMemoryEventStore();
  const id = newId();
  await seeder(store).commitEvents([
    {
      events: [
        new Repo_Note({ aggregateId: id, sequenceNumber: 1, text: "x" }),
      ],
    },
  ]);
  await inUnit(store, async (repository) => {
    await assert.rejects(repository.loadAggregate(id, Repo_Eager), {
      name: "TypeError",
      message: /constructor of Repo_Eager applies events/,
    });
  });
});

// --- loadAggregates --------------------------------------------------------------

Deno.test("loadAggregates() loads every aggregate not yet in the unit in one batch", async () => {
  const store = new InMemoryEventStore();
  const a = await seedAuthor(store, "A");
  const b = await seedAuthor(store, "B");
  const c = await seedAuthor(store, "C");
  const calls: (readonly string[])[] = [];
  await inUnit(store, async (repository) => {
    const loadedA = await repository.loadAggregate(a, Repo_Author);
    const authors = await repository.loadAggregates([a, b, c], Repo_Author);
    assert.deepEqual(authors.map((x) => x.name), ["A", "B", "C"]);
    assert.equal(authors[0], loadedA);
    await repository.loadAggregates([c, b, a], Repo_Author);
  }, (tx) => counting(tx, calls));
  assert.deepEqual(calls, [[a], [b, c]]);
});

Deno.test("loadAggregates() names every missing id and keeps the ones it found", async () => {
  const store = new InMemoryEventStore();
  const found = await seedAuthor(store);
  const missing1 = newId();
  const missing2 = newId();
  await inUnit(store, async (repository) => {
    await assert.rejects(
      repository.loadAggregates([missing1, found, missing2], Repo_Author),
      (error: unknown) => {
        assert.ok(error instanceof AggregateNotFoundError);
        assert.deepEqual(error.aggregateIds, [missing1, missing2]);
        assert.match(error.message, new RegExp(`"${missing1}", "${missing2}"`));
        return true;
      },
    );
  });
});

Deno.test("loadAggregates() of no ids reads nothing", async () => {
  const calls: (readonly string[])[] = [];
  await inUnit(new InMemoryEventStore(), async (repository) => {
    assert.deepEqual(await repository.loadAggregates([], Repo_Author), []);
  }, (tx) => counting(tx, calls));
  assert.deepEqual(calls, []);
});

// --- findAggregate, ensureExists, containsAggregate ------------------------------

Deno.test("findAggregate() gives undefined for a missing aggregate and the aggregate otherwise", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store, "Ben");
  await inUnit(store, async (repository) => {
    assert.equal(
      await repository.findAggregate(newId(), Repo_Author),
      undefined,
    );
    assert.equal(
      (await repository.findAggregate(id, Repo_Author))?.name,
      "Ben",
    );
  });
});

Deno.test("findAggregate() still throws AggregateTypeMismatchError for the wrong class", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store);
  await inUnit(store, async (repository) => {
    await assert.rejects(
      repository.findAggregate(id, Repo_Other),
      AggregateTypeMismatchError,
    );
  });
});

Deno.test("ensureExists() passes for a stored aggregate and fails for a missing one or the wrong class", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store);
  const missing = newId();
  await inUnit(store, async (repository) => {
    await repository.ensureExists(id, Repo_Author);
    await assert.rejects(
      repository.ensureExists(missing, Repo_Author),
      (error: unknown) =>
        error instanceof AggregateNotFoundError &&
        error.aggregateIds[0] === missing,
    );
    await assert.rejects(
      repository.ensureExists(id, Repo_Other),
      AggregateTypeMismatchError,
    );
  });
});

Deno.test("containsAggregate() counts stored aggregates and ones added in the unit", async () => {
  const store = new InMemoryEventStore();
  const stored = await seedAuthor(store);
  await inUnit(store, async (repository) => {
    const added = Repo_Author.create(newId(), "New");
    repository.addAggregate(added);
    assert.equal(await repository.containsAggregate(stored), true);
    assert.equal(await repository.containsAggregate(added.id), true);
    assert.equal(await repository.containsAggregate(newId()), false);
  });
});

// --- findAggregateByUniqueKey ----------------------------------------------------

Deno.test("findAggregateByUniqueKey() finds the aggregate holding a stored key", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store, "Ben", "Ben@Example.com");
  await inUnit(store, async (repository) => {
    const found = await repository.findAggregateByUniqueKey(
      "repo_email",
      "ben@example.com",
      Repo_Author,
    );
    assert.ok(found);
    assert.equal(found.id, id);
    assert.equal(found, await repository.loadAggregate(id, Repo_Author));
    assert.equal(
      await repository.findAggregateByUniqueKey(
        "repo_email",
        "Ben@Example.com",
      ),
      undefined,
      "keys are compared exactly as derived",
    );
    assert.equal(
      await repository.findAggregateByUniqueKey(
        "other_scope",
        "ben@example.com",
      ),
      undefined,
    );
  });
});

Deno.test("findAggregateByUniqueKey() without a class gives the aggregate of its stored type", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store, "Ben", "ben@example.com");
  await inUnit(store, async (repository) => {
    const found = await repository.findAggregateByUniqueKey(
      "repo_email",
      "ben@example.com",
    );
    assert.ok(found instanceof Repo_Author);
    assert.equal(found.id, id);
  });
});

Deno.test("findAggregateByUniqueKey() finds a key claimed in the same unit before commit", async () => {
  const store = new InMemoryEventStore();
  await inUnit(store, async (repository) => {
    const author = Repo_Author.create(newId(), "New", "new@example.com");
    repository.addAggregate(author);
    assert.equal(
      await repository.findAggregateByUniqueKey(
        "repo_email",
        "new@example.com",
        Repo_Author,
      ),
      author,
    );
  });
});

Deno.test("findAggregateByUniqueKey() does not find a key released in the same unit", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store, "Ben", "old@example.com");
  await inUnit(store, async (repository) => {
    const author = await repository.loadAggregate(id, Repo_Author);
    author.changeEmail("new@example.com");
    assert.equal(
      await repository.findAggregateByUniqueKey(
        "repo_email",
        "old@example.com",
      ),
      undefined,
    );
    assert.equal(
      await repository.findAggregateByUniqueKey(
        "repo_email",
        "new@example.com",
      ),
      author,
    );
  });
});

Deno.test("findAggregateByUniqueKey() with the wrong class throws AggregateTypeMismatchError", async () => {
  const store = new InMemoryEventStore();
  await seedAuthor(store, "Ben", "ben@example.com");
  await inUnit(store, async (repository) => {
    await assert.rejects(
      repository.findAggregateByUniqueKey(
        "repo_email",
        "ben@example.com",
        Repo_Other,
      ),
      AggregateTypeMismatchError,
    );
  });
});

// --- loadAggregateAsOf (time travel) ---------------------------------------------

const T1 = new Date("2024-01-01T00:00:00Z");
const T2 = new Date("2024-02-01T00:00:00Z");
const T3 = new Date("2024-03-01T00:00:00Z");

async function seedHistory(store: InMemoryEventStore): Promise<string> {
  const id = newId();
  await seeder(store).commitEvents([{
    aggregateClass: Repo_Author,
    events: [
      new Repo_AuthorCreated({
        aggregateId: id,
        sequenceNumber: 1,
        name: "Ben",
        createdAt: T1,
      }),
      new Repo_EmailChanged({
        aggregateId: id,
        sequenceNumber: 2,
        email: "first@x.org",
        createdAt: T2,
      }),
      new Repo_EmailChanged({
        aggregateId: id,
        sequenceNumber: 3,
        email: "second@x.org",
        createdAt: T3,
      }),
    ],
  }]);
  return id;
}

Deno.test("loadAggregateAsOf() gives the state as of an instant, counting only earlier events", async () => {
  const store = new InMemoryEventStore();
  const id = await seedHistory(store);
  await inUnit(store, async (repository) => {
    const between = await repository.loadAggregateAsOf(
      id,
      Repo_Author,
      new Date("2024-02-15T00:00:00Z"),
    );
    assert.equal(between.email, "first@x.org");
    assert.equal(between.sequenceNumber, 2);
    const atT2 = await repository.loadAggregateAsOf(id, Repo_Author, T2);
    assert.equal(
      atT2.email,
      undefined,
      "an event at exactly the instant is not counted",
    );
    assert.equal(atT2.sequenceNumber, 1);
    const now = await repository.loadAggregateAsOf(id, Repo_Author, new Date());
    assert.equal(now.email, "second@x.org");
  });
});

Deno.test("loadAggregateAsOf() gives a read-only aggregate: apply throws ReadOnlyAggregateError", async () => {
  const store = new InMemoryEventStore();
  const id = await seedHistory(store);
  await inUnit(store, async (repository) => {
    const past = await repository.loadAggregateAsOf(id, Repo_Author, T3);
    assert.equal(past.isReadOnly, true);
    assert.throws(() => past.changeEmail("x@y.z"), (error: unknown) => {
      assert.ok(error instanceof ReadOnlyAggregateError);
      assert.equal(error.aggregateId, id);
      return true;
    });
    assert.equal(past.sequenceNumber, 2);
    assert.equal(past.uncommittedEvents.length, 0);
  });
});

Deno.test("loadAggregateAsOf() is never cached in the identity map", async () => {
  const store = new InMemoryEventStore();
  const id = await seedHistory(store);
  const calls: (readonly string[])[] = [];
  await inUnit(store, async (repository) => {
    const past = await repository.loadAggregateAsOf(id, Repo_Author, T3);
    const current = await repository.loadAggregate(id, Repo_Author);
    assert.notEqual(current, past);
    assert.equal(current.isReadOnly, false);
    assert.equal(current.email, "second@x.org");
    current.changeEmail("third@x.org");
    const pastAgain = await repository.loadAggregateAsOf(id, Repo_Author, T3);
    assert.notEqual(pastAgain, past);
    assert.equal(pastAgain.email, "first@x.org");
    assert.equal(await repository.loadAggregate(id, Repo_Author), current);
  }, (tx) => counting(tx, calls));
  assert.equal(calls.length, 3);
});

Deno.test("loadAggregateAsOf() before the first event throws AggregateNotFoundError", async () => {
  const store = new InMemoryEventStore();
  const id = await seedHistory(store);
  await inUnit(store, async (repository) => {
    await assert.rejects(
      repository.loadAggregateAsOf(id, Repo_Author, T1),
      (error: unknown) =>
        error instanceof AggregateNotFoundError && error.aggregateIds[0] === id,
    );
    await assert.rejects(
      repository.loadAggregateAsOf(newId(), Repo_Author, new Date()),
      AggregateNotFoundError,
    );
  });
});

Deno.test("loadAggregateAsOf() rejects an invalid instant and a non-aggregate class", async () => {
  const store = new InMemoryEventStore();
  const id = await seedHistory(store);
  await inUnit(store, async (repository) => {
    for (
      const bad of [
        new Date("nope"),
        "2024-01-01" as unknown as Date,
        undefined as unknown as Date,
      ]
    ) {
      await assert.rejects(repository.loadAggregateAsOf(id, Repo_Author, bad), {
        name: "TypeError",
        message: /needs a valid Date/,
      });
    }
    await assert.rejects(
      repository.loadAggregateAsOf(
        id,
        Object as unknown as typeof Repo_Author,
        new Date(),
      ),
      { name: "TypeError", message: /Expected an AggregateRoot class/ },
    );
  });
});

Deno.test("loadAggregateAsOf() with the wrong class throws AggregateTypeMismatchError", async () => {
  const store = new InMemoryEventStore();
  const id = await seedHistory(store);
  await inUnit(store, async (repository) => {
    await assert.rejects(
      repository.loadAggregateAsOf(id, Repo_Other, new Date()),
      AggregateTypeMismatchError,
    );
  });
});

// --- snapshots -------------------------------------------------------------------

async function seedCounter(
  store: InMemoryEventStore,
  increments: number[],
): Promise<string> {
  const id = newId();
  await seeder(store).commitEvents([{
    aggregateClass: Repo_Counter,
    events: increments.map((by, i) =>
      new Repo_Counted({ aggregateId: id, sequenceNumber: i + 1, by })
    ),
  }]);
  return id;
}

function snapshotRow(
  id: string,
  version: number,
  sequenceNumber: number,
  count: number,
) {
  return {
    aggregateId: id,
    aggregateType: "Repo_Counter",
    version,
    sequenceNumber,
    createdAt: new Date(),
    data: JSON.stringify({ count }),
  };
}

Deno.test("loadAggregate() starts from the latest snapshot and replays only later events", async () => {
  const store = new InMemoryEventStore();
  const id = await seedCounter(store, [1, 1, 1]);
  // A snapshot whose state differs from the events proves it was used.
  await store.storeSnapshots([snapshotRow(id, 2, 2, 100)]);
  const calls: (readonly string[])[] = [];
  await inUnit(store, async (repository) => {
    const counter = await repository.loadAggregate(id, Repo_Counter);
    assert.equal(counter.restored, true);
    assert.equal(counter.count, 101);
    assert.equal(counter.sequenceNumber, 3);
    counter.increment(1);
    assert.equal(counter.uncommittedEvents[0]?.sequenceNumber, 4);
  }, (tx) => counting(tx, calls));
  assert.equal(calls.length, 1);
});

Deno.test("a snapshot taken of a loaded aggregate restores the same state", async () => {
  const store = new InMemoryEventStore();
  const id = await seedCounter(store, [2, 3, 4]);
  const snapshot = await inUnit(
    store,
    async (repository) =>
      takeSnapshot(await repository.loadAggregate(id, Repo_Counter)),
  );
  assert.ok(snapshot);
  await store.storeSnapshots([{
    ...snapshot,
    aggregateId: id,
    aggregateType: "Repo_Counter",
    createdAt: new Date(),
  }]);
  await seeder(store).commitEvents([{
    aggregateClass: Repo_Counter,
    events: [new Repo_Counted({ aggregateId: id, sequenceNumber: 4, by: 10 })],
  }]);
  await inUnit(store, async (repository) => {
    const counter = await repository.loadAggregate(id, Repo_Counter);
    assert.equal(counter.restored, true);
    assert.equal(counter.count, 19);
    assert.equal(counter.sequenceNumber, 4);
  });
});

Deno.test("loadAggregate() ignores snapshots of another version and replays every event", async () => {
  const store = new InMemoryEventStore();
  const id = await seedCounter(store, [1, 1, 1]);
  await store.storeSnapshots([
    snapshotRow(id, 1, 3, 100),
    snapshotRow(id, 3, 2, 500),
  ]);
  await inUnit(store, async (repository) => {
    const counter = await repository.loadAggregate(id, Repo_Counter);
    assert.equal(counter.restored, false);
    assert.equal(counter.count, 3);
    assert.equal(counter.sequenceNumber, 3);
  });
});

Deno.test("loadAggregateAsOf() ignores snapshots", async () => {
  const store = new InMemoryEventStore();
  const id = await seedCounter(store, [1, 1]);
  await store.storeSnapshots([snapshotRow(id, 2, 2, 100)]);
  await inUnit(store, async (repository) => {
    const counter = await repository.loadAggregateAsOf(
      id,
      Repo_Counter,
      new Date(Date.now() + 1000),
    );
    assert.equal(counter.restored, false);
    assert.equal(counter.count, 2);
  });
});

class Repo_SnapBase extends AggregateRoot {
  count = 0;
  static {
    this.on(Repo_Counted, (c, e) => {
      c.count += e.by;
    });
    this.enableSnapshots({
      version: 1,
      take: (c) => ({ count: c.count }),
      restore: (c, state) => {
        c.count = state.count;
      },
    });
  }
}
class Repo_SnapSub extends Repo_SnapBase {
  static {
    this.enableSnapshots({
      version: 2,
      take: (c) => [c.count],
      restore: (c, state) => {
        c.count = state[0] ?? 0;
      },
    });
  }
}

Deno.test("loading through a base class ignores a snapshot in the base's version when the subclass declares another", async () => {
  const store = new InMemoryEventStore();
  const id = newId();
  await seeder(store).commitEvents([{
    aggregateClass: Repo_SnapSub,
    events: [1, 2, 3].map((by, i) =>
      new Repo_Counted({ aggregateId: id, sequenceNumber: i + 1, by })
    ),
  }]);
  await store.storeSnapshots([{
    aggregateId: id,
    aggregateType: "Repo_SnapSub",
    version: 1,
    sequenceNumber: 2,
    createdAt: new Date(),
    data: JSON.stringify({ count: 3 }),
  }]);
  await inUnit(store, async (repository) => {
    const counter = await repository.loadAggregate(id, Repo_SnapBase);
    assert.ok(counter instanceof Repo_SnapSub);
    assert.equal(counter.count, 6);
    assert.equal(counter.sequenceNumber, 3);
  });
  await store.storeSnapshots([{
    aggregateId: id,
    aggregateType: "Repo_SnapSub",
    version: 2,
    sequenceNumber: 3,
    createdAt: new Date(),
    data: JSON.stringify([60]),
  }]);
  await inUnit(store, async (repository) => {
    assert.equal((await repository.loadAggregate(id, Repo_SnapSub)).count, 60);
  });
});

// --- clear and takeChanges --------------------------------------------------------

Deno.test("clear() with uncommitted events throws HasUncommittedEventsError naming them", async () => {
  const store = new InMemoryEventStore();
  const stored = await seedAuthor(store);
  await inUnit(store, async (repository) => {
    await repository.loadAggregate(stored, Repo_Author);
    const added = Repo_Author.create(newId(), "New");
    repository.addAggregate(added);
    assert.throws(() => repository.clear(), (error: unknown) => {
      assert.ok(error instanceof HasUncommittedEventsError);
      assert.deepEqual(error.aggregateIds, [added.id]);
      assert.match(error.message, new RegExp(added.id));
      return true;
    });
    assert.equal(await repository.loadAggregate(added.id, Repo_Author), added);
  });
});

Deno.test("clear() forgets every aggregate so the next load reads the store again", async () => {
  const store = new InMemoryEventStore();
  const id = await seedAuthor(store);
  const calls: (readonly string[])[] = [];
  await inUnit(store, async (repository) => {
    const first = await repository.loadAggregate(id, Repo_Author);
    repository.clear();
    const second = await repository.loadAggregate(id, Repo_Author);
    assert.notEqual(second, first);
  }, (tx) => counting(tx, calls));
  assert.equal(calls.length, 2);
});

Deno.test("takeChanges() gives new events per aggregate in load order and clears them", async () => {
  const store = new InMemoryEventStore();
  const stored = await seedAuthor(store);
  await inUnit(store, async (repository) => {
    const untouched = Repo_Author.create(newId(), "Untouched");
    aggregateInternals().takeUncommitted(untouched);
    repository.addAggregate(untouched);
    const loaded = await repository.loadAggregate(stored, Repo_Author);
    const added = Repo_Author.create(newId(), "Added");
    repository.addAggregate(added);
    loaded.changeEmail("x@y.z");
    const changes = repository.takeChanges();
    assert.deepEqual(changes.map((c) => c.aggregate), [loaded, added]);
    assert.deepEqual(
      changes.map((c) => c.events.map((e) => e.sequenceNumber)),
      [[2], [1]],
    );
    assert.deepEqual(repository.takeChanges(), []);
    repository.clear();
  });
});

// --- through the command service ------------------------------------------------

class Repo_Rename extends Command.define("Repo.Rename", {
  email: attrs.string().required(),
}) {}

class Repo_RenameHandler extends CommandHandler {
  static {
    this.on(
      Repo_Rename,
      (handler, command) =>
        handler.doWithAggregate(
          command,
          Repo_Author,
          (author) => author.changeEmail(command.email),
        ),
    );
  }
}

Deno.test("a command on a missing aggregate fails with AggregateNotFoundError and stores nothing", async () => {
  const spec = commandSpec({ commandHandlers: [new Repo_RenameHandler()] });
  const id = newId();
  await spec.whenCommand(new Repo_Rename({ aggregateId: id, email: "x@y.z" }))
    .thenFails(AggregateNotFoundError);
  spec.thenNoEvents();
});

Deno.test("a command on a loaded aggregate stores its next event", async () => {
  const spec = commandSpec({ commandHandlers: [new Repo_RenameHandler()] });
  const id = newId();
  await spec.givenEvents(
    new Repo_AuthorCreated({ aggregateId: id, sequenceNumber: 1, name: "Ben" }),
  );
  await spec.whenCommand(new Repo_Rename({ aggregateId: id, email: "x@y.z" }));
  spec.thenEvents(
    new Repo_EmailChanged({
      aggregateId: id,
      sequenceNumber: 2,
      email: "x@y.z",
    }),
  );
});
