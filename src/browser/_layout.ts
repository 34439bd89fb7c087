/**
 * The frame every page shares: the document, its navigation, and the
 * response headers that keep stored text inert (a strict
 * Content-Security-Policy: no script runs, inline or not, and no other
 * origin is asked for anything).
 *
 * @module
 */
import { type Html, html, type HtmlValue } from "./_html.ts";

/**
 * The Content-Security-Policy of every response: only the browser's own
 * style sheet loads; no script, no frame, no form to another origin.
 */
export const CONTENT_SECURITY_POLICY: string = [
  "default-src 'self'",
  "script-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** The headers every response of the browser carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** What a page needs to know about where it is served. */
export interface PageContext {
  /** The path the browser is mounted under (`""` at the root). */
  readonly base: string;
  /** Whether admin actions are enabled for this request. */
  readonly admin: boolean;
  /** Whether the outbox page is enabled (an outbox view was given). */
  readonly outbox?: boolean | undefined;
}

/** A link's target under the browser's base path. */
export function href(
  context: PageContext,
  path: string,
  query?: Readonly<Record<string, string | undefined>>,
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== "") params.set(key, value);
  }
  const search = params.toString();
  return `${context.base}${path}${search ? `?${search}` : ""}`;
}

/** A path segment made of stored text. */
export function segment(text: string | number): string {
  return encodeURIComponent(String(text));
}

/** The whole document for a page. */
export function layout(
  context: PageContext,
  title: string,
  body: HtmlValue,
): Html {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title} · Sequent events</title>
        <link rel="stylesheet" href="${href(context, "/static/browser.css")}">
        <link rel="icon" href="${href(
          context,
          "/static/favicon.svg",
        )}" type="image/svg+xml">
      </head>
      <body>
        <header>
          <nav aria-label="Event browser">
    <a class="brand" href="${href(context, "/")}">Sequent events</a>
    <a href="${href(context, "/")}">Search</a>
    <a href="${href(context, "/processors")}">Processors</a>
    ${context.outbox
      ? html`<a href="${href(context, "/outbox")}">Outbox</a>`
      : ""}
    ${context.admin ? html`<span class="badge">admin</span>` : ""}
          </nav>
        </header>
        <main>
    <h1><bdi>${title}</bdi></h1>
    ${body}
        </main>
      </body>
    </html>
  `;
}

/** A response holding a page, with the browser's security headers. */
export function pageResponse(page: Html, status = 200): Response {
  return new Response(page.text, {
    status,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "text/html; charset=utf-8",
    },
  });
}
