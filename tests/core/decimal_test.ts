import assert from "node:assert/strict";
import { Decimal, type RoundingMode } from "../../src/core/decimal.ts";

const MODES: readonly RoundingMode[] = [
  "half-even",
  "half-up",
  "down",
  "up",
  "floor",
  "ceiling",
];

function d(value: string): Decimal {
  return Decimal.from(value);
}

function rangeError(message: string): { name: string; message: string } {
  return { name: "RangeError", message };
}

// --- Construction -----------------------------------------------------------

Deno.test("Decimal.from() parses plain decimal strings and keeps their scale", () => {
  const cases: [string, string, bigint, number][] = [
    ["0", "0", 0n, 0],
    ["7", "7", 7n, 0],
    ["-7", "-7", -7n, 0],
    ["+7", "7", 7n, 0],
    ["007", "7", 7n, 0],
    ["10.50", "10.50", 1050n, 2],
    ["-0.5", "-0.5", -5n, 1],
    ["0.000", "0.000", 0n, 3],
    ["123456789.123456789", "123456789.123456789", 123456789123456789n, 9],
  ];
  for (const [input, text, unscaled, scale] of cases) {
    const value = Decimal.from(input);
    assert.equal(value.toString(), text, input);
    assert.equal(value.unscaled, unscaled, input);
    assert.equal(value.scale, scale, input);
  }
});

Deno.test("Decimal.from() never produces negative zero", () => {
  for (const input of ["-0", "-0.00", "+0", "-0e5", "-0.0e-2"]) {
    const value = Decimal.from(input);
    assert.equal(value.toString().startsWith("-"), false, input);
    assert.equal(value.isZero(), true, input);
    assert.equal(value.isNegative(), false, input);
  }
  assert.equal(Decimal.from("-0.00").toString(), "0.00");
});

Deno.test("Decimal.from() accepts exponents and converts them to plain notation", () => {
  const cases: [string, string, number][] = [
    ["1.5e3", "1500", 0],
    ["1.5E3", "1500", 0],
    ["2E-2", "0.02", 2],
    ["2e-2", "0.02", 2],
    ["1.23e+5", "123000", 0],
    ["-1.5e-3", "-0.0015", 4],
    ["12e0", "12", 0],
    ["1.250e1", "12.50", 2],
    ["1e-1000", "0." + "0".repeat(999) + "1", 1000],
  ];
  for (const [input, text, scale] of cases) {
    const value = Decimal.from(input);
    assert.equal(value.toString(), text, input);
    assert.equal(value.scale, scale, input);
  }
  assert.equal(Decimal.from("1e1000").toString(), "1" + "0".repeat(1000));
});

Deno.test("Decimal.from() rejects strings outside the strict grammar with a RangeError quoting the input", () => {
  const bad = [
    "",
    " ",
    "abc",
    " 1",
    "1 ",
    "\n1",
    "1.",
    ".5",
    "-.5",
    "1..2",
    "1.2.3",
    "--1",
    "+-1",
    "1e",
    "1e+",
    "e5",
    "1.5e3.2",
    "0x10",
    "0b1",
    "1_000",
    "1,5",
    "1 000",
    "Infinity",
    "-Infinity",
    "NaN",
    "١٢", // Arabic-Indic digits
    "１２", // full-width digits
    "12n",
  ];
  for (const input of bad) {
    assert.throws(
      () => Decimal.from(input),
      rangeError(`Cannot convert ${JSON.stringify(input)} to a decimal`),
      input,
    );
  }
  assert.throws(
    () => Decimal.from("abc"),
    rangeError('Cannot convert "abc" to a decimal'),
  );
  assert.throws(
    () => Decimal.from(" 1"),
    rangeError('Cannot convert " 1" to a decimal'),
  );
});

Deno.test("Decimal.from() rejects exponents beyond ±1000 instead of allocating huge numbers", () => {
  assert.throws(
    () => Decimal.from("1e1001"),
    rangeError(
      'Cannot convert "1e1001" to a decimal: the exponent must be between -1000 and 1000',
    ),
  );
  assert.throws(() => Decimal.from("1e-1001"), RangeError);
  assert.throws(() => Decimal.from("1e99999999999999999999999"), RangeError);
});

