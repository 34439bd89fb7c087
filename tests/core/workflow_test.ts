import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  Command,
  CommandHandler,
  CommandNotValidError,
  CommandService,
  Event,
  InMemoryEventStore,
  type Logger,
  SequentError,
  TooManyCommandsError,
  Workflow,
} from "@sequent/core";

// --- Domain -------------------------------------------------------------------

class Wf_OrderPlaced extends Event.define("Wf.OrderPlaced", {
  customer: attrs.string(),
}) {}
class Wf_InvoiceSent extends Event.define("Wf.InvoiceSent", {
  orderId: attrs.uuid(),
}) {}

class Wf_Order extends AggregateRoot {
  static place(id: string, customer: string): Wf_Order {
    const order = new Wf_Order(id);
    order.apply(Wf_OrderPlaced, { customer });
    return order;
  }
  markInvoiced(): void {
    this.apply(Wf_InvoiceSent, {});
  }
}
class Wf_Invoice extends AggregateRoot {
  static send(id: string, orderId: string): Wf_Invoice {
    const invoice = new Wf_Invoice(id);
    invoice.apply(Wf_InvoiceSent, { orderId });
    return invoice;
  }
}

class Wf_PlaceOrder extends Command.define("Wf.PlaceOrder", {
  customer: attrs.string().required(),
}) {}
class Wf_SendInvoice extends Command.define("Wf.SendInvoice", {
  orderId: attrs.uuid().required(),
}) {}
class Wf_Audit extends Command.define("Wf.Audit", {
  note: attrs.string().required(),
}) {}

class Wf_Failure extends Error {}

/** Records every command it handles; fails on demand. */
class Wf_Handler extends CommandHandler {
  readonly log: string[] = [];
  failInvoices = false;
  static {
    this.on(Wf_PlaceOrder, (handler, command) => {
      handler.log.push(`place ${command.customer}`);
      handler.repository.addAggregate(
        Wf_Order.place(command.aggregateId, command.customer),
      );
    });
    this.on(Wf_SendInvoice, (handler, command) => {
      handler.log.push(`invoice for ${command.orderId}`);
      if (handler.failInvoices) throw new Wf_Failure("invoice failed");
      handler.repository.addAggregate(
        Wf_Invoice.send(command.aggregateId, command.orderId),
      );
    });
    this.on(Wf_Audit, (handler, command) => {
      handler.log.push(`audit ${command.note}`);
    });
  }
}

/** Issues an invoice (and, for customer "twice", an audit) for every order. */
class Wf_Billing extends Workflow {
  readonly issued: Command[] = [];
  readonly afterCommitRan: string[] = [];
  invalid = false;
  store: InMemoryEventStore | undefined;
  storedAtAfterCommit: boolean[] = [];
  afterCommitError: Error | undefined;
  ignoreErrors = false;

  static {
    this.on(Wf_OrderPlaced, async (workflow, event) => {
      const invoice = new Wf_SendInvoice({
        aggregateId: crypto.randomUUID(),
        orderId: workflow.invalid
          ? (undefined as unknown as string)
          : event.aggregateId,
      });
      workflow.issued.push(invoice);
      await workflow.executeCommands(invoice);
      if (event.customer === "twice") {
        await workflow.executeCommands(
          new Wf_Audit({ aggregateId: event.aggregateId, note: "second" }),
        );
      }
      workflow.afterCommit(async () => {
        workflow.storedAtAfterCommit.push(
          await workflow.store?.streamExists(event.aggregateId) ?? false,
        );
        workflow.afterCommitRan.push(event.customer ?? "");
        if (workflow.afterCommitError) throw workflow.afterCommitError;
      }, { ignoreErrors: workflow.ignoreErrors });
    });
  }
}

function newId(): string {
  return crypto.randomUUID();
}

function setup(logger?: Logger) {
  const store = new InMemoryEventStore();
  const handler = new Wf_Handler();
  const billing = new Wf_Billing();
  billing.store = store;
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [handler],
    eventHandlers: [billing],
    ...(logger ? { logger } : {}),
  });
  return { store, handler, billing, service };
}

