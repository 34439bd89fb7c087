/**
 * Values in PostgreSQL's text format: what the driver reads from columns
 * and sends as parameters.
 */
import assert from "node:assert/strict";
import {
  decodeValue,
  encodeParameter,
  FROM_TEXT,
  parameterType,
  parseArray,
  parseTimestamp,
  valueAt,
} from "../../../src/postgres/_wire/values.ts";

function utc(year: number, month: number, day: number, ...rest: number[]) {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(rest[0] ?? 0, rest[1] ?? 0, rest[2] ?? 0, rest[3] ?? 0);
  return d;
}

Deno.test("parseTimestamp() reads every year, BC, offsets with minutes and seconds, and infinity", () => {
  assert.deepEqual(parseTimestamp("2024-02-29"), utc(2024, 2, 29));
  assert.deepEqual(
    parseTimestamp("2024-02-29 13:14:15.123456+00"),
    utc(2024, 2, 29, 13, 14, 15, 123),
  );
  assert.deepEqual(parseTimestamp("0001-01-01 00:00:00"), utc(1, 1, 1));
  assert.deepEqual(parseTimestamp("0099-12-31"), utc(99, 12, 31));
  assert.deepEqual(
    parseTimestamp("0044-03-15 12:00:00 BC"),
    utc(-43, 3, 15, 12),
  );
  assert.deepEqual(parseTimestamp("12345-01-01"), utc(12345, 1, 1));
  assert.deepEqual(
    parseTimestamp("2024-01-01 10:00:00+05:30"),
    utc(2024, 1, 1, 4, 30),
  );
  assert.deepEqual(
    parseTimestamp("1900-01-01 00:00:00+00:19:32"),
    new Date(utc(1900, 1, 1).getTime() - (19 * 60 + 32) * 1000),
  );
  assert.deepEqual(
    parseTimestamp("2024-01-01 10:00:00.5-02"),
    utc(2024, 1, 1, 12, 0, 0, 500),
  );
  assert.equal(parseTimestamp("infinity").getTime(), 8.64e15);
  assert.equal(parseTimestamp("-infinity").getTime(), -8.64e15);
  assert.ok(Number.isNaN(parseTimestamp("not a date").getTime()));
});

Deno.test("parseArray() reads quoted and escaped elements, NULL, empty and nested arrays", () => {
  assert.deepEqual(parseArray('{a,"b c","d\\"e","f\\\\g",NULL,"NULL"}', 25), [
    "a",
    "b c",
    'd"e',
    "f\\g",
    null,
    "NULL",
  ]);
  assert.deepEqual(parseArray("{}", 23), []);
  assert.deepEqual(parseArray("{{1,2},{3,4}}", 23), [[1, 2], [3, 4]]);
  assert.deepEqual(parseArray("[0:1]={7,8}", 23), [7, 8]);
  assert.deepEqual(parseArray("{t,f}", 16), [true, false]);
});

Deno.test("decodeValue() gives numbers, booleans, dates and bytes by type, and text for the rest", () => {
  assert.equal(decodeValue("42", 23), 42);
  assert.equal(decodeValue("-1.5", 701), -1.5);
  assert.equal(decodeValue("Infinity", 701), Infinity);
  assert.equal(decodeValue("9007199254740993", 20), "9007199254740993");
  assert.equal(decodeValue("1.10", 1700), "1.10");
  assert.equal(decodeValue("t", 16), true);
  assert.deepEqual(decodeValue("\\x00ff", 17), new Uint8Array([0, 255]));
  assert.deepEqual(
    decodeValue("a\\\\b\\001", 17),
    new Uint8Array([97, 92, 98, 1]),
  );
  assert.equal(decodeValue('{"a":1}', 3802), '{"a":1}');
  assert.equal(decodeValue("0/16B3748", 3220), "0/16B3748");
});

Deno.test("encodeParameter() writes each Date's own time, whether it repeats the last one or not, a Date changed in place included", () => {
  const at = new Date("2026-12-05T10:11:12.345Z");
  assert.equal(encodeParameter(at), "2026-12-05T10:11:12.345Z");
  assert.equal(
    encodeParameter(new Date(at.getTime())),
    "2026-12-05T10:11:12.345Z",
  );
  at.setTime(at.getTime() + 1);
  assert.equal(encodeParameter(at), "2026-12-05T10:11:12.346Z");
  assert.equal(encodeParameter(new Date(0)), "1970-01-01T00:00:00.000Z");
  assert.throws(() => encodeParameter(new Date(Number.NaN)), /invalid Date/);
  assert.equal(encodeParameter(new Date(0)), "1970-01-01T00:00:00.000Z");
});

