/**
 * Attribute types: validation of each type (required, blank strings, user
 * validators on nested values and array items), parsing from strings with
 * `fromParams` (failed conversions becoming validation errors on the exact
 * field path), form data, and the codec helpers of src/core/attributes.ts.
 */
import assert from "node:assert/strict";
import {
  attrs,
  CalendarDate,
  Command,
  Decimal,
  type JsonValue,
  MAX_NESTING_DEPTH,
  ValueObject,
} from "@sequent/core";
import {
  addError,
  attrImpl,
  booleanCodec,
  dateCodec,
  dateTimeCodec,
  decimalCodec,
  type ErrorSink,
  floatCodec,
  integerCodec,
  isJsonValue,
  jsonCodec,
  jsonEquals,
  oneOfCodec,
  stringCodec,
  uuidCodec,
} from "../../src/core/attributes.ts";

const ID = "3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f";

class Address extends ValueObject.define({
  street: attrs.string().required(),
  city: attrs.string(),
  number: attrs.integer(),
}) {}

class Line extends ValueObject.define({
  description: attrs.string(),
  amount: attrs.decimal().required().validate(
    (d) => !d.isNegative(),
    "must not be negative",
  ),
  quantity: attrs.integer(),
}) {}

/** One optional field of every attribute type, and an array of each. */
class Everything extends ValueObject.define({
  s: attrs.string(),
  i: attrs.integer(),
  f: attrs.float(),
  b: attrs.boolean(),
  d: attrs.decimal(),
  day: attrs.date(),
  at: attrs.dateTime(),
  id: attrs.uuid(),
  color: attrs.oneOf("red", "green"),
  data: attrs.json(),
  address: attrs.valueObject(Address),
  strings: attrs.array(attrs.string()),
  ints: attrs.array(attrs.integer()),
  floats: attrs.array(attrs.float()),
  bools: attrs.array(attrs.boolean()),
  decimals: attrs.array(attrs.decimal()),
  days: attrs.array(attrs.date()),
  ats: attrs.array(attrs.dateTime()),
  ids: attrs.array(attrs.uuid()),
  colors: attrs.array(attrs.oneOf("red", "green")),
  datas: attrs.array(attrs.json()),
  addresses: attrs.array(attrs.valueObject(Address)),
}) {}

/** The same fields, each required. */
class AllRequired extends ValueObject.define({
  s: attrs.string().required(),
  i: attrs.integer().required(),
  f: attrs.float().required(),
  b: attrs.boolean().required(),
  d: attrs.decimal().required(),
  day: attrs.date().required(),
  at: attrs.dateTime().required(),
  id: attrs.uuid().required(),
  color: attrs.oneOf("red", "green").required(),
  data: attrs.json().required(),
  address: attrs.valueObject(Address).required(),
  ints: attrs.array(attrs.integer()).required(),
}) {}

class Invoice extends Command.define("Attr_Invoice", {
  customer: attrs.string().required(),
  address: attrs.valueObject(Address).required(),
  lines: attrs.array(attrs.valueObject(Line)).required(),
  tags: attrs.array(attrs.string()),
}) {}

/** The errors of parsing `params` into `Everything`. */
function errorsOf(params: Record<string, unknown>) {
  return Everything.fromParams(params).validate();
}

// --- Parsing strings: each type ---------------------------------------------

Deno.test('fromParams() parses integers from strings: "42" → 42, signs and spaces allowed', () => {
  const cases: [unknown, number][] = [
    ["42", 42],
    [" -7 ", -7],
    ["+3", 3],
    ["007", 7],
    [12, 12],
  ];
  for (const [raw, expected] of cases) {
    const value = Everything.fromParams({ i: raw });
    assert.equal(value.i, expected, String(raw));
    assert.deepEqual(value.validate(), {}, String(raw));
  }
});

Deno.test("fromParams() reports a failed integer conversion on the field", () => {
  for (const raw of ["4.2", "abc", "1e3", "9007199254740993", 1.5, true]) {
    const value = Everything.fromParams({ i: raw });
    assert.equal(value.i, undefined, String(raw));
    assert.deepEqual(
      value.validate(),
      { i: ["is not a valid integer"] },
      String(raw),
    );
  }
});

Deno.test("fromParams() parses floats from decimal and exponent notation", () => {
  const cases: [unknown, number][] = [
    ["4.2", 4.2],
    ["-0.5", -0.5],
    [".5", 0.5],
    ["1e3", 1000],
    ["2.5E-1", 0.25],
    [3.75, 3.75],
  ];
  for (const [raw, expected] of cases) {
    assert.equal(Everything.fromParams({ f: raw }).f, expected, String(raw));
  }
});

Deno.test('fromParams() rejects non-numbers and non-finite floats ("1e999", NaN, Infinity)', () => {
  for (const raw of ["abc", "1,5", "NaN", "Infinity", "1e999", NaN, Infinity]) {
    const value = Everything.fromParams({ f: raw });
    assert.equal(value.f, undefined, String(raw));
    assert.deepEqual(
      value.validate(),
      { f: ["is not a valid float"] },
      String(raw),
    );
  }
});

Deno.test('fromParams() parses booleans from "true"/"false", 1/0, on/off, yes/no, t/f in any case', () => {
  const truthy = ["true", "TRUE", " True ", "1", "on", "yes", "t", true];
  const falsy = ["false", "FALSE", "0", "off", "no", "f", false];
  for (const raw of truthy) {
    assert.equal(Everything.fromParams({ b: raw }).b, true, String(raw));
  }
  for (const raw of falsy) {
    assert.equal(Everything.fromParams({ b: raw }).b, false, String(raw));
  }
});

