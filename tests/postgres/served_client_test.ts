/**
 * A client that goes through the process holding an embedded database
 * (`whenHeld: "use-holder"`), beyond the SqlClient cases it shares with the
 * other adapters (sql_client_test.ts): its transactions and the holder's
 * exclude each other; a client that dies or leaves mid-transaction is
 * rolled back at once; a holder that ends fails the client's calls with a
 * connection error telling whether anything may have been stored; a
 * holder that does not answer; a socket path too long; large results and
 * copies; values beyond the port's.
 */
import assert from "node:assert/strict";
import {
  connectDatabase,
  type SqlClient,
  SqlError,
} from "@sequent/core/postgres";
import { ServedClient } from "../../src/postgres/_served_client.ts";
import {
  MAX_SOCKET_PATH,
  pathBytes,
  socketPath,
} from "../../src/postgres/_folder_lock.ts";
import { Child } from "../_child_process.ts";

const CHILD = new URL("./_embedded_child.ts", import.meta.url);

/** A folder held by this process, with a served client on it. */
async function withServed(
  fn: (holder: SqlClient, served: SqlClient, folder: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
  const folder = `${dir}/db`;
  try {
    const holder = await connectDatabase(folder);
    try {
      await holder.execute(
        "CREATE TABLE writes (n integer PRIMARY KEY, pid integer)",
      );
      const served = await connectDatabase(folder, { whenHeld: "use-holder" });
      try {
        await fn(holder, served, folder);
      } finally {
        await served.close();
      }
    } finally {
      await holder.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The error a connect fails with at its greeting: an `08001` `SqlError`,
 * within 5 s (a connect still waiting after 10 s, or one that succeeds,
 * fails the test; a client made after all is closed).
 */
async function greetingFailure(
  connecting: Promise<{ close(): Promise<void> } | undefined>,
): Promise<SqlError> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let error: unknown;
  try {
    error = await Promise.race([
      connecting.then(async (client) => {
        await client?.close();
        return "connected";
      }, (e: unknown) => e),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve("still waiting after 10 s"), 10_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  assert.ok(error instanceof SqlError, String(error));
  assert.equal(error.code, "08001");
  assert.ok(performance.now() - started < 5_000);
  return error;
}

/** Whether a promise is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number) {
  const pending = Symbol();
  const result = await Promise.race([
    promise.then(() => "settled", () => "settled"),
    tick(ms).then(() => pending),
  ]);
  return result === pending;
}

/**
 * Waits until the child holder runs a statement: PGlite runs in its
 * thread, so it stops answering `ping` until the statement is done.
 */
async function runningStatement(child: Child): Promise<void> {
  const pongs = () => child.lines.filter((l) => l === "pong").length;
  for (let attempt = 0; attempt < 40; attempt++) {
    const before = pongs();
    await child.send("ping");
    await tick(500);
    if (pongs() === before) return;
  }
  assert.fail("the holder kept answering: it ran no statement");
}

function isConnectionError(error: unknown, pid: number): boolean {
  return error instanceof SqlError && error.isConnectionError &&
    error.message.includes(`process ${pid}`);
}

Deno.test("a served client's transaction holds the holder's one slot: the holder's own statements wait for it and are not part of it", async () => {
  await withServed(async (holder, served) => {
    const order: string[] = [];
    const transaction = served.transaction(async (tx) => {
      await tx.query("INSERT INTO writes VALUES (1, 0)");
      order.push("served inserted");
      await tick(100);
      const [row] = await tx.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM writes",
      );
      order.push(`served counted ${row?.n}`);
      throw new Error("roll back");
    });
    const rolledBack = assert.rejects(transaction, /roll back/);
    await tick(30);
    await holder.query("INSERT INTO writes VALUES (2, 0)");
    order.push("holder inserted");
    await rolledBack;
    assert.deepEqual(order, [
      "served inserted",
      "served counted 1",
      "holder inserted",
    ]);
    assert.deepEqual(await holder.query("SELECT n FROM writes"), [{ n: 2 }]);
  });
});

Deno.test("the holder's transaction holds the slot: a served client's statements wait for it and are not part of it", async () => {
  await withServed(async (holder, served) => {
    const order: string[] = [];
    const transaction = holder.transaction(async (tx) => {
      await tx.query("INSERT INTO writes VALUES (1, 0)");
      order.push("holder inserted");
      await tick(100);
      const [row] = await tx.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM writes",
      );
      order.push(`holder counted ${row?.n}`);
      throw new Error("roll back");
    });
    const rolledBack = assert.rejects(transaction, /roll back/);
    await tick(30);
    await served.transaction(async (tx) => {
      await tx.query("INSERT INTO writes VALUES (2, 0)");
      order.push("served inserted");
    });
    await rolledBack;
    assert.deepEqual(order, [
      "holder inserted",
      "holder counted 1",
      "served inserted",
    ]);
    assert.deepEqual(await served.query("SELECT n FROM writes"), [{ n: 2 }]);
  });
});

Deno.test("a served client killed in the middle of a transaction: the holder rolls it back and goes on at once", async () => {
  await withServed(async (holder, _served, folder) => {
    const child = Child.spawn(CHILD, ["in-transaction", folder]);
    try {
      await child.waitFor(/^in transaction$/);
      const waiting = holder.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM writes",
      );
      assert.ok(await pendingAfter(waiting, 300), "the slot is taken");
      const killed = performance.now();
      child.kill();
      assert.deepEqual(await waiting, [{ n: 0 }]);
      const seconds = (performance.now() - killed) / 1000;
      assert.ok(seconds < 5, `the slot was freed after ${seconds} s`);
      assert.equal((await child.ended()).signal, "SIGKILL");
    } finally {
      child.kill();
    }
  });
});

Deno.test("a served client closed in the middle of a transaction: it is rolled back, the slot freed, the client's calls fail clearly", async () => {
  await withServed(async (holder, served) => {
    let closed!: () => void;
    const whenClosed = new Promise<void>((resolve) => closed = resolve);
    const transaction = served.transaction(async (tx) => {
      await tx.query("INSERT INTO writes VALUES (1, 0)");
      await whenClosed;
      await tx.query("INSERT INTO writes VALUES (2, 0)");
    });
    await tick(50);
    await served.close();
    closed();
    await assert.rejects(
      transaction,
      (e) =>
        e instanceof SqlError && e.code === "08003" && /closed/.test(e.message),
    );
    assert.deepEqual(await holder.query("SELECT n FROM writes"), []);
    await assert.rejects(served.query("SELECT 1"), /closed/);
  });
});

Deno.test("a holder that is killed fails the served client's pending and later calls with a connection error naming it: 08007 when what was sent may have been stored, 08006 when not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
  const folder = `${dir}/db`;
  const child = Child.spawn(CHILD, ["hold", folder]);
  try {
    await child.waitFor(/^ready$/);
    const served = await connectDatabase(folder, { whenHeld: "use-holder" });
    try {
      assert.deepEqual(await served.query("SELECT 1 AS one"), [{ one: 1 }]);
      await child.send("block");
      await child.waitFor(/^blocked$/);
      const failure = (call: Promise<unknown>) =>
        call.then(() => undefined, (e: unknown) => e);
      // all wait for the holder's transaction, which never ends
      const pending = failure(served.query("SELECT 2"));
      const inTransaction = failure(
        served.transaction((tx) => tx.query("SELECT 3")),
      );
      const committing = failure(served.transaction((tx) => {
        tx.enqueue({ text: "SELECT 4" });
        return Promise.resolve();
      }));
      assert.ok(await pendingAfter(pending, 200));
      child.kill();
      const lost =
        `^Lost the connection to the embedded PostgreSQL in ${folder}, through process ${child.pid}: process ${child.pid}, which holds the database, closed it or ended`;
      for (
        const [call, code, end] of [
          [
            pending,
            "08007",
            " while a statement ran: whether it was stored is unknown$",
          ],
          [
            committing,
            "08007",
            " while committing: whether it was stored is unknown$",
          ],
          [inTransaction, "08006", "$"],
        ] as const
      ) {
        const error = await call;
        assert.ok(isConnectionError(error, child.pid), String(error));
        assert.equal((error as SqlError).code, code, String(error));
        assert.match((error as Error).message, new RegExp(lost + end));
      }
      for (
        const later of [
          () => served.query("SELECT 4"),
          () => served.execute("SELECT 5"),
          () => served.copyOut("SELECT 6", () => {}),
          () => served.copyIn("writes", ["n"], [[1]]),
          () => served.transaction((tx) => tx.query("SELECT 7")),
        ]
      ) {
        const error = await later().then(() => undefined, (e: unknown) => e);
        assert.ok(isConnectionError(error, child.pid), String(error));
        // never sent: nothing of it was stored
        assert.equal((error as SqlError).code, "08006", String(error));
      }
    } finally {
      await served.close();
    }
  } finally {
    child.kill();
    await child.ended();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a statement outside a transaction that the holder stored before it was killed, unanswered: 08007, and the row is there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
  const folder = `${dir}/db`;
  const child = Child.spawn(CHILD, ["hold", folder]);
  try {
    await child.waitFor(/^ready$/);
    const served = await connectDatabase(folder, { whenHeld: "use-holder" });
    try {
      const call = served.execute(
        "BEGIN; INSERT INTO writes VALUES (7, 0); COMMIT; SELECT pg_sleep(60)",
      ).then(() => undefined, (e: unknown) => e);
      await runningStatement(child);
      child.kill();
      const error = await call;
      assert.ok(isConnectionError(error, child.pid), String(error));
      assert.equal((error as SqlError).code, "08007", String(error));
      assert.match(
        (error as Error).message,
        /whether it was stored is unknown$/,
      );
    } finally {
      await served.close();
    }
    await child.ended();
    const reopened = await connectDatabase(folder);
    try {
      assert.deepEqual(await reopened.query("SELECT n FROM writes"), [{
        n: 7,
      }]);
    } finally {
      await reopened.close();
    }
  } finally {
    child.kill();
    await child.ended();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a holder that does not answer the greeting (a stopped process) fails the connect with 08001, naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
  const path = `${dir}/sequent.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const error = await greetingFailure(
      ServedClient.connect(path, dir, {
        holder: "process 42 (deno run app.ts)",
        helloTimeoutMs: 300,
      }),
    );
    assert.equal(
      error.message,
      `The embedded database in ${dir} is held by process 42 (deno run app.ts), which did not answer within 0.3 s: it is stopped, or busy with one statement all that time`,
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of accepted) conn.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connectDatabase waits holderAnswerTimeoutMs for a stopped holder's greeting, then fails with 08001 naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
  const folder = `${dir}/db`;
  const child = Child.spawn(CHILD, ["hold", folder]);
  try {
    await child.waitFor(/^ready$/);
    // stopped: the kernel still accepts the connection, nobody answers
    Deno.kill(child.pid, "SIGSTOP");
    const error = await greetingFailure(
      connectDatabase(folder, {
        whenHeld: "use-holder",
        holderAnswerTimeoutMs: 300,
      }),
    );
    assert.match(
      error.message,
      new RegExp(
        `^The embedded database in ${folder} is held by process ${child.pid} \\(.*\\), which did not answer within 0\\.3 s: it is stopped, or busy with one statement all that time$`,
      ),
    );
  } finally {
    Deno.kill(child.pid, "SIGCONT");
    child.kill();
    await child.ended();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("holderAnswerTimeoutMs out of range is a TypeError naming it, before any folder is touched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
  try {
    for (const value of [0, -1, Number.NaN, 2 ** 31, Infinity]) {
      for (const target of [`${dir}/db`, "memory://"]) {
        await assert.rejects(
          connectDatabase(target, {
            whenHeld: "use-holder",
            holderAnswerTimeoutMs: value,
          }),
          (error: unknown) =>
            error instanceof TypeError &&
            error.message ===
              `The option holderAnswerTimeoutMs must be a number of milliseconds from 1 to 2147483647, not ${
                String(value)
              }`,
        );
      }
    }
    // nothing was made in the folder
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder whose socket path is too long from this working directory (the holder's is short) is reached through a link, or refused with 08001 saying why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
  const deep = `${dir}/${"d".repeat(110)}`;
  const folder = `${deep}/db`;
  await Deno.mkdir(deep);
  assert.ok(pathBytes(socketPath(folder)) > MAX_SOCKET_PATH);
  // the holder, started in the folder's parent, binds `db/sequent.sock`
  const holder = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD.pathname, "hold", "db"],
    cwd: deep,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = holder.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  try {
    for (let out = ""; !out.includes("ready\n");) {
      const { value, done } = await lines.read();
      assert.ok(!done, `the holder ended: ${out}`);
      out += value;
    }
    const served = await connectDatabase(folder, { whenHeld: "use-holder" });
    try {
      assert.deepEqual(await served.query("SELECT 1 AS one"), [{ one: 1 }]);
      assert.equal(
        served.description,
        `embedded PostgreSQL in ${folder}, through process ${holder.pid}`,
      );
    } finally {
      await served.close();
    }
    // (the link is gone, what it pointed to is not)
    assert.ok((await Deno.stat(`${folder}/PG_VERSION`)).isFile);
    // a process that may not make the link is told why, and what to do
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        `--allow-write=${deep}`,
        "--allow-env",
        CHILD.pathname,
        "use-holder",
        folder,
      ],
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await child.output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 3, out + new TextDecoder().decode(stderr));
    const error = JSON.parse(out);
    assert.equal(error.code, "08001", out);
    assert.match(
      error.message,
      new RegExp(
        `^The embedded database in .* is served on the Unix socket .*sequent\\.sock, whose path is \\d+ bytes: longer than the ${MAX_SOCKET_PATH} bytes a socket's path may have, and no shorter link to it could be made \\(.*\\)\\. Open it from a working directory nearer to its folder, or keep the database in a folder with a shorter path$`,
      ),
    );
  } finally {
    await holder.stdin.close().catch(() => {});
    await lines.cancel().catch(() => {});
    await holder.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a holder that closes disconnects its served clients: their transaction is rolled back and their calls fail with a connection error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-served-" });
  const folder = `${dir}/db`;
  try {
    const holder = await connectDatabase(folder);
    await holder.execute("CREATE TABLE writes (n integer)");
    const served = await connectDatabase(folder, { whenHeld: "use-holder" });
    let closing!: () => void;
    const holderClosing = new Promise<void>((resolve) => closing = resolve);
    const transaction = served.transaction(async (tx) => {
      await tx.query("INSERT INTO writes VALUES (1)");
      closing();
      await tick(200);
      await tx.query("INSERT INTO writes VALUES (2)");
    }).then(() => undefined, (e: unknown) => e);
    await holderClosing;
    await holder.close();
    const error = await transaction;
    assert.ok(isConnectionError(error, Deno.pid), String(error));
    await assert.rejects(
      served.query("SELECT 1"),
      (e) => isConnectionError(e, Deno.pid),
    );
    await served.close();
    await assert.rejects(
      Deno.stat(`${folder}/sequent.sock`),
      Deno.errors.NotFound,
    );
    const reopened = await connectDatabase(folder);
    try {
      assert.deepEqual(await reopened.query("SELECT n FROM writes"), []);
    } finally {
      await reopened.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("large results and copies go through: 20 MB each way by COPY, and a query of 100,000 rows", async () => {
  await withServed(async (holder, served) => {
    await served.execute("CREATE TABLE big (id integer, label text)");
    const label = "x".repeat(200);
    async function* rows() {
      for (let i = 0; i < 100_000; i++) yield [i, `${i} ${label}`];
    }
    await served.transaction(async (tx) => {
      assert.equal(await tx.copyIn("big", ["id", "label"], rows()), 100_000);
    });
    const [direct] = await holder.query<{ bytes: string; sum: string }>(
      "SELECT sum(length(label) + 1 + length(id::text) + 1)::text AS bytes, sum(id)::text AS sum FROM big",
    );
    let bytes = 0;
    let lines = 0;
    const copied = await served.copyOut(
      "SELECT id, label FROM big ORDER BY id",
      (chunk) => {
        bytes += chunk.length;
        for (const byte of chunk) if (byte === 10) lines++;
      },
    );
    assert.equal(copied, 100_000);
    assert.equal(String(bytes), direct!.bytes);
    assert.ok(bytes > 20_000_000);
    assert.equal(lines, 100_000);
    const all = await served.query<{ id: number; label: string }>(
      "SELECT id, label FROM big ORDER BY id",
    );
    assert.equal(all.length, 100_000);
    assert.equal(String(all.reduce((s, r) => s + r.id, 0)), direct!.sum);
    assert.equal(all[99_999]!.label, `99999 ${label}`);
  });
});

Deno.test("values the embedded database returns beyond the port's types arrive as the holder sees them", async () => {
  await withServed(async (holder, served) => {
    const sql =
      `SELECT '\\x00ff10'::bytea AS bytes, ARRAY[1, 2, NULL]::int[] AS ints,
      ARRAY['a', 'b c']::text[] AS texts, 'NaN'::float8 AS nan,
      'Infinity'::float8 AS inf, '-Infinity'::float8 AS ninf,
      '-infinity'::timestamptz AS past, '{"a": [1, {"b": null}]}'::jsonb AS j,
      $1::bigint AS big, $2::timestamptz AS at, $3::float8 AS param_nan`;
    const params = [
      -9007199254740993n,
      new Date("2026-01-02T03:04:05.678Z"),
      Number.NaN,
    ];
    const direct = await holder.query(sql, params);
    const through = await served.query(sql, params);
    assert.deepEqual(through, direct);
    assert.ok(through[0]!.bytes instanceof Uint8Array);
    assert.ok(Number.isNaN(through[0]!.param_nan));
  });
});

Deno.test("a peer that does not speak the protocol is disconnected; the holder and its other clients go on", async () => {
  await withServed(async (holder, served, folder) => {
    for (
      const bytes of [
        new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
        new Uint8Array([0, 0, 0, 3, 0, 123, 125]), // JSON, but no hello
      ]
    ) {
      const peer = await Deno.connect({
        transport: "unix",
        path: `${folder}/sequent.sock`,
      });
      await peer.write(bytes);
      assert.equal(await peer.read(new Uint8Array(16)), null);
      peer.close();
    }
    assert.deepEqual(await served.query("SELECT 1 AS one"), [{ one: 1 }]);
    assert.deepEqual(await holder.query("SELECT 2 AS two"), [{ two: 2 }]);
  });
});
