/**
 * The text rule: which strings every store can hold. PostgreSQL's `text`
 * and `jsonb` cannot hold the NUL character (U+0000), and a lone surrogate
 * (one half of a UTF-16 pair without the other) has no UTF-8 encoding: the
 * server refuses it, or a driver silently replaces it with U+FFFD. So no
 * store accepts either, anywhere — attribute values, JSON object keys, user
 * ids, unique keys, partition keys, record columns — and a test that passes
 * in memory also passes on PostgreSQL. Surrogate pairs (emoji and other
 * characters beyond U+FFFF) are fine.
 *
 * @module
 */

/**
 * Whether every store can hold `text`: it has no NUL character (U+0000)
 * and no lone surrogate. This is the cheap check; use
 * {@linkcode describeUnstorableText} to say what is wrong.
 *
 * @param text The text.
 * @returns `true` when the text can be stored.
 *
 * @example
 * ```ts
 * import { isStorableText } from "@sequent/core";
 *
 * console.assert(isStorableText("Hello 😀"));
 * console.assert(!isStorableText("a\u0000b"));
 * console.assert(!isStorableText("\ud83d")); // half of 😀
 * ```
 */
export function isStorableText(text: string): boolean {
  return text.isWellFormed() && !text.includes("\0");
}

/**
 * What makes `text` unstorable, naming the first offending character and
 * its index (in UTF-16 code units): `contains a NUL character (U+0000) at
 * index 4`, `contains a lone surrogate (U+D800) at index 2`. `undefined`
 * when the text can be stored.
 *
 * @param text The text.
 * @returns The problem, as a phrase to follow what holds the text.
 *
 * @example
 * ```ts
 * import { describeUnstorableText } from "@sequent/core";
 *
 * console.assert(
 *   describeUnstorableText("abc\u0000") === "contains a NUL character (U+0000) at index 3",
 * );
 * console.assert(describeUnstorableText("fine") === undefined);
 * ```
 */
export function describeUnstorableText(text: string): string | undefined {
  if (isStorableText(text)) return undefined;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0) return `contains a NUL character (U+0000) at index ${i}`;
    if (code < 0xd800 || code > 0xdfff) continue;
    if (code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    return `contains a lone surrogate (U+${
      code.toString(16).toUpperCase()
    }) at index ${i}`;
  }
  return undefined;
}

/** Where in a JSON value unstorable text is, and what is wrong with it. */
export interface UnstorableJsonText {
  /**
   * The path of the string, or of the object whose key is at fault, in the
   * errors-map convention (`lines.1.name`); `""` for the value itself.
   */
  readonly path: string;
  /**
   * The problem: `contains a NUL character (U+0000) at index 4`, or for a
   * key, `has a key "a\u0000" that contains a NUL character (U+0000) at
   * index 1`.
   */
  readonly problem: string;
}

/**
 * The first unstorable string in a JSON value — a string, or a key or
 * string anywhere inside arrays and objects — or `undefined` when there is
 * none. It walks without recursion, and no deeper than `maxDepth` levels
 * (which keeps it finite on a value that contains itself).
 *
 * @param value The value (non-JSON parts are skipped).
 * @param maxDepth How many levels of arrays and objects to look into.
 */
export function findUnstorableJsonText(
  value: unknown,
  maxDepth = Infinity,
): UnstorableJsonText | undefined {
  const stack: [unknown, string, number][] = [[value, "", 0]];
  for (let item; (item = stack.pop());) {
    const [current, path, depth] = item;
    if (typeof current === "string") {
      const problem = describeUnstorableText(current);
      if (problem !== undefined) return { path, problem };
      continue;
    }
    if (typeof current !== "object" || current === null) continue;
    if (depth >= maxDepth) continue;
    const prefix = path === "" ? "" : `${path}.`;
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) {
        stack.push([current[i], `${prefix}${i}`, depth + 1]);
      }
      continue;
    }
    const keys = Object.keys(current);
    for (const key of keys) {
      const problem = describeUnstorableText(key);
      if (problem !== undefined) {
        return { path, problem: `has a key ${quoteKey(key)} that ${problem}` };
      }
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      stack.push([
        (current as Record<string, unknown>)[key],
        `${prefix}${key}`,
        depth + 1,
      ]);
    }
  }
  return undefined;
}

/** A key as shown in a message: JSON-quoted (NUL as `\u0000`), shortened. */
function quoteKey(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

/** Escapes JSON text may spell NUL or a surrogate with (pairs included). */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/**
 * The first unstorable string in JSON text — spelled as an escape
 * (`\u0000`, `\ud800`) or as the character itself — or `undefined` when
 * there is none. Cheap for text without escapes: the text is parsed only
 * when it has one. Text that is not valid JSON is not this rule's concern
 * (`undefined`).
 *
 * @param text JSON text.
 */
export function findUnstorableInJsonText(
  text: string,
): UnstorableJsonText | undefined {
  if (
    text.isWellFormed() &&
    (!text.includes("\\u") || !SUSPECT_ESCAPE.test(text))
  ) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return findUnstorableJsonText(value);
}
