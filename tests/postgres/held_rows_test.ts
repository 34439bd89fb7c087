/**
 * The rows a replay holds (`HeldRows`): a `Map` by key to its callers,
 * whatever order the keys come in, with rows in ascending key order kept
 * unhashed until a lookup needs them hashed.
 */
import assert from "node:assert/strict";
import { HeldRows } from "../../src/postgres/_held_rows.ts";

/** A seeded sequence of keys, operations and values. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

Deno.test("HeldRows answers as a Map does, for keys in any order, under set, get, delete and iteration", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const next = random(seed);
    const held = new HeldRows();
    const map = new Map<string, Record<string, unknown>>();
    // mostly ascending keys, as a replay's, with jumps back and repeats
    let counter = 1000;
    for (let step = 0; step < 5_000; step++) {
      const r = next();
      // (the greatest key often: it is the edge of the unhashed rows)
      const key = r < 0.6
        ? `k${counter++}`
        : r < 0.75
        ? `k${counter - 1}`
        : `k${1000 + Math.floor(next() * (counter - 999))}`;
      const op = next();
      if (op < 0.6) {
        const row = { key, step };
        held.set(key, row);
        map.set(key, row);
      } else if (op < 0.85) {
        assert.equal(held.get(key), map.get(key), `get ${key} (seed ${seed})`);
        assert.equal(held.has(key), map.has(key));
      } else {
        assert.equal(held.delete(key), map.delete(key), `delete ${key}`);
      }
      assert.equal(held.size, map.size);
    }
    assert.deepEqual([...held], [...map]);
    assert.deepEqual([...held.values()], [...map.values()]);
    const each: [string, unknown][] = [];
    held.forEach((row, key) => each.push([key, row]));
    assert.deepEqual(each, [...map]);
  }
});

Deno.test("HeldRows iterates in insertion order, and a replaced row keeps its place", () => {
  const held = new HeldRows();
  held.set("b", { n: 1 });
  held.set("c", { n: 2 });
  held.set("a", { n: 3 }); // behind the others: the map takes them all
  held.set("d", { n: 4 });
  held.set("c", { n: 5 });
  held.set("e", { n: 6 });
  assert.deepEqual([...held].map(([k, row]) => `${k}${row.n}`), [
    "b1",
    "c5",
    "a3",
    "d4",
    "e6",
  ]);
});

Deno.test("HeldRows splits its keys: those hashed to the callback, the rows appended in ascending order as a sorted run", () => {
  const held = new HeldRows();
  for (const key of ["m", "n", "o"]) held.set(key, { key });
  held.get("m"); // the last key set is "o": "m" is looked up in the map
  for (const key of ["p", "q", "r"]) held.set(key, { key });
  held.set("q", { key: "q2" }); // a row replaced: settled again
  for (const key of ["s", "t"]) held.set(key, { key });
  const hashed: string[] = [];
  const run = held.splitKeys((key) => hashed.push(key));
  assert.deepEqual(hashed.sort(), ["m", "n", "o", "p", "q", "r"]);
  assert.deepEqual(run, ["s", "t"]);
  const fresh = new HeldRows();
  for (const key of ["x1", "x2", "x3"]) fresh.set(key, {});
  assert.deepEqual(fresh.splitKeys(() => assert.fail("none hashed")), [
    "x1",
    "x2",
    "x3",
  ]);
  assert.equal(fresh.get("x0"), undefined);
  assert.equal(fresh.get("x9"), undefined);
});
