/**
 * The OpenTelemetry SDK the tests register (the library registers none):
 * one pinned line, `api@1.10.0` with `sdk-trace@3.1.1`, `sdk-metrics@3.1.1`
 * and `context-async-hooks@3.1.1` for context across `await`. Registered
 * once per process, as an application would at start; each test resets
 * the exporter.
 */
import {
  context,
  metrics,
  type SpanContext,
  trace,
} from "npm:@opentelemetry/api@1.10.0";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "npm:@opentelemetry/sdk-trace@3.1.1";
import {
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from "npm:@opentelemetry/sdk-metrics@3.1.1";
import { AsyncLocalStorageContextManager } from "npm:@opentelemetry/context-async-hooks@3.1.1";

/** A reader collected on demand. */
class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** What the tests read back. */
export interface Sdk {
  readonly exporter: InMemorySpanExporter;
  readonly provider: TracerProvider;
  readonly meterProvider: MeterProvider;
  readonly reader: MetricReader;
}

const KEY = Symbol.for("sequent.tests.otel.sdk");

/** The process's SDK, registered globally on first use. */
export function sdk(): Sdk {
  const global = globalThis as unknown as Record<symbol, Sdk | undefined>;
  const existing = global[KEY];
  if (existing) return existing;
  const exporter = new InMemorySpanExporter();
  // 3.x takes options: `new SimpleSpanProcessor(exporter)` exports nothing
  const provider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  context.setGlobalContextManager(
    new AsyncLocalStorageContextManager().enable(),
  );
  trace.setGlobalTracerProvider(provider);
  metrics.setGlobalMeterProvider(meterProvider);
  const made: Sdk = { exporter, provider, meterProvider, reader };
  global[KEY] = made;
  return made;
}

/** The spans exported since the last reset, and resets. */
export function takeSpans(): ReadableSpan[] {
  const { exporter } = sdk();
  const spans = exporter.getFinishedSpans();
  exporter.reset();
  return spans;
}

/** The metrics collected now. */
export async function collectMetrics(): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await sdk().reader.collect();
  if (errors.length > 0) throw errors[0];
  return resourceMetrics;
}

/** A span's parent span id, if it has a parent. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** A span's context as a `traceparent`. */
export function traceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-0${context.traceFlags}`;
}

/**
 * The spans as indented trees, one line per span (`name [KIND]`),
 * children under their parent in start order; a span whose parent is not
 * among them is a root.
 */
export function trees(spans: readonly ReadableSpan[]): string[] {
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const byStart = [...spans].sort((a, b) =>
    a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]
  );
  const kinds = ["INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
  const lines: string[] = [];
  const walk = (span: ReadableSpan, depth: number) => {
    lines.push(`${"  ".repeat(depth)}${span.name} [${kinds[span.kind]}]`);
    for (const child of byStart) {
      if (parentOf(child) === span.spanContext().spanId) walk(child, depth + 1);
    }
  };
  for (const span of byStart) {
    const parent = parentOf(span);
    if (parent === undefined || !ids.has(parent)) walk(span, 0);
  }
  return lines;
}
