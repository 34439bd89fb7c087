/**
 * The outbox relay's throughput, PostgreSQL to JetStream: `nats.relay.events_per_s`
 * is the whole relay (reading the events from the server in commit order,
 * publishing each partition's one PubAck at a time, partitions at once,
 * storing the checkpoint) over 20,000 stored events with ~150-byte payloads.
 * Its baseline is a raw client publishing the same messages (same subjects,
 * headers and bodies) with 256 in flight, reading nothing. Rounds
 * alternate, ours then raw, three times; medians are reported. Higher is
 * better. `nats.end_to_end_p99.ms` and `nats.relay_to_subscriber_p99.ms`:
 * see {@linkcode endToEnd}.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { InMemoryInbox, silentLogger } from "@sequent/core";
import {
  connectDatabase,
  installEventStore,
  PostgresEventStore,
  PostgresProcessorStore,
} from "@sequent/core/postgres";
import {
  EventConsumer,
  OUTBOX_HEADERS,
  OutboxRelay,
  outboxSubject,
} from "@sequent/core/nats";
import type { StoredEvent } from "@sequent/core/internal";
import { type Figure, figure } from "./figure.ts";

const EVENTS = 20_000;
const AGGREGATES = 2_000;
const ROUNDS = 3;

/** One commit: event `n` of each aggregate (`ids` sorted). */
async function appendOne(
  store: PostgresEventStore,
  ids: readonly string[],
  n: number,
  eventType: string,
  payload: string,
): Promise<void> {
  await store.transaction((tx) =>
    tx.commit(
      {
        commandType: "Bench_Append",
        aggregateId: ids[0]!,
        userId: undefined,
        eventAggregateId: undefined,
        eventSequenceNumber: undefined,
        payload: "{}",
      },
      ids.map((id) => ({
        aggregateId: id,
        aggregateType: "Post",
        partitionKey: "",
        uniqueKeys: undefined,
        snapshotThreshold: undefined,
        events: [{
          aggregateId: id,
          sequenceNumber: n,
          createdAt: new Date(),
          eventType,
          payload,
        }],
      })),
    )
  );
}

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
        await appendOne(store, some, n, "Bench_Published", payload);
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
        pollMs: { min: 1, max: 5 },
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
    const latency = await endToEnd(store, processors, servers, streams);
    return [
      figure(
        "nats.relay.events_per_s",
        median(ours),
        "events/s",
        median(raw),
        "msgs/s",
      ),
      figure(
        "nats.end_to_end_p99.ms",
        latency.ours,
        "ms",
        latency.raw,
      ),
      figure(
        "nats.relay_to_subscriber_p99.ms",
        latency.relayOnly,
        "ms",
        latency.raw,
      ),
    ];
  } finally {
    for (const name of streams) await jsm.streams.delete(name).catch(() => {});
    await nc.close();
    await client.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.close();
  }
}

const RATE_SECONDS = 5;

/**
 * How long the writer runs before the commits whose latency counts: the
 * relay starts with the writer (it connects, claims its partitions and
 * reads), and the commits of that start waited for it (some 240 ms at
 * p99, measured here: the first fifth of a run held every latency above
 * 100 ms), which is the start's cost, not the delivery's at a steady rate.
 */
const WARM_UP_MS = 1_000;

/**
 * `nats.end_to_end_p99.ms`: from a commit's answer to the receiving
 * handler's call, at 1,000 events/s (a commit of 10 events every 10 ms),
 * through the relay and an `EventConsumer` (its 64 durable consumers, an
 * in-memory inbox). `nats.relay_to_subscriber_p99.ms`: the same through
 * the relay to a plain ordered consumer (the relay's share alone). The
 * baseline of both: the same messages published by the writer right after
 * each commit answers, to a plain ordered consumer. Lower is better. Each
 * counts the commits of five seconds after a warm-up second (see
 * {@linkcode WARM_UP_MS}).
 */
