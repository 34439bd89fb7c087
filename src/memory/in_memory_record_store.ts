/**
 * Read-model tables kept in memory: rows in maps keyed by primary key, with
 * hash indexes built on demand for the columns queried, used by the
 * in-memory event store. Values are keyed, copied and ordered by the row
 * logic in `core/record_values.ts`, which the PostgreSQL replay shares.
 *
 * @module
 */
import { DuplicateRecordError, SequentError } from "../core/errors.ts";
import type { FindOptions, RecordStore } from "../core/record_store.ts";
import type {
  Column,
  NewRowOf,
  RecordTable,
  RowOf,
  WhereOf,
} from "../core/record_table.ts";
import {
  copyValue,
  orderAndLimit,
  storedValue,
  valueKey,
} from "../core/record_values.ts";

type Row = Record<string, unknown>;
type AnyColumn = Column<unknown, boolean, boolean>;

function copyRow(row: Row): Row {
  const copy: Row = {};
  for (const key in row) copy[key] = copyValue(row[key]);
  return copy;
}

/** A row as the SQL store gives it back (see `storedValue`). */
function storedRow(table: RecordTable, row: Row): Row {
  const copy: Row = {};
  for (const key in row) {
    copy[key] = storedValue((table.columns[key] as AnyColumn).kind, row[key]);
  }
  return copy;
}

interface TableData {
  readonly table: RecordTable;
  readonly rows: Map<string, Row>;
  /** column → value key → primary keys */
  readonly indexes: Map<string, Map<string, Set<string>>>;
}

interface UndoEntry {
  readonly data: TableData;
  readonly key: string;
  readonly before: Row | undefined;
}

/** Where a write is journaled, so a transaction can be rolled back. */
type Journal = UndoEntry[] | undefined;

/**
 * An in-memory {@linkcode RecordStore}. Each call stands alone; use
 * {@linkcode InMemoryRecordStore.begin} for a transaction that can be rolled
 * back.
 *
 * @example
 * ```ts
 * import { column, InMemoryRecordStore, table } from "@sequent/core";
 *
 * const posts = table("posts", { id: column.uuid().primaryKey(), title: column.text() });
 * const store = new InMemoryRecordStore();
 * const id = crypto.randomUUID();
 * await store.insert(posts, [{ id, title: "Hello" }]);
 * const [row] = await store.find(posts, { id });
 * console.assert(row?.title === "Hello");
 * ```
 */
export class InMemoryRecordStore implements RecordStore {
  readonly #tables = new Map<RecordTable, TableData>();

  /**
   * Forgets every row, or those of one table.
   *
   * @param table Only this table.
   */
  reset(table?: RecordTable): void {
    if (table) this.#tables.delete(table);
    else this.#tables.clear();
  }

  /** The tables holding rows. */
  tables(): RecordTable[] {
    return [...this.#tables.keys()];
  }

  /**
   * How many rows a table holds (all tables when none is given).
   *
   * @param table The table.
   */
  count(table?: RecordTable): number {
    if (table) return this.#tables.get(table)?.rows.size ?? 0;
    let n = 0;
    for (const data of this.#tables.values()) n += data.rows.size;
    return n;
  }

  /**
   * Starts a transaction: its writes are applied at once but can be rolled
   * back. (Concurrent transactions see each other's writes.)
   */
  begin(): InMemoryRecordTransaction {
    return new InMemoryRecordTransaction(this);
  }

  /** @internal The data of a table. */
  data(table: RecordTable): TableData {
    let data = this.#tables.get(table);
    if (!data) {
      data = { table, rows: new Map(), indexes: new Map() };
      this.#tables.set(table, data);
    }
    return data;
  }

  /** {@inheritDoc RecordStore.insert} */
  insert<T extends RecordTable>(
    table: T,
    rows: readonly NewRowOf<T>[],
  ): Promise<void> {
    return attempt(() =>
      insertRows(this.data(table), rows as readonly Row[], undefined)
    );
  }

  /** {@inheritDoc RecordStore.find} */
  find<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    options?: FindOptions,
  ): Promise<RowOf<T>[]> {
    try {
      const rows = findRows(this.data(table), where as Row, options);
      return Promise.resolve(rows.map(copyRow) as RowOf<T>[]);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@inheritDoc RecordStore.update} */
  update<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: Partial<RowOf<T>>,
  ): Promise<void> {
    return attempt(() =>
      updateRows(this.data(table), where as Row, changes as Row, undefined)
    );
  }

  /** {@inheritDoc RecordStore.upsert} */
  upsert<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    values: Partial<RowOf<T>>,
  ): Promise<void> {
    return attempt(() =>
      upsertRow(this.data(table), where as Row, values as Row, undefined)
    );
  }

