/**
 * Shared checks and set-up for `Event.define`, `Command.define` and
 * `ValueObject.define`.
 *
 * @module
 */
import { attrImpl, type Shape } from "./attributes.ts";
import type { Attributed } from "./attributed.ts";

const TYPE_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

/** Checks a stable type name. */
export function checkTypeName(kind: string, typeName: unknown): string {
  if (typeof typeName !== "string" || !TYPE_NAME.test(typeName)) {
    throw new TypeError(
      `Invalid ${kind} type name ${
        JSON.stringify(typeName)
      }: use letters, digits and _ . : - and start with a letter`,
    );
  }
  return typeName;
}

/**
 * Merges a declared shape onto a base shape, rejecting attributes that would
 * redeclare base attributes or hide the base class's methods.
 */
export function extendShape(
  owner: string,
  base: Shape,
  basePrototype: Attributed,
  shape: Shape,
): Shape {
  if (typeof shape !== "object" || shape === null) {
    throw new TypeError(`${owner}: attributes must be an object of attrs.*()`);
  }
  for (const [name, attr] of Object.entries(shape)) {
    if (Object.hasOwn(base, name)) {
      throw new TypeError(
        `${owner}: attribute "${name}" is already declared by the base class`,
      );
    }
    if (name in basePrototype || name === "constructor") {
      throw new TypeError(
        `${owner}: attribute "${name}" would hide a method of the same name`,
      );
    }
    try {
      attrImpl(attr);
    } catch {
      throw new TypeError(
        `${owner}: attribute "${name}" must be declared with attrs.*()`,
      );
    }
  }
  return Object.freeze({ ...base, ...shape });
}

/** Sets the statics of a class made by `define`. */
export function setStatics(
  cls: object,
  name: string,
  typeName: string,
  shape: Shape,
): void {
  Object.defineProperty(cls, "name", { value: name });
  Object.defineProperty(cls, "typeName", { value: typeName, enumerable: true });
  Object.defineProperty(cls, "shape", { value: shape, enumerable: true });
}
