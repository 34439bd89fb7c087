/**
 * Keeps the bytes of the last whole row of a `COPY … TO STDOUT` text as its
 * chunks go by, without decoding or counting anything (the copy itself
 * says how many rows it read). In COPY's text format a row ends with a
 * newline and a newline inside a value is escaped (`\n`), so every newline
 * byte ends a row: a chunk is searched from its end, once or twice,
 * however many rows it holds.
 *
 * @module
 */

const NEWLINE = 0x0a;

/**
 * The last whole row, from the chunks of a copy in order (a chunk may end
 * anywhere, even inside a UTF-8 character).
 */
export class LastCopiedRow {
  /** The pieces of the last whole row (several when it spanned chunks). */
  #last: Uint8Array[] = [];
  /** The pieces of the row not yet ended. */
  #open: Uint8Array[] = [];

  /**
   * Takes the next chunk. It keeps views of it: give a chunk that stays
   * unchanged.
   */
  add(chunk: Uint8Array): void {
    const end = chunk.lastIndexOf(NEWLINE);
    if (end < 0) {
      if (chunk.length > 0) this.#open.push(chunk);
      return;
    }
    // the row that `end` ends starts after the newline before it in this
    // chunk, else with the pieces still open
    const start = end > 0 ? chunk.lastIndexOf(NEWLINE, end - 1) + 1 : 0;
    if (start > 0) this.#last = [chunk.subarray(start, end + 1)];
    else {
      this.#open.push(chunk.subarray(0, end + 1));
      this.#last = this.#open;
    }
    this.#open = end + 1 < chunk.length ? [chunk.subarray(end + 1)] : [];
  }

  /** The bytes of the last whole row, newline included, in pieces. */
  get lastRow(): readonly Uint8Array[] {
    return this.#last;
  }
}
