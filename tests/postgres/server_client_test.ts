/**
 * The PostgreSQL server adapter over the framework's own wire protocol:
 * values, pipelining, COPY, aborting, timeouts, prepared statements that
 * go stale, password authentication, TLS, Unix sockets, and a pool that
 * heals. Run when `DATABASE_URL` names a server (the server pass of CI);
 * tests that need particular settings start a private server.
 */
import assert from "node:assert/strict";
import { connectDatabase, SqlError } from "@sequent/core/postgres";
import { ServerClient } from "../../src/postgres/server_client.ts";
import { WirePool } from "../../src/postgres/_wire/pool.ts";
import { serverUrl } from "./_backends.ts";
import { latencyProxy } from "./_latency_proxy.ts";
import { startPrivateServer } from "./_private_server.ts";

const test = serverUrl === undefined ? () => {} : Deno.test;
const url = serverUrl!;

test("values of every type the port names come back as it says", async () => {
  const client = await connectDatabase(url);
  try {
    const [row] = await client.query(
      `SELECT 1::smallint AS i2, 2::int AS i4, 3.5::float8 AS f8, 'NaN'::float8 AS nan,
        9007199254740993::bigint AS i8, 1.10::numeric AS num, true AS t, false AS f,
        'é ✓ 😀'::text AS txt, '{"a": [1, "x"]}'::jsonb AS jb, '{"b":1}'::json AS js,
        '0190d6a4-57c2-7c3e-8f5e-1b2c3d4e5f60'::uuid AS id, NULL::text AS nothing,
        '2024-02-29 13:14:15.123456+00'::timestamptz AS tz,
        '0044-03-15 12:00:00 BC'::timestamp AS bc, '0099-12-31'::date AS d99,
        '\\x00ff10'::bytea AS bytes, ARRAY['a b', 'c"d', NULL] AS arr,
        ARRAY[[1,2],[3,4]] AS grid, pg_current_xact_id() AS xid`,
    );
    assert.deepEqual({ ...row, xid: typeof row!.xid }, {
      i2: 1,
      i4: 2,
      f8: 3.5,
      nan: Number.NaN,
      i8: "9007199254740993",
      num: "1.10",
      t: true,
      f: false,
      txt: "é ✓ 😀",
      jb: '{"a": [1, "x"]}',
      js: '{"b":1}',
      id: "0190d6a4-57c2-7c3e-8f5e-1b2c3d4e5f60",
      nothing: null,
      tz: new Date("2024-02-29T13:14:15.123Z"),
      bc: new Date(Date.UTC(-43, 2, 15, 12)),
      d99: (() => {
        const d = new Date(0);
        d.setUTCFullYear(99, 11, 31);
        return d;
      })(),
      bytes: new Uint8Array([0, 255, 16]),
      arr: ["a b", 'c"d', null],
      grid: [[1, 2], [3, 4]],
      xid: "string",
    });
    const [sent] = await client.query(
      "SELECT $1::text AS s, $2::int AS n, $3::bigint AS b, $4::bool AS t, $5::timestamptz AS d, $6::text AS nul",
      [
        "quote ' and \\ and $1",
        42,
        1234567890123456789n,
        true,
        new Date(5),
        null,
      ],
    );
    assert.deepEqual(sent, {
      s: "quote ' and \\ and $1",
      n: 42,
      b: "1234567890123456789",
      t: true,
      d: new Date(5),
      nul: null,
    });
  } finally {
    await client.close();
  }
});

