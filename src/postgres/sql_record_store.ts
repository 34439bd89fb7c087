/**
 * Read-model tables in PostgreSQL: the record store projectors write
 * through inline, in the unit of work's transaction. Writes are queued and
 * sent with the next read or the commit, so a command with a projector
 * still costs one round trip; reads flush the queue first. Updates of a
 * row by its key that follow its INSERT in the queue are folded into that
 * INSERT (a row created and then filled in by later events is one
 * statement), where the store knows that nothing else was queued between
 * them: in a unit of work, whose queue only its record store writes, and
 * for a store made the only writer of its transaction.
 *
 * Values are encoded when a call is made, so a caller may change what it
 * passed (a `Date`) while the statement waits in the queue. A statement
 * takes at most 65,535 parameters: a larger insert is several statements
 * (in one transaction), and a list in a condition is one parameter, an
 * array.
 *
 * @module
 */
import { CalendarDate } from "../core/calendar_date.ts";
import { Decimal } from "../core/decimal.ts";
import { DuplicateRecordError, SequentError } from "../core/errors.ts";
import type { JsonValue } from "../core/json.ts";
import type { FindOptions, RecordStore } from "../core/record_store.ts";
import type {
  Column,
  ColumnKind,
  NewRowOf,
  RecordTable,
  RowOf,
  WhereOf,
} from "../core/record_table.ts";
import type {
  SqlExecutor,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
import { SqlError } from "./sql_error.ts";
import { checkOrder, valueKey } from "../core/record_values.ts";
import { asWithItem, type JoinableStatement } from "./_sql_text.ts";
import { parseTimestamp } from "./_wire/values.ts";
import { qualifiedTableName, quoteIdent, sqlTypeOf } from "./table_sql.ts";

type AnyColumn = Column<unknown, boolean, boolean>;
type Row = Record<string, unknown>;

/** What a unit of work's executor adds: statements kept in the unit. */
interface UnitExecutor {
  queryKept(text: string, params: readonly SqlValue[]): Promise<SqlRow[]>;
}

/** PostgreSQL takes at most 65,535 parameters in a statement. */
const MOST_PARAMS = 65_535;

/** A one-row INSERT queued and not sent yet (see `SqlRecordStore`). */
interface OpenInsert {
  readonly table: RecordTable;
  /** The row it inserts (its instants the copies sent). */
  readonly row: Row;
  /** Its parameters: one per column, in the table's column order. */
  readonly params: SqlValue[];
  /** Whether the statement was sent (its parameters read). */
  sent: boolean;
}

/** Where a table lives: its schema and an optional version suffix. */
export type TableLocator = (table: RecordTable) => string;

/**
 * Encodes a column value as a query parameter, taking it as it is now: an
 * instant is copied, since a queued statement is sent later and the caller
 * may change its `Date` meanwhile.
 *
 * @param column The column.
 * @param value A value the column accepts.
 * @returns The parameter.
 *
 * @example
 * ```ts
 * import { column } from "@sequent/core";
 * import { encodeValue } from "./sql_record_store.ts";
 *
 * const at = new Date(0);
 * const param = encodeValue(column.dateTime(), at);
 * at.setTime(1);
 * console.assert(param instanceof Date && param.getTime() === 0);
 * ```
 */
export function encodeValue(column: AnyColumn, value: unknown): SqlValue {
  return column.kind === "dateTime" && value instanceof Date
    ? new Date(value.getTime())
    : encodeHeldValue(column, value);
}

/**
 * Encodes a column value the store holds itself, which nobody changes
 * (the replay's rows): as {@linkcode encodeValue}, without copying.
 *
 * @param column The column.
 * @param value A value the column accepts.
 * @returns The parameter.
 *
 * @example
 * ```ts
 * import { column, Decimal } from "@sequent/core";
 * import { encodeHeldValue } from "./sql_record_store.ts";
 *
 * console.assert(encodeHeldValue(column.decimal(), Decimal.from("1.50")) === "1.50");
 * ```
 */
export function encodeHeldValue(column: AnyColumn, value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  switch (column.kind) {
    case "decimal":
      return (value as Decimal).toString();
    case "date":
      return (value as CalendarDate).toString();
    case "json":
      return JSON.stringify(value);
    default:
      return value as SqlValue;
  }
}

/**
 * A column value (of any kind but JSON, whose lists are values) as an
 * element of an array literal (`{…}`), which the type's input function
 * reads as the value: text quoted (a backslash escaping `"` and `\`),
 * instants as ISO text with their zone, the rest as their text.
 */
function arrayElement(kind: ColumnKind, value: unknown): string {
  switch (kind) {
    case "text": {
      const text = value as string;
      return text.includes('"') || text.includes("\\")
        ? `"${text.replace(/["\\]/g, "\\$&")}"`
        : `"${text}"`;
    }
    case "boolean":
      return value ? "t" : "f";
    case "dateTime":
      return (value as Date).toISOString();
    default:
      // uuids, numbers (Infinity included), bigints, decimals and dates:
      // no character that needs quoting
      return String(value);
  }
}

/** Decodes a column value read with {@linkcode selectExpression}. */
export function decodeValue(column: AnyColumn, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (column.kind) {
    case "decimal":
      return Decimal.from(value as string);
    case "date":
      return CalendarDate.parse(value as string);
    case "json":
      return typeof value === "string" ? JSON.parse(value) as JsonValue : value;
    case "bigint":
      return BigInt(value as string);
    case "integer":
    case "float":
      return typeof value === "number" ? value : Number(value);
    case "dateTime":
      // milliseconds since the epoch: the adapters' own parsing of
      // timestamps turns the years 1 to 99 into 1901 to 2099
      return value instanceof Date
        ? value
        : new Date(Math.floor(Number(value)));
    default:
      return value;
  }
}

/** How a column is selected so the adapters return it in one shape. */
export function selectExpression(column: AnyColumn, sqlName: string): string {
  const name = quoteIdent(sqlName);
  switch (column.kind) {
    case "decimal":
    case "date":
    case "json":
    case "bigint":
      return `${name}::text`;
    case "dateTime":
      return `(extract(epoch from ${name}) * 1000)::text`;
    default:
      return name;
  }
}

/** A table's own column of that name: "toString" names none. */
function ownColumn(table: RecordTable, key: string): AnyColumn {
  if (!Object.hasOwn(table.columns, key)) {
    throw new TypeError(`Table ${table.name} has no column "${key}"`);
  }
  return table.columns[key] as AnyColumn;
}

/** Builds parameterised statements for one table. */
class StatementBuilder {
  readonly params: SqlValue[] = [];

  param(column: AnyColumn, value: unknown): string {
    this.params.push(encodeValue(column, value));
    return `$${this.params.length}::${sqlTypeOf(column)}`;
  }

  where(table: RecordTable, where: Row): string {
    let text = "";
    // (for…in: no entry arrays, on the path every find and update takes)
    for (const key in where) {
      const value = where[key];
      if (value === undefined) continue;
      const column = ownColumn(table, key);
      const name = quoteIdent(table.sqlName(key));
      let part: string;
      if (Array.isArray(value) && column.kind !== "json") {
        part = this.#oneOf(table, key, column, name, value);
      } else if (value === null) {
        part = `${name} IS NULL`;
      } else {
        if (!column.accepts(value)) table.checkValue(key, value);
        part = `${name} = ${this.param(column, value)}`;
      }
      text += text === "" ? ` WHERE ${part}` : ` AND ${part}`;
    }
    return text;
  }

  /**
   * A list's condition: `IN` the elements of one array parameter, however
   * long the list (a statement takes at most 65,535 parameters), given as
   * the text of an array literal, which every client passes as it passes
   * text; and `IS NULL` for a null in the list. A hole or `undefined` in
   * the list is refused as every store refuses it.
   *
   * (`IN (SELECT unnest(…))`, not `= ANY(…)`: the planner hashes the
   * elements once. Measured with 70,000 elements and 11,000 rows, `= ANY`
   * took minutes with the array's values planned in, and nearly one with
   * a generic plan, comparing each row with every element; this form,
   * well under a second either way.)
   */
  #oneOf(
    table: RecordTable,
    key: string,
    column: AnyColumn,
    name: string,
    list: readonly unknown[],
  ): string {
    if (list.length === 0) return "false";
    const elements: string[] = [];
    let nulls = false;
    // (indexed: a hole is seen, as for…of and filter would not show it)
    for (let i = 0; i < list.length; i++) {
      const value = list[i];
      if (value === null) {
        nulls = true;
        continue;
      }
      if (value === undefined || !column.accepts(value)) {
        table.checkValue(key, value);
      }
      elements.push(arrayElement(column.kind, value));
    }
    if (elements.length === 0) return `${name} IS NULL`;
    this.params.push(`{${elements.join(",")}}`);
    const any = `${name} IN (SELECT unnest($${this.params.length}::text::${
      sqlTypeOf(column)
    }[]))`;
    return nulls ? `(${any} OR ${name} IS NULL)` : any;
  }

  assignments(table: RecordTable, changes: Row): string {
    let sets = "";
    for (const key in changes) {
      const value = changes[key];
      if (value === undefined) continue;
      table.checkValue(key, value);
      const set = `${quoteIdent(table.sqlName(key))} = ${
        this.param(table.columns[key] as AnyColumn, value)
      }`;
      sets += sets === "" ? set : `, ${set}`;
    }
    return sets;
  }
}

