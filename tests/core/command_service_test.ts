import assert from "node:assert/strict";
import {
  AggregateKeyNotUniqueError,
  AggregateRoot,
  attrs,
  column,
  Command,
  CommandHandler,
  type CommandMiddleware,
  CommandNotValidError,
  CommandService,
  CommandTimeoutError,
  DuplicateCommandError,
  Event,
  EventHandler,
  type EventStore,
  hasAttrs,
  InMemoryEventStore,
  type Logger,
  type LogLevel,
  NoCommandHandlerError,
  OptimisticLockError,
  Projector,
  SequentError,
  silentLogger,
  table,
  TooManyCommandsError,
  UnstorableTextError,
  type UnstorableTextLocation,
  Workflow,
} from "@sequent/core";
import { storeRows } from "./_stored_rows.ts";
import { COMMIT_EVENTS_COMMAND } from "@sequent/core/internal";
import { shared } from "../postgres/_backends.ts";
import { storeBackends } from "../postgres/_store_backends.ts";

// --- Domain -------------------------------------------------------------------

class Svc_Opened
  extends Event.define("Svc.Opened", { owner: attrs.string() }) {}
class Svc_Deposited extends Event.define("Svc.Deposited", {
  amount: attrs.integer().required(),
}) {}

class Svc_Account extends AggregateRoot {
  owner: string | undefined;
  balance = 0;

  static open(id: string, owner: string): Svc_Account {
    const account = new Svc_Account(id);
    account.apply(Svc_Opened, { owner });
    return account;
  }

  deposit(amount: number): void {
    this.apply(Svc_Deposited, { amount });
  }

  static {
    this.uniqueKey("svc_owner", (a) => a.owner);
    this.on(Svc_Opened, (a, e) => {
      a.owner = e.owner;
    });
    this.on(Svc_Deposited, (a, e) => {
      a.balance += e.amount;
    });
  }
}

class Svc_Open extends Command.define("Svc.Open", {
  owner: attrs.string().required(),
}) {}
class Svc_Deposit extends Command.define("Svc.Deposit", {
  amount: attrs.integer().required().validate((n) => n > 0, "must be positive"),
}) {}
class Svc_Transfer extends Command.define("Svc.Transfer", {
  to: attrs.uuid().required(),
  amount: attrs.integer().required(),
}) {}
class Svc_Boom extends Command.define("Svc.Boom", {}) {}
class Svc_Unhandled extends Command.define("Svc.Unhandled", {}) {}

class Svc_BoomError extends Error {}

class Svc_AccountHandler extends CommandHandler {
  readonly log: string[] = [];
  static {
    this.on(Svc_Open, (handler, command) => {
      handler.log.push(`open ${command.owner}`);
      handler.repository.addAggregate(
        Svc_Account.open(command.aggregateId, command.owner),
      );
    });
    this.on(Svc_Deposit, (handler, command) => {
      handler.log.push(`deposit ${command.amount}`);
      return handler.doWithAggregate(
        command,
        Svc_Account,
        (a) => a.deposit(command.amount),
      );
    });
    this.on(Svc_Transfer, async (handler, command) => {
      handler.log.push("transfer");
      const [from, to] = await handler.repository.loadAggregates(
        [command.aggregateId, command.to],
        Svc_Account,
      );
      from?.deposit(-command.amount);
      to?.deposit(command.amount);
    });
    this.on(Svc_Boom, (handler) => {
      handler.log.push("boom");
      throw new Svc_BoomError("boom");
    });
  }
}

function newId(): string {
  return crypto.randomUUID();
}

function setup(
  options: {
    middleware?: CommandMiddleware[];
    eventHandlers?: EventHandler[];
    logger?: Logger;
    retryOnConflict?: number;
    commandHandlers?: CommandHandler[];
  } = {},
): {
  store: InMemoryEventStore;
  service: CommandService;
  handler: Svc_AccountHandler;
} {
  const store = new InMemoryEventStore();
  const handler = new Svc_AccountHandler();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: options.commandHandlers ?? [handler],
    eventHandlers: options.eventHandlers,
    middleware: options.middleware,
    logger: options.logger,
    retryOnConflict: options.retryOnConflict,
  });
  return { store, service, handler };
}

async function storedCount(store: InMemoryEventStore): Promise<number> {
  return (await store.eventsSince("0")).length;
}

async function openAccount(
  service: CommandService,
  owner = "ben",
): Promise<string> {
  const id = newId();
  await service.executeCommands(new Svc_Open({ aggregateId: id, owner }));
  return id;
}

// --- construction ----------------------------------------------------------------

Deno.test("CommandService rejects a missing event store", () => {
  assert.throws(
    () =>
      new CommandService(
        {
          commandHandlers: [],
        } as unknown as ConstructorParameters<typeof CommandService>[0],
      ),
    { name: "TypeError", message: /needs an eventStore/ },
  );
});

Deno.test("CommandService rejects command and event handlers that are not instances", () => {
  const eventStore = new InMemoryEventStore();
  assert.throws(
    () =>
      new CommandService({
        eventStore,
        commandHandlers: [Svc_AccountHandler as unknown as CommandHandler],
      }),
    {
      name: "TypeError",
      message: /commandHandlers must be CommandHandler instances/,
    },
  );
  assert.throws(
    () =>
      new CommandService({
        eventStore,
        commandHandlers: [],
        eventHandlers: [{} as unknown as EventHandler],
      }),
    {
      name: "TypeError",
      message:
        /eventHandlers must be projector or workflow instances, got Object/,
    },
  );
});

Deno.test("CommandService rejects a retryOnConflict that is not a non-negative integer", () => {
  for (const retryOnConflict of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () =>
        new CommandService({
          eventStore: new InMemoryEventStore(),
          commandHandlers: [],
          retryOnConflict,
        }),
      {
        name: "RangeError",
        message: /retryOnConflict must be a non-negative integer/,
      },
    );
  }
});

Deno.test("CommandService rejects a maxCommandsPerUnit that is not a positive integer or Infinity", () => {
  for (const maxCommandsPerUnit of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () =>
        new CommandService({
          eventStore: new InMemoryEventStore(),
          commandHandlers: [],
          maxCommandsPerUnit,
        }),
      {
        name: "RangeError",
        message: /maxCommandsPerUnit must be a positive integer or Infinity/,
      },
    );
  }
  for (const maxCommandsPerUnit of [1, 10_000, Infinity]) {
    new CommandService({
      eventStore: new InMemoryEventStore(),
      commandHandlers: [],
      maxCommandsPerUnit,
    });
  }
});

Deno.test("CommandService registers the aggregates and command types it is given", () => {
  const service = new CommandService({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new Svc_AccountHandler()],
    aggregates: [Svc_Account],
  });
  assert.equal(
    service.serializer.registry.lookup("aggregate", "Svc_Account"),
    Svc_Account,
  );
  assert.equal(
    service.serializer.registry.lookup("command", "Svc.Deposit"),
    Svc_Deposit,
  );
  assert.equal(
    service.serializer.registry.lookup("event", "Svc.Deposited"),
    Svc_Deposited,
  );
});

// --- middleware -------------------------------------------------------------------

