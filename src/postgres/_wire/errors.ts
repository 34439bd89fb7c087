/**
 * What the wire protocol's requests fail with, before the adapter turns
 * it into a {@linkcode SqlError}: the server's ErrorResponse, or the loss
 * of the connection (saying whether the request had been sent).
 *
 * @module
 */
import type { ServerFields } from "./protocol.ts";

/** A statement the server refused: its ErrorResponse. */
export class ServerError extends Error {
  /** The fields the server sent. */
  readonly fields: ServerFields;

  /** @param fields The ErrorResponse's fields. */
  constructor(fields: ServerFields) {
    super(fields.message ?? "The server reported an error");
    this.name = "ServerError";
    this.fields = fields;
  }
}

/**
 * The connection failed or closed before a request's answer was complete.
 * `sent` tells whether the request had been written to the socket: if not,
 * the server never saw it.
 */
export class Lost extends Error {
  /** Whether the request had been written before the connection failed. */
  readonly sent: boolean;
  /** A node `code` (ECONNRESET, …) or ours (CONNECT_TIMEOUT, CLOSED, …). */
  readonly code: string;

  /**
   * @param reason What happened to the connection.
   * @param code Its code.
   * @param sent Whether the request had been written.
   */
  constructor(
    reason: string,
    code: string,
    sent: boolean,
    options?: ErrorOptions,
  ) {
    super(reason, options);
    this.name = "Lost";
    this.code = code;
    this.sent = sent;
  }
}
