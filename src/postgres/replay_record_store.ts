/**
 * The replay-optimised persistor: what projectors write to while a
 * migration replays events into new tables. Rows live in memory, with hash
 * indexes on the columns looked up, and go to the database in bulk with
 * `COPY` whenever more than `flushEvery` rows are held, so memory stays
 * bounded however many events are replayed. Projectors written against the
 * record helpers run on it unchanged: a row that was flushed is read back
 * when a later event needs it, and rewritten at the next flush.
 *
 * @module
 */
import { DuplicateRecordError } from "../core/errors.ts";
import type { FindOptions, RecordStore } from "../core/record_store.ts";
import type {
  Column,
  NewRowOf,
  RecordTable,
  RowOf,
  WhereOf,
} from "../core/record_table.ts";
import {
  InMemoryRecordStore,
  valueKey,
} from "../memory/in_memory_record_store.ts";
import type { SqlExecutor, SqlValue } from "./sql_client.ts";
import { encodeValue, SqlRecordStore } from "./sql_record_store.ts";

type AnyColumn = Column<unknown, boolean, boolean>;
type Row = Record<string, unknown>;

/** Where a table's rows are written: its schema and physical name. */
export interface ReplayTarget {
  /** The schema. */
  readonly schema: string;
  /** The physical table name (with a version suffix, say). */
  readonly name: string;
}

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

interface TableState {
  /** Primary keys of rows in memory that were read back from the database. */
  readonly stored: Set<string>;
  /** Of those, the ones changed since. */
  readonly dirty: Set<string>;
  /** Primary keys (as rows) of database rows deleted since the last flush. */
  readonly deleted: Map<string, Row>;
  /** Primary keys of every row flushed so far. */
  readonly flushedKeys: Set<string>;
  /** For columns looked up by: the values every flushed row had. */
  readonly flushedValues: Map<string, Set<string>>;
  /** Columns seen in lookups (their values are kept at each flush). */
  readonly lookedUp: Set<string>;
  /** Whether the table may hold rows this store did not flush. */
  readonly unknownRows: boolean;
}

