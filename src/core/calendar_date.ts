/**
 * A calendar date without a time of day and without a time zone.
 *
 * @module
 */

const MIN_YEAR = 1;
const MAX_YEAR = 9999;
const MS_PER_DAY = 86_400_000;

/** Days before the first of each month in a common (non-leap) year. */
const DAYS_BEFORE_MONTH: readonly number[] = [
  0,
  31,
  59,
  90,
  120,
  151,
  181,
  212,
  243,
  273,
  304,
  334,
  365,
];

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days from 0001-01-01 to January 1st of `year` (proleptic Gregorian). */
function daysBeforeYear(year: number): number {
  const y = year - 1;
  return y * 365 + Math.floor(y / 4) - Math.floor(y / 100) +
    Math.floor(y / 400);
}

/** Days from 0001-01-01 (day 0) to the given date. */
function toOrdinal(year: number, month: number, day: number): number {
  const leapDay = month > 2 && isLeapYear(year) ? 1 : 0;
  return daysBeforeYear(year) + (DAYS_BEFORE_MONTH[month - 1] ?? 0) +
    leapDay + day - 1;
}

/** The inverse of {@linkcode toOrdinal}. */
function fromOrdinal(ordinal: number): [number, number, number] {
  let year = Math.floor(ordinal / 365.2425) + 1;
  while (daysBeforeYear(year) > ordinal) year--;
  while (daysBeforeYear(year + 1) <= ordinal) year++;
  const dayOfYear = ordinal - daysBeforeYear(year);
  const leap = isLeapYear(year);
  let month = 1;
  while (month < 12) {
    const nextStart = (DAYS_BEFORE_MONTH[month] ?? 0) +
      (leap && month >= 2 ? 1 : 0);
    if (dayOfYear < nextStart) break;
    month++;
  }
  const monthStart = (DAYS_BEFORE_MONTH[month - 1] ?? 0) +
    (leap && month > 2 ? 1 : 0);
  return [year, month, dayOfYear - monthStart + 1];
}

const MIN_ORDINAL = toOrdinal(MIN_YEAR, 1, 1);
const MAX_ORDINAL = toOrdinal(MAX_YEAR, 12, 31);
const EPOCH_ORDINAL = toOrdinal(1970, 1, 1);

function pad(value: number, length: number): string {
  return String(value).padStart(length, "0");
}

/** Returns why the components are not a valid date, or `undefined`. */
function invalidReason(
  year: number,
  month: number,
  day: number,
): string | undefined {
  if (!Number.isInteger(year) || year < MIN_YEAR || year > MAX_YEAR) {
    return `year "${year}" is not an integer from ${MIN_YEAR} to ${MAX_YEAR}`;
  }
  if (!Number.isInteger(month) || month < 1 || month > 12) {
    return `month "${month}" is not an integer from 1 to 12`;
  }
  const last = daysInMonth(year, month);
  if (!Number.isInteger(day) || day < 1 || day > last) {
    return `day "${day}" is not an integer from 1 to ${last} in ${
      pad(year, 4)
    }-${pad(month, 2)}`;
  }
  return undefined;
}

function checkInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(
      `Invalid number of ${what} "${value}": must be an integer`,
    );
  }
}

/**
 * A calendar date (year, month 1–12, day) in the proleptic Gregorian
 * calendar, for years 1 to 9999, with no time of day and no time zone: a
 * birthday, a due date, a booking day.
 *
 * Instances are immutable (frozen) and expose `year`, `month` and `day` as
 * read-only fields, so structural comparisons such as
 * `assert.deepStrictEqual` tell different dates apart. The string and JSON
 * form is `YYYY-MM-DD`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CalendarDate } from "@sequent/core";
 *
 * const due = CalendarDate.parse("2024-01-31").plusMonths(1);
 * assert.equal(due.toString(), "2024-02-29");
 * assert.equal(JSON.stringify({ due }), '{"due":"2024-02-29"}');
 * assert.equal(CalendarDate.of(2024, 3, 1).daysUntil(CalendarDate.of(2024, 12, 25)), 299);
 * ```
 */
