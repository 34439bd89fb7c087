/**
 * The event browser: a server-rendered web application over an app's event
 * store, for operators. Search events; open an aggregate, an event, a
 * command, a correlation's causation tree; see an aggregate's state at any
 * event with what changed; see the processors. Read-only unless an admin
 * hook is given.
 *
 * @module
 */
import { Hono } from "hono";
import type { App } from "../app/create_app.ts";
import type { AggregateRoot } from "../core/aggregate_root.ts";
import type { BrowseQueries } from "../core/browse_queries.ts";
import { SequentError } from "../core/errors.ts";
import type { OutboxView } from "../core/outbox_view.ts";
import { aggregatePage } from "./_aggregate_page.ts";
import { commandPage } from "./_command_page.ts";
import { correlationPage } from "./_correlation_page.ts";
import { csrfCookie, csrfToken, sameToken } from "./_csrf.ts";
import type { BrowserDeps } from "./_deps.ts";
import { eventPage } from "./_event_page.ts";
import { html } from "./_html.ts";
import {
  href,
  layout,
  type PageContext,
  pageResponse,
  SECURITY_HEADERS,
} from "./_layout.ts";
import { errorBox, eventPath } from "./_parts.ts";
import type { PayloadMode } from "./_payload_view.ts";
import { outboxPage, outboxTitle } from "./_outbox_page.ts";
import { processorsPage } from "./_processors_page.ts";
import { parseInstant, searchPage } from "./_search_page.ts";
import { statePage } from "./_state_page.ts";
import { FAVICON, STYLE_SHEET } from "./_style.ts";

/**
 * The admin actions' gate: retrying and skipping parked aggregates are
 * offered, and accepted, only for requests this hook authorises.
 *
 * @example
 * ```ts
 * import type { EventBrowserAdmin } from "@sequent/core/browser";
 *
 * const admin: EventBrowserAdmin = {
 *   authorize: (request) =>
 *     request.headers.get("authorization") === `Bearer ${Deno.env.get("ADMIN_TOKEN")}`,
 * };
 * ```
 */
export interface EventBrowserAdmin {
  /** Whether this request may use the admin actions. */
  authorize(request: Request): boolean | Promise<boolean>;
}

/**
 * Options of {@linkcode createEventBrowser}.
 *
 * @example
 * ```ts
 * import type { EventBrowserOptions } from "@sequent/core/browser";
 *
 * const options: EventBrowserOptions = { basePath: "/events", payloads: "masked" };
 * ```
 */
export interface EventBrowserOptions {
  /**
   * The path the browser is served under (default `""`, the root), such
   * as `/events`: its links start with it. Requests may come with it (from
   * `Deno.serve`) or without it (from Hono's `mount`).
   */
  readonly basePath?: string | undefined;
  /**
   * How payloads, unique keys and states are shown: `full` (default) or
   * `masked` (keys kept, every value replaced), so personal data need not
   * be shown.
   */
  readonly payloads?: PayloadMode | undefined;
  /**
   * Turns the admin actions on, for the requests it authorises. Without
   * it the browser is read-only.
   */
  readonly admin?: EventBrowserAdmin | undefined;
  /** Rows per list page (default 50, from 1 to 1,000). */
  readonly pageSize?: number | undefined;
  /**
   * Turns the outbox page on (`/outbox`, with an "Outbox" link in the
   * navigation): per partition, the outbox relay's checkpoint against the
   * last message the broker holds. `natsOutboxView` from
   * `@sequent/core/nats` makes one for JetStream.
   */
  readonly outbox?: OutboxView | undefined;
}

/**
 * A running event browser: hand it requests.
 *
 * @example
 * ```ts
 * import type { EventBrowser } from "@sequent/core/browser";
 *
 * function serve(browser: EventBrowser): Deno.HttpServer {
 *   return Deno.serve({ hostname: "127.0.0.1", port: 0 }, browser.fetch);
 * }
 * ```
 */
export interface EventBrowser {
  /** The path it is served under (`""` at the root). */
  readonly basePath: string;
  /** Answers one request. */
  readonly fetch: (request: Request) => Promise<Response>;
}