Deno.test("Decimal.from() converts numbers through their shortest round-trip string", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [-0, "0"],
    [0.1, "0.1"],
    [0.2, "0.2"],
    [0.1 + 0.2, "0.30000000000000004"],
    [-12.5, "-12.5"],
    [123.456, "123.456"],
    [1e21, "1000000000000000000000"],
    [1.5e-7, "0.00000015"],
    [Number.MAX_SAFE_INTEGER, "9007199254740991"],
    [5e-324, "0." + "0".repeat(323) + "5"],
  ];
  for (const [input, text] of cases) {
    assert.equal(Decimal.from(input).toString(), text, String(input));
  }
  assert.equal(Decimal.from(Number.MAX_VALUE).toString().length, 309);
  assert.equal(Decimal.from(0.1).equals("0.1"), true);
});

Deno.test("Decimal.from() rejects non-finite numbers with a RangeError quoting them", () => {
  assert.throws(
    () => Decimal.from(NaN),
    rangeError('Cannot convert "NaN" to a decimal'),
  );
  assert.throws(
    () => Decimal.from(Infinity),
    rangeError('Cannot convert "Infinity" to a decimal'),
  );
  assert.throws(
    () => Decimal.from(-Infinity),
    rangeError('Cannot convert "-Infinity" to a decimal'),
  );
});

Deno.test("Decimal.from() converts bigints exactly with scale 0, beyond 2^64", () => {
  const big = 2n ** 100n + 1n;
  const value = Decimal.from(big);
  assert.equal(value.toString(), "1267650600228229401496703205377");
  assert.equal(value.unscaled, big);
  assert.equal(value.scale, 0);
  assert.equal(Decimal.from(-5n).toString(), "-5");
});

Deno.test("Decimal.from() returns a Decimal argument unchanged", () => {
  const value = Decimal.from("1.50");
  assert.equal(Decimal.from(value), value);
});

Deno.test("Decimal.from() rejects values of other types at run time with a RangeError", () => {
  const from = Decimal.from as (value: unknown) => Decimal;
  assert.throws(
    () => from(null),
    rangeError("Cannot convert null to a decimal"),
  );
  assert.throws(
    () => from(undefined),
    rangeError("Cannot convert undefined to a decimal"),
  );
  assert.throws(
    () => from(true),
    rangeError('Cannot convert "true" to a decimal'),
  );
  assert.throws(
    () => from({}),
    rangeError("Cannot convert an object to a decimal"),
  );
});

Deno.test("Decimal.tryFrom() returns a decimal for convertible values and undefined otherwise, never throwing", () => {
  assert.equal(Decimal.tryFrom("1.50")?.toString(), "1.50");
  assert.equal(Decimal.tryFrom(0.1)?.toString(), "0.1");
  assert.equal(Decimal.tryFrom(12n)?.toString(), "12");
  const value = Decimal.from(3);
  assert.equal(Decimal.tryFrom(value), value);
  for (
    const bad of [
      "abc",
      " 1",
      "1e5000",
      NaN,
      Infinity,
      null,
      undefined,
      true,
      {},
      [],
      ["1"],
      () => 1,
      Symbol("x"),
      { toString: () => "1" },
    ]
  ) {
    assert.equal(Decimal.tryFrom(bad), undefined, String(typeof bad));
  }
});

Deno.test("Decimal.isDecimal() recognizes Decimal instances only", () => {
  assert.equal(Decimal.isDecimal(Decimal.from(1)), true);
  for (
    const other of ["1", 1, 1n, null, undefined, { unscaled: 1n, scale: 0 }]
  ) {
    assert.equal(Decimal.isDecimal(other), false);
  }
  const candidate: unknown = Decimal.from("2.5");
  if (Decimal.isDecimal(candidate)) {
    assert.equal(candidate.plus(1).toString(), "3.5"); // narrowed type
  } else {
    assert.fail("expected a decimal");
  }
});

