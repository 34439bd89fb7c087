/**
 * Decodes the `COPY … TO STDOUT` text of a replay's slice (see
 * `_replay_reader.ts`) straight into stored events: one row per event,
 * its six columns read where they lie in the chunk's text. No array is
 * made per row, and no string for the columns read as numbers (sequence
 * number, `created_at`, type id); an aggregate's id and partition key are
 * copied out once for all its events. A replay reads millions of rows: the
 * generic `CopyTextDecoder` made some eight objects per row.
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";
import { hexDigitValue } from "../core/_hex.ts";
import type { SerializedEvent } from "../core/event_store.ts";
import { detachedCopy, unescapeCopyText } from "./_copy_text.ts";

/**
 * A stored event as a replay reads it: with its partition key, so that
 * where a replay got to can be named (see `replayKeyOf`).
 */
export interface ReplayedEvent extends SerializedEvent {
  /** The partition key it is stored under. */
  readonly partitionKey: string;
}

/** The columns of a replay's row. */
const WIDTH = 6;
const TAB = 0x09;
/** A UUID's length as text. */
const UUID_LENGTH = 36;
/** `created_at` as copied: `\\x` and sixteen hex digits. */
const TIME_LENGTH = 19;

/**
 * Turns the chunks of a replay slice's copy into events. The rows are
 * partition key, aggregate id, sequence number, `created_at` as
 * `timestamptz_send` bytes (see {@linkcode createdAtMillis}), event type
 * id and payload. Chunks may end anywhere, even inside a UTF-8 character;
 * what is left of a row waits for the next chunk.
 */
export class ReplayEventDecoder {
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #typeNames: ReadonlyMap<number, string>;
  #rest = "";
  /** The last aggregate id and partition key read, and the latter as copied. */
  #aggregateId = "";
  #partitionKey = "";
  #copiedKey = "";
  /** Where the last integer read ended (its tab). */
  #tab = 0;

  /**
   * @param typeNames The event type names, by id.
   */
  constructor(typeNames: ReadonlyMap<number, string>) {
    this.#typeNames = typeNames;
  }

  /**
   * Appends to `events` the events whose rows `chunk` completes.
   *
   * @throws {Error} when a row has another number of columns, or a column
   *   is not what the replay's query gives.
   * @throws {SequentError} for an event type id not in `typeNames`.
   */
  decode(chunk: Uint8Array, events: ReplayedEvent[]): void {
    const text = this.#decoder.decode(chunk, { stream: true });
    let at = 0;
    if (this.#rest !== "") {
      // the row begun in the chunk before, joined apart: the rest of the
      // rows are read from the decoded text itself, a flat string (a
      // joined one is read through a level of indirection at each access)
      const end = text.indexOf("\n");
      if (end < 0) {
        this.#rest += text;
        return;
      }
      const row = this.#rest + text.slice(0, end + 1);
      this.#rest = "";
      this.#rows(row, 0, events);
      at = end + 1;
    }
    at = this.#rows(text, at, events);
    this.#rest = at === text.length ? "" : text.slice(at);
  }

  /**
   * Reads the whole rows of `text` from `at` into `events`; returns where
   * the first incomplete row starts.
   */
  #rows(text: string, at: number, events: ReplayedEvent[]): number {
    for (;;) {
      const end = text.indexOf("\n", at);
      if (end < 0) return at;
      // each column's end: where it usually is, else searched for
      const t1 = text.charCodeAt(at) === TAB ? at : tabAfter(text, at, at, end);
      let t2 = t1 + 1 + UUID_LENGTH;
      if (text.charCodeAt(t2) !== TAB) t2 = tabAfter(text, t1 + 1, at, end);
      const sequenceNumber = this.#integer(text, t2 + 1, at, end);
      const t3 = this.#tab;
      let t4 = t3 + 1 + TIME_LENGTH;
      if (text.charCodeAt(t4) !== TAB) t4 = tabAfter(text, t3 + 1, at, end);
      const typeId = this.#integer(text, t4 + 1, at, end);
      const t5 = this.#tab;
      const t6 = text.indexOf("\t", t5 + 1);
      if (t6 >= 0 && t6 < end) throw badRow(text, at, end);
      // the partition key and the aggregate id: those of the event before,
      // or copied out of the chunk (a slice would keep all of it alive).
      // Compared as slices: a slice costs little and `===` compares it
      // natively; a loop of `charCodeAt` over a UUID was three times as
      // slow (165–210 ns against 58 ns a row, measured here)
      const copied = text.slice(at, t1);
      if (copied !== this.#copiedKey) {
        this.#copiedKey = copied === "" ? "" : detachedCopy(copied);
        this.#partitionKey = copied.indexOf("\\") < 0
          ? this.#copiedKey
          : unescapeCopyText(copied);
      }
      const aggregateId = text.slice(t1 + 1, t2);
      if (aggregateId !== this.#aggregateId) {
        this.#aggregateId = detachedCopy(aggregateId);
      }
      const eventType = this.#typeNames.get(typeId);
      if (eventType === undefined) {
        throw new SequentError(
          `Event ${sequenceNumber} of aggregate ${this.#aggregateId} has the unknown type id ${typeId}`,
        );
      }
      const payload = text.slice(t5 + 1, end);
      events.push({
        aggregateId: this.#aggregateId,
        sequenceNumber,
        createdAt: new Date(createdAtMillisAt(text, t3 + 1, t4)),
        eventType,
        payload: payload.indexOf("\\") < 0
          ? payload
          : unescapeCopyText(payload),
        partitionKey: this.#partitionKey,
      });
      at = end + 1;
    }
  }

  /**
   * The integer whose digits start at `from` and run to the next tab, in
   * the row from `start` to `end`; that tab's position goes to `#tab`.
   */
  #integer(text: string, from: number, start: number, end: number): number {
    let i = from;
    let n = 0;
    for (let c = text.charCodeAt(i); c !== TAB; c = text.charCodeAt(++i)) {
      if (c < 0x30 || c > 0x39 || i >= end) {
        throw notInteger(text, from, tabAfter(text, from, start, end));
      }
      n = n * 10 + c - 0x30;
    }
    if (i === from) throw notInteger(text, from, from);
    this.#tab = i;
    return n;
  }

  /**
   * Checks that the copy ended with a whole row.
   *
   * @throws {Error} when part of a row is left.
   */
  end(): void {
    const rest = this.#rest + this.#decoder.decode();
    if (rest !== "") {
      throw new Error(
        `The copied text ends inside a row: ${
          JSON.stringify(rest.slice(0, 80))
        }`,
      );
    }
  }
}

