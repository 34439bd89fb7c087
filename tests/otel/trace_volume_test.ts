/**
 * What keeps traces small (the Eventuous regression, T4.2 and T4.3): an
 * event handled 1,000 times gives 1,000 small traces, each linked to the
 * command that stored it, none growing past 50 spans; a replay of 100,000
 * events emits one span.
 */
import assert from "node:assert/strict";
import {
  type InMemoryEventStore,
  InMemoryRecordStore,
  replayProjectors,
} from "@sequent/core";
import { openTelemetry } from "@sequent/core/otel";
import { AddPost, blogApp, PostSearchProjector } from "./_blog.ts";
import { collectMetrics, sdk, takeSpans } from "./_sdk.ts";

Deno.test("1,000 redeliveries of one event: 1,000 small traces, each linked to the command", async () => {
  sdk();
  const app = await blogApp(openTelemetry());
  try {
    await app.executeCommands(
      new AddPost({
        aggregateId: crypto.randomUUID(),
        title: "t",
        author: "a",
        body: "b",
      }),
    );
    const command = takeSpans().find((s) => s.name === "command AddPost")!;
    const runner = app.processors!;
    for (let i = 0; i < 1_000; i++) {
      // start over: the same event is handled again
      await runner.reset("NotifyWorkflow");
      await runner.reset("PostSearchProjector");
      await runner.round();
    }
    const spans = takeSpans();
    const traces = new Map<string, string[]>();
    for (const span of spans) {
      const id = span.spanContext().traceId;
      traces.set(id, [...traces.get(id) ?? [], span.name]);
    }
    const byRoot = (name: string) =>
      [...traces.values()].filter((names) => names.includes(name));
    // each processor: one trace per delivery
    assert.equal(byRoot("process NotifyWorkflow").length, 1_000);
    assert.equal(byRoot("process PostSearchProjector").length, 1_000);
    assert.equal(traces.size, 2_000);
    const largest = Math.max(...[...traces.values()].map((t) => t.length));
    assert.ok(largest <= 5, `a trace of ${largest} spans`);
    // the command's trace did not grow
    assert.ok(!traces.has(command.spanContext().traceId));
    for (const span of spans.filter((s) => s.name.startsWith("process "))) {
      assert.deepEqual(span.links.map((l) => l.context.spanId), [
        command.spanContext().spanId,
      ]);
    }
  } finally {
    await app.close();
  }
});

Deno.test("a replay of 100,000 events emits one span, and counts its progress", async () => {
  sdk();
  const app = await blogApp(undefined);
  const store = app.eventStore as InMemoryEventStore;
  try {
    const payload = JSON.stringify({ title: "t", author: "a" });
    for (let c = 0; c < 1_000; c++) {
      await store.transaction(async (tx) => {
        const streams = Array.from({ length: 100 }, () => {
          const id = crypto.randomUUID();
          return {
            aggregateId: id,
            aggregateType: "Post",
            partitionKey: "",
            events: [{
              aggregateId: id,
              sequenceNumber: 1,
              createdAt: new Date(),
              eventType: "PostAdded",
              payload,
            }],
            uniqueKeys: undefined,
            snapshotThreshold: undefined,
          };
        });
        await tx.commit({
          commandType: "Import",
          aggregateId: streams[0]!.aggregateId,
          userId: undefined,
          eventAggregateId: undefined,
          eventSequenceNumber: undefined,
          payload: "{}",
        }, streams);
      });
    }
    const before = await replayed();
    takeSpans();
    const { events } = await replayProjectors(store, {
      projectors: [new PostSearchProjector()],
      serializer: app.commandService.serializer,
      records: new InMemoryRecordStore(),
      telemetry: openTelemetry(),
    });
    assert.equal(events, 100_000);
    const spans = takeSpans();
    assert.ok(spans.length <= 20, `${spans.length} spans`);
    assert.deepEqual(spans.map((s) => s.name), ["replay"]);
    assert.deepEqual(spans[0]!.attributes["sequent.replay.projectors"], [
      "PostSearchProjector",
    ]);
    assert.equal((await replayed()) - before, 100_000);
  } finally {
    await app.close();
  }
});

/** The replay progress counter's total so far. */
async function replayed(): Promise<number> {
  const metrics = await collectMetrics();
  for (const scope of metrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== "sequent.replay.events") continue;
      return metric.dataPoints.reduce((n, p) => n + (p.value as number), 0);
    }
  }
  return 0;
}
