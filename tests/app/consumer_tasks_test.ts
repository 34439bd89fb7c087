/**
 * An app's JetStream consumers under the processors tasks: the app
 * declares its inbox (`inbox: { consumers }`), its consumers use
 * `app.inbox`, and `processors status` shows each consumer's parked
 * messages; `processors retry` and `skip` take a consumer's name. On the
 * in-memory store with a real relay and consumer on the shared JetStream
 * server, and on the embedded database in a folder, each task opening it
 * anew.
 */
import assert from "node:assert/strict";
import {
  type AppConfig,
  createApp,
  InMemoryEventStore,
  InMemoryProcessorStore,
  silentLogger,
  Workflow,
} from "@sequent/core";
import { EventConsumer, OutboxRelay } from "@sequent/core/nats";
import { command, event, stream } from "../contract/event_store_contract.ts";
import { PostCommandHandler } from "../fixtures/blog.ts";
import {
  createStream,
  deleteStream,
  freshStream,
  natsUrl,
  until,
} from "../nats/_nats.ts";
import { run } from "./_run_task.ts";

Deno.test({
  name:
    "processors status shows a consumer's parked message; processors retry has the running consumer handle it, in order",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const eventStore = new InMemoryEventStore();
    const processorStore = new InMemoryProcessorStore(eventStore);
    const config: AppConfig = {
      eventStore,
      processorStore,
      commandHandlers: [new PostCommandHandler()],
      inbox: { consumers: ["newsletter"] },
      logger: silentLogger,
    };
    const app = await createApp(config);
    const { stream: name, prefix } = freshStream();
    await createStream(name, prefix, 1_000);
    const id = crypto.randomUUID();
    for (let n = 1; n <= 3; n++) {
      await eventStore.transaction((tx) =>
        tx.commit(command(id), [
          stream(id, [event(id, n, { n }, "Consumer_Mailed")]),
        ])
      );
    }
    const relay = new OutboxRelay({
      processors: processorStore,
      eventTypes: ["Consumer_Mailed"],
      servers: natsUrl,
      stream: name,
      prefix,
      pollMs: { min: 5, max: 20 },
      logger: silentLogger,
    });
    let poison = true;
    const handled: number[] = [];
    const consumer = new EventConsumer({
      name: "newsletter",
      inbox: app.inbox!,
      servers: natsUrl,
      stream: name,
      prefix,
      maxDeliver: 2,
      retryDelayMs: 20,
      logger: silentLogger,
      handler: (e) => {
        if (poison && e.sequenceNumber === 2) {
          return Promise.reject(new Error("the mail server said no"));
        }
        handled.push(e.sequenceNumber);
        return Promise.resolve();
      },
    });
    // the relay publishes and stops before the tasks run: each task's app
    // closes the in-memory store when it ends, as a task's process would
    // end its own connection
    relay.start();
    try {
      await until(() => relay.status.published === 3, 10_000, "3 published");
    } finally {
      await relay.stop();
    }
    consumer.start();
    try {
      // the second parked, and the third set aside behind it
      await until(
        async () =>
          consumer.status.parked.length === 1 &&
          (await app.inbox!.setAsideMessages("newsletter")).length === 2,
        10_000,
        "the second event parked, the third waiting",
      );
      assert.deepEqual(handled, [1]);
      const status = await run(config, ["processors", "status"]);
      assert.equal(status.code, 0, status.err.join("\n"));
      assert.deepEqual(status.out.slice(0, 1), [
        "newsletter (JetStream consumer): 2 messages parked, of 1 aggregate",
      ]);
      const at = (n: number) =>
        `${id} at event ${n} \\(${prefix}\\.\\d+\\.Contract_Thing\\.${id}\\) since \\d{4}-\\S+Z`;
      assert.match(
        status.out[1]!,
        new RegExp(`^  parked ${at(2)}: the mail server said no$`),
      );
      assert.match(
        status.out[2]!,
        new RegExp(
          `^  waiting ${at(3)}, behind its aggregate's parked message$`,
        ),
      );
      // the third waits behind the parked second; retried, both follow
      poison = false;
      const retry = await run(config, [
        "processors",
        "retry",
        "newsletter",
        id,
      ]);
      assert.equal(retry.code, 0, retry.err.join("\n"));
      assert.match(retry.out[0]!, /^newsletter handles aggregate .* again/);
      await until(
        async () =>
          handled.length === 3 &&
          (await app.inbox!.setAsideMessages("newsletter")).length === 0,
        10_000,
        "the retry",
      );
      assert.deepEqual(handled, [1, 2, 3]);
      const after = await run(config, ["processors", "status"]);
      assert.ok(
        after.out.includes("newsletter (JetStream consumer): nothing parked"),
        after.out.join("\n"),
      );
      // nothing parked any more: a retry says so
      const again = await run(config, ["processors", "skip", "newsletter", id]);
      assert.equal(again.code, 1);
      assert.equal(
        again.err[0],
        `error: Consumer newsletter has no parked message of aggregate ${id}`,
      );
    } finally {
      await consumer.stop();
      await app.close();
      await deleteStream(name);
    }
  },
});