  /** {@inheritDoc RecordStore.delete} */
  delete<T extends RecordTable>(table: T, where: WhereOf<T>): Promise<void> {
    return attempt(() => deleteRows(this.data(table), where as Row, undefined));
  }

  /** {@inheritDoc RecordStore.executeSql} */
  executeSql(): Promise<Record<string, unknown>[]> {
    return Promise.reject(noSql());
  }

  /** {@inheritDoc RecordStore.tableName} */
  tableName(table: RecordTable): string {
    return table.name;
  }

  /** Every row of a table (for tests and the replay persistor). */
  rows<T extends RecordTable>(table: T): RowOf<T>[] {
    return [...this.data(table).rows.values()].map(copyRow) as RowOf<T>[];
  }
}

/**
 * A transaction on an {@linkcode InMemoryRecordStore}.
 */
export class InMemoryRecordTransaction implements RecordStore {
  readonly #store: InMemoryRecordStore;
  #journal: Journal = [];

  /**
   * Starts a transaction; use {@linkcode InMemoryRecordStore.begin}.
   *
   * @param store The store.
   */
  constructor(store: InMemoryRecordStore) {
    this.#store = store;
  }

  #open(): UndoEntry[] {
    if (!this.#journal) {
      throw new SequentError("The record transaction has ended");
    }
    return this.#journal;
  }

  /** Keeps the writes. */
  commit(): void {
    this.#journal = undefined;
  }

  /** Undoes every write, newest first. */
  rollback(): void {
    const journal = this.#journal;
    this.#journal = undefined;
    if (journal) undo(journal, 0);
  }

  /** {@inheritDoc RecordStore.insert} */
  insert<T extends RecordTable>(
    table: T,
    rows: readonly NewRowOf<T>[],
  ): Promise<void> {
    return attempt(() =>
      insertRows(this.#store.data(table), rows as readonly Row[], this.#open())
    );
  }

  /** {@inheritDoc RecordStore.find} */
  find<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    options?: FindOptions,
  ): Promise<RowOf<T>[]> {
    this.#open();
    return this.#store.find(table, where, options);
  }

  /** {@inheritDoc RecordStore.update} */
  update<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    changes: Partial<RowOf<T>>,
  ): Promise<void> {
    return attempt(() =>
      updateRows(
        this.#store.data(table),
        where as Row,
        changes as Row,
        this.#open(),
      )
    );
  }

  /** {@inheritDoc RecordStore.upsert} */
  upsert<T extends RecordTable>(
    table: T,
    where: WhereOf<T>,
    values: Partial<RowOf<T>>,
  ): Promise<void> {
    return attempt(() =>
      upsertRow(
        this.#store.data(table),
        where as Row,
        values as Row,
        this.#open(),
      )
    );
  }

  /** {@inheritDoc RecordStore.delete} */
  delete<T extends RecordTable>(table: T, where: WhereOf<T>): Promise<void> {
    return attempt(() =>
      deleteRows(this.#store.data(table), where as Row, this.#open())
    );
  }

  /** {@inheritDoc RecordStore.executeSql} */
  executeSql(): Promise<Record<string, unknown>[]> {
    return Promise.reject(noSql());
  }

  /** {@inheritDoc RecordStore.tableName} */
  tableName(table: RecordTable): string {
    return table.name;
  }
}

/** Undoes the journal's entries from `start` on, newest first. */
function undo(journal: UndoEntry[], start: number): void {
  for (let i = journal.length - 1; i >= start; i--) {
    const { data, key, before } = journal[i] as UndoEntry;
    const current = data.rows.get(key);
    if (current) removeRow(data, key, current, undefined);
    if (before) putRow(data, key, before, undefined);
  }
  journal.length = start;
}

