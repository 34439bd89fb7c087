/**
 * Asynchronous processors: projectors and workflows that run after the
 * commit, in this or another process, catching up after downtime.
 *
 * A processor reads the event stream in commit order from its checkpoint
 * (see {@linkcode EventReader}), which never skips an event that commits
 * late. In each round it claims itself for this runner (a lease with a
 * fencing token, so one process at a time acts for it), handles a batch,
 * and moves its checkpoint past every event scanned:
 *
 * - a **projector**'s row writes for the batch and the checkpoint are
 *   stored in one transaction, only while the claim holds: every event
 *   takes effect exactly once;
 * - a **workflow** handles each event in a unit of work of its own and the
 *   checkpoint moves after the batch: at least once. The commands it
 *   issues get ids derived from the event, so handling an event again
 *   cannot store them twice, and {@linkcode Workflow.idempotencyKey} gives
 *   a key for side effects of its own.
 *
 * A processor whose class says `static partitioned = true` runs as
 * several **members**: every runner that runs it (in this or other
 * processes) joins, and the store's partitions (see `partitionOf`) are
 * shared out among the live members, each partition claimed with a
 * fencing token of its own and checkpointed on its own. All of an
 * aggregate's events are in one partition, so each aggregate's events are
 * still handled in commit order, by one member at a time. A member that
 * stops gives its partitions up at once; one that dies loses them when its
 * claims lapse (after `leaseMs`), and the others take them on then: each
 * member renews every half `leaseMs`, and also when another member's
 * entry is due to lapse. A member reads its partitions
 * together, in one read per round from the earliest of their checkpoints.
 * A processor never runs both ways at once (in a rolling deploy, say): its
 * members take no partition while an unpartitioned claim is live, and
 * once it has partitions, a runner configured unpartitioned runs it as a
 * member too (alone, it holds every partition), going on where each
 * partition is, until `processors reset`.
 *
 * A handler that throws sets its aggregate aside ("parks" it): that
 * aggregate's later events wait behind the failed one, other aggregates go
 * on, and {@linkcode ProcessorRunner.retry} or
 * {@linkcode ProcessorRunner.skip} lets it go on in order.
 *
 * Rounds repeat with a pause that grows while there is nothing to do and
 * shrinks to `pollMs.min` when events come; under load (more than 2,000
 * events a second) it grows with the rate up to `pollMs.busyMax`, so that
 * fewer, larger rounds leave the database to the writers. A store write
 * never notifies processors (a notification inside the commit would slow
 * every commit).
 * Catching up, the batch after a full one is read while that one is
 * handled and stored, so the database reads while this process works.
 *
 * @module
 */
import { CheckpointWatch } from "./_checkpoint_watch.ts";
import {
  checkPollPauses,
  pauseAfter,
  type PollMs,
  type PollPauses,
} from "./_poll_pause.ts";
import type { CommandService } from "./command_service.ts";
import { RecordWriteRejectedError, SequentError } from "./errors.ts";
import type { RecordStore } from "./record_store.ts";
import type { Event } from "./event.ts";
import { deliver, EventRoutes, handledEventTypes } from "./event_dispatch.ts";
import type { EventHandler } from "./event_handler.ts";
import type {
  EventBatch,
  EventReader,
  StoredEvent,
  StreamPosition,
} from "./event_reader.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import { routedClasses } from "./message_router.ts";
import { partitionOf } from "./partition.ts";
import { takeShare } from "./_partition_share.ts";
import { earliestPosition } from "./_earliest_position.ts";
import { Projector, withRecordStore } from "./projector.ts";
import type {
  HorizonBlocker,
  Lease,
  ParkChange,
  ParkedAggregate,
  ProcessorStore,
} from "./processor_store.ts";
import { Workflow } from "./workflow.ts";
import { readTraceLinks } from "./telemetry.ts";
import { GivenUp, settledWithin, untilStoppedWithin } from "./_stop_grace.ts";

/**
 * How long, at most, a stopped run waits for the store to take a
 * processor's claim and membership back, both together; what it does not
 * take back lapses.
 */
const GIVE_BACK_MS = 500;

/**
 * The name a processor's checkpoint is kept under: the class's static
 * `processorName` when it has one, else its class name. Keep it stable:
 * renaming the class starts the processor over.
 *
 * @example
 * ```ts
 * import { Projector, processorName } from "@sequent/core";
 *
 * class SearchIndex extends Projector {
 *   static processorName = "search_index";
 * }
 * console.assert(processorName(new SearchIndex()) === "search_index");
 * ```
 *
 * @param handler The projector or workflow.
 * @returns Its name.
 */
export function processorName(handler: EventHandler): string {
  const cls = handler.constructor as { processorName?: unknown; name: string };
  return typeof cls.processorName === "string" && cls.processorName !== ""
    ? cls.processorName
    : cls.name;
}

/**
 * Whether a processor runs partitioned, as several members: its class's
 * static `partitioned` is `true`. Only a processor whose handlers depend
 * on each aggregate's order alone (not on the order between aggregates)
 * may say so.
 *
 * @example
 * ```ts
 * import { isPartitioned, Projector } from "@sequent/core";
 *
 * class SearchIndex extends Projector {
 *   static partitioned = true;
 * }
 * console.assert(isPartitioned(new SearchIndex()));
 * ```
 *
 * @param handler The projector or workflow.
 * @returns Whether it runs partitioned.
 */
export function isPartitioned(handler: EventHandler): boolean {
  return (handler.constructor as { partitioned?: unknown }).partitioned ===
    true;
}

/**
 * Options of a {@linkcode ProcessorRunner}.
 *
 * @example
 * ```ts
 * import type { ProcessorRunnerOptions } from "@sequent/core";
 *
 * const tuning: Partial<ProcessorRunnerOptions> = { batchSize: 1_000, leaseMs: 10_000 };
 * ```
 */
