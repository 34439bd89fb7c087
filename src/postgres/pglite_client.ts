/**
 * The {@linkcode SqlClient} adapter over PGlite (`npm:@electric-sql/pglite`),
 * PostgreSQL compiled to WebAssembly and run inside this process: in memory
 * or in a data folder. Nothing of PGlite leaves this file.
 *
 * PGlite has a single connection. Statements and transactions are served
 * one at a time: while a transaction runs, every other caller waits for it
 * to end, so nobody's statements land inside somebody else's transaction.
 * A consequence: inside {@linkcode SqlClient.transaction}, use the
 * transaction's methods; a call on the client itself would wait for the
 * transaction that is waiting for it.
 *
 * @module
 */
import { checkParameterCount } from "./_wire/requests.ts";
import { encodeParameter, parseTimestamp } from "./_wire/values.ts";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type {
  SqlClient,
  SqlCopyRows,
  SqlOptions,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
import { SqlError } from "./sql_error.ts";
import { copyChunks, copyStatement } from "./_sql_text.ts";
import {
  forgetFreshClusterFiles,
  freshClusterFiles,
  keepFreshClusterFiles,
} from "./_fresh_cluster.ts";

/** What the adapter needs of PGlite's connection and transaction objects. */
interface Queryable {
  query<T>(
    query: string,
    params?: unknown[],
    options?: { blob?: Blob },
  ): Promise<{ rows: T[]; blob?: Blob | undefined }>;
  exec(query: string): Promise<unknown>;
}

interface DriverError {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly detail?: unknown;
  readonly hint?: unknown;
  readonly constraint?: unknown;
  readonly table?: unknown;
  readonly schema?: unknown;
  readonly severity?: unknown;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The names in a folder (none when it does not exist). */
async function entries(dir: string | undefined): Promise<Set<string>> {
  const names = new Set<string>();
  if (dir === undefined || !await exists(dir)) return names;
  for await (const entry of Deno.readDir(dir)) names.add(entry.name);
  return names;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function toSqlError(error: unknown, where: string): unknown {
  if (error instanceof SqlError || typeof error !== "object" || !error) {
    return error;
  }
  const e = error as DriverError;
  const code = text(e.code);
  const message = text(e.message) ?? String(error);
  if (
    code !== undefined && /^[0-9A-Z]{5}$/.test(code) &&
    typeof e.severity === "string"
  ) {
    return new SqlError(message, {
      code,
      detail: text(e.detail),
      hint: text(e.hint),
      constraint: text(e.constraint),
      table: text(e.table),
      schema: text(e.schema),
    }, { cause: error });
  }
  if (/^PGlite is clos(ed|ing)/.test(message)) {
    return new SqlError(`The client for ${where} is closed`, {
      code: "08003",
    }, { cause: error });
  }
  return error;
}

/**
 * The parameters, dates written as the server's client writes them:
 * PGlite's own writing (`toISOString`) gave text PostgreSQL refuses for
 * years outside 1 to 9999 and for the infinite dates the reads return.
 */
function withDatesAsText(params: readonly SqlValue[] | undefined): unknown[] {
  if (params === undefined) return [];
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const value = params[i];
    if (value instanceof Date) {
      out ??= [...params];
      out[i] = encodeParameter(value);
    }
  }
  return out ?? (params as unknown[]);
}

async function run(
  db: Queryable,
  statement: SqlStatement,
  where: string,
): Promise<SqlRow[]> {
  try {
    // as the server's client does: PGlite's own Bind wraps the count
    checkParameterCount(statement.text, statement.params?.length ?? 0);
    const result = await db.query<SqlRow>(
      statement.text,
      withDatesAsText(statement.params),
    );
    return result.rows;
  } catch (error) {
    throw toSqlError(error, where);
  }
}

/** Runs statements in order; rejects with the first failure at the end. */
async function runAll(
  db: Queryable,
  statements: readonly SqlStatement[],
  where: string,
): Promise<SqlRow[][]> {
  const results: SqlRow[][] = [];
  let failure: { error: unknown } | undefined;
  for (const statement of statements) {
    try {
      results.push(await run(db, statement, where));
    } catch (error) {
      failure ??= { error };
      results.push([]);
    }
  }
  if (failure) throw failure.error;
  return results;
}

async function execute(db: Queryable, script: string, where: string) {
  try {
    await db.exec(script);
  } catch (error) {
    throw toSqlError(error, where);
  }
}

async function copyInto(
  db: Queryable,
  table: string,
  columns: readonly string[],
  rows: SqlCopyRows,
  where: string,
): Promise<number> {
  const counter = { rows: 0 };
  const parts: string[] = [];
  for await (const chunk of copyChunks(rows, columns.length, counter)) {
    parts.push(chunk);
  }
  if (counter.rows === 0) return 0;
  try {
    await db.query(copyStatement(table, columns, "'/dev/blob'"), [], {
      blob: new Blob(parts),
    });
  } catch (error) {
    throw toSqlError(error, where);
  }
  return counter.rows;
}

/**
 * `COPY (query) TO STDOUT` on PGlite, which copies to a blob: the whole
 * output is made at once, then handed over in chunks.
 */
async function copyOutOf(
  db: Queryable,
  query: string,
  onData: (chunk: Uint8Array) => void,
  where: string,
): Promise<number> {
  let blob: Blob | undefined;
  try {
    blob = (await db.query(`COPY (${query}) TO '/dev/blob'`)).blob;
  } catch (error) {
    throw toSqlError(error, where);
  }
  if (!blob) return 0;
  const bytes = new Uint8Array(await blob.arrayBuffer());
  for (let at = 0; at < bytes.length; at += COPY_CHUNK) {
    onData(bytes.subarray(at, Math.min(at + COPY_CHUNK, bytes.length)));
  }
  // every newline byte ends a row: one inside a value is escaped
  let rows = 0;
  for (
    let at = bytes.indexOf(NEWLINE);
    at >= 0;
    at = bytes.indexOf(NEWLINE, at + 1)
  ) {
    rows++;
  }
  return rows;
}

/** The byte that ends each row of a copy's text. */
const NEWLINE = 0x0a;

/** The size of the chunks a PGlite copy is handed over in. */
const COPY_CHUNK = 65536;

interface Queued {
  readonly statement: SqlStatement;
  readonly onRows?: ((rows: SqlRow[]) => void) | undefined;
}

class PgliteTransaction implements SqlTransaction {
  readonly #tx: Queryable;
  readonly #where: string;
  readonly #signal: AbortSignal | undefined;
  readonly #queued: Queued[] = [];
  #savepoints = 0;
  /** The first statement that failed: the transaction is aborted. */
  #failure: { readonly error: unknown } | undefined;

  constructor(tx: Queryable, where: string, signal: AbortSignal | undefined) {
    this.#tx = tx;
    this.#where = where;
    this.#signal = signal;
  }

  /** Statements started and not yet settled. */
  readonly #running = new Set<Promise<unknown>>();

  /**
   * Resolves once every statement started has settled: a work that gave
   * up without waiting for its statements must not see them run after
   * the ROLLBACK.
   */
  async settled(): Promise<void> {
    while (this.#running.size > 0) {
      await Promise.allSettled([...this.#running]);
    }
  }

  /** Notes an operation as running until it settles. */
  #track<T>(operation: Promise<T>): Promise<T> {
    this.#running.add(operation);
    const done = () => this.#running.delete(operation);
    operation.then(done, done);
    return operation;
  }

  async #run(statement: SqlStatement): Promise<SqlRow[]> {
    try {
      // PGlite runs in this thread: the signal is checked between statements
      this.#signal?.throwIfAborted();
      return await run(this.#tx, statement, this.#where);
    } catch (error) {
      this.#failure ??= { error };
      throw error;
    }
  }

  /** Runs the queued statements; stops at and rethrows the first failure. */
  async flush(): Promise<void> {
    for (const { statement, onRows } of this.#queued.splice(0)) {
      const rows = await this.#run(statement);
      onRows?.(rows);
    }
  }

  /** Flushes, then fails if any statement failed (the server rolls back). */
  async end(): Promise<void> {
    await this.flush();
    if (this.#failure) throw this.#failure.error;
  }

  query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
  ): Promise<Row[]> {
    return this.#track((async () => {
      await this.flush();
      return (await this.#run({ text, params })) as Row[];
    })());
  }

  batch(statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
    return this.#track((async () => {
      await this.flush();
      const results: SqlRow[][] = [];
      for (const statement of statements) {
        results.push(await this.#run(statement));
      }
      return results;
    })());
  }

  enqueue(statement: SqlStatement, onRows?: (rows: SqlRow[]) => void): void {
    this.#queued.push({ statement, onRows });
  }

  async #noting<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.#failure ??= { error };
      throw error;
    }
  }

  async execute(script: string): Promise<void> {
    await this.flush();
    await this.#noting(() => execute(this.#tx, script, this.#where));
  }

  async copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    await this.flush();
    return await this.#noting(() =>
      copyInto(this.#tx, table, columns, rows, this.#where)
    );
  }

  async copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    await this.flush();
    return await this.#noting(() =>
      copyOutOf(this.#tx, query, onData, this.#where)
    );
  }

  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const name = `sequent_savepoint_${++this.#savepoints}`;
    const savepoint: Queued = { statement: { text: `SAVEPOINT ${name}` } };
    const failureBefore = this.#failure;
    this.#queued.push(savepoint);
    let result: T;
    try {
      result = await work(this);
    } catch (error) {
      const at = this.#queued.indexOf(savepoint);
      if (at >= 0) {
        this.#queued.splice(at);
      } else {
        this.#queued.splice(0);
        if (failureBefore === undefined) this.#failure = undefined;
        await this.#run({ text: `ROLLBACK TO SAVEPOINT ${name}` });
      }
      throw error;
    }
    this.enqueue({ text: `RELEASE SAVEPOINT ${name}` });
    return result;
  }
}

