/**
 * Projectors: event handlers that keep read-model tables. They run inline,
 * in the transaction of the command whose events they handle (a projector
 * error rolls the command back), and again during replays, where they write
 * through a bulk persistor instead.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  NotManagedByThisProjectorError,
  RecordNotFoundError,
} from "./errors.ts";
import { EventHandler } from "./event_handler.ts";
import type { FindOptions, RecordStore } from "./record_store.ts";
import {
  type ChangesOf,
  type NewRowOf,
  nullsForUndefined,
  type RecordTable,
  type RowOf,
  type WhereOf,
} from "./record_table.ts";
import { currentUnit } from "./unit_of_work.ts";

const replayStore = new AsyncLocalStorage<RecordStore>();

/** Runs `work` with projectors writing to `store` (used by replays). */
export function withRecordStore<T>(
  store: RecordStore,
  work: () => Promise<T>,
): Promise<T> {
  return replayStore.run(store, work);
}

/** The record store projectors write to in the current context. */
export function currentRecordStore(what: string): RecordStore {
  return replayStore.getStore() ?? currentUnit(what).transaction.records;
}

/**
 * The base class of projectors. List the tables a projector writes in its
 * static `manages`; register event handlers with `on`; write with the
 * record helpers, typed by each table's row type.
 *
 * @example
 * ```ts
 * import { attrs, column, Event, Projector, table } from "@sequent/core";
 *
 * class PostAdded extends Event.define("PostAdded", {}) {}
 * class PostTitleChanged extends Event.define("PostTitleChanged", { title: attrs.string() }) {}
 *
 * export const postRecords = table("post_records", {
 *   aggregateId: column.uuid().primaryKey(),
 *   title: column.text().nullable(),
 * });
 *
 * export class PostProjector extends Projector {
 *   static override readonly manages = [postRecords];
 *   static {
 *     this.on(PostAdded, (p, e) => p.createRecord(postRecords, { aggregateId: e.aggregateId }));
 *     this.on(PostTitleChanged, (p, e) =>
 *       p.updateAllRecords(postRecords, { aggregateId: e.aggregateId }, { title: e.title }));
 *   }
 * }
 * ```
 */
export abstract class Projector extends EventHandler {
  /** The record tables this projector writes (and a replay rebuilds). */
  static readonly manages: readonly RecordTable[] = [];

  /** The record store of the current unit of work or replay. */
  protected get records(): RecordStore {
    // (a replay asks once per write: the message is built only outside one)
    return replayStore.getStore() ??
      currentRecordStore(`${this.constructor.name} record helpers`);
  }

