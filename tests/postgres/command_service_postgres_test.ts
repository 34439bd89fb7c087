/**
 * The command service on PostgreSQL: concurrent executeCommands on one
 * aggregate (losers get OptimisticLockError, or retry when asked), and
 * stored events that cannot be read back.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  Command,
  CommandHandler,
  CommandService,
  DeserializeEventError,
  Event,
  OptimisticLockError,
} from "@sequent/core";
import { command, event, stream } from "../contract/event_store_contract.ts";
import { backends, disposeAtEnd, shared } from "./_backends.ts";

class PgSvc_Opened extends Event.define("PgSvc.Opened", {}) {}
class PgSvc_Deposited extends Event.define("PgSvc.Deposited", {
  unit: attrs.integer().required(),
}) {}
class PgSvc_Open extends Command.define("PgSvc.Open", {}) {}
class PgSvc_Deposit extends Command.define("PgSvc.Deposit", {
  unit: attrs.integer().required(),
}) {}

class PgSvc_Account extends AggregateRoot {
  deposits = 0;
  static open(id: string): PgSvc_Account {
    const account = new PgSvc_Account(id);
    account.apply(PgSvc_Opened);
    return account;
  }
  deposit(unit: number): void {
    this.apply(PgSvc_Deposited, { unit });
  }
  static {
    this.on(PgSvc_Deposited, (account) => {
      account.deposits++;
    });
  }
}

class PgSvc_Handler extends CommandHandler {
  /** Holds every deposit until all have loaded the account. */
  gate: Promise<void> = Promise.resolve();
  static {
    this.on(
      PgSvc_Open,
      (h, c) => h.repository.addAggregate(PgSvc_Account.open(c.aggregateId)),
    );
    this.on(
      PgSvc_Deposit,
      (h, c) =>
        h.doWithAggregate(c, PgSvc_Account, async (account) => {
          await h.gate;
          account.deposit(c.unit);
        }),
    );
  }
}

const list = backends();

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${b.name}: ${name}`, ...shared, fn });

  const setup = async (retryOnConflict = 0) => {
    const store = await b.emptyStore();
    const handler = new PgSvc_Handler();
    const service = new CommandService({
      eventStore: store,
      commandHandlers: [handler],
      aggregates: [PgSvc_Account],
      retryOnConflict,
      logger: { enabled: () => false, log: () => {} },
    });
    const id = crypto.randomUUID();
    await service.executeCommands(new PgSvc_Open({ aggregateId: id }));
    return { store, handler, service, id };
  };

  test("16 concurrent executeCommands on one aggregate: a contiguous stream of exactly the commands that succeeded; the others get OptimisticLockError", async () => {
    const { store, handler, service, id } = await setup();
    let release!: () => void;
    handler.gate = new Promise((resolve) => release = resolve);
    const running = Array.from(
      { length: 16 },
      (_, unit) =>
        service.executeCommands(new PgSvc_Deposit({ aggregateId: id, unit })),
    );
    // let every command load the account before any of them commits
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    const results = await Promise.allSettled(running);
    const succeeded = results.flatMap((r, unit) =>
      r.status === "fulfilled" ? [unit] : []
    );
    assert.ok(succeeded.length >= 1, "at least one command succeeds");
    assert.ok(succeeded.length < 16, "the commands really raced");
    for (const r of results) {
      if (r.status === "rejected") {
        assert.ok(r.reason instanceof OptimisticLockError, String(r.reason));
        assert.equal(r.reason.aggregateId, id);
      }
    }
    const [loaded] = await store.loadStreams([id]);
    const events = loaded?.events ?? [];
    assert.deepEqual(
      events.map((e) => e.sequenceNumber),
      Array.from({ length: succeeded.length + 1 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      events.slice(1).map((e) => JSON.parse(e.payload).unit as number).sort((
        x,
        y,
      ) => x - y),
      succeeded,
    );
  });

  test("with retryOnConflict, 16 concurrent executeCommands on one aggregate all succeed, reloading the aggregate each time", async () => {
    const { store, handler, service, id } = await setup(20);
    let release!: () => void;
    handler.gate = new Promise((resolve) => release = resolve);
    const running = Array.from(
      { length: 16 },
      (_, unit) =>
        service.executeCommands(new PgSvc_Deposit({ aggregateId: id, unit })),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    await Promise.all(running);
    const [loaded] = await store.loadStreams([id]);
    const events = loaded?.events ?? [];
    assert.deepEqual(
      events.map((e) => e.sequenceNumber),
      Array.from({ length: 17 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      events.slice(1).map((e) => JSON.parse(e.payload).unit as number).sort((
        x,
        y,
      ) => x - y),
      Array.from({ length: 16 }, (_, i) => i),
    );
  });

  test("a stored event of an unknown type fails to load with DeserializeEventError naming the aggregate, sequence number and type", async () => {
    const { store, service, id } = await setup();
    await store.transaction((tx) =>
      tx.commit(command(id), [
        stream(id, [event(id, 2, {}, "PgSvc.NoSuchEvent")], {
          aggregateType: "PgSvc_Account",
        }),
      ])
    );
    await assert.rejects(
      service.executeCommands(new PgSvc_Deposit({ aggregateId: id, unit: 1 })),
      (error: unknown) => {
        assert.ok(error instanceof DeserializeEventError, String(error));
        assert.equal(error.aggregateId, id);
        assert.equal(error.sequenceNumber, 2);
        assert.equal(error.eventType, "PgSvc.NoSuchEvent");
        assert.match(error.message, /unknown event type/);
        return true;
      },
    );
  });

  test("a stored event with a field of the wrong type fails to load with DeserializeEventError naming the field", async () => {
    const { store, service, id } = await setup();
    await store.transaction((tx) =>
      tx.commit(command(id), [
        stream(id, [event(id, 2, { unit: "seven" }, "PgSvc.Deposited")], {
          aggregateType: "PgSvc_Account",
        }),
      ])
    );
    await assert.rejects(
      service.executeCommands(new PgSvc_Deposit({ aggregateId: id, unit: 1 })),
      (error: unknown) => {
        assert.ok(error instanceof DeserializeEventError, String(error));
        assert.equal(error.aggregateId, id);
        assert.equal(error.sequenceNumber, 2);
        assert.equal(error.eventType, "PgSvc.Deposited");
        assert.match(error.message, /"unit"/);
        return true;
      },
    );
  });
}

disposeAtEnd(list);
