/**
 * Rows held in memory by key, for the replay record store and for the
 * rows a processor's batch gathers.
 *
 * A replay mostly inserts rows in ascending key order (events come by
 * aggregate), and both then mostly ask for the row they inserted last (the
 * updates that fill it in over the aggregate's later events). Putting a
 * string in a `Map` hashes it the first time, which costs V8 a call out of
 * the map's fast path (some 200 ns to 1 µs a key, measured on the blog's
 * replay: a tenth of its time). So a row whose key is past every key held
 * is appended to a list instead, unhashed, and the row set last is kept
 * aside; only a lookup of another key that could be held moves the list
 * into the map. A key past every key held is not held, without a lookup.
 *
 * Iteration goes in insertion order, as a `Map`'s does: every appended row
 * came after every row in the map.
 *
 * @module
 */

type Row = Record<string, unknown>;

/** Rows by key (see the module documentation). */
export class HeldRows {
  readonly #map = new Map<string, Row>();
  /** Appended since the map last took them: keys ascending, unhashed. */
  #tailKeys: string[] = [];
  #tailRows: Row[] = [];
  /** No key held is greater ("" when none is held). */
  #max = "";
  /** The key set last, and its row. */
  #lastKey: string | undefined;
  #lastRow: Row | undefined;

  /** How many rows are held. */
  get size(): number {
    return this.#map.size + this.#tailKeys.length;
  }

  /**
   * The row held under `key`.
   *
   * @param key A row's key.
   * @returns The row, or `undefined` when none is held under it.
   */
  get(key: string): Row | undefined {
    if (key === this.#lastKey) return this.#lastRow;
    if (key > this.#max) return undefined;
    this.#settle();
    return this.#map.get(key);
  }

  /**
   * Whether a row is held under `key`.
   *
   * @param key A row's key.
   * @returns Whether one is.
   */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Holds `row` under `key`, in place of the row held under it, if any.
   *
   * @param key The row's key.
   * @param row The row.
   */
  set(key: string, row: Row): void {
    if (key > this.#max) {
      this.#tailKeys.push(key);
      this.#tailRows.push(row);
      this.#max = key;
    } else {
      this.#settle();
      this.#map.set(key, row);
    }
    this.#lastKey = key;
    this.#lastRow = row;
  }

  /**
   * Lets the row held under `key` go.
   *
   * @param key A row's key.
   * @returns Whether a row was held under it.
   */
  delete(key: string): boolean {
    if (key > this.#max) return false;
    this.#settle();
    if (key === this.#lastKey) this.#lastKey = this.#lastRow = undefined;
    return this.#map.delete(key);
  }

  /**
   * Calls `each` with every row held and its key, in insertion order.
   *
   * @param each What to call.
   */
  forEach(each: (row: Row, key: string) => void): void {
    // (forEach: no entry array made per row, as for…of makes)
    this.#map.forEach(each);
    const keys = this.#tailKeys;
    const rows = this.#tailRows;
    for (let i = 0; i < keys.length; i++) each(rows[i]!, keys[i]!);
  }

  /**
   * Calls `each` with every key held that was hashed, in any order, and
   * returns the others, ascending: what a caller keeping the keys can keep
   * as a sorted run, unhashed.
   *
   * @param each What to call with the hashed keys.
   * @returns The other keys, ascending.
   */
  splitKeys(each: (key: string) => void): readonly string[] {
    this.#map.forEach((_, key) => each(key));
    return this.#tailKeys;
  }

  /** Every row held, in insertion order. */
  *values(): IterableIterator<Row> {
    yield* this.#map.values();
    yield* this.#tailRows;
  }

  /** Every key and row held, in insertion order. */
  *[Symbol.iterator](): IterableIterator<[string, Row]> {
    yield* this.#map;
    for (let i = 0; i < this.#tailKeys.length; i++) {
      yield [this.#tailKeys[i]!, this.#tailRows[i]!];
    }
  }

  /** Moves the appended rows into the map. */
  #settle(): void {
    const keys = this.#tailKeys;
    if (keys.length === 0) return;
    const rows = this.#tailRows;
    for (let i = 0; i < keys.length; i++) this.#map.set(keys[i]!, rows[i]!);
    this.#tailKeys = [];
    this.#tailRows = [];
  }
}
