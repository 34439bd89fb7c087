import assert from "node:assert/strict";
import { CalendarDate } from "../../src/core/calendar_date.ts";

function date(text: string): CalendarDate {
  return CalendarDate.parse(text);
}

function rangeError(message: string): { name: string; message: string } {
  return { name: "RangeError", message };
}

/** The ISO date of a Date in UTC, for cross-checking against the platform. */
function isoDay(value: Date): string {
  return value.toISOString().slice(0, 10);
}

// --- Construction -----------------------------------------------------------

Deno.test("CalendarDate.of() creates a date from year, month and day", () => {
  const value = CalendarDate.of(2024, 7, 15);
  assert.equal(value.year, 2024);
  assert.equal(value.month, 7);
  assert.equal(value.day, 15);
  assert.equal(value.toString(), "2024-07-15");
  assert.equal(CalendarDate.of(1, 1, 1).toString(), "0001-01-01");
  assert.equal(CalendarDate.of(9999, 12, 31).toString(), "9999-12-31");
});

Deno.test("CalendarDate.of() accepts February 29th only in leap years (1900 no, 2000 yes, 2024 yes)", () => {
  assert.equal(CalendarDate.of(2000, 2, 29).toString(), "2000-02-29");
  assert.equal(CalendarDate.of(2024, 2, 29).toString(), "2024-02-29");
  assert.equal(CalendarDate.of(1600, 2, 29).toString(), "1600-02-29");
  assert.equal(CalendarDate.of(4, 2, 29).toString(), "0004-02-29");
  for (const year of [1900, 2023, 2100, 1, 9999]) {
    assert.throws(
      () => CalendarDate.of(year, 2, 29),
      rangeError(
        `Invalid calendar date: day "29" is not an integer from 1 to 28 in ${
          String(year).padStart(4, "0")
        }-02`,
      ),
      String(year),
    );
  }
});

Deno.test("CalendarDate.of() knows the length of every month", () => {
  const lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  lengths.forEach((length, index) => {
    const month = index + 1;
    assert.equal(CalendarDate.of(2023, month, length).day, length);
    assert.throws(() => CalendarDate.of(2023, month, length + 1), RangeError);
  });
});

Deno.test("CalendarDate.of() rejects an out-of-range year with a RangeError naming it", () => {
  for (const year of [0, -1, 10000, 1.5, NaN, Infinity]) {
    assert.throws(
      () => CalendarDate.of(year, 1, 1),
      rangeError(
        `Invalid calendar date: year "${year}" is not an integer from 1 to 9999`,
      ),
      String(year),
    );
  }
});

Deno.test("CalendarDate.of() rejects an out-of-range month with a RangeError naming it", () => {
  for (const month of [0, 13, -1, 1.5, NaN]) {
    assert.throws(
      () => CalendarDate.of(2024, month, 1),
      rangeError(
        `Invalid calendar date: month "${month}" is not an integer from 1 to 12`,
      ),
      String(month),
    );
  }
});

Deno.test("CalendarDate.of() rejects an out-of-range day with a RangeError naming it and the month", () => {
  assert.throws(
    () => CalendarDate.of(2024, 2, 30),
    rangeError(
      'Invalid calendar date: day "30" is not an integer from 1 to 29 in 2024-02',
    ),
  );
  assert.throws(
    () => CalendarDate.of(2024, 4, 31),
    rangeError(
      'Invalid calendar date: day "31" is not an integer from 1 to 30 in 2024-04',
    ),
  );
  for (const day of [0, -1, 32, 1.5, NaN]) {
    assert.throws(() => CalendarDate.of(2024, 1, day), RangeError, String(day));
  }
});

Deno.test("CalendarDate.parse() reads strict YYYY-MM-DD", () => {
  const value = CalendarDate.parse("2024-02-29");
  assert.equal(value.year, 2024);
  assert.equal(value.month, 2);
  assert.equal(value.day, 29);
  assert.equal(CalendarDate.parse("0001-01-01").year, 1);
  assert.equal(CalendarDate.parse("9999-12-31").day, 31);
  assert.equal(CalendarDate.parse("0987-06-05").toString(), "0987-06-05");
});

