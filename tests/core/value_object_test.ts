/**
 * Value objects (src/core/value_object.ts): declaration without a type name,
 * nesting, value equality and inferred types.
 */
import assert from "node:assert/strict";
import { Attributed, attrs, Decimal, Event, ValueObject } from "@sequent/core";

/** True when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;
function assertType<_T extends true>(): void {}

class Money extends ValueObject.define({
  amount: attrs.decimal().required(),
  currency: attrs.oneOf("EUR", "USD").required(),
}) {
  plus(other: Money): Money {
    // `this.copy({...})` does not compile inside the class: FieldsOf<this>
    // stays unresolved for the polymorphic `this`, so name the class.
    return (this as Money).copy({ amount: this.amount.plus(other.amount) });
  }
}

Deno.test("ValueObject.define() gives a class with its attributes and no type name", () => {
  assert.equal(Money.typeName, "");
  assert.equal(Money.name, "Money");
  assert.deepEqual(Object.keys(Money.shape), ["amount", "currency"]);
  const money = new Money({ amount: Decimal.from("1.5"), currency: "EUR" });
  assert.ok(money instanceof ValueObject);
  assert.ok(money instanceof Attributed);
  assert.equal("aggregateId" in money, false);
});

Deno.test("a value object keeps its own methods and copies keep its class", () => {
  const a = new Money({ amount: Decimal.from("0.1"), currency: "EUR" });
  const sum = a.plus(
    new Money({ amount: Decimal.from("0.2"), currency: "EUR" }),
  );
  assert.ok(sum instanceof Money);
  assert.equal(sum.amount.toString(), "0.3");
  assert.equal(sum.currency, "EUR");
});

Deno.test("value objects with equal attributes are equal; another value object class never is", () => {
  class Price extends ValueObject.define({
    amount: attrs.decimal().required(),
    currency: attrs.oneOf("EUR", "USD").required(),
  }) {}
  const money = new Money({ amount: Decimal.from("2.50"), currency: "EUR" });
  assert.equal(
    money.equals(new Money({ amount: Decimal.from("2.5"), currency: "EUR" })),
    true,
  );
  assert.equal(
    money.equals(new Money({ amount: Decimal.from("2.5"), currency: "USD" })),
    false,
  );
  assert.equal(
    money.equals(new Price({ amount: Decimal.from("2.50"), currency: "EUR" })),
    false,
  );
});

Deno.test("fromParams() builds and validates a value object on its own", () => {
  const money = Money.fromParams({ amount: "9.95", currency: "EUR" });
  assert.equal(money.amount.toString(), "9.95");
  assert.deepEqual(money.validate(), {});
  assert.deepEqual(
    Money.fromParams({ amount: "x", currency: "GBP" }).validate(),
    {
      amount: ["is not a valid decimal"],
      currency: ['is not one of "EUR", "USD"'],
    },
  );
});

Deno.test("value objects nest in events, with errors keyed field.subfield", () => {
  class Paid extends Event.define("VO_Paid", {
    price: attrs.valueObject(Money).required(),
  }) {}
  const event = Paid.fromParams({
    aggregateId: crypto.randomUUID(),
    sequenceNumber: 1,
    price: { amount: "", currency: "EUR" },
  });
  assert.ok(event.price instanceof Money);
  assert.deepEqual(event.validate(), { "price.amount": ["can't be blank"] });
});

Deno.test("value objects nest in value objects, errors keyed a.b.c", () => {
  class Order extends ValueObject.define({
    total: attrs.valueObject(Money).required(),
  }) {}
  class Basket extends ValueObject.define({
    order: attrs.valueObject(Order).required(),
  }) {}
  const basket = Basket.fromParams({
    order: { total: { amount: "1", currency: "XXX" } },
  });
  assert.deepEqual(basket.validate(), {
    "order.total.currency": ['is not one of "EUR", "USD"'],
  });
  assert.ok(basket.order.total instanceof Money);
});

Deno.test("a ValueObject subclass without define() has no attributes and rejects any", () => {
  class Empty extends ValueObject {}
  assert.deepEqual(new Empty({}).attributes(), {});
  assert.throws(() => new Empty({ x: 1 }), {
    name: "UnknownAttributeError",
    message: 'Empty has no attribute "x"',
  });
});

Deno.test("a value object's fields get inferred types and a missing required one does not compile", () => {
  const money = new Money({ amount: Decimal.from(1), currency: "USD" });
  assertType<Equal<typeof money.amount, Decimal>>();
  assertType<Equal<typeof money.currency, "EUR" | "USD">>();
  class Note extends ValueObject.define({ text: attrs.string() }) {}
  assertType<Equal<Note["text"], string | undefined>>();
  // @ts-expect-error currency is required
  const missing = new Money({ amount: Decimal.from(1) });
  assert.deepEqual(missing.validate(), { currency: ["can't be blank"] });
  // @ts-expect-error amount must be a Decimal
  const wrong = new Money({ amount: "1", currency: "EUR" });
  assert.deepEqual(wrong.validate(), { amount: ["is not a valid decimal"] });
  assert.equal(new Note({}).text, undefined);
});

// --- Value objects inside messages ------------------------------------------------

class Vo_Paid extends Event.define("Vo_Paid", {
  amount: attrs.valueObject(Money).required(),
  history: attrs.array(attrs.valueObject(Money)),
}) {}

Deno.test("an event holds its own frozen copy of each value object it is given; the given one is neither shared nor frozen", () => {
  const given = new Money({ amount: Decimal.from("1.50"), currency: "EUR" });
  const event = new Vo_Paid({
    aggregateId: crypto.randomUUID(),
    sequenceNumber: 1,
    amount: given,
    history: [given],
  });
  assert.ok(event.amount instanceof Money && event.amount.equals(given));
  assert.notEqual(event.amount, given);
  assert.notEqual(event.history?.[0], given);
  assert.ok(
    Object.isFrozen(event.amount) && Object.isFrozen(event.history?.[0]),
  );
  assert.ok(!Object.isFrozen(given));
  (given as { currency: string }).currency = "USD";
  assert.equal(event.amount.currency, "EUR");
  assert.throws(() => {
    (event.amount as { currency: string }).currency = "USD";
  }, TypeError);
  // the copy is made by the class's constructor: its methods work
  assert.equal(event.amount.plus(event.amount).amount.toString(), "3.00");
});

Deno.test("a value object with private state is copied through its constructor, and failed conversions inside it survive the copy", () => {
  class Vo_Counter extends ValueObject.define({ n: attrs.integer() }) {
    #label = "counter";
    label(): string {
      return `${this.#label} ${this.n}`;
    }
  }
  class Vo_Counted extends Event.define("Vo_Counted", {
    counter: attrs.valueObject(Vo_Counter),
  }) {}
  const event = new Vo_Counted({
    aggregateId: crypto.randomUUID(),
    sequenceNumber: 1,
    counter: new Vo_Counter({ n: 2 }),
  });
  assert.equal(event.counter?.label(), "counter 2");
  const parsed = Vo_Counted.fromParams({
    aggregateId: crypto.randomUUID(),
    sequenceNumber: 1,
    counter: { n: "two" },
  });
  assert.ok(Object.isFrozen(parsed.counter));
  assert.deepEqual(parsed.validate(), {
    "counter.n": ["is not a valid integer"],
  });
});