  #managed<T extends RecordTable>(table: T): RecordStore {
    const manages = (this.constructor as typeof Projector).manages;
    if (!manages.includes(table)) {
      throw new NotManagedByThisProjectorError(
        this.constructor.name,
        table.name,
      );
    }
    return this.records;
  }

  /**
   * Inserts one row.
   *
   * @param table A managed table.
   * @param values The row.
   */
  createRecord<T extends RecordTable>(
    table: T,
    values: NewRowOf<T>,
  ): Promise<void> {
    return this.#managed(table).insert(table, [values]);
  }

  /**
   * Inserts several rows.
   *
   * @param table A managed table.
   * @param rows The rows.
   */
  createRecords<T extends RecordTable>(
    table: T,
    rows: readonly NewRowOf<T>[],
  ): Promise<void> {
    return this.#managed(table).insert(table, rows);
  }

  /**
   * Updates the rows matching `where`, or inserts one made of `where` and
   * `values` when there is none.
   *
   * @param table A managed table.
   * @param where Which rows.
   * @param values The values to set (`undefined` in a nullable column:
   *   null).
   */
  createOrUpdateRecord<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    values: ChangesOf<T>,
  ): Promise<void> {
    return this.#managed(table).upsert(
      table,
      where,
      nullsForUndefined(table, values),
    );
  }

  /**
   * Updates the one row matching `where` (typically
   * `{ aggregateId: event.aggregateId }`) with `changes`, or with what
   * `changes` returns for the current row.
   *
   * @param table A managed table.
   * @param where Which row; it must exist.
   * @param changes The new values, or a function of the row giving them
   *   (`undefined` in a nullable column: null).
   * @returns The updated row.
   * @throws {RecordNotFoundError} when no row matches.
   */
  async updateRecord<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: ChangesOf<T> | ((row: RowOf<T>) => ChangesOf<T>),
  ): Promise<RowOf<T>> {
    const store = this.#managed(table);
    const row = await this.getRecord(table, where);
    const values = nullsForUndefined(
      table,
      typeof changes === "function" ? changes(row) : changes,
    );
    const key = primaryKeyOf(table, row as Record<string, unknown>);
    await store.update(table, key as WhereOf<T>, values);
    return { ...row, ...values };
  }

  /**
   * Sets `changes` on every row matching `where`.
   *
   * @param table A managed table.
   * @param where Which rows.
   * @param changes The new values (`undefined` in a nullable column:
   *   null).
   */
  updateAllRecords<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: ChangesOf<T>,
  ): Promise<void> {
    return this.#managed(table).update(
      table,
      where,
      nullsForUndefined(table, changes),
    );
  }

  /**
   * The one row matching `where`.
   *
   * @param table A table.
   * @param where Which row.
   * @throws {RecordNotFoundError} when none matches.
   */
  async getRecord<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
  ): Promise<RowOf<T>> {
    const [row] = await this.records.find(table, where, { limit: 1 });
    if (!row) {
      throw new RecordNotFoundError(
        table.name,
        where as Record<string, unknown>,
      );
    }
    return row;
  }

  /**
   * The first row matching `where`, if any.
   *
   * @param table A table.
   * @param where Which row.
   */
  async findRecord<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
  ): Promise<RowOf<T> | undefined> {
    const [row] = await this.records.find(table, where, { limit: 1 });
    return row;
  }

  /**
   * The rows matching `where`.
   *
   * @param table A table.
   * @param where Which rows.
   * @param options Ordering and limit.
   */
  findRecords<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    options?: FindOptions,
  ): Promise<RowOf<T>[]> {
    return this.records.find(table, where, options);
  }

  /**
   * The last row matching `where`, by primary key.
   *
   * @param table A table.
   * @param where Which rows.
   */
  async lastRecord<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
  ): Promise<RowOf<T> | undefined> {
    const [row] = await this.records.find(table, where, {
      orderBy: table.primaryKey.map((k) => [k, "desc"] as const),
      limit: 1,
    });
    return row;
  }

  /**
   * Deletes one row, found earlier, by its primary key.
   *
   * @param table A managed table.
   * @param row The row.
   */
  async deleteRecord<T extends RecordTable>(
    table: T,
    row: RowOf<T>,
  ): Promise<void> {
    const store = this.#managed(table);
    await store.delete(
      table,
      primaryKeyOf(table, row as Record<string, unknown>) as WhereOf<T>,
    );
  }

  /**
   * Deletes every row matching `where`.
   *
   * @param table A managed table.
   * @param where Which rows.
   * @returns How many were deleted.
   */
  deleteAllRecords<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
  ): Promise<void> {
    return this.#managed(table).delete(table, where);
  }

  /**
   * Runs raw parameterised SQL in the projector's transaction (SQL stores
   * only). Name tables with `tableName(table)` so migrations can redirect
   * them.
   *
   * @param text SQL with `$1`, `$2`, … placeholders.
   * @param params The values of the placeholders.
   */
  executeSql(
    text: string,
    params: readonly unknown[] = [],
  ): Promise<Record<string, unknown>[]> {
    return this.records.executeSql(text, params);
  }

  /**
   * The qualified SQL name of a table in the current store.
   *
   * @param table A table.
   */
  tableName(table: RecordTable): string {
    return this.records.tableName(table);
  }
}

/** The primary-key columns and values of a row. */
export function primaryKeyOf(
  table: RecordTable,
  row: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  for (const column of table.primaryKey) key[column] = row[column];
  return key;
}
