import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import {
  attrs,
  Command,
  Decimal,
  Event,
  hasAttrs,
  isA,
  where,
} from "@sequent/core";
import {
  assertMessages,
  describeExpected,
  describeMessage,
  type Expected,
  meets,
} from "../../src/testing/expectations.ts";

class Exp_Paid extends Event.define("Exp.Paid", {
  amount: attrs.decimal().required(),
  note: attrs.string(),
}) {}
class Exp_Refunded extends Event.define("Exp.Refunded", {}) {}
class Exp_Charge extends Command.define("Exp.Charge", {
  amount: attrs.decimal().required(),
}) {}

const NOTHING: ReadonlySet<string> = new Set();
const NO_TIME: ReadonlySet<string> = new Set(["createdAt"]);
const id = crypto.randomUUID();

function paid(
  amount: string,
  extra: { note?: string; sequenceNumber?: number; createdAt?: Date } = {},
): Exp_Paid {
  return new Exp_Paid({
    aggregateId: id,
    sequenceNumber: extra.sequenceNumber ?? 1,
    amount: Decimal.from(amount),
    ...(extra.note === undefined ? {} : { note: extra.note }),
    ...(extra.createdAt === undefined ? {} : { createdAt: extra.createdAt }),
  });
}

// --- meets --------------------------------------------------------------------------

Deno.test("meets() compares an instance by class and attribute values, skipping the ignored ones", () => {
  const actual = paid("10.00", { createdAt: new Date(1000) });
  assert.equal(
    meets(paid("10", { createdAt: new Date(0) }), actual, NO_TIME),
    true,
  );
  assert.equal(
    meets(paid("10", { createdAt: new Date(0) }), actual, NOTHING),
    false,
  );
  assert.equal(meets(paid("10.01"), actual, NO_TIME), false);
  assert.equal(meets(paid("10", { note: "x" }), actual, NO_TIME), false);
  assert.equal(
    meets(paid("10", { sequenceNumber: 2 }), actual, NO_TIME),
    false,
  );
  assert.equal(
    meets(
      new Exp_Refunded({ aggregateId: id, sequenceNumber: 1 }) as Event,
      actual,
      NO_TIME,
    ),
    false,
  );
});

Deno.test("meets() compares a class by exact class", () => {
  const actual = paid("1");
  assert.equal(meets(Exp_Paid, actual, NOTHING), true);
  assert.equal(meets<Event>(Exp_Refunded, actual, NOTHING), false);
  assert.equal(
    meets<Event>(Event, actual, NOTHING),
    false,
    "a base class is not the exact class",
  );
});

Deno.test("meets() applies a matcher or a predicate", () => {
  const actual = paid("5", { note: "tip" });
  assert.equal(
    meets(hasAttrs(Exp_Paid, { note: "tip" }), actual, NOTHING),
    true,
  );
  assert.equal(
    meets(hasAttrs(Exp_Paid, { amount: Decimal.from("5.0") }), actual, NOTHING),
    true,
  );
  assert.equal(
    meets(hasAttrs(Exp_Paid, { note: "other" }), actual, NOTHING),
    false,
  );
  assert.equal(meets(isA(Event), actual, NOTHING), true);
  assert.equal(meets((e: Exp_Paid) => e.note === "tip", actual, NOTHING), true);
  assert.equal(meets(() => 0 as unknown as boolean, actual, NOTHING), false);
});

Deno.test("meets() rejects an expectation it cannot compare with", () => {
  assert.throws(
    () => meets(42 as unknown as Expected<Exp_Paid>, paid("1"), NOTHING),
    { name: "TypeError", message: /Cannot compare a message with 42/ },
  );
});

// --- describing ---------------------------------------------------------------------

Deno.test("describeMessage() prints the type name and JSON attributes, without ignored keys", () => {
  assert.equal(
    describeMessage(paid("10.50", { note: "n" }), NO_TIME),
    `Exp.Paid {"aggregateId":"${id}","sequenceNumber":1,"amount":"10.50","note":"n"}`,
  );
});

