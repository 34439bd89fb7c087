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

/**
 * How deep a value may nest in what the framework stores: at most 100
 * levels of arrays, JSON objects and value objects inside a message's
 * attribute (the limit Ruby's JSON parser applies by default). Input that
 * nests deeper is a validation error ("nests more than 100 levels deep"),
 * so validation never recurses without bound, and stored JSON stays well
 * within what PostgreSQL parses. JSON record columns and unique keys have
 * the same limit.
 *
 * @example
 * ```ts
 * import { attrs, Command, MAX_NESTING_DEPTH } from "@sequent/core";
 *
 * class Save extends Command.define("Save", { data: attrs.json() }) {}
 * let deep: unknown = "bottom";
 * for (let i = 0; i <= MAX_NESTING_DEPTH; i++) deep = [deep];
 * const save = Save.fromParams({ aggregateId: crypto.randomUUID(), data: deep });
 * console.assert(save.validate().data?.[0] === "nests more than 100 levels deep");
 * ```
 */
export const MAX_NESTING_DEPTH = 100;
