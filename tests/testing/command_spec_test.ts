import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import {
  AggregateKeyNotUniqueError,
  AggregateNotFoundError,
  AggregateRoot,
  attrs,
  Command,
  CommandHandler,
  CommandNotValidError,
  Decimal,
  Event,
  EventHandler,
  hasAttrs,
  InMemoryEventStore,
  OptimisticLockError,
  SequentError,
  Workflow,
} from "@sequent/core";
import { commandSpec } from "@sequent/core/testing";

// --- The Sequent guide's Author, with a unique email -----------------------------

class Spec_AuthorCreated extends Event.define("Spec.AuthorCreated", {}) {}
class Spec_AuthorNameSet extends Event.define("Spec.AuthorNameSet", {
  name: attrs.string(),
}) {}
class Spec_AuthorEmailSet extends Event.define("Spec.AuthorEmailSet", {
  email: attrs.string(),
}) {}

class Spec_AddAuthor extends Command.define("Spec.AddAuthor", {
  name: attrs.string().required(),
  email: attrs.string().required(),
}) {}

class Spec_Author extends AggregateRoot {
  email: string | undefined;

  static create(command: Spec_AddAuthor): Spec_Author {
    const author = new Spec_Author(command.aggregateId);
    author.apply(Spec_AuthorCreated);
    author.apply(Spec_AuthorNameSet, { name: command.name });
    author.apply(Spec_AuthorEmailSet, { email: command.email });
    return author;
  }

  static {
    this.uniqueKey(
      "spec_author_email",
      (author) => author.email?.toLowerCase(),
    );
    this.on(Spec_AuthorEmailSet, (author, event) => {
      author.email = event.email;
    });
  }
}

class Spec_AuthorHandler extends CommandHandler {
  static {
    this.on(Spec_AddAuthor, (handler, command) => {
      handler.repository.addAggregate(Spec_Author.create(command));
    });
  }
}

// --- A second domain: posts with a price ---------------------------------------------

class Spec_PostAdded extends Event.define("Spec.PostAdded", {}) {}
class Spec_TitleChanged extends Event.define("Spec.TitleChanged", {
  title: attrs.string(),
}) {}
class Spec_Priced extends Event.define("Spec.Priced", {
  price: attrs.decimal(),
}) {}
class Spec_Archived extends Event.define("Spec.Archived", {}) {}

class Spec_AddPost extends Command.define("Spec.AddPost", {
  title: attrs.string().required(),
  price: attrs.decimal(),
}) {}
class Spec_RenamePost extends Command.define("Spec.RenamePost", {
  title: attrs.string().required(),
}) {}
class Spec_Noop extends Command.define("Spec.Noop", {}) {}

class Spec_Post extends AggregateRoot {
  title: string | undefined;
  static add(command: Spec_AddPost): Spec_Post {
    const post = new Spec_Post(command.aggregateId);
    post.apply(Spec_PostAdded);
    post.apply(Spec_TitleChanged, { title: command.title });
    if (command.price) post.apply(Spec_Priced, { price: command.price });
    return post;
  }
  rename(title: string): void {
    this.applyIfChanged(Spec_TitleChanged, { title });
  }
  static {
    this.on(Spec_TitleChanged, (post, event) => {
      post.title = event.title;
    });
  }
}

class Spec_PostHandler extends CommandHandler {
  static {
    this.on(Spec_AddPost, (handler, command) => {
      handler.repository.addAggregate(Spec_Post.add(command));
    });
    this.on(
      Spec_RenamePost,
      (handler, command) =>
        handler.doWithAggregate(
          command,
          Spec_Post,
          (post) => post.rename(command.title),
        ),
    );
    this.on(Spec_Noop, () => {});
  }
}

function newId(): string {
  return crypto.randomUUID();
}

function authorSpec() {
  return commandSpec({ commandHandlers: [new Spec_AuthorHandler()] });
}

function postSpec() {
  return commandSpec({ commandHandlers: [new Spec_PostHandler()] });
}

