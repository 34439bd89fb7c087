import assert from "node:assert/strict";
import {
  AggregateNotFoundError,
  type AggregateRepository,
  AggregateRoot,
  AggregateTypeMismatchError,
  attrs,
  Command,
  CommandHandler,
  CommandService,
  Event,
  InMemoryEventStore,
  isA,
  SequentError,
  where,
} from "@sequent/core";

// --- Domain -------------------------------------------------------------------

class Ch_Created extends Event.define("Ch.Created", {}) {}
class Ch_Renamed extends Event.define("Ch.Renamed", { name: attrs.string() }) {}

class Ch_Item extends AggregateRoot {
  name: string | undefined;
  static create(id: string): Ch_Item {
    const item = new Ch_Item(id);
    item.apply(Ch_Created);
    return item;
  }
  rename(name: string): void {
    this.apply(Ch_Renamed, { name });
  }
  static {
    this.on(Ch_Renamed, (item, event) => {
      item.name = event.name;
    });
  }
}
class Ch_Other extends AggregateRoot {}

class Ch_Create extends Command.define("Ch.Create", {}) {}
class Ch_Rename extends Command.define("Ch.Rename", {
  name: attrs.string().required(),
  target: attrs.uuid(),
}) {}
class Ch_RenameSlowly extends Command.define("Ch.RenameSlowly", {
  name: attrs.string().required(),
}) {}
class Ch_RenameOther extends Command.define("Ch.RenameOther", {}) {}
class Ch_Inspect extends Command.define("Ch.Inspect", {}) {}

class Ch_Handler extends CommandHandler {
  readonly repositories: AggregateRepository[] = [];
  static {
    this.on(Ch_Create, (handler, command) => {
      handler.repository.addAggregate(Ch_Item.create(command.aggregateId));
    });
    this.on(Ch_Rename, (handler, command) => {
      // The command parameter is typed: `name` is a string, no cast needed.
      const name: string = command.name;
      return handler.doWithAggregate(
        command,
        Ch_Item,
        (item) => item.rename(name),
        command.target ?? command.aggregateId,
      );
    });
    this.on(
      Ch_RenameSlowly,
      (handler, command) =>
        handler.doWithAggregate(command, Ch_Item, async (item) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          item.rename(command.name);
        }),
    );
    this.on(
      Ch_RenameOther,
      (handler, command) =>
        handler.doWithAggregate(command, Ch_Other, () => {}),
    );
    this.on(Ch_Inspect, (handler) => {
      handler.repositories.push(handler.repository);
    });
  }
}

/** Compile-time checks only: never called. */
function _typingChecks(): void {
  Ch_Handler.on(Ch_Create, (handler, command) => {
    // @ts-expect-error: Ch_Create has no attribute "name"
    void command.name;
    // @ts-expect-error: the handler parameter is a Ch_Handler
    void handler.nonexistent;
  });
}
void _typingChecks;

function newId(): string {
  return crypto.randomUUID();
}

function setup(...extra: CommandHandler[]) {
  const store = new InMemoryEventStore();
  const handler = new Ch_Handler();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [handler, ...extra],
  });
  return { store, handler, service };
}

async function payloads(
  store: InMemoryEventStore,
  id: string,
): Promise<unknown[]> {
  const [stream] = await store.loadStreams([id]);
  return (stream?.events ?? []).map((
    e,
  ) => [e.eventType, JSON.parse(e.payload)]);
}

// --- doWithAggregate ---------------------------------------------------------------

Deno.test("doWithAggregate() loads the command's aggregate, runs fn on it and stores its new events", async () => {
  const { store, service } = setup();
  const id = newId();
  await service.executeCommands(
    new Ch_Create({ aggregateId: id }),
    new Ch_Rename({ aggregateId: id, name: "first" }),
  );
  assert.deepEqual(await payloads(store, id), [
    ["Ch.Created", {}],
    ["Ch.Renamed", { name: "first" }],
  ]);
});

Deno.test("doWithAggregate() with an explicit aggregate id loads that aggregate instead", async () => {
  const { store, service } = setup();
  const target = newId();
  await service.executeCommands(new Ch_Create({ aggregateId: target }));
  await service.executeCommands(
    new Ch_Rename({ aggregateId: newId(), target, name: "via other" }),
  );
  assert.deepEqual((await payloads(store, target)).at(-1), ["Ch.Renamed", {
    name: "via other",
  }]);
});

Deno.test("doWithAggregate() awaits an async fn before the events are stored", async () => {
  const { store, service } = setup();
  const id = newId();
  await service.executeCommands(
    new Ch_Create({ aggregateId: id }),
    new Ch_RenameSlowly({ aggregateId: id, name: "slow" }),
  );
  assert.deepEqual((await payloads(store, id)).at(-1), ["Ch.Renamed", {
    name: "slow",
  }]);
});

