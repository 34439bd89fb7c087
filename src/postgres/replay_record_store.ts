/**
 * The replay-optimised persistor: what projectors write to while a
 * migration replays events into new tables. Rows live in memory, keyed by
 * primary key with hash indexes on the other columns looked up, and go to
 * the database in bulk with `COPY` once more than `flushEvery` rows are
 * held, so memory stays bounded however many events are replayed: the
 * replay flushes between aggregates ({@linkcode ReplayRecordStore.flushIfFull}),
 * and writes alone flush past twice `flushEvery`. A flush's writes run in
 * the background while the replay goes on; whatever must read the
 * database waits for them first.
 * Projectors written against the record helpers run on it unchanged: a row
 * that was flushed is read back when a later event needs it, and rewritten
 * at the next flush.
 *
 * The database is asked only when it may hold a row the lookup needs: the
 * store knows the keys of every row it flushed, and, for each other column
 * looked up, the values every flushed row had; a lookup already answered
 * since the last flush is not asked again. Raw SQL
 * ({@linkcode ReplayRecordStore.executeSql}) may change any row, so after
 * it every lookup that misses in memory asks the database. A find ordered
 * by a text or JSON column asks it for the order alone (the database's
 * collation, which orders text and the strings in JSON, where memory orders
 * them by code point); other orders are memory's.
 *
 * @module
 */
import { DuplicateRecordError } from "../core/errors.ts";
import type { FindOptions, RecordStore } from "../core/record_store.ts";
import type {
  Column,
  ColumnKind,
  NewRowOf,
  RecordTable,
  RowOf,
  WhereOf,
} from "../core/record_table.ts";
import {
  checkOrder,
  copyValue,
  orderAndLimit,
  storedValue,
  valueKey,
} from "../core/record_values.ts";
import { SETTLED } from "../core/event_dispatch.ts";
import type { SqlExecutor, SqlValue } from "./sql_client.ts";
import {
  decodeValue,
  encodeHeldValue,
  mapRecordError,
  selectExpression,
  SqlRecordStore,
} from "./sql_record_store.ts";
import { quoteIdent, sqlTypeOf } from "./table_sql.ts";
import { FlushedKeys } from "./_flushed_keys.ts";
import { HeldRows } from "./_held_rows.ts";

type AnyColumn = Column<unknown, boolean, boolean>;
type Row = Record<string, unknown>;

/**
 * What a write that completed at once returns: a replay need not wait for
 * it (compare with `===`).
 */
export const DONE: Promise<void> = SETTLED;

/** Where a table's rows are written: its schema and physical name. */
export interface ReplayTarget {
  /** The schema. */
  readonly schema: string;
  /** The physical table name (with a version suffix, say). */
  readonly name: string;
}

/**
 * Rows per `COPY` of a flush. A flush of 50,000 rows takes the server some
 * 60–90 ms, while reading the replay's next slice waits behind it: in
 * pieces of this size the reads go between them (measured on the blog's
 * replay: the replay's idle time fell from about 400 to about 170 ms per
 * million events).
 */
const COPY_PIECE_ROWS = 10_000;

/**
 * Options of {@linkcode ReplayRecordStore}.
 *
 * @example
 * ```ts
 * import type { ReplayRecordStoreOptions } from "@sequent/core/postgres";
 *
 * const options: ReplayRecordStoreOptions = { flushEvery: 50_000 };
 * ```
 */
export interface ReplayRecordStoreOptions {
  /** Flush when more rows than this are held in memory (default 50,000). */
  readonly flushEvery?: number | undefined;
  /**
   * Whether the tables may already hold rows (a replay continuing an
   * earlier one): lookups that miss in memory then read the database.
   */
  readonly existingRows?: boolean | undefined;
}

/** What a flush writes to one table. */
interface TableWrite {
  readonly state: TableState;
  /** Keys of the database rows to delete first. */
  readonly removed: readonly Row[];
  /** The rows to copy in. */
  readonly fresh: readonly Row[];
}

/** A where clause checked against the table: one entry per column. */
interface Condition {
  readonly column: string;
  readonly kind: ColumnKind;
  /** Value keys of the accepted values (several for a list), each once. */
  readonly keys: readonly string[];
}