export class CalendarDate {
  /**
   * The year, from 1 to 9999.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.parse("2024-07-15").year, 2024);
   * ```
   */
  readonly year: number;

  /**
   * The month, from 1 (January) to 12 (December).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.parse("2024-07-15").month, 7);
   * ```
   */
  readonly month: number;

  /**
   * The day of the month, from 1.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.parse("2024-07-15").day, 15);
   * ```
   */
  readonly day: number;

  private constructor(year: number, month: number, day: number) {
    this.year = year;
    this.month = month;
    this.day = day;
    Object.freeze(this);
  }

  /**
   * Creates a date from its components.
   *
   * @param year The year, an integer from 1 to 9999.
   * @param month The month, an integer from 1 to 12.
   * @param day The day, an integer from 1 to the number of days in that
   * month (leap years included).
   * @returns The date.
   * @throws {RangeError} If a component is out of range; the message names
   * it, e.g. `Invalid calendar date: day "30" is not an integer from 1 to 29
   * in 2024-02`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.of(2024, 2, 29).toString(), "2024-02-29");
   * assert.throws(() => CalendarDate.of(2023, 2, 29), RangeError);
   * ```
   */
  static of(year: number, month: number, day: number): CalendarDate {
    const reason = invalidReason(year, month, day);
    if (reason !== undefined) {
      throw new RangeError(`Invalid calendar date: ${reason}`);
    }
    return new CalendarDate(year, month, day);
  }

  /**
   * Parses a date in the strict `YYYY-MM-DD` form (zero-padded, no
   * surrounding whitespace, no time part).
   *
   * @param text The text to parse.
   * @returns The date.
   * @throws {RangeError} If the text is not in that form or is not an
   * existing date; the message quotes it, e.g.
   * `Cannot parse "2024-2-3" as a calendar date: expected YYYY-MM-DD`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.parse("2024-02-29").day, 29);
   * assert.throws(() => CalendarDate.parse("2024-02-30"), RangeError);
   * assert.throws(() => CalendarDate.parse("2024-2-3"), RangeError);
   * ```
   */
  static parse(text: string): CalendarDate {
    const match = typeof text === "string" ? DATE_PATTERN.exec(text) : null;
    const quoted = typeof text === "string"
      ? JSON.stringify(text)
      : `"${String(text)}"`;
    if (match === null) {
      throw new RangeError(
        `Cannot parse ${quoted} as a calendar date: expected YYYY-MM-DD`,
      );
    }
    const year = Number(match[1]);
    const month = Number(match[2]);
    const day = Number(match[3]);
    const reason = invalidReason(year, month, day);
    if (reason !== undefined) {
      throw new RangeError(
        `Cannot parse ${quoted} as a calendar date: ${reason}`,
      );
    }
    return new CalendarDate(year, month, day);
  }

  /**
   * Parses like {@linkcode CalendarDate.parse}, but returns `undefined`
   * instead of throwing.
   *
   * @param text The text to parse.
   * @returns The date, or `undefined` if the text is not a valid
   * `YYYY-MM-DD` date.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.tryParse("2024-12-25")?.month, 12);
   * assert.equal(CalendarDate.tryParse("25/12/2024"), undefined);
   * ```
   */
  static tryParse(text: string): CalendarDate | undefined {
    try {
      return CalendarDate.parse(text);
    } catch {
      return undefined;
    }
  }

