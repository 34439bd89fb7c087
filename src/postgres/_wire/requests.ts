/**
 * The requests a connection pipelines, one class per kind: a statement on
 * the extended protocol (prepared, or unnamed), a simple query, and
 * `COPY` out and in. Each writes its messages and then handles the
 * server's answers, in order, up to its ReadyForQuery.
 *
 * @module
 */
import {
  Backend,
  type Column,
  copyDataMessage,
  copyDataTextMessage,
  copyDoneMessage,
  copyFailMessage,
  MAX_PARAMETERS,
  type MessageWriter,
  parseCommandTag,
  parseRowDescription,
  parseServerFields,
  ProtocolError,
  utf8At,
  writeBind,
  writeDescribe,
  writeExecute,
  writeParse,
  writeQuery,
  writeSync,
} from "./protocol.ts";
import {
  decodeValue,
  encodeParameter,
  FROM_TEXT,
  parameterType,
  valueAt,
} from "./values.ts";
import { ServerError } from "./errors.ts";
import type { SqlRow, SqlValue } from "../sql_client.ts";

/** What a request needs of the connection it runs on. */
export interface RequestHost {
  /** Whether the connection is closed. */
  readonly closed: boolean;
  /** The prepared statement a request uses, if any (registers first uses). */
  preparedFor(request: ExtendedRequest): Prepared | undefined;
  /** Drops a prepared statement that failed or went stale. */
  forget(request: ExtendedRequest): void;
  /** Writes bytes at once, resolving when the socket can take more. */
  writeNow(bytes: Uint8Array): Promise<void>;
}

/** A named prepared statement, and its columns once described. */
export interface Prepared {
  /** The statement's name on the server. */
  readonly name: string;
  /** Set when the statement's Describe has been answered. */
  columns: Column[] | undefined;
  /** The parameter types it was parsed with (see `ExtendedRequest.types`). */
  readonly types: readonly number[];
}

/** What a statement on the extended protocol gives back. */
export interface QueryResult {
  /** The rows, as plain objects keyed by column name. */
  readonly rows: SqlRow[];
  /** The command tag (`INSERT 0 1`, `SELECT 3`, …). */
  readonly command: string;
}

/** Options of one request. */
export interface RequestOptions {
  /**
   * Aborts the request: unsent, it is dropped; sent, the server is asked to
   * cancel it, and if it has not answered `cancelGraceMs` later the
   * connection is closed. The promise rejects with the signal's reason.
   */
  readonly signal?: AbortSignal | undefined;
}

/** A request's part in the pipeline. */
export abstract class Request<T> {
  sent = false;
  settled = false;
  error: ServerError | undefined;
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: unknown) => void;
  readonly promise: Promise<T>;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;

  constructor(signal: AbortSignal | undefined) {
    let resolve!: (value: T) => void;
    let reject!: (error: unknown) => void;
    this.promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#resolve = resolve;
    this.#reject = reject;
    this.signal = signal;
  }

  resolve(value: T): void {
    if (this.settled) return;
    this.settled = true;
    this.#detach();
    this.#resolve(value);
  }

  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#detach();
    this.#reject(error);
  }

  #detach(): void {
    if (this.onAbort) this.signal?.removeEventListener("abort", this.onAbort);
  }

  /**
   * What to reject with for a server error: the abort reason when the
   * server cancelled the statement because we asked it to.
   */
  failure(error: ServerError): unknown {
    return this.signal?.aborted && error.fields.code === "57014"
      ? this.signal.reason
      : error;
  }

  /** Whether this request stops later ones from being written until it ends. */
  get holdsWrites(): boolean {
    return false;
  }

  /** Writes the request's messages. */
  abstract write(w: MessageWriter): void;

  /** Handles one message; true when the request's ReadyForQuery came. */
  abstract handle(type: number, body: Uint8Array): boolean;

  /**
   * Takes a CopyData message's body as a range of the bytes read (no view
   * made for it); false when this request wants it through `handle`.
   */
  copyData(_data: Uint8Array, _start: number, _end: number): boolean {
    return false;
  }
}

