/**
 * Given/when/then tests of command handlers, in Sequent's words:
 * `givenEvents`, `whenCommand`, `thenEvents`, `thenNoEvents`, `thenFails`.
 *
 * @module
 */
import { AssertionError, deepStrictEqual } from "node:assert";
import type { AggregateClass } from "../core/aggregate_root.ts";
import { aggregateTypeOf } from "../core/aggregate_root.ts";
import { AggregateRoot } from "../core/aggregate_root.ts";
import type { Command } from "../core/command.ts";
import type { CommandHandler } from "../core/command_handler.ts";
import {
  type CommandMiddleware,
  CommandService,
  type EventsToCommit,
} from "../core/command_service.ts";
import { CommandNotValidError, type ValidationErrors } from "../core/errors.ts";
import { Event } from "../core/event.ts";
import type { EventHandler } from "../core/event_handler.ts";
import type { EventPosition, EventStore } from "../core/event_store.ts";
import { type Logger, silentLogger } from "../core/logger.ts";
import { handlersFor } from "../core/message_router.ts";
import { knownClasses } from "../core/type_catalog.ts";
import { Workflow } from "../core/workflow.ts";
import { assertMessages, type Expected } from "./expectations.ts";
import { testEventStore } from "./test_store.ts";

/**
 * How to set up a {@linkcode CommandSpec}.
 *
 * @example
 * ```ts
 * import type { CommandSpecOptions } from "@sequent/core/testing";
 *
 * const options: CommandSpecOptions = { commandHandlers: [] };
 * ```
 */
export interface CommandSpecOptions {
  /** The command handlers under test. */
  readonly commandHandlers: readonly CommandHandler[];
  /** Projectors and workflows that receive the events (default: none). */
  readonly eventHandlers?: readonly EventHandler[] | undefined;
  /** Aggregate classes (helps `givenEvents` tell which aggregate a stream is). */
  readonly aggregates?: readonly AggregateClass[] | undefined;
  /** Command middleware. */
  readonly middleware?: readonly CommandMiddleware[] | undefined;
  /** The store (default: in memory, or the database in `DATABASE_URL`). */
  readonly eventStore?: EventStore | undefined;
  /** A logger (default: silent). */
  readonly logger?: Logger | undefined;
  /** Retries on optimistic-lock conflicts (default 0). */
  readonly retryOnConflict?: number | undefined;
}

/** What `thenFails` accepts: an error class, or the expected validation errors. */
export type ExpectedFailure =
  | (abstract new (...args: never[]) => Error)
  | ValidationErrors;

/**
 * The outcome of `whenCommand`: await it to require success, or call
 * `thenFails` to require a failure.
 */
export interface CommandOutcome extends Promise<void> {
  /**
   * Asserts that the command failed: with an error of the class, or with
   * exactly these validation errors.
   */
  thenFails(expected: ExpectedFailure): Promise<void>;
}

/** Event attributes `thenEvents` does not compare. */
const IGNORED: ReadonlySet<string> = new Set(["createdAt"]);

/**
 * A command handler test: an event store, a command service over it, and
 * the events each `whenCommand` stored.
 *
 * @example The getting-started Post test
 * ```ts
 * import { AggregateRoot, attrs, Command, CommandHandler, Event } from "@sequent/core";
 * import { commandSpec } from "@sequent/core/testing";
 *
 * class PostAdded extends Event.define("PostAdded", {}) {}
 * class PostTitleChanged extends Event.define("PostTitleChanged", { title: attrs.string() }) {}
 * class AddPost extends Command.define("AddPost", { title: attrs.string().required() }) {}
 * class Post extends AggregateRoot {
 *   static add(command: AddPost): Post {
 *     const post = new Post(command.aggregateId);
 *     post.apply(PostAdded);
 *     post.apply(PostTitleChanged, { title: command.title });
 *     return post;
 *   }
 * }
 * class PostCommandHandler extends CommandHandler {
 *   static {
 *     this.on(AddPost, (handler, command) => handler.repository.addAggregate(Post.add(command)));
 *   }
 * }
 *
 * const spec = commandSpec({ commandHandlers: [new PostCommandHandler()] });
 * const aggregateId = crypto.randomUUID();
 * await spec.whenCommand(new AddPost({ aggregateId, title: "Hello" }));
 * spec.thenEvents(
 *   new PostAdded({ aggregateId, sequenceNumber: 1 }),
 *   PostTitleChanged,
 * );
 * await spec.whenCommand(new AddPost({ aggregateId: crypto.randomUUID(), title: "" }))
 *   .thenFails({ title: ["can't be blank"] });
 * spec.thenNoEvents();
 * ```
 */
