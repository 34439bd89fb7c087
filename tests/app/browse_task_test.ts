/**
 * `browse` through `runTasks`, as `deno task browse` runs it: it serves
 * the event browser on 127.0.0.1, says where, answers until stopped, and
 * refuses a bad port with a usage error.
 */
import assert from "node:assert/strict";
import { InMemoryEventStore, silentLogger } from "@sequent/core";
import { runTasks } from "@sequent/core/tasks";
import { PostCommandHandler } from "../fixtures/blog.ts";
import { run } from "./_run_task.ts";

const config = () => ({
  eventStore: new InMemoryEventStore(),
  commandHandlers: [new PostCommandHandler()],
  logger: silentLogger,
});

Deno.test("browse serves the event browser on 127.0.0.1 until stopped, and says where", async () => {
  const stop = new AbortController();
  let announced: (url: string) => void = () => {};
  const address = new Promise<string>((resolve) => announced = resolve);
  const err: string[] = [];
  const running = runTasks(config(), ["browse", "--port", "0", "--masked"], {
    stdout: () => {},
    stderr: (line) => {
      err.push(line);
      const found = /runs at (http:\/\/\S+\/)/.exec(line);
      if (found) announced(found[1]!);
    },
    confirm: () => Promise.resolve(false),
    signal: stop.signal,
  });
  const url = await address;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.match(err[0]!, /read-only, payloads masked; Ctrl-C stops it/);
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(
    page.headers.get("content-security-policy") ?? "",
    /default-src 'self'/,
  );
  assert.match(await page.text(), /Search events/);
  stop.abort();
  assert.equal(await running, 0);
});

Deno.test("browse refuses a port that is not one, naming it", async () => {
  const result = await run(config(), ["browse", "--port", "http"]);
  assert.equal(result.code, 2);
  assert.match(
    result.err[0]!,
    /--port must be a port number from 0 to 65535, got "http"/,
  );
});
