/**
 * Column values compared, keyed, copied and ordered as PostgreSQL would:
 * the row logic both record stores share (the in-memory one, and the
 * in-memory part of the PostgreSQL replay). Pure functions, no I/O.
 *
 * Order has no collation here: text sorts by code point, as PostgreSQL's
 * `C` and `C.UTF-8` collations sort it, and JSON as `jsonb` sorts it, its
 * strings (and keys) by code point too. A database under another collation
 * orders text otherwise, so the replay store asks it for orders by text or
 * JSON.
 *
 * @module
 */
import { CalendarDate } from "./calendar_date.ts";
import { Decimal } from "./decimal.ts";
import type { JsonValue } from "./json.ts";
import type { FindOptions } from "./record_store.ts";
import type { Column, ColumnKind, RecordTable } from "./record_table.ts";

type Row = Record<string, unknown>;
type AnyColumn = Column<unknown, boolean, boolean>;

function canonicalJson(value: JsonValue): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  return `{${
    Object.keys(value).sort().map((k) =>
      `${JSON.stringify(k)}:${canonicalJson(value[k] as JsonValue)}`
    ).join(",")
  }}`;
}

function normalizedDecimal(value: Decimal): string {
  let text = value.toString();
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  return text === "-0" ? "0" : text;
}

/**
 * A string that is equal for equal values of a column kind, and holds no
 * U+0001: the stores join a composite key's value keys with it.
 */
export function valueKey(kind: ColumnKind, value: unknown): string {
  if (value === null || value === undefined) return "\0";
  switch (kind) {
    case "integer":
    case "float":
      return `n:${Object.is(value, -0) ? 0 : value}`;
    case "bigint":
      return `b:${value}`;
    case "boolean":
      return value ? "t" : "f";
    case "decimal":
      return `d:${normalizedDecimal(value as Decimal)}`;
    case "date":
      return `D:${String(value)}`;
    case "dateTime":
      return `T:${(value as Date).getTime()}`;
    case "json":
      return `j:${canonicalJson(value as JsonValue)}`;
    default: {
      // Text may hold U+0001 (JSON's text escapes it already): such text is
      // escaped as JSON, under a prefix of its own, so ("x\u0001…", "y") and
      // ("x", "…\u0001y") stay two keys. Other text costs one scan.
      const text = String(value);
      return text.includes("\u0001")
        ? `S:${JSON.stringify(text)}`
        : `s:${text}`;
    }
  }
}

/** Orders two values of a column kind; nulls sort last, as in PostgreSQL. */
function compareValues(
  kind: ColumnKind,
  a: unknown,
  b: unknown,
): number {
  if (a === null || a === undefined) {
    return b === null || b === undefined ? 0 : 1;
  }
  if (b === null || b === undefined) return -1;
  switch (kind) {
    case "decimal":
      return (a as Decimal).compare(b as Decimal);
    case "date":
      return (a as CalendarDate).compare(b as CalendarDate);
    case "dateTime":
      return (a as Date).getTime() - (b as Date).getTime();
    case "json":
      return compareJson(a as JsonValue, b as JsonValue);
    case "boolean":
      return Number(a) - Number(b);
    case "text":
      return compareText(a as string, b as string);
    default:
      return a < b ? -1 : a > b ? 1 : 0;
  }
}

/** `jsonb`'s order of types: null, string, number, boolean, array, object. */
function jsonRank(value: JsonValue): number {
  switch (typeof value) {
    case "string":
      return 1;
    case "number":
      return 2;
    case "boolean":
      return 3;
    default:
      return value === null ? 0 : Array.isArray(value) ? 4 : 5;
  }
}

/**
 * Orders two column values as `jsonb` does. Below the top, by
 * {@linkcode compareJsonValues}. At the top, `jsonb` holds a scalar as an
 * array of one element marked as a scalar, and compares it with an array
 * by length first, then the mark: so an empty array sorts before every
 * scalar, and any other array after every scalar.
 */
function compareJson(a: JsonValue, b: JsonValue): number {
  const aArray = Array.isArray(a);
  if (aArray !== Array.isArray(b)) {
    const scalar = aArray ? b : a;
    if (typeof scalar !== "object" || scalar === null) {
      const array = (aArray ? a : b) as readonly JsonValue[];
      const sign = array.length === 0 ? -1 : 1;
      return aArray ? sign : -sign;
    }
  }
  return compareJsonValues(a, b);
}

/**
 * Orders two JSON values as `jsonb` does: by type (null, string, number,
 * boolean, array, object), then numbers by value, strings by code point
 * (where the database uses its collation), false before true, arrays by
 * length and then element by element, objects by their number of keys and
 * then key, value, key, value… in the order `jsonb` stores keys (shorter
 * keys first, then by their bytes).
 */
