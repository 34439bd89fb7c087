/**
 * An exact, immutable decimal number for money, quantities and other values
 * that must not suffer from binary floating point rounding.
 *
 * @module
 */

/**
 * How {@linkcode Decimal.round}, {@linkcode Decimal.dividedBy} and
 * {@linkcode Decimal.toFixed} round a value that does not fit the target
 * scale:
 *
 * - `"half-even"`: to the nearest neighbour, ties to the even neighbour
 *   (banker's rounding; the default)
 * - `"half-up"`: to the nearest neighbour, ties away from zero
 * - `"down"`: towards zero (truncation)
 * - `"up"`: away from zero
 * - `"floor"`: towards negative infinity
 * - `"ceiling"`: towards positive infinity
 *
 * @example Rounding a tie with different modes
 * ```ts
 * import assert from "node:assert/strict";
 * import { Decimal, type RoundingMode } from "@sequent/core";
 *
 * const mode: RoundingMode = "half-up";
 * assert.equal(Decimal.from("2.5").round(0, mode).toString(), "3");
 * assert.equal(Decimal.from("2.5").round(0, "half-even").toString(), "2");
 * ```
 */
export type RoundingMode =
  | "half-even"
  | "half-up"
  | "down"
  | "up"
  | "floor"
  | "ceiling";

const ROUNDING_MODES: readonly string[] = [
  "half-even",
  "half-up",
  "down",
  "up",
  "floor",
  "ceiling",
];

/** Strict grammar: optional sign, digits, optional fraction, optional exponent. */
const DECIMAL_PATTERN = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * Largest accepted exponent magnitude in parsed strings. It guards against
 * inputs such as `"1e1000000000"` that would allocate enormous numbers.
 */
const MAX_EXPONENT = 1000;

const DEFAULT_DIVISION_SCALE = 20;

function powerOfTen(exponent: number): bigint {
  return 10n ** BigInt(exponent);
}

function describe(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
    case "bigint":
    case "boolean":
      return `"${String(value)}"`;
    case "undefined":
      return "undefined";
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      return value === null ? "null" : "an object";
  }
}

function checkScale(scale: number): void {
  if (!Number.isSafeInteger(scale) || scale < 0) {
    throw new RangeError(
      `Invalid scale ${describe(scale)}: must be a non-negative integer`,
    );
  }
}

function checkRoundingMode(rounding: string): void {
  if (!ROUNDING_MODES.includes(rounding)) {
    throw new RangeError(
      `Unknown rounding mode ${describe(rounding)}: use one of ${
        ROUNDING_MODES.join(", ")
      }`,
    );
  }
}

/** Divides `numerator` by `denominator` (non-zero), rounding to an integer. */
function divideAndRound(
  numerator: bigint,
  denominator: bigint,
  rounding: RoundingMode,
): bigint {
  if (denominator < 0n) {
    numerator = -numerator;
    denominator = -denominator;
  }
  const quotient = numerator / denominator; // truncates towards zero
  const remainder = numerator % denominator; // has the sign of the numerator
  if (remainder === 0n) return quotient;
  const away = numerator < 0n ? quotient - 1n : quotient + 1n;
  switch (rounding) {
    case "down":
      return quotient;
    case "up":
      return away;
    case "floor":
      return numerator < 0n ? away : quotient;
    case "ceiling":
      return numerator < 0n ? quotient : away;
    case "half-up":
    case "half-even": {
      const twice = (remainder < 0n ? -remainder : remainder) * 2n;
      if (twice > denominator) return away;
      if (twice < denominator) return quotient;
      if (rounding === "half-up") return away;
      return quotient % 2n === 0n ? quotient : away;
    }
  }
}

