/**
 * Projectors' record helpers, run inline by commands on every store: in
 * memory, on PGlite, and on the server in `DATABASE_URL`. A projector error
 * rolls its command back, and inline projection shares the command's
 * transaction.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  column,
  Command,
  CommandHandler,
  CommandService,
  Event,
  type EventStore,
  InMemoryRecordStore,
  NotManagedByThisProjectorError,
  Projector,
  RecordNotFoundError,
  SequentError,
  silentLogger,
  table,
} from "@sequent/core";
import { withRecordStore } from "@sequent/core/internal";
import { shared } from "../postgres/_backends.ts";
import {
  type StoreBackend,
  storeBackends,
} from "../postgres/_store_backends.ts";

// --- Domain -------------------------------------------------------------------

class Proj_Done extends Event.define("Proj.Done", { step: attrs.integer() }) {}
class Proj_Do extends Command.define("Proj.Do", { step: attrs.integer() }) {}

class Proj_Thing extends AggregateRoot {
  static {
    this.on(Proj_Done, () => {});
  }
  static create(id: string): Proj_Thing {
    return new Proj_Thing(id);
  }
  done(step: number): void {
    this.apply(Proj_Done, { step });
  }
}

class Proj_Handler extends CommandHandler {
  static {
    this.on(Proj_Do, async (h, c) => {
      let thing = await h.repository.findAggregate(c.aggregateId, Proj_Thing);
      if (!thing) {
        thing = Proj_Thing.create(c.aggregateId);
        h.repository.addAggregate(thing);
      }
      thing.done(c.step ?? 0);
    });
  }
}

const projItems = table("proj_items", {
  id: column.uuid().primaryKey(),
  name: column.text(),
  qty: column.integer().default(0),
  note: column.text().nullable(),
}, { indexes: [["name"]] });

const projLog = table("proj_log", {
  aggregateId: column.uuid(),
  step: column.integer(),
  text: column.text(),
}, { primaryKey: ["aggregateId", "step"] });

const projOther = table("proj_other", {
  id: column.uuid().primaryKey(),
});

type Action = (projector: Proj_Projector, event: Proj_Done) => Promise<void>;

/** Runs whatever the current test sets as its action, for each event. */
class Proj_Projector extends Projector {
  static override readonly manages = [projItems, projLog];
  action: Action = () => Promise.resolve();
  static {
    this.on(Proj_Done, (p, e) => p.action(p, e));
  }
}

/** A second projector, to show a projector's writes are undone with another's failure. */
class Proj_LogProjector extends Projector {
  static override readonly manages = [projLog];
  fail = false;
  static {
    this.on(Proj_Done, async (p, e) => {
      await p.createRecord(projLog, {
        aggregateId: e.aggregateId,
        step: e.step ?? 0,
        text: "logged",
      });
      if (p.fail) throw new Error("log projector failed");
    });
  }
}

interface Setup {
  store: EventStore;
  service: CommandService;
  projector: Proj_Projector;
  logger: Proj_LogProjector;
  /** Executes one command whose event runs `action` in the projector. */
  run<T>(
    action: (p: Proj_Projector, e: Proj_Done) => Promise<T>,
    id?: string,
  ): Promise<T>;
}

async function setup(b: StoreBackend): Promise<Setup> {
  const store = await b.emptyStore([projItems, projLog, projOther]);
  const projector = new Proj_Projector();
  const logger = new Proj_LogProjector();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Proj_Handler()],
    eventHandlers: [projector, logger],
    logger: silentLogger,
  });
  return {
    store,
    service,
    projector,
    logger,
    async run(action, id = crypto.randomUUID()) {
      let result: unknown;
      projector.action = async (p, e) => {
        result = await action(p, e);
      };
      try {
        await service.executeCommands(
          new Proj_Do({ aggregateId: id, step: 1 }),
        );
      } finally {
        projector.action = () => Promise.resolve();
      }
      return result as never;
    },
  };
}

const backends = storeBackends();

