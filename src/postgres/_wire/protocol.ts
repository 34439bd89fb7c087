/**
 * The PostgreSQL frontend/backend protocol, version 3.0: the bytes of the
 * messages this driver sends, and the parsing of the ones it reads. No I/O
 * here; `connection.ts` moves the bytes.
 *
 * Every message but the start-up ones is a type byte, a big-endian 32-bit
 * length (which counts itself, not the type byte) and a body.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { isText } from "./values.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** Backend message types this driver handles (ASCII codes). */
export const Backend = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  NegotiateProtocolVersion: 0x76, // v
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterDescription: 0x74, // t
  ParameterStatus: 0x53, // S
  ParseComplete: 0x31, // 1
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
} as const;

/**
 * Builds frontend messages into one growing buffer, so a pipeline of
 * messages is a single write.
 */
export class MessageWriter {
  #buffer: Uint8Array = new Uint8Array(4096);
  #view: DataView = new DataView(this.#buffer.buffer);
  #length = 0;
  /** Where the current message's length field is. */
  #start = -1;

  /** How many bytes are written. */
  get length(): number {
    return this.#length;
  }

  #ensure(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = next;
    this.#view = new DataView(next.buffer);
  }

  /** Starts a message of `type` (0: a start-up message, without type). */
  begin(type: number): this {
    this.#ensure(5);
    if (type !== 0) this.#buffer[this.#length++] = type;
    this.#start = this.#length;
    this.#length += 4;
    return this;
  }

  /** Ends the message begun last, filling in its length. */
  end(): this {
    this.#view.setInt32(this.#start, this.#length - this.#start);
    this.#start = -1;
    return this;
  }

  byte(value: number): this {
    this.#ensure(1);
    this.#buffer[this.#length++] = value;
    return this;
  }

  int16(value: number): this {
    this.#ensure(2);
    this.#view.setInt16(this.#length, value);
    this.#length += 2;
    return this;
  }

  int32(value: number): this {
    this.#ensure(4);
    this.#view.setInt32(this.#length, value);
    this.#length += 4;
    return this;
  }

  /** Writes UTF-8 text and returns its byte length. */
  #text(value: string): number {
    // at most 3 bytes per UTF-16 code unit
    this.#ensure(value.length * 3);
    const { written } = encoder.encodeInto(
      value,
      this.#buffer.subarray(this.#length),
    );
    this.#length += written;
    return written;
  }

  /** A NUL-terminated string. */
  cstring(value: string): this {
    this.#text(value);
    return this.byte(0);
  }

  /** A length-prefixed UTF-8 value (a Bind parameter). */
  lengthPrefixed(value: string): this {
    this.#ensure(4);
    const at = this.#length;
    this.#length += 4;
    const written = this.#text(value);
    this.#view.setInt32(at, written);
    return this;
  }

  /** UTF-8 text, with no terminator (a CopyData message's body). */
  text(value: string): this {
    this.#text(value);
    return this;
  }

  bytes(value: Uint8Array): this {
    this.#ensure(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
    return this;
  }

  /** Takes the bytes written so far and starts over. */
  take(): Uint8Array {
    const out = this.#buffer.slice(0, this.#length);
    this.#length = 0;
    if (this.#buffer.length > 1 << 20) {
      this.#buffer = new Uint8Array(4096);
      this.#view = new DataView(this.#buffer.buffer);
    }
    return out;
  }
}

/** The protocol version 3.0, as the start-up message carries it. */
const PROTOCOL_3_0 = 196608;
/** The codes of the special start-up packets. */
const SSL_REQUEST_CODE = 80877103;
const CANCEL_REQUEST_CODE = 80877102;

/** The start-up message: protocol version and the session's parameters. */
export function startupMessage(
  parameters: Readonly<Record<string, string>>,
): Uint8Array {
  const w = new MessageWriter().begin(0).int32(PROTOCOL_3_0);
  for (const [name, value] of Object.entries(parameters)) {
    w.cstring(name).cstring(value);
  }
  return w.byte(0).end().take();
}

