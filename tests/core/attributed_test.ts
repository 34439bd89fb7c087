/**
 * The Attributed base class: construction, validation, value equality,
 * attributes(), copy(), toJSON(), and the strict JSON round trip of
 * src/core/attributed.ts.
 */
import assert from "node:assert/strict";
import {
  Attributed,
  attrs,
  CalendarDate,
  Decimal,
  Event,
  SequentError,
  UnknownAttributeError,
  type ValidationErrors,
  ValueObject,
} from "@sequent/core";
import { MessageSerializer } from "@sequent/core/internal";
import {
  AttributeReadError,
  attributesEqualExcept,
  attributesFromJson,
  attributesToJson,
} from "../../src/core/attributed.ts";

const ID = "3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f";

class Address extends ValueObject.define({
  street: attrs.string().required(),
  city: attrs.string(),
}) {}

class Line extends ValueObject.define({
  amount: attrs.decimal().required(),
  due: attrs.date(),
}) {}

class Sample extends ValueObject.define({
  name: attrs.string(),
  count: attrs.integer(),
  ratio: attrs.float(),
  active: attrs.boolean(),
  price: attrs.decimal(),
  day: attrs.date(),
  at: attrs.dateTime(),
  ref: attrs.uuid(),
  level: attrs.oneOf("low", "high"),
  meta: attrs.json(),
  address: attrs.valueObject(Address),
  lines: attrs.array(attrs.valueObject(Line)),
  prices: attrs.array(attrs.decimal()),
  days: attrs.array(attrs.date()),
  metas: attrs.array(attrs.json()),
}) {}

/** The same shape as Address, in another class. */
class Location extends ValueObject.define({
  street: attrs.string().required(),
  city: attrs.string(),
}) {}

class Invoiced extends Event.define("Attd_Invoiced", {
  total: attrs.decimal().required(),
  due: attrs.date().required(),
  address: attrs.valueObject(Address).required(),
  lines: attrs.array(attrs.valueObject(Line)).required(),
  sentAt: attrs.dateTime(),
  note: attrs.string(),
}) {}

function full(): Sample {
  return new Sample({
    name: "n",
    count: 3,
    ratio: 0.5,
    active: true,
    price: Decimal.from("0.10"),
    day: CalendarDate.of(2026, 2, 28),
    at: new Date("2026-02-28T12:34:56.789Z"),
    ref: ID,
    level: "high",
    meta: { tags: ["a", null], n: 1 },
    address: new Address({ street: "Main", city: "Utrecht" }),
    lines: [
      new Line({
        amount: Decimal.from("1.50"),
        due: CalendarDate.of(2026, 3, 1),
      }),
      new Line({ amount: Decimal.from("-2") }),
    ],
    prices: [Decimal.from("0.1"), Decimal.from("0.2")],
    days: [CalendarDate.of(2024, 2, 29)],
    metas: [null, 1, { a: [] }],
  });
}

// --- Construction -------------------------------------------------------------

Deno.test("the constructor assigns every declared attribute, undefined when not given", () => {
  const value = new Sample({ name: "x", count: 2 });
  assert.equal(value.name, "x");
  assert.equal(value.count, 2);
  assert.equal(value.price, undefined);
  assert.equal(Object.hasOwn(value, "price"), true);
  assert.ok(value instanceof Attributed);
  assert.ok(value instanceof ValueObject);
});

Deno.test("the constructor rejects an unknown attribute with UnknownAttributeError naming it", () => {
  assert.throws(
    () => new Address({ street: "Main", zip: "1234" } as never),
    (error: unknown) => {
      assert.ok(error instanceof UnknownAttributeError);
      assert.ok(error instanceof SequentError);
      assert.equal(error.attribute, "zip");
      assert.equal(error.messageType, "Address");
      assert.equal(error.message, 'Address has no attribute "zip"');
      return true;
    },
  );
});

Deno.test("the constructor names an event's type name in UnknownAttributeError", () => {
  assert.throws(
    () =>
      new Invoiced({
        aggregateId: ID,
        sequenceNumber: 1,
        totl: Decimal.from(1),
      } as never),
    {
      name: "UnknownAttributeError",
      message: 'Attd_Invoiced has no attribute "totl"',
    },
  );
});

