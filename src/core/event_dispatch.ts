/**
 * Delivering events to event handlers (projectors and workflows): the one
 * routing path inline projection, replays and processors share. Each
 * handler's matching `on()` handlers run in registration order, handler
 * after handler in the order given, each once per event.
 *
 * @module
 */
import type { Event } from "./event.ts";
import {
  handlersFor,
  routedClasses,
  routesOf,
  routesVersion,
} from "./message_router.ts";

/**
 * A promise that has settled already: a handler (or a record store it
 * writes through) that returns it finished its work at once, and
 * {@linkcode deliver} does not wait for it.
 */
export const SETTLED: Promise<void> = Promise.resolve();

/** A handler and one of its `on()` functions that takes an event. */
export type Delivery<H> = readonly [
  handler: H,
  fn: (handler: H, event: Event) => unknown,
];

/**
 * The routes from events to a fixed list of handlers, decided once per
 * event class when every matcher depends on the class alone (as most do).
 */
export class EventRoutes<H extends object> {
  readonly #handlers: readonly H[];
  readonly #byClass = new Map<unknown, readonly Delivery<H>[]>();
  #version = -1;
  #cacheable = false;

  /**
   * Routes to these handlers.
   *
   * @param handlers The handlers, in delivery order.
   */
  constructor(handlers: readonly H[]) {
    this.#handlers = handlers;
  }

  /** The handlers routed to. */
  get handlers(): readonly H[] {
    return this.#handlers;
  }

  /**
   * What receives `event`, in delivery order.
   *
   * @param event The event.
   * @returns Each handler with each of its functions that match.
   */
  for(event: Event): readonly Delivery<H>[] {
    const version = routesVersion();
    if (version !== this.#version) {
      this.#version = version;
      this.#byClass.clear();
      this.#cacheable = this.#handlers.every((h) =>
        routesOf<unknown>(h.constructor).every((r) => r.matcher.byClassOnly)
      );
    }
    if (!this.#cacheable) return this.#route(event);
    let list = this.#byClass.get(event.constructor);
    if (!list) this.#byClass.set(event.constructor, list = this.#route(event));
    return list;
  }

  #route(event: Event): Delivery<H>[] {
    const list: Delivery<H>[] = [];
    for (const handler of this.#handlers) {
      for (
        const fn of handlersFor<(h: H, e: Event) => unknown>(
          handler.constructor,
          event,
        )
      ) list.push([handler, fn]);
    }
    return list;
  }
}

/**
 * Delivers `event` through `routes`: every function runs after the one
 * before has settled. Returns `undefined` when all of them finished at
 * once (nothing to wait for: the replay's hot path), else a promise.
 *
 * @param routes The routes.
 * @param event The event.
 * @returns A promise to await, or `undefined`.
 */
export function deliver<H extends object>(
  routes: EventRoutes<H>,
  event: Event,
): Promise<void> | undefined {
  const list = routes.for(event);
  for (let i = 0; i < list.length; i++) {
    const [handler, fn] = list[i]!;
    const result = fn(handler, event);
    if (result instanceof Promise && result !== SETTLED) {
      return rest(list, i + 1, event, result);
    }
  }
  return undefined;
}

async function rest<H>(
  list: readonly Delivery<H>[],
  from: number,
  event: Event,
  pending: Promise<unknown>,
): Promise<void> {
  await pending;
  for (let i = from; i < list.length; i++) {
    const [handler, fn] = list[i]!;
    await fn(handler, event);
  }
}

/**
 * The stored event types the handlers route on, or `undefined` when one of
 * them routes by a matcher that names no class (`isA`, `where`,
 * `anyMessage`): then any event may be theirs. Readers filter by it. (The
 * classes `isA` tests for, its `baseClasses`, bound nothing: a subclass may
 * be stored under another type name.)
 *
 * @param handlers The handlers.
 * @returns The type names.
 *
 * @example
 * ```ts
 * import { Event, EventHandler, isA } from "@sequent/core";
 * import { handledEventTypes } from "./event_dispatch.ts";
 *
 * class Filed extends Event.define("Dsp_DocFiled", {}) {}
 * class ByType extends EventHandler {
 *   static {
 *     this.on(Filed, () => {});
 *   }
 * }
 * class AnyFiled extends EventHandler {
 *   static {
 *     this.on(isA(Filed), () => {});
 *   }
 * }
 * console.assert(handledEventTypes([new ByType()])?.[0] === "Dsp_DocFiled");
 * console.assert(handledEventTypes([new AnyFiled()]) === undefined);
 * ```
 */
export function handledEventTypes(
  handlers: readonly object[],
): string[] | undefined {
  const names = new Set<string>();
  for (const handler of handlers) {
    const owner = handler.constructor;
    if (routesOf(owner).some((r) => r.matcher.classes.length === 0)) {
      return undefined;
    }
    for (const cls of routedClasses(owner)) {
      const name = (cls as unknown as { typeName?: unknown }).typeName;
      if (typeof name === "string" && name !== "") names.add(name);
    }
  }
  return [...names];
}
