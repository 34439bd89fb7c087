/**
 * What the raw baselines need from postgres.js beyond its public API, and
 * the version that was verified against.
 *
 * postgres.js 3.4.9 pauses its socket whenever a `COPY … TO STDOUT`
 * stream's buffer is full, and resumes it only from the stream's read hook.
 * When the buffer fills with the copy's last rows (the rows arrived before
 * the stream was read), the stream ends with the socket still paused: the
 * copy's `end` fires, and the connection's next statement waits forever.
 * `tests/bench/postgres_js_test.ts` reproduces that stall and pins both
 * the workaround and the version.
 */
import type { Readable } from "node:stream";

/** The postgres.js version `resumeAfterCopyOut` was verified against. */
export const POSTGRES_JS_VERIFIED = "3.4.9";

/**
 * Call once a `COPY … TO STDOUT` stream has ended, before the connection's
 * next statement: resumes a socket the stream left paused (a no-op when it
 * is not).
 */
export function resumeAfterCopyOut(readable: Readable): void {
  (readable as unknown as { _read(size: number): void })._read(0);
}
