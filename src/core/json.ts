/**
 * JSON value types used wherever the framework stores or reads JSON.
 *
 * @module
 */

/** A JSON primitive: string, number, boolean or null. */
export type JsonPrimitive = string | number | boolean | null;

/**
 * Any value that `JSON.stringify` writes and `JSON.parse` gives back unchanged.
 *
 * @example A snapshot state must be a JSON value
 * ```ts
 * import type { JsonValue } from "@sequent/core";
 *
 * const state: JsonValue = { published: true, tags: ["a", "b"] };
 * ```
 */
export type JsonValue = JsonPrimitive | JsonObject | JsonArray;

/**
 * A JSON object.
 *
 * @example
 * ```ts
 * import type { JsonObject } from "@sequent/core";
 *
 * const payload: JsonObject = { title: "Hello" };
 * ```
 */
export interface JsonObject {
  /** Each property is a JSON value. */
  [key: string]: JsonValue;
}

/**
 * A JSON array.
 *
 * @example
 * ```ts
 * import type { JsonArray } from "@sequent/core";
 *
 * const list: JsonArray = [1, "two", null];
 * ```
 */
export type JsonArray = JsonValue[];

/** True when `value` is a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
