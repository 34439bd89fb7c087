import assert from "node:assert/strict";
import {
  AggregateNotFoundError,
  AggregateRoot,
  attrs,
  column,
  Command,
  CommandHandler,
  type CommandMiddleware,
  createApp,
  Event,
  InMemoryEventStore,
  type Logger,
  Projector,
  ReadOnlyAggregateError,
  SequentError,
  table,
  ViewSchemaNotReadyError,
  Workflow,
} from "@sequent/core";

import {
  AddPost,
  EditPost,
  Post,
  PostCommandHandler,
} from "../fixtures/blog.ts";

// --- Domain -------------------------------------------------------------------

class App_Opened extends Event.define("App.Opened", { name: attrs.string() }) {}
class App_Greeted extends Event.define("App.Greeted", {}) {}

class App_Shop extends AggregateRoot {
  static {
    this.on(App_Opened, () => {});
    this.on(App_Greeted, () => {});
    this.enableSnapshots({
      version: 1,
      threshold: 2,
      take: () => ({}),
      restore: () => {},
    });
  }
  static open(id: string, name: string): App_Shop {
    const shop = new App_Shop(id);
    shop.apply(App_Opened, { name });
    return shop;
  }
  greet(): void {
    this.apply(App_Greeted);
  }
}

class App_Open extends Command.define("App.Open", {
  name: attrs.string().required(),
}) {}
class App_Greet extends Command.define("App.Greet", {}) {}

class App_Handler extends CommandHandler {
  static {
    this.on(App_Open, (h, c) => {
      h.repository.addAggregate(App_Shop.open(c.aggregateId, c.name));
    });
    this.on(App_Greet, async (h, c) => {
      (await h.repository.loadAggregate(c.aggregateId, App_Shop)).greet();
    });
  }
}

const appShops = table("app_shops", {
  id: column.uuid().primaryKey(),
  name: column.text(),
  greeted: column.boolean().default(false),
});

class App_ShopProjector extends Projector {
  static override readonly manages = [appShops];
  static {
    this.on(
      App_Opened,
      (p, e) =>
        p.createRecord(appShops, { id: e.aggregateId, name: e.name ?? "" }),
    );
    this.on(
      App_Greeted,
      (p, e) =>
        p.updateAllRecords(appShops, { id: e.aggregateId }, { greeted: true }),
    );
  }
}

/** Counts the events it sees: given as an instance. */
class App_CountingProjector extends Projector {
  seen = 0;
  static {
    this.on(App_Opened, (p) => {
      p.seen++;
    });
  }
}

class App_GreetingWorkflow extends Workflow {
  static {
    this.on(
      App_Opened,
      (w, e) =>
        w.executeCommands(new App_Greet({ aggregateId: e.aggregateId })),
    );
  }
}

// --- An event store object ------------------------------------------------------

Deno.test("an app over an event store object wires projectors and workflows given as classes or instances", async () => {
  const store = new InMemoryEventStore();
  const counting = new App_CountingProjector();
  const passed: string[] = [];
  const middleware: CommandMiddleware = async (command, next) => {
    passed.push(command.constructor.name);
    await next();
  };
  const app = await createApp({
    eventStore: store,
    commandHandlers: [new App_Handler()],
    projectors: [App_ShopProjector, counting],
    workflows: [App_GreetingWorkflow],
    aggregates: [App_Shop],
    middleware: [middleware],
  });
  assert.equal(app.description, "an in-memory event store");
  assert.equal(app.eventStore, store);
  assert.equal(app.records, store.records);
  assert.equal(
    app.migrator,
    undefined,
    "an event store object has no migrator",
  );
  assert.deepEqual(
    app.commandService.eventHandlers.map((h) => h.constructor.name),
    ["App_ShopProjector", "App_CountingProjector", "App_GreetingWorkflow"],
  );
  assert.equal(app.commandService.eventHandlers[1], counting);

  const id = crypto.randomUUID();
  await app.executeCommands(new App_Open({ aggregateId: id, name: "corner" }));
  assert.deepEqual(passed, ["App_Open", "App_Greet"]);
  assert.equal(counting.seen, 1);
  assert.deepEqual(await app.records.find(appShops, {}), [
    { id, name: "corner", greeted: true },
  ]);

  const report = await app.dryRun(
    new App_Open({ aggregateId: crypto.randomUUID(), name: "x" }),
  );
  assert.deepEqual(report.commands[0]?.events[0]?.handlers.map((h) => h.kind), [
    "projector",
    "projector",
    "workflow",
  ]);
  assert.equal(counting.seen, 1);

  assert.equal(await app.snapshotter.takeMarkedSnapshots(), 1);
  assert.equal((await store.loadLatestSnapshot(id))?.sequenceNumber, 2);

  await app.close();
  await assert.rejects(
    Promise.resolve().then(() => store.streamExists(id)),
    SequentError,
  );
});

