/**
 * The lock on an embedded database's data folder: an OS file lock (flock)
 * on `sequent.lock` in the folder, which the kernel releases when its
 * process ends, however it ends (`kill -9` included). The holder records in
 * the file who it is and whether it serves the database to other processes,
 * so a refused process can name it.
 *
 * The file is never deleted: another process may have it open to try the
 * lock, and deleting it would let two processes lock two different files of
 * the same name. Its content is only believed while it is locked.
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import type { DatabaseHolder } from "./database_in_use_error.ts";

/** The lock file's name, in the data folder. */
export const LOCK_FILE = "sequent.lock";

/** The name of the socket the holder serves the database on. */
export const SOCKET_FILE = "sequent.sock";

/**
 * Where the holder stands, as it records it in the lock file:
 * `starting` (PGlite is starting), `serving` (listening on the socket),
 * `not-serving` (open, but the socket could not be set up: `reason`).
 */
export type HolderState = "starting" | "serving" | "not-serving";

/** What the lock file holds. */
export interface HolderRecord extends DatabaseHolder {
  /** Where the holder stands. */
  readonly state: HolderState;
  /** Why it does not serve (state `not-serving`). */
  readonly reason?: string | undefined;
}

/**
 * The longest path a Unix socket may have, in bytes: 107 on Linux (108
 * with the final NUL), 103 on macOS and the BSDs.
 *
 * @example
 * ```ts
 * console.assert(pathBytes("/srv/app/data/db/sequent.sock") <= MAX_SOCKET_PATH);
 * ```
 */
export const MAX_SOCKET_PATH: number = Deno.build.os === "linux" ? 107 : 103;

const encoder = new TextEncoder();

/**
 * A path's length in bytes, as the kernel counts it.
 *
 * @example
 * ```ts
 * console.assert(pathBytes("/tmp/é") === 7);
 * ```
 */
export function pathBytes(path: string): number {
  return encoder.encode(path).length;
}

/**
 * A path to use for a socket: the shorter of the absolute path and the one
 * relative to the working directory, as a socket's path is limited to
 * {@linkcode MAX_SOCKET_PATH} bytes.
 */
export function socketPath(dataDir: string): string {
  const full = resolve(dataDir, SOCKET_FILE);
  const near = relative(Deno.cwd(), full);
  return pathBytes(near) < pathBytes(full) ? near : full;
}

/** This process's command line, shortened, for the lock file. */
function commandLine(): string {
  let parts: string[] | undefined;
  try {
    const status = Deno.permissions.querySync({
      name: "read",
      path: "/proc/self/cmdline",
    });
    if (status.state === "granted") {
      parts = Deno.readTextFileSync("/proc/self/cmdline").split("\0")
        .filter((part) => part !== "");
    }
  } catch {
    parts = undefined;
  }
  if (!parts || parts.length === 0) {
    parts = ["deno", Deno.mainModule, ...Deno.args];
  } else {
    parts[0] = parts[0]!.split("/").at(-1)!;
  }
  const line = parts.map((part) =>
    /[\s"']/.test(part) ? JSON.stringify(part) : part
  )
    .join(" ");
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function parseRecord(text: string): HolderRecord | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const { pid, command, since, state, reason } = value;
    if (
      typeof pid !== "number" || typeof command !== "string" ||
      typeof since !== "string" ||
      (state !== "starting" && state !== "serving" &&
        state !== "not-serving")
    ) return undefined;
    return {
      pid,
      command,
      since: new Date(since),
      state,
      reason: typeof reason === "string" ? reason : undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * Reads who holds a folder. The holder writes the file right after taking
 * the lock, so an empty or half-written file is read again for a while.
 *
 * @returns The record, or `undefined` if it stays unreadable.
 */
export async function readHolder(
  dataDir: string,
): Promise<HolderRecord | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const record = parseRecord(
        await Deno.readTextFile(join(dataDir, LOCK_FILE)),
      );
      if (record) return record;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

/** A data folder's lock, held by this process until released. */
export class FolderLock {
  /** The folder. */
  readonly dataDir: string;
  readonly #file: Deno.FsFile;
  readonly #since = new Date();
  #released = false;

  private constructor(dataDir: string, file: Deno.FsFile) {
    this.dataDir = dataDir;
    this.#file = file;
  }

  /**
   * Takes the folder's lock if nobody holds it, without waiting. Creates
   * the folder unless `create` is false (then a missing folder is
   * `NotFound`).
   *
   * @returns The lock, or `undefined` when a process (this one included)
   *   holds it.
   */
  static async tryAcquire(
    dataDir: string,
    { create = true }: { create?: boolean } = {},
  ): Promise<FolderLock | undefined> {
    if (create) {
      // the data folder itself is this user's alone, as PostgreSQL wants
      await Deno.mkdir(dirname(resolve(dataDir)), { recursive: true });
      await Deno.mkdir(dataDir, { mode: 0o700 }).catch((error) => {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      });
    }
    const file = await Deno.open(join(dataDir, LOCK_FILE), {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    let locked = false;
    try {
      locked = await file.tryLock(true);
    } finally {
      if (!locked) file.close();
    }
    return locked ? new FolderLock(dataDir, file) : undefined;
  }

  /** Records who holds the folder and where it stands. */
  async record(state: HolderState, reason?: string): Promise<void> {
    const record = {
      pid: Deno.pid,
      command: commandLine(),
      since: this.#since.toISOString(),
      state,
      ...(reason === undefined ? {} : { reason }),
    };
    const bytes = new TextEncoder().encode(`${JSON.stringify(record)}\n`);
    await this.#file.truncate(0);
    await this.#file.seek(0, Deno.SeekMode.Start);
    for (let at = 0; at < bytes.length;) {
      at += await this.#file.write(bytes.subarray(at));
    }
  }

  /** Releases the lock (closing the file is what releases it). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#file.close();
  }
}
