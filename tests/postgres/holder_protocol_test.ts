/**
 * The protocol between the holder of an embedded database and the
 * processes it serves: values survive the trip whatever their type, and
 * frames are read back whole however the bytes are cut, and errors keep
 * their class.
 */
import assert from "node:assert/strict";
import { SqlError } from "../../src/postgres/sql_error.ts";
import {
  bytesFrame,
  decodeError,
  decodeRow,
  decodeValue,
  encodeError,
  encodeRow,
  encodeValue,
  type Frame,
  FrameWriter,
  jsonFrame,
  readFrames,
} from "../../src/postgres/_holder_protocol.ts";

/** Bytes handed out in the given chunk sizes, in turn. */
function source(bytes: Uint8Array, sizes: readonly number[]) {
  let at = 0;
  let turn = 0;
  return {
    read(into: Uint8Array): Promise<number | null> {
      if (at >= bytes.length) return Promise.resolve(null);
      const size = Math.min(
        sizes[turn++ % sizes.length]!,
        into.length,
        bytes.length - at,
      );
      into.set(bytes.subarray(at, at + size));
      at += size;
      return Promise.resolve(size);
    },
  };
}

async function framesOf(bytes: Uint8Array, sizes: readonly number[]) {
  const frames: Frame[] = [];
  for await (const frame of readFrames(source(bytes, sizes))) {
    frames.push(frame);
  }
  return frames;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

Deno.test("every value a row or a parameter holds comes back as it was, arrays and objects included", () => {
  const row = {
    nothing: null,
    yes: true,
    n: -1.5,
    text: 'tab\t"quote" ["a", 1]',
    big: -9007199254740993n,
    nan: Number.NaN,
    inf: Number.POSITIVE_INFINITY,
    ninf: Number.NEGATIVE_INFINITY,
    at: new Date("2026-01-02T03:04:05.678Z"),
    never: new Date(Number.NaN),
    bytes: new Uint8Array([0, 255, 16]),
    list: [1, ["nested", null], new Date(0)],
    object: { a: [1n], b: { c: "d" } },
    missing: undefined,
  };
  const trip = decodeRow(JSON.parse(JSON.stringify(encodeRow(row))));
  assert.deepEqual(trip, row);
  assert.equal(Object.getPrototypeOf(trip), Object.prototype);
  // a JSON array is always a tag, so text that looks like one stays text
  assert.equal(decodeValue(encodeValue('["b", "1"]')), '["b", "1"]');
  assert.throws(() => encodeValue(() => {}), /Cannot send a function/);
  assert.throws(() => decodeValue(["?", 1]), /Unknown value tag "\?"/);
});

Deno.test("frames are read back whole however the bytes are cut, and the stream ends with the connection", async () => {
  const big = new Uint8Array(300_000).map((_, i) => i % 251);
  const frames = [
    jsonFrame({ t: "hello", v: 1 }),
    bytesFrame(7, big),
    jsonFrame({ t: "done", id: 3, result: ["x".repeat(100_000)] }),
    bytesFrame(8, new Uint8Array()),
  ];
  const bytes = concat(frames);
  for (const sizes of [[bytes.length], [1], [3, 5, 7], [65_536], [70_001, 2]]) {
    const read = await framesOf(bytes, sizes);
    assert.equal(read.length, 4, `${sizes}`);
    assert.deepEqual(read[0], { kind: "json", message: { t: "hello", v: 1 } });
    assert.deepEqual(read[1], { kind: "bytes", id: 7, bytes: big });
    assert.deepEqual(read[2], {
      kind: "json",
      message: { t: "done", id: 3, result: ["x".repeat(100_000)] },
    });
    assert.deepEqual(read[3], {
      kind: "bytes",
      id: 8,
      bytes: new Uint8Array(),
    });
  }
});

Deno.test("a peer that does not speak the protocol is told apart", async () => {
  const zero = new Uint8Array([0, 0, 0, 0]);
  await assert.rejects(framesOf(zero, [4]), /Bad frame length 0/);
  const huge = new Uint8Array([0x7f, 0xff, 0xff, 0xff]);
  await assert.rejects(framesOf(huge, [4]), /Bad frame length/);
  const kind = new Uint8Array([0, 0, 0, 1, 9]);
  await assert.rejects(framesOf(kind, [5]), /Bad frame kind 9/);
});

Deno.test("the writer sends frames in order, gathering those of one turn, and stops quietly once a write fails", async () => {
  const writes: Uint8Array[] = [];
  const writer = new FrameWriter({
    write(bytes: Uint8Array): Promise<number> {
      // a socket may take part of a write
      const taken = Math.min(bytes.length, 1000);
      writes.push(bytes.slice(0, taken));
      return Promise.resolve(taken);
    },
  });
  const frames = Array.from(
    { length: 50 },
    (_, i) => bytesFrame(i, new Uint8Array(i * 10)),
  );
  for (const frame of frames) writer.send(frame);
  await writer.drained();
  assert.deepEqual(concat(writes), concat(frames));
  assert.ok(writes.length < frames.length);

  let calls = 0;
  const broken = new FrameWriter({
    write(): Promise<number> {
      calls++;
      return Promise.reject(new Error("EPIPE"));
    },
  });
  broken.send(jsonFrame({ t: "hello", v: 1 }));
  await broken.drained();
  broken.send(jsonFrame({ t: "hello", v: 1 }));
  await broken.drained();
  assert.equal(calls, 1);
});

Deno.test("errors travel as their class: SqlError with its fields, the standard TypeError and RangeError as themselves, others by name", () => {
  const back = (error: unknown) => decodeError(encodeError(error));
  const sql = back(
    new SqlError("duplicate key", { code: "23505", constraint: "k" }),
  );
  assert.ok(sql instanceof SqlError);
  assert.equal(sql.code, "23505");
  assert.equal(sql.constraint, "k");
  const type = back(new TypeError("Cannot send a function to the database"));
  assert.ok(type instanceof TypeError);
  assert.equal(type.message, "Cannot send a function to the database");
  assert.ok(back(new RangeError("Too many parameters")) instanceof RangeError);
  class Custom extends Error {
    override name = "Custom";
  }
  const custom = back(new Custom("mine"));
  assert.equal(custom.constructor, Error);
  assert.equal(custom.name, "Custom");
  // a name that is a property of every object is only a name
  const odd = new Error("odd");
  odd.name = "constructor";
  assert.equal(back(odd).constructor, Error);
});
