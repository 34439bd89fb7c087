/**
 * Another process on an embedded database's folder, for
 * embedded_folder_test.ts and served_client_test.ts.
 *
 * Usage: deno run -A _embedded_child.ts <mode> <folder>
 *
 * - `write`: holds the folder and inserts rows into `writes` one by one,
 *   printing `wrote N` once the N-th is stored, until its standard input
 *   closes; then prints `done N` and closes the database.
 * - `open`: opens the folder and prints `opened`; or prints the error as
 *   JSON (`{ name, message, pid, dataDir }`) and exits with code 3.
 * - `hold`: holds the folder (serving it) and prints `ready`; on the input
 *   line `block`, runs a transaction that never ends and prints `blocked`;
 *   on `ping`, prints `pong` (it cannot while PGlite, which runs in its
 *   thread, runs a statement). Closes the database when its standard input
 *   closes.
 * - `in-transaction`: reaches the folder through its holder, begins a
 *   transaction, inserts a row into `writes`, prints `in transaction` and
 *   waits to be killed.
 * - `use-holder`: reaches the folder through its holder and prints
 *   `served` once a statement ran; or prints the error as JSON
 *   (`{ name, code, message }`) and exits with code 3.
 */
import {
  connectDatabase,
  DatabaseInUseError,
  type SqlClient,
} from "@sequent/core/postgres";

const [mode, folder] = Deno.args as [string, string];

/** The lines of standard input, until it closes. */
async function* inputLines(): AsyncGenerator<string> {
  let rest = "";
  for await (
    const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  ) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
}

async function drain(): Promise<void> {
  for await (const _ of inputLines()) {
    // wait for the end of the input
  }
}

const forever = () => new Promise<never>(() => setInterval(() => {}, 60_000));

switch (mode) {
  case "write": {
    const client = await connectDatabase(folder);
    await client.execute(
      "CREATE TABLE IF NOT EXISTS writes (n integer PRIMARY KEY, pid integer)",
    );
    let stop = false;
    const stopped = drain().then(() => stop = true);
    let n = 0;
    const [row] = await client.query<{ n: number }>(
      "SELECT coalesce(max(n), 0)::int AS n FROM writes",
    );
    const first = row?.n ?? 0;
    while (!stop) {
      await client.query("INSERT INTO writes (n, pid) VALUES ($1, $2)", [
        first + n + 1,
        Deno.pid,
      ]);
      n++;
      console.log(`wrote ${n}`);
      // PGlite answers without a turn of the event loop: let input in
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await stopped;
    await client.close();
    console.log(`done ${n}`);
    break;
  }
  case "open": {
    try {
      const client = await connectDatabase(folder);
      console.log("opened");
      await client.close();
    } catch (error) {
      if (!(error instanceof DatabaseInUseError)) throw error;
      console.log(JSON.stringify({
        name: error.name,
        message: error.message,
        pid: error.pid,
        dataDir: error.dataDir,
      }));
      Deno.exit(3);
    }
    break;
  }
  case "hold": {
    const client: SqlClient = await connectDatabase(folder);
    await client.execute(
      "CREATE TABLE IF NOT EXISTS writes (n integer PRIMARY KEY, pid integer)",
    );
    console.log("ready");
    for await (const line of inputLines()) {
      if (line === "ping") console.log("pong");
      if (line === "block") {
        client.transaction(async (tx) => {
          await tx.query("SELECT 1");
          console.log("blocked");
          await forever();
        }).catch(() => {});
      }
    }
    await client.close();
    break;
  }
  case "in-transaction": {
    const client = await connectDatabase(folder, { whenHeld: "use-holder" });
    await client.transaction(async (tx) => {
      await tx.query("INSERT INTO writes (n, pid) VALUES ($1, $2)", [
        -1,
        Deno.pid,
      ]);
      console.log("in transaction");
      await forever();
    });
    break;
  }
  case "use-holder": {
    try {
      const client = await connectDatabase(folder, { whenHeld: "use-holder" });
      await client.query("SELECT 1");
      console.log("served");
      await client.close();
    } catch (error) {
      console.log(JSON.stringify({
        name: error instanceof Error ? error.name : typeof error,
        code: (error as { code?: unknown }).code,
        message: error instanceof Error ? error.message : String(error),
      }));
      Deno.exit(3);
    }
    break;
  }
  default:
    throw new Error(`Unknown mode "${mode}"`);
}