Deno.test("the app's logger and retry setting reach the command service", async () => {
  const logged: string[] = [];
  const logger: Logger = {
    enabled: () => true,
    log: (level, message) => {
      if (level === "error") logged.push(message);
    },
  };
  class App_FailingWorkflow extends Workflow {
    static {
      this.on(App_Opened, (w) =>
        w.afterCommit(() => {
          throw new Error("boom");
        }));
    }
  }
  const app = await createApp({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new App_Handler()],
    workflows: [new App_FailingWorkflow()],
    logger,
  });
  await app.executeCommands(
    new App_Open({ aggregateId: crypto.randomUUID(), name: "x" }),
  );
  assert.deepEqual(logged, ["App_FailingWorkflow after commit failed"]);
  await app.close();
  await assert.rejects(
    createApp({
      eventStore: new InMemoryEventStore(),
      commandHandlers: [],
      retryOnConflict: -1,
    }),
    RangeError,
  );
});

Deno.test("bad configurations are refused with errors saying what is wrong", async () => {
  const store = new InMemoryEventStore();
  const cases: [unknown, RegExp][] = [
    [undefined, /createApp\(\) needs a config with commandHandlers/],
    [{ eventStore: store }, /needs a config with commandHandlers/],
    [
      { eventStore: store, commandHandlers: "none" },
      /needs a config with commandHandlers/,
    ],
    [
      {
        eventStore: store,
        commandHandlers: [],
        projectors: [App_GreetingWorkflow],
      },
      /projectors must be Projector instances or classes, got class App_GreetingWorkflow/,
    ],
    [
      {
        eventStore: store,
        commandHandlers: [],
        projectors: [new App_GreetingWorkflow()],
      },
      /projectors must be Projector instances or classes/,
    ],
    [
      {
        eventStore: store,
        commandHandlers: [],
        projectors: ["App_ShopProjector"],
      },
      /projectors must be Projector instances or classes, got App_ShopProjector/,
    ],
    [
      {
        eventStore: store,
        commandHandlers: [],
        workflows: [App_ShopProjector],
      },
      /workflows must be Workflow instances or classes/,
    ],
    [
      { eventStore: store, commandHandlers: [App_Handler] },
      /commandHandlers must be CommandHandler instances, got function/,
    ],
    [
      { database: "mysql://localhost/db", commandHandlers: [] },
      /Database URL scheme "mysql:" is not supported/,
    ],
  ];
  for (const [config, message] of cases) {
    await assert.rejects(
      createApp(config as never),
      (e: unknown) => e instanceof TypeError && message.test(e.message),
      String(message),
    );
  }
});

// --- memory:// ------------------------------------------------------------------

Deno.test("an app's partition count must be its event store's; the app gives its processor store", async () => {
  const store = new InMemoryEventStore({ partitions: 8 });
  await assert.rejects(
    createApp({ eventStore: store, commandHandlers: [], partitions: 16 }),
    (error: unknown) =>
      error instanceof SequentError &&
      error.message === "partitions is 16, but the event store given has 8",
  );
  const app = await createApp({
    eventStore: store,
    commandHandlers: [],
    partitions: 8,
  });
  assert.ok(app.processorStore);
  assert.equal(app.processorStore.reader, store);
  await app.close();
});

Deno.test("an app on memory:// installs the event store in its schema and migrates its view schema", async () => {
  const app = await createApp({
    database: "memory://",
    eventStoreSchema: "app_events",
    viewSchema: "app_views",
    partitions: 16,
    commandHandlers: [new App_Handler()],
    projectors: [App_ShopProjector],
    workflows: [new App_GreetingWorkflow()],
    migrations: { 1: [App_ShopProjector] },
  });
  try {
    assert.equal(app.description, "embedded PostgreSQL in memory");
    assert.ok(app.migrator);
    assert.equal(app.migrator.targetVersion, 1);
    assert.equal((await app.migrator.status()).state, "pending");
    const reports = await app.migrator.migrate({ progress: false });
    assert.deepEqual(reports.map((r) => [r.step, r.version, r.changed]), [
      ["online", 1, true],
      ["offline", 1, true],
    ]);
    assert.equal(app.records.tableName(appShops), '"app_views"."app_shops"');
    const id = crypto.randomUUID();
    await app.executeCommands(new App_Open({ aggregateId: id, name: "db" }));
    assert.deepEqual(await app.records.find(appShops, {}), [
      { id, name: "db", greeted: true },
    ]);
    const [events] = await app.records.executeSql(
      "SELECT count(*)::int AS n FROM app_events.events",
    );
    assert.deepEqual(events, { n: 2 });
    const [partitions] = await app.records.executeSql(
      "SELECT app_events.partition_count() AS p",
    );
    assert.deepEqual(partitions, { p: 16 });
    assert.ok(app.processorStore);
    assert.equal((await app.processorStore.records(["outbox"])).length, 0);
    assert.equal((await app.migrator.status()).state, "up-to-date");
  } finally {
    await app.close();
  }
});

