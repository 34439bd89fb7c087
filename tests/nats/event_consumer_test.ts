/**
 * The receiving side, on the NATS server at `NATS_URL` (default
 * 127.0.0.1:4222), with the inbox on every store (memory, PGlite, the
 * server when `DATABASE_URL` names one): events the relay published arrive
 * in each aggregate's order and take effect once, also when the stream is
 * delivered again from its start; a poison message is parked after
 * `maxDeliver` deliveries with its aggregate's later events behind it,
 * other aggregates go on, and a retry (or a skip) finishes in order. The
 * durable consumers it creates ask only for what NATS 2.9 has; a skip
 * request two processes act on drops only the failed message. A process
 * killed in the middle of a retry or a skip leaves nothing stranded: the
 * consumer, restarted, handles what waited behind the failed message. On a
 * private server killed for 3 s, the consumer resumes by itself; after
 * reconnects it still has one loop looking for requests. With the broker
 * down (killed, or never there), stop() ends within 2 s, loses nothing,
 * and the consumer can start again; so it does with the network to the
 * database stalled (on the server), and every message is handled once.
 */
import assert from "node:assert/strict";
import {
  column,
  type EventStore,
  type Inbox,
  InMemoryEventStore,
  InMemoryInbox,
  InMemoryProcessorStore,
  partitionOf,
  type RecordStore,
  silentLogger,
  table,
} from "@sequent/core";
import type { ProcessorStore } from "@sequent/core/internal";
import {
  connectDatabase,
  createTableSql,
  installInbox,
  PostgresInbox,
  SqlRecordStore,
} from "@sequent/core/postgres";
import {
  EventConsumer,
  type EventConsumerOptions,
  type IncomingEvent,
  OutboxRelay,
} from "@sequent/core/nats";
import { jetstreamManager } from "@nats-io/jetstream";
import { command, event, stream } from "../contract/event_store_contract.ts";
import {
  processorStoreFor,
  type StoreBackend,
  storeBackends,
} from "../postgres/_store_backends.ts";
import {
  createStream,
  deleteStream,
  freshStream,
  natsUrl,
  startPrivateNats,
  until,
  withNats,
} from "./_nats.ts";
import {
  killedAt,
  type KillPoint,
  publishEvent,
  within,
} from "./_consumer_support.ts";
import { freshSchema, serverUrl } from "../postgres/_backends.ts";
import { stallProxyFor, stopWhileStalled } from "../postgres/_stall_proxy.ts";

const consumed = table("consumed_seqs", {
  aggregateId: column.text().primaryKey(),
  seqs: column.text(),
});

const { list, disposeAtEnd } = storeBackends();

interface Setup {
  readonly store: EventStore;
  readonly inbox: Inbox;
  readonly stream: string;
  readonly prefix: string;
  readonly relay: OutboxRelay;
  /** Appends events `from..from+count-1` to each aggregate. */
  write(ids: readonly string[], from: number, count: number): Promise<void>;
  consumer(options: Partial<EventConsumerOptions>): EventConsumer;
  /** Each aggregate's row: the numbers handled. */
  seqs(id: string): Promise<string>;
}

/** Appends each event's number to its aggregate's row. */
async function record(e: IncomingEvent, records: RecordStore): Promise<void> {
  const n = (e.payload as { n: number }).n;
  const [row] = await records.find(consumed, { aggregateId: e.aggregateId });
  if (row) {
    await records.update(consumed, { aggregateId: e.aggregateId }, {
      seqs: `${row.seqs}${n};`,
    });
  } else {
    await records.insert(consumed, [{
      aggregateId: e.aggregateId,
      seqs: `${n};`,
    }]);
  }
}

