/**
 * What the relay's and the consumer's long-running loops share: checks of
 * their options, and a pause that a stop cuts short.
 *
 * @module
 */

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
