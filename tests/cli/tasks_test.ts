import assert from "node:assert/strict";
import { HELP } from "../../src/cli/help.ts";
import { runCli } from "../../src/cli/main.ts";
import type { TaskRunner } from "../../src/cli/tasks.ts";
import { CHECKOUT, deno, inTempDir, recorder } from "./_helpers.ts";

/** A task runner that records its calls and answers with `code`. */
function fakeRunner(code = 0) {
  const calls: { cwd: string; args: string[] }[] = [];
  const run: TaskRunner = (cwd, args) => {
    calls.push({ cwd, args: [...args] });
    return Promise.resolve(code);
  };
  return { run, calls };
}

/** Runs `fn` with a folder holding a sequent.ts. */
function inAppDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/sequent.ts`, "");
    await fn(dir);
  });
}

const DELEGATED: string[][] = [
  ["db", "create"],
  ["db", "drop", "--yes"],
  ["db", "drop", "-y"],
  ["db", "create-event-store"],
  ["db", "create-view-schema"],
  ["migrate"],
  ["migrate", "online"],
  ["migrate", "offline"],
  ["migrate", "status"],
  ["snapshots", "take"],
  ["snapshots", "take", "--limit", "10"],
  ["snapshots", "take", "--limit=10"],
  ["snapshots", "delete-all"],
  ["migrate", "--verbose"],
  ["processors", "run"],
  ["processors", "status"],
  ["processors", "retry", "PostSearch", "0f8c1a52-6bb5-4f43-9d4c-1b0e5f0b2a11"],
  ["processors", "skip", "PostSearch", "0f8c1a52-6bb5-4f43-9d4c-1b0e5f0b2a11"],
  ["processors", "reset", "PostSearch", "--yes"],
  // a flag's value before the subcommand is not taken for it
  ["snapshots", "--limit", "5", "take"],
  ["browse"],
  ["browse", "--port", "18741"],
  ["browse", "--host", "0.0.0.0", "--port=8002", "--masked"],
  [
    "browse",
    "--nats",
    "127.0.0.1:4222,127.0.0.1:4223",
    "--stream",
    "OUTBOX",
    "--prefix",
    "blog",
    "--relay",
    "relay",
  ],
];

Deno.test("db, migrate and snapshots run the app's sequent.ts with the same arguments and exit with its code", async () => {
  await inAppDir(async (dir) => {
    for (const args of DELEGATED) {
      for (const code of [0, 3]) {
        const fake = fakeRunner(code);
        const r = recorder();
        assert.equal(
          await runCli(dir, args, r.io, { runTasks: fake.run }),
          code,
        );
        assert.deepEqual(fake.calls, [{ cwd: dir, args }], args.join(" "));
        assert.deepEqual(r.questions, []);
        assert.equal(r.out() + r.err(), "");
      }
    }
  });
});

Deno.test("a --verbose before the command is passed on to sequent.ts", async () => {
  await inAppDir(async (dir) => {
    const fake = fakeRunner();
    assert.equal(
      await runCli(dir, ["--verbose", "migrate", "status"], recorder().io, {
        runTasks: fake.run,
      }),
      0,
    );
    assert.deepEqual(fake.calls[0]?.args, ["migrate", "status", "--verbose"]);
  });
});

Deno.test("db drop asks first, and runs sequent.ts with --yes only when confirmed", async () => {
  await inAppDir(async (dir) => {
    const declined = fakeRunner();
    const no = recorder([false]);
    assert.equal(
      await runCli(dir, ["db", "drop"], no.io, { runTasks: declined.run }),
      1,
    );
    assert.deepEqual(no.questions, [
      `Drop the database of the app in ${dir}, with all its events and records?`,
    ]);
    assert.deepEqual(no.stderr, [
      "Not dropped: not confirmed (pass --yes to skip the question)",
    ]);
    assert.deepEqual(declined.calls, []);

    const confirmed = fakeRunner();
    const yes = recorder([true]);
    assert.equal(
      await runCli(dir, ["db", "drop"], yes.io, { runTasks: confirmed.run }),
      0,
    );
    assert.equal(yes.questions.length, 1);
    assert.deepEqual(confirmed.calls, [{
      cwd: dir,
      args: ["db", "drop", "--yes"],
    }]);
  });
});

Deno.test("processors reset asks first, and runs sequent.ts with --yes only when confirmed", async () => {
  await inAppDir(async (dir) => {
    const declined = fakeRunner();
    const no = recorder([false]);
    assert.equal(
      await runCli(dir, ["processors", "reset", "PostSearch"], no.io, {
        runTasks: declined.run,
      }),
      1,
    );
    assert.deepEqual(no.questions, [
      `Start processor PostSearch of the app in ${dir} over from the first event (a projector's tables are emptied)?`,
    ]);
    assert.deepEqual(declined.calls, []);
    const confirmed = fakeRunner();
    assert.equal(
      await runCli(
        dir,
        ["processors", "reset", "PostSearch"],
        recorder([true]).io,
        {
          runTasks: confirmed.run,
        },
      ),
      0,
    );
    assert.deepEqual(confirmed.calls[0]?.args, [
      "processors",
      "reset",
      "PostSearch",
      "--yes",
    ]);
  });
});

