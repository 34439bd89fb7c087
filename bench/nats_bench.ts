/**
 * The outbox relay's throughput, PostgreSQL to JetStream: `nats.relay.events_per_s`
 * is the whole relay (reading the events from the server in commit order,
 * publishing each partition's one PubAck at a time, partitions at once,
 * storing the checkpoint) over 20,000 stored events with ~150-byte payloads.
 * Its baseline is a raw client publishing the same messages (same subjects,
 * headers and bodies) with 256 in flight, reading nothing. Rounds
 * alternate, ours then raw, three times; medians are reported.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { silentLogger } from "@sequent/core";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  PostgresProcessorStore,
} from "@sequent/core/postgres";
import { OUTBOX_HEADERS, OutboxRelay, outboxSubject } from "@sequent/core/nats";
import type { StoredEvent } from "@sequent/core/internal";
import { type Figure, figure } from "./figure.ts";

const EVENTS = 20_000;
const AGGREGATES = 2_000;
const ROUNDS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function run(_ms: number): Promise<Figure[]> {
  const url = Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/test";
  if (!url.startsWith("postgres")) return [];
  const servers = Deno.env.get("NATS_URL") ?? "127.0.0.1:4222";
  const client = await connectDatabase(url);
  const schema = `bench_nats_${crypto.randomUUID().slice(0, 8)}`;
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const streams: string[] = [];
  try {
    await installEventStore(client, { schema });
    const store = new PostgresEventStore(client, {
      schema,
      closeClient: false,
    });
    const processors = new PostgresProcessorStore(client, store, { schema });
    const ids = Array.from({ length: AGGREGATES }, () => crypto.randomUUID());
    const payload = JSON.stringify({
      title: "A post title of moderate length",
      content: "Content of the post, long enough to make about 150 bytes.",
      n: 0,
    });
    const perAggregate = EVENTS / AGGREGATES;
    for (let n = 1; n <= perAggregate; n++) {
      for (let at = 0; at < ids.length; at += 500) {
        const some = ids.slice(at, at + 500).sort();
        await store.transaction((tx) =>
          tx.commit(
            {
              commandType: "Bench_Publish",
              aggregateId: some[0]!,
              userId: undefined,
              eventAggregateId: undefined,
              eventSequenceNumber: undefined,
              payload: "{}",
            },
            some.map((id) => ({
              aggregateId: id,
              aggregateType: "Post",
              partitionKey: "",
              uniqueKeys: undefined,
              snapshotThreshold: undefined,
              events: [{
                aggregateId: id,
                sequenceNumber: n,
                createdAt: new Date(),
                eventType: "Bench_Published",
                payload,
              }],
            })),
          )
        );
      }
    }
    // the messages as the relay sends them, for the raw client
    const stored: StoredEvent[] = [];
    for (let position = "";;) {
      const batch = await store.readEvents(position, {
        limit: 5_000,
        withAggregateTypes: true,
      });
      stored.push(...batch.events);
      position = batch.next;
      if (batch.caughtUp) break;
    }
    const ours: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const tag = `${round}_${crypto.randomUUID().slice(0, 6)}`;
      const oursStream = `BENCH_RELAY_${tag}`;
      const rawStream = `BENCH_RAW_${tag}`;
      streams.push(oursStream, rawStream);
      await jsm.streams.add({ name: oursStream, subjects: [`br${tag}.>`] });
      await jsm.streams.add({ name: rawStream, subjects: [`bw${tag}.>`] });
      await processors.reset("outbox");
      const relay = new OutboxRelay({
        processors,
        eventTypes: ["Bench_Published"],
        servers,
        stream: oursStream,
        prefix: `br${tag}`,
        idleMs: 5,
        logger: silentLogger,
      });
      let started = performance.now();
      relay.start();
      while (relay.status.published < EVENTS) {
        await new Promise((r) => setTimeout(r, 2));
      }
      ours.push(EVENTS / ((performance.now() - started) / 1000));
      await relay.stop();

      const encoder = new TextEncoder();
      started = performance.now();
      const inFlight = new Set<Promise<unknown>>();
      for (const event of stored) {
        const h = headers();
        h.set(OUTBOX_HEADERS.position, event.position);
        h.set(OUTBOX_HEADERS.aggregateId, event.aggregateId);
        h.set(OUTBOX_HEADERS.aggregateType, event.aggregateType!);
        h.set(OUTBOX_HEADERS.aggregateSequence, String(event.sequenceNumber));
        h.set(OUTBOX_HEADERS.eventType, event.eventType);
        h.set(OUTBOX_HEADERS.createdAt, event.createdAt.toISOString());
        const p = js.publish(
          outboxSubject(
            `bw${tag}`,
            event.partition,
            event.aggregateType!,
            event.aggregateId,
          ),
          encoder.encode(event.payload),
          { msgID: `${event.aggregateId}/${event.sequenceNumber}`, headers: h },
        );
        inFlight.add(p);
        p.finally(() => inFlight.delete(p));
        if (inFlight.size >= 256) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      raw.push(EVENTS / ((performance.now() - started) / 1000));
    }
    return [
      figure(
        "nats.relay.events_per_s",
        median(ours),
        "events/s",
        median(raw),
        "msgs/s",
      ),
    ];
  } finally {
    for (const name of streams) await jsm.streams.delete(name).catch(() => {});
    await nc.close();
    await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.close();
  }
}

if (import.meta.main) {
  for (const f of await run(0)) console.log(JSON.stringify(f));
  console.log(JSON.stringify({ loadavg: Deno.loadavg() }));
}