Deno.test("fromParams() called on a subclass gives an instance of that subclass", () => {
  const value = Address.fromParams({ street: "Main" });
  assert.ok(value instanceof Address);
  assert.equal(value.street, "Main");
});

// --- Validation ---------------------------------------------------------------

Deno.test("validate() returns the errors by field path and isValid() agrees", () => {
  const invalid = new Address({ street: "" });
  assert.deepEqual(invalid.validate(), { street: ["can't be blank"] });
  assert.equal(invalid.isValid(), false);
  const valid = new Address({ street: "Main" });
  assert.deepEqual(valid.validate(), {});
  assert.equal(valid.isValid(), true);
});

Deno.test("validate() can be overridden to add checks spanning fields", () => {
  class Period extends ValueObject.define({
    from: attrs.date().required(),
    until: attrs.date().required(),
  }) {
    override validate(): ValidationErrors {
      const errors = { ...super.validate() };
      if (this.from && this.until && this.until.isBefore(this.from)) {
        errors.until = [...(errors.until ?? []), "must not be before from"];
      }
      return errors;
    }
  }
  const bad = new Period({
    from: CalendarDate.of(2026, 5, 2),
    until: CalendarDate.of(2026, 5, 1),
  });
  assert.deepEqual(bad.validate(), { until: ["must not be before from"] });
  assert.equal(bad.isValid(), false);
  assert.deepEqual(
    Period.fromParams({ from: "2026-05-01" }).validate(),
    { until: ["can't be blank"] },
  );
});

// --- Equality -----------------------------------------------------------------

Deno.test("equals() compares every attribute by value", () => {
  assert.equal(full().equals(full()), true);
  assert.equal(full().equals(full().copy({ count: 4 })), false);
  assert.equal(full().equals(full().copy({ name: undefined })), false);
  const value = full();
  assert.equal(value.equals(value), true);
});

Deno.test("equals() treats decimals of equal value as equal: 1.0 equals 1", () => {
  const a = new Sample({ price: Decimal.from("1.0") });
  const b = new Sample({ price: Decimal.from("1") });
  assert.equal(a.equals(b), true);
  assert.equal(a.equals(new Sample({ price: Decimal.from("1.01") })), false);
  assert.equal(
    new Sample({ prices: [Decimal.from("2.50")] }).equals(
      new Sample({ prices: [Decimal.from("2.5")] }),
    ),
    true,
  );
});

Deno.test("equals() compares calendar dates and date-times by value, not identity", () => {
  assert.equal(
    new Sample({ day: CalendarDate.of(2026, 1, 1) }).equals(
      new Sample({ day: CalendarDate.parse("2026-01-01") }),
    ),
    true,
  );
  assert.equal(
    new Sample({ at: new Date("2026-01-01T00:00:00Z") }).equals(
      new Sample({ at: new Date("2026-01-01T01:00:00+01:00") }),
    ),
    true,
  );
  assert.equal(
    new Sample({ at: new Date(0) }).equals(new Sample({ at: new Date(1) })),
    false,
  );
});

Deno.test("equals() compares nested value objects, arrays and JSON deeply", () => {
  const a = new Sample({
    address: new Address({ street: "Main" }),
    lines: [new Line({ amount: Decimal.from("1.0") })],
    meta: { x: [1, { y: 2 }] },
  });
  const b = new Sample({
    address: new Address({ street: "Main" }),
    lines: [new Line({ amount: Decimal.from("1") })],
    meta: { x: [1, { y: 2 }] },
  });
  assert.equal(a.equals(b), true);
  assert.equal(
    a.equals(b.copy({ address: new Address({ street: "Side" }) })),
    false,
  );
  assert.equal(a.equals(b.copy({ lines: [] })), false);
  assert.equal(
    a.equals(b.copy({ lines: [...b.lines!, ...b.lines!] })),
    false,
  );
  assert.equal(a.equals(b.copy({ meta: { x: [1, { y: 3 }] } })), false);
});

Deno.test("equals() is false between different classes, even with the same attributes", () => {
  const address = new Address({ street: "Main" });
  assert.equal(address.equals(new Location({ street: "Main" })), false);
  class SpecialAddress extends Address {}
  assert.equal(address.equals(new SpecialAddress({ street: "Main" })), false);
  assert.equal(new SpecialAddress({ street: "Main" }).equals(address), false);
  assert.equal(address.equals({ street: "Main" }), false);
  assert.equal(address.equals(null), false);
  assert.equal(address.equals(undefined), false);
});

