/**
 * Message routing shared by aggregates, command handlers, projectors and
 * workflows: `on(target, handler)` registers a handler for the messages a
 * target matches, and every matching handler runs.
 *
 * A class as target matches instances of exactly that class, as in Sequent;
 * {@linkcode isA}, {@linkcode anyMessage}, {@linkcode hasAttrs} and
 * {@linkcode where} match more broadly.
 *
 * The classes a route names become what stored messages of their type names
 * are read back as, in any process (see type_catalog.ts): a route on exactly
 * `PostPublished` must see the rows stored as "PostPublished". So do the
 * classes a route tests messages for with `instanceof`: `isA(PostPublished)`
 * must match them too, and `except: [PostPublished]` must leave them out.
 *
 * @module
 */
import { recordRoutedBase, recordRoutedClass } from "./type_catalog.ts";

/** A class whose instances are `T`. */
export type ClassOf<T> = abstract new (...args: never[]) => T;

/**
 * Decides which messages a handler receives.
 *
 * @example
 * ```ts
 * import { type Matcher, where } from "@sequent/core";
 *
 * const everything: Matcher<object> = where((_m): _m is object => true, "anything");
 * console.assert(everything.matches({}));
 * ```
 */
export interface Matcher<T> {
  /** How the matcher reads in logs and errors. */
  readonly description: string;
  /**
   * The classes the matcher names: it matches messages of no other class
   * (registered as known message types; readers that filter stored events
   * by type read only theirs). Empty when it may match any class.
   */
  readonly classes: readonly ClassOf<unknown>[];
  /**
   * The classes the matcher tests messages for with `instanceof` (those of
   * {@linkcode isA}: its class and its `except` classes; those of
   * {@linkcode anyMessage}: its `except` classes), if any. Stored messages
   * of their type names are read back as instances of them, in any process
   * (see the module documentation). Unlike `classes`, they do not bound
   * which classes the matcher matches.
   *
   * @example
   * ```ts
   * import { Event, isA } from "@sequent/core";
   *
   * class Drafted extends Event.define("Drafted", {}) {}
   * class Archived extends Event.define("Archived", {}) {}
   * const m = isA(Drafted, { except: [Archived] });
   * console.assert(m.classes.length === 0);
   * console.assert(m.baseClasses?.length === 2);
   * ```
   */
  readonly baseClasses?: readonly ClassOf<unknown>[] | undefined;
  /**
   * Whether the match depends only on the message's class (lets the router
   * cache the decision per class).
   */
  readonly byClassOnly: boolean;
  /** Whether the matcher accepts `message`. */
  matches(message: object): message is T & object;
}

/** What `on` accepts: a class, a matcher, or a list of either. */
export type Target<T> =
  | ClassOf<T>
  | Matcher<T>
  | readonly (ClassOf<T> | Matcher<T>)[];

/** The message type a target matches. */
export type TargetMessage<X> = X extends Matcher<infer T> ? T
  : X extends abstract new (...args: never[]) => infer T ? T
  : X extends readonly (infer E)[] ? TargetMessage<E>
  : never;

function className(cls: ClassOf<unknown>): string {
  const named = cls as unknown as { typeName?: string; name: string };
  return named.typeName || named.name;
}

/**
 * Matches instances of exactly `cls` (not of its subclasses); what a bare
 * class passed to `on` means.
 *
 * @param cls The class.
 *
 * @example
 * ```ts
 * import { attrs, Event, exactly } from "@sequent/core";
 *
 * class Pinged extends Event.define("Pinged", {}) {}
 * const m = exactly(Pinged);
 * console.assert(m.matches(new Pinged({ aggregateId: crypto.randomUUID(), sequenceNumber: 1 })));
 * ```
 */
export function exactly<C extends ClassOf<unknown>>(
  cls: C,
): Matcher<InstanceType<C>> {
  checkClass(cls);
  return {
    description: className(cls),
    classes: [cls],
    byClassOnly: true,
    matches: (m): m is InstanceType<C> & object => m.constructor === cls,
  };
}

/**
 * Matches instances of `cls` and its subclasses, except those of the
 * `except` classes (and their subclasses).
 *
 * @param cls The base class.
 * @param options `except`: classes to leave out.
 *
 * @example
 * ```ts
 * import { Event, isA } from "@sequent/core";
 *
 * const everyEvent = isA(Event);
 * console.assert(everyEvent.description === "any Event");
 * ```
 */
