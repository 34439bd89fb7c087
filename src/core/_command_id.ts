/**
 * Command ids: UUIDv7 (RFC 9562), whose leading 48 bits are the time in
 * milliseconds, so ids made one after another sort together and a unique
 * index on them grows at its end rather than everywhere. Built from the
 * runtime's native random UUID (v4) with the time written over its first
 * twelve hex digits and the version digit set to 7.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A new command id: a version 7 UUID in lowercase. */
export function newCommandId(): string {
  const random = crypto.randomUUID();
  const ms = Date.now().toString(16).padStart(12, "0");
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${random.slice(15)}`;
}

/**
 * The command id derived from `key` (a name-based UUID, version 5 layout,
 * SHA-1 of the key): the same key always gives the same id. A processor
 * derives the ids of a workflow's commands from the event it handles, so
 * handling that event again cannot store them twice.
 */
export function derivedCommandId(key: string): string {
  const hash = createHash("sha1").update(key).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${
    hex.slice(16, 20)
  }-${hex.slice(20, 32)}`;
}