for (const b of backends.list) {
  const test = (name: string, fn: (s: Setup) => Promise<void>) =>
    Deno.test({
      name: `Projector (${b.name}): ${name}`,
      ...shared,
      fn: async () => fn(await setup(b)),
    });

  test("createRecord inserts a row with defaults; createRecords inserts several", async (s) => {
    const [x, y, z] = [
      crypto.randomUUID(),
      crypto.randomUUID(),
      crypto.randomUUID(),
    ];
    await s.run(async (p) => {
      await p.createRecord(projItems, { id: x, name: "x" });
      await p.createRecords(projItems, [
        { id: y, name: "y", qty: 2 },
        { id: z, name: "z", note: "n" },
      ]);
      await p.createRecords(projItems, []);
    });
    const rows = await s.store.records.find(projItems, {}, {
      orderBy: [["name", "asc"]],
    });
    assert.deepEqual(rows, [
      { id: x, name: "x", qty: 0, note: null },
      { id: y, name: "y", qty: 2, note: null },
      { id: z, name: "z", qty: 0, note: "n" },
    ]);
  });

  test("createOrUpdateRecord creates the row the first time and updates it after", async (s) => {
    const id = crypto.randomUUID();
    await s.run((p) =>
      p.createOrUpdateRecord(projItems, { id }, { name: "first", qty: 1 })
    );
    await s.run((p) => p.createOrUpdateRecord(projItems, { id }, { qty: 2 }));
    assert.deepEqual(await s.store.records.find(projItems, {}), [
      { id, name: "first", qty: 2, note: null },
    ]);
  });

  test("updateRecord updates the one row with values or with a function of it, and returns it", async (s) => {
    const id = crypto.randomUUID();
    const other = crypto.randomUUID();
    const returned = await s.run(async (p) => {
      await p.createRecords(projItems, [
        { id, name: "n", qty: 1 },
        { id: other, name: "o", qty: 1 },
      ]);
      const first = await p.updateRecord(projItems, { id }, { note: "set" });
      const second = await p.updateRecord(projItems, { id }, (row) => ({
        qty: row.qty + 10,
        note: `${row.note}!`,
      }));
      return [first, second];
    });
    assert.deepEqual(returned, [
      { id, name: "n", qty: 1, note: "set" },
      { id, name: "n", qty: 11, note: "set!" },
    ]);
    assert.deepEqual(await s.store.records.find(projItems, { id }), [
      { id, name: "n", qty: 11, note: "set!" },
    ]);
    assert.deepEqual(
      (await s.store.records.find(projItems, { id: other })).map((
        r,
      ) => [r.qty, r.note]),
      [[1, null]],
    );
  });

  test("updateRecord of several matching rows changes only one of them", async (s) => {
    await s.run(async (p) => {
      await p.createRecords(projItems, [
        { id: crypto.randomUUID(), name: "same" },
        { id: crypto.randomUUID(), name: "same" },
      ]);
      await p.updateRecord(projItems, { name: "same" }, { qty: 5 });
    });
    const qtys = (await s.store.records.find(projItems, {})).map((r) => r.qty)
      .sort();
    assert.deepEqual(qtys, [0, 5]);
  });

  test("updateRecord and getRecord of a missing row fail with RecordNotFoundError and roll the command back", async (s) => {
    const id = crypto.randomUUID();
    for (
      const action of [
        (p: Proj_Projector) => p.updateRecord(projItems, { id }, { qty: 1 }),
        (p: Proj_Projector) => p.getRecord(projItems, { id, name: "x" }),
      ]
    ) {
      await assert.rejects(
        s.run(async (p) => {
          await p.createRecord(projItems, {
            id: crypto.randomUUID(),
            name: "lost",
          });
          await action(p);
        }, id),
        (e: unknown) =>
          e instanceof RecordNotFoundError && e.table === "proj_items" &&
          e.where.id === id &&
          e.message ===
            `No row of "proj_items" where ${JSON.stringify(e.where)}`,
      );
    }
    assert.deepEqual(await s.store.records.find(projItems, {}), []);
    assert.equal(await s.store.streamExists(id), false);
  });

  test("updateAllRecords updates every matching row", async (s) => {
    await s.run(async (p) => {
      await p.createRecords(projItems, [
        { id: crypto.randomUUID(), name: "a" },
        { id: crypto.randomUUID(), name: "a" },
        { id: crypto.randomUUID(), name: "b" },
      ]);
      await p.updateAllRecords(projItems, { name: "a" }, { note: "all" });
      await p.updateAllRecords(projItems, { name: "none" }, { note: "never" });
    });
    const rows = await s.store.records.find(projItems, {}, {
      orderBy: [["name", "asc"]],
    });
    assert.deepEqual(rows.map((r) => [r.name, r.note]), [["a", "all"], [
      "a",
      "all",
    ], ["b", null]]);
  });

  test("getRecord, findRecord and findRecords read the rows, seeing the unit's own writes", async (s) => {
    const [a, b2, c] = [
      crypto.randomUUID(),
      crypto.randomUUID(),
      crypto.randomUUID(),
    ];
    const seen = await s.run(async (p) => {
      await p.createRecords(projItems, [
        { id: a, name: "a", qty: 3 },
        { id: b2, name: "b", qty: 1 },
        { id: c, name: "c", qty: 2 },
      ]);
      return {
        got: await p.getRecord(projItems, { id: a }),
        found: await p.findRecord(projItems, { name: "b" }),
        missing: await p.findRecord(projItems, { name: "z" }),
        all:
          (await p.findRecords(projItems, {}, { orderBy: [["qty", "desc"]] }))
            .map((r) => r.name),
        some: (await p.findRecords(projItems, { name: ["a", "c"] }, {
          orderBy: [["qty", "asc"]],
          limit: 1,
        }))
          .map((r) => r.name),
        none: await p.findRecords(projItems, { name: [] }),
      };
    });
    assert.deepEqual(seen, {
      got: { id: a, name: "a", qty: 3, note: null },
      found: { id: b2, name: "b", qty: 1, note: null },
      missing: undefined,
      all: ["a", "c", "b"],
      some: ["c"],
      none: [],
    });
  });

  test("lastRecord gives the matching row with the greatest primary key, or undefined", async (s) => {
    const id = crypto.randomUUID();
    const other = crypto.randomUUID();
    const seen = await s.run(async (p) => {
      await p.createRecords(projLog, [
        { aggregateId: id, step: 2, text: "two" },
        { aggregateId: id, step: 10, text: "ten" },
        { aggregateId: id, step: 9, text: "nine" },
        { aggregateId: other, step: 99, text: "other" },
      ]);
      return [
        await p.lastRecord(projLog, { aggregateId: id }),
        await p.lastRecord(projLog, { aggregateId: crypto.randomUUID() }),
      ];
    }, id);
    assert.deepEqual(seen, [
      { aggregateId: id, step: 10, text: "ten" },
      undefined,
    ]);
  });

  test("deleteRecord deletes a row found earlier by its key; deleteAllRecords every matching row", async (s) => {
    const [a, b2, c] = [
      crypto.randomUUID(),
      crypto.randomUUID(),
      crypto.randomUUID(),
    ];
    await s.run(async (p) => {
      await p.createRecords(projItems, [
        { id: a, name: "keep" },
        { id: b2, name: "gone" },
        { id: c, name: "gone" },
      ]);
      const row = await p.getRecord(projItems, { id: a });
      await p.updateRecord(projItems, { id: a }, { name: "renamed" });
      await p.deleteRecord(projItems, row);
    });
    assert.deepEqual(
      (await s.store.records.find(projItems, {})).map((r) => r.id).sort(),
      [b2, c].sort(),
      "deleted by key although its name changed since",
    );
    await s.run((p) => p.deleteAllRecords(projItems, { name: "gone" }));
    assert.deepEqual(await s.store.records.find(projItems, {}), []);
  });

  test("executeSql runs in the command's transaction on SQL stores; tableName names the table there", async (s) => {
    if (!b.sql) {
      await assert.rejects(
        s.run((p) => p.executeSql("SELECT 1")),
        (e: unknown) =>
          e instanceof SequentError &&
          /needs a PostgreSQL database/.test(e.message),
      );
      assert.equal(
        await s.run((p) => Promise.resolve(p.tableName(projItems))),
        "proj_items",
      );
      return;
    }
    const id = crypto.randomUUID();
    const seen = await s.run(async (p, e) => {
      const name = p.tableName(projItems);
      await p.createRecord(projItems, { id, name: "sql", qty: 1 });
      await p.executeSql(`UPDATE ${name} SET qty = qty + $1 WHERE id = $2`, [
        41,
        id,
      ]);
      return {
        name,
        rows: await p.executeSql(`SELECT qty FROM ${name} WHERE id = $1`, [id]),
        events: await p.executeSql(
          `SELECT count(*)::int AS n FROM ${b.schema}.events e
             JOIN ${b.schema}.aggregates a USING (aggregate_id) WHERE aggregate_id = $1`,
          [e.aggregateId],
        ),
      };
    });
    assert.deepEqual(seen, {
      name: `"${b.viewSchema}"."proj_items"`,
      rows: [{ qty: 42 }],
      events: [{ n: 1 }],
    });
    assert.deepEqual(
      (await s.store.records.find(projItems, { id })).map((r) => r.qty),
      [42],
    );
  });

  test("writing a table the projector does not manage fails with NotManagedByThisProjectorError; reading it is allowed", async (s) => {
    const row = { id: crypto.randomUUID() };
    const writes: ((p: Proj_Projector) => Promise<unknown>)[] = [
      (p) => p.createRecord(projOther, row),
      (p) => p.createRecords(projOther, [row]),
      (p) => p.createOrUpdateRecord(projOther, row, {}),
      (p) => p.updateRecord(projOther, row, {}),
      (p) => p.updateAllRecords(projOther, row, {}),
      (p) => p.deleteRecord(projOther, row),
      (p) => p.deleteAllRecords(projOther, row),
    ];
    for (const write of writes) {
      const id = crypto.randomUUID();
      await assert.rejects(
        s.run(async (p) => {
          await p.createRecord(projItems, { id, name: "lost" });
          await write(p);
        }, id),
        (e: unknown) =>
          e instanceof NotManagedByThisProjectorError &&
          e.projector === "Proj_Projector" && e.table === "proj_other" &&
          /Proj_Projector does not manage table "proj_other": add it to its static manages list/
            .test(e.message),
      );
      assert.equal(await s.store.streamExists(id), false);
    }
    assert.deepEqual(await s.store.records.find(projItems, {}), []);
    const read = await s.run(async (p) => [
      await p.findRecords(projOther, {}),
      await p.findRecord(projOther, row),
      await p.lastRecord(projOther, {}),
    ]);
    assert.deepEqual(read, [[], undefined, undefined]);
  });

  test("a projector error inside a command rolls the command back: no events, no command record, no rows", async (s) => {
    const kept = crypto.randomUUID();
    await s.run(
      (p) => p.createRecord(projItems, { id: kept, name: "kept" }),
      kept,
    );
    const commandsBefore = await b.commandCount(s.store);
    assert.equal(commandsBefore, 1);
    const id = crypto.randomUUID();
    const second = crypto.randomUUID();
    s.projector.action = async (p, e) => {
      await p.createRecord(projItems, { id: e.aggregateId, name: "lost" });
      await p.updateAllRecords(projItems, { id: kept }, { note: "touched" });
      if (e.aggregateId === second) throw new Error("projector failed");
    };
    await assert.rejects(
      s.service.executeCommands(
        new Proj_Do({ aggregateId: id, step: 1 }),
        new Proj_Do({ aggregateId: second, step: 1 }),
      ),
      /projector failed/,
    );
    assert.equal(await s.store.streamExists(id), false);
    assert.equal(await s.store.streamExists(second), false);
    assert.equal(await b.commandCount(s.store), commandsBefore);
    assert.deepEqual(await s.store.records.find(projItems, {}), [
      { id: kept, name: "kept", qty: 0, note: null },
    ]);
    assert.deepEqual(
      await s.store.records.find(projLog, { aggregateId: [id, second] }),
      [],
      "another projector's rows too",
    );
  });

  test("another projector's error undoes this projector's rows of the same event", async (s) => {
    const id = crypto.randomUUID();
    s.logger.fail = true;
    await assert.rejects(
      s.run(
        (p, e) =>
          p.createRecord(projItems, { id: e.aggregateId, name: "lost" }),
        id,
      ),
      /log projector failed/,
    );
    assert.deepEqual(await s.store.records.find(projItems, {}), []);
    assert.deepEqual(await s.store.records.find(projLog, {}), []);
    assert.equal(await s.store.streamExists(id), false);
    s.logger.fail = false;
    await s.run(
      (p, e) => p.createRecord(projItems, { id: e.aggregateId, name: "kept" }),
      id,
    );
    assert.equal(
      (await s.store.records.find(projLog, { aggregateId: id })).length,
      1,
    );
  });

  test("a duplicate row written by a projector fails the command with DuplicateRecordError and stores nothing", async (s) => {
    const taken = crypto.randomUUID();
    await s.run((p) => p.createRecord(projItems, { id: taken, name: "taken" }));
    const id = crypto.randomUUID();
    await assert.rejects(
      s.run((p) => p.createRecord(projItems, { id: taken, name: "again" }), id),
      { name: "DuplicateRecordError" },
    );
    assert.equal(await s.store.streamExists(id), false);
    assert.equal(await b.commandCount(s.store), 1);
    assert.deepEqual(
      (await s.store.records.find(projItems, {})).map((r) => r.name),
      ["taken"],
    );
  });

  test("inline projection runs in the command's transaction, after its events are stored there", async (s) => {
    const id = crypto.randomUUID();
    const seen = await s.run(async (p, e) => {
      await p.createRecord(projItems, { id, name: "inline" });
      return {
        event: [e.aggregateId, e.sequenceNumber],
        ownRow: (await p.findRecord(projItems, { id }))?.name,
        // outside the unit: the event store itself, not the unit's transaction
        outsideRow: (await s.store.records.find(projItems, { id }))[0]?.name,
        outsideEvents: await s.store.streamExists(id),
      };
    }, id);
    assert.deepEqual(seen.event, [id, 1]);
    assert.equal(seen.ownRow, "inline");
    assert.equal(seen.outsideEvents, false, "the events are not committed yet");
    if (b.sql) assert.equal(seen.outsideRow, undefined, "nor the rows");
    assert.equal(await s.store.streamExists(id), true);
    assert.equal(
      (await s.store.records.find(projItems, { id }))[0]?.name,
      "inline",
    );
  });

  test("record helpers outside a command fail with a clear error", async (s) => {
    assert.throws(
      () => s.projector.tableName(projItems),
      (e: unknown) =>
        e instanceof SequentError &&
        /Proj_Projector record helpers is only available while commands execute/
          .test(e.message),
    );
    await assert.rejects(
      Promise.resolve().then(() => s.projector.findRecords(projItems, {})),
      SequentError,
    );
  });
}

