/**
 * Deno's built-in OpenTelemetry export (T4.7): a child process runs the
 * blog app with `openTelemetry()` under `OTEL_DENO=true` and no SDK at
 * all; a loopback OTLP/HTTP sink written here receives the `command` and
 * `process` spans on `/v1/traces` and the lag gauges on `/v1/metrics`.
 */
import assert from "node:assert/strict";

/** What the sink reads of an OTLP/JSON traces export. */
interface OtlpTraces {
  resourceSpans: {
    scopeSpans: {
      spans: {
        name: string;
        kind: number;
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        links?: { spanId: string }[];
      }[];
    }[];
  }[];
}

Deno.test("OTEL_DENO=true: the command and process spans and the lag gauges reach an OTLP/HTTP sink", async () => {
  const bodies: { path: string; text: string }[] = [];
  const sink = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (request) => {
      const bytes = new Uint8Array(await request.arrayBuffer());
      bodies.push({
        path: new URL(request.url).pathname,
        text: new TextDecoder().decode(bytes),
      });
      return new Response("{}", {
        headers: { "content-type": "application/json" },
      });
    },
  );
  try {
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_native_child.ts", import.meta.url).pathname,
      ],
      env: {
        OTEL_DENO: "true",
        OTEL_SERVICE_NAME: "sequent-native-export-test",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_METRIC_EXPORT_INTERVAL: "500",
        WAIT_MS: "1500",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(child.stderr);
    assert.ok(child.success, stderr);
    const stored = JSON.parse(new TextDecoder().decode(child.stdout));
    const traces = bodies.filter((b) => b.path === "/v1/traces").map((b) =>
      b.text
    ).join("\n");
    const metrics = bodies.filter((b) => b.path === "/v1/metrics").map((b) =>
      b.text
    ).join("\n");
    const spans = bodies.filter((b) => b.path === "/v1/traces").flatMap((b) =>
      (JSON.parse(b.text) as OtlpTraces).resourceSpans.flatMap((r) =>
        r.scopeSpans.flatMap((s) => s.spans)
      )
    );
    const named = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      assert.equal(found.length, 1, `${name} in /v1/traces: ${traces}`);
      return found[0]!;
    };
    const command = named("command AddPost");
    assert.equal(stored, `00-${command.traceId}-${command.spanId}-01`);
    // a child of the request's span, which Deno.serve made
    const server = spans.find((s) => s.spanId === command.parentSpanId);
    assert.equal(server?.kind, 2, "a SERVER span above the command");
    const commits = spans.filter((s) => s.name === "sequent.commit");
    assert.equal(commits.length, 2);
    assert.ok(commits.some((c) => c.parentSpanId === command.spanId));
    for (
      const name of ["process PostSearchProjector", "process NotifyWorkflow"]
    ) {
      const process = named(name);
      assert.ok(!process.parentSpanId, `${name} roots its trace`);
      assert.notEqual(process.traceId, command.traceId);
      assert.deepEqual(process.links?.map((l) => l.spanId), [command.spanId]);
    }
    assert.equal(
      named("command NotifyPost").parentSpanId,
      named("process NotifyWorkflow").spanId,
    );
    for (
      const name of [
        "sequent.consumer.lag.events",
        "sequent.consumer.lag.seconds",
        "sequent.command.duration",
      ]
    ) {
      assert.ok(metrics.includes(name), `${name} in /v1/metrics`);
    }
  } finally {
    await sink.shutdown();
  }
});

Deno.test("openTelemetry() with no provider at all: commands run, nothing is stored or sent", async () => {
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_native_child.ts", import.meta.url).pathname,
    ],
    env: { OTEL_DENO: "false", WAIT_MS: "0" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(child.success, new TextDecoder().decode(child.stderr));
  assert.equal(JSON.parse(new TextDecoder().decode(child.stdout)), null);
});
