/**
 * Creating and dropping the database itself (`sequent db create` /
 * `db drop`): on a PostgreSQL server, `CREATE DATABASE` / `DROP DATABASE`
 * through its maintenance database; for the embedded database, its data
 * folder.
 *
 * @module
 */
import { SequentError } from "../core/errors.ts";
import { connectDatabase, DEFAULT_DATA_DIR } from "./connect.ts";
import { DatabaseInUseError } from "./database_in_use_error.ts";
import type { EmbeddedOptions } from "./embedded_options.ts";
import { FolderLock, readHolder } from "./_folder_lock.ts";
import { quoteIdentifier } from "./_sql_text.ts";

/** What a database URL names, for the admin tasks. */
export type DatabaseLocation =
  | { readonly kind: "server"; readonly url: URL; readonly database: string }
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
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1]
    ?.toLowerCase();
  if (scheme === undefined) return { kind: "folder", path: url };
  if (scheme === "memory") return { kind: "memory" };
  if (scheme === "file") {
    return {
      kind: "folder",
      path: decodeURIComponent(url.slice("file://".length)),
    };
  }
  if (scheme === "postgres" || scheme === "postgresql") {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
    if (database === "") {
      throw new TypeError(
        `Database URL for ${parsed.hostname}:${
          parsed.port || 5432
        } names no database`,
      );
    }
    return { kind: "server", url: parsed, database };
  }
  throw new TypeError(
    `Database URL scheme "${scheme}:" is not supported: use postgres://, postgresql://, memory:// or file://`,
  );
}

function maintenanceUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.pathname = "/postgres";
  return copy.href;
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
  const client = await connectDatabase(maintenanceUrl(where.url));
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
 * `DatabaseInUseError`), and is held meanwhile.
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
  const client = await connectDatabase(maintenanceUrl(where.url));
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
