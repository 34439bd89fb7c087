/**
 * The processors' torture suite: writers append to random aggregates
 * concurrently, some transactions roll back, some sleep while holding their
 * transaction id (so later ones commit first), and three processors with
 * batches of 1, 100 and 5,000 read along. For every processor: the events it
 * handled are exactly the committed ones, none missing, none twice, each
 * aggregate's in order.
 *
 * The suite runs one small seed on PGlite and the server. The acceptance run
 * (`SEQUENT_ACCEPTANCE=1`, a CI step of its own) runs the issue's scale: on
 * the server 16 writers, 1,000 aggregates, 100,000 events, 20 seeds; on
 * PGlite 4 writers and 10,000 events. `SEQUENT_TORTURE_SEED` replays a seed;
 * `SEQUENT_TORTURE_SEEDS` sets how many seeds the server runs, and
 * `SEQUENT_TORTURE_LANES` how many of them at once (2 by default).
 */
import assert from "node:assert/strict";
import {
  CommandService,
  Event,
  type EventHandler,
  ProcessorRunner,
  Projector,
  silentLogger,
} from "@sequent/core";
import {
  type PostgresEventStore,
  PostgresProcessorStore,
  type SqlClient,
  SqlError,
} from "@sequent/core/postgres";
import { type StoreBackend, storeBackends } from "./_store_backends.ts";
import { random } from "../_seeded_random.ts";

const acceptance = Deno.env.get("SEQUENT_ACCEPTANCE") === "1";

class Torture_Happened extends Event.define("Torture.Happened", {}) {}

/** What a processor saw, in the order it saw it. */
type Seen = { aggregateId: string; sequenceNumber: number }[];

/** A processor that notes every event it handles. */
function noting(name: string): { handler: EventHandler; seen: Seen } {
  const seen: Seen = [];
  class Noting extends Projector {
    static processorName = name;
    static {
      this.on(Torture_Happened, (_p, e) => {
        seen.push({
          aggregateId: e.aggregateId,
          sequenceNumber: e.sequenceNumber,
        });
      });
    }
  }
  return { handler: new Noting(), seen };
}

class Rollback extends Error {}

interface Scale {
  readonly writers: number;
  readonly aggregates: number;
  readonly events: number;
  readonly seeds: number;
}

function scaleOf(b: StoreBackend): Scale {
  if (!acceptance) {
    // PGlite runs one transaction at a time: the sleeps add up
    return b.name === "server"
      ? { writers: 4, aggregates: 50, events: 1_500, seeds: 1 }
      : { writers: 4, aggregates: 50, events: 500, seeds: 1 };
  }
  // SEQUENT_TORTURE_SEEDS runs fewer (or more) seeds on the server
  const seeds = Number(Deno.env.get("SEQUENT_TORTURE_SEEDS") ?? 20);
  return b.name === "server"
    ? { writers: 16, aggregates: 1_000, events: 100_000, seeds }
    : { writers: 4, aggregates: 1_000, events: 10_000, seeds: 1 };
}