Deno.test("on the embedded database in a folder, the app installs its inbox; status and skip see what another opening set aside", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequent-inbox-" });
  const config: AppConfig = {
    database: `${dir}/db`,
    commandHandlers: [new PostCommandHandler()],
    inbox: { consumers: ["search", "newsletter"], schema: "blog_inbox" },
    logger: silentLogger,
  };
  try {
    const id = crypto.randomUUID();
    const app = await createApp(config);
    try {
      await app.inbox!.setAside("newsletter", {
        id: `${id}/4`,
        aggregateId: id,
        sequenceNumber: 4,
        subject: `blog.3.Post.${id}`,
        headers: {},
        body: "{}",
      }, "boom\nat line 2");
    } finally {
      await app.close();
    }
    const status = await run(config, ["processors", "status"]);
    assert.equal(status.code, 0, status.err.join("\n"));
    assert.equal(status.out[0], "search (JetStream consumer): nothing parked");
    assert.equal(
      status.out[1],
      "newsletter (JetStream consumer): 1 message parked, of 1 aggregate",
    );
    assert.match(
      status.out[2]!,
      new RegExp(
        `^  parked ${id} at event 4 \\(blog\\.3\\.Post\\.${id}\\) since \\S+Z: boom$`,
      ),
    );
    const skip = await run(config, ["processors", "skip", "newsletter", id]);
    assert.equal(skip.code, 0, skip.err.join("\n"));
    const asked = await run(config, ["processors", "status"]);
    assert.match(asked.out[2]!, /\(skip asked\): boom$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an inbox configuration that cannot work is refused, naming what is wrong", async () => {
  const base = {
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new PostCommandHandler()],
    logger: silentLogger,
  };
  await assert.rejects(
    createApp({ ...base, inbox: { consumers: [] } }),
    /inbox.consumers must name the consumers that use the inbox/,
  );
  await assert.rejects(
    createApp({ ...base, inbox: { consumers: ["a", "a"] } }),
    /inbox.consumers names "a" twice/,
  );
  await assert.rejects(
    createApp({ ...base, inbox: { consumers: [""] } }),
    /inbox.consumers must be consumer names, got ""/,
  );
  // processors retry and skip take either name: they must differ
  class Newsletter extends Workflow {}
  await assert.rejects(
    createApp({
      ...base,
      processors: [Newsletter],
      inbox: { consumers: ["Newsletter"] },
    }),
    /inbox consumer "Newsletter" has the name of a processor of this app/,
  );
  // an event store object of another kind brings no inbox
  const other = new InMemoryEventStore();
  await assert.rejects(
    createApp({
      ...base,
      // (not an InMemoryEventStore, as far as instanceof can tell)
      eventStore: new Proxy(other, { getPrototypeOf: () => Object.prototype }),
      inbox: { consumers: ["newsletter"] },
    }),
    /inbox needs a database URL or the in-memory event store/,
  );
});
