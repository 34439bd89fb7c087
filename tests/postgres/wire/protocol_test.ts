/**
 * Framing of the protocol's messages: whatever the chunks the socket hands
 * over, each message comes out whole, once, in order.
 */
import assert from "node:assert/strict";
import {
  copyDataMessage,
  copyDataTextMessage,
  MessageReader,
  MessageWriter,
  parseServerFields,
  ProtocolError,
} from "../../../src/postgres/_wire/protocol.ts";

function messages(): Uint8Array {
  const w = new MessageWriter();
  for (let i = 0; i < 50; i++) {
    w.begin(0x44).cstring(`row ${i} ${"é".repeat(i)}`).end();
  }
  w.begin(0x5a).byte(0x49).end();
  return w.take();
}

Deno.test("MessageReader gives each message whole, once and in order, however the bytes are cut", () => {
  const bytes = messages();
  const expected: string[] = [];
  new MessageReader().push(bytes, (type, body) => {
    expected.push(`${type}:${new TextDecoder().decode(body)}`);
  });
  assert.equal(expected.length, 51);
  for (const size of [1, 2, 3, 7, 64, 1000]) {
    const got: string[] = [];
    const reader = new MessageReader();
    for (let at = 0; at < bytes.length; at += size) {
      reader.push(bytes.slice(at, at + size), (type, body) => {
        got.push(`${type}:${new TextDecoder().decode(body)}`);
      });
    }
    assert.deepEqual(got, expected, `chunks of ${size}`);
  }
});

Deno.test("MessageReader refuses a length that breaks the protocol", () => {
  const bad = new Uint8Array([0x44, 0, 0, 0, 2]);
  assert.throws(
    () => new MessageReader().push(bad, () => {}),
    ProtocolError,
  );
});

Deno.test("parseServerFields() reads an ErrorResponse's fields by their codes", () => {
  const w = new MessageWriter();
  w.byte(0x53).cstring("ERROR").byte(0x43).cstring("23505").byte(0x4d)
    .cstring("duplicate key").byte(0x6e).cstring("users_email_key").byte(0);
  assert.deepEqual(parseServerFields(w.take()), {
    code: "23505",
    message: "duplicate key",
    constraint: "users_email_key",
  });
});

Deno.test("copyDataTextMessage() is the CopyData message of the text's UTF-8", () => {
  const encoder = new TextEncoder();
  for (const text of ["a\tb\n", "", "déjà vu 😀\n", "x".repeat(70000)]) {
    assert.deepEqual(
      copyDataTextMessage(text),
      copyDataMessage(encoder.encode(text)),
      text.slice(0, 20),
    );
  }
});