  /**
   * Takes the date of a `Date` in UTC: the result is the UTC calendar day of
   * that instant, whatever the local time zone of the machine. To get the
   * day in another time zone, build the date with
   * {@linkcode CalendarDate.of} from that zone's components instead.
   *
   * @param date The instant.
   * @returns The UTC calendar date of that instant.
   * @throws {RangeError} If the `Date` is invalid or its UTC year is outside
   * 1 to 9999.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * const date = CalendarDate.fromDate(new Date("2024-03-10T23:30:00-05:00"));
   * assert.equal(date.toString(), "2024-03-11");
   * ```
   */
  static fromDate(date: Date): CalendarDate {
    const time = date instanceof Date ? date.getTime() : NaN;
    if (Number.isNaN(time)) {
      throw new RangeError(
        `Cannot convert "${String(date)}" to a calendar date`,
      );
    }
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth() + 1;
    const day = date.getUTCDate();
    const reason = invalidReason(year, month, day);
    if (reason !== undefined) {
      throw new RangeError(
        `Cannot convert "${date.toISOString()}" to a calendar date: ${reason}`,
      );
    }
    return new CalendarDate(year, month, day);
  }

  /**
   * Today's date in UTC (see {@linkcode CalendarDate.fromDate}).
   *
   * @returns The current UTC calendar date.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.today().toString(), new Date().toISOString().slice(0, 10));
   * ```
   */
  static today(): CalendarDate {
    return CalendarDate.fromDate(new Date());
  }

  /**
   * Tells whether a value is a `CalendarDate`.
   *
   * @param value The value to test.
   * @returns `true` if the value is a `CalendarDate` instance.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.isCalendarDate(CalendarDate.of(2024, 1, 1)), true);
   * assert.equal(CalendarDate.isCalendarDate("2024-01-01"), false);
   * ```
   */
  static isCalendarDate(value: unknown): value is CalendarDate {
    return value instanceof CalendarDate;
  }

