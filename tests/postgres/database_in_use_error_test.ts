/**
 * DatabaseInUseError: what its message says to do depends on who holds the
 * folder and what the refused process meant to do with it.
 */
import assert from "node:assert/strict";
import { SequentError } from "@sequent/core";
import { DatabaseInUseError } from "@sequent/core/postgres";

const since = new Date("2026-01-02T03:04:05.000Z");

Deno.test("another process's hold names the folder, its pid, command line and start, and the three ways out", () => {
  const error = new DatabaseInUseError("./data/db", {
    pid: 1234,
    command: "deno run -A main.ts",
    since,
  });
  assert.ok(error instanceof SequentError);
  assert.equal(error.name, "DatabaseInUseError");
  assert.deepEqual(
    [error.dataDir, error.pid, error.command, error.since],
    ["./data/db", 1234, "deno run -A main.ts", since],
  );
  assert.equal(
    error.message,
    "The embedded database in ./data/db is in use by process 1234 (deno run -A main.ts) since 2026-01-02T03:04:05.000Z. " +
      "The embedded PostgreSQL (PGlite) admits one process at a time. " +
      "Stop that process; or reach the database through it (the database tasks, e.g. `deno task migrate`, do so by themselves; " +
      'in code, connectDatabase(url, { whenHeld: "use-holder" })); or use a PostgreSQL server (DATABASE_URL=postgres://…) to run several processes.',
  );
  assert.ok(!error.message.includes("\n"), "one line, as the tasks print");
});

Deno.test("a drop is told to stop the holder; this process's own hold, to share its client", () => {
  const drop = new DatabaseInUseError("db", {
    pid: 1234,
    command: "deno task start",
    since,
  }, "drop");
  assert.match(
    drop.message,
    /Stop that process before dropping the database\.$/,
  );
  const own = new DatabaseInUseError("db", {
    pid: Deno.pid,
    command: "deno test",
    since,
  });
  assert.match(
    own.message,
    new RegExp(
      `^The embedded database in db is in use by this process \\(pid ${Deno.pid}\\) since .* Open it once and share the client, or close the client before opening the folder again\\.$`,
    ),
  );
});

Deno.test("an unreadable lock file still gives a clear error, without a pid", () => {
  const error = new DatabaseInUseError("db", undefined);
  assert.equal(error.pid, undefined);
  assert.match(
    error.message,
    /^The embedded database in db is in use by another process \(its pid could not be read from db\/sequent\.lock\)\. The embedded PostgreSQL/,
  );
});
