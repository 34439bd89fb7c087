/**
 * Values of PostgreSQL's `COPY` text format (rows end with a newline,
 * columns are separated by tabs, `\N` is `NULL`; the replay's rows are
 * read by `ReplayEventDecoder`), where a backslash escapes a backslash, a
 * tab, a newline, a carriage return (`\\ \t \n \r`), `\b \f \v`, or
 * gives a byte in octal (`\123`) or hex (`\x5C`): read from a
 * `COPY … TO STDOUT`, and written for a `COPY … FROM STDIN`.
 *
 * A column's text is what the type's input and output functions read and
 * write, as for a parameter: dates are written as the wire client writes
 * them (`dateText` of `_wire/values.ts`), so that every time a `Date`
 * holds, BC, years past 9999 and ±infinity included, goes in as it would
 * as a parameter; and the text of a date column copied out is what that
 * module's `parseTimestamp` reads.
 *
 * @module
 */
import { dateText } from "./_wire/values.ts";
import type { SqlValue } from "./sql_client.ts";

/**
 * A copy of `text` that shares no memory with the chunk it was cut from.
 * The columns of a decoded row are slices of their chunk's text, and a
 * slice keeps the whole chunk (64 KB) alive: a value kept past its batch,
 * such as an aggregate id a read model holds as a key, must be copied out.
 *
 * @param text A column's value.
 * @returns The same characters, in a string of their own.
 */
export function detachedCopy(text: string): string {
  // (V8 flattens the joined string into fresh memory; the slice of it
  // refers to that alone)
  return (" " + text).slice(1);
}

const SIMPLE: Readonly<Record<string, string>> = {
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/**
 * The value of one column of copied text that holds backslashes.
 *
 * @param text The column's text, escapes included.
 * @returns The value.
 */
export function unescapeCopyText(text: string): string {
  let out = "";
  let from = 0;
  // bytes given in octal or hex, gathered so that UTF-8 sequences decode
  let bytes: number[] | undefined;
  const flushBytes = () => {
    if (bytes) {
      out += new TextDecoder().decode(new Uint8Array(bytes));
      bytes = undefined;
    }
  };
  for (;;) {
    const at = text.indexOf("\\", from);
    if (at < 0) break;
    if (at > from) {
      flushBytes();
      out += text.slice(from, at);
    }
    const next = text[at + 1] ?? "";
    from = at + 2;
    if (next >= "0" && next <= "7") {
      let digits = next;
      while (digits.length < 3 && /[0-7]/.test(text[from] ?? "")) {
        digits += text[from++];
      }
      (bytes ??= []).push(parseInt(digits, 8) & 0xff);
    } else if (next === "x" && /[0-9a-fA-F]/.test(text[from] ?? "")) {
      let digits = text[from++] as string;
      if (/[0-9a-fA-F]/.test(text[from] ?? "")) digits += text[from++];
      (bytes ??= []).push(parseInt(digits, 16));
    } else {
      flushBytes();
      out += SIMPLE[next] ?? next;
    }
  }
  flushBytes();
  return out + text.slice(from);
}

/** The characters a value's text must escape in a column of copy text. */
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIAL_ALL = /[\\\n\r\t]/g;

/** The escape of each of {@linkcode COPY_SPECIAL}. */
const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/**
 * A value as one column of copy text, the reverse of
 * {@linkcode unescapeCopyText}: `\N` for `NULL`; text with its
 * backslashes, newlines, carriage returns and tabs escaped; numbers and
 * bigints in decimal; booleans as `t` and `f`; a `Date` as the wire client
 * sends a parameter (ISO text for years 1 to 9999, else PostgreSQL's own
 * form: `0044-03-15 12:00:00.000+00 BC`, `10000-01-01 …`, `infinity`).
 *
 * @param value A row's value.
 * @returns The column's text, escaped.
 * @throws {TypeError} for an invalid `Date`.
 */
export function copyTextField(value: SqlValue): string {
  if (value === null) return "\\N";
  if (typeof value === "string") {
    // most text needs no escaping: test before replacing
    return COPY_SPECIAL.test(value)
      ? value.replace(COPY_SPECIAL_ALL, (c) => ESCAPES[c] ?? c)
      : value;
  }
  if (typeof value === "boolean") return value ? "t" : "f";
  // a date's text holds none of the characters to escape
  if (value instanceof Date) return dateText(value);
  return String(value);
}