Deno.test("encodeParameter() sends text, and declares the types whose text is ambiguous", () => {
  assert.equal(encodeParameter("x"), "x");
  assert.equal(encodeParameter(1.5), "1.5");
  assert.equal(encodeParameter(12n), "12");
  assert.equal(encodeParameter(true), "t");
  assert.equal(encodeParameter(null), null);
  assert.equal(encodeParameter(new Date(0)), "1970-01-01T00:00:00.000Z");
  assert.equal(encodeParameter(new Uint8Array([1, 171])), "\\x01ab");
  assert.throws(() => encodeParameter(new Date(Number.NaN)), /invalid Date/);
  assert.equal(parameterType("x"), 0);
  assert.equal(parameterType(1), 0);
  assert.equal(parameterType(new Date()), 1184);
  assert.equal(parameterType(false), 16);
  assert.equal(parameterType(1n), 20);
});

Deno.test("valueAt() reads integers, booleans and common timestamps from bytes as decodeValue() reads their text, and leaves the rest to it", () => {
  const INT2 = 21, INT4 = 23, OID = 26, BOOL = 16, FLOAT8 = 701;
  const DATE = 1082, TIMESTAMP = 1114, TIMESTAMPTZ = 1184;
  const cases: [text: string, type: number, read: boolean][] = [
    ["0", INT4, true],
    ["42", INT4, true],
    ["-2147483648", INT4, true],
    ["2147483647", INT4, true],
    ["-32768", INT2, true],
    ["4294967295", OID, true],
    ["t", BOOL, true],
    ["f", BOOL, true],
    ["2024-02-29", DATE, true],
    ["2024-02-29 13:14:15", TIMESTAMP, true],
    ["2024-02-29 13:14:15.123456+00", TIMESTAMPTZ, true],
    ["2024-02-29 13:14:15.5-02", TIMESTAMPTZ, true],
    ["2024-01-01 10:00:00+05:30", TIMESTAMPTZ, true],
    ["1900-01-01 00:00:00+00:19:32", TIMESTAMPTZ, true],
    ["1999-12-31 23:59:59.999999+00", TIMESTAMPTZ, true],
    // left to the text: other shapes, and types it does not read
    ["0044-03-15 12:00:00 BC", TIMESTAMPTZ, false],
    ["0099-12-31", DATE, false],
    ["12345-01-01", DATE, false],
    ["infinity", TIMESTAMPTZ, false],
    ["-infinity", DATE, false],
    ["-1.5", FLOAT8, false],
    ["", INT4, false],
    ["-", INT4, false],
    ["12345678901", INT4, false],
  ];
  const encoder = new TextEncoder();
  for (const [text, type, read] of cases) {
    // between other bytes: nothing is read past the value
    const bytes = encoder.encode(`9-:${text}:9-`);
    const value = valueAt(bytes, 3, bytes.length - 6, type);
    assert.equal(value !== FROM_TEXT, read, `${text} as ${type}`);
    if (read) assert.deepEqual(value, decodeValue(text, type), text);
  }
});

Deno.test("encodeParameter() writes times outside years 1–9999 as PostgreSQL reads them: BC, five-digit years, and the largest and smallest Date as ±infinity", () => {
  assert.equal(
    encodeParameter(utc(0, 6, 1, 1, 2, 3, 4)),
    "0001-06-01 01:02:03.004+00 BC",
  );
  assert.equal(
    encodeParameter(utc(-99, 12, 31)),
    "0100-12-31 00:00:00.000+00 BC",
  );
  assert.equal(
    encodeParameter(utc(10000, 1, 1)),
    "10000-01-01 00:00:00.000+00",
  );
  assert.equal(
    encodeParameter(utc(275759, 1, 1)),
    "275759-01-01 00:00:00.000+00",
  );
  assert.equal(encodeParameter(new Date(8.64e15)), "infinity");
  assert.equal(encodeParameter(new Date(-8.64e15)), "-infinity");
  // the edges of the years toISOString writes
  assert.equal(encodeParameter(utc(1, 1, 1)), "0001-01-01T00:00:00.000Z");
  assert.equal(
    encodeParameter(new Date(utc(1, 1, 1).getTime() - 1)),
    "0001-12-31 23:59:59.999+00 BC",
  );
  assert.equal(
    encodeParameter(utc(9999, 12, 31, 23, 59, 59, 999)),
    "9999-12-31T23:59:59.999Z",
  );
  // and each is read back as it was
  for (
    const ms of [
      utc(0, 6, 1).getTime(),
      utc(-99, 12, 31).getTime(),
      8.64e15,
      -8.64e15,
    ]
  ) {
    const text = encodeParameter(new Date(ms))!.replace(".000", "");
    assert.equal(parseTimestamp(text).getTime(), ms, text);
  }
});
