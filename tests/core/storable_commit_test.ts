/**
 * The rule every event store applies at `commit()` (src/core/_storable_commit.ts),
 * apart from any store: the scanner that finds a payload to be exactly one
 * JSON value, and the bounds of the numbers and dates a commit may hold.
 * That every store applies it, and when, is the event store contract's.
 */
import assert from "node:assert/strict";
import { type SerializedEvent, UnstorableTextError } from "@sequent/core";
import type { StreamCommit } from "@sequent/core/internal";
import {
  checkStorableCommit,
  isJsonText,
  jsonTextProblem,
} from "../../src/core/_storable_commit.ts";
import { random } from "../_seeded_random.ts";

Deno.test("isJsonText() accepts exactly one JSON value with whitespace around it; with object, only an object", () => {
  const objects = [
    "{}",
    ' { "a" : 1 } ',
    '\n\t\r{"a":[1,-0,0.5,-1.5e-3,2E+10,true,false,null,"s",{},[]]}\n',
    '{"a":{"b":{"c":[[[]]]}},"":""}',
    '{"esc":"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00"}',
    '{"raw":"é 中 😀 \ud800 \u007f \u2028"}',
    '{"a":1,"a":2}',
  ];
  for (const text of objects) {
    assert.equal(isJsonText(text, true), true, text);
    assert.equal(isJsonText(text, false), true, text);
  }
  for (const text of ["[]", " [1, {}] ", '"s"', "0", "-1.5", "true", "null"]) {
    assert.equal(isJsonText(text, false), true, text);
    assert.equal(isJsonText(text, true), false, text);
  }
});

Deno.test("isJsonText() refuses text that is not one whole JSON value: what would let spliced text close its value and add its own", () => {
  const texts = [
    "",
    " ",
    '{"x":1}},{"s":2,"t":"Created","p":{"injected":true}',
    '{"x":1},"t":"Other"',
    "{} {}",
    "{}}",
    "{}]",
    "{",
    '{"a":1',
    '{"a":[1,2}',
    '{"a":{"b":1]}',
    "[1,]",
    '{"a":1,}',
    "{,}",
    "[,1]",
    '{"a" 1}',
    '{"a":}',
    "{a:1}",
    "{'a':1}",
    '{"a":"unterminated}',
    '{"a":"bad \\x escape"}',
    '{"a":"short \\u12 escape"}',
    '{"a":"raw \n newline"}',
    '{"a":"raw \u0000 NUL"}',
    '{"a":"ends in a backslash\\',
    '{"a":01}',
    '{"a":1.}',
    '{"a":.5}',
    '{"a":1e}',
    '{"a":-}',
    '{"a":+1}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":tru}',
    '{"a":nul}',
    '{"a":True}',
    "\ufeff{}",
    "\u000b{}",
    "\u00a0{}",
    "{}\u0000",
  ];
  for (const text of texts) {
    assert.equal(isJsonText(text, false), false, JSON.stringify(text));
    assert.equal(isJsonText(text, true), false, JSON.stringify(text));
  }
});

Deno.test("isJsonText() agrees with JSON.parse on random texts, mostly broken ones, and on deep nesting", () => {
  const next = random(20260807);
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(next() * items.length)]!;
  const scalars = ["0", "-0", "1.5", "-2e-3", "true", "null", '"a\\n"', '""'];
  const value = (depth: number): string => {
    const r = next();
    if (depth > 3 || r < 0.4) return pick(scalars);
    const n = Math.floor(next() * 4);
    if (r < 0.7) {
      return `[${Array.from({ length: n }, () => value(depth + 1)).join(",")}]`;
    }
    return `{${
      Array.from({ length: n }, (_, i) => `"k${i}": ${value(depth + 1)}`)
        .join(", ")
    }}`;
  };
  const junk = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"',
    "\\",
    "\\u",
    "0",
    "-",
    ".",
    "e",
    "t",
    "n",
    " ",
    "\n",
    "\u0001",
    "\ud800",
    "x",
  ];
  let valid = 0;
  for (let n = 0; n < 50_000; n++) {
    let text = value(0);
    for (let k = next() < 0.25 ? 0 : 1 + Math.floor(next() * 3); k > 0; k--) {
      const i = Math.floor(next() * (text.length + 1));
      text = next() < 0.5
        ? text.slice(0, i) + pick(junk) + text.slice(i)
        : text.slice(0, i) + text.slice(i + 1);
    }
    let parsed: { value: unknown } | undefined;
    try {
      parsed = { value: JSON.parse(text) };
    } catch {
      parsed = undefined;
    }
    const isObject = parsed !== undefined &&
      typeof parsed.value === "object" && parsed.value !== null &&
      !Array.isArray(parsed.value);
    assert.equal(isJsonText(text, false), parsed !== undefined, text);
    assert.equal(isJsonText(text, true), isObject, text);
    if (parsed) valid++;
  }
  assert.ok(valid > 10_000 && valid < 40_000, `${valid} valid`);
  const deep = `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`;
  assert.equal(isJsonText(deep, true), true);
  assert.equal(isJsonText(deep.slice(0, -1), true), false);
});