Deno.test("doWithAggregate() on a missing aggregate fails with AggregateNotFoundError naming it", async () => {
  const { store, service } = setup();
  const id = newId();
  await assert.rejects(
    service.executeCommands(new Ch_Rename({ aggregateId: id, name: "x" })),
    (error: unknown) => {
      assert.ok(error instanceof AggregateNotFoundError);
      assert.deepEqual(error.aggregateIds, [id]);
      return true;
    },
  );
  assert.equal(await store.streamExists(id), false);
});

Deno.test("doWithAggregate() with the wrong class fails with AggregateTypeMismatchError", async () => {
  const { service } = setup();
  const id = newId();
  await service.executeCommands(new Ch_Create({ aggregateId: id }));
  await assert.rejects(
    service.executeCommands(new Ch_RenameOther({ aggregateId: id })),
    (error: unknown) =>
      error instanceof AggregateTypeMismatchError &&
      error.expectedType === "Ch_Other" && error.actualType === "Ch_Item",
  );
});

// --- repository ----------------------------------------------------------------------

Deno.test("handler.repository outside executeCommands throws a SequentError saying where it is available", () => {
  const handler = new Ch_Handler();
  assert.throws(() => handler.repository, (error: unknown) => {
    assert.ok(error instanceof SequentError);
    assert.match(
      error.message,
      /CommandHandler\.repository is only available while commands execute/,
    );
    return true;
  });
});

Deno.test("doWithAggregate() outside executeCommands rejects with the same SequentError", async () => {
  const handler = new Ch_Handler();
  await assert.rejects(
    handler.doWithAggregate(
      new Ch_Create({ aggregateId: newId() }),
      Ch_Item,
      () => {},
    ),
    SequentError,
  );
});

class Ch_SecondHandler extends CommandHandler {
  readonly repositories: AggregateRepository[] = [];
  static {
    this.on(Ch_Inspect, (handler) => {
      handler.repositories.push(handler.repository);
    });
  }
}

Deno.test("handler.repository is one repository per executeCommands call, shared by its handlers and commands", async () => {
  const second = new Ch_SecondHandler();
  const { handler, service } = setup(second);
  await service.executeCommands(
    new Ch_Inspect({ aggregateId: newId() }),
    new Ch_Inspect({ aggregateId: newId() }),
  );
  await service.executeCommands(new Ch_Inspect({ aggregateId: newId() }));
  const [a, b, c] = handler.repositories;
  assert.equal(handler.repositories.length, 3);
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.deepEqual(second.repositories, handler.repositories);
});

// --- routing ------------------------------------------------------------------------

class Ch_Purge extends Command.define("Ch.Purge", { force: attrs.boolean() }) {}

class Ch_RoutedHandler extends CommandHandler {
  readonly log: string[] = [];
  static {
    this.on(
      isA(Command, { except: [Ch_Inspect, Ch_Create] }),
      (handler, command) => {
        handler.log.push(`any ${command.constructor.name}`);
      },
    );
    this.on(
      where(
        (m): m is Ch_Purge => m instanceof Ch_Purge && m.force === true,
        "forced purges",
      ),
      (handler) => {
        handler.log.push("forced");
      },
    );
  }
}
class Ch_DerivedHandler extends Ch_RoutedHandler {
  static {
    this.on(Ch_Purge, (handler, command) => {
      handler.log.push(`derived purge force=${command.force}`);
    });
  }
}

Deno.test("on() routes by matcher: isA with exceptions and a predicate", async () => {
  const routed = new Ch_RoutedHandler();
  const { service } = setup(routed);
  await service.executeCommands(
    new Ch_Purge({ aggregateId: newId(), force: true }),
    new Ch_Inspect({ aggregateId: newId() }),
    new Ch_Purge({ aggregateId: newId(), force: false }),
  );
  assert.deepEqual(routed.log, ["any Ch_Purge", "forced", "any Ch_Purge"]);
});

Deno.test("a command handler subclass runs its base class's handlers too, base first", async () => {
  const derived = new Ch_DerivedHandler();
  const { service } = setup(derived);
  await service.executeCommands(
    new Ch_Purge({ aggregateId: newId(), force: false }),
  );
  assert.deepEqual(derived.log, ["any Ch_Purge", "derived purge force=false"]);
});

Deno.test("on() rejects a target that is neither a class nor a matcher, and a missing handler", () => {
  class Ch_BadHandler extends CommandHandler {}
  assert.throws(
    () => Ch_BadHandler.on({} as unknown as typeof Ch_Create, () => {}),
    { name: "TypeError", message: /takes a class or a matcher/ },
  );
  assert.throws(
    () => Ch_BadHandler.on(Ch_Create, null as unknown as () => void),
    { name: "TypeError", message: /needs a handler function/ },
  );
});
