import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import { attrs, Command, Event, hasAttrs, Workflow } from "@sequent/core";
import { workflowSpec } from "@sequent/core/testing";

// --- Domain -------------------------------------------------------------------

class WfSpec_InvoicePaid extends Event.define("WfSpec.InvoicePaid", {
  orderId: attrs.uuid(),
  carrier: attrs.string(),
}) {}
class WfSpec_OrderCancelled extends Event.define("WfSpec.OrderCancelled", {}) {}
class WfSpec_Unrelated extends Event.define("WfSpec.Unrelated", {}) {}

class WfSpec_ShipOrder extends Command.define("WfSpec.ShipOrder", {
  carrier: attrs.string().required(),
}) {}
class WfSpec_NotifyCustomer extends Command.define("WfSpec.NotifyCustomer", {
  message: attrs.string().required(),
}) {}

class WfSpec_Shipping extends Workflow {
  readonly mailed: string[] = [];
  mailError: Error | undefined;
  ignoreMailErrors = false;

  static {
    this.on(WfSpec_InvoicePaid, async (workflow, event) => {
      await workflow.executeCommands(
        // An unknown carrier is passed on as is: the command is then invalid.
        new WfSpec_ShipOrder({
          aggregateId: event.orderId ?? event.aggregateId,
          carrier: event.carrier as string,
        }),
        new WfSpec_NotifyCustomer({
          aggregateId: event.aggregateId,
          message: "paid",
        }),
      );
      workflow.afterCommit(() => {
        if (workflow.mailError) throw workflow.mailError;
        workflow.mailed.push(event.aggregateId);
      }, { ignoreErrors: workflow.ignoreMailErrors });
    });
    this.on(WfSpec_OrderCancelled, () => {});
  }
}

function newId(): string {
  return crypto.randomUUID();
}

function paid(carrier: string | null = "DHL") {
  const aggregateId = newId();
  const orderId = newId();
  const event = new WfSpec_InvoicePaid({
    aggregateId,
    sequenceNumber: 4,
    orderId,
    ...(carrier === null ? {} : { carrier }),
  });
  return { event, aggregateId, orderId };
}

function shipping() {
  const workflow = new WfSpec_Shipping();
  return { workflow, spec: workflowSpec({ workflows: [workflow] }) };
}

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

// --- whenEvent → thenCommands ------------------------------------------------------

Deno.test("whenEvent() runs the workflow and thenCommands() matches the commands it issued, in order", async () => {
  const { spec } = shipping();
  const { event, aggregateId, orderId } = paid();
  await spec.whenEvent(event);
  spec.thenCommands(
    new WfSpec_ShipOrder({ aggregateId: orderId, carrier: "DHL" }),
    new WfSpec_NotifyCustomer({ aggregateId, message: "paid" }),
  );
});

Deno.test("thenCommands() matches by class, matcher and predicate too", async () => {
  const { spec } = shipping();
  const { event, orderId } = paid();
  await spec.whenEvent(event);
  spec.thenCommands(
    hasAttrs(WfSpec_ShipOrder, { aggregateId: orderId }),
    WfSpec_NotifyCustomer,
  );
  spec.thenCommands((c: Command) => c.aggregateId === orderId, () => true);
});

Deno.test("issued commands carry the event as their cause; thenCommands compares causation only when expected", async () => {
  const { spec } = shipping();
  const { event, aggregateId, orderId } = paid();
  await spec.whenEvent(event);
  const [ship] = spec.issuedCommands;
  assert.equal(ship?.eventAggregateId, aggregateId);
  assert.equal(ship?.eventSequenceNumber, 4);
  spec.thenCommands(
    new WfSpec_ShipOrder({
      aggregateId: orderId,
      carrier: "DHL",
      eventAggregateId: aggregateId,
      eventSequenceNumber: 4,
    }),
    WfSpec_NotifyCustomer,
  );
  assertFailsWith(
    () =>
      spec.thenCommands(
        new WfSpec_ShipOrder({
          aggregateId: orderId,
          carrier: "DHL",
          eventAggregateId: aggregateId,
          eventSequenceNumber: 3,
        }),
        WfSpec_NotifyCustomer,
      ),
    /✗ 1\. expected: WfSpec\.ShipOrder .*"eventSequenceNumber":3/,
    /actual: {3}WfSpec\.ShipOrder .*"eventSequenceNumber":4/,
  );
});

Deno.test("thenCommands() fails on a different command, printing expected versus actual", async () => {
  const { spec } = shipping();
  const { event, aggregateId, orderId } = paid();
  await spec.whenEvent(event);
  assert.throws(
    () =>
      spec.thenCommands(
        new WfSpec_ShipOrder({ aggregateId: orderId, carrier: "UPS" }),
        new WfSpec_NotifyCustomer({ aggregateId, message: "paid" }),
      ),
    (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      const lines = error.message.split("\n");
      assert.equal(lines[0], "Expected 2 commands, got 2:");
      assert.equal(
        lines[1],
        `✗ 1. expected: WfSpec.ShipOrder {"aggregateId":"${orderId}","carrier":"UPS"}`,
      );
      assert.equal(
        lines[2],
        `     actual:   WfSpec.ShipOrder {"aggregateId":"${orderId}","carrier":"DHL"}`,
      );
      assert.match(lines[3] ?? "", /^ {2}2\. expected: WfSpec\.NotifyCustomer/);
      return true;
    },
  );
});

