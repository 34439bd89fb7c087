import assert from "node:assert/strict";
import { counted } from "../../src/core/_counted.ts";

Deno.test("counted() gives the singular for one and the plural for any other count", () => {
  assert.equal(counted(1, "row"), "1 row");
  assert.equal(counted(0, "row"), "0 rows");
  assert.equal(counted(2, "event"), "2 events");
  assert.equal(counted(1, "entry", "entries"), "1 entry");
  assert.equal(counted(3, "entry", "entries"), "3 entries");
});