const appNotes = table("app_notes", { id: column.uuid().primaryKey() });

/** Keeps a table, but is declared in no view-schema version. */
class App_UnversionedProjector extends Projector {
  static override readonly manages = [appNotes];
  static {
    this.on(
      App_Opened,
      (p, e) => p.createRecord(appNotes, { id: e.aggregateId }),
    );
  }
}

Deno.test("an app whose read side is not ready says what to do: at start for a projector in no version, and for a command before the first migrate", async () => {
  const warnings: string[] = [];
  const app = await createApp({
    database: "memory://",
    commandHandlers: [new App_Handler()],
    projectors: [App_ShopProjector, App_UnversionedProjector],
    migrations: { 1: [App_ShopProjector] },
    logger: {
      enabled: () => true,
      log: (level, message) => {
        if (level === "warn") warnings.push(message);
      },
    },
  });
  try {
    assert.deepEqual(warnings, [
      'The read side does not match the database: App_UnversionedProjector is in no view-schema version, so its tables are never built: add a version that lists it (2: [App_UnversionedProjector]), then migrate ("deno task migrate" in a generated app)',
    ]);
    const open = () =>
      app.executeCommands(
        new App_Open({ aggregateId: crypto.randomUUID(), name: "early" }),
      );
    await assert.rejects(open, (error: unknown) => {
      assert.ok(error instanceof ViewSchemaNotReadyError);
      assert.equal(
        error.message,
        'View schema "view_schema" is at version 0 of 1 (never migrated): run migrate first (in a generated app: deno task migrate)',
      );
      assert.equal((error.cause as { code?: string }).code, "42P01");
      return true;
    });
    // nothing of the command was stored
    const [events] = await app.records.executeSql(
      "SELECT count(*)::int AS n FROM sequent_schema.events",
    );
    assert.deepEqual(events, { n: 0 });
    await app.migrator!.migrate({ progress: false });
    // migrated, the projector in no version still has no table
    await assert.rejects(open, (error: unknown) => {
      assert.ok(error instanceof ViewSchemaNotReadyError);
      assert.match(
        error.message,
        /^View schema "view_schema" does not match the application: App_UnversionedProjector is in no view-schema version/,
      );
      return true;
    });
  } finally {
    await app.close();
  }
});

Deno.test("app.loadAggregate() loads an aggregate outside any command, read-only, as it is now or as it was at an instant", async () => {
  const app = await createApp({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new PostCommandHandler()],
    aggregates: [Post],
  });
  const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
  try {
    const id = crypto.randomUUID();
    await app.executeCommands(
      new AddPost({
        aggregateId: id,
        author: "ben",
        title: "First",
        content: "a",
      }),
    );
    await pause();
    const between = new Date();
    await pause();
    await app.executeCommands(
      new EditPost({ aggregateId: id, title: "Second", content: "b" }),
    );
    const now = await app.loadAggregate(id, Post);
    assert.deepEqual([now.title, now.content], ["Second", "b"]);
    const then = await app.loadAggregate(id, Post, { asOf: between });
    assert.deepEqual([then.title, then.content], ["First", "a"]);
    assert.throws(() => now.edit("x", "y"), ReadOnlyAggregateError);
    assert.throws(() => then.edit("x", "y"), ReadOnlyAggregateError);
    await assert.rejects(
      app.loadAggregate(crypto.randomUUID(), Post),
      AggregateNotFoundError,
    );
    await assert.rejects(
      app.loadAggregate(id, Post, { asOf: new Date(0) }),
      AggregateNotFoundError,
    );
    // what a command stores afterwards is what the next load sees
    await app.executeCommands(
      new EditPost({ aggregateId: id, title: "Third", content: "c" }),
    );
    assert.equal((await app.loadAggregate(id, Post)).title, "Third");
  } finally {
    await app.close();
  }
});
