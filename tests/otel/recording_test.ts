/**
 * `openTelemetry()`'s answer to the command service's one question per
 * unit of work (`recording()`): no when there is neither a tracer provider
 * nor a meter provider, given or registered; yes as soon as either is, a
 * tracer provider registered later included.
 */
import assert from "node:assert/strict";
import { metrics, trace } from "npm:@opentelemetry/api@1.10.0";
import { TracerProvider } from "npm:@opentelemetry/sdk-trace@3.1.1";
import { MeterProvider } from "npm:@opentelemetry/sdk-metrics@3.1.1";
import { openTelemetry } from "@sequent/core/otel";

Deno.test("openTelemetry() records nothing with no provider, and records once a tracer provider is given or registered, or a meter provider given", () => {
  const none = openTelemetry();
  assert.equal(none.recording?.(), false);
  assert.equal(
    openTelemetry({ tracerProvider: new TracerProvider() }).recording?.(),
    true,
  );
  assert.equal(
    openTelemetry({ meterProvider: new MeterProvider() }).recording?.(),
    true,
  );
  // registered after the telemetry was made: picked up
  assert.ok(trace.setGlobalTracerProvider(new TracerProvider()));
  try {
    assert.equal(none.recording?.(), true);
  } finally {
    trace.disable();
    metrics.disable();
  }
  assert.equal(none.recording?.(), false);
});
