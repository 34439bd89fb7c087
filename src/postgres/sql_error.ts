/**
 * The error both database adapters raise, whatever the driver underneath.
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";

/**
 * The facts a database error carries, as PostgreSQL reports them.
 *
 * @example
 * ```ts
 * import type { SqlErrorFields } from "@sequent/core/postgres";
 *
 * const fields: SqlErrorFields = { code: "23505", constraint: "users_email_key" };
 * ```
 */
export interface SqlErrorFields {
  /**
   * The SQLSTATE (`23505` for a unique violation). Errors without a server
   * response use `08001` (cannot connect) or `08006` (connection lost).
   */
  readonly code?: string | undefined;
  /** The server's detail line, if any. */
  readonly detail?: string | undefined;
  /** The server's hint, if any. */
  readonly hint?: string | undefined;
  /** The constraint that was violated, if any. */
  readonly constraint?: string | undefined;
  /** The table involved, if any. */
  readonly table?: string | undefined;
  /** The schema of that table, if any. */
  readonly schema?: string | undefined;
}

/**
 * A statement failed or the connection to the database failed. `code` is
 * the SQLSTATE; connection failures use class `08` (or `57P01` when the
 * server ended the session), so {@linkcode SqlError.isConnectionError} tells
 * whether retrying on a fresh connection may help.
 *
 * @example Tell a lost connection from a failed statement
 * ```ts
 * import { SqlError } from "@sequent/core/postgres";
 *
 * function retryable(error: unknown): boolean {
 *   return error instanceof SqlError && error.isConnectionError;
 * }
 * console.assert(retryable(new SqlError("Lost the connection", { code: "08006" })));
 * console.assert(!retryable(new SqlError("division by zero", { code: "22012" })));
 * ```
 */
export class SqlError extends SequentError {
  /** The SQLSTATE, when known. */
  readonly code: string | undefined;
  /** The server's detail line, if any. */
  readonly detail: string | undefined;
  /** The server's hint, if any. */
  readonly hint: string | undefined;
  /** The violated constraint, if any. */
  readonly constraint: string | undefined;
  /** The table involved, if any. */
  readonly table: string | undefined;
  /** The schema of that table, if any. */
  readonly schema: string | undefined;

  /**
   * Creates the error from what the database reported.
   *
   * @param message What went wrong.
   * @param fields The facts PostgreSQL reported.
   * @param options `cause`: the driver's error.
   */
  constructor(message: string, fields: SqlErrorFields, options?: ErrorOptions) {
    super(message, options);
    this.name = "SqlError";
    this.code = fields.code;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.constraint = fields.constraint;
    this.table = fields.table;
    this.schema = fields.schema;
  }

  /**
   * Whether the connection was lost or could not be made (SQLSTATE class
   * `08`, or the session was ended by the server: `57P01`–`57P03`).
   *
   * @returns `true` for connection failures.
   */
  get isConnectionError(): boolean {
    const code = this.code ?? "";
    return code.startsWith("08") || /^57P0[123]$/.test(code);
  }
}