/**
 * An exact, immutable decimal number: an arbitrary-precision integer
 * ({@linkcode Decimal.unscaled}) divided by ten to the power of a
 * non-negative {@linkcode Decimal.scale}. `12.50` is stored as
 * `unscaled = 1250n` and `scale = 2`.
 *
 * Addition, subtraction and multiplication are exact; division rounds to a
 * chosen scale with a chosen {@linkcode RoundingMode}. No floating point is
 * used anywhere in the arithmetic. The scale is kept, so `"10.50"` stays
 * `"10.50"`, and {@linkcode Decimal.toJSON} stores the value as that exact
 * string.
 *
 * The value and scale are public read-only fields of a frozen object, so
 * structural comparisons such as `assert.deepStrictEqual` tell different
 * decimals apart (they also tell `1.0` from `1`; use
 * {@linkcode Decimal.equals} for numeric equality).
 *
 * A `Decimal` refuses to be converted to a number implicitly: `a + b` or
 * `a * 2` throws a `TypeError` instead of silently doing float maths. String
 * conversion (`String(d)`, template literals) works.
 *
 * @example Exact arithmetic
 * ```ts
 * import assert from "node:assert/strict";
 * import { Decimal } from "@sequent/core";
 *
 * assert.equal(Decimal.from("0.1").plus("0.2").toString(), "0.3");
 * assert.equal(Decimal.from("19.99").times(3).toString(), "59.97");
 * assert.equal(`${Decimal.from("10.50")}`, "10.50");
 * assert.equal(JSON.stringify({ price: Decimal.from("10.50") }), '{"price":"10.50"}');
 * ```
 */
export class Decimal {
  /**
   * The integer value before scaling: the decimal equals
   * `unscaled / 10 ** scale`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("-12.50").unscaled, -1250n);
   * ```
   */
  readonly unscaled: bigint;

  /**
   * The number of digits after the decimal point (a non-negative integer).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("12.50").scale, 2);
   * assert.equal(Decimal.from("7").scale, 0);
   * assert.equal(Decimal.from("1.5e3").scale, 0);
   * ```
   */
  readonly scale: number;

  private constructor(unscaled: bigint, scale: number) {
    this.unscaled = unscaled;
    this.scale = scale;
    Object.freeze(this);
  }

  /**
   * Converts a value to a decimal.
   *
   * - A `Decimal` is returned as is.
   * - A string must match `[+-]?digits[.digits]` with an optional exponent
   *   (`1.5e3`, `2E-2`, exponent magnitude at most 1000); surrounding
   *   whitespace, `".5"`, `"5."`, `"Infinity"` and the like are rejected.
   * - A number must be finite and is converted through its shortest
   *   round-trip string (`String(n)`), so `Decimal.from(0.1)` is exactly
   *   `0.1`, not the binary value closest to it.
   * - A bigint becomes a decimal with scale 0.
   *
   * @param value The value to convert.
   * @returns The decimal.
   * @throws {RangeError} If the value cannot be converted; the message quotes
   * it, e.g. `Cannot convert "abc" to a decimal`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("-12.50").toString(), "-12.50");
   * assert.equal(Decimal.from("1.5e3").toString(), "1500");
   * assert.equal(Decimal.from(0.1).toString(), "0.1");
   * assert.equal(Decimal.from(10n ** 30n).toString(), "1000000000000000000000000000000");
   * assert.throws(() => Decimal.from("abc"), RangeError);
   * ```
   */
  static from(value: Decimal | string | number | bigint): Decimal {
    if (value instanceof Decimal) return value;
    switch (typeof value) {
      case "bigint":
        return new Decimal(value, 0);
      case "number":
        if (!Number.isFinite(value)) break;
        return Decimal.#parse(String(value), value);
      case "string":
        return Decimal.#parse(value, value);
    }
    throw new RangeError(`Cannot convert ${describe(value)} to a decimal`);
  }

