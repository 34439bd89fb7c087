/**
 * Events (src/core/event.ts): declaration, base attributes, payload, the
 * inferred TypeScript types, and upcasters.
 */
import assert from "node:assert/strict";
import {
  Attributed,
  attrs,
  CalendarDate,
  DeserializeEventError,
  Event,
  type SerializedEvent,
  ValueObject,
} from "@sequent/core";
import { MessageSerializer } from "@sequent/core/internal";
import { EVENT_BASE_KEYS, upcastersOf } from "../../src/core/event.ts";

const ID = "3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f";

/** True when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;
function assertType<_T extends true>(): void {}

class TitleChanged extends Event.define("Evt_TitleChanged", {
  title: attrs.string().required(),
  subtitle: attrs.string(),
  publishedOn: attrs.date(),
}) {}

function row(
  eventType: string,
  payload: string,
  sequenceNumber = 1,
): SerializedEvent {
  return {
    aggregateId: ID,
    sequenceNumber,
    createdAt: new Date("2026-01-01T00:00:00Z"),
    eventType,
    payload,
  };
}

// --- Declaration and base attributes -------------------------------------------

Deno.test("Event.define() gives a class with the type name, the class name and base plus own attributes", () => {
  assert.equal(TitleChanged.typeName, "Evt_TitleChanged");
  assert.equal(TitleChanged.name, "TitleChanged");
  assert.equal(Object.getPrototypeOf(TitleChanged).name, "Evt_TitleChanged");
  assert.deepEqual(Object.keys(TitleChanged.shape), [
    "aggregateId",
    "sequenceNumber",
    "createdAt",
    "title",
    "subtitle",
    "publishedOn",
  ]);
  assert.equal(TitleChanged.shape.aggregateId?.isRequired, true);
  assert.equal(TitleChanged.shape.sequenceNumber?.isRequired, true);
  assert.equal(TitleChanged.shape.createdAt?.isRequired, false);
});

Deno.test("an event carries aggregateId and sequenceNumber, and createdAt defaults to now", () => {
  const before = Date.now();
  const event = new TitleChanged({
    aggregateId: ID,
    sequenceNumber: 4,
    title: "Hi",
  });
  const after = Date.now();
  assert.ok(event instanceof Event);
  assert.ok(event instanceof Attributed);
  assert.equal(event.aggregateId, ID);
  assert.equal(event.sequenceNumber, 4);
  assert.ok(event.createdAt instanceof Date);
  assert.ok(event.createdAt.getTime() >= before);
  assert.ok(event.createdAt.getTime() <= after);
  assert.equal(event.title, "Hi");
  assert.equal(event.subtitle, undefined);
});

Deno.test("an event keeps the createdAt it is given", () => {
  const at = new Date("2020-02-02T02:02:02Z");
  const event = new TitleChanged({
    aggregateId: ID,
    sequenceNumber: 1,
    createdAt: at,
    title: "Hi",
  });
  assert.equal(event.createdAt.getTime(), at.getTime());
  // its own copy: changing the given Date afterwards changes nothing
  at.setUTCFullYear(2030);
  assert.equal(event.createdAt.toISOString(), "2020-02-02T02:02:02.000Z");
});

Deno.test("an event's base attributes are validated: aggregateId a UUID, sequenceNumber an integer", () => {
  const event = new TitleChanged({
    aggregateId: "not-a-uuid",
    sequenceNumber: 1.5,
    title: "Hi",
  });
  assert.deepEqual(event.validate(), {
    aggregateId: ["is not a valid UUID"],
    sequenceNumber: ["is not a valid integer"],
  });
  assert.deepEqual(
    TitleChanged.fromParams({ title: "Hi" }).validate(),
    {
      aggregateId: ["can't be blank"],
      sequenceNumber: ["can't be blank"],
    },
  );
});

Deno.test("payload() holds the event's own attributes without aggregateId, sequenceNumber and createdAt", () => {
  const event = new TitleChanged({
    aggregateId: ID,
    sequenceNumber: 2,
    title: "Hi",
    publishedOn: CalendarDate.of(2026, 3, 1),
  });
  assert.deepEqual(event.payload(), {
    title: "Hi",
    publishedOn: "2026-03-01",
  });
  assert.deepEqual([...EVENT_BASE_KEYS], [
    "aggregateId",
    "sequenceNumber",
    "createdAt",
  ]);
});

Deno.test("payload() refuses an event missing a required attribute", () => {
  const event = TitleChanged.fromParams({ aggregateId: ID, sequenceNumber: 1 });
  assert.throws(() => event.payload(), {
    name: "TypeError",
    message:
      'Cannot serialize Evt_TitleChanged: required attribute "title" is missing',
  });
});

Deno.test("an Event subclass not declared with Event.define() cannot be constructed", () => {
  class Raw extends Event {}
  assert.throws(
    () => new Raw({ aggregateId: ID, sequenceNumber: 1 }),
    {
      name: "TypeError",
      message: "Raw must be declared with Event.define(typeName, attributes)",
    },
  );
});

Deno.test("a subclass of a declared event keeps its type name and adds methods", () => {
  class Renamed extends Event.define("Evt_Renamed", { name: attrs.string() }) {
    shout(): string {
      return (this.name ?? "").toUpperCase();
    }
  }
  const event = new Renamed({ aggregateId: ID, sequenceNumber: 1, name: "x" });
  assert.equal(Renamed.typeName, "Evt_Renamed");
  assert.equal(event.shout(), "X");
  assert.deepEqual(event.payload(), { name: "x" });
});

// --- Types -------------------------------------------------------------------------

Deno.test("the fields' TypeScript types are inferred: required T, optional T | undefined", () => {
  class Typed extends Event.define("Evt_Typed", {
    title: attrs.string().required(),
    count: attrs.integer(),
    day: attrs.date().required(),
    tags: attrs.array(attrs.string()),
    kind: attrs.oneOf("a", "b"),
  }) {}
  const event = new Typed({
    aggregateId: ID,
    sequenceNumber: 1,
    title: "x",
    day: CalendarDate.of(2026, 1, 1),
  });
  assertType<Equal<typeof event.title, string>>();
  assertType<Equal<typeof event.count, number | undefined>>();
  assertType<Equal<typeof event.day, CalendarDate>>();
  assertType<Equal<typeof event.tags, readonly string[] | undefined>>();
  assertType<Equal<typeof event.kind, "a" | "b" | undefined>>();
  assertType<Equal<typeof event.aggregateId, string>>();
  assertType<Equal<typeof event.sequenceNumber, number>>();
  assertType<Equal<typeof event.createdAt, Date>>();
  assert.equal(event.count, undefined);
});

Deno.test("a missing required attribute or a value of the wrong type does not compile", () => {
  const base = { aggregateId: ID, sequenceNumber: 1 };
  // @ts-expect-error title is required
  const missing = new TitleChanged({ ...base });
  assert.deepEqual(missing.validate(), { title: ["can't be blank"] });
  // @ts-expect-error title must be a string
  const wrong = new TitleChanged({ ...base, title: 42 });
  assert.deepEqual(wrong.validate(), { title: ["is not a valid string"] });
  // @ts-expect-error sequenceNumber is required
  const noSequence = new TitleChanged({ aggregateId: ID, title: "x" });
  assert.deepEqual(noSequence.validate(), {
    sequenceNumber: ["can't be blank"],
  });
  // @ts-expect-error publishedOn is a CalendarDate, not text
  const text = new TitleChanged({ ...base, title: "x", publishedOn: "2026" });
  assert.deepEqual(text.validate(), { publishedOn: ["is not a valid date"] });
  assert.throws(
    // @ts-expect-error titel is not an attribute
    () => new TitleChanged({ ...base, title: "x", titel: "y" }),
    { name: "UnknownAttributeError" },
  );
});

Deno.test("an event's fields are read-only to TypeScript", () => {
  const event = new TitleChanged({
    aggregateId: ID,
    sequenceNumber: 1,
    title: "x",
  });
  const attempt = () => {
    // @ts-expect-error title is read-only
    event.title = "changed";
  };
  assert.equal(typeof attempt, "function");
});

// --- Upcasters -------------------------------------------------------------------

Deno.test("upcasters run in registration order on the stored payload before it is read", () => {
  const calls: string[] = [];
  class NameSet extends Event.define("Evt_NameSet", {
    fullName: attrs.string().required(),
    version: attrs.integer().required(),
  }) {
    static {
      this.upcast((p) => {
        calls.push(`first ${JSON.stringify(p)}`);
        const { name, ...rest } = p;
        return { ...rest, fullName: name ?? null, version: 1 };
      });
      this.upcast((p) => {
        calls.push(`second ${JSON.stringify(p)}`);
        return { ...p, version: (p.version as number) + 1 };
      });
    }
  }
  const event = new MessageSerializer().deserializeEvent(
    row("Evt_NameSet", '{"name":"Ben"}'),
  );
  assert.ok(event instanceof NameSet);
  assert.equal(event.fullName, "Ben");
  assert.equal(event.version, 2);
  assert.deepEqual(calls, [
    'first {"name":"Ben"}',
    'second {"fullName":"Ben","version":1}',
  ]);
  assert.equal(upcastersOf(NameSet).length, 2);
});

Deno.test("without its upcaster an old payload fails to read; with it, it reads", () => {
  class Counted extends Event.define("Evt_Counted", {
    count: attrs.integer().required(),
  }) {}
  const old = row("Evt_Counted", '{"count":"5"}');
  assert.throws(() => new MessageSerializer().deserializeEvent(old), {
    name: "DeserializeEventError",
    message:
      'Cannot read event 1 of aggregate "3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f" (Evt_Counted): attribute "count" is not an integer',
  });
  Counted.upcast((p) => ({ ...p, count: Number(p.count) }));
  const event = new MessageSerializer().deserializeEvent(old) as Counted;
  assert.equal(event.count, 5);
});

Deno.test("a failing upcaster gives DeserializeEventError naming the event and the upcaster", () => {
  const boom = new Error("boom");
  class Fragile extends Event.define("Evt_Fragile", { x: attrs.string() }) {
    static {
      this.upcast((p) => p);
      this.upcast(() => {
        throw boom;
      });
    }
  }
  assert.equal(Fragile.typeName, "Evt_Fragile");
  assert.throws(
    () => new MessageSerializer().deserializeEvent(row("Evt_Fragile", "{}", 9)),
    (error: unknown) => {
      assert.ok(error instanceof DeserializeEventError);
      assert.equal(error.aggregateId, ID);
      assert.equal(error.sequenceNumber, 9);
      assert.equal(error.eventType, "Evt_Fragile");
      assert.equal(
        error.message,
        `Cannot read event 9 of aggregate "${ID}" (Evt_Fragile): upcaster 2 failed: boom`,
      );
      assert.equal(error.cause, boom);
      return true;
    },
  );
});

Deno.test("an upcaster that returns no JSON object gives DeserializeEventError", () => {
  class Broken extends Event.define("Evt_Broken", { x: attrs.string() }) {
    static {
      this.upcast(() => [1] as never);
    }
  }
  assert.equal(Broken.typeName, "Evt_Broken");
  assert.throws(
    () => new MessageSerializer().deserializeEvent(row("Evt_Broken", "{}")),
    {
      name: "DeserializeEventError",
      message:
        `Cannot read event 1 of aggregate "${ID}" (Evt_Broken): upcaster 1 did not return a JSON object`,
    },
  );
});

Deno.test("upcast() rejects something that is not a function", () => {
  class Plain extends Event.define("Evt_Plain", {}) {}
  assert.throws(() => Plain.upcast("rename" as never), {
    name: "TypeError",
    message: "upcast() needs a function",
  });
  assert.deepEqual(upcastersOf(Plain), []);
});

Deno.test("upcasters belong to their event type only", () => {
  class One extends Event.define("Evt_One", { v: attrs.integer() }) {
    static {
      this.upcast((p) => ({ ...p, v: 1 }));
    }
  }
  class Two extends Event.define("Evt_Two", { v: attrs.integer() }) {}
  assert.equal(upcastersOf(One).length, 1);
  assert.equal(upcastersOf(Two).length, 0);
  const serializer = new MessageSerializer();
  const two = serializer.deserializeEvent(row("Evt_Two", '{"v":7}')) as Two;
  assert.equal(two.v, 7);
  const one = serializer.deserializeEvent(row("Evt_One", '{"v":7}')) as One;
  assert.equal(one.v, 1);
});

Deno.test("upcasters are applied to payloads with nested value objects before they are read", () => {
  class Place extends ValueObject.define({ city: attrs.string().required() }) {}
  class Moved extends Event.define("Evt_Moved", {
    to: attrs.valueObject(Place).required(),
  }) {
    static {
      this.upcast(({ city, ...rest }) => ({
        ...rest,
        to: { city: city ?? null },
      }));
    }
  }
  const event = new MessageSerializer().deserializeEvent(
    row("Evt_Moved", '{"city":"Utrecht"}'),
  );
  assert.ok(event instanceof Moved);
  assert.ok(event.to instanceof Place);
  assert.equal(event.to.city, "Utrecht");
});

// --- Events own their values --------------------------------------------------

class Evt_Tagged extends Event.define("Evt_Tagged", {
  tags: attrs.array(attrs.string()),
  data: attrs.json(),
  at: attrs.dateTime(),
}) {}

Deno.test("an event owns its values: changing the caller's array, JSON object or Date afterwards changes nothing in it", () => {
  const tags = ["a"];
  const data = { x: 1, list: [1] };
  const at = new Date("2024-01-01T00:00:00Z");
  const event = new Evt_Tagged({
    aggregateId: ID,
    sequenceNumber: 1,
    tags,
    data,
    at,
  });
  tags.push("b");
  data.x = 2;
  data.list.push(2);
  at.setUTCFullYear(2030);
  assert.deepEqual(event.tags, ["a"]);
  assert.deepEqual(event.data, { x: 1, list: [1] });
  assert.equal(event.at?.toISOString(), "2024-01-01T00:00:00.000Z");
  assert.equal(
    JSON.stringify(event.payload()),
    '{"tags":["a"],"data":{"x":1,"list":[1]},"at":"2024-01-01T00:00:00.000Z"}',
  );
});

Deno.test("an event's arrays and JSON values are frozen, deeply; the caller's are not", () => {
  const tags = ["a"];
  const data = { nested: { list: [1] } };
  const event = new Evt_Tagged({
    aggregateId: ID,
    sequenceNumber: 1,
    tags,
    data,
  });
  assert.ok(Object.isFrozen(event.tags));
  const json = event.data as { nested: { list: number[] } };
  assert.ok(Object.isFrozen(json) && Object.isFrozen(json.nested));
  assert.ok(Object.isFrozen(json.nested.list));
  assert.throws(() => (event.tags as string[]).push("b"), TypeError);
  assert.throws(() => json.nested.list.push(2), TypeError);
  assert.deepEqual(event.tags, ["a"]);
  assert.ok(!Object.isFrozen(tags) && !Object.isFrozen(data));
  assert.ok(
    !Object.isFrozen(data.nested) && !Object.isFrozen(data.nested.list),
  );
  tags.push("b"); // still the caller's to change
  assert.deepEqual(tags, ["a", "b"]);
});

Deno.test("an event read back from storage has frozen arrays and JSON values, like a new one", () => {
  const serializer = new MessageSerializer();
  const stored = serializer.serializeEvent(
    new Evt_Tagged({
      aggregateId: ID,
      sequenceNumber: 1,
      tags: ["a"],
      data: { nested: { list: [1] } },
    }),
  );
  const back = serializer.deserializeEvent(stored) as Evt_Tagged;
  assert.deepEqual(back.tags, ["a"]);
  assert.ok(Object.isFrozen(back.tags));
  const json = back.data as { nested: { list: number[] } };
  assert.ok(Object.isFrozen(json) && Object.isFrozen(json.nested.list));
  assert.throws(() => (back.tags as string[]).push("b"), TypeError);
});
