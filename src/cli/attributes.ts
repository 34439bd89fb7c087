/**
 * The `attr:type` arguments of `generate command` and `generate event`.
 *
 * @module
 */
import { CliError } from "./errors.ts";
import { camelCase } from "./names.ts";

/**
 * The attribute types the generators know, each the name of an `attrs`
 * factory of `@sequent/core`.
 *
 * @example
 * ```ts
 * import { ATTRIBUTE_TYPES } from "./attributes.ts";
 *
 * console.assert(ATTRIBUTE_TYPES.includes("dateTime"));
 * ```
 */
export const ATTRIBUTE_TYPES: readonly string[] = [
  "string",
  "integer",
  "float",
  "boolean",
  "decimal",
  "date",
  "dateTime",
  "uuid",
  "json",
];

/** Other spellings accepted for a type (compared lower case). */
const ALIASES: Readonly<Record<string, string>> = {
  date_time: "dateTime",
  datetime: "dateTime",
};

/**
 * Attribute names every command or event already has, or that would hide a
 * method of every message.
 */
const RESERVED: ReadonlySet<string> = new Set([
  "aggregateId",
  "sequenceNumber",
  "createdAt",
  "userId",
  "eventAggregateId",
  "eventSequenceNumber",
  "attributes",
  "constructor",
  "copy",
  "equals",
  "isValid",
  "payload",
  "toJSON",
  "validate",
]);

/**
 * One attribute to generate: `name:string` gives
 * `{ name: "name", type: "string" }`.
 *
 * @example
 * ```ts
 * import type { AttributeSpec } from "./attributes.ts";
 *
 * const spec: AttributeSpec = { name: "email", type: "string" };
 * ```
 */
export interface AttributeSpec {
  /** The attribute name, camelCase. */
  readonly name: string;
  /** The `attrs` factory: `string`, `dateTime`, … */
  readonly type: string;
}

/**
 * Parses `attr:type` arguments. Names are camelCased (`publication_date`
 * becomes `publicationDate`); types are matched ignoring case, and
 * `date_time` or `datetime` mean `dateTime`. An attribute without a type
 * (`name`) is a string.
 *
 * @param args The arguments, e.g. `["name:string", "born:date"]`.
 * @returns The attributes, in order.
 * @throws {CliError} for an unknown type (listing the known ones), a bad
 * or reserved name, or a name given twice.
 *
 * @example
 * ```ts
 * import { parseAttributes } from "./attributes.ts";
 *
 * const [a] = parseAttributes(["publication_date:date_time"]);
 * console.assert(a?.name === "publicationDate" && a?.type === "dateTime");
 * ```
 */
export function parseAttributes(args: readonly string[]): AttributeSpec[] {
  const seen = new Set<string>();
  return args.map((arg) => {
    // as in Sequent's generator, an attribute without a type is a string
    const colon = arg.indexOf(":");
    const rawName = colon < 0 ? arg : arg.slice(0, colon);
    const rawType = colon < 0 ? "string" : arg.slice(colon + 1);
    if (
      !/^[A-Za-z_][A-Za-z0-9_]*$/.test(rawName) || !/[A-Za-z]/.test(rawName)
    ) {
      throw new CliError(
        `"${rawName}" in "${arg}" is not a valid attribute name: use letters, digits and "_", starting with a letter`,
      );
    }
    const name = camelCase(rawName);
    const type = attributeType(rawType);
    if (type === undefined) {
      throw new CliError(
        `Unknown attribute type "${rawType}" in "${arg}": use one of ${
          ATTRIBUTE_TYPES.join(", ")
        }`,
      );
    }
    if (RESERVED.has(name)) {
      throw new CliError(
        `Attribute "${name}" in "${arg}" is reserved: every command or event has it already or uses the name`,
      );
    }
    if (seen.has(name)) {
      throw new CliError(`Attribute "${name}" is given twice`);
    }
    seen.add(name);
    return { name, type };
  });
}

/**
 * The `attrs` factory for a type as typed by the user, if it is known.
 *
 * @param input A type name: `string`, `Integer`, `date_time`, …
 * @returns The canonical type name, or `undefined`.
 *
 * @example
 * ```ts
 * import { attributeType } from "./attributes.ts";
 *
 * console.assert(attributeType("DateTime") === "dateTime");
 * console.assert(attributeType("strin") === undefined);
 * ```
 */
export function attributeType(input: string): string | undefined {
  const lower = input.toLowerCase();
  return ATTRIBUTE_TYPES.find((type) => type.toLowerCase() === lower) ??
    ALIASES[lower];
}
