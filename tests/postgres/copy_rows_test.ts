/**
 * The last row of a replay's read: kept whole as a copy's chunks go by,
 * wherever the chunks are cut.
 */
import assert from "node:assert/strict";
import { LastCopiedRow } from "../../src/postgres/_copy_rows.ts";

const encoder = new TextEncoder();

/** Cuts `bytes` at the given offsets. */
function cut(bytes: Uint8Array, at: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    chunks.push(bytes.subarray(from, to));
    from = to;
  }
  return chunks;
}

/** The last row of `chunks`. */
function tallied(chunks: readonly Uint8Array[]): LastCopiedRow {
  const last = new LastCopiedRow();
  for (const chunk of chunks) last.add(chunk);
  return last;
}

/** The last row's pieces joined, then decoded (a piece may end mid-character). */
function lastRowText(tally: LastCopiedRow): string {
  const stream = new TextDecoder();
  return tally.lastRow.map((piece) => stream.decode(piece, { stream: true }))
    .join("") + stream.decode();
}

Deno.test("every cut of a copy's text gives its last whole row", () => {
  const rows = ["a\t1\n", "bb\tü\\n2\n", "\n", "c\t€ and more text\n"];
  const bytes = encoder.encode(rows.join(""));
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const tally = tallied(cut(bytes, [i, j]));
      assert.equal(lastRowText(tally), rows.at(-1), `cut at ${i} and ${j}`);
    }
  }
});

Deno.test("a row spanning many chunks is kept whole, and a row not yet ended is not taken for the last", () => {
  const long = "x".repeat(50);
  const bytes = encoder.encode(`first\n${long}\n${long}`);
  const chunks = cut(bytes, Array.from({ length: 20 }, (_, i) => 3 + 5 * i));
  const tally = tallied(chunks);
  assert.equal(lastRowText(tally), `${long}\n`);
});

Deno.test("random copies agree with splitting the whole text on newlines", () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const rows = Array.from(
      { length: 1 + random(30) },
      () => "é\t".repeat(random(5)) + "v".repeat(random(40)) + "\n",
    );
    const bytes = encoder.encode(rows.join(""));
    const at = [
      ...new Set(
        Array.from({ length: random(12) }, () => random(bytes.length + 1)),
      ),
    ]
      .sort((a, b) => a - b);
    const tally = tallied(cut(bytes, at));
    assert.equal(lastRowText(tally), rows.at(-1));
  }
});

Deno.test("no whole row at all: no last row", () => {
  assert.deepEqual(tallied([]).lastRow, []);
  const open = tallied([encoder.encode("no newline yet")]);
  assert.deepEqual(open.lastRow, []);
});