Deno.test("middleware runs outermost first, each wrapping the next, around the handlers", async () => {
  const log: string[] = [];
  const named = (name: string): CommandMiddleware => async (_command, next) => {
    log.push(`${name} before`);
    await next();
    log.push(`${name} after`);
  };
  const handler = new Svc_AccountHandler();
  handler.log.push = (...items: string[]) => log.push(...items);
  const { service } = setup({
    middleware: [named("a"), named("b")],
    commandHandlers: [handler],
  });
  service.use(named("c"));
  await service.executeCommands(
    new Svc_Open({ aggregateId: newId(), owner: "ben" }),
  );
  assert.deepEqual(log, [
    "a before",
    "b before",
    "c before",
    "open ben",
    "c after",
    "b after",
    "a after",
  ]);
});

Deno.test("middleware sees each command it wraps", async () => {
  const seen: Command[] = [];
  const { service } = setup({
    middleware: [(command, next) => {
      seen.push(command);
      return next();
    }],
  });
  const open = new Svc_Open({ aggregateId: newId(), owner: "ben" });
  const deposit = new Svc_Deposit({ aggregateId: open.aggregateId, amount: 5 });
  await service.executeCommands(open, deposit);
  assert.deepEqual(seen, [open, deposit]);
  assert.equal(seen[0], open);
});

Deno.test("middleware rejects a command by throwing: no handler runs and nothing is stored", async () => {
  class Svc_Forbidden extends SequentError {}
  const { store, service, handler } = setup({
    middleware: [(command, next) => {
      if (command instanceof Svc_Deposit) {
        throw new Svc_Forbidden("no deposits");
      }
      return next();
    }],
  });
  const id = newId();
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: id, owner: "ben" }),
      new Svc_Deposit({ aggregateId: id, amount: 5 }),
    ),
    Svc_Forbidden,
  );
  assert.deepEqual(handler.log, ["open ben"]);
  assert.equal(await storedCount(store), 0);
});

Deno.test("middleware can wrap execution and replace the error it fails with", async () => {
  class Svc_Wrapped extends Error {}
  const { store, service } = setup({
    middleware: [async (command, next) => {
      try {
        await next();
      } catch (error) {
        throw new Svc_Wrapped(`${command.constructor.name} failed`, {
          cause: error,
        });
      }
    }],
  });
  await assert.rejects(
    service.executeCommands(new Svc_Boom({ aggregateId: newId() })),
    (error: unknown) => {
      assert.ok(error instanceof Svc_Wrapped);
      assert.equal(error.message, "Svc_Boom failed");
      assert.ok(error.cause instanceof Svc_BoomError);
      return true;
    },
  );
  assert.equal(await storedCount(store), 0);
});

Deno.test("a middleware that calls next() twice fails the command and stores nothing", async () => {
  const { store, service, handler } = setup({
    middleware: [async (_command, next) => {
      await next();
      await next();
    }],
  });
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: newId(), owner: "ben" }),
    ),
    { message: /called next\(\) twice/ },
  );
  assert.deepEqual(handler.log, ["open ben"]);
  assert.equal(await storedCount(store), 0);
});

Deno.test("use() rejects what is not a middleware function", () => {
  const { service } = setup();
  assert.throws(() => service.use("logging" as unknown as CommandMiddleware), {
    name: "TypeError",
    message: /needs a middleware function/,
  });
});

// --- validation --------------------------------------------------------------------

Deno.test("an invalid command fails with CommandNotValidError keyed by field, after the middleware and before its handlers; nothing of the unit is stored", async () => {
  const seen: string[] = [];
  const { store, service, handler } = setup({
    middleware: [(command, next) => {
      seen.push(command.constructor.name);
      return next();
    }],
  });
  const id = newId();
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: id, owner: "ben" }),
      new Svc_Deposit({ aggregateId: id, amount: -5 }),
    ),
    (error: unknown) => {
      assert.ok(error instanceof CommandNotValidError);
      assert.equal(error.commandType, "Svc.Deposit");
      assert.deepEqual(error.errors, { amount: ["must be positive"] });
      return true;
    },
  );
  assert.deepEqual(
    seen,
    ["Svc_Open", "Svc_Deposit"],
    "middleware runs before validation",
  );
  assert.ok(
    !handler.log.some((entry) => String(entry).startsWith("deposit")),
    "the invalid command's handler never ran",
  );
  assert.equal(
    await storedCount(store),
    0,
    "the valid first command was rolled back",
  );
});

Deno.test("middleware can reject a command before it is validated", async () => {
  const { store, service } = setup({
    middleware: [() => Promise.reject(new Error("not allowed"))],
  });
  await assert.rejects(
    service.executeCommands(
      new Svc_Deposit({ aggregateId: newId(), amount: -5 }),
    ),
    /not allowed/,
  );
  assert.equal(await storedCount(store), 0);
});

Deno.test("a command that fails to parse its params is not valid and not executed", async () => {
  const { store, service, handler } = setup();
  const command = Svc_Deposit.fromParams({
    aggregateId: newId(),
    amount: "lots",
  });
  await assert.rejects(service.executeCommands(command), (error: unknown) => {
    assert.ok(error instanceof CommandNotValidError);
    assert.deepEqual(Object.keys(error.errors), ["amount"]);
    return true;
  });
  assert.deepEqual(handler.log, []);
  assert.equal(await storedCount(store), 0);
});

Deno.test("executeCommands() rejects what is not a command", async () => {
  const { service } = setup();
  await assert.rejects(
    service.executeCommands({ aggregateId: newId() } as unknown as Command),
    { name: "TypeError", message: /takes Command instances, got Object/ },
  );
});

// --- bounds, abort and command ids ------------------------------------------------

class Svc_Slow extends Command.define("Svc.Slow", { ms: attrs.integer() }) {}

class Svc_SlowHandler extends CommandHandler {
  static {
    this.on(Svc_Slow, async (handler, command) => {
      handler.repository.addAggregate(
        Svc_Account.open(command.aggregateId, `slow ${command.aggregateId}`),
      );
      await new Promise((r) => setTimeout(r, command.ms ?? 0));
    });
  }
}

Deno.test("executeCommands(…, { timeoutMs }) stops a unit that takes too long with CommandTimeoutError and stores nothing", async () => {
  const store = new InMemoryEventStore();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Svc_SlowHandler()],
  });
  const started = performance.now();
  await assert.rejects(
    service.executeCommands(new Svc_Slow({ aggregateId: newId(), ms: 300 }), {
      timeoutMs: 50,
    }),
    (error: unknown) =>
      error instanceof CommandTimeoutError && error.timeoutMs === 50 &&
      /Svc\.Slow did not finish within 50 ms/.test(error.message),
  );
  assert.ok(performance.now() - started < 1_000);
  assert.equal(await storedCount(store), 0);
  await service.executeCommands(new Svc_Slow({ aggregateId: newId(), ms: 1 }), {
    timeoutMs: 1_000,
  });
  assert.equal(await storedCount(store), 1);
});

