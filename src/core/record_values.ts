/**
 * Column values compared, keyed, copied and ordered as PostgreSQL would:
 * the row logic both record stores share (the in-memory one, and the
 * in-memory part of the PostgreSQL replay). Pure functions, no I/O.
 *
 * Order has no collation here: text sorts by code point, as PostgreSQL's
 * `C` and `C.UTF-8` collations sort it, and JSON by its canonical text,
 * not as `jsonb` sorts. A database under another collation orders text
 * otherwise, so the replay store asks it for orders by text or JSON.
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
      return canonicalJson(a as JsonValue) < canonicalJson(b as JsonValue)
        ? -1
        : 1;
    case "boolean":
      return Number(a) - Number(b);
    case "text":
      return compareText(a as string, b as string);
    default:
      return a < b ? -1 : a > b ? 1 : 0;
  }
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
    const order = options.orderBy.map(([column, direction]) => {
      const col = table.columns[column] as AnyColumn | undefined;
      if (!col || !Object.hasOwn(table.columns, column)) {
        throw new TypeError(`Table ${table.name} has no column "${column}"`);
      }
      return { column, kind: col.kind, sign: direction === "desc" ? -1 : 1 };
    });
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
