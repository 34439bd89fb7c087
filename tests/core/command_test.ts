/**
 * Commands (src/core/command.ts): declaration, base attributes (aggregateId,
 * userId, causation), payload, validation, inferred types and causation.
 */
import assert from "node:assert/strict";
import { Attributed, attrs, Command, Decimal } from "@sequent/core";
import { COMMAND_BASE_KEYS, setCausation } from "../../src/core/command.ts";

const ID = "3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f";
const OTHER = "0b8f2c1e-7a6d-4e5f-8a9b-1c2d3e4f5a6b";

/** True when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;
function assertType<_T extends true>(): void {}

class PlaceOrder extends Command.define("Cmd_PlaceOrder", {
  customer: attrs.string().required(),
  total: attrs.decimal().required(),
  note: attrs.string(),
}) {}

Deno.test("Command.define() gives a class with the type name, the class name and base plus own attributes", () => {
  assert.equal(PlaceOrder.typeName, "Cmd_PlaceOrder");
  assert.equal(PlaceOrder.name, "PlaceOrder");
  assert.deepEqual(Object.keys(PlaceOrder.shape), [
    "aggregateId",
    "commandId",
    "userId",
    "eventAggregateId",
    "eventSequenceNumber",
    "customer",
    "total",
    "note",
  ]);
  assert.equal(PlaceOrder.shape.aggregateId?.isRequired, true);
  assert.equal(PlaceOrder.shape.userId?.isRequired, false);
});

Deno.test("a command carries aggregateId, an optional userId and empty causation", () => {
  const command = new PlaceOrder({
    aggregateId: ID,
    userId: "ben",
    customer: "ACME",
    total: Decimal.from("9.95"),
  });
  assert.ok(command instanceof Command);
  assert.ok(command instanceof Attributed);
  assert.equal(command.aggregateId, ID);
  assert.equal(command.userId, "ben");
  assert.equal(command.eventAggregateId, undefined);
  assert.equal(command.eventSequenceNumber, undefined);
  assert.equal(
    new PlaceOrder({ aggregateId: ID, customer: "x", total: Decimal.from(1) })
      .userId,
    undefined,
  );
});

Deno.test("a command's base attributes are validated: aggregateId required and a UUID, causation typed", () => {
  assert.deepEqual(
    PlaceOrder.fromParams({ customer: "ACME", total: "1" }).validate(),
    { aggregateId: ["can't be blank"] },
  );
  const command = new PlaceOrder({
    aggregateId: "order-1",
    customer: "ACME",
    total: Decimal.from(1),
    eventAggregateId: "x",
    eventSequenceNumber: 1.5,
  });
  assert.deepEqual(command.validate(), {
    aggregateId: ["is not a valid UUID"],
    eventAggregateId: ["is not a valid UUID"],
    eventSequenceNumber: ["is not a valid integer"],
  });
});

Deno.test("an invalid command reports each own attribute by name", () => {
  const command = PlaceOrder.fromParams({
    aggregateId: ID,
    customer: " ",
    total: "ten",
  });
  assert.deepEqual(command.validate(), {
    customer: ["can't be blank"],
    total: ["is not a valid decimal"],
  });
  assert.equal(command.isValid(), false);
});

Deno.test("fromParams() parses a command's base attributes too", () => {
  const command = PlaceOrder.fromParams({
    aggregateId: ID.toUpperCase(),
    userId: 7,
    eventAggregateId: OTHER,
    eventSequenceNumber: "3",
    customer: "ACME",
    total: "0.30",
  });
  assert.deepEqual(command.validate(), {});
  assert.equal(command.aggregateId, ID);
  assert.equal(command.userId, "7");
  assert.equal(command.eventAggregateId, OTHER);
  assert.equal(command.eventSequenceNumber, 3);
  assert.equal(command.total.toString(), "0.30");
});

Deno.test("payload() holds the command's own attributes without aggregateId, commandId, userId and causation", () => {
  const command = new PlaceOrder({
    aggregateId: ID,
    userId: "ben",
    eventAggregateId: OTHER,
    eventSequenceNumber: 2,
    customer: "ACME",
    total: Decimal.from("9.950"),
  });
  assert.deepEqual(command.payload(), { customer: "ACME", total: "9.950" });
  assert.deepEqual([...COMMAND_BASE_KEYS], [
    "aggregateId",
    "commandId",
    "userId",
    "eventAggregateId",
    "eventSequenceNumber",
  ]);
});

Deno.test("setCausation() records the causing event once and never overwrites it", () => {
  const command = new PlaceOrder({
    aggregateId: ID,
    customer: "ACME",
    total: Decimal.from(1),
  });
  setCausation(command, OTHER, 4);
  assert.equal(command.eventAggregateId, OTHER);
  assert.equal(command.eventSequenceNumber, 4);
  setCausation(command, ID, 9);
  assert.equal(command.eventAggregateId, OTHER);
  assert.equal(command.eventSequenceNumber, 4);
});

Deno.test("setCausation() keeps causation given by the caller", () => {
  const command = new PlaceOrder({
    aggregateId: ID,
    customer: "ACME",
    total: Decimal.from(1),
    eventAggregateId: ID,
    eventSequenceNumber: 1,
  });
  setCausation(command, OTHER, 5);
  assert.equal(command.eventAggregateId, ID);
  assert.equal(command.eventSequenceNumber, 1);
});

Deno.test("a Command subclass not declared with Command.define() cannot be constructed", () => {
  class Raw extends Command {}
  assert.throws(() => new Raw({ aggregateId: ID }), {
    name: "TypeError",
    message: "Raw must be declared with Command.define(typeName, attributes)",
  });
});

Deno.test("a command's fields get inferred types: required T, optional T | undefined", () => {
  const command = new PlaceOrder({
    aggregateId: ID,
    customer: "ACME",
    total: Decimal.from(1),
  });
  assertType<Equal<typeof command.customer, string>>();
  assertType<Equal<typeof command.total, Decimal>>();
  assertType<Equal<typeof command.note, string | undefined>>();
  assertType<Equal<typeof command.userId, string | undefined>>();
  assertType<Equal<typeof command.eventSequenceNumber, number | undefined>>();
  assert.equal(command.note, undefined);
});

Deno.test("a command missing a required attribute, or with a wrong type, does not compile", () => {
  // @ts-expect-error total is required
  const missing = new PlaceOrder({ aggregateId: ID, customer: "ACME" });
  assert.deepEqual(missing.validate(), { total: ["can't be blank"] });
  const wrong = new PlaceOrder({
    aggregateId: ID,
    customer: "ACME",
    // @ts-expect-error total is a Decimal, not a number
    total: 9.95,
  });
  assert.deepEqual(wrong.validate(), { total: ["is not a valid decimal"] });
  // @ts-expect-error aggregateId is required
  const noId = new PlaceOrder({ customer: "ACME", total: Decimal.from(1) });
  assert.deepEqual(noId.validate(), { aggregateId: ["can't be blank"] });
  const badUser = new PlaceOrder({
    aggregateId: ID,
    // @ts-expect-error userId is a string
    userId: 5,
    customer: "ACME",
    total: Decimal.from(1),
  });
  assert.deepEqual(badUser.validate(), { userId: ["is not a valid string"] });
});

Deno.test("a user id with a NUL or a lone surrogate is a validation error on userId", () => {
  for (
    const [userId, message] of [
      ["ben\0", "contains a NUL character (U+0000) at index 3"],
      ["\ud800ben", "contains a lone surrogate (U+D800) at index 0"],
    ]
  ) {
    const command = PlaceOrder.fromParams({
      aggregateId: ID,
      userId,
      customer: "c",
      total: "1",
    });
    assert.deepEqual(command.validate(), { userId: [message] });
  }
});

Deno.test("a causing event's sequence number must be one every store can hold: 1 to 2147483647", () => {
  for (const eventSequenceNumber of [0, -1, 2 ** 31, 1e12]) {
    const command = PlaceOrder.fromParams({
      aggregateId: ID,
      customer: "c",
      total: "1",
      eventAggregateId: OTHER,
      eventSequenceNumber,
    });
    assert.deepEqual(command.validate(), {
      eventSequenceNumber: [
        "must be a sequence number, from 1 to 2147483647",
      ],
    }, String(eventSequenceNumber));
  }
  for (const eventSequenceNumber of [1, 2 ** 31 - 1]) {
    assert.ok(
      new PlaceOrder({
        aggregateId: ID,
        customer: "c",
        total: Decimal.from(1),
        eventAggregateId: OTHER,
        eventSequenceNumber,
      }).isValid(),
    );
  }
});

// --- Commands own their values --------------------------------------------------

class Cmd_Tag extends Command.define("Cmd_Tag", {
  tags: attrs.array(attrs.string()).required(),
}) {}

Deno.test("a command owns its arrays: the caller's array is copied, not frozen, and changing it changes nothing in the command", () => {
  const tags = ["a"];
  const command = new Cmd_Tag({ aggregateId: ID, tags });
  tags.push("b");
  assert.deepEqual(command.tags, ["a"]);
  assert.ok(Object.isFrozen(command.tags) && !Object.isFrozen(tags));
  assert.throws(() => (command.tags as string[]).push("c"), TypeError);
  assert.equal(JSON.stringify(command.payload()), '{"tags":["a"]}');
});