Deno.test("equals() tolerates invalid values, including invalid array items", () => {
  const a = new Sample({ price: "1" as never, prices: ["1", null] as never });
  const b = new Sample({ price: "1" as never, prices: ["1", null] as never });
  assert.equal(a.equals(b), true);
  const c = new Sample({ price: "1" as never, prices: ["2", null] as never });
  assert.equal(a.equals(c), false);
  const d = new Sample({ prices: [Decimal.from(1)] });
  const e = new Sample({ prices: ["1"] as never });
  assert.equal(d.equals(e), false);
  assert.equal(e.equals(d), false);
});

Deno.test("attributesEqualExcept() compares all attributes but the skipped ones", () => {
  const a = new Address({ street: "Main", city: "A" });
  const b = new Address({ street: "Main", city: "B" });
  assert.equal(attributesEqualExcept(a, b, new Set(["city"])), true);
  assert.equal(attributesEqualExcept(a, b, new Set()), false);
  assert.equal(
    attributesEqualExcept(
      a,
      new Location({ street: "Main", city: "A" }),
      new Set(),
    ),
    false,
  );
});

// --- attributes(), copy() -------------------------------------------------------

Deno.test("attributes() gives the declared attributes as a fresh plain object", () => {
  const address = new Address({ street: "Main" });
  const values = address.attributes();
  assert.deepEqual(values, { street: "Main", city: undefined });
  assert.equal(Object.getPrototypeOf(values), Object.prototype);
  (values as { street: string }).street = "changed";
  assert.equal(address.street, "Main");
});

Deno.test("attributes() of an event includes its base attributes", () => {
  const at = new Date("2026-01-01T00:00:00Z");
  const event = new Invoiced({
    aggregateId: ID,
    sequenceNumber: 7,
    createdAt: at,
    total: Decimal.from(1),
    due: CalendarDate.of(2026, 1, 1),
    address: new Address({ street: "Main" }),
    lines: [],
  });
  const values = event.attributes();
  assert.deepEqual(Object.keys(values), [
    "aggregateId",
    "sequenceNumber",
    "createdAt",
    "total",
    "due",
    "address",
    "lines",
    "sentAt",
    "note",
  ]);
  assert.equal(values.aggregateId, ID);
  assert.equal(values.sequenceNumber, 7);
  // the event's own copy of the given date (see "an event owns …" tests)
  assert.equal(values.createdAt.getTime(), at.getTime());
});

Deno.test("copy() changes the given attributes and keeps the class and the rest", () => {
  const original = new Address({ street: "Main", city: "Utrecht" });
  const moved = original.copy({ city: "Delft" });
  assert.ok(moved instanceof Address);
  assert.notEqual(moved, original);
  assert.equal(moved.street, "Main");
  assert.equal(moved.city, "Delft");
  assert.equal(original.city, "Utrecht");
  assert.equal(original.copy().equals(original), true);
  assert.equal(original.copy({ city: undefined }).city, undefined);
});

Deno.test("copy() rejects an attribute the class does not declare", () => {
  assert.throws(
    () => new Address({ street: "Main" }).copy({ zip: "1" } as never),
    (error: unknown) => {
      assert.ok(error instanceof UnknownAttributeError);
      assert.equal(error.attribute, "zip");
      assert.equal(error.messageType, "Address");
      return true;
    },
  );
});

Deno.test("copy() keeps failed conversions of the fields it does not replace", () => {
  class Person extends ValueObject.define({
    age: attrs.integer(),
    name: attrs.string(),
    tags: attrs.array(attrs.integer()),
  }) {}
  const parsed = Person.fromParams({ age: "forty", tags: ["1", "x"] });
  assert.deepEqual(parsed.copy({ name: "Ben" }).validate(), {
    age: ["is not a valid integer"],
    "tags.1": ["is not a valid integer"],
  });
  assert.deepEqual(parsed.copy({ age: 40 }).validate(), {
    "tags.1": ["is not a valid integer"],
  });
  assert.deepEqual(parsed.copy({ age: 40, tags: [1] }).validate(), {});
});

