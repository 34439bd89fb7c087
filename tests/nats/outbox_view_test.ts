/**
 * The outbox view against the shared JetStream server: after a real relay
 * has published a few events in a few partitions, each partition shows the
 * relay's checkpoint and owner and the last message the stream holds (its
 * stream sequence, event and time), in step; with the checkpoint set back,
 * the partitions with messages show it behind. A NATS that does not answer
 * (a closed port, a server that never speaks) gives a clear error within
 * the timeout.
 */
import assert from "node:assert/strict";
import {
  InMemoryEventStore,
  InMemoryProcessorStore,
  partitionOf,
  silentLogger,
} from "@sequent/core";
import {
  natsOutboxView,
  OutboxRelay,
  outboxSubject,
  type OutboxView,
} from "@sequent/core/nats";
import { command, event, stream } from "../contract/event_store_contract.ts";
import { deleteStream, freshStream, natsUrl, scan, until } from "./_nats.ts";

Deno.test({
  name:
    "the outbox view shows each partition's checkpoint and owner against its last JetStream message",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const store = new InMemoryEventStore();
    const processors = new InMemoryProcessorStore(store);
    const { stream: name, prefix } = freshStream();
    // three aggregates in two partitions, one in a third, internal only
    const ids: string[] = [];
    while (ids.length < 3) {
      const id = crypto.randomUUID();
      const p = partitionOf(id);
      if (
        ids.length === 0 || (p === partitionOf(ids[0]!)) === (ids.length === 1)
      ) {
        ids.push(id);
      }
    }
    let internal = crypto.randomUUID();
    while (ids.some((id) => partitionOf(id) === partitionOf(internal))) {
      internal = crypto.randomUUID();
    }
    for (let n = 1; n <= 3; n++) {
      for (const id of ids) {
        await store.transaction((tx) =>
          tx.commit(command(id), [
            stream(id, [event(id, n, { n }, "Outbox_Published")]),
          ])
        );
      }
    }
    await store.transaction((tx) =>
      tx.commit(command(internal), [
        stream(internal, [event(internal, 1, { n: 1 }, "Outbox_Internal")]),
      ])
    );
    const relay = new OutboxRelay({
      processors,
      eventTypes: ["Outbox_Published"],
      servers: natsUrl,
      stream: name,
      prefix,
      owner: "relay-a",
      pollMs: { min: 5, max: 20 },
      leaseMs: 2_000,
      publishTimeoutMs: 1_000,
      logger: silentLogger,
    });
    const view: OutboxView = natsOutboxView({
      processors,
      servers: natsUrl,
      stream: name,
      prefix,
      timeoutMs: 3_000,
    });
    assert.deepEqual(view.description, {
      relay: "outbox",
      stream: name,
      prefix,
    });
    relay.start();
    try {
      await until(() => relay.status.published === 9, 10_000, "9 messages");
      const end = (await processors.reader.readEvents("", { limit: 100 })).next;
      await until(
        async () =>
          (await processors.records(["outbox"]))[0]?.partitions.every((p) =>
            processors.reader.comparePositions(p.checkpoint, end) >= 0
          ) ?? false,
        10_000,
        "every partition's checkpoint past the last event",
      );
      const messages = await scan(name);
      assert.equal(messages.length, 9);
      const partitions = await view.partitions();
      assert.equal(partitions.length, 64);
      assert.deepEqual(
        partitions.map((p) => p.partition),
        Array.from({ length: 64 }, (_, i) => i),
      );
      const published = new Set(ids.map((id) => partitionOf(id)));
      assert.equal(published.size, 2);
      for (const p of partitions) {
        assert.equal(p.owner, "relay-a", `owner of ${p.partition}`);
        assert.ok(processors.reader.comparePositions(p.checkpoint, end) >= 0);
        if (!published.has(p.partition)) {
          assert.equal(p.lastMessage, undefined);
          assert.equal(p.state, "no message");
          continue;
        }
        // the stream's last message on the partition's subjects
        const last = messages.filter((m) =>
          m.subject.startsWith(`${prefix}.${p.partition}.`)
        ).at(-1)!;
        const m = p.lastMessage!;
        assert.equal(m.streamSequence, last.seq);
        assert.equal(m.subject, last.subject);
        assert.equal(m.sequenceNumber, 3);
        assert.equal(m.eventType, "Outbox_Published");
        assert.equal(
          m.subject,
          outboxSubject(prefix, p.partition, "Contract_Thing", m.aggregateId!),
        );
        assert.ok(ids.includes(m.aggregateId!));
        assert.equal(m.position, last.headers["Sequent-Position"]);
        assert.ok(Math.abs(m.storedAt.getTime() - Date.now()) < 60_000);
        assert.equal(p.state, "in step");
      }
      // the partition with two aggregates: its last message is the later
      // one's third event
      const shared = partitionOf(ids[0]!);
      const sharedLast = partitions[shared]!.lastMessage!;
      assert.equal(sharedLast.aggregateId, ids[1]);
    } finally {
      await relay.stop();
    }
    try {
      // stopped: nobody holds a partition; the checkpoints set back to the
      // start, as if the relay had stopped between PubAcks and checkpoint
      const stopped = await view.partitions();
      assert.ok(stopped.every((p) => p.owner === undefined));
      await processors.reset("outbox");
      const behind = await view.partitions();
      // nothing recorded now: the default shows the recorded partitions
      assert.deepEqual(behind, []);
      const all = await natsOutboxView({
        processors,
        servers: natsUrl,
        stream: name,
        prefix,
        partitions: 64,
      }).partitions();
      assert.equal(all.length, 64);
      for (const p of all) {
        assert.equal(p.checkpoint, "");
        assert.equal(
          p.state,
          ids.some((id) => partitionOf(id) === p.partition)
            ? "checkpoint behind"
            : "no message",
        );
      }
    } finally {
      await deleteStream(name);
    }
  },
});

