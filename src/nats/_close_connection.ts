/**
 * Closing a NATS connection without letting a write that failed just
 * before the close become an uncaught exception.
 *
 * Why a close needs care: the client (`@nats-io/transport-node`) writes
 * what it is given (an ack, a nak, a publish, a pull request) in a
 * microtask, and its socket reports a failed write on the next tick, as an
 * `error` event, to a listener of the client's that ignores it (the client
 * finds out about the broker from the socket's `close`). When the broker
 * has just closed the connection (killed, say: it sends a FIN), the client
 * has ended its side too, and such a write fails with "write after end".
 * `close()` takes every listener off the socket at once, the client's
 * `error` listener with them, before that next tick when it is called in
 * the same turn of the event loop as the write (after an ack, on a stop):
 * the socket's `error` then has no listener, which is an uncaught
 * exception, and the end of the process.
 *
 * So the close waits for the next turn: by then every write made before
 * has been reported, to the client's own listener.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Closes `nc` in a later turn of the event loop than the writes made
 * before the call, so that the socket has reported any of them that failed
 * before the client takes its listeners off it; a close that fails (the
 * connection was closed already) is of no interest.
 */
export async function closeConnection(nc: NatsConnection): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  await nc.close().catch(() => {});
}
