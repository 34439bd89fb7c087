/**
 * The broker SIGKILLed under consumers that ack: a private JetStream
 * server (its store kept across restarts) is killed again and again while
 * consumers, each with an inbox of its own, ack in a tight loop. At most
 * kills the consumers are being stopped (an app shutting down as the
 * broker dies): each is made to hold a message in its handler, stopped,
 * the broker killed, and the handlers let go at moments spread around the
 * kill, so that acks go out, and the consumers close their connections,
 * just as the broker's end reaches the client. At the others the
 * consumers run through the kill and the restart.
 *
 * The process's default handlers stay: an uncaught exception or an
 * unhandled rejection fails the test. Before the fix, an ack written in
 * the turn the consumer closed its connection, to a socket the broker had
 * just ended, failed with "write after end", and the close had already
 * taken the client's `error` listener off the socket: an uncaught
 * exception (about one stopped consumer in ten here).
 *
 * At the end, with the broker up again, every message has been handled
 * exactly once by each consumer, each aggregate's in order: the acks lost
 * with the broker bring messages again, which the inboxes find handled.
 */
import assert from "node:assert/strict";
import { connect, headers } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import {
  column,
  InMemoryEventStore,
  InMemoryInbox,
  partitionOf,
  type RecordStore,
  silentLogger,
  table,
} from "@sequent/core";
import {
  EventConsumer,
  type IncomingEvent,
  OUTBOX_HEADERS,
  outboxSubject,
} from "@sequent/core/nats";
import { random } from "../_seeded_random.ts";
import {
  createStream,
  freshStream,
  type PrivateNats,
  startPrivateNats,
  until,
} from "./_nats.ts";

const CONSUMERS = 6;
const KILLS = 25;
const PARTITIONS = 2;
const AGGREGATES = 4;
/** Per aggregate. */
const EVENTS = 150;
const seed = Number(Deno.env.get("SEQUENT_KILL_SEED") ?? Date.now() % 100_000);

