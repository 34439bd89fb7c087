/**
 * The {@linkcode SqlClient} of a process that reaches an embedded database
 * through the process holding its folder (`whenHeld: "use-holder"`): every
 * call is sent to the holder over its Unix socket (protocol: `_holder_protocol.ts`) and
 * run there, on the holder's own client.
 *
 * It behaves as a client on PGlite: transactions take the holder's one
 * transaction slot, BEGIN is lazy, queued statements and savepoints cost no
 * round trip of their own. When the holder ends or closes, pending and later
 * calls fail with an `SqlError` whose `isConnectionError` is true.
 *
 * @module
 */
import type {
  SqlClient,
  SqlCopyRows,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
import { SqlError } from "./sql_error.ts";
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

function wireStatement(
  text: string,
  params: readonly SqlValue[] | undefined,
): WireStatement {
  return { text, params: (params ?? []).map(encodeValue) };
}

function rowsOf(result: Wire): SqlRow[] {
  return (result as Wire[]).map(decodeRow);
}

interface PendingCall {
  resolve(result: Wire): void;
  reject(error: unknown): void;
  onData?: ((chunk: Uint8Array) => void) | undefined;
  /** What `onData` threw: the call rejects with it once the copy ends. */
  dataError?: { readonly error: unknown } | undefined;
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
        return new SqlError(
          `Lost the connection to the ${this.#description}: process ${this.#pid}, which holds the database, closed it or ended`,
          { code: "08006" },
        );
      case "closed":
        return new SqlError(`The client for ${this.#description} is closed`, {
          code: "08003",
        });
    }
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
    for (const call of calls) call.reject(this.unusable());
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

  /** Sends a message that needs no answer (dropped when not open). */
  send(request: Request): void {
    if (this.#state === "open") this.#writer.send(jsonFrame(request));
  }

  /** Makes a call and resolves to its result. */
  call(
    op: CallOp,
    tx: number | undefined,
    onData?: (chunk: Uint8Array) => void,
    id: number = this.#nextId++,
  ): Promise<Wire> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    return new Promise<Wire>((resolve, reject) => {
      this.#calls.set(id, { resolve, reject, onData });
      this.send({ t: "call", id, ...(tx === undefined ? {} : { tx }), ...op });
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
    } catch (error) {
      failure = { error };
    }
    if (batch.length > 0) this.send({ t: "copyRows", id, rows: batch });
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
  /** A failure of this side (an `onData` that threw): no commit. */
  #failure: { readonly error: unknown } | undefined;
  /** What an `onRows` callback threw: the next call rejects with it. */
  #callbackError: { readonly error: unknown } | undefined;
  readonly #rowIds: number[] = [];

  constructor(channel: Channel, tx: number) {
    this.#channel = channel;
    this.#tx = tx;
  }

  get failure(): { readonly error: unknown } | undefined {
    return this.#failure ?? this.#callbackError;
  }

  forget(): void {
    this.#channel.forgetRows(this.#rowIds);
  }

  async #call(op: CallOp, onData?: (chunk: Uint8Array) => void): Promise<Wire> {
    const result = await this.#channel.call(op, this.#tx, onData);
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
    const result = await this.#call({
      op: "query",
      statement: wireStatement(text, params),
    });
    return rowsOf(result) as Row[];
  }

  async batch(statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
    const result = await this.#call({
      op: "batch",
      statements: statements.map((s) => wireStatement(s.text, s.params)),
    });
    return (result as Wire[]).map(rowsOf);
  }

  async execute(script: string): Promise<void> {
    await this.#call({ op: "execute", script });
  }

  copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    return this.#channel.copyIn(table, columns, rows, this.#tx);
  }

  async copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return await this.#call({ op: "copyOut", query }, (chunk) => {
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
      statement: wireStatement(statement.text, statement.params),
      ...(id === undefined ? {} : { id }),
    });
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
   * @returns The client, or `undefined` when the holder closed the
   *   connection before answering (it is closing: try again).
   * @throws {Deno.errors.NotFound} / {Deno.errors.ConnectionRefused} when
   *   nobody listens on the socket.
   */
  static async connect(
    path: string,
    dataDir: string,
  ): Promise<ServedClient | undefined> {
    const conn = await Deno.connect({ transport: "unix", path });
    const frames = readFrames(conn);
    let hello: Reply | undefined;
    try {
      conn.write(jsonFrame({ t: "hello", v: PROTOCOL_VERSION })).catch(
        () => {},
      );
      const first = await frames.next();
      if (!first.done && first.value.kind === "json") {
        hello = first.value.message as Reply;
      }
    } catch {
      hello = undefined;
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
  ): Promise<Row[]> {
    const result = await this.#channel.call({
      op: "query",
      statement: wireStatement(text, params),
    }, undefined);
    return rowsOf(result) as Row[];
  }

  async batch(statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
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

  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const tx = this.#channel.begin();
    const transaction = new ServedTransaction(this.#channel, tx);
    try {
      let result: T;
      try {
        result = await work(transaction);
      } catch (error) {
        await this.#channel.call({ op: "end", commit: false }, tx).catch(
          () => {},
        );
        throw error;
      }
      const failure = transaction.failure;
      await this.#channel.call({ op: "end", commit: !failure }, tx);
      if (failure) throw failure.error;
      return result;
    } finally {
      transaction.forget();
    }
  }

  async close(): Promise<void> {
    await this.#channel.close();
  }
}
