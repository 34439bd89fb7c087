/**
 * Dry runs: commands executed in a transaction that is always rolled back,
 * reporting the events each would store and the handlers each event would
 * reach, without running them. On PGlite and the server in `DATABASE_URL`
 * the database is compared, table by table, before and after.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  column,
  Command,
  CommandHandler,
  CommandNotValidError,
  CommandService,
  DryRunReport,
  Event,
  EventHandler,
  type EventStore,
  InMemoryEventStore,
  Projector,
  silentLogger,
  table,
  Workflow,
} from "@sequent/core";
import { shared } from "../postgres/_backends.ts";
import { storeBackends } from "../postgres/_store_backends.ts";

// --- Domain -------------------------------------------------------------------

class Dry_Opened
  extends Event.define("Dry.Opened", { owner: attrs.string() }) {}
class Dry_Deposited extends Event.define("Dry.Deposited", {
  amount: attrs.integer(),
}) {}
/** Only ever stored by dry runs: its type name is new to the database. */
class Dry_Audited extends Event.define("Dry.Audited", {}) {}
class Dry_Noted extends Event.define("Dry.Noted", {}) {}

class Dry_Account extends AggregateRoot {
  balance = 0;
  static {
    this.uniqueKey("dry_owner", (a) => a.owner);
    this.on(Dry_Opened, (a, e) => {
      a.owner = e.owner;
    });
    this.on(Dry_Deposited, (a, e) => {
      a.balance += e.amount ?? 0;
    });
    this.on(Dry_Audited, () => {});
    this.on(Dry_Noted, () => {});
    this.enableSnapshots({
      version: 1,
      threshold: 2,
      take: (a) => ({ balance: a.balance }),
      restore: (a, s) => {
        a.balance = s.balance;
      },
    });
  }
  owner: string | undefined;
  static open(id: string, owner: string): Dry_Account {
    const account = new Dry_Account(id);
    account.apply(Dry_Opened, { owner });
    return account;
  }
  deposit(amount: number): void {
    this.apply(Dry_Deposited, { amount });
  }
  audit(): void {
    this.apply(Dry_Audited);
    this.apply(Dry_Noted);
  }
}

class Dry_Open extends Command.define("Dry.Open", {
  owner: attrs.string().required(),
}) {}
class Dry_Deposit extends Command.define("Dry.Deposit", {
  amount: attrs.integer().required(),
}) {}
class Dry_Audit extends Command.define("Dry.Audit", {}) {}
class Dry_Nothing extends Command.define("Dry.Nothing", {}) {}

class Dry_Handler extends CommandHandler {
  static {
    this.on(Dry_Open, (h, c) => {
      h.repository.addAggregate(Dry_Account.open(c.aggregateId, c.owner));
    });
    this.on(Dry_Deposit, async (h, c) => {
      (await h.repository.loadAggregate(c.aggregateId, Dry_Account)).deposit(
        c.amount,
      );
    });
    this.on(Dry_Audit, async (h, c) => {
      (await h.repository.loadAggregate(c.aggregateId, Dry_Account)).audit();
    });
    this.on(Dry_Nothing, () => {});
  }
}

const dryAccounts = table("dry_accounts", {
  id: column.uuid().primaryKey(),
  owner: column.text(),
  balance: column.integer().default(0),
});

class Dry_AccountProjector extends Projector {
  static override readonly manages = [dryAccounts];
  ran = 0;
  static {
    this.on(Dry_Opened, async (p, e) => {
      p.ran++;
      await p.createRecord(dryAccounts, {
        id: e.aggregateId,
        owner: e.owner ?? "",
      });
    });
    this.on(Dry_Deposited, async (p, e) => {
      p.ran++;
      await p.updateRecord(dryAccounts, { id: e.aggregateId }, (row) => ({
        balance: row.balance + (e.amount ?? 0),
      }));
    });
  }
}

class Dry_Welcome extends Command.define("Dry.Welcome", {}) {}

class Dry_WelcomeWorkflow extends Workflow {
  ran = 0;
  afterCommitRan = 0;
  static {
    this.on(Dry_Opened, async (w, e) => {
      w.ran++;
      await w.executeCommands(new Dry_Welcome({ aggregateId: e.aggregateId }));
      w.afterCommit(() => {
        w.afterCommitRan++;
      });
    });
  }
}

class Dry_Counter extends EventHandler {
  ran = 0;
  static {
    this.on(Dry_Deposited, (h) => {
      h.ran++;
    });
  }
}

