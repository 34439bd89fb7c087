/**
 * Creating and dropping the database itself (`sequent db create` /
 * `db drop`): on a PostgreSQL server, `CREATE DATABASE` / `DROP DATABASE`
 * through its maintenance database; for the embedded database, its data
 * folder.
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";
import { connectDatabase, DEFAULT_DATA_DIR, openServer } from "./connect.ts";
import { databaseTarget, parseDatabaseUrl } from "./_database_url.ts";
import { DatabaseInUseError } from "./database_in_use_error.ts";
import { checkDataDir } from "./_embedded.ts";
import type { EmbeddedOptions } from "./embedded_options.ts";
import { FolderLock, readHolder } from "./_folder_lock.ts";
import { quoteIdentifier } from "./_sql_text.ts";
import type { SqlClient } from "./sql_client.ts";

/**
 * What a database URL names, for the admin tasks. For a server: the URL as
 * given, the database it names, and where it is for messages (never with
 * the password).
 *
 * @example
 * ```ts
 * import type { DatabaseLocation } from "@sequent/core/postgres";
 *
 * const where: DatabaseLocation = { kind: "folder", path: "./data/db" };
 * ```
 */
export type DatabaseLocation =
  | {
    readonly kind: "server";
    readonly url: string;
    readonly database: string;
    readonly description: string;
  }
  | { readonly kind: "folder"; readonly path: string }
  | { readonly kind: "memory" };

/**
 * Tells what a database URL names (see `connectDatabase` for the forms).
 *
 * @param url The database URL (unset: the default data folder).
 * @returns Where the database is.
 *
 * @example
 * ```ts
 * import { locateDatabase } from "@sequent/core/postgres";
 *
 * const where = locateDatabase("postgres://app:secret@db:5432/blog");
 * console.assert(where.kind === "server" && where.database === "blog");
 * ```
 */
export function locateDatabase(url: string | undefined): DatabaseLocation {
  if (url === undefined || url.trim() === "") {
    return { kind: "folder", path: DEFAULT_DATA_DIR };
  }
  const target = databaseTarget(url);
  if (target.kind !== "server") return target;
  const parsed = parseDatabaseUrl(url);
  if (!parsed.databaseNamed) {
    throw new TypeError(
      `Database URL for ${
        parsed.description.replace(/^PostgreSQL at /, "").replace(
          /\/[^/]*$/,
          "",
        )
      } names no database`,
    );
  }
  return {
    kind: "server",
    url,
    database: parsed.database,
    description: parsed.description,
  };
}

/** The server's maintenance database, for creating and dropping others. */
function maintenance(url: string): Promise<SqlClient> {
  return openServer(url, { database: "postgres" });
}

/**
 * Creates the database a URL names, if it does not exist yet.
 *
 * @param url The database URL.
 * @param options For an embedded database's folder that another process
 *   holds: fail (the default) or go through it (see `EmbeddedOptions`).
 * @returns Whether it was created (false: it existed).
 *
 * @example
 * ```ts
 * import { createDatabase } from "@sequent/core/postgres";
 *
 * console.assert((await createDatabase("memory://")) === true);
 * ```
 */
export async function createDatabase(
  url: string | undefined,
  options: EmbeddedOptions = {},
): Promise<boolean> {
  const where = locateDatabase(url);
  if (where.kind === "memory") return true;
  if (where.kind === "folder") {
    let existed = false;
    try {
      existed = (await Deno.stat(where.path)).isDirectory;
    } catch {
      existed = false;
    }
    const client = await connectDatabase(url, options); // initialises the folder
    await client.close();
    return !existed;
  }
  const client = await maintenance(where.url);
  try {
    const [row] = await client.query<{ found: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found",
      [where.database],
    );
    if (row?.found) return false;
    await client.execute(`CREATE DATABASE ${quoteIdentifier(where.database)}`);
    return true;
  } finally {
    await client.close();
  }
}

/**
 * Drops the database a URL names, with everything in it. An embedded
 * database's folder is removed only if no process holds it (else
 * `DatabaseInUseError`), and is held meanwhile; a folder holding other
 * files but no database (no `PG_VERSION`) is left alone, with an error
 * naming it.
 *
 * @param url The database URL.
 * @returns Whether there was one to drop.
 *
 * @example
 * ```ts
 * import { dropDatabase } from "@sequent/core/postgres";
 *
 * const folder = await Deno.makeTempDir();
 * await Deno.remove(folder);
 * console.assert((await dropDatabase(folder)) === false);
 * ```
 */
export async function dropDatabase(url: string | undefined): Promise<boolean> {
  const where = locateDatabase(url);
  if (where.kind === "memory") {
    throw new SequentError(
      "An in-memory database cannot be dropped: it ends with its process",
    );
  }
  if (where.kind === "folder") {
    if (!(await checkDataDir(where.path, "not deleting it"))) return false;
    let lock: FolderLock | undefined;
    try {
      lock = await FolderLock.tryAcquire(where.path, { create: false });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
    if (!lock) {
      throw new DatabaseInUseError(
        where.path,
        await readHolder(where.path),
        "drop",
      );
    }
    try {
      await Deno.remove(where.path, { recursive: true });
      return true;
    } finally {
      lock.release();
    }
  }
  const client = await maintenance(where.url);
  try {
    const [row] = await client.query<{ found: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found",
      [where.database],
    );
    if (!row?.found) return false;
    await client.execute(
      `DROP DATABASE ${quoteIdentifier(where.database)} WITH (FORCE)`,
    );
    return true;
  } finally {
    await client.close();
  }
}