Deno.test("the service's commandTimeoutMs bounds every call; a call's own timeoutMs (0: none) replaces it", async () => {
  const store = new InMemoryEventStore();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Svc_SlowHandler()],
    commandTimeoutMs: 50,
  });
  await assert.rejects(
    service.executeCommands(new Svc_Slow({ aggregateId: newId(), ms: 150 })),
    CommandTimeoutError,
  );
  await service.executeCommands(
    new Svc_Slow({ aggregateId: newId(), ms: 150 }),
    { timeoutMs: 0 },
  );
  assert.equal(await storedCount(store), 1);
  assert.throws(
    () =>
      new CommandService({
        eventStore: store,
        commandHandlers: [],
        commandTimeoutMs: -1,
      }),
    RangeError,
  );
});

Deno.test("executeCommands(…, { signal }) rejects with the signal's reason and stores nothing once it aborts", async () => {
  const { store, service } = setup();
  const controller = new AbortController();
  const reason = new Error("the user went away");
  controller.abort(reason);
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: newId(), owner: "x" }),
      {
        signal: controller.signal,
      },
    ),
    (error: unknown) => error === reason,
  );
  assert.equal(await storedCount(store), 0);
});

Deno.test("a command's own commandId is stored at most once: executing it again fails with DuplicateCommandError", async () => {
  const { store, service } = setup();
  const commandId = newId();
  const id = newId();
  await service.executeCommands(
    new Svc_Open({ aggregateId: id, commandId, owner: "once" }),
  );
  assert.equal(await store.commandStored(commandId), true);
  await assert.rejects(
    service.executeCommands(
      new Svc_Deposit({ aggregateId: id, commandId, amount: 5 }),
    ),
    DuplicateCommandError,
  );
  assert.equal(await storedCount(store), 1);
});

Deno.test("executeCommands() with no commands stores nothing", async () => {
  const { store, service } = setup();
  await service.executeCommands();
  assert.equal(await storedCount(store), 0);
});

// --- dispatch -------------------------------------------------------------------------

class Svc_Ping extends Command.define("Svc.Ping", { loud: attrs.boolean() }) {}

class Svc_PingHandlerA extends CommandHandler {
  static readonly log: string[] = [];
  static {
    this.on(Svc_Ping, () => {
      Svc_PingHandlerA.log.push("A class");
    });
    this.on(hasAttrs(Svc_Ping, { loud: true }), () => {
      Svc_PingHandlerA.log.push("A loud");
    });
  }
}
class Svc_PingHandlerB extends CommandHandler {
  static {
    this.on(Svc_Ping, async () => {
      await Promise.resolve();
      Svc_PingHandlerA.log.push("B class");
    });
  }
}

Deno.test("every matching handler of every command handler runs, in order", async () => {
  const { service } = setup({
    commandHandlers: [new Svc_PingHandlerA(), new Svc_PingHandlerB()],
  });
  Svc_PingHandlerA.log.length = 0;
  await service.executeCommands(
    new Svc_Ping({ aggregateId: newId(), loud: true }),
  );
  assert.deepEqual(Svc_PingHandlerA.log, ["A class", "A loud", "B class"]);
  Svc_PingHandlerA.log.length = 0;
  await service.executeCommands(
    new Svc_Ping({ aggregateId: newId(), loud: false }),
  );
  assert.deepEqual(Svc_PingHandlerA.log, ["A class", "B class"]);
});

Deno.test("a command no handler handles fails with NoCommandHandlerError and the unit stores nothing", async () => {
  const { store, service } = setup();
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: newId(), owner: "ben" }),
      new Svc_Unhandled({ aggregateId: newId() }),
    ),
    (error: unknown) => {
      assert.ok(error instanceof NoCommandHandlerError);
      assert.equal(error.commandType, "Svc.Unhandled");
      assert.match(error.message, /"Svc\.Unhandled"/);
      return true;
    },
  );
  assert.equal(await storedCount(store), 0);
});

// --- commit ------------------------------------------------------------------------------

Deno.test("one command's events on several aggregates are stored with one command record", async () => {
  const { store, service } = setup();
  const from = await openAccount(service, "ann");
  const to = await openAccount(service, "bob");
  const userId = "user-7";
  await service.executeCommands(
    new Svc_Transfer({ aggregateId: from, to, amount: 30, userId }),
  );
  const record = await store.commandForEvent(from, 2);
  assert.ok(record);
  assert.equal(record.commandType, "Svc.Transfer");
  assert.equal(record.aggregateId, from);
  assert.equal(record.userId, userId);
  assert.deepEqual(JSON.parse(record.payload), { to, amount: 30 });
  assert.equal(record.eventAggregateId, undefined);
  assert.equal((await store.commandForEvent(to, 2))?.id, record.id);
  const events = await store.eventsOfCommand(record.id);
  assert.deepEqual(
    events.map((
      e,
    ) => [e.aggregateId, e.sequenceNumber, e.eventType, JSON.parse(e.payload)]),
    [[from, 2, "Svc.Deposited", { amount: -30 }], [to, 2, "Svc.Deposited", {
      amount: 30,
    }]],
  );
  assert.notEqual((await store.commandForEvent(from, 1))?.id, record.id);
});

Deno.test("each command of one call gets its own record, all stored together", async () => {
  const { store, service } = setup();
  const id = newId();
  await service.executeCommands(
    new Svc_Open({ aggregateId: id, owner: "ben" }),
    new Svc_Deposit({ aggregateId: id, amount: 5 }),
    new Svc_Deposit({ aggregateId: id, amount: 7 }),
  );
  const records = await Promise.all(
    [1, 2, 3].map((n) => store.commandForEvent(id, n)),
  );
  assert.deepEqual(records.map((r) => r?.commandType), [
    "Svc.Open",
    "Svc.Deposit",
    "Svc.Deposit",
  ]);
  assert.equal(new Set(records.map((r) => r?.id)).size, 3);
  const [stream] = await store.loadStreams([id]);
  assert.deepEqual(stream?.events.map((e) => e.sequenceNumber), [1, 2, 3]);
});

Deno.test("a failing command rolls back the events of earlier commands of the same call", async () => {
  const { store, service, handler } = setup();
  const id = newId();
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: id, owner: "ben" }),
      new Svc_Deposit({ aggregateId: id, amount: 5 }),
      new Svc_Boom({ aggregateId: id }),
    ),
    Svc_BoomError,
  );
  assert.deepEqual(handler.log, ["open ben", "deposit 5", "boom"]);
  assert.equal(await store.streamExists(id), false);
  assert.equal(await store.commandForEvent(id, 1), undefined);
});

Deno.test("events applied before a handler throws are not stored", async () => {
  class Svc_DepositThenFail extends CommandHandler {
    static {
      this.on(Svc_Deposit, async (handler, command) => {
        const account = await handler.repository.loadAggregate(
          command.aggregateId,
          Svc_Account,
        );
        account.deposit(command.amount);
        throw new Svc_BoomError("after applying");
      });
    }
  }
  const { store, service } = setup({
    commandHandlers: [new Svc_AccountHandler(), new Svc_DepositThenFail()],
  });
  const id = await openAccount(service);
  await assert.rejects(
    service.executeCommands(new Svc_Deposit({ aggregateId: id, amount: 5 })),
    Svc_BoomError,
  );
  const [stream] = await store.loadStreams([id]);
  assert.equal(stream?.events.length, 1);
});