export function isA<C extends ClassOf<unknown>>(
  cls: C,
  options: { except?: readonly ClassOf<unknown>[] } = {},
): Matcher<InstanceType<C>> {
  checkClass(cls);
  const except = options.except ?? [];
  except.forEach(checkClass);
  return {
    description: `any ${className(cls)}${describeExcept(except)}`,
    // any subclass may match, whatever name it is stored under
    classes: [],
    baseClasses: [cls, ...except],
    byClassOnly: true,
    matches: (m): m is InstanceType<C> & object =>
      m instanceof cls && !except.some((e) => m instanceof e),
  };
}

/**
 * Matches every message, except instances of the `except` classes. Name the
 * message type a handler receives, as in `this.on(anyMessage<Event>(), …)`.
 *
 * @typeParam T The messages' type (default `object`).
 * @param options `except`: classes to leave out.
 *
 * @example
 * ```ts
 * import { anyMessage, Event, EventHandler } from "@sequent/core";
 *
 * console.assert(anyMessage().matches({}));
 *
 * class Audit extends EventHandler {
 *   static {
 *     this.on(anyMessage<Event>(), (_audit, event) => console.debug(event.aggregateId));
 *   }
 * }
 * ```
 */
export function anyMessage<T extends object = object>(
  options: { except?: readonly ClassOf<unknown>[] } = {},
): Matcher<T> {
  const except = options.except ?? [];
  except.forEach(checkClass);
  return {
    description: `any message${describeExcept(except)}`,
    classes: [],
    baseClasses: except,
    byClassOnly: true,
    matches: (m): m is T => !except.some((e) => m instanceof e),
  };
}

/** An expected attribute value, or a test of it. */
export type AttrExpectation<V> = V | ((value: V) => boolean);

/**
 * Matches instances of exactly `cls` whose attributes have the given values
 * (compared with `equals` when the value has one, else `===`) or pass the
 * given tests.
 *
 * @param cls The class.
 * @param expected Attribute values or tests.
 *
 * @example
 * ```ts
 * import { attrs, Event, hasAttrs } from "@sequent/core";
 *
 * class Scored extends Event.define("Scored", { points: attrs.integer() }) {}
 * const big = hasAttrs(Scored, { points: (p) => (p ?? 0) >= 3 });
 * console.assert(big.matches(new Scored({ aggregateId: crypto.randomUUID(), sequenceNumber: 1, points: 3 })));
 * ```
 */
export function hasAttrs<C extends ClassOf<object>>(
  cls: C,
  expected: {
    [K in keyof InstanceType<C>]?: AttrExpectation<InstanceType<C>[K]>;
  },
): Matcher<InstanceType<C>> {
  checkClass(cls);
  const entries = Object.entries(expected) as [string, unknown][];
  return {
    description: `${className(cls)} with ${
      entries.map(([k, v]) =>
        `${k} ${typeof v === "function" ? "matching" : JSON.stringify(v)}`
      ).join(", ")
    }`,
    classes: [cls],
    byClassOnly: false,
    matches: (m): m is InstanceType<C> & object => {
      if (m.constructor !== cls) return false;
      const values = m as Record<string, unknown>;
      return entries.every(([key, want]) => {
        const actual = values[key];
        if (typeof want === "function") {
          return Boolean((want as (v: unknown) => unknown)(actual));
        }
        if (actual === want) return true;
        if (
          typeof want === "object" && want !== null &&
          typeof (want as { equals?: unknown }).equals === "function"
        ) {
          // an absent or unrelated value is no match, not a crash in equals()
          if (actual === undefined || actual === null) return false;
          try {
            return (want as { equals(o: unknown): boolean }).equals(actual);
          } catch {
            return false;
          }
        }
        return false;
      });
    },
  };
}

/**
 * Matches messages for which `predicate` returns true.
 *
 * @param predicate The test.
 * @param description How the matcher reads in logs.
 *
 * @example
 * ```ts
 * import { Event, where } from "@sequent/core";
 *
 * const firstEvents = where((m): m is Event => m instanceof Event && m.sequenceNumber === 1, "first events");
 * console.assert(firstEvents.description === "first events");
 * ```
 */
export function where<T>(
  predicate:
    | ((message: object) => message is T & object)
    | ((message: object) => boolean),
  description = "messages matching a predicate",
): Matcher<T> {
  if (typeof predicate !== "function") {
    throw new TypeError("where() needs a predicate function");
  }
  return {
    description,
    classes: [],
    byClassOnly: false,
    matches: (m): m is T & object => Boolean(predicate(m)),
  };
}

function describeExcept(except: readonly ClassOf<unknown>[]): string {
  return except.length ? ` except ${except.map(className).join(", ")}` : "";
}

function checkClass(cls: unknown): void {
  if (typeof cls !== "function") {
    throw new TypeError(`Expected a class, got ${String(cls)}`);
  }
}

function isMatcher(value: unknown): value is Matcher<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as Matcher<unknown>).matches === "function";
}

