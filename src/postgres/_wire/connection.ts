/**
 * One connection to a PostgreSQL server, speaking the protocol itself: the
 * start-up (TLS, password, SCRAM), statements pipelined on the extended
 * protocol with prepared statements, simple queries, and `COPY` in both
 * directions.
 *
 * A connection is in one of three named states:
 *
 * - `connecting`: the socket is opening, TLS negotiating, the server
 *   authenticating us; statements wait;
 * - `ready`: statements are written as soon as they are issued (several
 *   may be in flight: the server answers them in order);
 * - `closed`: the socket is gone, for good. Every statement still waiting
 *   for its answer was rejected at that moment with a {@linkcode Lost}
 *   saying whether it had been sent.
 *
 * A connection that has asked the server to cancel a statement is not
 * {@linkcode WireConnection.reusable}: the server answers no cancel
 * request, and one that arrives late cancels whatever the connection runs
 * then, which after a release would be another caller's statement.
 *
 * Rows are read in the ISO date style: a session whose `DateStyle` becomes
 * another (a `SET`, the URL's `options`) is closed at once, failing what
 * is pending, rather than reading its dates as invalid ones.
 *
 * Nothing here throws into the event loop: socket errors, a server that
 * ends the session, bytes that break the protocol — each closes the
 * connection and rejects what was pending.
 *
 * @module
 */
import type { Socket } from "node:net";
import type { Endpoint, SslMode } from "../_database_url.ts";
import { md5Password, ScramClient } from "./auth.ts";
import { Lost, ServerError } from "./errors.ts";
import {
  Backend,
  BodyReader,
  cancelRequest,
  MessageReader,
  MessageWriter,
  parseServerFields,
  passwordMessage,
  ProtocolError,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
  terminateMessage,
  utf8,
} from "./protocol.ts";
import {
  type AnyRequest,
  CopyInRequest,
  CopyOutRequest,
  type CopySource,
  ExtendedRequest,
  type Prepared,
  type QueryResult,
  type Request,
  type RequestHost,
  type RequestOptions,
  SimpleRequest,
  WholeCopyInRequest,
} from "./requests.ts";
import { openSocket, readSslAnswer, startTls } from "./socket.ts";
import type { SqlValue } from "../sql_client.ts";

export { Lost, ServerError };
export type { CopySource, QueryResult, RequestOptions };

/** Where and as whom to connect. */
export interface ConnectionConfig {
  /** The servers to try, in order. */
  readonly endpoints: readonly Endpoint[];
  /** The user name. */
  readonly user: string;
  /** The password, if the server asks for one. */
  readonly password: string | undefined;
  /** The database. */
  readonly database: string;
  /** TLS: libpq's `sslmode`. */
  readonly ssl: SslMode;
  /** A PEM file of root certificates for `verify-ca`/`verify-full`. */
  readonly sslRootCert: string | undefined;
  /** Run-time parameters sent at start-up (`application_name`, …). */
  readonly parameters: Readonly<Record<string, string>>;
  /** Milliseconds to wait for the connection to be ready. */
  readonly connectTimeoutMs: number;
  /** Use named prepared statements (turn off behind transaction poolers). */
  readonly prepare: boolean;
  /** `PostgreSQL at host:port/database`, for messages. */
  readonly description: string;
}

/** The states of a connection; see the module documentation. */
export type ConnectionState = "connecting" | "ready" | "closed";

/** The server's transaction status after the last answered request. */
export type TransactionStatus = "idle" | "in-transaction" | "failed";

/** Milliseconds a cancelled request may take to answer before the connection is dropped. */
export const CANCEL_GRACE_MS = 500;

/** At most this many named prepared statements per connection. */
const MAX_PREPARED = 1000;