export interface ProcessorRunnerOptions {
  /** Where checkpoints, claims and parked aggregates are kept. */
  readonly store: ProcessorStore;
  /** The command service (its serializer, and units for workflows). */
  readonly service: CommandService;
  /** The projectors and workflows to run asynchronously. */
  readonly processors: readonly EventHandler[];
  /**
   * Who this runner is, unique per runner (default: `runner:` and a random
   * part; `createApp` adds the host and the process id).
   */
  readonly owner?: string | undefined;
  /** Events per batch (default 500). */
  readonly batchSize?: number | undefined;
  /**
   * How long a claim lasts unless renewed (default 5,000 ms): a whole
   * number of milliseconds from 1 to 2,147,483,647 (the PostgreSQL store
   * keeps it as an `integer`).
   */
  readonly leaseMs?: number | undefined;
  /** The pauses between rounds (see {@linkcode PollMs}). */
  readonly pollMs?: PollMs | undefined;
  /** Where failures are logged (default: warnings and errors to the console). */
  readonly logger?: Logger | undefined;
}

/**
 * One partition of a partitioned processor, as `processors status` shows
 * it.
 *
 * @example
 * ```ts
 * import type { PartitionStatus } from "@sequent/core";
 *
 * function line(p: PartitionStatus): string {
 *   return `${p.partition}: ${p.owner ?? "nobody"}, ${p.lagEvents} behind`;
 * }
 * ```
 */
export interface PartitionStatus {
  /** The partition. */
  readonly partition: number;
  /** The member holding it, if one does. */
  readonly owner: string | undefined;
  /** Where it has handled up to. */
  readonly checkpoint: StreamPosition;
  /** How many of its events it has still to handle (counted among the processor's next 10,000). */
  readonly lagEvents: number;
}

/**
 * A processor's state, as `processors status` shows it.
 *
 * @example
 * ```ts
 * import type { ProcessorStatus } from "@sequent/core";
 *
 * function line(s: ProcessorStatus): string {
 *   return `${s.name}: ${s.lagEvents} events behind, ${s.parked.length} parked`;
 * }
 * ```
 */
export interface ProcessorStatus {
  /** The processor's name. */
  readonly name: string;
  /**
   * Whether it projects rows or runs a workflow; `other` for a processor
   * recorded in the store that this runner does not run (an outbox relay,
   * say), shown with `includeOthers`.
   */
  readonly kind: "projector" | "workflow" | "other";
  /** Where it has handled up to. */
  readonly checkpoint: StreamPosition;
  /** The runner holding it, if one does. */
  readonly owner: string | undefined;
  /** How many events it has still to read (counted up to 10,000). */
  readonly lagEvents: number;
  /** How old the oldest event it has still to read is, in milliseconds (0 when none). */
  readonly lagMs: number;
  /**
   * The aggregates it set aside, oldest first (at most `parkedLimit` when
   * `status` was given one).
   */
  readonly parked: readonly ParkedAggregate[];
  /** How many aggregates it set aside, all of them. */
  readonly parkedCount: number;
  /** Its partitions, when it runs partitioned (else empty). */
  readonly partitions: readonly PartitionStatus[];
  /** Its live members, when it runs partitioned (else empty). */
  readonly members: readonly string[];
  /**
   * The transaction that holds every processor back, when one has run
   * longer than the longest polling pause: events committed after it
   * started wait until it ends (they are never skipped).
   */
  readonly blockedBy: HorizonBlocker | undefined;
}

/**
 * Options of {@linkcode ProcessorRunner.waitFor}.
 *
 * @example
 * ```ts
 * import type { WaitForOptions } from "@sequent/core";
 *
 * const options: WaitForOptions = { processors: ["PostSearchProjector"], timeoutMs: 2_000 };
 * ```
 */
export interface WaitForOptions {
  /** The processors to wait for (default: all of this runner's). */
  readonly processors?: readonly string[] | undefined;
  /** Give up after this long with {@linkcode ProcessorTimeoutError} (default 5,000 ms). */
  readonly timeoutMs?: number | undefined;
}

/**
 * Processors had not passed a read-your-writes token when the wait ended.
 *
 * @example
 * ```ts
 * import { ProcessorTimeoutError } from "@sequent/core";
 *
 * const error = new ProcessorTimeoutError("12:40", ["search"], 2_000);
 * console.assert(error.processors[0] === "search");
 * ```
 */
export class ProcessorTimeoutError extends SequentError {
  /** The token waited for. */
  readonly token: string;
  /** The processors that had not passed it. */
  readonly processors: readonly string[];

  /**
   * Creates the error.
   *
   * @param token The token.
   * @param processors The processors still behind.
   * @param timeoutMs How long the wait took.
   */
  constructor(
    token: string,
    processors: readonly string[],
    timeoutMs: number,
  ) {
    super(
      `Processors ${
        processors.join(", ")
      } had not handled position ${token} after ${timeoutMs} ms`,
    );
    this.name = "ProcessorTimeoutError";
    this.token = token;
    this.processors = processors;
  }
}

/** One processor, as the runner keeps it. */
class Running {
  readonly name: string;
  readonly handler: EventHandler;
  readonly kind: "projector" | "workflow";
  /** The event types it handles (undefined: it may handle any). */
  readonly eventTypes: readonly string[] | undefined;
  /** Its routes. */
  readonly routes: EventRoutes<EventHandler>;
  /**
   * Whether it runs as members sharing partitions: its class says so, or
   * the store holds it partitioned (from an earlier deploy).
   */
  partitioned: boolean;
  /** The live claim, if this runner holds one. */
  lease: Lease | undefined;
  /** When to renew the claim (half its time), on `performance.now()`'s clock. */
  renewAt = 0;
  /**
   * Until when the claim surely holds, on the same clock: its time from
   * before it was asked for. A workflow starts no event after that.
   */
  validUntil = 0;
  /**
   * Where it has handled up to, as this runner stored it under its claim
   * (partitioned: the earliest of its partitions').
   */
  checkpoint: StreamPosition = "";
  /** Partitioned: the store's partition count. */
  partitionCount = 0;
  /** Partitioned: the partitions held, and where each has handled up to. */
  checkpoints = new Map<number, StreamPosition>();
  /** The aggregates it set aside, as last read (with operators' requests). */
  parked = new Map<string, ParkedAggregate>();
  /** Read the claim and the parked aggregates again on the next round. */
  refresh = true;
  /**
   * The longest of its rounds that ended within a claim's time: a round is
   * not begun on a claim with less than twice this left.
   */
  roundMs = 0;
  /** When that round ended. */
  roundEndedAt = 0;
  /** The current pause between rounds. */
  pauseMs: number;
  /** The end of the last round started (rounds of one processor queue up). */
  queue: Promise<void> = Promise.resolve();
  /**
   * The batch after a full one, read while that one is handled (undefined
   * in the promise: the read failed, and is made again when needed).
   */
  ahead:
    | {
      readonly after: StreamPosition;
      readonly batch: Promise<EventBatch | undefined>;
    }
    | undefined;

