/**
 * The private protocol between a process holding an embedded database and
 * the processes it serves (`_holder_server.ts`, `_served_client.ts`), over
 * a Unix socket.
 *
 * A frame is a 4-byte big-endian length (of what follows), a kind byte and
 * a body: kind 0 is a JSON message ({@linkcode Request} or
 * {@linkcode Reply}); kind 1 is a chunk of `copyOut` output, the body being
 * the call's 4-byte id and the bytes. JSON cannot carry every value a row
 * holds, so values travel tagged ({@linkcode encodeValue}): JSON's null,
 * booleans, finite numbers and strings as themselves, everything else as a
 * two-element array `[tag, payload]` (an array is itself tagged, so a bare
 * array is always a tag).
 *
 * The client numbers its calls and transactions. Calls outside a
 * transaction run at once, in parallel (PGlite serializes them); the
 * messages of one transaction run one after the other in the order they
 * were sent. Messages that need no answer (`begin`, `enqueue`, `savepoint`,
 * `release`) are not answered: their failures surface with the next call
 * of the transaction, as on a local connection.
 *
 * @module
 */
import { SqlError, type SqlErrorFields } from "./sql_error.ts";

/** The version of this protocol; both ends must speak the same. */
export const PROTOCOL_VERSION = 1;

/** A JSON value. */
export type Wire =
  | null
  | boolean
  | number
  | string
  | Wire[]
  | { [key: string]: Wire };

/** A statement on the wire. */
export interface WireStatement {
  readonly text: string;
  readonly params: Wire[];
}

/** An error on the wire. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  /** Present for an `SqlError`. */
  readonly sql?: SqlErrorFields;
}

/** The operations a call can ask for. */
export type CallOp =
  | { readonly op: "query"; readonly statement: WireStatement }
  | { readonly op: "batch"; readonly statements: WireStatement[] }
  | { readonly op: "execute"; readonly script: string }
  | {
    readonly op: "copyIn";
    readonly table: string;
    readonly columns: string[];
    /** The rows' source failed after these rows: fail the copy with this. */
    readonly abort?: string;
  }
  | { readonly op: "copyOut"; readonly query: string }
  /** Undo a savepoint whose work failed (a transaction's innermost). */
  | { readonly op: "rollbackTo" }
  /** End a transaction. */
  | { readonly op: "end"; readonly commit: boolean };

/** Client to holder. */
export type Request =
  | { readonly t: "hello"; readonly v: number }
  | ({
    readonly t: "call";
    readonly id: number;
    /** The transaction the call belongs to, if any. */
    readonly tx?: number;
  } & CallOp)
  /** Rows for the `copyIn` call of the same id, sent before it. */
  | { readonly t: "copyRows"; readonly id: number; readonly rows: Wire[][] }
  | { readonly t: "begin"; readonly tx: number }
  | {
    readonly t: "enqueue";
    readonly tx: number;
    readonly statement: WireStatement;
    /** Set when the client wants the rows (a `rows` message). */
    readonly id?: number;
  }
  | { readonly t: "savepoint"; readonly tx: number }
  /** The innermost savepoint's work succeeded. */
  | { readonly t: "release"; readonly tx: number };

/** Holder to client. */
export type Reply =
  | { readonly t: "hello"; readonly v: number; readonly pid: number }
  | { readonly t: "done"; readonly id: number; readonly result: Wire }
  | { readonly t: "fail"; readonly id: number; readonly error: WireError }
  /** The rows of the statement enqueued with this id. */
  | { readonly t: "rows"; readonly id: number; readonly rows: Wire[] };

/** What frames are read from (a `Deno.Conn`, say). */
export interface ByteSource {
  read(into: Uint8Array): Promise<number | null>;
}

/** What frames are written to (a `Deno.Conn`, say). */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<number>;
}

/** A frame read off the socket. */
export type Frame =
  | { readonly kind: "json"; readonly message: unknown }
  | { readonly kind: "bytes"; readonly id: number; readonly bytes: Uint8Array };

