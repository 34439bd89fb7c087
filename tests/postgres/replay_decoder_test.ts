/**
 * A replay slice's COPY text decoded straight into events: every column
 * where it lies, escapes undone, rows split anywhere; a row of another
 * shape, an unknown type id or a bad number refused, naming it.
 */
import assert from "node:assert/strict";
import { SequentError } from "@sequent/core";
import {
  createdAtMillis,
  type ReplayedEvent,
  ReplayEventDecoder,
} from "../../src/postgres/_replay_decoder.ts";

const TYPES = new Map([[1, "PostAdded"], [7, "PostTitleChanged"]]);
const A = "00000000-0000-4000-8000-000000000001";
const B = "00000000-0000-4000-8000-000000000002";
// 2000-01-01 00:00:00.001999, as timestamptz_send's bytes copied as text
const AT = "\\\\x00000000000007cf";

const COPIED = [
  `\t${A}\t1\t${AT}\t1\t{}`,
  `\t${A}\t2\t${AT}\t7\t{"title": "tab\\\\tand \\\\"quote\\\\" é😀"}`,
  `it's\\\\key\t${B}\t1\t${AT}\t1\t{}`,
  `it's\\\\key\t${B}\t12\t\\x00000000000007cf\t7\t{"title": "line\\nbreak"}`,
].join("\n") + "\n";

function decodeAll(bytes: Uint8Array, size: number): ReplayedEvent[] {
  const decoder = new ReplayEventDecoder(TYPES);
  const events: ReplayedEvent[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    decoder.decode(bytes.slice(at, at + size), events);
  }
  decoder.end();
  return events;
}

Deno.test("each row becomes a stored event, its escapes undone, however the chunks are cut", () => {
  const bytes = new TextEncoder().encode(COPIED);
  const expected = decodeAll(bytes, bytes.length);
  assert.deepEqual(
    expected.map((e) => ({ ...e, createdAt: e.createdAt.getTime() })),
    [
      {
        aggregateId: A,
        sequenceNumber: 1,
        createdAt: 946_684_800_001,
        eventType: "PostAdded",
        payload: "{}",
        partitionKey: "",
      },
      {
        aggregateId: A,
        sequenceNumber: 2,
        createdAt: 946_684_800_001,
        eventType: "PostTitleChanged",
        payload: '{"title": "tab\\tand \\"quote\\" é😀"}',
        partitionKey: "",
      },
      {
        aggregateId: B,
        sequenceNumber: 1,
        createdAt: 946_684_800_001,
        eventType: "PostAdded",
        payload: "{}",
        partitionKey: "it's\\key",
      },
      {
        aggregateId: B,
        sequenceNumber: 12,
        createdAt: 946_684_800_001,
        eventType: "PostTitleChanged",
        payload: '{"title": "line\nbreak"}',
        partitionKey: "it's\\key",
      },
    ],
  );
  for (const size of [1, 2, 3, 5, 17, 64]) {
    assert.deepEqual(decodeAll(bytes, size), expected, `chunks of ${size}`);
  }
});

Deno.test("a row of another shape, an unknown type id or a bad number is refused, naming it", () => {
  const decode = (text: string) =>
    new ReplayEventDecoder(TYPES).decode(new TextEncoder().encode(text), []);
  assert.throws(
    () => decode(`\t${A}\t1\t${AT}\t1\n`),
    new RegExp(`does not have 6 columns: "\\\\t${A}\\\\t1`),
  );
  assert.throws(
    () => decode(`\t${A}\t1\t${AT}\t1\t{}\textra\n`),
    /does not have 6 columns/,
  );
  assert.throws(
    () => decode(`\t${A}\t3\t${AT}\t9\t{}\n`),
    (error: unknown) =>
      error instanceof SequentError &&
      error.message === `Event 3 of aggregate ${A} has the unknown type id 9`,
  );
  assert.throws(
    () => decode(`\t${A}\tx1\t${AT}\t1\t{}\n`),
    /Expected an integer, got "x1"/,
  );
  assert.throws(
    () => decode(`\t${A}\t\t${AT}\t1\t{}\n`),
    /Expected an integer, got ""/,
  );
  assert.throws(
    () => decode(`\t${A}\t1\t2026-01-01\t1\t{}\n`),
    /Unexpected created_at bytes: "2026-01-01"/,
  );
  const decoder = new ReplayEventDecoder(TYPES);
  decoder.decode(new TextEncoder().encode(`\t${A}\t1`), []);
  assert.throws(() => decoder.end(), /ends inside a row/);
});

Deno.test("createdAtMillis reads timestamptz_send's bytes, truncating microseconds", () => {
  // 2000-01-01 00:00:00.001999 and 1999-12-31 23:59:59.999999
  assert.equal(createdAtMillis("\\\\x00000000000007cf"), 946_684_800_001);
  assert.equal(createdAtMillis("\\xffffffffffffffff"), 946_684_799_999);
  assert.throws(
    () => createdAtMillis("2026-01-01"),
    /Unexpected created_at bytes/,
  );
  assert.throws(
    () => createdAtMillis("\\\\x00000000000007cg"),
    /Unexpected created_at bytes/,
  );
});

/** `timestamptz_send`'s bytes of a count of microseconds, as copied text. */
function sentMicros(micros: bigint): string {
  return `\\x${BigInt.asUintN(64, micros).toString(16).padStart(16, "0")}`;
}

Deno.test("createdAtMillis reads every time a Date holds exactly, and ±infinity as the last and first Date", () => {
  // a float of the whole count rounded these 1 ms off (~285 years from 2000)
  const pgEpoch = 946_684_800_000n;
  const far = [
    -62_135_596_800_000_001n, // 0030-12-31 23:59:59.999999
    -9_000_000_000_000_001n, // 1714-10-20 07:59:59.999999
    9_000_000_000_000_999n, // 2285-03-13 16:00:00.000999
    252_423_993_599_999_999n, // 9998-12-30 23:59:59.999999
  ];
  const first = -211_813_488_000_000_000n;
  const last = 8_640_000_000_000_000_000n - pgEpoch * 1000n;
  let seed = 7n;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) % (1n << 64n);
    // anywhere from PostgreSQL's first time (4714-11-24 BC) to a Date's last
    far.push(first + seed % (last - first));
  }
  for (const micros of far) {
    const floor = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
    assert.equal(
      createdAtMillis(sentMicros(micros)),
      Number(floor + pgEpoch),
      `${micros} µs`,
    );
  }
  assert.equal(createdAtMillis("\\x7fffffffffffffff"), 8.64e15);
  assert.equal(createdAtMillis("\\x8000000000000000"), -8.64e15);
});