function isSkippable(type: number): boolean {
  return type === Backend.ParseComplete || type === Backend.BindComplete ||
    type === Backend.ParameterDescription || type === Backend.CloseComplete ||
    type === Backend.NoData || type === Backend.PortalSuspended ||
    type === Backend.EmptyQueryResponse;
}

/** Decodes a DataRow body into an object keyed by the columns' names. */
function decodeRow(body: Uint8Array, columns: readonly Column[]): SqlRow {
  const row: SqlRow = {};
  const count = (body[0]! << 8) | body[1]!;
  let at = 2;
  for (let i = 0; i < count; i++) {
    const length = (body[at]! << 24) | (body[at + 1]! << 16) |
      (body[at + 2]! << 8) | body[at + 3]!;
    at += 4;
    const column = columns[i]!;
    if (length < 0) {
      row[column.name] = null;
      continue;
    }
    let value = column.text
      ? FROM_TEXT
      : valueAt(body, at, length, column.type);
    if (value === FROM_TEXT) {
      const text = utf8At(body, at, length);
      value = column.text ? text : decodeValue(text, column.type);
    }
    at += length;
    row[column.name] = value;
  }
  return row;
}

/** A statement's text cut short for a message. */
function preview(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

/** A count with its thousands grouped (`65,536`), for a message. */
function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, ",");
}

/**
 * Refuses a statement of more parameters than PostgreSQL takes (Parse and
 * Bind count them in 16 bits), naming the count and the limit; the
 * embedded client checks its statements with it too.
 *
 * @throws {RangeError} for more than {@linkcode MAX_PARAMETERS}.
 */
export function checkParameterCount(text: string, count: number): void {
  if (count > MAX_PARAMETERS) {
    throw new RangeError(
      `Too many parameters: "${preview(text)}" has ${
        grouped(count)
      }, and PostgreSQL takes at most ${grouped(MAX_PARAMETERS)}`,
    );
  }
}

/**
 * A statement on the extended protocol: Parse (unless prepared before),
 * Bind, Describe, Execute and Sync, its parameters in text format.
 */
export class ExtendedRequest extends Request<QueryResult> {
  readonly #connection: RequestHost;
  readonly text: string;
  readonly #params: readonly (string | null)[];
  readonly #rawParams: readonly (SqlValue | Uint8Array)[];
  /**
   * The parameters' type oids (0: left to the server): with the text, what
   * names a prepared statement. Compared as numbers, not joined into a
   * key: finding the statement hashes only the text string the caller
   * passed (its hash is kept with it).
   */
  readonly types: readonly number[];
  prepared: Prepared | undefined;
  /** This request parses the prepared statement (its first use). */
  parses = false;
  #columns: Column[] | undefined;
  readonly #rows: SqlRow[] = [];
  #command = "";

