/**
 * The trace of the blog's "add post", asserted exactly (T4.1): an HTTP
 * request's span → `command AddPost` → `sequent.commit` and the inline
 * dispatch; each processor batch in a trace of its own, linked to the
 * command's span; the workflow's command a child of its `process` span.
 * And: one `traceparent` stored per commit, never an all-zero one; the
 * application's providers stand (T4.8).
 */
import assert from "node:assert/strict";
import {
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "npm:@opentelemetry/api@1.10.0";
import { type InMemoryEventStore, silentLogger } from "@sequent/core";
import {
  openTelemetry,
  spanContextOf,
  traceparentOf,
  withTraceparent,
} from "@sequent/core/otel";
import { AddPost, blogApp, notifyFails, NotifyPost } from "./_blog.ts";
import { collectMetrics, parentOf, sdk, takeSpans, trees } from "./_sdk.ts";

/** Runs `work` inside a SERVER span, as an HTTP server would. */
async function inRequest<T>(
  work: () => Promise<T>,
): Promise<{ result: T; span: Span }> {
  const tracer = trace.getTracer("test-http");
  const span = tracer.startSpan("POST /posts", { kind: SpanKind.SERVER });
  try {
    const result = await context.with(
      trace.setSpan(context.active(), span),
      work,
    );
    return { result, span };
  } finally {
    span.end();
  }
}

Deno.test("the golden trace of adding a post", async () => {
  const { provider } = sdk();
  const app = await blogApp(openTelemetry());
  try {
    takeSpans();
    const id = crypto.randomUUID();
    const { span: request } = await inRequest(() =>
      app.executeCommands(
        new AddPost({ aggregateId: id, title: "t", author: "a", body: "b" }),
      )
    );
    const first = takeSpans();
    assert.deepEqual(trees(first), [
      "POST /posts [SERVER]",
      "  command AddPost [INTERNAL]",
      // the inline projector, then the commit at the unit's end, where
      // the store writes
      "    sequent.dispatch [INTERNAL]",
      "    sequent.commit [CLIENT]",
    ]);
    const command = first.find((s) => s.name === "command AddPost")!;
    assert.equal(
      command.spanContext().traceId,
      request.spanContext().traceId,
    );
    assert.equal(parentOf(command), request.spanContext().spanId);
    const commit = first.find((s) => s.name === "sequent.commit")!;
    assert.equal(commit.attributes["sequent.commit.events"], 2);
    assert.equal(commit.attributes["sequent.commit.aggregates"], 1);
    // an in-memory store is no database, and has no transaction ids
    assert.equal(commit.attributes["db.system.name"], undefined);
    assert.equal(commit.attributes["sequent.commit.transaction_id"], undefined);

    // one context per commit, in the command record and the events
    const stored = traceparentOf(command.spanContext());
    assert.ok(stored);
    const store = app.eventStore as InMemoryEventStore;
    const record = await store.commandForEvent(id, 1);
    assert.equal(record?.traceparent, stored);
    const { events } = await store.readEvents("", { limit: 10 });
    assert.deepEqual(events.map((e) => e.traceparent), [stored, stored]);

    // the processors: new traces, linked to the command, never parented
    await app.processors!.round();
    const second = takeSpans();
    assert.deepEqual(trees(second), [
      "process PostSearchProjector [CONSUMER]",
      "process NotifyWorkflow [CONSUMER]",
      "  command NotifyPost [INTERNAL]",
      // the workflow's unit commits once its commands are done
      "  sequent.commit [CLIENT]",
    ]);
    for (
      const name of ["process PostSearchProjector", "process NotifyWorkflow"]
    ) {
      const span = second.find((s) => s.name === name)!;
      assert.equal(parentOf(span), undefined);
      assert.notEqual(
        span.spanContext().traceId,
        command.spanContext().traceId,
      );
      assert.deepEqual(
        span.links.map((l) => [l.context.traceId, l.context.spanId]),
        [[command.spanContext().traceId, command.spanContext().spanId]],
      );
      assert.equal(span.attributes["messaging.batch.message_count"], 1);
      assert.equal(span.attributes["messaging.operation.type"], "process");
      assert.equal(span.attributes["messaging.system"], "sequent");
      assert.equal(
        span.attributes["messaging.consumer.group.name"],
        name.slice("process ".length),
      );
    }
    const process = second.find((s) => s.name === "process NotifyWorkflow")!;
    const notify = second.find((s) => s.name === "command NotifyPost")!;
    assert.equal(parentOf(notify), process.spanContext().spanId);
    assert.equal(notify.spanContext().traceId, process.spanContext().traceId);
    // the workflow's command stores its own context
    const notified = await store.commandForEvent(id, 3);
    assert.equal(notified?.traceparent, traceparentOf(notify.spanContext()));

    // nothing more to do: no spans
    await app.processors!.round();
    assert.deepEqual(takeSpans().map((s) => s.name), []);

    // metrics: low-cardinality attributes only
    const metrics = await collectMetrics();
    const names = metrics.scopeMetrics.flatMap((s) =>
      s.metrics.map((m) => m.descriptor.name)
    );
    for (
      const name of [
        "sequent.command.duration",
        "sequent.commit.events",
        "sequent.consumer.lag.events",
        "sequent.consumer.lag.seconds",
        "messaging.process.duration",
        "messaging.client.consumed.messages",
      ]
    ) {
      assert.ok(names.includes(name), `${name} in ${names}`);
    }
    const text = JSON.stringify(metrics);
    assert.ok(!text.includes(id), "an aggregate id in the metrics");
    // the application's provider stands
    assert.equal(
      (trace.getTracerProvider() as unknown as { getDelegate(): unknown })
        .getDelegate(),
      provider,
    );
  } finally {
    await app.close();
  }
});

Deno.test("an inline workflow's command is a child of the dispatch that ran the workflow, and stores its own context", async () => {
  sdk();
  const app = await blogApp(openTelemetry(), silentLogger, {
    notifyInline: true,
  });
  try {
    takeSpans();
    const id = crypto.randomUUID();
    await inRequest(() =>
      app.executeCommands(
        new AddPost({ aggregateId: id, title: "t", author: "a", body: "b" }),
      )
    );
    const spans = takeSpans();
    assert.deepEqual(trees(spans), [
      "POST /posts [SERVER]",
      "  command AddPost [INTERNAL]",
      "    sequent.dispatch [INTERNAL]",
      // queued by the workflow, run after AddPost, in the same unit
      "      command NotifyPost [INTERNAL]",
      "    sequent.commit [CLIENT]",
    ]);
    const dispatch = spans.find((s) => s.name === "sequent.dispatch")!;
    const notify = spans.find((s) => s.name === "command NotifyPost")!;
    assert.equal(parentOf(notify), dispatch.spanContext().spanId);
    assert.equal(
      notify.spanContext().traceId,
      dispatch.spanContext().traceId,
    );
    const store = app.eventStore as InMemoryEventStore;
    const notified = await store.commandForEvent(id, 3);
    assert.equal(notified?.traceparent, traceparentOf(notify.spanContext()));
  } finally {
    await app.close();
  }
});

Deno.test("a parked aggregate handled again on an operator's retry: a process span of its own, linked to the command, the workflow's command its child", async () => {
  sdk();
  const app = await blogApp(openTelemetry());
  try {
    takeSpans();
    const id = crypto.randomUUID();
    await app.executeCommands(
      new AddPost({ aggregateId: id, title: "t", author: "a", body: "b" }),
    );
    const command = takeSpans().find((s) => s.name === "command AddPost")!;
    notifyFails.on = true;
    try {
      await app.processors!.round();
    } finally {
      notifyFails.on = false;
    }
    const [notify] = (await app.processors!.status()).filter((s) =>
      s.name === "NotifyWorkflow"
    );
    assert.deepEqual(notify?.parked.map((k) => k.aggregateId), [id]);
    takeSpans();
    await app.processors!.retry("NotifyWorkflow", id);
    await app.processors!.round();
    const spans = takeSpans();
    assert.deepEqual(trees(spans), [
      "process NotifyWorkflow [CONSUMER]",
      "  command NotifyPost [INTERNAL]",
      "  sequent.commit [CLIENT]",
    ]);
    const process = spans.find((s) => s.name === "process NotifyWorkflow")!;
    assert.equal(parentOf(process), undefined);
    assert.deepEqual(process.links.map((l) => l.context.spanId), [
      command.spanContext().spanId,
    ]);
    assert.equal(process.attributes["messaging.batch.message_count"], 1);
    const [after] = (await app.processors!.status()).filter((s) =>
      s.name === "NotifyWorkflow"
    );
    assert.deepEqual(after?.parked, []);
  } finally {
    await app.close();
  }
});

Deno.test("a failed command: an error span with the error's type, no message", async () => {
  sdk();
  const app = await blogApp(openTelemetry());
  try {
    takeSpans();
    await assert.rejects(() =>
      app.executeCommands(
        new NotifyPost({ aggregateId: crypto.randomUUID(), note: "secret" }),
      )
    );
    const [span, ...rest] = takeSpans();
    assert.equal(rest.length, 0);
    assert.equal(span?.name, "command NotifyPost");
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.status.message, "AggregateNotFoundError");
    assert.equal(span?.attributes["error.type"], "AggregateNotFoundError");
    assert.equal(span?.events.length, 0);
  } finally {
    await app.close();
  }
});