/** Per aggregate, the numbers of its events handled, in the order handled. */
const handled = table("broker_kill_handled", {
  aggregateId: column.text().primaryKey(),
  seqs: column.text(),
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function upTo(n: number): string {
  return Array.from({ length: n }, (_, i) => `${i + 1};`).join("");
}

/** Publishes `EVENTS` events of each aggregate, as the relay would. */
async function publishAll(
  nats: PrivateNats,
  prefix: string,
  ids: readonly string[],
): Promise<void> {
  const nc = await connect({ servers: nats.url });
  try {
    const js = jetstream(nc);
    for (let n = 1; n <= EVENTS; n++) {
      for (const id of ids) {
        const h = headers();
        h.set(OUTBOX_HEADERS.messageId, `${id}/${n}`);
        h.set(OUTBOX_HEADERS.aggregateId, id);
        h.set(OUTBOX_HEADERS.aggregateType, "Thing");
        h.set(OUTBOX_HEADERS.aggregateSequence, String(n));
        h.set(OUTBOX_HEADERS.eventType, "Kill_Happened");
        h.set(OUTBOX_HEADERS.position, String(n));
        h.set(OUTBOX_HEADERS.createdAt, new Date().toISOString());
        await js.publish(
          outboxSubject(prefix, partitionOf(id, PARTITIONS), "Thing", id),
          JSON.stringify({ n }),
          { headers: h },
        );
      }
    }
  } finally {
    await nc.close();
  }
}

Deno.test({
  name:
    `the broker SIGKILLed ${KILLS} times under ${CONSUMERS} consumers acking, most kills while they are stopped: nothing is thrown at the process, and each consumer handles every message exactly once, in order (seed ${seed})`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const next = random(seed);
    const nats = await startPrivateNats();
    const { stream, prefix } = freshStream();
    const ids = Array.from({ length: AGGREGATES }, () => crypto.randomUUID());
    const stores = Array.from(
      { length: CONSUMERS },
      () => new InMemoryEventStore(),
    );
    // one inbox per consumer for the whole test, as a database keeps it
    const inboxes = stores.map((s) => new InMemoryInbox(s));
    /** The handlers being held, each with its consumer. */
    const held: { consumer: number; release: () => void }[] = [];
    /** Per consumer, the calls of its handler, and how many run unheld. */
    const calls = stores.map(() => 0);
    const budget = stores.map(() => Infinity);
    const make = (i: number) =>
      new EventConsumer({
        name: `killed${i}`,
        inbox: inboxes[i]!,
        servers: nats.url,
        stream,
        prefix,
        partitions: PARTITIONS,
        // a lost ack holds its partition this long
        ackWaitMs: 300,
        logger: silentLogger,
        handler: async (e: IncomingEvent, records: RecordStore) => {
          if (calls[i]!++ >= budget[i]!) {
            await new Promise<void>((release) =>
              held.push({ consumer: i, release })
            );
          }
          const n = (e.payload as { n: number }).n;
          const [row] = await records.find(handled, {
            aggregateId: e.aggregateId,
          });
          if (row) {
            await records.update(handled, { aggregateId: e.aggregateId }, {
              seqs: `${row.seqs}${n};`,
            });
          } else {
            await records.insert(handled, [{
              aggregateId: e.aggregateId,
              seqs: `${n};`,
            }]);
          }
        },
      });
    /** Per consumer, what its stopped instances counted. */
    const counted = stores.map(() => ({ handled: 0, duplicates: 0 }));
    const retire = (c: EventConsumer, i: number) => {
      counted[i]!.handled += c.status.handled;
      counted[i]!.duplicates += c.status.duplicates;
    };
    let consumers: EventConsumer[] = [];
    try {
      await createStream(stream, prefix, 1_000, nats.url);
      await publishAll(nats, prefix, ids);
      consumers = stores.map((_, i) => make(i));
      for (const c of consumers) c.start();
      let stoppedAtKill = 0;
      const letAllGo = () => {
        budget.fill(Infinity);
        for (const h of held.splice(0)) h.release();
      };
      for (let k = 0; k < KILLS; k++) {
        // each consumer handles a few messages in a tight loop, and then
        // holds the next one in its handler
        for (let i = 0; i < CONSUMERS; i++) {
          budget[i] = calls[i]! + 2 + Math.floor(next() * 6);
        }
        // (a consumer started as JetStream comes back may wait some 5 s
        // for its first answer: the margin is for a loaded machine)
        await until(
          () => consumers.every((_, i) => held.some((h) => h.consumer === i)),
          20_000,
          "a message held in every consumer's handler",
        );
        if (k % 4 === 3) {
          // killed under the consumers at work, which are stopped once it
          // is back, as they find it again
          letAllGo();
          await sleep(Math.floor(next() * 10));
          await nats.kill();
          await sleep(Math.floor(next() * 30));
          await nats.start();
          await sleep(Math.floor(next() * 30));
          await Promise.all(consumers.map((c) => c.stop()));
          consumers.forEach(retire);
          consumers = stores.map((_, i) => make(i));
          for (const c of consumers) c.start();
          continue;
        }
        const stops = consumers.map((c) => c.stop());
        // SIGKILL is sent at once; the handlers are let go around it: at
        // once, or a turn or a few milliseconds later, in random order
        const killed = nats.kill();
        budget.fill(Infinity);
        const letGo = held.splice(0).sort(() => next() - 0.5);
        for (const h of letGo) {
          const when = next();
          if (when < 0.3) await sleep(0);
          else if (when < 0.5) await sleep(1 + Math.floor(next() * 3));
          h.release();
        }
        await Promise.all(stops);
        stoppedAtKill += consumers.length;
        consumers.forEach(retire);
        await killed;
        await sleep(Math.floor(next() * 10));
        await nats.start();
        consumers = stores.map((_, i) => make(i));
        for (const c of consumers) c.start();
      }
      // the broker up for good: every message arrives, the lost acks' again
      const rows = (i: number) => stores[i]!.records.find(handled, {});
      await until(
        async () => {
          for (let i = 0; i < CONSUMERS; i++) {
            const all = await rows(i);
            if (
              all.length < AGGREGATES ||
              !all.every((r) => r.seqs.length >= upTo(EVENTS).length)
            ) return false;
          }
          return true;
        },
        60_000,
        "every message handled by every consumer",
      );
      await Promise.all(consumers.map((c) => c.stop()));
      consumers.forEach(retire);
      consumers = [];
      for (let i = 0; i < CONSUMERS; i++) {
        for (const row of await rows(i)) {
          assert.equal(
            row.seqs,
            upTo(EVENTS),
            `consumer ${i}: aggregate ${row.aggregateId}'s events once each, in order`,
          );
        }
        assert.equal(counted[i]!.handled, AGGREGATES * EVENTS);
      }
      assert.ok(stoppedAtKill >= CONSUMERS * 15);
      // acks were lost with the broker, and their messages came again
      assert.ok(
        counted.some((c) => c.duplicates > 0),
        `no message came again: ${JSON.stringify(counted)}`,
      );
    } finally {
      budget.fill(Infinity);
      for (const h of held.splice(0)) h.release();
      await Promise.all(consumers.map((c) => c.stop()));
      await nats.dispose();
    }
  },
});