Deno.test("CalendarDate.parse() rejects other formats with a RangeError quoting the input", () => {
  const bad = [
    "",
    "2024-2-3",
    "2024-02-3",
    "2024-2-03",
    "24-02-03",
    "20240203",
    "2024/02/03",
    "2024.02.03",
    "03-02-2024",
    " 2024-02-03",
    "2024-02-03 ",
    "2024-02-03\n",
    "2024-02-03T00:00:00Z",
    "2024-02-03T00:00",
    "+2024-02-03",
    "-2024-02-03",
    "+002024-02-03",
    "12024-02-03",
    "２０２４-０２-０３", // full-width digits
    "2024-W05-6",
    "2024-034",
  ];
  for (const input of bad) {
    assert.throws(
      () => CalendarDate.parse(input),
      rangeError(
        `Cannot parse ${
          JSON.stringify(input)
        } as a calendar date: expected YYYY-MM-DD`,
      ),
      input,
    );
  }
  assert.throws(
    () => CalendarDate.parse("2024-2-3"),
    rangeError(
      'Cannot parse "2024-2-3" as a calendar date: expected YYYY-MM-DD',
    ),
  );
});

Deno.test("CalendarDate.parse() rejects dates that do not exist with a RangeError quoting the input", () => {
  assert.throws(
    () => CalendarDate.parse("2024-02-30"),
    rangeError(
      'Cannot parse "2024-02-30" as a calendar date: day "30" is not an integer from 1 to 29 in 2024-02',
    ),
  );
  assert.throws(
    () => CalendarDate.parse("1900-02-29"),
    rangeError(
      'Cannot parse "1900-02-29" as a calendar date: day "29" is not an integer from 1 to 28 in 1900-02',
    ),
  );
  assert.throws(
    () => CalendarDate.parse("2024-13-01"),
    rangeError(
      'Cannot parse "2024-13-01" as a calendar date: month "13" is not an integer from 1 to 12',
    ),
  );
  assert.throws(
    () => CalendarDate.parse("0000-01-01"),
    rangeError(
      'Cannot parse "0000-01-01" as a calendar date: year "0" is not an integer from 1 to 9999',
    ),
  );
  for (
    const input of ["2024-00-10", "2024-01-00", "2024-04-31", "2023-02-29"]
  ) {
    assert.throws(() => CalendarDate.parse(input), RangeError, input);
  }
  assert.equal(CalendarDate.parse("2000-02-29").day, 29);
});

Deno.test("CalendarDate.parse() rejects non-strings at run time with a RangeError", () => {
  const parse = CalendarDate.parse as (text: unknown) => CalendarDate;
  assert.throws(
    () => parse(undefined),
    rangeError(
      'Cannot parse "undefined" as a calendar date: expected YYYY-MM-DD',
    ),
  );
  assert.throws(() => parse(20240203), RangeError);
  assert.throws(() => parse(new Date()), RangeError);
});

Deno.test("CalendarDate.tryParse() returns undefined instead of throwing", () => {
  assert.equal(CalendarDate.tryParse("2024-12-25")?.toString(), "2024-12-25");
  for (
    const bad of ["25/12/2024", "2024-02-30", "2024-2-3", "", "0000-01-01"]
  ) {
    assert.equal(CalendarDate.tryParse(bad), undefined, bad);
  }
  const tryParse = CalendarDate.tryParse as (text: unknown) => unknown;
  assert.equal(tryParse(null), undefined);
});

Deno.test("CalendarDate.fromDate() takes the UTC calendar day of the instant", () => {
  assert.equal(
    CalendarDate.fromDate(new Date("2024-03-10T23:30:00-05:00")).toString(),
    "2024-03-11",
  );
  assert.equal(
    CalendarDate.fromDate(new Date("2024-03-11T00:30:00+02:00")).toString(),
    "2024-03-10",
  );
  assert.equal(
    CalendarDate.fromDate(new Date("2024-02-29T23:59:59.999Z")).toString(),
    "2024-02-29",
  );
  assert.equal(
    CalendarDate.fromDate(new Date("2024-03-01T00:00:00.000Z")).toString(),
    "2024-03-01",
  );
  assert.equal(CalendarDate.fromDate(new Date(0)).toString(), "1970-01-01");
  assert.equal(
    CalendarDate.fromDate(new Date(-1)).toString(),
    "1969-12-31",
  );
});

