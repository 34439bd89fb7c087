/**
 * The record store port: how projectors read and write read-model tables.
 * The in-memory store keeps rows in maps with hash indexes; the PostgreSQL
 * store writes SQL in the unit of work's transaction; the replay persistor
 * keeps rows in memory and flushes them in bulk.
 *
 * @module
 */
import type { NewRowOf, RecordTable, RowOf, WhereOf } from "./record_table.ts";

/**
 * Ordering and limits for {@linkcode RecordStore.find}.
 *
 * @example
 * ```ts
 * import type { FindOptions } from "@sequent/core";
 *
 * const newestFirst: FindOptions = { orderBy: [["createdAt", "desc"]], limit: 10 };
 * ```
 */
export interface FindOptions {
  /**
   * Columns to order by, with their direction, `"asc"` or `"desc"` (any
   * other is a `TypeError`); default: unordered. Nulls sort last ascending,
   * first descending; rows equal on a column are ordered by the next one.
   * Text orders as the store's database collates it; the in-memory store,
   * which has none, by code point (as PostgreSQL's `C` collation does), so
   * a projector that orders text by something the collations disagree on
   * is tested on the database. JSON orders as `jsonb` does: by type (null,
   * string, number, boolean, array, object; a column's top-level `[]`
   * before every other value), numbers by value, strings as text, arrays
   * and objects by their size and then element by element (an object's
   * keys taken shortest first, then key, value, key, value…).
   */
  readonly orderBy?: readonly (readonly [string, "asc" | "desc"])[] | undefined;
  /** At most this many rows. */
  readonly limit?: number | undefined;
}

/**
 * Reads and writes rows of record tables. Writes may be deferred: a SQL
 * store sends them together with the next read or the commit, so their
 * errors (a duplicate key, say) can surface there and fail the unit of work.
 *
 * Every store holds the same values: those PostgreSQL can hold. In
 * particular, text no store can hold — a NUL character (U+0000) or a lone
 * surrogate, in a text column, or in a string or key of a JSON column — is
 * refused with {@linkcode UnstorableTextError} naming the table and column,
 * whether written (`insert`, `update`, `upsert`) or looked up (`where`),
 * before anything of the call is stored. Values of the wrong type (a
 * decimal past `numeric`'s 16383 digits after the point or 131072 before
 * it included) are a `TypeError` naming the column, and so is a name that
 * is no column of the table (`toString` neither). A JSON column gives back
 * what JSON text holds, as `jsonb` does, and `-0` reads back as `0` from
 * JSON, float and integer columns.
 *
 * Values are taken when the call is made: a caller may change a `Date` it
 * passed afterwards, even while the write waits to be sent, without
 * changing what is stored or which rows a condition matches. An insert may
 * hold any number of rows, and a list in a condition any number of values
 * (not holes, nor `undefined`: a `TypeError`). A condition is checked even
 * where nothing is to change.
 *
 * A duplicate key or unique value is a {@linkcode DuplicateRecordError}
 * naming the table (its declared name) and the taken key: the key's
 * columns by their TypeScript names, with their values as the columns hold
 * them.
 */
export interface RecordStore {
  /** Inserts rows (a duplicate primary key fails). */
  insert<T extends RecordTable>(
    table: T,
    rows: readonly NewRowOf<T>[],
  ): Promise<void>;
  /** The rows matching `where`. */
  find<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    options?: FindOptions,
  ): Promise<RowOf<T>[]>;
  /** Sets `changes` on every row matching `where`. */
  update<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: Partial<RowOf<T>>,
  ): Promise<void>;
  /**
   * Updates the rows matching `where` with `values`, or inserts one row made
   * of `where` and `values` when none matches (a value left `undefined`
   * changes nothing, so the new row takes the condition's value).
   */
  upsert<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    values: Partial<RowOf<T>>,
  ): Promise<void>;
  /** Deletes the rows matching `where`. */
  delete<T extends RecordTable>(table: T, where: WhereOf<T>): Promise<void>;
  /**
   * Runs raw parameterised SQL (SQL stores only).
   *
   * @throws {SequentError} on stores without SQL.
   */
  executeSql(
    text: string,
    params?: readonly unknown[],
  ): Promise<Record<string, unknown>[]>;
  /** The qualified SQL name a table has in this store (SQL stores only). */
  tableName(table: RecordTable): string;
}