// --- queued commands -------------------------------------------------------------

Deno.test("a workflow's commands run after the current command and the ones already queued, in order", async () => {
  const { store, handler, service } = setup();
  const order = newId();
  await service.executeCommands(
    new Wf_PlaceOrder({ aggregateId: order, customer: "twice" }),
    new Wf_Audit({ aggregateId: order, note: "queued first" }),
  );
  assert.deepEqual(handler.log, [
    "place twice",
    "audit queued first",
    `invoice for ${order}`,
    "audit second",
  ]);
  const records = await store.commandsCausedBy(order, 1);
  assert.deepEqual(records.map((r) => r.commandType), [
    "Wf.SendInvoice",
    "Wf.Audit",
  ]);
});

Deno.test("a workflow's commands carry the event's aggregate id and sequence number as causation", async () => {
  const { store, billing, service } = setup();
  const order = newId();
  await service.executeCommands(
    new Wf_PlaceOrder({ aggregateId: order, customer: "ann" }),
  );
  const [invoice] = billing.issued;
  assert.ok(invoice);
  assert.equal(invoice.eventAggregateId, order);
  assert.equal(invoice.eventSequenceNumber, 1);
  const [record] = await store.commandsCausedBy(order, 1);
  assert.ok(record);
  assert.equal(record.commandType, "Wf.SendInvoice");
  assert.equal(record.aggregateId, invoice.aggregateId);
  assert.equal(record.eventAggregateId, order);
  assert.equal(record.eventSequenceNumber, 1);
  assert.equal(
    (await store.commandForEvent(invoice.aggregateId, 1))?.id,
    record.id,
  );
  assert.deepEqual(await store.commandsCausedBy(order, 2), []);
  const placed = await store.commandForEvent(order, 1);
  assert.equal(
    placed?.eventAggregateId,
    undefined,
    "the user's command has no cause",
  );
});

Deno.test("a workflow's commands are stored in the same unit: if one fails, nothing is stored", async () => {
  const { store, handler, billing, service } = setup();
  handler.failInvoices = true;
  const order = newId();
  await assert.rejects(
    service.executeCommands(
      new Wf_PlaceOrder({ aggregateId: order, customer: "ann" }),
    ),
    Wf_Failure,
  );
  assert.equal(await store.streamExists(order), false);
  assert.deepEqual(billing.afterCommitRan, []);
});

Deno.test("an invalid command issued by a workflow fails the unit with CommandNotValidError", async () => {
  const { store, handler, billing, service } = setup();
  billing.invalid = true;
  const order = newId();
  await assert.rejects(
    service.executeCommands(
      new Wf_PlaceOrder({ aggregateId: order, customer: "ann" }),
    ),
    (error: unknown) => {
      assert.ok(error instanceof CommandNotValidError);
      assert.equal(error.commandType, "Wf.SendInvoice");
      assert.deepEqual(Object.keys(error.errors), ["orderId"]);
      return true;
    },
  );
  assert.deepEqual(handler.log, ["place ann"]);
  assert.equal(await store.streamExists(order), false);
});

Deno.test("causation already set on an issued command is kept", async () => {
  const cause = newId();
  class Wf_Explicit extends Workflow {
    static {
      this.on(Wf_InvoiceSent, (workflow, event) =>
        workflow.executeCommands(
          new Wf_Audit({
            aggregateId: event.aggregateId,
            note: "explicit",
            eventAggregateId: cause,
            eventSequenceNumber: 42,
          }),
        ));
    }
  }
  const store = new InMemoryEventStore();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Wf_Handler()],
    eventHandlers: [new Wf_Explicit()],
  });
  await service.executeCommands(
    new Wf_SendInvoice({ aggregateId: newId(), orderId: newId() }),
  );
  const [record] = await store.commandsCausedBy(cause, 42);
  assert.equal(record?.commandType, "Wf.Audit");
});

// --- afterCommit ---------------------------------------------------------------------

