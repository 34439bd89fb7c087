/**
 * A record store for a processor's batch: one-row INSERTs into a table are
 * gathered, the updates of a gathered row by its primary key are applied
 * to it in memory, and the rows go out as multi-row INSERTs. A projector
 * that creates a row and fills it in over later events (the common shape)
 * then costs a few statements per batch instead of one per row.
 *
 * Gathering happens only on a transaction, whose writes are queued anyway
 * (an error surfaces at the next read or the commit either way); on a
 * client every call goes straight to {@linkcode SqlRecordStore}. Order is
 * kept: any other call sends the gathered rows first, so it sees them and
 * runs after them. {@linkcode GatheringRecordStore.flush} sends what is
 * left; the owner calls it before the commit. The store is the only writer
 * of its transaction while it is used (the owner queues its own statements
 * after the flush): what another writer queued meanwhile would run before
 * the rows gathered earlier.
 *
 * The multi-row INSERTs hold a power-of-two number of rows, so a table has
 * a handful of statement texts and the connection's prepared statements
 * serve them.
 *
 * @module
 */
import type { FindOptions, RecordStore } from "../core/record_store.ts";
import type {
  Column,
  NewRowOf,
  RecordTable,
  RowOf,
  WhereOf,
} from "../core/record_table.ts";
import { copyValue, valueKey } from "../core/record_values.ts";
import type { SqlExecutor, SqlTransaction } from "./sql_client.ts";
import {
  soleWriter,
  SqlRecordStore,
  type TableLocator,
} from "./sql_record_store.ts";
import { HeldRows } from "./_held_rows.ts";

type AnyColumn = Column<unknown, boolean, boolean>;
type Row = Record<string, unknown>;

/** Most rows in one INSERT (a power of two). */
const MOST_ROWS = 256;
/** PostgreSQL takes at most 65,535 parameters in a statement. */
const MOST_PARAMS = 65_535;

/** The rows gathered for one table, in the order they were inserted. */
interface Gathered {
  readonly table: RecordTable;
  readonly rows: Row[];
  /**
   * Primary key (see `rowKey`) → the gathered row: the row set last is
   * found without hashing its key, as the updates that fill in the row a
   * handler just created look it up.
   */
  readonly byKey: HeldRows;
  /** The largest power of two of rows whose parameters fit a statement. */
  readonly most: number;
}

/** See the module documentation. */
export class GatheringRecordStore implements RecordStore {
  readonly #inner: SqlRecordStore;
  readonly #gathers: boolean;
  #gathered: Gathered | undefined;
  #untouched = true;

  constructor(
    executor: SqlExecutor | SqlTransaction,
    schema: string | TableLocator,
  ) {
    // the only writer of the transaction: its updates may fold
    this.#inner = soleWriter(new SqlRecordStore(executor, schema));
    this.#gathers = "enqueue" in executor;
  }

  /**
   * Whether nothing was asked of this store (only `tableName`): the batch
   * then wrote no row, and its commit holds the checkpoint alone. Any
   * other call counts, reads included, and `executeSql`, whose text may
   * write.
   */
  get untouched(): boolean {
    return this.#untouched;
  }