Deno.test("a unique key clash fails the unit and stores nothing of it", async () => {
  const { store, service } = setup();
  await openAccount(service, "ann");
  const second = newId();
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: second, owner: "ann" }),
    ),
    AggregateKeyNotUniqueError,
  );
  assert.equal(await store.streamExists(second), false);
});

Deno.test("executeCommands() called from a command handler queues the commands after the current one in the same unit", async () => {
  class Svc_Chain
    extends Command.define("Svc.Chain", { owner: attrs.string().required() }) {}
  const log: string[] = [];
  const app: { service?: CommandService } = {};
  class Svc_ChainHandler extends CommandHandler {
    static {
      this.on(Svc_Chain, async (_handler, command) => {
        log.push("chain start");
        await app.service?.executeCommands(
          new Svc_Open({
            aggregateId: command.aggregateId,
            owner: command.owner,
          }),
        );
        log.push("chain end");
      });
    }
  }
  const accountHandler = new Svc_AccountHandler();
  accountHandler.log.push = (...items: string[]) => log.push(...items);
  const built = setup({
    commandHandlers: [new Svc_ChainHandler(), accountHandler],
  });
  app.service = built.service;
  const id = newId();
  await built.service.executeCommands(
    new Svc_Chain({ aggregateId: id, owner: "ben" }),
  );
  assert.deepEqual(log, ["chain start", "chain end", "open ben"]);
  const record = await built.store.commandForEvent(id, 1);
  assert.equal(record?.commandType, "Svc.Open");
  assert.equal(record?.eventAggregateId, undefined);
});

// --- event handlers ---------------------------------------------------------------------

class Svc_Projector extends EventHandler {
  readonly seen: string[] = [];
  storedDuringDispatch: boolean | undefined;
  store: InMemoryEventStore | undefined;
  static {
    this.on(Svc_Opened, async (p, e) => {
      p.seen.push(`opened ${e.owner} ${e.sequenceNumber}`);
      p.storedDuringDispatch = await p.store?.streamExists(e.aggregateId);
    });
    this.on(Svc_Deposited, (p, e) => {
      p.seen.push(`deposited ${e.amount} ${e.sequenceNumber}`);
      if (e.amount === 13) throw new Svc_BoomError("unlucky");
    });
  }
}

Deno.test("stored events are dispatched to event handlers in order, inside the unit before it commits", async () => {
  const projector = new Svc_Projector();
  const { store, service } = setup({ eventHandlers: [projector] });
  projector.store = store;
  const id = newId();
  await service.executeCommands(
    new Svc_Open({ aggregateId: id, owner: "ben" }),
    new Svc_Deposit({ aggregateId: id, amount: 5 }),
  );
  assert.deepEqual(projector.seen, ["opened ben 1", "deposited 5 2"]);
  assert.equal(
    projector.storedDuringDispatch,
    false,
    "the store had not committed yet",
  );
  assert.equal(await store.streamExists(id), true);
});

Deno.test("a throwing event handler rolls back everything in the unit", async () => {
  const projector = new Svc_Projector();
  const { store, service } = setup({ eventHandlers: [projector] });
  const id = newId();
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: id, owner: "ben" }),
      new Svc_Deposit({ aggregateId: id, amount: 13 }),
    ),
    Svc_BoomError,
  );
  assert.deepEqual(projector.seen, ["opened ben 1", "deposited 13 2"]);
  assert.equal(await storedCount(store), 0);
});

// --- conflicts and retries -----------------------------------------------------------------

class Svc_Bump extends Command.define("Svc.Bump", { gate: attrs.string() }) {}

/** Handles Svc_Bump; can wait on a gate or interfere with a concurrent commit. */
class Svc_BumpHandler extends CommandHandler {
  attempts = 0;
  interfere = 0;
  readonly gates = new Map<string, PromiseWithResolvers<void>>();
  readonly loaded = new Map<string, PromiseWithResolvers<void>>();
  store: InMemoryEventStore | undefined;

  static {
    this.on(Svc_Bump, async (handler, command) => {
      handler.attempts++;
      const account = await handler.repository.loadAggregate(
        command.aggregateId,
        Svc_Account,
      );
      if (command.gate) {
        handler.loaded.get(command.gate)?.resolve();
        await handler.gates.get(command.gate)?.promise;
      }
      if (handler.attempts <= handler.interfere) {
        await interfere(
          handler.store as InMemoryEventStore,
          command.aggregateId,
          account.sequenceNumber + 1,
        );
      }
      account.deposit(1);
    });
  }
}

/** Commits an event to the aggregate from outside the running unit. */
function interfere(
  store: InMemoryEventStore,
  aggregateId: string,
  sequenceNumber: number,
): Promise<void> {
  return store.transaction((tx) =>
    tx.commit({
      commandType: "Svc.Interference",
      aggregateId,
      userId: undefined,
      eventAggregateId: undefined,
      eventSequenceNumber: undefined,
      payload: "{}",
    }, [{
      aggregateId,
      aggregateType: "Svc_Account",
      partitionKey: "",
      events: [{
        aggregateId,
        sequenceNumber,
        createdAt: new Date(),
        eventType: "Svc.Deposited",
        payload: JSON.stringify({ amount: 100 }),
      }],
      uniqueKeys: undefined,
      snapshotThreshold: undefined,
    }])
  );
}

function bumpSetup(retryOnConflict = 0, logger: Logger = silentLogger) {
  const bump = new Svc_BumpHandler();
  const built = setup({
    commandHandlers: [new Svc_AccountHandler(), bump],
    retryOnConflict,
    logger,
  });
  bump.store = built.store;
  return { ...built, bump };
}

async function payloads(
  store: InMemoryEventStore,
  id: string,
): Promise<unknown[]> {
  const [stream] = await store.loadStreams([id]);
  return (stream?.events ?? []).map((e) => JSON.parse(e.payload));
}

Deno.test("concurrent units on one aggregate: the later commit fails with OptimisticLockError and stores nothing", async () => {
  const { store, service, bump } = bumpSetup();
  const id = await openAccount(service);
  const gate = Promise.withResolvers<void>();
  const loaded = Promise.withResolvers<void>();
  bump.gates.set("slow", gate);
  bump.loaded.set("slow", loaded);
  const other = newId();
  const slow = service.executeCommands(
    new Svc_Open({ aggregateId: other, owner: "slow" }),
    new Svc_Bump({ aggregateId: id, gate: "slow" }),
  );
  await loaded.promise;
  await service.executeCommands(new Svc_Bump({ aggregateId: id }));
  gate.resolve();
  await assert.rejects(slow, (error: unknown) => {
    assert.ok(error instanceof OptimisticLockError);
    assert.equal(error.aggregateId, id);
    assert.equal(error.sequenceNumber, 2);
    return true;
  });
  const [stream] = await store.loadStreams([id]);
  assert.equal(stream?.events.length, 2);
  assert.equal(
    await store.streamExists(other),
    false,
    "nothing of the losing unit is stored",
  );
});

