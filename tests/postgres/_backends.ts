/**
 * The databases the PostgreSQL tests run on: the embedded PGlite always,
 * a server when `DATABASE_URL` is a `postgres://` URL, and, for files that
 * ask, PGlite in a folder reached through the process holding it (here,
 * this one) as another process would reach it, and PGlite in a folder
 * this process holds. Each test file
 * opens one client per backend (PGlite takes seconds to start), installs
 * the event store into a fresh schema, and drops it at the end, so files
 * can share one server concurrently.
 */
import {
  clearEventStore,
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  type SqlClient,
} from "@sequent/core/postgres";

/** One database to run tests on. */
export interface Backend {
  /** `pglite`, `server` or `served`. */
  readonly name: string;
  /** The URL it was opened from. */
  readonly url: string;
  /** The schema this test file uses (`test_<random>`). */
  readonly schema: string;
  /** The shared client (opened on first use). */
  client(): Promise<SqlClient>;
  /** Opens another client on the same database (the caller closes it). */
  open(): Promise<SqlClient>;
  /** A fresh store over the shared client with an empty event store. */
  emptyStore(): Promise<PostgresEventStore>;
  /** Drops the schema and closes the client. */
  dispose(): Promise<void>;
}

/** The `DATABASE_URL` when it points at a server. */
export const serverUrl: string | undefined = (() => {
  const url = Deno.env.get("DATABASE_URL");
  return url?.startsWith("postgres") ? url : undefined;
})();

/** A schema name no other test file uses. */
export function freshSchema(): string {
  return `test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

function backend(
  name: string,
  url: string,
  open: () => Promise<SqlClient> = () => connectDatabase(url),
  closeAll: () => Promise<void> = () => Promise.resolve(),
): Backend {
  const schema = freshSchema();
  let opened: Promise<SqlClient> | undefined;
  const client = () =>
    opened ??= (async () => {
      const c = await open();
      await installEventStore(c, { schema });
      return c;
    })();
  return {
    name,
    url,
    schema,
    client,
    open,
    async emptyStore() {
      const c = await client();
      await clearEventStore(c, { schema });
      return new PostgresEventStore(c, { schema, closeClient: false });
    },
    async dispose() {
      if (!opened) return await closeAll();
      const c = await opened;
      try {
        // A failed test may have left a transaction holding locks: give up
        // rather than wait for it forever.
        await c.transaction((tx) =>
          tx.execute(`
            SET LOCAL lock_timeout = '10s';
            DROP SCHEMA IF EXISTS ${schema} CASCADE;
            DROP SCHEMA IF EXISTS ${schema}_view CASCADE;`)
        );
      } finally {
        await c.close();
        await closeAll();
      }
    },
  };
}

/**
 * PGlite in a temporary folder, held by this process, and clients that go
 * through the holder (`whenHeld: "use-holder"`) over its socket.
 */
function servedBackend(): Backend {
  let holding: Promise<{ dir: string; holder: SqlClient }> | undefined;
  const hold = () =>
    holding ??= (async () => {
      const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
      return { dir, holder: await connectDatabase(`${dir}/db`) };
    })();
  return backend(
    "served",
    "(served)",
    async () =>
      await connectDatabase(`${(await hold()).dir}/db`, {
        whenHeld: "use-holder",
      }),
    async () => {
      if (!holding) return;
      const { dir, holder } = await holding;
      await holder.close();
      await Deno.remove(dir, { recursive: true });
    },
  );
}

/**
 * PGlite in a temporary folder held by this process: the client that also
 * serves the folder to other processes. Another `open()` gets a folder of
 * its own (a second open of one folder is refused).
 */
function holderBackend(): Backend {
  const dirs: string[] = [];
  return backend(
    "holder",
    "(folder)",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "sequent-holder-" });
      dirs.push(dir);
      return await connectDatabase(`${dir}/db`);
    },
    async () => {
      for (const dir of dirs.splice(0)) {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

/**
 * Whether this run keeps the backend of this name (`memory`, `pglite`,
 * `holder`, `served`, `server`): `SEQUENT_BACKENDS` lists the names kept
 * (comma-separated; `none` keeps none); unset, all are. CI's later passes
 * use it not to run again what its first pass ran the same way: the
 * embedded-database pass keeps none (only a `postgres://` URL changes
 * these backends), the server pass keeps `server`.
 */
export function keptBackend(name: string): boolean {
  const kept = Deno.env.get("SEQUENT_BACKENDS");
  return !kept || kept.split(",").map((n) => n.trim()).includes(name);
}

/**
 * The backends of this run: PGlite, plus the server when configured, plus
 * the served PGlite when `served` is set, plus PGlite in a folder this
 * process holds when `holder` is set (less those `SEQUENT_BACKENDS` leaves
 * out).
 */
export function backends(
  { served = false, holder = false }: { served?: boolean; holder?: boolean } =
    {},
): Backend[] {
  const list = [backend("pglite", "memory://")];
  if (serverUrl) list.push(backend("server", serverUrl));
  if (served) list.push(servedBackend());
  if (holder) list.push(holderBackend());
  return list.filter((b) => keptBackend(b.name));
}

/** Test options for tests that share clients across tests. */
export const shared = {
  sanitizeOps: false,
  sanitizeResources: false,
} as const;

/** Registers the last test of a file: disposing of every backend. */
export function disposeAtEnd(list: readonly Backend[]): void {
  Deno.test({
    name: "close the databases",
    ...shared,
    fn: async () => {
      for (const b of list) await b.dispose();
    },
  });
}
