/**
 * The outbox relay's publishes, traced: one `send <prefix>` producer span
 * per batch, in a trace of its own, linked to the command that stored the
 * events; every message carries that span's `traceparent` header.
 * Needs the JetStream server of `NATS_URL` (default 127.0.0.1:4222).
 */
import assert from "node:assert/strict";
import { SpanKind } from "npm:@opentelemetry/api@1.10.0";
import { OUTBOX_HEADERS, OutboxRelay } from "@sequent/core/nats";
import { openTelemetry, traceparentOf } from "@sequent/core/otel";
import {
  type App,
  createApp,
  silentLogger,
  type Telemetry,
} from "@sequent/core";
import { serverUrl } from "../postgres/_backends.ts";
import { dropSchemas, schemaName } from "../app/_server_schemas.ts";
import {
  deleteStream,
  freshStream,
  natsUrl,
  scan,
  until,
} from "../nats/_nats.ts";
import { AddPost, blogApp, Post, PostCommandHandler } from "./_blog.ts";
import { parentOf, sdk, takeSpans } from "./_sdk.ts";

/** The blog app on the PostgreSQL server of `DATABASE_URL`. */
function serverApp(schema: string, telemetry: Telemetry): Promise<App> {
  return createApp({
    database: serverUrl!,
    eventStoreSchema: schema,
    viewSchema: `${schema}_view`,
    commandHandlers: [new PostCommandHandler()],
    aggregates: [Post],
    logger: silentLogger,
    telemetry,
  });
}

Deno.test("memory: the relay's send span is linked to the command, its context in the headers", async () => {
  const telemetry = openTelemetry();
  const app = await blogApp(telemetry);
  try {
    await sendTraced(app, telemetry);
  } finally {
    await app.close();
  }
});

Deno.test({
  name:
    "PostgreSQL: the relay's send span is linked to the command, its context in the headers",
  ignore: serverUrl === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const telemetry = openTelemetry();
    const schema = schemaName("otel_relay");
    const app = await serverApp(schema, telemetry);
    try {
      await sendTraced(app, telemetry);
    } finally {
      await app.close();
      await dropSchemas(serverUrl!, schema);
    }
  },
});

async function sendTraced(app: App, telemetry: Telemetry): Promise<void> {
  sdk();
  const { stream, prefix } = freshStream();
  try {
    takeSpans();
    await app.executeCommands(
      new AddPost({
        aggregateId: crypto.randomUUID(),
        title: "t",
        author: "a",
        body: "b",
      }),
    );
    const command = takeSpans().find((s) => s.name === "command AddPost")!;
    const relay = new OutboxRelay({
      processors: app.processorStore!,
      eventTypes: ["PostAdded", "PostBodySet"],
      servers: natsUrl,
      stream,
      prefix,
      pollMs: { min: 5, max: 20 },
      leaseMs: 2_000,
      publishTimeoutMs: 1_000,
      logger: silentLogger,
      telemetry,
    });
    relay.start();
    try {
      await until(() => relay.status.published === 2, 10_000, "2 messages");
    } finally {
      await relay.stop();
    }
    const sends = takeSpans().filter((s) => s.name.startsWith("send "));
    assert.equal(sends.length, 1);
    const send = sends[0]!;
    assert.equal(send.name, `send ${prefix}`);
    assert.equal(send.kind, SpanKind.PRODUCER);
    assert.equal(parentOf(send), undefined);
    assert.deepEqual(send.links.map((l) => l.context.spanId), [
      command.spanContext().spanId,
    ]);
    assert.equal(send.attributes["messaging.system"], "nats");
    assert.equal(send.attributes["messaging.destination.name"], prefix);
    assert.equal(send.attributes["messaging.operation.type"], "send");
    assert.equal(send.attributes["messaging.batch.message_count"], 2);
    const messages = await scan(stream);
    assert.deepEqual(
      messages.map((m) => m.headers[OUTBOX_HEADERS.traceparent]),
      [traceparentOf(send.spanContext()), traceparentOf(send.spanContext())],
    );
  } finally {
    await deleteStream(stream);
  }
}
