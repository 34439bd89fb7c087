/**
 * projectorSpec: events given or under test are stored and handed to the
 * projectors; `records` and `record` read the rows back. It runs on the
 * in-memory store, or on the database in `DATABASE_URL`.
 */
import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import {
  attrs,
  column,
  Event,
  InMemoryEventStore,
  Projector,
  table,
} from "@sequent/core";
import { projectorSpec } from "@sequent/core/testing";

class PSpec_Added extends Event.define("PSpec.Added", {
  title: attrs.string(),
}) {}
class PSpec_Renamed extends Event.define("PSpec.Renamed", {
  title: attrs.string(),
}) {}
class PSpec_Broken extends Event.define("PSpec.Broken", {}) {}

const pspecPosts = table("pspec_posts", {
  id: column.uuid().primaryKey(),
  title: column.text(),
  renames: column.integer().default(0),
});

const pspecLog = table("pspec_log", {
  aggregateId: column.uuid(),
  sequenceNumber: column.integer(),
}, { primaryKey: ["aggregateId", "sequenceNumber"] });

class PSpec_PostProjector extends Projector {
  static override readonly manages = [pspecPosts];
  static {
    this.on(
      PSpec_Added,
      (p, e) =>
        p.createRecord(pspecPosts, { id: e.aggregateId, title: e.title ?? "" }),
    );
    this.on(PSpec_Renamed, async (p, e) => {
      await p.updateRecord(pspecPosts, { id: e.aggregateId }, (row) => ({
        title: e.title ?? "",
        renames: row.renames + 1,
      }));
    });
    this.on(PSpec_Broken, () => {
      throw new Error("projector broke");
    });
  }
}

class PSpec_LogProjector extends Projector {
  static override readonly manages = [pspecLog, pspecPosts];
  static {
    this.on(PSpec_Added, (p, e) =>
      p.createRecord(pspecLog, {
        aggregateId: e.aggregateId,
        sequenceNumber: e.sequenceNumber,
      }));
  }
}

function added(id: string, title: string, sequenceNumber = 1) {
  return new PSpec_Added({ aggregateId: id, sequenceNumber, title });
}

Deno.test("whenEvents stores the events and hands them to the projectors; records reads the rows", async () => {
  const spec = projectorSpec({ projectors: [new PSpec_PostProjector()] });
  const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
  await spec.whenEvents(added(a, "first"), added(b, "second"));
  const rows = await spec.records(pspecPosts);
  assert.deepEqual(
    rows.sort((x, y) => x.title.localeCompare(y.title)),
    [
      { id: a, title: "first", renames: 0 },
      { id: b, title: "second", renames: 0 },
    ],
  );
  assert.deepEqual(await spec.records(pspecPosts, { id: b }), [
    { id: b, title: "second", renames: 0 },
  ]);
  const service = await spec.service();
  assert.equal(await service.eventStore.streamExists(a), true);
});

Deno.test("givenEvents sets the scene; an aggregate's later events continue its stream", async () => {
  const spec = projectorSpec({ projectors: [new PSpec_PostProjector()] });
  const id = crypto.randomUUID();
  await spec.givenEvents(added(id, "draft"));
  await spec.whenEvents(
    new PSpec_Renamed({ aggregateId: id, sequenceNumber: 2, title: "better" }),
    new PSpec_Renamed({ aggregateId: id, sequenceNumber: 3, title: "final" }),
  );
  assert.deepEqual(await spec.record(pspecPosts, { id }), {
    id,
    title: "final",
    renames: 2,
  });
  const [stream] = await (await spec.service()).eventStore.loadStreams([id]);
  assert.deepEqual(stream?.events.map((e) => e.sequenceNumber), [1, 2, 3]);
});

Deno.test("records and record refuse to read before whenEvents() or givenEvents() finished, asking for the missing await", async () => {
  const spec = projectorSpec({ projectors: [new PSpec_PostProjector()] });
  const id = crypto.randomUUID();
  const pending = spec.whenEvents(added(id, "first")); // await forgotten
  const refused = (error: unknown) => {
    assert.ok(error instanceof AssertionError);
    assert.match(
      error.message,
      /records\(\) ran before whenEvents\(\) finished: await spec\.whenEvents\(…\)/,
    );
    return true;
  };
  await assert.rejects(spec.records(pspecPosts), refused);
  await assert.rejects(spec.record(pspecPosts, { id }), refused);
  await pending;
  assert.equal((await spec.record(pspecPosts, { id })).title, "first");
  const given = spec.givenEvents(added(crypto.randomUUID(), "second"));
  await assert.rejects(spec.records(pspecPosts), refused);
  await given;
  assert.equal((await spec.records(pspecPosts)).length, 2);
});

Deno.test("record fails with an AssertionError unless exactly one row matches", async () => {
  const spec = projectorSpec({ projectors: [new PSpec_PostProjector()] });
  const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
  await spec.whenEvents(added(a, "same"), added(b, "same"));
  await assert.rejects(
    spec.record(pspecPosts, { title: "same" }),
    (e: unknown) =>
      e instanceof AssertionError &&
      e.message ===
        'Expected one row of pspec_posts where {"title":"same"}, found 2',
  );
  await assert.rejects(
    spec.record(pspecPosts, { title: "none" }),
    /Expected one row of pspec_posts where \{"title":"none"\}, found 0/,
  );
});

Deno.test("every projector's tables are there, empty, for each spec", async () => {
  const first = projectorSpec({
    projectors: [new PSpec_PostProjector(), new PSpec_LogProjector()],
  });
  const id = crypto.randomUUID();
  await first.whenEvents(added(id, "logged"));
  assert.deepEqual(await first.records(pspecLog), [
    { aggregateId: id, sequenceNumber: 1 },
  ]);
  const second = projectorSpec({ projectors: [new PSpec_LogProjector()] });
  assert.deepEqual(await second.records(pspecLog), []);
  assert.deepEqual(await second.records(pspecPosts), []);
});

Deno.test("a projector error fails whenEvents and stores neither the events nor rows", async () => {
  const spec = projectorSpec({ projectors: [new PSpec_PostProjector()] });
  const id = crypto.randomUUID();
  await assert.rejects(
    spec.whenEvents(
      added(id, "lost"),
      new PSpec_Broken({ aggregateId: id, sequenceNumber: 2 }),
    ),
    /projector broke/,
  );
  assert.deepEqual(await spec.records(pspecPosts), []);
  assert.equal(await (await spec.service()).eventStore.streamExists(id), false);
});

Deno.test("a spec uses the event store it is given", async () => {
  const store = new InMemoryEventStore();
  const spec = projectorSpec({
    projectors: [new PSpec_PostProjector()],
    eventStore: store,
  });
  const id = crypto.randomUUID();
  await spec.whenEvents(added(id, "mine"));
  assert.equal((await spec.service()).eventStore, store);
  assert.deepEqual(store.records.rows(pspecPosts), [
    { id, title: "mine", renames: 0 },
  ]);
});
