/**
 * View-schema migrations (`migrate online` / `offline`): a replay rebuilds
 * exactly what inline projection built; commands keep running while the new
 * tables are built and are caught up at offline; failed, concurrent and
 * killed migrations leave the live tables alone and can be run again.
 *
 * Each test works in fresh schemas (dropped at its end) on PGlite and, when
 * `DATABASE_URL` is a postgres:// URL, on that server. The random workload
 * has 2,500 events over 250 aggregates in every pass of the suite, and
 * 10,000 over 1,000 in the acceptance step (`SEQUENT_ACCEPTANCE=1`).
 */
import assert from "node:assert/strict";
import {
  alterTable,
  column,
  type Command,
  CommandService,
  InMemoryRecordStore,
  ProcessorRunner,
  Projector,
  type ProjectorClass,
  replayProjectors,
  SequentError,
  table,
} from "@sequent/core";
import {
  ConcurrentMigrationError,
  connectDatabase,
  PostgresEventStore,
  PostgresProcessorStore,
  type SqlClient,
  SqlRecordStore,
} from "@sequent/core/postgres";
import { backends, disposeAtEnd, shared } from "./_backends.ts";
import { countingClient } from "./_counting_client.ts";
import {
  execute,
  Mig_CreateItem,
  Mig_EditItem,
  Mig_Item,
  Mig_ItemCommandHandler,
  Mig_ItemCreated,
  Mig_ItemProjector,
  Mig_ItemRenamed,
  Mig_ItemTagged,
  Mig_NameProjector,
  migItems,
  migNames,
  quiet,
  type Rig,
  rig,
  rigSchemas,
  statementLog,
  workload,
} from "./_migration_domain.ts";
import { createTableSql } from "@sequent/core/postgres";

const list = backends();

/** The random workload's size: full in the acceptance step only. */
const scale = Deno.env.get("SEQUENT_ACCEPTANCE") === "1"
  ? { aggregates: 1000, events: 10_000 }
  : { aggregates: 250, events: 2500 };

const ITEM_TABLES = ["mig_items", "mig_tags", "mig_groups"] as const;
const ALL_TABLES = [...ITEM_TABLES, "mig_names"] as const;
const V1 = { 1: [Mig_ItemProjector, Mig_NameProjector] };
const V2 = { ...V1, 2: [Mig_ItemProjector, Mig_NameProjector] };

/** Keeps an item's name, each tag appended by an update of the row. */
class Mig_TagNameProjector extends Projector {
  static override readonly manages = [migNames];
  readonly names = new Map<string, string>();
  static {
    this.on(Mig_ItemCreated, (p, e) => {
      p.names.set(e.aggregateId, e.name!);
      return p.createRecord(migNames, {
        aggregateId: e.aggregateId,
        name: e.name!,
      });
    });
    this.on(Mig_ItemTagged, (p, e) => {
      const name = `${p.names.get(e.aggregateId)} ${e.tag}`;
      p.names.set(e.aggregateId, name);
      return p.updateAllRecords(migNames, { aggregateId: e.aggregateId }, {
        name,
      });
    });
    this.on(
      Mig_ItemRenamed,
      (p, e) =>
        p.updateAllRecords(migNames, { aggregateId: e.aggregateId }, {
          name: e.name!,
        }),
    );
  }
}

/** Events per transaction of the killed child's online replay. */
const CHILD_CHUNK = 300;

/**
 * How many events the stored replay cursor of version 2 says the new
 * tables hold the effects of (none without a cursor).
 */
async function eventsBeforeCursor(r: Rig): Promise<number> {
  const [row] = await r.client.query<{ n: number }>(
    `SELECT count(e.*)::int AS n
     FROM "${r.viewSchema}".sequent_versions v
     JOIN "${r.schema}".events e
       ON (e.partition_key, e.aggregate_id, e.sequence_number) <=
          (v.replay_cursor::jsonb ->> 0, (v.replay_cursor::jsonb ->> 1)::uuid,
           (v.replay_cursor::jsonb ->> 2)::integer)
     WHERE v.version = 2`,
  );
  return row?.n ?? 0;
}

/** Runs `_migration_child.ts` and kills it once its replay is paused. */
async function killMidOnline(
  url: string,
  r: Rig,
  pauseAt: number,
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_migration_child.ts", import.meta.url).pathname,
      url,
      r.schema,
      r.viewSchema,
      String(pauseAt),
      "50",
      String(CHILD_CHUNK),
      "100",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errors = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    while (!out.includes("paused")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
  } finally {
    clearTimeout(timer);
    child.kill("SIGKILL");
    await reader.cancel();
  }
  const status = await child.status;
  const stderr = await errors;
  assert.ok(out.includes("paused"), `the child did not pause: ${out}${stderr}`);
  assert.equal(status.signal, "SIGKILL");
}

