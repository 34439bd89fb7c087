/**
 * The rule applied to what an event store is asked to store: one check
 * both stores run before storing anything — at `commit()` and in
 * `storeSnapshots()` — so they cannot disagree about which commits,
 * snapshots and unique keys they accept, nor about when a bad one fails.
 *
 * It has two parts. The text rule ({@linkcode isStorableText}): no NUL
 * character, no lone surrogate, no unique key longer than an index entry.
 * The shape rule: ids are UUIDs, sequence numbers and the like are
 * integers a PostgreSQL `integer` column holds, dates fall in the years 1
 * to 9999, and every JSON text is exactly one complete JSON value (an
 * object for an event payload). That last part is also what keeps the
 * PostgreSQL store safe: it splices payload text into its statement
 * without parsing it (the command path never parses payloads), so text
 * that is not one whole value could close the payload early and add
 * events, streams or fields of its own.
 *
 * @module
 */
import { UnstorableTextError } from "./errors.ts";
import type {
  SerializedCommand,
  SerializedEvent,
  SerializedSnapshot,
  StreamCommit,
} from "./event_store.ts";
import { isJsonObject, type JsonValue, MAX_NESTING_DEPTH } from "./json.ts";
import {
  describeUnstorableText,
  findUnstorableInJsonText,
  findUnstorableJsonText,
  isStorableText,
} from "./storable_text.ts";
import { isUuidAnyCase } from "./_uuid.ts";

function checkTypeName(
  typeKind: "event" | "command" | "aggregate",
  typeName: string,
): void {
  if (isStorableText(typeName)) return;
  throw new UnstorableTextError(
    { kind: "typeName", typeKind, typeName },
    describeUnstorableText(typeName) as string,
  );
}

/** The largest value of a PostgreSQL `integer` column. */
const MAX_INTEGER = 2147483647;

/**
 * Whether `n` is a sequence number, snapshot version or threshold: an
 * integer from 1 that a PostgreSQL `integer` column holds (NaN, 1.5 or 0
 * would be stored as NULL, fail the statement, or be kept by one store
 * only).
 */
function isCount(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_INTEGER;
}

function countError(subject: string, what: string, n: number): RangeError {
  return new RangeError(
    `${subject} cannot be stored: its ${what} ${n} is not an integer from 1 to ${MAX_INTEGER}`,
  );
}

/** `0001-01-01T00:00:00.000Z` in milliseconds. */
const FIRST_TIME = -62135596800000;
/** `9999-12-31T23:59:59.999Z` in milliseconds. */
const LAST_TIME = 253402300799999;

/**
 * Whether `date` is a time every store holds: a valid Date in the years 1
 * to 9999 (PostgreSQL does not read the ISO text of others, `-000005-…`
 * or `+010000-…`; the in-memory store would keep them).
 */
function isStorableDate(date: Date): boolean {
  if (!(date instanceof Date)) return false;
  const time = date.getTime();
  return time >= FIRST_TIME && time <= LAST_TIME;
}

function dateError(subject: string, date: Date): Error {
  if (!(date instanceof Date)) {
    return new TypeError(
      `${subject} cannot be stored: its createdAt is not a Date`,
    );
  }
  const time = date.getTime();
  return new RangeError(
    `${subject} cannot be stored: its createdAt ${
      time === time
        ? `${date.toISOString()} is not in the years 1 to 9999`
        : "is an invalid Date"
    }`,
  );
}

function uuidError(subject: string, what: string, id: string): TypeError {
  return new TypeError(
    `${subject} cannot be stored: its ${what} ${
      JSON.stringify(id) ?? String(id)
    } is not a UUID`,
  );
}

function jsonError(subject: string, what: string, problem: string): TypeError {
  return new TypeError(`${subject} cannot be stored: its ${what} ${problem}`);
}

// Subjects of messages, made only when there is an error to report: the
// checks run on every commit.
function commandSubject(command: SerializedCommand): string {
  return `Command ${command.commandType}`;
}

function streamSubject(stream: StreamCommit): string {
  return `Stream of aggregate ${
    JSON.stringify(stream.aggregateId) ?? String(stream.aggregateId)
  }`;
}

function eventSubject(event: SerializedEvent): string {
  return `Event ${event.eventType} ${event.sequenceNumber} of aggregate "${event.aggregateId}"`;
}

/**
 * Throws for the first thing in a commit that no store holds, before any
 * of it is stored:
 *
 * - {@linkcode UnstorableTextError} for unstorable text: in the command's
 *   type, user id, trace context and payload, and in each stream's
 *   aggregate type, partition key, unique keys, event types and payloads;
 * - `TypeError` for an id that is not a UUID, a payload that is not
 *   exactly one JSON value (a JSON object for an event), an aggregate with
 *   two streams in the commit, or an event in another aggregate's stream;
 * - `RangeError` for a sequence number, causing event's sequence number or
 *   snapshot threshold that is not an integer from 1 to 2,147,483,647, and
 *   for an event's `createdAt` that is invalid or outside the years 1 to
 *   9999.
 *
 * Each error names where the fault is (the command's type; the event's
 * type, sequence number and aggregate). Cheap when there is none: one scan
 * of each id, string and payload, no parsing of short payloads.
 */
