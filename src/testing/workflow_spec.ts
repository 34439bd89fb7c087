/**
 * Given/when/then tests of workflows: `whenEvent(event)` runs the
 * workflows' handlers, `thenCommands(...)` asserts the commands they issued.
 *
 * @module
 */
import { AssertionError } from "node:assert";
import { AggregateRepository } from "../core/aggregate_repository.ts";
import type { Command } from "../core/command.ts";
import type { Event } from "../core/event.ts";
import { type Logger, silentLogger } from "../core/logger.ts";
import { handlersFor } from "../core/message_router.ts";
import { MessageSerializer } from "../core/serializer.ts";
import {
  type AfterCommitCallback,
  runInUnit,
  type Unit,
} from "../core/unit_of_work.ts";
import type { Workflow } from "../core/workflow.ts";
import { InMemoryEventStore } from "../memory/in_memory_event_store.ts";
import { assertMessages, type Expected } from "./expectations.ts";

const NOTHING: ReadonlySet<string> = new Set();

/**
 * How to set up a {@linkcode WorkflowSpec}.
 *
 * @example
 * ```ts
 * import type { WorkflowSpecOptions } from "@sequent/core/testing";
 *
 * const options: WorkflowSpecOptions = { workflows: [] };
 * ```
 */
export interface WorkflowSpecOptions {
  /** The workflows under test. */
  readonly workflows: readonly Workflow[];
  /** A logger (default: silent). */
  readonly logger?: Logger | undefined;
}

/** Command attributes `thenCommands` compares only when the expectation sets them. */
const CAUSATION: ReadonlySet<string> = new Set([
  "eventAggregateId",
  "eventSequenceNumber",
]);

/**
 * A workflow test: hand it events, then assert which commands the workflows
 * issued. After-commit callbacks run once the handlers finish, as after a
 * successful commit; their errors fail the test unless they ignore errors.
 *
 * @example
 * ```ts
 * import { attrs, Command, Event, Workflow } from "@sequent/core";
 * import { workflowSpec } from "@sequent/core/testing";
 *
 * class InvoicePaid extends Event.define("InvoicePaid", { orderId: attrs.uuid().required() }) {}
 * class ShipOrder extends Command.define("ShipOrder", {}) {}
 * class Shipping extends Workflow {
 *   static {
 *     this.on(InvoicePaid, (wf, e) => wf.executeCommands(new ShipOrder({ aggregateId: e.orderId })));
 *   }
 * }
 *
 * const spec = workflowSpec({ workflows: [new Shipping()] });
 * const orderId = crypto.randomUUID();
 * await spec.whenEvent(new InvoicePaid({ aggregateId: crypto.randomUUID(), sequenceNumber: 2, orderId }));
 * spec.thenCommands(new ShipOrder({ aggregateId: orderId }));
 * ```
 */
export class WorkflowSpec {
  readonly #options: WorkflowSpecOptions;
  #commands: Command[] = [];
  #afterCommitRan = 0;
  #whenCalled = false;
  /** How many `whenEvent` calls have not settled yet. */
  #inFlight = 0;

  /**
   * Creates the instance.
   *
   * @param options The workflows under test.
   */
  constructor(options: WorkflowSpecOptions) {
    this.#options = options;
  }

  /**
   * Runs every workflow handler that matches the event, then the
   * after-commit callbacks they registered.
   *
   * @param event The event.
   */
  async whenEvent(event: Event): Promise<void> {
    this.#whenCalled = true;
    // until it settles, asserting is a forgotten await
    this.#inFlight++;
    try {
      await this.#run(event);
    } finally {
      this.#inFlight--;
    }
  }

  async #run(event: Event): Promise<void> {
    const store = new InMemoryEventStore();
    const afterCommit: AfterCommitCallback[] = [];
    const queue: Command[] = [];
    await store.transaction(async (transaction) => {
      const unit: Unit = {
        owner: this,
        repository: new AggregateRepository(
          transaction,
          new MessageSerializer(),
        ),
        transaction,
        queue,
        afterCommit,
        logger: this.#options.logger ?? silentLogger,
        slots: new Map(),
        currentEvent: event,
        ended: false,
      };
      await runInUnit(unit, async () => {
        for (const workflow of this.#options.workflows) {
          for (
            const fn of handlersFor<(w: Workflow, e: Event) => unknown>(
              workflow.constructor,
              event,
            )
          ) {
            await fn(workflow, event);
          }
        }
      });
      unit.ended = true;
    });
    this.#commands = queue;
    this.#afterCommitRan = 0;
    for (const callback of afterCommit) {
      try {
        await callback.run();
      } catch (error) {
        if (!callback.ignoreErrors) throw error;
      }
      this.#afterCommitRan++;
    }
  }

  /**
   * The commands the last `whenEvent` issued.
   *
   * @throws {AssertionError} while a `whenEvent` has not finished (its
   * result was not awaited).
   */
  get issuedCommands(): readonly Command[] {
    this.#requireSettled("issuedCommands");
    return this.#commands;
  }

  /**
   * How many after-commit callbacks the last `whenEvent` ran.
   *
   * @throws {AssertionError} while a `whenEvent` has not finished.
   */
  get afterCommitCount(): number {
    this.#requireSettled("afterCommitCount");
    return this.#afterCommitRan;
  }

  /**
   * Asserts the commands the last `whenEvent` issued, in order (causation is
   * compared only when the expected command sets it). Every issued command
   * must also be valid.
   *
   * @param expected The expected commands.
   * @throws {AssertionError} when they differ, or while a `whenEvent` has
   * not finished (await it first).
   */
  thenCommands(...expected: Expected<Command>[]): void {
    this.#requireWhen("thenCommands");
    const ignore = (i: number): ReadonlySet<string> => {
      const want = expected[i] as { eventAggregateId?: unknown } | undefined;
      return want && typeof want === "object" &&
          want.eventAggregateId !== undefined
        ? NOTHING
        : CAUSATION;
    };
    assertMessages("commands", expected, this.#commands, ignore);
    for (const command of this.#commands) {
      const errors = command.validate();
      if (Object.keys(errors).length > 0) {
        throw new AssertionError({
          message:
            `The workflow issued an invalid ${command.constructor.name}: ${
              JSON.stringify(errors)
            }`,
        });
      }
    }
  }

  /** Asserts the last `whenEvent` issued no command. */
  thenNoCommands(): void {
    this.#requireWhen("thenNoCommands");
    assertMessages("commands", [], this.#commands, NOTHING);
  }

  #requireWhen(what: string): void {
    if (!this.#whenCalled) {
      throw new AssertionError({
        message: `${what}() needs a whenEvent() first`,
      });
    }
    this.#requireSettled(`${what}()`);
  }

  #requireSettled(what: string): void {
    if (this.#inFlight > 0) {
      throw new AssertionError({
        message:
          `${what} ran before whenEvent() finished: await spec.whenEvent(…) first`,
      });
    }
  }
}

/**
 * Creates a {@linkcode WorkflowSpec}.
 *
 * @param options The workflows under test.
 * @returns The spec.
 *
 * @example
 * ```ts
 * import { workflowSpec } from "@sequent/core/testing";
 *
 * const spec = workflowSpec({ workflows: [] });
 * ```
 */
export function workflowSpec(options: WorkflowSpecOptions): WorkflowSpec {
  return new WorkflowSpec(options);
}
