/**
 * Progress of long replays: a bar with the count, the rate and the time
 * left on a terminal, and plain periodic lines when output is not one. It
 * only formats: where the text goes is the caller's `ProgressOutput` (the
 * migrator's default is standard error).
 *
 * @module
 */

import type { ProgressOutput } from "./view_schema.ts";

/**
 * Reports progress of a task with a known total.
 *
 * @example
 * ```ts
 * import { Progress } from "@sequent/core/internal";
 *
 * const lines: string[] = [];
 * const progress = new Progress("replay", 1000, {
 *   output: { write: (t) => lines.push(t), isTerminal: false },
 *   intervalMs: 0,
 * });
 * progress.advance(500);
 * progress.advance(500);
 * progress.finish();
 * console.assert(lines.at(-1)?.startsWith("replay: 1,000 of 1,000"));
 * ```
 */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #output: ProgressOutput;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #start: number;
  #done = 0;
  #lastWrite = Number.NEGATIVE_INFINITY;
  #finished = false;

  /**
   * Starts reporting.
   *
   * @param label What is being done, e.g. `"replay"`.
   * @param total How many items in all.
   * @param options `output` (where the text goes), `intervalMs` between
   *   reports (default 100 on a terminal, 5,000 otherwise), and `now` (a
   *   clock, for tests).
   */
  constructor(
    label: string,
    total: number,
    options: {
      output: ProgressOutput;
      intervalMs?: number | undefined;
      now?: (() => number) | undefined;
    },
  ) {
    this.#label = label;
    this.#total = Math.max(0, total);
    this.#output = options.output;
    this.#intervalMs = options.intervalMs ??
      (this.#output.isTerminal ? 100 : 5000);
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** How many items are done. */
  get done(): number {
    return this.#done;
  }

  /**
   * Counts items as done, reporting when the interval has passed.
   *
   * @param count How many more are done.
   */
  advance(count: number): void {
    this.#done += count;
    const now = this.#now();
    if (now - this.#lastWrite >= this.#intervalMs) {
      this.#lastWrite = now;
      this.#report(now, false);
    }
  }

  /** Reports the final state. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#report(this.#now(), true);
  }

  #report(now: number, final: boolean): void {
    const seconds = Math.max((now - this.#start) / 1000, 1e-9);
    const rate = this.#done / seconds;
    const left = rate > 0 ? Math.max(this.#total - this.#done, 0) / rate : 0;
    const counts = `${format(this.#done)} of ${format(this.#total)}`;
    const timing = final
      ? `${format(Math.round(rate))}/s in ${duration(seconds)}`
      : `${format(Math.round(rate))}/s, ${duration(left)} left`;
    if (this.#output.isTerminal) {
      const width = 30;
      const share = this.#total > 0 ? Math.min(this.#done / this.#total, 1) : 1;
      const filled = Math.round(share * width);
      const bar = "█".repeat(filled) + "░".repeat(width - filled);
      this.#output.write(
        `\r${this.#label} ${bar} ${
          Math.floor(share * 100)
        }% ${counts} ${timing}\x1b[K${final ? "\n" : ""}`,
      );
    } else {
      this.#output.write(`${this.#label}: ${counts} (${timing})\n`);
    }
  }
}

function format(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
