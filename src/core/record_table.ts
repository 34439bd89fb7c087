/**
 * Read-model tables declared in TypeScript: columns, types, primary key and
 * indexes in one place, from which the row type is inferred (the
 * PostgreSQL adapter makes the DDL from them). Column names are written in camelCase in TypeScript and stored
 * in snake_case (`aggregateId` → `aggregate_id`).
 *
 * @module
 */
import { CalendarDate } from "./calendar_date.ts";
import { Decimal } from "./decimal.ts";
import type { JsonValue } from "./json.ts";
import {
  isJsonValue,
  jsonEquals,
  jsonValueProblem,
  TOO_DEEP,
} from "./attributes.ts";
import { UnstorableTextError } from "./errors.ts";
import { isUuid } from "./_uuid.ts";
import {
  describeUnstorableText,
  findUnstorableJsonText,
  isStorableText,
} from "./storable_text.ts";

/** The column types a record table can have. */
export type ColumnKind =
  | "uuid"
  | "text"
  | "integer"
  | "bigint"
  | "float"
  | "boolean"
  | "decimal"
  | "date"
  | "dateTime"
  | "json";

// What PostgreSQL can hold, so every record store accepts the same values:
// 32- and 64-bit integers, storable text (no NUL, no lone surrogate; also in
// JSON strings and keys), JSON nesting at most MAX_NESTING_DEPTH levels,
// instants in the years 1 to 9999 (those the adapters pass as ISO text), and
// decimals `numeric` holds (16383 digits after the point, 131072 before).
const MIN_BIGINT = -(2n ** 63n);
const MAX_BIGINT = 2n ** 63n - 1n;
const MIN_INSTANT = Date.parse("0001-01-01T00:00:00.000Z");
const MAX_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");
/** PostgreSQL's `numeric` holds at most this many digits after the point… */
const MAX_DECIMAL_SCALE = 16383;
/** …and this many before it. */
const MAX_DECIMAL_INTEGER_DIGITS = 131072;
/** Below this in magnitude, a decimal has far fewer digits than the limit. */
const SMALL_UNSCALED = 10n ** 1000n;

/**
 * Why PostgreSQL's `numeric` cannot hold a decimal (too many digits after
 * or before the point), or undefined when it can. A decimal of ordinary
 * size is told apart by two comparisons, without counting its digits.
 */
function decimalProblem(value: Decimal): string | undefined {
  if (value.scale > MAX_DECIMAL_SCALE) {
    return `${value.scale} digits after the point`;
  }
  const unscaled = value.unscaled;
  if (unscaled < SMALL_UNSCALED && unscaled > -SMALL_UNSCALED) return undefined;
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().length -
    value.scale;
  return digits > MAX_DECIMAL_INTEGER_DIGITS
    ? `${digits} digits before the point`
    : undefined;
}

