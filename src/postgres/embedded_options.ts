/**
 * The options of {@linkcode connectDatabase} for the embedded database in a
 * data folder: what to do when another process holds the folder.
 *
 * @module
 */
import type { DatabaseHolder } from "./database_in_use_error.ts";

/**
 * What a process does when the embedded database's data folder is held by
 * another process (see `DatabaseInUseError`):
 *
 * - `"fail"`: throw `DatabaseInUseError`, naming the holder. What a second
 *   application gets.
 * - `"use-holder"`: send every statement to the holder, which serves the
 *   database to other processes of the same user on a Unix socket in the
 *   folder (`sequent.sock`). The client behaves as one on the folder would:
 *   its transactions take the holder's one transaction slot as the holder's
 *   own do, so nobody's statements land inside somebody else's transaction,
 *   and meanwhile the holder's other callers wait. If the holder ends, the
 *   client's calls fail with a connection error (`SqlError` with
 *   `isConnectionError`). The database tasks of `@sequent/core/tasks`
 *   (`deno task migrate`, …) use this, so they run beside the application,
 *   with their own (newer) configuration. The holder answers when its event
 *   loop is free: one that runs statements back to back without ever
 *   waiting for I/O keeps its clients waiting.
 *
 * When no process holds the folder, both open it in this process.
 *
 * @example
 * ```ts
 * import type { WhenHeld } from "@sequent/core/postgres";
 *
 * const whenHeld: WhenHeld = "use-holder";
 * ```
 */
export type WhenHeld = "fail" | "use-holder";

/**
 * Options for the embedded database in a data folder; part of
 * `ConnectOptions`. Ignored for `memory://` and for a PostgreSQL server.
 *
 * @example Run a task beside the application that holds the folder
 * ```ts
 * import { connectDatabase } from "@sequent/core/postgres";
 *
 * const folder = await Deno.makeTempDir();
 * const client = await connectDatabase(folder, {
 *   whenHeld: "use-holder",
 *   onHolder: (holder) => console.log(`through pid ${holder.pid}`),
 * });
 * await client.close();
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export interface EmbeddedOptions {
  /** What to do when another process holds the folder (default `"fail"`). */
  readonly whenHeld?: WhenHeld | undefined;
  /**
   * Called when the client reaches the database through the process
   * holding the folder (`whenHeld: "use-holder"`), before it is returned.
   */
  readonly onHolder?: ((holder: DatabaseHolder) => void) | undefined;
  /**
   * How long a client reaching the folder through its holder
   * (`whenHeld: "use-holder"`) waits for the holder to answer its greeting,
   * in milliseconds, before failing with `SqlError` `08001` (default
   * 60,000). The holder answers from its event loop, and PGlite runs in
   * that thread: one long statement delays the answer, and a stopped
   * holder never gives it. A task that should fail fast (a health check)
   * sets it lower. From 1 to 2,147,483,647; anything else is a
   * `TypeError` naming the option.
   */
  readonly holderAnswerTimeoutMs?: number | undefined;
}
