/**
 * Command ids: UUIDv7 (RFC 9562), whose leading 48 bits are the time in
 * milliseconds, so ids made one after another sort together and a unique
 * index on them grows at its end rather than everywhere. Built from the
 * runtime's native random UUID (v4) with the time written over its first
 * twelve hex digits and the version digit set to 7.
 *
 * @module
 */

/** A new command id: a version 7 UUID in lowercase. */
export function newCommandId(): string {
  const random = crypto.randomUUID();
  const ms = Date.now().toString(16).padStart(12, "0");
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${random.slice(15)}`;
}
