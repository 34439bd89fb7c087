/**
 * Values of COPY's text format: every escape read back, copies that share
 * no memory with their chunk, and values written as COPY text, times of
 * every year (BC, past 9999, ±infinity) included, which PostgreSQL and
 * PGlite take in and give back as they were. (Rows split anywhere and rows
 * of the wrong width: replay_decoder_test.ts.)
 */
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import {
  copyTextField,
  detachedCopy,
  unescapeCopyText,
} from "../../src/postgres/_copy_text.ts";
import { parseDatabaseUrl } from "../../src/postgres/_database_url.ts";
import { WireConnection } from "../../src/postgres/_wire/connection.ts";
import { parseTimestamp } from "../../src/postgres/_wire/values.ts";
import type { SqlValue } from "../../src/postgres/sql_client.ts";
import { serverUrl } from "./_backends.ts";

const test = serverUrl === undefined ? () => {} : Deno.test;

Deno.test("every escape PostgreSQL may write is read back", () => {
  assert.equal(
    unescapeCopyText("\\\\ \\b\\f\\n\\r\\t\\v \\101\\x42 \\303\\251 \\q"),
    "\\ \b\f\n\r\t\v AB é q",
  );
  assert.equal(unescapeCopyText("end\\\\"), "end\\");
});

Deno.test("a detached copy has the same characters", () => {
  const chunk = "x".repeat(1000) + "0e4a1c52-8d3f-4b6e-9a17-2f5c8d9e0b31\tzé😀";
  for (const [from, to] of [[1000, 1036], [1037, chunk.length], [3, 3]]) {
    assert.equal(detachedCopy(chunk.slice(from, to)), chunk.slice(from, to));
  }
});

/** A time whose year is given as `Date.setUTCFullYear` counts (0: 1 BC). */
function yearUtc(year: number, month = 0, day = 1, hours = 0, ms = 0): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hours, 0, 0, ms);
  return date;
}

/**
 * Times of every kind a `Date` and a `timestamptz` share, with the text
 * PostgreSQL writes for them (in time zone UTC): common, BC, before year
 * 100, past 9999, and ±infinity (the largest and smallest `Date`, which
 * the wire client reads them as).
 */
const TIMES: readonly (readonly [Date, string])[] = [
  [new Date("2024-02-29T13:14:15.123Z"), "2024-02-29 13:14:15.123+00"],
  [yearUtc(-43, 2, 15, 12), "0044-03-15 12:00:00+00 BC"],
  [yearUtc(0, 5, 1, 0, 7), "0001-06-01 00:00:00.007+00 BC"],
  [yearUtc(-4712, 10, 24), "4713-11-24 00:00:00+00 BC"],
  [yearUtc(50), "0050-01-01 00:00:00+00"],
  [yearUtc(10000), "10000-01-01 00:00:00+00"],
  [yearUtc(123456, 6, 4, 0, 999), "123456-07-04 00:00:00.999+00"],
  [new Date(8.64e15), "infinity"],
  [new Date(-8.64e15), "-infinity"],
];

Deno.test("copyTextField() writes each value as COPY text, escapes and all", () => {
  assert.equal(copyTextField(null), "\\N");
  assert.equal(copyTextField(""), "");
  assert.equal(copyTextField("plain é 😀"), "plain é 😀");
  const special = "tab\there\nnew line\\back\rreturn \\N";
  assert.equal(
    copyTextField(special),
    "tab\\there\\nnew line\\\\back\\rreturn \\\\N",
  );
  assert.equal(unescapeCopyText(copyTextField(special)), special);
  assert.equal(copyTextField(-1.5), "-1.5");
  assert.equal(copyTextField(9007199254740993n), "9007199254740993");
  assert.equal(copyTextField(true), "t");
  assert.equal(copyTextField(false), "f");
  assert.throws(
    () => copyTextField(new Date(Number.NaN)),
    (error: unknown) =>
      error instanceof TypeError && /invalid Date/.test(error.message),
  );
});

Deno.test("copyTextField() writes times outside years 1–9999 as PostgreSQL does, and they read back as they were", () => {
  assert.equal(
    copyTextField(new Date("2024-02-29T13:14:15.123Z")),
    "2024-02-29T13:14:15.123Z",
  );
  assert.equal(
    copyTextField(yearUtc(-43, 2, 15, 12)),
    "0044-03-15 12:00:00.000+00 BC",
  );
  assert.equal(
    copyTextField(yearUtc(0, 5, 1, 0, 7)),
    "0001-06-01 00:00:00.007+00 BC",
  );
  assert.equal(copyTextField(yearUtc(10000)), "10000-01-01 00:00:00.000+00");
  assert.equal(copyTextField(new Date(8.64e15)), "infinity");
  assert.equal(copyTextField(new Date(-8.64e15)), "-infinity");
  // (ISO text, for years 1 to 9999, is PostgreSQL's to read, not ours)
  for (const [time] of TIMES) {
    const text = copyTextField(time);
    if (text.includes("T")) continue;
    assert.equal(parseTimestamp(text).getTime(), time.getTime(), text);
  }
});