Deno.test("concurrent units that both staged events: the one finishing last fails with OptimisticLockError", async () => {
  const gate = Promise.withResolvers<void>();
  const staged = Promise.withResolvers<void>();
  class Svc_Stall extends EventHandler {
    static {
      this.on(Svc_Deposited, async (_handler, event) => {
        if (event.amount !== 1) return;
        staged.resolve();
        await gate.promise;
      });
    }
  }
  const store = new InMemoryEventStore();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Svc_AccountHandler()],
    eventHandlers: [new Svc_Stall()],
  });
  const id = await openAccount(service);
  const other = newId();
  const slow = service.executeCommands(
    new Svc_Deposit({ aggregateId: id, amount: 1 }),
    new Svc_Open({ aggregateId: other, owner: "slow" }),
  );
  await staged.promise;
  await service.executeCommands(
    new Svc_Deposit({ aggregateId: id, amount: 2 }),
  );
  gate.resolve();
  await assert.rejects(slow, OptimisticLockError);
  assert.deepEqual(await payloads(store, id), [{ owner: "ben" }, {
    amount: 2,
  }]);
  assert.equal(await store.streamExists(other), false);
});

Deno.test("retryOnConflict reruns the whole unit, reloading the aggregate, after an OptimisticLockError", async () => {
  const entries: [LogLevel, string][] = [];
  const logger: Logger = {
    enabled: (level) => level === "info",
    log: (level, message) => {
      entries.push([level, message]);
    },
  };
  const { store, service, bump } = bumpSetup(1, logger);
  const id = await openAccount(service);
  bump.interfere = 1;
  await service.executeCommands(new Svc_Bump({ aggregateId: id }));
  assert.equal(bump.attempts, 2);
  assert.deepEqual(await payloads(store, id), [{ owner: "ben" }, {
    amount: 100,
  }, { amount: 1 }]);
  assert.deepEqual(entries, [["info", "Retrying after a concurrent change"]]);
});

Deno.test("retryOnConflict gives up after its limit and fails with the OptimisticLockError", async () => {
  const { store, service, bump } = bumpSetup(2);
  const id = await openAccount(service);
  bump.interfere = 10;
  await assert.rejects(
    service.executeCommands(new Svc_Bump({ aggregateId: id })),
    OptimisticLockError,
  );
  assert.equal(bump.attempts, 3);
  assert.deepEqual(await payloads(store, id), [
    { owner: "ben" },
    { amount: 100 },
    { amount: 100 },
    { amount: 100 },
  ]);
});

Deno.test("without retryOnConflict a conflict fails at once", async () => {
  const { service, bump } = bumpSetup();
  const id = await openAccount(service);
  bump.interfere = 1;
  await assert.rejects(
    service.executeCommands(new Svc_Bump({ aggregateId: id })),
    OptimisticLockError,
  );
  assert.equal(bump.attempts, 1);
});

Deno.test("retryOnConflict does not retry other errors", async () => {
  const { service, handler } = setup({ retryOnConflict: 3 });
  await assert.rejects(
    service.executeCommands(new Svc_Boom({ aggregateId: newId() })),
    Svc_BoomError,
  );
  assert.deepEqual(handler.log, ["boom"]);
});

// --- commitEvents --------------------------------------------------------------------------

Deno.test("commitEvents() stores events as given under a CommitEvents command record", async () => {
  const { store, service, handler } = setup();
  const id = newId();
  const createdAt = new Date("2020-05-05T10:00:00Z");
  await service.commitEvents([{
    events: [
      new Svc_Opened({
        aggregateId: id,
        sequenceNumber: 1,
        owner: "ben",
        createdAt,
      }),
      new Svc_Deposited({ aggregateId: id, sequenceNumber: 2, amount: 9 }),
    ],
  }]);
  assert.deepEqual(handler.log, []);
  const [stream] = await store.loadStreams([id]);
  assert.equal(stream?.aggregateType, "");
  assert.deepEqual(stream?.events.map((e) => e.eventType), [
    "Svc.Opened",
    "Svc.Deposited",
  ]);
  assert.equal(stream?.events[0]?.createdAt.getTime(), createdAt.getTime());
  assert.equal(
    (await store.commandForEvent(id, 2))?.commandType,
    COMMIT_EVENTS_COMMAND,
  );
});

Deno.test("commitEvents() with an aggregate class stores its type and keeps its unique keys", async () => {
  const { store, service } = setup();
  const id = newId();
  await service.commitEvents([{
    aggregateClass: Svc_Account,
    events: [
      new Svc_Opened({ aggregateId: id, sequenceNumber: 1, owner: "ann" }),
    ],
  }]);
  const [stream] = await store.loadStreams([id]);
  assert.equal(stream?.aggregateType, "Svc_Account");
  assert.equal(await store.findAggregateIdByUniqueKey("svc_owner", "ann"), id);
  await assert.rejects(
    service.executeCommands(
      new Svc_Open({ aggregateId: newId(), owner: "ann" }),
    ),
    AggregateKeyNotUniqueError,
  );
  await assert.rejects(
    service.commitEvents([{
      aggregateClass: Svc_Account,
      events: [
        new Svc_Opened({
          aggregateId: newId(),
          sequenceNumber: 1,
          owner: "ann",
        }),
      ],
    }]),
    AggregateKeyNotUniqueError,
  );
});

Deno.test("commitEvents() continues a stored stream, rebuilding the aggregate for its keys", async () => {
  const { store, service } = setup();
  const id = await openAccount(service, "ann");
  await service.commitEvents([{
    aggregateClass: Svc_Account,
    events: [
      new Svc_Deposited({ aggregateId: id, sequenceNumber: 2, amount: 1 }),
    ],
  }]);
  assert.equal(await store.findAggregateIdByUniqueKey("svc_owner", "ann"), id);
  await assert.rejects(
    service.commitEvents([{
      events: [
        new Svc_Deposited({ aggregateId: id, sequenceNumber: 5, amount: 1 }),
      ],
    }]),
    (error: unknown) =>
      error instanceof OptimisticLockError && error.aggregateId === id,
  );
});

Deno.test("commitEvents() dispatches to the event handlers dispatchTo accepts, in the same transaction", async () => {
  const accepted = new Svc_Projector();
  const skipped = new Svc_Projector();
  const { store, service } = setup({ eventHandlers: [accepted, skipped] });
  accepted.store = store;
  const id = newId();
  await service.commitEvents(
    [{
      events: [
        new Svc_Opened({ aggregateId: id, sequenceNumber: 1, owner: "x" }),
      ],
    }],
    { dispatchTo: (h) => h === accepted },
  );
  assert.deepEqual(accepted.seen, ["opened x 1"]);
  assert.equal(accepted.storedDuringDispatch, false);
  assert.deepEqual(skipped.seen, []);
});

Deno.test("commitEvents() rolls back when an event handler throws", async () => {
  const { store, service } = setup({ eventHandlers: [new Svc_Projector()] });
  const id = newId();
  await assert.rejects(
    service.commitEvents([{
      events: [
        new Svc_Opened({ aggregateId: id, sequenceNumber: 1, owner: "x" }),
        new Svc_Deposited({ aggregateId: id, sequenceNumber: 2, amount: 13 }),
      ],
    }]),
    Svc_BoomError,
  );
  assert.equal(await store.streamExists(id), false);
});

Deno.test("commitEvents() rejects a stream whose events belong to different aggregates", async () => {
  const { store, service } = setup();
  await assert.rejects(
    service.commitEvents([{
      events: [
        new Svc_Opened({ aggregateId: newId(), sequenceNumber: 1, owner: "x" }),
        new Svc_Opened({ aggregateId: newId(), sequenceNumber: 1, owner: "y" }),
      ],
    }]),
    { name: "TypeError", message: /must belong to one aggregate/ },
  );
  assert.equal(await storedCount(store), 0);
});

