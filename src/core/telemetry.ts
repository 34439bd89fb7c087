/**
 * The telemetry port: the few points where the command service, the
 * processors, replays and the outbox relay report what they do. The core
 * knows no tracing library; an adapter (`@sequent/core/otel`) implements
 * this interface with OpenTelemetry. With none configured the core calls
 * nothing: a check for `undefined` is all it costs.
 *
 * Every method that runs work runs it inside the span it opens, so what
 * the work starts (a command a workflow issues) is that span's child.
 * Nothing of a message's payload, nor an aggregate id, is ever passed:
 * type names, counts and the processor's name only.
 *
 * @module
 */
import type { EventReader, StoredEvent } from "./event_reader.ts";
import type { Logger } from "./logger.ts";

/**
 * What the end of a commit tells the commit span, once the store has
 * written it.
 *
 * @example
 * ```ts
 * import type { CommitResult } from "@sequent/core";
 *
 * const stored: CommitResult = { transactionId: "7521" };
 * ```
 */
export interface CommitResult {
  /**
   * The database's id of the transaction that stored the commit
   * (PostgreSQL's `xact_id`, as text), or `undefined` where the store has
   * none (the in-memory store) or nothing was stored.
   */
  readonly transactionId: string | undefined;
}

/**
 * What one commit stores, as the commit span reports it.
 *
 * @example
 * ```ts
 * import type { CommitTelemetry } from "@sequent/core";
 *
 * const info: CommitTelemetry = { events: 2, aggregates: 1, databaseSystem: "postgresql" };
 * ```
 */
export interface CommitTelemetry {
  /** How many events the commit stores. */
  readonly events: number;
  /** How many aggregates they belong to. */
  readonly aggregates: number;
  /** The store's `db.system.name` (`"postgresql"`), when it is a database. */
  readonly databaseSystem: string | undefined;
}

/**
 * What one processor batch handles, as its span reports it.
 *
 * @example
 * ```ts
 * import type { BatchTelemetry } from "@sequent/core";
 *
 * const info: BatchTelemetry = {
 *   processor: "PostSearchProjector",
 *   kind: "projector",
 *   events: 1,
 *   links: ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
 *   droppedLinks: 0,
 * };
 * ```
 */
export interface BatchTelemetry {
  /** The processor's name. */
  readonly processor: string;
  /** Whether it projects or runs a workflow. */
  readonly kind: "projector" | "workflow";
  /** How many events the batch holds. */
  readonly events: number;
  /**
   * The distinct W3C `traceparent`s stored with the commits of the
   * batch's events (capped); the span links to them, never parents them.
   */
  readonly links: readonly string[];
  /** How many more distinct contexts the cap left out. */
  readonly droppedLinks: number;
}

/**
 * What one publish of the outbox relay sends, as its span reports it.
 *
 * @example
 * ```ts
 * import type { SendTelemetry } from "@sequent/core";
 *
 * const info: SendTelemetry = { system: "nats", destination: "sequent", messages: 10, links: [], droppedLinks: 0 };
 * ```
 */
export interface SendTelemetry {
  /** The messaging system (`"nats"`). */
  readonly system: string;
  /** Where the messages go: a subject prefix, not a per-aggregate subject. */
  readonly destination: string;
  /** How many messages the batch sends. */
  readonly messages: number;
  /** The distinct `traceparent`s stored with the messages' commits (capped). */
  readonly links: readonly string[];
  /** How many more distinct contexts the cap left out. */
  readonly droppedLinks: number;
}

/**
 * The telemetry port (see the module documentation). Implemented by
 * `openTelemetry()` from `@sequent/core/otel`; pass it to `createApp`
 * (`telemetry`) or to `CommandService` itself.
 *
 * @example A telemetry that only counts commands
 * ```ts
 * import type { Telemetry } from "@sequent/core";
 *
 * let commands = 0;
 * const counting: Telemetry = {
 *   recording: () => true,
 *   command: (_type, work) => { commands++; return work(undefined); },
 *   commit: (_info, work) => work(),
 *   dispatch: (_events, work) => work(undefined),
 *   processBatch: (_info, work) => work(),
 *   replay: (_projectors, work) => work(),
 *   send: (_info, work) => work(() => undefined),
 *   optimisticLockConflict: () => {},
 *   consumerLag: () => {},
 *   outboxLag: () => {},
 *   replayProgress: () => {},
 *   observeHorizon: () => () => {},
 * };
 * ```
 */