const JSON_FRAME = 0;
const BYTES_FRAME = 1;
/** No frame is longer: a peer that says so does not speak the protocol. */
export const MAX_FRAME = 1 << 30;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A value as JSON: see the module documentation.
 *
 * @throws {TypeError} for a value no row or parameter holds (a function).
 */
export function encodeValue(value: unknown): Wire {
  if (value === null || typeof value === "string") return value;
  switch (typeof value) {
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : ["n", String(value)];
    case "bigint":
      return ["b", value.toString()];
    case "undefined":
      return ["u", null];
  }
  if (value instanceof Date) {
    const time = value.getTime();
    return ["d", Number.isNaN(time) ? null : time];
  }
  if (value instanceof Uint8Array) return ["y", value.toBase64()];
  if (Array.isArray(value)) return ["a", value.map(encodeValue)];
  if (typeof value === "object") {
    const out: Record<string, Wire> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = encodeValue(item);
    }
    return ["o", out];
  }
  throw new TypeError(`Cannot send a ${typeof value} to the database`);
}

/** The value a {@linkcode encodeValue} result stands for. */
export function decodeValue(wire: Wire): unknown {
  if (!Array.isArray(wire)) return wire;
  const [tag, payload] = wire;
  switch (tag) {
    case "n":
      return Number(payload);
    case "b":
      return BigInt(payload as string);
    case "u":
      return undefined;
    case "d":
      return new Date(payload === null ? Number.NaN : payload as number);
    case "y":
      return Uint8Array.fromBase64(payload as string);
    case "a":
      return (payload as Wire[]).map(decodeValue);
    case "o": {
      const out: Record<string, unknown> = {};
      for (
        const [key, item] of Object.entries(payload as Record<string, Wire>)
      ) {
        out[key] = decodeValue(item);
      }
      return out;
    }
    default:
      throw new TypeError(`Unknown value tag ${JSON.stringify(tag)}`);
  }
}

/** A row with each value encoded. */
export function encodeRow(row: Record<string, unknown>): Wire {
  const out: Record<string, Wire> = {};
  for (const key in row) out[key] = encodeValue(row[key]);
  return out;
}

/** The row {@linkcode encodeRow} encoded. */
export function decodeRow(wire: Wire): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(wire as Record<string, Wire>)) {
    out[key] = decodeValue(item);
  }
  return out;
}

/** An error as it travels. */
export function encodeError(error: unknown): WireError {
  if (error instanceof SqlError) {
    return {
      name: error.name,
      message: error.message,
      sql: {
        code: error.code,
        detail: error.detail,
        hint: error.hint,
        constraint: error.constraint,
        table: error.table,
        schema: error.schema,
      },
    };
  }
  if (error instanceof Error) {
    return { name: error.name, message: error.message };
  }
  return { name: "Error", message: String(error) };
}

/** The error an {@linkcode encodeError} result stands for, in this process. */
export function decodeError(wire: WireError): Error {
  if (wire.sql) {
    const fields: Record<string, string> = {};
    for (const [key, value] of Object.entries(wire.sql)) {
      if (typeof value === "string") fields[key] = value;
    }
    return new SqlError(wire.message, fields);
  }
  // the caller's own checks name a TypeError or RangeError (a value that
  // cannot be sent, too many parameters): it arrives as the same class
  const Builtin = BUILTIN_ERRORS.get(wire.name);
  if (Builtin !== undefined) return new Builtin(wire.message);
  const error = new Error(wire.message);
  error.name = wire.name;
  return error;
}

/** The standard errors that travel as their own class. */
const BUILTIN_ERRORS: ReadonlyMap<string, ErrorConstructor> = new Map([
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["SyntaxError", SyntaxError],
]);

/**
 * A JSON message as a frame.
 *
 * @throws {RangeError} when the message is too long for a frame.
 */
