/**
 * Reading COPY's text format: rows split across chunks anywhere (even
 * inside a UTF-8 character), NULL, every escape, and rows of the wrong
 * width.
 */
import assert from "node:assert/strict";
import {
  CopyTextDecoder,
  type CopyTextRow,
  detachedCopy,
  unescapeCopyText,
} from "../../src/postgres/_copy_text.ts";

const encoder = new TextEncoder();

function decodeInChunks(text: string, size: number, width: number) {
  const bytes = encoder.encode(text);
  const decoder = new CopyTextDecoder(width);
  const rows: CopyTextRow[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    decoder.decode(bytes.subarray(at, at + size), rows);
  }
  decoder.end();
  return rows;
}

Deno.test("rows come out whole however the bytes are chunked", () => {
  const text =
    '1\tdéjà vu 😀\t\\N\n2\t\t{"a":"x\\\\"y"}\n3\ttab\\there\tline\\nbreak\n';
  const expected = [
    ["1", "déjà vu 😀", null],
    ["2", "", '{"a":"x\\"y"}'],
    ["3", "tab\there", "line\nbreak"],
  ];
  for (const size of [1, 2, 3, 5, 7, 64, 10_000]) {
    assert.deepEqual(
      decodeInChunks(text, size, 3),
      expected,
      `chunks of ${size}`,
    );
  }
});

Deno.test("every escape PostgreSQL may write is read back", () => {
  assert.equal(
    unescapeCopyText("\\\\ \\b\\f\\n\\r\\t\\v \\101\\x42 \\303\\251 \\q"),
    "\\ \b\f\n\r\t\v AB é q",
  );
  assert.equal(unescapeCopyText("end\\\\"), "end\\");
});

Deno.test("raw columns are left as copied", () => {
  const decoder = new CopyTextDecoder(2, [0]);
  const rows: CopyTextRow[] = [];
  decoder.decode(encoder.encode("\\\\x00ff\ta\\tb\n"), rows);
  assert.deepEqual(rows, [["\\\\x00ff", "a\tb"]]);
});

Deno.test("a row of another width or a cut-off end is an error naming it", () => {
  const decoder = new CopyTextDecoder(3);
  assert.throws(
    () => decoder.decode(encoder.encode("1\t2\n"), []),
    /does not have 3 columns: "1\\t2"/,
  );
  assert.throws(
    () => new CopyTextDecoder(2).decode(encoder.encode("1\t2\t3\n"), []),
    /does not have 2 columns/,
  );
  const cut = new CopyTextDecoder(2);
  cut.decode(encoder.encode("1\t2\n3\t"), []);
  assert.throws(() => cut.end(), /ends inside a row: "3\\t"/);
});

Deno.test("a detached copy has the same characters", () => {
  const chunk = "x".repeat(1000) + "0e4a1c52-8d3f-4b6e-9a17-2f5c8d9e0b31\tzé😀";
  for (const [from, to] of [[1000, 1036], [1037, chunk.length], [3, 3]]) {
    assert.equal(detachedCopy(chunk.slice(from, to)), chunk.slice(from, to));
  }
});
