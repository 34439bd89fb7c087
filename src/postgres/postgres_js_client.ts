/**
 * The {@linkcode SqlClient} adapter over postgres.js (`npm:postgres`), for a
 * PostgreSQL server. Nothing of postgres.js leaves this file.
 *
 * - Statements are prepared (one round trip each once a connection has seen
 *   them) and pipelined: statements issued on one connection without
 *   awaiting in between share a round trip. {@linkcode SqlExecutor.batch},
 *   {@linkcode SqlTransaction.enqueue} and the lazy `BEGIN`/`COMMIT` of
 *   transactions rely on that.
 * - `json`/`jsonb` come back as text and `bigint` as a string (see the
 *   {@linkcode SqlClient} module for the full list); notices are dropped.
 * - A connection the server ends (`pg_terminate_backend`, a restart) fails
 *   the statements on it with a {@linkcode SqlError} whose
 *   `isConnectionError` is true; the pool opens a fresh connection for the
 *   next statement.
 *
 * @module
 */
import postgres from "postgres";
import { Buffer } from "node:buffer";
import { once } from "node:events";
import { connect as connectTcp, type Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import type {
  SqlClient,
  SqlCopyRows,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
import { SqlError } from "./sql_error.ts";
import { copyChunks, copyStatement } from "./_sql_text.ts";

/** Options of the postgres.js adapter. */
export interface PostgresJsOptions {
  /** Most connections in the pool (default 10). */
  readonly max?: number | undefined;
  /** Seconds before an idle connection is closed (default 30; 0: never). */
  readonly idleTimeoutSeconds?: number | undefined;
  /** Seconds to wait for a connection to open (default 10). */
  readonly connectTimeoutSeconds?: number | undefined;
  /**
   * Use named prepared statements (default true). Turn off behind a pooler
   * in transaction mode that does not support them.
   */
  readonly prepare?: boolean | undefined;
}

type Driver = postgres.Sql<Record<string, never>>;
type Reserved = postgres.ReservedSql<Record<string, never>>;
type Pending = Promise<SqlRow[]>;

const CONNECT_FAILURES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
]);
const CONNECTION_LOSSES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
]);

interface DriverError {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly detail?: unknown;
  readonly hint?: unknown;
  readonly constraint_name?: unknown;
  readonly table_name?: unknown;
  readonly schema_name?: unknown;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Turns a postgres.js error into a {@linkcode SqlError}; others pass. */
function toSqlError(error: unknown, where: string): unknown {
  if (error instanceof SqlError || typeof error !== "object" || !error) {
    return error;
  }
  const e = error as DriverError;
  const code = text(e.code);
  const message = text(e.message) ?? String(error);
  if (e.name === "PostgresError") {
    return new SqlError(message, {
      code,
      detail: text(e.detail),
      hint: text(e.hint),
      constraint: text(e.constraint_name),
      table: text(e.table_name),
      schema: text(e.schema_name),
    }, { cause: error });
  }
  if (code === undefined) return error;
  if (CONNECT_FAILURES.has(code)) {
    return new SqlError(`Cannot connect to ${where}: ${describeCode(code)}`, {
      code: "08001",
    }, { cause: error });
  }
  if (code === "CONNECTION_ENDED") {
    return new SqlError(`The client for ${where} is closed`, {
      code: "08003",
    }, { cause: error });
  }
  if (CONNECTION_LOSSES.has(code)) {
    return new SqlError(
      `Lost the connection to ${where} (${code}): the statement's outcome is unknown unless it ran in a transaction, which was rolled back`,
      { code: "08006" },
      { cause: error },
    );
  }
  return error;
}

function describeCode(code: string): string {
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "CONNECT_TIMEOUT":
      return "timed out";
    default:
      return code;
  }
}

/** `PostgreSQL at host:port/database`, without credentials. */
export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const host = decodeURIComponent(parsed.hostname) || "localhost";
    const port = parsed.port || "5432";
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
    return `PostgreSQL at ${host}:${port}${database ? `/${database}` : ""}`;
  } catch {
    return "PostgreSQL";
  }
}

function send(
  sql: Driver,
  statement: SqlStatement,
): postgres.PendingQuery<postgres.Row[]> {
  const params = (statement.params ?? []) as never[];
  // `simple: false` keeps statements without parameters on the extended
  // protocol too, so they are prepared and can be pipelined.
  const options = {
    prepare: true,
    simple: false,
  } as postgres.UnsafeQueryOptions;
  return sql.unsafe(statement.text, params, options);
}

