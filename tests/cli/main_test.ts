import assert from "node:assert/strict";
import { HELP, USAGE } from "../../src/cli/help.ts";
import { runCli } from "../../src/cli/main.ts";
import { VERSION } from "../../src/cli/version.ts";
import { CHECKOUT, deno, inTempDir, recorder } from "./_helpers.ts";

Deno.test("runCli() prints the usage on stdout and exits 0 for --help and -h", async () => {
  for (const flag of ["--help", "-h"]) {
    const r = recorder();
    assert.equal(await runCli(CHECKOUT, [flag], r.io), 0);
    assert.equal(r.out(), USAGE);
    assert.deepEqual(r.stderr, []);
  }
});

Deno.test("runCli() prints the version for --version", async () => {
  const r = recorder();
  assert.equal(await runCli(CHECKOUT, ["--version"], r.io), 0);
  assert.equal(r.out(), `sequent ${VERSION}`);
});

Deno.test("runCli() prints the usage on stderr and exits 2 without a command", async () => {
  const r = recorder();
  assert.equal(await runCli(CHECKOUT, [], r.io), 2);
  assert.match(
    r.err(),
    /^error: Missing command, e\.g\. sequent new blog\n\nUsage: sequent/,
  );
  assert.deepEqual(r.stdout, []);
});

Deno.test("runCli() prints the usage on stderr and exits 2 for an unknown command", async () => {
  const r = recorder();
  assert.equal(await runCli(CHECKOUT, ["frobnicate"], r.io), 2);
  assert.equal(r.err(), `error: Unknown command "frobnicate"\n\n${USAGE}`);
});

Deno.test("runCli() prints the usage on stderr and exits 2 for an unknown flag", async () => {
  const before = recorder();
  assert.equal(await runCli(CHECKOUT, ["--frobnicate"], before.io), 2);
  assert.equal(before.err(), `error: Unknown flag "--frobnicate"\n\n${USAGE}`);
  await inTempDir(async (dir) => {
    const after = recorder();
    assert.equal(await runCli(dir, ["new", "blog", "--force"], after.io), 2);
    assert.equal(
      after.err(),
      `error: Unknown flag "--force"\n\n${HELP["new"]}`,
    );
    const short = recorder();
    assert.equal(await runCli(dir, ["g", "aggregate", "A", "-x"], short.io), 2);
    assert.match(
      short.err(),
      /^error: Unknown flag "-x"\n\nUsage: sequent generate aggregate/,
    );
  });
});

Deno.test("runCli() shows the help of every command and subcommand with --help, -h and help", async () => {
  for (const [words, text] of Object.entries(HELP)) {
    for (
      const args of [
        [...words.split(" "), "--help"],
        [...words.split(" "), "-h"],
        ["help", ...words.split(" ")],
      ]
    ) {
      const r = recorder();
      assert.equal(await runCli(CHECKOUT, args, r.io), 0, args.join(" "));
      assert.equal(r.out(), text, args.join(" "));
    }
  }
  const g = recorder();
  assert.equal(await runCli(CHECKOUT, ["g", "event", "--help"], g.io), 0);
  assert.equal(g.out(), HELP["generate event"]);
  const none = recorder();
  assert.equal(await runCli(CHECKOUT, ["help", "frobnicate"], none.io), 2);
  assert.match(none.err(), /^error: No help for "frobnicate"/);
});

Deno.test("runCli() reports an unexpected failure in one line, with the stack trace only under --verbose", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const quiet = recorder();
    assert.equal(await runCli(dir, ["new", "file/blog"], quiet.io), 1);
    assert.equal(quiet.stderr.length, 1);
    assert.match(quiet.stderr[0] ?? "", /^error: [A-Z]/);
    assert.doesNotMatch(quiet.err(), /\n\s+at /);

    for (
      const args of [["--verbose", "new", "file/blog"], [
        "new",
        "file/blog",
        "--verbose",
      ]]
    ) {
      const verbose = recorder();
      assert.equal(await runCli(dir, args, verbose.io), 1);
      assert.match(verbose.err(), /^error: .*\n[\s\S]*\n\s+at /);
    }
  });
});

Deno.test("cli.ts runs the CLI and exits with its code", async () => {
  const version = await deno(["run", "-A", "cli.ts", "--version"], CHECKOUT);
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `sequent ${VERSION}\n`);
  const unknown = await deno(["run", "-A", "cli.ts", "frobnicate"], CHECKOUT);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /^error: Unknown command "frobnicate"\n\nUsage:/,
  );
  await inTempDir(async (dir) => {
    const bad = await deno(
      ["run", "-A", `${CHECKOUT}/cli.ts`, "new", "2blog"],
      dir,
    );
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      'error: "2blog" is not a valid app name: use letters, digits, "-" and "_", starting with a letter (e.g. blog)\n',
    );
  });
});
