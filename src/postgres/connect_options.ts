/**
 * The options of a connection to a PostgreSQL server: pool size and
 * timeouts. A module of its own, without imports, so the app layer can
 * name the type without loading a driver.
 *
 * @module
 */

/**
 * Options of {@linkcode connectDatabase}. The pool and timeout options
 * apply to a PostgreSQL server only; the embedded database has one
 * connection inside this process.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "@sequent/core/postgres";
 *
 * const options: ConnectOptions = {
 *   max: 20,
 *   connectTimeoutMs: 5_000,
 *   statementTimeoutMs: 30_000,
 * };
 * ```
 */
export interface ConnectOptions {
  /** Most connections in the pool (default 10). */
  readonly max?: number | undefined;
  /** Milliseconds before an idle connection is closed (default 30,000; 0: never). */
  readonly idleTimeoutMs?: number | undefined;
  /**
   * Milliseconds to wait for a connection to open, including TLS and
   * authentication (default 10,000, or the URL's `connect_timeout`).
   */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Milliseconds a statement may run before the server cancels it
   * (PostgreSQL's `statement_timeout`; default: the server's setting). A
   * cancelled statement fails with SQLSTATE `57014` and stores nothing.
   */
  readonly statementTimeoutMs?: number | undefined;
  /**
   * Use named prepared statements (default true); turn off behind a
   * connection pooler in transaction mode that does not support them.
   */
  readonly prepare?: boolean | undefined;
}
