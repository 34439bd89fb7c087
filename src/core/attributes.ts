/**
 * Typed attribute declarations for commands, events and value objects: what
 * each field holds, how it is parsed from strings, validated, written to
 * JSON and read back.
 *
 * @module
 */
import { isUuid } from "./_uuid.ts";
import { CalendarDate } from "./calendar_date.ts";
import { Decimal } from "./decimal.ts";
import { type JsonObject, type JsonValue, MAX_NESTING_DEPTH } from "./json.ts";
import {
  describeUnstorableText,
  findUnstorableJsonText,
  isStorableText,
} from "./storable_text.ts";

/** The outcome of converting a raw value into an attribute's type. */
export type Conversion<T> =
  | { readonly ok: true; readonly value: T }
  | {
    readonly ok: false;
    readonly message: string;
    /** Where inside the value the problem is (`1`, `1.amount`). */
    readonly path?: string | undefined;
  };

/** Collects validation messages by field path. */
export type ErrorSink = Record<string, string[]>;

/** Adds a message for `path` to an error sink. */
export function addError(
  errors: ErrorSink,
  path: string,
  message: string,
): void {
  if (Object.hasOwn(errors, path)) {
    (errors[path] as string[]).push(message);
  } else {
    // defined, not assigned: a "__proto__" path must not set the prototype
    Object.defineProperty(errors, path, {
      value: [message],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

/** The message for a value nested deeper than {@linkcode MAX_NESTING_DEPTH}. */
export const TOO_DEEP = `nests more than ${MAX_NESTING_DEPTH} levels deep`;

/**
 * How many arrays and value objects enclose the value being converted or
 * validated now. Conversion and validation are synchronous, so one counter
 * serves both; it keeps them from recursing past the nesting limit.
 */
let level = 0;

/**
 * Goes one nesting level down, for an array or a value object. Returns
 * false (staying where it is) when that would pass the limit; else the
 * caller must call {@linkcode leaveLevel} when done.
 */
export function enterLevel(): boolean {
  if (level >= MAX_NESTING_DEPTH) return false;
  level++;
  return true;
}

/** Goes back up after {@linkcode enterLevel}. */
export function leaveLevel(): void {
  level--;
}

/** Runs `work` from the top level (a fresh conversion), restoring after. */
export function fromTopLevel<T>(work: () => T): T {
  const saved = level;
  level = 0;
  try {
    return work();
  } finally {
    level = saved;
  }
}

/**
 * An attribute declaration: the type of one field of a command, event or
 * value object. Created through {@linkcode attrs}.
 *
 * `T` is the field's value type; `R` is `true` when the attribute is
 * required (its field is then never `undefined`).
 *
 * @example
 * ```ts
 * import { attrs } from "@sequent/core";
 *
 * const title = attrs.string().required().validate((t) => t.length <= 80, "is too long");
 * console.assert(title.kind === "string" && title.isRequired);
 * ```
 */
export interface Attr<T, R extends boolean = false> {
  /** The attribute's kind, as shown in messages: `"integer"`, `"array of date"`, … */
  readonly kind: string;
  /** Whether the attribute must be present (and, for strings, not blank). */
  readonly isRequired: R;
  /**
   * The same attribute, required: a missing value (or a blank string) is the
   * validation error "can't be blank", and the field's type loses `undefined`.
   */
  required(): Attr<T, true>;
  /**
   * Adds a validator. It runs only on a present value of the right type;
   * returning `false` adds `message` to the field's errors.
   *
   * @param check The test a valid value passes.
   * @param message The error message when it does not.
   */
  validate(check: (value: T) => boolean, message: string): Attr<T, R>;
  /** Whether `value` is a value of this attribute's type. */
  is(value: unknown): value is T;
}

/** A record of attribute declarations: the fields of a message class. */
export type Shape = { readonly [name: string]: Attr<unknown, boolean> };

/** The value type an attribute declaration holds. */
export type AttrValue<A> = A extends Attr<infer T, boolean> ? T : never;

/**
 * The fields a shape declares, as they appear on an instance: required
 * attributes have their type, optional ones may be `undefined`.
 */
export type AttributeValues<S extends Shape> =
  & {
    readonly [K in keyof S as S[K] extends Attr<unknown, true> ? K : never]:
      AttrValue<S[K]>;
  }
  & {
    readonly [K in keyof S as S[K] extends Attr<unknown, true> ? never : K]:
      | AttrValue<S[K]>
      | undefined;
  };

/**
 * What a constructor takes for a shape: required attributes must be given,
 * optional ones may be left out.
 */
export type AttributeInit<S extends Shape> =
  & {
    [K in keyof S as S[K] extends Attr<unknown, true> ? K : never]: AttrValue<
      S[K]
    >;
  }
  & {
    [K in keyof S as S[K] extends Attr<unknown, true> ? never : K]?:
      | AttrValue<S[K]>
      | undefined;
  };

/** How one attribute type converts, checks, compares and serialises values. */
export interface Codec<T> {
  readonly kind: string;
  is(value: unknown): value is T;
  fromParam(raw: unknown): Conversion<T>;
  toJson(value: T): JsonValue;
  fromJson(json: JsonValue): Conversion<T>;
  equals(a: T, b: T): boolean;
  /** Validates the inside of a value (nested value objects, array items). */
  validateNested?(value: T, path: string, errors: ErrorSink): void;
  /** The message for a value `is` refuses (default `is not a valid …`). */
  invalidMessage?(value: unknown): string;
  /**
   * The instance's own copy of a value a caller gave (to a constructor or
   * `copy()`), so that changing the caller's value later cannot change the
   * instance: arrays and JSON objects copied deeply and frozen, `Date`s
   * copied, value objects copied and frozen. A value not of the codec's
   * type is returned as it is (validation reports it). Absent for immutable
   * values (strings, numbers, booleans, decimals, calendar dates), which are
   * kept as given at no cost.
   */
  own?(value: unknown): unknown;
  /**
   * Whether `null` is a value of this type rather than "absent" (JSON):
   * it is then written to and read from storage as `null`, and is not
   * equal to `undefined`.
   */
  readonly keepsNull?: boolean;
}

interface Validator<T> {
  readonly check: (value: T) => boolean;
  readonly message: string;
}

/** The implementation behind every {@linkcode Attr}. */
export class AttrImpl<T, R extends boolean> implements Attr<T, R> {
  readonly isRequired: R;
  readonly codec: Codec<T>;
  readonly validators: readonly Validator<T>[];

  constructor(
    codec: Codec<T>,
    isRequired: R,
    validators: readonly Validator<T>[],
  ) {
    this.codec = codec;
    this.isRequired = isRequired;
    this.validators = validators;
  }

  /** Read from the codec each time: a lazy value-object class resolves late. */
  get kind(): string {
    return this.codec.kind;
  }

  required(): Attr<T, true> {
    return new AttrImpl(this.codec, true, this.validators);
  }

  validate(check: (value: T) => boolean, message: string): Attr<T, R> {
    if (typeof check !== "function") {
      throw new TypeError("validate() needs a function that returns a boolean");
    }
    return new AttrImpl(this.codec, this.isRequired, [
      ...this.validators,
      { check, message },
    ]);
  }

  is(value: unknown): value is T {
    return this.codec.is(value);
  }

  /** Validates one value of this attribute at `path`. */
  check(value: unknown, path: string, errors: ErrorSink): void {
    if (value === undefined || value === null) {
      if (this.isRequired) addError(errors, path, "can't be blank");
      return;
    }
    if (!this.codec.is(value)) {
      addError(
        errors,
        path,
        this.codec.invalidMessage?.(value) ?? `is not a valid ${this.kind}`,
      );
      return;
    }
    if (typeof value === "string") {
      if (this.isRequired && value.trim() === "") {
        addError(errors, path, "can't be blank");
        return;
      }
      if (!isStorableText(value)) {
        addError(errors, path, describeUnstorableText(value) as string);
        return;
      }
    }
    for (const validator of this.validators) {
      if (!validator.check(value)) addError(errors, path, validator.message);
    }
    this.codec.validateNested?.(value, path, errors);
  }
}

/** Gives the implementation of an attribute declaration. */
export function attrImpl<T>(attr: Attr<T, boolean>): AttrImpl<T, boolean> {
  if (!(attr instanceof AttrImpl)) {
    throw new TypeError(
      "Attributes must be declared with attrs.string(), attrs.integer(), …",
    );
  }
  return attr as AttrImpl<T, boolean>;
}

export function ok<T>(value: T): Conversion<T> {
  return { ok: true, value };
}

export function fail<T>(message: string): Conversion<T> {
  return { ok: false, message };
}

export function make<T>(codec: Codec<T>): Attr<T, false> {
  return new AttrImpl(codec, false, []);
}

/**
 * Whether raw input is blank text: a string that is empty after trimming.
 * From params it means "absent" for every type but strings (as Sequent's
 * parsers return nil for `value.blank?`).
 */
export function isBlankText(raw: unknown): boolean {
  return typeof raw === "string" && raw.trim() === "";
}

const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const TRUE_WORDS = new Set(["true", "1", "on", "yes", "t"]);
const FALSE_WORDS = new Set(["false", "0", "off", "no", "f"]);

const same = <T>(a: T, b: T): boolean => a === b;

export const stringCodec: Codec<string> = {
  kind: "string",
  is: (v): v is string => typeof v === "string",
  fromParam: (raw) =>
    typeof raw === "string"
      ? ok(raw)
      : typeof raw === "number" || typeof raw === "boolean"
      ? ok(String(raw))
      : fail("is not a valid string"),
  toJson: (v) => v,
  fromJson: (j) => typeof j === "string" ? ok(j) : fail("is not a string"),
  equals: same,
};

export const integerCodec: Codec<number> = {
  kind: "integer",
  is: (v): v is number => typeof v === "number" && Number.isSafeInteger(v),
  fromParam: (raw) => {
    if (typeof raw === "number") {
      return Number.isSafeInteger(raw)
        ? ok(raw)
        : fail("is not a valid integer");
    }
    if (typeof raw === "string" && INTEGER.test(raw.trim())) {
      const n = Number(raw.trim());
      if (Number.isSafeInteger(n)) return ok(n);
    }
    return fail("is not a valid integer");
  },
  toJson: (v) => v,
  fromJson: (j) =>
    typeof j === "number" && Number.isSafeInteger(j)
      ? ok(j)
      : fail("is not an integer"),
  equals: same,
};

export const floatCodec: Codec<number> = {
  kind: "float",
  is: (v): v is number => typeof v === "number" && Number.isFinite(v),
  fromParam: (raw) => {
    if (typeof raw === "number") {
      return Number.isFinite(raw) ? ok(raw) : fail("is not a valid float");
    }
    if (typeof raw === "string" && FLOAT.test(raw.trim())) {
      const n = Number(raw.trim());
      if (Number.isFinite(n)) return ok(n); // not "1e999"
    }
    return fail("is not a valid float");
  },
  toJson: (v) => v,
  fromJson: (j) =>
    typeof j === "number" && Number.isFinite(j)
      ? ok(j)
      : fail("is not a number"),
  equals: same,
};

export const booleanCodec: Codec<boolean> = {
  kind: "boolean",
  is: (v): v is boolean => typeof v === "boolean",
  fromParam: (raw) => {
    if (typeof raw === "boolean") return ok(raw);
    if (typeof raw === "string") {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return ok(true);
      if (FALSE_WORDS.has(word)) return ok(false);
    }
    return fail("is not a valid boolean");
  },
  toJson: (v) => v,
  fromJson: (j) => typeof j === "boolean" ? ok(j) : fail("is not a boolean"),
  equals: same,
};

export const decimalCodec: Codec<Decimal> = {
  kind: "decimal",
  is: (v): v is Decimal => Decimal.isDecimal(v),
  fromParam: (raw) => {
    const d = typeof raw === "string"
      ? Decimal.tryFrom(raw.trim())
      : Decimal.tryFrom(raw);
    return d === undefined ? fail("is not a valid decimal") : ok(d);
  },
  toJson: (v) => v.toString(),
  fromJson: (j) => {
    const d = typeof j === "string" || typeof j === "number"
      ? Decimal.tryFrom(j)
      : undefined;
    return d === undefined ? fail("is not a decimal") : ok(d);
  },
  equals: (a, b) => a.equals(b),
};

export const dateCodec: Codec<CalendarDate> = {
  kind: "date",
  is: (v): v is CalendarDate => CalendarDate.isCalendarDate(v),
  fromParam: (raw) => {
    if (CalendarDate.isCalendarDate(raw)) return ok(raw);
    if (raw instanceof Date && !Number.isNaN(raw.getTime())) {
      try {
        return ok(CalendarDate.fromDate(raw));
      } catch {
        return fail("is not a valid date"); // a year outside 1 to 9999
      }
    }
    if (typeof raw === "string") {
      const d = CalendarDate.tryParse(raw.trim());
      if (d) return ok(d);
    }
    return fail("is not a valid date");
  },
  toJson: (v) => v.toString(),
  fromJson: (j) => {
    const d = typeof j === "string" ? CalendarDate.tryParse(j) : undefined;
    return d ? ok(d) : fail("is not a date");
  },
  equals: (a, b) => a.equals(b),
};

function parseDateTime(text: string): Date | undefined {
  if (!ISO_DATE_TIME.test(text)) return undefined;
  // The platform rolls 2026-02-30 over to March: reject impossible days.
  if (!CalendarDate.tryParse(text.slice(0, 10))) return undefined;
  // A time without an offset is UTC, as in Sequent, never the host's zone.
  const zoned = text.length > 10 && !/(?:Z|[+-]\d{2}:?\d{2})$/.test(text)
    ? `${text}Z`
    : text;
  const date = new Date(zoned);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * A valid instant in years 1 to 9999: what ISO text with 4-digit years
 * holds and a date-time attribute reads back (year 0, 1 BC, would be
 * stored as "0000-…" and then refused on every load).
 */
function isStorableDate(v: unknown): v is Date {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) return false;
  const year = v.getUTCFullYear();
  return year >= 1 && year <= 9999;
}

export const dateTimeCodec: Codec<Date> = {
  kind: "date-time",
  is: isStorableDate,
  fromParam: (raw) => {
    if (raw instanceof Date) {
      return isStorableDate(raw) ? ok(raw) : fail("is not a valid date-time");
    }
    const d = typeof raw === "string" ? parseDateTime(raw.trim()) : undefined;
    return d ? ok(d) : fail("is not a valid date-time");
  },
  toJson: (v) => v.toISOString(),
  fromJson: (j) => {
    const d = typeof j === "string" ? parseDateTime(j) : undefined;
    return d ? ok(d) : fail("is not a date-time");
  },
  equals: (a, b) => a.getTime() === b.getTime(),
  // a Date cannot be frozen (its setters ignore Object.freeze): copy it
  own: (v) => v instanceof Date ? new Date(v.getTime()) : v,
};

export const uuidCodec: Codec<string> = {
  kind: "UUID",
  is: isUuid,
  fromParam: (raw) => {
    const text = typeof raw === "string" ? raw.trim().toLowerCase() : undefined;
    return text !== undefined && isUuid(text)
      ? ok(text)
      : fail("is not a valid UUID");
  },
  toJson: (v) => v,
  fromJson: (j) => isUuid(j) ? ok(j) : fail("is not a UUID"),
  equals: same,
};

/** What {@linkcode jsonShape} finds. */
type JsonShape = "json" | "not json" | "too deep";

/**
 * Whether a value is a JSON value — strings, finite numbers, booleans,
 * null, and arrays and plain objects of these — nesting at most `maxDepth`
 * levels of arrays and objects. Walks without recursion, so neither deep
 * nor self-containing values can overflow the stack.
 */
function jsonShape(value: unknown, maxDepth: number): JsonShape {
  const stack: [unknown, number][] = [[value, 0]];
  for (let item; (item = stack.pop());) {
    const [current, depth] = item;
    switch (typeof current) {
      case "string":
      case "boolean":
        continue;
      case "number":
        if (Number.isFinite(current)) continue;
        return "not json";
      case "object": {
        if (current === null) continue;
        if (depth >= maxDepth) return "too deep";
        if (Array.isArray(current)) {
          for (let i = 0; i < current.length; i++) {
            stack.push([current[i], depth + 1]);
          }
          continue;
        }
        const proto = Object.getPrototypeOf(current);
        if (proto !== Object.prototype && proto !== null) return "not json";
        for (const child of Object.values(current)) {
          stack.push([child, depth + 1]);
        }
        continue;
      }
      default:
        return "not json";
    }
  }
  return "json";
}

/**
 * Whether a value is a JSON value (checked deeply) nesting at most
 * `maxDepth` levels (default {@linkcode MAX_NESTING_DEPTH}).
 */
export function isJsonValue(
  value: unknown,
  maxDepth: number = MAX_NESTING_DEPTH,
): value is JsonValue {
  return jsonShape(value, maxDepth) === "json";
}

/** Why a value is not a JSON value of at most `maxDepth` levels. */
export function jsonValueProblem(
  value: unknown,
  maxDepth: number = MAX_NESTING_DEPTH,
): string | undefined {
  const shape = jsonShape(value, maxDepth);
  return shape === "json"
    ? undefined
    : shape === "too deep"
    ? TOO_DEEP
    : "is not a valid JSON value";
}

/** Deep equality of two JSON values. */
export function jsonEquals(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (
    typeof a !== "object" || typeof b !== "object" || a === null || b === null
  ) {
    return false;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => jsonEquals(item, b[i] as JsonValue));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) =>
    Object.hasOwn(b, k) &&
    jsonEquals(a[k] as JsonValue, (b as JsonObject)[k] as JsonValue)
  );
}

/**
 * A deep copy of a JSON value with every array and object frozen, keeping
 * each object's prototype (`Object.prototype` or `null`) and keys such as
 * `__proto__` as data; `undefined` when the value is not JSON or nests
 * more than `depth` levels.
 */
function ownJson(value: unknown, depth: number): JsonValue | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : undefined;
    case "object": {
      if (value === null) return null;
      if (depth <= 0) return undefined;
      if (Array.isArray(value)) {
        const list: JsonValue[] = [];
        for (let i = 0; i < value.length; i++) {
          const item = ownJson(value[i], depth - 1);
          if (item === undefined) return undefined;
          list.push(item);
        }
        return Object.freeze(list) as JsonValue[];
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const object: JsonObject = proto === null ? Object.create(null) : {};
      const source = value as Record<string, unknown>;
      for (const key of Object.keys(source)) {
        const item = ownJson(source[key], depth - 1);
        if (item === undefined) return undefined;
        if (key === "__proto__") {
          // defined, not assigned: a "__proto__" key is data
          Object.defineProperty(object, key, {
            value: item,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          object[key] = item;
        }
      }
      return Object.freeze(object);
    }
    default:
      return undefined;
  }
}

/**
 * Freezes a freshly read JSON value and every array and object inside it,
 * in place, down to {@linkcode MAX_NESTING_DEPTH} levels (deeper is not
 * valid JSON here). What is frozen already is not entered again.
 */
function freezeJson(value: JsonValue, depth = MAX_NESTING_DEPTH): JsonValue {
  if (
    typeof value !== "object" || value === null || depth <= 0 ||
    Object.isFrozen(value)
  ) {
    return value;
  }
  const children = Array.isArray(value) ? value : Object.values(value);
  for (let i = 0; i < children.length; i++) {
    const child = children[i] as JsonValue;
    if (typeof child === "object" && child !== null) {
      freezeJson(child, depth - 1);
    }
  }
  Object.freeze(value);
  return value;
}

export const jsonCodec: Codec<JsonValue> = {
  kind: "JSON value",
  is: (v): v is JsonValue => isJsonValue(v),
  fromParam: (raw) => {
    let value = raw;
    if (typeof raw === "string") {
      try {
        value = JSON.parse(raw);
      } catch {
        return fail("is not valid JSON");
      }
    }
    // what encloses the attribute counts towards the limit
    const shape = jsonShape(value, MAX_NESTING_DEPTH - level);
    return shape === "json"
      ? ok(value as JsonValue)
      : fail(shape === "too deep" ? TOO_DEEP : "is not valid JSON");
  },
  toJson: (v) => v,
  // freshly parsed, seen by no one yet: frozen in place, not copied
  fromJson: (j) => ok(freezeJson(j)),
  equals: jsonEquals,
  keepsNull: true,
  own: (v) => {
    if (typeof v !== "object" || v === null) return v;
    // not JSON (or too deep): kept as it is, for validation to report
    return ownJson(v, MAX_NESTING_DEPTH) ?? v;
  },
  invalidMessage: (v) => jsonValueProblem(v) ?? "is not a valid JSON value",
  validateNested: (v, path, errors) => {
    const maxDepth = MAX_NESTING_DEPTH - level;
    if (level > 0 && jsonShape(v, maxDepth) === "too deep") {
      addError(errors, path, TOO_DEEP);
      return;
    }
    const found = findUnstorableJsonText(v, maxDepth);
    if (found) {
      addError(
        errors,
        found.path === "" ? path : `${path}.${found.path}`,
        found.problem,
      );
    }
  },
};

export function oneOfCodec<V extends string>(values: readonly V[]): Codec<V> {
  const allowed = new Set<string>(values);
  const kind = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  const is = (v: unknown): v is V => typeof v === "string" && allowed.has(v);
  return {
    kind,
    is,
    fromParam: (raw) => {
      if (is(raw)) return ok(raw);
      // surrounding spaces are no part of the value, as for the other types
      const text = typeof raw === "string" ? raw.trim() : undefined;
      return is(text) ? ok(text) : fail(`is not ${kind}`);
    },
    toJson: (v) => v,
    fromJson: (j) => is(j) ? ok(j) : fail(`is not ${kind}`),
    equals: same,
  };
}

export function arrayCodec<T>(item: AttrImpl<T, boolean>): Codec<readonly T[]> {
  const inner = item.codec;
  return {
    get kind(): string {
      return `array of ${inner.kind}`;
    },
    is: (v): v is readonly T[] => Array.isArray(v),
    fromParam: (raw) => {
      const list = toList(raw);
      if (!list) return fail("is not a valid array");
      if (!enterLevel()) return fail(TOO_DEEP);
      try {
        const out: (T | undefined)[] = [];
        for (let i = 0; i < list.length; i++) {
          const raw = list[i];
          // a blank item is absent (validation: "can't be blank"), as a
          // blank field is; only string items keep their text
          if (inner !== stringCodec && isBlankText(raw)) {
            out.push(undefined);
            continue;
          }
          const c = inner.fromParam(raw);
          if (!c.ok) return itemFailure(i, c);
          out.push(c.value);
        }
        // items are unchecked until validation, as for any value
        return ok(out as T[]);
      } finally {
        leaveLevel();
      }
    },
    toJson: (v) =>
      v.map((x, i) => {
        if (!inner.is(x)) {
          throw new TypeError(`item ${i} is not a valid ${inner.kind}`);
        }
        return inner.toJson(x);
      }),
    fromJson: (j) => {
      if (!Array.isArray(j)) return fail("is not an array");
      const out: T[] = [];
      for (let i = 0; i < j.length; i++) {
        const c = inner.fromJson(j[i] as JsonValue);
        if (!c.ok) return itemFailure(i, c);
        out.push(c.value);
      }
      // freshly read, seen by no one yet: frozen, not copied
      return ok(Object.freeze(out));
    },
    own: (v) => {
      if (!Array.isArray(v)) return v;
      const ownItem = inner.own;
      if (ownItem === undefined) {
        // immutable items: a frozen list (another message's) is shared
        return Object.isFrozen(v) ? v : Object.freeze(v.slice());
      }
      return Object.freeze(
        v.map((x) => x === undefined || x === null ? x : ownItem(x)),
      );
    },
    equals: (a, b) =>
      a.length === b.length &&
      a.every((x, i) => {
        const y = b[i];
        // items are unchecked until validation: compare invalid ones by identity
        return x === y || (inner.is(x) && inner.is(y) && inner.equals(x, y));
      }),
    validateNested: (v, path, errors) => {
      if (!enterLevel()) {
        addError(errors, path, TOO_DEEP);
        return;
      }
      try {
        for (let i = 0; i < v.length; i++) {
          const value = v[i];
          const itemPath = `${path}.${i}`;
          // null is blank, except as an item of a JSON list (where it is data)
          if (value === undefined || (value === null && !inner.is(null))) {
            addError(errors, itemPath, "can't be blank");
          } else {
            item.check(value, itemPath, errors);
          }
        }
      } finally {
        leaveLevel();
      }
    },
  };
}

function itemFailure<T>(
  index: number,
  failure: { readonly message: string; readonly path?: string | undefined },
): Conversion<T> {
  return {
    ok: false,
    message: failure.message,
    path: failure.path ? `${index}.${failure.path}` : String(index),
  };
}

/** Turns an array, or an object keyed "0", "1", … (form params), into a list. */
function toList(raw: unknown): unknown[] | undefined {
  if (Array.isArray(raw)) return raw;
  if (typeof raw === "object" && raw !== null) {
    const entries = Object.entries(raw);
    if (entries.every(([k]) => /^\d+$/.test(k))) {
      return entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, v]) =>
        v
      );
    }
  }
  return undefined;
}
