/**
 * Small, careful edits of TypeScript source text, enough for the
 * generators to add to the files they and `new` wrote: named imports and
 * re-exports, attributes in a `define(…, { … })` shape, elements in a
 * `key: [ … ]` list, and statements in a class's `static { … }` block.
 *
 * The scanner skips strings, template literals and comments when matching
 * brackets; it does not understand regular-expression literals. An edit
 * that cannot find its place returns `undefined` so the caller can say
 * what to add by hand.
 *
 * @module
 */

const CLOSE: Readonly<Record<string, string>> = {
  "{": "}",
  "[": "]",
  "(": ")",
};

/**
 * The index just after a string, template literal or comment starting at
 * `i`, or `i` itself when none starts there.
 */
function skipLiteral(text: string, i: number): number {
  const c = text[i];
  if (c === "/" && text[i + 1] === "/") {
    const end = text.indexOf("\n", i);
    return end < 0 ? text.length : end;
  }
  if (c === "/" && text[i + 1] === "*") {
    const end = text.indexOf("*/", i + 2);
    return end < 0 ? text.length : end + 2;
  }
  if (c === '"' || c === "'") {
    let j = i + 1;
    while (j < text.length && text[j] !== c && text[j] !== "\n") {
      j += text[j] === "\\" ? 2 : 1;
    }
    return j + 1;
  }
  if (c === "`") {
    let j = i + 1;
    while (j < text.length && text[j] !== "`") {
      if (text[j] === "\\") j += 2;
      else if (text[j] === "$" && text[j + 1] === "{") {
        j = closingBracket(text, j + 1) + 1;
        if (j === 0) return text.length;
      } else j++;
    }
    return j + 1;
  }
  return i;
}

/**
 * The index of the bracket that closes the one at `open` (`{`, `[` or
 * `(`), skipping strings, template literals and comments.
 *
 * @param text Source text.
 * @param open The index of an opening bracket.
 * @returns The index of its closing bracket, or -1 when there is none.
 *
 * @example
 * ```ts
 * import { closingBracket } from "./source.ts";
 *
 * const text = 'f({ a: "}", b: [1] })';
 * console.assert(closingBracket(text, 2) === text.length - 2);
 * ```
 */
export function closingBracket(text: string, open: number): number {
  const opening = text[open];
  const closing = opening === undefined ? undefined : CLOSE[opening];
  if (closing === undefined || opening === undefined) return -1;
  let depth = 0;
  let i = open;
  while (i < text.length) {
    const skipped = skipLiteral(text, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = text[i];
    if (c === opening) depth++;
    else if (c === closing && --depth === 0) return i;
    i++;
  }
  return -1;
}

/** The whitespace that starts the line holding index `i`. */
function indentAt(text: string, i: number): string {
  const start = text.lastIndexOf("\n", i - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))?.[0] ?? "";
}

/**
 * The top-level entries of the list or object between `open` and
 * `close`, split at commas outside nested brackets, strings and comments.
 */
