/**
 * The command service: executes commands as one unit of work each call —
 * middleware, validation, every matching command handler, one atomic commit
 * of all changed aggregates' events with the command record, and the events'
 * dispatch to event handlers, all in one transaction.
 *
 * @module
 */
import { derivedCommandId, newCommandId } from "./_command_id.ts";
import { AggregateCache } from "./aggregate_cache.ts";
import {
  AggregateRepository,
  returnAggregatesToCache,
  useAggregateCache,
} from "./aggregate_repository.ts";
import type { AggregateClass } from "./aggregate_root.ts";
import {
  aggregateInternals,
  aggregateTypeOf,
  hasUniqueKeyDefinitions,
  snapshotConfigOf,
  uniqueKeysOf,
} from "./aggregate_root.ts";
import type { AttributedClass } from "./attributed.ts";
import { Command, setCausation } from "./command.ts";
import { CommandHandler } from "./command_handler.ts";
import {
  CommandNotValidError,
  CommandTimeoutError,
  DuplicateCommandError,
  NoCommandHandlerError,
  OptimisticLockError,
  TooManyCommandsError,
} from "./errors.ts";
import { type DryRunHandler, DryRunReport } from "./dry_run.ts";
import type { Event } from "./event.ts";
import { EventHandler } from "./event_handler.ts";
import type {
  EventStore,
  EventStoreTransaction,
  StreamCommit,
} from "./event_store.ts";
import type { JsonValue } from "./json.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import { handlersFor, routedClasses } from "./message_router.ts";
import { EventRoutes } from "./event_dispatch.ts";
import { Projector } from "./projector.ts";
import { MessageSerializer } from "./serializer.ts";
import type { CommitResult, Telemetry } from "./telemetry.ts";
import { TypeRegistry } from "./type_registry.ts";
import { Workflow } from "./workflow.ts";
import {
  activeUnit,
  type AfterCommitCallback,
  enqueue,
  runInUnit,
  type Unit,
  type UnitTrace,
} from "./unit_of_work.ts";

/**
 * Middleware around each command's execution: inspect the command, reject
 * it by throwing, or wrap `next()` (timing, logging, authorisation).
 *
 * Middleware that catches the error of `next()` lets the unit go on without
 * that command when the command failed before its events were stored — in
 * the middleware inside, in validation, in a command handler, or because
 * the store refused its commit: nothing of it is stored, neither its events
 * nor the commands its handlers issued.
 *
 * An error of an inline event handler (a projector or workflow in
 * `eventHandlers`) that the command's stored events reach fails the whole
 * unit, even when middleware catches it: the middleware sees the error,
 * and once it returns the unit stops and `executeCommands` rejects with
 * that error, storing nothing of the unit. By then the command's commit
 * and its handlers' writes (rows of projectors, commands and after-commit
 * callbacks of workflows) are part of the unit's transaction, and no store
 * can take back one command's part of it; the handlers after the failing
 * one never see the event.
 *
 * @example
 * ```ts
 * import type { CommandMiddleware } from "@sequent/core";
 *
 * const timing: CommandMiddleware = async (command, next) => {
 *   const start = performance.now();
 *   await next();
 *   console.debug(command.constructor.name, performance.now() - start);
 * };
 * ```
 */
export type CommandMiddleware = (
  command: Command,
  next: () => Promise<void>,
) => Promise<void>;

/** The command type recorded for events stored by `commitEvents`. */
export const COMMIT_EVENTS_COMMAND = "sequent.CommitEvents";

/**
 * Events of one aggregate for {@linkcode CommandService.commitEvents}.
 *
 * @example
 * ```ts
 * import type { EventsToCommit } from "@sequent/core/internal";
 *
 * const nothing: EventsToCommit = { events: [] };
 * ```
 */
export interface EventsToCommit {
  /** The aggregate's class, when known (keeps its type and unique keys). */
  readonly aggregateClass?: AggregateClass | undefined;
  /** The events, in sequence order. */
  readonly events: readonly Event[];
}

/**
 * How to build a {@linkcode CommandService}.
 *
 * @example
 * ```ts
 * import { CommandService, InMemoryEventStore, type CommandServiceOptions } from "@sequent/core";
 *
 * const options: CommandServiceOptions = {
 *   eventStore: new InMemoryEventStore(),
 *   commandHandlers: [],
 * };
 * const service = new CommandService(options);
 * ```
 */