function rowsOf(result: readonly postgres.Row[]): SqlRow[] {
  // postgres.js returns an array subclass with extra fields: copy it out.
  return Array.from(result) as SqlRow[];
}

/** Starts a statement now (pipelined after those started before it). */
function start(sql: Driver, statement: SqlStatement, where: string): Pending {
  // `then` sends the query at once, like `execute()`.
  return send(sql, statement).then(
    rowsOf,
    (error: unknown) => Promise.reject(toSqlError(error, where)),
  );
}

/** What postgres.js passes to a socket factory. */
interface SocketTarget {
  readonly host: readonly string[];
  readonly port: readonly number[];
  readonly path?: string | false | undefined;
  readonly connect_timeout?: number | undefined;
}

/**
 * Opens the connection's socket with Nagle's algorithm off. postgres.js
 * leaves it on, and then the end of a `COPY … FROM STDIN` (data, then
 * CopyDone, as two small writes) waits for the server's delayed ACK: some
 * 40 ms per COPY, twice. Hosts are tried in order, as postgres.js does.
 */
async function openSocket(target: SocketTarget): Promise<Socket> {
  const timeoutMs = (target.connect_timeout ?? 30) * 1000;
  const attempt = (
    options: { path: string } | { host: string; port: number },
  ) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connectTcp({ ...options, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(Object.assign(new Error("connect timeout"), {
          code: "CONNECT_TIMEOUT",
        }));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(socket);
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  if (target.path) return await attempt({ path: target.path });
  let failure: unknown;
  for (let i = 0; i < target.host.length; i++) {
    try {
      return await attempt({
        host: target.host[i] as string,
        port: target.port[i] ?? target.port[0] ?? 5432,
      });
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

/** Awaits pipelined statements and rethrows the first failure. */
async function settle(pending: readonly Pending[]): Promise<SqlRow[][]> {
  const results = await Promise.allSettled(pending);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<SqlRow[]>).value);
}

async function copyInto(
  sql: Driver,
  table: string,
  columns: readonly string[],
  rows: SqlCopyRows,
  where: string,
): Promise<number> {
  const counter = { rows: 0 };
  let writable: Writable;
  try {
    writable = await sql.unsafe(
      copyStatement(table, columns, "STDIN"),
    ).writable();
  } catch (error) {
    throw toSqlError(error, where);
  }
  const failure = new Promise<never>((_, reject) => {
    writable.once(
      "error",
      (error: unknown) => reject(toSqlError(error, where)),
    );
  });
  failure.catch(() => {});
  try {
    for await (const chunk of copyChunks(rows, columns.length, counter)) {
      if (!writable.write(chunk)) {
        await Promise.race([once(writable, "drain"), failure]);
      }
    }
    const finished = once(writable, "finish");
    writable.end();
    await Promise.race([finished, failure]);
  } catch (error) {
    if (!writable.destroyed) writable.destroy(toError(error));
    throw toSqlError(error, where);
  }
  return counter.rows;
}

/**
 * Streams `COPY (query) TO STDOUT` to `onData` on one connection. The
 * stream is read as fast as it comes (postgres.js fails any statement sent
 * on the connection before the copy ends, so the copy must never wait for
 * the caller). If `onData` throws, the rest is read and dropped, and the
 * error rethrown once the copy has ended.
 */
async function copyOutOf(
  sql: Driver,
  query: string,
  onData: (chunk: Uint8Array) => void,
  where: string,
): Promise<number> {
  let stream: Readable;
  try {
    stream = await sql.unsafe(`COPY (${query}) TO STDOUT`)
      .readable() as unknown as Readable;
  } catch (error) {
    throw toSqlError(error, where);
  }
  let bytes = 0;
  let thrown: { readonly error: unknown } | undefined;
  // The server sends each row as a message of its own: hand them over
  // gathered, as the port promises chunks, not rows.
  let parts: Uint8Array[] = [];
  let held = 0;
  const handOver = () => {
    const chunk = parts.length === 1
      ? parts[0] as Uint8Array
      : Buffer.concat(parts, held);
    parts = [];
    held = 0;
    if (thrown) return;
    try {
      onData(chunk);
    } catch (error) {
      thrown = { error };
    }
  };
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (chunk: Uint8Array) => {
      bytes += chunk.length;
      parts.push(chunk);
      held += chunk.length;
      if (held >= COPY_OUT_CHUNK) handOver();
    });
    stream.once("end", () => {
      unpause(stream);
      if (held > 0) handOver();
      resolve();
    });
    stream.once("error", (error: unknown) => {
      unpause(stream);
      reject(toSqlError(error, where));
    });
  });
  if (thrown) throw thrown.error;
  return bytes;
}

