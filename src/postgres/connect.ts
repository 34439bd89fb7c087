/**
 * Choosing and opening a database from a URL: a PostgreSQL server for
 * `postgres://` URLs, the embedded PGlite otherwise.
 *
 * @module
 */
import type { SqlClient } from "./sql_client.ts";
import type { ConnectOptions } from "./connect_options.ts";
import { SqlError } from "./sql_error.ts";
import { ServerClient, type ServerClientOptions } from "./server_client.ts";
import { openEmbedded } from "./_embedded.ts";
import { databaseTarget } from "./_database_url.ts";

/**
 * The data folder of the embedded database when no URL is given, relative
 * to the working directory.
 *
 * @example
 * ```ts
 * import { DEFAULT_DATA_DIR } from "@sequent/core/postgres";
 *
 * console.assert(DEFAULT_DATA_DIR === "./data/db");
 * ```
 */
export const DEFAULT_DATA_DIR: string = "./data/db";

/** Where a database URL points. */
type Target =
  | { readonly engine: "postgres"; readonly url: string }
  | { readonly engine: "pglite"; readonly dataDir: string | undefined };

function parseTarget(url: string | undefined): Target {
  if (url === undefined || url.trim() === "") {
    return { engine: "pglite", dataDir: DEFAULT_DATA_DIR };
  }
  const target = databaseTarget(url);
  switch (target.kind) {
    case "server":
      return { engine: "postgres", url: target.url };
    case "memory":
      return { engine: "pglite", dataDir: undefined };
    case "folder":
      return { engine: "pglite", dataDir: target.path };
  }
}

/**
 * Opens a database and returns a client for it, chosen by the URL:
 *
 * - `postgres://user:password@host:port/database` (or `postgresql://`): a
 *   PostgreSQL server, through a pool of connections that heals by itself
 *   (see {@linkcode SqlClient}). One connection is opened at once, so a
 *   server that does not answer fails here with a one-line
 *   {@linkcode SqlError} naming host and port (never the password).
 * - `memory://`: the embedded PostgreSQL (PGlite), in memory, gone when
 *   closed. Starting it takes a few seconds.
 * - `file://./folder`, `file:///absolute/folder` or a plain path: the
 *   embedded PostgreSQL keeping its data in that folder.
 * - nothing: the embedded PostgreSQL in {@linkcode DEFAULT_DATA_DIR}.
 *
 * Any other scheme throws a `TypeError` naming it, and so does a server
 * URL mistyped so that it would read as a folder (`postgres:` without
 * `//`, or `user:password@host` without a scheme), without quoting it (a
 * folder whose path holds `@` is given as `file://<path>`). An
 * embedded database is only created in a new or empty folder: one holding
 * other files but no database is refused. Reading `DATABASE_URL`
 * is left to the caller: `connectDatabase(Deno.env.get("DATABASE_URL"))`.
 *
 * One process at a time holds an embedded database's folder, from
 * `connectDatabase` until `close()` (or until it ends, however it ends). In
 * another process, or a second time in the same one, `connectDatabase`
 * throws `DatabaseInUseError` naming the holder; with
 * `whenHeld: "use-holder"` it returns a client that goes through the holder
 * instead (see {@linkcode EmbeddedOptions}).
 *
 * @example An in-memory database
 * ```ts
 * import { connectDatabase } from "@sequent/core/postgres";
 *
 * const client = await connectDatabase("memory://");
 * console.assert(client.engine === "pglite");
 * await client.close();
 * ```
 *
 * @param url Where the database is; see above.
 * @param options Pool and timeout options for a PostgreSQL server; what to
 *   do when another process holds an embedded database's folder.
 * @returns A client; close it when done.
 */
export async function connectDatabase(
  url?: string,
  options: ConnectOptions = {},
): Promise<SqlClient> {
  const target = parseTarget(url);
  if (target.engine === "pglite") {
    return await openEmbedded(target.dataDir, options);
  }
  return await openServer(target.url, options);
}

/**
 * Opens a server client and checks it with one statement, so a server that
 * cannot be reached fails here in one line.
 */
export async function openServer(
  url: string,
  options: ServerClientOptions,
): Promise<SqlClient> {
  const client = new ServerClient(url, options);
  try {
    await client.query("SELECT 1");
  } catch (error) {
    await client.close().catch(() => {});
    if (
      error instanceof SqlError && error.message.startsWith("Cannot connect")
    ) {
      throw error;
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new SqlError(
      `Cannot connect to ${client.description}: ${reason}`,
      {
        code: error instanceof SqlError ? error.code : "08001",
      },
      { cause: error },
    );
  }
  return client;
}