Deno.test({
  name: "the outbox view names a missing stream",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { stream: name, prefix } = freshStream();
    const view = natsOutboxView({
      processors: new InMemoryProcessorStore(new InMemoryEventStore()),
      servers: natsUrl,
      stream: name,
      prefix,
      partitions: 4,
      timeoutMs: 3_000,
    });
    await assert.rejects(view.partitions(), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`JetStream has no stream ${name}`),
      );
      return true;
    });
  },
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test({
  name:
    "a NATS that does not answer gives the outbox view a clear error within its timeout",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const processors = new InMemoryProcessorStore(new InMemoryEventStore());
    await t.step("a closed port", async () => {
      const servers = `127.0.0.1:${freePort()}`;
      const view = natsOutboxView({
        processors,
        servers,
        stream: "NOBODY",
        prefix: "nobody",
        partitions: 8,
        timeoutMs: 1_000,
      });
      const started = performance.now();
      await assert.rejects(view.partitions(), (error: Error) => {
        assert.match(error.message, /outbox view/);
        assert.ok(error.message.includes(servers), error.message);
        return true;
      });
      assert.ok(performance.now() - started < 1_500);
    });
    await t.step("a server that accepts and never speaks", async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      const held: Deno.Conn[] = [];
      const accepting = (async () => {
        try {
          for await (const conn of listener) held.push(conn);
        } catch {
          // closed
        }
      })();
      try {
        const view = natsOutboxView({
          processors,
          servers: `127.0.0.1:${port}`,
          stream: "SILENT",
          prefix: "silent",
          partitions: 8,
          timeoutMs: 800,
        });
        const started = performance.now();
        await assert.rejects(view.partitions(), (error: Error) => {
          assert.match(error.message, /outbox view/);
          assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
          return true;
        });
        const took = performance.now() - started;
        assert.ok(took < 1_500, `took ${took} ms`);
      } finally {
        listener.close();
        for (const conn of held) conn.close();
        await accepting;
      }
    });
  },
});
