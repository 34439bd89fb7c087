/**
 * The application's database tasks (`runTasks`), on an embedded database in
 * a temp folder (opened again by each task, as `sequent.ts` does), on one
 * an application holds (the tasks go through it), and on `memory://`;
 * usage errors; and a server that cannot be reached.
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
  Projector,
  table,
} from "@sequent/core";
import { TASKS_USAGE } from "@sequent/core/tasks";
import { run } from "./_run_task.ts";
import { DatabaseInUseError } from "@sequent/core/postgres";
import { Child } from "../_child_process.ts";
import { Held_Add, heldConfig, heldItems } from "./_held_app.ts";

class Task_Added
  extends Event.define("Task.Added", { title: attrs.string() }) {}

class Task_Item extends AggregateRoot {
  static {
    this.on(Task_Added, () => {});
    this.enableSnapshots({
      version: 1,
      threshold: 1,
      take: () => ({}),
      restore: () => {},
    });
  }
  static add(id: string, title: string): Task_Item {
    const item = new Task_Item(id);
    item.apply(Task_Added, { title });
    return item;
  }
}

class Task_Add extends Command.define("Task.Add", {
  title: attrs.string().required(),
}) {}

class Task_Handler extends CommandHandler {
  static {
    this.on(Task_Add, (h, c) => {
      h.repository.addAggregate(Task_Item.add(c.aggregateId, c.title));
    });
  }
}

const taskItems = table("task_items", {
  id: column.uuid().primaryKey(),
  title: column.text(),
});

class Task_Projector extends Projector {
  static override readonly manages = [taskItems];
  static {
    this.on(
      Task_Added,
      (p, e) =>
        p.createRecord(taskItems, { id: e.aggregateId, title: e.title ?? "" }),
    );
  }
}

/** Keeps a table of its own, but the tests declare it in no version. */
class Task_TitleProjector extends Projector {
  static override readonly manages = [
    table("task_titles", { title: column.text().primaryKey() }),
  ];
}

function config(database: string): AppConfig {
  return {
    database,
    commandHandlers: [new Task_Handler()],
    projectors: [Task_Projector],
    aggregates: [Task_Item],
    migrations: { 1: [Task_Projector] },
  };
}

const REPORT =
  /^migrate (online|offline): version 1, task_items: \d+ events? replayed, \d+ rows? written in \d+\.\ds$/;