  #ordinal(): number {
    return toOrdinal(this.year, this.month, this.day);
  }

  /**
   * The ISO day of the week: 1 = Monday … 7 = Sunday.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.parse("2024-01-01").dayOfWeek, 1); // Monday
   * assert.equal(CalendarDate.parse("2024-01-07").dayOfWeek, 7); // Sunday
   * ```
   */
  get dayOfWeek(): number {
    // 0001-01-01 is a Monday in the proleptic Gregorian calendar.
    return (this.#ordinal() % 7) + 1;
  }

  /**
   * Adds (or, if negative, subtracts) a number of days.
   *
   * @param days A whole number of days.
   * @returns The date `days` days later.
   * @throws {RangeError} If `days` is not an integer or the result is
   * outside years 1 to 9999.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.parse("2024-02-28").plusDays(1).toString(), "2024-02-29");
   * assert.equal(CalendarDate.parse("2024-01-01").plusDays(-1).toString(), "2023-12-31");
   * ```
   */
  plusDays(days: number): CalendarDate {
    checkInteger(days, "days");
    if (days === 0) return this;
    const ordinal = this.#ordinal() + days;
    if (ordinal < MIN_ORDINAL || ordinal > MAX_ORDINAL) {
      throw new RangeError(
        `Cannot add "${days}" days to ${this.toString()}: the result is outside years ${MIN_YEAR} to ${MAX_YEAR}`,
      );
    }
    const [year, month, day] = fromOrdinal(ordinal);
    return new CalendarDate(year, month, day);
  }

  /**
   * Adds (or, if negative, subtracts) a number of months. If the day does
   * not exist in the target month, it is clamped to that month's last day
   * (January 31st plus one month is February 28th or 29th).
   *
   * @param months A whole number of months.
   * @returns The date `months` months later.
   * @throws {RangeError} If `months` is not an integer or the result is
   * outside years 1 to 9999.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.parse("2024-01-31").plusMonths(1).toString(), "2024-02-29");
   * assert.equal(CalendarDate.parse("2024-03-15").plusMonths(-3).toString(), "2023-12-15");
   * assert.equal(CalendarDate.parse("2024-02-29").plusMonths(12).toString(), "2025-02-28");
   * ```
   */
  plusMonths(months: number): CalendarDate {
    checkInteger(months, "months");
    if (months === 0) return this;
    const index = this.year * 12 + (this.month - 1) + months;
    const year = Math.floor(index / 12);
    const month = index - year * 12 + 1;
    if (year < MIN_YEAR || year > MAX_YEAR) {
      throw new RangeError(
        `Cannot add "${months}" months to ${this.toString()}: the result is outside years ${MIN_YEAR} to ${MAX_YEAR}`,
      );
    }
    const day = Math.min(this.day, daysInMonth(year, month));
    return new CalendarDate(year, month, day);
  }

  /**
   * Counts the days from this date to another.
   *
   * @param other The other date.
   * @returns The number of days, negative if `other` is earlier.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * const start = CalendarDate.parse("2024-02-01");
   * assert.equal(start.daysUntil(CalendarDate.parse("2024-03-01")), 29);
   * assert.equal(start.daysUntil(CalendarDate.parse("2024-01-31")), -1);
   * ```
   */
  daysUntil(other: CalendarDate): number {
    return toOrdinal(other.year, other.month, other.day) - this.#ordinal();
  }

  /**
   * Compares chronologically.
   *
   * @param other The date to compare with.
   * @returns `-1` if this date is earlier, `0` if the same day, `1` if later.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * const dates = ["2024-03-01", "2023-12-31", "2024-02-29"].map(CalendarDate.parse);
   * dates.sort((a, b) => a.compare(b));
   * assert.deepEqual(dates.map(String), ["2023-12-31", "2024-02-29", "2024-03-01"]);
   * ```
   */
  compare(other: CalendarDate): -1 | 0 | 1 {
    const a = this.#ordinal();
    const b = toOrdinal(other.year, other.month, other.day);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  /**
   * Tells whether both dates are the same day.
   *
   * @param other The date to compare with.
   * @returns `true` if both are the same day.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.of(2024, 5, 1).equals(CalendarDate.parse("2024-05-01")), true);
   * ```
   */
  equals(other: CalendarDate): boolean {
    return this.year === other.year && this.month === other.month &&
      this.day === other.day;
  }

  /**
   * Tells whether this date is earlier than another.
   *
   * @param other The date to compare with.
   * @returns `true` if this date is strictly earlier.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.of(2024, 1, 1).isBefore(CalendarDate.of(2024, 1, 2)), true);
   * assert.equal(CalendarDate.of(2024, 1, 1).isBefore(CalendarDate.of(2024, 1, 1)), false);
   * ```
   */
  isBefore(other: CalendarDate): boolean {
    return this.compare(other) < 0;
  }

  /**
   * Tells whether this date is later than another.
   *
   * @param other The date to compare with.
   * @returns `true` if this date is strictly later.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.of(2024, 1, 2).isAfter(CalendarDate.of(2024, 1, 1)), true);
   * ```
   */
  isAfter(other: CalendarDate): boolean {
    return this.compare(other) > 0;
  }

  /**
   * Converts to a `Date` at midnight UTC of this day.
   *
   * @returns A new `Date`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.of(2024, 2, 29).toDate().toISOString(), "2024-02-29T00:00:00.000Z");
   * ```
   */
  toDate(): Date {
    return new Date((this.#ordinal() - EPOCH_ORDINAL) * MS_PER_DAY);
  }

  /**
   * Formats as `YYYY-MM-DD`, zero-padded.
   *
   * @returns The date as a string that {@linkcode CalendarDate.parse} reads
   * back.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * assert.equal(CalendarDate.of(987, 6, 5).toString(), "0987-06-05");
   * ```
   */
  toString(): string {
    return `${pad(this.year, 4)}-${pad(this.month, 2)}-${pad(this.day, 2)}`;
  }

  /**
   * The JSON representation: the same `YYYY-MM-DD` string as
   * {@linkcode CalendarDate.toString}.
   *
   * @returns The date as a string.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CalendarDate } from "@sequent/core";
   *
   * const json = JSON.stringify({ on: CalendarDate.of(2024, 7, 4) });
   * assert.equal(json, '{"on":"2024-07-04"}');
   * assert.equal(CalendarDate.parse(JSON.parse(json).on).month, 7);
   * ```
   */
  toJSON(): string {
    return this.toString();
  }
}
