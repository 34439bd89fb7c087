/**
 * The guide in `docs/guide/` is a script: this test runs its chapters in
 * order, in one temp folder, as a reader following along would (see
 * `_guide.ts` for the conventions). Each block is a step; after the first
 * step that fails, the rest are skipped. Finally the app the guide leaves
 * behind must be formatted and lint-free, as the generated app is, and it
 * runs: `deno task start`, and Chromium adds an author, adds and publishes
 * a post, and finds it on the list and on its history page (see
 * `../cli/_browser.ts` for where Chromium comes from), on the embedded
 * database and, when `DATABASE_URL` names a server, on a database of its
 * own there.
 *
 * Set `GUIDE_KEEP=1` to keep the temp folder, to look at the app the guide
 * made.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type Browser,
  browserMissing,
  whileServed,
  withBrowser,
} from "../cli/_browser.ts";
import {
  createDatabase,
  dropDatabase,
} from "../../src/postgres/database_admin.ts";
import {
  assertSucceeded,
  databases,
  deno,
  scratchDatabase,
} from "../cli/_helpers.ts";
import {
  type GuideContext,
  guideEnv,
  GuideStepError,
  parseGuide,
  runStep,
  type Step,
} from "./_guide.ts";

const CHECKOUT = fileURLToPath(new URL("../..", import.meta.url)).replace(
  /[\\/]$/,
  "",
);
const GUIDE = `${CHECKOUT}/docs/guide`;

/** The chapters: `NN_name.md`, in order. */
function chapters(): string[] {
  return [...Deno.readDirSync(GUIDE)]
    .filter((entry) => entry.isFile && /^\d+_.+\.md$/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
}

function describe(step: Step): string {
  const what = step.kind === "sh"
    ? step.commands.map((c) => c.text).join("; ")
    : `${step.path}${step.mode === "write" ? "" : ` (${step.mode})`}`;
  return `${step.file}:${step.line} ${
    what.length > 70 ? `${what.slice(0, 69)}…` : what
  }`;
}

Deno.test("the guide's chapters follow the conventions", () => {
  const names = chapters();
  if (names.length === 0) throw new Error(`no chapters in ${GUIDE}`);
  for (const name of names) {
    parseGuide(Deno.readTextFileSync(`${GUIDE}/${name}`), name);
  }
});

Deno.test("the guide runs as written", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-guide-" });
  const context: GuideContext = {
    cwd: dir,
    cli: `${CHECKOUT}/cli.ts`,
    env: guideEnv(),
    timeoutMs: 120_000,
  };
  let failed = false;
  try {
    for (const name of chapters()) {
      const steps = parseGuide(
        await Deno.readTextFile(`${GUIDE}/${name}`),
        name,
      );
      for (const step of steps) {
        const ok = await t.step({
          name: describe(step),
          ignore: failed,
          fn: () => runStep(step, context),
        });
        if (!ok) failed = true;
      }
    }
    await t.step({
      name:
        "the app the guide leaves behind passes deno fmt --check and deno lint",
      ignore: failed,
      fn: async () => {
        for (const args of [["fmt", "--check"], ["lint"]]) {
          const result = await new Deno.Command(Deno.execPath(), {
            args,
            cwd: context.cwd,
            env: context.env,
            clearEnv: true,
            stdout: "piped",
            stderr: "piped",
          }).output();
          if (result.code !== 0) {
            const decoder = new TextDecoder();
            throw new GuideStepError(
              `deno ${args.join(" ")} in ${context.cwd} failed:\n${
                decoder.decode(result.stdout)
              }${decoder.decode(result.stderr)}`,
            );
          }
        }
      },
    });
    const skipBrowser = browserMissing("guide_test");
    await t.step({
      name:
        "the blog the guide builds runs, on the embedded database and on the server in DATABASE_URL: in a browser, an author, a post for them, published, on the list and on its history page",
      ignore: failed || skipBrowser,
      fn: () =>
        withBrowser(async (browser) => {
          for (const server of databases()) {
            // on a server: a database of its own, migrated by the app's task
            const own = server === undefined
              ? undefined
              : scratchDatabase(server, "sequent_guide");
            if (own !== undefined) {
              assert.equal(await createDatabase(own), true);
            }
            try {
              const env = { ...context.env, DATABASE_URL: own };
              if (own !== undefined) {
                assertSucceeded(
                  "deno task migrate",
                  await deno(["task", "migrate"], context.cwd, env),
                );
              }
              await whileServed(
                context.cwd,
                env,
                (url) => publishAPostInTheBrowser(browser, url),
              );
            } finally {
              if (own !== undefined) await dropDatabase(own);
            }
          }
        }),
    });
  } finally {
    if (Deno.env.get("GUIDE_KEEP")) {
      console.log(`kept the guide's folder ${dir}`);
    } else await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/** Chapter 4's blog, used as a reader would, in a real browser. */
async function publishAPostInTheBrowser(browser: Browser, url: string) {
  const page = await browser.newPage();
  try {
    await page.goto(url);
    await page.click("nav >> text=Authors");
    await page.click("text=Add an author");
    await page.fill("#name", "Ben");
    await page.fill("#email", "ben@sequent.io");
    await page.click("button[type=submit]");
    assert.match(await page.textContent("ul.authors") ?? "", /Ben/);

    // the same address again, in other letters: refused beside the field
    await page.click("text=Add an author");
    await page.fill("#name", "Kim");
    await page.fill("#email", "BEN@sequent.io");
    await page.click("button[type=submit]");
    assert.equal(
      await page.textContent("#email-error"),
      "Email belongs to another author",
    );

    await page.click("nav >> text=New post");
    await page.selectOption("#authorAggregateId", { label: "Ben" });
    await page.fill("#title", "Published from a browser");
    await page.fill("#content", "Chapter 4, end to end.");
    await page.click("button[type=submit]");
    await page.waitForSelector("table.history");
    assert.equal(await page.textContent("article .state"), "draft");

    await page.click("text=Publish today");
    await page.waitForSelector("table.history");
    assert.match(
      await page.textContent("article .state") ?? "",
      /^published on \d{4}-\d{2}-\d{2}$/,
    );
    const rows = await page.$$eval(
      "table.history tbody tr",
      (trs) =>
        trs.map((tr) => [
          tr.children[1]?.textContent ?? "",
          tr.children[4]?.textContent ?? "",
        ]),
    );
    // time travel: a draft until PostPublished
    assert.deepEqual(rows.map(([event]) => event), [
      "PostAdded",
      "PostAuthorChanged",
      "PostTitleChanged",
      "PostContentChanged",
      "PostPublished",
    ]);
    assert.match(rows[3]![1], /draft/);
    assert.match(rows[4]![1], /published on/);

    await page.click("nav >> text=Posts");
    assert.match(
      await page.textContent("ul.posts li") ?? "",
      /^Published from a browser by Ben, published on \d{4}-\d{2}-\d{2}$/,
    );
  } finally {
    await page.close();
  }
}