export interface CommandServiceOptions {
  /** Where events are stored. */
  readonly eventStore: EventStore;
  /** The command handlers; every one whose routes match a command runs. */
  readonly commandHandlers: readonly CommandHandler[];
  /** Projectors and workflows, called with every stored event. */
  readonly eventHandlers?: readonly EventHandler[] | undefined;
  /** Aggregate classes, registered so their stored type names resolve. */
  readonly aggregates?: readonly AggregateClass[] | undefined;
  /** Middleware around each command, outermost first. */
  readonly middleware?: readonly CommandMiddleware[] | undefined;
  /**
   * Where execution is traced at debug level and failures of after-commit
   * callbacks are reported (default: warnings and errors to the console).
   */
  readonly logger?: Logger | undefined;
  /**
   * How often to re-run a whole unit of work (reloading its aggregates)
   * when it fails with {@linkcode OptimisticLockError} (default 0: never).
   */
  readonly retryOnConflict?: number | undefined;
  /**
   * How many aggregates to keep between units of work (default 1,000; 0:
   * none). The next command on a kept aggregate reads only the events
   * stored after it, in the round trip a full load would take, so a long
   * history costs its length once; what another process stored since is
   * read all the same, and the commit's concurrency check decides between
   * writers as without the cache. An aggregate's state must come from its
   * events alone (its `on` handlers), as it must for loading anyway.
   */
  readonly aggregateCacheSize?: number | undefined;
  /** The type registry to use (default: a new one). */
  readonly registry?: TypeRegistry | undefined;
  /**
   * How many commands the handlers and workflows of one unit of work may
   * issue (default 10,000; `Infinity`: no limit); those passed to
   * `executeCommands` do not count. A unit with more to run stops with
   * {@linkcode TooManyCommandsError}, naming the command that keeps coming
   * back, and stores nothing: what a workflow that issues a command whose
   * events reach it again would otherwise do forever, in one transaction.
   */
  readonly maxCommandsPerUnit?: number | undefined;
  /**
   * Milliseconds an `executeCommands` call may take before it stops with
   * {@linkcode CommandTimeoutError} (default: no limit). A call can set
   * its own with {@linkcode ExecuteOptions.timeoutMs}.
   */
  readonly commandTimeoutMs?: number | undefined;
  /**
   * Where commands, commits and inline dispatch are traced and measured
   * (`openTelemetry()` from `@sequent/core/otel`); default: nowhere, at
   * no cost.
   */
  readonly telemetry?: Telemetry | undefined;
  /**
   * The `db.system.name` the telemetry reports for commits
   * (`"postgresql"`); default: none (an in-memory store).
   */
  readonly databaseSystem?: string | undefined;
}

/**
 * Options of one `executeCommands` call, given after the commands.
 *
 * Once the call is aborted (by `signal`, or because `timeoutMs` passed),
 * no further handler runs and nothing more is sent to the database; the
 * call rejects with the signal's reason (a {@linkcode CommandTimeoutError}
 * for a timeout) and stores nothing. A commit already on its way finishes
 * or is cancelled on the server, and the call tells which: it resolves, or
 * rejects with the reason; when the database cannot say (the connection is
 * lost), it rejects with {@linkcode CommitOutcomeUnknownError}.
 *
 * Stopping is cooperative: statements on the database are cut short at
 * once, but code of the application's own that is running (a handler
 * awaiting something else) finishes its step first; the unit stops after
 * it.
 *
 * @example
 * ```ts
 * import { CommandService, InMemoryEventStore, type ExecuteOptions } from "@sequent/core";
 *
 * const service = new CommandService({ eventStore: new InMemoryEventStore(), commandHandlers: [] });
 * const options: ExecuteOptions = { timeoutMs: 5_000 };
 * await service.executeCommands(options);
 * ```
 */
export interface ExecuteOptions {
  /** Aborts the call; see above. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Milliseconds the call may take (default: the service's
   * `commandTimeoutMs`; 0: no limit).
   */
  readonly timeoutMs?: number | undefined;
  /**
   * Makes the call idempotent: its commands (and those its workflows issue
   * in the unit) get ids derived from the key, so a later call with the
   * same key stores nothing and resolves to `""`; the first call's writes
   * stand. What a consumer of another service's events passes
   * (`IncomingEvent.idempotencyKey`), so an event delivered twice does
   * its work once. Only for an outermost call (not one made inside a
   * handler).
   */
  readonly idempotencyKey?: string | undefined;
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  "signal",
  "timeoutMs",
  "idempotencyKey",
]);

/** The ids a unit's commands get from an idempotency key, and those given. */
class DerivedIds {
  readonly given: string[] = [];
  #n = 0;
  constructor(readonly key: string) {}
  next = (): string => {
    const id = derivedCommandId(`${this.key}:${this.#n++}`);
    this.given.push(id);
    return id;
  };
}

/**
 * Units whose command's events failed in an inline event handler, with the
 * error: the unit fails with it even when middleware caught it (see
 * {@linkcode CommandMiddleware}).
 */
const failedDeliveries = new WeakMap<Unit, { readonly error: unknown }>();

/** The error of a unit that ran `limit` commands and has `next` to run. */
function tooManyCommands(
  unit: Unit,
  next: Command,
  limit: number,
): TooManyCommandsError {
  // the command coming back is the most frequent of those left to run
  const counts = new Map<string, number>();
  let most = typeName(next);
  counts.set(most, 1);
  for (const command of unit.queue) {
    const name = typeName(command);
    const n = (counts.get(name) ?? 0) + 1;
    counts.set(name, n);
    if (n > counts.get(most)!) most = name;
  }
  return new TooManyCommandsError(most, limit);
}

/** One handler and one event to run in a unit (see `dispatchInUnit`). */
interface Dispatch {
  readonly handler: EventHandler;
  readonly event: Event;
  readonly commandIds: (() => string) | undefined;
}

