/**
 * Command handlers: where commands meet aggregates.
 *
 * @module
 */
import type {
  AggregateClassLike,
  AggregateRepository,
} from "./aggregate_repository.ts";
import type { AggregateRoot } from "./aggregate_root.ts";
import type { Command } from "./command.ts";
import {
  addRoute,
  type ClassOf,
  type Target,
  type TargetMessage,
} from "./message_router.ts";
import { currentUnit } from "./unit_of_work.ts";

/**
 * The base class of command handlers. Register a handler per command type
 * with {@linkcode CommandHandler.on}; inside it, `handler.repository` is the
 * current unit of work's repository.
 *
 * @example
 * ```ts
 * import { AggregateRoot, attrs, Command, CommandHandler, Event } from "@sequent/core";
 *
 * class Published extends Event.define("Published", { on: attrs.date() }) {}
 * class Post extends AggregateRoot {
 *   publish(on: Published["on"]): void {
 *     this.apply(Published, { on });
 *   }
 * }
 * class PublishPost extends Command.define("PublishPost", { on: attrs.date().required() }) {}
 *
 * export class PostCommandHandler extends CommandHandler {
 *   static {
 *     this.on(PublishPost, (handler, command) =>
 *       handler.doWithAggregate(command, Post, (post) => post.publish(command.on)));
 *   }
 * }
 * ```
 */
export abstract class CommandHandler {
  /** The current unit of work's repository (only while a command executes). */
  get repository(): AggregateRepository {
    return currentUnit("CommandHandler.repository").repository;
  }

  /**
   * Loads the aggregate a command addresses and runs `fn` on it; its new
   * events are stored when the command completes.
   *
   * @param command The command (its `aggregateId` is used unless `aggregateId` is given).
   * @param cls The aggregate's class.
   * @param fn What to do with the aggregate.
   * @param aggregateId Another aggregate id to load.
   */
  async doWithAggregate<A extends AggregateRoot>(
    command: Command,
    cls: AggregateClassLike<A>,
    fn: (aggregate: A) => void | Promise<void>,
    aggregateId: string = command.aggregateId,
  ): Promise<void> {
    const aggregate = await this.repository.loadAggregate(aggregateId, cls);
    await fn(aggregate);
  }

  /**
   * Registers a handler for the commands a target matches: a class
   * (exactly that class), a matcher, or a list of these. Every matching
   * handler of every command handler runs.
   *
   * @param target Which commands.
   * @param handler Receives this handler and the command, typed.
   */
  static on<H extends CommandHandler, T extends Target<Command>>(
    this: ClassOf<H>,
    target: T,
    handler: (handler: H, command: TargetMessage<T>) => unknown,
  ): void {
    addRoute(this, target, handler);
  }
}
