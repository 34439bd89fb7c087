/**
 * What the browser tests share: finding Debian's Chromium, launching it
 * through playwright-core, and running `deno task start` in a generated
 * app until it gives its address.
 *
 * Chromium comes from the system (`apt-get install chromium`; or set
 * `CHROMIUM` to a browser's path). Without it a browser test fails in CI
 * (`CI=true`) and is left out elsewhere, saying how to get it.
 */
import assert from "node:assert/strict";
import { type Browser, chromium } from "npm:playwright-core@1.65.2";

export type { Browser, Page } from "npm:playwright-core@1.65.2";

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

/**
 * Whether a browser test is left out here: no Chromium, and not in CI
 * (where a missing browser fails the test). Says so, naming the test file.
 */
export function browserMissing(file: string): boolean {
  if (executablePath || inCi) return false;
  console.warn(`${file}: browser test left out: ${HINT}`);
  return true;
}

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

/** Runs `fn` with a headless Chromium, closed afterwards. */
export async function withBrowser(
  fn: (browser: Browser) => Promise<void>,
): Promise<void> {
  if (!executablePath) throw new Error(`CI=true: ${HINT}`);
  const browser = await chromium.launch({
    executablePath,
    args: CHROMIUM_ARGS,
  });
  try {
    await fn(browser);
  } finally {
    await browser.close();
  }
}

/** A running `deno task start`: its address, and how to stop it. */
export interface Served {
  readonly url: string;
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `deno task start` in `app` on a free port and waits for the line
 * that gives its address. `env` goes over this process's environment; a
 * variable it sets to `undefined` is left out.
 */
export async function startBlog(
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

/**
 * Runs `fn` against `deno task start` in `app` (see {@linkcode startBlog}),
 * then stops the blog with Ctrl-C and requires it to exit cleanly.
 */
export async function whileServed(
  app: string,
  env: Record<string, string | undefined>,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const served = await startBlog(app, env);
  let stopped = false;
  try {
    await fn(served.url);
    const status = await served.stop();
    stopped = true;
    assert.equal(status.code, 0, "Ctrl-C stops the blog cleanly");
  } finally {
    if (!stopped) await served.stop();
  }
}
