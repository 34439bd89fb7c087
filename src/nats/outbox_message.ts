/**
 * What the outbox relay publishes to JetStream, for the receiving side:
 * one message per event, on the subject
 * `<prefix>.<partition>.<AggregateType>.<aggregateId>`, with the event's
 * payload (JSON text) as its body and these headers:
 *
 * | Header | Value |
 * |---|---|
 * | `Nats-Msg-Id` | `<aggregateId>/<sequenceNumber>`: JetStream drops a repeat within its duplicate window |
 * | `Sequent-Position` | the event's position in the store (the relay resumes after the last one of each partition) |
 * | `Sequent-Aggregate-Id` | the aggregate's id |
 * | `Sequent-Aggregate-Type` | the aggregate's type |
 * | `Sequent-Aggregate-Seq` | the event's sequence number in its aggregate |
 * | `Sequent-Event-Type` | the event's type |
 * | `Sequent-Created-At` | when the event was stored, ISO 8601 |
 * | `traceparent`, `tracestate` | only when the relay is traced (its `telemetry` option) and the span is sampled: the W3C trace context of the relay's `send <prefix>` producer span for the batch, which links to the commands that stored the events. A consumer links its own span to it (or, for a single message, may take it as its parent) |
 *
 * A partition's messages are in its aggregates' commit order, so the
 * messages of one aggregate are in sequence order, with no gap and no
 * repeat.
 *
 * @module
 */

/**
 * The names of the headers the relay sets; see the module documentation.
 *
 * @example
 * ```ts
 * import { OUTBOX_HEADERS } from "@sequent/core/nats";
 *
 * console.assert(OUTBOX_HEADERS.aggregateSequence === "Sequent-Aggregate-Seq");
 * ```
 */
export const OUTBOX_HEADERS: {
  readonly messageId: "Nats-Msg-Id";
  readonly position: "Sequent-Position";
  readonly aggregateId: "Sequent-Aggregate-Id";
  readonly aggregateType: "Sequent-Aggregate-Type";
  readonly aggregateSequence: "Sequent-Aggregate-Seq";
  readonly eventType: "Sequent-Event-Type";
  readonly createdAt: "Sequent-Created-At";
  readonly traceparent: "traceparent";
  readonly tracestate: "tracestate";
} = {
  messageId: "Nats-Msg-Id",
  position: "Sequent-Position",
  aggregateId: "Sequent-Aggregate-Id",
  aggregateType: "Sequent-Aggregate-Type",
  aggregateSequence: "Sequent-Aggregate-Seq",
  eventType: "Sequent-Event-Type",
  createdAt: "Sequent-Created-At",
  traceparent: "traceparent",
  tracestate: "tracestate",
} as const;

const TOKEN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Checks a subject prefix: one or more tokens of letters, digits, `_` and
 * `-`, separated by dots (no wildcards, no spaces).
 *
 * @example
 * ```ts
 * import { checkSubjectPrefix } from "@sequent/core/nats";
 *
 * console.assert(checkSubjectPrefix("blog.events") === "blog.events");
 * ```
 *
 * @param prefix The prefix.
 * @returns The prefix.
 * @throws {TypeError} naming it when it is not one.
 */
export function checkSubjectPrefix(prefix: string): string {
  if (typeof prefix !== "string" || !TOKEN.test(prefix)) {
    throw new TypeError(
      `A subject prefix is dot-separated tokens of letters, digits, "_" and "-", got ${
        JSON.stringify(prefix)
      }`,
    );
  }
  return prefix;
}

/**
 * The subject an event is published on.
 *
 * @example
 * ```ts
 * import { outboxSubject } from "@sequent/core/nats";
 *
 * const id = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
 * console.assert(outboxSubject("blog", 34, "Post", id) === `blog.34.Post.${id}`);
 * ```
 *
 * @param prefix The relay's subject prefix.
 * @param partition The event's partition.
 * @param aggregateType Its aggregate's type (dots become `_`: a subject
 *   token holds no dot).
 * @param aggregateId Its aggregate's id.
 * @returns The subject.
 */
export function outboxSubject(
  prefix: string,
  partition: number,
  aggregateType: string,
  aggregateId: string,
): string {
  return `${prefix}.${partition}.${
    aggregateType.replace(/[^A-Za-z0-9_-]/g, "_")
  }.${aggregateId}`;
}

/**
 * The subject filter of one partition's messages.
 *
 * @example
 * ```ts
 * import { partitionSubjects } from "@sequent/core/nats";
 *
 * console.assert(partitionSubjects("blog", 3) === "blog.3.>");
 * ```
 *
 * @param prefix The relay's subject prefix.
 * @param partition The partition.
 * @returns A filter subject.
 */
export function partitionSubjects(prefix: string, partition: number): string {
  return `${prefix}.${partition}.>`;
}