Deno.test("describeMessage() prints an invalid message instead of failing", () => {
  const invalid = new Exp_Charge({
    aggregateId: id,
    amount: undefined as unknown as Decimal,
  });
  assert.equal(
    describeMessage(invalid, NOTHING),
    `Exp.Charge {"aggregateId":"${id}"}`,
  );
  const wrongType = new Exp_Charge({
    aggregateId: id,
    amount: "12" as unknown as Decimal,
  });
  assert.equal(
    describeMessage(wrongType, NOTHING),
    `Exp.Charge {"aggregateId":"${id}","amount":"12"}`,
  );
});

Deno.test("describeExpected() names classes, matchers and predicates", () => {
  assert.equal(describeExpected(Exp_Paid, NOTHING), "any Exp.Paid");
  assert.equal(
    describeExpected(hasAttrs(Exp_Paid, { note: "x" }), NOTHING),
    'Exp.Paid with note "x"',
  );
  assert.equal(
    describeExpected(where<Exp_Paid>(() => true, "anything at all"), NOTHING),
    "anything at all",
  );
  assert.equal(
    describeExpected(() => true, NOTHING),
    "a message matching a predicate",
  );
  assert.match(describeExpected(paid("1"), NO_TIME), /^Exp\.Paid \{/);
});

// --- assertMessages -----------------------------------------------------------------

Deno.test("assertMessages() passes when every position matches and the counts are equal", () => {
  assertMessages(
    "events",
    [Exp_Paid, (e: Exp_Paid) => e.sequenceNumber === 2],
    [
      paid("1"),
      paid("2", { sequenceNumber: 2 }),
    ],
    NO_TIME,
  );
  assertMessages("events", [], [], NO_TIME);
});

Deno.test("assertMessages() fails listing expected versus actual, marking the mismatches", () => {
  assert.throws(
    () =>
      assertMessages("events", [Exp_Paid, Exp_Paid], [
        paid("1"),
        new Exp_Refunded({ aggregateId: id, sequenceNumber: 2 }),
      ], NO_TIME),
    (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      assert.equal(
        error.message,
        [
          "Expected 2 events, got 2:",
          "  1. expected: any Exp.Paid",
          `     actual:   Exp.Paid {"aggregateId":"${id}","sequenceNumber":1,"amount":"1"}`,
          "✗ 2. expected: any Exp.Paid",
          `     actual:   Exp.Refunded {"aggregateId":"${id}","sequenceNumber":2}`,
        ].join("\n"),
      );
      return true;
    },
  );
});

Deno.test("assertMessages() fails on a count mismatch even when the common positions match", () => {
  assert.throws(
    () =>
      assertMessages("commands", [Exp_Paid], [paid("1"), paid("2")], NO_TIME),
    {
      message:
        /^Expected 1 commands, got 2:\n {2}1\. .*\n.*\n✗ 2\. expected: \(nothing\)/,
    },
  );
  assert.throws(
    () =>
      assertMessages("commands", [Exp_Paid, Exp_Paid], [paid("1")], NO_TIME),
    { message: /✗ 2\. expected: any Exp\.Paid\n {5}actual: {3}\(nothing\)/ },
  );
});

Deno.test("assertMessages() takes the ignored keys per position", () => {
  const expected = [
    paid("1", { createdAt: new Date(0) }),
    paid("1", { createdAt: new Date(0) }),
  ];
  const actual = [
    paid("1", { createdAt: new Date(5) }),
    paid("1", { createdAt: new Date(5) }),
  ];
  assert.throws(
    () =>
      assertMessages(
        "events",
        expected,
        actual,
        (i) => i === 0 ? NO_TIME : NOTHING,
      ),
    { message: /^Expected 2 events, got 2:\n {2}1\.[^\n]*\n[^\n]*\n✗ 2\./ },
  );
});
