/**
 * Dry runs: what commands would do, without doing it. The commands execute
 * in a transaction that is always rolled back; their events are recorded
 * with the projectors and workflows each would reach, which are not run.
 *
 * @module
 */
import type { AttributedClass } from "./attributed.ts";
import type { Command } from "./command.ts";
import type { Event } from "./event.ts";

/**
 * A handler an event would reach.
 *
 * @example
 * ```ts
 * import type { DryRunHandler } from "@sequent/core";
 *
 * const handler: DryRunHandler = { kind: "projector", name: "PostProjector" };
 * ```
 */
export interface DryRunHandler {
  /** What kind of event handler it is. */
  readonly kind: "projector" | "workflow" | "event handler";
  /** Its class name. */
  readonly name: string;
}

/**
 * An event a command would store, and where it would go.
 *
 * @example
 * ```ts
 * import type { DryRunEvent } from "@sequent/core";
 *
 * const count = (e: DryRunEvent): number => e.handlers.length;
 * ```
 */
export interface DryRunEvent {
  /** The event. */
  readonly event: Event;
  /** The event handlers it would reach. */
  readonly handlers: readonly DryRunHandler[];
}

/**
 * A command of a dry run and its events.
 *
 * @example
 * ```ts
 * import type { DryRunCommand } from "@sequent/core";
 *
 * const eventCount = (c: DryRunCommand): number => c.events.length;
 * ```
 */
export interface DryRunCommand {
  /** The command. */
  readonly command: Command;
  /** The events it would store, in order. */
  readonly events: readonly DryRunEvent[];
}

function typeName(message: object): string {
  const cls = message.constructor as unknown as AttributedClass;
  return cls.typeName || cls.name;
}

/**
 * What a dry run found: per command, the events it would store and the
 * handlers each would reach. `toString()` prints it as a tree.
 *
 * @example
 * ```ts
 * import { DryRunReport } from "@sequent/core";
 *
 * console.assert(new DryRunReport().toString() === "(no commands)");
 * ```
 */
export class DryRunReport {
  /** The commands, in execution order. */
  readonly commands: DryRunCommand[] = [];

  /** Every event of every command, in order. */
  get events(): Event[] {
    return this.commands.flatMap((c) => c.events.map((e) => e.event));
  }

  /**
   * Records a command (used by the command service).
   *
   * @param command The command.
   * @param events The events it stored.
   */
  record(command: Command, events: readonly DryRunEvent[]): void {
    this.commands.push({ command, events });
  }

  /** The report as a readable tree. */
  toString(): string {
    if (this.commands.length === 0) return "(no commands)";
    const lines: string[] = [];
    for (const { command, events } of this.commands) {
      lines.push(`${typeName(command)} ${command.aggregateId}`);
      events.forEach(({ event, handlers }, i) => {
        const lastEvent = i === events.length - 1;
        lines.push(
          `${lastEvent ? "└─" : "├─"} ${
            typeName(event)
          } ${event.sequenceNumber} of ${event.aggregateId}`,
        );
        const indent = lastEvent ? "   " : "│  ";
        if (handlers.length === 0) lines.push(`${indent}└─ (no handlers)`);
        handlers.forEach((h, j) => {
          lines.push(
            `${indent}${
              j === handlers.length - 1 ? "└─" : "├─"
            } ${h.kind} ${h.name}`,
          );
        });
      });
      if (events.length === 0) lines.push("└─ (no events)");
    }
    return lines.join("\n");
  }
}
