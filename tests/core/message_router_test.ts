/**
 * Message routing (src/core/message_router.ts): what each matcher matches,
 * lists of targets, every matching handler running in registration order
 * with ancestors' handlers first, bad input, and the per-class cache.
 */
import assert from "node:assert/strict";
import {
  anyMessage,
  attrs,
  CalendarDate,
  Command,
  CommandHandler,
  Decimal,
  Event,
  EventHandler,
  exactly,
  hasAttrs,
  isA,
  where,
} from "@sequent/core";
import { MessageSerializer, type TargetMessage } from "@sequent/core/internal";
import {
  deliver,
  EventRoutes,
  handledEventTypes,
} from "../../src/core/event_dispatch.ts";
import { TypeRegistry } from "../../src/core/type_registry.ts";
import {
  addRoute,
  handlersFor,
  handles,
  routedClasses,
  routesOf,
  toMatchers,
} from "../../src/core/message_router.ts";

const ID = "3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f";

/** True when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;
function assertType<_T extends true>(): void {}

class Base {}
class Child extends Base {}
class GrandChild extends Child {}
class Other {}

class Paid extends Event.define("Rtr_Paid", {
  amount: attrs.decimal(),
  currency: attrs.string(),
  on: attrs.date(),
}) {}
class Refunded extends Event.define("Rtr_Refunded", {
  amount: attrs.decimal(),
}) {}
class LatePaid extends Paid {}

function paid(
  amount: string,
  currency = "EUR",
  extra: { on?: CalendarDate } = {},
): Paid {
  return new Paid({
    aggregateId: ID,
    sequenceNumber: 1,
    amount: Decimal.from(amount),
    currency,
    ...extra,
  });
}

/** Named handlers whose calls are easy to compare. */
function handler(name: string): () => string {
  const fn = () => name;
  Object.defineProperty(fn, "name", { value: name });
  return fn;
}

function names(handlers: readonly (() => string)[]): string[] {
  return handlers.map((h) => h());
}

// --- Matchers ---------------------------------------------------------------------

Deno.test("exactly() matches instances of that class only, not of its subclasses", () => {
  const matcher = exactly(Child);
  assert.equal(matcher.matches(new Child()), true);
  assert.equal(matcher.matches(new GrandChild()), false);
  assert.equal(matcher.matches(new Base()), false);
  assert.equal(matcher.description, "Child");
  assert.deepEqual(matcher.classes, [Child]);
  assert.equal(matcher.byClassOnly, true);
  assert.equal(exactly(Paid).description, "Rtr_Paid");
  assert.equal(
    exactly(Paid).matches(new LatePaid({ aggregateId: ID, sequenceNumber: 1 })),
    false,
  );
});

Deno.test("isA() matches a class and its subclasses", () => {
  const matcher = isA(Child);
  assert.equal(matcher.matches(new Child()), true);
  assert.equal(matcher.matches(new GrandChild()), true);
  assert.equal(matcher.matches(new Base()), false);
  assert.equal(matcher.matches(new Other()), false);
  assert.equal(matcher.description, "any Child");
  assert.deepEqual(matcher.classes, []);
  assert.equal(matcher.byClassOnly, true);
});

Deno.test("isA() with except leaves out those classes and their subclasses", () => {
  const matcher = isA(Base, { except: [Child] });
  assert.equal(matcher.matches(new Base()), true);
  assert.equal(matcher.matches(new Child()), false);
  assert.equal(matcher.matches(new GrandChild()), false);
  assert.equal(matcher.description, "any Base except Child");
  assert.equal(
    isA(Event, { except: [Paid, Refunded] }).description,
    "any Event except Rtr_Paid, Rtr_Refunded",
  );
  assert.equal(isA(Event, { except: [Paid] }).matches(paid("1")), false);
});

Deno.test("anyMessage() matches every message, except the given classes and their subclasses", () => {
  assert.equal(anyMessage().matches(new Other()), true);
  assert.equal(anyMessage().matches({}), true);
  assert.equal(anyMessage().description, "any message");
  const matcher = anyMessage({ except: [Child, Other] });
  assert.equal(matcher.matches(new Base()), true);
  assert.equal(matcher.matches(new GrandChild()), false);
  assert.equal(matcher.matches(new Other()), false);
  assert.equal(matcher.description, "any message except Child, Other");
  assert.equal(matcher.byClassOnly, true);
});