function compareJsonValues(a: JsonValue, b: JsonValue): number {
  const rank = jsonRank(a);
  const other = jsonRank(b);
  if (rank !== other) return rank - other;
  switch (rank) {
    case 0:
      return 0;
    case 1:
      return compareText(a as string, b as string);
    case 2:
      return (a as number) < (b as number)
        ? -1
        : (a as number) > (b as number)
        ? 1
        : 0;
    case 3:
      return Number(a) - Number(b);
    case 4: {
      const x = a as readonly JsonValue[];
      const y = b as readonly JsonValue[];
      if (x.length !== y.length) return x.length - y.length;
      for (let i = 0; i < x.length; i++) {
        const c = compareJsonValues(x[i] as JsonValue, y[i] as JsonValue);
        if (c !== 0) return c;
      }
      return 0;
    }
    default: {
      const x = a as { readonly [key: string]: JsonValue };
      const y = b as { readonly [key: string]: JsonValue };
      const xKeys = Object.keys(x);
      const yKeys = Object.keys(y);
      if (xKeys.length !== yKeys.length) return xKeys.length - yKeys.length;
      xKeys.sort(compareStoredKeys);
      yKeys.sort(compareStoredKeys);
      for (let i = 0; i < xKeys.length; i++) {
        const xKey = xKeys[i] as string;
        const yKey = yKeys[i] as string;
        const c = compareText(xKey, yKey) ||
          compareJsonValues(x[xKey] as JsonValue, y[yKey] as JsonValue);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}

/** The order `jsonb` stores an object's keys in: by UTF-8 length, then bytes. */
function compareStoredKeys(a: string, b: string): number {
  const lengths = utf8Length(a) - utf8Length(b);
  return lengths !== 0 ? lengths : compareText(a, b);
}

function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // U+0080–U+07FF take 2 bytes, the rest of the BMP 3, a surrogate pair 4
    if (c >= 0x80) bytes += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

/**
 * Orders two strings by code point. `<` compares UTF-16 code units, which
 * puts U+10000 and above (surrogates, 0xD800–0xDFFF) before U+E000–U+FFFF;
 * only that pair of ranges orders differently, so only it is remapped.
 */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 || y < 0xd800) return x - y;
    // surrogates up past U+FFFF, U+E000–U+FFFF down below them
    return (x >= 0xe000 ? x - 0x800 : x + 0x2000) -
      (y >= 0xe000 ? y - 0x800 : y + 0x2000);
  }
  return a.length - b.length;
}

/** A copy of a column value that the caller may change freely. */
export function copyValue(value: unknown): unknown {
  if (value instanceof Date) return new Date(value.getTime());
  if (
    typeof value === "object" && value !== null &&
    !(value instanceof Decimal) && !(value instanceof CalendarDate)
  ) {
    return structuredClone(value);
  }
  return value;
}

/**
 * A value as a SQL store gives it back once stored, that the caller may
 * change freely: JSON as written as JSON text and read again (so `-0`
 * becomes `0`, as in `jsonb`), an integer or float `-0` as `0` (the
 * drivers send it as "0"), an instant copied, the rest (immutable) as is.
 *
 * @param kind The column's kind.
 * @param value A value the column accepts.
 * @returns The value as stored.
 *
 * @example
 * ```ts
 * import { storedValue } from "./record_values.ts";
 *
 * console.assert(Object.is(storedValue("integer", -0), 0));
 * console.assert(JSON.stringify(storedValue("json", { a: [-0] })) === '{"a":[0]}');
 * ```
 */
export function storedValue(kind: ColumnKind, value: unknown): unknown {
  switch (kind) {
    case "json":
      return value === null ? null : JSON.parse(JSON.stringify(value));
    case "integer":
    case "float":
      // (=== takes -0 for 0)
      return value === 0 ? 0 : value;
    case "dateTime":
      return value instanceof Date ? new Date(value.getTime()) : value;
    default:
      return value;
  }
}

/**
 * Checks an order: every column the table's own, every direction `"asc"`
 * or `"desc"`, as every store refuses anything else.
 *
 * @param table The table.
 * @param orderBy The order.
 * @throws {TypeError} naming an unknown column or a bad direction.
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 * import { checkOrder } from "./record_values.ts";
 *
 * const posts = table("posts", { id: column.integer().primaryKey() });
 * checkOrder(posts, [["id", "desc"]]);
 * try {
 *   checkOrder(posts, [["id", "DESC" as "desc"]]);
 * } catch (error) {
 *   console.assert(error instanceof TypeError);
 * }
 * ```
 */
export function checkOrder(
  table: RecordTable,
  orderBy: NonNullable<FindOptions["orderBy"]>,
): void {
  for (const [column, direction] of orderBy) {
    if (!Object.hasOwn(table.columns, column)) {
      throw new TypeError(`Table ${table.name} has no column "${column}"`);
    }
    if (direction !== "asc" && direction !== "desc") {
      throw new TypeError(
        `Order of ${column} must be "asc" or "desc", not ${
          typeof direction === "string"
            ? JSON.stringify(direction)
            : String(direction)
        }`,
      );
    }
  }
}

/**
 * Orders rows as PostgreSQL would (nulls last ascending, first descending;
 * text by code point, see the module documentation) and applies the limit.
 */
export function orderAndLimit(
  table: RecordTable,
  rows: Row[],
  options: FindOptions | undefined,
): Row[] {
  let result = rows;
  if (options?.orderBy?.length) {
    checkOrder(table, options.orderBy);
    const order = options.orderBy.map(([column, direction]) => ({
      column,
      kind: (table.columns[column] as AnyColumn).kind,
      sign: direction === "desc" ? -1 : 1,
    }));
    result.sort((a, b) => {
      for (const { column, kind, sign } of order) {
        const c = compareValues(kind, a[column], b[column]);
        if (c !== 0) return c * sign;
      }
      return 0;
    });
  }
  if (options?.limit !== undefined) {
    if (!Number.isSafeInteger(options.limit) || options.limit < 0) {
      throw new RangeError(
        `limit must be a non-negative integer, got ${options.limit}`,
      );
    }
    result = result.slice(0, options.limit);
  }
  return result;
}
