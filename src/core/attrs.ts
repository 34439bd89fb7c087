/**
 * The attribute type factories: `attrs.string()`, `attrs.integer()`, …
 *
 * @module
 */
import {
  arrayCodec,
  type Attr,
  attrImpl,
  booleanCodec,
  dateCodec,
  dateTimeCodec,
  decimalCodec,
  floatCodec,
  integerCodec,
  jsonCodec,
  make,
  oneOfCodec,
  stringCodec,
  uuidCodec,
} from "./attributes.ts";
import { nestedCodec } from "./attributed.ts";
import type { CalendarDate } from "./calendar_date.ts";
import type { Decimal } from "./decimal.ts";
import type { JsonValue } from "./json.ts";

/**
 * The attribute types, one factory each. Every attribute is optional unless
 * `.required()` is called on it.
 *
 * Every string must be text all stores can hold (see
 * {@linkcode isStorableText}): a NUL character or a lone surrogate in a
 * string attribute, an array item, a value object's field or anywhere in a
 * JSON attribute (keys too) is a validation error at its path, such as
 * `lines.1.description`. Arrays, value objects and JSON nest at most
 * {@linkcode MAX_NESTING_DEPTH} levels.
 *
 * From params (`fromParams`), blank text (`""`, `"  "`) is an absent value
 * for every type but `string`: "can't be blank" when required. A message
 * takes its own copies of arrays, JSON values, dates and value objects,
 * and freezes them (see {@linkcode Attributed}).
 *
 * @example Declaring a command's attributes
 * ```ts
 * import { attrs, Command } from "@sequent/core";
 *
 * class AddInvoiceLine extends Command.define("AddInvoiceLine", {
 *   description: attrs.string().required(),
 *   quantity: attrs.integer().required().validate((q) => q > 0, "must be positive"),
 *   unitPrice: attrs.decimal().required(),
 *   due: attrs.date(),
 *   tags: attrs.array(attrs.string()),
 * }) {}
 *
 * const line = AddInvoiceLine.fromParams({
 *   aggregateId: crypto.randomUUID(),
 *   description: "Consulting",
 *   quantity: "3",
 *   unitPrice: "99.95",
 *   due: "2026-12-31",
 * });
 * console.assert(line.quantity === 3 && line.unitPrice.toString() === "99.95");
 * ```
 */
export interface Attrs {
  /**
   * A text value. Required strings must not be blank; no string may hold a
   * NUL character or a lone surrogate.
   */
  string(): Attr<string, false>;
  /** A safe integer; parsed from `"42"`. */
  integer(): Attr<number, false>;
  /** A finite floating-point number; parsed from `"4.2"`. */
  float(): Attr<number, false>;
  /** A boolean; parsed from `"true"`/`"false"` (also `1`/`0`, `on`/`off`, `yes`/`no`). */
  boolean(): Attr<boolean, false>;
  /** An exact {@linkcode Decimal}, stored as a string so no digit is lost. */
  decimal(): Attr<Decimal, false>;
  /** A {@linkcode CalendarDate} (no time, no zone); parsed from `"2026-05-01"`. */
  date(): Attr<CalendarDate, false>;
  /** An instant as a `Date`; parsed from ISO 8601 text. */
  dateTime(): Attr<Date, false>;
  /** A UUID in canonical lower-case form; parsed case-insensitively. */
  uuid(): Attr<string, false>;
  /**
   * One of the given strings.
   *
   * @param values The allowed values.
   */
  oneOf<const V extends string>(...values: V[]): Attr<V, false>;
  /**
   * Any JSON value, stored as is; from params, JSON text is parsed. It may
   * nest at most {@linkcode MAX_NESTING_DEPTH} levels (counting what
   * encloses the attribute), and its strings and keys follow the text rule.
   * Keys such as `__proto__` are data here. `null` is a value too: stored
   * as `null` and read back as `null` (a missing key reads as `undefined`).
   * The message holds its own deep copy, frozen: copy it to change it.
   */
  json(): Attr<JsonValue, false>;
  /**
   * A nested value object of the given class (or a function returning it,
   * for classes declared later). Its own attributes are validated, with
   * errors keyed `field.subfield`.
   *
   * @param cls The value object's class.
   */
  valueObject<C extends abstract new (...args: never[]) => unknown>(
    cls: C | (() => C),
  ): Attr<InstanceType<C>, false>;
  /**
   * A list of values of one attribute type; each item is validated, with
   * errors keyed `field.index`. The message holds its own copy of the
   * list, frozen (a `TypeError` on `push`): copy it to change it,
   * `[...event.tags, tag]`. From params, a blank item of any type but
   * string is absent ("can't be blank").
   *
   * @param item The items' attribute type.
   */
  array<T>(item: Attr<T, boolean>): Attr<readonly T[], false>;
}

/**
 * The attribute type factories. See {@linkcode Attrs}.
 *
 * @example
 * ```ts
 * import { attrs, Event } from "@sequent/core";
 *
 * class PostTitleChanged extends Event.define("PostTitleChanged", { title: attrs.string() }) {}
 * const event = new PostTitleChanged({
 *   aggregateId: crypto.randomUUID(),
 *   sequenceNumber: 3,
 *   title: "Hello",
 * });
 * console.assert(event.title === "Hello");
 * ```
 */
export const attrs: Attrs = {
  string: () => make(stringCodec),
  integer: () => make(integerCodec),
  float: () => make(floatCodec),
  boolean: () => make(booleanCodec),
  decimal: () => make(decimalCodec),
  date: () => make(dateCodec),
  dateTime: () => make(dateTimeCodec),
  uuid: () => make(uuidCodec),
  oneOf: <const V extends string>(...values: V[]) => {
    if (values.length === 0) {
      throw new TypeError("attrs.oneOf() needs at least one value");
    }
    return make(oneOfCodec(values));
  },
  json: () => make(jsonCodec),
  valueObject: <C extends abstract new (...args: never[]) => unknown>(
    cls: C | (() => C),
  ) => {
    const resolve = isClass(cls) ? () => cls : cls as () => C;
    const codec = nestedCodec<InstanceType<C>>(resolve);
    // a class given directly is checked now; the lazy form when first used
    if (isClass(cls)) void codec.kind;
    return make(codec);
  },
  array: <T>(item: Attr<T, boolean>) => make(arrayCodec(attrImpl(item))),
};

/** Classes have a prototype; arrow functions (the lazy form) do not. */
function isClass(value: unknown): boolean {
  return typeof value === "function" && value.prototype !== undefined;
}
