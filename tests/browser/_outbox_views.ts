/**
 * Hand-made outbox views for the outbox page's tests (the page depends on
 * a port: its tests need no broker), holding the injection corpus in
 * owner names, checkpoints, subjects, event types and ids.
 */
import type { OutboxPartitionView, OutboxView } from "@sequent/core/browser";
import { CORPUS, HOSTILE } from "./_browser_app.ts";

/**
 * Partitions 0 to 3: in step (its last message carries event 3 of
 * `post`), behind, no message, a foreign message.
 */
export function hostilePartitions(post: string): OutboxPartitionView[] {
  const at = new Date("2026-12-05T10:00:00Z");
  return [
    {
      partition: 0,
      owner: "relay-a",
      checkpoint: "0000000000000012",
      lastMessage: {
        streamSequence: 41,
        subject: `blog.0.Post.${post}`,
        storedAt: at,
        aggregateId: post,
        sequenceNumber: 3,
        eventType: "PostPublished",
        position: "0000000000000011",
      },
      state: "in step",
    },
    {
      partition: 1,
      owner: HOSTILE,
      checkpoint: CORPUS[1]!,
      lastMessage: {
        streamSequence: 42,
        subject: `blog.1.${CORPUS[2]}`,
        storedAt: at,
        aggregateId: CORPUS[0]!,
        sequenceNumber: 7,
        eventType: CORPUS[3]!,
        position: CORPUS[5]!,
      },
      state: "checkpoint behind",
    },
    {
      partition: 2,
      owner: undefined,
      checkpoint: "",
      lastMessage: undefined,
      state: "no message",
    },
    {
      partition: 3,
      owner: CORPUS[6]!,
      checkpoint: CORPUS[9]!,
      lastMessage: {
        streamSequence: 43,
        subject: CORPUS[10]!,
        storedAt: at,
        aggregateId: undefined,
        sequenceNumber: undefined,
        eventType: undefined,
        position: undefined,
      },
      state: "unknown",
    },
  ];
}

/** A view that reads its partitions with `read`. */
export function fakeView(
  read: () => Promise<readonly OutboxPartitionView[]>,
  relay = "outbox",
): OutboxView {
  return {
    description: { relay, stream: "BLOG", prefix: "blog" },
    partitions: read,
  };
}