/** One connection; see the module documentation. */
export class WireConnection implements RequestHost {
  readonly config: ConnectionConfig;
  #state: ConnectionState = "connecting";
  #socket: Socket | undefined;
  readonly #reader = new MessageReader();
  readonly #writer = new MessageWriter();
  /** Issued, not yet written. */
  readonly #unsent: AnyRequest[] = [];
  /** Written, waiting for their answers, in order. */
  readonly #inFlight: AnyRequest[] = [];
  #flushScheduled = false;
  #holding = false;
  #transaction: TransactionStatus = "idle";
  /** Prepared statements by text; one per parameter types (mostly one). */
  readonly #prepared = new Map<string, Prepared[]>();
  #preparedCount = 0;
  #statementCount = 0;
  #pid = 0;
  #secret = 0;
  #endpoint: Endpoint | undefined;
  readonly parameters: Map<string, string> = new Map();
  #closeReason: Lost | undefined;
  /** A cancel request went out; it may land on any later statement. */
  #cancelSent = false;
  #onClose: ((connection: WireConnection) => void) | undefined;
  #startup:
    | {
      readonly resolve: () => void;
      readonly reject: (error: unknown) => void;
      scram?: ScramClient;
    }
    | undefined;
  #drainWaiters: (() => void)[] = [];

  private constructor(config: ConnectionConfig) {
    this.config = config;
  }

