/**
 * The {@linkcode SqlClient} adapter for a PostgreSQL server, over the
 * framework's own implementation of PostgreSQL's wire protocol
 * (`./_wire/`): a pool of connections that heals by itself, statements
 * prepared and pipelined, `COPY` both ways.
 *
 * - Statements issued on one connection without awaiting in between share
 *   a round trip: {@linkcode SqlExecutor.batch},
 *   {@linkcode SqlTransaction.enqueue} and the lazy `BEGIN`/`COMMIT` of
 *   transactions rely on that.
 * - Failures are {@linkcode SqlError}s and nothing else, and none reaches
 *   the event loop: a statement the server refuses carries its SQLSTATE; a
 *   server that cannot be reached gives `08001`; a connection lost before
 *   a statement was sent, or inside a transaction that was not yet
 *   committing, gives `08006` (nothing of it is stored); a connection lost
 *   while a statement outside a transaction, or a `COMMIT`, awaited its
 *   answer gives `08007`: whether it was stored is unknown.
 * - A lost connection is dropped from the pool at once; the next statement
 *   gets a fresh one, so the pool heals when the server is back.
 * - A transaction in which any statement failed — refused by the server,
 *   or never sent because a parameter could not be encoded — rolls back:
 *   it never commits without that statement.
 * - A connection that sent a cancel request (an aborted statement) is not
 *   given to another caller, whom the cancel could reach.
 *
 * @module
 */
import { type DatabaseUrl, parseDatabaseUrl } from "./_database_url.ts";
import {
  type ConnectionConfig,
  Lost,
  type QueryResult,
  ServerError,
  type WireConnection,
} from "./_wire/connection.ts";
import { WirePool } from "./_wire/pool.ts";
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
import { checkMilliseconds } from "./_timer_option.ts";
import {
  continueCopy,
  copyChunks,
  copyStatement,
  encodeCopyAhead,
} from "./_sql_text.ts";

/**
 * Options of the server adapter; see `ConnectOptions`. Numbers out of
 * range are refused with a `TypeError` naming the option.
 */
export interface ServerClientOptions {
  /** Most connections in the pool: a whole number, at least 1 (default 10). */
  readonly max?: number | undefined;
  /** Milliseconds before an idle connection is closed (default 30,000; 0: never). */
  readonly idleTimeoutMs?: number | undefined;
  /** Milliseconds to wait for a connection to open (default 10,000; 0: no limit). */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Milliseconds a statement may run on the server before it cancels it
   * (`statement_timeout`; default: the server's setting; 0: no limit).
   */
  readonly statementTimeoutMs?: number | undefined;
  /** Use named prepared statements (default true). */
  readonly prepare?: boolean | undefined;
  /** Connect to this database instead of the URL's (the maintenance one). */
  readonly database?: string | undefined;
}

type Pending = Promise<SqlRow[]>;

const CONNECT_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  CONNECT_TIMEOUT: "timed out",
};

/** A failure of the connection layer as the port's {@linkcode SqlError}. */
function toSqlError(
  error: unknown,
  where: string,
  phase: "connect" | "statement" | "transaction" | "commit",
): unknown {
  if (error instanceof SqlError) return error;
  if (error instanceof ServerError) {
    const f = error.fields;
    return new SqlError(f.message ?? error.message, {
      code: f.code,
      detail: f.detail,
      hint: f.hint,
      constraint: f.constraint,
      table: f.table,
      schema: f.schema,
    });
  }
  if (error instanceof Lost) {
    // (a statement waiting for a connection when the client closed)
    if (!error.sent && error.code === "POOL_CLOSED") {
      return new SqlError(`The client for ${where} is closed`, {
        code: "08003",
      });
    }
    if (!error.sent && (phase === "connect" || error.code in CONNECT_REASONS)) {
      return new SqlError(
        `Cannot connect to ${where}: ${
          CONNECT_REASONS[error.code] ?? error.message
        }`,
        { code: "08001" },
      );
    }
    const why = error.message;
    if (!error.sent) {
      return new SqlError(
        `Lost the connection to ${where} (${why}) before the statement was sent: nothing of it ran`,
        { code: "08006" },
      );
    }
    if (phase === "transaction") {
      return new SqlError(
        `Lost the connection to ${where} (${why}): the transaction was rolled back`,
        { code: "08006" },
      );
    }
    return new SqlError(
      `Lost the connection to ${where} (${why}) while ${
        phase === "commit" ? "committing" : "a statement ran"
      }: whether it was stored is unknown`,
      { code: "08007" },
    );
  }
  return error;
}

