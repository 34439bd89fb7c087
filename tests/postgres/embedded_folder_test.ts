/**
 * One process at a time on an embedded database's folder: a second process
 * (or a second open in the same one) gets DatabaseInUseError naming the
 * holder and loses nothing of it; the lock dies with its process; a process
 * that opts in goes through the holder, waiting for one that is starting.
 */
import assert from "node:assert/strict";
import {
  connectDatabase,
  type DatabaseHolder,
  DatabaseInUseError,
  dropDatabase,
  SqlError,
} from "@sequent/core/postgres";
import {
  MAX_SOCKET_PATH,
  pathBytes,
  socketPath,
} from "../../src/postgres/_folder_lock.ts";
import { Child } from "../_child_process.ts";

const CHILD = new URL("./_embedded_child.ts", import.meta.url);

async function withFolder(fn: (folder: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "sequent-folder-" });
  try {
    await fn(`${dir}/db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function count(folder: string): Promise<{ n: number; max: number }> {
  const client = await connectDatabase(folder);
  try {
    const [row] = await client.query<{ n: number; max: number }>(
      "SELECT count(*)::int AS n, coalesce(max(n), 0) AS max FROM writes",
    );
    return row!;
  } finally {
    await client.close();
  }
}

Deno.test("two processes on one folder: the second fails naming the first's pid and what to do; every write of the first is kept", async () => {
  await withFolder(async (folder) => {
    const writer = Child.spawn(CHILD, ["write", folder]);
    try {
      await writer.waitFor(/^wrote 20$/);
      const second = Child.spawn(CHILD, ["open", folder]);
      const line = await second.waitFor(/^\{/);
      const refused = await second.ended();
      assert.equal(refused.code, 3, refused.stderr);
      const error = JSON.parse(line);
      assert.deepEqual(
        [error.name, error.pid, error.dataDir],
        ["DatabaseInUseError", writer.pid, folder],
      );
      assert.match(
        error.message,
        new RegExp(
          `^The embedded database in ${
            escape(folder)
          } is in use by process ${writer.pid} \\(deno run -A \\S*_embedded_child\\.ts write ${
            escape(folder)
          }\\) since \\d{4}-\\d\\d-\\d\\dT`,
        ),
      );
      assert.match(
        error.message,
        /The embedded PostgreSQL \(PGlite\) admits one process at a time\. Stop that process; or reach the database through it .*deno task migrate.*; or use a PostgreSQL server \(DATABASE_URL=postgres:\/\/…\)/,
      );
      // the first went on writing meanwhile, and ends cleanly
      const wrote = writer.lines.filter((l) => l.startsWith("wrote")).length;
      await writer.waitFor(new RegExp(`^wrote ${wrote + 20}$`));
      const ended = await writer.ended();
      assert.equal(ended.code, 0, ended.stderr);
      const done = Number((await writer.waitFor(/^done \d+$/)).split(" ")[1]);
      assert.ok(done >= wrote + 20);
      assert.deepEqual(await count(folder), { n: done, max: done });
    } finally {
      writer.kill();
    }
  });
});

Deno.test("a holder killed with SIGKILL leaves a folder the next process opens without complaint, with every acknowledged write, and serves again", async () => {
  await withFolder(async (folder) => {
    const writer = Child.spawn(CHILD, ["write", folder]);
    await writer.waitFor(/^wrote 20$/);
    writer.kill();
    const killed = await writer.ended();
    assert.equal(killed.signal, "SIGKILL");
    const acknowledged = writer.lines.filter((l) => l.startsWith("wrote"))
      .length;
    // the socket of the killed holder is still there: it must not matter
    assert.ok((await Deno.stat(`${folder}/sequent.sock`)).isSocket);

    const client = await connectDatabase(folder);
    try {
      const [row] = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM writes",
      );
      // every acknowledged write; perhaps one more, stored but not yet told
      assert.ok(
        row!.n === acknowledged || row!.n === acknowledged + 1,
        `${row!.n} rows for ${acknowledged} acknowledged writes`,
      );
      const served = await connectDatabase(folder, { whenHeld: "use-holder" });
      try {
        assert.deepEqual(
          await served.query("SELECT count(*)::int AS n FROM writes"),
          [row],
        );
      } finally {
        await served.close();
      }
    } finally {
      await client.close();
    }
  });
});

Deno.test("a folder open in this process is refused a second open and a drop until the client is closed; closing releases it", async () => {
  await withFolder(async (folder) => {
    const first = await connectDatabase(`file://${folder}`);
    try {
      const error = await connectDatabase(folder).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof DatabaseInUseError);
      assert.equal(error.pid, Deno.pid);
      assert.equal(error.dataDir, folder);
      assert.match(
        error.message,
        new RegExp(
          `^The embedded database in ${
            escape(folder)
          } is in use by this process \\(pid ${Deno.pid}\\) since .*Open it once and share the client, or close the client before opening the folder again\\.$`,
        ),
      );
      const drop = await dropDatabase(folder).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(drop instanceof DatabaseInUseError);
      assert.ok((await Deno.stat(`${folder}/PG_VERSION`)).isFile);
    } finally {
      await first.close();
    }
    await assert.rejects(
      Deno.stat(`${folder}/sequent.sock`),
      Deno.errors.NotFound,
    );
    const again = await connectDatabase(folder);
    await again.close();
    assert.equal(await dropDatabase(folder), true);
    await assert.rejects(Deno.stat(folder), Deno.errors.NotFound);
  });
});