export class CommandSpec {
  readonly #options: CommandSpecOptions;
  #ready: Promise<CommandService> | undefined;
  #mark: EventPosition | undefined;
  #stored: Event[] = [];
  #whenCalled = false;
  /** How many `whenCommand` calls have not settled yet. */
  #inFlight = 0;

  /**
   * Creates the instance.
   *
   * @param options The handlers and settings under test.
   */
  constructor(options: CommandSpecOptions) {
    this.#options = options;
  }

  /** The command service under test (once set up by a given or when). */
  service(): Promise<CommandService> {
    this.#ready ??= (async () => {
      const eventStore = this.#options.eventStore ?? await testEventStore();
      return new CommandService({
        eventStore,
        commandHandlers: this.#options.commandHandlers,
        eventHandlers: this.#options.eventHandlers,
        aggregates: this.#options.aggregates,
        middleware: this.#options.middleware,
        logger: this.#options.logger ?? silentLogger,
        retryOnConflict: this.#options.retryOnConflict,
      });
    })();
    return this.#ready;
  }

  /**
   * Stores events as history (grouped per aggregate) without running
   * command handlers; projectors among the event handlers see them,
   * workflows do not. Pass an aggregate class first when it cannot be told
   * from the events (no handler of any aggregate matches them).
   *
   * @param items An optional aggregate class, then the events.
   */
  async givenEvents(
    ...items: [AggregateClass, ...Event[]] | Event[]
  ): Promise<void> {
    const service = await this.service();
    let explicit: AggregateClass | undefined;
    const events: Event[] = [];
    for (const [index, item] of items.entries()) {
      if (item instanceof Event) events.push(item);
      else if (
        index === 0 && typeof item === "function" &&
        item.prototype instanceof AggregateRoot
      ) {
        explicit = item;
      } else {
        throw new TypeError(
          "givenEvents() takes an optional aggregate class followed by events",
        );
      }
    }
    const streams = new Map<string, Event[]>();
    for (const event of events) {
      const list = streams.get(event.aggregateId) ?? [];
      list.push(event);
      streams.set(event.aggregateId, list);
    }
    const commits: EventsToCommit[] = [...streams.values()].map((list) => ({
      aggregateClass: explicit ?? this.#aggregateFor(list),
      events: list,
    }));
    await service.commitEvents(commits, {
      dispatchTo: (handler) => !(handler instanceof Workflow),
    });
  }

  #aggregateFor(events: readonly Event[]): AggregateClass | undefined {
    const candidates = [
      ...(this.#options.aggregates ?? []),
      ...knownClasses("aggregate") as AggregateClass[],
    ];
    const matching = [...new Set(candidates)].filter((cls) =>
      events.some((event) => handlersFor(cls, event).length > 0)
    );
    const names = new Set(matching.map((cls) => aggregateTypeOf(cls)));
    if (names.size > 1) {
      throw new TypeError(
        `givenEvents(): events of ${events[0]?.aggregateId} are handled by ${
          [...names].join(" and ")
        }; pass the aggregate class first`,
      );
    }
    return matching[0];
  }

  /**
   * Executes commands, as the application would. Await the result to
   * require success, or chain `.thenFails(…)` to require failure.
   *
   * @param commands The commands.
   */
  whenCommand(...commands: Command[]): CommandOutcome {
    this.#whenCalled = true;
    this.#inFlight++;
    // kept until it settles: asserting before then is a forgotten await
    const settled = this.#execute(commands).finally(() => this.#inFlight--);
    const outcome = settled.then((error) => {
      if (error !== undefined) throw error;
    });
    // Awaiting the outcome rejects on failure; calling only thenFails must
    // not leave an unhandled rejection behind.
    outcome.catch(() => {});
    return Object.assign(outcome, {
      thenFails: async (expected: ExpectedFailure): Promise<void> => {
        const error = await settled;
        if (error === undefined) {
          throw new AssertionError({
            message:
              `Expected the command to fail, but it succeeded and stored ${this.#stored.length} events`,
          });
        }
        checkFailure(error, expected);
      },
    });
  }

  async #execute(commands: Command[]): Promise<unknown> {
    const service = await this.service();
    this.#mark = await service.eventStore.positionMark();
    this.#stored = [];
    let failure: unknown;
    try {
      await service.executeCommands(...commands);
    } catch (error) {
      failure = error ?? new Error("Command failed with no error");
    }
    const rows = await service.eventStore.eventsSince(this.#mark);
    this.#stored = rows.map((row) => service.serializer.deserializeEvent(row));
    return failure;
  }

  /**
   * The events the last `whenCommand` stored, read back from the store.
   *
   * @throws {AssertionError} while a `whenCommand` has not finished (its
   * result was not awaited).
   */
  get storedEvents(): readonly Event[] {
    this.#requireSettled("storedEvents");
    return this.#stored;
  }

  /**
   * Asserts the events the last `whenCommand` stored, in order: an event
   * instance matches by class and attributes (not `createdAt`), a class by
   * class alone, a matcher or predicate by itself. Counts must match.
   *
   * @param expected The expected events.
   * @throws {AssertionError} when they differ, or while a `whenCommand` has
   * not finished (await it first).
   */
  thenEvents(...expected: Expected<Event>[]): void {
    this.#requireWhen("thenEvents");
    assertMessages("events", expected, this.#stored, IGNORED);
  }

  /** Asserts the last `whenCommand` stored no event. */
  thenNoEvents(): void {
    this.#requireWhen("thenNoEvents");
    assertMessages("events", [], this.#stored, IGNORED);
  }

  #requireWhen(what: string): void {
    if (!this.#whenCalled) {
      throw new AssertionError({
        message: `${what}() needs a whenCommand() first`,
      });
    }
    this.#requireSettled(`${what}()`);
  }

  #requireSettled(what: string): void {
    if (this.#inFlight > 0) {
      throw new AssertionError({
        message:
          `${what} ran before whenCommand() finished: await spec.whenCommand(…) first`,
      });
    }
  }
}