// --- Arithmetic -------------------------------------------------------------

Deno.test("Decimal.plus() adds exactly without float rounding", () => {
  assert.equal(Decimal.from("0.1").plus("0.2").toString(), "0.3");
  assert.equal(Decimal.from(0.1).plus(0.2).toString(), "0.3");
  assert.equal(d("1.50").plus("2.5").toString(), "4.00");
  assert.equal(d("1").plus("-1.25").toString(), "-0.25");
  assert.equal(d("-1.5").plus("1.5").toString(), "0.0");
  assert.equal(d("9.99").plus(1n).toString(), "10.99");
  assert.equal(d("1").plus(Decimal.from("0.001")).toString(), "1.001");
});

Deno.test("Decimal.plus() is exact for values beyond 2^64", () => {
  const big = Decimal.from(2n ** 64n);
  assert.equal(big.plus(1).toString(), "18446744073709551617");
  assert.equal(
    d("99999999999999999999999999.99").plus("0.01").toString(),
    "100000000000000000000000000.00",
  );
});

Deno.test("Decimal.minus() subtracts exactly and keeps the larger scale", () => {
  assert.equal(d("0.3").minus("0.1").toString(), "0.2");
  assert.equal(d("1").minus("1.25").toString(), "-0.25");
  assert.equal(d("10.50").minus("0.5").toString(), "10.00");
  assert.equal(d("-1").minus("-1").toString(), "0");
  assert.equal(
    Decimal.from(2n ** 70n).minus(2n ** 70n - 1n).toString(),
    "1",
  );
});

Deno.test("Decimal.times() multiplies exactly, summing the scales", () => {
  assert.equal(d("1.1").times("1.1").toString(), "1.21");
  assert.equal(d("19.99").times(3).toString(), "59.97");
  assert.equal(d("0.10").times("0.10").toString(), "0.0100");
  assert.equal(d("-2.5").times("4").toString(), "-10.0");
  assert.equal(d("-2.5").times("-4").toString(), "10.0");
  assert.equal(d("0").times("-1").toString(), "0");
  const big = Decimal.from(2n ** 64n + 1n);
  assert.equal(
    big.times(big).toString(),
    (((2n ** 64n) + 1n) ** 2n).toString(),
  );
});

Deno.test("Decimal arithmetic rejects unconvertible operands with a RangeError", () => {
  const one = Decimal.from(1);
  assert.throws(
    () => one.plus("x"),
    rangeError('Cannot convert "x" to a decimal'),
  );
  assert.throws(() => one.minus(NaN), RangeError);
  assert.throws(() => one.times(""), RangeError);
  assert.throws(() => one.dividedBy("1/2"), RangeError);
});

Deno.test("Decimal.dividedBy() defaults to scale 20 with half-even rounding", () => {
  assert.equal(d("10").dividedBy(4).toString(), "2.50000000000000000000");
  assert.equal(d("1").dividedBy(3).toString(), "0.33333333333333333333");
  assert.equal(d("2").dividedBy(3).toString(), "0.66666666666666666667");
  assert.equal(d("-2").dividedBy(3).toString(), "-0.66666666666666666667");
  assert.equal(d("1").dividedBy(3).scale, 20);
});

Deno.test("Decimal.dividedBy() default scale grows to the larger operand scale beyond 20", () => {
  const precise = d("1." + "0".repeat(24) + "1"); // scale 25
  assert.equal(precise.dividedBy(1).scale, 25);
  assert.equal(precise.dividedBy(1).equals(precise), true);
  assert.equal(d("1").dividedBy(precise).scale, 25);
});