Deno.test("copy() owns its values: changing a copy's array, JSON or date never changes the original", () => {
  const original = full();
  const copied = original.copy({ name: "other" });
  assert.ok(Object.isFrozen(copied.prices) && Object.isFrozen(copied.meta));
  assert.throws(() => (copied.prices as Decimal[]).push(Decimal.from(1)));
  assert.throws(() => {
    (copied.meta as { n: number }).n = 2;
  }, TypeError);
  copied.at?.setUTCFullYear(2030);
  assert.equal(original.at?.toISOString(), "2026-02-28T12:34:56.789Z");
  assert.equal(original.prices?.length, 2);
  assert.deepEqual(original.meta, { tags: ["a", null], n: 1 });
  assert.ok(copied.equals(original.copy({ name: "other", at: copied.at })));
  // the values a copy is given are its own too
  const tags = [CalendarDate.of(2026, 1, 1)];
  const withDays = original.copy({ days: tags });
  tags.push(CalendarDate.of(2026, 1, 2));
  assert.equal(withDays.days?.length, 1);
  assert.ok(!Object.isFrozen(tags));
});

Deno.test("an instance owns its values deeply: arrays of value objects, nested arrays and JSON objects are copied and frozen", () => {
  class Grid extends ValueObject.define({
    rows: attrs.array(attrs.array(attrs.integer())),
    lines: attrs.array(attrs.valueObject(Line)),
    address: attrs.valueObject(Address),
    metas: attrs.array(attrs.json()),
  }) {}
  const rows = [[1, 2], [3]];
  const line = new Line({ amount: Decimal.from(1) });
  const address = new Address({ street: "Main" });
  const meta = { deep: { list: [1] } };
  const grid = new Grid({ rows, lines: [line], address, metas: [meta] });
  // the caller's values: neither shared nor frozen
  (rows[0] as number[]).push(9);
  meta.deep.list.push(9);
  assert.ok(!Object.isFrozen(rows[0]) && !Object.isFrozen(line));
  assert.ok(!Object.isFrozen(address) && !Object.isFrozen(meta.deep));
  assert.deepEqual(grid.rows, [[1, 2], [3]]);
  assert.deepEqual(grid.metas, [{ deep: { list: [1] } }]);
  // the instance's values: its own copies, frozen all the way down
  assert.notEqual(grid.lines?.[0], line);
  assert.ok(grid.lines?.[0] instanceof Line && grid.lines[0].equals(line));
  assert.ok(grid.address instanceof Address && grid.address.equals(address));
  for (
    const frozen of [
      grid.rows,
      grid.rows?.[0],
      grid.lines,
      grid.lines?.[0],
      grid.address,
      grid.metas?.[0],
      (grid.metas?.[0] as { deep: object }).deep,
    ]
  ) {
    assert.ok(Object.isFrozen(frozen));
  }
  assert.throws(() => {
    (grid.address as { street: string }).street = "Other";
  }, TypeError);
  assert.equal(grid.address?.street, "Main");
  assert.ok(grid.isValid());
});

/** A value object that may hold another of its class. */
interface Linked extends ValueObject {
  readonly next: Linked | undefined;
}

Deno.test("a value object inside itself is kept, not copied without end, and fails validation", () => {
  // the thunk states its type: TypeScript cannot infer it here (TS2506)
  class Node extends ValueObject.define({
    next: attrs.valueObject((): abstract new (init: never) => Linked => Node),
  }) {}
  const loop = new Node({});
  (loop as { next: unknown }).next = loop;
  const holder = new Node({ next: loop });
  assert.ok(holder.next instanceof Node);
  assert.deepEqual(Object.values(holder.validate()), [[
    "nests more than 100 levels deep",
  ]]);
});

// --- toJSON() -------------------------------------------------------------------

Deno.test("toJSON() writes decimals exactly, dates as ISO text and nested values as objects, leaving out undefined", () => {
  assert.deepEqual(full().toJSON(), {
    name: "n",
    count: 3,
    ratio: 0.5,
    active: true,
    price: "0.10",
    day: "2026-02-28",
    at: "2026-02-28T12:34:56.789Z",
    ref: ID,
    level: "high",
    meta: { tags: ["a", null], n: 1 },
    address: { street: "Main", city: "Utrecht" },
    lines: [{ amount: "1.50", due: "2026-03-01" }, { amount: "-2" }],
    prices: ["0.1", "0.2"],
    days: ["2024-02-29"],
    metas: [null, 1, { a: [] }],
  });
  assert.deepEqual(new Sample({}).toJSON(), {});
  assert.equal(
    JSON.stringify(new Address({ street: "Main" })),
    '{"street":"Main"}',
  );
});