test("statements issued together travel in one round trip", async () => {
  const port = Number(new URL(url).port || 5432);
  const proxy = latencyProxy(port, 40);
  const client = await connectDatabase(
    url.replace(/@[^/]*\//, `@127.0.0.1:${proxy.port}/`),
  );
  try {
    await client.query("SELECT 1"); // the statement is prepared once
    const started = performance.now();
    const results = await client.batch(
      Array.from({ length: 6 }, (_, i) => ({
        text: "SELECT $1::int AS n",
        params: [i],
      })),
    );
    const ms = performance.now() - started;
    assert.deepEqual(results.map((r) => r[0]?.n), [0, 1, 2, 3, 4, 5]);
    assert.ok(
      ms < 2 * 80 + 60,
      `six statements took ${ms} ms at 80 ms a round trip`,
    );
  } finally {
    await client.close();
    await proxy.close();
  }
});

test("a statement failing inside a batch fails alone; the others run and the connection goes on", async () => {
  const client = await connectDatabase(url, { max: 1 });
  try {
    await assert.rejects(
      client.batch([
        { text: "SELECT 1 AS a" },
        { text: "SELECT 1/0 AS b" },
        { text: "SELECT 3 AS c" },
      ]),
      (error: unknown) => error instanceof SqlError && error.code === "22012",
    );
    assert.deepEqual(await client.query("SELECT 4 AS d"), [{ d: 4 }]);
  } finally {
    await client.close();
  }
});

async function* failingRows(): AsyncGenerator<[number, string]> {
  yield [1, "a"];
  throw new Error("the source broke");
}

test("COPY moves large data both ways, and a failed COPY leaves the connection usable", async () => {
  const client = await connectDatabase(url, { max: 1 });
  const table = `copy_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await client.execute(`CREATE TABLE ${table} (n int, s text)`);
    const rows = Array.from({ length: 20_000 }, (_, i) =>
      [
        i,
        `row ${i}\twith\ttabs\nand "quotes" ✓ ${"x".repeat(i % 50)}`,
      ] as [number, string]);
    assert.equal(await client.copyIn(table, ["n", "s"], rows), 20_000);
    const chunks: Uint8Array[] = [];
    const copied = await client.copyOut(
      `SELECT n, s FROM ${table} ORDER BY n`,
      (chunk) => chunks.push(chunk.slice()),
    );
    assert.ok(chunks.length > 1, "handed over in several chunks");
    assert.equal(copied, 20_000);
    const text = new TextDecoder().decode(
      new Uint8Array(chunks.flatMap((c) => [...c])),
    );
    assert.equal(text.split("\n").length - 1, 20_000);
    await assert.rejects(
      client.copyIn(table, ["n", "s"], [["not a number", "x"]]),
      (error: unknown) => error instanceof SqlError && error.code === "22P02",
    );
    await assert.rejects(
      client.copyIn(table, ["n", "s"], failingRows()),
      /the source broke/,
    );
    const [{ n }] = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table}`,
    ) as [{ n: number }];
    assert.equal(n, 20_000);
  } finally {
    await client.execute(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  }
});

test("COPY TO STDOUT hands over every byte in order: small rows gathered into chunks, a row larger than a chunk alone", async () => {
  const client = await connectDatabase(url, { max: 1 });
  try {
    // small rows, then one of 70,000 bytes, then more small rows: the chunk
    // being filled is handed over before the large row, which goes alone
    const query = `SELECT CASE WHEN g = 500 THEN repeat('L', 70000)
      ELSE 'row ' || g || repeat('s', g % 97) END FROM generate_series(1, 1000) g`;
    const chunks: Uint8Array[] = [];
    const rows = await client.copyOut(query, (c) => chunks.push(c.slice()));
    const expected = Array.from(
      { length: 1000 },
      (_, i) =>
        i + 1 === 500
          ? "L".repeat(70000)
          : `row ${i + 1}${"s".repeat((i + 1) % 97)}`,
    ).join("\n") + "\n";
    const text = new TextDecoder().decode(
      new Uint8Array(chunks.flatMap((c) => [...c])),
    );
    assert.equal(text, expected);
    assert.equal(rows, 1000);
    assert.ok(chunks.some((c) => c.length === 70001), "the large row alone");
    assert.ok(chunks.every((c) => c.length <= 70001));
  } finally {
    await client.close();
  }
});