/** Turns what `on` was given into matchers. */
export function toMatchers(target: unknown): Matcher<unknown>[] {
  const list = Array.isArray(target) ? target : [target];
  if (list.length === 0) throw new TypeError("on() needs at least one target");
  return list.map((t) => {
    if (isMatcher(t)) return t;
    if (typeof t === "function") return exactly(t as ClassOf<unknown>);
    throw new TypeError(
      `on() takes a class or a matcher, got ${JSON.stringify(t)}`,
    );
  });
}

interface Route<H> {
  readonly matcher: Matcher<unknown>;
  readonly handler: H;
}

const ownRoutes = new WeakMap<object, Route<unknown>[]>();
let version = 0;

/**
 * Registers a handler on an owner class (an aggregate, projector, …), and
 * records the classes its matchers name or test for as the classes of their
 * type names (see the module documentation).
 *
 * @param owner The class the route belongs to.
 * @param target What `on` was given.
 * @param handler The handler.
 * @returns The target's matchers.
 *
 * @example
 * ```ts
 * import { Event, isA } from "@sequent/core";
 * import { addRoute, handlersFor } from "./message_router.ts";
 *
 * class Noted extends Event.define("Rtr_DocNoted", {}) {}
 * class Notes {}
 * const handler = () => {};
 * addRoute(Notes, isA(Noted), handler);
 * const noted = new Noted({ aggregateId: crypto.randomUUID(), sequenceNumber: 1 });
 * console.assert(handlersFor(Notes, noted)[0] === handler);
 * ```
 */
export function addRoute<H>(
  owner: object,
  target: unknown,
  handler: H,
): Matcher<unknown>[] {
  if (typeof handler !== "function") {
    throw new TypeError("on() needs a handler function");
  }
  const matchers = toMatchers(target);
  let routes = ownRoutes.get(owner);
  if (!routes) ownRoutes.set(owner, routes = []);
  for (const matcher of matchers) {
    routes.push({ matcher, handler });
    // Recorded now, at class definition, not when an instance is first
    // built: a fresh process reads stored rows before it builds any.
    for (const cls of matcher.classes) recordRoutedClass(cls);
    for (const cls of matcher.baseClasses ?? []) recordRoutedBase(cls);
  }
  version++;
  return matchers;
}

/**
 * A number that changes whenever a route is registered: a cache of routing
 * decisions made at one value is stale at another.
 */
export function routesVersion(): number {
  return version;
}

/** Every route of an owner class, its ancestors' first. */
export function routesOf<H>(owner: object): readonly Route<H>[] {
  const chain: object[] = [];
  for (
    let current: object | null = owner;
    current && current !== Function.prototype;
    current = Object.getPrototypeOf(current) as object | null
  ) {
    chain.unshift(current);
  }
  return chain.flatMap((cls) => (ownRoutes.get(cls) ?? []) as Route<H>[]);
}

interface Cached<H> {
  readonly version: number;
  readonly routes: readonly Route<H>[];
  readonly byClassOnly: boolean;
  readonly byClass: Map<unknown, readonly H[]>;
}

const caches = new WeakMap<object, Cached<unknown>>();

/**
 * The handlers of `owner` (and its ancestors) that match `message`, in
 * registration order. When every matcher depends on the class alone, the
 * decision is cached per message class.
 */
export function handlersFor<H>(owner: object, message: object): readonly H[] {
  let cache = caches.get(owner) as Cached<H> | undefined;
  if (!cache || cache.version !== version) {
    const routes = routesOf<H>(owner);
    cache = {
      version,
      routes,
      byClassOnly: routes.every((r) => r.matcher.byClassOnly),
      byClass: new Map(),
    };
    caches.set(owner, cache as Cached<unknown>);
  }
  if (!cache.byClassOnly) return matching(cache.routes, message);
  let handlers = cache.byClass.get(message.constructor);
  if (!handlers) {
    handlers = matching(cache.routes, message);
    cache.byClass.set(message.constructor, handlers);
  }
  return handlers;
}

/**
 * The handlers of the routes that match, each once (as in Sequent, a handler
 * registered for `[A, isA(Base)]` runs once for an `A`), in route order.
 */
function matching<H>(routes: readonly Route<H>[], message: object): H[] {
  const handlers = new Set<H>();
  for (const r of routes) {
    if (r.matcher.matches(message)) handlers.add(r.handler);
  }
  return [...handlers];
}

/** Whether an owner has any route for a message. */
export function handles(owner: object, message: object): boolean {
  return handlersFor(owner, message).length > 0;
}

/** The message classes an owner's routes name explicitly. */
export function routedClasses(owner: object): ClassOf<unknown>[] {
  return [...new Set(routesOf(owner).flatMap((r) => r.matcher.classes))];
}
