import assert from "node:assert/strict";
import { InMemoryEventStore } from "@sequent/core";
import { testEventStore } from "@sequent/core/testing";
import { readEnv } from "../../src/testing/test_store.ts";

Deno.test({
  name:
    "testEventStore() gives a fresh, empty in-memory store each call without DATABASE_URL",
  ignore: Deno.env.get("DATABASE_URL") !== undefined,
}, async () => {
  const first = await testEventStore();
  const second = await testEventStore();
  assert.ok(first instanceof InMemoryEventStore);
  assert.notEqual(first, second);
  assert.equal(await first.positionMark(), "0");
  assert.deepEqual(await first.eventsSince("0"), []);
});

Deno.test("readEnv() reads a set variable and gives undefined for an unset one", () => {
  const name = `SEQUENT_TEST_${crypto.randomUUID().replaceAll("-", "_")}`;
  assert.equal(readEnv(name), undefined);
  Deno.env.set(name, "value");
  try {
    assert.equal(readEnv(name), "value");
  } finally {
    Deno.env.delete(name);
  }
});
