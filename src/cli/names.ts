/**
 * Names the generators derive from what the user types: class names
 * (`Author`), file names (`author`, `blog_post`) and variable names
 * (`blogPost`), and the checks that reject what cannot be one.
 *
 * @module
 */
import { CliError } from "./errors.ts";

const CLASS_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const APP_NAME = /^[a-z][a-z0-9_-]*$/i;

/** Names that would clash with what generated files import from `@sequent/core`. */
const FRAMEWORK_NAMES: ReadonlySet<string> = new Set([
  "AggregateRoot",
  "Command",
  "CommandHandler",
  "Event",
  "Projector",
  "ValueObject",
  "Workflow",
]);

const RESERVED_WORDS: ReadonlySet<string> = new Set(
  ("break case catch class const continue debugger default delete do else " +
    "enum export extends false finally for function if implements import in " +
    "instanceof interface let new null package private protected public " +
    "return static super switch this throw true try typeof var void while " +
    "with yield await").split(" "),
);

/**
 * Splits a name into lower-case words: at `_`, and where a lower-case
 * letter or digit meets an upper-case one.
 *
 * @param name A name in snake_case, camelCase or PascalCase.
 * @returns Its words, lower case.
 *
 * @example
 * ```ts
 * import { words } from "./names.ts";
 *
 * console.assert(words("BlogPost").join(" ") === "blog post");
 * console.assert(words("publication_date").join(" ") === "publication date");
 * console.assert(words("HTTPServer").join(" ") === "http server");
 * ```
 */
export function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .split("_")
    .filter((word) => word !== "")
    .map((word) => word.toLowerCase());
}

/**
 * The PascalCase form of a name: `blog_post` and `blogPost` give
 * `BlogPost`.
 *
 * @param name A name.
 * @returns The name as a class name.
 *
 * @example
 * ```ts
 * import { pascalCase } from "./names.ts";
 *
 * console.assert(pascalCase("blog_post") === "BlogPost");
 * console.assert(pascalCase("AddAuthor") === "AddAuthor");
 * ```
 */
export function pascalCase(name: string): string {
  return words(name).map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");
}

/**
 * The camelCase form of a name: `BlogPost` and `blog_post` give `blogPost`.
 *
 * @param name A name.
 * @returns The name as a variable or attribute name.
 *
 * @example
 * ```ts
 * import { camelCase } from "./names.ts";
 *
 * console.assert(camelCase("publication_date") === "publicationDate");
 * ```
 */
export function camelCase(name: string): string {
  const pascal = pascalCase(name);
  return pascal.charAt(0).toLowerCase() + pascal.slice(1);
}

/**
 * The snake_case form of a name, used for file names: `BlogPost` gives
 * `blog_post`.
 *
 * @param name A name.
 * @returns The name in snake_case.
 *
 * @example
 * ```ts
 * import { snakeCase } from "./names.ts";
 *
 * console.assert(snakeCase("BlogPost") === "blog_post");
 * ```
 */
export function snakeCase(name: string): string {
  return words(name).join("_");
}

/**
 * A variable name for an instance of a class: its camelCase name, or
 * `aggregate` when that is a reserved word (`New` → `new`).
 *
 * @param className A class name.
 * @returns A usable variable name.
 *
 * @example
 * ```ts
 * import { variableName } from "./names.ts";
 *
 * console.assert(variableName("BlogPost") === "blogPost");
 * console.assert(variableName("Delete") === "aggregate");
 * ```
 */
export function variableName(className: string): string {
  const name = camelCase(className);
  return RESERVED_WORDS.has(name) ? "aggregate" : name;
}

/**
 * Checks what the user typed for a class name (`Author`, `author`,
 * `blog_post`) and gives the PascalCase class name.
 *
 * @param what What the name is for, e.g. `"aggregate"`, for the message.
 * @param input What the user typed.
 * @returns The class name.
 * @throws {CliError} when the input cannot be a class name.
 *
 * @example
 * ```ts
 * import { className } from "./names.ts";
 *
 * console.assert(className("aggregate", "blog_post") === "BlogPost");
 * ```
 */
export function className(what: string, input: string): string {
  if (!CLASS_NAME.test(input) || words(input).length === 0) {
    throw new CliError(
      `"${input}" is not a valid ${what} name: use letters, digits and "_", starting with a letter (e.g. Author)`,
    );
  }
  const name = pascalCase(input);
  if (FRAMEWORK_NAMES.has(name)) {
    throw new CliError(
      `"${input}" is not a valid ${what} name: ${name} is a class of @sequent/core`,
    );
  }
  return name;
}

/**
 * Checks an application name (the last part of the path given to `new`):
 * a letter, then letters, digits, `-` or `_`.
 *
 * @param name The application name.
 * @returns The name.
 * @throws {CliError} when it is not a valid name.
 *
 * @example
 * ```ts
 * import { appName } from "./names.ts";
 *
 * console.assert(appName("blog") === "blog");
 * ```
 */
export function appName(name: string): string {
  if (!APP_NAME.test(name)) {
    throw new CliError(
      `"${name}" is not a valid app name: use letters, digits, "-" and "_", starting with a letter (e.g. blog)`,
    );
  }
  return name;
}