Deno.test("CalendarDate.fromDate() rejects an invalid Date or a year outside 1 to 9999", () => {
  assert.throws(
    () => CalendarDate.fromDate(new Date("nope")),
    rangeError('Cannot convert "Invalid Date" to a calendar date'),
  );
  assert.throws(
    () => CalendarDate.fromDate(new Date("+010000-01-01T00:00:00Z")),
    rangeError(
      'Cannot convert "+010000-01-01T00:00:00.000Z" to a calendar date: year "10000" is not an integer from 1 to 9999',
    ),
  );
  assert.throws(
    () => CalendarDate.fromDate(new Date("0000-12-31T23:59:59Z")),
    RangeError,
  );
});

Deno.test("CalendarDate.today() is the current UTC date", () => {
  const before = isoDay(new Date());
  const today = CalendarDate.today().toString();
  const after = isoDay(new Date());
  assert.ok(today === before || today === after, today);
});

Deno.test("CalendarDate.isCalendarDate() recognizes CalendarDate instances only", () => {
  assert.equal(CalendarDate.isCalendarDate(CalendarDate.of(2024, 1, 1)), true);
  for (
    const other of [
      "2024-01-01",
      new Date(),
      { year: 2024, month: 1, day: 1 },
      null,
      undefined,
    ]
  ) {
    assert.equal(CalendarDate.isCalendarDate(other), false);
  }
  const candidate: unknown = CalendarDate.of(2024, 1, 1);
  if (CalendarDate.isCalendarDate(candidate)) {
    assert.equal(candidate.plusDays(1).day, 2); // narrowed type
  } else {
    assert.fail("expected a calendar date");
  }
});

// --- Calendar arithmetic ----------------------------------------------------

Deno.test("CalendarDate.dayOfWeek numbers Monday 1 to Sunday 7", () => {
  const cases: [string, number][] = [
    ["2024-01-01", 1], // Monday
    ["2024-01-06", 6], // Saturday
    ["2024-01-07", 7], // Sunday
    ["2024-02-29", 4], // Thursday
    ["2000-01-01", 6], // Saturday
    ["1970-01-01", 4], // Thursday
    ["1900-01-01", 1], // Monday
    ["0001-01-01", 1], // Monday (proleptic Gregorian)
    ["9999-12-31", 5], // Friday
  ];
  for (const [input, expected] of cases) {
    assert.equal(date(input).dayOfWeek, expected, input);
  }
});

Deno.test("CalendarDate agrees with the platform Date on every 97th day from year 1 to 9999", () => {
  let value = CalendarDate.of(1, 1, 1);
  const last = CalendarDate.of(9999, 12, 31);
  let count = 0;
  while (!value.isAfter(last.plusDays(-97))) {
    const asDate = value.toDate();
    assert.equal(isoDay(asDate), value.toString());
    assert.equal(
      value.dayOfWeek,
      ((asDate.getUTCDay() + 6) % 7) + 1,
      value.toString(),
    );
    assert.deepStrictEqual(CalendarDate.fromDate(asDate), value);
    value = value.plusDays(97);
    count++;
  }
  assert.ok(count > 37_000);
});