test("a COPY written whole keeps its order with the statements pipelined behind it, and when the server refuses it, its data is dropped and they run", async () => {
  const client = await connectDatabase(url, { max: 1 });
  const table = `whole_${crypto.randomUUID().slice(0, 8)}`;
  // about 1 MB: many CopyData messages, all written with the statement
  const rows = (bad?: number) =>
    Array.from(
      { length: 30_000 },
      (_, i) =>
        [i === bad ? "not a number" : i, `row ${i} ${"y".repeat(20)}`] as [
          number | string,
          string,
        ],
    );
  try {
    await client.execute(`CREATE TABLE ${table} (n int, s text)`);
    await client.transaction(async (tx) => {
      const copying = tx.copyIn(table, ["n", "s"], rows());
      const counted = tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table}`,
      );
      assert.equal(await copying, 30_000);
      assert.deepEqual(await counted, [{ n: 30_000 }]);
    });
    // refused at its first row, with the rest of its data still to come
    await assert.rejects(
      client.copyIn(table, ["n", "s"], rows(0)),
      (error: unknown) => error instanceof SqlError && error.code === "22P02",
    );
    assert.deepEqual(await client.query("SELECT 1 AS one"), [{ one: 1 }]);
    // refused before its data: the statement itself fails
    await assert.rejects(
      client.copyIn(table, ["n", "missing"], rows()),
      (error: unknown) => error instanceof SqlError && error.code === "42703",
    );
    // in a transaction: the statement behind it reports the aborted
    // transaction, not a protocol error, and nothing is stored
    await assert.rejects(
      client.transaction(async (tx) => {
        const copying = tx.copyIn(table, ["n", "s"], rows(29_999));
        const after = tx.query("SELECT 1");
        after.catch(() => {});
        await copying;
      }),
      (error: unknown) => error instanceof SqlError && error.code === "22P02",
    );
    assert.deepEqual(
      await client.query(`SELECT count(*)::int AS n FROM ${table}`),
      [{ n: 30_000 }],
    );
  } finally {
    await client.execute(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  }
});

test("an aborted statement: unsent, it is never sent; running, the server cancels it within moments", async () => {
  const client = await connectDatabase(url, { max: 2 });
  try {
    const early = new AbortController();
    early.abort(new Error("too late"));
    await assert.rejects(
      client.query("SELECT pg_sleep(10)", [], { signal: early.signal }),
      /too late/,
    );
    const controller = new AbortController();
    const reason = new Error("stop it");
    const started = performance.now();
    const running = client.query("SELECT pg_sleep(30)", [], {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 100);
    await assert.rejects(running, (error: unknown) => error === reason);
    const ms = performance.now() - started;
    assert.ok(ms < 1_000, `cancelled after ${ms} ms`);
    const sleeping = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
    );
    assert.deepEqual(sleeping, [{ n: 0 }]);
    assert.deepEqual(await client.query("SELECT 1 AS ok"), [{ ok: 1 }]);
  } finally {
    await client.close();
  }
});

test("statementTimeoutMs makes the server cancel a long statement with 57014, storing nothing", async () => {
  const client = await connectDatabase(url, { statementTimeoutMs: 200 });
  try {
    const started = performance.now();
    await assert.rejects(
      client.query("SELECT pg_sleep(5)"),
      (error: unknown) => error instanceof SqlError && error.code === "57014",
    );
    assert.ok(performance.now() - started < 2_000);
    assert.deepEqual(await client.query("SELECT 1 AS ok"), [{ ok: 1 }]);
  } finally {
    await client.close();
  }
});

test("one text sent with parameters of different declared types is prepared once per types, and each use finds its own", async () => {
  const client = await connectDatabase(url, { max: 1 });
  try {
    const typeOf = async (value: Date | boolean | bigint) =>
      (await client.query<{ t: string }>("SELECT pg_typeof($1)::text AS t", [
        value,
      ]))[0]!.t;
    for (let round = 0; round < 2; round++) {
      assert.equal(await typeOf(new Date(round)), "timestamp with time zone");
      assert.equal(await typeOf(round === 0), "boolean");
      assert.equal(await typeOf(BigInt(round)), "bigint");
    }
    const [{ n }] = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1",
      ["SELECT pg_typeof($1)::text AS t"],
    ) as [{ n: number }];
    assert.equal(n, 3);
  } finally {
    await client.close();
  }
});

test("a prepared statement whose table changed shape is prepared again", async () => {
  const client = await connectDatabase(url, { max: 1 });
  const table = `shape_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await client.execute(
      `CREATE TABLE ${table} (a int); INSERT INTO ${table} VALUES (1)`,
    );
    assert.deepEqual(await client.query(`SELECT * FROM ${table}`), [{ a: 1 }]);
    await client.execute(`ALTER TABLE ${table} ADD COLUMN b text DEFAULT 'x'`);
    assert.deepEqual(await client.query(`SELECT * FROM ${table}`), [
      { a: 1, b: "x" },
    ]);
  } finally {
    await client.execute(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  }
});

test("a connection killed while idle in the pool is replaced by the next statement", async () => {
  const appName = `idle_${crypto.randomUUID().slice(0, 8)}`;
  const client = await connectDatabase(
    `${url}${url.includes("?") ? "&" : "?"}application_name=${appName}`,
    { max: 2 },
  );
  const admin = await connectDatabase(url);
  try {
    await Promise.all([client.query("SELECT 1"), client.query("SELECT 2")]);
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [appName],
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await client.query("SELECT 3 AS n"), [{ n: 3 }]);
  } finally {
    await client.close();
    await admin.close();
  }
});

test("a connection idle for idleTimeoutMs is closed, counted from its last release; the next statement opens another", async () => {
  const appName = `expire_${crypto.randomUUID().slice(0, 8)}`;
  const client = await connectDatabase(
    `${url}${url.includes("?") ? "&" : "?"}application_name=${appName}`,
    { max: 2, idleTimeoutMs: 1000 },
  );
  const admin = await connectDatabase(url);
  const open = async () =>
    (await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
      [appName],
    )).map((row) => row.pid);
  const backend = async () =>
    (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid"))[0]!
      .pid;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    // two connections, released together
    await Promise.all([
      client.query("SELECT pg_sleep(0.05)"),
      client.query("SELECT pg_sleep(0.05)"),
    ]);
    assert.equal((await open()).length, 2);
    await sleep(500);
    const used = await backend(); // its idle time starts again
    await sleep(800); // the other one: 1,300 ms idle; this one: 800 ms
    assert.deepEqual(await open(), [used]);
    await sleep(600); // this one: 1,400 ms
    assert.deepEqual(await open(), []);
    assert.notEqual(await backend(), used);
  } finally {
    await client.close();
    await admin.close();
  }
});

