/**
 * Serving the event browser on its own, as `deno task browse` does.
 *
 * @module
 */
import type { App } from "../app/create_app.ts";
import {
  createEventBrowser,
  type EventBrowserOptions,
} from "./event_browser.ts";

/**
 * Options of {@linkcode serveEventBrowser}: where to listen, and the
 * browser's own options.
 *
 * @example
 * ```ts
 * import type { ServeEventBrowserOptions } from "@sequent/core/browser";
 *
 * const options: ServeEventBrowserOptions = { port: 8001, payloads: "masked" };
 * ```
 */
export interface ServeEventBrowserOptions extends EventBrowserOptions {
  /** The address to listen on (default `127.0.0.1`: this machine only). */
  readonly hostname?: string | undefined;
  /** The port (default 8001; 0 picks a free one). */
  readonly port?: number | undefined;
  /** Stops the server. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A served browser.
 *
 * @example
 * ```ts
 * import type { ServedEventBrowser } from "@sequent/core/browser";
 *
 * function address(served: ServedEventBrowser): string {
 *   return served.url;
 * }
 * ```
 */
export interface ServedEventBrowser {
  /** Its address, such as `http://127.0.0.1:8001/`. */
  readonly url: string;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops the server (requests under way are answered first). */
  shutdown(): Promise<void>;
}

/**
 * Serves an app's event browser with `Deno.serve`, on 127.0.0.1 unless
 * told otherwise.
 *
 * @param app The application.
 * @param options Where to listen, and the browser's options.
 * @returns The running server.
 *
 * @example
 * ```ts
 * import { createApp } from "@sequent/core";
 * import { serveEventBrowser } from "@sequent/core/browser";
 *
 * const app = await createApp({ database: "memory://", commandHandlers: [] });
 * const served = serveEventBrowser(app, { port: 0 });
 * const response = await fetch(served.url);
 * await response.body?.cancel();
 * await served.shutdown();
 * await app.close();
 * ```
 */
export function serveEventBrowser(
  app: App,
  options: ServeEventBrowserOptions = {},
): ServedEventBrowser {
  const browser = createEventBrowser(app, options);
  const hostname = options.hostname ?? "127.0.0.1";
  const server = Deno.serve({
    hostname,
    port: options.port ?? 8001,
    ...(options.signal ? { signal: options.signal } : {}),
    onListen: () => {},
  }, browser.fetch);
  const address = server.addr as Deno.NetAddr;
  const host = address.hostname.includes(":")
    ? `[${address.hostname}]`
    : address.hostname;
  return {
    url: `http://${host}:${address.port}${browser.basePath}/`,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  };
}
