/**
 * No personal data leaves through telemetry (T4.5): a canary string in
 * every field of every command and event (and the user id) never appears
 * in exported spans (names, attributes, events, links, status), metrics
 * or the framework's log lines, with the default configuration, also when
 * a command fails validation.
 */
import assert from "node:assert/strict";
import { context, SpanKind, trace } from "npm:@opentelemetry/api@1.10.0";
import type { Logger } from "@sequent/core";
import { openTelemetry } from "@sequent/core/otel";
import { AddPost, blogApp } from "./_blog.ts";
import { collectMetrics, sdk, takeSpans } from "./_sdk.ts";

Deno.test("a canary in every command and event field appears in no span, metric or log line", async () => {
  sdk();
  const canary = `CANARY-${crypto.randomUUID()}`;
  const lines: string[] = [];
  const logger: Logger = {
    enabled: () => true,
    log: (level, message, fields) => {
      lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
    },
  };
  const app = await blogApp(openTelemetry(), logger);
  try {
    takeSpans();
    const span = trace.getTracer("test-http").startSpan("POST /posts", {
      kind: SpanKind.SERVER,
    });
    await context.with(trace.setSpan(context.active(), span), async () => {
      await app.executeCommands(
        new AddPost({
          aggregateId: crypto.randomUUID(),
          userId: canary,
          title: canary,
          author: canary,
          body: canary,
        }),
      );
      // an invalid one: the failure is recorded by type only
      await assert.rejects(() =>
        app.executeCommands(
          new AddPost(
            {
              aggregateId: crypto.randomUUID(),
              userId: canary,
              author: canary,
              body: canary,
            } as unknown as ConstructorParameters<typeof AddPost>[0],
          ),
        )
      );
    });
    span.end();
    // the workflow's command carries the canary on (note = title)
    await app.processors!.round();
    const spans = takeSpans();
    assert.ok(spans.length >= 8, `${spans.length} spans`);
    assert.ok(
      spans.some((s) => s.attributes["error.type"] === "CommandNotValidError"),
    );
    const exported = JSON.stringify(spans.map((s) => ({
      name: s.name,
      attributes: s.attributes,
      events: s.events,
      links: s.links,
      status: s.status,
      resource: s.resource.attributes,
    })));
    assert.ok(!exported.includes(canary), "the canary in a span");
    const metrics = JSON.stringify(await collectMetrics());
    assert.ok(!metrics.includes(canary), "the canary in a metric");
    assert.ok(lines.length > 0);
    assert.deepEqual(lines.filter((l) => l.includes(canary)), []);
  } finally {
    await app.close();
  }
});
