/**
 * The SqlClient port on both adapters, on the embedded database in a folder
 * this process holds, and through the process holding an embedded
 * database: value types, parameters, batches, transactions with savepoints
 * and queued statements, COPY, abort signals, errors.
 */
import assert from "node:assert/strict";
import { SqlError } from "@sequent/core/postgres";
import type {
  SqlClient,
  SqlTransaction,
  SqlValue,
} from "@sequent/core/postgres";
import { backends, disposeAtEnd, shared } from "./_backends.ts";

const list = backends({ served: true, holder: true });

for (const b of list) {
  const test = (
    name: string,
    fn: (client: SqlClient, table: string) => Promise<void>,
  ) =>
    Deno.test({
      name: `${b.name}: ${name}`,
      ...shared,
      fn: async () => {
        const client = await b.client();
        const table = `${b.schema}.items`;
        await client.execute(`
          DROP TABLE IF EXISTS ${table};
          CREATE TABLE ${table} (id integer PRIMARY KEY, label text, n bigint);`);
        await fn(client, table);
      },
    });

  test("query returns plain rows with the documented value types", async (client) => {
    const [row] = await client.query(`
      SELECT 1::smallint AS small, 2::integer AS int, 1.5::float8 AS float,
        9007199254740993::bigint AS big, 1.10::numeric AS num, 'x'::text AS text,
        '9b2c1c4e-2a57-4a57-8d43-2d0e7a2f1c11'::uuid AS uuid,
        '{"b": 1, "a": [true]}'::jsonb AS jsonb, '{"k":1}'::json AS json,
        '2026-01-02T03:04:05.678Z'::timestamptz AS at, true AS yes, NULL::text AS nothing,
        pg_current_xact_id() AS xid`);
    assert.ok(row);
    assert.equal(Object.getPrototypeOf(row), Object.prototype);
    assert.equal(row.small, 1);
    assert.equal(row.int, 2);
    assert.equal(row.float, 1.5);
    assert.equal(row.big, "9007199254740993");
    assert.equal(row.num, "1.10");
    assert.equal(row.text, "x");
    assert.equal(row.uuid, "9b2c1c4e-2a57-4a57-8d43-2d0e7a2f1c11");
    assert.deepEqual(JSON.parse(row.jsonb as string), { a: [true], b: 1 });
    assert.equal(row.json, '{"k":1}');
    assert.ok(row.at instanceof Date);
    assert.equal((row.at as Date).toISOString(), "2026-01-02T03:04:05.678Z");
    assert.equal(row.yes, true);
    assert.equal(row.nothing, null);
    assert.equal(typeof row.xid, "string");
  });

  test("parameters carry any text, dates, bigints, booleans and null unchanged", async (client) => {
    const tricky = `'"\\ $1 $$ -- ; \u00e9\u4e2d\u{1F600}\n\t`;
    const at = new Date("2026-03-04T05:06:07.089Z");
    const [row] = await client.query(
      "SELECT $1::text AS t, $2::timestamptz AS at, $3::bigint AS big, $4::boolean AS b, $5::text AS n, $6::text::jsonb AS j",
      [
        tricky,
        at,
        123456789012345678n,
        false,
        null,
        JSON.stringify({ tricky }),
      ],
    );
    assert.equal(row?.t, tricky);
    assert.equal((row?.at as Date).getTime(), at.getTime());
    assert.equal(row?.big, "123456789012345678");
    assert.equal(row?.b, false);
    assert.equal(row?.n, null);
    assert.deepEqual(JSON.parse(row?.j as string), { tricky });
  });

  test("dates read the same on every client, before year 100, BC and infinite ones included", async (client) => {
    const [row] = await client.query(
      `SELECT '0050-03-04 05:06:07.123+00'::timestamptz AS early,
        '0100-01-01 00:00:00+00 BC'::timestamptz AS bc,
        '0050-03-04'::date AS day, '0050-03-04 05:06:07'::timestamp AS local,
        'infinity'::timestamptz AS forever, '-infinity'::timestamptz AS never,
        '2024-02-29 13:14:15.5+05:30'::timestamptz AS usual`,
    );
    const iso = (v: unknown) => (v as Date).toISOString();
    assert.equal(iso(row?.early), "0050-03-04T05:06:07.123Z");
    assert.equal(iso(row?.bc), "-000099-01-01T00:00:00.000Z");
    assert.equal(iso(row?.day), "0050-03-04T00:00:00.000Z");
    assert.equal(iso(row?.local), "0050-03-04T05:06:07.000Z");
    assert.equal((row?.forever as Date).getTime(), 8.64e15);
    assert.equal((row?.never as Date).getTime(), -8.64e15);
    assert.equal(iso(row?.usual), "2024-02-29T07:44:15.500Z");
    // and go back as they came, as parameters, in and out of a transaction
    const dates = [row?.early, row?.bc, row?.forever, row?.never, row?.usual];
    const sent = (rows: readonly Record<string, unknown>[]) =>
      rows.map((r) => (r.at as Date).getTime());
    const text = "SELECT $1::timestamptz AS at";
    const outside = await Promise.all(
      dates.map((d) => client.query(text, [d as Date])),
    );
    assert.deepEqual(
      outside.map((rows) => sent(rows)[0]),
      dates.map((d) => (d as Date).getTime()),
    );
    const inside = await client.transaction((tx) =>
      Promise.all(dates.map((d) => tx.query(text, [d as Date])))
    );
    assert.deepEqual(
      inside.map((rows) => sent(rows)[0]),
      dates.map((d) => (d as Date).getTime()),
    );
  });

  test(
    "a statement of more than 65,535 parameters is refused before it runs, naming its count; in a transaction nothing is stored",
    async (client, table) => {
      const n = 65_536;
      const text = `SELECT cardinality(ARRAY[${
        Array.from({ length: n }, (_, i) => `$${i + 1}::int`).join(",")
      }]) AS n`;
      const params = Array.from({ length: n }, (_, i) => i % 1000);
      const tooMany = (error: unknown) =>
        error instanceof RangeError &&
        /^Too many parameters: "SELECT cardinality.*" has 65,536, and PostgreSQL takes at most 65,535$/
          .test(error.message);
      await assert.rejects(client.query(text, params), tooMany);
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.execute(`INSERT INTO ${table} (id) VALUES (1)`);
          await tx.query(text, params).catch(() => {});
        }),
        tooMany,
      );
      const [row] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table}`,
      );
      assert.equal(row?.n, 0);
    },
  );

  test("copyIn takes dates of every year, BC and ±infinity, and copyOut gives them back", async (client) => {
    const table = `${b.schema}.copied_dates`;
    const year = (y: number, month = 0, day = 1, hours = 0) => {
      const date = new Date(0);
      date.setUTCFullYear(y, month, day);
      date.setUTCHours(hours);
      return date;
    };
    const dates = [
      new Date("2024-02-29T13:14:15.123Z"),
      year(-43, 2, 15, 12),
      year(0, 5, 1),
      year(50),
      year(10000),
      new Date(8.64e15),
      new Date(-8.64e15),
    ];
    await client.execute(
      `DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (i int, at timestamptz)`,
    );
    assert.equal(
      await client.copyIn(table, ["i", "at"], dates.map((d, i) => [i, d])),
      dates.length,
    );
    const rows = await client.query<{ at: Date }>(
      `SELECT at FROM ${table} ORDER BY i`,
    );
    assert.deepEqual(
      rows.map((r) => r.at.getTime()),
      dates.map((d) => d.getTime()),
    );
    const decoder = new TextDecoder();
    let copied = "";
    await client.copyOut(
      `SELECT at AT TIME ZONE 'UTC' FROM ${table} WHERE i IN (1, 5) ORDER BY i`,
      (chunk) => copied += decoder.decode(chunk, { stream: true }),
    );
    assert.equal(
      copied + decoder.decode(),
      "0044-03-15 12:00:00 BC\ninfinity\n",
    );
  });

  test(
    "batch runs statements in order and returns each one's rows",
    async (client, table) => {
      const results = await client.batch([
        {
          text: `INSERT INTO ${table} (id, label) VALUES ($1, $2)`,
          params: [1, "a"],
        },
        {
          text: `INSERT INTO ${table} (id, label) VALUES ($1, $2)`,
          params: [2, "b"],
        },
        { text: `SELECT count(*)::int AS n FROM ${table}` },
      ]);
      assert.deepEqual(results, [[], [], [{ n: 2 }]]);
      assert.deepEqual(await client.batch([]), []);
    },
  );

  test(
    "batch outside a transaction runs every statement and rejects with the first failure",
    async (client, table) => {
      await assert.rejects(
        client.batch([
          { text: `INSERT INTO ${table} (id) VALUES (1)` },
          { text: `INSERT INTO ${table} (id) VALUES (1)` },
          { text: `INSERT INTO ${table} (id) VALUES (2)` },
        ]),
        (error: unknown) => error instanceof SqlError && error.code === "23505",
      );
      const rows = await client.query(`SELECT id FROM ${table} ORDER BY id`);
      assert.deepEqual(rows, [{ id: 1 }, { id: 2 }]);
    },
  );

  test("execute runs a script of several statements", async (client, table) => {
    await client.execute(
      `INSERT INTO ${table} (id) VALUES (1); INSERT INTO ${table} (id) VALUES (2);`,
    );
    const [row] = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
    assert.equal(row?.n, 2);
  });

  test(
    "transaction commits when the work resolves and rolls back when it rejects",
    async (client, table) => {
      const result = await client.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (1)`);
        return "done";
      });
      assert.equal(result, "done");
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (2)`);
          throw new Error("work failed");
        }),
        /work failed/,
      );
      const rows = await client.query(`SELECT id FROM ${table}`);
      assert.deepEqual(rows, [{ id: 1 }]);
    },
  );

  test(
    "a transaction in which a statement failed does not commit, even if the error was caught",
    async (client, table) => {
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (1)`);
          await tx.query(`INSERT INTO ${table} (id) VALUES (1)`).catch(
            () => {},
          );
        }),
        (error: unknown) => error instanceof SqlError && error.code === "23505",
      );
      assert.deepEqual(await client.query(`SELECT id FROM ${table}`), []);
    },
  );

  test(
    "a call that fails before anything is sent (a parameter no database takes) fails its transaction, even if the work caught the error",
    async (client, table) => {
      const insert = `INSERT INTO ${table} (id) VALUES ($1)`;
      for (
        const bad of [Symbol("not a value"), () => 1] as unknown as SqlValue[]
      ) {
        const failed = async (
          how: string,
          call: (tx: SqlTransaction) => Promise<unknown>,
        ) => {
          let caught = "";
          const outcome = await client.transaction(async (tx) => {
            await tx.query(insert, [1]);
            caught = await call(tx).then(() => "resolved", () => "rejected");
          }).then(() => "committed", () => "rejected");
          const what = `${how} with ${String(bad)}`;
          assert.equal(caught, "rejected", what);
          assert.equal(outcome, "rejected", what);
        };
        await failed("a query", (tx) => tx.query(insert, [bad]));
        await failed(
          "a batch",
          (tx) => tx.batch([{ text: insert, params: [bad] }]),
        );
        await failed("an enqueued statement", (tx) => {
          tx.enqueue({ text: insert, params: [bad] });
          return tx.query("SELECT 1");
        });
        // queued, then sent with the commit
        await assert.rejects(client.transaction(async (tx) => {
          await tx.query(insert, [1]);
          tx.enqueue({ text: insert, params: [bad] });
        }));
      }
      assert.deepEqual(await client.query(`SELECT id FROM ${table}`), []);
    },
  );

  test(
    "a signal aborted before a transaction or a statement: it rejects with the signal's reason, and nothing is stored",
    async (client, table) => {
      const reason = new Error("aborted before");
      const signal = AbortSignal.abort(reason);
      const isReason = (error: unknown) => error === reason;
      await assert.rejects(client.query("SELECT 1", [], { signal }), isReason);
      await assert.rejects(
        client.batch([{ text: "SELECT 1" }], { signal }),
        isReason,
      );
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (1)`);
        }, { signal }),
        isReason,
      );
      assert.deepEqual(await client.query(`SELECT id FROM ${table}`), []);
    },
  );

  test(
    "a transaction whose signal aborts before its commit is rolled back and rejects with the reason, even if its work resolves",
    async (client, table) => {
      const reason = new Error("aborted during");
      const isReason = (error: unknown) => error === reason;
      const during = new AbortController();
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (1)`);
          tx.enqueue({ text: `INSERT INTO ${table} (id) VALUES (2)` });
          during.abort(reason);
        }, { signal: during.signal }),
        isReason,
      );
      // calls made after the abort reject with the reason, and the work
      // catching that changes nothing
      const after = new AbortController();
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (3)`);
          after.abort(reason);
          await assert.rejects(
            tx.query(`INSERT INTO ${table} (id) VALUES (4)`),
            isReason,
          );
        }, { signal: after.signal }),
        isReason,
      );
      assert.deepEqual(await client.query(`SELECT id FROM ${table}`), []);
      // a signal that never aborts changes nothing
      await client.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (5)`);
      }, { signal: new AbortController().signal });
      assert.deepEqual(
        await client.query(`SELECT id FROM ${table}`, [], {
          signal: new AbortController().signal,
        }),
        [{ id: 5 }],
      );
    },
  );

  test(
    "a nested transaction is a savepoint: its failure undoes only its own statements",
    async (client, table) => {
      await client.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (1)`);
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.query(`INSERT INTO ${table} (id) VALUES (2)`);
            await inner.query(`INSERT INTO ${table} (id) VALUES (1)`);
          }),
          (error: unknown) =>
            error instanceof SqlError && error.code === "23505",
        );
        await tx.transaction(async (inner) => {
          await inner.query(`INSERT INTO ${table} (id) VALUES (3)`);
        });
      });
      const rows = await client.query(`SELECT id FROM ${table} ORDER BY id`);
      assert.deepEqual(rows, [{ id: 1 }, { id: 3 }]);
    },
  );

  test(
    "queued statements run before the next statement, or with the commit",
    async (client, table) => {
      const seen: number[] = [];
      await client.transaction(async (tx) => {
        tx.enqueue(
          {
            text: `INSERT INTO ${table} (id) VALUES ($1) RETURNING id`,
            params: [1],
          },
          (rows) => seen.push(rows[0]?.id as number),
        );
        const [row] = await tx.query(`SELECT count(*)::int AS n FROM ${table}`);
        assert.equal(row?.n, 1);
        tx.enqueue({
          text: `INSERT INTO ${table} (id) VALUES ($1)`,
          params: [2],
        });
      });
      assert.deepEqual(seen, [1]);
      const rows = await client.query(`SELECT id FROM ${table} ORDER BY id`);
      assert.deepEqual(rows, [{ id: 1 }, { id: 2 }]);
    },
  );

  test(
    "a queued statement that fails fails the statement it travels with, and the transaction",
    async (client, table) => {
      await client.query(`INSERT INTO ${table} (id) VALUES (1)`);
      await assert.rejects(
        client.transaction(async (tx) => {
          tx.enqueue({ text: `INSERT INTO ${table} (id) VALUES (2)` });
          tx.enqueue({ text: `INSERT INTO ${table} (id) VALUES (1)` });
          await tx.query("SELECT 1");
        }),
        (error: unknown) => error instanceof SqlError && error.code === "23505",
      );
      await assert.rejects(
        client.transaction((tx) => {
          tx.enqueue({ text: `INSERT INTO ${table} (id) VALUES (1)` });
          return Promise.resolve();
        }),
        (error: unknown) => error instanceof SqlError && error.code === "23505",
      );
      const rows = await client.query(`SELECT id FROM ${table}`);
      assert.deepEqual(rows, [{ id: 1 }]);
    },
  );

  test(
    "copyIn loads rows with tabs, newlines, backslashes, unicode and nulls",
    async (client, table) => {
      const labels = [
        "a\tb",
        "line\nbreak\r",
        "back\\slash \\N",
        "\u00e9\u{1F600}",
        null,
        "",
      ];
      const count = await client.copyIn(
        table,
        ["id", "label", "n"],
        labels.map((label, i) => [i, label, BigInt(i) * 10n ** 15n]),
      );
      assert.equal(count, labels.length);
      const rows = await client.query<{ label: string | null; n: string }>(
        `SELECT label, n FROM ${table} ORDER BY id`,
      );
      assert.deepEqual(rows.map((r) => r.label), labels);
      assert.equal(rows[2]?.n, "2000000000000000");
      async function* generated() {
        for (let i = 100; i < 2100; i++) yield [i, `row ${i}`, null];
      }
      assert.equal(
        await client.copyIn(table, ["id", "label", "n"], generated()),
        2000,
      );
      assert.equal(await client.copyIn(table, ["id"], []), 0);
    },
  );

  test(
    "copyIn of rows that cannot all be encoded fails with the rows' error, and its transaction stores nothing",
    async (client, table) => {
      const refused = /Copy row has 1 values for 2 columns/;
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.copyIn(table, ["id", "label"], [[1, "a"]]);
          await assert.rejects(
            tx.copyIn(table, ["id", "label"], [[2, "b"], [3]]),
            refused,
          );
        }),
        refused,
      );
      await assert.rejects(
        client.copyIn(table, ["id", "label"], [[2, "b"], [3]]),
        refused,
      );
      assert.deepEqual(await client.query(`SELECT id FROM ${table}`), []);
      // inside a savepoint, only the savepoint fails
      await client.transaction(async (tx) => {
        await tx.copyIn(table, ["id", "label"], [[1, "a"]]);
        await assert.rejects(
          tx.transaction((sp) => sp.copyIn(table, ["id", "label"], [[3]])),
          refused,
        );
      });
      assert.deepEqual(await client.query(`SELECT id FROM ${table}`), [{
        id: 1,
      }]);
    },
  );

  test(
    "copyIn inside a transaction is rolled back with it",
    async (client, table) => {
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.copyIn(table, ["id"], [[1], [2]]);
          throw new Error("undo");
        }),
        /undo/,
      );
      assert.deepEqual(await client.query(`SELECT id FROM ${table}`), []);
    },
  );

  test(
    "copyOut streams a query's rows as COPY text, escapes and all, and counts its rows",
    async (client, table) => {
      const labels = [
        "a\tb",
        "line\nbreak\r",
        "back\\slash \\N",
        "\u00e9\u{1F600}",
        null,
        "",
      ];
      await client.copyIn(
        table,
        ["id", "label", "n"],
        labels.map((label, i) => [i, label, i]),
      );
      const chunks: Uint8Array[] = [];
      const rows = await client.copyOut(
        `SELECT id, label FROM ${table} ORDER BY id`,
        (chunk) => chunks.push(chunk.slice()),
      );
      const text = new TextDecoder().decode(
        new Uint8Array(chunks.flatMap((c) => [...c])),
      );
      // a row a newline (escaped, as in "line\nbreak"), not a byte count
      assert.equal(rows, labels.length);
      assert.equal(
        text,
        "0\ta\\tb\n1\tline\\nbreak\\r\n2\tback\\\\slash \\\\N\n" +
          "3\t\u00e9\u{1F600}\n4\t\\N\n5\t\n",
      );
      assert.equal(await client.copyOut("SELECT 1 WHERE false", () => {}), 0);
    },
  );

  test(
    "copyOut in a transaction sees its writes; statements issued meanwhile wait for it",
    async (client, table) => {
      await client.transaction(async (tx) => {
        await tx.copyIn(
          table,
          ["id", "label"],
          Array.from({ length: 3000 }, (_, i) => [i, `label ${i}`]),
        );
        let received = "";
        const decoder = new TextDecoder();
        const copying = tx.copyOut(
          `SELECT id FROM ${table} ORDER BY id`,
          (chunk) => received += decoder.decode(chunk, { stream: true }),
        );
        // sent while the copy runs: they must wait for it, then run in order
        const counted = tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table}`,
        );
        const deleted = tx.query(`DELETE FROM ${table} WHERE id >= 10`);
        await copying;
        assert.equal(received.split("\n").length - 1, 3000);
        assert.equal((await counted)[0]?.n, 3000);
        await deleted;
        const [after] = await tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table}`,
        );
        assert.equal(after?.n, 10);
      });
    },
  );

  test(
    "copyOut hands over chunks to keep as they are: later reads change none of them",
    async (client) => {
      // small rows, rows larger than a chunk (handed over as read), and
      // more small rows: every kind of chunk a client makes
      const query =
        `SELECT g, CASE WHEN g % 250 = 0 THEN repeat(chr(65 + g % 26), 70000)
        ELSE repeat('r', g % 200) END FROM generate_series(1, 1000) g`;
      const expected = Array.from({ length: 1000 }, (_, i) => {
        const g = i + 1;
        return `${g}\t${
          g % 250 === 0
            ? String.fromCharCode(65 + g % 26).repeat(70000)
            : "r".repeat(g % 200)
        }\n`;
      }).join("");
      const kept: Uint8Array[] = [];
      await client.transaction(async (tx) => {
        assert.equal(
          await tx.copyOut(query, (chunk) => kept.push(chunk)),
          1000,
        );
        // more bytes read on the same connection after the chunks came
        assert.equal(await tx.copyOut(query, () => {}), 1000);
        await tx.query("SELECT repeat('x', 200000) AS filler");
      });
      const joined = new Uint8Array(kept.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const chunk of kept) {
        joined.set(chunk, at);
        at += chunk.length;
      }
      assert.equal(new TextDecoder().decode(joined), expected);
    },
  );

  test(
    "copyOut after copyOut, then statements: the connection never stalls",
    async (client) => {
      // ~80 KB each: often all of it arrives before anyone listens
      const query = "SELECT g, repeat('x', 70) FROM generate_series(1, 1000) g";
      await client.transaction(async (tx) => {
        for (let i = 0; i < 60; i++) {
          let bytes = 0;
          assert.equal(
            await tx.copyOut(query, (chunk) => bytes += chunk.length),
            1000,
          );
          let again = 0;
          const copying = tx.copyOut(query, (chunk) => again += chunk.length);
          const [row] = await tx.query<{ n: number }>("SELECT $1::int AS n", [
            i,
          ]);
          assert.equal(row?.n, i);
          assert.equal(await copying, 1000);
          assert.equal(again, bytes);
        }
      });
    },
  );

  test(
    "copyOut rejects a bad query, and rethrows what onData throws once the copy has ended",
    async (client, table) => {
      await assert.rejects(
        client.copyOut("SELECT nonsense FROM nowhere", () => {}),
        (error) => error instanceof SqlError && error.code === "42P01",
      );
      await client.copyIn(table, ["id"], [[1], [2]]);
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.copyOut(`SELECT id FROM ${table}`, () => {
            throw new Error("cannot take it");
          });
        }),
        /cannot take it/,
      );
      // the connection went back to the pool clean
      const [row] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table}`,
      );
      assert.equal(row?.n, 2);
    },
  );

  test(
    "database errors are SqlErrors with the SQLSTATE, detail and constraint",
    async (client, table) => {
      await client.query(`INSERT INTO ${table} (id) VALUES (1)`);
      const error = await client.query(`INSERT INTO ${table} (id) VALUES (1)`)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(error instanceof SqlError);
      assert.equal(error.code, "23505");
      assert.equal(error.constraint, "items_pkey");
      assert.match(error.detail ?? "", /\(id\)=\(1\)/);
      assert.equal(error.isConnectionError, false);
    },
  );

  test(
    "another caller's statement never lands inside a transaction",
    async (client, table) => {
      const order: string[] = [];
      const transaction = client.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (1)`);
        order.push("tx inserted");
        await new Promise((resolve) => setTimeout(resolve, 50));
        const [row] = await tx.query(`SELECT count(*)::int AS n FROM ${table}`);
        order.push(`tx counted ${row?.n}`);
        throw new Error("roll back");
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      await client.query(`INSERT INTO ${table} (id) VALUES (2)`);
      order.push("other inserted");
      await assert.rejects(transaction, /roll back/);
      // On PGlite (served or not) the other caller waits for the
      // transaction; on a server it runs on another connection. Either way
      // it is not rolled back with it.
      assert.deepEqual(await client.query(`SELECT id FROM ${table}`), [{
        id: 2,
      }]);
      if (b.name !== "server") {
        assert.deepEqual(order, [
          "tx inserted",
          "tx counted 1",
          "other inserted",
        ]);
      }
    },
  );

  test("a closed client fails with a clear error", async () => {
    const other = await b.open();
    await other.close();
    await assert.rejects(other.query("SELECT 1"), /closed/);
  });
}

disposeAtEnd(list);
