/**
 * The receiving side of the outbox: consumes the events an
 * {@linkcode OutboxRelay} publishes to a JetStream stream, each
 * aggregate's in order, each event once in the consumer's own
 * transaction, for another Sequent app or a plain Deno program.
 *
 * How:
 *
 * - A durable pull consumer per partition (`<name>_<partition>`, filtered
 *   on `<prefix>.<partition>.>`), with explicit acks and one message in
 *   flight: a partition's messages are handled one after another, so each
 *   aggregate's in sequence order, and partitions at once. Several
 *   processes may consume under one name: the server gives each message
 *   of a partition to one of them, one at a time.
 * - Each message is handled through an {@linkcode Inbox}: the handler's
 *   writes and the event's id commit together, so a message delivered
 *   again (its ack lost, the process killed) takes effect once.
 * - A handler that throws gets the message again, after a pause that
 *   doubles, up to `maxDeliver` deliveries; then the message is set aside
 *   ("parked") with its error and acknowledged, and the later messages of
 *   its aggregate are set aside behind it as they come, while other
 *   aggregates go on. {@linkcode EventConsumer.retry} handles them again,
 *   in order; {@linkcode EventConsumer.skip} drops the failed one first.
 *   From another process, `Inbox.request` asks the same of a running
 *   consumer, which looks for requests every second (one loop for its
 *   whole run, however often it reconnects). Of several processes that
 *   see one skip request, one drops the failed message; the others drop
 *   nothing.
 * - A process killed in the middle of a retry or a skip (after the failed
 *   message was handled or dropped, before the ones behind it were) leaves
 *   those set aside with no failed one before them, where no request can
 *   reach them: the request loop of any process of the consumer finds them
 *   (at two looks in a row) and handles them, in order.
 * - {@linkcode EventConsumer.stop} does not wait for the broker: with the
 *   broker down it returns as soon as the messages being handled are.
 * - Nor does it wait without end for a database that does not answer: a
 *   call to the inbox under way (a message being handled, a request being
 *   served) is given up a second after the stop, and logged as a warning.
 *   A message whose handling was given up is neither acknowledged nor set
 *   aside: it is given back to the server (or, the connection lost, comes
 *   again after the ack wait), and its next delivery finds it handled if
 *   the given-up transaction committed after all, or handles it if not.
 * - Only what NATS 2.9 has is asked of the server (single-subject
 *   filters, no priority groups).
 *
 * For a Sequent app, {@linkcode IncomingEvent.idempotencyKey} makes the
 * commands a handler issues idempotent: pass it to `executeCommands`
 * (`{ idempotencyKey }`), and an event handled again stores them once.
 *
 * @module
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { Inbox, InboxMessage, SetAsideMessage } from "../core/inbox.ts";
import type { JsonValue } from "../core/json.ts";
import { consoleLogger, type Logger } from "../core/logger.ts";
import {
  checkPartitionCount,
  DEFAULT_PARTITION_COUNT,
  partitionOf,
} from "../core/partition.ts";
import type { RecordStore } from "../core/record_store.ts";
import { GivenUp, StopGrace } from "../core/_stop_grace.ts";
import { checkSubjectPrefix, OUTBOX_HEADERS } from "./outbox_message.ts";
import { closeConnection } from "./_close_connection.ts";
import {
  connectUnlessStopped,
  positive,
  serverList,
  stoppableWait,
  Stopping,
  streamName,
  untilStopped,
} from "./_loop_support.ts";

/**
 * How long, at most, a call to the inbox under way when the consumer is
 * stopped is still waited for; then it is given up (see the module
 * documentation).
 */
const STOP_GRACE_MS = 1_000;

/**
 * A partition's fetch: one message (a partition has at most one pending),
 * ending after a second without one; the server's heartbeats show a pull
 * it lost.
 */
const FETCH = { max_messages: 1, expires: 1_000, idle_heartbeat: 250 };

/**
 * An event from another service, as a consumer's handler gets it.
 *
 * @example
 * ```ts
 * import type { IncomingEvent } from "@sequent/core/nats";
 *
 * function describe(e: IncomingEvent): string {
 *   return `${e.eventType} #${e.sequenceNumber} of ${e.aggregateType} ${e.aggregateId}`;
 * }
 * ```
 */
