/**
 * Values on the wire, in PostgreSQL's text format: parameters out, column
 * values in. The types follow the {@linkcode SqlClient} port: `smallint`,
 * `integer`, `oid`, `real` and `double precision` as numbers; `bigint`,
 * `numeric`, `xid8`, `uuid`, text and unknown types as strings; `json` and
 * `jsonb` as their text; `boolean` as boolean; `date`, `timestamp` and
 * `timestamptz` as `Date` (a `timestamp` without time zone read as UTC);
 * `bytea` as `Uint8Array`; arrays of these as arrays.
 *
 * @module
 */
import type { SqlValue } from "../sql_client.ts";

/** OIDs of the types read specially. */
const BOOL = 16;
const BYTEA = 17;
const INT8 = 20;
const INT2 = 21;
const INT4 = 23;
const OID = 26;
const FLOAT4 = 700;
const FLOAT8 = 701;
const DATE = 1082;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;

/** Array type OID → element type OID, for the element types read specially. */
const ARRAYS: ReadonlyMap<number, number> = new Map([
  [1000, BOOL],
  [1001, BYTEA],
  [1016, INT8],
  [1005, INT2],
  [1007, INT4],
  [1028, OID],
  [1021, FLOAT4],
  [1022, FLOAT8],
  [1182, DATE],
  [1115, TIMESTAMP],
  [1185, TIMESTAMPTZ],
  // arrays of types read as text
  [1009, 25],
  [1015, 1043],
  [1014, 1042],
  [1003, 19],
  [2951, 2950],
  [1231, 1700],
  [199, 114],
  [3807, 3802],
  [5077, 5069],
]);

/**
 * The parameter's type OID as the driver declares it: most values go as
 * "unknown" (0), so the server infers the type from the statement, as
 * postgres.js does; these few are declared because their text alone is
 * ambiguous.
 */
export function parameterType(value: SqlValue | Uint8Array): number {
  if (value instanceof Date) return TIMESTAMPTZ;
  if (typeof value === "boolean") return BOOL;
  if (typeof value === "bigint") return INT8;
  if (value instanceof Uint8Array) return BYTEA;
  return 0;
}

/** The largest time a `Date` can hold (for `infinity`). */
const MAX_DATE_MS = 8.64e15;

/** The last time {@linkcode dateText} wrote, and its text. */
let lastMs = Number.NaN;
let lastText = "";

/**
 * `0001-01-01T00:00:00Z` and `10000-01-01T00:00:00Z`: between them,
 * `toISOString` writes what PostgreSQL reads.
 */
const FIRST_ISO_MS = -62135596800000;
const AFTER_ISO_MS = 253402300800000;

/**
 * A time as text PostgreSQL reads (a `Date` parameter's text, and a
 * `Date`'s column in copy text): ISO text for years 1 to 9999, PostgreSQL's
 * own form for the others and for ±infinity. The events of one command,
 * and often of one commit, share their time: the text is kept for the
 * next call.
 *
 * @param date The time.
 * @returns Its text, which PostgreSQL reads as the same time (and writes
 *   back in a form {@linkcode parseTimestamp} reads as it was).
 * @throws {TypeError} for an invalid `Date`.
 */
export function dateText(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastMs) {
    if (Number.isNaN(ms)) {
      throw new TypeError("An invalid Date cannot be sent to the database");
    }
    lastText = ms >= FIRST_ISO_MS && ms < AFTER_ISO_MS
      ? date.toISOString()
      : farDateText(date, ms);
    lastMs = ms;
  }
  return lastText;
}

/**
 * A time outside years 1–9999, which `toISOString` writes in a shape
 * PostgreSQL refuses (`0000-…`, `-000100-…`, `+010000-…`): the largest and
 * smallest `Date` as `infinity` and `-infinity` (what
 * {@linkcode parseTimestamp} reads them as, so they go back as they came),
 * other years with as many digits as they need and ` BC` for year 0 and
 * before (year 0 is 1 BC).
 */
function farDateText(date: Date, ms: number): string {
  if (ms === MAX_DATE_MS) return "infinity";
  if (ms === -MAX_DATE_MS) return "-infinity";
  const year = date.getUTCFullYear();
  const two = (n: number) => String(n).padStart(2, "0");
  return `${String(year > 0 ? year : 1 - year).padStart(4, "0")}-${
    two(date.getUTCMonth() + 1)
  }-${two(date.getUTCDate())} ${two(date.getUTCHours())}:${
    two(date.getUTCMinutes())
  }:${two(date.getUTCSeconds())}.${
    String(date.getUTCMilliseconds()).padStart(3, "0")
  }+00${year > 0 ? "" : " BC"}`;
}

