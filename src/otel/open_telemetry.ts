/**
 * The OpenTelemetry adapter of the telemetry port: spans and metrics
 * through `npm:@opentelemetry/api` only. It installs no provider, sets no
 * sampler and no context manager: it uses whatever the application
 * registered (the SDK, or Deno's built-in export under `OTEL_DENO=true`),
 * and costs next to nothing when there is none.
 *
 * Spans:
 *
 * | Span | Kind | Parent |
 * |---|---|---|
 * | `command <Type>` | INTERNAL | the active span (an HTTP request's) |
 * | `sequent.dispatch` | INTERNAL | the command's: inline projectors and workflows, one per command; the commands its workflows issue are its children |
 * | `sequent.commit` | CLIENT | the command's: the end of the unit of work, where the store writes (`db.system.name`, events, aggregates, and the transaction's id on PostgreSQL) |
 * | `process <processor>` | CONSUMER | none: a new trace, linked to the commands that stored the batch |
 * | `replay` | INTERNAL | none: one for a whole replay |
 * | `send <prefix>` | PRODUCER | none: a new trace, linked like `process` |
 *
 * Metrics (attributes: command type, outcome, error type, processor or
 * relay name, messaging system; never an aggregate id):
 * `sequent.command.duration`, `sequent.commit.events`,
 * `sequent.optimistic_lock.conflicts`, `sequent.consumer.lag.events`,
 * `sequent.consumer.lag.seconds`, `sequent.consumer.horizon.blocked_seconds`,
 * `sequent.outbox.lag.events`, `sequent.replay.events`, and the messaging
 * conventions' `messaging.process.duration`,
 * `messaging.client.consumed.messages` and `messaging.client.sent.messages`.
 *
 * No payload, no aggregate id and no error message is recorded: type
 * names, counts and processor names only (error messages can quote
 * values; the error's class name is recorded as `error.type`).
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  type Counter,
  createNoopMeter,
  type Histogram,
  isSpanContextValid,
  type Link,
  type Meter,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type {
  BatchTelemetry,
  CommitResult,
  CommitTelemetry,
  SendTelemetry,
  Telemetry,
} from "../core/telemetry.ts";

/** The instrumentation scope's name. */
export const INSTRUMENTATION_SCOPE = "@sequent/core";

/**
 * Options of {@linkcode openTelemetry}.
 *
 * @example
 * ```ts
 * import type { OpenTelemetryOptions } from "@sequent/core/otel";
 *
 * const options: OpenTelemetryOptions = {}; // the global providers
 * ```
 */
export interface OpenTelemetryOptions {
  /**
   * Where spans go: an OpenTelemetry `TracerProvider` (default: the
   * global one, whatever the application registered).
   */
  readonly tracerProvider?: ProviderOf<"getTracer"> | undefined;
  /**
   * Where metrics go: an OpenTelemetry `MeterProvider` (default: the
   * global one).
   */
  readonly meterProvider?: ProviderOf<"getMeter"> | undefined;
}

/**
 * An OpenTelemetry provider, as {@linkcode OpenTelemetryOptions} takes it
 * (kept structural so the API's types stay out of this module's).
 *
 * @example
 * ```ts
 * import type { ProviderOf } from "@sequent/core/otel";
 *
 * const none: ProviderOf<"getTracer"> | undefined = undefined;
 * ```
 */
export type ProviderOf<M extends "getTracer" | "getMeter"> = {
  readonly [K in M]: (name: string) => unknown;
};

/**
 * A span's identity, as a W3C `traceparent` carries it (OpenTelemetry's
 * `SpanContext` is one).
 *
 * @example
 * ```ts
 * import type { TraceContext } from "@sequent/core/otel";
 *
 * const context: TraceContext = {
 *   traceId: "0af7651916cd43dd8448eb211c80319c",
 *   spanId: "b7ad6b7169203331",
 *   traceFlags: 1,
 * };
 * ```
 */