Deno.test("toJSON() of an event includes its base attributes", () => {
  const event = new Invoiced({
    aggregateId: ID,
    sequenceNumber: 2,
    createdAt: new Date("2026-01-01T00:00:00Z"),
    total: Decimal.from("10.00"),
    due: CalendarDate.of(2026, 1, 31),
    address: new Address({ street: "Main" }),
    lines: [],
  });
  assert.deepEqual(event.toJSON(), {
    aggregateId: ID,
    sequenceNumber: 2,
    createdAt: "2026-01-01T00:00:00.000Z",
    total: "10.00",
    due: "2026-01-31",
    address: { street: "Main" },
    lines: [],
  });
});

Deno.test("toJSON() refuses an instance with a missing required value or a value of the wrong type", () => {
  assert.throws(() => new Address({ street: undefined as never }).toJSON(), {
    name: "TypeError",
    message: 'Cannot serialize Address: required attribute "street" is missing',
  });
  assert.throws(() => new Sample({ count: "3" as never }).toJSON(), {
    name: "TypeError",
    message:
      'Cannot serialize Sample: attribute "count" is not a valid integer',
  });
});

Deno.test("toJSON() refuses an invalid array item or nested value, naming the attribute", () => {
  assert.throws(
    () => new Sample({ prices: [Decimal.from(1), "2"] as never }).toJSON(),
    {
      name: "TypeError",
      message:
        'Cannot serialize Sample: attribute "prices": item 1 is not a valid decimal',
    },
  );
  assert.throws(
    () =>
      new Sample({ address: new Address({ street: null as never }) }).toJSON(),
    {
      name: "TypeError",
      message:
        'Cannot serialize Sample: attribute "address": Cannot serialize Address: required attribute "street" is missing',
    },
  );
});

// --- JSON round trip -------------------------------------------------------------

Deno.test("attributesFromJson() gives back values of the declared types that equal the originals", () => {
  const original = full();
  const json = JSON.parse(JSON.stringify(attributesToJson(original)));
  const values = attributesFromJson(Sample, json);
  const back = new Sample(values);
  assert.equal(back.equals(original), true);
  assert.ok(back.day instanceof CalendarDate);
  assert.equal(back.day.toString(), "2026-02-28");
  assert.ok(back.price instanceof Decimal);
  assert.equal(back.price.toString(), "0.10");
  assert.ok(back.at instanceof Date);
  assert.equal(back.at.toISOString(), "2026-02-28T12:34:56.789Z");
  assert.ok(back.address instanceof Address);
  assert.ok(back.lines?.[0] instanceof Line);
  assert.ok(back.lines[0].due instanceof CalendarDate);
  assert.ok(back.prices?.[1] instanceof Decimal);
  assert.equal(back.prices[0]!.plus(back.prices[1]).toString(), "0.3");
  assert.deepEqual(back.metas, [null, 1, { a: [] }]);
  assert.equal(back.ref, ID);
  assert.equal(back.level, "high");
});

Deno.test("an event read back through the serializer equals the stored event, with exact decimals and real dates", () => {
  const event = new Invoiced({
    aggregateId: ID,
    sequenceNumber: 3,
    createdAt: new Date("2026-04-01T08:00:00.5Z"),
    total: Decimal.from("1234567890.0000000001"),
    due: CalendarDate.of(2026, 4, 30),
    address: new Address({ street: "Main", city: "Utrecht" }),
    lines: [new Line({ amount: Decimal.from("0.1") })],
    sentAt: new Date("2026-04-01T09:00:00Z"),
  });
  const serializer = new MessageSerializer();
  const row = serializer.serializeEvent(event);
  const back = new MessageSerializer().deserializeEvent(row) as Invoiced;
  assert.ok(back instanceof Invoiced);
  assert.equal(back.equals(event), true);
  assert.equal(back.total.toString(), "1234567890.0000000001");
  assert.ok(back.due instanceof CalendarDate);
  assert.ok(back.sentAt instanceof Date);
  assert.ok(back.address instanceof Address);
  assert.ok(back.lines[0] instanceof Line);
  assert.equal(back.note, undefined);
});

