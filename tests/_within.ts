/**
 * A deadline for a promise, for tests of what must end in time.
 *
 * @module
 */

/**
 * What `p` comes to, or a failure naming `what` when it takes more than
 * `ms`; the timer is cleared either way.
 */
export async function within<T>(
  p: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: not done after ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
