/**
 * The outbox relay: publishes the events an application declares public
 * to a NATS JetStream stream, in order, none lost and none twice, whatever
 * JetStream's duplicate window.
 *
 * How it keeps that promise:
 *
 * - It is a partitioned processor: relays of one name (in one process or
 *   many) share the store's partitions, each partition claimed by one
 *   relay at a time with a fencing token of its own (see `ProcessorStore`);
 *   when a relay stops or dies, the others take its partitions on. A
 *   publish never starts later than `publishTimeoutMs` before its claim
 *   could lapse, so a relay taking a partition over never publishes to it
 *   at the same time as the one it replaces.
 * - It reads the events in commit order (see `EventReader`), publishes a
 *   partition's events one after another, each after the previous one's
 *   PubAck, and different partitions at once. Its checkpoint is stored
 *   after every PubAck of a batch.
 * - Whenever it claims a partition anew, it reads that partition's last
 *   message from the stream (`last_by_subj`) and skips, in that
 *   partition, every event up to that message's `Sequent-Position`. So a
 *   relay stopped between a PubAck and its checkpoint (killed, or cut off
 *   from NATS or the database) repeats nothing when it resumes, and loses
 *   nothing since the checkpoint is never ahead of a PubAck.
 * - While NATS or the database is unreachable it backs off (doubling, up to
 *   `maxBackoffMs`) and tries again. Commands never wait for it.
 * - {@linkcode OutboxRelay.stop} does not wait for the broker: with the
 *   broker down, hanging or never reached it returns at once, or within
 *   a second of the stop when publishes were waiting for PubAcks (a
 *   broker that answers acks them in that time). A publish whose PubAck
 *   is given up may still be in the stream, or not: the next relay to
 *   claim its partition finds out from the stream, as above, and its
 *   message id lets JetStream drop a repeat. The stopped relay leaves
 *   that partition's claim to lapse rather than give it up, so that no
 *   relay publishes to it while the publish given up might still land.
 * - Nor does it wait without end for a database that does not answer: a
 *   call to it under way is given up a second after the stop (a read
 *   stored nothing; a checkpoint commit may have been stored or not, and
 *   the stream tells, as above), and the claims and the membership are
 *   given back within half a second more, or left to lapse.
 *
 * See `outbox_message.ts` for the subjects and headers.
 *
 * @module
 */
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import {
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type {
  EventReader,
  StoredEvent,
  StreamPosition,
} from "../core/event_reader.ts";
import type { Lease, ProcessorStore } from "../core/processor_store.ts";
import { consoleLogger, type Logger } from "../core/logger.ts";
import { readTraceLinks, type Telemetry } from "../core/telemetry.ts";
import {
  checkPollPauses,
  pauseAfter,
  type PollMs,
  type PollPauses,
} from "../core/_poll_pause.ts";
import { checkPartitionCount } from "../core/partition.ts";
import { takeShare } from "../core/_partition_share.ts";
import {
  connectUnlessStopped,
  pauseUnlessStopped,
  positive,
  serverList,
  stoppableWait,
  Stopping,
  streamName,
  untilStopped,
} from "./_loop_support.ts";
import { settledWithin, StopGrace } from "../core/_stop_grace.ts";
import { closeConnection } from "./_close_connection.ts";
import {
  checkSubjectPrefix,
  OUTBOX_HEADERS,
  outboxSubject,
  partitionSubjects,
} from "./outbox_message.ts";

/**
 * How long, at most, the publishes under way when the relay is stopped
 * still wait for their PubAcks while the connection is up; none waits once
 * the client has lost the broker.
 */
const STOP_GRACE_MS = 1_000;

/**
 * How long, at most, a stopped relay waits for the database to take its
 * claims and its membership back, both together; what it does not take
 * back lapses.
 */
const GIVE_BACK_MS = 500;

/**
 * Options of {@linkcode OutboxRelay}.
 *
 * @example
 * ```ts
 * import type { OutboxRelayOptions } from "@sequent/core/nats";
 * import { InMemoryEventStore, InMemoryProcessorStore } from "@sequent/core";
 *
 * const options: OutboxRelayOptions = {
 *   processors: new InMemoryProcessorStore(new InMemoryEventStore()),
 *   eventTypes: ["PostPublished"],
 *   servers: "127.0.0.1:4222",
 *   stream: "BLOG",
 *   prefix: "blog",
 * };
 * ```
 */
export interface OutboxRelayOptions {
  /** Where the relay keeps its claim and checkpoint; its reader is the store read. */
  readonly processors: ProcessorStore;
  /** The event types that leave the service; every other stays inside. */
  readonly eventTypes: readonly string[];
  /** The NATS servers (default `127.0.0.1:4222`). */
  readonly servers?: string | readonly string[] | undefined;
  /**
   * The JetStream stream (default `SEQUENT_OUTBOX`). Created, capturing
   * `<prefix>.>`, when missing; an existing one is used as it is.
   */
  readonly stream?: string | undefined;
  /** The subjects' first tokens (default `sequent`). */
  readonly prefix?: string | undefined;
  /**
   * The event store's partition count, when the caller wants it checked
   * (the relay takes the store's).
   */
  readonly partitions?: number | undefined;
  /** The relay's processor name: its claims and checkpoints (default `outbox`). */
  readonly name?: string | undefined;
  /** Who this relay is (default: a random id). */
  readonly owner?: string | undefined;
  /**
   * How long its claims last unless renewed (default 10,000 ms; at least
   * twice `publishTimeoutMs`): a relay that dies has its partitions taken
   * on by the others after that long. A publish never starts later than
   * `publishTimeoutMs` before the claim could lapse.
   */
  readonly leaseMs?: number | undefined;
  /** At most this many events per read (default 1,000). */
  readonly batchSize?: number | undefined;
  /**
   * The pauses between reads, as a `ProcessorRunner` takes them (see
   * `PollMs`): an event is published within about `min` of its commit
   * while events come.
   */
  readonly pollMs?: PollMs | undefined;
  /** The longest pause after a failure (default 5,000 ms; the first is 100 ms). */
  readonly maxBackoffMs?: number | undefined;
  /** How long a publish waits for its PubAck (default 5,000 ms). */
  readonly publishTimeoutMs?: number | undefined;
  /**
   * The duplicate window of a stream the relay creates (default 120,000
   * ms). The relay does not rely on it: it only covers a publish retried
   * by the client.
   */
  readonly duplicateWindowMs?: number | undefined;
  /** Where it logs (default: warnings and errors to the console). */
  readonly logger?: Logger | undefined;
  /**
   * Where publishes are traced (a `send <prefix>` producer span per batch,
   * linked to the commands that stored its events, its `traceparent` in
   * every message's headers) and the relay's lag reported; default:
   * nowhere.
   */
  readonly telemetry?: Telemetry | undefined;
}

/**
 * What the relay is doing:
 *
 * - `stopped`: not started, or stopped;
 * - `connecting`: connecting to NATS and making sure the stream exists;
 * - `standby`: it holds no partition (the other relays of its name hold
 *   them all);
 * - `publishing`: it holds partitions and publishes (or waits for events);
 * - `backing off`: something failed (see `lastError`); it tries again soon.
 *
 * @example
 * ```ts
 * import type { OutboxRelayState } from "@sequent/core/nats";
 *
 * const state: OutboxRelayState = "standby";
 * ```
 */
export type OutboxRelayState =
  | "stopped"
  | "connecting"
  | "standby"
  | "publishing"
  | "backing off";

/**
 * A snapshot of the relay's progress.
 *
 * @example
 * ```ts
 * import type { OutboxRelayStatus } from "@sequent/core/nats";
 *
 * function describe(s: OutboxRelayStatus): string {
 *   return `${s.state}: ${s.published} published, up to ${s.checkpoint}`;
 * }
 * ```
 */
export interface OutboxRelayStatus {
  /** What it is doing. */
  readonly state: OutboxRelayState;
  /** Messages this relay published since it started. */
  readonly published: number;
  /** Events it skipped because the stream already had them. */
  readonly skipped: number;
  /**
   * The checkpoint it stored last, the earliest of its partitions' (`""`:
   * none yet).
   */
  readonly checkpoint: StreamPosition;
  /** The partitions it holds. */
  readonly partitions: readonly number[];
  /** The last failure, if any. */
  readonly lastError: string | undefined;
  /**
   * How far behind it is, in milliseconds: the age of the oldest event it
   * has read and not published yet; 0 once it has published everything it
   * found, and 0 on a relay standing by. It grows while NATS is down and
   * events keep coming.
   */
  readonly lagMs: number;
}

/**
 * Publishes an application's public events to JetStream; see the module
 * documentation for its guarantees.
 *
 * @example Relaying PostPublished events
 * ```ts ignore
 * import { InMemoryEventStore, InMemoryProcessorStore } from "@sequent/core";
 * import { OutboxRelay } from "@sequent/core/nats";
 *
 * const store = new InMemoryEventStore();
 * const relay = new OutboxRelay({
 *   processors: new InMemoryProcessorStore(store),
 *   eventTypes: ["PostPublished"],
 *   stream: "BLOG",
 *   prefix: "blog",
 * });
 * relay.start();
 * // … later
 * await relay.stop();
 * ```
 */
export class OutboxRelay {
  readonly #processors: ProcessorStore;
  readonly #reader: EventReader;
  readonly #eventTypes: readonly string[];
  readonly #servers: string[];
  readonly #stream: string;
  readonly #prefix: string;
  /** The partition count the caller gave, to check against the store's. */
  readonly #expectedPartitions: number | undefined;
  readonly #name: string;
  readonly #owner: string;
  readonly #leaseMs: number;
  readonly #batchSize: number;
  readonly #poll: PollPauses;
  readonly #maxBackoffMs: number;
  readonly #publishTimeoutMs: number;
  readonly #duplicateWindowMs: number;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry | undefined;

  #state: OutboxRelayState = "stopped";
  #published = 0;
  #skipped = 0;
  #checkpoint: StreamPosition = "";
  #heldPartitions: readonly number[] = [];
  #lastError: string | undefined;
  /** When the oldest event read and not yet published was stored. */
  #pendingSince: number | undefined;
  #loop: Promise<void> | undefined;
  #stop: AbortController | undefined;
  /** The grace of the loop's calls to the database once it is stopped. */
  readonly #grace = new StopGrace(STOP_GRACE_MS);
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  /** Whether the client has the broker (it lost it, and has not found it again). */
  #connected = false;
  /** The loop reading the connection's status: ends when it closes. */
  #watching: Promise<void> | undefined;
  /**
   * Aborted to give up the publishes under way: after a stop, once the
   * connection is lost or the grace is over.
   */
  #abandon: AbortController | undefined;
  /**
   * The partitions a publish was given up in since the relay started: its
   * message may still land, so their claims are left to lapse.
   */
  #unsettled = new Set<number>();
  /** The claim held right now, for releasing it on stop. */
  #held: Lease | undefined;
  /**
   * No publish starts after this instant (`performance.now()`): one that
   * starts before it ends, or times out, before the claim can lapse, so a
   * relay taking over never publishes alongside this one.
   */
  #publishUntil = 0;

  /**
   * A relay, not started yet.
   *
   * @example
   * ```ts
   * import { InMemoryEventStore, InMemoryProcessorStore } from "@sequent/core";
   * import { OutboxRelay } from "@sequent/core/nats";
   *
   * const relay = new OutboxRelay({
   *   processors: new InMemoryProcessorStore(new InMemoryEventStore()),
   *   eventTypes: ["PostPublished"],
   * });
   * console.assert(relay.status.state === "stopped");
   * ```
   *
   * @param options What to publish, where, and how.
   * @throws {TypeError} for no event types, or a prefix or stream name
   *   NATS does not accept.
   * @throws {RangeError} for a partition count, lease, batch size or pause
   *   out of range.
   */
  constructor(options: OutboxRelayOptions) {
    this.#processors = options.processors;
    this.#reader = options.processors.reader;
    if (
      !Array.isArray(options.eventTypes) || options.eventTypes.length === 0 ||
      options.eventTypes.some((t) => typeof t !== "string" || t === "")
    ) {
      throw new TypeError(
        "eventTypes must list the event types that leave the service (at least one)",
      );
    }
    this.#eventTypes = [...options.eventTypes];
    this.#servers = serverList(options.servers);
    this.#stream = streamName(options.stream);
    this.#prefix = checkSubjectPrefix(options.prefix ?? "sequent");
    this.#expectedPartitions = options.partitions === undefined
      ? undefined
      : checkPartitionCount(options.partitions);
    this.#name = options.name ?? "outbox";
    this.#owner = options.owner ?? `outbox-relay-${crypto.randomUUID()}`;
    this.#leaseMs = positive("leaseMs", options.leaseMs, 10_000);
    this.#batchSize = positive("batchSize", options.batchSize, 1_000);
    if (!Number.isSafeInteger(this.#batchSize)) {
      throw new RangeError(
        `batchSize must be a positive integer, got ${this.#batchSize}`,
      );
    }
    this.#poll = checkPollPauses(options.pollMs);
    this.#maxBackoffMs = positive("maxBackoffMs", options.maxBackoffMs, 5_000);
    this.#publishTimeoutMs = positive(
      "publishTimeoutMs",
      options.publishTimeoutMs,
      5_000,
    );
    if (this.#leaseMs < 2 * this.#publishTimeoutMs) {
      throw new RangeError(
        `leaseMs (${this.#leaseMs}) must be at least twice publishTimeoutMs (${this.#publishTimeoutMs}): a publish must end well within a claim`,
      );
    }
    this.#duplicateWindowMs = positive(
      "duplicateWindowMs",
      options.duplicateWindowMs,
      120_000,
    );
    this.#logger = options.logger ?? consoleLogger("warn");
    this.#telemetry = options.telemetry;
  }

  /**
   * What the relay is doing and has done.
   *
   * @example
   * ```ts
   * import { InMemoryEventStore, InMemoryProcessorStore } from "@sequent/core";
   * import { OutboxRelay } from "@sequent/core/nats";
   *
   * const relay = new OutboxRelay({
   *   processors: new InMemoryProcessorStore(new InMemoryEventStore()),
   *   eventTypes: ["PostPublished"],
   * });
   * console.assert(relay.status.published === 0);
   * ```
   */
  get status(): OutboxRelayStatus {
    return {
      state: this.#state,
      published: this.#published,
      skipped: this.#skipped,
      checkpoint: this.#checkpoint,
      partitions: this.#heldPartitions,
      lastError: this.#lastError,
      lagMs: this.#pendingSince === undefined
        ? 0
        : Math.max(0, Date.now() - this.#pendingSince),
    };
  }

  /**
   * Starts relaying in the background; failures are retried, not thrown.
   * Starting a started relay does nothing.
   *
   * @example
   * ```ts ignore
   * relay.start();
   * ```
   */
  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    this.#state = "connecting";
    this.#loop = this.#run(this.#stop.signal);
  }

  /**
   * Stops: publishes no more, stores no more, gives its partitions up (so
   * the other relays take them on at once) and closes the connection. It
   * does not wait for the broker: the publishes under way get their
   * PubAcks within a second, or are given up (see the module
   * documentation), and a connection still being made is not waited for
   * (it is closed once made). Nor does it wait past a second for a
   * database that does not answer, and half a second more for it to take
   * the claims back. A stopped relay can start again.
   *
   * @example
   * ```ts ignore
   * await relay.stop();
   * ```
   */
  async stop(): Promise<void> {
    const loop = this.#loop;
    if (!loop) return;
    this.#stop?.abort();
    try {
      await loop;
    } finally {
      if (this.#loop === loop) {
        this.#loop = undefined;
        this.#state = "stopped";
      }
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    let backoff = 100;
    this.#unsettled = new Set();
    const abandon = this.#abandon = new AbortController();
    let grace: ReturnType<typeof setTimeout> | undefined;
    // the publishes under way get the grace while the broker is there
    const onStop = () => {
      this.#grace.stopped();
      if (!this.#connected) abandon.abort();
      else {
        grace = setTimeout(
          () => abandon.abort(),
          Math.min(STOP_GRACE_MS, this.#publishTimeoutMs),
        );
      }
    };
    signal.addEventListener("abort", onStop, { once: true });
    try {
      while (!signal.aborted) {
        try {
          await this.#connect(signal);
          await this.#relay(signal, abandon.signal);
          backoff = 100;
        } catch (error) {
          if (error instanceof Stopping || signal.aborted) break;
          this.#state = "backing off";
          this.#lastError = error instanceof Error
            ? error.message
            : String(error);
          this.#logger.log("warn", "Outbox relay: backing off", {
            relay: this.#name,
            error: this.#lastError,
            ms: backoff,
          });
          // a stop ends the pause, and with it the loop: stop() resolves
          await pauseUnlessStopped(backoff, signal);
          backoff = Math.min(backoff * 2, this.#maxBackoffMs);
        }
      }
    } finally {
      signal.removeEventListener("abort", onStop);
      clearTimeout(grace);
      // first, so that nothing this relay sent can go out after the claims
      // are given up: what the client still holds is dropped
      await this.#disconnect();
      this.#abandon = undefined;
      await this.#giveUp();
    }
  }

  /**
   * Gives up the claim held, but for the partitions a publish was given
   * up in (they lapse), and leaves the member list.
   */
  async #giveUp(): Promise<void> {
    const until = performance.now() + GIVE_BACK_MS;
    const held = this.#held;
    this.#held = undefined;
    this.#heldPartitions = [];
    const unsettled = this.#unsettled;
    if (held) {
      let lease: Lease | undefined = held;
      if (held.partitions && unsettled.size > 0) {
        const kept = held.partitions.filter((c) => unsettled.has(c.partition));
        const rest = held.partitions.filter((c) => !unsettled.has(c.partition));
        this.#logger.log(
          "warn",
          `Outbox relay ${this.#name} leaves the claims on partitions ${
            kept.map((c) => c.partition).join(", ")
          } to lapse: a publish to them was given up at the stop, and may still land`,
          { relay: this.#name },
        );
        lease = rest.length === 0 ? undefined : { ...held, partitions: rest };
      }
      if (lease) {
        await settledWithin(
          this.#processors.release(this.#name, lease),
          until - performance.now(),
        );
      }
    }
    await settledWithin(
      this.#processors.leave(this.#name, this.#owner),
      until - performance.now(),
    );
  }

  /**
   * `work`, a call to the database from the loop: a stop lets it end
   * within the grace that follows the stop, and gives it up after (a
   * database that does not answer must not hold the stop). A read given up
   * stored nothing; a checkpoint commit given up stored it or not, and the
   * next relay on the partition finds out from the stream, as after a
   * kill.
   */
  #database<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    return this.#grace.within(work, signal);
  }

  /**
   * Closes the connection, if any: pending requests on it fail, and what
   * the client holds for a broker it lost is dropped. The close waits a
   * turn of the event loop (see `closeConnection`), so that a request
   * written just before to a broker that has just gone fails quietly.
   */
  async #disconnect(): Promise<void> {
    const nc = this.#nc;
    const watching = this.#watching;
    this.#nc = undefined;
    this.#js = undefined;
    this.#jsm = undefined;
    this.#watching = undefined;
    this.#connected = false;
    if (nc) await closeConnection(nc);
    // ends with the connection
    await watching;
  }

  /**
   * Connects (unless connected: the client finds a lost broker again by
   * itself) and makes sure the stream exists; a stop ends the wait for the
   * broker (rejecting with `Stopping`).
   */
  async #connect(signal: AbortSignal): Promise<void> {
    if (this.#nc && !this.#nc.isClosed()) return;
    await this.#disconnect();
    this.#state = "connecting";
    const connecting = connect({
      servers: this.#servers,
      name: `sequent ${this.#name} ${this.#owner}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: this.#publishTimeoutMs,
    });
    const nc = await connectUnlessStopped(connecting, signal);
    this.#nc = nc;
    this.#connected = true;
    this.#watching = this.#watch(nc);
    try {
      const jsm = await untilStopped(jetstreamManager(nc), signal);
      try {
        await untilStopped(jsm.streams.info(this.#stream), signal);
      } catch (error) {
        if (
          !(error instanceof JetStreamApiError) ||
          error.code !== JetStreamApiCodes.StreamNotFound
        ) throw error;
        await untilStopped(
          jsm.streams.add({
            name: this.#stream,
            subjects: [`${this.#prefix}.>`],
            duplicate_window: this.#duplicateWindowMs * 1_000_000,
          }),
          signal,
        );
      }
      this.#jsm = jsm;
      this.#js = jetstream(nc);
    } catch (error) {
      await this.#disconnect();
      throw error;
    }
  }

  /**
   * Follows whether the client has the broker, until the connection
   * closes; a loss after a stop gives up the publishes under way at once
   * (their PubAcks cannot come).
   */
  async #watch(nc: NatsConnection): Promise<void> {
    try {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          this.#connected = false;
          if (this.#stop?.signal.aborted) this.#abandon?.abort();
        } else if (s.type === "reconnect") this.#connected = true;
      }
    } catch {
      // the status is not followed any more: a stop waits out the grace
    }
  }

  /**
   * Takes its share of the partitions (held in `#held`, for the stop to
   * give up) and publishes, claiming again whenever a claim is lost, until
   * stopped; `abandon` gives up the publishes under way (see `#publish`).
   */
  async #relay(signal: AbortSignal, abandon: AbortSignal): Promise<void> {
    let lease: Lease | undefined;
    let renewAt = 0;
    /** Per held partition, its fencing token: a new one means claimed anew. */
    let tokens = new Map<number, number>();
    /** Per held partition, its checkpoint: events up to it are handled. */
    let floor = new Map<number, StreamPosition>();
    /** Per held partition, the last event the stream has. */
    let done = new Map<number, StreamPosition>();
    let checkpoint: StreamPosition = "";
    let pause = this.#poll.min;
    let roundAt = performance.now();
    while (!signal.aborted) {
      const now = performance.now();
      // the time in which this round's events came: since the last round began
      const elapsed = now - roundAt;
      roundAt = now;
      if (!lease || now >= renewAt) {
        const share = await this.#database(
          takeShare(
            this.#processors,
            this.#name,
            this.#owner,
            this.#leaseMs,
            lease,
          ),
          signal,
        );
        if (
          this.#expectedPartitions !== undefined &&
          share.partitions !== this.#expectedPartitions
        ) {
          throw new Error(
            `The relay was given ${this.#expectedPartitions} partitions, but the event store has ${share.partitions}`,
          );
        }
        lease = this.#held = share.lease;
        renewAt = now + Math.min(share.renewInMs, this.#leaseMs / 3);
        // the claims last leaseMs from when the store granted them, which
        // is after `now`
        this.#publishUntil = now + this.#leaseMs - this.#publishTimeoutMs;
        const claims = lease.partitions ?? [];
        // partitions claimed anew: whatever another relay published to them
        // meanwhile is in the stream, and their checkpoints in the claims
        const fresh = claims.filter((c) => tokens.get(c.partition) !== c.token);
        const last = fresh.length === 0
          ? new Map<number, StreamPosition>()
          : await this.#lastPublished(
            fresh.map((c) => c.partition),
            signal,
          );
        const nextDone = new Map<number, StreamPosition>();
        for (const c of claims) {
          nextDone.set(
            c.partition,
            tokens.get(c.partition) === c.token
              ? done.get(c.partition) ?? c.checkpoint
              : last.get(c.partition) ?? c.checkpoint,
          );
        }
        done = nextDone;
        tokens = new Map(claims.map((c) => [c.partition, c.token]));
        floor = new Map(claims.map((c) => [c.partition, c.checkpoint]));
        checkpoint = lease.checkpoint;
        this.#checkpoint = checkpoint;
        this.#heldPartitions = claims.map((c) => c.partition);
        if (claims.length === 0) {
          this.#state = "standby";
          this.#pendingSince = undefined;
          await stoppableWait(renewAt - now, signal);
          continue;
        }
        this.#state = "publishing";
      }
      const batch = await this.#database(
        this.#reader.readEvents(checkpoint, {
          limit: this.#batchSize,
          eventTypes: this.#eventTypes,
          withAggregateTypes: true,
          partitions: this.#heldPartitions,
        }),
        signal,
      );
      const first = batch.events[0];
      if (first && this.#pendingSince === undefined) {
        this.#pendingSince = first.createdAt.getTime();
      }
      const telemetry = this.#telemetry;
      const publish = (
        inject:
          | ((set: (key: string, value: string) => void) => void)
          | undefined,
      ) => this.#publish(batch.events, floor, done, inject, signal, abandon);
      if (telemetry === undefined || batch.events.length === 0) {
        await publish(undefined);
      } else {
        telemetry.outboxLag(this.#name, batch.events.length);
        await telemetry.send(
          {
            system: "nats",
            destination: this.#prefix,
            messages: batch.events.length,
            ...await this.#database(
              readTraceLinks(this.#reader, batch.events, this.#logger),
              signal,
            ),
          },
          publish,
        );
      }
      if (telemetry && batch.caughtUp) telemetry.outboxLag(this.#name, 0);
      if (batch.caughtUp) this.#pendingSince = undefined;
      else {
        const last = batch.events.at(-1);
        if (last) this.#pendingSince = last.createdAt.getTime();
      }
      if (this.#reader.comparePositions(batch.next, checkpoint) > 0) {
        if (
          !(await this.#database(
            this.#processors.commit(this.#name, lease, batch.next),
            signal,
          ))
        ) {
          // another relay holds a partition now: claim again, and read the
          // stream again for every partition
          lease = this.#held = undefined;
          tokens = new Map();
          continue;
        }
        // the earliest partition was at `checkpoint`: now all are at or
        // past `next`, that one at it
        checkpoint = batch.next;
        this.#checkpoint = checkpoint;
        for (const [p, at] of floor) {
          if (this.#reader.comparePositions(at, checkpoint) < 0) {
            floor.set(p, checkpoint);
          }
        }
      }
      if (batch.caughtUp) {
        pause = pauseAfter(this.#poll, pause, batch.events.length, elapsed);
        await stoppableWait(pause, signal);
      }
    }
  }

  /**
   * Per partition, the position of its last message in the stream; a stop
   * ends the wait for the broker.
   */
  async #lastPublished(
    partitions: readonly number[],
    signal: AbortSignal,
  ): Promise<Map<number, StreamPosition>> {
    const jsm = this.#jsm!;
    const last = new Map<number, StreamPosition>();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < partitions.length; i = next++) {
        const p = partitions[i]!;
        const message = await untilStopped(
          jsm.streams.getMessage(this.#stream, {
            last_by_subj: partitionSubjects(this.#prefix, p),
          }),
          signal,
        );
        if (!message) continue;
        const position = message.header?.get(OUTBOX_HEADERS.position);
        if (!position) {
          throw new Error(
            `Stream ${this.#stream} has a message on ${message.subject} without a ${OUTBOX_HEADERS.position} header: its subjects under "${this.#prefix}" must be the relay's alone`,
          );
        }
        last.set(p, position);
      }
    };
    // every worker ends (at its first failure) before this one fails
    const workers = await Promise.allSettled(
      Array.from({ length: 16 }, () =>
        worker().catch((error: unknown) => {
          next = partitions.length;
          throw error;
        })),
    );
    const failed = workers.find((w) => w.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return last;
  }

  /**
   * Publishes a batch: each partition's events in order, one PubAck at a
   * time, partitions at once; events the stream has are skipped. Waits for
   * every partition to end before failing, so nothing is in flight when
   * the relay reads the stream again. Once `signal` aborts (a stop) no
   * publish starts; once `abandon` does, the publishes under way are given
   * up, their partitions noted as unsettled, and it rejects with
   * `Stopping`.
   */
  async #publish(
    events: readonly StoredEvent[],
    floor: ReadonlyMap<number, StreamPosition>,
    done: Map<number, StreamPosition>,
    inject:
      | ((set: (key: string, value: string) => void) => void)
      | undefined,
    signal: AbortSignal,
    abandon: AbortSignal,
  ): Promise<void> {
    const byPartition = new Map<number, StoredEvent[]>();
    const compare = this.#reader.comparePositions.bind(this.#reader);
    for (const event of events) {
      const p = event.partition;
      // a partition ahead of the earliest has handled some of the batch
      if (compare(event.position, floor.get(p) ?? "") <= 0) continue;
      if (compare(event.position, done.get(p) ?? "") <= 0) {
        this.#skipped++;
        continue;
      }
      let list = byPartition.get(p);
      if (!list) byPartition.set(p, list = []);
      list.push(event);
    }
    const js = this.#js!;
    const encoder = new TextEncoder();
    const results = await Promise.allSettled(
      [...byPartition].map(async ([p, list]) => {
        for (const event of list) {
          if (signal.aborted) throw new Stopping();
          if (performance.now() > this.#publishUntil) {
            throw new Error(
              `The claim on ${this.#name} could lapse before another publish ends: the batch stops here`,
            );
          }
          const type = event.aggregateType;
          if (type === undefined) {
            throw new Error(
              `The reader gave event ${event.sequenceNumber} of ${event.aggregateId} without its aggregate's type`,
            );
          }
          const h = headers();
          h.set(OUTBOX_HEADERS.position, event.position);
          h.set(OUTBOX_HEADERS.aggregateId, event.aggregateId);
          h.set(OUTBOX_HEADERS.aggregateType, type);
          h.set(OUTBOX_HEADERS.aggregateSequence, String(event.sequenceNumber));
          h.set(OUTBOX_HEADERS.eventType, event.eventType);
          h.set(OUTBOX_HEADERS.createdAt, event.createdAt.toISOString());
          inject?.((key, value) => h.set(key, value));
          const publishing = js.publish(
            outboxSubject(
              this.#prefix,
              p,
              type,
              event.aggregateId,
            ),
            encoder.encode(event.payload),
            {
              // the Nats-Msg-Id header: JetStream drops a repeat
              msgID: `${event.aggregateId}/${event.sequenceNumber}`,
              headers: h,
              timeout: this.#publishTimeoutMs,
            },
          );
          try {
            await untilStopped(publishing, abandon);
          } catch (error) {
            // given up: in the stream or not, nobody can tell yet
            if (error instanceof Stopping) this.#unsettled.add(p);
            throw error;
          }
          done.set(p, event.position);
          this.#published++;
        }
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}