export interface IncomingEvent {
  /** The event's id (`<aggregate id>/<sequence number>`). */
  readonly id: string;
  /** Its aggregate. */
  readonly aggregateId: string;
  /** Its aggregate's type. */
  readonly aggregateType: string;
  /** Its place in its aggregate's stream. */
  readonly sequenceNumber: number;
  /** Its type. */
  readonly eventType: string;
  /** Its position in the sending store. */
  readonly position: string;
  /** When it was stored. */
  readonly createdAt: Date;
  /** Its payload. */
  readonly payload: JsonValue;
  /** The subject it came on. */
  readonly subject: string;
  /**
   * A key for what handling it causes, the same at every delivery:
   * `<consumer>:<event id>`. Commands executed with it as their
   * `idempotencyKey` are stored once.
   */
  readonly idempotencyKey: string;
}

/**
 * Handles one incoming event; its writes through `records` commit with
 * the event's id, once.
 *
 * @example
 * ```ts
 * import type { IncomingEventHandler } from "@sequent/core/nats";
 *
 * const handler: IncomingEventHandler = async (event) => {
 *   console.log(event.eventType);
 * };
 * ```
 */
export type IncomingEventHandler = (
  event: IncomingEvent,
  records: RecordStore,
) => Promise<void>;

/**
 * Options of {@linkcode EventConsumer}.
 *
 * @example
 * ```ts
 * import type { EventConsumerOptions } from "@sequent/core/nats";
 * import { InMemoryInbox } from "@sequent/core";
 *
 * const options: EventConsumerOptions = {
 *   name: "newsletter",
 *   inbox: new InMemoryInbox(),
 *   handler: async () => {},
 *   stream: "BLOG",
 *   prefix: "blog",
 * };
 * ```
 */
export interface EventConsumerOptions {
  /**
   * The consumer's name: its durable consumers are `<name>_<partition>`,
   * its inbox entries are under it (letters, digits, `_`, `-`).
   */
  readonly name: string;
  /** Where handled ids and set-aside messages are kept. */
  readonly inbox: Inbox;
  /** What to do with each event. */
  readonly handler: IncomingEventHandler;
  /** The NATS servers (default `127.0.0.1:4222`). */
  readonly servers?: string | readonly string[] | undefined;
  /** The stream the relay publishes to (default `SEQUENT_OUTBOX`). */
  readonly stream?: string | undefined;
  /** The relay's subject prefix (default `sequent`). */
  readonly prefix?: string | undefined;
  /** The sending store's partition count (default 64). */
  readonly partitions?: number | undefined;
  /** Deliveries of a failing message before it is set aside (default 5). */
  readonly maxDeliver?: number | undefined;
  /** The pause before the first redelivery; it doubles (default 100 ms, at most 10 s). */
  readonly retryDelayMs?: number | undefined;
  /**
   * How long the server waits for an ack before delivering a message again
   * (default 5,000 ms). A handler that takes longer is not cut short: the
   * consumer tells the server it is still working every half of this. It
   * bounds the pause after a broker outage, when an ack sent during the
   * outage was lost and the server holds the partition's message until
   * then.
   */
  readonly ackWaitMs?: number | undefined;
  /** Where it logs (default: warnings and errors to the console). */
  readonly logger?: Logger | undefined;
}

/**
 * What the consumer is doing: `stopped`, `connecting`, `consuming`, or
 * `backing off` after a failure (see `lastError`).
 *
 * @example
 * ```ts
 * import type { EventConsumerState } from "@sequent/core/nats";
 *
 * const state: EventConsumerState = "consuming";
 * ```
 */
export type EventConsumerState =
  | "stopped"
  | "connecting"
  | "consuming"
  | "backing off";

/**
 * A snapshot of the consumer's progress.
 *
 * @example
 * ```ts
 * import type { EventConsumerStatus } from "@sequent/core/nats";
 *
 * function line(s: EventConsumerStatus): string {
 *   return `${s.state}: ${s.handled} handled, ${s.parked.length} parked`;
 * }
 * ```
 */
