/**
 * The {@linkcode SqlClient} of a process that reaches an embedded database
 * through the process holding its folder (`whenHeld: "use-holder"`): every
 * call is sent to the holder over its Unix socket (protocol: `_holder_protocol.ts`) and
 * run there, on the holder's own client.
 *
 * It behaves as a client on PGlite: transactions take the holder's one
 * transaction slot, BEGIN is lazy, queued statements and savepoints cost no
 * round trip of their own. An abort signal is checked before each call is
 * sent and before a transaction commits. A call of a transaction that
 * cannot be sent (a value that cannot be, too long a message) fails the
 * transaction, as on every client. When the holder ends or closes, pending
 * and later calls fail with an `SqlError` whose `isConnectionError` is
 * true: `08007` for a statement outside a transaction, or a commit, sent
 * and unanswered (whether it was stored is unknown); `08006` for the rest,
 * of which nothing was stored.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
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
import { MAX_SOCKET_PATH, pathBytes } from "./_folder_lock.ts";
import {
  type CallOp,
  decodeError,
  decodeRow,
  encodeValue,
  type Frame,
  FrameWriter,
  jsonFrame,
  PROTOCOL_VERSION,
  readFrames,
  type Reply,
  type Request,
  type Wire,
  type WireStatement,
} from "./_holder_protocol.ts";

/** How many rows of a `copyIn` travel in one message. */
const COPY_ROWS_PER_MESSAGE = 1000;

/**
 * How long to wait for the holder's greeting by default. PGlite runs in
 * the holder's thread: a holder busy with one long statement answers only
 * once it is done, so this is generous.
 */
const HELLO_TIMEOUT_MS = 60_000;

function wireStatement(
  text: string,
  params: readonly SqlValue[] | undefined,
): WireStatement {
  return { text, params: (params ?? []).map(encodeValue) };
}

function rowsOf(result: Wire): SqlRow[] {
  return (result as Wire[]).map(decodeRow);
}

/**
 * What a call that loses the connection before its answer leaves unknown:
 * nothing (`none`: a call inside a transaction that is not committing,
 * which the holder rolls back), whether a statement outside a transaction
 * was stored (`statement`), or whether a transaction committed (`commit`).
 */
type AtStake = "none" | "statement" | "commit";

interface PendingCall {
  resolve(result: Wire): void;
  reject(error: unknown): void;
  onData?: ((chunk: Uint8Array) => void) | undefined;
  /** What `onData` threw: the call rejects with it once the copy ends. */
  dataError?: { readonly error: unknown } | undefined;
  /** What is unknown if the connection is lost before the answer. */
  readonly atStake: AtStake;
}

/**
 * The connection's states: `open`; `lost` (the holder closed it or ended);
 * `closed` (closed by this side).
 */
type ChannelState = "open" | "lost" | "closed";

/** The connection to the holder, shared by the client and its transactions. */
class Channel {
  readonly #conn: Deno.Conn;
  readonly #writer: FrameWriter;
  readonly #calls = new Map<number, PendingCall>();
  readonly #rowsWanted = new Map<number, (rows: Wire[]) => void>();
  readonly #description: string;
  readonly #pid: number;
  readonly reading: Promise<void>;
  #state: ChannelState = "open";
  #nextId = 1;
  #nextTx = 1;

  constructor(
    conn: Deno.Conn,
    frames: AsyncGenerator<Frame, void, undefined>,
    description: string,
    pid: number,
  ) {
    this.#conn = conn;
    this.#writer = new FrameWriter(conn);
    this.#description = description;
    this.#pid = pid;
    this.reading = this.#read(frames);
  }

  /** Why calls cannot be made, if they cannot. */
  unusable(): SqlError | undefined {
    switch (this.#state) {
      case "open":
        return undefined;
      case "lost":
        return new SqlError(this.#lostMessage(), { code: "08006" });
      case "closed":
        return new SqlError(`The client for ${this.#description} is closed`, {
          code: "08003",
        });
    }
  }

  #lostMessage(): string {
    return `Lost the connection to the ${this.#description}: process ${this.#pid}, which holds the database, closed it or ended`;
  }

