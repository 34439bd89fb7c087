import assert from "node:assert/strict";
import { isJsonObject } from "../../src/core/json.ts";

Deno.test("isJsonObject() accepts objects only, not null or arrays", () => {
  assert.equal(isJsonObject({ a: 1 }), true);
  assert.equal(isJsonObject({}), true);
  assert.equal(isJsonObject(null), false);
  assert.equal(isJsonObject([1]), false);
  assert.equal(isJsonObject("x"), false);
  assert.equal(isJsonObject(1), false);
});