async function endToEnd(
  store: PostgresEventStore,
  processors: PostgresProcessorStore,
  servers: string,
  streams: string[],
): Promise<{ ours: number; relayOnly: number; raw: number }> {
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const encoder = new TextEncoder();
  try {
    const p99 = async (
      mode: "raw" | "relay" | "relay and consumer",
    ): Promise<number> => {
      const viaRelay = mode !== "raw";
      const tag = `e2e_${crypto.randomUUID().slice(0, 6)}`;
      const name = `BENCH_${tag}`;
      streams.push(name);
      await jsm.streams.add({ name, subjects: [`${tag}.>`] });
      const committed = new Map<string, number>();
      const latencies: number[] = [];
      const arrived = (key: string) => {
        const at = committed.get(key);
        if (at !== undefined) latencies.push(performance.now() - at);
      };
      let messages: { stop(): void } | undefined;
      let receiving: Promise<void> = Promise.resolve();
      let eventConsumer: EventConsumer | undefined;
      if (mode === "relay and consumer") {
        eventConsumer = new EventConsumer({
          name: tag,
          inbox: new InMemoryInbox(),
          handler: (e) => Promise.resolve(arrived(e.id)),
          servers,
          stream: name,
          prefix: tag,
          logger: silentLogger,
        });
        eventConsumer.start();
        while (eventConsumer.status.state !== "consuming") {
          await new Promise((r) => setTimeout(r, 10));
        }
      } else {
        const consumer = await js.consumers.get(name);
        const consumed = await consumer.consume();
        messages = consumed;
        receiving = (async () => {
          for await (const m of consumed) {
            arrived(m.headers?.get(OUTBOX_HEADERS.messageId) ?? "");
          }
        })();
      }
      let relay: OutboxRelay | undefined;
      if (viaRelay) {
        await processors.reset("outbox-e2e");
        relay = new OutboxRelay({
          processors,
          name: "outbox-e2e",
          eventTypes: [`E2e_${tag}`],
          servers,
          stream: name,
          prefix: tag,
          logger: silentLogger,
        });
        relay.start();
      }
      const ids = Array.from({ length: 10 }, () => crypto.randomUUID()).sort();
      // the first second's commits warm the path and are not counted
      const counted = performance.now() + WARM_UP_MS;
      const end = counted + RATE_SECONDS * 1000;
      let next = performance.now();
      for (let n = 1; performance.now() < end; n++) {
        await appendOne(store, ids, n, `E2e_${tag}`, '{"n":1}');
        const at = performance.now();
        if (at >= counted) {
          for (const id of ids) committed.set(`${id}/${n}`, at);
        }
        if (!viaRelay) {
          await Promise.all(ids.map((id) => {
            const h = headers();
            h.set(OUTBOX_HEADERS.messageId, `${id}/${n}`);
            return js.publish(
              `${tag}.0.Post.${id}`,
              encoder.encode('{"n":1}'),
              { msgID: `${id}/${n}`, headers: h },
            );
          }));
        }
        next += 10;
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const expected = committed.size;
      const deadline = performance.now() + 10_000;
      while (latencies.length < expected && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await relay?.stop();
      messages?.stop();
      await receiving;
      await eventConsumer?.stop();
      if (latencies.length < expected) {
        throw new Error(
          `${latencies.length} of ${expected} events arrived within 10 s`,
        );
      }
      latencies.sort((a, b) => a - b);
      return latencies[Math.floor(latencies.length * 0.99)]!;
    };
    const ours = await p99("relay and consumer");
    const relayOnly = await p99("relay");
    const raw = await p99("raw");
    return { ours, relayOnly, raw };
  } finally {
    await nc.close();
  }
}

if (import.meta.main) {
  for (const f of await run(0)) console.log(JSON.stringify(f));
  console.log(JSON.stringify({ loadavg: Deno.loadavg() }));
}
