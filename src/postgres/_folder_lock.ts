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
 * A released lock can outlive its release for a moment: a child process
 * forked by another thread of the holder's process (a worker, or a
 * parallel test file, spawning a command) shares the lock's open file
 * until it execs, and the kernel frees the lock only when the last sharer
 * closes it. So the holder records `released` before it lets go, and
 * {@linkcode FolderLock.tryAcquire} tries again for a while a lock whose
 * record says so: measured with two workers spawning commands, one
 * immediate re-acquisition in six failed without this.
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
 * `not-serving` (open, but the socket could not be set up: `reason`),
 * `released` (closed: the lock is free, or about to be).
 */
export type HolderState = "starting" | "serving" | "not-serving" | "released";

/**
 * How long a lock whose holder has recorded `released` is tried again
 * before it counts as held: the time a forked child takes to exec, with
 * room for a loaded machine.
 */
const RELEASE_LINGER_MS = 2_000;

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
        state !== "not-serving" && state !== "released")
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
   * Takes the folder's lock if nobody holds it. Creates the folder unless
   * `create` is false (then a missing folder is `NotFound`). It waits only
   * on a lock its holder has recorded as `released` (see the module
   * documentation), for up to two seconds; a lock held is refused at once.
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
    const deadline = Date.now() + RELEASE_LINGER_MS;
    for (;;) {
      const lock = await FolderLock.#tryOnce(dataDir);
      if (lock) return lock;
      if (
        Date.now() > deadline ||
        !(await FolderLock.#recordSaysReleased(dataDir))
      ) {
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  static async #tryOnce(dataDir: string): Promise<FolderLock | undefined> {
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

  /** Whether the lock file's record says its holder has let go. */
  static async #recordSaysReleased(dataDir: string): Promise<boolean> {
    try {
      const text = await Deno.readTextFile(join(dataDir, LOCK_FILE));
      return parseRecord(text)?.state === "released";
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** Records who holds the folder and where it stands. */
  async record(
    state: Exclude<HolderState, "released">,
    reason?: string,
  ): Promise<void> {
    const bytes = this.#recordBytes(state, reason);
    await this.#file.truncate(0);
    await this.#file.seek(0, Deno.SeekMode.Start);
    for (let at = 0; at < bytes.length;) {
      at += await this.#file.write(bytes.subarray(at));
    }
  }

  #recordBytes(state: HolderState, reason?: string): Uint8Array {
    const record = {
      pid: Deno.pid,
      command: commandLine(),
      since: this.#since.toISOString(),
      state,
      ...(reason === undefined ? {} : { reason }),
    };
    return encoder.encode(`${JSON.stringify(record)}\n`);
  }

  /**
   * Releases the lock: records `released`, then closes the file (which is
   * what releases it). Never throws: a record that cannot be written
   * leaves the lock released all the same.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      const bytes = this.#recordBytes("released");
      this.#file.truncateSync(0);
      this.#file.seekSync(0, Deno.SeekMode.Start);
      for (let at = 0; at < bytes.length;) {
        at += this.#file.writeSync(bytes.subarray(at));
      }
    } catch {
      // (closing releases it; others then wait for nothing)
    } finally {
      this.#file.close();
    }
  }
}