Deno.test("commitEvents() of empty streams stores nothing", async () => {
  const { store, service } = setup();
  await service.commitEvents([]);
  await service.commitEvents([{ events: [] }]);
  assert.equal(await storedCount(store), 0);
});

// --- logging ---------------------------------------------------------------------------------

function recordingLogger(levels: readonly LogLevel[]): {
  logger: Logger;
  entries: { level: LogLevel; message: string; fields: unknown }[];
} {
  const entries: { level: LogLevel; message: string; fields: unknown }[] = [];
  return {
    entries,
    logger: {
      enabled: (level) => levels.includes(level),
      log: (level, message, fields) => {
        entries.push({ level, message, fields });
      },
    },
  };
}

Deno.test("debug tracing reaches a custom logger: validation, handlers, events stored, event handlers reached", async () => {
  const { logger, entries } = recordingLogger([
    "debug",
    "info",
    "warn",
    "error",
  ]);
  const { service } = setup({ logger, eventHandlers: [new Svc_Projector()] });
  const id = newId();
  await service.executeCommands(
    new Svc_Open({ aggregateId: id, owner: "ben" }),
  );
  assert.deepEqual(entries.map((e) => [e.level, e.message]), [
    ["debug", "Command Svc.Open is valid"],
    ["debug", "Svc_AccountHandler handles Svc.Open"],
    ["debug", "Stored 1 events for Svc.Open"],
    ["debug", `Svc_Projector handles Svc.Opened 1 of ${id}`],
  ]);
  assert.deepEqual(entries[0]?.fields, { aggregateId: id });
  assert.deepEqual(entries[2]?.fields, { aggregates: [id] });
});

Deno.test("a logger with debug disabled receives no debug messages", async () => {
  const { logger, entries } = recordingLogger(["info", "warn", "error"]);
  const { service } = setup({ logger, eventHandlers: [new Svc_Projector()] });
  await service.executeCommands(
    new Svc_Open({ aggregateId: newId(), owner: "ben" }),
  );
  assert.deepEqual(entries, []);
});

Deno.test("the service exposes its store and event handlers", () => {
  const projector = new Svc_Projector();
  const { store, service } = setup({ eventHandlers: [projector] });
  assert.equal(service.eventStore, store);
  assert.deepEqual(service.eventHandlers, [projector]);
});

// --- Text no store can hold, on every store ----------------------------------

const txtRows = table("txt_rows", {
  id: column.uuid().primaryKey(),
  name: column.text(),
});

/** Where the handler or projector puts the character a command asks for. */
type TxtTarget = "event" | "uniqueKey" | "partitionKey" | "record";

class Txt_Named extends Event.define("Txt.Named", {
  name: attrs.string().required(),
  /** A character code the projector appends to the row's name. */
  recordCode: attrs.integer(),
}) {}

class Txt_Create extends Command.define("Txt.Create", {
  name: attrs.string().required(),
  /** A character code that domain code appends, as it might compute text. */
  code: attrs.integer(),
  target: attrs.oneOf("event", "uniqueKey", "partitionKey", "record"),
}) {}

class Txt_Thing extends AggregateRoot {
  key: string | undefined;
  partition = "";
  override get eventsPartitionKey(): string {
    return this.partition;
  }
  name(name: string, recordCode: number | undefined): void {
    this.apply(Txt_Named, { name, recordCode });
  }
  static {
    this.uniqueKey("txt_key", (thing) => thing.key);
    this.on(Txt_Named, () => {});
  }
}

class Txt_Handler extends CommandHandler {
  static {
    this.on(Txt_Create, (handler, command) => {
      const char = command.code === undefined
        ? ""
        : String.fromCharCode(command.code);
      const at = (target: TxtTarget): string =>
        command.target === target ? char : "";
      const thing = new Txt_Thing(command.aggregateId);
      thing.key = command.name + at("uniqueKey");
      thing.partition = at("partitionKey") && `p${at("partitionKey")}`;
      thing.name(
        command.name + at("event"),
        command.target === "record" ? command.code : undefined,
      );
      handler.repository.addAggregate(thing);
    });
  }
}

class Txt_Projector extends Projector {
  static override readonly manages = [txtRows];
  static {
    this.on(Txt_Named, (p, e) =>
      p.createRecord(txtRows, {
        id: e.aggregateId,
        name: e.recordCode === undefined
          ? e.name
          : e.name + String.fromCharCode(e.recordCode),
      }));
  }
}

const txtBackends = storeBackends();

for (const b of txtBackends.list) {
  const test = (
    name: string,
    fn: (
      service: CommandService,
      store: EventStore,
      stored: () => Promise<[number, number, number]>,
    ) => Promise<void>,
  ) =>
    Deno.test({
      name: `CommandService (${b.name}): ${name}`,
      ...shared,
      fn: async () => {
        const store = await b.emptyStore([txtRows]);
        const service = new CommandService({
          eventStore: store,
          commandHandlers: [new Txt_Handler()],
          eventHandlers: [new Txt_Projector()],
          logger: silentLogger,
        });
        // events, command records and rows stored
        const stored = async (): Promise<[number, number, number]> => {
          let events = 0;
          for await (const batch of store.readAllEvents()) {
            events += batch.length;
          }
          return [
            events,
            await b.commandCount(store),
            (await store.records.find(txtRows, {})).length,
          ];
        };
        await fn(service, store, stored);
      },
    });

  test(
    "an idempotency key stores a call's commands once: a later call with the same key stores nothing and resolves to an empty token",
    async (service, _store, stored) => {
      const key = `consumer:${newId()}/1`;
      const create = (id: string) =>
        Txt_Create.fromParams({ aggregateId: id, name: id });
      const first = await service.executeCommands(
        create(newId()),
        create(newId()),
        {
          idempotencyKey: key,
        },
      );
      assert.notEqual(first, "");
      assert.deepEqual(await stored(), [2, 2, 2]);
      // the same event delivered again: the same commands, other ids inside
      assert.equal(
        await service.executeCommands(create(newId()), create(newId()), {
          idempotencyKey: key,
        }),
        "",
      );
      assert.deepEqual(await stored(), [2, 2, 2]);
      // another key is another call
      await service.executeCommands(create(newId()), {
        idempotencyKey: `${key}x`,
      });
      assert.deepEqual(await stored(), [3, 3, 3]);
      await assert.rejects(
        service.executeCommands(create(newId()), { idempotencyKey: "" }),
        /idempotencyKey must be a non-empty string/,
      );
    },
  );

  test(
    "a command carrying unstorable text fails validation naming the attribute, and nothing is stored",
    async (service, _store, stored) => {
      for (
        const [name, message] of [
          ["a\0b", "contains a NUL character (U+0000) at index 1"],
          ["\udfffz", "contains a lone surrogate (U+DFFF) at index 0"],
        ]
      ) {
        await assert.rejects(
          service.executeCommands(
            Txt_Create.fromParams({ aggregateId: newId(), name }),
          ),
          (error: unknown) => {
            assert.ok(error instanceof CommandNotValidError, String(error));
            assert.deepEqual(error.errors, { name: [message] });
            return true;
          },
        );
      }
      assert.deepEqual(await stored(), [0, 0, 0]);
    },
  );

  test(
    "unstorable text that domain code puts in an event, a unique key, a partition key or a row fails the whole unit with UnstorableTextError, storing nothing of it",
    async (service, _store, stored) => {
      const cases: [
        TxtTarget,
        number,
        (id: string) => UnstorableTextLocation,
      ][] = [
        ["event", 0, (id) => ({
          kind: "event",
          eventType: "Txt.Named",
          aggregateId: id,
          sequenceNumber: 1,
          path: "name",
        })],
        ["event", 0xd800, (id) => ({
          kind: "event",
          eventType: "Txt.Named",
          aggregateId: id,
          sequenceNumber: 1,
          path: "name",
        })],
        ["uniqueKey", 0, (id) => ({
          kind: "uniqueKey",
          aggregateId: id,
          scope: "txt_key",
          path: "",
        })],
        ["partitionKey", 0xdc00, (id) => ({
          kind: "partitionKey",
          aggregateId: id,
        })],
        ["record", 0, () => ({
          kind: "record",
          table: "txt_rows",
          column: "name",
          path: "",
        })],
      ];
      for (const [target, code, location] of cases) {
        const good = newId();
        const bad = newId();
        await assert.rejects(
          // one unit: the first command alone would be stored
          service.executeCommands(
            new Txt_Create({ aggregateId: good, name: `good ${target}` }),
            new Txt_Create({ aggregateId: bad, name: "x", code, target }),
          ),
          (error: unknown) => {
            assert.ok(error instanceof UnstorableTextError, String(error));
            assert.deepEqual(error.location, location(bad), target);
            return true;
          },
          target,
        );
        assert.deepEqual(await stored(), [0, 0, 0], target);
      }
      // the same commands without the character are stored
      await service.executeCommands(
        new Txt_Create({ aggregateId: newId(), name: "ok", target: "event" }),
        new Txt_Create({ aggregateId: newId(), name: "😀", code: 0x263a }),
      );
      assert.deepEqual(await stored(), [2, 2, 2]);
    },
  );
}