Deno.test("hasAttrs() matches exactly the class with the given attribute values", () => {
  const matcher = hasAttrs(Paid, { currency: "EUR" });
  assert.equal(matcher.matches(paid("1", "EUR")), true);
  assert.equal(matcher.matches(paid("1", "USD")), false);
  assert.equal(
    matcher.matches(
      new LatePaid({ aggregateId: ID, sequenceNumber: 1, currency: "EUR" }),
    ),
    false,
  );
  assert.equal(
    matcher.matches(new Refunded({ aggregateId: ID, sequenceNumber: 1 })),
    false,
  );
  assert.equal(matcher.byClassOnly, false);
  assert.deepEqual(matcher.classes, [Paid]);
  assert.equal(matcher.description, 'Rtr_Paid with currency "EUR"');
});

Deno.test("hasAttrs() compares values that have equals() by value: Decimal 1.0 matches 1", () => {
  const matcher = hasAttrs(Paid, { amount: Decimal.from("1.0") });
  assert.equal(matcher.matches(paid("1")), true);
  assert.equal(matcher.matches(paid("1.00")), true);
  assert.equal(matcher.matches(paid("1.01")), false);
  const onDay = hasAttrs(Paid, { on: CalendarDate.of(2026, 1, 2) });
  assert.equal(
    onDay.matches(paid("1", "EUR", { on: CalendarDate.parse("2026-01-02") })),
    true,
  );
  assert.equal(
    onDay.matches(paid("1", "EUR", { on: CalendarDate.of(2026, 1, 3) })),
    false,
  );
  assert.equal(onDay.matches(paid("1")), false);
  assert.equal(matcher.description, 'Rtr_Paid with amount "1.0"');
});

Deno.test("hasAttrs() with an equals() value does not match an absent or unrelated value", () => {
  const matcher = hasAttrs(Paid, { amount: Decimal.from("1") });
  const none = new Paid({ aggregateId: ID, sequenceNumber: 1 });
  assert.equal(matcher.matches(none), false);
  const text = new Paid({
    aggregateId: ID,
    sequenceNumber: 1,
    amount: "one" as never,
  });
  assert.equal(matcher.matches(text), false);
  const onDay = hasAttrs(Paid, { on: CalendarDate.of(2026, 1, 2) });
  assert.equal(onDay.matches(none), false);
});

Deno.test("hasAttrs() runs predicates on attribute values, and every expectation must hold", () => {
  const matcher = hasAttrs(Paid, {
    amount: (a) => a !== undefined && a.greaterThan(100),
    currency: "EUR",
  });
  assert.equal(matcher.matches(paid("150", "EUR")), true);
  assert.equal(matcher.matches(paid("150", "USD")), false);
  assert.equal(matcher.matches(paid("50", "EUR")), false);
  assert.equal(
    matcher.description,
    'Rtr_Paid with amount matching, currency "EUR"',
  );
  assert.equal(hasAttrs(Paid, {}).matches(paid("1")), true);
});

Deno.test("where() matches the messages its predicate accepts", () => {
  const big = where(
    (m) => m instanceof Paid && m.amount!.greaterThan(10),
    "big payments",
  );
  assert.equal(big.matches(paid("11")), true);
  assert.equal(big.matches(paid("10")), false);
  assert.equal(big.matches(new Other()), false);
  assert.equal(big.description, "big payments");
  assert.equal(big.byClassOnly, false);
  assert.deepEqual(big.classes, []);
  assert.equal(where(() => true).description, "messages matching a predicate");
  assert.equal(where((() => 1) as never).matches({}), true);
  assert.equal(where((() => 0) as never).matches({}), false);
});

// --- Bad input -------------------------------------------------------------------------

