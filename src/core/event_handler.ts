/**
 * Event handlers: the base of projectors and workflows, which the command
 * service calls with every stored event inside the same unit of work.
 *
 * @module
 */
import type { Event } from "./event.ts";
import {
  addRoute,
  type ClassOf,
  type Target,
  type TargetMessage,
} from "./message_router.ts";

/**
 * The base class of event handlers (projectors and workflows). Register a
 * handler per event type with {@linkcode EventHandler.on}.
 *
 * @example
 * ```ts
 * import { attrs, Event, EventHandler } from "@sequent/core";
 *
 * class Pinged extends Event.define("Pinged", { by: attrs.string() }) {}
 * class PingCounter extends EventHandler {
 *   count = 0;
 *   static {
 *     this.on(Pinged, (counter) => {
 *       counter.count++;
 *     });
 *   }
 * }
 * ```
 */
export abstract class EventHandler {
  /**
   * Registers a handler for the events a target matches: a class (exactly
   * that class), a matcher, or a list of these.
   *
   * @param target Which events.
   * @param handler Receives this handler and the event, typed.
   */
  static on<H extends EventHandler, T extends Target<Event>>(
    this: ClassOf<H>,
    target: T,
    handler: (handler: H, event: TargetMessage<T>) => unknown,
  ): void {
    addRoute(this, target, handler);
  }
}