class Dry_WelcomeHandler extends CommandHandler {
  static {
    this.on(Dry_Welcome, () => {});
  }
}

function setup(store: EventStore) {
  const projector = new Dry_AccountProjector();
  const workflow = new Dry_WelcomeWorkflow();
  const counter = new Dry_Counter();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Dry_Handler(), new Dry_WelcomeHandler()],
    eventHandlers: [projector, workflow, counter],
    aggregates: [Dry_Account],
    logger: silentLogger,
  });
  const ran = () => ({
    projector: projector.ran,
    workflow: workflow.ran,
    afterCommit: workflow.afterCommitRan,
    counter: counter.ran,
  });
  return { service, projector, workflow, counter, ran };
}

// --- The report ------------------------------------------------------------------

Deno.test("the report lists each command's events and the handlers each reaches, by kind", async () => {
  const store = new InMemoryEventStore();
  const { service } = setup(store);
  const id = crypto.randomUUID();
  const open = new Dry_Open({ aggregateId: id, owner: "ann" });
  const deposit = new Dry_Deposit({ aggregateId: id, amount: 5 });
  const report = await service.dryRun(open, deposit);
  assert.ok(report instanceof DryRunReport);
  assert.equal(report.commands.length, 2);
  assert.equal(report.commands[0]?.command, open);
  assert.equal(report.commands[1]?.command, deposit);
  const [opened] = report.commands[0]!.events;
  assert.ok(opened?.event instanceof Dry_Opened);
  assert.equal(opened.event.aggregateId, id);
  assert.equal(opened.event.sequenceNumber, 1);
  assert.deepEqual(opened.handlers, [
    { kind: "projector", name: "Dry_AccountProjector" },
    { kind: "workflow", name: "Dry_WelcomeWorkflow" },
  ]);
  const [deposited] = report.commands[1]!.events;
  assert.ok(deposited?.event instanceof Dry_Deposited);
  assert.equal(
    deposited.event.sequenceNumber,
    2,
    "sees the first command's event",
  );
  assert.deepEqual(deposited.handlers, [
    { kind: "projector", name: "Dry_AccountProjector" },
    { kind: "event handler", name: "Dry_Counter" },
  ]);
  assert.deepEqual(report.events, [opened.event, deposited.event]);
});

Deno.test("toString() prints the report as a tree", async () => {
  const store = new InMemoryEventStore();
  const { service } = setup(store);
  const id = crypto.randomUUID();
  await service.executeCommands(
    new Dry_Open({ aggregateId: id, owner: "ann" }),
  );
  const report = await service.dryRun(
    new Dry_Deposit({ aggregateId: id, amount: 1 }),
    new Dry_Audit({ aggregateId: id }),
    new Dry_Nothing({ aggregateId: id }),
  );
  assert.equal(
    report.toString(),
    [
      `Dry.Deposit ${id}`,
      `└─ Dry.Deposited 2 of ${id}`,
      `   ├─ projector Dry_AccountProjector`,
      `   └─ event handler Dry_Counter`,
      `Dry.Audit ${id}`,
      `├─ Dry.Audited 3 of ${id}`,
      `│  └─ (no handlers)`,
      `└─ Dry.Noted 4 of ${id}`,
      `   └─ (no handlers)`,
      `Dry.Nothing ${id}`,
      `└─ (no events)`,
    ].join("\n"),
  );
  assert.equal(new DryRunReport().toString(), "(no commands)");
  assert.equal((await service.dryRun()).toString(), "(no commands)");
});

Deno.test("a dry run on the in-memory store stores nothing and runs no handler", async () => {
  const store = new InMemoryEventStore();
  const { service, ran } = setup(store);
  const kept = crypto.randomUUID();
  await service.executeCommands(
    new Dry_Open({ aggregateId: kept, owner: "kept" }),
  );
  const before = { ...ran() };
  const commands = store.state.commands.size;
  assert.equal(commands, 2, "the open and the workflow's welcome");
  const id = crypto.randomUUID();
  const mark = await store.positionMark();
  await service.dryRun(
    new Dry_Open({ aggregateId: id, owner: "ann" }),
    new Dry_Deposit({ aggregateId: kept, amount: 5 }),
  );
  assert.deepEqual(ran(), before);
  assert.equal(await store.streamExists(id), false);
  assert.deepEqual(await store.eventsSince(mark), []);
  assert.equal(store.state.commands.size, commands);
  assert.equal(store.records.count(), 1);
  assert.deepEqual(await store.records.find(dryAccounts, {}), [
    { id: kept, owner: "kept", balance: 0 },
  ]);
  assert.deepEqual(await store.aggregatesNeedingSnapshots(10), []);
  assert.equal(
    await store.findAggregateIdByUniqueKey("dry_owner", "ann"),
    undefined,
  );
});