export function checkStorableCommit(
  command: SerializedCommand,
  streams: readonly StreamCommit[],
): void {
  const commandType = command.commandType;
  checkTypeName("command", commandType);
  if (!isUuidAnyCase(command.aggregateId)) {
    throw uuidError(
      commandSubject(command),
      "aggregate id",
      command.aggregateId,
    );
  }
  const commandId = command.commandId;
  if (commandId !== undefined && !isUuidAnyCase(commandId)) {
    throw uuidError(commandSubject(command), "command id", commandId);
  }
  const eventAggregateId = command.eventAggregateId;
  if (eventAggregateId !== undefined && !isUuidAnyCase(eventAggregateId)) {
    throw uuidError(
      commandSubject(command),
      "causing event's aggregate id",
      eventAggregateId,
    );
  }
  const eventSequenceNumber = command.eventSequenceNumber;
  if (eventSequenceNumber !== undefined && !isCount(eventSequenceNumber)) {
    throw countError(
      commandSubject(command),
      "causing event's sequence number",
      eventSequenceNumber,
    );
  }
  const userId = command.userId;
  if (typeof userId === "string" && !isStorableText(userId)) {
    throw new UnstorableTextError(
      { kind: "command", commandType, path: "userId" },
      describeUnstorableText(userId) as string,
    );
  }
  // kept with the command record; the fast create path sends it as a
  // parameter, which a driver would store with a lone surrogate replaced
  const traceparent = command.traceparent;
  if (typeof traceparent === "string" && !isStorableText(traceparent)) {
    throw new UnstorableTextError(
      { kind: "command", commandType, path: "traceparent" },
      describeUnstorableText(traceparent) as string,
    );
  }
  const notJson = jsonTextProblem(command.payload, false);
  if (notJson !== undefined) {
    throw jsonError(commandSubject(command), "payload", notJson);
  }
  const inCommand = findUnstorableInJsonText(command.payload);
  if (inCommand) {
    throw new UnstorableTextError(
      { kind: "command", commandType, path: inCommand.path },
      inCommand.problem,
    );
  }
  // one stream per aggregate: a second one would append to what the first
  // appended, which the stores would not resolve alike
  const seen = streams.length > 1 ? new Set<string>() : undefined;
  for (const stream of streams) {
    const aggregateId = stream.aggregateId;
    if (!isUuidAnyCase(aggregateId)) {
      throw uuidError(streamSubject(stream), "aggregate id", aggregateId);
    }
    if (seen) {
      const key = aggregateId.toLowerCase();
      if (seen.has(key)) {
        throw new TypeError(
          `Aggregate "${aggregateId}" appears twice in one commit`,
        );
      }
      seen.add(key);
    }
    checkTypeName("aggregate", stream.aggregateType);
    if (!isStorableText(stream.partitionKey)) {
      throw new UnstorableTextError(
        { kind: "partitionKey", aggregateId },
        describeUnstorableText(stream.partitionKey) as string,
      );
    }
    const threshold = stream.snapshotThreshold;
    if (threshold !== undefined && !isCount(threshold)) {
      throw countError(streamSubject(stream), "snapshot threshold", threshold);
    }
    if (stream.uniqueKeys !== undefined) {
      checkUniqueKeys(aggregateId, stream.uniqueKeys);
    }
    for (const event of stream.events) checkEvent(event, aggregateId);
  }
}

function checkEvent(event: SerializedEvent, streamId: string): void {
  const { eventType, aggregateId, sequenceNumber } = event;
  checkTypeName("event", eventType);
  // mostly the very string of the stream; compared as text only if not
  if (
    aggregateId !== streamId &&
    (typeof aggregateId !== "string" ||
      aggregateId.toLowerCase() !== streamId.toLowerCase())
  ) {
    throw new TypeError(
      `${
        eventSubject(event)
      } cannot be stored: it is in the stream of aggregate "${streamId}"`,
    );
  }
  if (!isCount(sequenceNumber)) {
    throw countError(eventSubject(event), "sequence number", sequenceNumber);
  }
  if (!isStorableDate(event.createdAt)) {
    throw dateError(eventSubject(event), event.createdAt);
  }
  const notJson = jsonTextProblem(event.payload, true);
  if (notJson !== undefined) {
    throw jsonError(eventSubject(event), "payload", notJson);
  }
  const found = findUnstorableInJsonText(event.payload);
  if (found) {
    throw new UnstorableTextError(
      {
        kind: "event",
        eventType,
        aggregateId,
        sequenceNumber,
        path: found.path,
      },
      found.problem,
    );
  }
}