/** Whether the last argument of `executeCommands` is its options. */
function isExecuteOptions(value: unknown): value is ExecuteOptions {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) &&
    Object.keys(value).every((key) => OPTION_KEYS.has(key));
}

/**
 * Executes commands. Each `executeCommands` call is one unit of work with
 * its own identity map and command queue, so concurrent calls never see
 * each other's state.
 *
 * @example
 * ```ts
 * import {
 *   AggregateRoot, attrs, Command, CommandHandler, CommandService, Event, InMemoryEventStore,
 * } from "@sequent/core";
 *
 * class Registered extends Event.define("UserRegistered", { name: attrs.string() }) {}
 * class User extends AggregateRoot {
 *   static register(id: string, name: string): User {
 *     const user = new User(id);
 *     user.apply(Registered, { name });
 *     return user;
 *   }
 * }
 * class RegisterUser extends Command.define("RegisterUser", { name: attrs.string().required() }) {}
 * class UserHandler extends CommandHandler {
 *   static {
 *     this.on(RegisterUser, (h, c) => h.repository.addAggregate(User.register(c.aggregateId, c.name)));
 *   }
 * }
 *
 * const store = new InMemoryEventStore();
 * const service = new CommandService({ eventStore: store, commandHandlers: [new UserHandler()] });
 * const id = crypto.randomUUID();
 * await service.executeCommands(new RegisterUser({ aggregateId: id, name: "Ben" }));
 * const [stream] = await store.loadStreams([id]);
 * console.assert(stream?.events[0]?.eventType === "UserRegistered");
 * ```
 */
export class CommandService {
  readonly #store: EventStore;
  readonly #commandHandlers: readonly CommandHandler[];
  readonly #eventHandlers: readonly EventHandler[];
  readonly #routes: EventRoutes<EventHandler>;
  readonly #middleware: CommandMiddleware[];
  readonly #logger: Logger;
  readonly #retries: number;
  readonly #serializer: MessageSerializer;
  readonly #timeoutMs: number;
  readonly #telemetry: Telemetry | undefined;
  readonly #databaseSystem: string | undefined;
  readonly #cache: AggregateCache | undefined;
  readonly #maxCommands: number;

