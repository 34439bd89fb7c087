/**
 * Workflows: event handlers for side effects. They issue commands, which run
 * in the same unit of work with their causation recorded, and schedule work
 * for after the transaction commits. They never run during replays.
 *
 * @module
 */
import type { Command } from "./command.ts";
import { setCausation } from "./command.ts";
import { EventHandler } from "./event_handler.ts";
import { SequentError } from "./errors.ts";
import { currentUnit, enqueue } from "./unit_of_work.ts";

/**
 * Options of {@linkcode Workflow.afterCommit}.
 *
 * @example
 * ```ts
 * import type { AfterCommitOptions } from "@sequent/core";
 *
 * const quiet: AfterCommitOptions = { ignoreErrors: true };
 * ```
 */
export interface AfterCommitOptions {
  /** Swallow errors silently instead of logging them (default false). */
  readonly ignoreErrors?: boolean | undefined;
}

/**
 * The base class of workflows.
 *
 * @example
 * ```ts
 * import { attrs, Command, Event, Workflow } from "@sequent/core";
 *
 * class InvoicePaid extends Event.define("InvoicePaid", { orderId: attrs.uuid().required() }) {}
 * class ShipOrder extends Command.define("ShipOrder", {}) {}
 *
 * class ShippingWorkflow extends Workflow {
 *   static {
 *     this.on(InvoicePaid, (workflow, event) =>
 *       workflow.executeCommands(new ShipOrder({ aggregateId: event.orderId })));
 *   }
 * }
 * ```
 */
export abstract class Workflow extends EventHandler {
  /**
   * Queues commands to run in the current unit of work, after the command
   * being executed, with the event being handled recorded as their cause.
   *
   * @param commands The commands.
   */
  executeCommands(...commands: Command[]): Promise<void> {
    const unit = currentUnit("Workflow.executeCommands");
    const event = unit.currentEvent;
    for (const command of commands) {
      if (event) setCausation(command, event.aggregateId, event.sequenceNumber);
      enqueue(unit, command);
    }
    return Promise.resolve();
  }

  /**
   * A key for the event being handled, the same every time it is handled:
   * `<workflow>:<aggregate id>:<sequence number>`. A workflow run
   * asynchronously is handled at least once; use the key to make side
   * effects of its own idempotent (a payment provider's idempotency key,
   * an e-mail's message id). The commands it issues need none: they are
   * stored once.
   *
   * @returns The key.
   *
   * @example
   * ```ts ignore
   * this.on(OrderPlaced, (workflow) =>
   *   workflow.afterCommit(() => mailer.send({ id: workflow.idempotencyKey(), … })));
   * ```
   */
  idempotencyKey(): string {
    const unit = currentUnit("Workflow.idempotencyKey");
    const event = unit.currentEvent;
    if (!event) {
      throw new SequentError(
        "Workflow.idempotencyKey() is only available while the workflow handles an event",
      );
    }
    const cls = this.constructor as { processorName?: unknown; name: string };
    const name = typeof cls.processorName === "string" && cls.processorName
      ? cls.processorName
      : cls.name;
    return `${name}:${event.aggregateId}:${event.sequenceNumber}`;
  }

  /**
   * Runs `callback` once the unit's transaction has committed, and never if
   * it rolls back. Errors are logged (or swallowed with `ignoreErrors`); they
   * cannot undo the commit.
   *
   * @param callback The side effect.
   * @param options `ignoreErrors`.
   */
  afterCommit(
    callback: () => unknown,
    options: AfterCommitOptions = {},
  ): void {
    const unit = currentUnit("Workflow.afterCommit");
    unit.afterCommit.push({
      run: callback,
      ignoreErrors: options.ignoreErrors ?? false,
      description: `${this.constructor.name} after commit`,
    });
  }
}
