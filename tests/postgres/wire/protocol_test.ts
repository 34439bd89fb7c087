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

Deno.test("MessageReader hands CopyData to onCopyData as a range of the bytes read, and to onMessage when onCopyData declines", () => {
  const w = new MessageWriter();
  for (let i = 0; i < 40; i++) w.begin(0x64).cstring(`copied ${i}`).end();
  w.begin(0x43).cstring("COPY 40").end();
  const bytes = w.take();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  // every third row declined: it comes through onMessage, in its place
  const expected = [
    ...Array.from(
      { length: 40 },
      (_, i) => `${i % 3 === 2 ? "message 100" : "range"} copied ${i}\0`,
    ),
    "message 67 COPY 40\0",
  ];
  for (const size of [1, 5, 13, 1000]) {
    const got: string[] = [];
    let offered = 0;
    const reader = new MessageReader();
    for (let at = 0; at < bytes.length; at += size) {
      reader.push(
        bytes.slice(at, at + size),
        (type, body) => got.push(`message ${type} ${text(body)}`),
        (data, start, end) => {
          if (offered++ % 3 === 2) return false;
          got.push(`range ${text(data.subarray(start, end))}`);
          return true;
        },
      );
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