Deno.test("fromParams() reports a value that is no boolean word", () => {
  for (const raw of ["maybe", "2", 1, 0]) {
    assert.deepEqual(
      errorsOf({ b: raw }),
      { b: ["is not a valid boolean"] },
      String(raw),
    );
  }
});

Deno.test("fromParams() parses decimals exactly: no float rounding, scale kept", () => {
  const a = Everything.fromParams({ d: "0.1" }).d as Decimal;
  const b = Everything.fromParams({ d: " 0.2 " }).d as Decimal;
  assert.equal(a.plus(b).toString(), "0.3");
  assert.equal(
    Everything.fromParams({ d: "12345678901234567890.123456789" }).d
      ?.toString(),
    "12345678901234567890.123456789",
  );
  assert.equal(Everything.fromParams({ d: "1.10" }).d?.toString(), "1.10");
  assert.equal(Everything.fromParams({ d: 2.5 }).d?.toString(), "2.5");
  const given = Decimal.from("9.99");
  assert.equal(Everything.fromParams({ d: given }).d, given);
});

Deno.test("fromParams() reports text that is no decimal", () => {
  for (const raw of ["1,5", "abc", "1.2.3", true, {}]) {
    assert.deepEqual(
      errorsOf({ d: raw }),
      { d: ["is not a valid decimal"] },
      String(raw),
    );
  }
});

Deno.test("fromParams() parses ISO dates into CalendarDate, and a Date as its UTC day", () => {
  const day = Everything.fromParams({ day: "2026-05-01" }).day;
  assert.ok(day instanceof CalendarDate);
  assert.equal(day.toString(), "2026-05-01");
  assert.equal(
    Everything.fromParams({ day: new Date("2026-05-01T23:30:00-05:00") }).day
      ?.toString(),
    "2026-05-02",
  );
  const given = CalendarDate.of(2024, 2, 29);
  assert.equal(Everything.fromParams({ day: given }).day, given);
});

Deno.test("fromParams() reports impossible or non-ISO dates", () => {
  const bad = [
    "2026-02-30",
    "2026-13-01",
    "01-05-2026",
    "2026-5-1",
    "yesterday",
    new Date("nope"),
    new Date("+010000-01-01T00:00:00Z"), // outside years 1 to 9999
    20260501,
  ];
  for (const raw of bad) {
    assert.deepEqual(
      errorsOf({ day: raw }),
      { day: ["is not a valid date"] },
      String(raw),
    );
  }
});

Deno.test("fromParams() parses ISO date-times with Z, offsets, fractions, or a space", () => {
  const cases: [string, string][] = [
    ["2026-05-01T10:15:30Z", "2026-05-01T10:15:30.000Z"],
    ["2026-05-01T10:15:30.123Z", "2026-05-01T10:15:30.123Z"],
    ["2026-05-01T12:15:30+02:00", "2026-05-01T10:15:30.000Z"],
    ["2026-05-01T05:15-0500", "2026-05-01T10:15:00.000Z"],
    ["2026-05-01 10:15Z", "2026-05-01T10:15:00.000Z"],
    ["2026-05-01", "2026-05-01T00:00:00.000Z"],
  ];
  for (const [raw, iso] of cases) {
    const at = Everything.fromParams({ at: raw }).at;
    assert.ok(at instanceof Date, raw);
    assert.equal(at.toISOString(), iso, raw);
  }
});

Deno.test("fromParams() reads a date-time without an offset as UTC, whatever the host's zone", () => {
  assert.equal(
    Everything.fromParams({ at: "2026-01-01T10:00" }).at?.toISOString(),
    "2026-01-01T10:00:00.000Z",
  );
  assert.equal(
    Everything.fromParams({ at: "2026-07-01 10:00:30" }).at?.toISOString(),
    "2026-07-01T10:00:30.000Z",
  );
});

