import assert from "node:assert/strict";
import { isUuid, isUuidAnyCase } from "../../src/core/_uuid.ts";

const REFERENCE =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("isUuid takes canonical lower-case UUIDs and nothing else", () => {
  for (let i = 0; i < 1000; i++) {
    const id = crypto.randomUUID();
    assert.ok(isUuid(id), id);
    assert.ok(!isUuid(id.toUpperCase()), id);
  }
  const id = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
  // every single character made wrong, in every position
  for (let at = 0; at < id.length; at++) {
    for (const wrong of ["g", "G", "-", "0", " ", "\u00e9", "\u0660"]) {
      const bad = id.slice(0, at) + wrong + id.slice(at + 1);
      assert.equal(isUuid(bad), REFERENCE.test(bad), JSON.stringify(bad));
    }
  }
  for (
    const bad of [
      "",
      id.slice(1),
      id + "0",
      ` ${id}`,
      id.replaceAll("-", ""),
      `{${id}}`,
      42,
      null,
      undefined,
      { toString: () => id },
    ]
  ) assert.equal(isUuid(bad), false, String(bad));
});

Deno.test("isUuidAnyCase takes the hex digits in either case", () => {
  const mixed = "6BA7B810-9dad-11D1-80b4-00C04FD430C8";
  const [lower, notHex, noDash, short] = [
    mixed.toLowerCase(),
    mixed.replace("B", "G"),
    mixed.replace("-", "_"),
    mixed.slice(0, 35),
  ];
  assert.equal(isUuidAnyCase(mixed), true);
  assert.equal(isUuid(mixed), false);
  assert.equal(isUuidAnyCase(lower), true);
  assert.equal(isUuidAnyCase(notHex), false);
  assert.equal(isUuidAnyCase(noDash), false);
  assert.equal(isUuidAnyCase(short), false);
});