/**
 * The record tables SQL stores have located, by qualified name as
 * `qualifiedTableName` writes it: what tells which table, and which
 * columns, a unique violation PostgreSQL reports is about, wherever the
 * error surfaces (a unit of work maps its errors itself). Bounded: a
 * table is noted again each time it is located.
 */
const located = new Map<string, RecordTable>();

/** Notes that `table` lives at `name` (see `located`). */
function remember(name: string, table: RecordTable): void {
  if (located.get(name) === table) return;
  if (located.size >= 4096) located.clear();
  located.set(name, table);
}

/** The locator of a schema, shared by the stores of that schema. */
const schemaLocators = new Map<string, TableLocator>();

/** Names each table in `schema`, building each name once. */
function schemaLocator(schema: string): TableLocator {
  let locate = schemaLocators.get(schema);
  if (locate === undefined) {
    const names = new WeakMap<RecordTable, string>();
    locate = (table) => {
      let name = names.get(table);
      if (name === undefined) {
        name = qualifiedTableName(table, schema);
        names.set(table, name);
      }
      // (the same string each time: its hash is kept, the lookup cheap)
      remember(name, table);
      return name;
    };
    if (schemaLocators.size >= 256) schemaLocators.clear();
    schemaLocators.set(schema, locate);
  }
  return locate;
}

