/**
 * Reading PostgreSQL's `COPY … TO STDOUT` text format: rows end with a
 * newline, columns are separated by tabs, `\N` is `NULL`, and a backslash
 * escapes a backslash, a tab, a newline, a carriage return (`\\ \t \n \r`),
 * `\b \f \v`, or gives a byte in octal (`\123`) or hex (`\x5C`).
 *
 * @module
 */

/** A row of copied text: one string (or `null`) per column. */
export type CopyTextRow = (string | null)[];

/**
 * Turns the chunks of a text-format copy into rows. Chunks may end
 * anywhere, even inside a UTF-8 character; what is left of a row waits for
 * the next chunk.
 */
export class CopyTextDecoder {
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #width: number;
  readonly #raw: readonly boolean[];
  #rest = "";

  /**
   * @param width How many columns each row has.
   * @param raw The columns to leave as copied, escapes included (for a
   *   caller that reads them itself).
   */
  constructor(width: number, raw: readonly number[] = []) {
    this.#width = width;
    this.#raw = Array.from({ length: width }, (_, i) => raw.includes(i));
  }

  /**
   * Appends to `rows` the rows completed by `chunk`.
   *
   * @throws {Error} when a row has another number of columns.
   */
  decode(chunk: Uint8Array, rows: CopyTextRow[]): void {
    const text = this.#rest + this.#decoder.decode(chunk, { stream: true });
    const last = this.#width - 1;
    let at = 0;
    for (;;) {
      const end = text.indexOf("\n", at);
      if (end < 0) break;
      const row: CopyTextRow = new Array(this.#width);
      let start = at;
      for (let i = 0; i < last; i++) {
        const tab = text.indexOf("\t", start);
        if (tab < 0 || tab > end) throw this.#badRow(text.slice(at, end));
        const value = text.slice(start, tab);
        row[i] = this.#raw[i] ? value : field(value);
        start = tab + 1;
      }
      const tab = text.indexOf("\t", start);
      if (tab >= 0 && tab < end) throw this.#badRow(text.slice(at, end));
      const value = text.slice(start, end);
      row[last] = this.#raw[last] ? value : field(value);
      rows.push(row);
      at = end + 1;
    }
    this.#rest = at === 0 ? text : text.slice(at);
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

  #badRow(line: string): Error {
    return new Error(
      `A copied row does not have ${this.#width} columns: ${
        JSON.stringify(line.slice(0, 120))
      }`,
    );
  }
}

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

/** One column's text: `NULL`, as is, or unescaped. */
function field(text: string): string | null {
  if (text.indexOf("\\") < 0) return text;
  if (text === "\\N") return null;
  return unescapeCopyText(text);
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
