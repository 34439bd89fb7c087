/**
 * The ordering invariant processors rely on: reading events in
 * (`xact_id`, `position`) order gives each aggregate's events in sequence
 * order. It breaks when a transaction gets its id before it reads a stream
 * it appends to: a unit whose first command wrote, whose second then
 * loaded S (after another transaction had appended S:2) and appended S:3,
 * committed S:3 with an older id than S:2's. The store prevents it: a
 * unit's events are the first write of its transaction.
 *
 * Randomised units of work race: "A" units execute two commands (the
 * first creates an aggregate of its own, the second reads another
 * aggregate, then after a random pause loads the shared stream and appends
 * to it); "B" units append to the shared stream. Before the invariant was
 * kept, the read after the first command's commit opened the transaction
 * with that commit in it, and the pause let a "B" append in between. Every
 * unit succeeds or fails with OptimisticLockError, and the events read in
 * (`xact_id`, `position`) order have no inversion.
 * `SEQUENT_ACCEPTANCE=1` runs the issue's 10,000 units.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  Command,
  CommandHandler,
  CommandService,
  Event,
  OptimisticLockError,
} from "@sequent/core";
import { type PostgresEventStore, SqlError } from "@sequent/core/postgres";
import { backends, disposeAtEnd, shared } from "./_backends.ts";

const acceptance = Deno.env.get("SEQUENT_ACCEPTANCE") === "1";

class Ord_Created extends Event.define("Ord.Created", {}) {}
class Ord_Appended extends Event.define("Ord.Appended", {
  by: attrs.string(),
}) {}

class Ord_Stream extends AggregateRoot {
  static create(id: string): Ord_Stream {
    const stream = new Ord_Stream(id);
    stream.apply(Ord_Created);
    return stream;
  }

  append(by: string): void {
    this.apply(Ord_Appended, { by });
  }

  static {
    this.on(Ord_Created, () => {});
    this.on(Ord_Appended, () => {});
  }
}

class Ord_Create extends Command.define("Ord.Create", {}) {}
class Ord_Append extends Command.define("Ord.Append", {
  by: attrs.string().required(),
  /** An aggregate read first (a unit that wrote reads it with its write). */
  peek: attrs.uuid(),
  pauseMs: attrs.integer(),
}) {}

class Ord_Handler extends CommandHandler {
  static {
    this.on(Ord_Create, (handler, command) => {
      handler.repository.addAggregate(Ord_Stream.create(command.aggregateId));
    });
    this.on(Ord_Append, async (handler, command) => {
      if (command.peek) {
        await handler.repository.loadAggregate(command.peek, Ord_Stream);
      }
      // a pause before loading: another unit may append meanwhile
      await new Promise((r) => setTimeout(r, command.pauseMs ?? 0));
      await handler.doWithAggregate(
        command,
        Ord_Stream,
        (stream) => stream.append(command.by),
      );
    });
  }
}

const all = backends();

for (const b of all) {
  Deno.test({
    name:
      `${b.name}: storing events after the transaction wrote something is refused (SQ003), so no commit can get its transaction id before its reads`,
    ...shared,
    fn: async () => {
      const client = await b.client();
      await assert.rejects(
        client.transaction(async (tx) => {
          await tx.query("SELECT pg_current_xact_id()");
          await tx.query(
            `SELECT ${b.schema}.store_commits($1::text::jsonb)`,
            ["[]"],
          );
        }),
        (error: unknown) =>
          error instanceof SqlError && error.code === "SQ003" &&
          /first write of their transaction/.test(error.message),
      );
    },
  });
}

const list = all.filter((b) => b.name === "server");

for (const b of list) {
  Deno.test({
    name:
      `${b.name}: units that write, then load a stream another unit appends to, either fail with OptimisticLockError or keep (xact_id, position) order per stream`,
    ...shared,
    fn: async () => {
      const store = await b.emptyStore();
      const service = new CommandService({
        eventStore: store,
        commandHandlers: [new Ord_Handler()],
        aggregates: [Ord_Stream],
      });
      const units = acceptance ? 10_000 : 600;
      const streams = Array.from({ length: 8 }, () => crypto.randomUUID());
      for (const id of streams) {
        await service.executeCommands(new Ord_Create({ aggregateId: id }));
      }
      const outcomes = { ok: 0, conflicts: 0 };
      const unit = async (i: number) => {
        const shared = streams[i % streams.length]!;
        const run = i % 3 === 0
          // "B": append to the shared stream at once
          ? service.executeCommands(
            new Ord_Append({ aggregateId: shared, by: `b${i}`, pauseMs: 0 }),
          )
          // "A": write something first, then load the shared stream later
          : service.executeCommands(
            new Ord_Create({ aggregateId: crypto.randomUUID() }),
            new Ord_Append({
              aggregateId: shared,
              by: `a${i}`,
              peek: streams[(i + 1) % streams.length]!,
              pauseMs: Math.floor(Math.random() * 4),
            }),
          );
        try {
          await run;
          outcomes.ok++;
        } catch (error) {
          assert.ok(error instanceof OptimisticLockError, String(error));
          outcomes.conflicts++;
        }
      };
      const concurrency = 8;
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < units) await unit(next++);
        }),
      );
      const client = await b.client();
      const rows = await client.query<
        { aggregate_id: string; sequence_number: number }
      >(
        `SELECT aggregate_id, sequence_number FROM ${b.schema}.events
         ORDER BY xact_id, position`,
      );
      const last = new Map<string, number>();
      let inversions = 0;
      for (const row of rows) {
        const before = last.get(row.aggregate_id) ?? 0;
        if (row.sequence_number !== before + 1) inversions++;
        last.set(row.aggregate_id, row.sequence_number);
      }
      console.log(
        `${units} units: ${outcomes.ok} stored, ${outcomes.conflicts} OptimisticLockError; ${rows.length} events, ${inversions} inversions`,
      );
      assert.equal(inversions, 0);
      assert.ok(outcomes.conflicts > 0, "the units never raced");
      assert.equal(outcomes.ok + outcomes.conflicts, units);
      await (store as PostgresEventStore).close();
    },
  });
}

disposeAtEnd(all);
