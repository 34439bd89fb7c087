/**
 * The event browser: a server-rendered web application to look inside an
 * app's event store. Load it as `@sequent/core/browser`: the root entry
 * never loads the web framework.
 *
 * - {@linkcode createEventBrowser} makes it for an app: search events by
 *   aggregate, event, command, correlation, type and time; aggregate,
 *   event and command pages; a correlation's causation tree; time travel
 *   with what changed; the processors, with retry and skip for admins.
 * - {@linkcode serveEventBrowser} serves it on its own (what
 *   `deno task browse` runs).
 *
 * The outbox page (`/outbox`, and an "Outbox" link in the navigation)
 * appears when `createEventBrowser` is given an {@linkcode OutboxView} as
 * its `outbox` option: per partition, the outbox relay's checkpoint and
 * owner against the last message the broker holds, and whether they are
 * in step. `natsOutboxView` from `@sequent/core/nats` makes one for
 * JetStream from the relay's own options (its processor store, servers,
 * stream, prefix and name); it bounds every read with a timeout, so a
 * broker that does not answer gives the page an error, not a hang. The
 * browser itself never loads the NATS client: any object of that shape
 * will do.
 *
 * @example
 * ```ts
 * import { createApp } from "@sequent/core";
 * import { createEventBrowser } from "@sequent/core/browser";
 *
 * const app = await createApp({ database: "memory://", commandHandlers: [] });
 * const browser = createEventBrowser(app, { payloads: "masked" });
 * const page = await browser.fetch(new Request("http://localhost/"));
 * console.assert(page.headers.get("content-security-policy")?.includes("default-src 'self'"));
 * await app.close();
 * ```
 *
 * @module
 */
export {
  createEventBrowser,
  type EventBrowser,
  type EventBrowserAdmin,
  type EventBrowserOptions,
} from "./event_browser.ts";
export type { PayloadMode } from "./_payload_view.ts";
export type {
  OutboxDescription,
  OutboxMessageView,
  OutboxPartitionState,
  OutboxPartitionView,
  OutboxView,
} from "../core/outbox_view.ts";
export {
  type ServedEventBrowser,
  serveEventBrowser,
  type ServeEventBrowserOptions,
} from "./serve_event_browser.ts";
