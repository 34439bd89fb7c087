/**
 * HTML built so that stored text can only ever be text: every value put
 * into an {@linkcode html} template is escaped, unless it is itself
 * {@linkcode Html} made by this module. There is no way to mark a string
 * as trusted: the pages hold no markup that did not come from a template
 * here.
 *
 * @module
 */

/** Markup made by {@linkcode html}: the only text the pages embed unescaped. */
export class Html {
  /** The markup. */
  readonly text: string;
  /** Not for use outside this module: make markup with {@linkcode html}. */
  constructor(text: string, key: symbol) {
    if (key !== TRUSTED) throw new TypeError("make Html with html``");
    this.text = text;
  }
  /** The markup, as text. */
  toString(): string {
    return this.text;
  }
}

const TRUSTED = Symbol("Html");

/** What a template can hold: text, numbers and markup, or lists of them. */
export type HtmlValue =
  | Html
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly HtmlValue[];

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for an element's content or a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/**
 * A template whose values are escaped (markup from another `html` template
 * is kept as it is; `null`, `undefined` and `false` render nothing).
 */
export function html(
  strings: TemplateStringsArray,
  ...values: readonly HtmlValue[]
): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) {
    out += render(values[i]!) + strings[i + 1]!;
  }
  return new Html(out, TRUSTED);
}