Deno.test("attributesFromJson() treats null as absent for optional attributes and ignores undeclared keys", () => {
  const values = attributesFromJson(Address, {
    street: "Main",
    city: null,
    oldField: 1,
  });
  assert.deepEqual(values, { street: "Main" });
});

Deno.test("a JSON attribute set to null is stored as null and read back as null, equal to the original", () => {
  class Attd_Saved extends Event.define("Attd_Saved", {
    data: attrs.json(),
    items: attrs.array(attrs.json()),
    name: attrs.string(),
  }) {}
  const event = new Attd_Saved({
    aggregateId: ID,
    sequenceNumber: 1,
    data: null,
    items: [null],
    name: "x",
  });
  const serializer = new MessageSerializer();
  const row = serializer.serializeEvent(event);
  assert.equal(row.payload, '{"data":null,"items":[null],"name":"x"}');
  const back = serializer.deserializeEvent(row) as Attd_Saved;
  assert.equal(back.data, null);
  assert.deepEqual(back.items, [null]);
  assert.ok(back.equals(event) && event.equals(back));
  assert.equal(serializer.serializeEvent(back).payload, row.payload);
  // an older event, stored without the key, still reads as undefined
  const older = serializer.deserializeEvent({
    ...row,
    payload: '{"name":"x"}',
  });
  assert.equal((older as Attd_Saved).data, undefined);
  assert.ok(!older.equals(event));
});

Deno.test("attributesFromJson() reads a JSON null as null and a missing JSON key as undefined", () => {
  class Attd_Holder extends ValueObject.define({
    data: attrs.json(),
    note: attrs.string(),
  }) {}
  assert.deepEqual(
    attributesFromJson(Attd_Holder, { data: null, note: null }),
    { data: null },
  );
  assert.deepEqual(attributesFromJson(Attd_Holder, {}), {});
  assert.deepEqual(new Attd_Holder({ data: null }).toJSON(), { data: null });
  assert.deepEqual(new Attd_Holder({ note: null! }).toJSON(), {});
});

Deno.test("equals() takes null for undefined where both are stored as absent, but not a JSON null", () => {
  assert.ok(
    new Sample({ name: null!, address: null! }).equals(new Sample({})),
  );
  assert.ok(!new Sample({ meta: null }).equals(new Sample({})));
  assert.ok(new Sample({ meta: null }).equals(new Sample({ meta: null })));
});

Deno.test("attributesFromJson() leaves out the skipped keys", () => {
  assert.deepEqual(
    attributesFromJson(
      Address,
      { street: "Main", city: "X" },
      new Set(["city"]),
    ),
    { street: "Main" },
  );
  assert.deepEqual(
    attributesToJson(
      new Address({ street: "Main", city: "X" }),
      new Set(["street"]),
    ),
    { city: "X" },
  );
});

Deno.test("attributesFromJson() rejects stored JSON of the wrong type with AttributeReadError naming the path", () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ count: "3" }, "count", 'attribute "count" is not an integer'],
    [{ price: "1,5" }, "price", 'attribute "price" is not a decimal'],
    [{ day: "2026-02-30" }, "day", 'attribute "day" is not a date'],
    [{ at: "soon" }, "at", 'attribute "at" is not a date-time'],
    [{ ref: "x" }, "ref", 'attribute "ref" is not a UUID'],
    [
      { level: "mid" },
      "level",
      'attribute "level" is not one of "low", "high"',
    ],
    [{ address: "Main" }, "address", 'attribute "address" is not an object'],
    [
      { address: {} },
      "address.street",
      'attribute "address.street" is missing',
    ],
    [
      { address: { street: 1 } },
      "address.street",
      'attribute "address.street" is not a string',
    ],
    [{ lines: {} }, "lines", 'attribute "lines" is not an array'],
    [
      { lines: [{ amount: "1" }, { amount: true }] },
      "lines.1.amount",
      'attribute "lines.1.amount" is not a decimal',
    ],
    [
      { lines: [{ amount: "1", due: "2026-01-32" }] },
      "lines.0.due",
      'attribute "lines.0.due" is not a date',
    ],
    [{ days: ["2026-01-01", 5] }, "days.1", 'attribute "days.1" is not a date'],
  ];
  for (const [json, path, message] of cases) {
    assert.throws(
      () => attributesFromJson(Sample, json as never),
      (error: unknown) => {
        assert.ok(error instanceof AttributeReadError, path);
        assert.ok(error instanceof Error);
        assert.equal(error.name, "AttributeReadError");
        assert.equal(error.path, path);
        assert.equal(error.message, message);
        return true;
      },
    );
  }
});

