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
 * Each wait keeps its own deadline timer rather than being timed out by
 * the shared read: a read that stalls (the database unreachable, the pool
 * exhausted) would otherwise hold every caller past its timeout for as long
 * as the stall lasts. And each wait is settled on its own: a token that
 * does not compare (a typo, a tampered header) fails its own wait, not the
 * shared loop, which would leave every later wait hanging.
 *
 * @module
 */

/** The pause between two reads of the checkpoints while callers wait. */
export const WAIT_POLL_MS = 2;

/**
 * The longest delay a timer takes (a signed 32-bit count of milliseconds);
 * a longer one fires at once, so a longer wait re-arms its timer.
 */
const MAX_TIMER_MS = 2_147_483_647;

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
  /** The processors not yet seen past the token (all, before a read). */
  behind: readonly string[];
  /** Rejects the wait at its deadline. */
  timer: ReturnType<typeof setTimeout> | undefined;
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
  /** Ends the loop's pause early, once nobody waits (no timer is left). */
  #wake: (() => void) | undefined;

  /**
   * Creates a watch; it reads only while someone waits.
   *
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
   * @throws what `timedOut` builds when they had not by the deadline, even
   *   while a read of the checkpoints is still under way (the processors
   *   not yet seen past the token count as behind); whatever a read of the
   *   checkpoints threw, to each caller that read was for; whatever
   *   `compare` threw for this wait's token, to this caller alone.
   */
  wait(wait: CheckpointWait): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        ...wait,
        deadline: performance.now() + wait.timeoutMs,
        resolve,
        reject,
        behind: wait.processors,
        timer: undefined,
      };
      this.#waiters.add(waiter);
      this.#arm(waiter);
      if (!this.#polling) void this.#poll();
    });
  }

  /**
   * Sets the waiter's deadline timer. Even a deadline that has passed
   * (`timeoutMs` 0) is a timer: a read that answers at once still counts.
   */
  #arm(w: Waiter): void {
    const left = Math.max(0, Math.ceil(w.deadline - performance.now()));
    w.timer = setTimeout(() => {
      w.timer = undefined;
      if (!this.#waiters.has(w)) return;
      if (performance.now() < w.deadline) this.#arm(w);
      else this.#reject(w, this.#timedOut(w));
    }, Math.min(left, MAX_TIMER_MS));
  }

  /** Ends a wait that has not ended yet, and its timer. */
  #remove(w: Waiter): boolean {
    if (!this.#waiters.delete(w)) return false;
    clearTimeout(w.timer);
    w.timer = undefined;
    if (this.#waiters.size === 0) this.#wake?.();
    return true;
  }

  #resolve(w: Waiter): void {
    if (this.#remove(w)) w.resolve();
  }

  #reject(w: Waiter, error: unknown): void {
    if (this.#remove(w)) w.reject(error);
  }

  /** The timeout error of `w` (or what building it threw). */
  #timedOut(w: Waiter): unknown {
    try {
      return this.#source.timedOut(w, w.behind);
    } catch (error) {
      return error;
    }
  }

  /**
   * Reads while anyone waits. It never rejects: each call into the source
   * is caught, and fails only the waits it was for.
   */
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
          for (const w of waiting) this.#reject(w, error);
          continue;
        }
        const now = performance.now();
        for (const w of waiting) {
          // (one whose deadline passed during the read is gone already)
          if (!this.#waiters.has(w)) continue;
          try {
            w.behind = w.processors.filter((name) =>
              this.#source.compare(checkpoints.get(name) ?? "", w.token) < 0
            );
          } catch (error) {
            this.#reject(w, error);
            continue;
          }
          if (w.behind.length === 0) this.#resolve(w);
          // (its timer is late, and the answer is in)
          else if (now >= w.deadline) this.#reject(w, this.#timedOut(w));
        }
        if (this.#waiters.size === 0) break;
        // (a caller that came during the read is answered by the next)
        await this.#pause();
      }
    } finally {
      this.#polling = false;
    }
  }

  /**
   * The pause between two reads, cut short once nobody waits, so that no
   * timer outlives the last wait.
   */
  #pause(): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, this.#pauseMs);
      this.#wake = wake;
    });
  }
}
