/**
 * The generated blog in a real browser: `sequent new blog`, `deno task
 * migrate`, `deno task start`, then Debian's Chromium, driven by
 * playwright-core, adds a post, is told beside the field what is missing,
 * and finds the post on the list and on its history page. On the embedded
 * database, and on the server when `DATABASE_URL` names one.
 *
 * Chromium comes from the system (`apt-get install chromium`; or set
 * `CHROMIUM` to a browser's path). Without it the test fails in CI
 * (`CI=true`) and is left out elsewhere, saying how to get it.
 */
import assert from "node:assert/strict";
import { type Browser, chromium } from "npm:playwright-core@1.65.2";
import {
  createDatabase,
  dropDatabase,
} from "../../src/postgres/database_admin.ts";
import { assertSucceeded, CHECKOUT, deno, inTempDir } from "./_helpers.ts";

const HINT =
  "the browser tests need Chromium: install it (Debian: apt-get install chromium) or set CHROMIUM to its path";

/** Chromium's path: `CHROMIUM`, else what `which chromium` finds. */
async function findChromium(): Promise<string | undefined> {
  const given = Deno.env.get("CHROMIUM");
  if (given) return given;
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const out = await new Deno.Command("which", {
        args: [name],
        stdout: "piped",
        stderr: "null",
      }).output();
      const path = new TextDecoder().decode(out.stdout).trim();
      if (out.success && path) return path;
    } catch {
      // no `which`: try the next name, then give up
    }
  }
  return undefined;
}

const executablePath = await findChromium();
const inCi = Deno.env.get("CI") === "true";
if (!executablePath && !inCi) console.warn(`blog_web_test: skipped: ${HINT}`);

/** The flags a headless Chromium needs on a machine with no outside network. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function databases(): (string | undefined)[] {
  const url = Deno.env.get("DATABASE_URL");
  return url !== undefined && /^postgres(ql)?:/.test(url)
    ? [undefined, url]
    : [undefined];
}

/** `url` with a fresh, unused database name in place of its own. */
function scratchDatabase(url: string): string {
  const u = new URL(url);
  u.pathname = `/sequent_web_${crypto.randomUUID().slice(0, 8)}`;
  return u.href;
}

/** A running `deno task start`: its address, and how to stop it. */
interface Served {
  readonly url: string;
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `deno task start` in `app` on a free port and waits for the line
 * that gives its address.
 */
async function start(
  app: string,
  env: Record<string, string | undefined>,
): Promise<Served> {
  // this process's environment with `env` over it, less what `env` unsets
  const vars: Record<string, string> = {};
  for (
    const [key, value] of Object.entries({
      ...Deno.env.toObject(),
      ...env,
      NO_COLOR: "1",
      PORT: "0",
    })
  ) {
    if (value !== undefined) vars[key] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: app,
    clearEnv: true,
    env: vars,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errors: string[] = [];
  const stderr = child.stderr.pipeThrough(new TextDecoderStream())
    .pipeTo(new WritableStream({ write: (t) => void errors.push(t) }));
  const lines = child.stdout.pipeThrough(new TextDecoderStream());
  const reader = lines.getReader();
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`no address in 60 s:\n${seen}\n${errors.join("")}`)),
      60_000,
    );
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) {
        throw new Error(
          `deno task start ended:\n${seen}\n${errors.join("")}`,
        );
      }
      seen += value;
      const found = /The blog runs at (http:\/\/\S+\/)/.exec(seen);
      if (found) {
        const url = found[1] as string;
        // keep reading, so the server never blocks on a full pipe
        const rest = (async () => {
          while (!(await reader.read()).done) { /* drained */ }
        })();
        return {
          url,
          async stop() {
            child.kill("SIGINT");
            const status = await child.status;
            await Promise.all([rest, stderr]);
            return status;
          },
        };
      }
    }
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The browser's part: add a post, see the error, the list, the history. */
async function addAPostInTheBrowser(browser: Browser, url: string) {
  const page = await browser.newPage();
  try {
    await page.goto(url);
    assert.match(await page.textContent("main") ?? "", /No posts yet/);

    await page.click("text=New post");
    await page.fill("#author", "Ben");
    await page.fill("#content", "Written in a real browser.");
    await page.click("button[type=submit]");
    // refused: the reason stands beside the empty field, the rest is kept
    assert.equal(
      await page.textContent("#title-error"),
      "Title can't be blank",
    );
    assert.equal(await page.getAttribute("#title", "aria-invalid"), "true");
    assert.equal(await page.inputValue("#author"), "Ben");

    await page.fill("#title", "Hello <browser> & friends");
    await page.click("button[type=submit]");
    await page.waitForSelector("table.history");
    assert.equal(await page.textContent("h1"), "Hello <browser> & friends");
    const events = await page.$$eval(
      "table.history tbody tr td:nth-child(2)",
      (cells) => cells.map((cell) => cell.textContent),
    );
    assert.deepEqual(events, [
      "PostAdded",
      "PostAuthorChanged",
      "PostTitleChanged",
      "PostContentChanged",
    ]);

    // the list already shows it: the projector ran in the command's unit
    await page.click("nav >> text=Posts");
    assert.equal(
      await page.textContent("ul.posts li a"),
      "Hello <browser> & friends",
    );
  } finally {
    await page.close();
  }
}

Deno.test({
  name:
    "the generated blog runs: deno task start serves it, and a browser adds a post, sees the validation error, the list and the history",
  ignore: !executablePath && !inCi,
  fn: async () => {
    if (!executablePath) throw new Error(`CI=true: ${HINT}`);
    const browser = await chromium.launch({
      executablePath,
      args: CHROMIUM_ARGS,
    });
    try {
      for (const url of databases()) {
        await inTempDir(async (dir) => {
          assertSucceeded(
            "sequent new blog",
            await deno(["run", "-A", `${CHECKOUT}/cli.ts`, "new", "blog"], dir),
          );
          const app = `${dir}/blog`;
          const own = url === undefined ? undefined : scratchDatabase(url);
          if (own !== undefined) assert.equal(await createDatabase(own), true);
          try {
            const env = { DATABASE_URL: own };
            assertSucceeded(
              "deno task migrate",
              await deno(["task", "migrate"], app, env),
            );
            const served = await start(app, env);
            let stopped = false;
            try {
              await addAPostInTheBrowser(browser, served.url);
              const status = await served.stop();
              stopped = true;
              assert.equal(status.code, 0, "Ctrl-C stops the blog cleanly");
            } finally {
              if (!stopped) await served.stop();
            }
          } finally {
            if (own !== undefined) await dropDatabase(own);
          }
        });
      }
    } finally {
      await browser.close();
    }
  },
});