  /**
   * Why a call sent and not yet answered fails: as {@linkcode unusable}
   * says, except when the connection was lost while a statement outside a
   * transaction, or a commit, awaited its answer: `08007`, as whether it
   * was stored is unknown (the holder may have run it before it ended).
   */
  #failure(atStake: AtStake): SqlError | undefined {
    if (this.#state !== "lost" || atStake === "none") return this.unusable();
    return new SqlError(
      `${this.#lostMessage()} while ${
        atStake === "commit" ? "committing" : "a statement ran"
      }: whether it was stored is unknown`,
      { code: "08007" },
    );
  }

  async #read(frames: AsyncGenerator<Frame, void, undefined>): Promise<void> {
    try {
      for await (const frame of frames) this.#receive(frame);
    } catch {
      // a broken connection ends like one the holder closed
    }
    if (this.#state === "open") this.#state = "lost";
    this.#failAll();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  #failAll(): void {
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    this.#rowsWanted.clear();
    for (const call of calls) call.reject(this.#failure(call.atStake));
  }

  #receive(frame: Frame): void {
    if (frame.kind === "bytes") {
      const call = this.#calls.get(frame.id);
      if (!call?.onData || call.dataError) return;
      try {
        call.onData(frame.bytes);
      } catch (error) {
        call.dataError = { error };
      }
      return;
    }
    const reply = frame.message as Reply;
    switch (reply.t) {
      case "done":
      case "fail": {
        const call = this.#calls.get(reply.id);
        if (!call) return;
        this.#calls.delete(reply.id);
        if (reply.t === "fail") call.reject(decodeError(reply.error));
        else if (call.dataError) call.reject(call.dataError.error);
        else call.resolve(reply.result);
        return;
      }
      case "rows": {
        const wanted = this.#rowsWanted.get(reply.id);
        this.#rowsWanted.delete(reply.id);
        wanted?.(reply.rows);
        return;
      }
    }
  }

  /**
   * Sends a message that needs no answer (dropped when not open).
   *
   * @throws {RangeError} when the message is too long: nothing is sent.
   */
  send(request: Request): void {
    if (this.#state === "open") this.#writer.send(jsonFrame(request));
  }

  /**
   * Makes a call and resolves to its result.
   *
   * @throws {RangeError} when the call is too long to send: nothing is
   *   sent. (Thrown, not returned as a rejection, so that a transaction
   *   tells a call that never left from one the holder failed.)
   */
  call(
    op: CallOp,
    tx: number | undefined,
    onData?: (chunk: Uint8Array) => void,
    id: number = this.#nextId++,
  ): Promise<Wire> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    const frame = jsonFrame({
      t: "call",
      id,
      ...(tx === undefined ? {} : { tx }),
      ...op,
    });
    const atStake: AtStake = tx === undefined
      ? "statement"
      : op.op === "end" && op.commit
      ? "commit"
      : "none";
    return new Promise<Wire>((resolve, reject) => {
      this.#calls.set(id, { resolve, reject, onData, atStake });
      this.#writer.send(frame);
    });
  }

  /**
   * `copyIn`: the rows travel ahead of the call. Rows whose source fails
   * are still sent up to the failure, with the call told to fail: inside a
   * transaction, that fails the transaction, as a local copy would.
   */
  async copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
    tx: number | undefined,
  ): Promise<number> {
    const unusable = this.unusable();
    if (unusable) throw unusable;
    const id = this.#nextId++;
    let batch: Wire[][] = [];
    let failure: { error: unknown } | undefined;
    try {
      for await (const row of rows) {
        batch.push(row.map(encodeValue));
        if (batch.length >= COPY_ROWS_PER_MESSAGE) {
          this.send({ t: "copyRows", id, rows: batch });
          batch = [];
        }
      }
      if (batch.length > 0) this.send({ t: "copyRows", id, rows: batch });
    } catch (error) {
      // (rows too long to send fail the copy as rows that cannot be read)
      failure = { error };
    }
    const abort = failure
      ? failure.error instanceof Error
        ? failure.error.message
        : String(failure.error)
      : undefined;
    try {
      return await this.call(
        {
          op: "copyIn",
          table,
          columns: [...columns],
          ...(abort === undefined ? {} : { abort }),
        },
        tx,
        undefined,
        id,
      ) as number;
    } catch (error) {
      throw failure ? failure.error : error;
    }
  }

  /** Starts a transaction on the holder; returns its number. */
  begin(): number {
    const unusable = this.unusable();
    if (unusable) throw unusable;
    const tx = this.#nextTx++;
    this.send({ t: "begin", tx });
    return tx;
  }

  /** Registers a callback for an enqueued statement's rows. */
  wantRows(onRows: (rows: Wire[]) => void): number {
    const id = this.#nextId++;
    this.#rowsWanted.set(id, onRows);
    return id;
  }

  /** Forgets the row callbacks of a transaction that has ended. */
  forgetRows(ids: readonly number[]): void {
    for (const id of ids) this.#rowsWanted.delete(id);
  }

  async close(): Promise<void> {
    if (this.#state === "open") {
      this.#state = "closed";
      await this.#writer.drained();
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    }
    await this.reading;
  }
}