/** A caller's locator, noting each name it gives (see `located`). */
function rememberingLocator(locate: TableLocator): TableLocator {
  return (table) => {
    const name = locate(table);
    remember(name, table);
    return name;
  };
}

const TAKEN_KEY = /^Key \((.*?)\)=\((.*)\) already exists\.?$/s;

/**
 * The key a unique violation names, as the in-memory store names it: the
 * TypeScript names of the key's columns, with their values typed as the
 * columns' (read from the text PostgreSQL gives). Undefined when the
 * detail is not of a known shape, names other columns, or cannot be cut
 * into values: PostgreSQL joins them with ", ", which only text and JSON
 * can hold; with one such column the others' values are found from both
 * ends.
 */
function takenKey(
  table: RecordTable,
  detail: string | undefined,
): Record<string, unknown> | undefined {
  const match = detail === undefined ? null : TAKEN_KEY.exec(detail);
  if (!match) return undefined;
  const keys: string[] = [];
  for (const printed of (match[1] as string).split(", ")) {
    const sql = printed.startsWith('"')
      ? printed.slice(1, -1).replaceAll('""', '"')
      : printed;
    const key = table.columnNames.find((c) => table.sqlName(c) === sql);
    if (key === undefined) return undefined;
    keys.push(key);
  }
  const parts = (match[2] as string).split(", ");
  const kinds = keys.map((k) => (table.columns[k] as AnyColumn).kind);
  const texts: string[] = [];
  if (parts.length === keys.length) {
    texts.push(...parts);
  } else {
    const free = kinds.filter((k) => k === "text" || k === "json").length;
    const at = kinds.findIndex((k) => k === "text" || k === "json");
    if (free !== 1 || parts.length < keys.length) return undefined;
    const after = keys.length - at - 1;
    texts.push(
      ...parts.slice(0, at),
      parts.slice(at, parts.length - after).join(", "),
      ...parts.slice(parts.length - after),
    );
  }
  const key: Record<string, unknown> = {};
  keys.forEach((k, i) => {
    key[k] = keyValue(kinds[i] as ColumnKind, texts[i] as string);
  });
  return key;
}

