/**
 * UUID text checks, shared by every place that takes an id: aggregates,
 * attributes, record columns, the stores. Read character by character
 * against a table rather than with a RegExp: measured here, 90–135 ns
 * against 205–240 ns for the RegExp on ids not seen before, which is what
 * a replay or a create command checks (one per new row or aggregate).
 *
 * @module
 */

/** 1 for the characters allowed as digits, by char code (ASCII only). */
function digitTable(digits: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < digits.length; i++) table[digits.charCodeAt(i)] = 1;
  return table;
}

const LOWER = digitTable("0123456789abcdef");
const EITHER = digitTable("0123456789abcdefABCDEF");

function isUuidText(value: unknown, digits: Uint8Array): value is string {
  if (typeof value !== "string" || value.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = value.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false; // "-"
    } else if (c > 127 || digits[c] === 0) return false;
  }
  return true;
}

/**
 * Whether `value` is a UUID in its canonical text: 8-4-4-4-12 lower-case
 * hex digits, as `crypto.randomUUID()` makes them.
 */
export function isUuid(value: unknown): value is string {
  return isUuidText(value, LOWER);
}

/** Whether `value` is a UUID's text, its hex digits in either case. */
export function isUuidAnyCase(value: unknown): value is string {
  return isUuidText(value, EITHER);
}
