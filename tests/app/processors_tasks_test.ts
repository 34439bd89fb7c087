/**
 * `processors run|status|retry|skip|reset` through `runTasks`, as
 * `sequent.ts` runs them: on an event store object with a processor store
 * of its own, so every task sees what the one before it stored; usage
 * errors; an app that declares no processors.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  type AppConfig,
  attrs,
  column,
  Command,
  CommandHandler,
  createApp,
  Event,
  InMemoryEventStore,
  InMemoryProcessorStore,
  partitionOf,
  Projector,
  silentLogger,
  table,
} from "@sequent/core";
import { TASKS_USAGE } from "@sequent/core/tasks";
import { run } from "./_run_task.ts";

class PT_Added extends Event.define("PT.Added", { title: attrs.string() }) {}

class PT_Item extends AggregateRoot {
  static {
    this.on(PT_Added, () => {});
  }
  static add(id: string, title: string): PT_Item {
    const item = new PT_Item(id);
    item.apply(PT_Added, { title });
    return item;
  }
}

class PT_Add extends Command.define("PT.Add", {
  title: attrs.string().required(),
}) {}

class PT_Handler extends CommandHandler {
  static {
    this.on(PT_Add, (h, c) => {
      h.repository.addAggregate(PT_Item.add(c.aggregateId, c.title));
    });
  }
}

const ptItems = table("pt_items", {
  id: column.uuid().primaryKey(),
  title: column.text(),
});

/** Fails on a title "poison" while `poisoned` is set. */
const poison = { on: true };

class PT_Projector extends Projector {
  static override readonly manages = [ptItems];
  static {
    this.on(PT_Added, (p, e) => {
      if (e.title === "poison" && poison.on) throw new Error("bad title");
      return p.createRecord(ptItems, {
        id: e.aggregateId,
        title: e.title ?? "",
      });
    });
  }
}

/**
 * An event store that outlives each task's app (an app closes its store),
 * standing in for a database every task opens anew.
 */
class SharedStore extends InMemoryEventStore {
  override close(): Promise<void> {
    return Promise.resolve();
  }
}