/**
 * The first tab from `from` on, before the end of the row (which runs from
 * `start` to `end`); else an error naming the row.
 */
function tabAfter(
  text: string,
  from: number,
  start: number,
  end: number,
): number {
  const tab = text.indexOf("\t", from);
  if (tab < 0 || tab >= end) throw badRow(text, start, end);
  return tab;
}

function badRow(text: string, at: number, end: number): Error {
  return new Error(
    `A copied row does not have ${WIDTH} columns: ${
      JSON.stringify(text.slice(at, Math.min(end, at + 120)))
    }`,
  );
}

function notInteger(text: string, from: number, to: number): Error {
  return new Error(
    `Expected an integer, got ${JSON.stringify(text.slice(from, to))}`,
  );
}

/** Milliseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch. */
const PG_EPOCH_MS = 946_684_800_000;

/**
 * `created_at` as JavaScript milliseconds, from `timestamptz_send`'s eight
 * bytes (microseconds since 2000-01-01, big-endian) as copied text
 * (`\\x` and sixteen hex digits). Microseconds are truncated, as reading a
 * timestamp into a `Date` does, exactly for every time a `Date` holds;
 * `infinity` and `-infinity` are the last and the first `Date`. Sending the raw value is the cheapest way
 * out of the server; its text form would cost the server more to write
 * and us more to read.
 *
 * @throws {Error} on any other text.
 */
export function createdAtMillis(text: string): number {
  return createdAtMillisAt(text, 0, text.length);
}

/** {@linkcode createdAtMillis} of the text from `from` to `to`. */
function createdAtMillisAt(text: string, from: number, to: number): number {
  const at = from + (text.charCodeAt(from + 1) === 0x5c ? 3 : 2); // `\\x` or `\x`
  if (
    to - at !== 16 || text.charCodeAt(from) !== 0x5c ||
    text.charCodeAt(at - 1) !== 0x78
  ) {
    throw unexpectedTime(text, from, to);
  }
  let high = 0;
  let low = 0;
  for (let i = 0; i < 16; i++) {
    const digit = hexDigitValue(text.charCodeAt(at + i));
    if (digit < 0) throw unexpectedTime(text, from, to);
    if (i < 8) high = high * 16 + digit;
    else low = low * 16 + digit;
  }
  // ±infinity, read as the wire client reads them: the last and first Date
  if (high === 0x7fffffff && low === 0xffffffff) return 8.64e15;
  if (high === 0x80000000 && low === 0) return -8.64e15;
  // a signed 64-bit count of microseconds, high * 2^32 + low, divided by
  // 1,000 without a float past 2^53 (whose rounding was 1 ms off for times
  // more than ~285 years from 2000): 2^32 = 4,294,967 * 1,000 + 296
  const signed = high >= 0x80000000 ? high - 0x100000000 : high;
  return signed * 4_294_967 + Math.floor((signed * 296 + low) / 1000) +
    PG_EPOCH_MS;
}

function unexpectedTime(text: string, from: number, to: number): Error {
  return new Error(
    `Unexpected created_at bytes: ${JSON.stringify(text.slice(from, to))}`,
  );
}
