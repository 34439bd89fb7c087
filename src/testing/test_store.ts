/**
 * The event store tests run against: in memory by default, so the same
 * domain tests can also run on the embedded database or a real server by
 * setting `DATABASE_URL`.
 *
 * @module
 */
import type { EventStore } from "../core/event_store.ts";
import type { RecordTable } from "../core/record_table.ts";
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
 * the embedded database), shared by the test process, in schemas of its
 * own, emptied first, with the given record tables created empty.
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
export async function testEventStore(
  options: TestStoreOptions = {},
): Promise<EventStore> {
  const url = readEnv("DATABASE_URL");
  if (!url) return new InMemoryEventStore();
  const { databaseTestStore } = await import("./test_database.ts");
  return await databaseTestStore(url, options.tables ?? []);
}

// With a database, open it before any test runs, so that Deno's sanitizers
// do not take the shared connection for a resource a test leaked.
const preopenUrl = readEnv("DATABASE_URL");
if (preopenUrl) {
  const { openTestDatabase } = await import("./test_database.ts");
  await openTestDatabase(preopenUrl);
}

/**
 * Options of {@linkcode testEventStore}.
 *
 * @example
 * ```ts
 * import type { TestStoreOptions } from "@sequent/core/testing";
 *
 * const options: TestStoreOptions = { tables: [] };
 * ```
 */
export interface TestStoreOptions {
  /** Record tables the test writes (created empty on a database). */
  readonly tables?: readonly RecordTable[] | undefined;
}