Deno.test("db, migrate and snapshots fail in one line outside an app's folder", async () => {
  await inTempDir(async (dir) => {
    for (
      const args of [["db", "create"], ["db", "drop", "--yes"], ["migrate"], [
        "snapshots",
        "take",
      ]]
    ) {
      const fake = fakeRunner();
      const r = recorder();
      assert.equal(await runCli(dir, args, r.io, { runTasks: fake.run }), 1);
      const key = args.filter((a) => !a.startsWith("-")).join(" ");
      assert.deepEqual(r.stderr, [
        `error: No sequent.ts in ${dir}: run "sequent ${key}" in an app's folder (one made by "sequent new")`,
      ]);
      assert.deepEqual(fake.calls, []);
    }
  });
});

Deno.test("db, migrate and snapshots exit 2 with their usage for an unknown subcommand or flag, or a missing subcommand", async () => {
  await inAppDir(async (dir) => {
    const cases: [string[], string, string][] = [
      [
        ["db"],
        "Missing the db command: create, drop, create-event-store, create-view-schema",
        "db",
      ],
      [
        ["db", "frobnicate"],
        'Unknown db command "frobnicate": use create, drop, create-event-store, create-view-schema',
        "db",
      ],
      [["db", "create", "--yes"], 'Unknown flag "--yes"', "db create"],
      [["db", "create", "extra"], 'Unexpected argument "extra"', "db create"],
      [
        ["migrate", "sideways"],
        'Unknown migrate command "sideways": use online, catchup, offline, status',
        "migrate",
      ],
      [["migrate", "--force"], 'Unknown flag "--force"', "migrate"],
      [
        ["snapshots"],
        "Missing the snapshots command: take, delete-all",
        "snapshots",
      ],
      [
        ["snapshots", "delete-all", "--limit", "3"],
        'Unknown flag "--limit"',
        "snapshots delete-all",
      ],
      [
        ["snapshots", "take", "--limit"],
        'Flag "--limit" needs a value',
        "snapshots take",
      ],
      [["db", "drop", "--yes=no"], 'Flag "--yes" takes no value', "db drop"],
      [
        ["processors"],
        "Missing the processors command: run, status, retry, skip, reset",
        "processors",
      ],
      [
        ["processors", "retry", "PostSearch"],
        "Missing <aggregate-id>",
        "processors retry",
      ],
      [["processors", "reset"], "Missing <processor>", "processors reset"],
      [
        ["processors", "status", "PostSearch"],
        'Unexpected argument "PostSearch"',
        "processors status",
      ],
      [["browse", "--port"], 'Flag "--port" needs a value', "browse"],
      [["browse", "--yes"], 'Unknown flag "--yes"', "browse"],
      [
        ["browse", "--port", "1", "extra"],
        'Unexpected argument "extra"',
        "browse",
      ],
      [
        ["snapshots", "--limit", "5"],
        "Missing the snapshots command: take, delete-all",
        "snapshots",
      ],
    ];
    for (const [args, message, help] of cases) {
      const fake = fakeRunner();
      const r = recorder();
      assert.equal(
        await runCli(dir, args, r.io, { runTasks: fake.run }),
        2,
        args.join(" "),
      );
      assert.equal(r.err(), `error: ${message}\n\n${HELP[help]}`);
      assert.deepEqual(fake.calls, []);
    }
  });
});