export interface EventConsumerStatus {
  /** What it is doing. */
  readonly state: EventConsumerState;
  /** Events this process handled since it started. */
  readonly handled: number;
  /** Deliveries of events handled before (skipped). */
  readonly duplicates: number;
  /** The aggregates this process has seen parked. */
  readonly parked: readonly string[];
  /** The last failure, if any. */
  readonly lastError: string | undefined;
}

/** The handler threw. */
class HandlerFailure extends Error {
  readonly error: unknown;
  constructor(error: unknown) {
    super(message(error));
    this.error = error;
  }
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split(
    "\n",
  )[0]!;
}

/**
 * The aggregates whose set-aside messages have no failed one among them,
 * each with its first message. A process killed in the middle of a retry
 * or a skip leaves them so: after the failed message was handled (which
 * took it out of the list) or dropped, before the ones behind it were
 * handled. A request can reach none of them (it rests on a failed
 * message), and the aggregate's next messages would be set aside behind
 * them for ever.
 */
function stranded(aside: readonly SetAsideMessage[]): Map<string, string> {
  const out = new Map<string, string>();
  const failed = new Set<string>();
  // each aggregate's in sequence order: the first seen is its first
  for (const m of aside) {
    if (m.error !== undefined) failed.add(m.aggregateId);
    else if (!out.has(m.aggregateId)) out.set(m.aggregateId, m.id);
  }
  for (const id of failed) out.delete(id);
  return out;
}

/** Lets the server deliver a message again now; a closed connection will. */
function giveBack(m: JsMsg): void {
  try {
    m.nak();
  } catch {
    // closed: the server delivers it again after the ack wait
  }
}

/** A message's headers as a plain record. */
function headersOf(m: JsMsg): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of m.headers ?? []) {
    if (values[0] !== undefined) out[key] = values[0];
  }
  return out;
}

/**
 * Consumes an outbox stream; see the module documentation.
 *
 * @example A newsletter that hears of published posts
 * ```ts ignore
 * import { InMemoryInbox } from "@sequent/core";
 * import { EventConsumer } from "@sequent/core/nats";
 *
 * const consumer = new EventConsumer({
 *   name: "newsletter",
 *   inbox: new InMemoryInbox(),
 *   stream: "BLOG",
 *   prefix: "blog",
 *   handler: async (event) => {
 *     if (event.eventType === "PostPublished") console.log(event.payload);
 *   },
 * });
 * consumer.start();
 * // … later
 * await consumer.stop();
 * ```
 */
export class EventConsumer {
  readonly #name: string;
  readonly #inbox: Inbox;
  readonly #handler: IncomingEventHandler;
  readonly #servers: string[];
  readonly #stream: string;
  readonly #prefix: string;
  readonly #partitions: number;
  readonly #maxDeliver: number;
  readonly #retryDelayMs: number;
  readonly #ackWaitMs: number;
  readonly #logger: Logger;

  #state: EventConsumerState = "stopped";
  #handled = 0;
  #duplicates = 0;
  readonly #parked = new Set<string>();
  #lastError: string | undefined;
  #loop: Promise<void> | undefined;
  #stop: AbortController | undefined;
  /** The grace of the loop's calls to the inbox once it is stopped. */
  readonly #grace = new StopGrace(STOP_GRACE_MS);
  #nc: NatsConnection | undefined;
  /** Per partition, the end of the last step taken in it (steps queue up). */
  readonly #queues = new Map<number, Promise<unknown>>();

