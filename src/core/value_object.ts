/**
 * Value objects: groups of attributes compared by value, nested inside
 * commands, events and other value objects.
 *
 * @module
 */
import { Attributed } from "./attributed.ts";
import type { AttributeInit, AttributeValues, Shape } from "./attributes.ts";
import { extendShape, setStatics } from "./define.ts";

/**
 * The class `ValueObject.define(attributes)` returns: extend it.
 */
export type DefinedValueObject<S extends Shape> =
  & (new (init: AttributeInit<S>) => ValueObject & AttributeValues<S>)
  & Omit<typeof ValueObject, "prototype">;

/**
 * A value object: attributes that belong together and are compared by value.
 * Use it in other messages with `attrs.valueObject(Class)`; its validation
 * errors are reported as `field.subfield`. A message holds its own frozen
 * copy of each value object it is given (made by the class's constructor,
 * as when it is read from storage), so the caller's instance is neither
 * shared nor frozen.
 *
 * @example
 * ```ts
 * import { attrs, Command, ValueObject } from "@sequent/core";
 *
 * class Address extends ValueObject.define({
 *   street: attrs.string().required(),
 *   city: attrs.string().required(),
 * }) {}
 *
 * class Move extends Command.define("Move", {
 *   address: attrs.valueObject(Address).required(),
 * }) {}
 *
 * const move = Move.fromParams({
 *   aggregateId: crypto.randomUUID(),
 *   address: { street: "", city: "Utrecht" },
 * });
 * console.assert(move.validate()["address.street"]?.[0] === "can't be blank");
 * ```
 */
export abstract class ValueObject extends Attributed {
  /**
   * Creates a value object.
   *
   * @param init The attribute values.
   */
  constructor(init: object) {
    super(init);
  }

  /**
   * Declares a value object's attributes.
   *
   * @param shape The attributes.
   * @returns A class to extend.
   *
   * @example
   * ```ts
   * import { attrs, ValueObject } from "@sequent/core";
   *
   * class Money extends ValueObject.define({
   *   amount: attrs.decimal().required(),
   *   currency: attrs.oneOf("EUR", "USD").required(),
   * }) {}
   * console.assert(Money.fromParams({ amount: "9.95", currency: "EUR" }).isValid());
   * ```
   */
  static define<S extends Shape>(shape: S): DefinedValueObject<S> {
    const merged = extendShape(
      "ValueObject",
      ValueObject.shape,
      ValueObject.prototype,
      shape,
    );
    const cls = class extends ValueObject {};
    setStatics(cls, "ValueObject", "", merged);
    return cls as unknown as DefinedValueObject<S>;
  }
}
