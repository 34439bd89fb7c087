/**
 * How long-running tasks (`processors run`) end, in processes of their own
 * as `sequent.ts` runs them: a SIGINT delivered twice (by the terminal and
 * by the `sequent` CLI passing it on) stops them in order all the same;
 * beside an application holding the embedded database's folder, they end
 * in one line, exit 1, when that application goes.
 */
import assert from "node:assert/strict";
import { Child } from "../_child_process.ts";
import { asyncAppConfig } from "./_async_app.ts";
import { run } from "./_run_task.ts";

const TASK = new URL("./_task_child.ts", import.meta.url);
const ASYNC_APP = new URL("./_async_app_child.ts", import.meta.url);

/** A task's process, its standard output and error read as they come. */
class TaskProcess {
  readonly #process: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #reading: Promise<void>[];

  constructor(args: readonly string[]) {
    this.#process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", TASK.pathname, ...args],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = [this.#process.stdout, this.#process.stderr].map(
      async (stream) => {
        let rest = "";
        for await (const text of stream.pipeThrough(new TextDecoderStream())) {
          const parts = (rest + text).split("\n");
          rest = parts.pop()!;
          this.lines.push(...parts);
        }
        if (rest) this.lines.push(rest);
      },
    );
  }

  /** Waits up to `ms` for a line matching `pattern`. */
  async waitFor(pattern: RegExp, ms = 30_000): Promise<void> {
    for (const deadline = Date.now() + ms; Date.now() < deadline;) {
      if (this.lines.some((line) => pattern.test(line))) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.fail(`no line matching ${pattern}:\n${this.lines.join("\n")}`);
  }

  kill(signal: Deno.Signal): void {
    this.#process.kill(signal);
  }

  /** Its exit code, once it has ended; killed if it runs for `ms` more. */
  async ended(ms = 20_000): Promise<number> {
    const timer = setTimeout(() => this.kill("SIGKILL"), ms);
    try {
      const status = await this.#process.status;
      await Promise.all(this.#reading);
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }
}

Deno.test({
  name:
    "processors run stops in order on a SIGINT that arrives twice: the repeat right after the first does not kill it",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const task = new TaskProcess(["slow", "processors", "run"]);
    try {
      await task.waitFor(/^handling$/);
      task.kill("SIGINT");
      // the first has reached the task (it waits for the event under way)
      await new Promise((resolve) => setTimeout(resolve, 200));
      task.kill("SIGINT");
      assert.equal(await task.ended(), 0, task.lines.join("\n"));
      assert.equal(task.lines.at(-1), "stopped; claims released");
    } finally {
      try {
        task.kill("SIGKILL");
      } catch {
        // it ended
      }
      await task.ended();
    }
  },
});

Deno.test({
  name:
    "processors run beside the application holding the embedded database ends in one line, exit 1, when the application goes, closing it or killed",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sequent-beside-" });
    const folder = `${dir}/db`;
    try {
      const migrated = await run(asyncAppConfig(folder, "beside"), [
        "migrate",
      ]);
      assert.equal(migrated.code, 0, migrated.err.join("\n"));
      for (const end of ["close", "kill"] as const) {
        const app = Child.spawn(ASYNC_APP, [folder, "beside"]);
        let task: TaskProcess | undefined;
        try {
          // (the application first: it holds the folder, the task goes
          // through it)
          await app.waitFor(/^token /);
          task = new TaskProcess(["async", folder, "processors", "run"]);
          await task.waitFor(/^running /);
          if (end === "close") {
            assert.equal((await app.ended()).code, 0);
          } else {
            app.kill();
          }
          assert.equal(await task.ended(), 1, task.lines.join("\n"));
          assert.match(
            task.lines[0]!,
            new RegExp(
              `^using the embedded database through the process holding it: pid ${app.pid} `,
            ),
          );
          assert.match(task.lines[1]!, /^running /);
          assert.match(
            task.lines[2]!,
            new RegExp(
              `^error: Lost the connection to the embedded PostgreSQL in ${folder}, through process ${app.pid}: .*; the processors stopped without giving up their claims \\(they lapse by themselves\\): start them again$`,
            ),
          );
          // no warning, no stack trace, no claim said released
          assert.equal(task.lines.length, 3, task.lines.join("\n"));
        } finally {
          app.kill();
          await app.ended();
          try {
            task?.kill("SIGKILL");
          } catch {
            // it ended
          }
          await task?.ended();
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
