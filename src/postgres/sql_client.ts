/**
 * The database port: the little the framework needs from a PostgreSQL
 * connection, with no driver type in it. Two adapters implement it: one over
 * postgres.js for a PostgreSQL server and one over PGlite, PostgreSQL
 * compiled to WebAssembly. {@linkcode connectDatabase} picks one from a URL.
 *
 * Values cross the port in one fixed shape on both adapters:
 *
 * - parameters are {@linkcode SqlValue}s; pass JSON as text and arrays as
 *   JSON text or PostgreSQL array literals, and cast in SQL
 *   (`$1::text::jsonb`, `$1::text::uuid[]`);
 * - `smallint`, `integer`, `real` and `double precision` columns come back as
 *   numbers; `bigint`, `numeric`, `xid8`, `uuid` and text types as strings;
 *   `json` and `jsonb` as their JSON text (parse it yourself);
 *   `timestamptz`, `timestamp` and `date` as `Date`; `boolean` as boolean;
 *   SQL `NULL` as `null`.
 *
 * Failures are {@linkcode SqlError}s on both adapters, and nothing of a
 * driver ever reaches the event loop as an uncaught exception or an
 * unhandled rejection. A lost connection is told apart by its SQLSTATE
 * (see {@linkcode SqlError.isConnectionError}): `08001` nothing could be
 * reached; `08006` the connection was lost and nothing of the failed call
 * was stored (it was not sent, or ran in a transaction that did not
 * commit); `08007` the connection was lost while a statement outside a
 * transaction, or a `COMMIT`, awaited its answer: whether it was stored is
 * unknown. A client heals by itself: after a lost connection or a server
 * restart, the next call opens a fresh connection.
 *
 * @module
 */

/**
 * A value passed as a query parameter. `Date`s are sent as ISO timestamps,
 * bigints and numbers as their decimal text, `null` as SQL `NULL`.
 *
 * @example
 * ```ts
 * import type { SqlValue } from "@sequent/core/postgres";
 *
 * const params: SqlValue[] = ["ben", 42, 9007199254740993n, true, new Date(), null];
 * ```
 */
export type SqlValue = string | number | bigint | boolean | Date | null;

/**
 * A row as a plain object keyed by column name. The column types are
 * converted as described in the module documentation.
 *
 * @example
 * ```ts
 * import type { SqlRow } from "@sequent/core/postgres";
 *
 * const row: SqlRow = { id: "42", created_at: new Date(), payload: '{"a":1}' };
 * ```
 */
export type SqlRow = Record<string, unknown>;

/**
 * One statement with its parameters, for {@linkcode SqlExecutor.batch} and
 * {@linkcode SqlTransaction.enqueue}.
 *
 * @example
 * ```ts
 * import type { SqlStatement } from "@sequent/core/postgres";
 *
 * const statement: SqlStatement = { text: "select $1::int + 1 as n", params: [41] };
 * ```
 */
export interface SqlStatement {
  /** The SQL text, with `$1`, `$2`, … placeholders. */
  readonly text: string;
  /** The values of the placeholders (default: none). */
  readonly params?: readonly SqlValue[] | undefined;
}

/**
 * Rows for {@linkcode SqlExecutor.copyIn}: each row lists the values of the
 * columns in order.
 *
 * @example
 * ```ts
 * import type { SqlCopyRows } from "@sequent/core/postgres";
 *
 * async function* generated(): AsyncGenerator<[number, string]> {
 *   for (let i = 0; i < 3; i++) yield [i, `row ${i}`];
 * }
 * const fromArray: SqlCopyRows = [[1, "a"], [2, null]];
 * const streamed: SqlCopyRows = generated();
 * ```
 */
export type SqlCopyRows =
  | Iterable<readonly SqlValue[]>
  | AsyncIterable<readonly SqlValue[]>;

/**
 * Options of a call that may be aborted.
 *
 * When `signal` aborts, a statement not yet sent is never sent, and the call
 * rejects with the signal's reason. A statement already running is
 * cancelled on the server: it either finishes anyway (the call resolves),
 * stops (the call rejects with the signal's reason; nothing of it is
 * stored), or gets no answer within half a second, in which case its
 * connection is closed and the call rejects with a connection error (the
 * outcome of a commit is then unknown: `08007`). The embedded database runs
 * inside this process and checks the signal between statements only.
 *
 * @example
 * ```ts
 * import type { SqlOptions } from "@sequent/core/postgres";
 *
 * const options: SqlOptions = { signal: AbortSignal.timeout(5_000) };
 * ```
 */