function checkUniqueKeys(
  aggregateId: string,
  keys: Readonly<Record<string, JsonValue>>,
): void {
  for (const scope of Object.keys(keys)) {
    const inScope = describeUnstorableText(scope);
    if (inScope !== undefined) {
      throw new UnstorableTextError(
        { kind: "uniqueKey", aggregateId, scope, path: "" },
        `has a scope that ${inScope}`,
      );
    }
    const found = findUnstorableJsonText(keys[scope], MAX_NESTING_DEPTH);
    if (found) {
      throw new UnstorableTextError(
        { kind: "uniqueKey", aggregateId, scope, path: found.path },
        found.problem,
      );
    }
    const bytes = encoder.encode(JSON.stringify(keys[scope] ?? null)).length +
      encoder.encode(scope).length;
    if (bytes > MAX_UNIQUE_KEY_BYTES) {
      throw new UnstorableTextError(
        { kind: "uniqueKey", aggregateId, scope, path: "" },
        `is ${bytes} bytes long, more than the ${MAX_UNIQUE_KEY_BYTES} a unique key may be`,
      );
    }
  }
}

const encoder = new TextEncoder();

/**
 * The most bytes a unique key (its scope plus its JSON) may take. An index
 * entry of PostgreSQL holds about 2,700 bytes; a longer key would fail
 * there with a raw error and pass in memory, so every store refuses it.
 */
export const MAX_UNIQUE_KEY_BYTES = 2000;

/** Whether a unique key lookup can match anything: its text is storable. */
export function isStorableUniqueKey(scope: string, key: JsonValue): boolean {
  return isStorableText(scope) &&
    !findUnstorableJsonText(key, MAX_NESTING_DEPTH);
}

/**
 * Throws for the first snapshot no store holds, storing none of them:
 * {@linkcode UnstorableTextError} for unstorable text in its state,
 * `TypeError` for an aggregate id that is not a UUID or a state that is
 * not exactly one JSON value, `RangeError` for a version or sequence
 * number that is not an integer from 1 to 2,147,483,647 or a `createdAt`
 * outside the years 1 to 9999.
 */
export function checkStorableSnapshots(
  snapshots: readonly SerializedSnapshot[],
): void {
  for (const snapshot of snapshots) {
    const subject = `Snapshot of aggregate ${
      JSON.stringify(snapshot.aggregateId) ?? String(snapshot.aggregateId)
    }`;
    if (!isUuidAnyCase(snapshot.aggregateId)) {
      throw uuidError(subject, "aggregate id", snapshot.aggregateId);
    }
    if (!isCount(snapshot.version)) {
      throw countError(subject, "version", snapshot.version);
    }
    if (!isCount(snapshot.sequenceNumber)) {
      throw countError(subject, "sequence number", snapshot.sequenceNumber);
    }
    if (!isStorableDate(snapshot.createdAt)) {
      throw dateError(subject, snapshot.createdAt);
    }
    const notJson = jsonTextProblem(snapshot.data, false);
    if (notJson !== undefined) throw jsonError(subject, "state", notJson);
    const found = findUnstorableInJsonText(snapshot.data);
    if (found) {
      throw new UnstorableTextError(
        {
          kind: "snapshot",
          aggregateId: snapshot.aggregateId,
          path: found.path,
        },
        found.problem,
      );
    }
  }
}

/**
 * What is wrong with `text` as exactly one JSON value (a JSON object, with
 * `object`), as a phrase to follow "its payload": `is not valid JSON
 * (Unexpected non-whitespace character after JSON at position 7)`, `is
 * not a JSON object`; `undefined` when nothing is. Whitespace around the
 * value is allowed; nothing else is, so the text can stand in for a value
 * inside other JSON text.
 *
 * Short text is read by a scanner that builds nothing; text it refuses,
 * and long text, go to `JSON.parse`, which is the authority (and whose
 * native string scan wins on long strings).
 *
 * @param text The text.
 * @param object Whether the value must be a JSON object.
 * @returns The problem, or `undefined`.
 */
export function jsonTextProblem(
  text: string,
  object: boolean,
): string | undefined {
  if (typeof text !== "string") {
    return `is not JSON text but ${text === null ? "null" : typeof text}`;
  }
  if (text.length <= SCANNED_LENGTH && isJsonText(text, object)) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `is not valid JSON (${(error as Error).message})`;
  }
  return object && !isJsonObject(value) ? "is not a JSON object" : undefined;
}

