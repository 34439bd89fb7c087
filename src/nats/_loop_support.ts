/**
 * What the relay's and the consumer's long-running loops share: checks of
 * their options, a pause that a stop cuts short, a wait that a stop ends,
 * and a connection that a stop gives up.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { closeConnection } from "./_close_connection.ts";

/** Thrown by {@linkcode stoppableWait} when the loop is being stopped. */
export class Stopping extends Error {}

/**
 * Waits `ms`, or rejects with {@linkcode Stopping} as soon as `signal`
 * aborts.
 */
export function stoppableWait(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new Stopping());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Stopping());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Waits `ms`, or less when `signal` aborts; resolves either way, for a
 * pause after which the loop looks at the signal itself (a stop in the
 * pause then ends the loop, and does not reject).
 */
export async function pauseUnlessStopped(
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  try {
    await stoppableWait(ms, signal);
  } catch (error) {
    if (!(error instanceof Stopping)) throw error;
  }
}

/**
 * What `work` comes to, or a rejection with {@linkcode Stopping} as soon as
 * `signal` aborts, whichever is first: for a step that does not heed the
 * signal itself (a NATS request, a connection being made). `work` goes on
 * after the stop; the caller ends it (closing its connection, say), and
 * how it ends is then of no interest: it is not reported as an unhandled
 * rejection.
 */
export function untilStopped<T>(
  work: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(new Stopping());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Stopping());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/** `value` (or `fallback`), checked to be a positive number. */
export function positive(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) {
    throw new RangeError(`${name} must be a positive number, got ${v}`);
  }
  return v;
}

/** A JetStream stream name, checked (default `SEQUENT_OUTBOX`). */
export function streamName(stream: string | undefined): string {
  const name = stream ?? "SEQUENT_OUTBOX";
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new TypeError(
      `A stream name is letters, digits, "_" and "-", got ${
        JSON.stringify(name)
      }`,
    );
  }
  return name;
}

/** The NATS servers as a list (default `127.0.0.1:4222`). */
export function serverList(
  servers: string | readonly string[] | undefined,
): string[] {
  const given = servers ?? "127.0.0.1:4222";
  return typeof given === "string" ? [given] : [...given];
}

/**
 * The connection `connecting` makes, or a rejection with
 * {@linkcode Stopping} as soon as `signal` aborts; a connection made after
 * the stop after all is closed at once (a turn later than the client's own
 * writes at its making: see `closeConnection`).
 */
export async function connectUnlessStopped(
  connecting: Promise<NatsConnection>,
  signal: AbortSignal,
): Promise<NatsConnection> {
  try {
    return await untilStopped(connecting, signal);
  } catch (error) {
    if (error instanceof Stopping) {
      connecting.then(closeConnection, () => {});
    }
    throw error;
  }
}