/**
 * Makes sure a copy's connection reads on. postgres.js (3.4.9) pauses the
 * socket when the copy's stream holds more than it buffers (as it does
 * when the whole output arrives before the caller listens), and resumes it
 * when the stream next asks for data, which never happens once the copy
 * has ended: the connection would hang on its next statement. The
 * stream's read hook is what resumes that socket.
 */
function unpause(stream: Readable): void {
  (stream as unknown as { _read?: (size: number) => void })._read?.(0);
}

/** How many bytes of a `COPY … TO STDOUT` are handed over at a time. */
const COPY_OUT_CHUNK = 65536;

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

interface Queued {
  readonly statement: SqlStatement;
  readonly onRows?: ((rows: SqlRow[]) => void) | undefined;
  /** A transaction control statement, sent on the simple protocol. */
  readonly control?: boolean;
}

class PostgresJsTransaction implements SqlTransaction {
  readonly #conn: Driver;
  readonly #where: string;
  readonly #queued: Queued[] = [];
  #begun = false;
  #done = false;
  #savepoints = 0;
  /** The first statement that failed: the transaction is aborted. */
  #failure: { readonly error: unknown } | undefined;
  /** A `COPY … TO STDOUT` under way: nothing else may be sent until it ends. */
  #copying: Promise<unknown> | undefined;

  constructor(conn: Driver, where: string) {
    this.#conn = conn;
    this.#where = where;
  }

