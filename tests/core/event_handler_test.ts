import assert from "node:assert/strict";
import {
  AggregateRoot,
  anyMessage,
  attrs,
  Command,
  CommandHandler,
  CommandService,
  Event,
  EventHandler,
  hasAttrs,
  InMemoryEventStore,
  isA,
} from "@sequent/core";

// --- Domain -------------------------------------------------------------------

class Eh_Started
  extends Event.define("Eh.Started", { label: attrs.string() }) {}
class Eh_Stepped extends Event.define("Eh.Stepped", {
  step: attrs.integer().required(),
}) {}
class Eh_Stopped extends Event.define("Eh.Stopped", {}) {}

class Eh_Machine extends AggregateRoot {
  static start(id: string, label: string): Eh_Machine {
    const machine = new Eh_Machine(id);
    machine.apply(Eh_Started, { label });
    return machine;
  }
  step(step: number): void {
    this.apply(Eh_Stepped, { step });
  }
  stop(): void {
    this.apply(Eh_Stopped);
  }
}

class Eh_Run extends Command.define("Eh.Run", {
  label: attrs.string().required(),
  steps: attrs.integer().required(),
}) {}
class Eh_Note extends Command.define("Eh.Note", { text: attrs.string() }) {}

class Eh_MachineHandler extends CommandHandler {
  readonly notes: string[] = [];
  static {
    this.on(Eh_Run, (handler, command) => {
      const machine = Eh_Machine.start(command.aggregateId, command.label);
      for (let i = 1; i <= command.steps; i++) machine.step(i);
      machine.stop();
      handler.repository.addAggregate(machine);
    });
    this.on(Eh_Note, (handler, command) => {
      handler.notes.push(command.text ?? "");
    });
  }
}

class Eh_Recorder extends EventHandler {
  readonly log: string[] = [];
  static {
    this.on(Eh_Started, (recorder, event) => {
      // The event parameter is typed: `label` needs no cast.
      const label: string | undefined = event.label;
      recorder.log.push(`started ${label}`);
    });
    this.on(
      hasAttrs(Eh_Stepped, { step: (n) => n % 2 === 0 }),
      (recorder, event) => {
        recorder.log.push(`even step ${event.step}`);
      },
    );
    this.on(isA(Event, { except: [Eh_Stepped] }), (recorder, event) => {
      recorder.log.push(`not a step ${event.sequenceNumber}`);
    });
  }
}

class Eh_Counter extends EventHandler {
  count = 0;
  readonly aggregates = new Set<string>();
  static {
    this.on(anyMessage<Event>(), async (counter, event) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      counter.count++;
      counter.aggregates.add(event.aggregateId);
    });
  }
}

class Eh_DerivedRecorder extends Eh_Recorder {
  static {
    this.on(Eh_Stopped, (recorder) => {
      recorder.log.push("derived stopped");
    });
  }
}

/** Compile-time checks only: never called. */
function _typingChecks(): void {
  Eh_Recorder.on(Eh_Stopped, (recorder, event) => {
    // @ts-expect-error: Eh_Stopped has no attribute "label"
    void event.label;
    // @ts-expect-error: the handler parameter is an Eh_Recorder
    void recorder.count;
  });
}
void _typingChecks;

function newId(): string {
  return crypto.randomUUID();
}

function setup(...eventHandlers: EventHandler[]) {
  const store = new InMemoryEventStore();
  const machineHandler = new Eh_MachineHandler();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [machineHandler],
    eventHandlers,
  });
  return { store, service, machineHandler };
}

// --- dispatch ---------------------------------------------------------------------

Deno.test("every matching route of every event handler receives each stored event, in order", async () => {
  const recorder = new Eh_Recorder();
  const counter = new Eh_Counter();
  const { service } = setup(recorder, counter);
  await service.executeCommands(
    new Eh_Run({ aggregateId: newId(), label: "m", steps: 2 }),
  );
  assert.deepEqual(recorder.log, [
    "started m",
    "not a step 1",
    "even step 2",
    "not a step 4",
  ]);
  assert.equal(counter.count, 4);
});

Deno.test("async event handlers are awaited before executeCommands resolves", async () => {
  const counter = new Eh_Counter();
  const { service } = setup(counter);
  await service.executeCommands(
    new Eh_Run({ aggregateId: newId(), label: "m", steps: 3 }),
  );
  assert.equal(counter.count, 5);
});

Deno.test("an event handler subclass runs its base class's handlers first", async () => {
  const derived = new Eh_DerivedRecorder();
  const { service } = setup(derived);
  await service.executeCommands(
    new Eh_Run({ aggregateId: newId(), label: "d", steps: 0 }),
  );
  assert.deepEqual(derived.log, [
    "started d",
    "not a step 1",
    "not a step 2",
    "derived stopped",
  ]);
});

Deno.test("events of a failed unit reach event handlers but are rolled back with it", async () => {
  class Eh_Rejecting extends EventHandler {
    static {
      this.on(Eh_Stopped, () => {
        throw new RangeError("stopped too early");
      });
    }
  }
  const recorder = new Eh_Recorder();
  const { store, service } = setup(recorder, new Eh_Rejecting());
  const id = newId();
  await assert.rejects(
    service.executeCommands(
      new Eh_Run({ aggregateId: id, label: "r", steps: 1 }),
    ),
    RangeError,
  );
  assert.deepEqual(recorder.log, ["started r", "not a step 1", "not a step 3"]);
  assert.equal(await store.streamExists(id), false);
});

Deno.test("commands an event handler issues through the service run in the same unit with causation", async () => {
  const app: { service?: CommandService } = {};
  class Eh_Notifier extends EventHandler {
    static {
      this.on(
        Eh_Stopped,
        (_notifier, event) =>
          app.service?.executeCommands(
            new Eh_Note({ aggregateId: event.aggregateId, text: "stopped" }),
          ),
      );
    }
  }
  const { store, service, machineHandler } = setup(new Eh_Notifier());
  app.service = service;
  const id = newId();
  await service.executeCommands(
    new Eh_Run({ aggregateId: id, label: "n", steps: 1 }),
  );
  assert.deepEqual(machineHandler.notes, ["stopped"]);
  const [record] = await store.commandsCausedBy(id, 3);
  assert.equal(record?.commandType, "Eh.Note");
  assert.equal(record?.eventSequenceNumber, 3);
});

Deno.test("on() rejects an empty target list and a missing handler", () => {
  class Eh_Bad extends EventHandler {}
  assert.throws(() => Eh_Bad.on([], () => {}), {
    name: "TypeError",
    message: /at least one target/,
  });
  assert.throws(() => Eh_Bad.on(Eh_Started, 1 as unknown as () => void), {
    name: "TypeError",
    message: /needs a handler function/,
  });
});