/** How one database takes and gives COPY text. */
interface CopyEnds {
  /** Runs `COPY table FROM …` with `text`. */
  copyIn(table: string, text: string): Promise<void>;
  /** The text of `COPY (query) TO …`. */
  copyOut(query: string): Promise<string>;
  /** Runs a script. */
  execute(script: string): Promise<void>;
}

const DAY_MS = 86_400_000;

/**
 * Copies a row for each of {@linkcode TIMES} into a `timestamptz`, a
 * `timestamp` and a `date` column with {@linkcode copyTextField}, and
 * copies them out again: PostgreSQL takes every one, stores the time it
 * was (its text says so), and the text copied out reads back as the same
 * `Date`. Text, booleans, bigints and `NULL` go along.
 */
async function roundTrip(ends: CopyEnds): Promise<void> {
  const table = `copy_dates_${crypto.randomUUID().slice(0, 8)}`;
  await ends.execute(
    `SET TimeZone = 'UTC'; CREATE TEMP TABLE ${table} (i int, t timestamptz, ts timestamp, d date, s text, b bool, n bigint)`,
  );
  const special = "tab\there\nnew line\\back\rreturn \\N é 😀";
  const rows: SqlValue[][] = TIMES.map(([time], i) => {
    const day = new Date(Math.floor(time.getTime() / DAY_MS) * DAY_MS);
    return [i, time, time, day, special, i % 2 === 0, 9007199254740993n];
  });
  rows.push([TIMES.length, null, null, null, null, null, null]);
  const text = rows.map((row) => row.map(copyTextField).join("\t") + "\n")
    .join("");
  await ends.copyIn(table, text);
  const out = await ends.copyOut(
    `SELECT i, t, ts, d, s, b, n, t::text FROM ${table} ORDER BY i`,
  );
  const lines = out.split("\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines.length, rows.length);
  for (const [i, line] of lines.entries()) {
    const columns = line.split("\t");
    if (i === TIMES.length) {
      assert.deepEqual(columns, [String(i), ...Array(7).fill("\\N")]);
      continue;
    }
    const [time, pgText] = TIMES[i]!;
    const [, t, ts, d, s, b, n, asText] = columns.map(unescapeCopyText);
    assert.equal(asText, pgText);
    assert.equal(t, pgText);
    assert.equal(parseTimestamp(t!).getTime(), time.getTime(), pgText);
    assert.equal(parseTimestamp(ts!).getTime(), time.getTime(), ts);
    assert.equal(
      parseTimestamp(d!).getTime(),
      (rows[i]![3] as Date).getTime(),
      d,
    );
    assert.deepEqual([s, b, n], [
      special,
      i % 2 === 0 ? "t" : "f",
      "9007199254740993",
    ]);
  }
}

test("on the server: times of every year, BC and ±infinity go in with COPY FROM and come out of COPY TO as they were", async () => {
  const url = parseDatabaseUrl(serverUrl!);
  const conn = await WireConnection.open({
    endpoints: url.endpoints,
    user: url.user,
    password: url.password,
    database: url.database,
    ssl: url.ssl,
    sslRootCert: url.sslRootCert,
    parameters: { ...url.parameters, application_name: "copy_text_test" },
    connectTimeoutMs: 10_000,
    prepare: true,
    description: url.description,
  });
  try {
    await roundTrip({
      copyIn: async (table, text) => {
        assert.equal(
          await conn.copyInWhole(`COPY ${table} FROM STDIN`, [text]),
          TIMES.length + 1,
        );
      },
      copyOut: async (query) => {
        const decoder = new TextDecoder();
        let out = "";
        await conn.copyOut(`COPY (${query}) TO STDOUT`, (chunk) => {
          out += decoder.decode(chunk, { stream: true });
        });
        return out + decoder.decode();
      },
      execute: async (script) => {
        await conn.simpleQuery(script);
      },
    });
  } finally {
    await conn.close();
  }
});

Deno.test("on PGlite: times of every year, BC and ±infinity go in with COPY FROM and come out of COPY TO as they were", async () => {
  const db = new PGlite();
  try {
    await roundTrip({
      copyIn: async (table, text) => {
        await db.query(`COPY ${table} FROM '/dev/blob'`, [], {
          blob: new Blob([text]),
        });
      },
      copyOut: async (query) => {
        const { blob } = await db.query(`COPY (${query}) TO '/dev/blob'`);
        return blob === undefined ? "" : await blob.text();
      },
      execute: async (script) => {
        await db.exec(script);
      },
    });
  } finally {
    await db.close();
  }
});