/** `processors run` until every event is handled or set aside. */
async function runUntilIdle(
  cfg: AppConfig,
  store: InMemoryEventStore,
  processors: InMemoryProcessorStore,
): Promise<void> {
  const stop = new AbortController();
  const running = run(cfg, ["processors", "run"], [], stop.signal);
  const { next: last } = await store.readEvents("", { limit: 1_000_000 });
  for (let i = 0; i < 200; i++) {
    const [record] = await processors.records(["PT_Projector"]);
    if (record?.checkpoint === last) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  stop.abort();
  const r = await running;
  assert.equal(r.code, 0, r.err.join("\n"));
  assert.match(r.err[0]!, /^running PT_Projector as .+ \(stop with Ctrl-C\)$/);
  assert.equal(r.err.at(-1), "stopped; claims released");
}

/**
 * An app over a shared in-memory store, with PT_Projector (or the given
 * class) as a processor, on a store of `partitions` partitions.
 */
function ptApp(
  processor: typeof Projector = PT_Projector,
  partitions?: number,
): {
  store: SharedStore;
  processors: InMemoryProcessorStore;
  cfg: AppConfig;
} {
  const store = new SharedStore({ partitions });
  const processors = new InMemoryProcessorStore(store);
  const cfg: AppConfig = {
    eventStore: store,
    processorStore: processors,
    commandHandlers: [new PT_Handler()],
    aggregates: [PT_Item],
    processors: [processor],
    logger: silentLogger,
    partitions,
  };
  return { store, processors, cfg };
}

Deno.test("processors status counts in words: 1 event behind, not 1 events", async () => {
  const { cfg } = ptApp();
  const app = await createApp(cfg);
  await app.executeCommands(
    new PT_Add({ aggregateId: crypto.randomUUID(), title: "one" }),
  );
  const r = await run(cfg, ["processors", "status"]);
  assert.match(
    r.out[0]!,
    /^PT_Projector \(projector\): 1 event behind \(oldest \d+\.\d s old\);/,
  );
  await app.close();
});

/** PT_Projector's twin, run as members sharing partitions. */
class PT_Shared extends Projector {
  static partitioned = true;
  static {
    this.on(PT_Added, () => {});
  }
}

Deno.test("processors status shows a partitioned processor's members with their shares, the partitions behind, those nobody holds, and a relay's processor in the same store", async () => {
  const { processors, cfg } = ptApp(PT_Shared, 4);
  const app = await createApp(cfg);
  const ids = Array.from({ length: 12 }, () => crypto.randomUUID());
  for (const id of ids) {
    await app.executeCommands(new PT_Add({ aggregateId: id, title: "t" }));
  }
  await processors.join("PT_Shared", "m-1", 60_000);
  await processors.join("PT_Shared", "m-2", 60_000);
  await processors.claimPartitions("PT_Shared", "m-1", [0, 1], 60_000);
  await processors.claimPartitions("PT_Shared", "m-2", [2], 60_000);
  // an outbox relay's partitions, in the same store: not this app's
  await processors.join("outbox", "relay-1", 60_000);
  await processors.claimPartitions("outbox", "relay-1", [0, 1, 2, 3], 60_000);
  const lag = [0, 1, 2, 3].map((n) =>
    ids.filter((id) => partitionOf(id, 4) === n).length
  );
  const r = await run(cfg, ["processors", "status"]);
  assert.equal(r.code, 0, r.err.join("\n"));
  assert.match(
    r.out[0]!,
    /^PT_Shared \(projector, partitioned\): 12 events behind \(oldest \d+\.\d s old\); earliest checkpoint start; 2 members: m-1 \(2 partitions\), m-2 \(1 partition\); 0 parked$/,
  );
  const behind = [0, 1, 2, 3].filter((n) => lag[n]! > 0).map((n) =>
    `${n} (${["m-1", "m-1", "m-2", "not held"][n]}, ${lag[n]} event${
      lag[n] === 1 ? "" : "s"
    })`
  );
  assert.equal(r.out[1], `  partitions behind: ${behind.join(", ")}`);
  assert.equal(r.out[2], "  partitions not held: 3");
  assert.match(
    r.out[3]!,
    /^outbox \(not this app's, partitioned\): 12 events behind \(oldest \d+\.\d s old\); earliest checkpoint start; 1 member: relay-1 \(4 partitions\); 0 parked$/,
  );
  await app.close();
});

Deno.test("processors tasks: run handles events until stopped; status shows lag and a parked aggregate; retry, skip and reset act on the next run", async () => {
  const { store, processors, cfg } = ptApp();
  const app = await createApp(cfg);
  const [good, bad, other] = [1, 2, 3].map(() => crypto.randomUUID());
  await app.executeCommands(new PT_Add({ aggregateId: good!, title: "fine" }));
  await app.executeCommands(new PT_Add({ aggregateId: bad!, title: "poison" }));

  let r = await run(cfg, ["processors", "status"]);
  assert.deepEqual([r.code, r.out], [0, [
    r.out[0]!,
  ]]);
  assert.match(
    r.out[0]!,
    /^PT_Projector \(projector\): 2 events behind \(oldest \d+\.\d s old\); checkpoint start; not running; 0 parked$/,
  );

  poison.on = true;
  await runUntilIdle(cfg, store, processors);
  r = await run(cfg, ["processors", "status"]);
  assert.equal(r.code, 0);
  assert.match(
    r.out[0]!,
    /^PT_Projector \(projector\): up to date; checkpoint \d+; not running; 1 parked$/,
  );
  assert.match(
    r.out[1]!,
    new RegExp(`^  parked ${bad} at event 1 since \\S+: .*bad title`),
  );
  assert.equal(
    (await store.records.find(ptItems, { id: good! }))[0]?.title,
    "fine",
  );

  // retry while still failing: parked again; fixed: handled
  r = await run(cfg, ["processors", "retry", "PT_Projector", bad!]);
  assert.deepEqual([r.code, r.out], [0, [
    `PT_Projector retries aggregate ${bad} on its next round`,
  ]]);
  r = await run(cfg, ["processors", "status"]);
  assert.match(r.out[1]!, /\(retry asked\)/);
  poison.on = false;
  await runUntilIdle(cfg, store, processors);
  assert.equal(
    (await store.records.find(ptItems, { id: bad! }))[0]?.title,
    "poison",
  );
  r = await run(cfg, ["processors", "status"]);
  assert.match(r.out[0]!, /up to date; .* 0 parked$/);
  assert.equal(r.out.length, 1);

  // skip: the failed event is passed over
  poison.on = true;
  await app.executeCommands(
    new PT_Add({ aggregateId: other!, title: "poison" }),
  );
  await runUntilIdle(cfg, store, processors);
  r = await run(cfg, ["processors", "skip", "PT_Projector", other!]);
  assert.equal(r.code, 0);
  await runUntilIdle(cfg, store, processors);
  r = await run(cfg, ["processors", "status"]);
  assert.match(r.out[0]!, /0 parked$/);
  assert.equal((await store.records.find(ptItems, { id: other! })).length, 0);
  r = await run(cfg, ["processors", "skip", "PT_Projector", other!]);
  assert.deepEqual([r.code, r.err], [1, [
    `error: Aggregate "${other}" is not set aside by processor PT_Projector`,
  ]]);

  // reset asks first; then the table is emptied and rebuilt
  r = await run(cfg, ["processors", "reset", "PT_Projector"], [false]);
  assert.deepEqual([r.code, r.err], [1, [
    "error: Not reset: confirm, or pass --yes",
  ]]);
  assert.equal((await store.records.find(ptItems, {})).length, 2);
  r = await run(cfg, ["processors", "reset", "PT_Projector", "--yes"]);
  assert.deepEqual([r.code, r.out], [0, [
    "PT_Projector starts over from the first event",
  ]]);
  assert.equal((await store.records.find(ptItems, {})).length, 0);
  poison.on = false;
  await runUntilIdle(cfg, store, processors);
  assert.equal((await store.records.find(ptItems, {})).length, 3);
  await app.close();
});

Deno.test("processors tasks: usage errors exit 2 before anything is opened; an unknown processor or an app without processors fail in one line", async () => {
  const cfg: AppConfig = {
    database: "postgres://nowhere.invalid:1/db",
    commandHandlers: [],
    processors: [PT_Projector],
  };
  const cases: [string[], string][] = [
    [
      ["processors"],
      "error: processors needs a task: run, status, retry, skip or reset",
    ],
    [["processors", "nope"], 'error: Unknown processors task "nope"'],
    [
      ["processors", "retry", "PT_Projector"],
      "error: processors retry needs <processor> <aggregate-id>: missing <aggregate-id>",
    ],
    [
      ["processors", "reset"],
      "error: processors reset needs <processor>: missing <processor>",
    ],
    [["processors", "status", "x"], 'error: Unexpected argument "x"'],
  ];
  for (const [args, message] of cases) {
    const r = await run(cfg, args);
    assert.deepEqual(
      [r.code, r.err],
      [2, [message, TASKS_USAGE]],
      args.join(" "),
    );
  }
  const store = new InMemoryEventStore();
  let r = await run(
    {
      eventStore: store,
      processorStore: new InMemoryProcessorStore(store),
      commandHandlers: [],
      processors: [PT_Projector],
    },
    ["processors", "reset", "Nope", "--yes"],
  );
  assert.deepEqual([r.code, r.err], [1, [
    'error: No processor "Nope": this app\'s processors are PT_Projector',
  ]]);
  r = await run(
    { eventStore: new InMemoryEventStore(), commandHandlers: [] },
    ["processors", "status"],
  );
  assert.deepEqual([r.code, r.err], [1, [
    "error: This app declares no processors: list projectors or workflows under processors in its configuration",
  ]]);
});