async function setup(b: StoreBackend): Promise<Setup> {
  const store = await b.emptyStore([consumed]);
  const processors: ProcessorStore = await processorStoreFor(b, store);
  let inbox: Inbox;
  if (b.sql) {
    const client = await b.client();
    await installInbox(client, { schema: b.schema });
    inbox = new PostgresInbox(client, {
      schema: b.schema,
      viewSchema: b.viewSchema,
    });
  } else {
    inbox = new InMemoryInbox(store as InMemoryEventStore);
  }
  const { stream: name, prefix } = freshStream();
  await createStream(name, prefix, 1_000);
  const relay = new OutboxRelay({
    processors,
    eventTypes: ["Consumer_Happened"],
    servers: natsUrl,
    stream: name,
    prefix,
    pollMs: { min: 5, max: 20 },
    leaseMs: 2_000,
    publishTimeoutMs: 1_000,
    logger: silentLogger,
  });
  relay.start();
  return {
    store,
    inbox,
    stream: name,
    prefix,
    relay,
    async write(ids, from, count) {
      for (let n = from; n < from + count; n++) {
        await store.transaction((tx) =>
          tx.commit(
            command(ids[0]!),
            ids.map((id) =>
              stream(id, [event(id, n, { n }, "Consumer_Happened")])
            ),
          )
        );
      }
    },
    consumer: (options) =>
      new EventConsumer({
        name: `c${crypto.randomUUID().slice(0, 8)}`,
        inbox,
        handler: record,
        servers: natsUrl,
        stream: name,
        prefix,
        maxDeliver: 3,
        retryDelayMs: 20,
        logger: silentLogger,
        ...options,
      }),
    async seqs(id) {
      const [row] = await store.records.find(consumed, { aggregateId: id });
      return row?.seqs ?? "";
    },
  };
}

/** `inner`, with some of its methods replaced: another process's view. */
function over(inner: Inbox, changes: Partial<Inbox>): Inbox {
  return {
    handleOnce: (c, m, work, o) => inner.handleOnce(c, m, work, o),
    setAside: (c, m, error) => inner.setAside(c, m, error),
    setAsideMessages: (c, aggregateId) =>
      inner.setAsideMessages(c, aggregateId),
    request: (c, aggregateId, r) => inner.request(c, aggregateId, r),
    takeBack: (c, ids, o) => inner.takeBack(c, ids, o),
    ...changes,
  };
}