  /**
   * Opens a connection: tries each endpoint in order, negotiates TLS as
   * `config.ssl` says, authenticates, and resolves once the server is
   * ready for statements. Rejects with a {@linkcode Lost} (sent: false) or
   * a {@linkcode ServerError} (a refused password, a missing database).
   */
  static async open(
    config: ConnectionConfig,
    onClose?: (connection: WireConnection) => void,
    signal?: AbortSignal,
  ): Promise<WireConnection> {
    signal?.throwIfAborted();
    const connection = new WireConnection(config);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      if (config.connectTimeoutMs > 0) {
        timer = setTimeout(() => {
          reject(
            new Lost(
              `timed out after ${config.connectTimeoutMs} ms`,
              "CONNECT_TIMEOUT",
              false,
            ),
          );
        }, config.connectTimeoutMs);
      }
    });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    deadline.catch(() => {});
    aborted.catch(() => {});
    try {
      await Promise.race([connection.#start(), deadline, aborted]);
    } catch (error) {
      const failure = error instanceof Lost || error instanceof ServerError ||
          error === signal?.reason
        ? error
        : new Lost(
          error instanceof Error ? error.message : String(error),
          (error as { code?: string }).code ?? "CONNECT_FAILED",
          false,
          { cause: error },
        );
      connection.#fail(
        failure instanceof Lost ? failure : new Lost(
          "the connection could not be opened",
          "CONNECT_FAILED",
          false,
        ),
      );
      throw failure;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
    // Closed between its ReadyForQuery and now (a FATAL read in the same
    // chunk): the caller would hold a connection whose close it never
    // hears of, and a pool would count it open for ever.
    const lost = connection.#closeReason;
    if (lost !== undefined) {
      throw new Lost(lost.message, lost.code, false, { cause: lost });
    }
    connection.#onClose = onClose;
    return connection;
  }

  /** The connection's state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Whether the connection is closed (for the requests). */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /** The server's transaction status after the last answer. */
  get transactionStatus(): TransactionStatus {
    return this.#transaction;
  }

  /** Whether requests are issued and not yet answered. */
  get busy(): boolean {
    return this.#unsent.length > 0 || this.#inFlight.length > 0;
  }

  /**
   * Whether another caller may use the connection now: ready, nothing
   * pending, outside a transaction, and no cancel request sent (see the
   * module documentation).
   */
  get reusable(): boolean {
    return this.#state === "ready" && !this.busy &&
      this.#transaction === "idle" && !this.#cancelSent;
  }

  /** The server process serving this connection. */
  get pid(): number {
    return this.#pid;
  }

  /** Why the connection closed, once it has. */
  get closeReason(): Lost | undefined {
    return this.#closeReason;
  }

  async #start(): Promise<void> {
    let failure: unknown;
    for (const endpoint of this.config.endpoints) {
      if (this.#state === "closed") break;
      try {
        let socket: Socket = await openSocket(endpoint);
        this.#socket = socket;
        socket.on("error", () => {});
        if (this.config.ssl !== "disable" && "host" in endpoint) {
          socket.write(sslRequest());
          const answer = await readSslAnswer(socket);
          if (answer === 0x53) {
            socket = await startTls(socket, endpoint, this.config);
            this.#socket = socket;
            socket.on("error", () => {});
          } else if (answer !== 0x4e) {
            throw new ProtocolError("an unknown answer to SSLRequest");
          } else if (this.config.ssl !== "prefer") {
            throw new Lost(
              `the server does not accept TLS (sslmode=${this.config.ssl})`,
              "NO_TLS",
              false,
            );
          }
        }
        this.#endpoint = endpoint;
        await this.#startup_(socket);
        return;
      } catch (error) {
        failure = error;
        this.#socket?.destroy();
        this.#socket = undefined;
        // a refused password or a missing database is the same on every host
        if (error instanceof ServerError) break;
      }
    }
    throw failure ?? new Lost("no server to connect to", "NO_HOST", false);
  }

  #startup_(socket: Socket): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.#startup = { resolve, reject };
    });
    socket.removeAllListeners("error");
    socket.on("data", (chunk: Uint8Array) => this.#receive(chunk));
    socket.on("error", (error: Error & { code?: string }) => {
      this.#fail(
        new Lost(error.message, error.code ?? "SOCKET_ERROR", true, {
          cause: error,
        }),
      );
    });
    socket.on("close", () => {
      this.#fail(
        new Lost("the server closed the connection", "CLOSED", true),
      );
    });
    socket.on("drain", () => {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    });
    if (typeof socket.setKeepAlive === "function") {
      socket.setKeepAlive(true, 30_000);
    }
    socket.write(startupMessage({
      user: this.config.user,
      database: this.config.database,
      client_encoding: "UTF8",
      DateStyle: "ISO",
      ...this.config.parameters,
    }));
    return ready;
  }

  #receive(chunk: Uint8Array): void {
    if (this.#state === "closed") return;
    try {
      this.#reader.push(
        chunk,
        (type, body) => this.#dispatch(type, body),
        (data, start, end) =>
          this.#state === "ready" &&
          this.#inFlight[0]?.copyData(data, start, end) === true,
      );
    } catch (error) {
      this.#fail(
        new Lost(
          error instanceof Error ? error.message : String(error),
          "PROTOCOL",
          true,
          { cause: error },
        ),
      );
    }
  }

  #dispatch(type: number, body: Uint8Array): void {
    if (this.#state === "closed") return;
    switch (type) {
      case Backend.NoticeResponse:
      case Backend.NotificationResponse:
        return;
      case Backend.ParameterStatus: {
        const r = new BodyReader(body);
        const name = r.cstring();
        const value = r.cstring();
        this.parameters.set(name, value);
        if (name === "DateStyle" && !value.startsWith("ISO")) {
          this.#fail(
            new Lost(
              `the session's DateStyle is "${value}": this client reads dates only in the ISO style`,
              "DATESTYLE",
              false,
            ),
          );
        }
        return;
      }
    }
    if (this.#state === "connecting") {
      this.#handleStartup(type, body);
      return;
    }
    const head = this.#inFlight[0];
    if (!head) {
      if (type === Backend.ErrorResponse) {
        // the server ends the session (e.g. pg_terminate_backend while idle)
        const fields = parseServerFields(body);
        this.#fail(
          new Lost(
            fields.message ?? "the server ended the session",
            fields.code ?? "CLOSED",
            true,
          ),
        );
        return;
      }
      throw new ProtocolError(
        `message '${String.fromCharCode(type)}' with no statement waiting`,
      );
    }
    if (head.handle(type, body)) {
      this.#inFlight.shift();
      const status = body[0];
      this.#transaction = status === 0x54
        ? "in-transaction"
        : status === 0x45
        ? "failed"
        : "idle";
      if (head.holdsWrites) {
        this.#holding = false;
        if (this.#unsent.length > 0) this.#scheduleFlush();
      }
      if (head instanceof ExtendedRequest && head.stalePlan) {
        this.forget(head);
        // Alone on the connection and outside a transaction, the statement
        // runs again at once: nothing ran after it that it could overtake.
        if (
          this.#transaction === "idle" && !this.busy && !head.signal?.aborted
        ) {
          const again = head.again();
          again.promise.then(
            (result) => head.resolve(result),
            (error) => head.reject(error),
          );
          this.#unsent.push(again);
          this.#scheduleFlush();
          return;
        }
      }
      head.finish();
    }
  }

  #handleStartup(type: number, body: Uint8Array): void {
    const startup = this.#startup!;
    switch (type) {
      case Backend.Authentication:
        this.#authenticate(body).catch((error) => startup.reject(error));
        return;
      case Backend.BackendKeyData: {
        const r = new BodyReader(body);
        this.#pid = r.int32();
        this.#secret = r.int32();
        return;
      }
      case Backend.ReadyForQuery:
        this.#state = "ready";
        this.#startup = undefined;
        startup.resolve();
        if (this.#unsent.length > 0) this.#scheduleFlush();
        return;
      case Backend.ErrorResponse:
        startup.reject(new ServerError(parseServerFields(body)));
        return;
      case Backend.NegotiateProtocolVersion:
        return;
      default:
        startup.reject(
          new ProtocolError(
            `message '${String.fromCharCode(type)}' during start-up`,
          ),
        );
    }
  }

  async #authenticate(body: Uint8Array): Promise<void> {
    const r = new BodyReader(body);
    const kind = r.int32();
    const startup = this.#startup!;
    const needPassword = (): string => {
      if (this.config.password === undefined) {
        throw new ServerError({
          code: "28P01",
          message:
            `The server asks for a password for user "${this.config.user}" and none was given`,
        });
      }
      return this.config.password;
    };
    switch (kind) {
      case 0: // AuthenticationOk
        return;
      case 3: // cleartext
        this.#socket!.write(passwordMessage(needPassword()));
        return;
      case 5: // MD5
        this.#socket!.write(
          passwordMessage(
            md5Password(this.config.user, needPassword(), r.bytes(4)),
          ),
        );
        return;
      case 10: { // SASL
        const mechanisms: string[] = [];
        for (let m = r.cstring(); m !== ""; m = r.cstring()) mechanisms.push(m);
        if (!mechanisms.includes("SCRAM-SHA-256")) {
          throw new ProtocolError(
            `only SASL mechanisms ${mechanisms.join(", ")}`,
          );
        }
        startup.scram = new ScramClient(needPassword());
        this.#socket!.write(
          saslInitialResponse("SCRAM-SHA-256", startup.scram.first()),
        );
        return;
      }
      case 11: { // SASL continue
        const scram = startup.scram;
        if (!scram) throw new ProtocolError("SASL data without SASL");
        const final = await scram.final(utf8(r.rest()));
        if (this.#state === "connecting") {
          this.#socket!.write(saslResponse(final));
        }
        return;
      }
      case 12: // SASL final
        startup.scram?.verify(utf8(r.rest()));
        return;
      default:
        throw new ProtocolError(`authentication method ${kind}`);
    }
  }

  /** The prepared statement `request` uses, if any; registers first uses. */
  preparedFor(request: ExtendedRequest): Prepared | undefined {
    if (!this.config.prepare) return undefined;
    let variants = this.#prepared.get(request.text);
    if (variants !== undefined) {
      for (const known of variants) {
        if (sameTypes(known.types, request.types)) return known;
      }
    }
    if (this.#preparedCount >= MAX_PREPARED) return undefined;
    const prepared: Prepared = {
      name: `sequent_${++this.#statementCount}`,
      columns: undefined,
      types: request.types,
    };
    if (variants === undefined) {
      this.#prepared.set(request.text, variants = []);
    }
    variants.push(prepared);
    this.#preparedCount++;
    request.parses = true;
    return prepared;
  }

  /** Drops a prepared statement whose Parse failed or went stale. */
  forget(request: ExtendedRequest): void {
    const variants = this.#prepared.get(request.text);
    const at = variants?.findIndex((p) => sameTypes(p.types, request.types)) ??
      -1;
    if (at >= 0) {
      variants!.splice(at, 1);
      this.#preparedCount--;
      if (variants!.length === 0) this.#prepared.delete(request.text);
    }
  }

  #check(): void {
    if (this.#state === "closed") {
      // whatever closed it, this request was never sent
      const reason = this.#closeReason;
      throw new Lost(
        reason?.message ?? "the connection is closed",
        reason?.code ?? "CLOSED",
        false,
        { cause: reason },
      );
    }
  }

  #issue<T>(request: Request<T> & AnyRequest): Promise<T> {
    this.#check();
    const signal = request.signal;
    if (signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      request.onAbort = () => this.#abort(request);
      signal.addEventListener("abort", request.onAbort, { once: true });
    }
    this.#unsent.push(request);
    this.#scheduleFlush();
    return request.promise;
  }

  #abort(request: AnyRequest): void {
    if (request.settled) return;
    const reason = request.signal?.reason;
    if (!request.sent) {
      const at = this.#unsent.indexOf(request);
      if (at >= 0) this.#unsent.splice(at, 1);
      request.reject(reason);
      return;
    }
    // Sent: ask the server to cancel, and give it a moment to answer.
    this.cancel().catch(() => {});
    const timer = setTimeout(() => {
      if (!request.settled) {
        this.#fail(
          new Lost(
            `the server did not answer a cancelled statement within ${CANCEL_GRACE_MS} ms`,
            "CANCEL_TIMEOUT",
            true,
          ),
        );
      }
    }, CANCEL_GRACE_MS);
    request.promise.then(() => clearTimeout(timer), () => clearTimeout(timer));
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#state !== "ready") return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#state !== "ready" || this.#holding) return;
    const w = this.#writer;
    const first = this.#inFlight.length;
    while (this.#unsent.length > 0 && !this.#holding) {
      const request = this.#unsent.shift()!;
      try {
        request.write(w);
      } catch (error) {
        this.#unwritable(request, error, first);
        return;
      }
      request.sent = true;
      this.#inFlight.push(request);
      if (request.holdsWrites) this.#holding = true;
    }
    if (w.length > 0) this.#socket!.write(w.take());
  }

  /**
   * A request whose messages cannot be written (too large to build): it
   * fails with its error, and the connection closes. Going on without it
   * could commit a transaction that lacks it, since the statements
   * pipelined behind it (a `COMMIT`) would run; closing rolls that
   * transaction back. Nothing of this flush was written: the requests it
   * had taken are rejected as never sent.
   */
  #unwritable(request: AnyRequest, error: unknown, first: number): void {
    this.#writer.take();
    for (const taken of this.#inFlight.splice(first).reverse()) {
      taken.sent = false;
      this.#unsent.unshift(taken);
    }
    request.reject(error);
    this.#fail(
      new Lost(
        `a statement could not be written (${
          error instanceof Error ? error.message : String(error)
        })`,
        "UNWRITABLE",
        false,
        { cause: error },
      ),
    );
  }

  /** Writes bytes at once (for COPY data), resolving when the socket can take more. */
  writeNow(bytes: Uint8Array): Promise<void> {
    if (this.#state === "closed") {
      return Promise.reject(this.#closeReason);
    }
    if (this.#socket!.write(bytes)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
    });
  }

  /**
   * Runs one statement on the extended protocol. One that cannot be sent
   * (a parameter that cannot be encoded, more than 65,535 parameters)
   * rejects before anything of it is written, the connection unchanged.
   *
   * @param text The SQL, with `$1`… placeholders.
   * @param params Their values.
   * @param options An abort signal.
   * @returns The rows and command tag.
   */
  query(
    text: string,
    params: readonly (SqlValue | Uint8Array)[] = [],
    options: RequestOptions = {},
  ): Promise<QueryResult> {
    try {
      return this.issueQuery(text, params, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * {@linkcode WireConnection.query}, except that a statement that cannot
   * be issued throws at once instead of rejecting later: for a
   * transaction, which must know before it sends its `COMMIT` that a
   * statement of it never went out.
   *
   * @param text The SQL, with `$1`… placeholders.
   * @param params Their values.
   * @param options An abort signal.
   * @returns The rows and command tag.
   * @throws {TypeError} when a parameter cannot be encoded.
   * @throws {RangeError} for more than 65,535 parameters (PostgreSQL's
   *   limit: the protocol counts them in 16 bits).
   * @throws {Lost} when the connection is closed.
   */
  issueQuery(
    text: string,
    params: readonly (SqlValue | Uint8Array)[] = [],
    options: RequestOptions = {},
  ): Promise<QueryResult> {
    return this.#issue(
      new ExtendedRequest(this, text, params, options.signal),
    );
  }

  /**
   * Runs a script on the simple protocol; resolves with the last command tag.
   *
   * @param text One or more statements, without parameters.
   * @param options An abort signal.
   * @returns The command tag of the last statement.
   */
  simpleQuery(text: string, options: RequestOptions = {}): Promise<string> {
    try {
      const request = new SimpleRequest(text, options.signal);
      request.connectionWrite = (bytes) => {
        this.writeNow(bytes).catch(() => {});
      };
      return this.#issue(request);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs a `COPY … TO STDOUT`, handing its data to `onData` in order.
   *
   * @param text The whole `COPY` statement.
   * @param onData Receives the data in chunks.
   * @param options An abort signal.
   * @returns How many rows were read.
   */
  copyOut(
    text: string,
    onData: (chunk: Uint8Array) => void,
    options: RequestOptions = {},
  ): Promise<number> {
    try {
      return this.#issue(new CopyOutRequest(text, onData, options.signal));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs a `COPY … FROM STDIN` whose data is all given, written with the
   * statement at once: statements issued after it are written right
   * behind it, not held back until it has ended.
   *
   * @param text The whole `COPY` statement.
   * @param chunks The data, in PostgreSQL's COPY text format.
   * @param options An abort signal.
   * @returns The number of rows the server reports.
   */
  copyInWhole(
    text: string,
    chunks: readonly string[],
    options: RequestOptions = {},
  ): Promise<number> {
    try {
      return this.#issue(new WholeCopyInRequest(text, chunks, options.signal));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs a `COPY … FROM STDIN` with data from `source`; statements issued
   * meanwhile are written once it has ended.
   *
   * @param text The whole `COPY` statement.
   * @param source The data, in PostgreSQL's COPY text format.
   * @param options An abort signal.
   * @returns The number of rows the server reports.
   */
  copyIn(
    text: string,
    source: CopySource,
    options: RequestOptions = {},
  ): Promise<number> {
    try {
      return this.#issue(new CopyInRequest(this, text, source, options.signal));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Asks the server to cancel what this connection runs now (on a socket
   * of its own, as the protocol wants). Resolves once the request is sent.
   * From then on the connection is not {@linkcode WireConnection.reusable}.
   */
  async cancel(): Promise<void> {
    if (!this.#endpoint || this.#pid === 0) return;
    this.#cancelSent = true;
    const socket = await openSocket(this.#endpoint);
    socket.on("error", () => {});
    await new Promise<void>((resolve) => {
      socket.end(cancelRequest(this.#pid, this.#secret), () => resolve());
    });
    socket.destroy();
  }

  /**
   * Ends the session: waits for what is in flight, then says goodbye and
   * closes the socket.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.#state === "closed") return;
    const pending = [...this.#unsent, ...this.#inFlight].map((r) =>
      r.promise.catch(() => {})
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(pending),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (this.state === "closed") return;
    const socket = this.#socket;
    this.#fail(new Lost("the connection was closed", "CLOSED", false));
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.end(terminateMessage());
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 1000);
      });
    }
  }

  /**
   * Closes the connection now, rejecting everything pending with `reason`.
   *
   * @param reason Why.
   */
  destroy(reason: Lost): void {
    this.#fail(reason);
  }

  #fail(reason: Lost): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#closeReason = reason;
    const socket = this.#socket;
    if (socket && !socket.destroyed && reason.code !== "CLOSED") {
      socket.destroy();
    } else if (socket && !socket.destroyed && reason.code === "CLOSED") {
      // a polite close is in progress (see close()); nothing to do
    }
    if (this.#startup) {
      this.#startup.reject(reason);
      this.#startup = undefined;
    }
    for (const w of this.#drainWaiters.splice(0)) w();
    for (const request of this.#unsent.splice(0)) {
      request.reject(
        new Lost(reason.message, reason.code, false, { cause: reason }),
      );
    }
    for (const request of this.#inFlight.splice(0)) {
      // a server error already received (57P01 …) says more than the loss
      request.reject(
        request.error ??
          new Lost(reason.message, reason.code, true, { cause: reason }),
      );
    }
    this.#onClose?.(this);
  }
}

/** Whether two statements' parameter types are the same. */
function sameTypes(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
