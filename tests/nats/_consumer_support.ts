/**
 * Helpers of event_consumer_test.ts: a deadline for a promise (from
 * `../_within.ts`), an event published as the relay would, and an inbox as
 * a process killed at one point of its work leaves it.
 */
import { connect, headers } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import type { Inbox } from "@sequent/core";
import { OUTBOX_HEADERS, outboxSubject } from "@sequent/core/nats";

export { within } from "../_within.ts";

/** One event, as the relay publishes it. */
export interface PublishedEvent {
  readonly prefix: string;
  readonly partition: number;
  readonly aggregateId: string;
  readonly sequenceNumber: number;
  readonly payload: { readonly n: number };
}

/** Publishes `e` to the JetStream server at `servers`, with the relay's headers. */
export async function publishEvent(
  servers: string,
  e: PublishedEvent,
): Promise<void> {
  const nc = await connect({ servers });
  try {
    const h = headers();
    h.set(OUTBOX_HEADERS.messageId, `${e.aggregateId}/${e.sequenceNumber}`);
    h.set(OUTBOX_HEADERS.aggregateId, e.aggregateId);
    h.set(OUTBOX_HEADERS.aggregateType, "Thing");
    h.set(OUTBOX_HEADERS.aggregateSequence, String(e.sequenceNumber));
    h.set(OUTBOX_HEADERS.eventType, "Consumer_Happened");
    h.set(OUTBOX_HEADERS.position, String(e.sequenceNumber));
    h.set(OUTBOX_HEADERS.createdAt, new Date().toISOString());
    await jetstream(nc).publish(
      outboxSubject(e.prefix, e.partition, "Thing", e.aggregateId),
      JSON.stringify(e.payload),
      { headers: h },
    );
  } finally {
    await nc.close();
  }
}

/** Where a process is killed: right after a call of the inbox that did this. */
export type KillPoint =
  /** a `takeBack` that forgot a message */
  | "took back"
  /** a `handleOnce` of a set-aside message (`retrying`) that handled it */
  | "handled again";

/** An inbox as seen by a process killed at a {@linkcode KillPoint}. */
export interface KilledInbox {
  /** The inbox to give the process. */
  readonly inbox: Inbox;
  /** Resolves when the kill point is reached. */
  readonly killed: Promise<void>;
}

/**
 * `inner`, as a process that is SIGKILLed at `point` sees it: the call that
 * reaches it is done and committed, but the process never learns it (the
 * call fails), and from then on nothing it does reaches the inbox.
 */
export function killedAt(inner: Inbox, point: KillPoint): KilledInbox {
  let dead = false;
  let kill: () => void = () => {};
  const killed = new Promise<void>((r) => kill = r);
  const gone = () => Promise.reject(new Error("the process was killed"));
  const die = () => {
    dead = true;
    kill();
    return gone();
  };
  const inbox: Inbox = {
    handleOnce: async (c, m, work, o) => {
      if (dead) return gone();
      const outcome = await inner.handleOnce(c, m, work, o);
      return point === "handled again" && o?.retrying === true &&
          outcome === "handled"
        ? die()
        : outcome;
    },
    setAside: (c, m, error) => dead ? gone() : inner.setAside(c, m, error),
    setAsideMessages: (c, aggregateId) =>
      dead ? gone() : inner.setAsideMessages(c, aggregateId),
    request: (c, aggregateId, r) =>
      dead ? gone() : inner.request(c, aggregateId, r),
    takeBack: async (c, ids, o) => {
      if (dead) return gone();
      const forgotten = await inner.takeBack(c, ids, o);
      return point === "took back" && forgotten > 0 ? die() : forgotten;
    },
  };
  return { inbox, killed };
}
