/**
 * The row logic the in-memory stores share: value keys, and order without
 * a collation.
 */
import assert from "node:assert/strict";
import { column, table } from "@sequent/core";
import { orderAndLimit, valueKey } from "../../src/core/record_values.ts";

const words = table("rv_words", {
  id: column.integer().primaryKey(),
  word: column.text().nullable(),
});

Deno.test("orderAndLimit() orders text by code point, as PostgreSQL's C and C.UTF-8 collations do", () => {
  // UTF-16 code units put U+1F600 (surrogates 0xD83D 0xDE00) before U+FF21
  const texts = [
    "\u{1F600}",
    "\uFF21",
    "\uE000",
    "\uD7FF",
    "z",
    "Z",
    "",
    "\u{10000}",
  ];
  const rows = texts.map((word, id) => ({ id, word }));
  const ordered = orderAndLimit(words, [...rows, { id: 99, word: null }], {
    orderBy: [["word", "asc"]],
  });
  const byCodePoint = [...texts].sort((a, b) => {
    const x = [...a].map((c) => c.codePointAt(0)!);
    const y = [...b].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return x[i]! - y[i]!;
    }
    return x.length - y.length;
  });
  assert.deepEqual(ordered.map((r) => r.word), [...byCodePoint, null]);
  assert.deepEqual(
    byCodePoint,
    ["", "Z", "z", "\uD7FF", "\uE000", "\uFF21", "\u{10000}", "\u{1F600}"],
  );
  assert.deepEqual(
    orderAndLimit(words, rows, { orderBy: [["word", "desc"]], limit: 2 })
      .map((r) => r.word),
    ["\u{1F600}", "\u{10000}"],
  );
});

Deno.test("valueKey() of text never holds U+0001, which joins a composite key's parts, and stays one-to-one", () => {
  const texts = ["x", "x\u0001", "x\u0001s:y", "\u0001", "s:x", 'S:"x"', ""];
  const keys = texts.map((t) => valueKey("text", t));
  for (const key of keys) assert.ok(!key.includes("\u0001"), key);
  assert.equal(new Set(keys).size, texts.length);
  assert.equal(valueKey("text", "plain"), valueKey("text", "plain"));
});