function isBrowseQueries(store: object): store is BrowseQueries {
  const candidate = store as Partial<BrowseQueries>;
  return typeof candidate.searchEvents === "function" &&
    typeof candidate.aggregateEvents === "function" &&
    typeof candidate.commandById === "function";
}

function checkBasePath(basePath: string): string {
  if (basePath === "" || basePath === "/") return "";
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath)) {
    throw new TypeError(
      `The event browser's basePath must be "" or a path such as "/events" (letters, digits, "._~-" between slashes, no trailing slash), got ${
        JSON.stringify(basePath)
      }`,
    );
  }
  return basePath;
}

/**
 * Creates the event browser for an application's store (the in-memory
 * store, the embedded database or a PostgreSQL server).
 *
 * Every response carries a strict Content-Security-Policy (no script runs
 * at all), and every stored string is escaped. Admin forms carry a CSRF
 * token held in a `SameSite=Strict` cookie. Mount it under a path with
 * `basePath`: in `Deno.serve`, send it the requests under that path; in a
 * Hono app, `app.mount("/events", browser.fetch)`.
 *
 * @param app The application whose store, classes and processors to show.
 * @param options Where it is mounted, the payload mode, the admin hook,
 *   the outbox view.
 * @returns The browser.
 * @throws {TypeError} for a bad option, or a store without the browser's
 *   queries.
 *
 * @example Serving it beside an application's own routes
 * ```ts
 * import { createApp } from "@sequent/core";
 * import { createEventBrowser } from "@sequent/core/browser";
 *
 * const app = await createApp({ database: "memory://", commandHandlers: [] });
 * const browser = createEventBrowser(app, { basePath: "/events" });
 * const response = await browser.fetch(new Request("http://localhost/events/"));
 * console.assert(response.status === 200);
 * await app.close();
 * ```
 */
export function createEventBrowser(
  app: App,
  options: EventBrowserOptions = {},
): EventBrowser {
  const base = checkBasePath(options.basePath ?? "");
  const payloads = options.payloads ?? "full";
  if (payloads !== "full" && payloads !== "masked") {
    throw new TypeError(
      `The event browser's payloads option must be "full" or "masked", got ${
        JSON.stringify(payloads)
      }`,
    );
  }
  const pageSize = options.pageSize ?? 50;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new TypeError(
      `The event browser's pageSize must be an integer from 1 to 1,000, got ${pageSize}`,
    );
  }
  const store = app.eventStore;
  if (!isBrowseQueries(store)) {
    throw new TypeError(
      "The event browser needs an event store with the browser's queries (the in-memory store or PostgreSQL)",
    );
  }
  const deps: BrowserDeps = {
    queries: store,
    audit: store,
    serializer: app.commandService.serializer,
    aggregateClasses: (app.config.aggregates ?? []) as unknown as readonly (
      new (id: string) => AggregateRoot
    )[],
    processors: app.processors,
    payloads,
    pageSize,
  };
  const outbox = options.outbox;
  if (
    outbox !== undefined &&
    (typeof outbox?.partitions !== "function" ||
      typeof outbox.description?.relay !== "string")
  ) {
    throw new TypeError(
      "The event browser's outbox option must be an OutboxView (such as natsOutboxView's)",
    );
  }
  const web = routes(deps, base, options.admin, outbox);
  return {
    basePath: base,
    fetch: (request: Request) =>
      Promise.resolve(web.fetch(inside(request, base))),
  };
}

/** The request with the base path taken off, when it has it. */
function inside(request: Request, base: string): Request {
  if (base === "") return request;
  const url = new URL(request.url);
  if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) {
    return request;
  }
  url.pathname = url.pathname.slice(base.length) || "/";
  // Not `new Request(url, request)`: that would copy, and so read, the
  // request's abort signal, which Deno.serve warns about.
  return new Request(url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
}

function notFound(context: PageContext, what: string): Response {
  return pageResponse(
    layout(context, "Not found", html`<p>${what}</p>`),
    404,
  );
}