Deno.test("every task on an embedded database in a folder, each opening it anew", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-tasks-" });
  const db = `${dir}/db`;
  const cfg = config(db);
  try {
    // db create, twice
    let r = await run(cfg, ["db", "create"]);
    assert.deepEqual([r.code, r.err], [0, []]);
    assert.match(
      r.out[0]!,
      new RegExp(
        `^created the database \\(${db}\\); event store schema sequent_schema at version \\d+$`,
      ),
    );
    assert.ok((await Deno.stat(db)).isDirectory);
    r = await run(cfg, ["db", "create"]);
    assert.match(r.out[0]!, /^found the database/);

    r = await run(cfg, ["db", "create-event-store"]);
    assert.deepEqual(r.code, 0);
    assert.match(
      r.out[0]!,
      /^event store schema sequent_schema is up to date \(version \d+\)$/,
    );

    r = await run(cfg, ["db", "create-view-schema"]);
    assert.deepEqual([r.code, r.out], [0, [
      "view schema view_schema is ready",
    ]]);

    // some events to replay and snapshot (by an app without the projector,
    // whose table the migration builds)
    const app = await createApp({ ...cfg, projectors: [] });
    for (const title of ["a", "b", "c"]) {
      await app.executeCommands(
        new Task_Add({ aggregateId: crypto.randomUUID(), title }),
      );
    }
    await app.close();

    r = await run(cfg, ["migrate", "status"]);
    assert.deepEqual(r.out, [
      "view schema view_schema: version 0 of 1 (pending)",
      "next migration rebuilds: task_items",
      "  Task_Projector: inactive",
    ]);
    r = await run(cfg, ["migrate", "offline"]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.err, [
      'error: View schema "view_schema" is at version 0: run "migrate online" for version 1 before "migrate offline"',
    ]);
    r = await run(cfg, ["migrate", "online"]);
    assert.equal(r.code, 0);
    assert.match(r.out[0]!, REPORT);
    assert.match(r.out[0]!, /3 events replayed, 3 rows written/);
    r = await run(cfg, ["migrate", "status"]);
    assert.deepEqual(r.out, [
      "view schema view_schema: version 0 of 1 (online-done)",
      "next migration rebuilds: task_items",
      "  Task_Projector: replaying",
    ]);
    // nothing was stored since online: the boundary may move, no event
    r = await run(cfg, ["migrate", "catchup"]);
    assert.equal(r.code, 0);
    assert.match(
      r.out[0]!,
      /^migrate catchup: (version 1, task_items: 0 events replayed|nothing to do \(version 0\))/,
    );
    r = await run(cfg, ["migrate", "offline"]);
    assert.equal(r.code, 0);
    assert.match(
      r.out[0]!,
      /^migrate offline: version 1, task_items: 0 events replayed/,
    );
    r = await run(cfg, ["migrate", "status"]);
    assert.deepEqual(r.out, [
      "view schema view_schema: version 1 of 1 (up-to-date)",
      "  Task_Projector: active",
    ]);
    r = await run(cfg, ["migrate"]);
    assert.deepEqual(r.out, [
      "migrate online: nothing to do (version 1)",
      "migrate offline: nothing to do (version 1)",
    ]);
    // a projector in no version: migrating cannot build its table, so
    // status and migrate say what to do, and fail
    const unversioned = {
      ...cfg,
      projectors: [Task_Projector, Task_TitleProjector],
    };
    const problem =
      'problem: Task_TitleProjector is in no view-schema version, so its tables are never built: add a version that lists it (2: [Task_TitleProjector]), then migrate ("deno task migrate" in a generated app)';
    r = await run(unversioned, ["migrate", "status"]);
    assert.deepEqual([r.code, r.err], [1, [problem]]);
    assert.equal(
      r.out[0],
      "view schema view_schema: version 1 of 1 (up-to-date)",
    );
    r = await run(unversioned, ["migrate"]);
    assert.deepEqual([r.code, r.err], [1, [problem]]);

    r = await run(cfg, ["snapshots", "take", "--limit", "1"]);
    assert.deepEqual([r.code, r.out], [0, ["took 1 snapshot"]]);
    r = await run(cfg, ["snapshots", "take", "--limit=5"]);
    assert.deepEqual(r.out, ["took 2 snapshots"]);
    r = await run(cfg, ["snapshots", "take"]);
    assert.deepEqual(r.out, ["took 0 snapshots"]);
    r = await run(cfg, ["snapshots", "delete-all"]);
    assert.deepEqual([r.code, r.out], [0, ["deleted all snapshots"]]);

    const reopened = await createApp(cfg);
    assert.equal((await reopened.records.find(taskItems, {})).length, 3);
    await reopened.close();

    // db drop: asks first; refused, confirmed, then --yes with nothing left
    r = await run(cfg, ["db", "drop"], [false]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.questions, [
      `Drop the database ${db} and everything in it?`,
    ]);
    assert.deepEqual(r.err, ["error: Not dropped: confirm, or pass --yes"]);
    assert.ok((await Deno.stat(db)).isDirectory);
    r = await run(cfg, ["db", "drop"], [true]);
    assert.deepEqual([r.code, r.out], [0, [`dropped the database (${db})`]]);
    await assert.rejects(Deno.stat(db), Deno.errors.NotFound);
    r = await run(cfg, ["db", "drop", "--yes"]);
    assert.deepEqual([r.code, r.out, r.questions], [0, [
      `no database to drop (${db})`,
    ], []]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("on memory://, each task has a database of its own, which cannot be dropped", async () => {
  const cfg = config("memory://");
  const [eventStore, migrate] = await Promise.all([
    run(cfg, ["db", "create-event-store"]),
    run(cfg, ["migrate"]),
  ]);
  assert.deepEqual([eventStore.code, eventStore.err], [0, []]);
  assert.match(
    eventStore.out[0]!,
    /^event store schema sequent_schema installed at version \d+$/,
  );
  assert.deepEqual([migrate.code, migrate.err], [0, []]);
  assert.equal(migrate.out.length, 2);
  assert.match(
    migrate.out[0]!,
    /^migrate online: version 1, task_items: 0 events replayed, 0 rows written/,
  );
  assert.match(
    migrate.out[1]!,
    /^migrate offline: version 1, task_items: 0 events replayed/,
  );
  const drop = await run(cfg, ["db", "drop"], [true]);
  assert.equal(drop.code, 1);
  assert.deepEqual(drop.questions, [
    "Drop the database memory:// and everything in it?",
  ]);
  assert.deepEqual(drop.err, [
    "error: An in-memory database cannot be dropped: it ends with its process",
  ]);
});

Deno.test("with an event store object, db and migrate tasks fail clearly and snapshots work", async () => {
  const cfg: AppConfig = {
    eventStore: new InMemoryEventStore(),
    commandHandlers: [],
    migrations: { 1: [Task_Projector] },
  };
  let r = await run(cfg, ["db", "create"]);
  assert.deepEqual([r.code, r.err], [1, [
    "error: db tasks need a database; this app uses an event store object",
  ]]);
  r = await run({ ...cfg, eventStore: new InMemoryEventStore() }, [
    "migrate",
    "status",
  ]);
  assert.deepEqual([r.code, r.err], [1, [
    "error: View-schema migrations need a PostgreSQL database; this app's event store keeps read models in memory",
  ]]);
  r = await run({ ...cfg, eventStore: new InMemoryEventStore() }, [
    "snapshots",
    "take",
  ]);
  assert.deepEqual([r.code, r.out], [0, ["took 0 snapshots"]]);
});

Deno.test("usage errors exit 2 with the usage on standard error; --help exits 0 with it on standard output", async () => {
  // a usage error is found before anything is opened: an embedded database
  // would take seconds to start, and a server may be unreachable
  for (
    const cfg of [
      config("memory://"),
      config("postgres://nowhere.invalid:1/db"),
    ]
  ) {
    await usageErrors(cfg);
  }
});

async function usageErrors(cfg: AppConfig) {
  const cases: [string[], string | undefined][] = [
    [[], undefined],
    [["nope"], 'error: Unknown task "nope"'],
    [
      ["db"],
      "error: db needs a task: create, drop, create-event-store or create-view-schema",
    ],
    [["db", "nope"], 'error: Unknown db task "nope"'],
    [
      ["migrate", "nope"],
      'error: Unknown migrate step "nope": use online, catchup, offline or status',
    ],
    [["migrate", "status", "extra"], 'error: Unexpected argument "extra"'],
    [["snapshots"], "error: snapshots needs a task: take or delete-all"],
    [["snapshots", "nope"], 'error: Unknown snapshots task "nope"'],
    [
      ["snapshots", "take", "--limit", "0"],
      'error: --limit must be a positive integer, got "0"',
    ],
    [
      ["snapshots", "take", "--limit", "ten"],
      'error: --limit must be a positive integer, got "ten"',
    ],
    [
      ["snapshots", "take", "--limit", "1.5"],
      'error: --limit must be a positive integer, got "1.5"',
    ],
    [["migrate", "--nope"], undefined],
  ];
  for (const [args, message] of cases) {
    const r = await run(cfg, args);
    assert.equal(r.code, 2, args.join(" "));
    assert.deepEqual(r.out, [], args.join(" "));
    assert.equal(r.err.at(-1), TASKS_USAGE, args.join(" "));
    if (message) {
      assert.deepEqual(r.err, [message, TASKS_USAGE], args.join(" "));
    } else if (args.length > 0) assert.match(r.err[0]!, /^error: .*--nope/);
  }
  for (const args of [["--help"], ["migrate", "-h"]]) {
    const r = await run(cfg, args);
    assert.deepEqual([r.code, r.out, r.err], [0, [TASKS_USAGE], []]);
  }
}

Deno.test("with an event store object, a usage error is still a usage error", async () => {
  const r = await run(
    { eventStore: new InMemoryEventStore(), commandHandlers: [] },
    ["db"],
  );
  assert.deepEqual(r.code, 2);
  assert.equal(
    r.err[0],
    "error: db needs a task: create, drop, create-event-store or create-view-schema",
  );
});

Deno.test("a server that cannot be reached fails each task in one line naming host and port, never the password", async () => {
  const cfg = config("postgres://user:secret@127.0.0.1:1/db");
  for (
    const args of [
      ["db", "create"],
      ["db", "drop", "--yes"],
      ["db", "create-event-store"],
      ["db", "create-view-schema"],
      ["migrate"],
      ["migrate", "status"],
      ["snapshots", "take"],
    ]
  ) {
    const r = await run(cfg, args);
    assert.equal(r.code, 1, args.join(" "));
    assert.deepEqual(r.out, []);
    assert.equal(r.err.length, 1, `${args.join(" ")}: ${r.err.join("\n")}`);
    assert.match(r.err[0]!, /^error: .*127\.0\.0\.1:1\b/, args.join(" "));
    assert.ok(!r.err[0]!.includes("secret"), r.err[0]);
  }
  const confirm = await run(cfg, ["db", "drop"], [false]);
  assert.deepEqual(confirm.questions, [
    "Drop the database PostgreSQL at 127.0.0.1:1/db and everything in it?",
  ]);
  const verbose = await run(cfg, ["migrate", "status", "--verbose"]);
  assert.equal(verbose.code, 1);
  assert.ok(verbose.err.length > 1, "--verbose adds the stack");
  assert.ok(!verbose.err.join("\n").includes("secret"));
});

const HELD_APP = new URL("./_held_app_child.ts", import.meta.url);

/** The final name of each item, from the commands an app said succeeded. */
function namesFrom(lines: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of lines) {
    const match = /^ok (add|rename) (\S+) (.+)$/.exec(line);
    if (match) names.set(match[2]!, match[3]!);
  }
  return names;
}

Deno.test("migrate online and offline in a second process, with the new code, while the application keeps executing commands on the embedded database: nothing is lost", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-beside-" });
  const folder = `${dir}/db`;
  let app: Child | undefined;
  try {
    // deployed: version 1, with some items
    let r = await run(heldConfig(folder, 1), ["migrate"]);
    assert.equal(r.code, 0, r.err.join("\n"));
    const seeded = await createApp(heldConfig(folder, 1));
    const expected = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const id = crypto.randomUUID();
      await seeded.executeCommands(
        new Held_Add({ aggregateId: id, name: `seed ${i}` }),
      );
      expected.set(id, `seed ${i}`);
    }
    await seeded.close();

    // the application runs (and holds the folder) ...
    app = Child.spawn(HELD_APP, [folder, "app"]);
    await app.waitFor(/^ready$/);
    await app.waitFor(/^ok /);
    // ... so a second application is refused, naming it
    const second = await createApp(heldConfig(folder, 1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(second instanceof DatabaseInUseError);
    assert.equal(second.pid, app.pid);

    // the tasks go through it, with version 2 of the code
    const okBefore = app.lines.filter((l) => l.startsWith("ok")).length;
    for (const step of ["online", "offline"]) {
      const task = Child.spawn(HELD_APP, [folder, "task", "migrate", step]);
      const ended = await task.ended();
      assert.equal(ended.code, 0, `${task.lines.join("\n")}\n${ended.stderr}`);
      assert.equal(
        ended.stderr.split("\n").filter((l) => l.startsWith("using")).join(),
        `using the embedded database through the process holding it: pid ${app.pid} (deno run -A ${HELD_APP.pathname} ${folder} app)`,
      );
      assert.match(
        task.lines[0]!,
        new RegExp(
          `^migrate ${step}: version 2, held_items: \\d+ events replayed`,
        ),
      );
    }
    // the application's commands went on, and go on after the swap
    const okAfter = app.lines.filter((l) => l.startsWith("ok")).length;
    assert.ok(okAfter > okBefore, "commands ran while migrating");
    await app.waitFor(
      new RegExp(`^ok (add|rename) \\S+ \\S+ ${okAfter + 20}$`),
    );
    r = await run(heldConfig(folder, 2), ["migrate", "status"]);
    assert.deepEqual([r.code, r.out], [0, [
      "view schema view_schema: version 2 of 2 (up-to-date)",
      "  Held_ItemProjector: active",
    ]]);
    assert.equal(r.err.length, 1);
    assert.match(
      r.err[0]!,
      new RegExp(
        `^using the embedded database through the process holding it: pid ${app.pid} `,
      ),
    );
    r = await run(heldConfig(folder, 2), ["db", "drop", "--yes"]);
    assert.equal(r.code, 1);
    assert.match(
      r.err.at(-1)!,
      new RegExp(
        `^error: The embedded database in ${folder} is in use by process ${app.pid} .*Stop that process before dropping the database\\.$`,
      ),
    );
    const ended = await app.ended();
    assert.equal(ended.code, 0, ended.stderr);
    assert.deepEqual(app.lines.filter((l) => !l.startsWith("ok ")), [
      "ready",
      "done",
    ]);

    // every command the application was told succeeded is in the events,
    // and the table holds what the events say
    for (const [id, name] of namesFrom(app.lines)) expected.set(id, name);
    const reopened = await createApp(heldConfig(folder, 2));
    try {
      const told = new Map<string, string>();
      for await (const batch of reopened.eventStore.readAllEvents()) {
        for (const event of batch) {
          told.set(event.aggregateId, JSON.parse(event.payload).name);
        }
      }
      assert.deepEqual(told, expected);
      const rows = await reopened.records.find(heldItems, {});
      assert.deepEqual(new Map(rows.map((row) => [row.id, row.name])), told);
    } finally {
      await reopened.close();
    }
  } finally {
    app?.kill();
    await app?.ended();
    await Deno.remove(dir, { recursive: true });
  }
});

const onServer = Deno.env.get("DATABASE_URL")?.startsWith("postgres")
  ? Deno.test
  : () => {};

onServer(
  "a task on a server database that does not exist says to create it",
  async () => {
    const url = new URL(Deno.env.get("DATABASE_URL")!);
    url.pathname = `/missing_${crypto.randomUUID().slice(0, 8)}`;
    const cfg = config(url.href);
    for (const args of [["migrate"], ["migrate", "status"]]) {
      const r = await run(cfg, args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(
        r.err[0]!,
        /^error: .*database "missing_\w+" does not exist/,
      );
      assert.equal(
        r.err[1],
        'hint: create it with "db create" (in a generated app: deno task db:create)',
      );
    }
  },
);
