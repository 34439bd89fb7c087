/**
 * The text rule (src/core/storable_text.ts): no NUL character and no lone
 * surrogate, in strings, in JSON values and keys, and in JSON text whether
 * spelled as the character or as an escape.
 */
import assert from "node:assert/strict";
import { describeUnstorableText, isStorableText } from "@sequent/core";
import {
  findUnstorableInJsonText,
  findUnstorableJsonText,
} from "../../src/core/storable_text.ts";

Deno.test("isStorableText() accepts any text without NUL or a lone surrogate, surrogate pairs included", () => {
  for (
    const text of [
      "",
      "Hello",
      "😀",
      "a😀b😀",
      "\u{10FFFF}",
      "\uFFFF\uFFFE",
      "\u0001\u001f\t\n",
      "\\u0000",
      "é中文",
      "x".repeat(100_000),
    ]
  ) {
    assert.equal(isStorableText(text), true, JSON.stringify(text));
  }
});

Deno.test("isStorableText() refuses a NUL character, a lone high or low surrogate, and a pair in the wrong order", () => {
  for (
    const text of [
      "\0",
      "a\0b",
      "\ud800",
      "a\ud83d",
      "\udc00z",
      "\ude00\ud83d",
      "😀".slice(0, 1),
      "ok".repeat(50_000) + "\0",
    ]
  ) {
    assert.equal(isStorableText(text), false, JSON.stringify(text));
  }
});

Deno.test("describeUnstorableText() names the first offending character and its index, undefined for storable text", () => {
  const cases: [string, string | undefined][] = [
    ["fine 😀", undefined],
    ["abc\0", "contains a NUL character (U+0000) at index 3"],
    ["\0\ud800", "contains a NUL character (U+0000) at index 0"],
    ["ab\ud800", "contains a lone surrogate (U+D800) at index 2"],
    ["😀\udfff", "contains a lone surrogate (U+DFFF) at index 2"],
    ["\udbff!", "contains a lone surrogate (U+DBFF) at index 0"],
    ["\ude00\ud83d", "contains a lone surrogate (U+DE00) at index 0"],
  ];
  for (const [text, expected] of cases) {
    assert.equal(describeUnstorableText(text), expected, JSON.stringify(text));
  }
});

Deno.test("findUnstorableJsonText() finds the first bad string or key, with its path in the errors-map convention", () => {
  assert.equal(
    findUnstorableJsonText({ a: ["😀", { b: "ok" }], c: 1, d: null }),
    undefined,
  );
  assert.deepEqual(findUnstorableJsonText("x\0"), {
    path: "",
    problem: "contains a NUL character (U+0000) at index 1",
  });
  assert.deepEqual(
    findUnstorableJsonText({ a: [1, { b: "ok", c: "\ud800" }], z: "\0" }),
    { path: "a.1.c", problem: "contains a lone surrogate (U+D800) at index 0" },
  );
  assert.deepEqual(findUnstorableJsonText({ a: { "k\0": 1 } }), {
    path: "a",
    problem:
      'has a key "k\\u0000" that contains a NUL character (U+0000) at index 1',
  });
  const longKey = "k".repeat(50) + "\udc00";
  assert.deepEqual(findUnstorableJsonText({ [longKey]: 1 }), {
    path: "",
    problem: `has a key "${
      "k".repeat(40)
    }…" that contains a lone surrogate (U+DC00) at index 50`,
  });
});

Deno.test("findUnstorableJsonText() walks deep values without recursion and stops at maxDepth on one that contains itself", () => {
  let deep: unknown = "bottom\0";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(
    findUnstorableJsonText(deep)?.problem,
    "contains a NUL character (U+0000) at index 6",
  );
  const cyclic: Record<string, unknown> = { name: "ok" };
  cyclic.self = cyclic;
  assert.equal(findUnstorableJsonText(cyclic, 50), undefined);
});

Deno.test("findUnstorableInJsonText() finds NUL and lone surrogates written as escapes or as themselves", () => {
  const cases: [string, string, string][] = [
    ['{"a":"x\\u0000"}', "a", "NUL character (U+0000) at index 1"],
    ['{"a":["\\ud800"]}', "a.0", "lone surrogate (U+D800) at index 0"],
    ['{"a":"\\uDC00"}', "a", "lone surrogate (U+DC00) at index 0"],
    ['{"\\u0000":1}', "", 'has a key "\\u0000"'],
    ['{"a":"\ud800"}', "a", "lone surrogate (U+D800) at index 0"],
  ];
  for (const [text, path, problem] of cases) {
    const found = findUnstorableInJsonText(text);
    assert.equal(found?.path, path, text);
    assert.ok(found?.problem.includes(problem), `${text}: ${found?.problem}`);
  }
});

Deno.test("findUnstorableInJsonText() passes escaped pairs, an escaped backslash before u0000, other escapes, and text that is not JSON", () => {
  for (
    const text of [
      '{"a":"\\ud83d\\ude00"}',
      '{"a":"😀"}',
      '{"a":"\\\\u0000"}',
      '{"a":"\\\\ud800 C:\\\\users"}',
      '{"a":"\\u0001\\t\\n"}',
      JSON.stringify({ deep: "x".repeat(10_000) }),
      "not json \\u0000",
    ]
  ) {
    assert.equal(findUnstorableInJsonText(text), undefined, text);
  }
});