  /** Sends the gathered rows (queued on the transaction). */
  async flush(): Promise<void> {
    const gathered = this.#gathered;
    if (!gathered) return;
    this.#gathered = undefined;
    let at = 0;
    while (at < gathered.rows.length) {
      let size = gathered.most;
      while (size > gathered.rows.length - at) size /= 2;
      await this.#inner.insert(
        gathered.table,
        gathered.rows.slice(at, at + size) as NewRowOf<RecordTable>[],
      );
      at += size;
    }
  }

  /** {@inheritDoc RecordStore.insert} */
  async insert<T extends RecordTable>(
    table: T,
    rows: readonly NewRowOf<T>[],
  ): Promise<void> {
    this.#untouched = false;
    if (!this.#gathers || rows.length !== 1) {
      await this.flush();
      return this.#inner.insert(table, rows);
    }
    // checked now, so a bad row fails the handler that wrote it
    const row = table.completeRow(rows[0] as Row);
    const key = rowKey(table, row);
    let gathered = this.#gathered;
    if (gathered?.table !== table || gathered.byKey.has(key)) {
      // a key inserted twice is sent as written, to fail as it would
      await this.flush();
      gathered = this.#gathered = {
        table,
        rows: [],
        byKey: new HeldRows(),
        most: mostRows(table),
      };
    }
    for (const column in row) row[column] = copyValue(row[column]);
    gathered.rows.push(row);
    gathered.byKey.set(key, row);
  }

  /** {@inheritDoc RecordStore.find} */
  async find<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    options?: FindOptions,
  ): Promise<RowOf<T>[]> {
    this.#untouched = false;
    await this.flush();
    return this.#inner.find(table, where, options);
  }

  /** {@inheritDoc RecordStore.update} */
  async update<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: Partial<RowOf<T>>,
  ): Promise<void> {
    this.#untouched = false;
    const row = this.#gatheredRow(table, where as Row);
    if (row && !changesKey(table, changes as Row)) {
      // (for…in: no entry arrays, on a path taken per event)
      for (const column in changes) {
        const value = (changes as Row)[column];
        if (value !== undefined) table.checkValue(column, value);
      }
      for (const column in changes) {
        const value = (changes as Row)[column];
        if (value !== undefined) row[column] = copyValue(value);
      }
      return;
    }
    await this.flush();
    return this.#inner.update(table, where, changes);
  }

  /** {@inheritDoc RecordStore.upsert} */
  async upsert<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    values: Partial<RowOf<T>>,
  ): Promise<void> {
    this.#untouched = false;
    await this.flush();
    return this.#inner.upsert(table, where, values);
  }

  /** {@inheritDoc RecordStore.delete} */
  async delete<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
  ): Promise<void> {
    this.#untouched = false;
    await this.flush();
    return this.#inner.delete(table, where);
  }

  /** {@inheritDoc RecordStore.executeSql} */
  async executeSql(
    text: string,
    params?: readonly unknown[],
  ): Promise<Record<string, unknown>[]> {
    this.#untouched = false;
    await this.flush();
    return this.#inner.executeSql(text, params);
  }

  /** {@inheritDoc RecordStore.tableName} */
  tableName(table: RecordTable): string {
    return this.#inner.tableName(table);
  }

  /**
   * The gathered row `where` names by its whole primary key (one value per
   * key column, no other column), if any. The key's values are checked as
   * the UPDATE would check them: `"1"` is not the integer 1.
   */
  #gatheredRow(table: RecordTable, where: Row): Row | undefined {
    const gathered = this.#gathered;
    if (gathered?.table !== table) return undefined;
    const key = table.primaryKey;
    let named = 0;
    for (const column in where) {
      const value = where[column];
      if (value === undefined) continue;
      if (!key.includes(column) || value === null || Array.isArray(value)) {
        return undefined;
      }
      if (!(table.columns[column] as AnyColumn).accepts(value)) {
        table.checkValue(column, value);
      }
      named++;
    }
    if (named !== key.length) return undefined;
    return gathered.byKey.get(rowKey(table, where));
  }
}

/** Whether `changes` names a primary key column. */
function changesKey(table: RecordTable, changes: Row): boolean {
  const key = table.primaryKey;
  for (const column in changes) {
    if (key.includes(column)) return true;
  }
  return false;
}

/**
 * A row's primary key as one string: a text or UUID key's own value (no
 * new string to hash), else the columns' value keys joined.
 */
function rowKey(table: RecordTable, row: Row): string {
  const key = table.primaryKey;
  if (key.length === 1) {
    const column = key[0] as string;
    const kind = (table.columns[column] as AnyColumn).kind;
    const value = row[column];
    if ((kind === "uuid" || kind === "text") && typeof value === "string") {
      return value;
    }
    return valueKey(kind, value);
  }
  return key.map((column) =>
    valueKey((table.columns[column] as AnyColumn).kind, row[column])
  ).join("\u0001");
}

function mostRows(table: RecordTable): number {
  let most = MOST_ROWS;
  while (most > 1 && most * table.columnNames.length > MOST_PARAMS) most /= 2;
  return most;
}