/**
 * Texts up to this length are read by {@linkcode isJsonText}; longer ones
 * by `JSON.parse`. Measured (best of 9 runs, on a loaded 2-core machine):
 * the blog's payloads (2–69 characters) take the scanner 60–100 ns each,
 * `JSON.parse` 165–177 ns; at 100–250 characters the two are even; past
 * that `JSON.parse`'s native string scan wins (0.1 ns a character, the
 * scanner's loop 1.4 ns).
 */
const SCANNED_LENGTH = 256;

/** Open containers of the scan: `{` or `[` by depth (grown when needed). */
let openers = new Uint8Array(64);

const HEX_DIGIT = new Uint8Array(128);
for (const c of "0123456789abcdefABCDEF") HEX_DIGIT[c.charCodeAt(0)] = 1;

/** The index after the whitespace at `i`. */
function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** The index after the JSON string that starts (with `"`) at `i`, or -1. */
function skipString(text: string, i: number): number {
  i++;
  for (;;) {
    const c = text.charCodeAt(i++);
    if (c === 0x22) return i;
    if (c === 0x5c) {
      const e = text.charCodeAt(i++);
      if (e === 0x75) { // \uXXXX
        for (let n = 0; n < 4; n++) {
          const h = text.charCodeAt(i++);
          if (!(h < 128 && HEX_DIGIT[h] === 1)) return -1;
        }
      } else if (
        e !== 0x22 && e !== 0x5c && e !== 0x2f && e !== 0x62 && e !== 0x66 &&
        e !== 0x6e && e !== 0x72 && e !== 0x74
      ) return -1;
    } else if (!(c >= 0x20)) return -1; // a control character, or the end (NaN)
  }
}

/** The index after the digits at `i` (at least one), or -1. */
function skipDigits(text: string, i: number): number {
  const start = i;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) i++;
    else return i === start ? -1 : i;
  }
}

/** The index after the JSON number at `i`, or -1. */
function skipNumber(text: string, i: number): number {
  if (text.charCodeAt(i) === 0x2d) i++; // -
  const c = text.charCodeAt(i);
  if (c === 0x30) i++; // a leading 0 stands alone
  else if (c >= 0x31 && c <= 0x39) i = skipDigits(text, i);
  else return -1;
  if (text.charCodeAt(i) === 0x2e) { // .
    i = skipDigits(text, i + 1);
    if (i < 0) return -1;
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) { // e E
    i++;
    const sign = text.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    i = skipDigits(text, i);
  }
  return i;
}

/** The index after `"key" :` and the whitespace after it at `i`, or -1. */
function skipKey(text: string, i: number): number {
  if (text.charCodeAt(i) !== 0x22) return -1;
  i = skipSpace(text, skipString(text, i));
  return text.charCodeAt(i) === 0x3a ? skipSpace(text, i + 1) : -1;
}

/**
 * Whether `text` is exactly one JSON value (RFC 8259, as `JSON.parse` and
 * PostgreSQL read it) with only whitespace around it; with `object`, a
 * JSON object. Builds nothing: a scan of the characters with a stack of
 * open containers.
 *
 * @param text The text.
 * @param object Whether the value must be a JSON object.
 * @returns Whether it is.
 */
export function isJsonText(text: string, object: boolean): boolean {
  let depth = 0;
  let i = skipSpace(text, 0);
  if (object && text.charCodeAt(i) !== 0x7b) return false;
  value: for (;;) {
    // a value starts at i
    let c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) { // { [
      if (depth === openers.length) {
        const grown = new Uint8Array(depth * 2);
        grown.set(openers);
        openers = grown;
      }
      openers[depth++] = c;
      i = skipSpace(text, i + 1);
      const next = text.charCodeAt(i);
      if (next === c + 2) { // {} or []
        depth--;
        i++;
      } else if (c === 0x7b) {
        i = skipKey(text, i);
        if (i < 0) return false;
        continue value;
      } else continue value;
    } else if (c === 0x22) i = skipString(text, i);
    else if (c === 0x74) i = text.startsWith("true", i) ? i + 4 : -1;
    else if (c === 0x66) i = text.startsWith("false", i) ? i + 5 : -1;
    else if (c === 0x6e) i = text.startsWith("null", i) ? i + 4 : -1;
    else i = skipNumber(text, i);
    if (i < 0) return false;
    // a value ended at i: what follows it
    for (;;) {
      i = skipSpace(text, i);
      if (depth === 0) return i === text.length;
      c = text.charCodeAt(i);
      const open = openers[depth - 1] as number;
      if (c === 0x2c) { // ,
        i = skipSpace(text, i + 1);
        if (open === 0x7b) {
          i = skipKey(text, i);
          if (i < 0) return false;
        }
        continue value;
      }
      if (c !== open + 2) return false; // } closes {, ] closes [
      depth--;
      i++;
    }
  }
}