class ServedTransaction implements SqlTransaction {
  readonly #channel: Channel;
  readonly #tx: number;
  readonly #signal: AbortSignal | undefined;
  /**
   * A failure of this side: a call that could not be sent (the signal had
   * aborted, a value that cannot be sent, too long a message), an `onData`
   * that threw. The transaction does not commit.
   */
  #failure: { readonly error: unknown } | undefined;
  /**
   * What the next call rejects with: what an `onRows` callback threw, or
   * why a statement enqueued could not be sent.
   */
  #callbackError: { readonly error: unknown } | undefined;
  readonly #rowIds: number[] = [];

  constructor(channel: Channel, tx: number, signal: AbortSignal | undefined) {
    this.#channel = channel;
    this.#tx = tx;
    this.#signal = signal;
  }

  get failure(): { readonly error: unknown } | undefined {
    return this.#failure ?? this.#callbackError;
  }

  forget(): void {
    this.#channel.forgetRows(this.#rowIds);
  }

  /** Notes a call that failed before it was sent: the transaction fails. */
  #unsent(error: unknown): unknown {
    this.#failure ??= { error };
    return error;
  }

  /**
   * Sends a call of the transaction, the signal allowing, and resolves to
   * its result. A call that cannot be sent fails the transaction, as a
   * statement the database refused does: the holder never hears of it.
   */
  async #call(
    build: () => CallOp,
    onData?: (chunk: Uint8Array) => void,
  ): Promise<Wire> {
    let sent: Promise<Wire>;
    try {
      this.#signal?.throwIfAborted();
      sent = this.#channel.call(build(), this.#tx, onData);
    } catch (error) {
      throw this.#unsent(error);
    }
    const result = await sent;
    const callbackError = this.#callbackError;
    if (callbackError) {
      this.#callbackError = undefined;
      throw callbackError.error;
    }
    return result;
  }

  async query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
  ): Promise<Row[]> {
    const result = await this.#call(() => ({
      op: "query",
      statement: wireStatement(text, params),
    }));
    return rowsOf(result) as Row[];
  }

  async batch(statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
    const result = await this.#call(() => ({
      op: "batch",
      statements: statements.map((s) => wireStatement(s.text, s.params)),
    }));
    return (result as Wire[]).map(rowsOf);
  }

  async execute(script: string): Promise<void> {
    await this.#call(() => ({ op: "execute", script }));
  }

  async copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    try {
      this.#signal?.throwIfAborted();
    } catch (error) {
      throw this.#unsent(error);
    }
    // rows that cannot be sent fail the copy on the holder, and with it
    // the transaction
    return await this.#channel.copyIn(table, columns, rows, this.#tx);
  }

  async copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return await this.#call(() => ({ op: "copyOut", query }), (chunk) => {
      try {
        onData(chunk);
      } catch (error) {
        this.#failure ??= { error };
        throw error;
      }
    }) as number;
  }

  enqueue(statement: SqlStatement, onRows?: (rows: SqlRow[]) => void): void {
    let id: number | undefined;
    try {
      this.#signal?.throwIfAborted();
      const wire = wireStatement(statement.text, statement.params);
      if (onRows) {
        id = this.#channel.wantRows((rows) => {
          try {
            onRows(rows.map(decodeRow));
          } catch (error) {
            this.#callbackError ??= { error };
          }
        });
        this.#rowIds.push(id);
      }
      this.#channel.send({
        t: "enqueue",
        tx: this.#tx,
        statement: wire,
        ...(id === undefined ? {} : { id }),
      });
    } catch (error) {
      // never sent: as a statement that failed, it fails the next call and
      // the transaction
      if (id !== undefined) this.#channel.forgetRows([id]);
      this.#callbackError ??= { error };
      this.#unsent(error);
    }
  }

  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    this.#channel.send({ t: "savepoint", tx: this.#tx });
    const failureBefore = this.#failure;
    let result: T;
    try {
      result = await work(this);
    } catch (error) {
      await this.#channel.call({ op: "rollbackTo" }, this.#tx);
      if (failureBefore === undefined) this.#failure = undefined;
      throw error;
    }
    this.#channel.send({ t: "release", tx: this.#tx });
    return result;
  }
}