Deno.test("attributesFromJson() rejects a missing or null required attribute", () => {
  for (const street of [undefined, null]) {
    assert.throws(
      () => attributesFromJson(Address, { street } as never),
      { name: "AttributeReadError", message: 'attribute "street" is missing' },
    );
  }
});

// --- Hostile input -------------------------------------------------------------

Deno.test('fromParams() of something other than an object is a validation error under the empty path "", never a TypeError', () => {
  const cases: [unknown, string][] = [
    [null, "null"],
    [undefined, "undefined"],
    [42, "a number"],
    ["x", "a string"],
    ["", "a string"],
    [true, "a boolean"],
    [10n, "a bigint"],
    [Symbol("s"), "a symbol"],
    [[], "an array"],
    [[{ street: "Main" }], "an array"],
    [() => ({}), "a function"],
  ];
  for (const [params, kind] of cases) {
    const address = Address.fromParams(params as never);
    assert.deepEqual(address.validate(), {
      "": [`params must be an object, got ${kind}`],
      street: ["can't be blank"],
    }, kind);
  }
});

Deno.test("fromParams() reports arrays and strings where value objects go, and objects or strings where arrays go, on the field", () => {
  const errors = Sample.fromParams({
    address: ["Main"],
    lines: { amount: "1" },
    prices: "1.5",
    metas: { a: 1 },
  }).validate();
  assert.deepEqual(errors, {
    address: ["is not a valid Address"],
    lines: ["is not a valid array"],
    prices: ["is not a valid array"],
    metas: ["is not a valid array"],
  });
  assert.deepEqual(
    Sample.fromParams({ address: "Main", lines: ["x"] }).validate(),
    {
      address: ["is not a valid Address"],
      "lines.0": ["is not a valid Line"],
    },
  );
});

Deno.test("fromParams() ignores __proto__, constructor and prototype keys like any undeclared key, keeps them as data in JSON, and leaves Object.prototype alone", () => {
  const before = Object.getOwnPropertyNames(Object.prototype).sort();
  const json = `{
    "__proto__": { "name": "polluted", "polluted": true },
    "constructor": { "prototype": { "polluted": true } },
    "prototype": { "polluted": true },
    "name": "kept",
    "address": { "street": "Main", "__proto__": { "city": "polluted" } },
    "meta": { "__proto__": { "polluted": true }, "constructor": "data" },
    "lines": [{ "amount": "1", "__proto__": { "due": "2026-01-01" } }]
  }`;
  const sample = Sample.fromParams(JSON.parse(json));
  assert.deepEqual(sample.validate(), {});
  assert.equal(sample.name, "kept");
  assert.equal(sample.address?.city, undefined);
  assert.equal(sample.lines?.[0]?.due, undefined);
  assert.deepEqual(Object.keys(sample.meta as object), [
    "__proto__",
    "constructor",
  ]);
  assert.equal(Object.getPrototypeOf(sample.meta), Object.prototype);
  assert.equal(
    JSON.stringify(sample.toJSON().meta),
    '{"__proto__":{"polluted":true},"constructor":"data"}',
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), before);
});

Deno.test("validation errors under JSON keys named __proto__ or constructor are plain entries", () => {
  const errors = Sample.fromParams(
    JSON.parse(
      '{"meta": {"__proto__": "a\\u0000", "constructor": ["\\ud800"]}}',
    ),
  ).validate();
  assert.deepEqual(Object.keys(errors), ["meta.__proto__"]);
  const both = new Sample({
    metas: [JSON.parse('{"__proto__": "\\u0000"}'), { constructor: "\0" }],
  }).validate();
  assert.deepEqual(Object.keys(both), [
    "metas.0.__proto__",
    "metas.1.constructor",
  ]);
  assert.equal(Object.getPrototypeOf(both), Object.prototype);
});