/** Asks the server whether it speaks TLS. */
export function sslRequest(): Uint8Array {
  return new MessageWriter().begin(0).int32(SSL_REQUEST_CODE).end().take();
}

/** Asks the server to cancel what a backend runs (on a connection of its own). */
export function cancelRequest(pid: number, secret: number): Uint8Array {
  return new MessageWriter().begin(0).int32(CANCEL_REQUEST_CODE).int32(pid)
    .int32(secret).end().take();
}

/** A password (cleartext or MD5-hashed). */
export function passwordMessage(password: string): Uint8Array {
  return new MessageWriter().begin(0x70).cstring(password).end().take();
}

/** The first SASL message: the mechanism and the client-first message. */
export function saslInitialResponse(
  mechanism: string,
  data: string,
): Uint8Array {
  const bytes = encoder.encode(data);
  return new MessageWriter().begin(0x70).cstring(mechanism)
    .int32(bytes.length).bytes(bytes).end().take();
}

/** A later SASL message. */
export function saslResponse(data: string): Uint8Array {
  return new MessageWriter().begin(0x70).bytes(encoder.encode(data)).end()
    .take();
}

/** Ends the session politely. */
export function terminateMessage(): Uint8Array {
  return new MessageWriter().begin(0x58).end().take();
}

/**
 * The most parameters a statement can have: Parse and Bind count them in
 * 16 bits, which PostgreSQL reads unsigned (libpq refuses more, too).
 */
export const MAX_PARAMETERS = 65535;

/**
 * Checks a count of parameters (or of their types) before a message that
 * carries it in 16 bits is begun: a larger one would wrap, and the server
 * would read the values after it as something else.
 *
 * @throws {RangeError} when `count` exceeds {@linkcode MAX_PARAMETERS}.
 */
function checkParameterCount(count: number, message: string): void {
  if (count > MAX_PARAMETERS) {
    throw new RangeError(
      `${message} cannot carry ${count} parameters: at most ${MAX_PARAMETERS}`,
    );
  }
}

/**
 * Writes Parse: a statement's text, named (prepared) or unnamed (""), and
 * its parameters' types.
 *
 * @throws {RangeError} for more than {@linkcode MAX_PARAMETERS} types,
 *   before anything is written.
 */
export function writeParse(
  w: MessageWriter,
  name: string,
  text: string,
  types: readonly number[],
): void {
  checkParameterCount(types.length, "Parse");
  w.begin(0x50).cstring(name).cstring(text).int16(types.length);
  for (const t of types) w.int32(t);
  w.end();
}

/** Writes Describe of a statement (`S`) or of the unnamed portal (`P`). */
export function writeDescribe(
  w: MessageWriter,
  kind: "S" | "P",
  name: string,
): void {
  w.begin(0x44).byte(kind === "S" ? 0x53 : 0x50).cstring(name).end();
}

/**
 * Writes Bind of the unnamed portal to a statement: every parameter in
 * text format (`null` for SQL NULL), every result column in text format.
 *
 * @throws {RangeError} for more than {@linkcode MAX_PARAMETERS}
 *   parameters, before anything is written.
 */
export function writeBind(
  w: MessageWriter,
  statement: string,
  params: readonly (string | null)[],
): void {
  checkParameterCount(params.length, "Bind");
  w.begin(0x42).cstring("").cstring(statement).int16(0).int16(params.length);
  for (const p of params) {
    if (p === null) w.int32(-1);
    else w.lengthPrefixed(p);
  }
  w.int16(0).end();
}

/** Writes Execute of the unnamed portal, all rows. */
export function writeExecute(w: MessageWriter): void {
  w.begin(0x45).cstring("").int32(0).end();
}

/** Writes Sync: the end of an extended-protocol request. */
export function writeSync(w: MessageWriter): void {
  w.begin(0x53).end();
}

