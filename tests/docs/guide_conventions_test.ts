/**
 * The conventions `_guide.ts` reads the guide by, on small made-up
 * chapters: what each kind of block means, and that a block that does not
 * hold up fails the run.
 */
import assert from "node:assert/strict";
import {
  guideEnv,
  GuideFormatError,
  GuideStepError,
  localCommand,
  outputMatches,
  parseGuide,
  replaceExcerpt,
  runStep,
  type Step,
} from "./_guide.ts";

const F = "```";

function chapter(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

Deno.test("sh blocks: one command a line, comments skipped, continuations joined, '# fails' noted, text attached", () => {
  const steps = parseGuide(
    chapter(
      "Some prose.",
      `${F}sh`,
      "# a comment",
      "echo one",
      "",
      "echo two \\",
      "  three",
      "false  # fails, for now",
      F,
      "",
      "It prints:",
      "",
      `${F}text`,
      "one",
      "…",
      F,
    ),
    "c.md",
  );
  assert.equal(steps.length, 1);
  const [step] = steps;
  assert.ok(step?.kind === "sh");
  assert.deepEqual(step.commands, [
    { text: "echo one", line: 4, fails: false },
    { text: "echo two three", line: 6, fails: false },
    { text: "false  # fails, for now", line: 8, fails: true },
  ]);
  assert.deepEqual(step.expected, { line: 13, lines: ["one", "…"] });
});

Deno.test("ts blocks: the first line names the file and the mode", () => {
  const modes = [
    ["// a.ts", "write"],
    ["// lib/a.ts (add at the end)", "append"],
    ["// lib/a.ts (excerpt)", "excerpt"],
    ["// lib/a.ts (as generated)", "check"],
    ["// lib/a.ts (excerpt, as generated)", "check-excerpt"],
  ] as const;
  for (const [label, mode] of modes) {
    const [step] = parseGuide(
      chapter(`${F}ts ignore`, label, "export const a = 1;", F),
      "c.md",
    );
    assert.ok(step?.kind === "file");
    assert.equal(step.mode, mode, label);
    assert.equal(step.text, "export const a = 1;");
    assert.equal(step.path, label.slice(3).split(" ")[0]);
  }
});

Deno.test("every block is checked: blocks the runner cannot check are errors", () => {
  const bad: Array<[string, RegExp]> = [
    [chapter(F, "plain", F), /must be sh, ts or text, not unlabelled/],
    [chapter(`${F}json`, "{}", F), /not "json"/],
    [chapter(`${F}text`, "output", F), /text block must show the output/],
    [
      chapter(`${F}sh`, "echo", F, `${F}text`, "", F, `${F}text`, "", F),
      /text block must show the output/,
    ],
    [
      chapter(
        `${F}sh`,
        "echo",
        F,
        `${F}ts ignore`,
        "// a.ts",
        "1",
        F,
        `${F}text`,
        F,
      ),
      /text block must show the output/,
    ],
    [
      chapter(`${F}ts ignore`, "const a = 1;", F),
      /must start with "\/\/ <path>"/,
    ],
    [chapter(`${F}ts`, "// a.ts", "1", F), /write ```ts ignore/],
    [chapter(`${F}ts ignore`, "// a.ts (replace)", "1", F), /must start with/],
    [chapter(`${F}ts ignore`, "// /etc/passwd", "1", F), /inside the app/],
    [chapter(`${F}ts ignore`, "// ../a.ts", "1", F), /inside the app/],
    [chapter(`${F}ts ignore`, "// a.ts", F), /without code/],
    [chapter(`${F}sh`, "# only a comment", F), /without commands/],
    [chapter(`${F}sh`, "echo \\", F), /ends in/],
    [chapter(`${F}sh`, "echo"), /unclosed/],
    [
      chapter("1. Run:", "", `   ${F}sh`, "   echo", `   ${F}`),
      /not inside a list/,
    ],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseGuide(text, "c.md"), (error: unknown) => {
      assert.ok(error instanceof GuideFormatError, String(error));
      assert.match(error.message, message);
      assert.match(error.message, /^c\.md:\d+: /);
      return true;
    }, text);
  }
});

Deno.test("a fence of four backticks may hold three", () => {
  const steps = parseGuide(
    chapter("````ts ignore", "// a.ts", "const s = `", "```", "`;", "````"),
    "c.md",
  );
  assert.equal(steps.length, 1);
  assert.ok(steps[0]?.kind === "file");
  assert.equal(steps[0].text, "const s = `\n```\n`;");
});

Deno.test("output matching: consecutive lines, … within and between lines, blank lines and colours ignored", () => {
  const output =
    "Check a.ts\n\x1b[32mok\x1b[0m a (3ms)\n\nok b (1ms)\n\nok | 2 passed | 0 failed (9ms)\n";
  assert.ok(outputMatches(["ok | 2 passed | 0 failed (…)"], output));
  assert.ok(outputMatches(["ok a (…)", "", "ok b (…)"], output));
  assert.ok(outputMatches(["Check a.ts", "…", "ok | 2 passed …"], output));
  assert.ok(outputMatches(["…", "ok b (1ms)", "…"], output));
  assert.ok(outputMatches([], output));
  // lines must be consecutive unless a … line stands between them
  assert.ok(!outputMatches(["Check a.ts", "ok b (…)"], output));
  // a line must match whole
  assert.ok(!outputMatches(["ok | 2 passed"], output));
  assert.ok(!outputMatches(["ok | 3 passed | 0 failed (…)"], output));
  // regular-expression characters are plain text
  assert.ok(!outputMatches(["ok . (3ms)"], output));
});

Deno.test("excerpts replace from their first line to their last, re-indented", () => {
  const file = [
    "class A {",
    "  static {",
    "    this.on(",
    "      X,",
    "      () => 1,",
    "    );",
    "    this.on(",
    "      Y,",
    "      () => 2,",
    "    );",
    "  }",
    "}",
    "",
  ].join("\n");
  // shown without indentation (as deno fmt leaves a fragment); the second
  // this.on( is the one followed by more of the excerpt
  const result = replaceExcerpt(
    file,
    "this.on(\n  Y,\n  () => 3,\n  () => 4,\n);",
    "c.md:1",
  );
  assert.equal(
    result,
    file.replace("      () => 2,\n", "      () => 3,\n      () => 4,\n"),
  );
  // an excerpt equal to the part it stands for changes nothing
  assert.equal(replaceExcerpt(file, "this.on(\n  X,", "c.md:1"), file);
  assert.throws(
    () => replaceExcerpt(file, "this.on(\n  Z,\n);", "c.md:1"),
    /could start at lines 3, 7/,
  );
  assert.throws(
    () => replaceExcerpt(file, "class B {\n}", "c.md:1"),
    /no line "class B \{"/,
  );
  assert.throws(
    () => replaceExcerpt(file, "this.on(\n  X,\n  () => 5,\n]", "c.md:1"),
    /no line "\]" to end the excerpt/,
  );
});

Deno.test("jsr:@sequent/cli runs from the checkout", () => {
  assert.equal(
    localCommand("deno run -A jsr:@sequent/cli new blog", "/x/cli.ts"),
    "deno run -A /x/cli.ts new blog",
  );
  assert.equal(
    localCommand("deno run -A jsr:@sequent/cli@^0.1.0 new blog", "/x/cli.ts"),
    "deno run -A /x/cli.ts new blog",
  );
  assert.equal(
    localCommand("deno add jsr:@sequent/core", "/x/cli.ts"),
    "deno add jsr:@sequent/core",
  );
});

/** Runs a made-up chapter in a temp folder; returns the first error. */
async function run(markdown: string): Promise<unknown> {
  const dir = await Deno.makeTempDir({ prefix: "sequent-guide-conv-" });
  const context = {
    cwd: dir,
    cli: "cli.ts",
    env: guideEnv(),
    timeoutMs: 30_000,
  };
  try {
    for (const step of parseGuide(markdown, "c.md") as Step[]) {
      await runStep(step, context);
    }
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a chapter that holds up runs: commands, cd, files in every mode", async () => {
  const error = await run(chapter(
    `${F}sh`,
    "mkdir app",
    "cd app",
    "pwd",
    "printf 'a\\n  b\\n' > f.txt",
    F,
    `${F}text`,
    "…/app",
    F,
    `${F}ts ignore`,
    "// lib/a.ts",
    "export const a = 1;",
    F,
    `${F}ts ignore`,
    "// lib/a.ts (add at the end)",
    "export const b = 2;",
    F,
    `${F}ts ignore`,
    "// lib/a.ts (excerpt)",
    "export const a = 1;",
    "export const c = 3;",
    "export const b = 2;",
    F,
    `${F}ts ignore`,
    "// lib/a.ts (as generated)",
    "export const a = 1;",
    "export const c = 3;",
    "export const b = 2;",
    F,
    `${F}ts ignore`,
    "// lib/a.ts (excerpt, as generated)",
    "export const c = 3;",
    F,
    `${F}sh`,
    "cat lib/a.ts",
    "test -f f.txt",
    "deno eval 'Deno.exit(3)'  # fails",
    'echo "$NO_COLOR ${DATABASE_URL:-no database}" >&2',
    F,
    `${F}text`,
    "export const b = 2;",
    "1 no database",
    F,
  ));
  assert.equal(error, undefined);
});

Deno.test("a block that breaks fails the run, naming its line", async () => {
  const cases: Array<[string, RegExp]> = [
    [
      chapter(`${F}sh`, "echo hello", F, `${F}text`, "goodbye", F),
      /c\.md:4: the output is not what the guide shows/,
    ],
    [chapter(`${F}sh`, "echo", "false", F), /c\.md:3: "false" exited with 1/],
    [
      chapter(`${F}sh`, "true  # fails", F),
      /c\.md:2: the guide says "true {2}# fails" fails, but it succeeded/,
    ],
    [chapter(`${F}sh`, "cd nowhere", F), /c\.md:2: cd: no folder/],
    [chapter(`${F}sh`, "cd / && ls", F), /cd on a line of its own/],
    [
      chapter(`${F}ts ignore`, "// a.ts (add at the end)", "1", F),
      /c\.md:1: there is no file/,
    ],
    [
      chapter(
        `${F}ts ignore`,
        "// a.ts",
        "a",
        F,
        `${F}ts ignore`,
        "// a.ts (as generated)",
        "b",
        F,
      ),
      /c\.md:5: a\.ts does not read as the guide shows: line 1 is "a", the guide shows "b"/,
    ],
    [
      chapter(
        `${F}ts ignore`,
        "// a.ts",
        "a",
        F,
        `${F}ts ignore`,
        "// a.ts (excerpt, as generated)",
        "b",
        F,
      ),
      /c\.md:5: a\.ts does not have these lines/,
    ],
    [
      chapter(
        `${F}ts ignore`,
        "// a.ts",
        "a",
        "b",
        F,
        `${F}ts ignore`,
        "// a.ts (excerpt)",
        "x",
        "b",
        F,
      ),
      /no line "x" to start the excerpt at/,
    ],
    [
      chapter(
        `${F}ts ignore`,
        "// a.ts",
        "const a: number = 'one';",
        F,
        `${F}sh`,
        "deno check a.ts",
        F,
      ),
      /c\.md:6: "deno check a\.ts" exited with 1:[\s\S]*TS2322/,
    ],
  ];
  for (const [markdown, message] of cases) {
    const error = await run(markdown);
    assert.ok(
      error instanceof GuideStepError || error instanceof GuideFormatError,
      `${markdown}\n→ ${String(error)}`,
    );
    assert.match(error.message, message, markdown);
  }
});