test("a process whose idle connections were all dropped exits without waiting for idleTimeoutMs", async () => {
  const appName = `gone_${crypto.randomUUID().slice(0, 8)}`;
  const mod = new URL("../../src/postgres/mod.ts", import.meta.url).href;
  // the child leaves its client open, as a script that forgets may
  const script = `
    import { connectDatabase } from ${JSON.stringify(mod)};
    const client = await connectDatabase(${
    JSON.stringify(
      `${url}${url.includes("?") ? "&" : "?"}application_name=${appName}`,
    )
  }, { idleTimeoutMs: 120000 });
    await client.query("SELECT 1");
    const admin = await connectDatabase(${JSON.stringify(url)});
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [${JSON.stringify(appName)}],
    );
    await admin.close();
  `;
  const started = performance.now();
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
  assert.ok(
    performance.now() - started < 30_000,
    `the child took ${Math.round(performance.now() - started)} ms`,
  );
});

test("closing the client ends what runs and refuses what comes after with 08003", async () => {
  const client = await connectDatabase(url);
  const sleeping = client.query("SELECT pg_sleep(0.2)");
  await client.close();
  await sleeping.catch(() => {});
  await assert.rejects(
    client.query("SELECT 1"),
    (error: unknown) => error instanceof SqlError && error.code === "08003",
  );
});

test("password authentication: SCRAM-SHA-256, MD5 and cleartext work; a wrong password is refused naming the user, never the password", async () => {
  const server = await startPrivateServer({
    hba: [
      "local all all trust",
      "host all postgres 127.0.0.1/32 trust",
      "host all scram_user 127.0.0.1/32 scram-sha-256",
      "host all md5_user 127.0.0.1/32 md5",
      "host all plain_user 127.0.0.1/32 password",
    ],
  });
  const password = "Pa:ss@w/rd#?é";
  try {
    const admin = await connectDatabase(server.url);
    await admin.execute(`
      SET password_encryption = 'scram-sha-256';
      CREATE ROLE scram_user LOGIN PASSWORD '${password}';
      CREATE ROLE plain_user LOGIN PASSWORD '${password}';
      SET password_encryption = 'md5';
      CREATE ROLE md5_user LOGIN PASSWORD '${password}';`);
    await admin.close();
    for (const user of ["scram_user", "md5_user", "plain_user"]) {
      for (const written of [password, encodeURIComponent(password)]) {
        const client = await connectDatabase(
          `postgres://${user}:${written}@127.0.0.1:${server.port}/postgres`,
        );
        assert.deepEqual(await client.query("SELECT current_user AS u"), [
          { u: user },
        ]);
        await client.close();
      }
      await assert.rejects(
        connectDatabase(
          `postgres://${user}:wrong-${password}@127.0.0.1:${server.port}/postgres`,
        ),
        (error: unknown) => {
          assert.ok(error instanceof SqlError);
          assert.equal(error.code, "28P01");
          assert.match(error.message, new RegExp(user));
          assert.equal(error.message.includes(password), false);
          assert.equal(Deno.inspect(error).includes(password), false);
          return true;
        },
      );
      await assert.rejects(
        connectDatabase(`postgres://${user}@127.0.0.1:${server.port}/postgres`),
        (error: unknown) =>
          error instanceof SqlError && error.code === "28P01" &&
          /none was given|password authentication failed/.test(error.message),
      );
    }
  } finally {
    await server.dispose();
  }
});

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** A certificate authority and a server certificate for localhost it signed. */
async function certificates(dir: string) {
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
  );
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=Sequent test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], dir);
  await openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  ], dir);
  await openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    "server.crt",
    "-extfile",
    "server.ext",
  ], dir);
  return {
    ca: await Deno.readTextFile(`${dir}/ca.crt`),
    crt: await Deno.readTextFile(`${dir}/server.crt`),
    key: await Deno.readTextFile(`${dir}/server.key`),
  };
}

