/**
 * `browse` through `runTasks`, as `deno task browse` runs it: it serves
 * the event browser on 127.0.0.1, says where, answers until stopped, and
 * refuses a bad port with a usage error. With `--nats` it adds the outbox
 * page, read from the relay's checkpoints and the shared JetStream server.
 */
import assert from "node:assert/strict";
import {
  type AppConfig,
  InMemoryEventStore,
  InMemoryProcessorStore,
  partitionOf,
  silentLogger,
} from "@sequent/core";
import { OutboxRelay } from "@sequent/core/nats";
import { runTasks } from "@sequent/core/tasks";
import { command, event, stream } from "../contract/event_store_contract.ts";
import { PostCommandHandler } from "../fixtures/blog.ts";
import { deleteStream, freshStream, natsUrl, until } from "../nats/_nats.ts";
import { run } from "./_run_task.ts";

const config = () => ({
  eventStore: new InMemoryEventStore(),
  commandHandlers: [new PostCommandHandler()],
  logger: silentLogger,
});

/** Runs `browse` with `args` until `stop`; its address once it serves. */
function browse(cfg: AppConfig, args: string[], stop: AbortController) {
  let announced: (url: string) => void = () => {};
  const address = new Promise<string>((resolve) => announced = resolve);
  const err: string[] = [];
  const running = runTasks(cfg, ["browse", "--port", "0", ...args], {
    stdout: () => {},
    stderr: (line) => {
      err.push(line);
      const found = /runs at (http:\/\/\S+\/)/.exec(line);
      if (found) announced(found[1]!);
    },
    confirm: () => Promise.resolve(false),
    signal: stop.signal,
  });
  // a task that fails before it serves says so, instead of a hang
  const failed = running.then((code) => {
    throw new Error(`browse exited ${code}: ${err.join("\n")}`);
  });
  return { address: Promise.race([address, failed]), err, running };
}

Deno.test("browse serves the event browser on 127.0.0.1 until stopped, and says where", async () => {
  const stop = new AbortController();
  const { address, err, running } = browse(config(), ["--masked"], stop);
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

Deno.test({
  name:
    "browse --nats adds the outbox page: the relay's partition in step with its last JetStream message",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const eventStore = new InMemoryEventStore();
    const processorStore = new InMemoryProcessorStore(eventStore);
    const { stream: name, prefix } = freshStream();
    const id = crypto.randomUUID();
    await eventStore.transaction((tx) =>
      tx.commit(command(id), [
        stream(id, [event(id, 1, { n: 1 }, "Browse_Published")]),
      ])
    );
    const relay = new OutboxRelay({
      processors: processorStore,
      eventTypes: ["Browse_Published"],
      servers: natsUrl,
      stream: name,
      prefix,
      name: "feed",
      owner: "relay-a",
      pollMs: { min: 5, max: 20 },
      logger: silentLogger,
    });
    relay.start();
    const stop = new AbortController();
    try {
      await until(() => relay.status.published === 1, 10_000, "1 message");
      await until(
        async () =>
          (await processorStore.records(["feed"]))[0]?.partitions.some((p) =>
            p.partition === partitionOf(id) && p.checkpoint !== ""
          ) ?? false,
        10_000,
        "the partition's checkpoint",
      );
      const cfg = { ...config(), eventStore, processorStore };
      const { address, err, running } = browse(cfg, [
        "--nats",
        natsUrl,
        "--stream",
        name,
        "--prefix",
        prefix,
        "--relay",
        "feed",
      ], stop);
      const url = await address;
      assert.match(
        err[0]!,
        new RegExp(`the outbox page shows relay feed, stream ${name} on NATS`),
      );
      const home = await (await fetch(url)).text();
      assert.match(home, /href="\/outbox">Outbox</);
      const page = await fetch(new URL("outbox", url));
      assert.equal(page.status, 200);
      const rows = (await page.text()).split("<tr>");
      const row = rows.find((r) =>
        r.trimStart().startsWith(`<td>${partitionOf(id)}</td>`)
      );
      assert.ok(row, `a row for partition ${partitionOf(id)}`);
      assert.match(row, /relay-a/);
      assert.ok(row.includes(`${id}/1`), row);
      assert.match(row, /Browse_Published/);
      assert.match(row, /In step/);
      stop.abort();
      assert.equal(await running, 0);
    } finally {
      stop.abort();
      await relay.stop();
      await deleteStream(name);
    }
  },
});

Deno.test("browse's outbox flags: --stream, --prefix or --relay without --nats, an empty server and a stream name NATS refuses are usage errors naming them", async () => {
  const without = await run(config(), [
    "browse",
    "--stream",
    "S",
    "--relay",
    "r",
  ]);
  assert.equal(without.code, 2);
  assert.match(
    without.err[0]!,
    /--stream, --relay describe the outbox relay: give its NATS servers with --nats too/,
  );
  const empty = await run(config(), ["browse", "--nats", "127.0.0.1:4222,"]);
  assert.equal(empty.code, 2);
  assert.match(
    empty.err[0]!,
    /--nats must name NATS servers.*got "127\.0\.0\.1:4222,"/,
  );
  const bad = await run(config(), [
    "browse",
    "--nats",
    natsUrl,
    "--stream",
    "two words",
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.err[0]!, /two words/);
});