  static #parse(text: string, original: unknown): Decimal {
    const match = DECIMAL_PATTERN.exec(text);
    if (match === null) {
      throw new RangeError(`Cannot convert ${describe(original)} to a decimal`);
    }
    const [, sign = "", integer = "", fraction = "", exponentText = "0"] =
      match;
    const exponent = Number(exponentText);
    if (!(Math.abs(exponent) <= MAX_EXPONENT)) {
      throw new RangeError(
        `Cannot convert ${
          describe(original)
        } to a decimal: the exponent must be between -${MAX_EXPONENT} and ${MAX_EXPONENT}`,
      );
    }
    let unscaled = BigInt(integer + fraction);
    if (sign === "-") unscaled = -unscaled;
    let scale = fraction.length - exponent;
    if (scale < 0) {
      unscaled *= powerOfTen(-scale);
      scale = 0;
    }
    return new Decimal(unscaled, scale);
  }

  /**
   * Converts a value to a decimal like {@linkcode Decimal.from}, but returns
   * `undefined` instead of throwing for anything that cannot be converted
   * (including values of other types, such as `null` or objects).
   *
   * @param value The value to convert.
   * @returns The decimal, or `undefined`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.tryFrom("1.25")?.toString(), "1.25");
   * assert.equal(Decimal.tryFrom("1,25"), undefined);
   * assert.equal(Decimal.tryFrom(null), undefined);
   * ```
   */
  static tryFrom(value: unknown): Decimal | undefined {
    switch (typeof value) {
      case "string":
      case "number":
      case "bigint":
        break;
      default:
        return value instanceof Decimal ? value : undefined;
    }
    try {
      return Decimal.from(value);
    } catch {
      return undefined;
    }
  }

  /**
   * Tells whether a value is a `Decimal`.
   *
   * @param value The value to test.
   * @returns `true` if the value is a `Decimal` instance.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.isDecimal(Decimal.from(1)), true);
   * assert.equal(Decimal.isDecimal("1"), false);
   * ```
   */
  static isDecimal(value: unknown): value is Decimal {
    return value instanceof Decimal;
  }

  /** Returns the unscaled values of both operands at their common scale. */
  #align(other: Decimal): [bigint, bigint, number] {
    if (this.scale === other.scale) {
      return [this.unscaled, other.unscaled, this.scale];
    }
    if (this.scale > other.scale) {
      const factor = powerOfTen(this.scale - other.scale);
      return [this.unscaled, other.unscaled * factor, this.scale];
    }
    const factor = powerOfTen(other.scale - this.scale);
    return [this.unscaled * factor, other.unscaled, other.scale];
  }

  /**
   * Adds exactly. The result has the larger scale of the two operands.
   *
   * @param other The value to add.
   * @returns `this + other`.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("0.1").plus("0.2").toString(), "0.3");
   * assert.equal(Decimal.from("1.50").plus(1).toString(), "2.50");
   * ```
   */
  plus(other: Decimal | string | number | bigint): Decimal {
    const [a, b, scale] = this.#align(Decimal.from(other));
    return new Decimal(a + b, scale);
  }

  /**
   * Subtracts exactly. The result has the larger scale of the two operands.
   *
   * @param other The value to subtract.
   * @returns `this - other`.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("0.3").minus("0.1").toString(), "0.2");
   * assert.equal(Decimal.from("1").minus("1.25").toString(), "-0.25");
   * ```
   */
  minus(other: Decimal | string | number | bigint): Decimal {
    const [a, b, scale] = this.#align(Decimal.from(other));
    return new Decimal(a - b, scale);
  }

  /**
   * Multiplies exactly. The result's scale is the sum of both scales.
   *
   * @param other The value to multiply by.
   * @returns `this * other`.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("1.1").times("1.1").toString(), "1.21");
   * assert.equal(Decimal.from("19.99").times(3).toString(), "59.97");
   * ```
   */
  times(other: Decimal | string | number | bigint): Decimal {
    const factor = Decimal.from(other);
    return new Decimal(
      this.unscaled * factor.unscaled,
      this.scale + factor.scale,
    );
  }

  /**
   * Divides, rounding the quotient to a fixed scale.
   *
   * @param other The divisor.
   * @param options `scale`: the number of digits after the decimal point of
   * the result (default: the largest of 20 and both operands' scales; the
   * result always has exactly this scale). `rounding`: how to round the last
   * digit (default `"half-even"`).
   * @returns `this / other`, rounded.
   * @throws {RangeError} If `other` is zero or cannot be converted, or the
   * options are invalid.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from(10).dividedBy(4).toString(), "2.50000000000000000000");
   * assert.equal(Decimal.from(10).dividedBy(3, { scale: 2 }).toString(), "3.33");
   * assert.equal(Decimal.from(2).dividedBy(3, { scale: 2, rounding: "down" }).toString(), "0.66");
   * assert.throws(() => Decimal.from(1).dividedBy(0), RangeError);
   * ```
   */
  dividedBy(
    other: Decimal | string | number | bigint,
    options: { scale?: number; rounding?: RoundingMode } = {},
  ): Decimal {
    const divisor = Decimal.from(other);
    const scale = options.scale ??
      Math.max(DEFAULT_DIVISION_SCALE, this.scale, divisor.scale);
    const rounding = options.rounding ?? "half-even";
    checkScale(scale);
    checkRoundingMode(rounding);
    if (divisor.unscaled === 0n) {
      throw new RangeError(
        `Cannot divide ${describe(this.toString())} by zero`,
      );
    }
    // this / divisor * 10^scale
    //   = this.unscaled * 10^(scale - this.scale + divisor.scale) / divisor.unscaled
    const shift = scale - this.scale + divisor.scale;
    const numerator = shift >= 0
      ? this.unscaled * powerOfTen(shift)
      : this.unscaled;
    const denominator = shift >= 0
      ? divisor.unscaled
      : divisor.unscaled * powerOfTen(-shift);
    return new Decimal(
      divideAndRound(numerator, denominator, rounding),
      scale,
    );
  }

  /**
   * Rounds (or pads with zeros) to exactly `scale` digits after the decimal
   * point.
   *
   * @param scale The number of digits after the decimal point; a
   * non-negative integer.
   * @param rounding How to round (default `"half-even"`).
   * @returns The rounded decimal, with scale `scale`.
   * @throws {RangeError} If `scale` or `rounding` is invalid.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("2.345").round(2).toString(), "2.34");
   * assert.equal(Decimal.from("2.345").round(2, "half-up").toString(), "2.35");
   * assert.equal(Decimal.from("-2.341").round(2, "floor").toString(), "-2.35");
   * assert.equal(Decimal.from("2.5").round(3).toString(), "2.500");
   * ```
   */
  round(scale: number, rounding: RoundingMode = "half-even"): Decimal {
    checkScale(scale);
    checkRoundingMode(rounding);
    if (scale === this.scale) return this;
    if (scale > this.scale) {
      return new Decimal(
        this.unscaled * powerOfTen(scale - this.scale),
        scale,
      );
    }
    return new Decimal(
      divideAndRound(
        this.unscaled,
        powerOfTen(this.scale - scale),
        rounding,
      ),
      scale,
    );
  }

  /**
   * Changes the sign, keeping the scale.
   *
   * @returns `-this`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("1.50").negated().toString(), "-1.50");
   * assert.equal(Decimal.from("0").negated().toString(), "0");
   * ```
   */
  negated(): Decimal {
    return new Decimal(-this.unscaled, this.scale);
  }

  /**
   * The absolute value, keeping the scale.
   *
   * @returns `|this|`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("-1.50").abs().toString(), "1.50");
   * ```
   */
  abs(): Decimal {
    return this.unscaled < 0n ? this.negated() : this;
  }

  /**
   * Compares numerically; the scale does not matter (`1.0` equals `1`).
   *
   * @param other The value to compare with.
   * @returns `-1` if `this < other`, `0` if equal, `1` if `this > other`.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("1.5").compare("2"), -1);
   * assert.equal(Decimal.from("1.0").compare(1), 0);
   * const sorted = ["10", "9.5", "-1"].map((s) => Decimal.from(s)).sort((a, b) => a.compare(b));
   * assert.deepEqual(sorted.map(String), ["-1", "9.5", "10"]);
   * ```
   */
  compare(other: Decimal | string | number | bigint): -1 | 0 | 1 {
    const [a, b] = this.#align(Decimal.from(other));
    return a < b ? -1 : a > b ? 1 : 0;
  }

  /**
   * Tells whether both values are numerically equal; the scale does not
   * matter (`1.0` equals `1`).
   *
   * @param other The value to compare with.
   * @returns `true` if `this == other` numerically.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("1.0").equals(1), true);
   * assert.equal(Decimal.from("0.1").equals(0.1), true);
   * assert.equal(Decimal.from("0.1").equals("0.2"), false);
   * ```
   */
  equals(other: Decimal | string | number | bigint): boolean {
    return this.compare(other) === 0;
  }

  /**
   * Tells whether this value is numerically less than `other`.
   *
   * @param other The value to compare with.
   * @returns `true` if `this < other`.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("1.99").lessThan(2), true);
   * assert.equal(Decimal.from("2.00").lessThan(2), false);
   * ```
   */
  lessThan(other: Decimal | string | number | bigint): boolean {
    return this.compare(other) < 0;
  }

  /**
   * Tells whether this value is numerically less than or equal to `other`.
   *
   * @param other The value to compare with.
   * @returns `true` if `this <= other`.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("2.00").lessThanOrEqual(2), true);
   * assert.equal(Decimal.from("2.01").lessThanOrEqual(2), false);
   * ```
   */
  lessThanOrEqual(other: Decimal | string | number | bigint): boolean {
    return this.compare(other) <= 0;
  }

  /**
   * Tells whether this value is numerically greater than `other`.
   *
   * @param other The value to compare with.
   * @returns `true` if `this > other`.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("2.01").greaterThan(2), true);
   * assert.equal(Decimal.from("2.00").greaterThan(2), false);
   * ```
   */
  greaterThan(other: Decimal | string | number | bigint): boolean {
    return this.compare(other) > 0;
  }

  /**
   * Tells whether this value is numerically greater than or equal to
   * `other`.
   *
   * @param other The value to compare with.
   * @returns `true` if `this >= other`.
   * @throws {RangeError} If `other` cannot be converted to a decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("2.00").greaterThanOrEqual(2), true);
   * assert.equal(Decimal.from("1.99").greaterThanOrEqual(2), false);
   * ```
   */
  greaterThanOrEqual(other: Decimal | string | number | bigint): boolean {
    return this.compare(other) >= 0;
  }

  /**
   * Tells whether the value is zero (at any scale).
   *
   * @returns `true` if `this == 0`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("0.00").isZero(), true);
   * assert.equal(Decimal.from("0.01").isZero(), false);
   * ```
   */
  isZero(): boolean {
    return this.unscaled === 0n;
  }

  /**
   * Tells whether the value is less than zero (zero is not negative).
   *
   * @returns `true` if `this < 0`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("-0.01").isNegative(), true);
   * assert.equal(Decimal.from("-0").isNegative(), false);
   * ```
   */
  isNegative(): boolean {
    return this.unscaled < 0n;
  }

  /**
   * The sign of the value: `-1` if negative, `0` if zero, `1` if positive.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("-3.5").sign, -1);
   * assert.equal(Decimal.from("0.00").sign, 0);
   * assert.equal(Decimal.from("3.5").sign, 1);
   * ```
   */
  get sign(): -1 | 0 | 1 {
    return this.unscaled < 0n ? -1 : this.unscaled > 0n ? 1 : 0;
  }

  /**
   * Formats in plain notation (never an exponent), keeping the scale:
   * `"10.50"` stays `"10.50"`. Zero is never formatted as `"-0"`.
   *
   * @returns The decimal as a string that {@linkcode Decimal.from} reads
   * back to an identical decimal.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("10.50").toString(), "10.50");
   * assert.equal(Decimal.from("-0.5").toString(), "-0.5");
   * assert.equal(Decimal.from("1e-3").toString(), "0.001");
   * assert.equal(Decimal.from("-0").toString(), "0");
   * ```
   */
  toString(): string {
    const negative = this.unscaled < 0n;
    const digits = (negative ? -this.unscaled : this.unscaled).toString();
    let text: string;
    if (this.scale === 0) {
      text = digits;
    } else {
      const padded = digits.padStart(this.scale + 1, "0");
      const point = padded.length - this.scale;
      text = `${padded.slice(0, point)}.${padded.slice(point)}`;
    }
    return negative ? `-${text}` : text;
  }

  /**
   * The JSON representation: the same string as
   * {@linkcode Decimal.toString}, so decimals round-trip exactly through
   * JSON (read them back with {@linkcode Decimal.from}).
   *
   * @returns The decimal as a string.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * const json = JSON.stringify({ amount: Decimal.from("10.50") });
   * assert.equal(json, '{"amount":"10.50"}');
   * assert.equal(Decimal.from(JSON.parse(json).amount).toString(), "10.50");
   * ```
   */
  toJSON(): string {
    return this.toString();
  }

  /**
   * Converts to the nearest JavaScript number. This may lose precision, and
   * values beyond the number range become `Infinity` or `-Infinity`.
   *
   * @returns The nearest number.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("12.50").toNumber(), 12.5);
   * ```
   */
  toNumber(): number {
    return Number(this.toString());
  }

  /**
   * Formats with exactly `scale` digits after the decimal point, rounding
   * like {@linkcode Decimal.round}.
   *
   * @param scale The number of digits after the decimal point; a
   * non-negative integer.
   * @param rounding How to round (default `"half-even"`).
   * @returns The rounded decimal as a string.
   * @throws {RangeError} If `scale` or `rounding` is invalid.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.equal(Decimal.from("3").toFixed(2), "3.00");
   * assert.equal(Decimal.from("2.345").toFixed(2), "2.34");
   * assert.equal(Decimal.from("2.345").toFixed(2, "half-up"), "2.35");
   * ```
   */
  toFixed(scale: number, rounding: RoundingMode = "half-even"): string {
    return this.round(scale, rounding).toString();
  }

  /**
   * Always throws: a decimal cannot be used as a primitive number, so that
   * `a + b` or `a < b` cannot silently do floating point maths. Use
   * {@linkcode Decimal.plus}, {@linkcode Decimal.compare} and the other
   * methods, or {@linkcode Decimal.toNumber} to convert explicitly.
   *
   * @returns Never returns.
   * @throws {TypeError} Always.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * assert.throws(() => Decimal.from(1).valueOf(), TypeError);
   * ```
   */
  valueOf(): never {
    throw new TypeError(
      `Cannot convert decimal ${
        describe(this.toString())
      } to a primitive number: use methods such as plus(), compare() or toNumber()`,
    );
  }

  /**
   * Implicit conversion to a primitive: allowed to a string (`String(d)`,
   * template literals), refused (with a `TypeError`) to a number or by
   * default (`+d`, `d * 2`, `d + 1`, `d == 1`).
   *
   * @param hint The conversion the JavaScript engine asks for.
   * @returns The decimal as a string, for the `"string"` hint.
   * @throws {TypeError} For the `"number"` and `"default"` hints.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Decimal } from "@sequent/core";
   *
   * const d = Decimal.from("1.50");
   * assert.equal(`${d} EUR`, "1.50 EUR");
   * assert.throws(() => +d, TypeError);
   * ```
   */
  [Symbol.toPrimitive](hint: string): string {
    if (hint === "string") return this.toString();
    return this.valueOf();
  }
}
