import assert from "node:assert/strict";
import {
  AggregateRepository,
  AggregateRoot,
  attrs,
  Command,
  CommandHandler,
  CommandService,
  Event,
  InMemoryEventStore,
  SequentError,
  silentLogger,
  Workflow,
} from "@sequent/core";
import { MessageSerializer } from "@sequent/core/internal";
import {
  activeUnit,
  currentUnit,
  runInUnit,
  type Unit,
} from "../../src/core/unit_of_work.ts";

// --- Domain -------------------------------------------------------------------

class Uow_Created extends Event.define("Uow.Created", { by: attrs.string() }) {}
class Uow_Touched extends Event.define("Uow.Touched", { by: attrs.string() }) {}

class Uow_Thing extends AggregateRoot {
  readonly touchedBy: string[] = [];
  static create(id: string, by: string): Uow_Thing {
    const thing = new Uow_Thing(id);
    thing.apply(Uow_Created, { by });
    return thing;
  }
  touch(by: string): void {
    this.apply(Uow_Touched, { by });
  }
  static {
    this.on(Uow_Touched, (thing, event) => {
      thing.touchedBy.push(event.by ?? "");
    });
  }
}

/** Loads a shared aggregate, waits on its gates, then creates its own aggregate. */
class Uow_Start extends Command.define("Uow.Start", {
  name: attrs.string().required(),
  shared: attrs.uuid().required(),
}) {}
/** Issued by the workflow for each started aggregate. */
class Uow_FollowUp extends Command.define("Uow.FollowUp", {
  name: attrs.string().required(),
}) {}
class Uow_Leak extends Command.define("Uow.Leak", {}) {}

interface Seen {
  repository: AggregateRepository;
  shared: Uow_Thing;
}

class Uow_Handler extends CommandHandler {
  readonly gates = new Map<string, Promise<void>[]>();
  readonly reached = new Map<string, PromiseWithResolvers<void>>();
  readonly seen = new Map<string, Seen>();
  readonly followUps: { name: string; repository: AggregateRepository }[] = [];
  leaked: PromiseWithResolvers<unknown> | undefined;

  static {
    this.on(Uow_Start, async (handler, command) => {
      const repository = handler.repository;
      const shared = await repository.loadAggregate(command.shared, Uow_Thing);
      handler.seen.set(command.name, { repository, shared });
      handler.reached.get(command.name)?.resolve();
      for (const gate of handler.gates.get(command.name) ?? []) {
        await gate;
        // After every await, this unit is still the current one.
        assert.equal(handler.repository, repository);
        assert.equal(
          await handler.repository.loadAggregate(command.shared, Uow_Thing),
          shared,
        );
      }
      handler.repository.addAggregate(
        Uow_Thing.create(command.aggregateId, command.name),
      );
    });
    this.on(Uow_FollowUp, async (handler, command) => {
      await Promise.resolve();
      handler.followUps.push({
        name: command.name,
        repository: handler.repository,
      });
      const thing = await handler.repository.loadAggregate(
        command.aggregateId,
        Uow_Thing,
      );
      thing.touch(command.name);
    });
    this.on(Uow_Leak, (handler) => {
      const leaked = handler.leaked;
      setTimeout(() => {
        try {
          leaked?.resolve(handler.repository);
        } catch (error) {
          leaked?.resolve(error);
        }
      }, 5);
    });
  }
}

class Uow_FollowUpWorkflow extends Workflow {
  static {
    this.on(
      Uow_Created,
      (workflow, event) =>
        workflow.executeCommands(
          new Uow_FollowUp({
            aggregateId: event.aggregateId,
            name: event.by ?? "",
          }),
        ),
    );
  }
}

function newId(): string {
  return crypto.randomUUID();
}

// --- concurrent units ---------------------------------------------------------------