// --- A failed command, and a fresh process, on every store ----------------------

class Mw_Deposited extends Event.define("Mw.Deposited", {
  n: attrs.integer().required(),
  note: attrs.string(),
}) {}

class Mw_Account extends AggregateRoot {
  balance = 0;
  deposit(n: number, note?: string): void {
    this.apply(Mw_Deposited, { n, note });
  }
  static {
    this.on(Mw_Deposited, (a, e) => {
      a.balance += e.n;
    });
  }
}

/** `then`: how the command fails after depositing. */
class Mw_Deposit extends Command.define("Mw.Deposit", {
  n: attrs.integer().required(),
  then: attrs.oneOf("throw", "storeNul"),
}) {}

class Mw_Failed extends Error {}

class Mw_Handler extends CommandHandler {
  constructor(readonly service: () => CommandService) {
    super();
  }
  static {
    this.on(Mw_Deposit, async (handler, command) => {
      const id = command.aggregateId;
      const account = await handler.repository.findAggregate(id, Mw_Account);
      if (!account) {
        const opened = new Mw_Account(id);
        opened.deposit(command.n);
        handler.repository.addAggregate(opened);
        return;
      }
      if (command.then === "storeNul") {
        account.deposit(command.n, "\0"); // no store holds it: commit() fails
        return;
      }
      account.deposit(command.n);
      if (command.then === "throw") {
        // queued in the unit, after the command that issues it
        await handler.service().executeCommands(
          new Mw_Deposit({ aggregateId: id, n: 7 }),
        );
        throw new Mw_Failed("insufficient funds");
      }
    });
  }
}

// An inline event handler failing while a command's events are delivered.
class Dlv_Placed extends Event.define("Dlv.Placed", {
  fail: attrs.boolean(),
}) {}
class Dlv_Noted extends Event.define("Dlv.Noted", {}) {}
class Dlv_Order extends AggregateRoot {
  static place(id: string, fail: boolean | undefined): Dlv_Order {
    const order = new Dlv_Order(id);
    order.apply(Dlv_Placed, { fail });
    return order;
  }
  static {
    this.on(Dlv_Placed, () => {});
  }
}
class Dlv_Note extends AggregateRoot {
  static add(id: string): Dlv_Note {
    const note = new Dlv_Note(id);
    note.apply(Dlv_Noted, {});
    return note;
  }
  static {
    this.on(Dlv_Noted, () => {});
  }
}
class Dlv_Place extends Command.define("Dlv.Place", {
  fail: attrs.boolean(),
}) {}
class Dlv_AddNote extends Command.define("Dlv.AddNote", {}) {}
class Dlv_Handler extends CommandHandler {
  static {
    this.on(Dlv_Place, (h, c) => {
      h.repository.addAggregate(Dlv_Order.place(c.aggregateId, c.fail));
    });
    this.on(Dlv_AddNote, (h, c) => {
      h.repository.addAggregate(Dlv_Note.add(c.aggregateId));
    });
  }
}
class Dlv_Failure extends Error {}
/** What the handlers below did, in order. */
const dlvLog: string[] = [];
/** Writes a row for every order (inline: in the unit's transaction). */
class Dlv_Projector extends Projector {
  static override readonly manages = [txtRows];
  static {
    this.on(
      Dlv_Placed,
      (p, e) => p.createRecord(txtRows, { id: e.aggregateId, name: "placed" }),
    );
  }
}
/** Issues a note and registers a side effect for every order. */
class Dlv_Noter extends Workflow {
  static {
    this.on(Dlv_Placed, async (w) => {
      await w.executeCommands(new Dlv_AddNote({ aggregateId: newId() }));
      w.afterCommit(() => void dlvLog.push("after commit"));
    });
  }
}
/** Fails on an order placed with `fail`. */
class Dlv_Failing extends Workflow {
  static {
    this.on(Dlv_Placed, (_w, e) => {
      if (e.fail) throw new Dlv_Failure("the second workflow fails");
    });
  }
}
/** Sees every order (after the one that fails). */
class Dlv_Later extends Workflow {
  static {
    this.on(Dlv_Placed, (_w, e) => void dlvLog.push(`later ${e.fail}`));
  }
}

// A workflow that issues the command whose event reaches it again.
class Loop_Pinged extends Event.define("Loop.Pinged", {}) {}
class Loop_Pinger extends AggregateRoot {
  ping(): void {
    this.apply(Loop_Pinged, {});
  }
  static {
    this.on(Loop_Pinged, () => {});
  }
}
class Loop_Ping extends Command.define("Loop.Ping", {}) {}
class Loop_Handler extends CommandHandler {
  ran = 0;
  static {
    this.on(Loop_Ping, async (h, c) => {
      // (a guard of the test's own, should the library have none)
      if (++h.ran > 1_000) throw new Error(`${h.ran} commands ran`);
      const pinger = await h.repository.findAggregate(
        c.aggregateId,
        Loop_Pinger,
      );
      if (pinger) pinger.ping();
      else {
        const created = new Loop_Pinger(c.aggregateId);
        created.ping();
        h.repository.addAggregate(created);
      }
    });
  }
}
class Loop_Again extends Workflow {
  static {
    this.on(
      Loop_Pinged,
      (w, e) =>
        w.executeCommands(new Loop_Ping({ aggregateId: e.aggregateId })),
    );
  }
}