/** One seed: writers and processors at once, then the comparison. */
async function tortureSeed(
  b: StoreBackend,
  seed: number,
  scale: Scale,
): Promise<string> {
  const store = await b.emptyStore([]) as PostgresEventStore;
  const client: SqlClient = await b.client();
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [],
  });
  const processorStore = new PostgresProcessorStore(client, store, {
    schema: b.schema,
    viewSchema: b.viewSchema,
  });
  const processors = [1, 100, 5_000].map((batchSize) => {
    const { handler, seen } = noting(`torture_${batchSize}_${seed}`);
    const runner = new ProcessorRunner({
      store: processorStore,
      service,
      processors: [handler],
      batchSize,
      pollMs: { min: 1, max: 20 },
      logger: silentLogger,
    });
    return { batchSize, runner, seen };
  });
  const stop = new AbortController();
  const running = processors.map((p) => p.runner.run({ signal: stop.signal }));

  const next = random(seed);
  const ids = Array.from(
    { length: scale.aggregates },
    () => crypto.randomUUID(),
  );
  const version = new Map<string, number>();
  const busy = new Set<string>();
  let written = 0;
  const outcomes = { committed: 0, rolledBack: 0, slept: 0, conflicts: 0 };
  const statement = `SELECT ${b.schema}.store_commits($1::text::jsonb)`;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: scale.writers }, async () => {
      while (written < scale.events) {
        // an aggregate no other writer is appending to right now: the
        // version it appends after is then known
        let id = ids[Math.floor(next() * ids.length)]!;
        while (busy.has(id)) id = ids[Math.floor(next() * ids.length)]!;
        busy.add(id);
        const from = (version.get(id) ?? 0) + 1;
        const count = 1 + Math.floor(next() * 5);
        const rollback = next() < 0.1;
        const sleepMs = next() < 0.05 ? Math.floor(next() * 200) : 0;
        written += count;
        const commit = [{
          c: { t: "Torture_Do", u: null, a: id, ea: null, es: null, p: {} },
          s: [{
            a: id,
            t: "Torture_Thing",
            k: "",
            h: null,
            u: null,
            e: Array.from({ length: count }, (_, i) => ({
              s: from + i,
              c: new Date().toISOString(),
              t: "Torture.Happened",
              p: {},
            })),
          }],
          n: {
            e: ["Torture.Happened"],
            a: ["Torture_Thing"],
            c: ["Torture_Do"],
          },
        }];
        try {
          await client.transaction(async (tx) => {
            await tx.query(statement, [JSON.stringify(commit)]);
            if (sleepMs > 0) {
              outcomes.slept++;
              await new Promise((r) => setTimeout(r, sleepMs));
            }
            if (rollback) throw new Rollback();
          });
          version.set(id, from + count - 1);
          outcomes.committed++;
        } catch (error) {
          if (error instanceof Rollback) outcomes.rolledBack++;
          else if (error instanceof SqlError && error.code === "23505") {
            outcomes.conflicts++;
          } else throw error;
        } finally {
          busy.delete(id);
        }
      }
    }),
  );
  const wrote = performance.now();
  for (const p of processors) await p.runner.catchUp();
  stop.abort();
  await Promise.all(running);
  const caughtUp = performance.now();

  const committed = await client.query<{ a: string; s: number }>(
    `SELECT aggregate_id::text AS a, sequence_number AS s
     FROM ${b.schema}.events ORDER BY aggregate_id, sequence_number`,
  );
  const expected = new Set(committed.map((r) => `${r.a}/${r.s}`));
  const lines: string[] = [];
  for (const p of processors) {
    const keys = p.seen.map((e) => `${e.aggregateId}/${e.sequenceNumber}`);
    const unique = new Set(keys);
    const missing = [...expected].filter((k) => !unique.has(k)).length;
    const extra = [...unique].filter((k) => !expected.has(k)).length;
    const duplicated = keys.length - unique.size;
    let inversions = 0;
    const last = new Map<string, number>();
    for (const e of p.seen) {
      if ((last.get(e.aggregateId) ?? 0) >= e.sequenceNumber) inversions++;
      last.set(e.aggregateId, e.sequenceNumber);
    }
    lines.push(
      `batch ${p.batchSize}: ${keys.length} handled, ${missing} missing, ${extra} never committed, ${duplicated} twice, ${inversions} inversions`,
    );
    assert.deepEqual(
      { missing, extra, duplicated, inversions },
      { missing: 0, extra: 0, duplicated: 0, inversions: 0 },
      `seed ${seed}, batch ${p.batchSize} (replay with SEQUENT_TORTURE_SEED=${seed})`,
    );
  }
  assert.ok(outcomes.rolledBack > 0 || scale.events < 100, "some rolled back");
  return `${b.name} seed ${seed}: ${committed.length} events committed (${
    JSON.stringify(outcomes)
  }) in ${((wrote - started) / 1000).toFixed(1)} s, caught up ${
    ((caughtUp - wrote) / 1000).toFixed(1)
  } s later; ${lines.join("; ")}`;
}

const { list, disposeAtEnd } = storeBackends();
/**
 * The server's seeds run in lanes at acceptance scale, each lane on
 * schemas of its own (`SEQUENT_TORTURE_LANES`, 2 by default): a seed ends
 * with its batch-of-1 processor catching up, one round trip after
 * another, which leaves part of the machine idle; the other lane uses it
 * (20 seeds: ~29 min one at a time, ~25 in two lanes, measured before
 * such a projector's commits stopped waiting for the flush). Seeds that
 * run side by side hold each other's processors back at the cluster-wide
 * horizon, which tortures them more, not less.
 */
const laneCount = acceptance
  ? Number(Deno.env.get("SEQUENT_TORTURE_LANES") ?? 2)
  : 1;
if (!Number.isInteger(laneCount) || laneCount < 1) {
  throw new Error(
    `SEQUENT_TORTURE_LANES must be a whole number of at least 1, not ${
      Deno.env.get("SEQUENT_TORTURE_LANES")
    }`,
  );
}
// opened only when a lane uses them
const moreLanes = Array.from({ length: laneCount - 1 }, () => storeBackends());

for (const b of list) {
  if (!b.sql) continue;
  Deno.test({
    name:
      `${b.name}: processors with batches of 1, 100 and 5,000 reading along concurrent writers, rollbacks and transactions that commit late handle every committed event once, each aggregate's in order`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const scale = scaleOf(b);
      const given = Deno.env.get("SEQUENT_TORTURE_SEED");
      const first = given === undefined
        ? Math.floor(Math.random() * 2 ** 31)
        : Number(given);
      const started = performance.now();
      const seeds = given === undefined ? scale.seeds : 1;
      const lanes = (b.name === "server"
        ? [
          b,
          ...moreLanes.map((l) => l.list.find((x) => x.name === b.name)!),
        ]
        : [b]).slice(0, seeds);
      let next = 0;
      await Promise.all(
        lanes.map(async (lane) => {
          for (let i; (i = next++) < seeds;) {
            console.log(await tortureSeed(lane, first + i, scale));
          }
        }),
      );
      console.log(
        `${b.name}: ${seeds} seed(s) from ${first} in ${lanes.length} lane(s), ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
      );
    },
  });
}

disposeAtEnd();
for (const lane of moreLanes) lane.disposeAtEnd();
