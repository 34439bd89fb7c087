/**
 * Workflows on PostgreSQL (PGlite, and the server in `DATABASE_URL`): the
 * commands they issue run in the same transaction as the command whose
 * event they handle, with causation recorded; `afterCommit` runs once that
 * transaction has committed, and never when it rolls back.
 * (`tests/core/workflow_test.ts` covers the same on the in-memory store.)
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
  type Logger,
  Projector,
  table,
  Workflow,
} from "@sequent/core";
import { shared } from "./_backends.ts";
import { type StoreBackend, storeBackends } from "./_store_backends.ts";

// --- Domain -------------------------------------------------------------------

class WfPg_OrderPlaced extends Event.define("WfPg.OrderPlaced", {
  customer: attrs.string(),
}) {}
class WfPg_InvoiceSent extends Event.define("WfPg.InvoiceSent", {
  orderId: attrs.uuid(),
  customer: attrs.string(),
}) {}

class WfPg_Order extends AggregateRoot {
  customer: string | undefined;
  static {
    this.on(WfPg_OrderPlaced, (o, e) => {
      o.customer = e.customer;
    });
  }
  static place(id: string, customer: string): WfPg_Order {
    const order = new WfPg_Order(id);
    order.apply(WfPg_OrderPlaced, { customer });
    return order;
  }
}
class WfPg_Invoice extends AggregateRoot {
  static {
    this.on(WfPg_InvoiceSent, () => {});
  }
  static send(id: string, orderId: string, customer: string): WfPg_Invoice {
    const invoice = new WfPg_Invoice(id);
    invoice.apply(WfPg_InvoiceSent, { orderId, customer });
    return invoice;
  }
}

class WfPg_PlaceOrder extends Command.define("WfPg.PlaceOrder", {
  customer: attrs.string().required(),
}) {}
class WfPg_SendInvoice extends Command.define("WfPg.SendInvoice", {
  orderId: attrs.uuid().required(),
}) {}

class WfPg_Failure extends Error {}

const wfPgInvoices = table("wfpg_invoices", {
  id: column.uuid().primaryKey(),
  orderId: column.uuid(),
  customer: column.text(),
});

class WfPg_Handler extends CommandHandler {
  store: EventStore | undefined;
  /** What the invoice handler saw of the order. */
  seen: { customer: string | undefined; committed: boolean }[] = [];
  static {
    this.on(WfPg_PlaceOrder, (h, c) => {
      h.repository.addAggregate(WfPg_Order.place(c.aggregateId, c.customer));
    });
    this.on(WfPg_SendInvoice, async (h, c) => {
      // read through the unit: the order placed by the first command is
      // visible here, although it is not committed yet
      const order = await h.repository.loadAggregate(c.orderId, WfPg_Order);
      h.seen.push({
        customer: order.customer,
        committed: await h.store!.streamExists(c.orderId),
      });
      h.repository.addAggregate(
        WfPg_Invoice.send(c.aggregateId, c.orderId, order.customer ?? ""),
      );
    });
  }
}

/** Issues an invoice for every order, and mails it after commit. */
class WfPg_Billing extends Workflow {
  store: EventStore | undefined;
  issued: WfPg_SendInvoice[] = [];
  mailed: { customer: string; committed: boolean; invoiced: number }[] = [];
  afterCommitError: Error | undefined;
  static {
    this.on(WfPg_OrderPlaced, async (w, e) => {
      const invoice = new WfPg_SendInvoice({
        aggregateId: crypto.randomUUID(),
        orderId: e.aggregateId,
      });
      w.issued.push(invoice);
      await w.executeCommands(invoice);
      w.afterCommit(async () => {
        w.mailed.push({
          customer: e.customer ?? "",
          committed: await w.store!.streamExists(e.aggregateId),
          invoiced: (await w.store!.records.find(wfPgInvoices, {
            orderId: e.aggregateId,
          })).length,
        });
        if (w.afterCommitError) throw w.afterCommitError;
      });
    });
  }
}

/** Projects invoices; fails on demand (after the workflow has run). */
class WfPg_InvoiceProjector extends Projector {
  static override readonly manages = [wfPgInvoices];
  failFor: string | undefined;
  static {
    this.on(WfPg_InvoiceSent, async (p, e) => {
      await p.createRecord(wfPgInvoices, {
        id: e.aggregateId,
        orderId: e.orderId!,
        customer: e.customer ?? "",
      });
      if (p.failFor === e.customer) throw new WfPg_Failure("projector failed");
    });
  }
}

async function setup(b: StoreBackend, logger?: Logger) {
  const store = await b.emptyStore([wfPgInvoices]);
  const handler = new WfPg_Handler();
  const billing = new WfPg_Billing();
  const projector = new WfPg_InvoiceProjector();
  handler.store = store;
  billing.store = store;
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [handler],
    eventHandlers: [billing, projector],
    logger: logger ?? { enabled: () => false, log: () => {} },
  });
  return { store, handler, billing, projector, service };
}

