/**
 * The keys a replay flushed (`FlushedKeys`): a set of keys to its callers,
 * whether they came one by one or as ascending runs, through deletes,
 * re-additions and the merge of many runs.
 */
import assert from "node:assert/strict";
import { FlushedKeys } from "../../src/postgres/_flushed_keys.ts";

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const key = (n: number) => `k${String(n).padStart(6, "0")}`;

Deno.test("FlushedKeys answers as a Set does, over runs, single keys, deletes and re-additions, past the merge of its runs", () => {
  for (const seed of [7, 8, 9, 10]) {
    const next = random(seed);
    const flushed = new FlushedKeys();
    const set = new Set<string>();
    let counter = 0;
    for (let flush = 0; flush < 30; flush++) {
      // a flush: some keys deleted, then a run and a few single keys
      for (let i = 0; i < 5; i++) {
        const k = key(Math.floor(next() * (counter + 10)));
        flushed.delete(k);
        set.delete(k);
      }
      // runs that go on from the last, and some that start back
      let start = next() < 0.7 ? counter : Math.floor(next() * counter);
      const run: string[] = [];
      for (let i = 0; i < 1 + Math.floor(next() * 50); i++) {
        start += 1 + Math.floor(next() * 3);
        run.push(key(start));
      }
      counter = Math.max(counter, start);
      flushed.addRun(run);
      for (const k of run) set.add(k);
      for (let i = 0; i < 3; i++) {
        const k = key(Math.floor(next() * (counter + 10)));
        flushed.add(k);
        set.add(k);
      }
      for (let n = 0; n < counter + 20; n++) {
        assert.equal(
          flushed.has(key(n)),
          set.has(key(n)),
          `${key(n)} after flush ${flush} (seed ${seed})`,
        );
      }
    }
    assert.equal(flushed.none, false);
    flushed.clear();
    assert.equal(flushed.none, true);
    assert.equal(flushed.has(key(1)), false);
  }
});

Deno.test("FlushedKeys copies a run: the caller's array may change after", () => {
  const flushed = new FlushedKeys();
  const run = ["a", "b"];
  flushed.addRun(run);
  run.push("c");
  flushed.addRun(["d"]); // extends the kept run, not the caller's
  assert.deepEqual(run, ["a", "b", "c"]);
  assert.equal(flushed.has("c"), false);
  assert.equal(flushed.has("d"), true);
  assert.equal(flushed.none, false);
  assert.equal(new FlushedKeys().none, true);
});