/**
 * Runs a write so that it happens entirely or not at all: what it changed
 * before failing is undone (and its journal entries dropped).
 */
function atomically<T>(
  journal: Journal,
  write: (journal: UndoEntry[]) => T,
): T {
  const entries = journal ?? [];
  const start = entries.length;
  try {
    return write(entries);
  } catch (error) {
    undo(entries, start);
    throw error;
  }
}

/** Runs a synchronous operation, turning a throw into a rejection. */
function attempt(operation: () => unknown): Promise<void> {
  try {
    operation();
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

function noSql(): SequentError {
  return new SequentError(
    "executeSql() needs a PostgreSQL database; the in-memory store has no SQL (set DATABASE_URL)",
  );
}

function primaryKey(data: TableData, row: Row): string {
  const { table } = data;
  let key = "";
  for (const column of table.primaryKey) {
    key += valueKey((table.columns[column] as AnyColumn).kind, row[column]) +
      "\u0001";
  }
  return key;
}

function index(data: TableData, column: string): Map<string, Set<string>> {
  let idx = data.indexes.get(column);
  if (!idx) {
    idx = new Map();
    const kind = (data.table.columns[column] as AnyColumn).kind;
    for (const [key, row] of data.rows) {
      const vk = valueKey(kind, row[column]);
      let set = idx.get(vk);
      if (!set) idx.set(vk, set = new Set());
      set.add(key);
    }
    data.indexes.set(column, idx);
  }
  return idx;
}

function putRow(
  data: TableData,
  key: string,
  row: Row,
  journal: Journal,
): void {
  journal?.push({ data, key, before: data.rows.get(key) });
  data.rows.set(key, row);
  for (const [column, idx] of data.indexes) {
    const vk = valueKey(
      (data.table.columns[column] as AnyColumn).kind,
      row[column],
    );
    let set = idx.get(vk);
    if (!set) idx.set(vk, set = new Set());
    set.add(key);
  }
}

function removeRow(
  data: TableData,
  key: string,
  row: Row,
  journal: Journal,
): void {
  journal?.push({ data, key, before: row });
  data.rows.delete(key);
  for (const [column, idx] of data.indexes) {
    const vk = valueKey(
      (data.table.columns[column] as AnyColumn).kind,
      row[column],
    );
    const set = idx.get(vk);
    set?.delete(key);
    if (set?.size === 0) idx.delete(vk);
  }
}

function checkUnique(data: TableData, row: Row, key: string): void {
  for (const { columns, unique } of data.table.indexes) {
    if (!unique) continue;
    if (columns.some((c) => row[c] === null)) continue;
    const clash = findRows(
      data,
      Object.fromEntries(columns.map((c) => [c, row[c]])),
      undefined,
    )
      .some((other) => primaryKey(data, other) !== key);
    if (clash) {
      throw new DuplicateRecordError(
        data.table.name,
        Object.fromEntries(columns.map((c) => [c, row[c]])),
      );
    }
  }
}

function insertRows(
  data: TableData,
  rows: readonly Row[],
  journal: Journal,
): void {
  const prepared = rows.map((values) => data.table.completeRow(values));
  atomically(journal, (entries) => {
    for (const row of prepared) {
      const key = primaryKey(data, row);
      if (data.rows.has(key)) {
        throw new DuplicateRecordError(
          data.table.name,
          Object.fromEntries(data.table.primaryKey.map((c) => [c, row[c]])),
        );
      }
      // checked after the put, so rows of the same insert clash too
      putRow(data, key, storedRow(data.table, row), entries);
      checkUnique(data, row, key);
    }
  });
}

function checkWhere(
  data: TableData,
  where: Row,
): [string, AnyColumn, unknown][] {
  return Object.entries(where).filter(([, v]) => v !== undefined).map(
    ([column, value]) => {
      // (own columns only: "toString" or "constructor" name no column)
      const col = Object.hasOwn(data.table.columns, column)
        ? data.table.columns[column] as AnyColumn
        : undefined;
      if (!col) {
        throw new TypeError(
          `Table ${data.table.name} has no column "${column}"`,
        );
      }
      const values = Array.isArray(value) && col.kind !== "json"
        ? value
        : [value];
      for (const v of values) {
        if (v !== null && !col.accepts(v)) data.table.checkValue(column, v);
      }
      return [column, col, value];
    },
  );
}

function findRows(
  data: TableData,
  where: Row,
  options: FindOptions | undefined,
): Row[] {
  const conditions = checkWhere(data, where);
  const matchers = conditions.map(([column, col, value]) => {
    const keys = new Set(
      (Array.isArray(value) && col.kind !== "json" ? value : [value]).map((v) =>
        valueKey(col.kind, v)
      ),
    );
    return { column, col, keys };
  });
  let candidates: Iterable<Row>;
  const pk = data.table.primaryKey;
  const byKey = pk.every((c) =>
    matchers.some((m) => m.column === c && m.keys.size === 1)
  );
  if (byKey && matchers.length > 0) {
    const key = pk.map((c) =>
      [...(matchers.find((m) => m.column === c)?.keys ?? [])][0] + "\u0001"
    )
      .join("");
    const row = data.rows.get(key);
    candidates = row ? [row] : [];
  } else if (matchers.length > 0) {
    const first = matchers[0] as (typeof matchers)[number];
    const idx = index(data, first.column);
    const hits: Row[] = [];
    for (const vk of first.keys) {
      for (const key of idx.get(vk) ?? []) hits.push(data.rows.get(key) as Row);
    }
    candidates = hits;
  } else {
    candidates = data.rows.values();
  }
  const result = [...candidates].filter((row) =>
    matchers.every((m) => m.keys.has(valueKey(m.col.kind, row[m.column])))
  );
  return orderAndLimit(data.table, result, options);
}

function checkChanges(data: TableData, changes: Row): void {
  for (const [column, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    data.table.checkValue(column, value);
  }
}

function updateRows(
  data: TableData,
  where: Row,
  changes: Row,
  journal: Journal,
): number {
  checkChanges(data, changes);
  const rows = findRows(data, where, undefined);
  const updated = rows.map((row) => {
    const next = { ...row };
    for (const [column, value] of Object.entries(changes)) {
      if (value !== undefined) {
        next[column] = storedValue(
          (data.table.columns[column] as AnyColumn).kind,
          value,
        );
      }
    }
    return {
      before: row,
      next,
      oldKey: primaryKey(data, row),
      newKey: primaryKey(data, next),
    };
  });
  atomically(journal, (entries) => {
    for (const { before, oldKey } of updated) {
      removeRow(data, oldKey, before, entries);
    }
    for (const { next, newKey } of updated) {
      if (data.rows.has(newKey)) {
        throw new DuplicateRecordError(
          data.table.name,
          Object.fromEntries(data.table.primaryKey.map((c) => [c, next[c]])),
        );
      }
      putRow(data, newKey, next, entries);
    }
    // checked once every row is in place, so rows may swap unique values
    for (const { next, newKey } of updated) checkUnique(data, next, newKey);
  });
  return updated.length;
}

function upsertRow(
  data: TableData,
  where: Row,
  values: Row,
  journal: Journal,
): void {
  // refused whether or not a row matches, as the SQL store does
  for (const [column, value] of Object.entries(where)) {
    if (
      Array.isArray(value) &&
      (data.table.columns[column] as AnyColumn | undefined)?.kind !== "json"
    ) {
      throw new TypeError(
        `createOrUpdateRecord(): cannot create a row of ${data.table.name} from a list of ${column} values`,
      );
    }
  }
  if (findRows(data, where, { limit: 1 }).length > 0) {
    updateRows(data, where, values, journal);
    return;
  }
  // a value left undefined changes nothing: the condition's value stays
  const row: Row = { ...where };
  for (const [column, value] of Object.entries(values)) {
    if (value !== undefined) row[column] = value;
  }
  insertRows(data, [row], journal);
}

function deleteRows(data: TableData, where: Row, journal: Journal): number {
  const rows = findRows(data, where, undefined);
  for (const row of rows) removeRow(data, primaryKey(data, row), row, journal);
  return rows.length;
}