Deno.test("matchers reject things that are not classes with a TypeError", () => {
  assert.throws(() => exactly(undefined as never), {
    name: "TypeError",
    message: "Expected a class, got undefined",
  });
  assert.throws(() => isA(null as never), {
    name: "TypeError",
    message: "Expected a class, got null",
  });
  assert.throws(() => isA(Base, { except: [1 as never] }), {
    name: "TypeError",
    message: "Expected a class, got 1",
  });
  assert.throws(() => anyMessage({ except: ["Child" as never] }), {
    name: "TypeError",
    message: "Expected a class, got Child",
  });
  assert.throws(() => hasAttrs({} as never, {}), { name: "TypeError" });
  assert.throws(() => where("x" as never), {
    name: "TypeError",
    message: "where() needs a predicate function",
  });
});

Deno.test("on() rejects a bad target or a handler that is not a function with a TypeError", () => {
  class Owner {}
  const fn = handler("h");
  assert.throws(() => addRoute(Owner, 42, fn), {
    name: "TypeError",
    message: "on() takes a class or a matcher, got 42",
  });
  assert.throws(() => addRoute(Owner, "Paid", fn), {
    name: "TypeError",
    message: 'on() takes a class or a matcher, got "Paid"',
  });
  assert.throws(() => addRoute(Owner, {}, fn), {
    name: "TypeError",
    message: "on() takes a class or a matcher, got {}",
  });
  assert.throws(() => addRoute(Owner, [Base, null], fn), {
    name: "TypeError",
    message: "on() takes a class or a matcher, got null",
  });
  assert.throws(() => addRoute(Owner, [], fn), {
    name: "TypeError",
    message: "on() needs at least one target",
  });
  assert.throws(() => addRoute(Owner, Base, "handler"), {
    name: "TypeError",
    message: "on() needs a handler function",
  });
  assert.throws(() => addRoute(Owner, Base, undefined), {
    name: "TypeError",
    message: "on() needs a handler function",
  });
  assert.deepEqual(routesOf(Owner), []);
});

Deno.test("toMatchers() turns classes into exact matchers and keeps matchers as they are", () => {
  const matcher = isA(Base);
  const [first, second] = toMatchers([Child, matcher]);
  assert.equal(first?.description, "Child");
  assert.equal(first?.matches(new GrandChild()), false);
  assert.equal(second, matcher);
  assert.equal(toMatchers(Base).length, 1);
});

// --- Routing ---------------------------------------------------------------------------

Deno.test("a class target routes exactly that class, not its subclasses", () => {
  class Owner {}
  addRoute(Owner, Child, handler("child"));
  assert.deepEqual(names(handlersFor(Owner, new Child())), ["child"]);
  assert.deepEqual(names(handlersFor(Owner, new GrandChild())), []);
  assert.deepEqual(names(handlersFor(Owner, new Base())), []);
  assert.equal(handles(Owner, new Child()), true);
  assert.equal(handles(Owner, new GrandChild()), false);
});

Deno.test("every matching handler runs, in registration order", () => {
  class Owner {}
  addRoute(Owner, anyMessage(), handler("any"));
  addRoute(Owner, Child, handler("exact"));
  addRoute(Owner, isA(Base), handler("isA"));
  addRoute(Owner, Other, handler("other"));
  addRoute(Owner, Child, handler("exact again"));
  assert.deepEqual(names(handlersFor(Owner, new Child())), [
    "any",
    "exact",
    "isA",
    "exact again",
  ]);
  assert.deepEqual(names(handlersFor(Owner, new Other())), ["any", "other"]);
  assert.deepEqual(names(handlersFor(Owner, new GrandChild())), ["any", "isA"]);
});

Deno.test("an owner's ancestors' handlers run before its own", () => {
  class Parent {}
  class Owner extends Parent {}
  class Grand extends Owner {}
  addRoute(Grand, Child, handler("grand"));
  addRoute(Owner, Child, handler("owner"));
  addRoute(Parent, Child, handler("parent"));
  assert.deepEqual(names(handlersFor(Grand, new Child())), [
    "parent",
    "owner",
    "grand",
  ]);
  assert.deepEqual(names(handlersFor(Owner, new Child())), ["parent", "owner"]);
  assert.deepEqual(names(handlersFor(Parent, new Child())), ["parent"]);
});

