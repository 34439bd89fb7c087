/**
 * PostgreSQL's limit of 65,535 parameters a statement: Parse and Bind
 * count them in 16 bits. One more is refused before anything is written,
 * naming the count and the limit, and the connection goes on as it was;
 * in a transaction, the refused statement fails the transaction as any
 * other that could not be sent. (The server tests run when `DATABASE_URL`
 * names a server.)
 */
import assert from "node:assert/strict";
import {
  MessageReader,
  MessageWriter,
  writeBind,
  writeParse,
} from "../../../src/postgres/_wire/protocol.ts";
import {
  ExtendedRequest,
  type RequestHost,
} from "../../../src/postgres/_wire/requests.ts";
import { ServerClient } from "../../../src/postgres/server_client.ts";
import type { SqlTransaction } from "../../../src/postgres/sql_client.ts";
import { serverUrl } from "../_backends.ts";

const test = serverUrl === undefined ? () => {} : Deno.test;

/** A statement of `n` parameters, giving how many it was given. */
function counting(n: number): { text: string; params: number[] } {
  const placeholders = Array.from({ length: n }, (_, i) => `$${i + 1}::int`);
  return {
    text: `SELECT cardinality(ARRAY[${placeholders.join(",")}]) AS n`,
    params: Array.from({ length: n }, (_, i) => i % 1000),
  };
}

/** The error for a statement of 65,536 parameters. */
function tooMany(error: unknown): boolean {
  return error instanceof RangeError &&
    /^Too many parameters: "SELECT cardinality\(ARRAY\[\$1::int,.*\.\.\." has 65,536, and PostgreSQL takes at most 65,535$/
      .test(error.message);
}

/** A host for requests that are only written, never sent. */
const host: RequestHost = {
  closed: false,
  preparedFor: () => undefined,
  forget: () => {},
  writeNow: () => Promise.resolve(),
};

Deno.test("a statement of 65,536 parameters is refused as it is made, naming the count and the limit", () => {
  const { text, params } = counting(65536);
  assert.throws(
    () => new ExtendedRequest(host, text, params, undefined),
    tooMany,
  );
});

Deno.test("65,535 parameters are written with their count, which Parse and Bind carry unsigned", () => {
  const { text, params } = counting(65535);
  const w = new MessageWriter();
  new ExtendedRequest(host, text, params, undefined).write(w);
  const seen: string[] = [];
  new MessageReader().push(w.take(), (type, body) => {
    const kind = String.fromCharCode(type);
    seen.push(kind);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (kind === "P") {
      // unnamed statement (""), the text, then the count of types
      const at = body.indexOf(0, 1) + 1;
      assert.equal(view.getUint16(at), 65535);
      assert.equal(body.length, at + 2 + 4 * 65535);
    } else if (kind === "B") {
      // portal "", statement "", no parameter formats, then the count
      assert.equal(view.getUint16(2), 0);
      assert.equal(view.getUint16(4), 65535);
    }
  });
  assert.deepEqual(seen, ["P", "B", "D", "E", "S"]);
});

Deno.test("Parse and Bind refuse a count that 16 bits cannot hold, writing nothing", () => {
  const w = new MessageWriter();
  const values = new Array<string | null>(65536).fill("1");
  assert.throws(
    () => writeBind(w, "", values),
    (error: unknown) =>
      error instanceof RangeError &&
      /^Bind cannot carry 65536 parameters: at most 65535$/.test(
        error.message,
      ),
  );
  assert.throws(
    () => writeParse(w, "", "SELECT 1", new Array<number>(65536).fill(0)),
    (error: unknown) =>
      error instanceof RangeError &&
      /^Parse cannot carry 65536 parameters: at most 65535$/.test(
        error.message,
      ),
  );
  assert.equal(w.length, 0);
});

test("on the server: 65,536 parameters fail up front, the same connection runs on, and 65,535 run", async () => {
  const client = new ServerClient(serverUrl!, { max: 1 });
  const pid = async () =>
    (await client.query<{ pid: number }>(
      "SELECT pg_backend_pid() AS pid",
    ))[0]!.pid;
  try {
    const before = await pid();
    const over = counting(65536);
    await assert.rejects(client.query(over.text, over.params), tooMany);
    assert.deepEqual(await client.query("SELECT 1 AS one"), [{ one: 1 }]);
    assert.equal(await pid(), before, "the connection was kept");
    const most = counting(65535);
    assert.deepEqual(await client.query(most.text, most.params), [
      { n: 65535 },
    ]);
    assert.equal(await pid(), before);
  } finally {
    await client.close();
  }
});

test("on the server: a transaction with a statement of 65,536 parameters stores nothing and rejects, and the connection runs on", async () => {
  const client = new ServerClient(serverUrl!, { max: 1 });
  const table = `params_${crypto.randomUUID().slice(0, 8)}`;
  const insert = (n: number) => ({
    text: `INSERT INTO ${table} (n) VALUES ($1)`,
    params: [n],
  });
  const over = counting(65536);
  const stored = async () =>
    (await client.query<{ n: number }>(`SELECT n FROM ${table} ORDER BY n`))
      .map((row) => row.n);
  try {
    await client.execute(`CREATE TABLE ${table} (n int)`);
    const [{ pid }] = await client.query<{ pid: number }>(
      "SELECT pg_backend_pid() AS pid",
    ) as [{ pid: number }];
    // queued, and sent with COMMIT in one go
    await assert.rejects(
      client.transaction((tx) => {
        tx.enqueue(insert(1));
        tx.enqueue(over);
        tx.enqueue(insert(2));
        return Promise.resolve();
      }),
      tooMany,
    );
    assert.deepEqual(await stored(), []);
    // awaited and caught by the work
    await assert.rejects(
      client.transaction(async (tx: SqlTransaction) => {
        await tx.query(insert(3).text, insert(3).params);
        await tx.query(over.text, over.params).catch(() => {});
        await tx.query(insert(4).text, insert(4).params);
      }),
      tooMany,
    );
    assert.deepEqual(await stored(), []);
    // the connection was left clean, and kept
    await client.transaction((tx) => {
      tx.enqueue(insert(5));
      return Promise.resolve();
    });
    assert.deepEqual(await stored(), [5]);
    assert.deepEqual(
      await client.query("SELECT pg_backend_pid() AS pid"),
      [{ pid }],
    );
  } finally {
    await client.execute(`DROP TABLE IF EXISTS ${table}`);
    await client.close();
  }
});