/**
 * Refuses options out of range, naming them: a pool of no connection (0,
 * negative, `NaN`) would make every statement wait for ever, and a timer of
 * `NaN`, a negative or too long a delay fires at once.
 */
function checkOptions(options: ServerClientOptions): void {
  const { max } = options;
  if (
    max !== undefined && !(Number.isInteger(max) && max >= 1)
  ) {
    throw new TypeError(
      `The option max must be a whole number of connections, at least 1, not ${
        String(max)
      }`,
    );
  }
  for (
    const name of [
      "idleTimeoutMs",
      "connectTimeoutMs",
      "statementTimeoutMs",
    ] as const
  ) checkMilliseconds(`option ${name}`, options[name], 0);
}

function configOf(
  url: DatabaseUrl,
  options: ServerClientOptions,
): ConnectionConfig {
  for (const [name, value] of Object.entries(url.parameters)) {
    // Rows are read in the ISO style; in another, every date would come
    // back invalid. (The order part, `ISO, DMY`, only affects input.)
    if (
      name.toLowerCase() === "datestyle" &&
      !value.trim().toUpperCase().startsWith("ISO")
    ) {
      throw new TypeError(
        `DateStyle "${value}" is not supported: the client reads dates only in the ISO style`,
      );
    }
  }
  const parameters: Record<string, string> = {
    application_name: "sequent",
    ...url.parameters,
  };
  if (options.statementTimeoutMs !== undefined) {
    parameters.statement_timeout = String(options.statementTimeoutMs);
  }
  return {
    endpoints: url.endpoints,
    user: url.user,
    password: url.password,
    database: options.database ?? url.database,
    ssl: url.ssl,
    sslRootCert: url.sslRootCert,
    parameters,
    connectTimeoutMs: options.connectTimeoutMs ??
      (url.connectTimeoutSeconds !== undefined
        ? url.connectTimeoutSeconds * 1000
        : 10_000),
    prepare: options.prepare ?? true,
    description: url.description,
  };
}

/**
 * A `COPY … FROM STDIN` of `rows`, ready to run on a connection. Rows given
 * as a synchronous iterable (an array, a generator) are encoded here, up to
 * a bound: a row that cannot be encoded throws now, before anything is
 * sent, and a copy that fits is written whole, at once, so that statements
 * issued after it follow it on the wire instead of waiting for it to end
 * (a replay's reads, behind its flushes). Other rows are encoded as the
 * copy goes.
 */
function prepareCopyIn(
  table: string,
  columns: readonly string[],
  rows: SqlCopyRows,
  counter: { rows: number },
): (conn: WireConnection, signal?: AbortSignal) => Promise<number> {
  const text = copyStatement(table, columns, "STDIN");
  const width = columns.length;
  if (!(Symbol.iterator in rows)) {
    return (conn, signal) =>
      conn.copyIn(text, copyChunks(rows, width, counter), { signal });
  }
  const ahead = encodeCopyAhead(rows, width, counter);
  if (ahead.rest === undefined) {
    return (conn, signal) => conn.copyInWhole(text, ahead.chunks, { signal });
  }
  return (conn, signal) =>
    conn.copyIn(text, continueCopy(ahead, width, counter), { signal });
}

/** Awaits pipelined statements and rethrows the first failure. */
async function settle(pending: readonly Pending[]): Promise<SqlRow[][]> {
  const results = await Promise.allSettled(pending);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<SqlRow[]>).value);
}

