/**
 * Payloads on the page: pretty-printed JSON as text, or, in the `masked`
 * mode, its shape only (every value replaced), so personal data need not
 * be shown to whoever operates the browser.
 *
 * @module
 */
import { type Html, html } from "./_html.ts";

/**
 * How payloads (and states rebuilt from them) are shown: `full` shows
 * them; `masked` keeps their keys and replaces every value, and hides the
 * texts that may quote them (parked aggregates' error messages, the
 * statement holding processors back).
 *
 * @example
 * ```ts
 * import type { PayloadMode } from "@sequent/core/browser";
 *
 * const mode: PayloadMode = "masked";
 * ```
 */
export type PayloadMode = "full" | "masked";

/** What stands for a masked value. */
export const MASK = "•••";

/** A JSON value with every leaf replaced by {@linkcode MASK}. */
export function maskJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskJson);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, maskJson(item)]),
    );
  }
  return MASK;
}

/** A value as the page shows it in the given mode. */
export function shown(value: unknown, mode: PayloadMode): unknown {
  return mode === "masked" ? maskJson(value) : value;
}

/**
 * A command's user id as the page shows it: in the `masked` mode only
 * whether there is one (an id is often an e-mail address or a name).
 */
export function userShown(
  userId: string | null | undefined,
  mode: PayloadMode,
): string {
  if (userId === null || userId === undefined) return "(none)";
  return mode === "masked" ? MASK : userId;
}

/** Pretty JSON text of a value. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "undefined";
}

/** A stored JSON text as a block on the page. */
export function payloadBlock(
  jsonText: string,
  mode: PayloadMode,
  label: string,
): Html {
  let value: unknown;
  try {
    value = JSON.parse(jsonText);
  } catch {
    return mode === "masked"
      ? html`<pre aria-label="${label}">${MASK}</pre>`
      : html`<pre aria-label="${label}">${jsonText}</pre>`;
  }
  return html`<pre aria-label="${label}">${
    prettyJson(shown(value, mode))
  }</pre>`;
}