Deno.test("a commit that fails ends its span as an error, a child of the command", async () => {
  const { provider } = sdk();
  const telemetry = openTelemetry({ tracerProvider: provider });
  takeSpans();
  class StoreDown extends Error {
    override name = "StoreDown";
  }
  const info = { events: 1, aggregates: 1, databaseSystem: "postgresql" };
  await assert.rejects(
    () =>
      telemetry.command(
        "AddPost",
        () =>
          telemetry.commit(info, () => Promise.reject(new StoreDown("secret"))),
      ),
    StoreDown,
  );
  // a store that throws before it returns a promise
  await assert.rejects(
    () =>
      telemetry.command("AddPost", () =>
        telemetry.commit(info, () => {
          throw new StoreDown("secret");
        })),
    StoreDown,
  );
  const spans = takeSpans();
  assert.deepEqual(trees(spans), [
    "command AddPost [INTERNAL]",
    "  sequent.commit [CLIENT]",
    "command AddPost [INTERNAL]",
    "  sequent.commit [CLIENT]",
  ]);
  for (const commit of spans.filter((s) => s.name === "sequent.commit")) {
    assert.equal(commit.ended, true);
    assert.equal(commit.status.code, SpanStatusCode.ERROR);
    assert.equal(commit.status.message, "StoreDown");
    assert.equal(commit.attributes["error.type"], "StoreDown");
    assert.equal(commit.attributes["db.system.name"], "postgresql");
    assert.equal(commit.attributes["sequent.commit.transaction_id"], undefined);
  }
  // and one that succeeds reports its transaction
  await telemetry.command(
    "AddPost",
    () =>
      telemetry.commit(info, () => Promise.resolve({ transactionId: "42" })),
  );
  const commit = takeSpans().find((s) => s.name === "sequent.commit");
  assert.equal(commit?.status.code, SpanStatusCode.UNSET);
  assert.equal(commit?.attributes["sequent.commit.transaction_id"], "42");
});