  constructor(handler: EventHandler, pauseMs: number) {
    this.handler = handler;
    this.name = processorName(handler);
    this.kind = handler instanceof Workflow ? "workflow" : "projector";
    this.routes = new EventRoutes([handler]);
    this.eventTypes = handledEventTypes([handler]);
    this.partitioned = isPartitioned(handler);
    this.pauseMs = pauseMs;
  }

  /** The partitions held, ascending (partitioned). */
  get held(): number[] {
    return [...this.checkpoints.keys()].sort((a, b) => a - b);
  }
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split(
    "\n",
  )[0]!;
}

/**
 * A commit found the claim gone (lapsed, or taken by another runner):
 * nothing of the batch was stored, and the next round claims again.
 */
class LostClaimError extends SequentError {}

/** The handler threw on this event. */
class HandlerFailure extends Error {
  readonly event: StoredEvent;
  readonly error: unknown;

  constructor(event: StoredEvent, error: unknown) {
    super(message(error));
    this.event = event;
    this.error = error;
  }
}

/**
 * What failed a commit of events for the events' sake: a handler that
 * threw, or writes the store refused once the handlers had run (see
 * `ProcessorStore.commit`); `undefined` for anything else (a lost
 * connection, a lost claim), which the round does not blame on an event.
 */
function eventFailure(error: unknown): unknown {
  if (error instanceof HandlerFailure) return error.error;
  if (error instanceof RecordWriteRejectedError) return error;
  return undefined;
}

/**
 * Runs projectors and workflows asynchronously; see the module
 * documentation.
 *
 * @example A projector kept up to date after the commit
 * ```ts
 * import {
 *   attrs, column, CommandService, Event, InMemoryEventStore,
 *   InMemoryProcessorStore, ProcessorRunner, Projector, table,
 * } from "@sequent/core";
 *
 * class Noted extends Event.define("Doc.Noted", { text: attrs.string() }) {}
 * const notes = table("doc_notes", { aggregateId: column.uuid().primaryKey(), text: column.text().nullable() });
 * class NoteProjector extends Projector {
 *   static override readonly manages = [notes];
 *   static {
 *     this.on(Noted, (p, e) => p.createRecord(notes, { aggregateId: e.aggregateId, text: e.text }));
 *   }
 * }
 * const store = new InMemoryEventStore();
 * const service = new CommandService({ eventStore: store, commandHandlers: [] });
 * const runner = new ProcessorRunner({
 *   store: new InMemoryProcessorStore(store), service, processors: [new NoteProjector()],
 * });
 * const id = crypto.randomUUID();
 * const token = await service.commitEvents([{ events: [new Noted({ aggregateId: id, sequenceNumber: 1, text: "hi" })] }]);
 * await runner.round();
 * await runner.waitFor(token);
 * console.assert((await store.records.find(notes, { aggregateId: id }))[0]?.text === "hi");
 * ```
 */
export class ProcessorRunner {
  readonly #store: ProcessorStore;
  readonly #reader: EventReader;
  /** Serves `waitFor`: one read of the checkpoints for every waiting caller. */
  readonly #watch: CheckpointWatch;
  readonly #service: CommandService;
  readonly #processors: readonly Running[];
  readonly #owner: string;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #poll: PollPauses;
  readonly #logger: Logger;
  readonly #running = new Set<Promise<void>>();
  #stopping = new AbortController();

