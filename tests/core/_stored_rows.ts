/**
 * Rows as an earlier process stored them: events this process never built,
 * so reading them back depends on what it knows of their type names.
 */
import type { EventStore } from "@sequent/core";

/**
 * Stores one stream of `events` (payloads as JSON text) with a command of
 * its own, numbered from 1.
 *
 * @param snapshotThreshold Marks the aggregate for a snapshot from that
 *   many events (none: not marked).
 */
export function storeRows(
  store: EventStore,
  aggregateType: string,
  aggregateId: string,
  events: readonly { eventType: string; payload: string }[],
  snapshotThreshold?: number,
): Promise<void> {
  return store.transaction((tx) =>
    tx.commit({
      commandType: "Earlier",
      aggregateId,
      userId: undefined,
      eventAggregateId: undefined,
      eventSequenceNumber: undefined,
      payload: "{}",
    }, [{
      aggregateId,
      aggregateType,
      partitionKey: "",
      uniqueKeys: undefined,
      snapshotThreshold,
      events: events.map((e, i) => ({
        ...e,
        aggregateId,
        sequenceNumber: i + 1,
        createdAt: new Date(),
      })),
    }])
  );
}
