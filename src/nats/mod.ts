/**
 * Delivering events to other services through NATS JetStream. Load it as
 * `@sequent/core/nats`: the root entry never loads the NATS client.
 *
 * - {@linkcode OutboxRelay} publishes the event types an application
 *   declares public, in each aggregate's order, none lost and none twice.
 * - {@linkcode EventConsumer} is the receiving side: each aggregate's
 *   events in order, each once (through an `Inbox`), a failing one parked
 *   with its aggregate's later ones behind it.
 * - {@linkcode outboxSubject}, {@linkcode partitionSubjects} and
 *   {@linkcode OUTBOX_HEADERS} say what the receiving side gets.
 * - {@linkcode natsOutboxView} shows, per partition, the relay's checkpoint
 *   against the last message the stream holds: the event browser's outbox
 *   page (its `outbox` option).
 *
 * @example
 * ```ts
 * import { outboxSubject } from "@sequent/core/nats";
 *
 * console.assert(outboxSubject("blog", 0, "Post", "x").startsWith("blog.0.Post."));
 * ```
 *
 * @module
 */
export {
  checkSubjectPrefix,
  OUTBOX_HEADERS,
  outboxSubject,
  partitionSubjects,
} from "./outbox_message.ts";
export {
  OutboxRelay,
  type OutboxRelayOptions,
  type OutboxRelayState,
  type OutboxRelayStatus,
} from "./outbox_relay.ts";
export { natsOutboxView, type NatsOutboxViewOptions } from "./outbox_view.ts";
export type {
  OutboxDescription,
  OutboxMessageView,
  OutboxPartitionState,
  OutboxPartitionView,
  OutboxView,
} from "../core/outbox_view.ts";
export {
  EventConsumer,
  type EventConsumerOptions,
  type EventConsumerState,
  type EventConsumerStatus,
  type IncomingEvent,
  type IncomingEventHandler,
} from "./event_consumer.ts";