export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero. */
  readonly spanId: string;
  /** The trace flags (bit 0: sampled). */
  readonly traceFlags: number;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * A span context as a W3C `traceparent`, when it is valid and sampled
 * (else `undefined`: an all-zero id is never stored).
 *
 * @example
 * ```ts
 * import { traceparentOf } from "@sequent/core/otel";
 *
 * const tp = traceparentOf({
 *   traceId: "0af7651916cd43dd8448eb211c80319c",
 *   spanId: "b7ad6b7169203331",
 *   traceFlags: 1, // sampled
 * });
 * console.assert(tp === "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
 * ```
 *
 * @param span The span context.
 * @returns The `traceparent`, or `undefined`.
 */
export function traceparentOf(span: TraceContext): string | undefined {
  if (
    !isSpanContextValid(span) || (span.traceFlags & TraceFlags.SAMPLED) === 0
  ) {
    return undefined;
  }
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  return `00-${span.traceId}-${span.spanId}-${flags}`;
}

/**
 * A W3C `traceparent` as a (remote) span context, when it is well formed
 * and valid.
 *
 * @example
 * ```ts
 * import { spanContextOf } from "@sequent/core/otel";
 *
 * const context = spanContextOf("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
 * console.assert(context?.spanId === "b7ad6b7169203331");
 * console.assert(spanContextOf("00-00000000000000000000000000000000-b7ad6b7169203331-01") === undefined);
 * ```
 *
 * @param traceparent The header's value.
 * @returns The span context, or `undefined`.
 */
export function spanContextOf(
  traceparent: string,
): TraceContext | undefined {
  const m = TRACEPARENT.exec(traceparent);
  if (!m) return undefined;
  const span: TraceContext & { isRemote: true } = {
    traceId: m[1]!,
    spanId: m[2]!,
    traceFlags: parseInt(m[3]!, 16),
    isRemote: true,
  };
  return isSpanContextValid(span) ? span : undefined;
}

function links(traceparents: readonly string[]): Link[] {
  const out: Link[] = [];
  for (const tp of traceparents) {
    const span = spanContextOf(tp);
    if (span) out.push({ context: { ...span, isRemote: true } });
  }
  return out;
}

function errorType(error: unknown): string {
  if (error instanceof Error) return error.name || error.constructor.name;
  return typeof error;
}