/**
 * The error of a folder whose socket cannot be reached because its path is
 * too long, or is refused for another reason the path gives.
 */
function unreachableSocket(
  path: string,
  dataDir: string,
  cause: unknown,
): SqlError {
  const bytes = pathBytes(path);
  const reason = cause instanceof Error ? cause.message : String(cause);
  const message = bytes > MAX_SOCKET_PATH
    ? `The embedded database in ${dataDir} is served on the Unix socket ${path}, whose path is ${bytes} bytes: longer than the ${MAX_SOCKET_PATH} bytes a socket's path may have, and no shorter link to it could be made (${reason}). Open it from a working directory nearer to its folder, or keep the database in a folder with a shorter path`
    : `Cannot reach the embedded database in ${dataDir} on the Unix socket ${path}: ${reason}`;
  return new SqlError(message, { code: "08001" }, { cause });
}

/**
 * Connects to the holder's socket. A path longer than a socket's may be (a
 * folder deep down, opened from a working directory far from it) is
 * reached through a symbolic link to the folder in a short temporary
 * folder, removed once connected.
 *
 * @throws {Deno.errors.NotFound} / {Deno.errors.ConnectionRefused} when
 *   nobody listens on the socket.
 * @throws {SqlError} `08001` when the path cannot be used.
 */
async function connectSocket(
  path: string,
  dataDir: string,
): Promise<Deno.UnixConn> {
  if (pathBytes(path) <= MAX_SOCKET_PATH) {
    try {
      return await Deno.connect({ transport: "unix", path });
    } catch (error) {
      // (the system refuses the path: too long after all, say)
      if (error instanceof TypeError) {
        throw unreachableSocket(path, dataDir, error);
      }
      throw error;
    }
  }
  let temporary: string;
  try {
    temporary = await Deno.makeTempDir({ prefix: "sequent-" });
  } catch (error) {
    throw unreachableSocket(path, dataDir, error);
  }
  try {
    const link = join(temporary, "d");
    const short = join(link, basename(path));
    try {
      if (pathBytes(short) > MAX_SOCKET_PATH) {
        throw new Error(`the temporary folder ${temporary} is too deep too`);
      }
      await Deno.symlink(resolve(dirname(path)), link);
    } catch (error) {
      throw unreachableSocket(path, dataDir, error);
    }
    return await Deno.connect({ transport: "unix", path: short });
  } finally {
    // (removes the link, never what it points to)
    await Deno.remove(temporary, { recursive: true }).catch(() => {});
  }
}

/**
 * How {@linkcode ServedClient.connect} connects.
 *
 * @example
 * ```ts
 * const options: ServedConnectOptions = {
 *   holder: "process 42 (deno run app.ts)",
 *   helloTimeoutMs: 5_000,
 * };
 * ```
 */
export interface ServedConnectOptions {
  /** Who holds the folder, for messages (`process 42 (deno run app.ts)`). */
  readonly holder?: string | undefined;
  /** How long to wait for the holder's greeting (default 60 s). */
  readonly helloTimeoutMs?: number | undefined;
}

/** The client of a database served by the process holding its folder. */
export class ServedClient implements SqlClient {
  /** Always `"pglite"`: the database is the holder's PGlite. */
  readonly engine: "pglite" = "pglite";
  /** `embedded PostgreSQL in <folder>, through process <pid>`. */
  readonly description: string;
  readonly #channel: Channel;

  private constructor(channel: Channel, description: string) {
    this.#channel = channel;
    this.description = description;
  }