export function jsonFrame(message: Request | Reply): Uint8Array {
  const body = encoder.encode(JSON.stringify(message));
  if (body.length >= MAX_FRAME) {
    throw new RangeError(
      `A message of ${body.length} bytes is too long to send (at most ${MAX_FRAME})`,
    );
  }
  const frame = new Uint8Array(5 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length + 1);
  frame[4] = JSON_FRAME;
  frame.set(body, 5);
  return frame;
}

/** A chunk of a copy's output as a frame. */
export function bytesFrame(id: number, bytes: Uint8Array): Uint8Array {
  const frame = new Uint8Array(9 + bytes.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, bytes.length + 5);
  frame[4] = BYTES_FRAME;
  view.setUint32(5, id);
  frame.set(bytes, 9);
  return frame;
}

/**
 * The frames arriving on a connection, until it ends.
 *
 * @throws {Error} when the peer does not speak the protocol, or the read fails.
 */
export async function* readFrames(
  conn: ByteSource,
): AsyncGenerator<Frame, void, undefined> {
  let buffer = new Uint8Array(1 << 16);
  let start = 0;
  let end = 0;
  for (;;) {
    let need = 4;
    while (end - start >= 4) {
      const view = new DataView(buffer.buffer, buffer.byteOffset + start);
      const length = view.getUint32(0);
      if (length < 1 || length > MAX_FRAME) {
        throw new Error(`Bad frame length ${length}`);
      }
      if (end - start < 4 + length) {
        need = 4 + length;
        break;
      }
      const kind = buffer[start + 4];
      const body = buffer.subarray(start + 5, start + 4 + length);
      start += 4 + length;
      if (kind === JSON_FRAME) {
        yield { kind: "json", message: JSON.parse(decoder.decode(body)) };
      } else if (kind === BYTES_FRAME && body.length >= 4) {
        const id = new DataView(body.buffer, body.byteOffset).getUint32(0);
        yield { kind: "bytes", id, bytes: body.slice(4) };
      } else {
        throw new Error(`Bad frame kind ${kind}`);
      }
    }
    if (start === end) {
      start = end = 0;
    } else if (buffer.length - start < need) {
      const grown = new Uint8Array(Math.max(need, buffer.length));
      grown.set(buffer.subarray(start, end));
      end -= start;
      start = 0;
      buffer = grown;
    }
    if (end === buffer.length) {
      const grown = new Uint8Array(buffer.length * 2);
      grown.set(buffer.subarray(0, end));
      buffer = grown;
    }
    const read = await conn.read(buffer.subarray(end));
    if (read === null) return;
    end += read;
  }
}

/**
 * Writes frames in order, gathering those sent in one turn of the event
 * loop into one write. A write that fails marks the writer broken: later
 * frames are dropped (the reader sees the connection end).
 */
export class FrameWriter {
  readonly #conn: ByteSink;
  #queue: Uint8Array[] = [];
  #writing: Promise<void> | undefined;
  #broken = false;

  constructor(conn: ByteSink) {
    this.#conn = conn;
  }

  /** Queues a frame. */
  send(frame: Uint8Array): void {
    if (this.#broken) return;
    this.#queue.push(frame);
    this.#writing ??= this.#write();
  }

  /** Resolves when everything queued so far is written (or dropped). */
  async drained(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #write(): Promise<void> {
    await Promise.resolve();
    try {
      while (this.#queue.length > 0 && !this.#broken) {
        // gather up to about 1 MB per write
        let size = 0;
        let count = 0;
        while (count < this.#queue.length && size < 1 << 20) {
          size += this.#queue[count]!.length;
          count++;
        }
        const frames = this.#queue.splice(0, count);
        let chunk = frames[0]!;
        if (frames.length > 1) {
          chunk = new Uint8Array(size);
          let at = 0;
          for (const frame of frames) {
            chunk.set(frame, at);
            at += frame.length;
          }
        }
        for (let at = 0; at < chunk.length;) {
          at += await this.#conn.write(chunk.subarray(at));
        }
      }
    } catch {
      this.#broken = true;
      this.#queue = [];
    } finally {
      this.#writing = undefined;
    }
  }
}