Deno.test("CalendarDate.plusDays() moves across months, years and leap days", () => {
  const cases: [string, number, string][] = [
    ["2024-02-28", 1, "2024-02-29"],
    ["2024-02-29", 1, "2024-03-01"],
    ["2023-02-28", 1, "2023-03-01"],
    ["1900-02-28", 1, "1900-03-01"],
    ["2000-02-28", 1, "2000-02-29"],
    ["2023-12-31", 1, "2024-01-01"],
    ["2024-01-01", -1, "2023-12-31"],
    ["2024-03-01", -1, "2024-02-29"],
    ["2024-01-01", 366, "2025-01-01"],
    ["2023-01-01", 365, "2024-01-01"],
    ["2024-01-31", 30, "2024-03-01"],
    ["1970-01-01", 19_723, "2024-01-01"],
    ["0001-01-01", 3_652_058, "9999-12-31"],
    ["9999-12-31", -3_652_058, "0001-01-01"],
  ];
  for (const [start, days, expected] of cases) {
    assert.equal(
      date(start).plusDays(days).toString(),
      expected,
      `${start} + ${days}`,
    );
  }
  const value = date("2024-05-05");
  assert.equal(value.plusDays(0), value);
});

Deno.test("CalendarDate.plusDays() rejects a non-integer count or a result outside years 1 to 9999", () => {
  assert.throws(
    () => date("2024-01-01").plusDays(1.5),
    rangeError('Invalid number of days "1.5": must be an integer'),
  );
  assert.throws(() => date("2024-01-01").plusDays(NaN), RangeError);
  assert.throws(() => date("2024-01-01").plusDays(Infinity), RangeError);
  assert.throws(
    () => date("9999-12-31").plusDays(1),
    rangeError(
      'Cannot add "1" days to 9999-12-31: the result is outside years 1 to 9999',
    ),
  );
  assert.throws(() => date("0001-01-01").plusDays(-1), RangeError);
  assert.throws(() => date("2024-01-01").plusDays(1e12), RangeError);
});

Deno.test("CalendarDate.plusMonths() clamps the day to the end of the target month", () => {
  const cases: [string, number, string][] = [
    ["2024-01-31", 1, "2024-02-29"],
    ["2023-01-31", 1, "2023-02-28"],
    ["2024-03-31", -1, "2024-02-29"],
    ["2024-03-31", 1, "2024-04-30"],
    ["2024-02-29", 12, "2025-02-28"],
    ["2024-02-29", 48, "2028-02-29"],
    ["2024-02-29", 1, "2024-03-29"],
    ["1900-01-29", 1, "1900-02-28"],
    ["2000-01-29", 1, "2000-02-29"],
  ];
  for (const [start, months, expected] of cases) {
    assert.equal(
      date(start).plusMonths(months).toString(),
      expected,
      `${start} + ${months} months`,
    );
  }
});

Deno.test("CalendarDate.plusMonths() moves across years in both directions", () => {
  assert.equal(date("2024-11-15").plusMonths(2).toString(), "2025-01-15");
  assert.equal(date("2024-03-15").plusMonths(-3).toString(), "2023-12-15");
  assert.equal(date("2024-01-15").plusMonths(-1).toString(), "2023-12-15");
  assert.equal(date("2024-01-15").plusMonths(-13).toString(), "2022-12-15");
  assert.equal(date("2024-01-15").plusMonths(120).toString(), "2034-01-15");
  assert.equal(date("0001-12-01").plusMonths(-11).toString(), "0001-01-01");
  const value = date("2024-05-05");
  assert.equal(value.plusMonths(0), value);
});

Deno.test("CalendarDate.plusMonths() rejects a non-integer count or a result outside years 1 to 9999", () => {
  assert.throws(
    () => date("2024-01-01").plusMonths(0.5),
    rangeError('Invalid number of months "0.5": must be an integer'),
  );
  assert.throws(
    () => date("9999-12-01").plusMonths(1),
    rangeError(
      'Cannot add "1" months to 9999-12-01: the result is outside years 1 to 9999',
    ),
  );
  assert.throws(() => date("0001-01-31").plusMonths(-1), RangeError);
});

Deno.test("CalendarDate.daysUntil() counts days, negative when the other date is earlier", () => {
  assert.equal(date("2024-02-01").daysUntil(date("2024-03-01")), 29);
  assert.equal(date("2023-02-01").daysUntil(date("2023-03-01")), 28);
  assert.equal(date("2024-02-01").daysUntil(date("2024-01-31")), -1);
  assert.equal(date("2024-02-01").daysUntil(date("2024-02-01")), 0);
  assert.equal(date("2000-01-01").daysUntil(date("2001-01-01")), 366);
  assert.equal(date("1900-01-01").daysUntil(date("1901-01-01")), 365);
  assert.equal(date("2024-01-01").daysUntil(date("2025-01-01")), 366);
  assert.equal(date("0001-01-01").daysUntil(date("9999-12-31")), 3_652_058);
});

