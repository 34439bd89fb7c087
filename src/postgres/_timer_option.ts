/**
 * The check every millisecond option of the PostgreSQL adapter makes
 * before a timer is set with it: a timer of `NaN`, a negative delay or one
 * longer than 2^31 - 1 ms fires at once.
 *
 * @module
 */

/** The longest delay a timer takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Refuses a number of milliseconds out of `min`…{@linkcode MAX_TIMER_MS}.
 *
 * @param label What to call the option in the error (`option idleTimeoutMs`).
 * @param value Its value; `undefined` (not given) passes.
 * @param min The least value it may have.
 * @throws {TypeError} naming the option, the range and the value.
 */
export function checkMilliseconds(
  label: string,
  value: number | undefined,
  min: number,
): void {
  if (value !== undefined && !(value >= min && value <= MAX_TIMER_MS)) {
    throw new TypeError(
      `The ${label} must be a number of milliseconds from ${min} to ${MAX_TIMER_MS}, not ${
        String(value)
      }`,
    );
  }
}
