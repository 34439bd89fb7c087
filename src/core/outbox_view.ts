/**
 * The outbox seen from outside: per partition, where the outbox relay's
 * checkpoint stands and what the last message the broker holds for that
 * partition is. The event browser's outbox page reads it (a port: the
 * browser knows no broker); `natsOutboxView` in `@sequent/core/nats`
 * implements it for JetStream. Types only: no I/O here.
 *
 * @module
 */
import type { StreamPosition } from "./event_reader.ts";

/**
 * Which relay an {@linkcode OutboxView} looks at, for the page's title.
 *
 * @example
 * ```ts
 * import type { OutboxDescription } from "@sequent/core/browser";
 *
 * const description: OutboxDescription = { relay: "outbox", stream: "BLOG", prefix: "blog" };
 * ```
 */
export interface OutboxDescription {
  /** The relay's processor name (its claims and checkpoints). */
  readonly relay: string;
  /** The stream it publishes to. */
  readonly stream: string;
  /** Its subjects' prefix: it publishes on `<prefix>.<partition>.>`. */
  readonly prefix: string;
}

/**
 * The last message the broker holds for a partition, and the event it
 * carries (from its headers; `undefined` for a header it lacks).
 *
 * @example
 * ```ts
 * import type { OutboxMessageView } from "@sequent/core/browser";
 *
 * const last: OutboxMessageView = {
 *   streamSequence: 42,
 *   subject: "blog.3.Post.6ba7b810-9dad-11d1-80b4-00c04fd430c8",
 *   storedAt: new Date("2026-12-05T10:00:00Z"),
 *   aggregateId: "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
 *   sequenceNumber: 2,
 *   eventType: "PostPublished",
 *   position: "0000000000000107",
 * };
 * ```
 */
export interface OutboxMessageView {
  /** Its sequence number in the stream. */
  readonly streamSequence: number;
  /** Its subject. */
  readonly subject: string;
  /** When the broker stored it. */
  readonly storedAt: Date;
  /** The event's aggregate. */
  readonly aggregateId: string | undefined;
  /** The event's sequence number in its aggregate. */
  readonly sequenceNumber: number | undefined;
  /** The event's type. */
  readonly eventType: string | undefined;
  /** The event's position in the store. */
  readonly position: StreamPosition | undefined;
}

/**
 * How a partition's checkpoint and its last message agree:
 *
 * - `in step`: the checkpoint is at or past the last message: the broker
 *   holds no event the relay has not recorded as done;
 * - `checkpoint behind`: the broker holds a message past the checkpoint:
 *   the relay published it and has not stored its checkpoint yet (it is
 *   in the middle of a batch, or stopped between a PubAck and its
 *   checkpoint; it skips that message when it resumes);
 * - `no message`: the broker holds no message for the partition (none of
 *   its events has been published, or the stream lost them);
 * - `unknown`: the last message carries no store position (something else
 *   published on the relay's subjects).
 *
 * How far the relay is behind the event store is its lag, which the
 * processors' status tells.
 *
 * @example
 * ```ts
 * import type { OutboxPartitionState } from "@sequent/core/browser";
 *
 * const state: OutboxPartitionState = "in step";
 * ```
 */
export type OutboxPartitionState =
  | "in step"
  | "checkpoint behind"
  | "no message"
  | "unknown";

/**
 * One partition of the outbox.
 *
 * @example
 * ```ts
 * import type { OutboxPartitionView } from "@sequent/core/browser";
 *
 * function line(p: OutboxPartitionView): string {
 *   return `${p.partition} (${p.owner ?? "nobody"}): ${p.state}, last #${p.lastMessage?.streamSequence ?? "-"}`;
 * }
 * ```
 */
export interface OutboxPartitionView {
  /** The partition. */
  readonly partition: number;
  /** The relay holding it, if one does. */
  readonly owner: string | undefined;
  /** The relay's checkpoint for it (`""`: the start). */
  readonly checkpoint: StreamPosition;
  /** The last message the broker holds for it, if any. */
  readonly lastMessage: OutboxMessageView | undefined;
  /** How the checkpoint and the last message agree. */
  readonly state: OutboxPartitionState;
}

/**
 * The outbox relay's partitions against the broker's last messages: what
 * the event browser's outbox page shows (give one to `createEventBrowser`
 * as its `outbox` option).
 *
 * @example A hand-made view (a test's, say)
 * ```ts
 * import type { OutboxView } from "@sequent/core/browser";
 *
 * const view: OutboxView = {
 *   description: { relay: "outbox", stream: "BLOG", prefix: "blog" },
 *   partitions: () =>
 *     Promise.resolve([
 *       { partition: 0, owner: "relay-1", checkpoint: "", lastMessage: undefined, state: "no message" },
 *     ]),
 * };
 * ```
 */
export interface OutboxView {
  /** The relay's name, stream and subject prefix. */
  readonly description: OutboxDescription;
  /**
   * Per partition (at most 1,024, in partition order): the relay's
   * checkpoint and owner, and the last message the broker holds.
   *
   * @returns The partitions.
   * @throws {Error} with a message for an operator when the broker or the
   *   store does not answer in time.
   */
  partitions(): Promise<readonly OutboxPartitionView[]>;
}