export interface SqlOptions {
  /** Aborts the call; see above. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * What can run statements: a client (each statement in its own transaction
 * unless inside {@linkcode SqlClient.transaction}) or a transaction.
 *
 * @example Code that works inside and outside a transaction
 * ```ts
 * import type { SqlExecutor } from "@sequent/core/postgres";
 *
 * async function countRows(db: SqlExecutor, table: string): Promise<number> {
 *   const [row] = await db.query<{ n: number }>(`select count(*)::int as n from ${table}`);
 *   return row?.n ?? 0;
 * }
 * ```
 */
export interface SqlExecutor {
  /**
   * Runs one parameterised statement and returns its rows (none for a
   * statement without a result). Every value is sent as a parameter, never
   * spliced into the text.
   *
   * @typeParam Row The shape the caller expects of each row (not checked).
   * @param text The SQL text with `$1`, `$2`, … placeholders.
   * @param params The values of the placeholders.
   * @param options An abort signal (see {@linkcode SqlOptions}); inside a
   *   transaction, the transaction's signal applies instead.
   * @returns The rows as plain objects.
   */
  query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
    options?: SqlOptions,
  ): Promise<Row[]>;
  /**
   * Sends several statements in one round trip and returns each one's rows.
   * They run in order on one connection; outside a transaction each one
   * commits on its own, so one failing does not undo the others. Rejects with
   * the first failure after all of them have finished.
   *
   * @param statements The statements, in the order they run.
   * @param options An abort signal (see {@linkcode SqlOptions}); inside a
   *   transaction, the transaction's signal applies instead.
   * @returns The rows of each statement, in the same order.
   */
  batch(
    statements: readonly SqlStatement[],
    options?: SqlOptions,
  ): Promise<SqlRow[][]>;
  /**
   * Runs a script of one or more statements without parameters (DDL,
   * `DO` blocks, function definitions), using the simple query protocol.
   *
   * @param script The statements, separated by semicolons.
   */
  execute(script: string): Promise<void>;
  /**
   * Bulk-loads rows with `COPY … FROM STDIN`, the fastest way in.
   *
   * @param table The table, optionally qualified (`schema.table`); each part
   *   is quoted as an identifier.
   * @param columns The columns the row values are for, in order.
   * @param rows The rows; each has one value per column.
   * @returns How many rows were loaded.
   */
  copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number>;
  /**
   * Reads the rows of a query with `COPY (query) TO STDOUT`, the fastest
   * way out: PostgreSQL's text format (columns separated by tabs, rows
   * ended by newlines, `\N` for `NULL`, backslash escapes), in UTF-8.
   * `onData` receives the bytes in order as they arrive, in chunks that
   * may end anywhere, even inside a character; it is called without
   * waiting. Each chunk is the caller's to keep as it is: the client
   * never writes to it again (a replay queues them undecoded). Other
   * statements on the same transaction wait until the copy has ended.
   *
   * `COPY` takes no parameters: every value in `query` must be a literal.
   *
   * @param query A `SELECT` (or `VALUES`, `TABLE`), without `COPY` around it.
   * @param onData Called with each chunk of the output.
   * @returns How many rows were read (as many as newline bytes: a newline
   *   inside a value is escaped).
   */
  copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number>;
}

/**
 * A transaction's view of the database. `BEGIN` is sent lazily, together
 * with the first statement, and `COMMIT` together with any statements still
 * queued, so a transaction costs no round trip of its own.
 *
 * @example Two inserts and a commit in one round trip
 * ```ts
 * import type { SqlTransaction } from "@sequent/core/postgres";
 *
 * function recordVisit(tx: SqlTransaction, page: string): void {
 *   tx.enqueue({ text: "insert into visits (page) values ($1)", params: [page] });
 *   tx.enqueue({ text: "update pages set visits = visits + 1 where page = $1", params: [page] });
 * }
 * ```
 */
export interface SqlTransaction extends SqlExecutor {
  /**
   * Queues a statement whose result is not needed at once: it is sent in the
   * same round trip as the next statement of this transaction, or as the
   * `COMMIT`. If it fails, that next call (or the transaction) rejects with
   * its error. `onRows` receives its rows once they arrive.
   *
   * @param statement The statement to queue.
   * @param onRows Called with the statement's rows when it has run.
   */
  enqueue(
    statement: SqlStatement,
    onRows?: (rows: SqlRow[]) => void,
  ): void;
  /**
   * Runs `work` inside a savepoint: if it rejects, only its statements are
   * rolled back and the error is rethrown; the outer transaction goes on.
   *
   * @typeParam T What `work` resolves to.
   * @param work The statements to run inside the savepoint.
   * @returns What `work` resolved to.
   */
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T>;
}

/**
 * A connection (pool) to one PostgreSQL database.
 *
 * @example Run a query on the embedded database
 * ```ts
 * import { connectDatabase } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://");
 * const [row] = await client.query<{ n: number }>("select $1::int + 1 as n", [41]);
 * console.assert(row?.n === 42);
 * await client.close();
 * ```
 */
export interface SqlClient extends SqlExecutor {
  /** Which adapter this is: a PostgreSQL server or the embedded PGlite. */
  readonly engine: "postgres" | "pglite";
  /**
   * Where the database is, for messages: `PostgreSQL at host:port/db`, never
   * with a password.
   */
  readonly description: string;
  /**
   * Runs `work` in a transaction on one connection: committed when `work`
   * resolves, rolled back when it rejects (and the error rethrown). Calls
   * made on the client itself while `work` runs are not part of the
   * transaction. On PGlite, which has one connection, other callers wait
   * until the transaction ends. Nested calls on the transaction use
   * savepoints ({@linkcode SqlTransaction.transaction}). A call of the
   * transaction that failed fails it, even if `work` caught the error: it
   * is rolled back and rejects with that error. That holds too for a call
   * that failed before sending anything, such as a `copyIn` whose rows
   * cannot be encoded.
   *
   * @typeParam T What `work` resolves to.
   * @param work The statements to run atomically.
   * @param options An abort signal for every statement of the transaction
   *   (see {@linkcode SqlOptions}); once it aborts, the transaction is
   *   rolled back unless its `COMMIT` was already sent.
   * @returns What `work` resolved to.
   */
  transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlOptions,
  ): Promise<T>;
  /** Closes all connections; the client cannot be used afterwards. */
  close(): Promise<void>;
}