Deno.test("thenCommands() requires the counts to match", async () => {
  const { spec } = shipping();
  await spec.whenEvent(paid().event);
  assertFailsWith(
    () => spec.thenCommands(WfSpec_ShipOrder),
    /Expected 1 commands, got 2/,
  );
  assertFailsWith(
    () =>
      spec.thenCommands(
        WfSpec_ShipOrder,
        WfSpec_NotifyCustomer,
        WfSpec_NotifyCustomer,
      ),
    /Expected 3 commands, got 2/,
  );
});

Deno.test("thenCommands() fails when the workflow issued an invalid command", async () => {
  const { spec } = shipping();
  const { event } = paid(null);
  await spec.whenEvent(event);
  assertFailsWith(
    () => spec.thenCommands(WfSpec_ShipOrder, WfSpec_NotifyCustomer),
    /The workflow issued an invalid WfSpec_ShipOrder: \{"carrier":\["can't be blank"\]\}/,
  );
});

// --- thenNoCommands ----------------------------------------------------------------

Deno.test("thenNoCommands() passes when the workflow issued nothing, also for events it does not handle", async () => {
  const { spec } = shipping();
  await spec.whenEvent(
    new WfSpec_OrderCancelled({ aggregateId: newId(), sequenceNumber: 2 }),
  );
  spec.thenNoCommands();
  await spec.whenEvent(
    new WfSpec_Unrelated({ aggregateId: newId(), sequenceNumber: 1 }),
  );
  spec.thenNoCommands();
  spec.thenCommands();
});

Deno.test("thenNoCommands() fails when the workflow issued commands, listing them", async () => {
  const { spec } = shipping();
  await spec.whenEvent(paid().event);
  assertFailsWith(
    () => spec.thenNoCommands(),
    /Expected 0 commands, got 2/,
    /actual: {3}WfSpec\.ShipOrder/,
  );
});

Deno.test("each whenEvent() replaces the commands of the previous one", async () => {
  const { spec } = shipping();
  await spec.whenEvent(paid().event);
  await spec.whenEvent(
    new WfSpec_OrderCancelled({ aggregateId: newId(), sequenceNumber: 2 }),
  );
  spec.thenNoCommands();
});

Deno.test("thenCommands() and thenNoCommands() before whenEvent() fail", () => {
  const { spec } = shipping();
  assertFailsWith(
    () => spec.thenCommands(),
    /thenCommands\(\) needs a whenEvent\(\) first/,
  );
  assertFailsWith(
    () => spec.thenNoCommands(),
    /thenNoCommands\(\) needs a whenEvent\(\) first/,
  );
});

Deno.test("thenCommands(), thenNoCommands(), issuedCommands and afterCommitCount refuse to run before whenEvent() finished, asking for the missing await", async () => {
  const { spec } = shipping();
  const { event } = paid();
  const pending = spec.whenEvent(event); // await forgotten
  assertFailsWith(
    () => spec.thenNoCommands(),
    /thenNoCommands\(\) ran before whenEvent\(\) finished: await spec\.whenEvent\(…\) first/,
  );
  assertFailsWith(
    () => spec.thenCommands(),
    /thenCommands\(\) ran before whenEvent\(\) finished/,
  );
  assertFailsWith(() => spec.issuedCommands, /issuedCommands ran before/);
  assertFailsWith(() => spec.afterCommitCount, /afterCommitCount ran before/);
  await pending;
  spec.thenCommands(WfSpec_ShipOrder, WfSpec_NotifyCustomer);
});

// --- afterCommit ---------------------------------------------------------------------

Deno.test("whenEvent() runs the afterCommit callbacks the workflow registered", async () => {
  const { spec, workflow } = shipping();
  const { event, aggregateId } = paid();
  await spec.whenEvent(event);
  assert.deepEqual(workflow.mailed, [aggregateId]);
  assert.equal(spec.afterCommitCount, 1);
  await spec.whenEvent(
    new WfSpec_OrderCancelled({ aggregateId: newId(), sequenceNumber: 2 }),
  );
  assert.equal(spec.afterCommitCount, 0);
});

Deno.test("an afterCommit callback that throws fails whenEvent()", async () => {
  const { spec, workflow } = shipping();
  workflow.mailError = new RangeError("mail server down");
  await assert.rejects(spec.whenEvent(paid().event), RangeError);
  assert.deepEqual(workflow.mailed, []);
});

Deno.test("an afterCommit callback with ignoreErrors does not fail whenEvent()", async () => {
  const { spec, workflow } = shipping();
  workflow.mailError = new RangeError("mail server down");
  workflow.ignoreMailErrors = true;
  await spec.whenEvent(paid().event);
  assert.equal(spec.afterCommitCount, 1);
  spec.thenCommands(WfSpec_ShipOrder, WfSpec_NotifyCustomer);
});

Deno.test("several workflows all receive the event, in the order given", async () => {
  class WfSpec_Second extends Workflow {
    static {
      this.on(WfSpec_InvoicePaid, (workflow, event) =>
        workflow.executeCommands(
          new WfSpec_NotifyCustomer({
            aggregateId: event.aggregateId,
            message: "second",
          }),
        ));
    }
  }
  const spec = workflowSpec({
    workflows: [new WfSpec_Second(), new WfSpec_Shipping()],
  });
  const { event, aggregateId } = paid();
  await spec.whenEvent(event);
  spec.thenCommands(
    new WfSpec_NotifyCustomer({ aggregateId, message: "second" }),
    WfSpec_ShipOrder,
    new WfSpec_NotifyCustomer({ aggregateId, message: "paid" }),
  );
});
