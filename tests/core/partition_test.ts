/**
 * The partition function: xxHash32 of the UUID's 16 bytes, stable across
 * versions (pinned by vectors a reference implementation gave), the same
 * whatever the id's case, and spread evenly.
 */
import assert from "node:assert/strict";
import xxhash from "npm:xxhash-wasm@1.1.0";
import {
  DEFAULT_PARTITION_COUNT,
  MAX_PARTITION_COUNT,
  partitionOf,
} from "@sequent/core";
import {
  checkPartitionCount,
  checkPartitions,
  partitionHash,
} from "@sequent/core/internal";
import { random } from "../_seeded_random.ts";

function bytesOf(id: string): Uint8Array {
  return new Uint8Array(
    id.replaceAll("-", "").match(/../g)!.map((h) => parseInt(h, 16)),
  );
}

function seededUuid(next: () => number): string {
  const hex = Array.from(
    { length: 32 },
    () => Math.floor(next() * 16).toString(16),
  ).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${
    hex.slice(16, 20)
  }-${hex.slice(20)}`;
}

Deno.test("partitionHash() is xxHash32 with seed 0 of the UUID's 16 bytes, as a reference implementation computes it", async () => {
  const { h32Raw } = await xxhash();
  const next = random(11);
  for (let i = 0; i < 5000; i++) {
    const id = seededUuid(next);
    assert.equal(partitionHash(id), h32Raw(bytesOf(id), 0) >>> 0, id);
  }
});

Deno.test("partitionOf() never changes: fixed vectors", () => {
  const vectors: [string, number, number][] = [
    ["00000000-0000-0000-0000-000000000000", 2382506810, 58],
    ["ffffffff-ffff-ffff-ffff-ffffffffffff", 3629211818, 42],
    ["01234567-89ab-cdef-0123-456789abcdef", 2693848097, 33],
    ["6ba7b810-9dad-11d1-80b4-00c04fd430c8", 3252504418, 34],
  ];
  for (const [id, hash, partition] of vectors) {
    assert.equal(partitionHash(id), hash);
    assert.equal(partitionOf(id), partition);
    assert.equal(partitionOf(id, DEFAULT_PARTITION_COUNT), partition);
    assert.equal(partitionOf(id, 7), hash % 7);
  }
});

Deno.test("partitionOf() is the same for an id in upper and in lower case", () => {
  const id = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8";
  assert.equal(partitionOf(id), partitionOf(id.toLowerCase()));
});

Deno.test("partitionOf() spreads aggregates evenly over the partitions", () => {
  const next = random(5);
  const counts = new Array<number>(64).fill(0);
  for (let i = 0; i < 64_000; i++) counts[partitionOf(seededUuid(next))]!++;
  // 1,000 expected each; a standard deviation is about 31
  for (const [p, n] of counts.entries()) {
    assert.ok(n > 850 && n < 1150, `partition ${p} got ${n}`);
  }
});

Deno.test("an id that is not a UUID has no partition: TypeError naming it", () => {
  for (
    const bad of [
      "",
      "not-a-uuid",
      "6ba7b810-9dad-11d1-80b4-00c04fd430c",
      42,
      // of a UUID's length, one character wrong in each part
      "gba7b810-9dad-11d1-80b4-00c04fd430c8",
      "6ba7b810-9daz-11d1-80b4-00c04fd430c8",
      "6ba7b810-9dad-11d1-80b4-00c04fd430c:",
      "6ba7b810-9dad-11d1-80b4-00c0 fd430c8",
      "6ba7b810_9dad-11d1-80b4-00c04fd430c8",
      "6ba7b810-9dad-11d1-80b400c04fd430c8-",
    ]
  ) {
    assert.throws(
      () => partitionOf(bad as string),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.includes(JSON.stringify(bad)),
    );
  }
});

Deno.test("a partition count is an integer from 1 to 1024, and a partition one from 0 to 1023: RangeError naming it otherwise", () => {
  assert.equal(MAX_PARTITION_COUNT, 1024);
  assert.equal(checkPartitionCount(1), 1);
  assert.equal(checkPartitionCount(1024), 1024);
  for (const bad of [0, -1, 1025, 2.5, NaN]) {
    assert.throws(
      () => partitionOf(crypto.randomUUID(), bad),
      (error: unknown) =>
        error instanceof RangeError && error.message.includes(`got ${bad}`),
    );
  }
  assert.deepEqual(checkPartitions([0, 1023]), [0, 1023]);
  for (const bad of [-1, 1024, 0.5]) {
    assert.throws(
      () => checkPartitions([1, bad]),
      (error: unknown) =>
        error instanceof RangeError && error.message.includes(`got ${bad}`),
    );
  }
});
