/**
 * Counts the rows of a `COPY … TO STDOUT` text as its chunks go by, and
 * keeps the bytes of the last whole row, without decoding anything. In
 * COPY's text format a row ends with a newline and a newline inside a
 * value is escaped (`\n`), so every newline byte ends a row.
 *
 * @module
 */

const NEWLINE = 0x0a;

/**
 * The rows seen so far and the last whole one, from the chunks of a copy
 * in order (a chunk may end anywhere, even inside a UTF-8 character).
 */
export class CopyRowTally {
  /** Whole rows seen. */
  rows = 0;
  /** The pieces of the last whole row (several when it spanned chunks). */
  #last: Uint8Array[] = [];
  /** The pieces of the row not yet ended. */
  #open: Uint8Array[] = [];

  /**
   * Takes the next chunk and returns how many rows it ends. The tally
   * keeps views of it: give a chunk that stays unchanged.
   */
  add(chunk: Uint8Array): number {
    const end = chunk.lastIndexOf(NEWLINE);
    if (end < 0) {
      if (chunk.length > 0) this.#open.push(chunk);
      return 0;
    }
    let rows = 1;
    for (let at = chunk.indexOf(NEWLINE); at < end; rows++) {
      at = chunk.indexOf(NEWLINE, at + 1);
    }
    this.rows += rows;
    const start = rows > 1 ? chunk.lastIndexOf(NEWLINE, end - 1) + 1 : 0;
    if (start > 0) this.#last = [chunk.subarray(start, end + 1)];
    else {
      this.#open.push(chunk.subarray(0, end + 1));
      this.#last = this.#open;
    }
    this.#open = end + 1 < chunk.length ? [chunk.subarray(end + 1)] : [];
    return rows;
  }

  /** The bytes of the last whole row, newline included, in pieces. */
  get lastRow(): readonly Uint8Array[] {
    return this.#last;
  }
}