test("TLS: require encrypts, verify-full checks the certificate and the host, and require fails against a server without TLS", async () => {
  const dir = await Deno.makeTempDir();
  const certs = await certificates(dir);
  const server = await startPrivateServer({
    conf: [
      "ssl = on",
      "ssl_cert_file = 'server.crt'",
      "ssl_key_file = 'server.key'",
    ],
    files: { "server.crt": certs.crt, "server.key": certs.key },
  });
  const plain = await startPrivateServer();
  try {
    const base = `postgres://postgres@localhost:${server.port}/postgres`;
    const encrypted = async (u: string) => {
      const client = await connectDatabase(u);
      try {
        const [row] = await client.query<{ ssl: boolean }>(
          "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        );
        return row?.ssl;
      } finally {
        await client.close();
      }
    };
    assert.equal(await encrypted(`${base}?sslmode=require`), true);
    assert.equal(await encrypted(`${base}?sslmode=disable`), false);
    assert.equal(
      await encrypted(`${base}?sslmode=verify-full&sslrootcert=${dir}/ca.crt`),
      true,
    );
    await assert.rejects(
      connectDatabase(`${base}?sslmode=verify-full`),
      (error: unknown) => error instanceof SqlError && error.code === "08001",
      "a certificate no known authority signed",
    );
    await assert.rejects(
      connectDatabase(
        `postgres://postgres@127.0.0.1:${server.port}/postgres?sslmode=verify-full&sslrootcert=${dir}/ca.crt`,
      ),
      (error: unknown) => error instanceof SqlError && error.code === "08001",
      "a certificate for another host",
    );
    await assert.rejects(
      connectDatabase(
        `postgres://postgres@localhost:${plain.port}/postgres?sslmode=require`,
      ),
      (error: unknown) =>
        error instanceof SqlError && /does not accept TLS/.test(error.message),
    );
  } finally {
    await server.dispose();
    await plain.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

test("a Unix socket folder as the host", async () => {
  const server = await startPrivateServer();
  try {
    const client = await connectDatabase(
      `postgres://postgres@/postgres?host=${server.dir}&port=${server.port}`,
    );
    assert.deepEqual(await client.query("SELECT 1 AS n"), [{ n: 1 }]);
    await client.close();
  } finally {
    await server.dispose();
  }
});

test("the pool heals however many connections were refused: once the server is back, the next statement succeeds", async () => {
  const server = await startPrivateServer();
  try {
    const client = new ServerClient(server.url, { max: 10 });
    assert.deepEqual(await client.query("SELECT 1 AS n"), [{ n: 1 }]);
    await server.stop("immediate");
    const started = performance.now();
    const refused = await Promise.allSettled(
      Array.from({ length: 25 }, () => client.query("SELECT 1")),
    );
    assert.ok(performance.now() - started < 2_000, "refusals come at once");
    for (const r of refused) {
      assert.equal(r.status, "rejected");
      const error = (r as PromiseRejectedResult).reason;
      assert.ok(
        error instanceof SqlError && error.isConnectionError,
        String(error),
      );
    }
    await server.start();
    assert.deepEqual(await client.query("SELECT 2 AS n"), [{ n: 2 }]);
    await client.close();
  } finally {
    await server.dispose();
  }
});

test("a transaction with a statement whose parameter cannot be encoded stores nothing and rejects, naming the parameter", async () => {
  const client = new ServerClient(url, { max: 1 });
  const table = `half_${crypto.randomUUID().slice(0, 8)}`;
  const insert = (n: number, at: Date | null = null) => ({
    text: `INSERT INTO ${table} (n, at) VALUES ($1, $2)`,
    params: [n, at],
  });
  const invalid = new Date(Number.NaN);
  const refused = (error: unknown) =>
    error instanceof TypeError &&
    /Parameter \$2 of "INSERT/.test(error.message);
  const stored = async () =>
    (await client.query<{ n: number }>(`SELECT n FROM ${table} ORDER BY n`))
      .map((row) => row.n);
  try {
    await client.execute(`CREATE TABLE ${table} (n int, at timestamptz)`);
    // queued, and sent with COMMIT in one go
    await assert.rejects(
      client.transaction((tx) => {
        tx.enqueue(insert(1));
        tx.enqueue(insert(2, invalid));
        tx.enqueue(insert(3));
        return Promise.resolve();
      }),
      refused,
    );
    assert.deepEqual(await stored(), []);
    // sent before a savepoint whose work fails and is caught: rolling back
    // to the savepoint does not undo a statement the server never saw
    await assert.rejects(
      client.transaction(async (tx) => {
        tx.enqueue(insert(4));
        tx.enqueue(insert(5, invalid));
        await tx.transaction((inner) => inner.query("SELECT 1")).catch(
          () => {},
        );
        tx.enqueue(insert(6));
      }),
      refused,
    );
    assert.deepEqual(await stored(), []);
    // awaited and caught by the work
    await assert.rejects(
      client.transaction(async (tx) => {
        await tx.query(insert(7).text, insert(7).params);
        await tx.query(insert(8, invalid).text, insert(8, invalid).params)
          .catch(() => {});
        await tx.query(insert(9).text, insert(9).params);
      }),
      refused,
    );
    assert.deepEqual(await stored(), []);
    // the connection was left clean
    await client.transaction((tx) => {
      tx.enqueue(insert(10, new Date(0)));
      return Promise.resolve();
    });
    assert.deepEqual(await client.query(`SELECT n, at FROM ${table}`), [
      { n: 10, at: new Date(0) },
    ]);
  } finally {
    await client.execute(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  }
});

/** A time whose year is given as `Date.setUTCFullYear` counts (0: 1 BC). */
function yearUtc(year: number, month = 0, day = 1, ms = 0): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCMilliseconds(ms);
  return date;
}

test("times of every year a timestamptz holds, and ±infinity, go to the server and come back as they were", async () => {
  const client = new ServerClient(url, { max: 1 });
  const times: [Date, string][] = [
    [
      new Date(Date.UTC(2024, 1, 29, 13, 14, 15, 123)),
      "2024-02-29 13:14:15.123+00",
    ],
    [yearUtc(0, 5, 1, 7), "0001-06-01 00:00:00.007+00 BC"],
    [yearUtc(-99, 11, 31), "0100-12-31 00:00:00+00 BC"],
    [yearUtc(-4712, 10, 24), "4713-11-24 00:00:00+00 BC"],
    [yearUtc(50), "0050-01-01 00:00:00+00"],
    [yearUtc(10000), "10000-01-01 00:00:00+00"],
    [yearUtc(123456, 6, 4, 999), "123456-07-04 00:00:00.999+00"],
    [new Date(8.64e15), "infinity"],
    [new Date(-8.64e15), "-infinity"],
  ];
  try {
    for (const [time, text] of times) {
      const [row] = await client.query(
        "SELECT $1::timestamptz AS t, $1::timestamptz::text AS s",
        [time],
      );
      assert.equal(row!.s, text);
      assert.equal((row!.t as Date).getTime(), time.getTime(), text);
    }
    await assert.rejects(
      client.query("SELECT $1::int, $2::timestamptz", [1, new Date("x")]),
      (error: unknown) =>
        error instanceof TypeError &&
        /^Parameter \$2 of "SELECT \$1::int, \$2::timestamptz": An invalid Date/
          .test(error.message),
    );
  } finally {
    await client.close();
  }
});

/**
 * A server that, for its first connection, answers the start-up with
 * ReadyForQuery and a FATAL 57P01 in one segment (as a session ended the
 * moment it is ready reads), then closes it; later connections are passed
 * on to `upstream`.
 */
function sessionEndingServer(upstream: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const message = (type: string, body: Uint8Array) => {
    const out = new Uint8Array(5 + body.length);
    out[0] = type.charCodeAt(0);
    new DataView(out.buffer).setInt32(1, 4 + body.length);
    out.set(body, 5);
    return out;
  };
  const text = new TextEncoder();
  const segment = [
    message("R", new Uint8Array(4)), // AuthenticationOk
    message("K", new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2])),
    message("Z", text.encode("I")),
    message(
      "E",
      text.encode(
        "SFATAL\0C57P01\0Mterminating connection due to administrator command\0\0",
      ),
    ),
  ];
  const bytes = new Uint8Array(segment.reduce((n, m) => n + m.length, 0));
  segment.reduce((at, m) => (bytes.set(m, at), at + m.length), 0);
  const work: Promise<unknown>[] = [];
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      if (++accepted === 1) {
        work.push((async () => {
          await conn.read(new Uint8Array(4096)); // the start-up message
          await conn.write(bytes);
          conn.close();
        })());
        continue;
      }
      const up = await Deno.connect({ hostname: "127.0.0.1", port: upstream });
      work.push(
        conn.readable.pipeTo(up.writable).catch(() => {}),
        up.readable.pipeTo(conn.writable).catch(() => {}),
      );
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      await serving.catch(() => {});
      await Promise.all(work);
    },
  };
}