// Never built in this file before their rows are read, as in a process that
// did not store them: the process knows them only by their classes.
class Fresh_Renamed extends Event.define("Fresh.Renamed", {
  name: attrs.string(),
}) {}
class Fresh_Thing extends AggregateRoot {
  name = "(none)";
  static {
    this.on(Fresh_Renamed, (thing, e) => {
      thing.name = e.name ?? "";
    });
  }
}
class Fresh_Show extends Command.define("Fresh.Show", {}) {}
class Fresh_Handler extends CommandHandler {
  readonly shown: string[] = [];
  static {
    this.on(Fresh_Show, async (handler, command) => {
      const thing = await handler.repository.loadAggregate(
        command.aggregateId,
        Fresh_Thing,
      );
      handler.shown.push(thing.name);
    });
  }
}

for (const b of txtBackends.list) {
  const test = (name: string, fn: (store: EventStore) => Promise<void>) =>
    Deno.test({
      name: `CommandService (${b.name}): ${name}`,
      ...shared,
      fn: async () => await fn(await b.emptyStore([txtRows])),
    });

  test(
    "a failed command stores nothing, not even when middleware catches its error and the unit goes on: not its events, nor the commands it issued",
    async (store) => {
      const caught: string[] = [];
      const service: CommandService = new CommandService({
        eventStore: store,
        commandHandlers: [new Mw_Handler(() => service)],
        logger: silentLogger,
        middleware: [async (_command, next) => {
          try {
            await next();
          } catch (error) {
            caught.push((error as Error).constructor.name); // log, carry on
          }
        }],
      });
      const id = newId();
      await service.executeCommands(new Mw_Deposit({ aggregateId: id, n: 1 }));
      await service.executeCommands(
        new Mw_Deposit({ aggregateId: id, n: 1000, then: "throw" }),
        new Mw_Deposit({ aggregateId: id, n: 100, then: "storeNul" }),
        new Mw_Deposit({ aggregateId: id, n: 5 }),
      );
      assert.deepEqual(caught, ["Mw_Failed", "UnstorableTextError"]);
      const [stream] = await store.loadStreams([id]);
      assert.deepEqual(
        stream?.events.map((e) => [e.sequenceNumber, JSON.parse(e.payload)]),
        [[1, { n: 1 }], [2, { n: 5 }]],
      );
      const second = await store.commandForEvent(id, 2);
      assert.deepEqual(JSON.parse(second?.payload ?? "null"), { n: 5 });
      assert.equal(await b.commandCount(store), 2);
      // and what the next unit builds on is what was stored
      await service.executeCommands(new Mw_Deposit({ aggregateId: id, n: 10 }));
      const [after] = await store.loadStreams([id]);
      assert.equal(after?.events.length, 3);
    },
  );

  test(
    "an inline event handler that fails while a command's events are delivered fails the whole unit, even when middleware catches its error: nothing is stored, no after-commit callback runs, later handlers never see the event",
    async (store) => {
      dlvLog.length = 0;
      const caught: string[] = [];
      const service = new CommandService({
        eventStore: store,
        commandHandlers: [new Dlv_Handler()],
        eventHandlers: [
          new Dlv_Projector(),
          new Dlv_Noter(),
          new Dlv_Failing(),
          new Dlv_Later(),
        ],
        aggregates: [Dlv_Order, Dlv_Note],
        logger: silentLogger,
        middleware: [async (command, next) => {
          try {
            await next();
          } catch (error) {
            // log, carry on
            caught.push(
              `${command.constructor.name}: ${(error as Error).message}`,
            );
          }
        }],
      });
      const [first, failing, third] = [newId(), newId(), newId()];
      await assert.rejects(
        service.executeCommands(
          new Dlv_Place({ aggregateId: first, fail: false }),
          new Dlv_Place({ aggregateId: failing, fail: true }),
          new Dlv_Place({ aggregateId: third, fail: false }),
        ),
        Dlv_Failure,
      );
      // the middleware saw the error; the unit stopped once it returned
      assert.deepEqual(caught, ["Dlv_Place: the second workflow fails"]);
      assert.deepEqual(dlvLog, ["later false"]);
      for (const id of [first, failing, third]) {
        assert.equal(await store.streamExists(id), false);
      }
      let events = 0;
      for await (const batch of store.readAllEvents()) events += batch.length;
      assert.equal(events, 0);
      assert.equal(await b.commandCount(store), 0);
      assert.deepEqual(await store.records.find(txtRows, {}), []);
      // the same commands, none failing, are stored with all they cause
      await service.executeCommands(
        new Dlv_Place({ aggregateId: first, fail: false }),
      );
      assert.deepEqual(dlvLog, ["later false", "later false", "after commit"]);
      assert.equal(await b.commandCount(store), 2);
      assert.equal((await store.records.find(txtRows, {})).length, 1);
    },
  );

  test(
    "a workflow that issues the command whose event reaches it again stops at maxCommandsPerUnit with TooManyCommandsError naming the command, and stores nothing",
    async (store) => {
      const handler = new Loop_Handler();
      const caught: string[] = [];
      const service = new CommandService({
        eventStore: store,
        commandHandlers: [handler],
        eventHandlers: [new Loop_Again()],
        aggregates: [Loop_Pinger],
        logger: silentLogger,
        maxCommandsPerUnit: 25,
        // middleware that catches cannot swallow it: it is the unit's
        middleware: [async (_command, next) => {
          try {
            await next();
          } catch (error) {
            caught.push((error as Error).name);
          }
        }],
      });
      const id = newId();
      await assert.rejects(
        service.executeCommands(new Loop_Ping({ aggregateId: id })),
        (error: unknown) => {
          assert.ok(error instanceof TooManyCommandsError, String(error));
          assert.equal(error.commandType, "Loop.Ping");
          assert.equal(error.limit, 25);
          assert.match(error.message, /"Loop\.Ping" keeps coming back/);
          assert.match(error.message, /25 commands/);
          return true;
        },
      );
      // the command given, and the 25 the workflow issued
      assert.equal(handler.ran, 26);
      assert.deepEqual(caught, []);
      assert.equal(await store.streamExists(id), false);
      assert.equal(await b.commandCount(store), 0);
    },
  );

  test(
    "an aggregate loaded without the aggregates option reads its stored events as the classes it routes on, before the process built any",
    async (store) => {
      const id = newId();
      await storeRows(store, "Fresh_Thing", id, [
        { eventType: "Fresh.Renamed", payload: '{"name":"Ben"}' },
        { eventType: "Fresh.Renamed", payload: '{"name":"Ann"}' },
      ]);
      const handler = new Fresh_Handler();
      const service = new CommandService({
        eventStore: store,
        commandHandlers: [handler],
        logger: silentLogger,
      });
      await service.executeCommands(new Fresh_Show({ aggregateId: id }));
      assert.deepEqual(handler.shown, ["Ann"]);
    },
  );
}

txtBackends.disposeAtEnd();