/** The first statement of a transaction that failed, if any. */
type Failure = { readonly error: unknown } | undefined;

interface Queued {
  readonly statement: SqlStatement;
  readonly onRows?: ((rows: SqlRow[]) => void) | undefined;
  /** A transaction control statement, sent on the simple protocol. */
  readonly control?: boolean;
  /**
   * A `SAVEPOINT`: once sent, the transaction's failure at that moment.
   * Rolling back to the savepoint forgets the failures after it, never
   * one before it (a statement the server never saw, which a rollback to
   * the savepoint does not undo).
   */
  readonly savepoint?: { sent: boolean; failureBefore: Failure };
}

class ServerTransaction implements SqlTransaction {
  readonly #conn: WireConnection;
  readonly #where: string;
  readonly #signal: AbortSignal | undefined;
  readonly #queued: Queued[] = [];
  #begun = false;
  #done = false;
  #savepoints = 0;
  /**
   * The first statement that failed: the transaction is aborted. Set the
   * moment a statement cannot be sent, so that `commit()`, which sends
   * the queue and COMMIT together, sees it before COMMIT goes out.
   */
  #failure: Failure;

  constructor(
    conn: WireConnection,
    where: string,
    signal: AbortSignal | undefined,
  ) {
    this.#conn = conn;
    this.#where = where;
    this.#signal = signal;
  }

  #noted(pending: Pending): Pending {
    const mapped = pending.catch((error: unknown) => {
      throw toSqlError(error, this.#where, "transaction");
    });
    mapped.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    return mapped;
  }