Deno.test("the drop of a folder another process holds is refused, naming it", async () => {
  await withFolder(async (folder) => {
    const holder = Child.spawn(CHILD, ["hold", folder]);
    try {
      await holder.waitFor(/^ready$/);
      const error = await dropDatabase(folder).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof DatabaseInUseError);
      assert.equal(error.pid, holder.pid);
      assert.match(
        error.message,
        new RegExp(
          `in use by process ${holder.pid} .* Stop that process before dropping the database\\.$`,
        ),
      );
      assert.ok((await Deno.stat(`${folder}/PG_VERSION`)).isFile);
    } finally {
      holder.kill();
      await holder.ended();
    }
  });
});

Deno.test("with whenHeld use-holder, a free folder is opened and held; a holder still starting is waited for", async () => {
  await withFolder(async (folder) => {
    const holders: DatabaseHolder[] = [];
    const opening = connectDatabase(folder, {
      whenHeld: "use-holder",
      onHolder: (h) => holders.push(h),
    });
    // the lock is taken before PGlite starts, which takes seconds
    for (;;) {
      const text = await Deno.readTextFile(`${folder}/sequent.lock`).catch(
        () => "",
      );
      if (text.includes('"state":"starting"')) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const served = await connectDatabase(folder, {
      whenHeld: "use-holder",
      onHolder: (h) => holders.push(h),
    });
    const first = await opening;
    try {
      assert.equal(first.description, `embedded PostgreSQL in ${folder}`);
      assert.equal(
        served.description,
        `embedded PostgreSQL in ${folder}, through process ${Deno.pid}`,
      );
      assert.equal(served.engine, "pglite");
      // only this user may connect, or read who holds the folder
      const socket = await Deno.stat(`${folder}/sequent.sock`);
      assert.equal(socket.mode! & 0o777, 0o600);
      const lock = await Deno.stat(`${folder}/sequent.lock`);
      assert.equal(lock.mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(folder)).mode! & 0o777, 0o700);
      assert.equal(holders.length, 1);
      assert.equal(holders[0]!.pid, Deno.pid);
      assert.match(holders[0]!.command, /^deno /);
      assert.ok(holders[0]!.since.getTime() <= Date.now());
      await served.execute(
        "CREATE TABLE t (n integer); INSERT INTO t VALUES (1)",
      );
      assert.deepEqual(await first.query("SELECT n FROM t"), [{ n: 1 }]);
    } finally {
      await served.close();
      await first.close();
    }
  });
});

Deno.test("a folder whose socket path is as long as a socket's may be is served, the socket only this user's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-folder-" });
  // the name that makes the socket's path (as this process gives it) the
  // longest a socket's may be
  const name = "x".repeat(
    1 + MAX_SOCKET_PATH - pathBytes(socketPath(`${dir}/x`)),
  );
  const folder = `${dir}/${name}`;
  assert.equal(pathBytes(socketPath(folder)), MAX_SOCKET_PATH);
  try {
    const holder = await connectDatabase(folder);
    try {
      const lock = JSON.parse(
        await Deno.readTextFile(`${folder}/sequent.lock`),
      );
      assert.equal(lock.state, "serving", lock.reason);
      const served = await connectDatabase(folder, { whenHeld: "use-holder" });
      try {
        assert.deepEqual(await served.query("SELECT 1 AS one"), [{ one: 1 }]);
      } finally {
        await served.close();
      }
      const socket = await Deno.stat(`${folder}/sequent.sock`);
      assert.ok(socket.isSocket);
      assert.equal(socket.mode! & 0o777, 0o600);
      // nothing left of the binding
      const names = [];
      for await (const entry of Deno.readDir(folder)) names.push(entry.name);
      assert.deepEqual(names.filter((n) => n.startsWith(".")), []);
    } finally {
      await holder.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a holder that cannot serve (its socket path is too long) still runs; a process that opts in is told why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-folder-" });
  const folder = `${dir}/${"x".repeat(120)}/db`;
  try {
    const holder = await connectDatabase(folder);
    try {
      await holder.query("SELECT 1");
      const error = await connectDatabase(folder, { whenHeld: "use-holder" })
        .then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof SqlError);
      assert.equal(error.code, "08001");
      assert.match(
        error.message,
        new RegExp(
          `^The embedded database in ${
            escape(folder)
          } is held by process ${Deno.pid} \\(deno .*\\), which does not serve other processes: its socket's path, .*sequent\\.sock, is \\d+ bytes: longer than the ${MAX_SOCKET_PATH} bytes a Unix socket's path may have$`,
        ),
      );
      await assert.rejects(connectDatabase(folder), DatabaseInUseError);
    } finally {
      await holder.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