// --- Comparison -------------------------------------------------------------

Deno.test("CalendarDate.compare(), equals(), isBefore() and isAfter() order dates chronologically", () => {
  const a = date("2023-12-31");
  const b = date("2024-01-01");
  assert.equal(a.compare(b), -1);
  assert.equal(b.compare(a), 1);
  assert.equal(a.compare(date("2023-12-31")), 0);
  assert.equal(a.equals(date("2023-12-31")), true);
  assert.equal(a.equals(b), false);
  assert.equal(a.isBefore(b), true);
  assert.equal(b.isBefore(a), false);
  assert.equal(a.isBefore(a), false);
  assert.equal(b.isAfter(a), true);
  assert.equal(a.isAfter(b), false);
  assert.equal(a.isAfter(a), false);
  const sorted = ["2024-03-01", "0999-01-01", "2023-12-31", "2024-02-29"]
    .map(date)
    .sort((x, y) => x.compare(y))
    .map(String);
  assert.deepEqual(sorted, [
    "0999-01-01",
    "2023-12-31",
    "2024-02-29",
    "2024-03-01",
  ]);
});

// --- Conversion -------------------------------------------------------------

Deno.test("CalendarDate.toDate() returns midnight UTC of the day", () => {
  assert.equal(
    CalendarDate.of(2024, 2, 29).toDate().toISOString(),
    "2024-02-29T00:00:00.000Z",
  );
  assert.equal(CalendarDate.of(1970, 1, 1).toDate().getTime(), 0);
  assert.equal(
    CalendarDate.of(50, 3, 4).toDate().toISOString(),
    "0050-03-04T00:00:00.000Z",
  );
  const value = CalendarDate.of(2024, 6, 1);
  assert.notEqual(value.toDate(), value.toDate()); // a new Date each time
});

Deno.test("CalendarDate.toString() formats zero-padded YYYY-MM-DD", () => {
  assert.equal(CalendarDate.of(2024, 1, 5).toString(), "2024-01-05");
  assert.equal(CalendarDate.of(987, 6, 5).toString(), "0987-06-05");
  assert.equal(CalendarDate.of(1, 1, 1).toString(), "0001-01-01");
  assert.equal(String(CalendarDate.of(2024, 12, 25)), "2024-12-25");
  assert.equal(`${CalendarDate.of(2024, 12, 25)}`, "2024-12-25");
});

Deno.test("CalendarDate.toJSON() stores YYYY-MM-DD, which round-trips through JSON", () => {
  const value = CalendarDate.of(2024, 7, 4);
  assert.equal(value.toJSON(), "2024-07-04");
  const json = JSON.stringify({ on: value });
  assert.equal(json, '{"on":"2024-07-04"}');
  const back = CalendarDate.parse(JSON.parse(json).on);
  assert.equal(back.equals(value), true);
  assert.deepStrictEqual(back, value);
});

// --- Safety -----------------------------------------------------------------

Deno.test("CalendarDate instances are immutable and operations return new values", () => {
  const value = date("2024-01-31");
  assert.equal(Object.isFrozen(value), true);
  assert.throws(() => {
    (value as { day: number }).day = 1;
  }, TypeError);
  value.plusDays(5);
  value.plusMonths(1);
  value.toDate().setUTCFullYear(1999);
  assert.equal(value.toString(), "2024-01-31");
});

Deno.test("CalendarDate values compare structurally with assert.deepStrictEqual", () => {
  assert.deepStrictEqual(date("2024-02-29"), CalendarDate.of(2024, 2, 29));
  assert.deepStrictEqual({ due: date("2024-01-31").plusMonths(1) }, {
    due: date("2024-02-29"),
  });
  assert.notDeepStrictEqual(date("2024-02-29"), date("2024-02-28"));
});
