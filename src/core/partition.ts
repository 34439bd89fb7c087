/**
 * Partitions: every aggregate, and so every one of its events, belongs to
 * one of a store's P partitions, fixed when the aggregate is first stored.
 * Processors and the outbox relay share out partitions, not aggregates: one
 * partition's events come in each aggregate's commit order, so whoever
 * owns a partition sees each of its aggregates in order.
 *
 * The partition of an aggregate is `xxh32(id) mod P`, where `xxh32` is
 * xxHash32 with seed 0 over the 16 bytes of the aggregate's UUID (in the
 * order they are written, `00112233-4455-…`). The function is stable: it
 * never changes between versions, and the PostgreSQL store computes the
 * same in SQL (`partition_hash(uuid)`). P is fixed per store: 64 unless the
 * store was created with another count.
 *
 * It is the aggregate's id that is hashed, not its `events_partition_key`:
 * that key lays out storage and may change over an aggregate's life, while
 * a processing partition must not, or a later event could be handled by
 * another member before an earlier one.
 *
 * @module
 */
import { hexDigitValue } from "./_hex.ts";
import { isUuidAnyCase } from "./_uuid.ts";

/**
 * How many partitions a store has unless it was created with another
 * count.
 *
 * @example
 * ```ts
 * import { DEFAULT_PARTITION_COUNT } from "@sequent/core";
 *
 * console.assert(DEFAULT_PARTITION_COUNT === 64);
 * ```
 */
export const DEFAULT_PARTITION_COUNT: number = 64;

/**
 * The largest partition count a store accepts.
 *
 * @example
 * ```ts
 * import { MAX_PARTITION_COUNT } from "@sequent/core";
 *
 * console.assert(MAX_PARTITION_COUNT === 1024);
 * ```
 */
export const MAX_PARTITION_COUNT: number = 1024;

const PRIME1 = 2654435761;
const PRIME2 = 2246822519;
const PRIME3 = 3266489917;

/** Where each of a UUID's 32 hex digits is in its text (the rest: dashes). */
const DIGIT_AT: readonly number[] = Array.from({ length: 36 }, (_, i) => i)
  .filter((i) => i !== 8 && i !== 13 && i !== 18 && i !== 23);

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/**
 * One little-endian 32-bit word of a UUID's bytes (bytes `4 * k` to
 * `4 * k + 3`), read straight off its text, which is a UUID.
 */
function word(id: string, k: number): number {
  let out = 0;
  for (let b = 0; b < 4; b++) {
    const d = (k * 4 + b) * 2;
    const high = hexDigitValue(id.charCodeAt(DIGIT_AT[d]!));
    const low = hexDigitValue(id.charCodeAt(DIGIT_AT[d + 1]!));
    out |= ((high << 4) | low) << (8 * b);
  }
  return out >>> 0;
}

function round(acc: number, input: number): number {
  return Math.imul(rotl((acc + Math.imul(input, PRIME2)) | 0, 13), PRIME1);
}

/**
 * The 32-bit hash a partition is taken from: xxHash32 (seed 0) of the 16
 * bytes of a UUID. See the module documentation.
 *
 * @example
 * ```ts
 * import { partitionHash } from "@sequent/core/internal";
 *
 * const h = partitionHash("00000000-0000-4000-8000-000000000000");
 * console.assert(h >= 0 && h <= 0xffffffff);
 * ```
 *
 * @param aggregateId A UUID, in either case.
 * @returns An unsigned 32-bit integer.
 * @throws {TypeError} when `aggregateId` is not a UUID.
 */
export function partitionHash(aggregateId: string): number {
  if (!isUuidAnyCase(aggregateId)) {
    throw new TypeError(
      `An aggregate id must be a UUID to have a partition, got ${
        JSON.stringify(aggregateId)
      }`,
    );
  }
  // 16 bytes: one stripe of four lanes, then the length, then the avalanche
  let v1 = (PRIME1 + PRIME2) | 0;
  let v2 = PRIME2 | 0;
  let v3 = 0;
  let v4 = -PRIME1 | 0;
  v1 = round(v1, word(aggregateId, 0));
  v2 = round(v2, word(aggregateId, 1));
  v3 = round(v3, word(aggregateId, 2));
  v4 = round(v4, word(aggregateId, 3));
  let h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  h = (h + 16) | 0;
  h ^= h >>> 15;
  h = Math.imul(h, PRIME2);
  h ^= h >>> 13;
  h = Math.imul(h, PRIME3);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Checks a partition count: an integer from 1 to
 * {@linkcode MAX_PARTITION_COUNT}.
 *
 * @example
 * ```ts
 * import { checkPartitionCount } from "@sequent/core/internal";
 *
 * console.assert(checkPartitionCount(64) === 64);
 * ```
 *
 * @param count The count.
 * @returns The count.
 * @throws {RangeError} naming the count otherwise.
 */
export function checkPartitionCount(count: number): number {
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITION_COUNT) {
    throw new RangeError(
      `A partition count must be an integer from 1 to ${MAX_PARTITION_COUNT}, got ${count}`,
    );
  }
  return count;
}

/**
 * The partition an aggregate belongs to in a store of `count` partitions.
 *
 * @example
 * ```ts
 * import { partitionOf } from "@sequent/core";
 *
 * const p = partitionOf(crypto.randomUUID(), 64);
 * console.assert(p >= 0 && p < 64);
 * ```
 *
 * @param aggregateId The aggregate's id, a UUID.
 * @param count The store's partition count (default 64).
 * @returns A number from 0 to `count - 1`.
 * @throws {TypeError} when `aggregateId` is not a UUID.
 * @throws {RangeError} for a count that is not an integer from 1 to 1024.
 */
export function partitionOf(
  aggregateId: string,
  count: number = DEFAULT_PARTITION_COUNT,
): number {
  return partitionHash(aggregateId) % checkPartitionCount(count);
}

/**
 * Checks a list of partition numbers, as a reader's filter takes them:
 * integers from 0 to {@linkcode MAX_PARTITION_COUNT} − 1.
 *
 * @example
 * ```ts
 * import { checkPartitions } from "@sequent/core/internal";
 *
 * console.assert(checkPartitions([0, 5]).length === 2);
 * ```
 *
 * @param partitions The partition numbers.
 * @returns The same list.
 * @throws {RangeError} naming the first that is not one.
 */
export function checkPartitions(
  partitions: readonly number[],
): readonly number[] {
  for (const p of partitions) {
    if (!Number.isInteger(p) || p < 0 || p >= MAX_PARTITION_COUNT) {
      throw new RangeError(
        `A partition is an integer from 0 to ${
          MAX_PARTITION_COUNT - 1
        }, got ${p}`,
      );
    }
  }
  return partitions;
}
