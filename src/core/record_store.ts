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
   * Columns to order by, with their direction (default: unordered); nulls
   * last ascending, first descending. Text orders as the store's database
   * collates it; the in-memory store, which has none, by code point (as
   * PostgreSQL's `C` collation does), so a projector that orders text by
   * something the collations disagree on is tested on the database.
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
 * before anything of the call is stored. Values of the wrong type are a
 * `TypeError` naming the column. A JSON column gives back what JSON text
 * holds, as `jsonb` does, and `-0` reads back as `0` from JSON and float
 * columns.
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
   * of `where` and `values` when none matches.
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
