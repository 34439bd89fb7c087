/**
 * The row logic the in-memory stores share: value keys, and order without
 * a collation.
 */
import assert from "node:assert/strict";
import { column, table } from "@sequent/core";
import {
  orderAndLimit,
  storedValue,
  valueKey,
} from "../../src/core/record_values.ts";

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

Deno.test("orderAndLimit() orders JSON as jsonb does, an object's keys taken in jsonb's order: by UTF-8 length, then bytes", () => {
  const docs = table("rv_docs", {
    id: column.integer().primaryKey(),
    doc: column.json().nullable(),
  });
  // ("é" is 2 bytes, as "ab": stored after it; "b" is 1, stored first)
  const rows = [
    { id: 1, doc: { ab: 1, b: 1 } },
    { id: 2, doc: { "é": 1, ab: 1 } },
    { id: 3, doc: "" },
    { id: 4, doc: [] },
    { id: 5, doc: [0] },
    { id: 6, doc: true },
    { id: 7, doc: null },
    { id: 8, doc: { ab: 1, b: 1 } },
  ];
  const ids = (direction: "asc" | "desc") =>
    orderAndLimit(docs, [...rows], {
      orderBy: [["doc", direction], ["id", "asc"]],
    }).map((r) => r.id);
  assert.deepEqual(ids("asc"), [4, 3, 6, 5, 2, 1, 8, 7]);
  assert.deepEqual(ids("desc"), [7, 1, 8, 2, 5, 6, 3, 4]);
});

Deno.test("storedValue() gives a value as a SQL store gives it back: -0 as 0 from numbers and JSON, copies of instants and JSON", () => {
  assert.ok(Object.is(storedValue("integer", -0), 0));
  assert.ok(Object.is(storedValue("float", -0), 0));
  assert.equal(storedValue("float", -1.5), -1.5);
  assert.deepEqual(storedValue("json", { a: [-0] }), { a: [0] });
  assert.ok(Object.is((storedValue("json", [-0]) as number[])[0], 0));
  const at = new Date(5);
  const copy = storedValue("dateTime", at) as Date;
  assert.notEqual(copy, at);
  assert.equal(copy.getTime(), 5);
  const json = { a: 1 };
  assert.notEqual(storedValue("json", json), json);
  assert.equal(storedValue("json", null), null);
});