Deno.test("a failing command fails the dry run with its error", async () => {
  const store = new InMemoryEventStore();
  const { service } = setup(store);
  await assert.rejects(
    service.dryRun(
      new Dry_Deposit({ aggregateId: crypto.randomUUID() } as never),
    ),
    CommandNotValidError,
  );
});

// --- On PostgreSQL: the database is left exactly as it was ------------------------

const backends = storeBackends();

for (const b of backends.list) {
  const test = (name: string, fn: (store: EventStore) => Promise<void>) =>
    Deno.test({
      name: `dry run (${b.name}): ${name}`,
      ...shared,
      fn: async () => fn(await b.emptyStore([dryAccounts])),
    });

  test("the database is left exactly as it was, and projectors, workflows and afterCommit do not run", async (store) => {
    const { service, ran } = setup(store);
    const [ann, bob] = [crypto.randomUUID(), crypto.randomUUID()];
    await service.executeCommands(
      new Dry_Open({ aggregateId: ann, owner: "ann" }),
      new Dry_Deposit({ aggregateId: ann, amount: 10 }),
    );
    const before = { ...ran() };
    assert.deepEqual(before, {
      projector: 2,
      workflow: 1,
      afterCommit: 1,
      counter: 1,
    });
    const dump = await b.dump();
    const commands = await b.commandCount(store);
    const needing = await store.aggregatesNeedingSnapshots(10);
    const report = await service.dryRun(
      new Dry_Open({ aggregateId: bob, owner: "bob" }),
      new Dry_Deposit({ aggregateId: bob, amount: 1 }),
      new Dry_Deposit({ aggregateId: ann, amount: 5 }),
      new Dry_Audit({ aggregateId: ann }),
    );
    assert.deepEqual(
      report.events.map((
        e,
      ) => [e.constructor.name, e.aggregateId, e.sequenceNumber]),
      [
        ["Dry_Opened", bob, 1],
        ["Dry_Deposited", bob, 2],
        ["Dry_Deposited", ann, 3],
        ["Dry_Audited", ann, 4],
        ["Dry_Noted", ann, 5],
      ],
    );
    assert.deepEqual(ran(), before, "no handler ran");
    assert.equal(await b.dump(), dump);
    assert.equal(await b.commandCount(store), commands);
    assert.equal(await store.streamExists(bob), false);
    assert.equal(
      await store.findAggregateIdByUniqueKey("dry_owner", "bob"),
      undefined,
    );
    assert.deepEqual(await store.aggregatesNeedingSnapshots(10), needing);
    assert.deepEqual(await store.records.find(dryAccounts, {}), [
      { id: ann, owner: "ann", balance: 10 },
    ]);
    // and the store goes on as if the dry run never happened
    await service.executeCommands(
      new Dry_Open({ aggregateId: bob, owner: "bob" }),
      new Dry_Audit({ aggregateId: ann }),
    );
    assert.equal(
      await store.findAggregateIdByUniqueKey("dry_owner", "bob"),
      bob,
    );
    const [stream] = await store.loadStreams([ann]);
    assert.deepEqual(
      stream?.events.map((e) => [e.eventType, e.sequenceNumber]),
      [["Dry.Opened", 1], ["Dry.Deposited", 2], ["Dry.Audited", 3], [
        "Dry.Noted",
        4,
      ]],
    );
  });

  test("a dry run whose commit would fail reports the failure and changes nothing", async (store) => {
    const { service } = setup(store);
    await service.executeCommands(
      new Dry_Open({ aggregateId: crypto.randomUUID(), owner: "taken" }),
    );
    const dump = await b.dump();
    await assert.rejects(
      service.dryRun(
        new Dry_Open({ aggregateId: crypto.randomUUID(), owner: "fine" }),
        new Dry_Open({ aggregateId: crypto.randomUUID(), owner: "taken" }),
      ),
      { name: "AggregateKeyNotUniqueError" },
    );
    assert.equal(await b.dump(), dump);
  });
}

backends.disposeAtEnd();
