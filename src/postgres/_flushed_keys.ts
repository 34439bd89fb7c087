/**
 * The keys of the rows a replay record store has flushed to a table: what
 * tells it whether a key it does not hold may be in the database.
 *
 * A flush's keys come mostly as an ascending run (see `_held_rows.ts`);
 * such a run is kept as a sorted array and searched by bisection, never
 * hashed, and a run that starts past every key kept extends the last one,
 * so a replay in key order keeps one. Other keys go in a set. A key past
 * every key kept is not kept, without a lookup: a replay's new key
 * usually is.
 *
 * @module
 */

/** Runs kept apart before they are merged into one. */
const MAX_RUNS = 8;

/** Flushed keys (see the module documentation). */
export class FlushedKeys {
  readonly #set = new Set<string>();
  #runs: string[][] = [];
  /** Keys deleted that a run may still hold. */
  readonly #deleted = new Set<string>();
  /** No key kept is greater ("" when none is kept). */
  #max = "";

  /** Whether no key was kept since the last {@linkcode FlushedKeys.clear}. */
  get none(): boolean {
    return this.#set.size === 0 && this.#runs.length === 0;
  }

  /**
   * Whether `key` is kept.
   *
   * @param key A row's key.
   * @returns Whether it is.
   */
  has(key: string): boolean {
    if (key > this.#max) return false;
    if (this.#set.size > 0 && this.#set.has(key)) return true;
    if (this.#runs.length === 0) return false;
    if (this.#deleted.size > 0 && this.#deleted.has(key)) return false;
    for (const run of this.#runs) {
      if (includes(run, key)) return true;
    }
    return false;
  }

  /**
   * Keeps one key.
   *
   * @param key A row's key.
   */
  add(key: string): void {
    if (this.#deleted.size > 0) this.#deleted.delete(key);
    this.#set.add(key);
    if (key > this.#max) this.#max = key;
  }

  /**
   * Keeps the keys of an ascending run (each greater than the one before).
   *
   * @param keys The run; it is copied.
   */
  addRun(keys: readonly string[]): void {
    const count = keys.length;
    if (count === 0) return;
    if (this.#deleted.size > 0) {
      for (let i = 0; i < count; i++) this.#deleted.delete(keys[i]!);
    }
    const last = this.#runs[this.#runs.length - 1];
    if (last !== undefined && keys[0]! > this.#max) {
      for (let i = 0; i < count; i++) last.push(keys[i]!);
    } else {
      this.#runs.push(keys.slice());
      if (this.#runs.length > MAX_RUNS) {
        // one sorted run again (the sort merges the runs it finds)
        this.#runs = [this.#runs.flat().sort()];
      }
    }
    const top = keys[count - 1]!;
    if (top > this.#max) this.#max = top;
  }

  /**
   * Forgets a key.
   *
   * @param key A row's key.
   */
  delete(key: string): void {
    this.#set.delete(key);
    if (this.#runs.length > 0) this.#deleted.add(key);
  }

  /** Forgets every key. */
  clear(): void {
    this.#set.clear();
    this.#runs = [];
    this.#deleted.clear();
    this.#max = "";
  }
}

/** Whether the ascending `run` holds `key`, by bisection. */
function includes(run: readonly string[], key: string): boolean {
  let low = 0;
  let high = run.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const at = run[middle]!;
    if (at === key) return true;
    if (at < key) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}
