/**
 * The names telemetry uses outside its own `sequent.` namespace are
 * OpenTelemetry's (T4.6): every `messaging.*`, `db.*` and `error.*`
 * attribute of the exported spans and metrics, and every metric name
 * outside `sequent.`, is a constant of `@opentelemetry/semantic-conventions`
 * 1.45 (incubating entry point), and the operation types are its values.
 */
import assert from "node:assert/strict";
import * as semconv from "npm:@opentelemetry/semantic-conventions@1.45.0/incubating";
import { CommandService, InMemoryEventStore } from "@sequent/core";
import { openTelemetry } from "@sequent/core/otel";
import { AddPost, blogApp, PostCommandHandler } from "./_blog.ts";
import { collectMetrics, sdk, takeSpans } from "./_sdk.ts";

const constants = Object.entries(semconv as Record<string, unknown>);
const valuesOf = (prefix: string) =>
  new Set(
    constants.filter(([k, v]) => k.startsWith(prefix) && typeof v === "string")
      .map(([, v]) => v as string),
  );

Deno.test("attribute and metric names outside sequent.* are the semantic conventions'", async () => {
  sdk();
  const attributes = valuesOf("ATTR_");
  const metricNames = valuesOf("METRIC_");
  const operationTypes = valuesOf("MESSAGING_OPERATION_TYPE_VALUE_");
  const app = await blogApp(openTelemetry());
  // a commit on a database names its system
  const service = new CommandService({
    eventStore: new InMemoryEventStore(),
    commandHandlers: [new PostCommandHandler()],
    telemetry: openTelemetry(),
    databaseSystem: "postgresql",
  });
  try {
    takeSpans();
    const post = {
      title: "t",
      author: "a",
      body: "b",
    };
    await app.executeCommands(
      new AddPost({ aggregateId: crypto.randomUUID(), ...post }),
    );
    await service.executeCommands(
      new AddPost({ aggregateId: crypto.randomUUID(), ...post }),
    );
    await app.processors!.round();
    const spans = takeSpans();
    const keys = new Set(spans.flatMap((s) => Object.keys(s.attributes)));
    const metrics = (await collectMetrics()).scopeMetrics.flatMap((s) =>
      s.metrics
    );
    for (const metric of metrics) {
      for (const point of metric.dataPoints) {
        for (const key of Object.keys(point.attributes)) keys.add(key);
      }
    }
    const standard = [...keys].filter((k) => !k.startsWith("sequent."));
    assert.ok(standard.length >= 6, standard.join(", "));
    assert.deepEqual(standard.filter((k) => !attributes.has(k)), []);
    const names = metrics.map((m) => m.descriptor.name).filter((n) =>
      !n.startsWith("sequent.")
    );
    assert.ok(names.length >= 2, names.join(", "));
    assert.deepEqual(names.filter((n) => !metricNames.has(n)), []);
    for (const span of spans) {
      const type = span.attributes["messaging.operation.type"];
      if (type !== undefined) assert.ok(operationTypes.has(String(type)));
    }
    const commit = spans.find((s) =>
      s.name === "sequent.commit" && s.attributes["db.system.name"]
    );
    assert.equal(
      commit?.attributes["db.system.name"],
      semconv.DB_SYSTEM_NAME_VALUE_POSTGRESQL,
    );
  } finally {
    await app.close();
  }
});