  /**
   * Creates a command service.
   *
   * @param options The store, handlers and settings.
   */
  constructor(options: CommandServiceOptions) {
    if (!options.eventStore) {
      throw new TypeError("CommandService needs an eventStore");
    }
    this.#store = options.eventStore;
    this.#commandHandlers = [...(options.commandHandlers ?? [])];
    this.#eventHandlers = [...(options.eventHandlers ?? [])];
    this.#routes = new EventRoutes(this.#eventHandlers);
    this.#middleware = [...(options.middleware ?? [])];
    this.#logger = options.logger ?? consoleLogger("warn");
    this.#retries = options.retryOnConflict ?? 0;
    this.#timeoutMs = options.commandTimeoutMs ?? 0;
    this.#telemetry = options.telemetry;
    this.#databaseSystem = options.databaseSystem;
    if (!(this.#timeoutMs >= 0) || !Number.isFinite(this.#timeoutMs)) {
      throw new RangeError(
        `commandTimeoutMs must be a non-negative number of milliseconds, got ${options.commandTimeoutMs}`,
      );
    }
    if (!Number.isSafeInteger(this.#retries) || this.#retries < 0) {
      throw new RangeError(
        `retryOnConflict must be a non-negative integer, got ${options.retryOnConflict}`,
      );
    }
    this.#maxCommands = options.maxCommandsPerUnit ?? 10_000;
    if (
      !(Number.isSafeInteger(this.#maxCommands) && this.#maxCommands >= 1) &&
      this.#maxCommands !== Infinity
    ) {
      throw new RangeError(
        `maxCommandsPerUnit must be a positive integer or Infinity, got ${options.maxCommandsPerUnit}`,
      );
    }
    const cacheSize = options.aggregateCacheSize ?? 1000;
    this.#cache = cacheSize === 0 ? undefined : new AggregateCache(cacheSize);
    const registry = options.registry ?? new TypeRegistry();
    this.#serializer = new MessageSerializer(registry);
    for (const handler of this.#commandHandlers) {
      if (!(handler instanceof CommandHandler)) {
        throw new TypeError(
          `commandHandlers must be CommandHandler instances, got ${
            describe(handler)
          }`,
        );
      }
      for (const cls of routedClasses(handler.constructor)) {
        if (cls.prototype instanceof Command) registry.register("command", cls);
      }
    }
    for (const handler of this.#eventHandlers) {
      if (!(handler instanceof EventHandler)) {
        throw new TypeError(
          `eventHandlers must be projector or workflow instances, got ${
            describe(handler)
          }`,
        );
      }
      for (const cls of routedClasses(handler.constructor)) {
        registry.register("event", cls);
      }
    }
    for (const aggregate of options.aggregates ?? []) {
      registry.register("aggregate", aggregate);
      for (const cls of routedClasses(aggregate)) {
        registry.register("event", cls);
      }
    }
  }

  /** The serializer this service stores and reads messages with. */
  get serializer(): MessageSerializer {
    return this.#serializer;
  }

  /** The event store. */
  get eventStore(): EventStore {
    return this.#store;
  }

  /** The telemetry this service reports to, if any. */
  get telemetry(): Telemetry | undefined {
    return this.#telemetry;
  }

  /** The projectors and workflows events are dispatched to. */
  get eventHandlers(): readonly EventHandler[] {
    return this.#eventHandlers;
  }

  /**
   * Adds middleware (innermost so far).
   *
   * @param middleware The middleware.
   */
  use(middleware: CommandMiddleware): void {
    if (typeof middleware !== "function") {
      throw new TypeError("use() needs a middleware function");
    }
    this.#middleware.push(middleware);
  }

  /**
   * Executes commands as one unit of work, in one transaction: for each
   * command, the middleware, then validation (an invalid command fails with
   * {@linkcode CommandNotValidError} before any of its handlers run, and the
   * whole unit is rolled back), every matching handler, one commit of all
   * new events with the command record, and the events' dispatch to
   * projectors and workflows. Commands that workflows issue run afterwards
   * in the same unit. Called from a handler while this service runs a unit,
   * it queues the commands in that unit instead.
   *
   * Options may follow the commands: an abort signal and a time limit (see
   * {@linkcode ExecuteOptions}).
   *
   * Resolves to a read-your-writes token: the stream position of the last
   * event the unit stored (`""` when it stored none, and inside another
   * unit). Asynchronous processors that have passed it have handled the
   * unit's events; see `ProcessorRunner.waitFor`.
   *
   * @param commands The commands, executed in order.
   * @returns The token.
   */
  executeCommands(...commands: Command[]): Promise<string>;
  /**
   * Executes commands as one unit of work, bounded by `options` (see
   * {@linkcode ExecuteOptions}).
   *
   * @param args The commands, executed in order, then the options.
   * @returns A read-your-writes token (see the other signature).
   */
  executeCommands(
    ...args: [...commands: Command[], options: ExecuteOptions]
  ): Promise<string>;
  executeCommands(
    ...args: (Command | ExecuteOptions)[]
  ): Promise<string> {
    // Not async itself: the common call (no signal, no time limit) goes
    // straight to the unit, without an extra await on the hot path.
    const options: ExecuteOptions = isExecuteOptions(args.at(-1))
      ? args.pop() as ExecuteOptions
      : {};
    const commands = args as Command[];
    for (const command of commands) {
      if (!(command instanceof Command)) {
        return Promise.reject(
          new TypeError(
            `executeCommands() takes Command instances, got ${
              describe(command)
            }`,
          ),
        );
      }
    }
    const key = options.idempotencyKey;
    if (key !== undefined && (typeof key !== "string" || key === "")) {
      return Promise.reject(
        new TypeError(
          `idempotencyKey must be a non-empty string, got ${describe(key)}`,
        ),
      );
    }
    const parent = activeUnit();
    if (parent && parent.owner === this) {
      if (key !== undefined) {
        return Promise.reject(
          new TypeError(
            "idempotencyKey applies to an outermost executeCommands call, not one inside a handler",
          ),
        );
      }
      for (const command of commands) {
        const event = parent.currentEvent;
        if (event) {
          setCausation(command, event.aggregateId, event.sequenceNumber);
        }
        enqueue(parent, command);
      }
      return Promise.resolve("");
    }
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(
        new RangeError(
          `timeoutMs must be a non-negative number of milliseconds, got ${options.timeoutMs}`,
        ),
      );
    }
    if (timeoutMs === 0) {
      return this.#runWithRetries(commands, options.signal, key);
    }
    return this.#bounded(commands, options.signal, timeoutMs, key);
  }

  /** Runs the unit with a time limit (and the caller's signal, if any). */
  async #bounded(
    commands: readonly Command[],
    callerSignal: AbortSignal | undefined,
    timeoutMs: number,
    key: string | undefined,
    dispatch?: Dispatch,
  ): Promise<string> {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(
        new CommandTimeoutError(
          timeoutMs,
          dispatch
            ? [
              `${dispatch.handler.constructor.name} handling ${
                typeName(dispatch.event)
              }`,
            ]
            : commands.map(typeName),
        ),
      );
    }, timeoutMs);
    const signal = callerSignal
      ? AbortSignal.any([callerSignal, controller.signal])
      : controller.signal;
    try {
      return await this.#runWithRetries(commands, signal, key, dispatch);
    } finally {
      clearTimeout(timer);
    }
  }

