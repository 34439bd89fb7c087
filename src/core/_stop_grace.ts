/**
 * How a long-running loop (a processor runner, an outbox relay) stops
 * without waiting without end for a database that does not answer: the
 * call under way gets a grace, then is given up; what the loop gives back
 * (a claim, a membership) gets a short wait, then lapses.
 *
 * @module
 */

/** Rejects a call to the database a stop gave up waiting for. */
export class GivenUp extends Error {
  /** @param graceMs How long the stop waited. */
  constructor(graceMs: number) {
    super(`given up ${graceMs} ms after the stop`);
    this.name = "GivenUp";
  }
}

/**
 * What `work` comes to, unless `signal` aborts and `work` has not settled
 * within the grace `graceMs()` gives (in milliseconds, asked when the
 * signal aborts, or at once when it already has): then a rejection with
 * {@linkcode GivenUp}. `work` goes on; what it comes to later is of no
 * interest, and is not reported as an unhandled rejection.
 */
export function untilStoppedWithin<T>(
  work: Promise<T>,
  signal: AbortSignal,
  graceMs: () => number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      const ms = Math.max(0, graceMs());
      timer = setTimeout(() => reject(new GivenUp(Math.round(ms))), ms);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
  });
}

/**
 * The grace of a loop's calls under way once it is stopped: `ms` from the
 * moment of the stop ({@linkcode StopGrace.stopped}), one deadline for
 * every call, however late it started.
 */
export class StopGrace {
  /** The grace, in milliseconds. */
  readonly ms: number;
  #stoppedAt = 0;

  /** @param ms The grace, in milliseconds. */
  constructor(ms: number) {
    this.ms = ms;
  }

  /** Notes the stop: call it before the signal of the calls aborts. */
  stopped(): void {
    this.#stoppedAt = performance.now();
  }

  /**
   * What `work` comes to, or {@linkcode GivenUp} once `signal` has
   * aborted and the grace since the stop has run out (see
   * {@linkcode untilStoppedWithin}).
   */
  within<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    return untilStoppedWithin(
      work,
      signal,
      () => this.#stoppedAt + this.ms - performance.now(),
    );
  }
}

/**
 * Waits until `work` settles, for `ms` at most (none when `ms` is not
 * positive); what it comes to is dropped.
 */
export async function settledWithin(
  work: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    work.then(() => {}, () => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, ms));
    }),
  ]);
  clearTimeout(timer);
}