function entries(text: string, open: number, close: number): string[] {
  const result: string[] = [];
  let start = open + 1;
  let i = open + 1;
  while (i < close) {
    const skipped = skipLiteral(text, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = text[i];
    if (c !== undefined && c in CLOSE) {
      i = closingBracket(text, i) + 1;
      if (i === 0) return result;
      continue;
    }
    if (c === ",") {
      result.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  const last = text.slice(start, close);
  if (withoutComments(last).trim() !== "") result.push(last);
  return result.filter((entry) => withoutComments(entry).trim() !== "");
}

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
}

/**
 * Adds items to the list or object literal whose opening bracket is at
 * `open`, one per line, after what it holds.
 */
function appendItems(text: string, open: number, items: string[]): string {
  const close = closingBracket(text, open);
  if (close < 0) return text;
  const indent = indentAt(text, open);
  const inner = text.slice(open + 1, close);
  const lines = items.map((item) => `${indent}  ${item},`).join("\n");
  if (withoutComments(inner).trim() === "") {
    return `${text.slice(0, open + 1)}\n${lines}\n${indent}${
      text.slice(close)
    }`;
  }
  let body = inner.trimEnd();
  const lastLine = body.slice(body.lastIndexOf("\n") + 1);
  const code = lastLine.replace(/\/\/.*$/, "").trimEnd();
  if (!code.endsWith(",") && !code.endsWith("{") && !code.endsWith("[")) {
    const at = body.length - lastLine.length + code.length;
    body = `${body.slice(0, at)},${body.slice(at)}`;
  }
  if (!inner.includes("\n")) body = `\n${indent}  ${body.trim()}`;
  return `${text.slice(0, open + 1)}${body}\n${lines}\n${indent}${
    text.slice(close)
  }`;
}

/**
 * The attribute names declared in the shape of `Command.define(typeName,
 * { … })` or `Event.define(typeName, { … })`.
 *
 * @param text Source text.
 * @param typeName The message's type name.
 * @returns The names, or `undefined` when the file does not define it.
 *
 * @example
 * ```ts
 * import { shapeKeys } from "./source.ts";
 *
 * const text = 'class A extends Event.define("A", { name: attrs.string() }) {}';
 * console.assert(shapeKeys(text, "A")?.join() === "name");
 * ```
 */
export function shapeKeys(
  text: string,
  typeName: string,
): string[] | undefined {
  const open = shapeOpen(text, typeName);
  if (open === undefined) return undefined;
  const close = closingBracket(text, open);
  if (close < 0) return undefined;
  return entries(text, open, close).flatMap((entry) => {
    const key = /^\s*["']?([A-Za-z_$][\w$]*)["']?\s*:/.exec(
      withoutComments(entry),
    )?.[1];
    return key === undefined ? [] : [key];
  });
}

function shapeOpen(text: string, typeName: string): number | undefined {
  const match = new RegExp(
    String.raw`\.define\(\s*["']${typeName}["']\s*,\s*\{`,
  ).exec(text);
  return match === null ? undefined : match.index + match[0].length - 1;
}

/**
 * Adds attribute lines (`name: attrs.string()`) to the shape of
 * `define(typeName, { … })`.
 *
 * @param text Source text.
 * @param typeName The message's type name.
 * @param lines The entries to add, without trailing commas.
 * @returns The new text, or `undefined` when the shape is not found.
 *
 * @example
 * ```ts
 * import { addToShape } from "./source.ts";
 *
 * const text = 'class A extends Event.define("A", {}) {}\n';
 * console.assert(addToShape(text, "A", ["name: attrs.string()"])?.includes("  name: attrs.string(),\n"));
 * ```
 */
export function addToShape(
  text: string,
  typeName: string,
  lines: readonly string[],
): string | undefined {
  const open = shapeOpen(text, typeName);
  if (open === undefined || closingBracket(text, open) < 0) return undefined;
  return appendItems(text, open, [...lines]);
}

/**
 * Adds elements to the list `key: [ … ]` (the first such list in the
 * text), e.g. `commandHandlers: [ … ]` in an app's configuration.
 *
 * @param text Source text.
 * @param key The property name.
 * @param elements The elements to add, without trailing commas.
 * @returns The new text, or `undefined` when there is no such list.
 *
 * @example
 * ```ts
 * import { addToList } from "./source.ts";
 *
 * const text = "export const config = {\n  aggregates: [Post],\n};\n";
 * const result = addToList(text, "aggregates", ["Author"]);
 * console.assert(result?.includes("    Post,\n    Author,\n"));
 * ```
 */
export function addToList(
  text: string,
  key: string,
  elements: readonly string[],
): string | undefined {
  const match = new RegExp(String.raw`(^|[\s{,])${key}\s*:\s*\[`).exec(text);
  if (match === null) return undefined;
  const open = match.index + match[0].length - 1;
  if (closingBracket(text, open) < 0) return undefined;
  return appendItems(text, open, [...elements]);
}

const NAMED = (keyword: string, specifier: string) =>
  new RegExp(
    String.raw`^${keyword}\s+(type\s+)?\{([^}]*)\}\s*from\s*(["'])${
      specifier.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    }\3\s*;?`,
    "gm",
  );

function mergeNames(existing: string[], added: readonly string[]): string[] {
  const bare = (name: string) => name.replace(/^type\s+/, "").trim();
  const names = [...existing];
  const key = (name: string) => bare(name).toLowerCase();
  const sorted = names.every((name, i) =>
    i === 0 || key(names[i - 1] ?? "") <= key(name)
  );
  for (const name of added) {
    if (names.some((n) => bare(n).split(/\s+as\s+/).at(-1) === name)) continue;
    if (!sorted) {
      names.push(name);
      continue;
    }
    const at = names.findIndex((n) => key(n) > key(name));
    names.splice(at < 0 ? names.length : at, 0, name);
  }
  return names;
}

function addNamed(
  keyword: "import" | "export",
  text: string,
  specifier: string,
  names: readonly string[],
  typeOnly: boolean,
): string {
  // a value import also serves types, so a type-only one becomes a value
  // import when values are added to it
  const matches = [...text.matchAll(NAMED(keyword, specifier))];
  const match = matches.find((m) => (m[1] !== undefined) === typeOnly) ??
    matches[0];
  if (match !== undefined) {
    const existing = (match[2] ?? "").split(",").map((n) => n.trim())
      .filter((n) => n !== "");
    const merged = mergeNames(existing, names);
    const typePrefix = match[1] !== undefined && typeOnly ? "type " : "";
    const statement = `${keyword} ${typePrefix}{ ${merged.join(", ")} } from ${
      match[3]
    }${specifier}${match[3]};`;
    return text.slice(0, match.index) + statement +
      text.slice(match.index + match[0].length);
  }
  const statement = `${keyword} ${typeOnly ? "type " : ""}{ ${
    names.join(", ")
  } } from "${specifier}";\n`;
  const at = afterLastStatement(text, keyword);
  return text.slice(0, at) + statement + text.slice(at);
}

/**
 * Where a new import or export statement goes: after the last one of its
 * kind, else after the imports, else after the module's leading JSDoc.
 */
function afterLastStatement(text: string, keyword: string): number {
  for (const kind of [keyword, "import"]) {
    const pattern = new RegExp(
      String.raw`^${kind}\s[^;]*?from\s*["'][^"']*["']\s*;?[ \t]*\n?`,
      "gm",
    );
    let end = -1;
    for (const match of text.matchAll(pattern)) {
      end = match.index + match[0].length;
    }
    if (end >= 0) return end;
  }
  const doc = /^\s*\/\*\*[\s\S]*?\*\/\s*\n/.exec(text);
  return doc === null ? 0 : doc[0].length;
}

/**
 * Adds names to the named import from `specifier`, or adds that import.
 *
 * @param text Source text.
 * @param specifier The module specifier, e.g. `"./events.ts"`.
 * @param names The names to import; ones already imported are skipped.
 * @param typeOnly Whether an `import type` will do.
 * @returns The new text.
 *
 * @example
 * ```ts
 * import { addImport } from "./source.ts";
 *
 * const text = 'import { Command } from "@sequent/core";\n';
 * console.assert(addImport(text, "@sequent/core", ["attrs"]) ===
 *   'import { attrs, Command } from "@sequent/core";\n');
 * ```
 */
export function addImport(
  text: string,
  specifier: string,
  names: readonly string[],
  typeOnly = false,
): string {
  return addNamed("import", text, specifier, names, typeOnly);
}

/**
 * Adds names to the named re-export from `specifier`, or adds that
 * re-export.
 *
 * @param text Source text.
 * @param specifier The module specifier, e.g. `"./author/events.ts"`.
 * @param names The names to re-export; ones already there are skipped.
 * @returns The new text.
 *
 * @example
 * ```ts
 * import { addExport } from "./source.ts";
 *
 * const text = 'export { AuthorAdded } from "./author/events.ts";\n';
 * console.assert(addExport(text, "./author/events.ts", ["AuthorNameSet"]) ===
 *   'export { AuthorAdded, AuthorNameSet } from "./author/events.ts";\n');
 * ```
 */
export function addExport(
  text: string,
  specifier: string,
  names: readonly string[],
): string {
  return addNamed("export", text, specifier, names, false);
}

/** The index of the `{` that opens the body of class `name`, if any. */
function classBodyOpen(text: string, name: string): number | undefined {
  const match = new RegExp(String.raw`\bclass\s+${name}\b`).exec(text);
  if (match === null) return undefined;
  let i = match.index + match[0].length;
  while (i < text.length) {
    const skipped = skipLiteral(text, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = text[i];
    if (c === "(" || c === "[") {
      const close = closingBracket(text, i);
      if (close < 0) return undefined;
      i = close + 1;
    } else if (c === "{") return i;
    else i++;
  }
  return undefined;
}

/**
 * Adds statements to the `static { … }` block of class `className`,
 * adding the block at the end of the class when it has none.
 *
 * @param text Source text.
 * @param className The class.
 * @param statements The statements, each possibly several lines, indented
 * as at the top level.
 * @returns The new text, or `undefined` when the class is not found.
 *
 * @example
 * ```ts
 * import { addToStaticBlock } from "./source.ts";
 *
 * const text = "class A {\n  static {\n    this.x();\n  }\n}\n";
 * console.assert(addToStaticBlock(text, "A", ["this.y();"]) ===
 *   "class A {\n  static {\n    this.x();\n    this.y();\n  }\n}\n");
 * ```
 */
export function addToStaticBlock(
  text: string,
  className: string,
  statements: readonly string[],
): string | undefined {
  const bodyOpen = classBodyOpen(text, className);
  if (bodyOpen === undefined) return undefined;
  const bodyClose = closingBracket(text, bodyOpen);
  if (bodyClose < 0) return undefined;
  const indent = indentAt(text, bodyOpen);
  const block = (extra: string) =>
    statements.map((s) =>
      s.split("\n").map((line) =>
        line === "" ? line : `${indent}${extra}${line}`
      ).join("\n")
    ).join("\n");

  let i = bodyOpen + 1;
  while (i < bodyClose) {
    const skipped = skipLiteral(text, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = text[i];
    if (c === "{" && /\bstatic\s*$/.test(text.slice(bodyOpen + 1, i))) {
      const close = closingBracket(text, i);
      const lineStart = text.lastIndexOf("\n", close - 1) + 1;
      if (text.slice(lineStart, close).trim() === "") {
        return text.slice(0, lineStart) + block("    ") + "\n" +
          text.slice(lineStart);
      }
      return `${text.slice(0, i + 1)}\n${block("    ")}\n${indent}  ${
        text.slice(close)
      }`;
    }
    if (c !== undefined && c in CLOSE) {
      const close = closingBracket(text, i);
      if (close < 0) return undefined;
      i = close + 1;
      continue;
    }
    i++;
  }
  const staticBlock = `${indent}  static {\n${block("    ")}\n${indent}  }\n`;
  const lineStart = text.lastIndexOf("\n", bodyClose - 1) + 1;
  if (lineStart > bodyOpen && text.slice(lineStart, bodyClose).trim() === "") {
    return text.slice(0, lineStart) + "\n" + staticBlock +
      text.slice(lineStart);
  }
  return `${text.slice(0, bodyOpen + 1)}\n${staticBlock}${indent}${
    text.slice(bodyClose)
  }`;
}