Deno.test("afterCommit runs once the unit has committed, before executeCommands resolves", async () => {
  const { billing, service } = setup();
  await service.executeCommands(
    new Wf_PlaceOrder({ aggregateId: newId(), customer: "ann" }),
    new Wf_PlaceOrder({ aggregateId: newId(), customer: "bob" }),
  );
  assert.deepEqual(billing.afterCommitRan, ["ann", "bob"]);
  assert.deepEqual(billing.storedAtAfterCommit, [true, true]);
});

Deno.test("afterCommit never runs when the unit rolls back", async () => {
  const { billing, service } = setup();
  class Wf_Late extends Command.define("Wf.Late", {}) {}
  class Wf_LateHandler extends CommandHandler {
    static {
      this.on(Wf_Late, () => {
        throw new Wf_Failure("late");
      });
    }
  }
  const failing = new CommandService({
    eventStore: service.eventStore,
    commandHandlers: [new Wf_Handler(), new Wf_LateHandler()],
    eventHandlers: [billing],
  });
  await assert.rejects(
    failing.executeCommands(
      new Wf_PlaceOrder({ aggregateId: newId(), customer: "ann" }),
      new Wf_Late({ aggregateId: newId() }),
    ),
    Wf_Failure,
  );
  assert.equal(billing.issued.length, 1, "the workflow did run");
  assert.deepEqual(billing.afterCommitRan, []);
});

Deno.test("an afterCommit error is logged and does not undo the commit", async () => {
  const entries: { level: string; message: string; fields: unknown }[] = [];
  const { store, billing, service } = setup({
    enabled: () => true,
    log: (level, message, fields) => {
      if (level !== "debug") entries.push({ level, message, fields });
    },
  });
  const failure = new Wf_Failure("mail server down");
  billing.afterCommitError = failure;
  const order = newId();
  await service.executeCommands(
    new Wf_PlaceOrder({ aggregateId: order, customer: "ann" }),
  );
  assert.equal(await store.streamExists(order), true);
  assert.deepEqual(entries, [{
    level: "error",
    message: "Wf_Billing after commit failed",
    fields: { error: failure },
  }]);
});

Deno.test("afterCommit with ignoreErrors swallows its error silently", async () => {
  const entries: string[] = [];
  const { store, billing, service } = setup({
    enabled: () => true,
    log: (level, message) => {
      if (level !== "debug") entries.push(message);
    },
  });
  billing.afterCommitError = new Wf_Failure("ignored");
  billing.ignoreErrors = true;
  const order = newId();
  await service.executeCommands(
    new Wf_PlaceOrder({ aggregateId: order, customer: "ann" }),
  );
  assert.deepEqual(billing.afterCommitRan, ["ann"]);
  assert.deepEqual(entries, []);
  assert.equal(await store.streamExists(order), true);
});

Deno.test("after a retried conflict only the committed attempt's afterCommit callbacks run", async () => {
  class Wf_Touch extends Command.define("Wf.Touch", {}) {}
  let attempts = 0;
  const store = new InMemoryEventStore();
  class Wf_TouchHandler extends CommandHandler {
    static {
      this.on(Wf_Touch, async (handler, command) => {
        attempts++;
        const order = await handler.repository.loadAggregate(
          command.aggregateId,
          Wf_Order,
        );
        if (attempts === 1) {
          // another process changes the order meanwhile
          await store.transaction((tx) =>
            tx.commit({
              commandType: "Wf.Other",
              aggregateId: order.id,
              userId: undefined,
              eventAggregateId: undefined,
              eventSequenceNumber: undefined,
              payload: "{}",
            }, [{
              aggregateId: order.id,
              aggregateType: "Wf_Order",
              partitionKey: "",
              events: [{
                aggregateId: order.id,
                sequenceNumber: order.sequenceNumber + 1,
                createdAt: new Date(),
                eventType: "Wf.InvoiceSent",
                payload: "{}",
              }],
              uniqueKeys: undefined,
              snapshotThreshold: undefined,
            }])
          );
        }
        handler.repository.addAggregate(
          Wf_Invoice.send(crypto.randomUUID(), order.id),
        );
        order.markInvoiced();
      });
    }
  }
  const billing = new Wf_Billing();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Wf_Handler(), new Wf_TouchHandler()],
    eventHandlers: [billing],
    retryOnConflict: 1,
  });
  const existing = newId();
  await service.commitEvents([{
    aggregateClass: Wf_Order,
    events: [
      new Wf_OrderPlaced({
        aggregateId: existing,
        sequenceNumber: 1,
        customer: "old",
      }),
    ],
  }], { dispatchTo: () => false });
  await service.executeCommands(
    new Wf_PlaceOrder({ aggregateId: newId(), customer: "new" }),
    new Wf_Touch({ aggregateId: existing }),
  );
  assert.equal(attempts, 2);
  assert.equal(billing.issued.length, 2, "the workflow ran in both attempts");
  assert.deepEqual(
    billing.afterCommitRan,
    ["new"],
    "but its callback only once",
  );
});

