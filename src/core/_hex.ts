/**
 * Hex digits read off text by char code, for the places that decode hex
 * on a hot path (a UUID's bytes for its partition, a timestamp's bytes in
 * a replay) without a RegExp, `parseInt` or slices.
 *
 * @module
 */

/** A hex digit's value (either case) from its char code; -1 for any other. */
export function hexDigitValue(c: number): number {
  return c >= 0x30 && c <= 0x39
    ? c - 0x30
    : c >= 0x61 && c <= 0x66
    ? c - 0x57
    : c >= 0x41 && c <= 0x46
    ? c - 0x37
    : -1;
}