Deno.test("Decimal.dividedBy() rounds to the requested scale", () => {
  assert.equal(d("10").dividedBy(3, { scale: 2 }).toString(), "3.33");
  assert.equal(d("10").dividedBy(4, { scale: 0 }).toString(), "2"); // 2.5 → 2
  assert.equal(
    d("10").dividedBy(4, { scale: 0, rounding: "half-up" }).toString(),
    "3",
  );
  assert.equal(d("1").dividedBy(8, { scale: 5 }).toString(), "0.12500");
  assert.equal(d("100").dividedBy("0.01", { scale: 0 }).toString(), "10000");
  assert.equal(d("1.23456").dividedBy("1", { scale: 2 }).toString(), "1.23");
  assert.equal(
    d("2").dividedBy(3, { scale: 2, rounding: "down" }).toString(),
    "0.66",
  );
  assert.equal(
    d("2").dividedBy(3, { scale: 2, rounding: "up" }).toString(),
    "0.67",
  );
});

Deno.test("Decimal.dividedBy() handles the signs of dividend and divisor for every rounding mode", () => {
  // ±5 / ±2 = ±2.5 at scale 0: a tie.
  const expected: Record<RoundingMode, [string, string]> = {
    "half-even": ["2", "-2"],
    "half-up": ["3", "-3"],
    "down": ["2", "-2"],
    "up": ["3", "-3"],
    "floor": ["2", "-3"],
    "ceiling": ["3", "-2"],
  };
  for (const rounding of MODES) {
    const [positive, negative] = expected[rounding];
    const options = { scale: 0, rounding };
    assert.equal(d("5").dividedBy(2, options).toString(), positive, rounding);
    assert.equal(d("-5").dividedBy(-2, options).toString(), positive, rounding);
    assert.equal(d("-5").dividedBy(2, options).toString(), negative, rounding);
    assert.equal(d("5").dividedBy(-2, options).toString(), negative, rounding);
  }
});

Deno.test("Decimal.dividedBy() is exact for values beyond 2^64", () => {
  const big = Decimal.from(2n ** 128n);
  assert.equal(
    big.dividedBy(2n ** 64n, { scale: 0 }).toString(),
    (2n ** 64n).toString(),
  );
  assert.equal(
    Decimal.from(10n ** 40n + 1n).dividedBy(10n ** 20n, { scale: 20 })
      .toString(),
    "100000000000000000000.00000000000000000001",
  );
});

Deno.test("Decimal.dividedBy() throws a RangeError on division by zero", () => {
  assert.throws(
    () => d("1.5").dividedBy(0),
    rangeError('Cannot divide "1.5" by zero'),
  );
  assert.throws(() => d("0").dividedBy("0.00"), RangeError);
  assert.throws(() => d("1").dividedBy(0n, { scale: 2 }), RangeError);
});

Deno.test("Decimal.dividedBy() rejects an invalid scale or rounding mode", () => {
  assert.throws(
    () => d("1").dividedBy(3, { scale: -1 }),
    rangeError('Invalid scale "-1": must be a non-negative integer'),
  );
  assert.throws(() => d("1").dividedBy(3, { scale: 1.5 }), RangeError);
  assert.throws(() => d("1").dividedBy(3, { scale: NaN }), RangeError);
  assert.throws(
    () => d("1").dividedBy(3, { rounding: "nearest" as RoundingMode }),
    rangeError(
      'Unknown rounding mode "nearest": use one of half-even, half-up, down, up, floor, ceiling',
    ),
  );
});

// --- Rounding ---------------------------------------------------------------

