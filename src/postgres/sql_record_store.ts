/**
 * Read-model tables in PostgreSQL: the record store projectors write
 * through inline, in the unit of work's transaction. Writes are queued and
 * sent with the next read or the commit, so a command with a projector
 * still costs one round trip; reads flush the queue first. Updates of a
 * row by its key that follow its INSERT in the queue are folded into that
 * INSERT (a row created and then filled in by later events is one
 * statement).
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
import { valueKey } from "../core/record_values.ts";
import { asWithItem, type JoinableStatement } from "./_sql_text.ts";
import { qualifiedTableName, quoteIdent, sqlTypeOf } from "./table_sql.ts";

type AnyColumn = Column<unknown, boolean, boolean>;
type Row = Record<string, unknown>;

/** What a unit of work's executor adds: statements kept in the unit. */
interface UnitExecutor {
  queryKept(text: string, params: readonly SqlValue[]): Promise<SqlRow[]>;
}

/** A one-row INSERT queued and not sent yet (see `SqlRecordStore`). */
interface OpenInsert {
  readonly table: RecordTable;
  /** The row it inserts. */
  readonly row: Row;
  /** Its parameters: one per column, in the table's column order. */
  readonly params: SqlValue[];
  /** Whether the statement was sent (its parameters read). */
  sent: boolean;
}

/** Where a table lives: its schema and an optional version suffix. */
export type TableLocator = (table: RecordTable) => string;

/** Encodes a column value as a query parameter. */
export function encodeValue(column: AnyColumn, value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  switch (column.kind) {
    case "decimal":
      return (value as Decimal).toString();
    case "date":
      return (value as CalendarDate).toString();
    case "json":
      return JSON.stringify(value);
    case "bigint":
      return value as bigint;
    default:
      return value as SqlValue;
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

/** Builds parameterised statements for one table. */
class StatementBuilder {
  readonly params: SqlValue[] = [];

  param(column: AnyColumn, value: unknown): string {
    this.params.push(encodeValue(column, value));
    return `$${this.params.length}::${sqlTypeOf(column)}`;
  }

  where(table: RecordTable, where: Row): string {
    const parts: string[] = [];
    for (const [key, value] of Object.entries(where)) {
      if (value === undefined) continue;
      const column = table.columns[key] as AnyColumn | undefined;
      if (!column) {
        throw new TypeError(`Table ${table.name} has no column "${key}"`);
      }
      const name = quoteIdent(table.sqlName(key));
      if (Array.isArray(value) && column.kind !== "json") {
        if (value.length === 0) {
          parts.push("false");
          continue;
        }
        const nonNull = value.filter((v) => v !== null);
        for (const v of nonNull) table.checkValue(key, v);
        const alternatives: string[] = [];
        if (nonNull.length > 0) {
          alternatives.push(
            `${name} IN (${
              nonNull.map((v) => this.param(column, v)).join(", ")
            })`,
          );
        }
        if (nonNull.length < value.length) alternatives.push(`${name} IS NULL`);
        parts.push(
          alternatives.length === 1
            ? alternatives[0] as string
            : `(${alternatives.join(" OR ")})`,
        );
      } else if (value === null) {
        parts.push(`${name} IS NULL`);
      } else {
        table.checkValue(key, value);
        parts.push(`${name} = ${this.param(column, value)}`);
      }
    }
    return parts.length ? ` WHERE ${parts.join(" AND ")}` : "";
  }

  assignments(table: RecordTable, changes: Row): string {
    const sets: string[] = [];
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      table.checkValue(key, value);
      const column = table.columns[key] as AnyColumn;
      sets.push(
        `${quoteIdent(table.sqlName(key))} = ${this.param(column, value)}`,
      );
    }
    return sets.join(", ");
  }
}

/** Turns a unique violation into {@linkcode DuplicateRecordError}. */
export function mapRecordError(error: unknown): unknown {
  if (error instanceof SqlError && error.code === "23505" && error.table) {
    const key: Record<string, unknown> = {};
    const match = /^Key \((.*)\)=\((.*)\) already exists/.exec(
      error.detail ?? "",
    );
    if (match) key[match[1] as string] = match[2];
    return new DuplicateRecordError(error.table, key, { cause: error });
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
      ? (table) => qualifiedTableName(table, schema)
      : schema;
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
        return this.#write(this.insertStatement(table, rows as readonly Row[]));
      }
      // Queued, it may still take the updates of its row that follow. Its
      // text is insertStatement's for one row, built once per table.
      const row = table.completeRow(rows[0] as Row);
      const columns = table.columnNames;
      const params: SqlValue[] = new Array(columns.length);
      for (let i = 0; i < columns.length; i++) {
        const key = columns[i]!;
        params[i] = encodeValue(table.columns[key] as AnyColumn, row[key]);
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
   * between. Returns false when it cannot.
   */
  #fold(table: RecordTable, where: Row, changes: Row): boolean {
    const open = this.#open;
    if (!open || open.sent || open.table !== table) return false;
    const key = table.primaryKey;
    let named = 0;
    for (const column in where) {
      const value = where[column];
      if (value === undefined) continue;
      if (!key.includes(column) || value === null || Array.isArray(value)) {
        return false;
      }
      const kind = (table.columns[column] as AnyColumn).kind;
      if (valueKey(kind, value) !== valueKey(kind, open.row[column])) {
        return false;
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
      open.row[column] = value;
    }
    return true;
  }

  /**
   * The INSERT for rows (defaults filled in, values checked).
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
    let text = `SELECT ${select} FROM ${this.#locate(table)}${
      builder.where(table, where as Row)
    }`;
    if (options.orderBy?.length) {
      // qualified: a bare name would mean the selected column of that name,
      // which is the column's text for decimals, bigints, dates and JSON
      text += ` ORDER BY ${
        options.orderBy.map(([key, direction]) =>
          `${this.#locate(table)}.${quoteIdent(table.sqlName(key))} ${
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
      if (sets === "") return Promise.resolve();
      return this.#write({
        text: `UPDATE ${this.#locate(table)} SET ${sets}${
          builder.where(table, where as Row)
        }`,
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
      if (!(key in full)) full[key] = value;
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