export interface Telemetry {
  /**
   * Runs one command's execution inside its span, a child of the active
   * one; records its duration and outcome. For an `executeCommands` call
   * the span covers the whole unit of work (middleware, handlers, inline
   * dispatch, the commands its workflows queue, and the commit at its
   * end); a command a workflow issues gets a span of its own. `work` gets
   * the `traceparent` to store with the command's commit: a valid, sampled
   * context, else `undefined`.
   *
   * `parent`, when given, is the `traceparent` of the span to be the
   * command's parent instead of the active one: the inline dispatch whose
   * workflow issued the command (its span has ended by the time the
   * command runs, after the command that stored the event).
   */
  command<T>(
    commandType: string,
    work: (traceparent: string | undefined) => Promise<T>,
    parent?: string,
  ): Promise<T>;
  /**
   * Runs the end of a unit's transaction, where the store writes the
   * unit's commits (one round trip on PostgreSQL), inside the commit span;
   * `work` resolves to what the store reported (the transaction's id).
   */
  commit(
    info: CommitTelemetry,
    work: () => Promise<CommitResult>,
  ): Promise<CommitResult>;
  /**
   * Runs the inline dispatch of one commit's events to projectors and
   * workflows inside one span (not one per event). `work` gets that
   * span's `traceparent` (a valid, sampled context, else `undefined`): the
   * commands the workflows issue pass it to {@linkcode Telemetry.command}
   * as their parent.
   */
  dispatch<T>(
    events: number,
    work: (traceparent: string | undefined) => Promise<T>,
  ): Promise<T>;
  /**
   * Runs one processor batch inside a span that starts a new trace, with
   * links to the contexts the batch's events were stored with.
   */
  processBatch<T>(info: BatchTelemetry, work: () => Promise<T>): Promise<T>;
  /** Runs a whole replay of projectors inside one span of a new trace. */
  replay<T>(projectors: readonly string[], work: () => Promise<T>): Promise<T>;
  /**
   * Runs one publish batch of the outbox relay inside its producer span;
   * `work` gets a function that writes the span's propagation headers
   * (`traceparent`, `tracestate`) into a message's headers.
   */
  send<T>(
    info: SendTelemetry,
    work: (
      inject: (set: (key: string, value: string) => void) => void,
    ) => Promise<T>,
  ): Promise<T>;
  /**
   * Whether {@linkcode Telemetry.command}, {@linkcode Telemetry.commit} and
   * {@linkcode Telemetry.dispatch} would record anything now (a tracer or
   * a meter to record into). Asked once per unit of work: when it says
   * no, the command service runs the unit without calling them, and
   * stores no `traceparent`. Absent, the answer is yes.
   */
  recording?(): boolean;
  /** Counts a unit of work that failed with an optimistic-lock conflict. */
  optimisticLockConflict(commandType: string): void;
  /**
   * Reports how far a processor is behind: events left (as far as its
   * last read could tell) and the age of the oldest, in seconds.
   */
  consumerLag(processor: string, events: number, seconds: number): void;
  /** Reports how many events an outbox relay has read and not published. */
  outboxLag(relay: string, events: number): void;
  /** Counts events a replay has handled. */
  replayProgress(events: number): void;
  /**
   * Registers how to measure, when metrics are collected (never on a hot
   * path), for how many seconds a long transaction has held processors
   * back (0: none does). Returns what unregisters it.
   */
  observeHorizon(probe: () => Promise<number>): () => void;
}

/** Most links a batch span carries; more are counted as dropped. */
export const MAX_TRACE_LINKS = 64;

/**
 * The distinct `traceparent`s of some messages, at most
 * {@linkcode MAX_TRACE_LINKS}, and how many more there were.
 *
 * @example
 * ```ts
 * import { traceLinks } from "@sequent/core/internal";
 *
 * const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
 * const { links } = traceLinks([{ traceparent: tp }, { traceparent: tp }, {}]);
 * console.assert(links.length === 1);
 * ```
 *
 * @param messages What carries the contexts (stored events).
 * @returns The links and the count left out.
 */
export function traceLinks(
  messages: readonly { readonly traceparent?: string | undefined }[],
): { links: string[]; droppedLinks: number } {
  const seen = new Set<string>();
  for (const { traceparent } of messages) {
    if (traceparent !== undefined) seen.add(traceparent);
  }
  const all = [...seen];
  return {
    links: all.slice(0, MAX_TRACE_LINKS),
    droppedLinks: Math.max(0, all.length - MAX_TRACE_LINKS),
  };
}

/**
 * The links of a batch span: the contexts the events carry, else those
 * the reader looks up (a store that keeps them per commit, such as
 * PostgreSQL). A failed lookup is logged and gives none: telemetry never
 * stops a batch.
 *
 * @example
 * ```ts
 * import { InMemoryEventStore, silentLogger } from "@sequent/core";
 * import { readTraceLinks } from "@sequent/core/internal";
 *
 * const { links } = await readTraceLinks(new InMemoryEventStore(), [], silentLogger);
 * console.assert(links.length === 0);
 * ```
 *
 * @param reader Where the events were read.
 * @param events The batch.
 * @param logger Where a failed lookup is reported.
 * @returns The links and how many more the cap left out (a lower bound
 *   when looked up).
 */
export async function readTraceLinks(
  reader: EventReader,
  events: readonly StoredEvent[],
  logger: Logger,
): Promise<{ links: string[]; droppedLinks: number }> {
  const carried = traceLinks(events);
  if (carried.links.length > 0 || !reader.traceContexts) return carried;
  let found: readonly string[];
  try {
    found = await reader.traceContexts(events, MAX_TRACE_LINKS + 1);
  } catch (error) {
    logger.log("warn", "Could not read the batch's trace contexts", { error });
    return carried;
  }
  return {
    links: found.slice(0, MAX_TRACE_LINKS),
    droppedLinks: Math.max(0, found.length - MAX_TRACE_LINKS),
  };
}
