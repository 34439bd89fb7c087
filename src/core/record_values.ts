/**
 * Column values compared, keyed, copied and ordered as PostgreSQL would:
 * the row logic both record stores share (the in-memory one, and the
 * in-memory part of the PostgreSQL replay). Pure functions, no I/O.
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

/** A string that is equal for equal values of a column kind. */
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
    default:
      return `s:${value as string}`;
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
    default:
      return a < b ? -1 : a > b ? 1 : 0;
  }
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
 * Orders rows as PostgreSQL would (nulls last ascending, first descending)
 * and applies the limit.
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