  async #runWithRetries(
    commands: readonly Command[],
    signal: AbortSignal | undefined,
    key?: string,
    dispatch?: Dispatch,
  ): Promise<string> {
    for (let attempt = 0;; attempt++) {
      // the same ids at every attempt
      const ids = key === undefined ? undefined : new DerivedIds(key);
      try {
        return await this.#runUnit(commands, undefined, signal, dispatch, ids);
      } catch (error) {
        // done before under this key: its writes stand
        if (
          ids && error instanceof DuplicateCommandError &&
          ids.given.includes(error.commandId)
        ) {
          return "";
        }
        if (error instanceof OptimisticLockError && this.#telemetry) {
          this.#telemetry.optimisticLockConflict(
            commands[0] ? typeName(commands[0]) : "",
          );
        }
        if (
          !(error instanceof OptimisticLockError) || attempt >= this.#retries ||
          signal?.aborted
        ) {
          throw error;
        }
        if (this.#logger.enabled("info")) {
          this.#logger.log("info", `Retrying after a concurrent change`, {
            aggregateId: error.aggregateId,
            attempt: attempt + 1,
          });
        }
      }
    }
  }

  /**
   * Stores events as they are, without command handlers: for test set-up
   * (`givenEvents`) and imports. Each aggregate's events must continue its
   * stored stream. When a stream names its aggregate class, the aggregate is
   * rebuilt so its unique keys are kept. The events are then dispatched to
   * the event handlers `dispatchTo` accepts (default: all), in the same
   * transaction; commands that workflows issue then run in it too, and their
   * after-commit callbacks once it has committed.
   *
   * @param streams The events, grouped by aggregate.
   * @param options `dispatchTo`: which event handlers receive the events.
   * @returns A read-your-writes token (see `executeCommands`).
   *
   * @example
   * ```ts
   * import { attrs, CommandService, Event, InMemoryEventStore } from "@sequent/core";
   *
   * class Imported extends Event.define("Imported", { name: attrs.string() }) {}
   * const service = new CommandService({ eventStore: new InMemoryEventStore(), commandHandlers: [] });
   * const id = crypto.randomUUID();
   * await service.commitEvents([
   *   { events: [new Imported({ aggregateId: id, sequenceNumber: 1, name: "legacy" })] },
   * ]);
   * ```
   */
  async commitEvents(
    streams: readonly EventsToCommit[],
    options: { dispatchTo?: (handler: EventHandler) => boolean } = {},
  ): Promise<string> {
    const dispatchTo = options.dispatchTo ?? (() => true);
    const afterCommit: AfterCommitCallback[] = [];
    let token = "";
    await this.#store.transaction(async (transaction) => {
      const unit = this.#newUnit(transaction, [], afterCommit);
      await runInUnit(unit, async () => {
        const commits: StreamCommit[] = [];
        for (const { aggregateClass, events } of streams) {
          const first = events[0];
          if (!first) continue;
          if (events.some((e) => e.aggregateId !== first.aggregateId)) {
            throw new TypeError(
              "commitEvents(): each stream's events must belong to one aggregate",
            );
          }
          let keys: Record<string, JsonValue> | undefined;
          if (aggregateClass) {
            this.#serializer.registry.register("aggregate", aggregateClass);
            const aggregate = await unit.repository.findAggregate(
              first.aggregateId,
              aggregateClass,
            ) ??
              new aggregateClass(first.aggregateId);
            for (const event of events) {
              aggregateInternals().replay(aggregate, event);
            }
            if (hasUniqueKeyDefinitions(aggregate)) {
              keys = uniqueKeysOf(aggregate);
            }
          }
          commits.push({
            aggregateId: first.aggregateId,
            aggregateType: aggregateClass
              ? aggregateTypeOf(aggregateClass)
              : "",
            partitionKey: "",
            events: events.map((e) => this.#serializer.serializeEvent(e)),
            uniqueKeys: keys,
            snapshotThreshold: aggregateClass
              ? snapshotConfigOf(aggregateClass)?.threshold
              : undefined,
          });
        }
        const firstStream = commits[0];
        if (!firstStream) return;
        await transaction.commit({
          commandId: newCommandId(),
          commandType: COMMIT_EVENTS_COMMAND,
          aggregateId: firstStream.aggregateId,
          userId: undefined,
          eventAggregateId: undefined,
          eventSequenceNumber: undefined,
          payload: "{}",
        }, commits);
        for (const { events } of streams) {
          for (const event of events) {
            await this.#publish(unit, event, false, dispatchTo);
          }
        }
        // Commands that workflows issued run in the same unit.
        const limit = this.#maxCommands;
        let ran = 0;
        for (let command; (command = unit.queue.shift());) {
          if (++ran > limit) throw tooManyCommands(unit, command, limit);
          await this.#execute(unit, command);
          if (this.#middleware.length !== 0) {
            const failed = failedDeliveries.get(unit);
            if (failed) throw failed.error;
          }
        }
      });
      unit.ended = true;
    }, { onStored: (position) => token = position });
    await this.#runAfterCommit(afterCommit);
    return token;
  }

  /**
   * Executes commands without keeping anything: in a transaction that is
   * always rolled back, with events recorded instead of handled. The report
   * lists, per command, the events it would store and the projectors and
   * workflows each would reach (which do not run, so their commands and
   * side effects do not happen).
   *
   * @param commands The commands.
   * @returns The report; print it with `toString()`.
   *
   * @example
   * ```ts
   * import { CommandService, InMemoryEventStore } from "@sequent/core";
   *
   * const service = new CommandService({ eventStore: new InMemoryEventStore(), commandHandlers: [] });
   * const report = await service.dryRun();
   * console.assert(report.commands.length === 0);
   * ```
   */
  async dryRun(...commands: Command[]): Promise<DryRunReport> {
    const report = new DryRunReport();
    await this.#runUnit(commands, report);
    return report;
  }

  #runUnit(
    commands: readonly Command[],
    dryRun?: DryRunReport,
    signal?: AbortSignal,
    dispatch?: Dispatch,
    derived?: DerivedIds,
  ): Promise<string> {
    const telemetry = dryRun ? undefined : this.#telemetry;
    // (a telemetry with nothing to record costs the unit one call)
    if (telemetry === undefined || telemetry.recording?.() === false) {
      return this.#runUnitNow(commands, dryRun, signal, dispatch, derived);
    }
    const first = commands[0];
    if (first === undefined) {
      // a processor's unit: the commands its workflow issues get spans
      return this.#runUnitNow(commands, dryRun, signal, dispatch, derived, {
        first: false,
        firstTraceparent: undefined,
        events: 0,
        aggregates: 0,
      }, telemetry);
    }
    // the unit's span is its first command's, around the whole unit: its
    // commit reaches the database at the unit's end
    return telemetry.command(
      typeName(first),
      (traceparent) =>
        this.#runUnitNow(commands, dryRun, signal, dispatch, derived, {
          first: true,
          firstTraceparent: traceparent,
          events: 0,
          aggregates: 0,
        }, telemetry),
    );
  }

  async #runUnitNow(
    commands: readonly Command[],
    dryRun?: DryRunReport,
    signal?: AbortSignal,
    dispatch?: Dispatch,
    derived?: DerivedIds,
    trace?: UnitTrace,
    telemetry?: Telemetry,
  ): Promise<string> {
    const afterCommit: AfterCommitCallback[] = [];
    let unit: Unit | undefined;
    let token = "";
    // the commit span: from the end of the unit's work to the end of its
    // transaction, where the store writes (one round trip on PostgreSQL)
    let transactionId: string | undefined;
    let committing: Promise<CommitResult> | undefined;
    let stored: PromiseWithResolvers<CommitResult> | undefined;
    try {
      await this.#store.transaction(async (transaction) => {
        unit = this.#newUnit(
          transaction,
          commands,
          afterCommit,
          dryRun,
          signal,
          trace,
        );
        const current = unit;
        if (this.#cache && !dryRun) {
          useAggregateCache(current.repository, this.#cache);
        }
        await runInUnit(current, async () => {
          if (derived) current.commandIds = derived.next;
          if (dispatch) {
            if (dispatch.commandIds) current.commandIds = dispatch.commandIds;
            await this.#publish(
              current,
              dispatch.event,
              this.#logger.enabled("debug"),
              undefined,
              new EventRoutes([dispatch.handler]),
            );
          }
          // the commands given do not count: a bulk of them is no loop
          const limit = this.#maxCommands;
          let ran = -commands.length;
          for (let command; (command = current.queue.shift());) {
            if (++ran > limit) throw tooManyCommands(current, command, limit);
            await this.#execute(current, command);
            // an inline event handler failed: the unit fails, even when
            // middleware caught the error (see CommandMiddleware)
            if (this.#middleware.length !== 0) {
              const failed = failedDeliveries.get(current);
              if (failed) throw failed.error;
            }
          }
        });
        current.ended = true;
        if (telemetry && trace && trace.events > 0) {
          const ended = stored = Promise.withResolvers<CommitResult>();
          const span = telemetry.commit({
            events: trace.events,
            aggregates: trace.aggregates,
            databaseSystem: this.#databaseSystem,
          }, () => ended.promise);
          // the work's own promise back: nothing to wait for (no span)
          if (span !== ended.promise) {
            committing = span;
            committing.catch(() => {});
          }
        }
      }, {
        rollback: dryRun !== undefined,
        signal,
        onStored: (position, id) => {
          token = position;
          transactionId = id;
        },
      });
      stored?.resolve({ transactionId });
      if (this.#cache && !dryRun) returnAggregatesToCache(unit!.repository);
    } catch (error) {
      if (stored) {
        stored.promise.catch(() => {});
        stored.reject(error);
      }
      throw error;
    } finally {
      if (unit) unit.ended = true;
      if (committing) await committing.catch(() => {});
    }
    if (!dryRun) await this.#runAfterCommit(afterCommit);
    return token;
  }

  /**
   * Runs one event handler (a workflow) for one stored event, in a unit of
   * work of its own: the commands it issues run in that unit, and its
   * after-commit callbacks once the unit has committed. What asynchronous
   * processors do for each event. The unit is run again after an
   * {@linkcode OptimisticLockError} as `retryOnConflict` says, and stops
   * with {@linkcode CommandTimeoutError} after `commandTimeoutMs`, as
   * `executeCommands` does.
   *
   * @param handler The workflow (or other event handler).
   * @param event The event.
   * @param options `idempotencyKey`: gives each command the handler issues
   *   without an id of its own one derived from the key, the same at
   *   every attempt, so handling the event again cannot store its commands
   *   twice: a unit whose commands were stored before stores nothing and
   *   resolves to `""` (see {@linkcode ExecuteOptions.idempotencyKey}).
   *   `commandIds`: gives those commands the ids it returns instead; it is
   *   called again at each attempt.
   * @returns The read-your-writes token of what the unit stored.
   *
   * @example
   * ```ts
   * import { attrs, CommandService, Event, InMemoryEventStore, Workflow } from "@sequent/core";
   *
   * class Paid extends Event.define("Paid", { amount: attrs.integer() }) {}
   * const seen: number[] = [];
   * class Receipts extends Workflow {
   *   static {
   *     this.on(Paid, (_w, e) => void seen.push(e.amount ?? 0));
   *   }
   * }
   * const service = new CommandService({ eventStore: new InMemoryEventStore(), commandHandlers: [] });
   * const paid = new Paid({ aggregateId: crypto.randomUUID(), sequenceNumber: 1, amount: 5 });
   * await service.dispatchInUnit(new Receipts(), paid, { idempotencyKey: "Receipts:1" });
   * console.assert(seen[0] === 5);
   * ```
   */
  dispatchInUnit(
    handler: EventHandler,
    event: Event,
    options: {
      readonly commandIds?: (() => string) | undefined;
      readonly idempotencyKey?: string | undefined;
    } = {},
  ): Promise<string> {
    const key = options.idempotencyKey;
    if (key !== undefined && (typeof key !== "string" || key === "")) {
      return Promise.reject(
        new TypeError(
          `idempotencyKey must be a non-empty string, got ${describe(key)}`,
        ),
      );
    }
    const dispatch: Dispatch = {
      handler,
      event,
      commandIds: options.commandIds,
    };
    const timeoutMs = this.#timeoutMs;
    if (timeoutMs === 0) {
      return this.#runWithRetries([], undefined, key, dispatch);
    }
    return this.#bounded([], undefined, timeoutMs, key, dispatch);
  }

  async #runAfterCommit(
    afterCommit: readonly AfterCommitCallback[],
  ): Promise<void> {
    for (const callback of afterCommit) {
      try {
        await callback.run();
      } catch (error) {
        if (!callback.ignoreErrors) {
          this.#logger.log("error", `${callback.description} failed`, {
            error,
          });
        }
      }
    }
  }

  #newUnit(
    transaction: EventStoreTransaction,
    commands: readonly Command[],
    afterCommit: AfterCommitCallback[],
    dryRun?: DryRunReport,
    signal?: AbortSignal,
    trace?: UnitTrace,
  ): Unit {
    // one shape for every unit (the traced fields too)
    return {
      dryRun,
      signal,
      trace,
      traceparent: undefined,
      dispatchTraceparent: undefined,
      issuedIn: undefined,
      owner: this,
      repository: new AggregateRepository(transaction, this.#serializer),
      transaction,
      queue: [...commands],
      afterCommit,
      logger: this.#logger,
      slots: new Map(),
      currentEvent: undefined,
      ended: false,
    };
  }

  /** Runs one command of a unit: in its span when traced. */
  #execute(unit: Unit, command: Command): Promise<void> {
    const telemetry = this.#telemetry;
    const trace = unit.trace;
    if (telemetry === undefined || trace === undefined) {
      return this.#invoke(unit, command, 0);
    }
    if (trace.first) {
      // the unit's span is this command's
      trace.first = false;
      const traceparent = trace.firstTraceparent;
      // (no span: nothing to set, nor to reset after)
      if (traceparent === undefined) return this.#invoke(unit, command, 0);
      unit.traceparent = traceparent;
      return this.#invoke(unit, command, 0).finally(() => {
        unit.traceparent = undefined;
      });
    }
    const parent = unit.issuedIn?.get(command);
    if (parent !== undefined) unit.issuedIn!.delete(command);
    return telemetry.command(typeName(command), async (traceparent) => {
      unit.traceparent = traceparent;
      try {
        await this.#invoke(unit, command, 0);
      } finally {
        unit.traceparent = undefined;
      }
    }, parent);
  }

  #invoke(unit: Unit, command: Command, index: number): Promise<void> {
    const middleware = this.#middleware[index];
    if (!middleware) return this.#process(unit, command);
    let called = false;
    return middleware(command, () => {
      if (called) throw new Error("Command middleware called next() twice");
      called = true;
      return this.#invoke(unit, command, index + 1);
    });
  }

  #validate(command: Command): void {
    const errors = command.validate();
    if (Object.keys(errors).length > 0) {
      throw new CommandNotValidError(typeName(command), errors);
    }
  }

  async #process(unit: Unit, command: Command): Promise<void> {
    const debug = this.#logger.enabled("debug");
    const name = typeName(command);
    unit.signal?.throwIfAborted();
    this.#validate(command);
    if (debug) {
      this.#logger.log("debug", `Command ${name} is valid`, {
        aggregateId: command.aggregateId,
      });
    }
    // What the command leaves in the unit until its commit — its
    // aggregates' new events, the commands its handlers issue — is dropped
    // when it fails: middleware that catches the error and carries on must
    // not let the next command of the unit store it as its own.
    const queued = unit.queue.length;
    const streams: StreamCommit[] = [];
    const events: Event[] = [];
    try {
      let handled = false;
      for (const handler of this.#commandHandlers) {
        const fns = handlersFor<(h: CommandHandler, c: Command) => unknown>(
          handler.constructor,
          command,
        );
        for (const fn of fns) {
          handled = true;
          if (debug) {
            this.#logger.log(
              "debug",
              `${handler.constructor.name} handles ${name}`,
            );
          }
          await fn(handler, command);
        }
      }
      if (!handled) throw new NoCommandHandlerError(name);
      unit.signal?.throwIfAborted();
      const changes = unit.repository.takeChanges();
      // the command's trace context, once per commit (set only when traced)
      const traceparent = unit.traceparent;
      for (const { aggregate, events: applied } of changes) {
        const cls = aggregate.constructor;
        const keys = hasUniqueKeyDefinitions(aggregate)
          ? uniqueKeysOf(aggregate)
          : undefined;
        streams.push({
          aggregateId: aggregate.id,
          aggregateType: aggregateTypeOf(cls),
          partitionKey: aggregate.eventsPartitionKey,
          events: traceparent === undefined
            ? applied.map((e) => this.#serializer.serializeEvent(e))
            : applied.map((e) => ({
              ...this.#serializer.serializeEvent(e),
              traceparent,
            })),
          uniqueKeys: keys,
          snapshotThreshold: snapshotConfigOf(cls)?.threshold,
        });
        events.push(...applied);
      }
      const record = this.#serializer.serializeCommand(
        command,
        unit.commandIds?.(),
      );
      await unit.transaction.commit(
        traceparent === undefined ? record : { ...record, traceparent },
        streams,
      );
    } catch (error) {
      discardFailedCommand(unit, queued);
      throw error;
    }
    const trace = unit.trace;
    if (trace) {
      trace.events += events.length;
      trace.aggregates += streams.length;
    }
    if (debug) {
      this.#logger.log("debug", `Stored ${events.length} events for ${name}`, {
        aggregates: streams.map((s) => s.aggregateId),
      });
    }
    if (unit.dryRun) {
      unit.dryRun.record(
        command,
        events.map((event) => ({
          event,
          handlers: [
            ...new Set(this.#routes.for(event).map(([handler]) => handler)),
          ].map(describeHandler),
        })),
      );
      return;
    }
    const telemetry = this.#telemetry;
    try {
      if (
        telemetry === undefined || trace === undefined ||
        !events.some((e) => this.#routes.for(e).length > 0)
      ) {
        await this.#publishAll(unit, events, debug);
        return;
      }
      await telemetry.dispatch(events.length, async (traceparent) => {
        unit.dispatchTraceparent = traceparent;
        try {
          await this.#publishAll(unit, events, debug);
        } finally {
          unit.dispatchTraceparent = undefined;
        }
      });
    } catch (error) {
      // The command's commit is in the unit's transaction, and what the
      // handlers before this one wrote: no store takes back one command's
      // part, so the whole unit fails, even if middleware catches this.
      if (!failedDeliveries.has(unit)) failedDeliveries.set(unit, { error });
      throw error;
    }
  }

  /** Publishes a command's events in order: one loop, no call per event. */
  async #publishAll(
    unit: Unit,
    events: readonly Event[],
    debug: boolean,
  ): Promise<void> {
    const routes = this.#routes;
    for (let e = 0; e < events.length; e++) {
      const event = events[e]!;
      const deliveries = routes.for(event);
      for (let d = 0; d < deliveries.length; d++) {
        const delivery = deliveries[d]!;
        const handler = delivery[0];
        if (debug) this.#logDelivery(handler, event);
        const previous = unit.currentEvent;
        unit.currentEvent = event;
        try {
          await delivery[1](handler, event);
        } finally {
          unit.currentEvent = previous;
        }
      }
    }
  }

  #logDelivery(handler: EventHandler, event: Event): void {
    this.#logger.log(
      "debug",
      `${handler.constructor.name} handles ${
        typeName(event)
      } ${event.sequenceNumber} of ${event.aggregateId}`,
    );
  }

  async #publish(
    unit: Unit,
    event: Event,
    debug: boolean,
    accept?: (handler: EventHandler) => boolean,
    routes: EventRoutes<EventHandler> = this.#routes,
  ): Promise<void> {
    for (const [handler, fn] of routes.for(event)) {
      if (accept && !accept(handler)) continue;
      if (debug) this.#logDelivery(handler, event);
      const previous = unit.currentEvent;
      unit.currentEvent = event;
      try {
        await fn(handler, event);
      } finally {
        unit.currentEvent = previous;
      }
    }
  }
}

/**
 * Forgets what a failed command left in its unit: the commands its handlers
 * issued (queued after `queued`), the events its aggregates applied, and
 * those aggregates, whose state the events changed (committing any later
 * would store the events under another command; keeping them would build
 * on a state that never was).
 */
function discardFailedCommand(unit: Unit, queued: number): void {
  unit.queue.length = queued;
  const repository = unit.repository;
  repository.takeChanges();
  // The repository forgets all its aggregates or none; all is safe: the
  // others are read again, from the unit's transaction, which holds what
  // the unit's earlier commands committed.
  repository.clear();
}

function typeName(message: object): string {
  return (message.constructor as unknown as AttributedClass).typeName ||
    message.constructor.name;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}

/** Describes an event handler for a dry run. */
function describeHandler(handler: EventHandler): DryRunHandler {
  return {
    kind: handler instanceof Projector
      ? "projector"
      : handler instanceof Workflow
      ? "workflow"
      : "event handler",
    name: handler.constructor.name,
  };
}
