/**
 * The files of a new, empty PGlite cluster, kept so that a new embedded
 * database (in memory, or in a new data folder) starts from a copy of them
 * instead of running initdb inside WebAssembly: about 1 s instead of
 * 2–6 s. Test suites open many of these, each test file in an isolate of
 * its own, and every generated app makes its folder once.
 *
 * The copy lives in this isolate once made (or read for a database in
 * memory), and on disk for the other isolates and processes: in `$SEQUENT_CACHE_DIR` (empty: nowhere),
 * else `$XDG_CACHE_HOME/sequent`, else `$HOME/.cache/sequent`, in a file
 * named after the PGlite build it came from (about 40 MB). The disk is
 * used only where the process already may read the variables and the
 * folder: this never makes Deno ask for a permission.
 *
 * A copy is only ever a cache: PostgreSQL refuses to start on files of
 * another catalog version, and a copy that does not start is forgotten, and
 * the database created afresh.
 *
 * @module
 */
import { join } from "node:path";

/**
 * The kept files as a tar in a `Blob`, as PGlite's `loadDataDir` takes
 * them, without copying them. PGlite reads `loadDataDir` once, through
 * `arrayBuffer()`; a plain `Blob` would copy the 40 MB three times on the
 * way (into the blob, out of it, into a new buffer), about 0.4 s of CPU,
 * mostly page faults, on every start. This one hands over the bytes it
 * holds, which nothing writes to: PGlite copies each file out of them.
 */
export class TarBytes extends Blob {
  readonly #bytes: Uint8Array<ArrayBuffer>;

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    super([], { type: "application/x-tar" });
    this.#bytes = bytes.byteOffset === 0 &&
        bytes.byteLength === bytes.buffer.byteLength
      ? bytes
      : bytes.slice();
  }

  override get size(): number {
    return this.#bytes.byteLength;
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.#bytes.buffer);
  }

  override bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return Promise.resolve(this.#bytes);
  }

  override text(): Promise<string> {
    return Promise.resolve(new TextDecoder().decode(this.#bytes));
  }

  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return new Blob([this.#bytes]).stream();
  }

  override slice(start?: number, end?: number, contentType?: string): Blob {
    return new Blob([this.#bytes.subarray(start, end)], {
      type: contentType ?? "",
    });
  }
}

/** This isolate's copy. */
let files: TarBytes | undefined;

function granted(
  descriptor: Deno.PermissionDescriptor,
): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

function env(name: string): string | undefined {
  return granted({ name: "env", variable: name })
    ? Deno.env.get(name)
    : undefined;
}

/** The cache file for this PGlite build, or `undefined` for none. */
async function cacheFile(build: string): Promise<string | undefined> {
  const chosen = env("SEQUENT_CACHE_DIR");
  let dir: string | undefined;
  if (chosen !== undefined) dir = chosen === "" ? undefined : chosen;
  else {
    const xdg = env("XDG_CACHE_HOME");
    const home = env("HOME");
    dir = xdg
      ? join(xdg, "sequent")
      : home
      ? join(home, ".cache", "sequent")
      : undefined;
  }
  if (dir === undefined) return undefined;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(build)),
  );
  const key = [...digest.slice(0, 8)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  return join(dir, `pglite-cluster-${key}.tar`);
}

/**
 * The kept files of a fresh cluster made by the PGlite `build` (its
 * module's URL, which names its version), if any. Files read from disk
 * stay in this isolate only when `keep` is set (a process that makes its
 * data folder will not need them again).
 */
export async function freshClusterFiles(
  build: string,
  { keep }: { keep: boolean },
): Promise<Blob | undefined> {
  if (files) return files;
  const file = await cacheFile(build);
  if (file === undefined || !granted({ name: "read", path: file })) {
    return undefined;
  }
  try {
    const read = new TarBytes(await Deno.readFile(file));
    if (keep) files = read;
    return read;
  } catch {
    return undefined;
  }
}

/**
 * Keeps the files of a cluster just created in memory (`dump` makes them)
 * in this isolate and, where allowed, on disk. Best effort: a failure
 * keeps nothing.
 */
export async function keepFreshClusterFiles(
  build: string,
  dump: () => Promise<Blob>,
): Promise<void> {
  let dumped: TarBytes;
  try {
    dumped = new TarBytes(new Uint8Array(await (await dump()).arrayBuffer()));
  } catch {
    return;
  }
  files = dumped;
  const file = await cacheFile(build);
  if (file === undefined) return;
  const dir = join(file, "..");
  if (!granted({ name: "write", path: dir })) return;
  // written beside it and renamed: a reader never sees half a file
  const partial = `${file}.${Deno.pid}-${crypto.randomUUID()}.partial`;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(partial, await dumped.bytes());
    await Deno.rename(partial, file);
  } catch {
    await Deno.remove(partial).catch(() => {});
  }
}

/** Forgets kept files that did not start, here and on disk. */
export async function forgetFreshClusterFiles(build: string): Promise<void> {
  files = undefined;
  const file = await cacheFile(build);
  if (file === undefined || !granted({ name: "write", path: file })) return;
  await Deno.remove(file).catch(() => {});
}