function redirect(location: string): Response {
  return new Response(null, {
    status: 303,
    headers: { ...SECURITY_HEADERS, location },
  });
}

function routes(
  deps: BrowserDeps,
  base: string,
  admin: EventBrowserAdmin | undefined,
  outbox: OutboxView | undefined,
): Hono {
  const web = new Hono();
  const contextOf = async (request: Request): Promise<PageContext> => ({
    base,
    admin: admin !== undefined && await admin.authorize(request),
    outbox: outbox !== undefined,
  });

  web.get("/static/browser.css", () =>
    new Response(STYLE_SHEET, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "text/css; charset=utf-8",
        "cache-control": "max-age=300",
      },
    }));

  web.get("/static/favicon.svg", () =>
    new Response(FAVICON, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "image/svg+xml",
        "cache-control": "max-age=300",
      },
    }));

  web.get("/", async (c) => {
    const context = await contextOf(c.req.raw);
    const q = (name: string) => c.req.query(name) ?? "";
    const eventId = q("event").trim();
    if (eventId !== "") {
      const match = /^(.+)\/(\d{1,9})$/.exec(eventId);
      if (!match) {
        return pageResponse(
          layout(
            context,
            "Search events",
            html`
              <div class="error" role="alert">
                <p>An event id is an aggregate id, a slash and a sequence number, such as 0b6c…/3; got ${eventId}</p>
              </div>
              <p><a href="${href(context, "/")}">Back to the search</a></p>
            `,
          ),
          400,
        );
      }
      return redirect(href(context, eventPath(match[1]!, Number(match[2]))));
    }
    const correlation = q("correlation").trim();
    if (correlation !== "") {
      return redirect(
        href(context, `/correlations/${encodeURIComponent(correlation)}`),
      );
    }
    const { body, status } = await searchPage(deps, context, {
      aggregate: q("aggregate"),
      command: q("command"),
      type: q("type"),
      from: q("from"),
      until: q("until"),
      cursor: c.req.query("cursor") || undefined,
    });
    return pageResponse(layout(context, "Search events", body), status);
  });

  web.get("/aggregates/:id", async (c) => {
    const context = await contextOf(c.req.raw);
    const id = c.req.param("id");
    const page = await aggregatePage(
      deps,
      context,
      id,
      c.req.query("cursor") || undefined,
    );
    return page
      ? pageResponse(layout(context, `Aggregate ${id}`, page.body), page.status)
      : notFound(context, `No events are stored for the aggregate ${id}.`);
  });

  web.get("/aggregates/:id/state", async (c) => {
    const context = await contextOf(c.req.raw);
    const id = c.req.param("id");
    const asOfText = c.req.query("asOf")?.trim() ?? "";
    const atText = c.req.query("at")?.trim() ?? "";
    let target;
    if (asOfText !== "") {
      const instant = parseInstant(asOfText);
      if (!instant) {
        return pageResponse(
          layout(
            context,
            `State of ${id}`,
            html`
              <div class="error" role="alert">
                <p>"Just before" is not a date and time: ${asOfText}</p>
              </div>
            `,
          ),
          400,
        );
      }
      target = { instant };
    } else {
      const at = Number(atText || Number.MAX_SAFE_INTEGER);
      if (!Number.isSafeInteger(at) || at < 1) {
        return pageResponse(
          layout(
            context,
            `State of ${id}`,
            html`
              <div class="error" role="alert">
                <p>"At event" must be a sequence number from 1, got ${atText}</p>
              </div>
            `,
          ),
          400,
        );
      }
      target = { sequenceNumber: at };
    }
    const page = await statePage(deps, context, id, target);
    return page
      ? pageResponse(layout(context, `State of ${id}`, page.body), page.status)
      : notFound(context, `No events are stored for the aggregate ${id}.`);
  });

  web.get("/events/:id/:seq", async (c) => {
    const context = await contextOf(c.req.raw);
    const id = c.req.param("id");
    const seqText = c.req.param("seq");
    const seq = /^\d{1,9}$/.test(seqText) ? Number(seqText) : NaN;
    const body = Number.isInteger(seq)
      ? await eventPage(deps, context, id, seq)
      : undefined;
    return body
      ? pageResponse(layout(context, `Event ${id}/${seq}`, body))
      : notFound(context, `There is no event ${seqText} of ${id}.`);
  });

  web.get("/commands/:id", async (c) => {
    const context = await contextOf(c.req.raw);
    const id = c.req.param("id");
    const page = await commandPage(
      deps,
      context,
      id,
      c.req.query("cursor") || undefined,
    );
    return page
      ? pageResponse(layout(context, page.title, page.body), page.status)
      : notFound(context, `No command has the id ${id}.`);
  });

  web.get("/correlations/:id", async (c) => {
    const context = await contextOf(c.req.raw);
    const id = c.req.param("id");
    const body = await correlationPage(deps, context, id);
    return body
      ? pageResponse(layout(context, "Causation tree", body))
      : notFound(context, `No command has the id ${id}.`);
  });

  web.get("/processors", async (c) => {
    const context = await contextOf(c.req.raw);
    const token = context.admin ? csrfToken(c.req.header("cookie")) : undefined;
    const action = c.req.query("done");
    const done = action === "retry" || action === "skip"
      ? {
        action,
        processor: c.req.query("processor") ?? "",
        aggregate: c.req.query("aggregate") ?? "",
      } as const
      : undefined;
    const response = pageResponse(
      layout(
        context,
        "Processors",
        await processorsPage(deps, context, token?.value ?? "", done),
      ),
    );
    if (token?.fresh) {
      response.headers.append(
        "set-cookie",
        csrfCookie(token.value, base, c.req.url),
      );
    }
    return response;
  });

  if (outbox) {
    web.get("/outbox", async (c) => {
      const context = await contextOf(c.req.raw);
      const { body, status } = await outboxPage(outbox, context);
      return pageResponse(layout(context, outboxTitle(outbox), body), status);
    });
  }

  web.post("/processors/:name/parked/:aggregateId/:action", async (c) => {
    const context = await contextOf(c.req.raw);
    const action = c.req.param("action");
    if (!context.admin || !deps.processors) {
      return pageResponse(
        layout(
          context,
          "Not allowed",
          html`<p>Admin actions are not enabled for this request.</p>`,
        ),
        403,
      );
    }
    const form = await c.req.parseBody();
    const sent = typeof form.csrf === "string" ? form.csrf : "";
    const held = csrfToken(c.req.header("cookie"));
    const origin = c.req.header("origin");
    if (
      held.fresh || !sameToken(sent, held.value) ||
      (origin !== undefined && origin !== new URL(c.req.url).origin)
    ) {
      return pageResponse(
        layout(
          context,
          "Not allowed",
          html`<p>The form's CSRF token is missing or wrong: reload the processors page and try again.</p>`,
        ),
        403,
      );
    }
    const name = c.req.param("name");
    const aggregateId = c.req.param("aggregateId");
    if (action !== "retry" && action !== "skip") {
      return notFound(context, `There is no admin action ${action}.`);
    }
    try {
      await deps.processors[action](name, aggregateId);
    } catch (error) {
      // not this app's processor, or the aggregate is not parked (any
      // more): the request's fault, and nothing was changed
      if (!(error instanceof SequentError)) throw error;
      return pageResponse(
        layout(
          context,
          "Nothing changed",
          html`${errorBox(error.message)}<p><a href="${
            href(context, "/processors")
          }">Back to the processors</a></p>`,
        ),
        409,
      );
    }
    return redirect(
      href(context, "/processors", {
        done: action,
        processor: name,
        aggregate: aggregateId,
      }),
    );
  });

  web.notFound(async (c) =>
    notFound(await contextOf(c.req.raw), "There is no such page.")
  );
  web.onError((error) => {
    const message = error instanceof Error ? error.message : String(error);
    return pageResponse(
      layout(
        { base, admin: false, outbox: outbox !== undefined },
        "Error",
        html`
          <div class="error" role="alert">
            <p>${message}</p>
          </div>
        `,
      ),
      500,
    );
  });
  return web;
}