  /**
   * Starts a transaction control statement on the simple protocol: as a
   * prepared statement it would stop the pipeline for a round trip.
   */
  #control(text: string): Pending {
    const pending = Promise.resolve(this.#conn.unsafe(text).execute()).then(
      () => [] as SqlRow[],
      (error: unknown) => Promise.reject(toSqlError(error, this.#where)),
    );
    pending.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    return pending;
  }

  /** Starts a statement, noting its failure. */
  #start(statement: SqlStatement): Pending {
    const pending = start(this.#conn, statement, this.#where);
    pending.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    return pending;
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
    for (const { statement, onRows, control } of this.#queued.splice(0)) {
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
    while (this.#copying) await this.#copying;
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
    while (this.#copying) await this.#copying;
    const earlier = this.#sendQueued();
    const mine = Promise.resolve(this.#conn.unsafe(script).execute()).then(
      () => [] as SqlRow[],
      (error: unknown) => Promise.reject(toSqlError(error, this.#where)),
    );
    mine.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    await settle([...earlier, mine]);
  }

  copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    return this.#copy(() =>
      copyInto(this.#conn, table, columns, rows, this.#where)
    );
  }

  copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return this.#copy(() => copyOutOf(this.#conn, query, onData, this.#where));
  }

  /**
   * Runs a copy with the connection to itself: it starts once no other
   * copy runs, and statements issued meanwhile wait until it has ended.
   */
  async #copy(work: () => Promise<number>): Promise<number> {
    this.#check();
    while (this.#copying) await this.#copying;
    const copying = (async () => {
      await settle(this.#sendQueued());
      return await work();
    })();
    const settled = copying.then(() => {}, () => {});
    this.#copying = settled;
    try {
      return await copying;
    } catch (error) {
      this.#failure ??= { error };
      throw error;
    } finally {
      if (this.#copying === settled) this.#copying = undefined;
    }
  }

  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    this.#check();
    const name = `sequent_savepoint_${++this.#savepoints}`;
    const savepoint: Queued = {
      statement: { text: `SAVEPOINT ${name}` },
      control: true,
    };
    const failureBefore = this.#failure;
    this.#queued.push(savepoint);
    let result: T;
    try {
      result = await work(this);
    } catch (error) {
      const at = this.#queued.indexOf(savepoint);
      if (at >= 0) {
        // Nothing of the savepoint was sent: forget it.
        this.#queued.splice(at);
      } else {
        this.#queued.splice(0);
        if (failureBefore === undefined) this.#failure = undefined;
        while (this.#copying) await this.#copying;
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
   * Sends what is queued plus COMMIT in one round trip. Afterwards the
   * transaction is over on the server whatever the outcome. When a
   * statement of the transaction failed (even if the caller caught the
   * error), the server rolls back instead, and so this rejects with that
   * statement's error.
   */
  async commit(): Promise<void> {
    this.#check();
    while (this.#copying) await this.#copying;
    this.#done = true;
    if (!this.#begun && this.#queued.length === 0) return;
    const earlier = this.#sendQueued();
    const commit = Promise.resolve(this.#conn.unsafe("COMMIT").execute())
      .then(
        (result) => (result as unknown as { command?: string }).command,
        (error: unknown) => Promise.reject(toSqlError(error, this.#where)),
      );
    commit.catch(() => {});
    await settle(earlier);
    const command = await commit;
    if (this.#failure) throw this.#failure.error;
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
    while (this.#copying) await this.#copying;
    if (!this.#begun) return;
    try {
      await this.#conn.unsafe("ROLLBACK").execute();
    } catch {
      // The connection is gone, and with it the transaction.
    }
  }
}

/** The {@linkcode SqlClient} over a postgres.js pool. */
export class PostgresJsClient implements SqlClient {
  /** Always `"postgres"`. */
  readonly engine: "postgres" = "postgres";
  /** `PostgreSQL at host:port/database`. */
  readonly description: string;
  readonly #sql: Driver;
  #closed = false;

  /**
   * Creates a pool; no connection is opened until the first statement.
   *
   * @param url A `postgres://` or `postgresql://` URL.
   * @param options Pool options.
   */
  constructor(url: string, options: PostgresJsOptions = {}) {
    this.description = describePostgresUrl(url);
    this.#sql = postgres(url, {
      max: options.max ?? 10,
      idle_timeout: options.idleTimeoutSeconds ?? 30,
      connect_timeout: options.connectTimeoutSeconds ?? 10,
      prepare: options.prepare ?? true,
      // Also works around reserve() never resolving on a connection opened
      // for it when no type fetch follows the start-up (postgres.js 3.4.9).
      fetch_types: true,
      onnotice: () => {},
      connection: { application_name: "sequent" },
      // (an option postgres.js has but does not declare)
      ...({ socket: openSocket } as Record<string, unknown>),
      types: {
        jsonText: {
          to: 3802,
          from: [114, 3802],
          serialize: (value: unknown) =>
            typeof value === "string" ? value : JSON.stringify(value),
          parse: (value: string) => value,
        },
      },
    }) as unknown as Driver;
  }

  #check(): void {
    if (this.#closed) {
      throw new SqlError(`The client for ${this.description} is closed`, {
        code: "08003",
      });
    }
  }

  query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
  ): Promise<Row[]> {
    if (this.#closed) {
      return Promise.reject(
        new SqlError(`The client for ${this.description} is closed`, {
          code: "08003",
        }),
      );
    }
    return start(this.#sql, { text, params }, this.description) as Promise<
      Row[]
    >;
  }

  async batch(statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
    this.#check();
    if (statements.length === 0) return [];
    if (statements.length === 1) {
      return [await start(this.#sql, statements[0]!, this.description)];
    }
    const conn = await this.#reserve();
    try {
      const pending = statements.map((s) => start(conn, s, this.description));
      for (const p of pending) p.catch(() => {});
      return await settle(pending);
    } finally {
      conn.release();
    }
  }

  async execute(script: string): Promise<void> {
    this.#check();
    try {
      await this.#sql.unsafe(script).execute();
    } catch (error) {
      throw toSqlError(error, this.description);
    }
  }

  copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    this.#check();
    return copyInto(this.#sql, table, columns, rows, this.description);
  }

  async copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    this.#check();
    // on a connection of its own: nothing else may be sent on it meanwhile
    const conn = await this.#reserve();
    try {
      return await copyOutOf(conn, query, onData, this.description);
    } finally {
      conn.release();
    }
  }

  async #reserve(): Promise<Reserved> {
    try {
      return await this.#sql.reserve();
    } catch (error) {
      throw toSqlError(error, this.description);
    }
  }

  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    this.#check();
    const conn = await this.#reserve();
    const tx = new PostgresJsTransaction(conn, this.description);
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
      conn.release();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sql.end({ timeout: 5 });
  }
}