  /**
   * Connects to the holder's socket and greets it.
   *
   * @param path The socket.
   * @param dataDir The folder, for messages.
   * @param options Who holds it; how long to wait for its greeting.
   * @returns The client, or `undefined` when the holder closed the
   *   connection before answering (it is closing: try again).
   * @throws {Deno.errors.NotFound} / {Deno.errors.ConnectionRefused} when
   *   nobody listens on the socket.
   * @throws {SqlError} `08001` when the socket's path cannot be used, the
   *   holder runs another version, or does not answer in time (it is
   *   stopped, or busy with one statement all that time).
   */
  static async connect(
    path: string,
    dataDir: string,
    options: ServedConnectOptions = {},
  ): Promise<ServedClient | undefined> {
    const conn = await connectSocket(path, dataDir);
    const frames = readFrames(conn);
    const timeoutMs = options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    let hello: Reply | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      conn.write(jsonFrame({ t: "hello", v: PROTOCOL_VERSION })).catch(
        () => {},
      );
      const next = frames.next();
      // (closing the connection ends the read: no rejection goes unheard)
      next.catch(() => {});
      const first = await Promise.race([
        next,
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), timeoutMs);
        }),
      ]);
      if (first === "timeout") {
        try {
          conn.close();
        } catch {
          // already closed
        }
        throw new SqlError(
          `The embedded database in ${dataDir} is held by ${
            options.holder ?? "a process"
          }, which did not answer within ${
            timeoutMs / 1000
          } s: it is stopped, or busy with one statement all that time`,
          { code: "08001" },
        );
      }
      if (!first.done && first.value.kind === "json") {
        hello = first.value.message as Reply;
      }
    } catch (error) {
      if (error instanceof SqlError) throw error;
      hello = undefined;
    } finally {
      clearTimeout(timer);
    }
    if (hello?.t !== "hello") {
      try {
        conn.close();
      } catch {
        // already closed
      }
      return undefined;
    }
    if (hello.v !== PROTOCOL_VERSION) {
      conn.close();
      throw new SqlError(
        `The process holding the embedded database in ${dataDir} (pid ${hello.pid}) runs another version of Sequent (protocol ${hello.v}, this one ${PROTOCOL_VERSION}): run this with the same version`,
        { code: "08001" },
      );
    }
    const description =
      `embedded PostgreSQL in ${dataDir}, through process ${hello.pid}`;
    return new ServedClient(
      new Channel(conn, frames, description, hello.pid),
      description,
    );
  }

  async query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
    options?: SqlOptions,
  ): Promise<Row[]> {
    // the holder runs what it is sent: an abort is checked before sending
    options?.signal?.throwIfAborted();
    const result = await this.#channel.call({
      op: "query",
      statement: wireStatement(text, params),
    }, undefined);
    return rowsOf(result) as Row[];
  }

  async batch(
    statements: readonly SqlStatement[],
    options?: SqlOptions,
  ): Promise<SqlRow[][]> {
    options?.signal?.throwIfAborted();
    const result = await this.#channel.call({
      op: "batch",
      statements: statements.map((s) => wireStatement(s.text, s.params)),
    }, undefined);
    return (result as Wire[]).map(rowsOf);
  }

  async execute(script: string): Promise<void> {
    await this.#channel.call({ op: "execute", script }, undefined);
  }

  copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    return this.#channel.copyIn(table, columns, rows, undefined);
  }

  async copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return await this.#channel.call(
      { op: "copyOut", query },
      undefined,
      onData,
    ) as number;
  }

  /**
   * Runs `work` in a transaction on the holder. The signal is checked
   * before each call is sent and before the commit: once it has aborted,
   * the transaction is rolled back and rejects with its reason.
   */
  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlOptions,
  ): Promise<T> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const tx = this.#channel.begin();
    const transaction = new ServedTransaction(this.#channel, tx, signal);
    const rollBack = () =>
      this.#channel.call({ op: "end", commit: false }, tx).catch(() => {});
    try {
      let result: T;
      try {
        result = await work(transaction);
      } catch (error) {
        await rollBack();
        throw error;
      }
      const failure = transaction.failure ??
        (signal?.aborted ? { error: signal.reason } : undefined);
      if (failure) {
        await rollBack();
        throw failure.error;
      }
      await this.#channel.call({ op: "end", commit: true }, tx);
      return result;
    } finally {
      transaction.forget();
    }
  }

  async close(): Promise<void> {
    await this.#channel.close();
  }
}