/** Waits until `check` holds (polling), failing after `ms`. */
async function eventually(
  check: () => Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The transaction ids that last wrote each row of the live tables. */
async function writers(r: Rig): Promise<string[]> {
  const out: string[] = [];
  for (const t of ALL_TABLES) {
    const rows = await r.client.query<{ x: string }>(
      `SELECT string_agg(xmin::text, ',' ORDER BY ctid) AS x FROM "${r.viewSchema}"."${t}"`,
    );
    out.push(rows[0]?.x ?? "");
  }
  return out;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

async function dumpAll(
  r: Rig,
  tables: readonly string[],
  suffix = "",
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of tables) out[t] = await r.dump(t, suffix);
  return out;
}

async function oids(
  r: Rig,
  tables: readonly string[],
): Promise<(string | null)[]> {
  return await Promise.all(tables.map((t) => r.oid(t)));
}

/** A rig at version 1 with `units` executed, both projectors inline. */
async function seeded(
  client: SqlClient,
  units: readonly Command[][],
): Promise<Rig> {
  const r = await rig(client);
  await r.migrator(V1).migrate(quiet);
  await execute(
    r.service([new Mig_ItemProjector(), new Mig_NameProjector()]),
    units,
  );
  return r;
}

async function withRig(
  client: SqlClient,
  units: readonly Command[][],
  fn: (r: Rig) => Promise<void>,
): Promise<void> {
  const r = await seeded(client, units);
  try {
    await fn(r);
  } finally {
    await r.dispose();
  }
}

for (const b of list) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${b.name}: ${name}`, ...shared, fn });
  const server = b.name === "server";

  test(`a migration replaying a random workload of ${scale.events.toLocaleString("en")} events over ${scale.aggregates.toLocaleString("en")} aggregates rebuilds, row for row, the tables inline projection built`, async () => {
    const client = await b.client();
    const seed = 20_240_611;
    // On the server a unit of several commands costs about one round trip
    // more than a single one; PGlite re-runs a unit's commits for each read.
    const { units, events } = workload(seed, {
      ...scale,
      unitSize: server ? 4 : 1,
    });
    assert.ok(events >= scale.events);
    await withRig(client, units, async (r) => {
      const inline = await dumpAll(r, ALL_TABLES);
      // The workload exercised what it should: deletions, restores, shared
      // group rows, tags removed and added.
      assert.ok(
        inline.mig_items!.length < scale.aggregates,
        "some items are deleted",
      );
      assert.equal(inline.mig_names!.length, scale.aggregates);
      assert.equal(inline.mig_groups!.length, 7);
      assert.ok(inline.mig_tags!.length > scale.aggregates);
      const [stored] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${r.schema}".events`,
      );
      assert.equal(stored?.n, events);

      const flushEvery = 97;
      const migrator = r.migrator(V2, [], { flushEvery, batchSize: 777 });
      const online = await migrator.online(quiet);
      assert.equal(online.events, events, `seed ${seed}`);
      assert.ok(online.peakRows <= flushEvery + 10, `peak ${online.peakRows}`);
      const finalRows = Object.values(inline).reduce((n, t) => n + t.length, 0);
      // Rows flushed and then changed were written again.
      assert.ok(
        online.rows > finalRows,
        `${online.rows} rows written for ${finalRows} final rows`,
      );
      assert.deepEqual(await dumpAll(r, ALL_TABLES, "_v2"), inline);
      const offline = await migrator.offline(quiet);
      assert.equal(offline.events, 0);
      assert.deepEqual(await dumpAll(r, ALL_TABLES), inline, `seed ${seed}`);
    });
  });

  test("commands executed between online and offline are in the new tables after offline; the live tables are untouched until then", async () => {
    const client = await b.client();
    const { units } = workload(7, { aggregates: 60, events: 600 });
    // Creates come first: the later half edits, deletes and restores the
    // items the first half created.
    const before = units.slice(0, 150);
    const between = units.slice(150);
    await withRig(client, before, async (r) => {
      const migrator = r.migrator(V2, [], { flushEvery: 50 });
      assert.deepEqual(await migrator.status(), {
        currentVersion: 1,
        targetVersion: 2,
        state: "pending",
        running: false,
        tables: [...ALL_TABLES],
        projectors: [
          { name: "Mig_ItemProjector", state: "active", processor: false },
          { name: "Mig_NameProjector", state: "active", processor: false },
        ],
        problems: [],
      });
      const liveBefore = await dumpAll(r, ALL_TABLES);
      const oidsBefore = await oids(r, ALL_TABLES);

      const online = await migrator.online(quiet);
      assert.equal(online.changed, true);
      assert.deepEqual(online.tables, [...ALL_TABLES]);
      assert.deepEqual(await migrator.status(), {
        currentVersion: 1,
        targetVersion: 2,
        state: "online-done",
        running: false,
        tables: [...ALL_TABLES],
        projectors: [
          { name: "Mig_ItemProjector", state: "replaying", processor: false },
          { name: "Mig_NameProjector", state: "replaying", processor: false },
        ],
        problems: [],
      });
      assert.deepEqual(await dumpAll(r, ALL_TABLES), liveBefore);
      assert.deepEqual(await oids(r, ALL_TABLES), oidsBefore);
      assert.deepEqual(await dumpAll(r, ALL_TABLES, "_v2"), liveBefore);
      // Running online again changes nothing.
      assert.equal((await migrator.online(quiet)).changed, false);

      const service = r.service([
        new Mig_ItemProjector(),
        new Mig_NameProjector(),
      ]);
      await execute(service, between);
      const expected = await dumpAll(r, ALL_TABLES);
      assert.notDeepEqual(expected, liveBefore);
      // The new tables hold what was there at online, no more.
      assert.deepEqual(await dumpAll(r, ALL_TABLES, "_v2"), liveBefore);
      assert.deepEqual(await oids(r, ALL_TABLES), oidsBefore);

      const offline = await migrator.offline(quiet);
      assert.equal(offline.changed, true);
      assert.ok(offline.events > 0);
      assert.deepEqual(await migrator.status(), {
        currentVersion: 2,
        targetVersion: 2,
        state: "up-to-date",
        running: false,
        tables: [],
        projectors: [
          { name: "Mig_ItemProjector", state: "active", processor: false },
          { name: "Mig_NameProjector", state: "active", processor: false },
        ],
        problems: [],
      });
      assert.deepEqual(await dumpAll(r, ALL_TABLES), expected);
      for (const [i, oid] of (await oids(r, ALL_TABLES)).entries()) {
        assert.notEqual(oid, oidsBefore[i], `${ALL_TABLES[i]} was replaced`);
      }
      for (const t of ALL_TABLES) {
        assert.equal(await r.exists(`${t}_v2`), false);
      }
      assert.deepEqual(await r.versions(), [
        { version: 1, status: "done" },
        { version: 2, status: "done" },
      ]);
      assert.equal((await migrator.offline(quiet)).changed, false);

      // Inline projection goes on in the swapped-in tables.
      const id = crypto.randomUUID();
      await service.executeCommands(
        new Mig_CreateItem({ aggregateId: id, name: "after", group: "z" }),
        new Mig_EditItem({ aggregateId: id, name: "after, edited" }),
      );
      const [row] = await client.query<{ name: string; edits: number }>(
        `SELECT name, edits FROM "${r.viewSchema}".mig_items WHERE aggregate_id = $1::text::uuid`,
        [id],
      );
      assert.deepEqual(row, { name: "after, edited", edits: 1 });
    });
  });

  test("catchup replays what was stored since online and moves the boundary; offline then replays only what came after", async () => {
    const client = await b.client();
    const { units } = workload(11, { aggregates: 60, events: 600 });
    await withRig(client, units.slice(0, 120), async (r) => {
      const migrator = r.migrator(V2);
      await assert.rejects(
        () => migrator.catchUp(quiet),
        /run "migrate online" for version 2 before "migrate catchup"/,
      );
      await migrator.online(quiet);
      const service = r.service([
        new Mig_ItemProjector(),
        new Mig_NameProjector(),
      ]);
      await execute(service, units.slice(120, 180));
      const [stored] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${r.schema}".events`,
      );
      let caught = 0;
      // (on a shared server another session's transaction may hold the
      // boundary back for a moment: catch up again until it has passed)
      for (let tries = 0; tries < 100; tries++) {
        caught += (await migrator.catchUp(quiet)).events;
        if (
          JSON.stringify(await dumpAll(r, ALL_TABLES, "_v2")) ===
            JSON.stringify(await dumpAll(r, ALL_TABLES))
        ) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(caught > 0);
      assert.deepEqual(
        await dumpAll(r, ALL_TABLES, "_v2"),
        await dumpAll(r, ALL_TABLES),
      );
      assert.equal((await migrator.status()).projectors[0]?.state, "replaying");
      await execute(service, units.slice(180));
      const [all] = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${r.schema}".events`,
      );
      const expected = await dumpAll(r, ALL_TABLES);
      const offline = await migrator.offline(quiet);
      // what online and catchup replayed is not replayed again
      assert.ok(
        offline.events <= all!.n - stored!.n,
        `${offline.events} events replayed, ${
          all!.n - stored!.n
        } stored since the catch-up`,
      );
      assert.deepEqual(await dumpAll(r, ALL_TABLES), expected);
      assert.equal((await migrator.catchUp(quiet)).changed, false);
    });
  });

  test("a projector run as a processor is built with the new version and goes on from where the replay ended: after the swap it handles each later event once", async () => {
    const client = await b.client();
    const { units } = workload(12, { aggregates: 50, events: 500 });
    await withRig(client, units.slice(0, 100), async (r) => {
      const asProcessor = new Map([[
        Mig_NameProjector as ProjectorClass,
        "Mig_NameProjector",
      ]]);
      const migrator = r.migrator(V2, [], { processors: asProcessor });
      const states = (await migrator.status()).projectors;
      assert.deepEqual(states[1], {
        name: "Mig_NameProjector",
        state: "active",
        processor: true,
      });
      await migrator.online(quiet);
      // from here on, names are projected by the processor only
      const service = r.service([new Mig_ItemProjector()]);
      await execute(service, units.slice(100, 200));
      const offline = await migrator.offline(quiet);
      assert.ok(offline.events > 0);
      const [row] = await client.query<{ xact: string; position: string }>(
        `SELECT checkpoint_xact::text AS xact, checkpoint_position::text AS position
           FROM "${r.schema}".processors WHERE name = 'Mig_NameProjector'`,
      );
      assert.ok(BigInt(row!.xact) > 0n && row!.position === "0", `${row}`);
      await execute(service, units.slice(200));
      const runner = new ProcessorRunner({
        store: new PostgresProcessorStore(client, r.store, {
          schema: r.schema,
          viewSchema: r.viewSchema,
        }),
        service,
        processors: [new Mig_NameProjector()],
        pollMs: { min: 10, max: 50 },
        logger: { log: () => {}, enabled: () => false },
      });
      await runner.catchUp();
      const [status] = await runner.status();
      // a name projected twice would have failed its primary key and
      // parked its aggregate
      assert.deepEqual(status?.parked, []);
      const rebuilt = new InMemoryRecordStore();
      for (let tries = 0;; tries++) {
        const { events } = await replayProjectors(r.store, {
          projectors: [new Mig_NameProjector()],
          serializer: service.serializer,
          records: rebuilt,
        });
        const [n] = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${r.schema}".events e
             JOIN "${r.schema}".event_types t ON t.id = e.event_type_id
            WHERE t.type IN ('Mig_ItemCreated', 'Mig_ItemRestored', 'Mig_ItemRenamed')`,
        );
        if (events === n!.n || tries === 100) break;
        await rebuilt.delete(migNames, {});
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const names = (await rebuilt.find(migNames, {}))
        .map((n) => JSON.stringify([n.aggregateId, n.name])).sort();
      const live = await client.query<{ id: string; name: string }>(
        `SELECT aggregate_id::text AS id, name FROM "${r.viewSchema}".mig_names`,
      );
      assert.deepEqual(
        live.map((n) => JSON.stringify([n.id, n.name])).sort(),
        names,
      );
    });
  });

  test("a replay flushes between aggregates: no row it wrote is read back, though it flushes often", async () => {
    const client = await b.client();
    const r = await rig(client);
    try {
      const service = r.service([]);
      for (let i = 0; i < 40; i++) {
        const id = crypto.randomUUID();
        await service.executeCommands(
          new Mig_CreateItem({ aggregateId: id, name: `n${i}`, group: "g" }),
          new Mig_EditItem({ aggregateId: id, name: `n${i}, again` }),
          new Mig_EditItem({ aggregateId: id, name: `n${i}, at last` }),
        );
      }
      const log = statementLog(client);
      const migrator = r.migrator({ 1: [Mig_NameProjector] }, [], {
        client: log,
        flushEvery: 3,
        batchSize: 7,
      });
      const [online] = await migrator.migrate(quiet);
      assert.equal(online?.events, 120);
      const copies = log.log.filter((l) => l.kind === "tx.copyIn").length;
      assert.ok(copies >= 10, `${copies} flushes`);
      const readBacks = log.log.filter((l) =>
        /^(tx\.)?(query|batch)$/.test(l.kind) &&
        /FROM "[^"]+"\."mig_names_v1"/.test(l.text)
      );
      assert.deepEqual(readBacks, []);
      assert.equal(online?.rows, 40, "each row written once");
      assert.equal((await r.dump("mig_names")).length, 40);
      assert.ok(
        (await r.dump("mig_names")).every((row) => row.includes("at last")),
      );
    } finally {
      await r.dispose();
    }
  });

  test("offline without online fails, naming the step to run first, and changes nothing", async () => {
    const client = await b.client();
    const { units } = workload(8, { aggregates: 10, events: 40 });
    await withRig(client, units, async (r) => {
      const live = await dumpAll(r, ALL_TABLES);
      const migrator = r.migrator(V2);
      await assert.rejects(
        migrator.offline(quiet),
        (error: unknown) =>
          error instanceof SequentError &&
          /is at version 1: run "migrate online" for version 2 before "migrate offline"/
            .test(error.message),
      );
      assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
      assert.deepEqual(await r.versions(), [{ version: 1, status: "done" }]);
      assert.equal((await migrator.status()).state, "pending");
    });
  });

  test("a projector failing midway through online drops the half-built tables, leaves the live ones untouched, and the next run succeeds", async () => {
    const client = await b.client();
    const { units } = workload(9, { aggregates: 80, events: 500 });
    await withRig(client, units, async (r) => {
      const live = await dumpAll(r, ALL_TABLES);
      const liveOids = await oids(r, ALL_TABLES);
      const broken = new Mig_ItemProjector();
      broken.failAt = 300; // after several flushes of 20 rows
      const migrator = r.migrator(V2, [broken], { flushEvery: 20 });
      await assert.rejects(migrator.online(quiet), /fails at event 300/);
      for (const t of ALL_TABLES) {
        assert.equal(await r.exists(`${t}_v2`), false, `${t}_v2 is gone`);
      }
      assert.deepEqual(await r.versions(), [{ version: 1, status: "done" }]);
      assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
      assert.deepEqual(await oids(r, ALL_TABLES), liveOids);
      const status = await migrator.status();
      assert.equal(status.state, "pending");
      assert.equal(status.running, false);

      broken.failAt = undefined;
      await migrator.migrate(quiet);
      assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
      assert.equal((await migrator.status()).state, "up-to-date");
    });
  });

  test("an alterTable-only version changes the live table in place at offline, and replays nothing", async () => {
    const client = await b.client();
    const { units } = workload(10, { aggregates: 20, events: 80 });
    await withRig(client, units, async (r) => {
      const columns = async () =>
        (await client.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'mig_names' ORDER BY ordinal_position`,
          [r.viewSchema],
        )).map((c) => c.column_name);
      const names = await r.dump("mig_names");
      const oid = await r.oid("mig_names");
      const migrator = r.migrator({
        ...V1,
        2: [
          alterTable(
            migNames,
            "ALTER TABLE {table} ADD COLUMN note text NOT NULL DEFAULT 'n'",
          ),
        ],
      });
      assert.deepEqual((await migrator.status()).tables, []);
      const online = await migrator.online(quiet);
      assert.deepEqual([online.changed, online.events, online.tables], [
        true,
        0,
        [],
      ]);
      assert.deepEqual(await columns(), ["aggregate_id", "name"]);
      assert.equal((await migrator.status()).state, "online-done");
      const offline = await migrator.offline(quiet);
      assert.deepEqual([offline.changed, offline.events], [true, 0]);
      assert.deepEqual(await columns(), ["aggregate_id", "name", "note"]);
      assert.equal(await r.oid("mig_names"), oid);
      assert.deepEqual(
        await r.dump("mig_names"),
        names.map((row) => row.replace(/\)$/, ",n)")),
      );
      assert.equal((await migrator.status()).currentVersion, 2);
    });
  });

  test("a version adding a projector builds only that projector's tables and leaves the others alone", async () => {
    const client = await b.client();
    const { units, events } = workload(11, { aggregates: 50, events: 300 });
    const r = await rig(client);
    try {
      await r.migrator({ 1: [Mig_ItemProjector] }).migrate(quiet);
      await execute(r.service([new Mig_ItemProjector()]), units);
      assert.equal(await r.exists("mig_names"), false);
      const items = await dumpAll(r, ITEM_TABLES);
      const itemOids = await oids(r, ITEM_TABLES);
      const migrator = r.migrator({
        1: [Mig_ItemProjector],
        2: [Mig_NameProjector],
      });
      assert.deepEqual((await migrator.status()).tables, ["mig_names"]);
      const online = await migrator.online(quiet);
      assert.deepEqual(online.tables, ["mig_names"]);
      // only the event types the name projector handles are read
      assert.ok(online.events < events, `${online.events} of ${events}`);
      assert.equal(await r.exists("mig_names_v2"), true);
      for (const t of ITEM_TABLES) {
        assert.equal(await r.exists(`${t}_v2`), false);
      }
      await migrator.offline(quiet);
      assert.deepEqual(await dumpAll(r, ITEM_TABLES), items);
      assert.deepEqual(await oids(r, ITEM_TABLES), itemOids);
      const [check] = await client.query<{ names: number; differ: number }>(
        `SELECT (SELECT count(*)::int FROM "${r.viewSchema}".mig_names) AS names,
           (SELECT count(*)::int FROM "${r.viewSchema}".mig_items i
            JOIN "${r.viewSchema}".mig_names n USING (aggregate_id)
            WHERE i.name <> n.name) AS differ`,
      );
      assert.deepEqual(check, { names: 50, differ: 0 });
    } finally {
      await r.dispose();
    }
  });

  test("online for a version the code no longer targets starts over for the new one", async () => {
    const client = await b.client();
    const { units } = workload(12, { aggregates: 20, events: 100 });
    await withRig(client, units, async (r) => {
      const live = await dumpAll(r, ALL_TABLES);
      await r.migrator(V2).online(quiet);
      assert.equal(await r.exists("mig_items_v2"), true);
      const v3 = r.migrator({ ...V2, 3: [Mig_ItemProjector] });
      assert.equal((await v3.status()).state, "pending");
      const online = await v3.online(quiet);
      // version 2 was never finished: its projectors are rebuilt too
      assert.deepEqual(online.tables, [...ALL_TABLES]);
      assert.equal(online.version, 3);
      for (const t of ALL_TABLES) {
        assert.equal(await r.exists(`${t}_v2`), false);
      }
      await v3.offline(quiet);
      assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
      assert.deepEqual(await r.versions(), [
        { version: 1, status: "done" },
        { version: 3, status: "done" },
      ]);
    });
  });

  test("a replay gives each event its creation time to the millisecond, from the year 1 to 9999", async () => {
    const client = await b.client();
    const r = await rig(client);
    try {
      await r.migrator({ 1: [Mig_ItemProjector] }).migrate(quiet);
      const times = [
        "0001-01-01T00:00:00.000Z",
        "0050-06-15T12:34:56.789Z",
        "1969-12-31T23:59:59.999Z",
        "2024-02-29T00:00:00.001Z",
        "9999-12-31T23:59:59.999Z",
      ];
      await r.service([]).commitEvents(times.map((time) => ({
        events: [
          new Mig_ItemCreated({
            aggregateId: crypto.randomUUID(),
            sequenceNumber: 1,
            createdAt: new Date(time),
            name: time,
            group: "g",
          }),
        ],
      })));
      await r.migrator({ 1: [Mig_ItemProjector], 2: [Mig_ItemProjector] })
        .migrate(quiet);
      const rows = await client.query<{ name: string; ms: string }>(
        `SELECT name, (extract(epoch FROM updated_at) * 1000)::text AS ms
         FROM "${r.viewSchema}".mig_items ORDER BY name`,
      );
      assert.deepEqual(
        rows.map((row) => [row.name, Number(row.ms)]),
        times.map((time) => [time, new Date(time).getTime()]),
      );
    } finally {
      await r.dispose();
    }
  });

  test("a create command with its projection is one statement: the row's INSERT, with the updates that follow folded in, joins the commit", async () => {
    const client = await b.client();
    const r = await rig(client);
    try {
      await r.migrator({ 1: [Mig_NameProjector] }).migrate(quiet);
      const log = statementLog(client);
      const service = new CommandService({
        eventStore: new PostgresEventStore(log, {
          schema: r.schema,
          viewSchema: r.viewSchema,
          closeClient: false,
        }),
        commandHandlers: [new Mig_ItemCommandHandler()],
        eventHandlers: [new Mig_TagNameProjector()],
        aggregates: [Mig_Item],
      });
      // the first command registers the type names
      await service.executeCommands(
        new Mig_CreateItem({
          aggregateId: crypto.randomUUID(),
          name: "first",
          group: "g",
          tags: ["x"],
        }),
      );
      log.log.splice(0);
      const id = crypto.randomUUID();
      await service.executeCommands(
        new Mig_CreateItem({
          aggregateId: id,
          name: "second",
          group: "g",
          tags: ["red", "blue"],
        }),
      );
      assert.deepEqual(log.log.map((l) => l.kind), ["query"]);
      const text = log.log[0]!.text;
      assert.match(text, /INSERT INTO "[^"]+"\."mig_names"/);
      assert.match(text, /INSERT INTO "[^"]+"\.events/);
      assert.doesNotMatch(text, /UPDATE/);
      const name = async () =>
        (await client.query<{ name: string }>(
          `SELECT name FROM "${r.viewSchema}".mig_names WHERE aggregate_id = $1::text::uuid`,
          [id],
        ))[0]?.name;
      assert.equal(await name(), "second red blue");

      // An edit loads the aggregate, then sends its commit and its
      // projection's UPDATE in one round trip.
      log.log.splice(0);
      await service.executeCommands(
        new Mig_EditItem({ aggregateId: id, name: "third" }),
      );
      assert.deepEqual(log.log.map((l) => l.kind), [
        "query",
        "transaction",
        "tx.enqueue",
        "tx.enqueue",
      ]);
      assert.equal(await name(), "third");

      // A projection error fails the whole statement: nothing is stored.
      const again = new Mig_CreateItem({
        aggregateId: id,
        name: "x",
        group: "g",
      });
      await assert.rejects(service.executeCommands(again));
      assert.equal(await name(), "third");
    } finally {
      await r.dispose();
    }
  });

  test("updates folded into a queued INSERT leave the rows the statements would have left", async () => {
    const client = await b.client();
    const r = await rig(client);
    const ids = Array.from({ length: 5 }, () => crypto.randomUUID());
    const [a, bb, c, d, e] = ids as [string, string, string, string, string];
    try {
      await client.execute(
        `CREATE SCHEMA "${r.viewSchema}"; ${
          createTableSql(migNames, r.viewSchema)
        }`,
      );
      await client.transaction(async (tx) => {
        const store = new SqlRecordStore(tx, r.viewSchema);
        await store.insert(migNames, [{ aggregateId: a, name: "a" }]);
        await store.update(migNames, { aggregateId: a }, { name: "a1" });
        // by another column: queued after the INSERT, ends the folding
        await store.update(migNames, { name: "a1" }, { aggregateId: e });
        // (so this one finds no row)
        await store.update(migNames, { aggregateId: a }, { name: "a3" });
        await store.insert(migNames, [{ aggregateId: bb, name: "b" }]);
        // a read sends the queue: the INSERT can no longer change
        assert.equal(
          (await store.find(migNames, { aggregateId: bb })).length,
          1,
        );
        await store.update(migNames, { aggregateId: bb }, { name: "b1" });
        await store.insert(migNames, [{ aggregateId: c, name: "c" }]);
        // a changed key is an UPDATE of its own
        await store.update(migNames, { aggregateId: c }, { aggregateId: d });
      });
      assert.deepEqual(
        (await client.query<{ id: string; name: string }>(
          `SELECT aggregate_id AS id, name FROM "${r.viewSchema}".mig_names`,
        )).map((row) => [row.id, row.name]).sort(),
        [[e, "a1"], [bb, "b1"], [d, "c"]].sort(),
      );
    } finally {
      await r.dispose();
    }
  });

  test("a chunk of online ends without writing the rows it holds: below flushEvery, every new table is written once, at the end, however many chunks", async () => {
    const client = await b.client();
    const { units } = workload(19, { aggregates: 60, events: 600 });
    await withRig(client, units, async (r) => {
      const live = await dumpAll(r, ALL_TABLES);
      const counting = countingClient(r.client);
      const online = await r.migrator(V2, [], {
        client: counting,
        chunkSize: 100,
        batchSize: 50,
        flushEvery: 100_000,
      }).online(quiet);
      assert.equal(online.changed, true);
      const chunks = counting.calls.filter((c) => c.kind === "transaction");
      assert.ok(chunks.length >= 6, `${chunks.length} transactions`);
      const written = counting.calls.filter((c) => c.kind === "tx.copyIn")
        .map((c) => c.texts[0]);
      assert.ok(written.length > 0);
      assert.deepEqual(written, [...new Set(written)], "a table written twice");
      await r.migrator(V2).migrate(quiet);
      assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
    });
  });

  if (server) {
    test("killed in the middle of online: the live tables were never touched, and running again goes on from the last flush committed and ends with the right tables", async () => {
      const client = await b.client();
      const { units, events } = workload(16, {
        aggregates: 200,
        events: 2000,
        unitSize: 4,
      });
      await withRig(client, units, async (r) => {
        const live = await dumpAll(r, ALL_TABLES);
        const liveOids = await oids(r, ALL_TABLES);
        const liveWriters = await writers(r);
        await killMidOnline(b.url, r, 1200);
        // the server rolls back once it sees the connection gone
        await eventually(
          async () => !(await r.migrator(V2).status()).running,
          15_000,
          "the killed migration's transaction has ended",
        );
        assert.deepEqual(await r.versions(), [
          { version: 1, status: "done" },
          { version: 2, status: "online" },
        ]);
        assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
        assert.deepEqual(await oids(r, ALL_TABLES), liveOids);
        assert.deepEqual(await writers(r), liveWriters);
        const status = await r.migrator(V2).status();
        assert.equal(status.state, "pending");
        await assert.rejects(
          () => r.migrator(V2).offline(quiet),
          /"migrate online" for version 2 has not finished/,
        );

        // the chunks committed before the kill flushed rows: the stored
        // cursor is past their first flush, within the events handled
        const done = await eventsBeforeCursor(r);
        assert.ok(done > 0 && done <= 1200, `cursor after ${done} events`);
        const [online] = await r.migrator(V2, [], { flushEvery: 50 })
          .migrate(quiet);
        // what was committed before the kill is not replayed again
        assert.equal(online!.events, events - done);
        assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
        assert.equal((await r.migrator(V2).status()).state, "up-to-date");
      });
    });

    test("while online replays, processors read on: a chunk holds the horizon back only from its first write to its commit", async () => {
      const client = await b.client();
      const { units } = workload(17, { aggregates: 60, events: 600 });
      await withRig(client, units, async (r) => {
        const paused = deferred();
        const release = deferred();
        const slow = new Mig_ItemProjector();
        slow.onEvent = async (n) => {
          if (n !== 150) return;
          paused.resolve();
          await release.promise;
        };
        // the second chunk pauses before it has written anything
        const online = r.migrator(V2, [slow], {
          chunkSize: 100,
          batchSize: 50,
          flushEvery: 10_000,
        }).online(quiet);
        online.catch(() => {});
        try {
          await Promise.race([
            paused.promise,
            online.then(() => {
              throw new Error("online ended before its second chunk paused");
            }),
          ]);
          const id = crypto.randomUUID();
          await r.service([new Mig_ItemProjector(), new Mig_NameProjector()])
            .executeCommands(
              new Mig_CreateItem({ aggregateId: id, name: "new", group: "n" }),
            );
          const read = async () => {
            let after = "";
            for (;;) {
              const batch = await r.store.readEvents(after, { limit: 10_000 });
              if (batch.events.some((e) => e.aggregateId === id)) return true;
              if (batch.caughtUp) return false;
              after = batch.next;
            }
          };
          await eventually(read, 2_000, "the new event is read during online");
        } finally {
          release.resolve();
        }
        assert.equal((await online).changed, true);
      });
    });

    test("migrate status polled while online replays chunk after chunk does not stop it", async () => {
      const client = await b.client();
      const { units } = workload(18, { aggregates: 100, events: 1000 });
      await withRig(client, units, async (r) => {
        const other = await connectDatabase(b.url, { max: 2 });
        let polling = true;
        let polls = 0;
        const poll = (async () => {
          const watcher = r.migrator(V2, [], { client: other });
          while (polling) {
            await watcher.status();
            polls++;
          }
        })();
        try {
          const online = await r.migrator(V2, [], {
            chunkSize: 50,
            batchSize: 25,
          }).online(quiet);
          assert.equal(online.changed, true);
          assert.ok(online.events >= 1000);
        } finally {
          polling = false;
          await poll;
          await other.close();
        }
        assert.ok(polls > 0);
        assert.equal((await r.migrator(V2).status()).state, "online-done");
      });
    });

    test("a second migration while one runs fails with ConcurrentMigrationError, and status shows it running", async () => {
      const client = await b.client();
      const { units } = workload(13, { aggregates: 30, events: 200 });
      await withRig(client, units, async (r) => {
        const started = deferred();
        const release = deferred();
        const slow = new Mig_ItemProjector();
        slow.onEvent = async (n) => {
          if (n !== 50) return;
          started.resolve();
          await release.promise;
        };
        const first = r.migrator(V2, [slow]).online(quiet);
        first.catch(() => {});
        await started.promise;
        // A second process would use a connection of its own.
        const other = await connectDatabase(b.url, { max: 2 });
        try {
          const second = r.migrator(V2, [], { client: other });
          const status = await second.status();
          assert.equal(status.running, true);
          assert.equal(status.state, "pending");
          const steps = [
            () => second.online(quiet),
            () => second.offline(quiet),
            () => second.migrate(quiet),
          ];
          for (const step of steps) {
            await assert.rejects(
              step(),
              (error: unknown) =>
                error instanceof ConcurrentMigrationError &&
                error.schema === r.viewSchema &&
                /Another migration of view schema .* is running/.test(
                  error.message,
                ),
            );
          }
          // Another view schema is not blocked.
          const elsewhere = await rig(other);
          try {
            assert.equal(
              (await elsewhere.migrator(V1).online(quiet)).changed,
              true,
            );
          } finally {
            await elsewhere.dispose();
          }
          release.resolve();
          assert.equal((await first).changed, true);
          const after = await second.status();
          assert.deepEqual([after.running, after.state], [
            false,
            "online-done",
          ]);
          await second.offline(quiet);
        } finally {
          release.resolve();
          await other.close();
        }
      });
    });

    test("a command whose transaction was running when online started is in the tables after offline", async () => {
      const client = await b.client();
      const { units } = workload(14, { aggregates: 20, events: 80 });
      await withRig(client, units, async (r) => {
        const migrator = r.migrator(V2);
        // This unit's events are stored (uncommitted) when online starts.
        const stored = deferred();
        const release = deferred();
        const holding = new Mig_NameProjector();
        const gate = new Mig_ItemProjector();
        const id = crypto.randomUUID();
        gate.onEvent = async () => {
          // the first read of a unit sends its commit with it
          await gate.findRecord(migItems, { aggregateId: id });
          stored.resolve();
          await release.promise;
        };
        const unit = r.service([gate, holding]).executeCommands(
          new Mig_CreateItem({
            aggregateId: id,
            name: "in flight",
            group: "q",
          }),
        );
        unit.catch(() => {});
        await stored.promise;
        const online = await migrator.online(quiet);
        release.resolve();
        await unit;
        assert.equal(await r.exists("mig_items_v2"), true);
        const inV2 = await client.query(
          `SELECT 1 FROM "${r.viewSchema}".mig_items_v2 WHERE aggregate_id = $1::text::uuid`,
          [id],
        );
        assert.equal(inV2.length, 0, "not replayed by online");
        assert.ok(online.events > 0);
        const offline = await migrator.offline(quiet);
        assert.ok(offline.events >= 1);
        const [row] = await client.query<{ name: string }>(
          `SELECT i.name FROM "${r.viewSchema}".mig_items i
           JOIN "${r.viewSchema}".mig_names n USING (aggregate_id)
           WHERE aggregate_id = $1::text::uuid`,
          [id],
        );
        assert.deepEqual(row, { name: "in flight" });
      });
    });

    test("a command issued while offline runs waits for the swap and lands in the new tables", async () => {
      const client = await b.client();
      const { units } = workload(15, { aggregates: 30, events: 150 });
      await withRig(client, units, async (r) => {
        const inOffline = deferred();
        const release = deferred();
        const slow = new Mig_ItemProjector();
        const migrator = r.migrator(V2, [slow]);
        await migrator.online(quiet);
        const service = r.service([
          new Mig_ItemProjector(),
          new Mig_NameProjector(),
        ]);
        // An event after the boundary, so offline has one to replay.
        const first = crypto.randomUUID();
        await service.executeCommands(
          new Mig_CreateItem({
            aggregateId: first,
            name: "before",
            group: "q",
          }),
        );
        slow.onEvent = async () => {
          inOffline.resolve();
          await release.promise;
        };
        const offline = migrator.offline(quiet);
        offline.catch(() => {});
        await inOffline.promise;
        const id = crypto.randomUUID();
        let done = false;
        const command = service.executeCommands(
          new Mig_CreateItem({ aggregateId: id, name: "waiting", group: "q" }),
        ).then(() => {
          done = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(done, false, "the command waits while offline runs");
        release.resolve();
        assert.equal((await offline).changed, true);
        await command;
        const rows = await client.query<{ name: string }>(
          `SELECT name FROM "${r.viewSchema}".mig_items
           WHERE aggregate_id IN ($1::text::uuid, $2::text::uuid) ORDER BY name`,
          [first, id],
        );
        assert.deepEqual(rows.map((x) => x.name), ["before", "waiting"]);
        const [group] = await client.query<{ members: number }>(
          `SELECT members FROM "${r.viewSchema}".mig_groups WHERE "group" = 'q'`,
        );
        assert.equal(group?.members, 2);
      });
    });
  } else {
    test("killed in the middle of online on a PGlite data folder: it recovers, the live tables were never touched, and running again goes on from the last flush committed and ends with the right tables", async () => {
      const dir = await Deno.makeTempDir({ prefix: "mig_kill_" });
      const url = `file://${dir}/db`;
      const { units, events } = workload(16, { aggregates: 100, events: 700 });
      try {
        let client = await connectDatabase(url);
        let r = await seeded(client, units);
        const live = await dumpAll(r, ALL_TABLES);
        const liveOids = await oids(r, ALL_TABLES);
        const liveWriters = await writers(r);
        // PGlite is one process's: the child opens the folder on its own
        await client.close();
        await killMidOnline(url, r, 400);
        client = await connectDatabase(url);
        try {
          r = await rig(client, { schema: r.schema, viewSchema: r.viewSchema });
          assert.deepEqual(await r.versions(), [
            { version: 1, status: "done" },
            { version: 2, status: "online" },
          ]);
          assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
          assert.deepEqual(await oids(r, ALL_TABLES), liveOids);
          assert.deepEqual(await writers(r), liveWriters);
          const done = await eventsBeforeCursor(r);
          assert.ok(done > 0 && done <= 400, `cursor after ${done} events`);
          const [online] = await r.migrator(V2, [], { flushEvery: 50 })
            .migrate(quiet);
          assert.equal(online!.events, events - done);
          assert.deepEqual(await dumpAll(r, ALL_TABLES), live);
        } finally {
          await client.close();
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });

    test("a second migration on the single-connection PGlite waits for the running one, then has nothing to do", async () => {
      const client = await b.client();
      const { units } = workload(13, { aggregates: 20, events: 100 });
      await withRig(client, units, async (r) => {
        const [first, second] = await Promise.all([
          r.migrator(V2).online(quiet),
          r.migrator(V2).online(quiet),
        ]);
        assert.deepEqual([first.changed, second.changed], [true, false]);
      });
    });
  }

  test("status names a projector that is in no version, and the version that would build it", async () => {
    const client = await b.client();
    await withRig(client, [], async (r) => {
      const migrator = r.migrator({ 1: [Mig_ItemProjector] }, [
        new Mig_ItemProjector(),
        new Mig_NameProjector(),
      ]);
      assert.deepEqual((await migrator.status()).problems, [
        'Mig_NameProjector is in no view-schema version, so its tables are never built: add a version that lists it (2: [Mig_NameProjector]), then migrate ("deno task migrate" in a generated app)',
      ]);
      // declared in a version, it is a pending migration, not a problem
      const declared = r.migrator(V2, [new Mig_NameProjector()]);
      assert.deepEqual((await declared.status()).problems, []);
    });
  });

  test("status names a column added to a live table without a new version, and not once a version rebuilds it", async () => {
    const client = await b.client();
    await withRig(client, [], async (r) => {
      const nicknamed = table("mig_names", {
        aggregateId: column.uuid().primaryKey(),
        name: column.text(),
        nickname: column.text().nullable(),
      });
      class Mig_NicknameProjector extends Projector {
        static override readonly manages = [nicknamed];
      }
      const unchanged = r.migrator({
        1: [Mig_ItemProjector, Mig_NicknameProjector],
      });
      const status = await unchanged.status();
      assert.equal(status.state, "up-to-date");
      assert.deepEqual(status.problems, [
        `Table mig_names has no column nickname in view schema "${r.viewSchema}" (version 1), though its definition has: a changed table needs a new view-schema version; add a version that lists Mig_NicknameProjector (2: [Mig_NicknameProjector]), then migrate ("deno task migrate" in a generated app)`,
      ]);
      const bumped = r.migrator({
        1: [Mig_ItemProjector, Mig_NicknameProjector],
        2: [Mig_NicknameProjector],
      });
      assert.deepEqual((await bumped.status()).problems, []);
      await bumped.migrate(quiet);
      assert.deepEqual((await bumped.status()).problems, []);
    });
  });
}

Deno.test({
  name: "every test dropped the schemas it made",
  ...shared,
  fn: async () => {
    assert.ok(rigSchemas.size > 0);
    for (const b of list) {
      const client = await b.client();
      const left = await client.query<{ nspname: string }>(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text::text[])",
        [`{${[...rigSchemas].join(",")}}`],
      );
      assert.deepEqual(left, [], b.name);
    }
  },
});

disposeAtEnd(list);
