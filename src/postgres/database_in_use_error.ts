/**
 * The error a process gets when it opens an embedded database (a data
 * folder) that another process holds, and who that holder is.
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";

/**
 * The process holding an embedded database's data folder, as it recorded
 * itself in the folder's lock file (`sequent.lock`).
 *
 * @example
 * ```ts
 * import type { DatabaseHolder } from "@sequent/core/postgres";
 *
 * const holder: DatabaseHolder = {
 *   pid: 1234,
 *   command: "deno run -A main.ts",
 *   since: new Date("2026-01-02T03:04:05Z"),
 * };
 * ```
 */
export interface DatabaseHolder {
  /** Its process id. */
  readonly pid: number;
  /** Its command line, e.g. `deno run -A main.ts`. */
  readonly command: string;
  /** When it opened the folder. */
  readonly since: Date;
}

/**
 * What the process that got {@linkcode DatabaseInUseError} meant to do with
 * the folder, which decides the advice in the message.
 *
 * @example
 * ```ts
 * import type { DatabaseUse } from "@sequent/core/postgres";
 *
 * const use: DatabaseUse = "drop";
 * ```
 */
export type DatabaseUse = "open" | "drop";

function who(holder: DatabaseHolder | undefined, dataDir: string): string {
  if (!holder) {
    return `another process (its pid could not be read from ${dataDir}/sequent.lock)`;
  }
  const which = holder.pid === Deno.pid
    ? `this process (pid ${holder.pid})`
    : `process ${holder.pid} (${holder.command})`;
  return `${which} since ${holder.since.toISOString()}`;
}

/**
 * The embedded database's data folder is held by a process: the embedded
 * PostgreSQL (PGlite) runs inside one process and admits no other, so a
 * second process opening the same folder would corrupt it or lose writes.
 * The message names the folder, the holder's pid and command line, and
 * what to do: stop that process; reach the database through it (what the
 * database tasks of `@sequent/core/tasks`, e.g. `deno task migrate`, do by
 * themselves; in code, `connectDatabase(url, { whenHeld: "use-holder" })`);
 * or use a PostgreSQL server (`DATABASE_URL=postgres://…`) for several
 * processes.
 *
 * Opening a folder twice in one process is refused the same way (`pid` is
 * then `Deno.pid`): share the one client instead.
 *
 * @example Tell the user who holds the folder
 * ```ts
 * import { DatabaseInUseError } from "@sequent/core/postgres";
 *
 * const error = new DatabaseInUseError("./data/db", {
 *   pid: 1234,
 *   command: "deno run -A main.ts",
 *   since: new Date("2026-01-02T03:04:05Z"),
 * });
 * console.assert(error.pid === 1234 && error.dataDir === "./data/db");
 * console.assert(error.message.startsWith(
 *   "The embedded database in ./data/db is in use by process 1234 (deno run -A main.ts)",
 * ));
 * ```
 */
export class DatabaseInUseError extends SequentError {
  /** The data folder, as it was given. */
  readonly dataDir: string;
  /** The holder's process id (`undefined` if its lock file was unreadable). */
  readonly pid: number | undefined;
  /** The holder's command line, when known. */
  readonly command: string | undefined;
  /** When the holder opened the folder, when known. */
  readonly since: Date | undefined;

  /**
   * Creates the error.
   *
   * @param dataDir The data folder.
   * @param holder Who holds it, if its lock file could be read.
   * @param use What the refused process meant to do (default `"open"`).
   */
  constructor(
    dataDir: string,
    holder: DatabaseHolder | undefined,
    use: DatabaseUse = "open",
  ) {
    const advice = holder?.pid === Deno.pid
      ? "Open it once and share the client, or close the client before opening the folder again."
      : use === "drop"
      ? "Stop that process before dropping the database."
      : 'Stop that process; or reach the database through it (the database tasks, e.g. `deno task migrate`, do so by themselves; in code, connectDatabase(url, { whenHeld: "use-holder" })); or use a PostgreSQL server (DATABASE_URL=postgres://…) to run several processes.';
    super(
      `The embedded database in ${dataDir} is in use by ${
        who(holder, dataDir)
      }. The embedded PostgreSQL (PGlite) admits one process at a time. ${advice}`,
    );
    this.name = "DatabaseInUseError";
    this.dataDir = dataDir;
    this.pid = holder?.pid;
    this.command = holder?.command;
    this.since = holder?.since;
  }
}