const CHECKS: Record<ColumnKind, (value: unknown) => boolean> = {
  uuid: isUuid,
  text: (v) => typeof v === "string" && isStorableText(v),
  integer: (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= -2147483648 &&
    v <= 2147483647,
  bigint: (v) => typeof v === "bigint" && v >= MIN_BIGINT && v <= MAX_BIGINT,
  float: (v) => typeof v === "number" && !Number.isNaN(v),
  boolean: (v) => typeof v === "boolean",
  decimal: (v) => Decimal.isDecimal(v) && decimalProblem(v) === undefined,
  date: (v) => CalendarDate.isCalendarDate(v),
  dateTime: (v) =>
    v instanceof Date && v.getTime() >= MIN_INSTANT &&
    v.getTime() <= MAX_INSTANT,
  json: (v) => isJsonValue(v) && findUnstorableJsonText(v) === undefined,
};

/**
 * One column of a record table. `T` is its value type, `N` whether it may be
 * null, `O` whether inserts may leave it out (nullable or defaulted).
 *
 * @example
 * ```ts
 * import { column } from "@sequent/core";
 *
 * const title = column.text().nullable();
 * console.assert(title.kind === "text" && title.isNullable);
 * ```
 */
export class Column<T, N extends boolean = false, O extends boolean = false> {
  /** The column's type. */
  readonly kind: ColumnKind;
  /** Whether the column may hold null. */
  readonly isNullable: N;
  /** Whether the column is (part of) the primary key. */
  readonly isPrimaryKey: boolean;
  /** Whether the column has its own unique index. */
  readonly isUnique: boolean;
  /** The value an insert that leaves the column out stores, if any. */
  readonly defaultValue: T | undefined;
  /** Whether an insert may leave the column out. */
  readonly isOptional: O;

  /**
   * Creates a column; use the {@linkcode column} factories instead.
   *
   * @param kind The column's type.
   * @param settings Nullability, key, uniqueness and default.
   */
  constructor(
    kind: ColumnKind,
    settings: {
      nullable: N;
      primaryKey: boolean;
      unique: boolean;
      defaultValue: T | undefined;
      optional: O;
    },
  ) {
    this.kind = kind;
    this.isNullable = settings.nullable;
    this.isPrimaryKey = settings.primaryKey;
    this.isUnique = settings.unique;
    this.defaultValue = settings.defaultValue;
    this.isOptional = settings.optional;
  }

  #with<N2 extends boolean, O2 extends boolean>(
    changes: Partial<{
      nullable: N2;
      primaryKey: boolean;
      unique: boolean;
      defaultValue: T;
      optional: O2;
    }>,
  ): Column<T, N2, O2> {
    return new Column<T, N2, O2>(this.kind, {
      nullable: (changes.nullable ?? this.isNullable) as N2,
      primaryKey: changes.primaryKey ?? this.isPrimaryKey,
      unique: changes.unique ?? this.isUnique,
      defaultValue: "defaultValue" in changes
        ? changes.defaultValue
        : this.defaultValue,
      optional: (changes.optional ?? this.isOptional) as O2,
    });
  }

  /** The same column, allowing null (inserts may leave it out). */
  nullable(): Column<T, true, true> {
    if (this.isPrimaryKey) {
      throw new TypeError("A primary key column cannot be nullable");
    }
    return this.#with<true, true>({ nullable: true, optional: true });
  }

  /** The same column as (part of) the primary key. */
  primaryKey(): Column<T, N, O> {
    if (this.isNullable) {
      throw new TypeError("A nullable column cannot be a primary key");
    }
    return this.#with<N, O>({ primaryKey: true });
  }

  /** The same column with a unique index of its own. */
  unique(): Column<T, N, O> {
    return this.#with<N, O>({ unique: true });
  }

  /**
   * The same column with a default for inserts that leave it out.
   *
   * @param value The default value.
   */
  default(value: T): Column<T, N, true> {
    if (!CHECKS[this.kind](value)) {
      throw new TypeError(
        `Default ${String(value)} is not a valid ${this.kind}`,
      );
    }
    return this.#with<N, true>({ defaultValue: value, optional: true });
  }

  /** Whether `value` may be stored in the column. */
  accepts(value: unknown): boolean {
    return value === null ? this.isNullable : CHECKS[this.kind](value);
  }

  /** Compares two values of the column. */
  equals(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (a === null || b === null || a === undefined || b === undefined) {
      return false;
    }
    switch (this.kind) {
      case "decimal":
        return (a as Decimal).equals(b as Decimal);
      case "date":
        return (a as CalendarDate).equals(b as CalendarDate);
      case "dateTime":
        return (a as Date).getTime() === (b as Date).getTime();
      case "json":
        return jsonEquals(a as JsonValue, b as JsonValue);
      default:
        return false;
    }
  }
}

function make<T>(kind: ColumnKind): Column<T, false, false> {
  return new Column<T, false, false>(kind, {
    nullable: false,
    primaryKey: false,
    unique: false,
    defaultValue: undefined,
    optional: false,
  });
}

/**
 * The column type factories of {@linkcode table}.
 */
