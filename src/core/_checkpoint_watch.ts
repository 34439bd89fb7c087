/**
 * Read-your-writes waits served together: however many callers of one
 * runner wait for processors to pass their tokens, one read of the
 * processors' checkpoints at a time answers them all, every
 * {@linkcode WAIT_POLL_MS} while any waits, and none while none does.
 *
 * Each caller polling on its own, with a back-off, made a wait end up to
 * half its length after the processor had passed the token (checks at 0,
 * 2, 6, 14, 30 ms …), and made the reads grow with the number of waiting
 * callers. Shared, the reads are bounded by the pause whatever the number
 * of callers, and a wait ends within about one pause of the checkpoint.
 *
 * A checkpoint read at any moment is a sound answer: a processor commits
 * its writes with its checkpoint, so a checkpoint at or past a token proves
 * that the token's effects are visible, whichever caller's read saw it.
 *
 * @module
 */

/** The pause between two reads of the checkpoints while callers wait. */
export const WAIT_POLL_MS = 2;

/** One caller's wait. */
export interface CheckpointWait {
  /** The read-your-writes token. */
  readonly token: string;
  /** The processors that must pass it. */
  readonly processors: readonly string[];
  /** How long to wait at most. */
  readonly timeoutMs: number;
}

interface Waiter extends CheckpointWait {
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** How the watch reads checkpoints, compares positions and times out. */
export interface CheckpointSource {
  /** The checkpoints of these processors (a missing one: never run). */
  read(
    processors: readonly string[],
  ): Promise<ReadonlyMap<string, string>>;
  /** Negative when position `a` is before `b`. */
  compare(a: string, b: string): number;
  /** The error of a wait that timed out, these processors still behind. */
  timedOut(wait: CheckpointWait, behind: readonly string[]): Error;
}

/** See the module documentation. */
export class CheckpointWatch {
  readonly #source: CheckpointSource;
  readonly #pauseMs: number;
  readonly #waiters = new Set<Waiter>();
  #polling = false;

  /**
   * @param source Reads, compares, builds the timeout error.
   * @param pauseMs The pause between reads (default {@linkcode WAIT_POLL_MS}).
   */
  constructor(source: CheckpointSource, pauseMs: number = WAIT_POLL_MS) {
    this.#source = source;
    this.#pauseMs = pauseMs;
  }

  /**
   * Resolves once every processor of `wait` has passed its token.
   *
   * @throws what `timedOut` builds when they had not in time; whatever a
   *   read of the checkpoints threw, to each caller that read was for.
   */
  wait(wait: CheckpointWait): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiters.add({
        ...wait,
        deadline: performance.now() + wait.timeoutMs,
        resolve,
        reject,
      });
      if (!this.#polling) void this.#poll();
    });
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      while (this.#waiters.size > 0) {
        const waiting = [...this.#waiters];
        const names = new Set<string>();
        for (const w of waiting) for (const n of w.processors) names.add(n);
        let checkpoints: ReadonlyMap<string, string>;
        try {
          checkpoints = await this.#source.read([...names]);
        } catch (error) {
          for (const w of waiting) {
            this.#waiters.delete(w);
            w.reject(error);
          }
          continue;
        }
        const now = performance.now();
        let next = Infinity;
        for (const w of waiting) {
          const behind = w.processors.filter((name) =>
            this.#source.compare(checkpoints.get(name) ?? "", w.token) < 0
          );
          if (behind.length === 0) {
            this.#waiters.delete(w);
            w.resolve();
          } else if (now >= w.deadline) {
            this.#waiters.delete(w);
            w.reject(this.#source.timedOut(w, behind));
          } else next = Math.min(next, w.deadline - now);
        }
        if (this.#waiters.size === 0) break;
        // (a caller that came during the read is answered by the next)
        await sleep(Math.max(0, Math.min(this.#pauseMs, next)));
      }
    } finally {
      this.#polling = false;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