/** Writes Close of a prepared statement. */
export function writeCloseStatement(w: MessageWriter, name: string): void {
  w.begin(0x43).byte(0x53).cstring(name).end();
}

/** Writes a simple Query. */
export function writeQuery(w: MessageWriter, text: string): void {
  w.begin(0x51).cstring(text).end();
}

/** One CopyData message carrying `data`. */
export function copyDataMessage(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = 0x64;
  new DataView(out.buffer).setInt32(1, 4 + data.length);
  out.set(data, 5);
  return out;
}

/**
 * One CopyData message carrying `text` in UTF-8. Copy text is mostly
 * ASCII: then it is encoded straight into the message, with no second
 * buffer to copy from.
 */
export function copyDataTextMessage(text: string): Uint8Array {
  const out = new Uint8Array(5 + text.length);
  const { read, written } = encoder.encodeInto(text, out.subarray(5));
  // (a character of more than one byte left no room for the rest)
  if (read < text.length) return copyDataMessage(encoder.encode(text));
  out[0] = 0x64;
  new DataView(out.buffer).setInt32(1, 4 + written);
  return out.subarray(0, 5 + written);
}

/** CopyDone: the end of the rows of a `COPY … FROM STDIN`. */
export function copyDoneMessage(): Uint8Array {
  return new MessageWriter().begin(0x63).end().take();
}

/** CopyFail: abandons a `COPY … FROM STDIN` with a reason. */
export function copyFailMessage(reason: string): Uint8Array {
  return new MessageWriter().begin(0x66).cstring(reason).end().take();
}

/** A message read from the server: its type and body (without header). */
export interface BackendMessage {
  /** The type byte. */
  readonly type: number;
  /** The body, a view into the bytes read. */
  readonly body: Uint8Array;
}

/**
 * Splits the bytes read into messages. Bytes of an incomplete message are
 * kept until the rest arrives; bodies are views, valid as long as the
 * caller keeps the chunk they came in (each chunk is a fresh buffer).
 */
export class MessageReader {
  /** The start of an incomplete message, in the chunks it came in. */
  #parts: Uint8Array[] = [];
  #have = 0;
  /** The incomplete message's whole size, once its header has arrived. */
  #need = 0;

