/**
 * COPY text encoded ahead of its statement: whole when the rows fit the
 * bound, else the rows left encoded as the copy goes; a row that cannot be
 * encoded throws before anything is sent.
 */
import assert from "node:assert/strict";
import {
  continueCopy,
  copyLine,
  encodeCopyAhead,
} from "../../src/postgres/_sql_text.ts";
import type { SqlValue } from "../../src/postgres/sql_client.ts";

const rows = (n: number): [number, string | null][] =>
  Array.from({ length: n }, (_, i) => [i, i % 7 === 0 ? null : `row\t${i}`]);

function expected(list: readonly (readonly SqlValue[])[]): string {
  return list.map((r) => copyLine(r, 2)).join("");
}

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let all = "";
  for await (const chunk of chunks) all += chunk;
  return all;
}

Deno.test("rows that fit the bound are encoded whole, in chunks of about 64 KB", () => {
  const counter = { rows: 0 };
  const ahead = encodeCopyAhead(rows(20_000), 2, counter);
  assert.equal(ahead.rest, undefined);
  assert.equal(counter.rows, 20_000);
  assert.ok(ahead.chunks.length > 1);
  for (const chunk of ahead.chunks.slice(0, -1)) {
    assert.ok(chunk.length >= 65536 && chunk.length < 65536 + 100);
  }
  assert.equal(ahead.chunks.join(""), expected(rows(20_000)));
  assert.deepEqual(encodeCopyAhead([], 2, { rows: 0 }).chunks, []);
});

Deno.test("rows past the bound are left to the copy, and every row is sent once, in order", async () => {
  const counter = { rows: 0 };
  let pulled = 0;
  function* generated(): Generator<[number, string | null]> {
    for (const row of rows(50_000)) {
      pulled++;
      yield row;
    }
  }
  const ahead = encodeCopyAhead(generated(), 2, counter, 100_000);
  assert.notEqual(ahead.rest, undefined);
  assert.ok(pulled < 50_000, `only part is encoded ahead (${pulled})`);
  assert.equal(
    ahead.chunks.join(""),
    expected(rows(50_000).slice(0, counter.rows)),
  );
  assert.equal(
    await text(continueCopy(ahead, 2, counter)),
    expected(rows(50_000)),
  );
  assert.equal(counter.rows, 50_000);
});

Deno.test("a row that cannot be encoded throws while encoding ahead", () => {
  assert.throws(
    () => encodeCopyAhead([[1, "a"], [2]], 2, { rows: 0 }),
    /Copy row has 1 values for 2 columns/,
  );
  function* broken(): Generator<SqlValue[]> {
    yield [1, "a"];
    throw new Error("the source broke");
  }
  assert.throws(
    () => encodeCopyAhead(broken(), 2, { rows: 0 }),
    /the source broke/,
  );
});
