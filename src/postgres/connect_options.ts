/**
 * The options of `connectDatabase`: pool size and timeouts for a server,
 * and what to do about an embedded database held by another process. A
 * module of types only, so the app layer can name them without loading a
 * driver.
 *
 * @module
 */
import type { EmbeddedOptions } from "./embedded_options.ts";

/**
 * Options of a connection to a PostgreSQL server (`createApp`'s
 * `connection`): the pool size and timeouts. The embedded database has one
 * connection inside this process and ignores them. A number out of range
 * (a `max` below 1 or not whole, a timeout that is negative, `NaN`, or
 * longer than 2,147,483,647 ms) is refused with a `TypeError` naming the
 * option.
 *
 * @example
 * ```ts
 * import type { ServerOptions } from "@sequent/core/postgres";
 *
 * const options: ServerOptions = {
 *   max: 20,
 *   connectTimeoutMs: 5_000,
 *   statementTimeoutMs: 30_000,
 * };
 * ```
 */
export interface ServerOptions {
  /** Most connections in the pool: a whole number, at least 1 (default 10). */
  readonly max?: number | undefined;
  /** Milliseconds before an idle connection is closed (default 30,000; 0: never). */
  readonly idleTimeoutMs?: number | undefined;
  /**
   * Milliseconds to wait for a connection to open, including TLS and
   * authentication (default 10,000, or the URL's `connect_timeout`; 0: no
   * limit).
   */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Milliseconds a statement may run before the server cancels it
   * (PostgreSQL's `statement_timeout`; default: the server's setting; 0: no
   * limit). A cancelled statement fails with SQLSTATE `57014` and stores
   * nothing.
   */
  readonly statementTimeoutMs?: number | undefined;
  /**
   * Use named prepared statements (default true); turn off behind a
   * connection pooler in transaction mode that does not support them.
   */
  readonly prepare?: boolean | undefined;
}

/**
 * Options of `connectDatabase`: {@linkcode ServerOptions} for a PostgreSQL
 * server, `EmbeddedOptions` for the embedded database in a folder.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "@sequent/core/postgres";
 *
 * const options: ConnectOptions = { max: 20, whenHeld: "fail" };
 * ```
 */
export interface ConnectOptions extends ServerOptions, EmbeddedOptions {}