function authorHistory(aggregateId: string, email: string): Event[] {
  return [
    new Spec_AuthorCreated({ aggregateId, sequenceNumber: 1 }),
    new Spec_AuthorNameSet({ aggregateId, sequenceNumber: 2, name: "Ben" }),
    new Spec_AuthorEmailSet({ aggregateId, sequenceNumber: 3, email }),
  ];
}

/** Asserts that `fn` fails with an AssertionError whose message matches every pattern. */
function assertFailsWith(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(
      error instanceof AssertionError,
      `expected an AssertionError, got ${error}`,
    );
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

async function assertRejectsWith(
  promise: Promise<unknown>,
  ...patterns: RegExp[]
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(
      error instanceof AssertionError,
      `expected an AssertionError, got ${error}`,
    );
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

// --- givenEvents: unique keys from history -----------------------------------------------

Deno.test("givenEvents() history claims unique keys: a second author with the same email fails", async () => {
  const spec = authorSpec();
  await spec.givenEvents(...authorHistory(newId(), "ben@sequent.io"));
  await spec.whenCommand(
    new Spec_AddAuthor({
      aggregateId: newId(),
      name: "Kim",
      email: "ben@sequent.io",
    }),
  ).thenFails(AggregateKeyNotUniqueError);
  spec.thenNoEvents();
});

Deno.test("givenEvents() history claims derived keys: the same email in another case fails too", async () => {
  const spec = authorSpec();
  await spec.givenEvents(...authorHistory(newId(), "ben@sequent.io"));
  await spec.whenCommand(
    new Spec_AddAuthor({
      aggregateId: newId(),
      name: "Kim",
      email: "Ben@Sequent.IO",
    }),
  ).thenFails(AggregateKeyNotUniqueError);
  spec.thenNoEvents();
});

Deno.test("givenEvents() history leaves other emails free", async () => {
  const spec = authorSpec();
  await spec.givenEvents(...authorHistory(newId(), "ben@sequent.io"));
  const id = newId();
  await spec.whenCommand(
    new Spec_AddAuthor({
      aggregateId: id,
      name: "Kim",
      email: "kim@sequent.io",
    }),
  );
  spec.thenEvents(Spec_AuthorCreated, Spec_AuthorNameSet, Spec_AuthorEmailSet);
});

Deno.test("two new authors with one email in the same command call fail together", async () => {
  const spec = authorSpec();
  await spec.whenCommand(
    new Spec_AddAuthor({
      aggregateId: newId(),
      name: "A",
      email: "same@x.org",
    }),
    new Spec_AddAuthor({
      aggregateId: newId(),
      name: "B",
      email: "SAME@x.org",
    }),
  ).thenFails(AggregateKeyNotUniqueError);
  spec.thenNoEvents();
});

// --- givenEvents: grouping and the aggregate class -----------------------------------------

Deno.test("givenEvents() groups events per aggregate and infers each stream's aggregate class", async () => {
  const spec = authorSpec();
  const author = newId();
  const post = newId();
  const [a1, a2, a3] = authorHistory(author, "x@y.z");
  await spec.givenEvents(
    a1 as Event,
    new Spec_PostAdded({ aggregateId: post, sequenceNumber: 1 }),
    a2 as Event,
    new Spec_TitleChanged({ aggregateId: post, sequenceNumber: 2, title: "T" }),
    a3 as Event,
  );
  const store = (await spec.service()).eventStore;
  const [authorStream, postStream] = await store.loadStreams([author, post]);
  assert.equal(authorStream?.aggregateType, "Spec_Author");
  assert.deepEqual(authorStream?.events.map((e) => e.sequenceNumber), [
    1,
    2,
    3,
  ]);
  assert.equal(postStream?.aggregateType, "Spec_Post");
  assert.deepEqual(postStream?.events.map((e) => e.eventType), [
    "Spec.PostAdded",
    "Spec.TitleChanged",
  ]);
});

Deno.test("givenEvents() takes the aggregate class first when no aggregate handles the events", async () => {
  const spec = postSpec();
  const inferred = newId();
  const explicit = newId();
  await spec.givenEvents(
    new Spec_Archived({ aggregateId: inferred, sequenceNumber: 1 }),
  );
  await spec.givenEvents(
    Spec_Post,
    new Spec_Archived({ aggregateId: explicit, sequenceNumber: 1 }),
  );
  const store = (await spec.service()).eventStore;
  const [a, b] = await store.loadStreams([inferred, explicit]);
  assert.equal(a?.aggregateType, "");
  assert.equal(b?.aggregateType, "Spec_Post");
});

Deno.test("givenEvents() with an explicit class enforces that class's unique keys", async () => {
  const spec = authorSpec();
  const id = newId();
  await spec.givenEvents(
    Spec_Author,
    new Spec_AuthorEmailSet({
      aggregateId: id,
      sequenceNumber: 1,
      email: "a@b.c",
    }),
  );
  await spec.whenCommand(
    new Spec_AddAuthor({ aggregateId: newId(), name: "X", email: "a@b.c" }),
  )
    .thenFails(AggregateKeyNotUniqueError);
});

class Spec_Shared extends Event.define("Spec.Shared", {}) {}
class Spec_ShareA extends AggregateRoot {
  static {
    this.on(Spec_Shared, () => {});
  }
}
class Spec_ShareB extends AggregateRoot {
  static {
    this.on(Spec_Shared, () => {});
  }
}

Deno.test("givenEvents() asks for the class when several aggregates handle the events", async () => {
  const spec = postSpec();
  const id = newId();
  await assert.rejects(
    spec.givenEvents(new Spec_Shared({ aggregateId: id, sequenceNumber: 1 })),
    (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /Spec_ShareA and Spec_ShareB/);
      assert.match(error.message, /pass the aggregate class first/);
      return true;
    },
  );
  await spec.givenEvents(
    Spec_ShareB,
    new Spec_Shared({ aggregateId: id, sequenceNumber: 1 }),
  );
  const other = newId();
  await spec.givenEvents(
    Spec_ShareA,
    new Spec_Shared({ aggregateId: other, sequenceNumber: 1 }),
  );
  const store = (await spec.service()).eventStore;
  const [b, a] = await store.loadStreams([id, other]);
  assert.equal(b?.aggregateType, "Spec_ShareB");
  assert.equal(a?.aggregateType, "Spec_ShareA");
});

Deno.test("givenEvents() rejects items that are neither events nor an aggregate class", async () => {
  const spec = postSpec();
  await assert.rejects(
    spec.givenEvents("Spec.PostAdded" as unknown as Event),
    {
      name: "TypeError",
      message: /optional aggregate class followed by events/,
    },
  );
});

Deno.test("givenEvents() history must be consecutive per aggregate", async () => {
  const spec = postSpec();
  const id = newId();
  await assert.rejects(
    spec.givenEvents(
      new Spec_PostAdded({ aggregateId: id, sequenceNumber: 1 }),
      new Spec_TitleChanged({
        aggregateId: id,
        sequenceNumber: 3,
        title: "gap",
      }),
    ),
    OptimisticLockError,
  );
});

Deno.test("givenEvents() reaches projectors but not workflows", async () => {
  class Spec_Projector extends EventHandler {
    readonly seen: string[] = [];
    static {
      this.on(Spec_PostAdded, (p, e) => {
        p.seen.push(e.aggregateId);
      });
    }
  }
  class Spec_Workflow extends Workflow {
    readonly seen: string[] = [];
    static {
      this.on(Spec_PostAdded, (w, e) => {
        w.seen.push(e.aggregateId);
      });
    }
  }
  const projector = new Spec_Projector();
  const workflow = new Spec_Workflow();
  const spec = commandSpec({
    commandHandlers: [new Spec_PostHandler()],
    eventHandlers: [projector, workflow],
  });
  const id = newId();
  await spec.givenEvents(
    new Spec_PostAdded({ aggregateId: id, sequenceNumber: 1 }),
  );
  assert.deepEqual(projector.seen, [id]);
  assert.deepEqual(workflow.seen, []);
  await spec.whenCommand(
    new Spec_AddPost({ aggregateId: newId(), title: "new" }),
  );
  assert.equal(
    workflow.seen.length,
    1,
    "workflows do see the events of whenCommand",
  );
});

Deno.test("givenEvents() history is not part of what thenEvents checks", async () => {
  const spec = postSpec();
  const id = newId();
  await spec.givenEvents(
    new Spec_PostAdded({ aggregateId: id, sequenceNumber: 1 }),
    new Spec_TitleChanged({ aggregateId: id, sequenceNumber: 2, title: "old" }),
  );
  await spec.whenCommand(
    new Spec_RenamePost({ aggregateId: id, title: "new" }),
  );
  spec.thenEvents(
    new Spec_TitleChanged({ aggregateId: id, sequenceNumber: 3, title: "new" }),
  );
});

// --- whenCommand and thenFails -----------------------------------------------------------

Deno.test("awaiting a whenCommand that fails rejects with the command's error", async () => {
  const spec = postSpec();
  const id = newId();
  await assert.rejects(
    async () =>
      await spec.whenCommand(
        new Spec_RenamePost({ aggregateId: id, title: "x" }),
      ),
    (error: unknown) =>
      error instanceof AggregateNotFoundError && error.aggregateIds[0] === id,
  );
});

Deno.test("thenFails(ErrorClass) passes for that class and its subclasses", async () => {
  const spec = postSpec();
  await spec.whenCommand(
    new Spec_RenamePost({ aggregateId: newId(), title: "x" }),
  )
    .thenFails(AggregateNotFoundError);
  await spec.whenCommand(
    new Spec_RenamePost({ aggregateId: newId(), title: "x" }),
  )
    .thenFails(SequentError);
});

Deno.test("thenFails(ErrorClass) fails when the command succeeds, saying how many events it stored", async () => {
  const spec = postSpec();
  await assertRejectsWith(
    spec.whenCommand(new Spec_AddPost({ aggregateId: newId(), title: "ok" }))
      .thenFails(AggregateNotFoundError),
    /Expected the command to fail, but it succeeded and stored 2 events/,
  );
});

Deno.test("thenFails(ErrorClass) fails when the command fails with another error, naming both", async () => {
  const spec = postSpec();
  await assertRejectsWith(
    spec.whenCommand(new Spec_RenamePost({ aggregateId: newId(), title: "x" }))
      .thenFails(CommandNotValidError),
    /Expected the command to fail with CommandNotValidError, but it failed with AggregateNotFoundError: Aggregate ".*" not found/,
  );
});

Deno.test("thenFails(validationErrors) passes on exactly those errors, in any order of fields", async () => {
  const spec = postSpec();
  await spec.whenCommand(
    Spec_AddPost.fromParams({ aggregateId: newId(), price: "cheap" }),
  )
    .thenFails({
      price: ["is not a valid decimal"],
      title: ["can't be blank"],
    });
  spec.thenNoEvents();
});

Deno.test("thenFails(validationErrors) fails on different validation errors, printing both", async () => {
  const spec = postSpec();
  await assertRejectsWith(
    spec.whenCommand(Spec_AddPost.fromParams({ aggregateId: newId() }))
      .thenFails({ title: ["is too short"] }),
    /Expected validation errors \{"title":\["is too short"\]\}, got \{"title":\["can't be blank"\]\}/,
  );
  await assertRejectsWith(
    spec.whenCommand(
      Spec_AddPost.fromParams({ aggregateId: newId(), price: "x" }),
    )
      .thenFails({ title: ["can't be blank"] }),
    /got \{.*"price"/,
  );
});

Deno.test("thenFails(validationErrors) fails when the command fails with another error", async () => {
  const spec = postSpec();
  await assertRejectsWith(
    spec.whenCommand(new Spec_RenamePost({ aggregateId: newId(), title: "x" }))
      .thenFails({ title: ["can't be blank"] }),
    /Expected validation errors .*, but the command failed with AggregateNotFoundError/,
  );
});

Deno.test("thenFails(validationErrors) fails when the command succeeds", async () => {
  const spec = postSpec();
  await assertRejectsWith(
    spec.whenCommand(new Spec_AddPost({ aggregateId: newId(), title: "fine" }))
      .thenFails({ title: ["can't be blank"] }),
    /Expected the command to fail, but it succeeded/,
  );
});

// --- thenEvents --------------------------------------------------------------------------

async function addedPost(price?: string) {
  const spec = postSpec();
  const id = newId();
  await spec.whenCommand(
    new Spec_AddPost({
      aggregateId: id,
      title: "Hello",
      ...(price === undefined ? {} : { price: Decimal.from(price) }),
    }),
  );
  return { spec, id };
}

Deno.test("thenEvents() matches instances by class and attributes, aggregateId and sequenceNumber included", async () => {
  const { spec, id } = await addedPost("9.95");
  spec.thenEvents(
    new Spec_PostAdded({ aggregateId: id, sequenceNumber: 1 }),
    new Spec_TitleChanged({
      aggregateId: id,
      sequenceNumber: 2,
      title: "Hello",
    }),
    new Spec_Priced({
      aggregateId: id,
      sequenceNumber: 3,
      price: Decimal.from("9.950"),
    }),
  );
});

Deno.test("thenEvents() does not compare createdAt", async () => {
  const { spec, id } = await addedPost();
  spec.thenEvents(
    new Spec_PostAdded({
      aggregateId: id,
      sequenceNumber: 1,
      createdAt: new Date(0),
    }),
    new Spec_TitleChanged({
      aggregateId: id,
      sequenceNumber: 2,
      title: "Hello",
      createdAt: new Date(0),
    }),
  );
});

Deno.test("thenEvents() fails on a different attribute, sequence number, aggregate id or class", async () => {
  const { spec, id } = await addedPost();
  const added = new Spec_PostAdded({ aggregateId: id, sequenceNumber: 1 });
  const cases: [string, Event][] = [
    [
      "title",
      new Spec_TitleChanged({
        aggregateId: id,
        sequenceNumber: 2,
        title: "Bye",
      }),
    ],
    [
      "sequenceNumber",
      new Spec_TitleChanged({
        aggregateId: id,
        sequenceNumber: 3,
        title: "Hello",
      }),
    ],
    [
      "aggregateId",
      new Spec_TitleChanged({
        aggregateId: newId(),
        sequenceNumber: 2,
        title: "Hello",
      }),
    ],
    ["class", new Spec_Archived({ aggregateId: id, sequenceNumber: 2 })],
  ];
  for (const [what, wrong] of cases) {
    assert.throws(() => spec.thenEvents(added, wrong), AssertionError, what);
  }
});

Deno.test("thenEvents() matches by class alone", async () => {
  const { spec } = await addedPost();
  spec.thenEvents(Spec_PostAdded, Spec_TitleChanged);
  assertFailsWith(
    () => spec.thenEvents(Spec_PostAdded, Spec_Archived),
    /✗ 2\. expected: any Spec\.Archived/,
  );
});

Deno.test("thenEvents() matches by matcher and by predicate", async () => {
  const { spec, id } = await addedPost();
  spec.thenEvents(
    (event: Event) => event.aggregateId === id && event.sequenceNumber === 1,
    hasAttrs(Spec_TitleChanged, { title: "Hello" }),
  );
  assertFailsWith(
    () =>
      spec.thenEvents(
        () => false,
        hasAttrs(Spec_TitleChanged, { title: "Hello" }),
      ),
    /✗ 1\. expected: a message matching a predicate/,
  );
  assertFailsWith(
    () =>
      spec.thenEvents(
        Spec_PostAdded,
        hasAttrs(Spec_TitleChanged, { title: "Bye" }),
      ),
    /expected: Spec\.TitleChanged with title "Bye"/,
  );
});

Deno.test("thenEvents() requires the counts to match", async () => {
  const { spec, id } = await addedPost();
  assertFailsWith(
    () => spec.thenEvents(Spec_PostAdded),
    /Expected 1 events, got 2/,
    /2\. expected: \(nothing\)/,
  );
  assertFailsWith(
    () => spec.thenEvents(Spec_PostAdded, Spec_TitleChanged, Spec_Priced),
    /Expected 3 events, got 2/,
    /3\. expected: any Spec\.Priced\n\s+actual:\s+\(nothing\)/,
  );
  void id;
});

Deno.test("a failing thenEvents() prints expected versus actual for every position", async () => {
  const { spec, id } = await addedPost();
  assert.throws(
    () =>
      spec.thenEvents(
        new Spec_PostAdded({ aggregateId: id, sequenceNumber: 1 }),
        new Spec_TitleChanged({
          aggregateId: id,
          sequenceNumber: 2,
          title: "Bye",
        }),
      ),
    (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      const lines = error.message.split("\n");
      assert.equal(lines[0], "Expected 2 events, got 2:");
      assert.equal(
        lines[1],
        `  1. expected: Spec.PostAdded {"aggregateId":"${id}","sequenceNumber":1}`,
      );
      assert.equal(
        lines[2],
        `     actual:   Spec.PostAdded {"aggregateId":"${id}","sequenceNumber":1}`,
      );
      assert.equal(
        lines[3],
        `✗ 2. expected: Spec.TitleChanged {"aggregateId":"${id}","sequenceNumber":2,"title":"Bye"}`,
      );
      assert.equal(
        lines[4],
        `     actual:   Spec.TitleChanged {"aggregateId":"${id}","sequenceNumber":2,"title":"Hello"}`,
      );
      assert.doesNotMatch(error.message, /createdAt/);
      return true;
    },
  );
});

Deno.test("thenEvents() and thenNoEvents() before whenCommand() fail", () => {
  const spec = postSpec();
  assertFailsWith(
    () => spec.thenEvents(),
    /thenEvents\(\) needs a whenCommand\(\) first/,
  );
  assertFailsWith(
    () => spec.thenNoEvents(),
    /thenNoEvents\(\) needs a whenCommand\(\) first/,
  );
});

Deno.test("thenEvents(), thenNoEvents() and storedEvents refuse to run before whenCommand() finished, asking for the missing await", async () => {
  const spec = postSpec();
  const id = newId();
  const pending = spec.whenCommand(
    new Spec_AddPost({ aggregateId: id, title: "Hello" }),
  ); // await forgotten
  assertFailsWith(
    () => spec.thenNoEvents(),
    /thenNoEvents\(\) ran before whenCommand\(\) finished: await spec\.whenCommand\(…\) first/,
  );
  assertFailsWith(
    () => spec.thenEvents(Spec_PostAdded, Spec_TitleChanged),
    /thenEvents\(\) ran before whenCommand\(\) finished/,
  );
  assertFailsWith(
    () => spec.storedEvents,
    /storedEvents ran before whenCommand\(\) finished/,
  );
  await pending;
  spec.thenEvents(Spec_PostAdded, Spec_TitleChanged);
  assert.equal(spec.storedEvents.length, 2);
  // also while a failing command is still running
  const failing = spec.whenCommand(
    new Spec_AddPost({ aggregateId: newId(), title: "" }),
  );
  assertFailsWith(() => spec.thenNoEvents(), /await spec\.whenCommand/);
  await failing.thenFails({ title: ["can't be blank"] });
  spec.thenNoEvents();
});

class Spec_DataSaved extends Event.define("Spec.DataSaved", {
  data: attrs.json(),
}) {}
class Spec_SaveData extends Command.define("Spec.SaveData", {
  data: attrs.json(),
}) {}
class Spec_DataDoc extends AggregateRoot {
  static save(command: Spec_SaveData): Spec_DataDoc {
    const doc = new Spec_DataDoc(command.aggregateId);
    doc.apply(Spec_DataSaved, { data: command.data });
    return doc;
  }
  static {
    this.on(Spec_DataSaved, () => {});
  }
}
class Spec_DataHandler extends CommandHandler {
  static {
    this.on(Spec_SaveData, (handler, command) => {
      handler.repository.addAggregate(Spec_DataDoc.save(command));
    });
  }
}

Deno.test("thenEvents() passes for an event whose JSON attribute is null, and tells null from absent", async () => {
  const spec = commandSpec({ commandHandlers: [new Spec_DataHandler()] });
  const aggregateId = newId();
  await spec.whenCommand(
    Spec_SaveData.fromParams({ aggregateId, data: "null" }),
  );
  assert.equal((spec.storedEvents[0] as Spec_DataSaved).data, null);
  spec.thenEvents(
    new Spec_DataSaved({ aggregateId, sequenceNumber: 1, data: null }),
  );
  assertFailsWith(
    () =>
      spec.thenEvents(new Spec_DataSaved({ aggregateId, sequenceNumber: 1 })),
    /expected: Spec\.DataSaved \{"aggregateId":"[^"]+","sequenceNumber":1\}\n\s+actual:\s+Spec\.DataSaved \{"aggregateId":"[^"]+","sequenceNumber":1,"data":null\}/,
  );
});

Deno.test("thenEvents() checks only the last whenCommand", async () => {
  const { spec, id } = await addedPost();
  await spec.whenCommand(
    new Spec_RenamePost({ aggregateId: id, title: "Second" }),
  );
  spec.thenEvents(
    new Spec_TitleChanged({
      aggregateId: id,
      sequenceNumber: 3,
      title: "Second",
    }),
  );
});

Deno.test("storedEvents are read back from the store as instances of their classes", async () => {
  const { spec, id } = await addedPost("1.50");
  const [, , priced] = spec.storedEvents;
  assert.ok(priced instanceof Spec_Priced);
  assert.ok(priced.price instanceof Decimal);
  assert.equal(priced.price.toString(), "1.50");
  assert.equal(priced.aggregateId, id);
});

// --- thenNoEvents ------------------------------------------------------------------------

Deno.test("thenNoEvents() passes when the command stored nothing", async () => {
  const spec = postSpec();
  await spec.whenCommand(new Spec_Noop({ aggregateId: newId() }));
  spec.thenNoEvents();
  spec.thenEvents();
});

Deno.test("thenNoEvents() fails when the command stored events, listing them", async () => {
  const { spec } = await addedPost();
  assertFailsWith(
    () => spec.thenNoEvents(),
    /Expected 0 events, got 2/,
    /✗ 1\. expected: \(nothing\)\n\s+actual:\s+Spec\.PostAdded/,
  );
});

Deno.test("a command that applied no change (applyIfChanged) stores no events", async () => {
  const spec = postSpec();
  const id = newId();
  await spec.givenEvents(
    new Spec_TitleChanged({
      aggregateId: id,
      sequenceNumber: 1,
      title: "Same",
    }),
  );
  await spec.whenCommand(
    new Spec_RenamePost({ aggregateId: id, title: "Same" }),
  );
  spec.thenNoEvents();
});

// --- options ----------------------------------------------------------------------------

Deno.test("commandSpec() uses the event store and middleware it is given", async () => {
  const store = new InMemoryEventStore();
  const seen: string[] = [];
  const spec = commandSpec({
    commandHandlers: [new Spec_PostHandler()],
    eventStore: store,
    middleware: [async (command, next) => {
      seen.push(command.constructor.name);
      await next();
    }],
  });
  const id = newId();
  await spec.whenCommand(new Spec_AddPost({ aggregateId: id, title: "x" }));
  assert.deepEqual(seen, ["Spec_AddPost"]);
  assert.equal(await store.streamExists(id), true);
  assert.equal((await spec.service()).eventStore, store);
});

Deno.test("givenEvents() accepts an aggregate class only in first position", async () => {
  const spec = postSpec();
  const id = newId();
  await assert.rejects(
    spec.givenEvents(
      new Spec_PostAdded({ aggregateId: id, sequenceNumber: 1 }),
      Spec_Post as unknown as Event,
    ),
    {
      name: "TypeError",
      message: /optional aggregate class followed by events/,
    },
  );
});