/**
 * A database in memory keeps its files in memory already: PostgreSQL's own
 * buffer pool (128 MB by default) would hold second copies of its pages,
 * and setting up that pool is a third of a start's CPU (0.5 s of about
 * 1.5 s here, most of it the kernel handing over zeroed pages). A pool of
 * 16 MB starts that much faster, and reads a page missing from it with a
 * copy from memory. A database in a folder keeps the default.
 */
const IN_MEMORY: PGliteOptions = {
  startParams: [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"],
};

/** The {@linkcode SqlClient} over one PGlite instance. */
export class PgliteClient implements SqlClient {
  /** Always `"pglite"`. */
  readonly engine: "pglite" = "pglite";
  /** `embedded PostgreSQL in memory` or `… in <folder>`. */
  readonly description: string;
  readonly #db: PGlite;

  private constructor(db: PGlite, description: string) {
    this.#db = db;
    this.description = description;
  }

  /**
   * Starts PGlite (a new database: 2–6 s by initdb, about 1 s from the
   * kept files of a fresh cluster; share the client).
   *
   * @param dataDir The data folder; `undefined` keeps the database in memory.
   * @returns The client.
   */
  static async open(dataDir: string | undefined): Promise<PgliteClient> {
    const description = dataDir === undefined
      ? "embedded PostgreSQL in memory"
      : `embedded PostgreSQL in ${dataDir}`;
    const options = {
      parsers: {
        20: (value: string) => value,
        114: (value: string) => value,
        3802: (value: string) => value,
        // dates as the server's client reads them: PGlite's own parser
        // took years before 100 for 19xx and BC ones for invalid dates
        1082: parseTimestamp,
        1114: parseTimestamp,
        1184: parseTimestamp,
      },
    };
    let db: PGlite;
    try {
      if (dataDir !== undefined) {
        await mkdir(dirname(dataDir), { recursive: true });
      }
      db = await PgliteClient.#create(dataDir, options);
    } catch (error) {
      throw new SqlError(
        `Cannot start the ${description}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { code: "08001" },
        { cause: error },
      );
    }
    return new PgliteClient(db, description);
  }

  /**
   * PGlite on an existing cluster, or on a new one: from the kept files of
   * a fresh cluster when there are some (see `_fresh_cluster.ts`), else by
   * initdb, keeping a new in-memory cluster's files for the next one. A
   * copy that fails to start in a folder leaves nothing behind there: what
   * it unpacked is removed before initdb.
   */
  static async #create(
    dataDir: string | undefined,
    options: PGliteOptions,
  ): Promise<PGlite> {
    const create = (more: PGliteOptions = {}) =>
      dataDir === undefined
        ? PGlite.create({ ...options, ...IN_MEMORY, ...more })
        : PGlite.create(dataDir, { ...options, ...more });
    if (dataDir !== undefined && await exists(join(dataDir, "PG_VERSION"))) {
      return await create();
    }
    const build = import.meta.resolve("@electric-sql/pglite");
    const loadDataDir = await freshClusterFiles(build, {
      keep: dataDir === undefined,
    });
    if (loadDataDir) {
      const before = await entries(dataDir);
      try {
        return await create({ loadDataDir });
      } catch {
        await forgetFreshClusterFiles(build);
        if (dataDir !== undefined) {
          for (const name of await entries(dataDir)) {
            if (!before.has(name)) {
              await Deno.remove(join(dataDir, name), { recursive: true });
            }
          }
        }
      }
    }
    const db = await create();
    // only a cluster in memory is copied: a folder also holds the lock file
    // and the holder's socket, which are not the cluster's
    if (dataDir === undefined) {
      await keepFreshClusterFiles(build, () => db.dumpDataDir("none"));
    }
    return db;
  }

  query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
    options: SqlOptions = {},
  ): Promise<Row[]> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return run(this.#db, { text, params }, this.description) as Promise<Row[]>;
  }

  batch(
    statements: readonly SqlStatement[],
    options: SqlOptions = {},
  ): Promise<SqlRow[][]> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return runAll(this.#db, statements, this.description);
  }

  execute(script: string): Promise<void> {
    return execute(this.#db, script, this.description);
  }

  copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    return copyInto(this.#db, table, columns, rows, this.description);
  }

  copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return copyOutOf(this.#db, query, onData, this.description);
  }

  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options: SqlOptions = {},
  ): Promise<T> {
    const { signal } = options;
    signal?.throwIfAborted();
    try {
      return await this.#db.transaction(async (tx) => {
        const transaction = new PgliteTransaction(tx, this.description, signal);
        let result: T;
        try {
          result = await work(transaction);
        } catch (error) {
          await transaction.settled();
          throw error;
        }
        await transaction.end();
        // not committed yet: an abort until here rolls back
        signal?.throwIfAborted();
        return result;
      });
    } catch (error) {
      throw toSqlError(error, this.description);
    }
  }

  async close(): Promise<void> {
    if (!this.#db.closed) await this.#db.close();
  }
}