export interface ColumnFactories {
  /** A UUID (`uuid`). */
  uuid(): Column<string>;
  /** Text (`text`). */
  text(): Column<string>;
  /** A 32-bit integer (`integer`). */
  integer(): Column<number>;
  /** A 64-bit integer as a `bigint` (`bigint`). */
  bigint(): Column<bigint>;
  /** A floating-point number (`double precision`). */
  float(): Column<number>;
  /** A boolean (`boolean`). */
  boolean(): Column<boolean>;
  /** An exact {@linkcode Decimal} (`numeric`). */
  decimal(): Column<Decimal>;
  /** A {@linkcode CalendarDate} (`date`). */
  date(): Column<CalendarDate>;
  /** An instant (`timestamptz`). */
  dateTime(): Column<Date>;
  /** Any JSON value (`jsonb`). */
  json(): Column<JsonValue>;
}

/**
 * Column type factories: `column.uuid()`, `column.text().nullable()`, …
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 *
 * export const postRecords = table("post_records", {
 *   aggregateId: column.uuid().primaryKey(),
 *   title: column.text().nullable(),
 *   views: column.integer().default(0),
 * });
 * ```
 */
export const column: ColumnFactories = {
  uuid: () => make("uuid"),
  text: () => make("text"),
  integer: () => make("integer"),
  bigint: () => make("bigint"),
  float: () => make("float"),
  boolean: () => make("boolean"),
  decimal: () => make("decimal"),
  date: () => make("date"),
  dateTime: () => make("dateTime"),
  json: () => make("json"),
};

/** The columns of a table, by TypeScript name. */
export type Columns = {
  readonly [name: string]: Column<unknown, boolean, boolean>;
};

/** The value type of a column. */
export type ColumnValue<C> = C extends Column<infer T, infer N, boolean>
  ? N extends true ? T | null : T
  : never;

/** A row of a table, as read. */
export type RowOf<T> = T extends RecordTable<infer C>
  ? { -readonly [K in keyof C]: ColumnValue<C[K]> }
  : never;

/**
 * What a projector may write into a column: its value, and for a nullable
 * column also `undefined`, which writes null. So an optional event
 * attribute (`string | undefined`) goes into a nullable column as it is.
 *
 * @example
 * ```ts
 * import { column } from "@sequent/core";
 * import type { ColumnInput } from "@sequent/core/internal";
 *
 * const title = column.text().nullable();
 * const absent: ColumnInput<typeof title> = undefined; // stored as null
 * ```
 */
export type ColumnInput<C> = C extends Column<infer T, infer N, boolean>
  ? N extends true ? T | null | undefined : T
  : never;

/**
 * What inserting a row of a table takes: optional columns may be left out,
 * and a nullable column given `undefined` is null (or its default).
 */
export type NewRowOf<T> = T extends RecordTable<infer C> ?
    & {
      [K in keyof C as C[K] extends Column<unknown, boolean, true> ? never : K]:
        ColumnInput<C[K]>;
    }
    & {
      [
        K in keyof C as C[K] extends Column<unknown, boolean, true> ? K : never
      ]?: ColumnInput<C[K]>;
    }
  : never;

/**
 * What a projector's update helpers take: some columns' new values; a
 * nullable column given `undefined` is set to null, as `nil` is in
 * Sequent. (The record store beneath takes `Partial<RowOf<T>>`,
 * where a key left undefined changes nothing.)
 *
 * @example
 * ```ts
 * import { column, type ChangesOf, table } from "@sequent/core";
 *
 * const posts = table("posts", {
 *   id: column.uuid().primaryKey(),
 *   title: column.text().nullable(),
 * });
 * const title: string | undefined = undefined;
 * const changes: ChangesOf<typeof posts> = { title }; // sets title to null
 * ```
 */
export type ChangesOf<T> = T extends RecordTable<infer C>
  ? { -readonly [K in keyof C]?: ColumnInput<C[K]> }
  : never;

/**
 * `changes` with every nullable column given `undefined` set to null
 * (the same object when there is none).
 */