interface TableState {
  readonly table: RecordTable;
  readonly target: ReplayTarget;
  readonly qualified: string;
  /** The primary key is one column of a kind whose values are their keys. */
  readonly plainKey: string | undefined;
  /** That column. */
  readonly plainColumn: AnyColumn | undefined;
  /** Whether the table has unique indexes besides its key. */
  readonly hasUnique: boolean;
  /** The last plain key looked up, known to be valid. */
  checkedKey: string | undefined;
  /** Columns whose values are mutable objects (copied in and out). */
  readonly objectColumns: readonly string[];
  /**
   * Columns whose values are taken in as stored (see `storedValue`): the
   * object columns, and integer and float ones (`-0` is `0`).
   */
  readonly storedColumns: readonly (readonly [string, ColumnKind])[];
  /** Rows held in memory, by primary key. */
  rows: HeldRows;
  /** column → value key → primary keys, for the columns looked up. */
  indexes: Map<string, Map<string, Set<string>>>;
  /** Keys of rows in memory that were read back from the database. */
  readonly stored: Set<string>;
  /** Of those, the ones changed since. */
  readonly dirty: Set<string>;
  /** Database rows (their keys, as rows) deleted since the last flush. */
  readonly deleted: Map<string, Row>;
  /** Keys of the rows in the database (when `unknownRows` is false). */
  readonly flushedKeys: FlushedKeys;
  /** For other columns looked up: every value a database row has. */
  readonly flushedValues: Map<string, Set<string>>;
  /** Lookups answered from the database since the last flush. */
  readonly loaded: Set<string>;
  /** Whether the table may hold rows the store does not know of. */
  unknownRows: boolean;
}

/**
 * A {@linkcode RecordStore} for replays (see the module documentation).
 * Call {@linkcode ReplayRecordStore.flush} when the replay ends.
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 * import { createTableSql, connectDatabase, ReplayRecordStore } from "@sequent/core/postgres";
 *
 * const posts = table("posts", { id: column.uuid().primaryKey(), title: column.text() });
 * const client = await connectDatabase("memory://");
 * await client.execute(`create schema v; ${createTableSql(posts, "v")}`);
 * const store = new ReplayRecordStore(client, () => ({ schema: "v", name: "posts" }));
 * await store.insert(posts, [{ id: crypto.randomUUID(), title: "Hello" }]);
 * await store.flush();
 * const [row] = await client.query<{ n: number }>("select count(*)::int as n from v.posts");
 * console.assert(row?.n === 1);
 * await client.close();
 * ```
 */
export class ReplayRecordStore implements RecordStore {
  readonly #executor: SqlExecutor;
  readonly #target: (table: RecordTable) => ReplayTarget;
  readonly #database: SqlRecordStore;
  readonly #states = new Map<RecordTable, TableState>();
  readonly #flushEvery: number;
  /**
   * Whether tables not looked at yet may hold rows the store does not know
   * of: `existingRows`, or raw SQL ran (it may have written any table).
   */
  #existingRows: boolean;
  #held = 0;
  #flushes = 0;
  #flushedRows = 0;
  #peakRows = 0;
  /** The writes of the flushes started so far, one after the other. */
  #writing: Promise<void> = DONE;
  /** Whether a flush's writes are under way. */
  #busy = false;
  /** The first flush that failed: every later call fails with it. */
  #failure: { readonly error: unknown } | undefined;

  /**
   * Creates a replay persistor.
   *
   * @param executor Where flushed rows go (the migration's transaction).
   * @param target The physical table each record table is written to.
   * @param options `flushEvery`, `existingRows`.
   */
  constructor(
    executor: SqlExecutor,
    target: (table: RecordTable) => ReplayTarget,
    options: ReplayRecordStoreOptions = {},
  ) {
    this.#executor = executor;
    this.#target = target;
    this.#flushEvery = options.flushEvery ?? 50_000;
    this.#existingRows = options.existingRows ?? false;
    if (!Number.isSafeInteger(this.#flushEvery) || this.#flushEvery < 1) {
      throw new RangeError(
        `flushEvery must be a positive integer, got ${options.flushEvery}`,
      );
    }
    this.#database = new SqlRecordStore(
      executor,
      (table) => this.tableName(table),
    );
  }

  /** How many rows were written to the database so far. */
  get flushedRows(): number {
    return this.#flushedRows;
  }

  /** The most rows held in memory at once. */
  get peakRows(): number {
    return this.#peakRows;
  }

  /**
   * How many flushes with something to write were started so far: one
   * more than before a call means that call started one.
   */
  get flushes(): number {
    return this.#flushes;
  }

