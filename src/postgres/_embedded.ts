/**
 * Opening the embedded database in a data folder so that only one process
 * ever has it open: the process that takes the folder's lock opens PGlite
 * and serves the database to other processes; another process gets
 * `DatabaseInUseError`, or, when it opted in (`whenHeld: "use-holder"`), a
 * client that goes through the holder.
 *
 * @module
 */
import { join } from "node:path";
import type {
  SqlClient,
  SqlCopyRows,
  SqlOptions,
  SqlRow,
  SqlStatement,
  SqlTransaction,
  SqlValue,
} from "./sql_client.ts";
import { SqlError } from "./sql_error.ts";
import { DatabaseInUseError } from "./database_in_use_error.ts";
import type { EmbeddedOptions } from "./embedded_options.ts";
import { SequentError } from "../core/errors.ts";
import {
  FolderLock,
  LOCK_FILE,
  readHolder,
  socketPath,
} from "./_folder_lock.ts";
import { HolderServer } from "./_holder_server.ts";
import { ServedClient } from "./_served_client.ts";
import { checkMilliseconds } from "./_timer_option.ts";

/** How long to wait for a holder that is starting to serve. */
const START_TIMEOUT_MS = 60_000;

/** How often to look again while waiting for a holder. */
const RETRY_MS = 100;

/** What `pglite_client.ts` gives this module. */
interface PgliteDriver {
  readonly PgliteClient: {
    open(dataDir: string | undefined): Promise<SqlClient>;
  };
}

/** The PGlite driver, once this process has loaded it. */
let pglite: Promise<PgliteDriver> | undefined;

/**
 * Opens PGlite (in memory, or in a folder this process holds), loading
 * its driver the first time: a process that only connects to a server,
 * or only uses the holder of a folder, never loads PGlite's 26 MB. The
 * specifier is a variable so that the module graph of the package's entry
 * points (`deno info`, `deno cache`) leaves the driver out too.
 */
function openPglite(dataDir: string | undefined): Promise<SqlClient> {
  const driver = "./pglite_client.ts";
  // (a failed load is tried again next time)
  pglite ??= (import(driver) as Promise<PgliteDriver>).catch((error) => {
    pglite = undefined;
    throw error;
  });
  return pglite.then((d) => d.PgliteClient.open(dataDir));
}

/**
 * The client of the process holding the folder: PGlite, plus the server
 * for other processes and the lock, both ended by `close()`.
 */
class HolderClient implements SqlClient {
  readonly engine: "pglite" = "pglite";
  readonly description: string;
  readonly #db: SqlClient;
  readonly #server: HolderServer | undefined;
  readonly #lock: FolderLock;
  #closing: Promise<void> | undefined;

  constructor(
    db: SqlClient,
    server: HolderServer | undefined,
    lock: FolderLock,
  ) {
    this.#db = db;
    this.#server = server;
    this.#lock = lock;
    this.description = db.description;
  }

  query<Row = SqlRow>(
    text: string,
    params?: readonly SqlValue[],
    options?: SqlOptions,
  ): Promise<Row[]> {
    return this.#db.query<Row>(text, params, options);
  }

  batch(
    statements: readonly SqlStatement[],
    options?: SqlOptions,
  ): Promise<SqlRow[][]> {
    return this.#db.batch(statements, options);
  }

  execute(script: string): Promise<void> {
    return this.#db.execute(script);
  }

  copyIn(
    table: string,
    columns: readonly string[],
    rows: SqlCopyRows,
  ): Promise<number> {
    return this.#db.copyIn(table, columns, rows);
  }

  copyOut(
    query: string,
    onData: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return this.#db.copyOut(query, onData);
  }

  transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlOptions,
  ): Promise<T> {
    return this.#db.transaction(work, options);
  }

  /**
   * Disconnects the served processes (rolling back their transactions),
   * closes PGlite, then releases the folder.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#server?.close();
        await this.#db.close();
      } finally {
        this.#lock.release();
      }
    })();
    return this.#closing;
  }
}

/** Opens PGlite in a folder whose lock this process has just taken. */
async function hold(dataDir: string, lock: FolderLock): Promise<SqlClient> {
  let db: SqlClient;
  try {
    await lock.record("starting");
    db = await openPglite(dataDir);
  } catch (error) {
    lock.release();
    throw error;
  }
  let server: HolderServer | undefined;
  try {
    server = await HolderServer.listen(db, dataDir, socketPath(dataDir));
    await lock.record("serving");
  } catch (error) {
    await server?.close();
    server = undefined;
    const reason = error instanceof Error ? error.message : String(error);
    await lock.record("not-serving", reason).catch(() => {});
  }
  return new HolderClient(db, server, lock);
}

/** Whether something is at `path`. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Checks that a data folder is one to keep the embedded database in before
 * anything is written to it: missing, empty, or holding PostgreSQL's
 * `PG_VERSION` or the lock file (a database, or one being made). A
 * mistyped `DATABASE_URL` must not scatter a database among a folder's
 * sources, nor `db drop` delete the folder.
 *
 * @param dataDir The folder.
 * @param refusal What is not done to a folder of other files, for the
 *   message (`"not creating a database among them"`).
 * @returns Whether it exists.
 * @throws {SequentError} naming the folder, when it is a file or holds
 *   other files and no database.
 */
export async function checkDataDir(
  dataDir: string,
  refusal: string,
): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dataDir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  if (!info.isDirectory) {
    throw new SequentError(
      `${dataDir} is a file, not a folder of the embedded database: ${refusal}`,
    );
  }
  if (
    await exists(join(dataDir, "PG_VERSION")) ||
    await exists(join(dataDir, LOCK_FILE))
  ) return true;
  for await (const entry of Deno.readDir(dataDir)) {
    throw new SequentError(
      `The folder ${dataDir} holds other files (such as ${
        JSON.stringify(entry.name)
      }) and no embedded database: ${refusal}`,
    );
  }
  return true;
}

function nobodyListens(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.ConnectionRefused;
}

/**
 * Opens the embedded database: in memory (`dataDir` undefined), or in a
 * folder as described in the module documentation.
 */
export async function openEmbedded(
  dataDir: string | undefined,
  options: EmbeddedOptions,
): Promise<SqlClient> {
  const answerMs = options.holderAnswerTimeoutMs;
  // (no answer comes within 0 ms)
  checkMilliseconds("option holderAnswerTimeoutMs", answerMs, 1);
  if (dataDir === undefined) return await openPglite(undefined);
  await checkDataDir(
    dataDir,
    "not creating a database among them (use a new or empty folder)",
  );
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const lock = await FolderLock.tryAcquire(dataDir);
    if (lock) return await hold(dataDir, lock);
    const holder = await readHolder(dataDir);
    if (options.whenHeld !== "use-holder") {
      throw new DatabaseInUseError(dataDir, holder);
    }
    if (holder?.state === "not-serving") {
      throw new SqlError(
        `The embedded database in ${dataDir} is held by process ${holder.pid} (${holder.command}), which does not serve other processes: ${holder.reason}`,
        { code: "08001" },
      );
    }
    if (holder?.state === "serving") {
      try {
        const client = await ServedClient.connect(
          socketPath(dataDir),
          dataDir,
          {
            holder: `process ${holder.pid} (${holder.command})`,
            helloTimeoutMs: answerMs,
          },
        );
        if (client) {
          options.onHolder?.({
            pid: holder.pid,
            command: holder.command,
            since: holder.since,
          });
          return client;
        }
      } catch (error) {
        if (!nobodyListens(error)) throw error;
      }
    }
    if (Date.now() > deadline) {
      throw new SqlError(
        `The embedded database in ${dataDir} is held by ${
          holder ? `process ${holder.pid} (${holder.command})` : "a process"
        }, which did not start serving it within ${START_TIMEOUT_MS / 1000} s`,
        { code: "08001" },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