  /**
   * Creates a runner; nothing runs until {@linkcode ProcessorRunner.run}
   * or {@linkcode ProcessorRunner.round}.
   *
   * @param options The store, the service, the processors and tuning.
   * @throws {RangeError} when `batchSize`, `leaseMs` or `pollMs` is out of
   *   range, naming the option and the value.
   */
  constructor(options: ProcessorRunnerOptions) {
    this.#store = options.store;
    this.#reader = options.store.reader;
    this.#watch = new CheckpointWatch({
      read: async (names) =>
        new Map(
          (await this.#store.records(names, { parkedLimit: 0 })).map((r) => [
            r.name,
            r.checkpoint,
          ]),
        ),
      compare: (a, b) => this.#reader.comparePositions(a, b),
      timedOut: (wait, behind) =>
        new ProcessorTimeoutError(wait.token, behind, wait.timeoutMs),
    });
    this.#service = options.service;
    this.#batchSize = options.batchSize ?? 500;
    this.#leaseMs = options.leaseMs ?? 5_000;
    this.#poll = checkPollPauses(options.pollMs);
    this.#logger = options.logger ?? consoleLogger("warn");
    this.#owner = options.owner ?? `runner:${crypto.randomUUID().slice(0, 8)}`;
    if (!Number.isSafeInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new RangeError(
        `batchSize must be a positive integer, got ${options.batchSize}`,
      );
    }
    // 0, negative or NaN leases lapse at once, so every commit fails as if
    // another runner took the claim; PostgreSQL rejects NaN and values past
    // its `integer`, and would round a fraction the runner does not
    if (
      !Number.isInteger(this.#leaseMs) || this.#leaseMs < 1 ||
      this.#leaseMs > 2_147_483_647
    ) {
      throw new RangeError(
        `leaseMs must be a whole number of milliseconds from 1 to 2147483647, got ${options.leaseMs}`,
      );
    }
    const names = new Set<string>();
    this.#processors = options.processors.map((handler) => {
      if (!(handler instanceof Projector) && !(handler instanceof Workflow)) {
        throw new TypeError(
          `processors must be projectors or workflows, got ${
            (handler as object)?.constructor?.name ?? String(handler)
          }`,
        );
      }
      const running = new Running(handler, this.#poll.min);
      if (names.has(running.name)) {
        throw new TypeError(
          `Two processors are named "${running.name}": give one a static processorName`,
        );
      }
      names.add(running.name);
      // the stored type names must resolve to the classes it routes on
      // (a processor is not among the service's inline handlers)
      for (const cls of routedClasses(handler.constructor)) {
        this.#service.serializer.registry.register("event", cls);
      }
      return running;
    });
  }

  /** The names of the processors this runner runs. */
  get names(): readonly string[] {
    return this.#processors.map((p) => p.name);
  }

  /** Who this runner is, in claims. */
  get owner(): string {
    return this.#owner;
  }

  /**
   * Runs every processor until `signal` aborts; then gives their claims
   * up. A round that fails (the database is away, say) is logged and tried
   * again after the longest pause. At the stop, a round under way is
   * waited for a claim's time (`leaseMs`) at most, and the claims are
   * given back within half a second more, or left to lapse (see
   * {@linkcode ProcessorRunner.stop}).
   *
   * @param options The signal that stops the run.
   */
  run(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#stopping.signal])
      : this.#stopping.signal;
    // while it runs, how long a transaction has held processors back is
    // measured when metrics are collected
    const unobserve = this.#service.telemetry?.observeHorizon(async () => {
      const blocker = await this.#store.horizonBlocker();
      return blocker && blocker.ageMs > this.#poll.max
        ? blocker.ageMs / 1000
        : 0;
    });
    const running = this.#run(signal);
    this.#running.add(running);
    return running.finally(() => {
      this.#running.delete(running);
      unobserve?.();
    });
  }

  /**
   * Ends every {@linkcode ProcessorRunner.run} of this runner and waits
   * for them: the batches under way finish or roll back, claims are given
   * up. `App.close()` calls it. A later `run` starts again.
   *
   * It does not wait without end for a database that does not answer: a
   * batch under way is given up a claim's time (`leaseMs`) after the stop,
   * when the claim has lapsed, and the claims get half a second more to
   * be given back. A batch given up commits when the database answers, or
   * rolls back when the client is closed: either way each event takes
   * effect once, as after a kill (a workflow's, at least once). A later
   * round of the same processor waits for it.
   */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.allSettled([...this.#running]);
    this.#stopping = new AbortController();
  }

  async #run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.#processors.map(async (p) => {
      let roundAt = performance.now();
      while (!signal.aborted) {
        let handled = 0;
        const started = performance.now();
        try {
          // a stop waits for the round under way for a claim's time at
          // most: past it, the claim has lapsed (see stop())
          handled = await untilStoppedWithin(
            this.#round(p, true),
            signal,
            () => this.#leaseMs,
          );
        } catch (error) {
          if (error instanceof GivenUp) {
            this.#logger.log(
              "warn",
              `Processor ${p.name}: the stop gave up its round under way after ${this.#leaseMs} ms (the database did not answer); its claim lapses`,
            );
            break;
          }
          this.#logger.log("warn", `Processor ${p.name}: ${message(error)}`, {
            error,
          });
          p.pauseMs = this.#poll.max;
        }
        p.pauseMs = pauseAfter(
          this.#poll,
          p.pauseMs,
          handled,
          started - roundAt,
        );
        roundAt = started;
        if (handled >= this.#batchSize) continue;
        await sleep(p.pauseMs, signal);
      }
      // given back within GIVE_BACK_MS all together, or left to lapse
      const until = performance.now() + GIVE_BACK_MS;
      await settledWithin(this.#dropReadAhead(p), GIVE_BACK_MS);
      const lease = p.lease;
      if (lease) {
        p.lease = undefined;
        await settledWithin(
          this.#store.release(p.name, lease),
          until - performance.now(),
        );
      }
      if (p.partitioned) {
        p.checkpoints.clear();
        await settledWithin(
          this.#store.leave(p.name, this.#owner),
          until - performance.now(),
        );
      }
    }));
  }

  /**
   * One round of every processor (or of those named): claim, do what an
   * operator asked for its parked aggregates, read a batch, handle it,
   * move the checkpoint. For tests and tools; `run` repeats it.
   *
   * @param names The processors (default: all).
   * @returns How many events were handled.
   */
  round(names?: readonly string[]): Promise<number> {
    return this.#roundAll(names, false);
  }

  async #roundAll(
    names: readonly string[] | undefined,
    readAhead: boolean,
  ): Promise<number> {
    let handled = 0;
    for (const p of this.#processors) {
      if (names && !names.includes(p.name)) continue;
      handled += await this.#round(p, readAhead);
    }
    return handled;
  }

  /** Waits for a read ahead still under way and forgets it. */
  async #dropReadAhead(p: Running): Promise<void> {
    const ahead = p.ahead;
    p.ahead = undefined;
    await ahead?.batch;
  }

  /**
   * Runs rounds until every processor has read everything committed.
   *
   * @param names The processors (default: all).
   */
  async catchUp(names?: readonly string[]): Promise<void> {
    try {
      await this.#catchUp(names);
    } finally {
      for (const p of this.#processors) await this.#dropReadAhead(p);
    }
  }

  async #catchUp(names: readonly string[] | undefined): Promise<void> {
    for (;;) {
      let before: Map<string, string>;
      try {
        // while rounds handle events, there is no need to ask
        if (await this.#roundAll(names, true) > 0) continue;
        before = await this.#checkpoints(names);
        // (a round of its own: the one above may have found the claim
        // held, and this one may be the one that gets it)
        await this.round(names);
      } catch (error) {
        // a claim that lapsed during a slow round (or was taken) stored
        // nothing: claim again, as run does, and wait if another holds it
        if (!(error instanceof LostClaimError)) throw error;
        this.#logger.log("warn", message(error), { error });
        continue;
      }
      const records = await this.#store.records(names ?? this.names);
      let behind = false;
      for (const record of records) {
        const batch = await this.#reader.readEvents(record.checkpoint, {
          limit: 1,
        });
        if (batch.events.length > 0) behind = true;
      }
      if (!behind) return;
      const after = await this.#checkpoints(names);
      if ([...after].every(([k, v]) => before.get(k) === v)) {
        // another runner holds them: wait for it
        await sleep(this.#poll.max);
      }
    }
  }

  async #checkpoints(
    names: readonly string[] | undefined,
  ): Promise<Map<string, string>> {
    const records = await this.#store.records(names ?? this.names);
    return new Map(records.map((r) => [r.name, r.checkpoint]));
  }

  #processor(name: string): Running {
    const p = this.#processors.find((p) => p.name === name);
    if (!p) {
      throw new SequentError(
        `No processor "${name}": this app's processors are ${
          this.names.join(", ") || "none"
        }`,
      );
    }
    return p;
  }

  /**
   * One round of `p`, after any round of it already under way in this
   * runner (`run`, `round` and `catchUp` may overlap): two rounds under the
   * same claim would handle the same batch twice.
   */
  #round(p: Running, readAhead = false): Promise<number> {
    const round = p.queue.then(() => this.#roundNow(p, readAhead));
    p.queue = round.then(() => {}, () => {});
    return round;
  }

  /**
   * A round: the claim is renewed (and the parked aggregates read again,
   * with what operators asked for them) once half its time has passed, not
   * on every round; a commit is fenced by the claim whatever this runner
   * believes, so a lost claim is found at the latest there.
   */
  async #roundNow(p: Running, readAhead: boolean): Promise<number> {
    const now = performance.now();
    try {
      return await this.#roundOn(p, readAhead, now);
    } finally {
      const ended = performance.now();
      if (
        ended - now >= p.roundMs || ended - p.roundEndedAt > this.#leaseMs
      ) {
        p.roundMs = ended - now;
        p.roundEndedAt = ended;
      }
    }
  }

  async #roundOn(
    p: Running,
    readAhead: boolean,
    now: number,
  ): Promise<number> {
    let lease = p.lease;
    // renewed at half its time, and before a round that might outlast it
    // (a busy machine, a slow handler): a batch stored after its claim
    // lapsed is refused, and handled again
    if (
      !lease || p.refresh || now >= p.renewAt ||
      now + 2 * p.roundMs >= p.validUntil
    ) {
      lease = p.partitioned
        ? await this.#claimPartitions(p, now)
        : await this.#claim(p, now);
      if (!lease) return 0;
    }
    if (p.partitioned && p.checkpoints.size === 0) return 0;
    const checkpoint = p.checkpoint;
    const batch = await this.#read(p, checkpoint, readAhead);
    let events = batch.events;
    if (p.partitioned) {
      // partitions ahead of the earliest have handled some of these
      events = events.filter((e) =>
        this.#reader.comparePositions(
          e.position,
          p.checkpoints.get(e.partition) ?? "",
        ) > 0
      );
    }
    const telemetry = this.#service.telemetry;
    if (events.length === 0) {
      if (this.#reader.comparePositions(batch.next, checkpoint) > 0) {
        await this.#commit(p, lease, batch.next);
      }
      if (telemetry && batch.caughtUp) telemetry.consumerLag(p.name, 0, 0);
      return batch.events.length;
    }
    if (telemetry === undefined) {
      await this.#handleBatch(p, lease, events, batch.next);
      return batch.events.length;
    }
    // lag as this read saw it: the events still to handle (a lower bound
    // when the read was cut by the limit) and the oldest one's age
    telemetry.consumerLag(
      p.name,
      events.length,
      Math.max(0, Date.now() - events[0]!.createdAt.getTime()) / 1000,
    );
    await telemetry.processBatch(
      {
        processor: p.name,
        kind: p.kind,
        events: events.length,
        ...await readTraceLinks(this.#reader, events, this.#logger),
      },
      () => this.#handleBatch(p, lease, events, batch.next),
    );
    if (batch.caughtUp) telemetry.consumerLag(p.name, 0, 0);
    return batch.events.length;
  }

  #handleBatch(
    p: Running,
    lease: Lease,
    events: readonly StoredEvent[],
    next: StreamPosition,
  ): Promise<void> {
    return p.kind === "projector"
      ? this.#projectBatch(p, lease, events, next, p.parked)
      : this.#workflowBatch(p, lease, events, next, p.parked);
  }

  /**
   * Claims (or renews) an unpartitioned processor; when the store holds it
   * partitioned, runs it as a member from now on.
   */
  async #claim(p: Running, now: number): Promise<Lease | undefined> {
    const lease = await this.#store.claim(p.name, this.#owner, this.#leaseMs);
    p.lease = lease;
    if (!lease) {
      const [record] = await this.#store.records([p.name], { parkedLimit: 0 });
      if (!record || record.partitions.length === 0) return undefined;
      this.#logger.log(
        "info",
        `Processor ${p.name} is partitioned in the store: running it as a member of its partitions`,
      );
      p.partitioned = true;
      return await this.#claimPartitions(p, now);
    }
    p.renewAt = now + this.#leaseMs / 2;
    p.validUntil = now + this.#leaseMs;
    p.checkpoint = lease.checkpoint;
    const [record] = await this.#store.records([p.name]);
    await this.#takeParked(p, lease, record?.parked ?? []);
    return lease;
  }

  /**
   * Renews this member's entry, gives up the partitions that are no longer
   * its share, and claims (or renews) those that are.
   */
  async #claimPartitions(p: Running, now: number): Promise<Lease> {
    const share = await takeShare(
      this.#store,
      p.name,
      this.#owner,
      this.#leaseMs,
      p.lease,
    );
    p.partitionCount = share.partitions;
    const lease = share.lease;
    const held = lease.partitions ?? [];
    const before = p.held.join(",");
    p.checkpoints = new Map(held.map((c) => [c.partition, c.checkpoint]));
    // a batch read ahead was for the partitions held before
    if (p.held.join(",") !== before) await this.#dropReadAhead(p);
    p.lease = lease;
    p.renewAt = now + share.renewInMs;
    p.validUntil = now + this.#leaseMs;
    p.checkpoint = lease.checkpoint;
    if (held.length === 0) {
      p.parked = new Map();
      p.refresh = false;
      return lease;
    }
    const [record] = await this.#store.records([p.name]);
    await this.#takeParked(
      p,
      lease,
      (record?.parked ?? []).filter((k) =>
        p.checkpoints.has(partitionOf(k.aggregateId, p.partitionCount))
      ),
    );
    return lease;
  }

  /**
   * Takes the parked aggregates read with a claim, and does what operators
   * asked for them.
   */
  async #takeParked(
    p: Running,
    lease: Lease,
    parked: readonly ParkedAggregate[],
  ): Promise<void> {
    p.parked = new Map(parked.map((k) => [k.aggregateId, k]));
    p.refresh = false;
    for (const k of [...p.parked.values()]) {
      if (k.request === undefined) continue;
      const stillParked = await this.#resolve(p, lease, k);
      if (!stillParked) p.parked.delete(k.aggregateId);
    }
  }

  /**
   * The batch after `after`: the one read ahead when it starts there (a
   * read depends on nothing but the position), else read now. After a
   * full batch, with `readAhead`, the next one is read while this one is
   * handled: catching up, the database reads while this process works.
   */
  async #read(
    p: Running,
    after: StreamPosition,
    readAhead: boolean,
  ): Promise<EventBatch> {
    const ahead = p.ahead;
    p.ahead = undefined;
    const options = {
      limit: this.#batchSize,
      eventTypes: p.eventTypes,
      partitions: p.partitioned ? p.held : undefined,
    };
    const batch = (ahead?.after === after ? await ahead.batch : undefined) ??
      await this.#reader.readEvents(after, options);
    if (readAhead && batch.events.length >= this.#batchSize) {
      p.ahead = {
        after: batch.next,
        batch: this.#reader.readEvents(batch.next, options).then(
          (b) => b,
          () => undefined,
        ),
      };
    }
    return batch;
  }

  #deserialize(stored: StoredEvent): Event {
    return this.#service.serializer.deserializeEvent(stored);
  }

  async #project(p: Running, events: readonly StoredEvent[]): Promise<void> {
    for (const stored of events) {
      let event: Event;
      try {
        event = this.#deserialize(stored);
        // awaited only when a handler is still working: most finish at once
        const delivering = deliver(p.routes, event);
        if (delivering) await delivering;
      } catch (error) {
        throw new HandlerFailure(stored, error);
      }
    }
  }

  async #projectBatch(
    p: Running,
    lease: Lease,
    events: readonly StoredEvent[],
    next: StreamPosition,
    parked: Map<string, ParkedAggregate>,
  ): Promise<void> {
    const live = events.filter((e) => !parked.has(e.aggregateId));
    try {
      await this.#commit(
        p,
        lease,
        next,
        (records) => withRecordStore(records, () => this.#project(p, live)),
      );
      return;
    } catch (error) {
      if (eventFailure(error) === undefined) throw error;
    }
    // one event failed: go one event at a time to set only its aggregate aside
    for (const event of events) {
      if (parked.has(event.aggregateId)) continue;
      try {
        await this.#commit(
          p,
          lease,
          event.position,
          (records) =>
            withRecordStore(records, () => this.#project(p, [event])),
        );
      } catch (error) {
        const failure = eventFailure(error);
        if (failure === undefined) throw error;
        await this.#park(p, lease, event, failure, parked);
      }
    }
    await this.#commit(p, lease, next);
  }

  async #workflowBatch(
    p: Running,
    lease: Lease,
    events: readonly StoredEvent[],
    next: StreamPosition,
    parked: Map<string, ParkedAggregate>,
  ): Promise<void> {
    let done: StreamPosition | undefined;
    for (const event of events) {
      if (performance.now() > p.validUntil - this.#leaseMs / 4) {
        // the claim may lapse while this event is handled, and another
        // runner take over: stop here, store what is done, renew
        if (done !== undefined) await this.#commit(p, lease, done);
        p.renewAt = 0;
        return;
      }
      if (!parked.has(event.aggregateId)) {
        try {
          await this.#runWorkflow(p, event);
        } catch (error) {
          await this.#park(p, lease, event, error, parked);
        }
      }
      done = event.position;
    }
    await this.#commit(p, lease, next);
  }

  /**
   * Handles one event with a workflow, in a unit of its own: run again
   * after a conflict as the service's `retryOnConflict` says, within its
   * `commandTimeoutMs`, its commands' ids derived from the event, the same
   * at every attempt and every time the event is handled (handled before:
   * its commands are stored, at least once, never twice).
   */
  async #runWorkflow(p: Running, stored: StoredEvent): Promise<void> {
    await this.#service.dispatchInUnit(p.handler, this.#deserialize(stored), {
      idempotencyKey:
        `${p.name}:${stored.aggregateId}:${stored.sequenceNumber}`,
    });
  }

  async #park(
    p: Running,
    lease: Lease,
    event: StoredEvent,
    error: unknown,
    parked: Map<string, ParkedAggregate>,
  ): Promise<void> {
    const change: ParkChange = {
      park: {
        aggregateId: event.aggregateId,
        sequenceNumber: event.sequenceNumber,
        error: message(error),
      },
    };
    await this.#commit(p, lease, event.position, undefined, [change]);
    parked.set(event.aggregateId, {
      ...change.park,
      parkedAt: new Date(),
      request: undefined,
    });
    this.#logger.log(
      "error",
      `Processor ${p.name} set aggregate ${event.aggregateId} aside at event ${event.sequenceNumber} (${event.eventType}): ${
        message(error)
      }`,
      { error },
    );
  }

  /**
   * Does what an operator asked for a parked aggregate: handles its events
   * from the failed one (or the one after it, to skip) up to the
   * checkpoint, and takes it back; when one fails again, it stays parked
   * at that event. Returns whether it is still parked.
   */
  async #resolve(
    p: Running,
    lease: Lease,
    k: ParkedAggregate,
  ): Promise<boolean> {
    // its events up to where its partition has handled; the checkpoints
    // stay where they are (partitions behind that one must not pass
    // events they have not handled)
    const checkpoint = p.checkpoint;
    const upTo = p.partitioned
      ? p.checkpoints.get(partitionOf(k.aggregateId, p.partitionCount)) ??
        checkpoint
      : checkpoint;
    let events: readonly StoredEvent[] = await this.#reader.readAggregateEvents(
      k.aggregateId,
      k.sequenceNumber,
      upTo,
    );
    if (k.request === "skip") {
      events = events.filter((e) => e.sequenceNumber !== k.sequenceNumber);
    }
    if (p.eventTypes) {
      const types = new Set(p.eventTypes);
      events = events.filter((e) => types.has(e.eventType));
    }
    const telemetry = this.#service.telemetry;
    if (telemetry === undefined || events.length === 0) {
      return await this.#handleParked(p, lease, k, checkpoint, events);
    }
    // a batch of its own: a new trace, linked to the commands that stored
    // the events, and a workflow's commands are children of it
    return await telemetry.processBatch(
      {
        processor: p.name,
        kind: p.kind,
        events: events.length,
        ...await readTraceLinks(this.#reader, events, this.#logger),
      },
      () => this.#handleParked(p, lease, k, checkpoint, events),
    );
  }

  /** Handles a parked aggregate's events for `#resolve`. */
  async #handleParked(
    p: Running,
    lease: Lease,
    k: ParkedAggregate,
    checkpoint: StreamPosition,
    events: readonly StoredEvent[],
  ): Promise<boolean> {
    if (p.kind === "projector") {
      return await this.#projectParked(p, lease, k, checkpoint, events);
    }
    // a workflow's commands are stored as they run (at least once, each
    // with its idempotency key): it waits at the first that fails again
    for (const event of events) {
      try {
        await this.#runWorkflow(p, event);
      } catch (error) {
        await this.#parkAgain(p, lease, checkpoint, event, error);
        return true;
      }
    }
    await this.#commit(p, lease, checkpoint, undefined, [{
      unpark: k.aggregateId,
    }]);
    return false;
  }

  /**
   * A parked aggregate's events through a projector: all in one commit
   * with taking it back. When one fails, that commit stored nothing, and
   * they go again one at a time, each event's writes stored with the
   * aggregate's place (set aside at the next event, taken back after the
   * last), so that the ones before the failed event take effect once each
   * and it waits at that one.
   */
  async #projectParked(
    p: Running,
    lease: Lease,
    k: ParkedAggregate,
    checkpoint: StreamPosition,
    events: readonly StoredEvent[],
  ): Promise<boolean> {
    const writes = (some: readonly StoredEvent[]) => (records: RecordStore) =>
      withRecordStore(records, () => this.#project(p, some));
    const unpark: ParkChange = { unpark: k.aggregateId };
    try {
      await this.#commit(p, lease, checkpoint, writes(events), [unpark]);
      return false;
    } catch (error) {
      if (eventFailure(error) === undefined) throw error;
    }
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const next = events[i + 1];
      const place: ParkChange = next === undefined ? unpark : {
        park: {
          aggregateId: k.aggregateId,
          sequenceNumber: next.sequenceNumber,
          error: k.error,
        },
      };
      try {
        await this.#commit(p, lease, checkpoint, writes([event]), [place]);
      } catch (error) {
        const failure = eventFailure(error);
        if (failure === undefined) throw error;
        await this.#parkAgain(p, lease, checkpoint, event, failure);
        return true;
      }
    }
    return false;
  }

  /**
   * Sets a parked aggregate aside again, at the event that failed this
   * time; the checkpoint stays where it is.
   */
  async #parkAgain(
    p: Running,
    lease: Lease,
    checkpoint: StreamPosition,
    event: StoredEvent,
    error: unknown,
  ): Promise<void> {
    await this.#commit(p, lease, checkpoint, undefined, [{
      park: {
        aggregateId: event.aggregateId,
        sequenceNumber: event.sequenceNumber,
        error: message(error),
      },
    }]);
  }

  /** A fenced commit; a lost claim ends the round. */
  async #commit(
    p: Running,
    lease: Lease,
    to: StreamPosition,
    work?: Parameters<ProcessorStore["commit"]>[3],
    changes?: readonly ParkChange[],
  ): Promise<void> {
    const ok = await this.#store.commit(p.name, lease, to, work, changes);
    if (ok && p.partitioned) {
      // every held partition is at `to` now, unless it was past it
      for (const [n, at] of p.checkpoints) {
        if (this.#reader.comparePositions(at, to) < 0) p.checkpoints.set(n, to);
      }
      p.checkpoint = earliestPosition(this.#reader, p.checkpoints.values()) ??
        to;
    } else if (ok) {
      p.checkpoint = to;
    } else {
      p.lease = undefined;
      throw new LostClaimError(
        `Processor ${p.name} lost its claim to another runner; its batch was not stored`,
      );
    }
  }

  /**
   * The processors' state: checkpoint, holder, lag and parked aggregates.
   *
   * @param options `includeOthers`: also every other processor recorded in
   *   the store (an outbox relay, say), after this runner's, its lag
   *   counted over every event type. `parkedLimit`: lists at most that many
   *   of each one's parked aggregates, the oldest (`parkedCount` counts
   *   them all); without it, every one.
   * @returns One entry per processor of this runner (and the others).
   */
  async status(
    options: {
      readonly includeOthers?: boolean;
      readonly parkedLimit?: number | undefined;
    } = {},
  ): Promise<ProcessorStatus[]> {
    const records = new Map(
      (await this.#store.records(
        options.includeOthers ? undefined : this.names,
        { parkedLimit: options.parkedLimit },
      ))
        .map((r) => [r.name, r]),
    );
    const blocker = await this.#store.horizonBlocker();
    const blockedBy = blocker && blocker.ageMs > this.#poll.max
      ? blocker
      : undefined;
    const out: ProcessorStatus[] = [];
    const mine = new Set(this.names);
    const others = [...records.values()].filter((r) => !mine.has(r.name))
      .map((r) => ({
        name: r.name,
        kind: "other" as const,
        eventTypes: undefined,
      }));
    for (const p of [...this.#processors, ...others]) {
      const record = records.get(p.name);
      const checkpoint = record?.checkpoint ?? "";
      const ahead = await this.#reader.readEvents(checkpoint, {
        limit: 10_000,
        eventTypes: p.eventTypes,
      });
      // partitioned: an event is behind when its own partition has not
      // handled it (partitions ahead of the earliest have handled some)
      const partitions = record?.partitions ?? [];
      const lag = new Map(partitions.map((q) => [q.partition, 0]));
      const at = new Map(partitions.map((q) => [q.partition, q.checkpoint]));
      const behind = partitions.length === 0
        ? ahead.events
        : ahead.events.filter((e) =>
          this.#reader.comparePositions(
            e.position,
            at.get(e.partition) ?? "",
          ) > 0
        );
      for (const e of behind) {
        lag.set(e.partition, (lag.get(e.partition) ?? 0) + 1);
      }
      const oldest = behind[0];
      out.push({
        name: p.name,
        kind: p.kind,
        checkpoint,
        owner: record?.owner,
        lagEvents: behind.length,
        lagMs: oldest
          ? Math.max(0, Date.now() - oldest.createdAt.getTime())
          : 0,
        parked: record?.parked ?? [],
        parkedCount: record?.parkedCount ?? 0,
        partitions: partitions.map((q) => ({
          partition: q.partition,
          owner: q.owner,
          checkpoint: q.checkpoint,
          lagEvents: lag.get(q.partition) ?? 0,
        })),
        members: record?.members ?? [],
        blockedBy,
      });
    }
    return out;
  }

  /**
   * Asks a processor to handle a parked aggregate's failed event again (and
   * the ones that waited behind it): on this runner's next round, or, when
   * another runner holds it, once that one renews its claim (within half
   * the claim's time).
   *
   * @param name The processor.
   * @param aggregateId The parked aggregate.
   * @throws {SequentError} when the aggregate is not parked there.
   */
  async retry(name: string, aggregateId: string): Promise<void> {
    this.#processor(name).refresh = true;
    if (!(await this.#store.request(name, aggregateId, "retry"))) {
      throw new SequentError(
        `Aggregate "${aggregateId}" is not set aside by processor ${name}`,
      );
    }
  }

  /**
   * Asks a processor to skip a parked aggregate's failed event and handle
   * the ones that waited behind it, on its next round.
   *
   * @param name The processor.
   * @param aggregateId The parked aggregate.
   * @throws {SequentError} when the aggregate is not parked there.
   */
  async skip(name: string, aggregateId: string): Promise<void> {
    this.#processor(name).refresh = true;
    if (!(await this.#store.request(name, aggregateId, "skip"))) {
      throw new SequentError(
        `Aggregate "${aggregateId}" is not set aside by processor ${name}`,
      );
    }
  }

  /**
   * Starts a processor over from the first event: its checkpoint and
   * parked aggregates are forgotten, its holder loses its claim, and a
   * projector's tables are emptied in the same transaction, so it
   * rebuilds them from the first event.
   *
   * @param name The processor.
   */
  async reset(name: string): Promise<void> {
    const p = this.#processor(name);
    p.refresh = true;
    const tables = p.handler instanceof Projector
      ? (p.handler.constructor as typeof Projector).manages
      : [];
    await this.#store.reset(
      name,
      tables.length === 0 ? undefined : async (records) => {
        for (const table of tables) await records.delete(table, {});
      },
    );
  }

  /**
   * Resolves once every named processor has handled `token` (what
   * `executeCommands` resolved to), in this or any other process: a read
   * model is then up to date with those commands. A processor that does
   * not handle the token's events still passes it, as its checkpoint moves
   * over every event it reads.
   *
   * @param token The read-your-writes token (`""`: nothing to wait for).
   * @param options Which processors, and for how long.
   * @throws {ProcessorTimeoutError} when they had not passed it in time,
   *   even while a read of the checkpoints is still under way.
   * @throws {RangeError} when `timeoutMs` is not a non-negative number.
   * @throws {TypeError} when `token` is not a position of this runner's
   *   store (a typo, a tampered header, a token of another kind of store),
   *   naming it; the store's own error is its `cause`.
   */
  async waitFor(token: string, options: WaitForOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
      throw new RangeError(
        `timeoutMs must be a non-negative number of milliseconds, got ${options.timeoutMs}`,
      );
    }
    if (token === "") return;
    // refused here, as the caller's mistake, rather than failing the wait
    // later with the store's error about a position
    try {
      this.#reader.comparePositions(token, token);
    } catch (cause) {
      throw new TypeError(
        `waitFor() token ${
          JSON.stringify(token)
        } is not a position of this runner's store: pass what executeCommands resolved to`,
        { cause },
      );
    }
    await this.#watch.wait({
      token,
      processors: options.processors ?? this.names,
      timeoutMs,
    });
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