Deno.test("Decimal.round() rounds ties, near-ties and negatives correctly in every mode", () => {
  // value → [half-even, half-up, down, up, floor, ceiling] at scale 0
  const table: [string, [string, string, string, string, string, string]][] = [
    ["2.5", ["2", "3", "2", "3", "2", "3"]],
    ["3.5", ["4", "4", "3", "4", "3", "4"]],
    ["-2.5", ["-2", "-3", "-2", "-3", "-3", "-2"]],
    ["-3.5", ["-4", "-4", "-3", "-4", "-4", "-3"]],
    ["2.4", ["2", "2", "2", "3", "2", "3"]],
    ["2.6", ["3", "3", "2", "3", "2", "3"]],
    ["-2.4", ["-2", "-2", "-2", "-3", "-3", "-2"]],
    ["-2.6", ["-3", "-3", "-2", "-3", "-3", "-2"]],
    ["2.5000001", ["3", "3", "2", "3", "2", "3"]],
    ["2.4999999", ["2", "2", "2", "3", "2", "3"]],
    ["-0.5", ["0", "-1", "0", "-1", "-1", "0"]],
    ["0.5", ["0", "1", "0", "1", "0", "1"]],
    ["-0.4", ["0", "0", "0", "-1", "-1", "0"]],
    ["3.0", ["3", "3", "3", "3", "3", "3"]],
    ["-3.0", ["-3", "-3", "-3", "-3", "-3", "-3"]],
  ];
  for (const [input, results] of table) {
    MODES.forEach((mode, index) => {
      assert.equal(
        d(input).round(0, mode).toString(),
        results[index],
        `${input} ${mode}`,
      );
    });
  }
});

Deno.test("Decimal.round() defaults to half-even (banker's rounding)", () => {
  assert.equal(d("2.345").round(2).toString(), "2.34");
  assert.equal(d("2.355").round(2).toString(), "2.36");
  assert.equal(d("-2.345").round(2).toString(), "-2.34");
  assert.equal(d("2.345").round(2, "half-up").toString(), "2.35");
  assert.equal(d("1.005").round(2, "half-up").toString(), "1.01"); // no float error
});

Deno.test("Decimal.round() yields exactly the requested scale, padding with zeros", () => {
  assert.equal(d("2.5").round(3).toString(), "2.500");
  assert.equal(d("2.5").round(3).scale, 3);
  assert.equal(d("7").round(2).toString(), "7.00");
  assert.equal(d("9.999").round(2).toString(), "10.00");
  assert.equal(d("-9.995").round(2, "half-up").toString(), "-10.00");
  assert.equal(d("1234.5678").round(0, "down").toString(), "1234");
});

Deno.test("Decimal.round() returns the same value when the scale already matches", () => {
  const value = d("1.25");
  assert.equal(value.round(2), value);
});

Deno.test("Decimal.round() rounds values beyond 2^64", () => {
  const big = Decimal.from((2n ** 70n).toString() + ".5");
  assert.equal(big.round(0).toString(), (2n ** 70n).toString()); // even
  assert.equal(big.round(0, "half-up").toString(), (2n ** 70n + 1n).toString());
});

Deno.test("Decimal.round() rejects an invalid scale or rounding mode", () => {
  assert.throws(
    () => d("1").round(-1),
    rangeError('Invalid scale "-1": must be a non-negative integer'),
  );
  assert.throws(
    () => d("1").round(0.5),
    rangeError('Invalid scale "0.5": must be a non-negative integer'),
  );
  assert.throws(() => d("1").round(Infinity), RangeError);
  assert.throws(() => d("1.5").round(0, "HALF_UP" as RoundingMode), RangeError);
});

// --- Sign and comparison ----------------------------------------------------

Deno.test("Decimal.negated() and abs() flip or drop the sign and keep the scale", () => {
  assert.equal(d("1.50").negated().toString(), "-1.50");
  assert.equal(d("-1.50").negated().toString(), "1.50");
  assert.equal(d("0.0").negated().toString(), "0.0");
  assert.equal(d("-1.50").abs().toString(), "1.50");
  assert.equal(d("1.50").abs().toString(), "1.50");
  assert.equal(d("0").abs().toString(), "0");
});

Deno.test("Decimal.compare() compares numerically regardless of scale", () => {
  assert.equal(d("1.5").compare("2"), -1);
  assert.equal(d("2").compare("1.5"), 1);
  assert.equal(d("1.0").compare(1), 0);
  assert.equal(d("1.000").compare("1.0"), 0);
  assert.equal(d("-1").compare("-0.5"), -1);
  assert.equal(d("-0.001").compare(0), -1);
  assert.equal(d("0.1").compare(0.1), 0);
  assert.equal(
    Decimal.from(2n ** 64n).compare(Decimal.from(2n ** 64n).plus("0.0001")),
    -1,
  );
  const sorted = ["10", "9.5", "-1", "0.00", "-1.5", "100"]
    .map(d)
    .sort((a, b) => a.compare(b))
    .map(String);
  assert.deepEqual(sorted, ["-1.5", "-1", "0.00", "9.5", "10", "100"]);
});

