/**
 * Stream positions of the PostgreSQL store, and the order check of a
 * processor's read: its statement has no outer sort, so the reader checks
 * the rows' order and sorts only when it finds them out of order.
 */
import assert from "node:assert/strict";
import {
  compareStreamPositions,
  compareXactPositions,
} from "../../src/postgres/_stream_position.ts";
import {
  inStreamOrder,
  type StreamEventRow,
} from "../../src/postgres/_event_store_reads.ts";

function row(x: string, p: string): StreamEventRow {
  return {
    x,
    p,
    aggregate_id: crypto.randomUUID(),
    sequence_number: 1,
    created_at: new Date(0),
    event_type_id: 1,
    json: "{}",
    partition: 0,
    aggregate_type_id: null,
  };
}

Deno.test("compareXactPositions orders digits as numbers, as compareStreamPositions does", () => {
  const pairs: [string, string][] = [
    ["9", "10"],
    ["99", "100"],
    ["18446744073709551615", "18446744073709551614"],
    ["7", "7"],
    ["1000", "999"],
    ["123", "124"],
  ];
  for (const [ax, bx] of pairs) {
    // (a position is a bigint: up to 19 digits)
    for (
      const [ap, bp] of pairs.filter(([a, b]) => a.length < 20 && b.length < 20)
    ) {
      const ours = compareXactPositions(ax, ap, bx, bp);
      const theirs = compareStreamPositions(`${ax}:${ap}`, `${bx}:${bp}`);
      assert.equal(ours, theirs, `${ax}:${ap} against ${bx}:${bp}`);
    }
  }
});

Deno.test("rows already in stream order are kept as they came", () => {
  const rows = [row("9", "5"), row("10", "1"), row("10", "2"), row("100", "0")];
  assert.equal(inStreamOrder(rows), rows);
});

Deno.test("rows out of stream order are sorted by transaction, then position", () => {
  const sorted = [
    row("9", "5"),
    row("10", "1"),
    row("10", "2"),
    row("10", "10"),
    row("100", "0"),
  ];
  for (let seed = 0; seed < 20; seed++) {
    const shuffled = [...sorted];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = (seed * 7 + i * 13) % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    assert.deepEqual(
      inStreamOrder(shuffled).map((r) => `${r.x}:${r.p}`),
      sorted.map((r) => `${r.x}:${r.p}`),
    );
  }
});