Deno.test("a list of targets routes each of them to the handler", () => {
  class Owner {}
  addRoute(
    Owner,
    [Child, Other, hasAttrs(Paid, { currency: "USD" })],
    handler("listed"),
  );
  assert.deepEqual(names(handlersFor(Owner, new Child())), ["listed"]);
  assert.deepEqual(names(handlersFor(Owner, new Other())), ["listed"]);
  assert.deepEqual(names(handlersFor(Owner, paid("1", "USD"))), ["listed"]);
  assert.deepEqual(names(handlersFor(Owner, paid("1", "EUR"))), []);
  assert.deepEqual(names(handlersFor(Owner, new Base())), []);
});

Deno.test("a handler registered once runs once for a message that several of its targets match", () => {
  class Owner {}
  addRoute(Owner, [Child, isA(Base), anyMessage()], handler("once"));
  addRoute(Owner, Child, handler("next"));
  assert.deepEqual(names(handlersFor(Owner, new Child())), ["once", "next"]);
  assert.deepEqual(names(handlersFor(Owner, new Other())), ["once"]);
});

Deno.test("attribute and predicate matchers are decided per message, not per class", () => {
  class Owner {}
  addRoute(Owner, hasAttrs(Paid, { currency: "EUR" }), handler("eur"));
  addRoute(
    Owner,
    where((m) => m instanceof Paid && m.amount!.isZero()),
    handler("zero"),
  );
  addRoute(Owner, Paid, handler("paid"));
  assert.deepEqual(names(handlersFor(Owner, paid("1", "EUR"))), [
    "eur",
    "paid",
  ]);
  assert.deepEqual(names(handlersFor(Owner, paid("0", "USD"))), [
    "zero",
    "paid",
  ]);
  assert.deepEqual(names(handlersFor(Owner, paid("0", "EUR"))), [
    "eur",
    "zero",
    "paid",
  ]);
});

Deno.test("the per-class cache keeps classes apart", () => {
  class Owner {}
  addRoute(Owner, Child, handler("child"));
  addRoute(Owner, isA(Base, { except: [GrandChild] }), handler("base"));
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(names(handlersFor(Owner, new Child())), ["child", "base"]);
    assert.deepEqual(names(handlersFor(Owner, new GrandChild())), []);
    assert.deepEqual(names(handlersFor(Owner, new Base())), ["base"]);
  }
});

Deno.test("the per-class cache is invalidated when a handler is added later, also on an ancestor", () => {
  class Parent {}
  class Owner extends Parent {}
  addRoute(Owner, Child, handler("first"));
  assert.deepEqual(names(handlersFor(Owner, new Child())), ["first"]);
  addRoute(Owner, Child, handler("second"));
  assert.deepEqual(names(handlersFor(Owner, new Child())), ["first", "second"]);
  addRoute(Parent, isA(Base), handler("parent"));
  assert.deepEqual(names(handlersFor(Owner, new Child())), [
    "parent",
    "first",
    "second",
  ]);
  assert.deepEqual(names(handlersFor(Owner, new Base())), ["parent"]);
  addRoute(Owner, where(() => true), handler("all"));
  assert.deepEqual(names(handlersFor(Owner, new Base())), ["parent", "all"]);
});

Deno.test("routedClasses() lists the classes named by exact and attribute targets, once each", () => {
  class Owner {}
  addRoute(Owner, Child, handler("a"));
  addRoute(Owner, [Child, hasAttrs(Paid, {})], handler("b"));
  addRoute(Owner, [isA(Base), anyMessage(), where(() => true)], handler("c"));
  assert.deepEqual(routedClasses(Owner), [Child, Paid]);
});

// --- Through the public on() ---------------------------------------------------------------

Deno.test("on() makes the classes it routes on what rows of their type names read back as, before any instance is built", () => {
  // As in a fresh process: nothing has built a Rtr_Shipped or a Rtr_Ship.
  class Shipped extends Event.define("Rtr_Shipped", {}) {}
  class Ship extends Command.define("Rtr_Ship", {}) {}
  class Returned extends Event.define("Rtr_Returned", {}) {}
  assert.notEqual(new TypeRegistry().lookup("event", "Rtr_Shipped"), Shipped);
  class Shipping extends EventHandler {
    static {
      this.on([Shipped, hasAttrs(Returned, {})], () => {});
    }
  }
  class ShipHandler extends CommandHandler {
    static {
      this.on(Ship, () => {});
    }
  }
  assert.ok(Shipping && ShipHandler);
  assert.equal(new TypeRegistry().lookup("event", "Rtr_Shipped"), Shipped);
  assert.equal(new TypeRegistry().lookup("event", "Rtr_Returned"), Returned);
  assert.equal(new TypeRegistry().lookup("command", "Rtr_Ship"), Ship);
});