/** Waits for `p`, or `ms` at most. */
async function atMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      p,
      new Promise<void>((r) => timer = setTimeout(r, ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function upTo(n: number, without?: number): string {
  return Array.from({ length: n }, (_, i) => i + 1).filter((k) => k !== without)
    .map((k) => `${k};`).join("");
}

for (const b of list) {
  const test = (name: string, fn: (s: Setup) => Promise<void>) =>
    Deno.test({
      name: `${b.name}: ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const s = await setup(b);
        try {
          await fn(s);
        } finally {
          await s.relay.stop();
          await deleteStream(s.stream);
        }
      },
    });

  test("events the relay published arrive in each aggregate's order and take effect once, also when the stream is delivered again from its start", async (s) => {
    const ids = Array.from({ length: 12 }, () => crypto.randomUUID());
    await s.write(ids, 1, 4);
    const name = `c${crypto.randomUUID().slice(0, 8)}`;
    const first = s.consumer({ name });
    first.start();
    try {
      await until(
        async () =>
          (await Promise.all(ids.map(s.seqs))).every((q) => q === upTo(4)),
        20_000,
        "every event handled",
      );
      await s.write(ids, 5, 1);
      await until(
        async () =>
          (await Promise.all(ids.map(s.seqs))).every((q) => q === upTo(5)),
        20_000,
        "the next events handled",
      );
      assert.equal(first.status.handled, 60);
    } finally {
      await first.stop();
    }
    // only what NATS 2.9 has: one filter subject per durable consumer, one
    // message in flight, explicit acks; no multi-filter, no priority groups
    await withNats(async (nc) => {
      const jsm = await jetstreamManager(nc);
      for (const p of [0, 63]) {
        const config = (await jsm.consumers.info(s.stream, `${name}_${p}`))
          .config as unknown as Record<string, unknown>;
        assert.equal(config.filter_subject, `${s.prefix}.${p}.>`);
        assert.equal(config.filter_subjects, undefined);
        assert.equal(config.priority_groups, undefined);
        assert.equal(config.max_ack_pending, 1);
        assert.equal(config.ack_policy, "explicit");
      }
    });
    // the durable consumers forgotten: the server delivers everything again
    await withNats(async (nc) => {
      const jsm = await jetstreamManager(nc);
      for (let p = 0; p < 64; p++) {
        await jsm.consumers.delete(s.stream, `${name}_${p}`).catch(() => {});
      }
    });
    const again = s.consumer({ name });
    again.start();
    try {
      await until(
        () => Promise.resolve(again.status.duplicates === 60),
        20_000,
        "every event delivered again",
      );
      assert.equal(again.status.handled, 0);
    } finally {
      await again.stop();
    }
    for (const id of ids) assert.equal(await s.seqs(id), upTo(5));
  });

  test("a poison message is parked after maxDeliver deliveries, its aggregate's later events wait, the others go on, and a retry finishes in order", async (s) => {
    const ids = Array.from({ length: 6 }, () => crypto.randomUUID());
    const poisoned = ids[2]!;
    let poison = true;
    const deliveries: number[] = [];
    const consumer = s.consumer({
      handler: async (e, records) => {
        if (e.aggregateId === poisoned && e.sequenceNumber === 2 && poison) {
          deliveries.push(Date.now());
          throw new Error("cannot handle 2");
        }
        await record(e, records);
      },
    });
    await s.write(ids, 1, 4);
    consumer.start();
    try {
      await until(
        async () =>
          (await Promise.all(
            ids.filter((id) => id !== poisoned).map(s.seqs),
          )).every((q) => q === upTo(4)) &&
          (await consumer.setAside()).length === 3,
        20_000,
        "the others handled, the poisoned one parked",
      );
      assert.equal(deliveries.length, 3);
      assert.equal(await s.seqs(poisoned), "1;");
      const aside = await consumer.setAside();
      assert.deepEqual(
        aside.map((m) => [m.aggregateId, m.sequenceNumber, m.error]),
        [
          [poisoned, 2, "cannot handle 2"],
          [poisoned, 3, undefined],
          [poisoned, 4, undefined],
        ],
      );
      assert.deepEqual(consumer.status.parked, [poisoned]);
      // still failing: parked again, with the new error
      assert.equal(await consumer.retry(poisoned), false);
      assert.equal(await s.seqs(poisoned), "1;");
      poison = false;
      assert.equal(await consumer.retry(poisoned), true);
      assert.equal(await s.seqs(poisoned), upTo(4));
      assert.deepEqual(await consumer.setAside(), []);
      assert.deepEqual(consumer.status.parked, []);
      // and its next events are handled as they come
      await s.write([poisoned], 5, 1);
      await until(
        async () => (await s.seqs(poisoned)) === upTo(5),
        20_000,
        "the next event",
      );
    } finally {
      await consumer.stop();
    }
  });

  test("a skip asked through the inbox, as another process would, drops the parked message unhandled and handles those behind it, in order", async (s) => {
    const ids = Array.from({ length: 3 }, () => crypto.randomUUID());
    const poisoned = ids[1]!;
    const name = `c${crypto.randomUUID().slice(0, 8)}`;
    const consumer = s.consumer({
      name,
      maxDeliver: 1,
      handler: async (e, records) => {
        if (e.aggregateId === poisoned && e.sequenceNumber === 2) {
          throw new Error("never");
        }
        await record(e, records);
      },
    });
    await s.write(ids, 1, 3);
    consumer.start();
    try {
      await until(
        async () => (await consumer.setAside()).length === 2,
        20_000,
        "parked with one behind",
      );
      assert.equal(await s.inbox.request(name, poisoned, "skip"), true);
      await until(
        async () => (await s.seqs(poisoned)) === upTo(3, 2),
        5_000,
        "the skip done by the running consumer",
      );
      assert.deepEqual(await consumer.setAside(), []);
      assert.deepEqual(consumer.status.parked, []);
    } finally {
      await consumer.stop();
    }
  });

  test("a skip request two processes of one consumer act on drops the failed message only: the one behind it is handled", async (s) => {
    const name = `c${crypto.randomUUID().slice(0, 8)}`;
    const x = crypto.randomUUID();
    const m = (n: number) => ({
      id: `${x}/${n}`,
      aggregateId: x,
      sequenceNumber: n,
      subject: `${s.prefix}.0.Thing.${x}`,
      headers: {},
      body: JSON.stringify({ n }),
    });
    await s.inbox.setAside(name, m(1), "boom");
    await s.inbox.setAside(name, m(2), undefined);
    await s.inbox.setAside(name, m(3), undefined);
    assert.equal(await s.inbox.request(name, x, "skip"), true);
    // what B's poll reads before A acts; B acts on it only after A took
    // the failed message back, and before A handles the ones behind it
    const seenByB = await s.inbox.setAsideMessages(name);
    let aTook = false;
    let bTook = false;
    let bTookNow: () => void = () => {};
    const bTookBack = new Promise<void>((r) => bTookNow = r);
    const bTaken: number[] = [];
    const a = s.consumer({
      name,
      partitions: 1,
      inbox: over(s.inbox, {
        takeBack: async (c, ids, o) => {
          const n = await s.inbox.takeBack(c, ids, o);
          aTook = true;
          await atMost(bTookBack, 5_000);
          return n;
        },
      }),
    });
    const b = s.consumer({
      name,
      partitions: 1,
      inbox: over(s.inbox, {
        setAsideMessages: (c, aggregateId) => {
          if (aggregateId !== undefined || bTook) {
            return s.inbox.setAsideMessages(c, aggregateId);
          }
          return Promise.resolve(aTook ? seenByB : []);
        },
        takeBack: async (c, ids, o) => {
          try {
            const n = await s.inbox.takeBack(c, ids, o);
            bTaken.push(n);
            return n;
          } finally {
            bTook = true;
            bTookNow();
          }
        },
      }),
    });
    a.start();
    b.start();
    try {
      await until(
        async () => (await s.inbox.setAsideMessages(name)).length === 0,
        8_000,
        "the skip done",
      );
      // the failed message dropped, the two behind it handled; B skipped
      // nothing
      assert.equal(await s.seqs(x), "2;3;");
      assert.deepEqual(bTaken, [0]);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  // a process SIGKILLed in the middle of a retry or a skip: what it did up
  // to the kill is committed, nothing after it happens
  const cuts: readonly {
    readonly name: string;
    readonly at: KillPoint;
    /** Starts the retry or skip in the process to be killed. */
    readonly ask: (
      s: Setup,
      name: string,
      aggregateId: string,
      consumer: EventConsumer,
    ) => Promise<void>;
    /** What is handled when it is killed, and after the restart. */
    readonly handled: readonly [string, string];
  }[] = [
    {
      name:
        "a skip asked through the inbox, killed right after it took the failed message back",
      at: "took back",
      ask: async (s, name, id) =>
        assert.equal(await s.inbox.request(name, id, "skip"), true),
      handled: ["", "2;3;"],
    },
    {
      name:
        "an in-process skip, killed right after it took the failed message back",
      at: "took back",
      ask: async (_, __, id, consumer) => {
        await assert.rejects(consumer.skip(id), /killed/);
      },
      handled: ["", "2;3;"],
    },
    {
      name:
        "a retry asked through the inbox, killed right after the failed message was handled",
      at: "handled again",
      ask: async (s, name, id) =>
        assert.equal(await s.inbox.request(name, id, "retry"), true),
      handled: ["1;", "1;2;3;"],
    },
  ];
  for (const cut of cuts) {
    test(`${cut.name}: the messages that waited behind the failed one are not stranded, the consumer restarted handles them in order, once`, async (s) => {
      const name = `c${crypto.randomUUID().slice(0, 8)}`;
      const x = crypto.randomUUID();
      const m = (n: number) => ({
        id: `${x}/${n}`,
        aggregateId: x,
        sequenceNumber: n,
        subject: `${s.prefix}.0.Thing.${x}`,
        headers: {},
        body: JSON.stringify({ n }),
      });
      await s.inbox.setAside(name, m(1), "boom");
      await s.inbox.setAside(name, m(2), undefined);
      await s.inbox.setAside(name, m(3), undefined);
      const dying = killedAt(s.inbox, cut.at);
      const killed = s.consumer({ name, partitions: 1, inbox: dying.inbox });
      killed.start();
      try {
        await cut.ask(s, name, x, killed);
        await within(dying.killed, 8_000, "the kill point");
      } finally {
        await killed.stop();
      }
      // what the kill left: the failed message gone (skipped, or handled),
      // the two behind it set aside with no failed one before them, which
      // no request of an operator can reach
      assert.equal(await s.seqs(x), cut.handled[0]);
      const left = await s.inbox.setAsideMessages(name);
      assert.deepEqual(
        left.map((a) => [a.sequenceNumber, a.error, a.request]),
        [[2, undefined, undefined], [3, undefined, undefined]],
      );
      assert.equal(await s.inbox.request(name, x, "retry"), false);
      const restarted = s.consumer({ name, partitions: 1 });
      restarted.start();
      try {
        await until(
          async () =>
            (await s.seqs(x)) === cut.handled[1] &&
            (await s.inbox.setAsideMessages(name)).length === 0,
          8_000,
          "the messages left behind handled",
        );
        assert.deepEqual(restarted.status.parked, []);
      } finally {
        await restarted.stop();
      }
      assert.equal(await s.seqs(x), cut.handled[1]);
    });
  }
}

Deno.test({
  name:
    "memory: a broker outage: the consumer resumes by itself, and every event arrives once, in its aggregate's order",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const nats = await startPrivateNats();
    const store = new InMemoryEventStore();
    const { prefix } = freshStream();
    const options = {
      servers: nats.url,
      stream: "OUTAGE",
      prefix,
      logger: silentLogger,
    };
    const relay = new OutboxRelay({
      ...options,
      processors: new InMemoryProcessorStore(store),
      eventTypes: ["Consumer_Happened"],
      pollMs: { min: 5, max: 20 },
      leaseMs: 2_000,
      publishTimeoutMs: 500,
      maxBackoffMs: 200,
    });
    const consumer = new EventConsumer({
      ...options,
      name: "outage",
      inbox: new InMemoryInbox(store),
      handler: record,
      retryDelayMs: 20,
    });
    const ids = Array.from({ length: 20 }, () => crypto.randomUUID());
    let written = 0;
    let writing = true;
    const writer = (async () => {
      for (let n = 1; writing; n++) {
        await store.transaction((tx) =>
          tx.commit(
            command(ids[0]!),
            ids.map((id) =>
              stream(id, [event(id, n, { n }, "Consumer_Happened")])
            ),
          )
        );
        written = n;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    relay.start();
    consumer.start();
    try {
      await until(() => consumer.status.handled > 100, 20_000, "a start");
      await nats.kill();
      await new Promise((r) => setTimeout(r, 3_000));
      await nats.start();
      await new Promise((r) => setTimeout(r, 1_000));
      writing = false;
      await writer;
      const seqs = async (id: string) =>
        (await store.records.find(consumed, { aggregateId: id }))[0]?.seqs;
      // an ack lost in the outage holds its partition for ackWaitMs (5 s),
      // not the 30 s it did with the client's defaults
      await until(
        async () =>
          (await Promise.all(ids.map(seqs))).every((q) => q === upTo(written)),
        12_000,
        `all ${written} events of every aggregate`,
      );
      assert.equal(consumer.status.handled, written * ids.length);
    } finally {
      writing = false;
      await writer;
      await consumer.stop();
      await relay.stop();
      await nats.dispose();
    }
  },
});

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

// the sanitizers stay on in the tests of stop(): a stopped consumer leaves
// no timer, no connection and no pending operation behind
Deno.test("memory: the broker SIGKILLed under a consumer handling a message: stop() lets the handler finish and then ends within 2 s; the message, its ack lost, comes again and is found handled", async () => {
  const nats = await startPrivateNats();
  try {
    const { stream: name, prefix } = freshStream();
    await createStream(name, prefix, 1_000, nats.url);
    const store = new InMemoryEventStore();
    const partitions = 4;
    const x = crypto.randomUUID();
    const publish = (n: number) =>
      publishEvent(nats.url, {
        prefix,
        partition: partitionOf(x, partitions),
        aggregateId: x,
        sequenceNumber: n,
        payload: { n },
      });
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((r) => entered = r);
    let release: () => void = () => {};
    const released = new Promise<void>((r) => release = r);
    const options = {
      name: "stopping",
      inbox: new InMemoryInbox(store),
      servers: nats.url,
      stream: name,
      prefix,
      partitions,
      ackWaitMs: 1_000,
      logger: silentLogger,
    };
    const consumer = new EventConsumer({
      ...options,
      handler: async (e, records) => {
        if (e.sequenceNumber === 2) {
          entered();
          await released;
        }
        await record(e, records);
      },
    });
    consumer.start();
    try {
      await publish(1);
      await until(() => consumer.status.handled === 1, 10_000, "event 1");
      await publish(2);
      await within(inHandler, 10_000, "event 2 in its handler");
      await nats.kill();
      let stopped = false;
      const stopping = consumer.stop().then(() => void (stopped = true));
      // the message being handled finishes first
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(stopped, false);
      release();
      await within(stopping, 2_000, "stop() with the broker down");
      assert.equal(consumer.status.state, "stopped");
      assert.equal(consumer.status.handled, 2);
    } finally {
      release();
    }
    const seqs = async () =>
      (await store.records.find(consumed, { aggregateId: x }))[0]?.seqs;
    assert.equal(await seqs(), "1;2;");
    // the broker back: event 2, whose ack was lost with it, comes again
    // (and event 1 too when the killed server had not yet written its ack
    // down), and is found handled; event 3 waits behind it
    await nats.start();
    const again = new EventConsumer({ ...options, handler: record });
    again.start();
    try {
      await publish(3);
      await until(() => again.status.handled === 1, 10_000, "event 3");
      const { duplicates } = again.status;
      assert.ok(duplicates === 1 || duplicates === 2, `${duplicates}`);
    } finally {
      await again.stop();
    }
    assert.equal(await seqs(), "1;2;3;");
  } finally {
    await nats.dispose();
  }
});

Deno.test("memory: the broker SIGKILLed under an idle consumer: stop() at once, or while the client tries to reconnect, ends within 2 s", async () => {
  const nats = await startPrivateNats();
  try {
    const { stream: name, prefix } = freshStream();
    await createStream(name, prefix, 1_000, nats.url);
    for (const pause of [0, 1_500]) {
      // 64 partitions: 64 fetches waiting when the broker goes
      const consumer = new EventConsumer({
        name: "idle",
        inbox: new InMemoryInbox(),
        handler: () => Promise.resolve(),
        servers: nats.url,
        stream: name,
        prefix,
        logger: silentLogger,
      });
      consumer.start();
      await until(
        () => consumer.status.state === "consuming",
        10_000,
        "consuming",
      );
      await nats.kill();
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
      await within(consumer.stop(), 2_000, `stop() ${pause} ms after the kill`);
      assert.equal(consumer.status.state, "stopped");
      await nats.start();
    }
  } finally {
    await nats.dispose();
  }
});

Deno.test("memory: stop() between connecting and consuming (the inbox being read) ends, and starts no loop", async () => {
  const { stream: name, prefix } = freshStream();
  await createStream(name, prefix, 1_000);
  const real = new InMemoryInbox();
  let waiting = 0;
  let release: () => void = () => {};
  const released = new Promise<void>((r) => release = r);
  const consumer = new EventConsumer({
    name: "between",
    inbox: over(real, {
      // every look at the whole list waits until released: the request
      // loop's first, and the one after connecting
      setAsideMessages: async (c, aggregateId) => {
        if (aggregateId === undefined) {
          waiting++;
          await released;
        }
        return real.setAsideMessages(c, aggregateId);
      },
    }),
    handler: () => Promise.resolve(),
    servers: natsUrl,
    stream: name,
    prefix,
    partitions: 1,
    logger: silentLogger,
  });
  consumer.start();
  try {
    await until(() => waiting === 2, 10_000, "connected, reading the inbox");
    assert.equal(consumer.status.state, "connecting");
    const stopping = consumer.stop();
    release();
    await within(stopping, 2_000, "stop()");
    assert.equal(consumer.status.state, "stopped");
  } finally {
    release();
    await deleteStream(name);
  }
});

Deno.test("memory: stop() while no broker answers at all ends within 2 s, and the consumer can start again", async () => {
  const consumer = new EventConsumer({
    name: "unreachable",
    inbox: new InMemoryInbox(),
    handler: () => Promise.resolve(),
    servers: `127.0.0.1:${closedPort()}`,
    partitions: 1,
    logger: silentLogger,
  });
  for (let run = 1; run <= 2; run++) {
    consumer.start();
    await until(
      () => consumer.status.state === "backing off",
      5_000,
      `backing off (run ${run})`,
    );
    await within(consumer.stop(), 2_000, `stop() (run ${run})`);
    assert.equal(consumer.status.state, "stopped");
  }
});

Deno.test("memory: stop() while a connection is being made to a broker that does not answer ends within 2 s; the connection is not waited for", async () => {
  // accepts connections and says nothing, as a broker that hangs does
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  let reached: () => void = () => {};
  const connecting = new Promise<void>((r) => reached = r);
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted.push(conn);
      reached();
    }
  })();
  const consumer = new EventConsumer({
    name: "silent",
    inbox: new InMemoryInbox(),
    handler: () => Promise.resolve(),
    servers: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    partitions: 1,
    logger: silentLogger,
  });
  consumer.start();
  try {
    await within(connecting, 5_000, "a connection attempt");
    assert.equal(consumer.status.state, "connecting");
    await within(consumer.stop(), 2_000, "stop() while connecting");
    assert.equal(consumer.status.state, "stopped");
  } finally {
    // the broker goes: the attempt still under way fails, and ends
    listener.close();
    await accepting.catch(() => {});
    for (const conn of accepted) conn.close();
    await new Promise((r) => setTimeout(r, 300));
  }
});

Deno.test({
  name:
    "memory: a handler slower than the pulls' heartbeats is not taken for a lost server: nothing is delivered twice, nothing reconnects",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const store = new InMemoryEventStore();
    const { stream: name, prefix } = freshStream();
    await createStream(name, prefix, 1_000);
    const options = { servers: natsUrl, stream: name, prefix };
    const relay = new OutboxRelay({
      ...options,
      processors: new InMemoryProcessorStore(store),
      eventTypes: ["Consumer_Happened"],
      pollMs: { min: 5, max: 20 },
      logger: silentLogger,
    });
    const warnings: string[] = [];
    const consumer = new EventConsumer({
      ...options,
      name: "slow",
      inbox: new InMemoryInbox(store),
      logger: {
        enabled: () => true,
        log: (level, text) => {
          if (level !== "debug" && level !== "info") warnings.push(text);
        },
      },
      handler: async (e, records) => {
        if (e.sequenceNumber === 1) {
          await new Promise((r) => setTimeout(r, 1_500));
        }
        await record(e, records);
      },
    });
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    for (let n = 1; n <= 2; n++) {
      await store.transaction((tx) =>
        tx.commit(
          command(ids[0]!),
          ids.map((id) =>
            stream(id, [event(id, n, { n }, "Consumer_Happened")])
          ),
        )
      );
    }
    relay.start();
    consumer.start();
    try {
      await until(() => consumer.status.handled === 4, 20_000, "4 events");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(consumer.status.duplicates, 0);
      assert.deepEqual(warnings, []);
    } finally {
      await consumer.stop();
      await relay.stop();
      await deleteStream(name);
    }
  },
});

Deno.test({
  name:
    "memory: reconnecting after fetches failed keeps one request loop: the inbox is asked for requests once a second, and not after stop()",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { stream: name, prefix } = freshStream();
    await createStream(name, prefix, 1_000);
    const real = new InMemoryInbox();
    // every look for requests reads the whole list, as nothing else does
    // once connected
    let polls = 0;
    let backoffs = 0;
    const consumer = new EventConsumer({
      name: "loops",
      inbox: over(real, {
        setAsideMessages: (c, aggregateId) => {
          if (aggregateId === undefined) polls++;
          return real.setAsideMessages(c, aggregateId);
        },
      }),
      handler: () => Promise.resolve(),
      servers: natsUrl,
      stream: name,
      prefix,
      partitions: 1,
      logger: {
        enabled: () => true,
        log: (_, text) => void (text.includes("backing off") && backoffs++),
      },
    });
    consumer.start();
    try {
      await until(
        () => consumer.status.state === "consuming",
        10_000,
        "consuming",
      );
      // a durable consumer deleted under a fetch fails it, as a broker
      // restart does: the consumer backs off and connects again
      for (let i = 1; i <= 2; i++) {
        await withNats(async (nc) => {
          await (await jetstreamManager(nc)).consumers.delete(name, "loops_0");
        });
        await until(
          () => backoffs === i && consumer.status.state === "consuming",
          10_000,
          `connected again (${i})`,
        );
      }
      const before = polls;
      await new Promise((r) => setTimeout(r, 2_500));
      // one loop: 2 or 3; one more per reconnect would make 7 or more
      assert.ok(polls - before <= 4, `${polls - before} polls in 2.5 s`);
    } finally {
      await consumer.stop();
      await deleteStream(name);
    }
    const after = polls;
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(polls, after);
  },
});

Deno.test("an EventConsumer refuses options it cannot work with, naming them", () => {
  const base = {
    name: "newsletter",
    inbox: new InMemoryInbox(),
    handler: () => Promise.resolve(),
  };
  assert.throws(
    () => new EventConsumer({ ...base, name: "news.letter" }),
    /consumer name is letters, digits/,
  );
  assert.throws(
    () => new EventConsumer({ ...base, maxDeliver: 0 }),
    /maxDeliver must be a positive number, got 0/,
  );
  assert.throws(
    () => new EventConsumer({ ...base, maxDeliver: 1.5 }),
    /maxDeliver must be a positive integer/,
  );
  assert.throws(
    () => new EventConsumer({ ...base, prefix: "a.*" }),
    /prefix/,
  );
  assert.throws(
    () => new EventConsumer({ ...base, partitions: 0 }),
    /partition/,
  );
});

if (serverUrl !== undefined) {
  Deno.test({
    name:
      "server: the database stalling under a consumer, at five moments after messages came: stop() ends within 2 s; the database back, the consumer started again handles every message once, none parked",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const { proxy, url } = stallProxyFor(serverUrl!);
      const client = await connectDatabase(url);
      const schema = freshSchema();
      const viewSchema = `${schema}_view`;
      const { stream: name, prefix } = freshStream();
      await createStream(name, prefix, 1_000);
      let running: EventConsumer | undefined;
      try {
        await installInbox(client, { schema });
        await client.execute(
          `CREATE SCHEMA "${viewSchema}";\n${
            createTableSql(consumed, viewSchema)
          }`,
        );
        const records = new SqlRecordStore(client, viewSchema);
        const seqs = async (id: string) =>
          (await records.find(consumed, { aggregateId: id }))[0]?.seqs ?? "";
        const partitions = 4;
        const givenUp: string[] = [];
        const consumer = new EventConsumer({
          name: "stalled",
          inbox: new PostgresInbox(client, { schema, viewSchema }),
          handler: record,
          servers: natsUrl,
          stream: name,
          prefix,
          partitions,
          retryDelayMs: 20,
          // a pull the server answered as the connection closed at a stop
          // holds its partition for the ack wait: a short one keeps the
          // test quick
          ackWaitMs: 1_000,
          logger: {
            enabled: () => true,
            log: (level, text) => {
              if (level === "warn" && text.includes("gave up")) {
                givenUp.push(text);
              }
            },
          },
        });
        running = consumer;
        const ids = Array.from({ length: 8 }, () => crypto.randomUUID());
        const publish = (n: number) =>
          Promise.all(ids.map((id) =>
            publishEvent(natsUrl, {
              prefix,
              partition: partitionOf(id, partitions),
              aggregateId: id,
              sequenceNumber: n,
              payload: { n },
            })
          ));
        const caughtUp = (n: number, what: string) =>
          until(
            async () =>
              (await Promise.all(ids.map(seqs))).every((q) => q === upTo(n)),
            10_000,
            what,
          );
        let published = 0;
        // stalls at different moments after messages came: the consumer is
        // handling them (its transaction half-way, or its commit sent), or
        // done with them, and its next call to the database does not answer
        for (const [i, pause] of [0, 3, 7, 15, 40].entries()) {
          consumer.start();
          await caughtUp(published, `caught up before stall ${i + 1}`);
          await publish(++published);
          await new Promise((r) => setTimeout(r, pause));
          await stopWhileStalled(
            proxy,
            () => consumer.stop(),
            `stop() ${i + 1} with the database stalled`,
          );
          assert.equal(consumer.status.state, "stopped");
        }
        // the database back: each message whose handling was given up
        // comes again, and takes effect once, committed before or not
        consumer.start();
        await caughtUp(published, "every message handled after the stalls");
        // none given up was acknowledged: each came again, and this process
        // saw it handled, or found it handled by the transaction it had
        // given up
        await until(
          () =>
            consumer.status.handled + consumer.status.duplicates >=
              ids.length * published,
          10_000,
          "every message given up delivered again",
        );
        await consumer.stop();
        for (const id of ids) assert.equal(await seqs(id), upTo(published));
        assert.deepEqual(consumer.status.parked, []);
        assert.deepEqual(await consumer.setAside(), []);
        // at least one stop caught a call to the database under way
        assert.ok(givenUp.length > 0, "no call was given up");
      } finally {
        proxy.thaw();
        await running?.stop();
        await deleteStream(name);
        await client.execute(
          `DROP SCHEMA IF EXISTS "${schema}" CASCADE;
           DROP SCHEMA IF EXISTS "${viewSchema}" CASCADE`,
        );
        await client.close();
        await proxy.close();
      }
    },
  });
}

disposeAtEnd();