/** Ends a span as failed: the error's class only, never its message. */
function fail(span: Span, error: unknown): void {
  const type = errorType(error);
  span.setAttribute("error.type", type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/** The OpenTelemetry implementation of the telemetry port. */
class OpenTelemetry implements Telemetry {
  readonly #tracerProvider: TracerProvider | undefined;
  #tracer: Tracer | undefined;
  #globalProvider: TracerProvider | undefined;
  readonly #commandDuration: Histogram;
  readonly #commitEvents: Histogram;
  readonly #processDuration: Histogram;
  readonly #conflicts: Counter;
  readonly #consumed: Counter;
  readonly #sent: Counter;
  readonly #replayed: Counter;
  readonly #lag = new Map<string, { events: number; seconds: number }>();
  readonly #outboxLag = new Map<string, number>();
  readonly #horizonProbes = new Set<() => Promise<number>>();
  /**
   * Whether a meter provider was there to record the command path's
   * metrics: the API's no-op meter keeps its no-op instruments for good (a
   * provider registered later does not reach them), so without one a
   * command need not be timed at all.
   */
  readonly #metered: boolean;

  constructor(options: OpenTelemetryOptions) {
    this.#tracerProvider = options.tracerProvider as TracerProvider | undefined;
    const meter: Meter =
      ((options.meterProvider as MeterProvider | undefined) ??
        metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE);
    this.#metered = meter !== createNoopMeter();
    this.#commandDuration = meter.createHistogram("sequent.command.duration", {
      description: "Duration of executing one command, with its commit",
      unit: "s",
    });
    this.#commitEvents = meter.createHistogram("sequent.commit.events", {
      description: "Events stored per commit",
      unit: "{event}",
    });
    this.#processDuration = meter.createHistogram(
      "messaging.process.duration",
      { description: "Duration of handling one processor batch", unit: "s" },
    );
    this.#conflicts = meter.createCounter(
      "sequent.optimistic_lock.conflicts",
      {
        description: "Units of work that failed on a concurrent change",
        unit: "{conflict}",
      },
    );
    this.#consumed = meter.createCounter(
      "messaging.client.consumed.messages",
      { description: "Events handled by processors", unit: "{message}" },
    );
    this.#sent = meter.createCounter("messaging.client.sent.messages", {
      description: "Messages the outbox relay published",
      unit: "{message}",
    });
    this.#replayed = meter.createCounter("sequent.replay.events", {
      description: "Events handled by replays",
      unit: "{event}",
    });
    const lagEvents = meter.createObservableGauge(
      "sequent.consumer.lag.events",
      {
        description: "Events a processor had still to handle at its last read",
        unit: "{event}",
      },
    );
    const lagSeconds = meter.createObservableGauge(
      "sequent.consumer.lag.seconds",
      {
        description: "Age of the oldest event a processor had still to handle",
        unit: "s",
      },
    );
    const outboxLag = meter.createObservableGauge("sequent.outbox.lag.events", {
      description: "Events an outbox relay has read and not published",
      unit: "{event}",
    });
    const horizon = meter.createObservableGauge(
      "sequent.consumer.horizon.blocked_seconds",
      {
        description:
          "How long the oldest running transaction has held processors back",
        unit: "s",
      },
    );
    horizon.addCallback(async (result) => {
      let blocked = 0;
      for (const probe of this.#horizonProbes) {
        // a store that is away now reports nothing
        blocked = Math.max(blocked, await probe().catch(() => 0));
      }
      if (this.#horizonProbes.size > 0) result.observe(blocked);
    });
    meter.addBatchObservableCallback((result) => {
      for (const [processor, lag] of this.#lag) {
        const attributes = consumerAttributes(processor);
        result.observe(lagEvents, lag.events, attributes);
        result.observe(lagSeconds, lag.seconds, attributes);
      }
      for (const [relay, events] of this.#outboxLag) {
        result.observe(outboxLag, events, { "sequent.relay.name": relay });
      }
    }, [lagEvents, lagSeconds, outboxLag]);
  }

  /**
   * The tracer, or `undefined` while no provider is registered: the
   * command path then skips span and context work altogether. Follows
   * the global provider, so one registered later is picked up.
   */
  #tracing(): Tracer | undefined {
    if (this.#tracerProvider) {
      return this.#tracer ??= this.#tracerProvider.getTracer(
        INSTRUMENTATION_SCOPE,
      );
    }
    const global = trace.getTracerProvider();
    const provider = global instanceof ProxyTracerProvider
      ? global.getDelegate()
      : global;
    if (provider !== this.#globalProvider) {
      this.#globalProvider = provider;
      this.#tracer = global instanceof ProxyTracerProvider
        ? global.getDelegateTracer(INSTRUMENTATION_SCOPE)
        : global.getTracer(INSTRUMENTATION_SCOPE);
    }
    return this.#tracer;
  }

  /** A tracer, a no-op one while no provider is registered. */
  get #spans(): Tracer {
    return this.#tracing() ?? trace.getTracer(INSTRUMENTATION_SCOPE);
  }

  recording(): boolean {
    return this.#metered || this.#tracing() !== undefined;
  }

  command<T>(
    commandType: string,
    work: (traceparent: string | undefined) => Promise<T>,
    parent?: string,
  ): Promise<T> {
    const tracer = this.#tracing();
    if (tracer === undefined && !this.#metered) return work(undefined);
    const start = performance.now();
    if (tracer === undefined) {
      // no tracer provider: time it, no span
      return work(undefined).then((result) => {
        this.#commandDuration.record((performance.now() - start) / 1000, {
          "sequent.command.type": commandType,
          "sequent.command.outcome": "ok",
        });
        return result;
      }, (error: unknown) => {
        this.#commandDuration.record((performance.now() - start) / 1000, {
          "sequent.command.type": commandType,
          "sequent.command.outcome": "error",
          "error.type": errorType(error),
        });
        throw error;
      });
    }
    const issuer = parent === undefined ? undefined : spanContextOf(parent);
    return tracer.startActiveSpan(
      `command ${commandType}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { "sequent.command.type": commandType },
      },
      issuer === undefined ? context.active() : trace.setSpanContext(
        context.active(),
        { ...issuer, isRemote: false },
      ),
      async (span) => {
        let outcome: Attributes = {
          "sequent.command.type": commandType,
          "sequent.command.outcome": "ok",
        };
        try {
          return await work(traceparentOf(span.spanContext()));
        } catch (error) {
          fail(span, error);
          outcome = {
            "sequent.command.type": commandType,
            "sequent.command.outcome": "error",
            "error.type": errorType(error),
          };
          throw error;
        } finally {
          span.end();
          this.#commandDuration.record(
            (performance.now() - start) / 1000,
            outcome,
          );
        }
      },
    );
  }

  commit(
    info: CommitTelemetry,
    work: () => Promise<CommitResult>,
  ): Promise<CommitResult> {
    if (this.#metered) {
      this.#commitEvents.record(
        info.events,
        info.databaseSystem === undefined
          ? {}
          : { "db.system.name": info.databaseSystem },
      );
    }
    const tracer = this.#tracing();
    if (tracer === undefined) return work();
    const attributes: Attributes = {
      "db.operation.name": "store_commit",
      "sequent.commit.events": info.events,
      "sequent.commit.aggregates": info.aggregates,
    };
    if (info.databaseSystem !== undefined) {
      attributes["db.system.name"] = info.databaseSystem;
    }
    // A leaf: nothing the application runs is beneath a commit, so its
    // span is started under the active one without becoming active itself
    // (no context to enter and leave around the store's round trip).
    const span = tracer.startSpan("sequent.commit", {
      kind: SpanKind.CLIENT,
      attributes,
    });
    let running: Promise<CommitResult>;
    try {
      running = work();
    } catch (error) {
      fail(span, error);
      span.end();
      throw error;
    }
    return running.then((stored) => {
      if (stored.transactionId !== undefined) {
        span.setAttribute(
          "sequent.commit.transaction_id",
          stored.transactionId,
        );
      }
      span.end();
      return stored;
    }, (error: unknown) => {
      fail(span, error);
      span.end();
      throw error;
    });
  }

  dispatch<T>(
    events: number,
    work: (traceparent: string | undefined) => Promise<T>,
  ): Promise<T> {
    if (this.#tracing() === undefined) return work(undefined);
    return this.#run("sequent.dispatch", SpanKind.INTERNAL, {
      "messaging.batch.message_count": events,
    }, (span) => work(traceparentOf(span.spanContext())));
  }

  processBatch<T>(info: BatchTelemetry, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    const attributes = consumerAttributes(info.processor);
    attributes["messaging.operation.type"] = "process";
    attributes["messaging.batch.message_count"] = info.events;
    attributes["sequent.processor.kind"] = info.kind;
    if (info.droppedLinks > 0) {
      attributes["sequent.links.dropped"] = info.droppedLinks;
    }
    this.#consumed.add(info.events, consumerAttributes(info.processor));
    return this.#spans.startActiveSpan(`process ${info.processor}`, {
      kind: SpanKind.CONSUMER,
      root: true,
      links: links(info.links),
      attributes,
    }, async (span) => {
      const metric = consumerAttributes(info.processor);
      try {
        return await work();
      } catch (error) {
        fail(span, error);
        metric["error.type"] = errorType(error);
        throw error;
      } finally {
        span.end();
        this.#processDuration.record(
          (performance.now() - start) / 1000,
          metric,
        );
      }
    });
  }

  replay<T>(projectors: readonly string[], work: () => Promise<T>): Promise<T> {
    return this.#spans.startActiveSpan("replay", {
      kind: SpanKind.INTERNAL,
      root: true,
      attributes: { "sequent.replay.projectors": [...projectors] },
    }, async (span) => {
      try {
        return await work();
      } catch (error) {
        fail(span, error);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  send<T>(
    info: SendTelemetry,
    work: (
      inject: (set: (key: string, value: string) => void) => void,
    ) => Promise<T>,
  ): Promise<T> {
    const attributes: Attributes = {
      "messaging.system": info.system,
      "messaging.destination.name": info.destination,
      "messaging.operation.type": "send",
      "messaging.batch.message_count": info.messages,
    };
    if (info.droppedLinks > 0) {
      attributes["sequent.links.dropped"] = info.droppedLinks;
    }
    return this.#spans.startActiveSpan(`send ${info.destination}`, {
      kind: SpanKind.PRODUCER,
      root: true,
      links: links(info.links),
      attributes,
    }, async (span) => {
      const traceparent = traceparentOf(span.spanContext());
      const tracestate = span.spanContext().traceState?.serialize();
      const inject = (set: (key: string, value: string) => void): void => {
        if (traceparent === undefined) return;
        set("traceparent", traceparent);
        if (tracestate) set("tracestate", tracestate);
      };
      try {
        const result = await work(inject);
        this.#sent.add(info.messages, {
          "messaging.system": info.system,
          "messaging.destination.name": info.destination,
        });
        return result;
      } catch (error) {
        fail(span, error);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  optimisticLockConflict(commandType: string): void {
    this.#conflicts.add(1, { "sequent.command.type": commandType });
  }

  consumerLag(processor: string, events: number, seconds: number): void {
    this.#lag.set(processor, { events, seconds });
  }

  outboxLag(relay: string, events: number): void {
    this.#outboxLag.set(relay, events);
  }

  replayProgress(events: number): void {
    this.#replayed.add(events);
  }

  observeHorizon(probe: () => Promise<number>): () => void {
    this.#horizonProbes.add(probe);
    return () => this.#horizonProbes.delete(probe);
  }

  #run<T>(
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    work: (span: Span) => Promise<T>,
    ended?: (span: Span, result: T) => void,
  ): Promise<T> {
    return this.#spans.startActiveSpan(
      name,
      { kind, attributes },
      async (span) => {
        try {
          const result = await work(span);
          ended?.(span, result);
          return result;
        } catch (error) {
          fail(span, error);
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }
}

function consumerAttributes(processor: string): Attributes {
  return {
    "messaging.system": "sequent",
    "messaging.consumer.group.name": processor,
  };
}

/**
 * Telemetry through OpenTelemetry: pass it to `createApp` (`telemetry`)
 * or to a `CommandService`. It uses the providers the application
 * registered (or those given); it registers none itself.
 *
 * @example
 * ```ts
 * import { createApp, InMemoryEventStore } from "@sequent/core";
 * import { openTelemetry } from "@sequent/core/otel";
 *
 * const app = await createApp({
 *   eventStore: new InMemoryEventStore(),
 *   commandHandlers: [],
 *   telemetry: openTelemetry(),
 * });
 * await app.close();
 * ```
 *
 * @param options Providers other than the global ones.
 * @returns The telemetry.
 */
export function openTelemetry(options: OpenTelemetryOptions = {}): Telemetry {
  return new OpenTelemetry(options);
}

/**
 * Runs `work` with `traceparent`'s context active, as the parent of the
 * spans it starts: for a consumer that wants a message's context as its
 * parent rather than a link (a single message, not a batch).
 *
 * @example
 * ```ts
 * import { withTraceparent } from "@sequent/core/otel";
 *
 * const n = await withTraceparent(undefined, () => Promise.resolve(1));
 * console.assert(n === 1);
 * ```
 *
 * @param traceparent The W3C header's value (ignored when not valid).
 * @param work What to run.
 * @returns What `work` returns.
 */
export function withTraceparent<T>(
  traceparent: string | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const span = traceparent === undefined
    ? undefined
    : spanContextOf(traceparent);
  if (!span) return work();
  const parent: Context = trace.setSpanContext(context.active(), {
    ...span,
    isRemote: true,
  });
  return context.with(parent, work);
}
