/**
 * A client that goes through the process holding an embedded database
 * (`whenHeld: "use-holder"`), beyond the SqlClient cases it shares with the
 * other adapters (sql_client_test.ts): its transactions and the holder's
 * exclude each other; a client that dies or leaves mid-transaction is
 * rolled back at once; a holder that ends fails the client's calls with a
 * connection error; large results and copies; values beyond the port's.
 */
import assert from "node:assert/strict";
import {
  connectDatabase,
  type SqlClient,
  SqlError,
} from "@sequent/core/postgres";
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

/** Whether a promise is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number) {
  const pending = Symbol();
  const result = await Promise.race([
    promise.then(() => "settled", () => "settled"),
    tick(ms).then(() => pending),
  ]);
  return result === pending;
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

Deno.test("a holder that is killed fails the served client's pending and later calls with a connection error naming it", async () => {
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
      const pending = failure(served.query("SELECT 2"));
      const inTransaction = failure(
        served.transaction((tx) => tx.query("SELECT 3")),
      );
      assert.ok(await pendingAfter(pending, 200));
      child.kill();
      for (const call of [pending, inTransaction]) {
        const error = await call;
        assert.ok(isConnectionError(error, child.pid), String(error));
        assert.match(
          (error as Error).message,
          new RegExp(
            `^Lost the connection to the embedded PostgreSQL in ${folder}, through process ${child.pid}: process ${child.pid}, which holds the database, closed it or ended$`,
          ),
        );
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
    assert.equal(copied, bytes);
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