/** `promise`, or a rejection naming `what` when it takes over `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} still pending after ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test("a connection the server ends in the chunk that made it ready fails its opening and frees its place in the pool", async () => {
  const server = sessionEndingServer(Number(new URL(url).port || 5432));
  const database = new URL(url).pathname;
  const client = new ServerClient(
    `postgres://postgres@127.0.0.1:${server.port}${database}`,
    { max: 1, connectTimeoutMs: 2000 },
  );
  try {
    await assert.rejects(
      within(3000, "the first statement", client.query("SELECT 1")),
      (error: unknown) =>
        error instanceof SqlError && error.code === "08001" &&
        /administrator command/.test(error.message),
    );
    for (const n of [2, 3]) {
      assert.deepEqual(
        await within(3000, `statement ${n}`, client.query("SELECT 1 AS n")),
        [{ n: 1 }],
      );
    }
    assert.equal(server.accepted, 2);
  } finally {
    await client.close();
    await server.close();
  }
});

test("a statement aborted as it completes never has its cancel land on the next caller's statement", async () => {
  const client = new ServerClient(url, { max: 1 });
  try {
    await client.query("SELECT 1");
    for (let trial = 0; trial < 30; trial++) {
      const controller = new AbortController();
      const a = client.query("SELECT 1 AS a", [], {
        signal: controller.signal,
      });
      // waits for the one connection, and gets it once A's is released
      const b = client.query("SELECT pg_sleep(0.05), 'b' AS b");
      for (let i = 0; i < 3; i++) await Promise.resolve();
      controller.abort(new Error("A aborted"));
      await a.catch(() => {});
      assert.deepEqual(await b, [{ pg_sleep: "", b: "b" }], `trial ${trial}`);
    }
  } finally {
    await client.close();
  }
});

test("DateStyle: a URL asking for another than ISO is refused; a session set to another fails loudly instead of reading invalid dates", async () => {
  const withParameter = (parameter: string) =>
    `${url}${url.includes("?") ? "&" : "?"}${parameter}`;
  assert.throws(
    () => new ServerClient(withParameter("DateStyle=German")),
    (error: unknown) =>
      error instanceof TypeError && /DateStyle "German"/.test(error.message),
  );
  // an ISO output with another field order is fine
  const dmy = new ServerClient(withParameter("datestyle=ISO,%20DMY"));
  try {
    const [row] = await dmy.query(
      "SELECT current_setting('DateStyle') AS ds, '2024-02-29 13:14:15+00'::timestamptz AS t",
    );
    assert.deepEqual(row, {
      ds: "ISO, DMY",
      t: new Date("2024-02-29T13:14:15Z"),
    });
  } finally {
    await dmy.close();
  }
  const client = new ServerClient(url, { max: 1 });
  const table = `style_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await client.execute(`CREATE TABLE ${table} (n int)`);
    await assert.rejects(
      client.execute("SET DateStyle = 'Postgres'"),
      (error: unknown) =>
        error instanceof SqlError && /DateStyle is "Postgres, MDY"/.test(
          error.message,
        ),
    );
    await assert.rejects(
      client.transaction(async (tx) => {
        tx.enqueue({ text: `INSERT INTO ${table} VALUES (1)` });
        await tx.query("SET LOCAL DateStyle = 'SQL'");
        return await tx.query("SELECT now() AS t");
      }),
      (error: unknown) =>
        error instanceof SqlError && /DateStyle is "SQL, MDY"/.test(
          error.message,
        ),
    );
    const [row] = await client.query(
      `SELECT '2024-02-29 13:14:15+00'::timestamptz AS t, (SELECT count(*)::int FROM ${table}) AS n`,
    );
    assert.deepEqual(row, { t: new Date("2024-02-29T13:14:15Z"), n: 0 });
  } finally {
    await client.execute(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  }
});

Deno.test("pool and timeout options out of range are refused at once with a TypeError naming the option, instead of every statement waiting for ever", async () => {
  // nothing listens here: nothing is opened before the options are checked
  const nowhere = "postgres://u@127.0.0.1:1/d";
  const cases: [Record<string, number>, RegExp][] = [
    [
      { max: 0 },
      /^The option max must be a whole number of connections, at least 1, not 0$/,
    ],
    [{ max: -1 }, /option max .* not -1$/],
    [{ max: Number.NaN }, /option max .* not NaN$/],
    [{ max: 1.5 }, /option max .* not 1\.5$/],
    [{ max: Infinity }, /option max .* not Infinity$/],
    [
      { idleTimeoutMs: -1 },
      /^The option idleTimeoutMs must be a number of milliseconds from 0 to 2147483647, not -1$/,
    ],
    [{ idleTimeoutMs: Number.NaN }, /option idleTimeoutMs .* not NaN$/],
    [{ connectTimeoutMs: Number.NaN }, /option connectTimeoutMs .* not NaN$/],
    [{ connectTimeoutMs: -5 }, /option connectTimeoutMs .* not -5$/],
    [
      { connectTimeoutMs: 2 ** 31 },
      /option connectTimeoutMs .* not 2147483648$/,
    ],
    [{ statementTimeoutMs: -1 }, /option statementTimeoutMs .* not -1$/],
    [
      { statementTimeoutMs: Number.NaN },
      /option statementTimeoutMs .* not NaN$/,
    ],
  ];
  const refused = (pattern: RegExp) => (error: unknown) =>
    error instanceof TypeError && pattern.test(error.message);
  for (const [options, pattern] of cases) {
    const what = JSON.stringify(
      options,
      (_, v) => typeof v === "number" ? String(v) : v,
    );
    assert.throws(
      () => new ServerClient(nowhere, options),
      refused(pattern),
      what,
    );
    await assert.rejects(
      within(
        2000,
        `connectDatabase(${what})`,
        connectDatabase(nowhere, options),
      ),
      refused(pattern),
      what,
    );
  }
  // the edges that are fine
  for (
    const options of [
      { max: 1 },
      { idleTimeoutMs: 0, connectTimeoutMs: 0, statementTimeoutMs: 0 },
    ]
  ) {
    await new ServerClient(nowhere, options).close();
  }
  // and the pool itself refuses a size it could never serve
  const config = {
    endpoints: [{ host: "127.0.0.1", port: 1 }],
    user: "u",
    password: undefined,
    database: "d",
    ssl: "disable",
    sslRootCert: undefined,
    parameters: {},
    connectTimeoutMs: 0,
    prepare: true,
    description: "nowhere",
  } as const;
  for (const max of [0, -1, Number.NaN]) {
    assert.throws(
      () => new WirePool(config, { max, idleTimeoutMs: 0 }),
      (error: unknown) =>
        error instanceof TypeError && /max/.test(String(error)),
    );
  }
  assert.throws(
    () => new WirePool(config, { max: 1, idleTimeoutMs: -1 }),
    (error: unknown) =>
      error instanceof TypeError && /idleTimeoutMs/.test(String(error)),
  );
});

test("statements waiting for a connection when the client closes fail with 08003, the client is closed, not with a connection error; those running finish", async () => {
  const client = new ServerClient(url, { max: 1 });
  const outcome = (call: Promise<unknown>) =>
    call.then(
      () => "resolved",
      (e: unknown) =>
        e instanceof SqlError ? `${e.code} ${e.message}` : String(e),
    );
  const running = outcome(client.query("SELECT pg_sleep(0.5)"));
  // both wait for the one connection
  const waiting = outcome(client.query("SELECT 1"));
  const transaction = outcome(
    client.transaction((tx) => tx.query("SELECT 2")),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  await client.close();
  const closed = `08003 The client for ${client.description} is closed`;
  assert.deepEqual(
    [await running, await waiting, await transaction],
    ["resolved", closed, closed],
  );
});
