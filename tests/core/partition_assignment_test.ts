import assert from "node:assert/strict";
import { assignedPartitions } from "../../src/core/_partition_assignment.ts";

const names = (n: number, prefix = "member-") =>
  Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

/** Partition → member, as every member computes it. */
function owners(members: readonly string[], partitions: number) {
  const owner = new Map<number, string>();
  for (const m of members) {
    for (const p of assignedPartitions(members, partitions, m)) {
      assert.ok(!owner.has(p), `partition ${p} given twice`);
      owner.set(p, m);
    }
  }
  return owner;
}

Deno.test("members share every partition, none twice, none above ceil(P / members)", () => {
  for (
    const [n, partitions] of [[1, 64], [2, 64], [3, 64], [5, 64], [7, 16], [
      3,
      1024,
    ], [4, 3]] as const
  ) {
    const members = names(n);
    const owner = owners(members, partitions);
    assert.equal(owner.size, partitions);
    const cap = Math.ceil(partitions / n);
    for (const m of members) {
      const share = assignedPartitions(members, partitions, m);
      assert.ok(share.length <= cap, `${m}: ${share.length} > ${cap}`);
      assert.deepEqual(share, [...share].sort((a, b) => a - b));
    }
  }
});

Deno.test("every member computes the same shares, whatever order it lists the members in", () => {
  const members = names(4, "runner:");
  const reversed = [...members].reverse();
  for (const m of members) {
    assert.deepEqual(
      assignedPartitions(members, 64, m),
      assignedPartitions([...reversed, m], 64, m),
    );
  }
});

Deno.test("a member not on the list takes nothing", () => {
  assert.deepEqual(assignedPartitions(names(3), 64, "stranger"), []);
});

Deno.test("a member coming or going moves few partitions besides its own share", () => {
  const three = names(3);
  const before = owners(three, 64);
  const four = [...three, "member-4"];
  const joined = owners(four, 64);
  const movedIn = [...joined].filter(([p, m]) => before.get(p) !== m);
  // the newcomer's share, and a few more at most
  assert.ok(movedIn.length <= 16 + 4, `${movedIn.length} moved`);
  const two = three.slice(1);
  const left = owners(two, 64);
  const movedOut = [...left].filter(([p, m]) => before.get(p) !== m);
  const gone = [...before.values()].filter((m) => m === "member-1").length;
  assert.ok(movedOut.length <= gone + 4, `${movedOut.length} moved`);
});