Deno.test("concurrent executeCommands calls interleaved with awaits never share an identity map or a queue", async () => {
  const store = new InMemoryEventStore();
  const handler = new Uow_Handler();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [handler],
    eventHandlers: [new Uow_FollowUpWorkflow()],
  });
  const shared = newId();
  await service.commitEvents([{
    aggregateClass: Uow_Thing,
    events: [
      new Uow_Created({ aggregateId: shared, sequenceNumber: 1, by: "seed" }),
    ],
  }], { dispatchTo: () => false });

  // Two shared gates that A and B await in opposite order.
  const first = Promise.withResolvers<void>();
  const second = Promise.withResolvers<void>();
  handler.gates.set("A", [first.promise, second.promise]);
  handler.gates.set("B", [second.promise, first.promise]);
  const reachedA = Promise.withResolvers<void>();
  const reachedB = Promise.withResolvers<void>();
  handler.reached.set("A", reachedA);
  handler.reached.set("B", reachedB);

  const idA = newId();
  const idB = newId();
  const runA = service.executeCommands(
    new Uow_Start({ aggregateId: idA, name: "A", shared }),
  );
  const runB = service.executeCommands(
    new Uow_Start({ aggregateId: idB, name: "B", shared }),
  );
  await Promise.all([reachedA.promise, reachedB.promise]);
  second.resolve();
  await new Promise((resolve) => setTimeout(resolve, 1));
  first.resolve();
  await Promise.all([runA, runB]);

  const a = handler.seen.get("A");
  const b = handler.seen.get("B");
  assert.ok(a && b);
  assert.notEqual(
    a.repository,
    b.repository,
    "each call has its own repository",
  );
  assert.notEqual(
    a.shared,
    b.shared,
    "each call loaded its own instance of the shared aggregate",
  );

  // Each unit ran exactly its own workflow-issued command, with its own repository.
  assert.deepEqual(handler.followUps.map((f) => f.name).sort(), ["A", "B"]);
  for (const followUp of handler.followUps) {
    assert.equal(
      followUp.repository,
      handler.seen.get(followUp.name)?.repository,
    );
  }
  const [streamA, streamB] = await store.loadStreams([idA, idB]);
  assert.deepEqual(streamA?.events.map((e) => JSON.parse(e.payload).by), [
    "A",
    "A",
  ]);
  assert.deepEqual(streamB?.events.map((e) => JSON.parse(e.payload).by), [
    "B",
    "B",
  ]);
  assert.equal((await store.commandForEvent(idA, 2))?.eventAggregateId, idA);
  assert.equal((await store.commandForEvent(idB, 2))?.eventAggregateId, idB);
});

Deno.test("a callback left running by a handler cannot use the unit after it ended", async () => {
  const handler = new Uow_Handler();
  const service = new CommandService({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [handler],
  });
  handler.leaked = Promise.withResolvers<unknown>();
  await service.executeCommands(new Uow_Leak({ aggregateId: newId() }));
  const outcome = await handler.leaked.promise;
  assert.ok(outcome instanceof SequentError);
  assert.match(
    outcome.message,
    /CommandHandler\.repository was used after its unit of work ended/,
  );
});

// --- runInUnit, activeUnit, currentUnit ----------------------------------------------------

function makeUnit(store: InMemoryEventStore): Promise<Unit> {
  return store.transaction((transaction) =>
    Promise.resolve({
      owner: store,
      repository: new AggregateRepository(transaction, new MessageSerializer()),
      transaction,
      queue: [],
      afterCommit: [],
      logger: silentLogger,
      slots: new Map(),
      currentEvent: undefined,
      ended: false,
    })
  );
}

Deno.test("outside a unit, activeUnit() is undefined and currentUnit() throws a SequentError naming the caller", () => {
  assert.equal(activeUnit(), undefined);
  assert.throws(() => currentUnit("Something.used"), (error: unknown) => {
    assert.ok(error instanceof SequentError);
    assert.equal(
      error.message,
      "Something.used is only available while commands execute (inside executeCommands)",
    );
    return true;
  });
});

Deno.test("runInUnit() makes the unit current across awaits and timers, and only inside", async () => {
  const unit = await makeUnit(new InMemoryEventStore());
  const result = await runInUnit(unit, async () => {
    assert.equal(currentUnit("test"), unit);
    await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(activeUnit(), unit);
    return "done";
  });
  assert.equal(result, "done");
  assert.equal(activeUnit(), undefined);
});

Deno.test("nested runInUnit() calls see their own unit and restore the outer one", async () => {
  const store = new InMemoryEventStore();
  const outer = await makeUnit(store);
  const inner = await makeUnit(store);
  await runInUnit(outer, async () => {
    await runInUnit(inner, () => {
      assert.equal(activeUnit(), inner);
      return Promise.resolve();
    });
    assert.equal(activeUnit(), outer);
  });
});

Deno.test("an ended unit is no longer active and currentUnit() says it ended", async () => {
  const unit = await makeUnit(new InMemoryEventStore());
  await runInUnit(unit, () => {
    unit.ended = true;
    assert.equal(activeUnit(), undefined);
    assert.throws(() => currentUnit("Late.access"), {
      message: /Late\.access was used after its unit of work ended/,
    });
    return Promise.resolve();
  });
});