/**
 * A {@linkcode RecordStore} for replays (see the module documentation).
 * Call {@linkcode ReplayRecordStore.flush} when the replay ends.
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 * import { connectDatabase, ReplayRecordStore } from "@sequent/core/postgres";
 *
 * const posts = table("posts", { id: column.uuid().primaryKey(), title: column.text() });
 * const client = await connectDatabase("memory://");
 * await client.execute(`create schema v; ${posts.createTableSql("v")}`);
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
  readonly #memory = new InMemoryRecordStore();
  readonly #database: SqlRecordStore;
  readonly #states = new Map<RecordTable, TableState>();
  readonly #flushEvery: number;
  readonly #existingRows: boolean;
  #flushedRows = 0;
  #peakRows = 0;

  /**
   * Creates a replay persistor.
   *
   * @param executor Where flushed rows go (the migration's transaction).
   * @param target The physical table each record table is written to.
   * @param options `flushEvery`.
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

  #state(table: RecordTable): TableState {
    let state = this.#states.get(table);
    if (!state) {
      state = {
        stored: new Set(),
        dirty: new Set(),
        deleted: new Map(),
        flushedKeys: new Set(),
        flushedValues: new Map(),
        lookedUp: new Set(table.primaryKey),
        unknownRows: this.#existingRows,
      };
      this.#states.set(table, state);
    }
    return state;
  }

  #key(table: RecordTable, row: Row): string {
    let key = "";
    for (const column of table.primaryKey) {
      key += valueKey((table.columns[column] as AnyColumn).kind, row[column]) +
        "\u0001";
    }
    return key;
  }

  /**
   * Reads back into memory the flushed rows that may match `where` and are
   * not in memory yet.
   */
  async #load(table: RecordTable, where: Row): Promise<void> {
    const state = this.#state(table);
    const entries = Object.entries(where).filter(([, v]) => v !== undefined);
    for (const [column] of entries) state.lookedUp.add(column);
    if (!state.unknownRows && state.flushedKeys.size === 0) return;
    for (const [column, value] of state.unknownRows ? [] : entries) {
      const seen = state.flushedValues.get(column);
      if (!seen) continue;
      const kind = (table.columns[column] as AnyColumn | undefined)?.kind;
      if (!kind) continue;
      const values = Array.isArray(value) && kind !== "json" ? value : [value];
      if (!values.some((v) => seen.has(valueKey(kind, v)))) return; // none flushed
    }
    const rows = await this.#database.find(
      table,
      where as WhereOf<RecordTable>,
    );
    for (const row of rows as Row[]) {
      const key = this.#key(table, row);
      if (state.stored.has(key) || state.deleted.has(key)) continue;
      if ((await this.#memory.find(table, pkWhere(table, row))).length > 0) {
        continue;
      }
      await this.#memory.insert(table, [row as NewRowOf<RecordTable>]);
      state.stored.add(key);
    }
  }

  async #maybeFlush(): Promise<void> {
    const held = this.#memory.count();
    if (held > this.#peakRows) this.#peakRows = held;
    if (held > this.#flushEvery) await this.flush();
  }

  /** {@inheritDoc RecordStore.insert} */
  async insert<T extends RecordTable>(
    table: T,
    rows: readonly NewRowOf<T>[],
  ): Promise<void> {
    const state = this.#state(table);
    for (const values of rows) {
      const row = table.completeRow(values as Row);
      const key = this.#key(table, row);
      if (state.flushedKeys.has(key) && !state.deleted.has(key)) {
        throw new DuplicateRecordError(table.name, pkWhere(table, row));
      }
      if (state.unknownRows) await this.#load(table, pkWhere(table, row));
    }
    await this.#memory.insert(table, rows);
    await this.#maybeFlush();
  }

  /** {@inheritDoc RecordStore.find} */
  async find<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    options?: FindOptions,
  ): Promise<RowOf<T>[]> {
    await this.#load(table, where as Row);
    return this.#memory.find(table, where, options);
  }

  async #touch(table: RecordTable, where: Row): Promise<Row[]> {
    await this.#load(table, where);
    return await this.#memory.find(
      table,
      where as WhereOf<RecordTable>,
    ) as Row[];
  }

  /** {@inheritDoc RecordStore.update} */
  async update<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: Partial<RowOf<T>>,
  ): Promise<void> {
    const state = this.#state(table);
    const rows = await this.#touch(table, where as Row);
    const keyChanges = table.primaryKey.some((c) =>
      (changes as Row)[c] !== undefined
    );
    for (const row of rows) {
      const key = this.#key(table, row);
      if (!state.stored.has(key)) continue;
      if (keyChanges) {
        // the stored row goes; the changed one is new
        state.stored.delete(key);
        state.dirty.delete(key);
        state.deleted.set(key, pkWhere(table, row));
      } else {
        state.dirty.add(key);
      }
    }
    await this.#memory.update(table, where, changes);
  }

  /** {@inheritDoc RecordStore.upsert} */
  async upsert<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    values: Partial<RowOf<T>>,
  ): Promise<void> {
    const rows = await this.#touch(table, where as Row);
    if (rows.length > 0) return this.update(table, where, values);
    await this.#memory.upsert(table, where, values);
    await this.#maybeFlush();
  }

  /** {@inheritDoc RecordStore.delete} */
  async delete<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
  ): Promise<void> {
    const state = this.#state(table);
    for (const row of await this.#touch(table, where as Row)) {
      const key = this.#key(table, row);
      if (state.stored.has(key)) {
        state.stored.delete(key);
        state.dirty.delete(key);
        state.deleted.set(key, pkWhere(table, row));
      }
    }
    await this.#memory.delete(table, where);
  }

  /** {@inheritDoc RecordStore.executeSql} */
  async executeSql(
    text: string,
    params: readonly unknown[] = [],
  ): Promise<Record<string, unknown>[]> {
    // Raw SQL sees the database: write what memory holds first.
    await this.flush();
    return this.#database.executeSql(text, params);
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
    for (
      const table of new Set([...this.#memory.tables(), ...this.#states.keys()])
    ) {
      const state = this.#state(table);
      const rows = this.#memory.rows(table) as Row[];
      const rewrite = rows.filter((row) =>
        state.dirty.has(this.#key(table, row))
      );
      const removed = [
        ...state.deleted.values(),
        ...rewrite.map((r) => pkWhere(table, r)),
      ];
      if (removed.length > 0) await this.#deleteRows(table, removed);
      const fresh = rows.filter((row) => {
        const key = this.#key(table, row);
        return !state.stored.has(key) || state.dirty.has(key);
      });
      if (fresh.length > 0) {
        const { schema, name } = this.#target(table);
        const columns = table.columnNames;
        await this.#executor.copyIn(
          `${schema}.${name}`,
          columns.map((c) => table.sqlName(c)),
          fresh.map((row) =>
            columns.map((c) =>
              encodeValue(table.columns[c] as AnyColumn, row[c])
            )
          ),
        );
        this.#flushedRows += fresh.length;
      }
      for (const row of rows) {
        state.flushedKeys.add(this.#key(table, row));
        for (const column of state.lookedUp) {
          const kind = (table.columns[column] as AnyColumn).kind;
          let values = state.flushedValues.get(column);
          if (!values) state.flushedValues.set(column, values = new Set());
          values.add(valueKey(kind, row[column]));
        }
      }
      for (const key of state.deleted.keys()) state.flushedKeys.delete(key);
      state.stored.clear();
      state.dirty.clear();
      state.deleted.clear();
      this.#memory.reset(table);
    }
  }

  async #deleteRows(table: RecordTable, keys: readonly Row[]): Promise<void> {
    const columns = table.primaryKey;
    const definition = columns.map((c) =>
      `"${table.sqlName(c)}" ${(table.columns[c] as AnyColumn).sqlType}`
    ).join(", ");
    const match = columns.map((c) =>
      `t."${table.sqlName(c)}" = k."${table.sqlName(c)}"`
    )
      .join(" AND ");
    const json = JSON.stringify(
      keys.map((key) => {
        const out: Record<string, SqlValue> = {};
        for (const c of columns) {
          out[table.sqlName(c)] = encodeValue(
            table.columns[c] as AnyColumn,
            key[c],
          );
        }
        return out;
      }),
      (_k, v) => typeof v === "bigint" ? String(v) : v,
    );
    await this.#executor.query(
      `DELETE FROM ${
        this.tableName(table)
      } t USING jsonb_to_recordset($1::text::jsonb) AS k(${definition}) WHERE ${match}`,
      [json],
    );
  }
}

function pkWhere(table: RecordTable, row: Row): Row {
  const key: Row = {};
  for (const column of table.primaryKey) key[column] = row[column];
  return key;
}