  #control(text: string): Pending {
    return this.#noted(
      this.#conn.simpleQuery(text, { signal: this.#signal }).then(() =>
        [] as SqlRow[]
      ),
    );
  }

  #start(statement: SqlStatement): Pending {
    let issued: Promise<QueryResult>;
    try {
      issued = this.#conn.issueQuery(statement.text, statement.params ?? [], {
        signal: this.#signal,
      });
    } catch (thrown) {
      // a parameter that cannot be encoded, a closed connection: nothing
      // was sent, and the transaction fails now, not a tick later
      const error = toSqlError(thrown, this.#where, "transaction");
      this.#failure ??= { error };
      return Promise.reject(error);
    }
    return this.#noted(issued.then((r) => r.rows));
  }

  #check(): void {
    if (this.#done) {
      throw new SqlError("The transaction has already ended", {
        code: "25000",
      });
    }
  }

  /** Sends BEGIN (the first time) and the queued statements, not waiting. */
  #sendQueued(): Pending[] {
    const sent: Pending[] = [];
    if (!this.#begun) {
      this.#begun = true;
      sent.push(this.#control("BEGIN"));
    }
    for (
      const { statement, onRows, control, savepoint } of this.#queued.splice(0)
    ) {
      if (savepoint) {
        savepoint.sent = true;
        savepoint.failureBefore = this.#failure;
      }
      const pending = control
        ? this.#control(statement.text)
        : this.#start(statement);
      sent.push(
        onRows
          ? pending.then((rows) => {
            onRows(rows);
            return rows;
          })
          : pending,
      );
    }
    for (const p of sent) p.catch(() => {});
    return sent;
  }

  async #run(statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
    this.#check();
    const earlier = this.#sendQueued();
    const mine = statements.map((s) => this.#start(s));
    for (const p of mine) p.catch(() => {});
    const all = await settle([...earlier, ...mine]);
    return all.slice(all.length - mine.length);
  }

  async query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
  ): Promise<Row[]> {
    const [rows] = await this.#run([{ text, params }]);
    return (rows ?? []) as Row[];
  }

  batch(statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
    return this.#run(statements);
  }

  enqueue(statement: SqlStatement, onRows?: (rows: SqlRow[]) => void): void {
    this.#check();
    this.#queued.push({ statement, onRows });
  }

  async execute(script: string): Promise<void> {
    this.#check();
    const earlier = this.#sendQueued();
    const mine = this.#control(script);
    await settle([...earlier, mine]);
  }

  async copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    this.#check();
    const counter = { rows: 0 };
    let copyIn: ReturnType<typeof prepareCopyIn>;
    try {
      copyIn = prepareCopyIn(table, columns, rows, counter);
    } catch (error) {
      // nothing was sent, but a failed call fails its transaction, as on
      // every adapter
      this.#failure ??= { error };
      throw error;
    }
    const earlier = this.#sendQueued();
    const copy = this.#noted(
      copyIn(this.#conn, this.#signal).then(() => [] as SqlRow[]),
    );
    await settle([...earlier, copy]);
    return counter.rows;
  }

  async copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    this.#check();
    const earlier = this.#sendQueued();
    let rows = 0;
    const copy = this.#noted(
      this.#conn.copyOut(`COPY (${query}) TO STDOUT`, onData, {
        signal: this.#signal,
      }).then((n) => {
        rows = n;
        return [] as SqlRow[];
      }),
    );
    await settle([...earlier, copy]);
    return rows;
  }

  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    this.#check();
    const name = `sequent_savepoint_${++this.#savepoints}`;
    const marker = { sent: false, failureBefore: this.#failure };
    const savepoint: Queued = {
      statement: { text: `SAVEPOINT ${name}` },
      control: true,
      savepoint: marker,
    };
    this.#queued.push(savepoint);
    let result: T;
    try {
      result = await work(this);
    } catch (error) {
      if (!marker.sent) {
        // Nothing of the savepoint was sent: forget it, and any failure of
        // a call inside it (one that failed before sending anything).
        this.#queued.splice(this.#queued.indexOf(savepoint));
        this.#failure = marker.failureBefore;
      } else {
        this.#queued.splice(0);
        this.#failure = marker.failureBefore;
        await settle([
          ...this.#sendQueued(),
          this.#control(`ROLLBACK TO SAVEPOINT ${name}`),
        ]);
      }
      throw error;
    }
    this.#queued.push({
      statement: { text: `RELEASE SAVEPOINT ${name}` },
      control: true,
    });
    return result;
  }

  /**
   * Sends what is queued plus COMMIT in one round trip. When a statement
   * of the transaction failed (even if the caller caught the error), the
   * server rolls back instead, and so this rejects with that error.
   */
  async commit(): Promise<void> {
    this.#check();
    if (this.#signal?.aborted) {
      await this.rollback();
      throw this.#signal.reason;
    }
    this.#done = true;
    if (this.#failure) {
      // a call failed before sending its statement (the server does not
      // know): roll back as the server would have
      const failure = this.#failure;
      await this.rollback();
      throw failure.error;
    }
    if (!this.#begun && this.#queued.length === 0) return;
    const earlier = this.#sendQueued();
    // A statement just sent could not be (its parameters): the server ran
    // the others, so COMMIT would store the transaction without it.
    const unsent = this.#failure as Failure;
    if (unsent) {
      await this.rollback();
      await Promise.allSettled(earlier);
      throw unsent.error;
    }
    const commit = this.#conn.simpleQuery("COMMIT").catch((error: unknown) => {
      throw toSqlError(error, this.#where, "commit");
    });
    commit.catch(() => {});
    await Promise.allSettled(earlier);
    const command = await commit;
    // (set meanwhile, by a pipelined statement that failed)
    const failed = this.#failure as Failure;
    if (failed) throw failed.error;
    if (command === "ROLLBACK") {
      throw new SqlError(
        "The transaction was rolled back because a statement in it failed",
        { code: "25P02" },
      );
    }
  }

  /** Rolls back if anything was sent; never throws. */
  async rollback(): Promise<void> {
    this.#done = true;
    this.#queued.splice(0);
    if (!this.#begun) return;
    try {
      await this.#conn.simpleQuery("ROLLBACK");
    } catch {
      // The connection is gone, and with it the transaction.
    }
  }
}