/** A key column's value from its text; the text itself if it does not read. */
function keyValue(kind: ColumnKind, text: string): unknown {
  try {
    switch (kind) {
      case "integer":
      case "float":
        return Number(text);
      case "bigint":
        return BigInt(text);
      case "boolean":
        return text === "t" || text === "true";
      case "decimal":
        return Decimal.from(text);
      case "date":
        return CalendarDate.parse(text);
      case "dateTime": {
        const date = parseTimestamp(text);
        return Number.isNaN(date.getTime()) ? text : date;
      }
      case "json":
        return JSON.parse(text);
      default:
        return text;
    }
  } catch {
    return text;
  }
}

/**
 * Turns a unique violation into {@linkcode DuplicateRecordError}, naming
 * the table and key as the in-memory store does (the table's own name,
 * without schema or version suffix, and its key by TypeScript names with
 * typed values) when the table was located by a SQL store; otherwise, or
 * when the key cannot be read (see `takenKey`), as PostgreSQL names them.
 *
 * @param error What a statement threw.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { DuplicateRecordError } from "@sequent/core";
 * import { SqlError } from "@sequent/core/postgres";
 * import { mapRecordError } from "./sql_record_store.ts";
 *
 * const raw = new SqlError("duplicate key", {
 *   code: "23505",
 *   schema: "nowhere",
 *   table: "posts",
 *   detail: "Key (id)=(7) already exists.",
 * });
 * console.assert(mapRecordError(raw) instanceof DuplicateRecordError);
 * ```
 */
export function mapRecordError(error: unknown): unknown {
  if (error instanceof SqlError && error.code === "23505" && error.table) {
    const table = error.schema === undefined
      ? undefined
      : located.get(`${quoteIdent(error.schema)}.${quoteIdent(error.table)}`);
    const key = table && takenKey(table, error.detail);
    if (table && key) {
      return new DuplicateRecordError(table.name, key, { cause: error });
    }
    const raw: Record<string, unknown> = {};
    const match = /^Key \((.*)\)=\((.*)\) already exists/.exec(
      error.detail ?? "",
    );
    if (match) raw[match[1] as string] = match[2];
    return new DuplicateRecordError(error.table, raw, { cause: error });
  }
  return error;
}

/**
 * The texts of one-row INSERTs as `WITH` items, by table, qualified name
 * and first parameter: built once, so a command's statement is the same
 * string every time (the driver finds its prepared statement by text).
 */
const withItemTexts = new WeakMap<RecordTable, Map<string, string>>();

function withItemText(
  table: RecordTable,
  name: string,
  offset: number,
): string {
  let texts = withItemTexts.get(table);
  if (texts === undefined) withItemTexts.set(table, texts = new Map());
  const key = `${offset}:${name}`;
  let text = texts.get(key);
  if (text === undefined) {
    const columns = table.columnNames;
    text = `INSERT INTO ${name} (${
      columns.map((c) => quoteIdent(table.sqlName(c))).join(", ")
    }) VALUES (${
      columns.map((c, i) =>
        `$${offset + i + 1}::${sqlTypeOf(table.columns[c] as AnyColumn)}`
      ).join(", ")
    })`;
    // a table has a handful of names and offsets; bounded all the same
    if (texts.size >= 64) texts.clear();
    texts.set(key, text);
  }
  return text;
}

/** Makes a store the only writer of its transaction (see `soleWriter`). */
let makeSoleWriter: (store: SqlRecordStore) => void;

/**
 * A {@linkcode RecordStore} over SQL: a transaction (writes queued and
 * pipelined) or a plain client (each call a statement of its own).
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 * import { createTableSql, connectDatabase, SqlRecordStore } from "@sequent/core/postgres";
 *
 * const posts = table("posts", { id: column.uuid().primaryKey(), title: column.text() });
 * const client = await connectDatabase("memory://");
 * await client.execute(`create schema view_schema; ${createTableSql(posts, "view_schema")}`);
 * const store = new SqlRecordStore(client, "view_schema");
 * const id = crypto.randomUUID();
 * await store.insert(posts, [{ id, title: "Hello" }]);
 * console.assert((await store.find(posts, { id }))[0]?.title === "Hello");
 * await client.close();
 * ```
 */
export class SqlRecordStore implements RecordStore {
  readonly #executor: SqlExecutor | SqlTransaction;
  readonly #locate: TableLocator;
  /** The last write queued, when it is a one-row INSERT not yet sent. */
  #open: OpenInsert | undefined;
  /**
   * Whether nothing but this store queues statements on its transaction,
   * so an update may fold into the INSERT queued just before it: a unit of
   * work's executor (its queue is written by its record store alone), or a
   * store made so with `soleWriter`. On any other transaction a statement
   * queued by someone else may come between, and no update folds.
   */
  #foldable: boolean;