  /**
   * Encodes the parameters at once, so that a statement that cannot be
   * sent fails before it is queued.
   *
   * @throws {RangeError} for more than {@linkcode MAX_PARAMETERS}
   *   parameters.
   * @throws {TypeError} when a parameter cannot be encoded, naming it.
   */
  constructor(
    connection: RequestHost,
    text: string,
    params: readonly (SqlValue | Uint8Array)[],
    signal: AbortSignal | undefined,
  ) {
    super(signal);
    this.#connection = connection;
    this.text = text;
    this.#rawParams = params;
    const n = params.length;
    // refused here, before anything is written: the connection stays as it was
    checkParameterCount(text, n);
    const types = new Array<number>(n);
    const encoded = new Array<string | null>(n);
    let i = 0;
    try {
      for (; i < n; i++) {
        const value = params[i]!;
        types[i] = parameterType(value);
        encoded[i] = encodeParameter(value);
      }
    } catch (error) {
      // a statement may have many parameters: say which one
      throw new TypeError(
        `Parameter $${i + 1} of "${preview(text)}": ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
    this.types = types;
    this.#params = encoded;
  }

  write(w: MessageWriter): void {
    const prepared = this.#connection.preparedFor(this);
    if (prepared) {
      this.prepared = prepared;
      if (this.parses) {
        writeParse(w, prepared.name, this.text, this.types);
        writeDescribe(w, "S", prepared.name);
      }
      writeBind(w, prepared.name, this.#params);
    } else {
      writeParse(w, "", this.text, this.types);
      writeBind(w, "", this.#params);
      writeDescribe(w, "P", "");
    }
    writeExecute(w);
    writeSync(w);
  }

  handle(type: number, body: Uint8Array): boolean {
    switch (type) {
      case Backend.DataRow: {
        const columns = this.#columns ?? this.prepared?.columns;
        if (!columns) throw new ProtocolError("a row before its description");
        this.#rows.push(decodeRow(body, columns));
        return false;
      }
      case Backend.RowDescription:
        this.#columns = parseRowDescription(body);
        if (this.parses && this.prepared) this.prepared.columns = this.#columns;
        return false;
      case Backend.NoData:
        this.#columns = [];
        if (this.parses && this.prepared) this.prepared.columns = [];
        return false;
      case Backend.CommandComplete:
        this.#command = parseCommandTag(body);
        return false;
      case Backend.ErrorResponse:
        this.error = new ServerError(parseServerFields(body));
        if (this.parses && this.prepared?.columns === undefined) {
          this.#connection.forget(this);
        }
        return false;
      case Backend.ReadyForQuery:
        return true;
      default:
        if (isSkippable(type)) return false;
        throw new ProtocolError(
          `message '${String.fromCharCode(type)}' during a statement`,
        );
    }
  }

  finish(): void {
    if (this.error) this.reject(this.failure(this.error));
    else this.resolve({ rows: this.#rows, command: this.#command });
  }

  /**
   * Whether the statement failed because its prepared plan went stale: a
   * table it reads was replaced by one with other columns (`cached plan
   * must not change result type`). The statement did nothing; prepared
   * anew, it runs.
   */
  get stalePlan(): boolean {
    return this.prepared !== undefined && !this.parses &&
      this.error?.fields.code === "0A000" &&
      this.error.fields.routine === "RevalidateCachedQuery";
  }

  /** A fresh copy of this request, to run again. */
  again(): ExtendedRequest {
    return new ExtendedRequest(
      this.#connection,
      this.text,
      this.#rawParams,
      this.signal,
    );
  }
}

export class SimpleRequest extends Request<string> {
  readonly #text: string;
  #command = "";

  constructor(text: string, signal: AbortSignal | undefined) {
    super(signal);
    this.#text = text;
  }

  write(w: MessageWriter): void {
    writeQuery(w, this.#text);
  }

  handle(type: number, body: Uint8Array): boolean {
    switch (type) {
      case Backend.CommandComplete:
        this.#command = parseCommandTag(body);
        return false;
      case Backend.ErrorResponse:
        this.error ??= new ServerError(parseServerFields(body));
        return false;
      case Backend.RowDescription:
      case Backend.DataRow:
        return false;
      case Backend.CopyInResponse:
        // a COPY FROM STDIN in a script: refuse the data we do not have
        this.connectionWrite?.(
          copyFailMessage("COPY FROM STDIN needs copyIn()"),
        );
        return false;
      case Backend.CopyOutResponse:
      case Backend.CopyData:
      case Backend.CopyDone:
        return false;
      case Backend.ReadyForQuery:
        return true;
      default:
        if (isSkippable(type)) return false;
        throw new ProtocolError(
          `message '${String.fromCharCode(type)}' during a query`,
        );
    }
  }

  connectionWrite: ((bytes: Uint8Array) => void) | undefined;

  finish(): void {
    if (this.error) this.reject(this.failure(this.error));
    else this.resolve(this.#command);
  }
}

/** How many bytes of a `COPY … TO STDOUT` are handed over at a time. */
const COPY_OUT_CHUNK = 65536;
/**
 * Rows up to this size are copied into the chunk byte by byte, which makes
 * no view object; longer ones with `set` on a view. Measured here: 15–37 ns
 * by byte against 46–50 ns with a view up to 32 bytes, and 130 ns against
 * 45 ns at 120 (a replayed event's row): past some 36 bytes the native copy
 * wins.
 */
const SMALL_ROW = 32;

export class CopyOutRequest extends Request<number> {
  readonly #text: string;
  readonly #onData: (chunk: Uint8Array) => void;
  /** The rows: one CopyData message each, in the text format. */
  #rows = 0;
  /** The chunk being filled: each row (CopyData) is copied in as it comes. */
  #chunk: Uint8Array | undefined;
  #held = 0;
  #thrown: { readonly error: unknown } | undefined;

  constructor(
    text: string,
    onData: (chunk: Uint8Array) => void,
    signal: AbortSignal | undefined,
  ) {
    super(signal);
    this.#text = text;
    this.#onData = onData;
  }

  write(w: MessageWriter): void {
    writeQuery(w, this.#text);
  }

  #handOver(chunk: Uint8Array): void {
    if (this.#thrown) return;
    try {
      this.#onData(chunk);
    } catch (error) {
      this.#thrown = { error };
    }
  }

  /** Hands over the chunk being filled, if it holds anything. */
  #handOverHeld(): void {
    if (this.#held === 0) return;
    this.#handOver(this.#chunk!.subarray(0, this.#held));
    this.#chunk = undefined;
    this.#held = 0;
  }

  /**
   * Copies a row (a CopyData body: `data` from `start` to `end`) into the
   * chunk being filled; hands the chunk over first when it would overflow.
   */
  override copyData(data: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    this.#rows++;
    if (this.#held + length > COPY_OUT_CHUNK) this.#handOverHeld();
    if (length >= COPY_OUT_CHUNK) {
      // a row as large as a chunk goes alone, as it came: a view of the
      // bytes read, which nothing writes to again (each read is new)
      this.#handOver(data.subarray(start, end));
      return true;
    }
    const chunk = this.#chunk ??= new Uint8Array(COPY_OUT_CHUNK);
    if (length <= SMALL_ROW) {
      // byte by byte: no view object made for each of a copy's many rows
      let at = this.#held;
      for (let i = start; i < end; i++) chunk[at++] = data[i]!;
    } else {
      chunk.set(data.subarray(start, end), this.#held);
    }
    this.#held += length;
    return true;
  }

  handle(type: number, body: Uint8Array): boolean {
    switch (type) {
      case Backend.CopyData:
        this.copyData(body, 0, body.length);
        return false;
      case Backend.CopyDone:
        this.#handOverHeld();
        return false;
      case Backend.CopyOutResponse:
      case Backend.CommandComplete:
        return false;
      case Backend.ErrorResponse:
        this.error ??= new ServerError(parseServerFields(body));
        return false;
      case Backend.ReadyForQuery:
        return true;
      default:
        if (isSkippable(type) || type === Backend.RowDescription) return false;
        throw new ProtocolError(
          `message '${String.fromCharCode(type)}' during COPY TO STDOUT`,
        );
    }
  }

  finish(): void {
    if (this.error) this.reject(this.failure(this.error));
    else if (this.#thrown) this.reject(this.#thrown.error);
    else this.resolve(this.#rows);
  }
}

/** What a `COPY … FROM STDIN` reads its data from. */
export type CopySource =
  | Iterable<string | Uint8Array>
  | AsyncIterable<string | Uint8Array>;

/**
 * What the two ways of running a `COPY … FROM STDIN` share: the server's
 * answers, the row count it reports, and how the request settles.
 */
abstract class CopyInAnswers extends Request<number> {
  #count = 0;
  /** A failure of our side of the copy (its data), reported first. */
  protected failed: { readonly error: unknown } | undefined;

  /** The server is ready for the data (its `CopyInResponse`). */
  protected abstract ready(): void;

  handle(type: number, body: Uint8Array): boolean {
    switch (type) {
      case Backend.CopyInResponse:
        this.ready();
        return false;
      case Backend.CommandComplete: {
        const tag = parseCommandTag(body);
        this.#count = Number(tag.split(" ").pop()) || 0;
        return false;
      }
      case Backend.ErrorResponse:
        this.error ??= new ServerError(parseServerFields(body));
        return false;
      case Backend.ReadyForQuery:
        return true;
      default:
        if (isSkippable(type)) return false;
        throw new ProtocolError(
          `message '${String.fromCharCode(type)}' during COPY FROM STDIN`,
        );
    }
  }

  finish(): void {
    if (this.failed) this.reject(this.failed.error);
    else if (this.error) this.reject(this.failure(this.error));
    else this.resolve(this.#count);
  }
}

/**
 * A `COPY … FROM STDIN` whose data comes from a source read as the copy
 * goes, once the server is ready for it: later statements are held back
 * until it has ended.
 */
export class CopyInRequest extends CopyInAnswers {
  readonly #text: string;
  readonly #source: CopySource;
  readonly #connection: RequestHost;
  #started = false;

  constructor(
    connection: RequestHost,
    text: string,
    source: CopySource,
    signal: AbortSignal | undefined,
  ) {
    super(signal);
    this.#connection = connection;
    this.#text = text;
    this.#source = source;
  }

  override get holdsWrites(): boolean {
    return true;
  }

  write(w: MessageWriter): void {
    writeQuery(w, this.#text);
  }

  protected ready(): void {
    if (!this.#started) {
      this.#started = true;
      this.#pump().catch(() => {});
    }
  }

  async #pump(): Promise<void> {
    try {
      for await (const chunk of this.#source) {
        if (this.settled || this.#connection.closed) return;
        if (chunk.length === 0) continue;
        await this.#connection.writeNow(
          typeof chunk === "string"
            ? copyDataTextMessage(chunk)
            : copyDataMessage(chunk),
        );
      }
      if (this.settled || this.#connection.closed) return;
      await this.#connection.writeNow(copyDoneMessage());
    } catch (error) {
      this.failed = { error };
      if (!this.#connection.closed) {
        const reason = error instanceof Error ? error.message : String(error);
        await this.#connection.writeNow(copyFailMessage(reason)).catch(
          () => {},
        );
      }
    }
  }
}

/**
 * A `COPY … FROM STDIN` whose data is all known when it is issued: the
 * statement, its data and its end are written together, without waiting
 * for the server's `CopyInResponse`. So it does not hold back the
 * statements issued after it: they follow it on the wire, and the server
 * runs them in turn. If the `COPY` fails, the server drops the data
 * messages that follow it (the protocol says a server ignores CopyData and
 * CopyDone outside a copy), and the statements after it run as usual.
 */
export class WholeCopyInRequest extends CopyInAnswers {
  readonly #text: string;
  readonly #chunks: readonly string[];

  constructor(
    text: string,
    chunks: readonly string[],
    signal: AbortSignal | undefined,
  ) {
    super(signal);
    this.#text = text;
    this.#chunks = chunks;
  }

  write(w: MessageWriter): void {
    writeQuery(w, this.#text);
    // CopyData (d) messages, then CopyDone (c)
    for (const chunk of this.#chunks) w.begin(0x64).text(chunk).end();
    w.begin(0x63).end();
  }

  protected ready(): void {
    // the data went with the statement
  }
}

export type AnyRequest =
  | WholeCopyInRequest
  | ExtendedRequest
  | SimpleRequest
  | CopyOutRequest
  | CopyInRequest;
