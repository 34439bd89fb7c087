/**
 * OpenTelemetry for Sequent: spans for commands, commits, inline
 * dispatch, processor batches, replays and outbox publishes, and metrics
 * (command duration, events per commit, optimistic-lock conflicts,
 * processor and outbox lag, horizon blocked time, replay progress), through
 * `npm:@opentelemetry/api` only. The library registers no provider and
 * no sampler: the application's OpenTelemetry setup stands, and with
 * Deno's built-in export (`OTEL_DENO=true`) nothing else is needed.
 *
 * A processor batch starts a trace of its own, linked (never parented) to
 * the commands that stored its events, so a redelivered or replayed event
 * never grows an old trace. One `traceparent` is stored per commit, with
 * the command record and its events.
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
 * @module
 */
export type {
  BatchTelemetry,
  CommitResult,
  CommitTelemetry,
  SendTelemetry,
  Telemetry,
} from "../core/telemetry.ts";
export {
  INSTRUMENTATION_SCOPE,
  openTelemetry,
  type OpenTelemetryOptions,
  type ProviderOf,
  spanContextOf,
  type TraceContext,
  traceparentOf,
  withTraceparent,
} from "./open_telemetry.ts";