  /**
   * Calls `onMessage` for each complete message in what has arrived. A
   * CopyData message goes to `onCopyData` first, as a range of the bytes
   * read, with no view made for its body (a copy's rows are many): when it
   * returns false, to `onMessage` as any other.
   */
  push(
    chunk: Uint8Array,
    onMessage: (type: number, body: Uint8Array) => void,
    onCopyData?: (data: Uint8Array, start: number, end: number) => boolean,
  ): void {
    let data = chunk;
    if (this.#parts.length > 0) {
      this.#parts.push(chunk);
      this.#have += chunk.length;
      // a large message arrives in many chunks: join them once, when all
      // of it is there, not once per chunk
      if (this.#need === 0 && this.#have >= 5) {
        this.#need = 1 + readLength(join(this.#parts, this.#have), 0);
      }
      if (this.#need === 0 || this.#have < this.#need) return;
      data = join(this.#parts, this.#have);
      this.#parts = [];
      this.#have = 0;
      this.#need = 0;
    }
    let at = 0;
    const end = data.length;
    while (end - at >= 5) {
      const length = readLength(data, at);
      if (end - at < 1 + length) break;
      const type = data[at]!;
      if (
        type !== Backend.CopyData ||
        !onCopyData?.(data, at + 5, at + 1 + length)
      ) onMessage(type, data.subarray(at + 5, at + 1 + length));
      at += 1 + length;
    }
    if (at < end) {
      const rest = data.subarray(at);
      this.#parts = [rest];
      this.#have = rest.length;
      this.#need = rest.length >= 5 ? 1 + readLength(rest, 0) : 0;
    }
  }
}

/** The length field of the message at `at`, checked. */
function readLength(data: Uint8Array, at: number): number {
  const length = ((data[at + 1]! << 24) | (data[at + 2]! << 16) |
    (data[at + 3]! << 8) | data[at + 4]!) >>> 0;
  if (length < 4) throw new ProtocolError(`a message of length ${length}`);
  return length;
}

/** The chunks as one Buffer (so texts decode through it; see utf8At). */
function join(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The server sent something this driver cannot read. */
export class ProtocolError extends Error {
  /**
   * @param what What was wrong with the bytes.
   */
  constructor(what: string) {
    super(`The server sent ${what}, which breaks the protocol`);
    this.name = "ProtocolError";
  }
}

/** Reads the fields of a message body in order. */
export class BodyReader {
  readonly #body: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  constructor(body: Uint8Array) {
    this.#body = body;
    this.#view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  get remaining(): number {
    return this.#body.length - this.#at;
  }

  byte(): number {
    return this.#body[this.#at++]!;
  }

  int16(): number {
    const v = this.#view.getInt16(this.#at);
    this.#at += 2;
    return v;
  }

  int32(): number {
    const v = this.#view.getInt32(this.#at);
    this.#at += 4;
    return v;
  }

  cstring(): string {
    const start = this.#at;
    const end = this.#body.indexOf(0, start);
    if (end < 0) throw new ProtocolError("an unterminated string");
    this.#at = end + 1;
    return decoder.decode(this.#body.subarray(start, end));
  }

  bytes(length: number): Uint8Array {
    const out = this.#body.subarray(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }

  rest(): Uint8Array {
    const out = this.#body.subarray(this.#at);
    this.#at = this.#body.length;
    return out;
  }
}

/** The fields of an ErrorResponse or NoticeResponse, by field code. */
export interface ServerFields {
  readonly severity?: string;
  readonly code?: string;
  readonly message?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly constraint?: string;
  readonly routine?: string;
}

const FIELD_NAMES: Readonly<Record<string, keyof ServerFields>> = {
  V: "severity",
  C: "code",
  M: "message",
  D: "detail",
  H: "hint",
  s: "schema",
  t: "table",
  c: "column",
  n: "constraint",
  R: "routine",
};

/** Parses an ErrorResponse or NoticeResponse body. */
export function parseServerFields(body: Uint8Array): ServerFields {
  const fields: Record<string, string> = {};
  const r = new BodyReader(body);
  while (r.remaining > 0) {
    const code = r.byte();
    if (code === 0) break;
    const value = r.cstring();
    const name = FIELD_NAMES[String.fromCharCode(code)];
    if (name) fields[name] = value;
  }
  return fields;
}

/** One column of a RowDescription. */
export interface Column {
  /** The column's name. */
  readonly name: string;
  /** The type's OID. */
  readonly type: number;
  /** Whether the value is its text as is (no conversion). */
  readonly text: boolean;
}

/** Parses a RowDescription body. */
export function parseRowDescription(body: Uint8Array): Column[] {
  const r = new BodyReader(body);
  const count = r.int16();
  const columns: Column[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.cstring();
    r.int32(); // table OID
    r.int16(); // column number
    const type = r.int32();
    r.int16(); // type size
    r.int32(); // type modifier
    r.int16(); // format (always text here)
    columns.push({ name, type, text: isText(type) });
  }
  return columns;
}

/** The text of a CommandComplete body (e.g. `INSERT 0 1`). */
export function parseCommandTag(body: Uint8Array): string {
  const end = body.indexOf(0);
  return decoder.decode(end < 0 ? body : body.subarray(0, end));
}

/** Decodes UTF-8 text (shared, so callers need no decoder of their own). */
export function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * Decodes `length` bytes of UTF-8 at `at` in a message body: through the
 * Buffer the bytes arrived in when they did (faster for the short texts of
 * a row's columns), else through a TextDecoder.
 */
export function utf8At(body: Uint8Array, at: number, length: number): string {
  return body instanceof Buffer
    ? body.toString("utf8", at, at + length)
    : decoder.decode(body.subarray(at, at + length));
}