// --- outside a unit ------------------------------------------------------------------

Deno.test("Workflow.executeCommands and afterCommit outside a unit of work throw a SequentError", () => {
  const billing = new Wf_Billing();
  assert.throws(
    () =>
      billing.executeCommands(
        new Wf_Audit({ aggregateId: newId(), note: "x" }),
      ),
    (error: unknown) =>
      error instanceof SequentError &&
      /Workflow\.executeCommands is only available while commands execute/.test(
        error.message,
      ),
  );
  assert.throws(
    () => billing.afterCommit(() => {}),
    (error: unknown) =>
      error instanceof SequentError &&
      /Workflow\.afterCommit is only available while commands execute/.test(
        error.message,
      ),
  );
});

Deno.test("commitEvents() runs the commands workflows issue for its events, then their afterCommit callbacks", async () => {
  const { store, handler, billing, service } = setup();
  const order = newId();
  await service.commitEvents([{
    events: [
      new Wf_OrderPlaced({
        aggregateId: order,
        sequenceNumber: 1,
        customer: "imported",
      }),
    ],
  }]);
  assert.deepEqual(handler.log, [`invoice for ${order}`]);
  const [invoice] = billing.issued;
  assert.ok(invoice);
  assert.equal(await store.streamExists(invoice.aggregateId), true);
  const [record] = await store.commandsCausedBy(order, 1);
  assert.equal(record?.commandType, "Wf.SendInvoice");
  assert.deepEqual(billing.afterCommitRan, ["imported"]);
  assert.deepEqual(billing.storedAtAfterCommit, [true]);
});

Deno.test("commitEvents() rolls back its events when a command a workflow issued fails", async () => {
  const { store, handler, billing, service } = setup();
  handler.failInvoices = true;
  const order = newId();
  await assert.rejects(
    service.commitEvents([{
      events: [
        new Wf_OrderPlaced({
          aggregateId: order,
          sequenceNumber: 1,
          customer: "imported",
        }),
      ],
    }]),
    Wf_Failure,
  );
  assert.equal(await store.streamExists(order), false);
  assert.deepEqual(billing.afterCommitRan, []);
});

// --- a workflow that triggers itself ---------------------------------------------

class Wf_Pinged extends Event.define("Wf.Pinged", {}) {}
class Wf_Pinger extends AggregateRoot {
  ping(): void {
    this.apply(Wf_Pinged, {});
  }
  static {
    this.on(Wf_Pinged, () => {});
  }
}
class Wf_Ping extends Command.define("Wf.Ping", {}) {}
class Wf_PingHandler extends CommandHandler {
  ran = 0;
  static {
    this.on(Wf_Ping, async (handler, command) => {
      // a guard of the test's own, should the library have none
      if (++handler.ran > 20_000) throw new Error(`${handler.ran} commands`);
      const id = command.aggregateId;
      const found = await handler.repository.findAggregate(id, Wf_Pinger);
      const pinger = found ?? new Wf_Pinger(id);
      if (!found) handler.repository.addAggregate(pinger);
      pinger.ping();
    });
  }
}
/** Pings every pinger again: for ever, in one unit, without a limit. */
class Wf_PingAgain extends Workflow {
  static {
    this.on(
      Wf_Pinged,
      (workflow, event) =>
        workflow.executeCommands(
          new Wf_Ping({ aggregateId: event.aggregateId }),
        ),
    );
  }
}