/** The {@linkcode SqlClient} for a PostgreSQL server; see the module. */
export class ServerClient implements SqlClient {
  /** Always `"postgres"`. */
  readonly engine: "postgres" = "postgres";
  /** `PostgreSQL at host:port/database`, never with a password. */
  readonly description: string;
  readonly #pool: WirePool;
  #closed = false;

  /**
   * Creates a pool; no connection is opened until the first statement.
   *
   * @param url A `postgres://` or `postgresql://` URL.
   * @param options Pool and timeout options.
   * @throws {TypeError} when the URL cannot be read (never quoting its
   *   password), or an option is out of range (naming it).
   */
  constructor(url: string, options: ServerClientOptions = {}) {
    checkOptions(options);
    const parsed = parseDatabaseUrl(url);
    this.description = options.database === undefined
      ? parsed.description
      : parsed.description.replace(/\/[^/]*$/, `/${options.database}`);
    this.#pool = new WirePool(configOf(parsed, options), {
      max: options.max ?? 10,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    });
  }

  #closedError(): SqlError {
    return new SqlError(`The client for ${this.description} is closed`, {
      code: "08003",
    });
  }

  async #acquire(signal: AbortSignal | undefined): Promise<WireConnection> {
    if (this.#closed) throw this.#closedError();
    try {
      return await this.#pool.acquire(signal);
    } catch (error) {
      throw toSqlError(error, this.description, "connect");
    }
  }

  /**
   * An idle connection at once when one is ready (the common case: no
   * promise to wait for), else {@linkcode ServerClient.#acquire}'s; the
   * same errors either way.
   */
  #connection(
    signal: AbortSignal | undefined,
  ): WireConnection | Promise<WireConnection> {
    const idle = this.#closed || signal?.aborted
      ? undefined
      : this.#pool.takeIdle();
    return idle ?? this.#acquire(signal);
  }

  async #withConnection<T>(
    work: (conn: WireConnection) => Promise<T>,
    phase: "statement" | "transaction",
    signal?: AbortSignal,
  ): Promise<T> {
    const got = this.#connection(signal);
    const conn = got instanceof Promise ? await got : got;
    try {
      return await work(conn);
    } catch (error) {
      throw toSqlError(error, this.description, phase);
    } finally {
      this.#pool.release(conn);
    }
  }

  async query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
    options: SqlOptions = {},
  ): Promise<Row[]> {
    const { signal } = options;
    return await this.#withConnection(
      async (conn) =>
        (await conn.query(text, params ?? [], { signal })).rows as Row[],
      "statement",
      signal,
    );
  }

  async batch(
    statements: readonly SqlStatement[],
    options: SqlOptions = {},
  ): Promise<SqlRow[][]> {
    const { signal } = options;
    if (statements.length === 0) {
      if (this.#closed) throw this.#closedError();
      signal?.throwIfAborted();
      return [];
    }
    return await this.#withConnection(
      async (conn) => {
        const pending = statements.map((s) =>
          conn.query(s.text, s.params ?? [], { signal }).then((r) => r.rows)
        );
        for (const p of pending) p.catch(() => {});
        return await settle(pending);
      },
      "statement",
      signal,
    );
  }

  async execute(script: string): Promise<void> {
    await this.#withConnection((conn) => conn.simpleQuery(script), "statement");
  }

  async copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    const counter = { rows: 0 };
    const copyIn = prepareCopyIn(table, columns, rows, counter);
    await this.#withConnection((conn) => copyIn(conn), "statement");
    return counter.rows;
  }

  async copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return await this.#withConnection(
      (conn) => conn.copyOut(`COPY (${query}) TO STDOUT`, onData),
      "statement",
    );
  }

  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options: SqlOptions = {},
  ): Promise<T> {
    const got = this.#connection(options.signal);
    const conn = got instanceof Promise ? await got : got;
    const tx = new ServerTransaction(conn, this.description, options.signal);
    try {
      let result: T;
      try {
        result = await work(tx);
      } catch (error) {
        await tx.rollback();
        throw error;
      }
      await tx.commit();
      return result;
    } finally {
      this.#pool.release(conn);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }
}
