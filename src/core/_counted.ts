/**
 * Counts in messages: "1 row", "2 rows", "0 events".
 *
 * @module
 */

/**
 * `n` with its noun, singular for one.
 *
 * @param n The count.
 * @param singular The noun for one.
 * @param plural The noun for any other count (default: `singular` + "s").
 */
export function counted(
  n: number,
  singular: string,
  plural: string = `${singular}s`,
): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