export function nullsForUndefined<T extends RecordTable>(
  table: T,
  changes: ChangesOf<T>,
): Partial<RowOf<T>> {
  let out: Record<string, unknown> | undefined;
  const given = changes as Record<string, unknown>;
  for (const key in given) {
    if (given[key] !== undefined) continue;
    if (!table.columns[key]?.isNullable) continue;
    out ??= { ...given };
    out[key] = null;
  }
  return (out ?? given) as Partial<RowOf<T>>;
}

/**
 * Which rows: each given column must equal the value, or be one of the
 * values of an array (not for JSON columns); `null` matches null; an
 * `undefined` value is left out of the condition.
 */
export type WhereOf<T> = T extends RecordTable<infer C> ? {
    [K in keyof C]?:
      | ColumnValue<C[K]>
      | readonly ColumnValue<C[K]>[]
      | undefined;
  }
  : never;

/**
 * An index of a table.
 *
 * @example
 * ```ts
 * import type { TableIndex } from "@sequent/core";
 *
 * const byAuthor: TableIndex = { columns: ["authorId"], unique: false };
 * ```
 */
export interface TableIndex {
  /** The indexed columns (TypeScript names). */
  readonly columns: readonly string[];
  /** Whether the index enforces uniqueness. */
  readonly unique: boolean;
}

/**
 * Options of {@linkcode table}.
 *
 * @example
 * ```ts
 * import type { TableOptions } from "@sequent/core";
 *
 * const options: TableOptions<"authorId" | "title"> = { indexes: [["authorId"], { columns: ["title"], unique: true }] };
 * ```
 */
export interface TableOptions<K extends string> {
  /** A composite primary key (default: the columns marked `primaryKey()`). */
  readonly primaryKey?: readonly K[] | undefined;
  /** Indexes: a list of columns, or `{ columns, unique }`. */
  readonly indexes?:
    | readonly (readonly K[] | {
      readonly columns: readonly K[];
      readonly unique?: boolean;
    })[]
    | undefined;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]*$/;
/**
 * The longest table name: PostgreSQL cuts names to 63 bytes, and a view
 * schema migration builds each table as `<name>_v<version>`, versions being
 * `integer`s, so up to `_v2147483647` (12 bytes) longer. A longer name's
 * build table would be cut back onto another table's name (the live one,
 * past 63), and the migration would drop what it built.
 */
const MAX_TABLE_NAME_LENGTH = 63 - "_v2147483647".length;
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * The longest column name, and SQL name: PostgreSQL cuts identifiers to 63
 * bytes, so a longer SQL name would be stored cut (two such names sharing
 * 63 bytes clash), and a longer TypeScript name, which a SQL store selects
 * columns as, would read back as another name (its value lost).
 */
const MAX_COLUMN_NAME_LENGTH = 63;

/** `aggregateId` → `aggregate_id`. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(
    /([A-Z])([A-Z][a-z])/g,
    "$1_$2",
  )
    .toLowerCase();
}

/**
 * A read-model table: its name, columns, primary key and indexes. Declare
 * it with {@linkcode table}.
 *
 * @example
 * ```ts
 * import { column, type RowOf, table } from "@sequent/core";
 *
 * const authors = table("author_records", {
 *   aggregateId: column.uuid().primaryKey(),
 *   name: column.text(),
 * });
 * type AuthorRow = RowOf<typeof authors>; // { aggregateId: string; name: string }
 * const row: AuthorRow = { aggregateId: crypto.randomUUID(), name: "Ben" };
 * console.assert(authors.sqlName("aggregateId") === "aggregate_id" && row.name === "Ben");
 * ```
 */