Deno.test("on(isA(…)) makes rows of the class it names and of its except classes read back as them, before any instance is built; readers still filter by no type", () => {
  // As in a fresh process: nothing has built a Rtr_Packed, a Rtr_Lost or a
  // Rtr_Dropped, and no service registered them.
  class Packed extends Event.define("Rtr_Packed", { box: attrs.string() }) {}
  class Lost extends Event.define("Rtr_Lost", {}) {}
  class Dropped extends Event.define("Rtr_Dropped", {}) {}
  const row = (eventType: string) => ({
    aggregateId: ID,
    sequenceNumber: 1,
    createdAt: new Date(),
    eventType,
    payload: eventType === "Rtr_Packed" ? '{"box":"b1"}' : "{}",
  });
  const seen: string[] = [];
  class Packing extends EventHandler {
    static {
      this.on(isA(Packed), (_h, e) => seen.push(`packed ${e.box}`));
      this.on(isA(Event, { except: [Lost] }), (_h, e) => {
        seen.push(`event ${e.constructor.name}`);
      });
      this.on(anyMessage<Event>({ except: [Dropped] }), (_h, e) => {
        seen.push(`message ${e.constructor.name}`);
      });
    }
  }
  const serializer = new MessageSerializer(new TypeRegistry());
  const routes = new EventRoutes([new Packing()]);
  for (const type of ["Rtr_Packed", "Rtr_Lost", "Rtr_Dropped"]) {
    deliver(routes, serializer.deserializeEvent(row(type)));
  }
  assert.deepEqual(seen, [
    "packed b1",
    "event Packed",
    "message Packed",
    "message Lost", // not left out: only Lost is
    "event Dropped",
  ]);
  // isA() and anyMessage() name no class: any stored type may be theirs
  assert.deepEqual(isA(Packed, { except: [Lost] }).classes, []);
  assert.equal(handledEventTypes([new Packing()]), undefined);
});

Deno.test("EventHandler.on() routes events to handlers typed by their target", () => {
  const seen: string[] = [];
  class Ledger extends EventHandler {
    static {
      this.on(Paid, (ledger, event) => {
        assertType<Equal<typeof ledger, Ledger>>();
        assertType<Equal<typeof event, Paid>>();
        seen.push(`paid ${event.amount}`);
      });
      this.on([Paid, Refunded], (_ledger, event) => {
        assertType<Equal<typeof event, Paid | Refunded>>();
        seen.push(`money ${event.amount}`);
      });
      this.on(hasAttrs(Refunded, { amount: Decimal.from(5) }), (_l, event) => {
        assertType<Equal<typeof event, Refunded>>();
        seen.push("five back");
      });
    }
  }
  for (
    const event of [
      paid("1"),
      new Refunded({
        aggregateId: ID,
        sequenceNumber: 2,
        amount: Decimal.from("5.0"),
      }),
    ]
  ) {
    for (
      const fn of handlersFor<(h: Ledger, e: Event) => void>(Ledger, event)
    ) {
      fn(new Ledger(), event);
    }
  }
  assert.deepEqual(seen, ["paid 1", "money 1", "money 5.0", "five back"]);
  assert.throws(() => Ledger.on("Paid" as never, () => {}), {
    name: "TypeError",
  });
});

Deno.test("TargetMessage gives the message type a target matches", () => {
  assertType<Equal<TargetMessage<typeof Paid>, Paid>>();
  assertType<
    Equal<
      TargetMessage<readonly [typeof Paid, typeof Refunded]>,
      Paid | Refunded
    >
  >();
  assertType<
    Equal<TargetMessage<ReturnType<typeof isA<typeof Child>>>, Child>
  >();
  const matcher = hasAttrs(Paid, { currency: "EUR" });
  assertType<Equal<TargetMessage<typeof matcher>, Paid>>();
  // @ts-expect-error Paid has no attribute "colour"
  hasAttrs(Paid, { colour: "red" });
  assert.equal(matcher.matches(paid("1")), true);
});