Deno.test("an unsampled or absent context is not stored", async () => {
  sdk();
  const app = await blogApp(openTelemetry());
  try {
    const id = crypto.randomUUID();
    // a parent the application's sampler dropped
    const unsampled = trace.wrapSpanContext({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.NONE,
    });
    await context.with(
      trace.setSpan(context.active(), unsampled),
      () =>
        app.executeCommands(
          new AddPost({ aggregateId: id, title: "t", author: "a", body: "b" }),
        ),
    );
    const record = await (app.eventStore as InMemoryEventStore)
      .commandForEvent(id, 1);
    assert.equal(record?.traceparent, undefined);
    takeSpans();
  } finally {
    await app.close();
  }
  // without telemetry nothing is stored, and no span made
  const plain = await blogApp(undefined);
  try {
    const id = crypto.randomUUID();
    await plain.executeCommands(
      new AddPost({ aggregateId: id, title: "t", author: "a", body: "b" }),
    );
    const record = await (plain.eventStore as InMemoryEventStore)
      .commandForEvent(id, 1);
    assert.equal(record?.traceparent, undefined);
    assert.ok(!("traceparent" in record!));
    assert.deepEqual(takeSpans(), []);
  } finally {
    await plain.close();
  }
});

Deno.test("traceparentOf and spanContextOf refuse all-zero and malformed contexts", () => {
  const valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const context = spanContextOf(valid);
  assert.ok(context);
  assert.equal(traceparentOf(context), valid);
  assert.equal(
    spanContextOf("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
    undefined,
  );
  assert.equal(
    spanContextOf("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"),
    undefined,
  );
  assert.equal(spanContextOf("garbage"), undefined);
  assert.equal(
    traceparentOf({
      traceId: "00000000000000000000000000000000",
      spanId: "0000000000000000",
      traceFlags: TraceFlags.SAMPLED,
    }),
    undefined,
  );
  assert.equal(
    traceparentOf({ ...context, traceFlags: TraceFlags.NONE }),
    undefined,
  );
});

Deno.test("withTraceparent: a message's context as the parent of what the work starts", async () => {
  sdk();
  takeSpans();
  const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  await withTraceparent(tp, () => {
    trace.getTracer("test-consumer").startSpan("handle").end();
    return Promise.resolve();
  });
  await withTraceparent(
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    () => {
      trace.getTracer("test-consumer").startSpan("orphan").end();
      return Promise.resolve();
    },
  );
  const [child, orphan] = takeSpans();
  assert.equal(
    child?.spanContext().traceId,
    "0af7651916cd43dd8448eb211c80319c",
  );
  assert.equal(child && parentOf(child), "b7ad6b7169203331");
  assert.equal(orphan && parentOf(orphan), undefined);
});