function pingSetup(maxCommandsPerUnit?: number) {
  const store = new InMemoryEventStore();
  const handler = new Wf_PingHandler();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [handler],
    eventHandlers: [new Wf_PingAgain()],
    aggregates: [Wf_Pinger],
    maxCommandsPerUnit,
  });
  return { store, handler, service };
}

Deno.test("a workflow that triggers itself stops once it has issued 10,000 commands in the unit by default, with TooManyCommandsError naming the command, and the unit stores nothing", async () => {
  const { store, handler, service } = pingSetup();
  const id = newId();
  await assert.rejects(
    service.executeCommands(new Wf_Ping({ aggregateId: id })),
    (error: unknown) => {
      assert.ok(error instanceof TooManyCommandsError, String(error));
      assert.equal(error.commandType, "Wf.Ping");
      assert.equal(error.limit, 10_000);
      return true;
    },
  );
  // the command given, and the 10,000 the workflow issued
  assert.equal(handler.ran, 10_001);
  assert.equal(await store.streamExists(id), false);
  assert.equal(store.state.commands.size, 0);
});

Deno.test("the commands given to executeCommands do not count toward maxCommandsPerUnit: a bulk of them runs", async () => {
  const store = new InMemoryEventStore();
  const handler = new Wf_PingHandler();
  // no workflow: each ping stores its event and issues nothing
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [handler],
    aggregates: [Wf_Pinger],
    maxCommandsPerUnit: 3,
  });
  const ids = Array.from({ length: 12 }, () => newId());
  await service.executeCommands(
    ...ids.map((id) => new Wf_Ping({ aggregateId: id })),
  );
  assert.equal(handler.ran, 12);
  assert.equal(store.state.commands.size, 12);
});

Deno.test("commitEvents() stops a workflow that triggers itself at maxCommandsPerUnit, storing nothing", async () => {
  const { store, handler, service } = pingSetup(10);
  const id = newId();
  await assert.rejects(
    service.commitEvents([{
      aggregateClass: Wf_Pinger,
      events: [new Wf_Pinged({ aggregateId: id, sequenceNumber: 1 })],
    }]),
    (error: unknown) => {
      assert.ok(error instanceof TooManyCommandsError, String(error));
      assert.equal(error.commandType, "Wf.Ping");
      assert.equal(error.limit, 10);
      return true;
    },
  );
  assert.equal(handler.ran, 10);
  assert.equal(await store.streamExists(id), false);
});

/** Fails on every invoice sent. */
class Wf_NoInvoices extends Workflow {
  static {
    this.on(Wf_InvoiceSent, () => {
      throw new Wf_Failure("no invoices today");
    });
  }
}

Deno.test("commitEvents(): a workflow failing on the events of a command another workflow issued fails it, even when middleware catches the error", async () => {
  const store = new InMemoryEventStore();
  const billing = new Wf_Billing();
  const caught: string[] = [];
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Wf_Handler()],
    eventHandlers: [billing, new Wf_NoInvoices()],
    middleware: [async (_command, next) => {
      try {
        await next();
      } catch (error) {
        caught.push((error as Error).message);
      }
    }],
  });
  const order = newId();
  await assert.rejects(
    service.commitEvents([{
      events: [
        new Wf_OrderPlaced({
          aggregateId: order,
          sequenceNumber: 1,
          customer: "imported",
        }),
      ],
    }]),
    Wf_Failure,
  );
  assert.deepEqual(caught, ["no invoices today"]);
  assert.equal(await store.streamExists(order), false);
  assert.equal(store.state.commands.size, 0);
  assert.deepEqual(billing.afterCommitRan, []);
});
