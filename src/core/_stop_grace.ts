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