Deno.test("fromParams() reads a date-time without an offset as UTC in a process with another zone", async () => {
  const mod = new URL("../../mod.ts", import.meta.url).href;
  const code = `
    const { attrs, ValueObject } = await import(${JSON.stringify(mod)});
    class T extends ValueObject.define({ at: attrs.dateTime() }) {}
    console.log(new Date(2026, 0, 1, 10).toISOString());
    console.log(T.fromParams({ at: "2026-01-01T10:00" }).at.toISOString());
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    env: { TZ: "America/New_York" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [local, parsed] = new TextDecoder().decode(output.stdout).trim().split(
    "\n",
  );
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.equal(local, "2026-01-01T15:00:00.000Z"); // the zone did apply
  assert.equal(parsed, "2026-01-01T10:00:00.000Z");
});

Deno.test("fromParams() reports impossible or non-ISO date-times instead of rolling them over", () => {
  const bad = [
    "2026-02-30T10:00Z",
    "2026-05-01T25:00Z",
    "2026-05-01T10Z",
    "May 1, 2026",
    "1714557600000",
    new Date("nope"),
    new Date("+010000-01-01T00:00:00Z"),
    // year 0 (1 BC): stored as "0000-…", it could not be read back
    new Date("0000-06-01T00:00:00Z"),
  ];
  for (const raw of bad) {
    assert.deepEqual(
      errorsOf({ at: raw }),
      { at: ["is not a valid date-time"] },
      String(raw),
    );
  }
});

Deno.test("fromParams() normalises UUIDs to lower case and trims them", () => {
  assert.equal(
    Everything.fromParams({ id: " 3F8C9A52-9A55-4B5E-9D3F-3C1A2B4D5E6F " }).id,
    ID,
  );
});

Deno.test("fromParams() reports text that is no UUID", () => {
  for (const raw of ["not-a-uuid", "3f8c9a52-9a55-4b5e-9d3f", "123", 42]) {
    assert.deepEqual(
      errorsOf({ id: raw }),
      { id: ["is not a valid UUID"] },
      String(raw),
    );
  }
});

Deno.test("fromParams() accepts only the listed values for oneOf, case-sensitively", () => {
  assert.equal(Everything.fromParams({ color: "green" }).color, "green");
  assert.deepEqual(errorsOf({ color: "RED" }), {
    color: ['is not one of "red", "green"'],
  });
  assert.deepEqual(errorsOf({ color: 1 }), {
    color: ['is not one of "red", "green"'],
  });
});

Deno.test("fromParams() parses JSON text for json attributes and keeps JSON values as they are", () => {
  assert.deepEqual(Everything.fromParams({ data: '{"a":[1,true]}' }).data, {
    a: [1, true],
  });
  assert.deepEqual(Everything.fromParams({ data: { a: null } }).data, {
    a: null,
  });
  assert.equal(Everything.fromParams({ data: 5 }).data, 5);
  assert.deepEqual(errorsOf({ data: "{not json" }), {
    data: ["is not valid JSON"],
  });
  assert.deepEqual(errorsOf({ data: { when: new Date() } }), {
    data: ["is not valid JSON"],
  });
});

Deno.test("fromParams() keeps strings, turns numbers and booleans into strings, and rejects objects", () => {
  assert.equal(Everything.fromParams({ s: "hi" }).s, "hi");
  assert.equal(Everything.fromParams({ s: 42 }).s, "42");
  assert.equal(Everything.fromParams({ s: false }).s, "false");
  assert.equal(Everything.fromParams({ s: "" }).s, "");
  assert.deepEqual(errorsOf({ s: { x: 1 } }), { s: ["is not a valid string"] });
});

Deno.test("fromParams() treats an empty form string as absent for every non-string type", () => {
  const blank = {
    i: "",
    f: "",
    b: "",
    d: "",
    day: "",
    at: "",
    id: "",
    color: "",
    data: "",
    address: "",
    ints: "",
  };
  const optional = Everything.fromParams(blank);
  for (const key of Object.keys(blank)) {
    assert.equal(
      (optional as unknown as Record<string, unknown>)[key],
      undefined,
      key,
    );
  }
  assert.deepEqual(optional.validate(), {});
  const required = AllRequired.fromParams({ ...blank, s: "x" }).validate();
  for (const key of Object.keys(blank)) {
    assert.deepEqual(required[key], ["can't be blank"], key);
  }
});

Deno.test("fromParams() treats whitespace-only text as absent for every non-string type, as Sequent does; strings keep it", () => {
  const spaces = [" ", "  \t", "\n", "\u00a0"];
  for (const text of spaces) {
    const blank = {
      i: text,
      f: text,
      b: text,
      d: text,
      day: text,
      at: text,
      id: text,
      color: text,
      data: text,
      address: text,
      ints: text,
    };
    const optional = Everything.fromParams({ ...blank, s: text });
    for (const key of Object.keys(blank)) {
      assert.equal(
        (optional as unknown as Record<string, unknown>)[key],
        undefined,
        `${key} ${JSON.stringify(text)}`,
      );
    }
    assert.equal(optional.s, text);
    assert.deepEqual(optional.validate(), {});
    const required = AllRequired.fromParams({ ...blank, s: text }).validate();
    for (const key of [...Object.keys(blank), "s"]) {
      assert.deepEqual(required[key], ["can't be blank"], key);
    }
  }
});

Deno.test("fromParams() treats a blank array item as absent: can't be blank at its index, for every item type but string", () => {
  const form = new URLSearchParams(
    "ints[0]=1&ints[1]=&ints[2]= &days[0]=\t&strings[0]= &datas[0]= ",
  );
  const value = Everything.fromParams(form);
  assert.deepEqual(value.ints, [1, undefined, undefined]);
  assert.deepEqual(value.strings, [" "]);
  assert.deepEqual(value.validate(), {
    "ints.1": ["can't be blank"],
    "ints.2": ["can't be blank"],
    "days.0": ["can't be blank"],
    "datas.0": ["can't be blank"],
  });
  assert.deepEqual(errorsOf({ addresses: [" "] }), {
    "addresses.0": ["can't be blank"],
  });
});

Deno.test("fromParams() trims oneOf input like the other types' input", () => {
  assert.equal(Everything.fromParams({ color: " red " }).color, "red");
  assert.deepEqual(
    Everything.fromParams({ colors: ["green\n", " red"] }).colors,
    ["green", "red"],
  );
  assert.deepEqual(errorsOf({ color: " RED " }), {
    color: ['is not one of "red", "green"'],
  });
  class Padded extends ValueObject.define({ p: attrs.oneOf(" a ", "b") }) {}
  assert.equal(Padded.fromParams({ p: " a " }).p, " a ");
});

Deno.test("fromParams() treats null and undefined as absent and ignores undeclared keys", () => {
  const value = Everything.fromParams({
    i: null,
    s: undefined,
    unknown: "x",
  });
  assert.equal(value.i, undefined);
  assert.equal(value.s, undefined);
  assert.equal("unknown" in value, false);
  assert.deepEqual(value.validate(), {});
});

// --- Parsing nested values and arrays ---------------------------------------

Deno.test("fromParams() builds nested value objects from plain objects", () => {
  const value = Everything.fromParams({
    address: { street: "Main", number: "12" },
  });
  assert.ok(value.address instanceof Address);
  assert.equal(value.address.street, "Main");
  assert.equal(value.address.number, 12);
  const given = new Address({ street: "Given" });
  const taken = Everything.fromParams({ address: given }).address;
  // taken as it is, as the instance's own frozen copy (given stays unfrozen)
  assert.ok(taken instanceof Address && taken.equals(given));
  assert.notEqual(taken, given);
  assert.ok(Object.isFrozen(taken) && !Object.isFrozen(given));
});

Deno.test("fromParams() reports a failed conversion inside a value object at address.number", () => {
  assert.deepEqual(
    errorsOf({ address: { street: "Main", number: "twelve" } }),
    { "address.number": ["is not a valid integer"] },
  );
});

Deno.test("fromParams() reports a non-object given for a value object on the field", () => {
  for (const raw of ["Main street", 5, ["Main"]]) {
    assert.deepEqual(
      errorsOf({ address: raw }),
      { address: ["is not a valid Address"] },
      String(raw),
    );
  }
});

Deno.test("fromParams() converts array items, from arrays or from objects keyed by index", () => {
  assert.deepEqual(Everything.fromParams({ ints: ["1", 2, " 3 "] }).ints, [
    1,
    2,
    3,
  ]);
  assert.deepEqual(
    Everything.fromParams({ strings: { "10": "c", "2": "b", "0": "a" } })
      .strings,
    ["a", "b", "c"],
  );
  const decimals = Everything.fromParams({ decimals: ["0.10", "2"] }).decimals;
  assert.deepEqual(decimals?.map(String), ["0.10", "2"]);
  const days = Everything.fromParams({ days: ["2026-01-31"] }).days;
  assert.ok(days?.[0] instanceof CalendarDate);
  assert.deepEqual(Everything.fromParams({ ids: [ID.toUpperCase()] }).ids, [
    ID,
  ]);
  assert.deepEqual(Everything.fromParams({ bools: ["yes", "0"] }).bools, [
    true,
    false,
  ]);
  assert.deepEqual(Everything.fromParams({ colors: ["red"] }).colors, ["red"]);
  assert.deepEqual(Everything.fromParams({ datas: ["[1]", { a: 1 }] }).datas, [
    [1],
    { a: 1 },
  ]);
  const ats = Everything.fromParams({ ats: ["2026-01-01T00:00Z"] }).ats;
  assert.equal(ats?.[0]?.toISOString(), "2026-01-01T00:00:00.000Z");
  assert.deepEqual(Everything.fromParams({ floats: ["0.5", 2] }).floats, [
    0.5,
    2,
  ]);
});

Deno.test("fromParams() reports a failed array item conversion at ints.1", () => {
  assert.deepEqual(errorsOf({ ints: ["1", "two", "3"] }), {
    "ints.1": ["is not a valid integer"],
  });
  assert.deepEqual(errorsOf({ days: ["2026-01-01", "2026-02-31"] }), {
    "days.1": ["is not a valid date"],
  });
});

Deno.test("fromParams() reports a failed required-array item only at that item, not also as blank", () => {
  const errors = AllRequired.fromParams({
    s: "x",
    i: "1",
    f: "1",
    b: "true",
    d: "1",
    day: "2026-01-01",
    at: "2026-01-01T00:00Z",
    id: ID,
    color: "red",
    data: "1",
    address: { street: "Main" },
    ints: ["1", "x"],
  }).validate();
  assert.deepEqual(errors, { "ints.1": ["is not a valid integer"] });
});

Deno.test("fromParams() reports a value that is neither a list nor an index-keyed object for an array", () => {
  assert.deepEqual(errorsOf({ ints: "1,2" }), {
    ints: ["is not a valid array"],
  });
  assert.deepEqual(errorsOf({ ints: { a: "1" } }), {
    ints: ["is not a valid array"],
  });
});

Deno.test("fromParams() reports a failed conversion in an array of value objects at lines.1.amount", () => {
  const invoice = Invoice.fromParams({
    aggregateId: ID,
    customer: "ACME",
    address: { street: "Main" },
    lines: [
      { description: "a", amount: "1.50" },
      { description: "b", amount: "lots" },
    ],
  });
  assert.equal(invoice.lines[0]?.amount.toString(), "1.50");
  assert.deepEqual(invoice.validate(), {
    "lines.1.amount": ["is not a valid decimal"],
  });
});

Deno.test("fromParams() reports a missing required field inside an array item at lines.0.amount", () => {
  const invoice = Invoice.fromParams({
    aggregateId: ID,
    customer: "ACME",
    address: { street: "Main" },
    lines: [{ description: "a" }],
  });
  assert.deepEqual(invoice.validate(), {
    "lines.0.amount": ["can't be blank"],
  });
});

// --- Form data ----------------------------------------------------------------

Deno.test("fromParams() reads URLSearchParams with a[b], lines[0][x] and a.b keys", () => {
  const params = new URLSearchParams();
  params.set("aggregateId", ID.toUpperCase());
  params.set("customer", "ACME");
  params.set("address[street]", "Main");
  params.set("address.number", "12");
  params.set("lines[0][description]", "first");
  params.set("lines[0][amount]", "1.25");
  params.set("lines.1.amount", "2");
  params.set("lines[1][quantity]", "3");
  params.set("tags[0]", "x");
  const invoice = Invoice.fromParams(params);
  assert.deepEqual(invoice.validate(), {});
  assert.equal(invoice.aggregateId, ID);
  assert.ok(invoice.address instanceof Address);
  assert.equal(invoice.address.street, "Main");
  assert.equal(invoice.address.number, 12);
  assert.equal(invoice.lines.length, 2);
  assert.equal(invoice.lines[0]?.description, "first");
  assert.equal(invoice.lines[0]?.amount.toString(), "1.25");
  assert.equal(invoice.lines[1]?.amount.toString(), "2");
  assert.equal(invoice.lines[1]?.quantity, 3);
  assert.deepEqual(invoice.tags, ["x"]);
});

Deno.test("fromParams() reads FormData, ignoring file entries, and reports bad values at lines.1.amount", () => {
  const form = new FormData();
  form.set("aggregateId", ID);
  form.set("customer", "ACME");
  form.set("address[street]", "");
  form.set("lines[0][amount]", "1");
  form.set("lines[1][amount]", "-");
  form.set("attachment", new File(["x"], "x.txt"));
  const invoice = Invoice.fromParams(form);
  assert.deepEqual(invoice.validate(), {
    "address.street": ["can't be blank"],
    "lines.1.amount": ["is not a valid decimal"],
  });
});

Deno.test("fromParams() keeps a __proto__ form key away from Object.prototype", () => {
  const params = new URLSearchParams(
    "__proto__[polluted]=yes&constructor[prototype][polluted]=yes&s=ok",
  );
  const value = Everything.fromParams(params);
  assert.equal(value.s, "ok");
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
});

// --- Validation of constructed values ----------------------------------------

Deno.test("validate() reports a value of the wrong type with the attribute's kind", () => {
  const cases: [string, unknown, string][] = [
    ["s", 1, "is not a valid string"],
    ["i", 1.5, "is not a valid integer"],
    ["i", "1", "is not a valid integer"],
    ["f", Infinity, "is not a valid float"],
    ["b", "true", "is not a valid boolean"],
    ["d", "1.5", "is not a valid decimal"],
    ["day", new Date(), "is not a valid date"],
    ["day", "2026-01-01", "is not a valid date"],
    ["at", new Date("nope"), "is not a valid date-time"],
    ["at", "2026-01-01T00:00Z", "is not a valid date-time"],
    ["id", ID.toUpperCase(), "is not a valid UUID"],
    ["color", "blue", 'is not a valid one of "red", "green"'],
    ["data", new Map(), "is not a valid JSON value"],
    ["address", { street: "Main" }, "is not a valid Address"],
    ["ints", 5, "is not a valid array of integer"],
    ["addresses", "x", "is not a valid array of Address"],
  ];
  for (const [key, value, message] of cases) {
    const instance = new Everything({ [key]: value } as never);
    assert.deepEqual(instance.validate(), { [key]: [message] }, key);
    assert.equal(instance.isValid(), false, key);
  }
});

Deno.test("validate() accepts a value of every declared type", () => {
  const value = new Everything({
    s: "s",
    i: 1,
    f: 1.5,
    b: false,
    d: Decimal.from("1.5"),
    day: CalendarDate.of(2026, 1, 1),
    at: new Date(),
    id: ID,
    color: "red",
    data: { nested: [1, "x", null] },
    address: new Address({ street: "Main" }),
    strings: ["a"],
    ints: [1],
    floats: [0.5],
    bools: [true],
    decimals: [Decimal.from(1)],
    days: [CalendarDate.of(2026, 1, 1)],
    ats: [new Date()],
    ids: [ID],
    colors: ["green"],
    datas: [null],
    addresses: [new Address({ street: "Main" })],
  });
  assert.deepEqual(value.validate(), {});
  assert.equal(value.isValid(), true);
});

Deno.test("validate() reports a missing or null required attribute as can't be blank", () => {
  const errors = new AllRequired({ s: null } as never).validate();
  assert.deepEqual(Object.keys(errors).sort(), [
    "address",
    "at",
    "b",
    "color",
    "d",
    "data",
    "day",
    "f",
    "i",
    "id",
    "ints",
    "s",
  ]);
  for (const messages of Object.values(errors)) {
    assert.deepEqual(messages, ["can't be blank"]);
  }
});

Deno.test("validate() reports a blank required string (empty or spaces) as can't be blank, but accepts it when optional", () => {
  class Named extends ValueObject.define({
    name: attrs.string().required(),
    nickname: attrs.string(),
  }) {}
  for (const blank of ["", "   ", "\t\n"]) {
    assert.deepEqual(
      new Named({ name: blank, nickname: blank }).validate(),
      { name: ["can't be blank"] },
      JSON.stringify(blank),
    );
  }
  assert.deepEqual(new Named({ name: " x " }).validate(), {});
});

Deno.test("validate() runs user validators on present values and collects their messages in order", () => {
  class Score extends ValueObject.define({
    points: attrs.integer()
      .validate((n) => n >= 0, "must not be negative")
      .validate((n) => n % 2 === 0, "must be even"),
  }) {}
  assert.deepEqual(new Score({ points: -3 }).validate(), {
    points: ["must not be negative", "must be even"],
  });
  assert.deepEqual(new Score({ points: 3 }).validate(), {
    points: ["must be even"],
  });
  assert.deepEqual(new Score({ points: 4 }).validate(), {});
  assert.deepEqual(new Score({}).validate(), {});
});

Deno.test("validate() does not run user validators on a value of the wrong type", () => {
  const seen: unknown[] = [];
  class Checked extends ValueObject.define({
    n: attrs.integer().validate((n) => {
      seen.push(n);
      return true;
    }, "never"),
  }) {}
  assert.deepEqual(new Checked({ n: "7" as unknown as number }).validate(), {
    n: ["is not a valid integer"],
  });
  assert.deepEqual(seen, []);
  new Checked({ n: 7 }).validate();
  assert.deepEqual(seen, [7]);
});

Deno.test("validate() reports a validator failing inside a nested value object at address.street", () => {
  class Street extends ValueObject.define({
    street: attrs.string().validate((s) => s.length <= 5, "is too long"),
  }) {}
  class Letter extends ValueObject.define({
    address: attrs.valueObject(Street).required(),
  }) {}
  assert.deepEqual(
    new Letter({ address: new Street({ street: "Long street" }) }).validate(),
    { "address.street": ["is too long"] },
  );
  assert.deepEqual(
    new Letter({ address: new Street({ street: "Short" }) }).validate(),
    {},
  );
});

Deno.test("validate() reports array item validators, blank items and wrong item types at the item's index", () => {
  class Scores extends ValueObject.define({
    nums: attrs.array(
      attrs.integer().validate((n) => n > 0, "must be positive"),
    ),
  }) {}
  assert.deepEqual(new Scores({ nums: [1, -2, 3, 0] }).validate(), {
    "nums.1": ["must be positive"],
    "nums.3": ["must be positive"],
  });
  assert.deepEqual(
    new Scores({ nums: [1, null, "3", undefined] as never }).validate(),
    {
      "nums.1": ["can't be blank"],
      "nums.2": ["is not a valid integer"],
      "nums.3": ["can't be blank"],
    },
  );
});

Deno.test("validate() runs a validator on the array itself at the array's path", () => {
  class Tags extends ValueObject.define({
    tags: attrs.array(attrs.string()).validate(
      (t) => t.length <= 2,
      "has too many tags",
    ),
  }) {}
  assert.deepEqual(new Tags({ tags: ["a", "b", "c"] }).validate(), {
    tags: ["has too many tags"],
  });
});

Deno.test("validate() reports a validator failing inside an array of value objects at lines.1.amount", () => {
  const invoice = new Invoice({
    aggregateId: ID,
    customer: "ACME",
    address: new Address({ street: "Main" }),
    lines: [
      new Line({ amount: Decimal.from("1") }),
      new Line({ amount: Decimal.from("-1") }),
      new Line({ amount: undefined as unknown as Decimal }),
    ],
  });
  assert.deepEqual(invoice.validate(), {
    "lines.1.amount": ["must not be negative"],
    "lines.2.amount": ["can't be blank"],
  });
});

Deno.test("validate() checks blank strings inside required array items", () => {
  class Names extends ValueObject.define({
    names: attrs.array(attrs.string().required()),
  }) {}
  assert.deepEqual(new Names({ names: ["a", " "] }).validate(), {
    "names.1": ["can't be blank"],
  });
});

// --- Attr declarations ----------------------------------------------------------

Deno.test("Attr.is() tells whether a value is of the attribute's type", () => {
  assert.equal(attrs.integer().is(3), true);
  assert.equal(attrs.integer().is(3.5), false);
  assert.equal(attrs.uuid().is(ID), true);
  assert.equal(attrs.uuid().is("x"), false);
  assert.equal(attrs.decimal().is(Decimal.from(1)), true);
  assert.equal(attrs.decimal().is(1), false);
  assert.equal(
    attrs.valueObject(Address).is(new Address({ street: "" })),
    true,
  );
  assert.equal(attrs.valueObject(Address).is({ street: "" }), false);
  assert.equal(attrs.oneOf("a", "b").is("b"), true);
  assert.equal(attrs.oneOf("a", "b").is("c"), false);
});

Deno.test("attrImpl() rejects declarations not made with attrs", () => {
  assert.throws(
    () => attrImpl({ kind: "string", isRequired: false } as never),
    {
      name: "TypeError",
      message:
        "Attributes must be declared with attrs.string(), attrs.integer(), …",
    },
  );
});

Deno.test("addError() collects several messages per path", () => {
  const errors: ErrorSink = {};
  addError(errors, "a.b", "one");
  addError(errors, "a.b", "two");
  addError(errors, "c", "three");
  assert.deepEqual(errors, { "a.b": ["one", "two"], c: ["three"] });
});

// --- Codecs: reading stored JSON ------------------------------------------------

Deno.test("codecs read back exactly what they write", () => {
  const samples: [
    { toJson(v: never): unknown; fromJson(j: never): unknown },
    unknown,
  ][] = [
    [stringCodec, "x"],
    [integerCodec, 42],
    [floatCodec, 0.25],
    [booleanCodec, false],
    [decimalCodec, Decimal.from("0.10")],
    [dateCodec, CalendarDate.of(2026, 2, 28)],
    [dateTimeCodec, new Date("2026-02-28T12:00:00.123Z")],
    [uuidCodec, ID],
    [oneOfCodec(["a", "b"]), "b"],
    [jsonCodec, { a: [1, null] }],
  ];
  for (const [codec, value] of samples) {
    const json = codec.toJson(value as never);
    const back = codec.fromJson(json as never) as {
      ok: boolean;
      value: unknown;
    };
    assert.equal(back.ok, true, String(value));
    assert.deepEqual(String(back.value), String(value));
  }
  assert.equal(decimalCodec.toJson(Decimal.from("0.10")), "0.10");
  assert.equal(dateCodec.toJson(CalendarDate.of(2026, 2, 28)), "2026-02-28");
});

Deno.test("codecs reject stored JSON of the wrong type with a message", () => {
  const cases: [{ fromJson(j: never): unknown }, unknown, string][] = [
    [stringCodec, 1, "is not a string"],
    [integerCodec, "1", "is not an integer"],
    [integerCodec, 1.5, "is not an integer"],
    [floatCodec, "1.5", "is not a number"],
    [booleanCodec, "true", "is not a boolean"],
    [decimalCodec, "1,5", "is not a decimal"],
    [decimalCodec, true, "is not a decimal"],
    [dateCodec, "2026-02-30", "is not a date"],
    [dateCodec, 20260101, "is not a date"],
    [dateTimeCodec, "yesterday", "is not a date-time"],
    [dateTimeCodec, 0, "is not a date-time"],
    [uuidCodec, ID.toUpperCase(), "is not a UUID"],
    [oneOfCodec(["a"]), "b", 'is not one of "a"'],
  ];
  for (const [codec, json, message] of cases) {
    assert.deepEqual(
      codec.fromJson(json as never),
      { ok: false, message },
      `${JSON.stringify(json)} → ${message}`,
    );
  }
});

Deno.test("decimalCodec reads numbers as well as strings from JSON", () => {
  const read = decimalCodec.fromJson(2.5);
  assert.ok(read.ok);
  assert.equal(read.value.toString(), "2.5");
});

Deno.test("isJsonValue() accepts JSON values deeply and rejects everything else", () => {
  for (const v of [null, 1, "x", true, [], {}, { a: [1, { b: null }] }]) {
    assert.equal(isJsonValue(v), true, JSON.stringify(v));
  }
  assert.equal(isJsonValue(Object.create(null)), true);
  for (
    const v of [
      undefined,
      NaN,
      Infinity,
      () => 1,
      1n,
      new Date(),
      new Map(),
      { a: undefined },
      [1, new Date()],
      Symbol("x"),
    ]
  ) {
    assert.equal(isJsonValue(v), false, String(v));
  }
});

Deno.test("jsonEquals() compares JSON values deeply, ignoring key order", () => {
  assert.equal(jsonEquals({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }), true);
  assert.equal(jsonEquals([1, [2]], [1, [2]]), true);
  assert.equal(jsonEquals(null, null), true);
  assert.equal(jsonEquals({ a: 1 }, { a: 1, b: 2 }), false);
  assert.equal(jsonEquals({ a: 1, c: 2 }, { a: 1, b: 2 }), false);
  assert.equal(jsonEquals([1, 2], [2, 1]), false);
  assert.equal(jsonEquals([], {}), false);
  assert.equal(jsonEquals({ a: null }, { a: 0 }), false);
  assert.equal(jsonEquals("1", 1), false);
});

// --- Text no store can hold --------------------------------------------------

Deno.test("validate() reports a NUL or a lone surrogate in any string at its path: attributes, array items, value objects, JSON values and keys", () => {
  const NUL = "contains a NUL character (U+0000) at index 1";
  const cases: [Record<string, unknown>, Record<string, string[]>][] = [
    [{ s: "a\0" }, { s: [NUL] }],
    [{ s: "a\ud800" }, {
      s: ["contains a lone surrogate (U+D800) at index 1"],
    }],
    [{ strings: ["ok", "a\0"] }, { "strings.1": [NUL] }],
    [{ address: { street: "a\0" } }, { "address.street": [NUL] }],
    [
      { addresses: [{ street: "ok" }, { street: "ok", city: "a\0" }] },
      { "addresses.1.city": [NUL] },
    ],
    [{ data: '"a\\u0000"' }, { data: [NUL] }],
    [{ data: { list: [1, { x: "a\0" }] } }, { "data.list.1.x": [NUL] }],
    [
      { data: { nested: { "a\0": 1 } } },
      {
        "data.nested": [
          `has a key "a\\u0000" that ${NUL}`,
        ],
      },
    ],
    [{ datas: [{}, ["a\0"]] }, { "datas.1.0": [NUL] }],
    [{ color: "red", colors: ["red"], id: ID }, {}],
  ];
  for (const [params, expected] of cases) {
    assert.deepEqual(
      Everything.fromParams(params).validate(),
      expected,
      Deno.inspect(params),
    );
    // the same for values given to the constructor
    const built = Everything.fromParams(params).attributes();
    assert.deepEqual(
      new Everything(built as never).validate(),
      expected,
      Deno.inspect(params),
    );
  }
});

Deno.test("validate() accepts surrogate pairs, escaped text and other control characters", () => {
  const value = Everything.fromParams({
    s: "😀 \\u0000 \u0001",
    strings: ["\u{10FFFF}"],
    data: { "😀": ["😀", "\\ud800"] },
    address: { street: "a\tb" },
  });
  assert.deepEqual(value.validate(), {});
});

Deno.test("a required string holding only NUL is unstorable, not blank", () => {
  assert.deepEqual(
    AllRequired.fromParams({ s: "\0" }).validate().s,
    ["contains a NUL character (U+0000) at index 0"],
  );
});

// --- Nesting past the limit ---------------------------------------------------

function nestedArrays(depth: number, bottom: unknown = 1): unknown {
  let value = bottom;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** What the self-referencing class looks like to TypeScript (TS2506). */
interface TreeShape extends ValueObject {
  readonly name: string | undefined;
  readonly child: TreeShape | undefined;
  readonly children: readonly TreeShape[] | undefined;
  readonly data: JsonValue | undefined;
}
type TreeClass = abstract new (init: never) => TreeShape;

class Tree extends ValueObject.define({
  name: attrs.string(),
  child: attrs.valueObject((): TreeClass => Tree),
  children: attrs.array(attrs.valueObject((): TreeClass => Tree)),
  data: attrs.json(),
}) {}

Deno.test(`a JSON attribute may nest ${MAX_NESTING_DEPTH} levels; deeper is a validation error, from params, JSON text or a constructor`, () => {
  const ok = nestedArrays(MAX_NESTING_DEPTH);
  assert.deepEqual(Everything.fromParams({ data: ok }).validate(), {});
  assert.deepEqual(
    Everything.fromParams({ data: JSON.stringify(ok) }).validate(),
    {},
  );
  for (const depth of [MAX_NESTING_DEPTH + 1, 5_000, 200_000]) {
    const deep = nestedArrays(depth);
    const expected = { data: ["nests more than 100 levels deep"] };
    assert.deepEqual(
      Everything.fromParams({ data: deep }).validate(),
      expected,
    );
    assert.deepEqual(
      Everything.fromParams({ data: JSON.stringify(deep) }).validate(),
      expected,
    );
    assert.deepEqual(
      new Everything({ data: deep as never }).validate(),
      expected,
    );
  }
});

Deno.test("a JSON value that contains itself is a validation error, not a stack overflow", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  assert.deepEqual(new Everything({ data: cyclic as never }).validate(), {
    data: ["nests more than 100 levels deep"],
  });
});

Deno.test("what encloses a JSON attribute counts towards its nesting limit", () => {
  // a tree node is one level, its JSON the rest
  const params = { child: { data: nestedArrays(MAX_NESTING_DEPTH - 1) } };
  assert.deepEqual(Tree.fromParams(params).validate(), {});
  const deeper = { child: { data: nestedArrays(MAX_NESTING_DEPTH) } };
  assert.deepEqual(Tree.fromParams(deeper).validate(), {
    "child.data": ["nests more than 100 levels deep"],
  });
  const built = new Tree({
    child: new Tree({ data: nestedArrays(MAX_NESTING_DEPTH) as never }),
  });
  assert.deepEqual(built.validate(), {
    "child.data": ["nests more than 100 levels deep"],
  });
});

Deno.test("value objects and arrays nested past the limit are a validation error at the value that goes past it, without overflowing the stack", () => {
  for (const key of ["child", "children"] as const) {
    let params: Record<string, unknown> = { name: "leaf" };
    for (let i = 0; i < 10_000; i++) {
      params = key === "child" ? { child: params } : { children: [params] };
    }
    const errors = Tree.fromParams(params).validate();
    const [path, ...others] = Object.keys(errors);
    assert.deepEqual(others, [], key);
    assert.deepEqual(errors[path as string], [
      "nests more than 100 levels deep",
    ]);
    // the path names the value 101 levels down
    const segments = (path as string).split(".");
    assert.equal(
      segments.filter((s) => s === key).length,
      key === "child" ? MAX_NESTING_DEPTH + 1 : MAX_NESTING_DEPTH / 2 + 1,
      key,
    );
  }
  let built: TreeShape = new Tree({ name: "leaf" });
  for (let i = 0; i < 10_000; i++) built = new Tree({ child: built });
  const errors = built.validate();
  assert.equal(Object.keys(errors).length, 1);
  assert.deepEqual(Object.values(errors)[0], [
    "nests more than 100 levels deep",
  ]);
});

Deno.test("isJsonValue() refuses values nested past the limit, values that contain themselves and sparse arrays", () => {
  assert.equal(isJsonValue(nestedArrays(MAX_NESTING_DEPTH)), true);
  assert.equal(isJsonValue(nestedArrays(MAX_NESTING_DEPTH + 1)), false);
  assert.equal(isJsonValue(nestedArrays(3), 2), false);
  assert.equal(isJsonValue(nestedArrays(1_000_000)), false);
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  assert.equal(isJsonValue(cyclic), false);
  // deno-lint-ignore no-sparse-arrays
  assert.equal(isJsonValue([1, , 3]), false);
});

Deno.test("addError() keeps __proto__ and constructor paths as plain entries", () => {
  const errors: ErrorSink = {};
  addError(errors, "__proto__", "one");
  addError(errors, "__proto__", "two");
  addError(errors, "constructor", "three");
  assert.deepEqual(Object.keys(errors), ["__proto__", "constructor"]);
  assert.deepEqual(
    Object.getOwnPropertyDescriptor(errors, "__proto__")?.value,
    [
      "one",
      "two",
    ],
  );
  assert.equal(Object.getPrototypeOf(errors), Object.prototype);
});