  #state(table: RecordTable): TableState {
    let state = this.#states.get(table);
    if (!state) {
      const target = this.#target(table);
      const [only] = table.primaryKey;
      const onlyKind = table.primaryKey.length === 1
        ? (table.columns[only as string] as AnyColumn).kind
        : undefined;
      state = {
        table,
        target,
        qualified: `"${target.schema}"."${target.name}"`,
        plainKey: onlyKind === "uuid" || onlyKind === "text" ? only : undefined,
        plainColumn: onlyKind === "uuid" || onlyKind === "text"
          ? table.columns[only as string] as AnyColumn
          : undefined,
        hasUnique: table.indexes.some((i) => i.unique),
        checkedKey: undefined,
        objectColumns: table.columnNames.filter((c) => {
          const kind = (table.columns[c] as AnyColumn).kind;
          return kind === "json" || kind === "dateTime";
        }),
        storedColumns: table.columnNames.flatMap((c) => {
          const kind = (table.columns[c] as AnyColumn).kind;
          return kind === "json" || kind === "dateTime" || kind === "integer" ||
              kind === "float"
            ? [[c, kind] as const]
            : [];
        }),
        rows: new HeldRows(),
        indexes: new Map(),
        stored: new Set(),
        dirty: new Set(),
        deleted: new Map(),
        flushedKeys: new FlushedKeys(),
        flushedValues: new Map(),
        loaded: new Set(),
        unknownRows: this.#existingRows,
      };
      this.#states.set(table, state);
      // (located by the SQL store: a unique violation of a flush names the
      // table and key as the store's own errors do)
      this.#database.tableName(table);
    }
    return state;
  }

  /**
   * The primary key of a row, as a string: a plain key's own value, else
   * the columns' value keys each ended by U+0001, which no value key holds
   * (see `valueKey`), so two keys are equal only when every part is.
   */
  #key(state: TableState, row: Row): string {
    if (state.plainKey !== undefined) return row[state.plainKey] as string;
    const { table } = state;
    let key = "";
    for (const column of table.primaryKey) {
      key += valueKey((table.columns[column] as AnyColumn).kind, row[column]) +
        "\u0001";
    }
    return key;
  }

  /** Checks a where clause; throws as the other stores do. */
  #conditions(state: TableState, where: Row): Condition[] {
    const { table } = state;
    const conditions: Condition[] = [];
    for (const column in where) {
      const value = where[column];
      if (value === undefined) continue;
      const col = table.columns[column] as AnyColumn | undefined;
      if (!col || !Object.hasOwn(table.columns, column)) {
        throw new TypeError(`Table ${table.name} has no column "${column}"`);
      }
      const kind = col.kind;
      if (Array.isArray(value) && kind !== "json") {
        const keys: string[] = [];
        for (const v of value) {
          if (v !== null && !col.accepts(v)) table.checkValue(column, v);
          keys.push(this.#valueKey(state, column, kind, v));
        }
        // each value once: a value given twice (or 1.5 and 1.50) would
        // find its rows twice, as IN never does
        conditions.push({
          column,
          kind,
          keys: keys.length > 1 ? [...new Set(keys)] : keys,
        });
      } else {
        if (value !== null && !col.accepts(value)) {
          table.checkValue(column, value);
        }
        conditions.push({
          column,
          kind,
          keys: [this.#valueKey(state, column, kind, value)],
        });
      }
    }
    return conditions;
  }

  #valueKey(
    state: TableState,
    column: string,
    kind: ColumnKind,
    value: unknown,
  ): string {
    return column === state.plainKey && typeof value === "string"
      ? value
      : valueKey(kind, value);
  }

  /**
   * The primary key named by conditions on all its columns, if one, as
   * `#key` writes it.
   */
  #keyOf(
    state: TableState,
    conditions: readonly Condition[],
  ): string | undefined {
    const pk = state.table.primaryKey;
    if (state.plainKey !== undefined) {
      for (const c of conditions) {
        if (c.column === state.plainKey) {
          return c.keys.length === 1 && c.keys[0] !== "\0"
            ? c.keys[0]
            : undefined;
        }
      }
      return undefined;
    }
    let key = "";
    for (const column of pk) {
      const c = conditions.find((x) => x.column === column);
      if (!c || c.keys.length !== 1) return undefined;
      key += c.keys[0] + "\u0001";
    }
    return key;
  }

  /**
   * The rows in memory matching `where`, after reading back what the
   * database may add: at once when memory alone can answer.
   */
  #matching(
    state: TableState,
    where: Row,
  ): [string, Row][] | Promise<[string, Row][]> {
    const plain = state.plainKey;
    if (plain !== undefined) {
      const key = onlyString(where, plain);
      if (key !== undefined) {
        if (key !== state.checkedKey) {
          // (events of one aggregate come together: check its key once)
          if (!(state.plainColumn as AnyColumn).accepts(key)) {
            state.table.checkValue(plain, key);
          }
          state.checkedKey = key;
        }
        const row = state.rows.get(key);
        if (row) return [[key, row]];
        if (
          isDeleted(state, key) ||
          (!state.unknownRows && !state.flushedKeys.has(key))
        ) return [];
      }
    }
    return this.#matchingAll(state, where);
  }

  async #matchingAll(
    state: TableState,
    where: Row,
  ): Promise<[string, Row][]> {
    const conditions = this.#conditions(state, where);
    const key = this.#keyOf(state, conditions);
    await this.#load(state, where, conditions, key);
    if (key !== undefined) {
      const row = state.rows.get(key);
      return row && matches(state, row, conditions, key) ? [[key, row]] : [];
    }
    if (conditions.length === 0) return [...state.rows];
    // the most selective indexed condition
    let best: Set<string>[] | undefined;
    let size = Infinity;
    for (const c of conditions) {
      const index = this.#index(state, c.column);
      const sets: Set<string>[] = [];
      let n = 0;
      for (const k of c.keys) {
        const set = index.get(k);
        if (set) {
          sets.push(set);
          n += set.size;
        }
      }
      if (n < size) {
        size = n;
        best = sets;
      }
      if (n === 0) break;
    }
    const out: [string, Row][] = [];
    for (const set of best ?? []) {
      for (const k of set) {
        const row = state.rows.get(k) as Row;
        if (matches(state, row, conditions, k)) out.push([k, row]);
      }
    }
    return out;
  }

  #index(state: TableState, column: string): Map<string, Set<string>> {
    let index = state.indexes.get(column);
    if (!index) {
      index = new Map();
      const kind = (state.table.columns[column] as AnyColumn).kind;
      for (const [key, row] of state.rows) {
        const vk = this.#valueKey(state, column, kind, row[column]);
        let set = index.get(vk);
        if (!set) index.set(vk, set = new Set());
        set.add(key);
      }
      state.indexes.set(column, index);
    }
    return index;
  }

  /**
   * Reads back into memory the database rows that may match and are not
   * in memory yet.
   */
  async #load(
    state: TableState,
    where: Row,
    conditions: readonly Condition[],
    key: string | undefined,
  ): Promise<void> {
    if (key !== undefined) {
      if (state.rows.has(key) || isDeleted(state, key)) return;
      if (!state.unknownRows && !state.flushedKeys.has(key)) return;
    } else {
      let none = false;
      for (const c of conditions) {
        // (starts keeping the column's values when nothing was flushed yet)
        const values = await this.#flushedValues(state, c.column);
        if (values && !c.keys.some((k) => values.has(k))) none = true;
      }
      if (none || (!state.unknownRows && state.flushedKeys.none)) return;
    }
    const asked = key !== undefined
      ? `k${key}`
      : conditions.map((c) => `${c.column}=${c.keys.join("\u0002")}`).sort()
        .join("\u0003");
    if (state.loaded.has(asked)) return;
    await this.#written();
    // By key, the row is read whatever the other conditions say (the
    // caller checks them in memory): `asked` then records that the key's
    // row is in memory, which a later lookup by the key alone relies on.
    const rows = await this.#database.find(
      state.table,
      (key !== undefined ? pkWhere(state.table, where) : where) as WhereOf<
        RecordTable
      >,
    );
    state.loaded.add(asked);
    for (const row of rows as Row[]) {
      const k = this.#key(state, row);
      if (state.rows.has(k) || state.deleted.has(k)) continue;
      this.#put(state, k, row);
      state.stored.add(k);
    }
  }

  /**
   * Every value the database rows have in a column: for a plain primary
   * key, the keys flushed; for another column, read once with `SELECT
   * DISTINCT` when rows were written before the column was first looked
   * up, then kept up to date by each flush. Undefined when the table may
   * hold rows the store does not know of: the database must be asked.
   */
  async #flushedValues(
    state: TableState,
    column: string,
  ): Promise<{ has(key: string): boolean } | undefined> {
    if (state.unknownRows) return undefined;
    if (column === state.plainKey) return state.flushedKeys;
    let values = state.flushedValues.get(column);
    if (values) return values;
    values = new Set();
    const col = state.table.columns[column] as AnyColumn;
    if (!state.flushedKeys.none) {
      const name = state.table.sqlName(column);
      await this.#written();
      const rows = await this.#executor.query<{ v: unknown }>(
        `SELECT DISTINCT ${selectExpression(col, name)} AS v FROM ${
          this.tableName(state.table)
        }`,
      );
      for (const { v } of rows) {
        values.add(
          this.#valueKey(state, column, col.kind, decodeValue(col, v)),
        );
      }
    }
    state.flushedValues.set(column, values);
    return values;
  }

  #put(state: TableState, key: string, row: Row): void {
    state.rows.set(key, row);
    if (state.indexes.size > 0) this.#indexRow(state, key, row);
    if (++this.#held > this.#peakRows) this.#peakRows = this.#held;
  }

  #indexRow(state: TableState, key: string, row: Row): void {
    for (const [column, index] of state.indexes) {
      const kind = (state.table.columns[column] as AnyColumn).kind;
      const vk = this.#valueKey(state, column, kind, row[column]);
      let set = index.get(vk);
      if (!set) index.set(vk, set = new Set());
      set.add(key);
    }
  }

  #remove(state: TableState, key: string, row: Row): void {
    state.rows.delete(key);
    this.#held--;
    for (const [column, index] of state.indexes) {
      const kind = (state.table.columns[column] as AnyColumn).kind;
      const vk = this.#valueKey(state, column, kind, row[column]);
      const set = index.get(vk);
      set?.delete(key);
      if (set?.size === 0) index.delete(vk);
    }
  }

  /** Whether the database holds a row with this key that memory does not. */
  async #takenInDatabase(
    state: TableState,
    key: string,
    row: Row,
  ): Promise<boolean> {
    if (isDeleted(state, key)) return false;
    if (state.flushedKeys.has(key)) return true;
    if (!state.unknownRows) return false;
    const where = pkWhere(state.table, row);
    await this.#load(state, where, this.#conditions(state, where), key);
    return state.rows.has(key);
  }

  /** {@inheritDoc RecordStore.insert} */
  insert<T extends RecordTable>(
    table: T,
    rows: readonly NewRowOf<T>[],
  ): Promise<void> {
    try {
      const state = this.#state(table);
      if (rows.length !== 1 || state.unknownRows) {
        return this.#insertAll(state, rows as readonly Row[]);
      }
      // one row, and memory knows every key: at once
      const row = table.completeRow(rows[0] as Row);
      const stored = state.storedColumns;
      for (let i = 0; i < stored.length; i++) {
        const [column, kind] = stored[i]!;
        row[column] = storedValue(kind, row[column]);
      }
      const key = this.#key(state, row);
      if (
        state.rows.has(key) ||
        (!isDeleted(state, key) && state.flushedKeys.has(key))
      ) {
        throw new DuplicateRecordError(table.name, pkWhere(table, row));
      }
      if (state.hasUnique) this.#checkUnique(state, key, row);
      this.#put(state, key, row);
      // (checked by completeRow: lookups of this key need not check it again)
      if (state.plainKey !== undefined) state.checkedKey = key;
      return this.#held > 2 * this.#flushEvery ? this.#startFlush() : DONE;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #insertAll(state: TableState, rows: readonly Row[]): Promise<void> {
    const { table } = state;
    const prepared: [string, Row][] = [];
    for (const values of rows) {
      const row = table.completeRow(values as Row);
      for (const [column, kind] of state.storedColumns) {
        row[column] = storedValue(kind, row[column]);
      }
      const key = this.#key(state, row);
      if (
        state.rows.has(key) || prepared.some(([k]) => k === key) ||
        await this.#takenInDatabase(state, key, row)
      ) {
        throw new DuplicateRecordError(table.name, pkWhere(table, row));
      }
      prepared.push([key, row]);
    }
    for (const [key, row] of prepared) this.#checkUnique(state, key, row);
    for (const [key, row] of prepared) this.#put(state, key, row);
    if (this.#held > 2 * this.#flushEvery) await this.#startFlush();
  }

  /** Unique indexes, checked among the rows in memory. */
  #checkUnique(state: TableState, key: string, row: Row): void {
    for (const { columns, unique } of state.table.indexes) {
      if (!unique) continue;
      if (columns.some((c) => row[c] === null)) continue;
      let candidates: Set<string> | undefined;
      for (const column of columns) {
        const kind = (state.table.columns[column] as AnyColumn).kind;
        const set = this.#index(state, column).get(
          this.#valueKey(state, column, kind, row[column]),
        );
        if (!set) {
          candidates = undefined;
          break;
        }
        candidates = candidates
          ? new Set([...candidates].filter((k) => set.has(k)))
          : set;
      }
      for (const other of candidates ?? []) {
        if (other !== key) {
          throw new DuplicateRecordError(
            state.table.name,
            Object.fromEntries(columns.map((c) => [c, row[c]])),
          );
        }
      }
    }
  }

  /** {@inheritDoc RecordStore.find} */
  async find<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    options?: FindOptions,
  ): Promise<RowOf<T>[]> {
    const state = this.#state(table);
    const matching = this.#matching(state, where as Row);
    const found = matching instanceof Promise ? await matching : matching;
    let rows = found.map(([, row]) => row);
    const orderBy = options?.orderBy;
    // (checked whatever the rows: a bad direction is refused even where
    // memory would not order them)
    if (orderBy !== undefined) checkOrder(table, orderBy);
    if (
      orderBy !== undefined && rows.length > 1 &&
      ordersInDatabase(table, orderBy)
    ) {
      rows = orderAndLimit(
        table,
        await this.#orderedByDatabase(state, rows, orderBy),
        { limit: options?.limit },
      );
    } else {
      rows = orderAndLimit(table, rows, options);
    }
    return rows.map((row) => this.#copy(state, row)) as RowOf<T>[];
  }

  /**
   * `rows` in the order PostgreSQL gives them by `orderBy`, ties in the
   * order given: each row's order columns go to the server as JSON, read
   * into the table's row type, so text sorts by the column's collation and
   * JSON as `jsonb` does, as inline projection's `ORDER BY` sorts them.
   */
  async #orderedByDatabase(
    state: TableState,
    rows: readonly Row[],
    orderBy: NonNullable<FindOptions["orderBy"]>,
  ): Promise<Row[]> {
    const { table } = state;
    const order = orderBy.map(([column, direction]) => ({
      column,
      col: table.columns[column] as AnyColumn,
      name: table.sqlName(column),
      direction: direction === "desc" ? "DESC" : "ASC",
    }));
    const values = rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const { column, col, name } of order) {
        out[name] = orderValue(col, row[column]);
      }
      return out;
    });
    await this.#written();
    const sorted = await this.#executor.query<{ i: number }>(
      `SELECT e.i::int AS i
         FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS e(v, i),
              jsonb_populate_record(NULL::${state.qualified}, e.v) AS r
        ORDER BY ${
        order.map(({ name, direction }) => `r.${quoteIdent(name)} ${direction}`)
          .join(", ")
      }, e.i`,
      [JSON.stringify(values)],
    );
    return sorted.map(({ i }) => rows[i - 1] as Row);
  }

  #copy(state: TableState, row: Row): Row {
    const copy: Row = { ...row };
    for (const column of state.objectColumns) {
      copy[column] = copyValue(copy[column]);
    }
    return copy;
  }

  /** {@inheritDoc RecordStore.update} */
  update<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: Partial<RowOf<T>>,
  ): Promise<void> {
    try {
      const state = this.#state(table);
      if (this.#updateInPlace(state, where as Row, changes as Row)) return DONE;
      const set: [string, unknown][] = [];
      for (const column in changes as Row) {
        const value = (changes as Row)[column];
        if (value === undefined) continue;
        table.checkValue(column, value);
        set.push([
          column,
          storedValue((table.columns[column] as AnyColumn).kind, value),
        ]);
      }
      const matching = this.#matching(state, where as Row);
      if (matching instanceof Promise) {
        return matching.then((rows) => this.#apply(state, rows, set));
      }
      return this.#apply(state, matching, set) ?? DONE;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The replay's usual update, done in place: one row named by its plain
   * key, the key the last lookup or insert checked, held in memory, and
   * changes that are valid and touch neither the key nor an indexed
   * column. False (nothing done) for anything else, which the general
   * path handles, errors included.
   */
  #updateInPlace(state: TableState, where: Row, changes: Row): boolean {
    const plain = state.plainKey;
    if (plain === undefined) return false;
    const key = onlyString(where, plain);
    if (key === undefined || key !== state.checkedKey) return false;
    const row = state.rows.get(key);
    if (row === undefined) return false;
    const { columns } = state.table;
    let changed = false;
    for (const column in changes) {
      const value = changes[column];
      if (value === undefined) continue;
      if (
        column === plain || state.indexes.has(column) ||
        !Object.hasOwn(columns, column) ||
        !(columns[column] as AnyColumn).accepts(value)
      ) return false;
      changed = true;
    }
    if (!changed) return true;
    for (const column in changes) {
      const value = changes[column];
      if (value !== undefined) {
        row[column] = storedValue((columns[column] as AnyColumn).kind, value);
      }
    }
    if (state.stored.size > 0 && state.stored.has(key)) state.dirty.add(key);
    return true;
  }

  /** Changes rows: at once, unless a key change must ask the database. */
  #apply(
    state: TableState,
    rows: readonly [string, Row][],
    set: readonly [string, unknown][],
  ): Promise<void> | undefined {
    if (rows.length === 0 || set.length === 0) return;
    const { table } = state;
    const keyChanges = set.some(([c]) => table.primaryKey.includes(c));
    const indexed = set.some(([c]) => state.indexes.has(c));
    if (!keyChanges && !indexed) {
      // the common case: in place
      for (const [key, row] of rows) {
        for (const [column, value] of set) row[column] = value;
        if (state.stored.has(key)) state.dirty.add(key);
      }
      return;
    }
    return this.#applyChangingKeys(state, rows, set);
  }

  async #applyChangingKeys(
    state: TableState,
    rows: readonly [string, Row][],
    set: readonly [string, unknown][],
  ): Promise<void> {
    const { table } = state;
    const updated = rows.map(([key, row]) => {
      const next: Row = { ...row };
      for (const [column, value] of set) next[column] = value;
      return { key, row, next, newKey: this.#key(state, next) };
    });
    for (const u of updated) {
      if (u.newKey === u.key) continue;
      // a key another updated row leaves is free
      const vacated = updated.some((o) => o.key === u.newKey);
      const clash = updated.some((o) => o.newKey === u.newKey && o !== u) ||
        (!vacated &&
          (state.rows.has(u.newKey) ||
            await this.#takenInDatabase(state, u.newKey, u.next)));
      if (clash) {
        throw new DuplicateRecordError(table.name, pkWhere(table, u.next));
      }
    }
    for (const { key, row, newKey } of updated) {
      this.#remove(state, key, row);
      if (state.stored.has(key)) {
        if (newKey === key) {
          state.dirty.add(key);
        } else {
          // the stored row goes; the changed one is new
          state.stored.delete(key);
          state.dirty.delete(key);
          state.deleted.set(key, pkWhere(table, row));
        }
      }
    }
    for (const { key, next, newKey } of updated) {
      this.#checkUnique(state, newKey, next);
      this.#put(state, newKey, next);
      if (newKey === key && state.stored.has(key)) state.dirty.add(key);
    }
  }

  /** {@inheritDoc RecordStore.upsert} */
  async upsert<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    values: Partial<RowOf<T>>,
  ): Promise<void> {
    const state = this.#state(table);
    const matching = this.#matching(state, where as Row);
    const rows = matching instanceof Promise ? await matching : matching;
    if (rows.length > 0) return this.update(table, where, values);
    for (const [column, value] of Object.entries(where as Row)) {
      if (
        Array.isArray(value) &&
        (table.columns[column] as AnyColumn | undefined)?.kind !== "json"
      ) {
        throw new TypeError(
          `createOrUpdateRecord(): cannot create a row of ${table.name} from a list of ${column} values`,
        );
      }
    }
    // a value left undefined changes nothing: the condition's value stays
    const row: Row = { ...where };
    for (const [column, value] of Object.entries(values as Row)) {
      if (value !== undefined) row[column] = value;
    }
    await this.insert(table, [row as NewRowOf<T>]);
  }

  /** {@inheritDoc RecordStore.delete} */
  async delete<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
  ): Promise<void> {
    const state = this.#state(table);
    const matching = this.#matching(state, where as Row);
    for (
      const [key, row] of matching instanceof Promise
        ? await matching
        : matching
    ) {
      this.#remove(state, key, row);
      if (state.stored.has(key)) {
        state.stored.delete(key);
        state.dirty.delete(key);
        state.deleted.set(key, pkWhere(table, row));
      }
    }
  }

  /** {@inheritDoc RecordStore.executeSql} */
  async executeSql(
    text: string,
    params: readonly unknown[] = [],
  ): Promise<Record<string, unknown>[]> {
    // Raw SQL sees the database: write what memory holds first.
    await this.flush();
    try {
      return await this.#database.executeSql(text, params);
    } finally {
      // It may have changed any row, of any table, even one not looked at
      // yet: from now on, ask the database.
      this.#existingRows = true;
      for (const state of this.#states.values()) {
        state.unknownRows = true;
        state.flushedKeys.clear();
        state.flushedValues.clear();
      }
    }
  }

  /** {@inheritDoc RecordStore.tableName} */
  tableName(table: RecordTable): string {
    const { schema, name } = this.#target(table);
    return `"${schema}"."${name}"`;
  }

  /**
   * Writes every new or changed row held in memory to the database (and
   * deletes rows deleted since the last flush), then empties memory.
   */
  async flush(): Promise<void> {
    // (its failure, if any, is the one #written rethrows)
    this.#startFlush().catch(() => {});
    await this.#written();
  }

  /**
   * Starts a flush when more than `flushEvery` rows are held, without
   * waiting for its writes (see {@linkcode ReplayRecordStore.flush}). A
   * replay calls it between aggregates, where no row just written is about
   * to be needed again: a row needed after its flush waits for the flush's
   * writes and is read back. Writes alone flush only past twice
   * `flushEvery` rows.
   *
   * @returns {@linkcode DONE} at once, or, when the previous flush is still
   *   writing, a promise of its end: memory holds at most two flushes' rows.
   */
  flushIfFull(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    return this.#held > this.#flushEvery ? this.#startFlush() : DONE;
  }

  /**
   * Waits for the writes of the flushes started so far, without starting
   * one: the rows still held stay in memory, to be written by a later
   * flush.
   *
   * @throws whatever a flush's writes threw.
   */
  written(): Promise<void> {
    return this.#written();
  }

  /** Waits for the flushes started so far; rethrows their failure. */
  async #written(): Promise<void> {
    await this.#writing;
    if (this.#failure) throw this.#failure.error;
  }

  /**
   * Empties memory into a flush whose writes run in the background, while
   * the replay goes on: the store already counts the rows as stored, and
   * whatever reads the database waits for the writes first. Resolves at
   * once, unless the previous flush is still writing (so memory holds at
   * most two flushes' rows): then when that one is done.
   */
  #startFlush(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    const wait = this.#busy ? this.#written() : DONE;
    const writes = [...this.#states.values()].map((state) =>
      this.#takeRows(state)
    );
    if (writes.every((w) => w.fresh.length === 0 && w.removed.length === 0)) {
      return wait;
    }
    this.#busy = true;
    this.#flushes++;
    const writing: Promise<void> = this.#writing.then(async () => {
      try {
        if (this.#failure) return;
        for (const w of writes) await this.#write(w);
      } catch (error) {
        this.#failure ??= { error: mapRecordError(error) };
      } finally {
        if (this.#writing === writing) this.#busy = false;
      }
    });
    this.#writing = writing;
    return wait;
  }

  /** What a table's flush writes; memory is emptied and told of it. */
  #takeRows(state: TableState): TableWrite {
    const { table } = state;
    const removed = [...state.deleted.values()];
    const fresh: Row[] = [];
    const { stored, dirty, flushedKeys } = state;
    if (stored.size === 0) {
      // (no row was read back: every one is new, and no key need be hashed)
      state.rows.forEach((row) => fresh.push(row));
    } else {
      state.rows.forEach((row, key) => {
        if (!stored.has(key)) fresh.push(row);
        else if (dirty.has(key)) {
          removed.push(pkWhere(table, row));
          fresh.push(row);
        }
      });
    }
    if (!state.unknownRows) {
      for (const key of state.deleted.keys()) flushedKeys.delete(key);
      flushedKeys.addRun(state.rows.splitKeys((key) => flushedKeys.add(key)));
    }
    for (const [column, values] of state.flushedValues) {
      const kind = (table.columns[column] as AnyColumn).kind;
      for (const row of state.rows.values()) {
        values.add(this.#valueKey(state, column, kind, row[column]));
      }
    }
    this.#held -= state.rows.size;
    state.rows = new HeldRows();
    state.indexes = new Map();
    state.stored.clear();
    state.dirty.clear();
    state.deleted.clear();
    state.loaded.clear();
    state.checkedKey = undefined;
    return { state, removed, fresh };
  }

  /** One table's part of a flush, in the database. */
  async #write({ state, removed, fresh }: TableWrite): Promise<void> {
    const { table } = state;
    if (removed.length > 0) await this.#deleteRows(state, removed);
    if (fresh.length === 0) return;
    const columns = table.columnNames;
    const cols = columns.map((c) => table.columns[c] as AnyColumn);
    const width = columns.length;
    const names = columns.map((c) => table.sqlName(c));
    // In pieces, each copied once the one before has ended: the replay's
    // next read, issued meanwhile, goes between two pieces, so the server
    // works through the flush while the replay handles what it read.
    for (let from = 0; from < fresh.length; from += COPY_PIECE_ROWS) {
      const piece = fresh.slice(from, from + COPY_PIECE_ROWS);
      await this.#executor.copyIn(
        `${state.target.schema}.${state.target.name}`,
        names,
        (function* () {
          for (const row of piece) {
            const values: SqlValue[] = new Array(width);
            for (let i = 0; i < width; i++) {
              values[i] = encodeHeldValue(
                cols[i] as AnyColumn,
                row[columns[i] as string],
              );
            }
            yield values;
          }
        })(),
      );
    }
    this.#flushedRows += fresh.length;
  }

  async #deleteRows(state: TableState, keys: readonly Row[]): Promise<void> {
    const { table } = state;
    const columns = table.primaryKey;
    const definition = columns.map((c) =>
      `"${table.sqlName(c)}" ${sqlTypeOf(table.columns[c] as AnyColumn)}`
    ).join(", ");
    const match = columns.map((c) =>
      `t."${table.sqlName(c)}" = k."${table.sqlName(c)}"`
    ).join(" AND ");
    const json = JSON.stringify(
      keys.map((key) => {
        const out: Record<string, SqlValue> = {};
        for (const c of columns) {
          out[table.sqlName(c)] = encodeHeldValue(
            table.columns[c] as AnyColumn,
            key[c],
          );
        }
        return out;
      }),
      (_k, v) => typeof v === "bigint" ? String(v) : v,
    );
    await this.#executor.query(
      `DELETE FROM ${state.qualified} t USING jsonb_to_recordset($1::text::jsonb) AS k(${definition}) WHERE ${match}`,
      [json],
    );
  }
}