const backends = storeBackends();

for (const b of backends.list.filter((b) => b.sql)) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `Workflow (${b.name}): ${name}`, ...shared, fn });

  test("a workflow's command runs in the same transaction, seeing the uncommitted events before it", async () => {
    const { store, handler, service } = await setup(b);
    const order = crypto.randomUUID();
    await service.executeCommands(
      new WfPg_PlaceOrder({ aggregateId: order, customer: "ann" }),
    );
    assert.deepEqual(handler.seen, [{ customer: "ann", committed: false }]);
    assert.equal(await store.streamExists(order), true);
    assert.deepEqual(
      (await store.records.find(wfPgInvoices, { orderId: order })).map((r) =>
        r.customer
      ),
      ["ann"],
    );
    assert.equal(await b.commandCount(store), 2);
  });

  test("a workflow's command carries the event as its cause, stored with its command record", async () => {
    const { store, billing, service } = await setup(b);
    const order = crypto.randomUUID();
    await service.executeCommands(
      new WfPg_PlaceOrder({ aggregateId: order, customer: "ann" }),
    );
    const [invoice] = billing.issued;
    assert.equal(invoice?.eventAggregateId, order);
    assert.equal(invoice?.eventSequenceNumber, 1);
    const caused = await store.commandsCausedBy(order, 1);
    assert.equal(caused.length, 1);
    assert.equal(caused[0]?.commandType, "WfPg.SendInvoice");
    assert.equal(caused[0]?.aggregateId, invoice?.aggregateId);
    assert.equal(caused[0]?.eventAggregateId, order);
    assert.equal(caused[0]?.eventSequenceNumber, 1);
    assert.equal(
      (await store.commandForEvent(invoice!.aggregateId, 1))?.id,
      caused[0]?.id,
    );
    const placed = await store.commandForEvent(order, 1);
    assert.equal(placed?.commandType, "WfPg.PlaceOrder");
    assert.equal(placed?.eventAggregateId, undefined);
    assert.deepEqual(await store.commandsCausedBy(order, 2), []);
    assert.deepEqual(
      (await store.eventsOfCommand(caused[0]!.id)).map((e) => e.eventType),
      ["WfPg.InvoiceSent"],
    );
  });

  test("afterCommit runs once the transaction has committed, before executeCommands resolves", async () => {
    const { billing, service } = await setup(b);
    await service.executeCommands(
      new WfPg_PlaceOrder({
        aggregateId: crypto.randomUUID(),
        customer: "ann",
      }),
      new WfPg_PlaceOrder({
        aggregateId: crypto.randomUUID(),
        customer: "bob",
      }),
    );
    assert.deepEqual(billing.mailed, [
      { customer: "ann", committed: true, invoiced: 1 },
      { customer: "bob", committed: true, invoiced: 1 },
    ]);
  });

  test("a later projector error rolls back the workflow's command with the rest, and afterCommit never runs", async () => {
    const { store, billing, projector, service } = await setup(b);
    projector.failFor = "bob";
    const [ann, bob] = [crypto.randomUUID(), crypto.randomUUID()];
    await assert.rejects(
      service.executeCommands(
        new WfPg_PlaceOrder({ aggregateId: ann, customer: "ann" }),
        new WfPg_PlaceOrder({ aggregateId: bob, customer: "bob" }),
      ),
      WfPg_Failure,
    );
    assert.equal(billing.issued.length, 2, "the workflow ran for both");
    assert.deepEqual(billing.mailed, []);
    for (const id of [ann, bob, ...billing.issued.map((c) => c.aggregateId)]) {
      assert.equal(await store.streamExists(id), false);
    }
    assert.equal(await b.commandCount(store), 0);
    assert.deepEqual(await store.records.find(wfPgInvoices, {}), []);
    // the store is usable afterwards, and the callbacks of a unit that
    // commits run
    projector.failFor = undefined;
    await service.executeCommands(
      new WfPg_PlaceOrder({ aggregateId: ann, customer: "ann" }),
    );
    assert.deepEqual(billing.mailed, [{
      customer: "ann",
      committed: true,
      invoiced: 1,
    }]);
  });

  test("an afterCommit error is logged and does not undo the commit", async () => {
    const logged: string[] = [];
    const { store, billing, service } = await setup(b, {
      enabled: () => true,
      log: (level, message) => {
        if (level !== "debug") logged.push(`${level}: ${message}`);
      },
    });
    billing.afterCommitError = new WfPg_Failure("mail server down");
    const order = crypto.randomUUID();
    await service.executeCommands(
      new WfPg_PlaceOrder({ aggregateId: order, customer: "ann" }),
    );
    assert.equal(await store.streamExists(order), true);
    assert.deepEqual(logged, ["error: WfPg_Billing after commit failed"]);
  });
}

backends.disposeAtEnd();