  /**
   * A consumer, not started yet.
   *
   * @example
   * ```ts
   * import { InMemoryInbox } from "@sequent/core";
   * import { EventConsumer } from "@sequent/core/nats";
   *
   * const consumer = new EventConsumer({ name: "newsletter", inbox: new InMemoryInbox(), handler: async () => {} });
   * console.assert(consumer.status.state === "stopped");
   * ```
   *
   * @param options What to consume, where to keep what, what to do.
   * @throws {TypeError} for a name, prefix or stream name NATS does not
   *   accept, or a missing handler.
   * @throws {RangeError} for a count or pause out of range.
   */
  constructor(options: EventConsumerOptions) {
    if (!/^[A-Za-z0-9_-]+$/.test(options.name ?? "")) {
      throw new TypeError(
        `A consumer name is letters, digits, "_" and "-", got ${
          JSON.stringify(options.name)
        }`,
      );
    }
    if (typeof options.handler !== "function") {
      throw new TypeError("handler must be a function");
    }
    this.#name = options.name;
    this.#inbox = options.inbox;
    this.#handler = options.handler;
    this.#servers = serverList(options.servers);
    this.#stream = streamName(options.stream);
    this.#prefix = checkSubjectPrefix(options.prefix ?? "sequent");
    this.#partitions = checkPartitionCount(
      options.partitions ?? DEFAULT_PARTITION_COUNT,
    );
    this.#maxDeliver = positive("maxDeliver", options.maxDeliver, 5);
    if (!Number.isSafeInteger(this.#maxDeliver)) {
      throw new RangeError(
        `maxDeliver must be a positive integer, got ${options.maxDeliver}`,
      );
    }
    this.#retryDelayMs = positive(
      "retryDelayMs",
      options.retryDelayMs,
      100,
    );
    this.#ackWaitMs = positive("ackWaitMs", options.ackWaitMs, 5_000);
    this.#logger = options.logger ?? consoleLogger("warn");
  }

  /**
   * What the consumer is doing and has done.
   *
   * @example
   * ```ts
   * import { InMemoryInbox } from "@sequent/core";
   * import { EventConsumer } from "@sequent/core/nats";
   *
   * const consumer = new EventConsumer({ name: "newsletter", inbox: new InMemoryInbox(), handler: async () => {} });
   * console.assert(consumer.status.handled === 0);
   * ```
   */
  get status(): EventConsumerStatus {
    return {
      state: this.#state,
      handled: this.#handled,
      duplicates: this.#duplicates,
      parked: [...this.#parked].sort(),
      lastError: this.#lastError,
    };
  }

  /**
   * Starts consuming in the background; failures are retried, not thrown.
   * Starting a started consumer does nothing.
   *
   * @example
   * ```ts ignore
   * consumer.start();
   * ```
   */
  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    this.#state = "connecting";
    this.#loop = this.#run(this.#stop.signal);
  }

  /**
   * Stops: the messages being handled finish (or fail and come again
   * later), and the connection closes. It does not wait for the broker:
   * with the broker down it is as quick (a message whose ack cannot be
   * sent is delivered again later, and found handled). A connection still
   * being made is not waited for either; it is closed once made. Nor does
   * it wait past a second for a database that does not answer: the
   * messages whose handling it gives up come again, and take effect once
   * (see the module documentation).
   *
   * @example
   * ```ts ignore
   * await consumer.stop();
   * ```
   */
  async stop(): Promise<void> {
    if (!this.#loop) return;
    // the grace of the calls to the inbox under way starts at the first
    // stop; it is read when the signal aborts
    if (this.#stop && !this.#stop.signal.aborted) {
      this.#grace.stopped();
      this.#stop.abort();
    }
    await this.#loop;
    this.#loop = undefined;
    this.#state = "stopped";
  }

  /**
   * The messages set aside: each parked aggregate's failed one (with its
   * error) and those waiting behind it.
   *
   * @example
   * ```ts ignore
   * for (const m of await consumer.setAside()) console.log(m.aggregateId, m.error);
   * ```
   *
   * @returns Them, each aggregate's in order.
   */
  setAside(): Promise<SetAsideMessage[]> {
    return this.#inbox.setAsideMessages(this.#name);
  }

  /**
   * Handles a parked aggregate's messages again, in order (after the
   * messages of its partition being handled in this process): when all
   * succeed, its next messages are handled as they come; when one fails
   * again, it stays parked at that one, with the new error.
   *
   * @example
   * ```ts ignore
   * await consumer.retry("0b6e0c1a-…");
   * ```
   *
   * @param aggregateId The parked aggregate.
   * @returns Whether it goes on (false: parked again).
   */
  retry(aggregateId: string): Promise<boolean> {
    return this.#again(aggregateId);
  }

  /**
   * Drops a parked aggregate's failed message, unhandled, and handles the
   * ones that waited behind it, as {@linkcode EventConsumer.retry} does.
   *
   * @example
   * ```ts ignore
   * await consumer.skip("0b6e0c1a-…");
   * ```
   *
   * @param aggregateId The parked aggregate.
   * @returns Whether it goes on (false: parked again).
   */
  skip(aggregateId: string): Promise<boolean> {
    const id = aggregateId.toLowerCase();
    return this.#again(id, async () => {
      // the failed one, by its id: whatever else comes first (another
      // process may be handling the aggregate's messages too) is not
      // dropped in its place
      const failed = (await this.#inbox.setAsideMessages(this.#name, id))
        .find((m) => m.error !== undefined);
      if (failed) await this.#inbox.takeBack(this.#name, [failed.id]);
      return true;
    });
  }

  /**
   * Handles an aggregate's set-aside messages again, in order, in its
   * partition's turn; `first`, when given, runs in that turn before them
   * (a skip), and says whether to go on.
   */
  #again(
    aggregateId: string,
    first?: () => Promise<boolean>,
    stop?: AbortSignal,
  ): Promise<boolean> {
    const id = aggregateId.toLowerCase();
    // the request loop's are given up at its stop, an operator's not
    const bounded = <T>(work: Promise<T>): Promise<T> =>
      stop ? this.#database(work, stop) : work;
    return this.#inPartition(
      partitionOf(id, this.#partitions),
      async () => {
        if (first && !(await bounded(first()))) return false;
        for (;;) {
          const [next] = await bounded(
            this.#inbox.setAsideMessages(this.#name, id),
          );
          if (!next) break;
          try {
            const outcome = await bounded(this.#inbox.handleOnce(
              this.#name,
              next,
              (records) => this.#call(this.#event(next), records),
              { retrying: true },
            ));
            if (outcome === "handled") this.#handled++;
            else this.#duplicates++;
          } catch (error) {
            if (!(error instanceof HandlerFailure)) throw error;
            await bounded(
              this.#inbox.setAside(this.#name, next, error.message),
            );
            this.#parked.add(id);
            return false;
          }
        }
        this.#parked.delete(id);
        return true;
      },
      stop,
    );
  }

  /**
   * Runs `step` after the steps of partition `p` already queued. With
   * `stop`, the wait for that turn is given up as a call to the inbox is
   * (a step before it that the database holds, an operator's retry say,
   * must not hold the stop), and `step` then never runs.
   */
  #inPartition<T>(
    p: number,
    step: () => Promise<T>,
    stop?: AbortSignal,
  ): Promise<T> {
    const before = this.#queues.get(p) ?? Promise.resolve();
    const turn = stop ? this.#database(before, stop) : before;
    const run = turn.then(step);
    this.#queues.set(p, run.then(() => {}, () => {}));
    return run;
  }

  /**
   * `work`, a call to the inbox from the loop: a stop lets it end within
   * the grace that follows the stop, and then rejects with
   * {@linkcode GivenUp} (a database that does not answer must not hold the
   * stop). The call goes on; a transaction given up commits or rolls
   * back, and the inbox's dedupe makes the message's next delivery right
   * either way.
   */
  #database<T>(work: Promise<T>, stop: AbortSignal): Promise<T> {
    return this.#grace.within(work, stop);
  }

  /** Logs, as a warning, a call to the inbox that the stop gave up. */
  #gaveUp(what: string): void {
    this.#logger.log(
      "warn",
      `Event consumer ${this.#name}: the stop gave up ${what}: the database did not answer within ${STOP_GRACE_MS} ms of the stop`,
      { consumer: this.#name },
    );
  }

  async #call(event: IncomingEvent, records: RecordStore): Promise<void> {
    try {
      await this.#handler(event, records);
    } catch (error) {
      throw new HandlerFailure(error);
    }
  }

  #event(m: InboxMessage): IncomingEvent {
    const h = m.headers;
    let payload: JsonValue;
    try {
      payload = JSON.parse(m.body) as JsonValue;
    } catch {
      payload = m.body;
    }
    return {
      id: m.id,
      aggregateId: m.aggregateId,
      aggregateType: h[OUTBOX_HEADERS.aggregateType] ?? "",
      sequenceNumber: m.sequenceNumber,
      eventType: h[OUTBOX_HEADERS.eventType] ?? "",
      position: h[OUTBOX_HEADERS.position] ?? "",
      createdAt: new Date(h[OUTBOX_HEADERS.createdAt] ?? 0),
      payload,
      subject: m.subject,
      idempotencyKey: `${this.#name}:${m.id}`,
    };
  }

  /** The message as the inbox keeps it; throws when it is not the relay's. */
  #message(m: JsMsg): InboxMessage {
    const headers = headersOf(m);
    const id = headers[OUTBOX_HEADERS.messageId];
    const aggregateId = headers[OUTBOX_HEADERS.aggregateId];
    const sequence = Number(headers[OUTBOX_HEADERS.aggregateSequence]);
    if (!id || !aggregateId || !Number.isSafeInteger(sequence)) {
      throw new TypeError(
        `Message ${m.seq} on ${m.subject} lacks the relay's headers (${OUTBOX_HEADERS.messageId}, ${OUTBOX_HEADERS.aggregateId}, ${OUTBOX_HEADERS.aggregateSequence})`,
      );
    }
    return {
      id,
      aggregateId: aggregateId.toLowerCase(),
      sequenceNumber: sequence,
      subject: m.subject,
      headers,
      body: new TextDecoder().decode(m.data),
    };
  }

  async #run(signal: AbortSignal): Promise<void> {
    // one request loop for the whole run, beside the connection attempts:
    // it needs the inbox, not the connection, and one started per attempt
    // would outlive the attempt (it ends only when stopped)
    const requests = this.#serveRequests(signal);
    let backoff = 100;
    try {
      while (!signal.aborted) {
        try {
          const consumers = await this.#connect(signal);
          const aside = await this.#database(
            this.#inbox.setAsideMessages(this.#name),
            signal,
          );
          for (const k of aside) this.#parked.add(k.aggregateId);
          this.#state = "consuming";
          backoff = 100;
          await this.#consumeAll(consumers, signal);
        } catch (error) {
          if (error instanceof GivenUp) {
            this.#gaveUp("reading the parked aggregates");
          }
          if (error instanceof Stopping || signal.aborted) break;
          this.#state = "backing off";
          this.#lastError = message(error);
          this.#logger.log("warn", "Event consumer: backing off", {
            consumer: this.#name,
            error: this.#lastError,
            ms: backoff,
          });
          await this.#disconnect();
          // a stop ends the pause, and with it the loop: stop() resolves
          await stoppableWait(backoff, signal).catch((e: unknown) => {
            if (!(e instanceof Stopping)) throw e;
          });
          backoff = Math.min(backoff * 2, 5_000);
        }
      }
    } finally {
      await this.#disconnect();
      await requests;
    }
  }

  /**
   * Closes the connection, if any; pending requests on it fail. The close
   * waits a turn of the event loop (see `closeConnection`): an ack sent
   * just before, as the loops ended, to a broker that has just gone would
   * otherwise fail as an uncaught exception; this way it is lost, and
   * JetStream delivers the message again, which the inbox finds handled.
   */
  async #disconnect(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    if (nc) await closeConnection(nc);
  }

  /**
   * Consumes every partition until stopped, or until one partition's loop
   * fails: then the others end too (each after the message it is
   * handling), and the failure is thrown, so that no loop outlives its
   * connection.
   */
  async #consumeAll(
    consumers: readonly Consumer[],
    signal: AbortSignal,
  ): Promise<void> {
    const attempt = new AbortController();
    const end = () => attempt.abort();
    // stopped already (while the inbox was read): no loop starts
    if (signal.aborted) end();
    signal.addEventListener("abort", end, { once: true });
    try {
      const loops = await Promise.allSettled(
        consumers.map((c, p) =>
          this.#consume(p, c, attempt.signal, signal).catch((
            error: unknown,
          ) => {
            attempt.abort();
            throw error;
          })
        ),
      );
      for (const loop of loops) {
        if (loop.status === "rejected") throw loop.reason;
      }
    } finally {
      signal.removeEventListener("abort", end);
    }
  }

  /**
   * Does what operators asked through the inbox (`Inbox.request`, from any
   * process), and resumes the aggregates a retry or skip cut short left
   * stranded, looking every second; never throws.
   */
  async #serveRequests(signal: AbortSignal): Promise<void> {
    // the stranded aggregates of the last look, with their first messages
    let before = new Map<string, string>();
    while (!signal.aborted) {
      try {
        const aside = await this.#database(
          this.#inbox.setAsideMessages(this.#name),
          signal,
        );
        const last = before;
        before = stranded(aside);
        const asked = aside.filter((m) => m.request !== undefined);
        for (const m of asked) {
          if (signal.aborted) break;
          if (m.request === "retry") {
            await this.#again(m.aggregateId, undefined, signal);
            continue;
          }
          // every process of the consumer sees the request: the skip is
          // done by the one that takes this message back while the
          // request is still on it; the others find nothing, and leave
          // the messages behind it to that one
          await this.#again(
            m.aggregateId,
            async () =>
              await this.#inbox.takeBack(this.#name, [m.id], {
                asked: "skip",
              }) > 0,
            signal,
          );
        }
        for (const [aggregateId, first] of before) {
          if (signal.aborted) break;
          // stranded at two looks in a row, at the same message: no retry
          // or skip is going on (one that is would have moved on; and were
          // one still at it, handling the message twice takes effect once)
          if (last.get(aggregateId) !== first) continue;
          this.#logger.log(
            "warn",
            `Event consumer ${this.#name} resumes aggregate ${aggregateId}: its set-aside messages had no failed one before them (a retry or skip was cut short)`,
            { consumer: this.#name },
          );
          // in the partition's turn, only if still so: a failed message
          // set aside since parks the aggregate, and waits for a request
          await this.#again(
            aggregateId,
            async () =>
              (await this.#inbox.setAsideMessages(this.#name, aggregateId))
                .every((m) => m.error === undefined),
            signal,
          );
        }
      } catch (error) {
        if (error instanceof GivenUp) {
          // stopped: the request is still there for the next look
          this.#gaveUp("serving requests");
          break;
        }
        this.#lastError = message(error);
        this.#logger.log("warn", "Event consumer: a request failed", {
          consumer: this.#name,
          error: this.#lastError,
        });
      }
      await stoppableWait(1_000, signal).catch(() => {});
    }
  }

  /**
   * Connects, and makes sure each partition's durable consumer exists; a
   * stop ends the wait for the broker (rejecting with `Stopping`).
   */
  async #connect(signal: AbortSignal): Promise<Consumer[]> {
    this.#state = "connecting";
    const connecting = connect({
      servers: this.#servers,
      name: `sequent consumer ${this.#name}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    const nc = await connectUnlessStopped(connecting, signal);
    // closed by #run from here on; the requests below fail when it is
    this.#nc = nc;
    const jsm = await untilStopped(jetstreamManager(nc), signal);
    const js: JetStreamClient = jetstream(nc);
    const consumers: Consumer[] = [];
    for (let p = 0; p < this.#partitions; p++) {
      const durable = `${this.#name}_${p}`;
      try {
        await untilStopped(jsm.consumers.info(this.#stream, durable), signal);
      } catch (error) {
        if (
          !(error instanceof JetStreamApiError) ||
          error.code !== JetStreamApiCodes.ConsumerNotFound
        ) throw error;
        // 2.9's options only: one filter subject, no priority groups
        await untilStopped(
          jsm.consumers.add(this.#stream, {
            durable_name: durable,
            filter_subject: `${this.#prefix}.${p}.>`,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            max_ack_pending: 1,
            ack_wait: this.#ackWaitMs * 1_000_000,
          }),
          signal,
        );
      }
      consumers.push(
        await untilStopped(js.consumers.get(this.#stream, durable), signal),
      );
    }
    return consumers;
  }

  /**
   * Takes partition `p`'s messages one at a time until `signal` aborts
   * (a stop, or another partition's loop failed); a message whose
   * handling `stop` gave up is given back, unacknowledged.
   */
  async #consume(
    p: number,
    consumer: Consumer,
    signal: AbortSignal,
    stop: AbortSignal,
  ): Promise<void> {
    // the next fetch, asked for as a message handled is acked
    let ahead: Promise<ConsumerMessages> | undefined;
    try {
      while (!signal.aborted) {
        // one message at a time; the server's heartbeats show a pull that
        // was lost (the server restarted): the fetch then fails, and the
        // consumer connects again instead of waiting for a reply that will
        // never come
        const batch = await (ahead ?? consumer.fetch(FETCH));
        ahead = undefined;
        // the fetch ends with its one message, before the message is
        // handled: a slow handler must not count as missed heartbeats
        const got = await this.#fetched(batch, signal);
        if (got) {
          const m = got;
          let handled = false;
          try {
            handled = await this.#inPartition(
              p,
              () => this.#take(m, stop),
              stop,
            );
          } catch (error) {
            if (!(error instanceof GivenUp)) throw error;
            this.#gaveUp(
              `handling message ${m.seq} on ${m.subject} (it comes again)`,
            );
            giveBack(m);
          }
          if (handled) {
            // the next pull first, then the ack: the server holds the
            // pull until the ack leaves the partition no message pending,
            // and then delivers at once, without waiting for a pull sent
            // after the ack (a round trip less per message)
            if (!signal.aborted) ahead = consumer.fetch(FETCH);
            m.ack();
          }
        }
      }
    } finally {
      // a pull asked for ahead that the loop did not read: what it
      // brings is given back
      ahead?.then((batch) => this.#fetched(batch, signal)).then((late) => {
        if (late) giveBack(late);
      }, () => {});
    }
  }

  /**
   * The fetch's message, if any, at the fetch's end; a stop ends the wait.
   *
   * While the broker is down the client stops watching heartbeats and a
   * fetch waits for the broker to come back, however long. A stop does not
   * end it with a word to the server either (that word could go to a
   * socket the server has just closed, and fail; written in the turn the
   * connection closed, its failure was an uncaught error, which
   * `closeConnection` now prevents): the fetch is left to the connection's
   * close, which ends it without a word. A message it still brings before
   * then is given back.
   */
  async #fetched(
    batch: ConsumerMessages,
    signal: AbortSignal,
  ): Promise<JsMsg | undefined> {
    const messages = batch[Symbol.asyncIterator]();
    let got: JsMsg | undefined;
    for (;;) {
      const next = messages.next();
      let step: IteratorResult<JsMsg>;
      try {
        step = await untilStopped(next, signal);
      } catch (error) {
        if (!(error instanceof Stopping)) throw error;
        next.then((late) => {
          if (!late.done) giveBack(late.value);
        }, () => {});
        return got;
      }
      if (step.done) return got;
      got = step.value;
    }
  }

  /**
   * Handles, sets aside, or gives back one message; true when it was
   * handled (or found handled, or behind a parked one) and the caller is
   * to ack it. A call to the inbox that `stop` gives up rejects with
   * {@linkcode GivenUp}, and the message is left unacknowledged, for the
   * caller to give back.
   */
  async #take(m: JsMsg, stop: AbortSignal): Promise<boolean> {
    let msg: InboxMessage;
    try {
      msg = this.#message(m);
    } catch (error) {
      // not the relay's: nothing can ever handle it
      this.#logger.log("error", message(error), { consumer: this.#name });
      m.term();
      return false;
    }
    // a long handler keeps the message its own
    const working = setInterval(() => {
      try {
        m.working();
      } catch {
        // disconnected: the server delivers it again after ackWaitMs
      }
    }, this.#ackWaitMs / 2);
    try {
      const outcome = await this.#database(
        this.#inbox.handleOnce(
          this.#name,
          msg,
          (records) => this.#call(this.#event(msg), records),
        ),
        stop,
      );
      if (outcome === "handled") this.#handled++;
      else if (outcome === "duplicate") this.#duplicates++;
      else this.#parked.add(msg.aggregateId);
      return true;
    } catch (error) {
      // committed or not: neither acked nor set aside, it comes again
      if (error instanceof GivenUp) throw error;
      const deliveries = m.info.deliveryCount;
      if (error instanceof HandlerFailure && deliveries >= this.#maxDeliver) {
        // given up, this too leaves the message to come again: set aside
        // or not, its next delivery finds it so
        await this.#database(
          this.#inbox.setAside(this.#name, msg, error.message),
          stop,
        );
        this.#parked.add(msg.aggregateId);
        m.ack();
        this.#logger.log(
          "error",
          `Event consumer ${this.#name} parked aggregate ${msg.aggregateId} at event ${msg.sequenceNumber} after ${deliveries} deliveries: ${error.message}`,
          { error: error.error },
        );
        return false;
      }
      this.#lastError = message(error);
      m.nak(
        Math.min(this.#retryDelayMs * 2 ** (deliveries - 1), 10_000),
      );
      return false;
    } finally {
      clearInterval(working);
    }
  }
}