Deno.test("Decimal.equals() is numeric equality: 1.0 equals 1", () => {
  assert.equal(d("1.0").equals(1), true);
  assert.equal(d("1.0").equals(d("1.00")), true);
  assert.equal(d("0").equals("-0.000"), true);
  assert.equal(d("0.1").equals(0.1), true);
  assert.equal(d("0.1").equals("0.10000000000000000001"), false);
  assert.equal(d("-1").equals(1), false);
});

Deno.test("Decimal comparison methods agree with compare()", () => {
  const cases: [string, string, boolean, boolean, boolean, boolean][] = [
    // a, b, lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual
    ["1.99", "2", true, true, false, false],
    ["2.00", "2", false, true, false, true],
    ["2.01", "2", false, false, true, true],
    ["-3", "-2", true, true, false, false],
  ];
  for (const [a, b, lt, lte, gt, gte] of cases) {
    assert.equal(d(a).lessThan(b), lt, `${a} < ${b}`);
    assert.equal(d(a).lessThanOrEqual(b), lte, `${a} <= ${b}`);
    assert.equal(d(a).greaterThan(b), gt, `${a} > ${b}`);
    assert.equal(d(a).greaterThanOrEqual(b), gte, `${a} >= ${b}`);
  }
});

Deno.test("Decimal.isZero(), isNegative() and sign describe the sign at any scale", () => {
  assert.equal(d("0.00").isZero(), true);
  assert.equal(d("0.01").isZero(), false);
  assert.equal(d("-0.01").isNegative(), true);
  assert.equal(d("0").isNegative(), false);
  assert.equal(d("0.01").isNegative(), false);
  assert.equal(d("-3.5").sign, -1);
  assert.equal(d("0.000").sign, 0);
  assert.equal(d("3.5").sign, 1);
  assert.equal(Decimal.from(-(2n ** 80n)).sign, -1);
});

Deno.test("Decimal.scale and unscaled expose the representation", () => {
  const value = d("-12.50");
  assert.equal(value.scale, 2);
  assert.equal(value.unscaled, -1250n);
  assert.equal(d("12").scale, 0);
});

// --- Formatting and conversion ----------------------------------------------

Deno.test("Decimal.toString() uses plain notation, keeps the scale and never yields -0", () => {
  assert.equal(d("10.50").toString(), "10.50");
  assert.equal(d("-0.5").toString(), "-0.5");
  assert.equal(d("0.001").toString(), "0.001");
  assert.equal(d("-0.001").toString(), "-0.001");
  assert.equal(d("0").toString(), "0");
  assert.equal(d("1e21").toString(), "1000000000000000000000");
  assert.equal(d("1e-7").toString(), "0.0000001");
  assert.equal(Decimal.from(1e21).toString(), "1000000000000000000000");
  assert.equal(d("-0").toString(), "0");
  assert.equal(d("-0.4").round(0).toString(), "0");
  assert.equal(d("0").times(-5).toString(), "0");
  assert.equal(d("0.00").negated().toString(), "0.00");
});

Deno.test("Decimal converts to a string with String() and template literals", () => {
  const value = d("1.50");
  assert.equal(String(value), "1.50");
  assert.equal(`${value} EUR`, "1.50 EUR");
  assert.equal([d("1"), d("2.0")].join(", "), "1, 2.0");
});