Deno.test("withRecordStore() sends a projector's writes to the given store, outside any command", async () => {
  const store = new InMemoryRecordStore();
  const projector = new Proj_Projector();
  const id = crypto.randomUUID();
  await withRecordStore(store, async () => {
    await projector.createRecord(projItems, { id, name: "replayed" });
    await projector.updateRecord(projItems, { id }, { qty: 3 });
    assert.equal(projector.tableName(projItems), "proj_items");
  });
  assert.deepEqual(store.rows(projItems), [{
    id,
    name: "replayed",
    qty: 3,
    note: null,
  }]);
  assert.throws(() => projector.tableName(projItems), SequentError);
});

class Proj_Noted extends Event.define("Proj.Noted", { note: attrs.string() }) {}

const projNotes = table("proj_notes", {
  id: column.uuid().primaryKey(),
  note: column.text().nullable(),
  tag: column.text().nullable(),
});

class Proj_NotesProjector extends Projector {
  static override readonly manages = [projNotes];
}

Deno.test("an optional event attribute goes into a nullable column as it is: undefined writes null", async () => {
  const store = new InMemoryRecordStore();
  const projector = new Proj_NotesProjector();
  const id = crypto.randomUUID();
  const given = new Proj_Noted({
    aggregateId: id,
    sequenceNumber: 1,
    note: "hello",
  });
  const absent = new Proj_Noted({ aggregateId: id, sequenceNumber: 2 });
  await withRecordStore(store, async () => {
    // each compiles without `?? null` (exactOptionalPropertyTypes is on)
    await projector.createRecord(projNotes, { id, note: absent.note });
    assert.deepEqual(store.rows(projNotes), [{ id, note: null, tag: null }]);
    await projector.updateAllRecords(projNotes, { id }, {
      note: given.note,
      tag: given.note,
    });
    await projector.updateAllRecords(projNotes, { id }, { note: absent.note });
    assert.deepEqual(store.rows(projNotes), [{ id, note: null, tag: "hello" }]);
    const row = await projector.updateRecord(projNotes, { id }, () => ({
      tag: absent.note,
    }));
    assert.deepEqual(row, { id, note: null, tag: null });
    await projector.createOrUpdateRecord(projNotes, { id }, {
      note: given.note,
    });
    await projector.createOrUpdateRecord(projNotes, { id }, {
      tag: absent.note,
      note: given.note,
    });
  });
  assert.deepEqual(store.rows(projNotes), [{ id, note: "hello", tag: null }]);
});

backends.disposeAtEnd();
