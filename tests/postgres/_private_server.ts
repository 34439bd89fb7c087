/**
 * A PostgreSQL server of a test's own, for tests that stop, restart or
 * misconfigure a server: a fresh cluster (`initdb`) in a temporary folder,
 * listening on 127.0.0.1 at a free port, never the shared server. Run as
 * root, the cluster belongs to the `postgres` user, as PostgreSQL demands.
 * `fsync` is off: these tests crash the server on purpose, not the machine,
 * and what PostgreSQL wrote survives in the operating system's cache.
 * `synchronous_commit` stays on: an acknowledged commit must survive the
 * crash, which is what the tests check.
 */

/** A running (or stopped) private server. */
export interface PrivateServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** The cluster's folder (holds `data/`, the log and the socket). */
  readonly dir: string;
  /** Stops it: `immediate` is a crash, `fast` a clean shutdown. */
  stop(mode?: "immediate" | "fast"): Promise<void>;
  /** Starts it again (after `stop`). */
  start(): Promise<void>;
  /** Stops it and deletes its folder. */
  dispose(): Promise<void>;
}

/** Options of {@linkcode startPrivateServer}. */
export interface PrivateServerOptions {
  /** `pg_hba.conf` lines to use instead of "trust everyone". */
  readonly hba?: readonly string[];
  /** Extra `postgresql.conf` lines. */
  readonly conf?: readonly string[];
  /** Files to copy into the data folder before start (e.g. TLS keys). */
  readonly files?: Readonly<Record<string, string>>;
}

const isRoot = Deno.uid() === 0;

function pgBin(): string {
  const versions: string[] = [];
  try {
    for (const entry of Deno.readDirSync("/usr/lib/postgresql")) {
      if (/^\d+$/.test(entry.name)) versions.push(entry.name);
    }
  } catch {
    // not Debian's layout
  }
  versions.sort((a, b) => Number(a) - Number(b));
  const latest = versions.at(-1);
  if (latest) return `/usr/lib/postgresql/${latest}/bin`;
  throw new Error(
    "No PostgreSQL server binaries found in /usr/lib/postgresql/*/bin: install postgresql",
  );
}

async function run(cmd: string, args: readonly string[]): Promise<string> {
  const full = isRoot
    ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] as const
    : [cmd, args] as const;
  const output = await new Deno.Command(full[0], {
    args: [...full[1]],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) +
    new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  }
  return text;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

let made: Promise<string> | undefined;

/**
 * A cluster made once per process and copied for each server: `initdb`
 * takes seconds on a busy machine, a copy a fraction of one. Removed when
 * the process ends.
 */
function template(bin: string): Promise<string> {
  made ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "sequent-pg-template-" });
    if (isRoot) {
      await new Deno.Command("chown", { args: ["postgres", dir] }).output();
    }
    await run(`${bin}/initdb`, [
      "-D",
      `${dir}/data`,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // best effort
      }
    });
    return dir;
  })();
  return made;
}

/**
 * Creates and starts a private server (about a second).
 *
 * @param options Authentication rules, settings and files.
 */
export async function startPrivateServer(
  options: PrivateServerOptions = {},
): Promise<PrivateServer> {
  const bin = pgBin();
  const dir = await Deno.makeTempDir({ prefix: "sequent-pg-" });
  if (isRoot) {
    await new Deno.Command("chown", { args: ["postgres", dir] }).output();
  }
  const data = `${dir}/data`;
  const copied = await new Deno.Command("cp", {
    args: ["-a", `${await template(bin)}/data`, data],
  }).output();
  if (!copied.success) throw new Error(`cannot copy the template cluster`);
  const port = freePort();
  const conf = [
    `listen_addresses = '127.0.0.1'`,
    `port = ${port}`,
    `unix_socket_directories = '${dir}'`,
    `fsync = off`,
    `full_page_writes = off`,
    `max_connections = 60`,
    `shared_buffers = 16MB`,
    ...options.conf ?? [],
  ];
  const append = async (file: string, lines: readonly string[]) => {
    await Deno.writeTextFile(`${data}/${file}`, lines.join("\n") + "\n", {
      append: file === "postgresql.conf",
    });
  };
  await append("postgresql.conf", conf);
  if (options.hba) await append("pg_hba.conf", options.hba);
  for (const [name, content] of Object.entries(options.files ?? {})) {
    await Deno.writeTextFile(`${data}/${name}`, content, { mode: 0o600 });
  }
  if (isRoot) {
    await new Deno.Command("chown", { args: ["-R", "postgres", dir] })
      .output();
  }
  const pgCtl = `${bin}/pg_ctl`;
  let running = false;
  const server: PrivateServer = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    async start() {
      await run(pgCtl, [
        "-D",
        data,
        "-l",
        `${dir}/log`,
        "-w",
        "-t",
        "60",
        "start",
      ]);
      running = true;
    },
    async stop(mode = "immediate") {
      if (!running) return;
      running = false;
      await run(pgCtl, ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
    },
    async dispose() {
      try {
        await server.stop("immediate");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
  await server.start();
  return server;
}
