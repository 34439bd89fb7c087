/**
 * Commands: requests to change an aggregate, validated before any handler
 * runs.
 *
 * @module
 */
import {
  Attributed,
  type AttributedClass,
  attributesToJson,
} from "./attributed.ts";
import type { AttributeInit, AttributeValues, Shape } from "./attributes.ts";
import { attrs } from "./attrs.ts";
import { checkTypeName, extendShape, setStatics } from "./define.ts";
import type { JsonObject } from "./json.ts";
import { recordClass, recordDefinition } from "./type_catalog.ts";

/** What every command is constructed with, besides its own attributes. */
export interface CommandInit {
  /** The aggregate the command addresses. */
  aggregateId: string;
  /**
   * The command's id (a UUID), stored with its record at most once: give
   * one to make executing the command idempotent (an HTTP idempotency key,
   * the id of the event that caused it); without one, each execution gets
   * a new id.
   */
  commandId?: string | undefined;
  /** The user issuing the command, if known. */
  userId?: string | undefined;
  /**
   * Causation: the aggregate of the event whose handler issued the command.
   * Filled in automatically for commands issued by workflows.
   */
  eventAggregateId?: string | undefined;
  /** Causation: the sequence number of that event. */
  eventSequenceNumber?: number | undefined;
}

/** The largest sequence number: PostgreSQL stores them as 32-bit integers. */
const MAX_SEQUENCE_NUMBER = 2147483647;

/** The attributes every command has; stored as columns, not in its payload. */
export const COMMAND_BASE_KEYS: ReadonlySet<string> = new Set([
  "aggregateId",
  "commandId",
  "userId",
  "eventAggregateId",
  "eventSequenceNumber",
]);

/**
 * The class `Command.define(typeName, attributes)` returns: extend it.
 */
export type DefinedCommand<S extends Shape> =
  & (new (init: CommandInit & AttributeInit<S>) => Command & AttributeValues<S>)
  & Omit<typeof Command, "prototype">;

/**
 * Any command class, typed by the commands it creates.
 */
export type CommandClass<C extends Command = Command> =
  & (abstract new (init: never) => C)
  & AttributedClass;

/**
 * A command: a request to change the system. Declare command types with
 * {@linkcode Command.define} and execute them with the command service.
 *
 * @example
 * ```ts
 * import { attrs, Command } from "@sequent/core";
 *
 * export class AddPost extends Command.define("AddPost", {
 *   author: attrs.string().required(),
 *   title: attrs.string().required(),
 *   content: attrs.string().required(),
 * }) {}
 *
 * const command = new AddPost({
 *   aggregateId: crypto.randomUUID(),
 *   author: "ben",
 *   title: "",
 *   content: "Hello",
 * });
 * console.assert(command.validate().title?.[0] === "can't be blank");
 * ```
 */
export abstract class Command extends Attributed {
  /** The aggregate the command addresses. */
  declare readonly aggregateId: string;
  /** The command's id, when the caller gave one (see {@linkcode CommandInit}). */
  declare readonly commandId: string | undefined;
  /** The user issuing the command, if known. */
  declare readonly userId: string | undefined;
  /** Causation: the aggregate of the event whose handler issued it. */
  declare readonly eventAggregateId: string | undefined;
  /** Causation: the sequence number of that event. */
  declare readonly eventSequenceNumber: number | undefined;

  /** The attributes every command has. */
  static override readonly shape: Shape = Object.freeze({
    aggregateId: attrs.uuid().required(),
    commandId: attrs.uuid(),
    userId: attrs.string(),
    eventAggregateId: attrs.uuid(),
    // what a stored sequence number can be, on every store
    eventSequenceNumber: attrs.integer().validate(
      (n) => n >= 1 && n <= MAX_SEQUENCE_NUMBER,
      `must be a sequence number, from 1 to ${MAX_SEQUENCE_NUMBER}`,
    ),
  });

  /**
   * Creates a command.
   *
   * @param init The aggregate id, optional user id and causation, and the
   * command's own attributes.
   */
  constructor(init: CommandInit) {
    super(init);
    const cls = new.target as unknown as AttributedClass;
    if (!cls.typeName) {
      throw new TypeError(
        `${cls.name} must be declared with Command.define(typeName, attributes)`,
      );
    }
    recordClass("command", cls.typeName, new.target);
  }

  /**
   * Declares a command type: a stable type name (stored in the command log)
   * and its attributes.
   *
   * @param typeName The stable name stored with each command record.
   * @param shape The command's own attributes.
   * @returns A class to extend.
   *
   * @example
   * ```ts
   * import { attrs, Command } from "@sequent/core";
   *
   * class PublishPost extends Command.define("PublishPost", {
   *   publicationDate: attrs.date().required(),
   * }) {}
   * console.assert(PublishPost.typeName === "PublishPost");
   * ```
   */
  static define<S extends Shape>(
    typeName: string,
    shape: S,
  ): DefinedCommand<S> {
    checkTypeName("command", typeName);
    const merged = extendShape(
      `Command "${typeName}"`,
      Command.shape,
      Command.prototype,
      shape,
    );
    const cls = class extends Command {};
    setStatics(cls, typeName, typeName, merged);
    recordDefinition("command", typeName, cls);
    return cls as unknown as DefinedCommand<S>;
  }

  /**
   * The command's own attributes as JSON, without the base attributes: what
   * the command log stores as its body.
   *
   * @example
   * ```ts
   * import { attrs, Command } from "@sequent/core";
   *
   * class Rename extends Command.define("Rename", { name: attrs.string() }) {}
   * const c = new Rename({ aggregateId: crypto.randomUUID(), name: "x" });
   * console.assert(JSON.stringify(c.payload()) === '{"name":"x"}');
   * ```
   */
  payload(): JsonObject {
    return attributesToJson(this, COMMAND_BASE_KEYS);
  }
}

/** Records which event caused a command (used for workflow-issued commands). */
export function setCausation(
  command: Command,
  eventAggregateId: string,
  eventSequenceNumber: number,
): void {
  const target = command as {
    eventAggregateId: string | undefined;
    eventSequenceNumber: number | undefined;
  };
  if (target.eventAggregateId === undefined) {
    target.eventAggregateId = eventAggregateId;
    target.eventSequenceNumber = eventSequenceNumber;
  }
}