Deno.test("snapshots take rejects a --limit that is not a positive whole number", async () => {
  await inAppDir(async (dir) => {
    for (const limit of ["0", "-1", "ten", "1.5"]) {
      const fake = fakeRunner();
      const r = recorder();
      assert.equal(
        await runCli(dir, ["snapshots", "take", `--limit=${limit}`], r.io, {
          runTasks: fake.run,
        }),
        1,
      );
      assert.deepEqual(r.stderr, [
        `error: --limit must be a positive whole number, not "${limit}"`,
      ]);
      assert.deepEqual(fake.calls, []);
    }
  });
});

Deno.test("cli.ts runs deno run -A sequent.ts in the current folder, with the same arguments, and exits with its code", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/sequent.ts`,
      `console.log(JSON.stringify({ args: Deno.args, cwd: Deno.cwd() }));
Deno.exit(Deno.args.includes("status") ? 4 : 0);
`,
    );
    const status = await deno([
      "run",
      "-A",
      `${CHECKOUT}/cli.ts`,
      "migrate",
      "status",
    ], dir);
    assert.equal(status.code, 4, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout), {
      args: ["migrate", "status"],
      cwd: await Deno.realPath(dir),
    });
    const take = await deno([
      "run",
      "-A",
      `${CHECKOUT}/cli.ts`,
      "snapshots",
      "take",
      "--limit",
      "5",
    ], dir);
    assert.equal(take.code, 0, take.stderr);
    assert.deepEqual(JSON.parse(take.stdout).args, [
      "snapshots",
      "take",
      "--limit",
      "5",
    ]);
    // stdin is not a terminal here, so the confirmation is a no
    const drop = await deno(
      ["run", "-A", `${CHECKOUT}/cli.ts`, "db", "drop"],
      dir,
    );
    assert.equal(drop.code, 1);
    assert.equal(drop.stdout.includes("args"), false);
  });
});

/**
 * Starts `sequent processors run` (cli.ts) in `dir`, waits for its
 * sequent.ts to print `ready`, sends the CLI `signal`, and returns how the
 * CLI ended and what was printed. The child's pid is in `child.pid`: it is
 * killed afterwards in case the CLI left it behind.
 */
async function signalled(
  dir: string,
  signal: "SIGINT" | "SIGTERM",
): Promise<{ code: number; stdout: string }> {
  const cli = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${CHECKOUT}/cli.ts`, "processors", "run"],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let stdout = "";
  let ready: () => void = () => {};
  const started = new Promise<void>((resolve) => ready = resolve);
  // (read to its end, which comes only when the child has ended too)
  const reading = (async () => {
    for await (
      const text of cli.stdout.pipeThrough(new TextDecoderStream())
    ) {
      stdout += text;
      if (stdout.includes("ready\n")) ready();
    }
    ready();
  })();
  let code: number;
  try {
    await started;
    cli.kill(signal);
    code = (await cli.status).code;
  } finally {
    try {
      Deno.kill(Number(await Deno.readTextFile(`${dir}/child.pid`)), "SIGKILL");
    } catch {
      // it ended, as it should
    }
    await Deno.remove(`${dir}/child.pid`).catch(() => {});
    await reading;
  }
  // (read to the end: the CLI may end before its child's last line is read)
  return { code, stdout };
}

Deno.test({
  name:
    "cli.ts passes SIGTERM and SIGINT on to sequent.ts, waits for it to stop and exits with its code",
  ignore: Deno.build.os === "windows",
  fn: () =>
    inTempDir(async (dir) => {
      await Deno.writeTextFile(
        `${dir}/sequent.ts`,
        `for (const [signal, code] of [["SIGINT", 8], ["SIGTERM", 7]] as const) {
  Deno.addSignalListener(signal, () => {
    console.log(\`stopping on \${signal}\`);
    Deno.exit(code);
  });
}
await Deno.writeTextFile("child.pid", String(Deno.pid));
console.log("ready");
// ends by itself should the CLI leave it behind and the test not kill it
setTimeout(() => Deno.exit(9), 30_000);
`,
      );
      assert.deepEqual(await signalled(dir, "SIGTERM"), {
        code: 7,
        stdout: "ready\nstopping on SIGTERM\n",
      });
      assert.deepEqual(await signalled(dir, "SIGINT"), {
        code: 8,
        stdout: "ready\nstopping on SIGINT\n",
      });
    }),
});