/**
 * Whether `orderBy` names a text or JSON column, which only the database
 * can order as inline projection does (text by the column's collation,
 * JSON as `jsonb` does, its strings by the database's collation); memory
 * orders the other kinds as PostgreSQL does.
 * False when it names an unknown column, which `orderAndLimit` refuses.
 */
function ordersInDatabase(
  table: RecordTable,
  orderBy: NonNullable<FindOptions["orderBy"]>,
): boolean {
  let collated = false;
  for (const [column] of orderBy) {
    if (!Object.hasOwn(table.columns, column)) return false;
    const kind = (table.columns[column] as AnyColumn).kind;
    if (kind === "text" || kind === "json") collated = true;
  }
  return collated;
}

/**
 * A column value as JSON that `jsonb_populate_record` reads back as the
 * value: JSON as itself, the rest as their text where JSON has no exact
 * form (bigints, decimals, dates, instants, infinite floats).
 */
function orderValue(column: AnyColumn, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (column.kind) {
    case "json":
      return value;
    case "bigint":
    case "decimal":
    case "date":
      return String(value);
    case "dateTime":
      return (value as Date).toISOString();
    case "float":
      return Number.isFinite(value) ? value : String(value);
    default:
      return value;
  }
}

/**
 * Whether the database row with this key was deleted since the last flush
 * (an empty map is not asked: asking hashes the key).
 */
function isDeleted(state: TableState, key: string): boolean {
  return state.deleted.size > 0 && state.deleted.has(key);
}

/** The value of `where` when it names only `column`, with a string. */
function onlyString(where: Row, column: string): string | undefined {
  let found: string | undefined;
  for (const key in where) {
    const value = where[key];
    if (value === undefined) continue;
    if (key !== column || typeof value !== "string") return undefined;
    found = value;
  }
  return found;
}

function matches(
  state: TableState,
  row: Row,
  conditions: readonly Condition[],
  key: string,
): boolean {
  for (const c of conditions) {
    if (c.column === state.plainKey) {
      if (c.keys.length === 1 ? c.keys[0] !== key : !c.keys.includes(key)) {
        return false;
      }
      continue;
    }
    const k = valueKey(c.kind, row[c.column]);
    if (c.keys.length === 1 ? c.keys[0] !== k : !c.keys.includes(k)) {
      return false;
    }
  }
  return true;
}

function pkWhere(table: RecordTable, row: Row): Row {
  const key: Row = {};
  for (const column of table.primaryKey) key[column] = row[column];
  return key;
}