export class RecordTable<C extends Columns = Columns> {
  /** The table's name (without schema or version suffix). */
  readonly name: string;
  /** Its columns, by TypeScript name. */
  readonly columns: C;
  /** The column names, in declaration order. */
  readonly columnNames: readonly string[];
  /** The primary key's columns. */
  readonly primaryKey: readonly string[];
  /** Its indexes (primary key excluded). */
  readonly indexes: readonly TableIndex[];
  readonly #sqlNames: Map<string, string>;
  /** The columns in order, for the per-row loops. */
  readonly #columnList: readonly (readonly [
    string,
    Column<unknown, boolean, boolean>,
  ])[];

  /**
   * Creates a table; use {@linkcode table} instead.
   *
   * @param name The table name.
   * @param columns The columns.
   * @param options Primary key and indexes.
   */
  constructor(
    name: string,
    columns: C,
    options: TableOptions<keyof C & string> = {},
  ) {
    if (typeof name !== "string" || !TABLE_NAME.test(name)) {
      throw new TypeError(
        `Invalid table name ${
          JSON.stringify(name)
        }: use lower-case letters, digits and _`,
      );
    }
    // (the name is ASCII: its length is its bytes)
    if (name.length > MAX_TABLE_NAME_LENGTH) {
      throw new TypeError(
        `Table name "${name}" is ${name.length} characters long: at most ${MAX_TABLE_NAME_LENGTH}, as PostgreSQL keeps 63 bytes of a name and view schema versions add "_v<version>" to it`,
      );
    }
    const names = Object.keys(columns) as (keyof C & string)[];
    if (names.length === 0) {
      throw new TypeError(`Table ${name} needs at least one column`);
    }
    this.#sqlNames = new Map();
    const seen = new Set<string>();
    for (const key of names) {
      if (!COLUMN_NAME.test(key)) {
        throw new TypeError(
          `Invalid column name ${JSON.stringify(key)} in table ${name}`,
        );
      }
      if (!(columns[key] instanceof Column)) {
        throw new TypeError(
          `Column ${key} of table ${name} must be declared with column.*()`,
        );
      }
      const sql = snakeCase(key);
      // (the names are ASCII: their lengths are their bytes)
      if (sql.length > MAX_COLUMN_NAME_LENGTH) {
        throw new TypeError(
          `Column name "${key}" of table ${name} is too long: ${
            sql === key ? "it has" : `its SQL name "${sql}" has`
          } ${sql.length} characters, and PostgreSQL keeps at most ${MAX_COLUMN_NAME_LENGTH} of a name`,
        );
      }
      if (seen.has(sql)) {
        throw new TypeError(`Columns of table ${name} clash as "${sql}"`);
      }
      seen.add(sql);
      this.#sqlNames.set(key, sql);
    }
    const check = (list: readonly string[], what: string): void => {
      for (const key of list) {
        if (!Object.hasOwn(columns, key)) {
          throw new TypeError(
            `${what} of table ${name} names unknown column "${key}"`,
          );
        }
      }
    };
    const primaryKey = options.primaryKey ??
      names.filter((k) => columns[k]?.isPrimaryKey);
    if (primaryKey.length === 0) {
      throw new TypeError(
        `Table ${name} needs a primary key: mark a column with .primaryKey() or pass primaryKey`,
      );
    }
    check(primaryKey, "The primary key");
    for (const key of primaryKey) {
      if (columns[key]?.isNullable) {
        throw new TypeError(
          `Primary key column ${key} of table ${name} cannot be nullable`,
        );
      }
    }
    const indexes: TableIndex[] = [];
    for (const key of names) {
      if (columns[key]?.isUnique) {
        indexes.push({ columns: [key], unique: true });
      }
    }
    for (const index of options.indexes ?? []) {
      const spec = Array.isArray(index)
        ? { columns: index as readonly string[], unique: false }
        : {
          columns: (index as { columns: readonly string[] }).columns,
          unique: (index as { unique?: boolean }).unique ?? false,
        };
      if (spec.columns.length === 0) {
        throw new TypeError(`An index of table ${name} has no columns`);
      }
      check(spec.columns, "An index");
      indexes.push(spec);
    }
    this.name = name;
    this.columns = columns;
    this.columnNames = names;
    this.#columnList = names.map((key) => [
      key,
      columns[key] as Column<unknown, boolean, boolean>,
    ]);
    this.primaryKey = primaryKey;
    this.indexes = indexes;
  }

  /**
   * The SQL name of a column.
   *
   * @param column The column's TypeScript name.
   */
  sqlName(column: string): string {
    const sql = this.#sqlNames.get(column);
    if (sql === undefined) {
      throw new TypeError(`Table ${this.name} has no column "${column}"`);
    }
    return sql;
  }

  /**
   * Checks a row about to be stored and fills in defaults; returns the full
   * row.
   *
   * @param values The row's values.
   * @throws {UnstorableTextError} naming the column of unstorable text.
   * @throws {TypeError} naming the column of a missing or invalid value.
   */
  completeRow(
    values: Readonly<Record<string, unknown>>,
  ): Record<string, unknown> {
    // (no Object.keys: this runs for every row a projector inserts)
    for (const key in values) {
      if (!Object.hasOwn(values, key)) continue;
      if (!Object.hasOwn(this.columns, key)) {
        throw new TypeError(`Table ${this.name} has no column "${key}"`);
      }
    }
    const row: Record<string, unknown> = {};
    const list = this.#columnList;
    for (let i = 0; i < list.length; i++) {
      const [key, col] = list[i]!;
      let value = values[key];
      if (value === undefined) {
        value = col.defaultValue ?? (col.isNullable ? null : undefined);
        if (value === undefined) {
          throw new TypeError(
            `Column ${key} of table ${this.name} needs a value`,
          );
        }
      }
      if (!col.accepts(value)) this.checkValue(key, value);
      row[key] = value;
    }
    return row;
  }

  /**
   * Checks one value for a column.
   *
   * @param key The column's TypeScript name.
   * @param value The value.
   * @throws {UnstorableTextError} naming the column for text no store can
   * hold (a NUL character or a lone surrogate, also in JSON).
   * @throws {TypeError} naming the column when the value does not fit.
   */
  checkValue(key: string, value: unknown): void {
    // (own columns only: "toString" or "constructor" name no column)
    const col = Object.hasOwn(this.columns, key)
      ? this.columns[key]
      : undefined;
    if (!col) throw new TypeError(`Table ${this.name} has no column "${key}"`);
    if (!col.accepts(value)) {
      const unstorable = (path: string, problem: string): UnstorableTextError =>
        new UnstorableTextError(
          { kind: "record", table: this.name, column: key, path },
          problem,
        );
      if (col.kind === "text" && typeof value === "string") {
        throw unstorable("", describeUnstorableText(value) as string);
      }
      if (col.kind === "json" && value !== null) {
        const shape = jsonValueProblem(value);
        if (shape === undefined) {
          const found = findUnstorableJsonText(value);
          if (found) throw unstorable(found.path, found.problem);
        } else if (shape === TOO_DEEP) {
          throw new TypeError(
            `Column ${key} of table ${this.name} cannot hold JSON that ${shape}`,
          );
        }
      }
      if (col.kind === "decimal" && Decimal.isDecimal(value)) {
        throw new TypeError(
          `Column ${key} of table ${this.name} cannot hold a decimal with ${
            decimalProblem(value)
          }: PostgreSQL's numeric holds at most ${MAX_DECIMAL_SCALE} digits after the point and ${MAX_DECIMAL_INTEGER_DIGITS} before it`,
        );
      }
      throw new TypeError(
        `Column ${key} of table ${this.name} cannot hold ${
          describe(value)
        }: it is ${col.isNullable ? "a nullable " : "a non-null "}${col.kind}`,
      );
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  }
  if (typeof value === "object") {
    return (value as object).constructor?.name ?? "an object";
  }
  return String(value);
}

/**
 * Declares a read-model table. Its row type is inferred with
 * {@linkcode RowOf}; projectors write it with their record helpers.
 *
 * @param name The table's name (lower case, in the view schema).
 * @param columns Its columns.
 * @param options A composite primary key, and indexes.
 * @returns The table.
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 *
 * export const postRecords = table("post_records", {
 *   aggregateId: column.uuid().primaryKey(),
 *   authorId: column.uuid().nullable(),
 *   title: column.text().nullable(),
 * }, { indexes: [["authorId"]] });
 * console.assert(postRecords.sqlName("authorId") === "author_id");
 * ```
 */
export function table<C extends Columns>(
  name: string,
  columns: C,
  options?: TableOptions<keyof C & string>,
): RecordTable<C> {
  return new RecordTable(name, columns, options);
}
