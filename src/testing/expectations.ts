/**
 * Matching and printing of expected messages for the test DSL.
 *
 * @module
 */
import { AssertionError } from "node:assert";
import {
  Attributed,
  type AttributedClass,
  attributesEqualExcept,
} from "../core/attributed.ts";
import type { Matcher } from "../core/message_router.ts";

/**
 * What a test may expect in place of a message: an instance (compared by
 * class and attributes), a class (compared by class alone), a matcher
 * (`hasAttrs`, `where`, …) or a predicate.
 */
export type Expected<M> =
  | M
  | (abstract new (...args: never[]) => M)
  | Matcher<M>
  | ((message: M) => boolean);

function isMatcher(value: unknown): value is Matcher<unknown> {
  return typeof value === "object" && value !== null &&
    !(value instanceof Attributed) &&
    typeof (value as Matcher<unknown>).matches === "function";
}

function isClass(
  value: unknown,
): value is abstract new (...args: never[]) => unknown {
  return typeof value === "function" && value.prototype !== undefined &&
    (value.prototype instanceof Attributed || value === Attributed);
}

/** Whether `actual` meets one expectation; `ignore` lists attributes not compared. */
export function meets<M extends Attributed>(
  expected: Expected<M>,
  actual: M,
  ignore: ReadonlySet<string>,
): boolean {
  if (expected instanceof Attributed) {
    return attributesEqualExcept(expected, actual, ignore);
  }
  if (isClass(expected)) return actual.constructor === expected;
  if (isMatcher(expected)) return expected.matches(actual);
  if (typeof expected === "function") {
    return Boolean((expected as (m: M) => unknown)(actual));
  }
  throw new TypeError(`Cannot compare a message with ${String(expected)}`);
}

function typeNameOf(message: object): string {
  const cls = message.constructor as unknown as AttributedClass;
  return cls.typeName || cls.name;
}

/** A one-line description of a message for failure output. */
export function describeMessage(
  message: Attributed,
  ignore: ReadonlySet<string>,
): string {
  const json = toLenientJson(message);
  for (const key of ignore) delete json[key];
  return `${typeNameOf(message)} ${JSON.stringify(json)}`;
}

/**
 * The message as JSON, also when it is invalid (a required value missing, a
 * value of the wrong type), which `toJSON` refuses: failures must print it.
 */
function toLenientJson(message: Attributed): Record<string, unknown> {
  try {
    return message.toJSON();
  } catch {
    const json: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(message.attributes())) {
      if (value === undefined) continue;
      try {
        json[key] = JSON.parse(JSON.stringify(value) ?? "null");
      } catch {
        json[key] = String(value);
      }
    }
    return json;
  }
}

/** A one-line description of an expectation for failure output. */
export function describeExpected<M extends Attributed>(
  expected: Expected<M>,
  ignore: ReadonlySet<string>,
): string {
  if (expected instanceof Attributed) return describeMessage(expected, ignore);
  if (isClass(expected)) {
    const cls = expected as unknown as AttributedClass;
    return `any ${cls.typeName || cls.name}`;
  }
  if (isMatcher(expected)) return expected.description;
  return "a message matching a predicate";
}

/**
 * Asserts that `actual` meets `expected` position by position, with equal
 * counts; the failure lists both sides.
 */
export function assertMessages<M extends Attributed>(
  kind: string,
  expected: readonly Expected<M>[],
  actual: readonly M[],
  ignoreFor: ReadonlySet<string> | ((index: number) => ReadonlySet<string>),
): void {
  const ignoreAt = typeof ignoreFor === "function"
    ? ignoreFor
    : () => ignoreFor;
  const count = Math.max(expected.length, actual.length);
  const lines: string[] = [];
  let ok = expected.length === actual.length;
  for (let i = 0; i < count; i++) {
    const want = expected[i];
    const got = actual[i];
    const ignore = ignoreAt(i);
    const match = want !== undefined && got !== undefined &&
      meets(want, got, ignore);
    if (!match) ok = false;
    lines.push(
      `${match ? "  " : "✗ "}${i + 1}. expected: ${
        want === undefined ? "(nothing)" : describeExpected(want, ignore)
      }`,
      `     actual:   ${
        got === undefined ? "(nothing)" : describeMessage(got, ignore)
      }`,
    );
  }
  if (!ok) {
    throw new AssertionError({
      message: `Expected ${expected.length} ${kind}, got ${actual.length}:\n${
        lines.join("\n")
      }`,
    });
  }
}