Deno.test("Decimal.toJSON() stores the exact string, which round-trips through JSON", () => {
  const values = [
    d("10.50"),
    d("-0.5"),
    d("0"),
    d("0.000"),
    Decimal.from(2n ** 100n).plus("0.000000000000000000001"),
    d("-123456789012345678901234567890.123456789"),
  ];
  for (const value of values) {
    assert.equal(value.toJSON(), value.toString());
    const json = JSON.stringify(value);
    assert.equal(json, `"${value.toString()}"`);
    const back = Decimal.from(JSON.parse(json));
    assert.equal(back.equals(value), true, json);
    assert.equal(back.toString(), value.toString(), json);
    assert.deepStrictEqual(back, value);
  }
  assert.equal(
    JSON.stringify({ price: d("10.50"), qty: 2 }),
    '{"price":"10.50","qty":2}',
  );
});

Deno.test("Decimal.toNumber() converts to the nearest number", () => {
  assert.equal(d("12.50").toNumber(), 12.5);
  assert.equal(d("-0.1").toNumber(), -0.1);
  assert.equal(d("0.1").plus("0.2").toNumber(), 0.3);
  assert.equal(Decimal.from(2n ** 64n).toNumber(), 2 ** 64);
  assert.equal(d("1e1000").toNumber(), Infinity);
  assert.equal(d("-1e1000").toNumber(), -Infinity);
});

Deno.test("Decimal.toFixed() formats with exactly the given scale", () => {
  assert.equal(d("3").toFixed(2), "3.00");
  assert.equal(d("2.345").toFixed(2), "2.34");
  assert.equal(d("2.345").toFixed(2, "half-up"), "2.35");
  assert.equal(d("-2.5").toFixed(0), "-2");
  assert.equal(d("-0.4").toFixed(0), "0");
  assert.equal(d("1.005").toFixed(2, "half-up"), "1.01");
  assert.throws(() => d("1").toFixed(-1), RangeError);
});

// --- Safety -----------------------------------------------------------------

Deno.test("Decimal.valueOf() throws a TypeError that points to the methods", () => {
  const value = d("1.5");
  assert.throws(() => value.valueOf(), {
    name: "TypeError",
    message:
      'Cannot convert decimal "1.5" to a primitive number: use methods such as plus(), compare() or toNumber()',
  });
});

Deno.test("Decimal refuses implicit numeric conversion, so operators cannot do float maths", () => {
  const a: unknown = d("0.1");
  const b: unknown = d("0.2");
  // deno-lint-ignore no-explicit-any
  const x = a as any;
  // deno-lint-ignore no-explicit-any
  const y = b as any;
  assert.throws(() => x + y, TypeError);
  assert.throws(() => x * 2, TypeError);
  assert.throws(() => x - y, TypeError);
  assert.throws(() => +x, TypeError);
  assert.throws(() => x < y, TypeError);
  assert.throws(() => x + "", TypeError);
  assert.throws(() => x == 0.1, TypeError);
  assert.throws(() => Number(x), TypeError);
  assert.throws(() => Math.max(x, y), TypeError);
});

Deno.test("Decimal[Symbol.toPrimitive]() allows only the string hint", () => {
  const value = d("2.50");
  assert.equal(value[Symbol.toPrimitive]("string"), "2.50");
  assert.throws(() => value[Symbol.toPrimitive]("number"), TypeError);
  assert.throws(() => value[Symbol.toPrimitive]("default"), TypeError);
});

Deno.test("Decimal instances are immutable and operations return new values", () => {
  const value = d("1.50");
  assert.equal(Object.isFrozen(value), true);
  assert.throws(() => {
    (value as { scale: number }).scale = 5;
  }, TypeError);
  assert.throws(() => {
    (value as { unscaled: bigint }).unscaled = 5n;
  }, TypeError);
  value.plus(1);
  value.times(3);
  value.negated();
  value.round(0);
  value.dividedBy(7);
  assert.equal(value.toString(), "1.50");
});

Deno.test("Decimal values compare structurally with assert.deepStrictEqual", () => {
  assert.deepStrictEqual(d("1.50"), d("1.50"));
  assert.deepStrictEqual({ amount: d("1.5e1") }, { amount: d("15") });
  assert.notDeepStrictEqual(d("1.50"), d("2.50"));
  assert.notDeepStrictEqual(d("1.0"), d("1")); // same number, different scale
});