/** A parameter in text format (`null` for SQL NULL). */
export function encodeParameter(value: SqlValue | Uint8Array): string | null {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "t" : "f";
    case "undefined":
      return null;
    default:
      if (value === null) return null;
      if (value instanceof Date) return dateText(value);
      if (value instanceof Uint8Array) return byteaText(value);
      throw new TypeError(
        `A value of type ${typeof value} cannot be sent to the database`,
      );
  }
}

function byteaText(bytes: Uint8Array): string {
  let out = "\\x";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Reads a column value of type `type` from its text. */
export function decodeValue(text: string, type: number): unknown {
  switch (type) {
    case INT2:
    case INT4:
    case OID:
    case FLOAT4:
    case FLOAT8:
      return Number(text);
    case BOOL:
      return text === "t";
    case DATE:
    case TIMESTAMP:
    case TIMESTAMPTZ:
      return parseTimestamp(text);
    case BYTEA:
      return parseBytea(text);
    default: {
      const element = ARRAYS.get(type);
      return element === undefined ? text : parseArray(text, element);
    }
  }
}

/** Whether a column of this type needs converting from text at all. */
export function isText(type: number): boolean {
  switch (type) {
    case INT2:
    case INT4:
    case OID:
    case FLOAT4:
    case FLOAT8:
    case BOOL:
    case DATE:
    case TIMESTAMP:
    case TIMESTAMPTZ:
    case BYTEA:
      return false;
    default:
      return !ARRAYS.has(type);
  }
}

const TIMESTAMP_TEXT =
  /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

const encoder = new TextEncoder();

/**
 * Reads `date`, `timestamp` and `timestamptz` output in the ISO date style
 * (the driver sets `DateStyle=ISO` for every session), for every year,
 * including 1–99 and BC. Milliseconds are kept; microseconds truncated.
 */
export function parseTimestamp(text: string): Date {
  const bytes = encoder.encode(text);
  const fast = commonTimestampAt(bytes, 0, bytes.length);
  if (fast !== undefined) return new Date(fast);
  return generalTimestamp(text);
}

/** {@linkcode parseTimestamp} of the shapes `commonTimestampAt` leaves. */
function generalTimestamp(text: string): Date {
  if (text === "infinity") return new Date(MAX_DATE_MS);
  if (text === "-infinity") return new Date(-MAX_DATE_MS);
  const m = TIMESTAMP_TEXT.exec(text);
  if (!m) return new Date(Number.NaN);
  let year = Number(m[1]);
  if (m[12]) year = 1 - year; // 1 BC is year 0
  const fraction = m[7] ? Number(m[7].padEnd(3, "0").slice(0, 3)) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  date.setUTCHours(
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    fraction,
  );
  if (m[8]) {
    const sign = m[8] === "-" ? -1 : 1;
    const offsetMs = sign *
      ((Number(m[9]) * 60 + Number(m[10] ?? 0)) * 60 + Number(m[11] ?? 0)) *
      1000;
    date.setTime(date.getTime() - offsetMs);
  }
  return date;
}

/**
 * What {@linkcode valueAt} gives for a value it leaves to
 * {@linkcode decodeValue}.
 */
export const FROM_TEXT: unique symbol = Symbol("from text");

/**
 * A column's value read straight from the bytes of its text, with no
 * string made: integers (`int2`, `int4`, `oid`), booleans, and dates and
 * timestamps of the common shape. A row's columns are many, and each
 * string decoded costs a call into the runtime. {@linkcode FROM_TEXT} for
 * any other type or shape: decode the text and read it with
 * {@linkcode decodeValue}, which gives the same value for these.
 */
export function valueAt(
  bytes: Uint8Array,
  at: number,
  length: number,
  type: number,
): unknown {
  switch (type) {
    case INT2:
    case INT4:
    case OID:
      return integerAt(bytes, at, length);
    case BOOL:
      return length === 1 ? bytes[at] === 0x74 : FROM_TEXT; // t
    case DATE:
    case TIMESTAMP:
    case TIMESTAMPTZ: {
      const ms = commonTimestampAt(bytes, at, length);
      return ms === undefined ? FROM_TEXT : new Date(ms);
    }
    default:
      return FROM_TEXT;
  }
}

/**
 * An optional minus and up to ten digits (any 32-bit integer), else
 * {@linkcode FROM_TEXT}.
 */
function integerAt(
  bytes: Uint8Array,
  at: number,
  length: number,
): number | typeof FROM_TEXT {
  const negative = bytes[at] === 45; // -
  let i = negative ? at + 1 : at;
  const end = at + length;
  if (i === end || end - i > 10) return FROM_TEXT;
  let n = 0;
  for (; i < end; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) return FROM_TEXT;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

/**
 * The milliseconds of the shape almost every value has
 * (`2024-02-29 13:14:15.123456+00`, or a plain date), read digit by digit
 * from the text's bytes, `at` to `at + n`; `undefined` for anything else
 * (years before 100, BC, other offsets), which the general reader handles.
 */
function commonTimestampAt(
  b: Uint8Array,
  at: number,
  n: number,
): number | undefined {
  if (n < 10 || b[at + 4] !== 45 || b[at + 7] !== 45) return undefined;
  const d = (i: number) => b[at + i]! - 48;
  const year = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3);
  if (!(year >= 100 && year <= 9999)) return undefined;
  const month = d(5) * 10 + d(6) - 1;
  const day = d(8) * 10 + d(9);
  if (n === 10) return Date.UTC(year, month, day);
  if (n < 19 || b[at + 10] !== 32) return undefined;
  const hours = d(11) * 10 + d(12);
  const minutes = d(14) * 10 + d(15);
  const seconds = d(17) * 10 + d(18);
  let i = 19;
  let ms = 0;
  if (b[at + i] === 46) {
    let scale = 100;
    for (i++; i < n; i++) {
      const c = d(i);
      if (c < 0 || c > 9) break;
      ms += c * scale;
      scale /= 10;
    }
    ms = Math.floor(ms);
  }
  let offset = 0;
  if (i < n) {
    const sign = b[at + i];
    if ((sign !== 43 && sign !== 45) || i + 3 > n) return undefined;
    let east = (d(i + 1) * 10 + d(i + 2)) * 3600;
    i += 3;
    if (i < n && b[at + i] === 58) {
      east += (d(i + 1) * 10 + d(i + 2)) * 60;
      i += 3;
      if (i < n && b[at + i] === 58) {
        east += d(i + 1) * 10 + d(i + 2);
        i += 3;
      }
    }
    if (i !== n) return undefined;
    offset = (sign === 45 ? -east : east) * 1000;
  }
  const utc = Date.UTC(year, month, day, hours, minutes, seconds, ms);
  return Number.isNaN(utc) ? undefined : utc - offset;
}

function parseBytea(text: string): Uint8Array {
  if (text.startsWith("\\x")) {
    const out = new Uint8Array((text.length - 2) / 2);
    for (let i = 0; i < out.length; i++) {
      out[i] = parseInt(text.slice(2 + 2 * i, 4 + 2 * i), 16);
    }
    return out;
  }
  // the escape format (bytea_output = escape)
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      if (text[i + 1] === "\\") {
        bytes.push(0x5c);
        i++;
      } else {
        bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
        i += 3;
      }
    } else bytes.push(c);
  }
  return Uint8Array.from(bytes);
}

/**
 * Reads an array's text (`{1,2,NULL}`, `{"a b","c\"d"}`, nested for more
 * dimensions), converting each element as a column of `element` type.
 */
export function parseArray(text: string, element: number): unknown[] {
  let at = 0;
  // an optional dimension decoration: [1:2]={…}
  if (text[0] === "[") at = text.indexOf("=") + 1;
  const parse = (): unknown[] => {
    const out: unknown[] = [];
    at++; // {
    if (text[at] === "}") {
      at++;
      return out;
    }
    for (;;) {
      if (text[at] === "{") {
        out.push(parse());
      } else if (text[at] === '"') {
        let value = "";
        at++;
        while (text[at] !== '"') {
          if (text[at] === "\\") at++;
          value += text[at++];
        }
        at++;
        out.push(decodeValue(value, element));
      } else {
        const start = at;
        while (text[at] !== "," && text[at] !== "}") at++;
        const raw = text.slice(start, at);
        out.push(raw === "NULL" ? null : decodeValue(raw, element));
      }
      if (text[at] === ",") {
        at++;
        continue;
      }
      at++; // }
      return out;
    }
  };
  return parse();
}