Deno.test("jsonTextProblem() says why, long text included, and refuses what is not a string", () => {
  assert.equal(jsonTextProblem('{"a":1}', true), undefined);
  assert.match(
    jsonTextProblem('{"x":1}},{"s":2}', true) ?? "",
    /^is not valid JSON \(.+\)$/,
  );
  assert.equal(jsonTextProblem("[1]", true), "is not a JSON object");
  assert.equal(jsonTextProblem("[1]", false), undefined);
  // past the scanner's length JSON.parse decides, to the same effect
  const long = JSON.stringify({ text: "x".repeat(10_000) });
  assert.equal(jsonTextProblem(long, true), undefined);
  assert.match(jsonTextProblem(`${long},"t":"X"`, true) ?? "", /^is not valid/);
  assert.equal(jsonTextProblem(`[${long}]`, true), "is not a JSON object");
  assert.equal(
    jsonTextProblem(undefined as unknown as string, true),
    "is not JSON text but undefined",
  );
});

const A = "9b2c1c4e-2a57-4a57-8d43-2d0e7a2f1c11";

function commitOf(
  event: Partial<SerializedEvent> = {},
  stream: Partial<StreamCommit> = {},
): Parameters<typeof checkStorableCommit> {
  return [
    {
      commandType: "Do",
      aggregateId: A,
      userId: undefined,
      eventAggregateId: undefined,
      eventSequenceNumber: undefined,
      payload: "{}",
    },
    [{
      aggregateId: A,
      aggregateType: "Thing",
      partitionKey: "",
      uniqueKeys: undefined,
      snapshotThreshold: undefined,
      events: [{
        aggregateId: A,
        sequenceNumber: 1,
        createdAt: new Date(),
        eventType: "Done",
        payload: "{}",
        ...event,
      }],
      ...stream,
    }],
  ];
}

Deno.test("checkStorableCommit() takes the bounds themselves: sequence number 2,147,483,647, the first and last millisecond of years 1 and 9999, upper-case ids", () => {
  checkStorableCommit(...commitOf({ sequenceNumber: 2147483647 }));
  checkStorableCommit(...commitOf({ createdAt: new Date(-62135596800000) }));
  checkStorableCommit(...commitOf({ createdAt: new Date(253402300799999) }));
  checkStorableCommit(
    ...commitOf({ aggregateId: A.toUpperCase() }, {
      aggregateId: A.toUpperCase(),
    }),
  );
  checkStorableCommit(...commitOf({}, { snapshotThreshold: 1 }));
  assert.throws(
    () =>
      checkStorableCommit(
        ...commitOf({ createdAt: new Date(-62135596800001) }),
      ),
    /its createdAt 0000-12-31T23:59:59\.999Z is not in the years 1 to 9999$/,
  );
  assert.throws(
    () => checkStorableCommit(...commitOf({}, { snapshotThreshold: 0 })),
    RangeError,
  );
  assert.throws(
    () =>
      checkStorableCommit(
        ...commitOf({ createdAt: "2024-01-01" as unknown as Date }),
      ),
    /^TypeError: Event Done 1 of aggregate "[0-9a-f-]+" cannot be stored: its createdAt is not a Date$/,
  );
});

Deno.test("checkStorableCommit() reports a payload that is not JSON as such, and unstorable text in one that is as UnstorableTextError", () => {
  assert.throws(
    () => checkStorableCommit(...commitOf({ payload: '{"a":"\\u0000"' })),
    TypeError,
  );
  assert.throws(
    () => checkStorableCommit(...commitOf({ payload: '{"a":"\\u0000"}' })),
    UnstorableTextError,
  );
});
