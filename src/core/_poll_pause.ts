/**
 * How long a processor waits between two rounds of `ProcessorRunner.run`.
 *
 * - Idle (the round handled nothing): the pause doubles, up to `max`.
 * - Following (events come slower than {@linkcode BUSY_EVENTS_PER_S}): the
 *   pause is `min`, so an event is handled within about `min` of its
 *   commit.
 * - Busy (events come faster): the pause grows in proportion to the rate,
 *   up to `busyMax`. Each round costs the writers about the same, a read
 *   and a checkpoint commit, however many events it handles; under load,
 *   fewer and larger rounds leave the database to the writers, and the
 *   latency grows with the load, never past `busyMax`.
 *
 * @module
 */

/**
 * The pauses between rounds a caller may set, in milliseconds: `min` while
 * events come (default 10), doubling up to `max` while none do (default
 * 250). When events come faster than 1,000 per second, the pause grows with
 * the rate up to `busyMax` (default 50): fewer, larger rounds cost the
 * writers less, and the latency grows with the load. A `busyMax` equal to
 * `min` keeps the pause at `min`.
 *
 * @example
 * ```ts
 * import type { PollMs } from "@sequent/core";
 *
 * const pollMs: PollMs = { min: 5, max: 100 };
 * ```
 */
export interface PollMs {
  /** The pause while events come. */
  readonly min: number;
  /** The longest pause, when idle. */
  readonly max: number;
  /** The longest pause while busy (default: 50, within `min`…`max`). */
  readonly busyMax?: number | undefined;
}

/** The pauses of a processor's rounds, in milliseconds. */
export interface PollPauses {
  /** The pause while events come. */
  readonly min: number;
  /** The longest pause, when idle. */
  readonly max: number;
  /** The longest pause while busy. */
  readonly busyMax: number;
}

/**
 * The event rate (per second, per processor) above which a processor is
 * busy and its pause grows: at the default `min` of 10 ms, rounds of ten
 * events. Beside eight writers storing some 1,600 events a second, a
 * processor that polled every 10 ms (at 2,000) cost them 6.6% of their
 * rate, and 2.5% at this threshold (16 ms pauses there), as means of four
 * interleaved benchmark runs each (one run's figure spreads by some 4%): a
 * round costs the database a read and a checkpoint commit however few
 * events it handles. Below it (read-your-writes at 200 commands a second),
 * nothing changes.
 */
export const BUSY_EVENTS_PER_S = 1_000;

/**
 * The pause after a round.
 *
 * @param poll The pauses.
 * @param previous The pause before this round.
 * @param handled The events the round handled.
 * @param elapsedMs Since the previous round started: the time in which
 *   those events came.
 * @returns The next pause, in milliseconds.
 */
export function pauseAfter(
  poll: PollPauses,
  previous: number,
  handled: number,
  elapsedMs: number,
): number {
  if (handled === 0) return Math.min(poll.max, Math.max(previous, 1) * 2);
  const perSecond = (handled * 1000) / Math.max(elapsedMs, poll.min, 1);
  if (perSecond <= BUSY_EVENTS_PER_S) return poll.min;
  return Math.min(
    Math.max(poll.busyMax, poll.min),
    (poll.min * perSecond) / BUSY_EVENTS_PER_S,
  );
}

/**
 * The pauses a caller gave (`pollMs`), checked, with their defaults: 10 ms
 * while events come, up to 250 ms idle and 50 ms busy.
 *
 * @param given The caller's pauses, if any.
 * @returns The pauses.
 * @throws {RangeError} naming a pause that is negative or not a number, or
 *   a `min` above `max` or `busyMax`.
 */
export function checkPollPauses(given: PollMs | undefined): PollPauses {
  const min = given?.min ?? 10;
  const max = given?.max ?? 250;
  // (by default at most the idle pause, and never below `min`)
  const poll = {
    min,
    max,
    busyMax: given?.busyMax ?? Math.max(min, Math.min(max, 50)),
  };
  for (const [name, value] of Object.entries(poll)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `pollMs.${name} must be a number of milliseconds ≥ 0, got ${value}`,
      );
    }
  }
  if (poll.max < poll.min || poll.busyMax < poll.min) {
    throw new RangeError(
      `pollMs: min (${poll.min}) must not exceed max (${poll.max}) or busyMax (${poll.busyMax})`,
    );
  }
  return poll;
}