  static {
    makeSoleWriter = (store) => {
      store.#foldable = "enqueue" in store.#executor;
    };
  }

  /**
   * Creates a record store.
   *
   * @param executor A client or a transaction.
   * @param schema The view schema, or a function naming each table's
   *   qualified SQL name (used by migrations to redirect tables).
   */
  constructor(
    executor: SqlExecutor | SqlTransaction,
    schema: string | TableLocator,
  ) {
    this.#executor = executor;
    this.#locate = typeof schema === "string"
      ? schemaLocator(schema)
      : rememberingLocator(schema);
    this.#foldable =
      typeof (executor as Partial<UnitExecutor>).queryKept === "function";
  }

  #write(statement: SqlStatement): Promise<void> {
    const executor = this.#executor;
    this.#open = undefined;
    if ("enqueue" in executor) {
      executor.enqueue(statement);
      return Promise.resolve();
    }
    return executor.query(statement.text, statement.params).then(
      () => {},
      (error) => {
        throw mapRecordError(error);
      },
    );
  }

  /**
   * Writes statements that stand or fall together: queued on a
   * transaction (a failure fails it), in a transaction of their own on a
   * client.
   */
  #writeAll(statements: readonly SqlStatement[]): Promise<void> {
    const executor = this.#executor;
    this.#open = undefined;
    if ("enqueue" in executor) {
      for (const statement of statements) executor.enqueue(statement);
      return Promise.resolve();
    }
    const client = executor as Partial<Pick<SqlTransaction, "transaction">>;
    const written = typeof client.transaction === "function"
      ? client.transaction((tx) => {
        for (const statement of statements) tx.enqueue(statement);
        return Promise.resolve();
      })
      : executor.batch(statements);
    return written.then(
      () => {},
      (error) => {
        throw mapRecordError(error);
      },
    );
  }

  async #read(text: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    this.#open = undefined;
    try {
      return await this.#executor.query(text, params);
    } catch (error) {
      throw mapRecordError(error);
    }
  }

  /** {@inheritDoc RecordStore.insert} */
  insert<T extends RecordTable>(
    table: T,
    rows: readonly NewRowOf<T>[],
  ): Promise<void> {
    try {
      if (rows.length === 0) return Promise.resolve();
      const executor = this.#executor;
      if (rows.length > 1 || !("enqueue" in executor)) {
        // at most 65,535 parameters a statement: more rows, more statements
        const most = Math.max(
          1,
          Math.floor(MOST_PARAMS / table.columnNames.length),
        );
        if (rows.length <= most) {
          return this.#write(
            this.insertStatement(table, rows as readonly Row[]),
          );
        }
        const statements: SqlStatement[] = [];
        for (let at = 0; at < rows.length; at += most) {
          statements.push(
            this.insertStatement(
              table,
              rows.slice(at, at + most) as readonly Row[],
            ),
          );
        }
        return this.#writeAll(statements);
      }
      // Queued, it may still take the updates of its row that follow. Its
      // text is insertStatement's for one row, built once per table.
      const row = table.completeRow(rows[0] as Row);
      const columns = table.columnNames;
      const params: SqlValue[] = new Array(columns.length);
      for (let i = 0; i < columns.length; i++) {
        const key = columns[i]!;
        const column = table.columns[key] as AnyColumn;
        const param = encodeValue(column, row[key]);
        params[i] = param;
        // the row keeps the copy sent, for #fold to compare a key with
        if (column.kind === "dateTime") row[key] = param;
      }
      const open: OpenInsert = { table, row, params, sent: false };
      const name = this.#locate(table);
      const joinable: JoinableStatement = {
        text: withItemText(table, name, 0),
        get params() {
          // read when it is sent (or looked at): from then on it is fixed
          open.sent = true;
          return params;
        },
        [asWithItem]: (offset) => withItemText(table, name, offset),
      };
      executor.enqueue(joinable);
      this.#open = open;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Folds an update of the row the open INSERT inserts, named by its
   * primary key, into that INSERT: the queue then holds one statement
   * instead of two, with the same outcome, since nothing was queued in
   * between (see `#foldable`). The key's values are checked as the UPDATE
   * would check them (`"1"` is not the integer 1). Returns false when it
   * cannot fold.
   */
  #fold(table: RecordTable, where: Row, changes: Row): boolean {
    const open = this.#open;
    if (!open || open.sent || open.table !== table || !this.#foldable) {
      return false;
    }
    const key = table.primaryKey;
    let named = 0;
    for (const column in where) {
      const value = where[column];
      if (value === undefined) continue;
      if (!key.includes(column) || value === null || Array.isArray(value)) {
        return false;
      }
      const col = table.columns[column] as AnyColumn;
      if (!col.accepts(value)) table.checkValue(column, value);
      const held = open.row[column];
      if (value !== held) {
        // (a JSON key may have changed since: not folded)
        if (col.kind === "uuid" || col.kind === "text" || col.kind === "json") {
          return false;
        }
        if (valueKey(col.kind, value) !== valueKey(col.kind, held)) {
          return false;
        }
      }
      named++;
    }
    if (named !== key.length) return false;
    // every change is checked before any is applied
    for (const column in changes) {
      const value = changes[column];
      if (value === undefined) continue;
      if (key.includes(column)) return false;
      table.checkValue(column, value);
    }
    for (const column in changes) {
      const value = changes[column];
      if (value === undefined) continue;
      open.params[table.columnNames.indexOf(column)] = encodeValue(
        table.columns[column] as AnyColumn,
        value,
      );
    }
    return true;
  }

  /**
   * The INSERT for rows (defaults filled in, values checked), one
   * statement: at most 65,535 parameters, a parameter per column of each
   * row ({@linkcode SqlRecordStore.insert} cuts a larger insert into
   * several).
   *
   * @param table The table.
   * @param rows The rows, keyed by column.
   * @returns The statement.
   */
  insertStatement(
    table: RecordTable,
    rows: readonly Readonly<Record<string, unknown>>[],
  ): SqlStatement {
    const builder = new StatementBuilder();
    const columns = table.columnNames;
    const values = rows.map((values) => {
      const row = table.completeRow(values);
      return `(${
        columns.map((key) =>
          builder.param(table.columns[key] as AnyColumn, row[key])
        ).join(", ")
      })`;
    });
    return {
      text: `INSERT INTO ${this.#locate(table)} (${
        columns.map((c) => quoteIdent(table.sqlName(c))).join(", ")
      }) VALUES ${values.join(", ")}`,
      params: builder.params,
    };
  }

  /** {@inheritDoc RecordStore.find} */
  async find<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    options: FindOptions = {},
  ): Promise<RowOf<T>[]> {
    const builder = new StatementBuilder();
    const select = table.columnNames.map((key) =>
      `${
        selectExpression(table.columns[key] as AnyColumn, table.sqlName(key))
      } AS ${quoteIdent(key)}`
    ).join(", ");
    const name = this.#locate(table);
    let text = `SELECT ${select} FROM ${name}${
      builder.where(table, where as Row)
    }`;
    if (options.orderBy?.length) {
      checkOrder(table, options.orderBy);
      // qualified: a bare name would mean the selected column of that name,
      // which is the column's text for decimals, bigints, dates and JSON
      text += ` ORDER BY ${
        options.orderBy.map(([key, direction]) =>
          `${name}.${quoteIdent(table.sqlName(key))} ${
            direction === "desc" ? "DESC" : "ASC"
          }`
        ).join(", ")
      }`;
    }
    if (options.limit !== undefined) {
      if (!Number.isSafeInteger(options.limit) || options.limit < 0) {
        throw new RangeError(
          `limit must be a non-negative integer, got ${options.limit}`,
        );
      }
      text += ` LIMIT ${options.limit}`;
    }
    const rows = await this.#read(text, builder.params);
    return rows.map((raw) => {
      const row: Row = {};
      for (const key of table.columnNames) {
        row[key] = decodeValue(table.columns[key] as AnyColumn, raw[key]);
      }
      return row as RowOf<T>;
    });
  }

  /** {@inheritDoc RecordStore.update} */
  update<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: Partial<RowOf<T>>,
  ): Promise<void> {
    try {
      if (this.#fold(table, where as Row, changes as Row)) {
        return Promise.resolve();
      }
      const builder = new StatementBuilder();
      const sets = builder.assignments(table, changes as Row);
      // (the condition is checked even when nothing is to change)
      const condition = builder.where(table, where as Row);
      if (sets === "") return Promise.resolve();
      return this.#write({
        text: `UPDATE ${this.#locate(table)} SET ${sets}${condition}`,
        params: builder.params,
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@inheritDoc RecordStore.upsert} */
  async upsert<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    values: Partial<RowOf<T>>,
  ): Promise<void> {
    const full: Row = { ...values };
    for (const [key, value] of Object.entries(where as Row)) {
      if (value === undefined) continue;
      if (
        Array.isArray(value) &&
        (table.columns[key] as AnyColumn | undefined)?.kind !== "json"
      ) {
        throw new TypeError(
          `createOrUpdateRecord(): cannot create a row of ${table.name} from a list of ${key} values`,
        );
      }
      // a value left undefined changes nothing: the condition's value stays
      if (full[key] === undefined) full[key] = value;
    }
    let newRow: Row | undefined;
    try {
      newRow = table.completeRow(full);
    } catch {
      newRow = undefined;
    }
    if (!newRow) {
      // The row cannot be created from what was given: it must exist.
      const [existing] = await this.find(table, where, { limit: 1 });
      if (!existing) table.completeRow(full); // throws the precise error
      return this.update(table, where, values);
    }
    const builder = new StatementBuilder();
    const sets = builder.assignments(table, values as Row);
    const condition = builder.where(table, where as Row);
    const columns = table.columnNames;
    const inserted = columns.map((key) =>
      builder.param(table.columns[key] as AnyColumn, (newRow as Row)[key])
    ).join(", ");
    const name = this.#locate(table);
    const update = sets === ""
      ? `SELECT 1 FROM ${name}${condition}`
      : `UPDATE ${name} SET ${sets}${condition} RETURNING 1`;
    return this.#write({
      text: `WITH existing AS (${update}) INSERT INTO ${name} (${
        columns.map((c) => quoteIdent(table.sqlName(c))).join(", ")
      }) SELECT ${inserted} WHERE NOT EXISTS (SELECT 1 FROM existing)`,
      params: builder.params,
    });
  }

  /** {@inheritDoc RecordStore.delete} */
  delete<T extends RecordTable>(table: T, where: WhereOf<T>): Promise<void> {
    try {
      const builder = new StatementBuilder();
      return this.#write({
        text: `DELETE FROM ${this.#locate(table)}${
          builder.where(table, where as Row)
        }`,
        params: builder.params,
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@inheritDoc RecordStore.executeSql} */
  executeSql(
    text: string,
    params: readonly unknown[] = [],
  ): Promise<Record<string, unknown>[]> {
    this.#open = undefined;
    for (const [i, value] of params.entries()) {
      if (
        value !== null &&
        !["string", "number", "bigint", "boolean"].includes(typeof value) &&
        !(value instanceof Date)
      ) {
        return Promise.reject(
          new SequentError(
            `executeSql(): parameter $${
              i + 1
            } must be a string, number, bigint, boolean, Date or null`,
          ),
        );
      }
    }
    // In a unit of work, raw SQL may write: the unit keeps it in its
    // transaction (a plain read could run outside it, or speculatively).
    const executor = this.#executor as Partial<UnitExecutor>;
    if (typeof executor.queryKept === "function") {
      return executor.queryKept(text, params as readonly SqlValue[]).catch(
        (error) => {
          throw mapRecordError(error);
        },
      );
    }
    return this.#read(text, params as readonly SqlValue[]);
  }

  /** {@inheritDoc RecordStore.tableName} */
  tableName(table: RecordTable): string {
    return this.#locate(table);
  }
}

/**
 * Makes `store` the only writer of its transaction: the caller promises
 * that nothing else queues a statement on the transaction while the store
 * is used, so an update may fold into the INSERT queued just before it, as
 * in a unit of work. For stores the framework keeps to itself, such as the
 * one a processor's batch gathers its rows through.
 *
 * @param store A store over a transaction (on a client it changes nothing).
 * @returns The same store.
 *
 * @example
 * ```ts
 * import { connectDatabase, SqlRecordStore } from "@sequent/core/postgres";
 * import { soleWriter } from "./sql_record_store.ts";
 *
 * const client = await connectDatabase("memory://");
 * await client.transaction(async (tx) => {
 *   const records = soleWriter(new SqlRecordStore(tx, "public"));
 *   console.assert(records instanceof SqlRecordStore);
 * });
 * await client.close();
 * ```
 */
export function soleWriter(store: SqlRecordStore): SqlRecordStore {
  makeSoleWriter(store);
  return store;
}
