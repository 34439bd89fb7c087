/**
 * Reading values of PostgreSQL's `COPY … TO STDOUT` text format (rows end
 * with a newline, columns are separated by tabs, `\N` is `NULL`; the
 * replay's rows are read by `ReplayEventDecoder`), where a backslash
 * escapes a backslash, a tab, a newline, a carriage return (`\\ \t \n \r`),
 * `\b \f \v`, or gives a byte in octal (`\123`) or hex (`\x5C`).
 *
 * @module
 */

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