function checkFailure(error: unknown, expected: ExpectedFailure): void {
  if (typeof expected === "function") {
    if (!(error instanceof expected)) {
      throw new AssertionError({
        message:
          `Expected the command to fail with ${expected.name}, but it failed with ${
            error instanceof Error
              ? `${error.name}: ${error.message}`
              : String(error)
          }`,
      });
    }
    return;
  }
  if (!(error instanceof CommandNotValidError)) {
    throw new AssertionError({
      message: `Expected validation errors ${
        JSON.stringify(expected)
      }, but the command failed with ${
        error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error)
      }`,
    });
  }
  try {
    deepStrictEqual(normalize(error.errors), normalize(expected));
  } catch {
    throw new AssertionError({
      message: `Expected validation errors ${JSON.stringify(expected)}, got ${
        JSON.stringify(error.errors)
      }`,
    });
  }
}

function normalize(errors: ValidationErrors): Record<string, string[]> {
  return Object.fromEntries(
    Object.keys(errors).sort().map((k) => [k, [...(errors[k] ?? [])]]),
  );
}

/**
 * Creates a {@linkcode CommandSpec}: a command handler test with its own
 * event store (in memory by default; see `testEventStore`).
 *
 * @param options The command handlers under test and settings.
 * @returns The spec.
 *
 * @example
 * ```ts
 * import { commandSpec } from "@sequent/core/testing";
 *
 * const spec = commandSpec({ commandHandlers: [] });
 * ```
 */
export function commandSpec(options: CommandSpecOptions): CommandSpec {
  return new CommandSpec(options);
}
