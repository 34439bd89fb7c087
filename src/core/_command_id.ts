/**
 * Command ids: UUIDv7 (RFC 9562), whose leading 48 bits are the time in
 * milliseconds, so ids made one after another sort together and a unique
 * index on them grows at its end rather than everywhere.
 *
 * @module
 */

const bytes = new Uint8Array(16);
const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);

/** A new command id: a version 7 UUID in lowercase. */
export function newCommandId(): string {
  crypto.getRandomValues(bytes);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const h = (i: number) => HEX[bytes[i]!]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${
    h(9)
  }-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
