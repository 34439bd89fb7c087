/**
 * The in-memory processor store: its record transactions write at once and
 * undo on rollback, so batches over the same rows take turns, with each
 * other and with the handlers of an in-memory inbox over the same records.
 */
import assert from "node:assert/strict";
import {
  attrs,
  column,
  CommandService,
  Event,
  InMemoryEventStore,
  InMemoryInbox,
  InMemoryProcessorStore,
  ProcessorRunner,
  Projector,
  silentLogger,
  table,
} from "@sequent/core";

class MemProc_Opened extends Event.define("MemProc.Opened", {
  owner: attrs.string(),
}) {}

const rows = table("mem_proc_rows", {
  aggregateId: column.uuid().primaryKey(),
  owner: column.text().nullable(),
});

/** Its first write waits past the claim's time, once. */
const slow = { once: true };

class MemProc_RowProjector extends Projector {
  static override readonly manages = [rows];
  static {
    this.on(MemProc_Opened, async (p, e) => {
      await p.createOrUpdateRecord(rows, { aggregateId: e.aggregateId }, {
        owner: e.owner ?? null,
      });
      if (slow.once) {
        slow.once = false;
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    });
  }
}

Deno.test("a batch whose claim lapsed mid-way and the batch of the runner that took over take turns: the row is stored once and kept", async () => {
  const store = new InMemoryEventStore();
  const processors = new InMemoryProcessorStore(store);
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [],
  });
  const runner = (owner: string) =>
    new ProcessorRunner({
      store: processors,
      service,
      owner,
      processors: [new MemProc_RowProjector()],
      leaseMs: 60,
      logger: silentLogger,
    });
  const [a, b] = [runner("A"), runner("B")];
  const id = crypto.randomUUID();
  await service.commitEvents([{
    events: [
      new MemProc_Opened({ aggregateId: id, sequenceNumber: 1, owner: "x" }),
    ],
  }]);
  slow.once = true;
  const first = a.round().then(
    () => "stored",
    (error: Error) => error.message,
  );
  // A's claim (60 ms) lapses while its handler waits; B claims and runs
  await new Promise((resolve) => setTimeout(resolve, 90));
  const second = b.round().then(
    () => "stored",
    (error: Error) => error.message,
  );
  assert.match(await first, /lost its claim/, "A's batch is refused");
  await second;
  // B (maybe refused too, having waited its turn past its own claim)
  // handles the event once it holds the claim
  await b.catchUp();
  assert.deepEqual(await store.records.find(rows, { aggregateId: id }), [
    { aggregateId: id, owner: "x" },
  ]);
  const [status] = await b.status();
  assert.equal(status?.lagEvents, 0);
  assert.equal(await b.round(), 0);
});

Deno.test("an inbox handler over the same records waits for a processor's batch: the batch's rollback leaves the row the handler stored", async () => {
  const store = new InMemoryEventStore();
  const processors = new InMemoryProcessorStore(store);
  const inbox = new InMemoryInbox(store);
  const lease = await processors.claim("mem_proc", "A", 60_000);
  assert.ok(lease);
  const id = crypto.randomUUID();
  const wrote = Promise.withResolvers<void>();
  const gate = Promise.withResolvers<void>();
  const batch = processors.commit("mem_proc", lease, "", async (records) => {
    await records.upsert(rows, { aggregateId: id }, { owner: "batch" });
    wrote.resolve();
    await gate.promise;
    throw new Error("the batch fails");
  });
  batch.catch(() => {});
  await wrote.promise;
  const handled = inbox.handleOnce("consumer", {
    id: `${id}/1`,
    aggregateId: id,
    sequenceNumber: 1,
    subject: `test.0.Thing.${id}`,
    headers: {},
    body: "{}",
  }, async (records) => {
    await records.upsert(rows, { aggregateId: id }, { owner: "inbox" });
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    handled.catch(() => {}),
    new Promise((resolve) => timer = setTimeout(resolve, 50)),
  ]);
  clearTimeout(timer);
  gate.resolve();
  await assert.rejects(batch, /the batch fails/);
  assert.equal(await handled, "handled");
  assert.deepEqual(store.records.rows(rows), [{
    aggregateId: id,
    owner: "inbox",
  }]);
});
