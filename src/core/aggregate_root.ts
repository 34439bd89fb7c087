/**
 * Aggregate roots: consistency boundaries whose state is rebuilt from their
 * events.
 *
 * @module
 */
import { valuesEqual } from "./attributed.ts";
import { attrImpl } from "./attributes.ts";
import { HasUncommittedEventsError, ReadOnlyAggregateError } from "./errors.ts";
import type { Event, EventClass, EventInit } from "./event.ts";
import { isJsonValue } from "./attributes.ts";
import type { JsonValue } from "./json.ts";
import {
  addRoute,
  type ClassOf,
  handlersFor,
  type Target,
  type TargetMessage,
} from "./message_router.ts";
import { recordClass } from "./type_catalog.ts";
import { isUuid } from "./_uuid.ts";

/** The attributes `apply` takes for an event class (its own, not the base ones). */
export type EventPayload<C> = C extends abstract new (init: infer I) => Event
  ? Omit<I, keyof EventInit>
  : never;

/** `apply`'s attribute argument: optional when the event has no required ones. */
export type EventPayloadArgs<C> = Record<string, never> extends EventPayload<C>
  ? [attributes?: EventPayload<C>]
  : [attributes: EventPayload<C>];

/**
 * An aggregate class: constructed with its id only.
 */
export type AggregateClass<A extends AggregateRoot = AggregateRoot> =
  & (new (id: string) => A)
  & { readonly aggregateType?: string | undefined; readonly name: string };

/**
 * How an aggregate class takes and restores snapshots of its state.
 *
 * @example
 * ```ts
 * import type { SnapshotOptions } from "@sequent/core";
 *
 * type Counter = { count: number };
 * const options: SnapshotOptions<Counter, { count: number }> = {
 *   version: 1,
 *   threshold: 100,
 *   take: (c) => ({ count: c.count }),
 *   restore: (c, state) => { c.count = state.count; },
 * };
 * ```
 */
export interface SnapshotOptions<A, S extends JsonValue> {
  /**
   * The version of the snapshot format. Bump it when `take`/`restore`
   * change: snapshots of other versions are then ignored.
   */
  readonly version: number;
  /**
   * Mark the aggregate for a new snapshot once this many events follow the
   * latest one (default 20).
   */
  readonly threshold?: number | undefined;
  /** Returns the aggregate's state as JSON. */
  take(aggregate: A): S;
  /** Sets a freshly constructed aggregate's state from a snapshot. */
  restore(aggregate: A, state: S): void;
}

interface SnapshotConfig {
  readonly version: number;
  readonly threshold: number;
  take(aggregate: AggregateRoot): JsonValue;
  restore(aggregate: AggregateRoot, state: JsonValue): void;
}

interface UniqueKeyDef {
  readonly scope: string;
  readonly key: (aggregate: AggregateRoot) => JsonValue | undefined | null;
}

const snapshotConfigs = new WeakMap<object, SnapshotConfig>();
const uniqueKeyDefs = new WeakMap<object, UniqueKeyDef[]>();

/** Internal access to an aggregate's private state, for the repository. */
export interface AggregateInternals {
  /** Runs the handlers of a stored event and advances the sequence number. */
  replay(aggregate: AggregateRoot, event: Event): void;
  /** Sets the sequence number (after restoring a snapshot). */
  setSequenceNumber(aggregate: AggregateRoot, sequenceNumber: number): void;
  /** Takes and clears the uncommitted events. */
  takeUncommitted(aggregate: AggregateRoot): Event[];
  /** Makes the aggregate refuse to apply events. */
  makeReadOnly(aggregate: AggregateRoot): void;
}

let internals: AggregateInternals | undefined;

/** Access to aggregate internals (for the repository only). */
export function aggregateInternals(): AggregateInternals {
  return internals as AggregateInternals;
}

/** What the platform says when frozen values are changed. */
const FROZEN =
  /object is not extensible|read only property|Cannot delete property|Cannot redefine property/;

/**
 * The error of a handler that changed a frozen value (an event's array or
 * JSON value, or state kept from one), with what to do instead; any other
 * error as it is.
 */
function explainFrozen(
  error: unknown,
  aggregate: string,
  event: Event,
): unknown {
  if (!(error instanceof TypeError) || !FROZEN.test(error.message)) {
    return error;
  }
  const type = (event.constructor as { typeName?: string }).typeName;
  return new TypeError(
    `${aggregate} handling ${type}: ${error.message}. ` +
      "Events never change: their arrays, JSON values and value objects " +
      "are frozen, so keep a copy as state (this.tags = [...event.tags]) " +
      "and change that",
    { cause: error },
  );
}

/** The stable type name of an aggregate class. */
export function aggregateTypeOf(cls: object): string {
  const named = cls as { aggregateType?: string; name: string };
  return named.aggregateType || named.name;
}

/**
 * The base class of aggregates. An aggregate's state changes only by
 * applying events: {@linkcode AggregateRoot.apply} creates an event, runs
 * the handlers registered with {@linkcode AggregateRoot.on} and queues it to
 * be stored. Loading an aggregate constructs it with its id and replays its
 * events through the same handlers.
 *
 * The constructor must take the id as its only argument and must not apply
 * events: create new aggregates in a static factory, as below.
 *
 * @example
 * ```ts
 * import { AggregateRoot, attrs, Event } from "@sequent/core";
 *
 * class PostAdded extends Event.define("PostAdded", {}) {}
 * class PostTitleChanged extends Event.define("PostTitleChanged", { title: attrs.string() }) {}
 *
 * class Post extends AggregateRoot {
 *   #title: string | undefined;
 *
 *   static add(id: string, title: string): Post {
 *     const post = new Post(id);
 *     post.apply(PostAdded);
 *     post.apply(PostTitleChanged, { title });
 *     return post;
 *   }
 *
 *   get title(): string | undefined {
 *     return this.#title;
 *   }
 *
 *   static {
 *     this.on(PostTitleChanged, (post, event) => {
 *       post.#title = event.title;
 *     });
 *   }
 * }
 *
 * const post = Post.add(crypto.randomUUID(), "Hello");
 * console.assert(post.title === "Hello" && post.sequenceNumber === 2);
 * ```
 */
export abstract class AggregateRoot {
  /**
   * The stable type name stored with the aggregate (default: the class
   * name). Set it when the class may be renamed or minified.
   */
  static readonly aggregateType?: string | undefined;

  /** The aggregate's id (a UUID). */
  readonly id: string;
  #sequenceNumber = 0;
  #uncommitted: Event[] = [];
  #readOnly = false;

  /**
   * Creates an aggregate with no events.
   *
   * @param id The aggregate's id, a UUID.
   */
  constructor(id: string) {
    if (!isUuid(id)) {
      throw new TypeError(
        `Aggregate id must be a lower-case UUID, got ${JSON.stringify(id)}`,
      );
    }
    this.id = id;
    recordClass("aggregate", aggregateTypeOf(new.target), new.target);
  }

  /** The sequence number of the last event applied (0 when none). */
  get sequenceNumber(): number {
    return this.#sequenceNumber;
  }

  /** Events applied since the aggregate was loaded or last committed. */
  get uncommittedEvents(): readonly Event[] {
    return this.#uncommitted;
  }

  /** Whether the aggregate was loaded only to be read (outside a command, or as of a past instant). */
  get isReadOnly(): boolean {
    return this.#readOnly;
  }

  /**
   * The partition its events are stored in. Override to keep related
   * aggregates' events together (default `""`).
   */
  get eventsPartitionKey(): string {
    return "";
  }

  /**
   * Applies a new event: fills in the aggregate id, the next sequence
   * number and the time, runs the registered handlers and queues the event
   * to be stored.
   *
   * @param eventClass The event's class.
   * @param attributes The event's own attributes.
   * @returns The event.
   */
  protected apply<C extends EventClass>(
    eventClass: C,
    ...[attributes]: EventPayloadArgs<C>
  ): InstanceType<C> {
    if (this.#readOnly) throw new ReadOnlyAggregateError(this.id);
    const ctor = eventClass as unknown as new (init: object) => InstanceType<C>;
    const event = new ctor({
      ...(attributes as object | undefined),
      aggregateId: this.id,
      sequenceNumber: this.#sequenceNumber + 1,
    });
    this.#run(event);
    this.#uncommitted.push(event);
    return event;
  }

  /**
   * Applies the event only when one of the given attributes differs from
   * the current value (compared by value, so equal decimals and dates count
   * as unchanged). The current values are `current` when given — use it for
   * `#private` state — else the aggregate's properties of the same names.
   *
   * @param eventClass The event's class.
   * @param attributes The event's own attributes.
   * @param current The current values to compare with.
   * @returns The event, or `undefined` when nothing changed.
   */
  protected applyIfChanged<C extends EventClass>(
    eventClass: C,
    attributes: EventPayload<C>,
    current?: Partial<EventPayload<C>>,
  ): InstanceType<C> | undefined {
    const given = attributes as Record<string, unknown>;
    const compareWith = (current ?? this) as Record<string, unknown>;
    const changed = Object.keys(given).some((key) => {
      if (!current && !(key in this)) {
        throw new TypeError(
          `applyIfChanged(${eventClass.typeName}) needs a property "${key}" on ${this.constructor.name} to compare with, or the current values as its third argument`,
        );
      }
      const attr = eventClass.shape[key];
      return attr
        ? !valuesEqual(attrImpl(attr).codec, compareWith[key], given[key])
        : compareWith[key] !== given[key];
    });
    if (!changed) return undefined;
    return this.apply(
      eventClass,
      ...[attributes] as unknown as EventPayloadArgs<C>,
    );
  }

  #run(event: Event): void {
    for (
      const handler of handlersFor<(a: AggregateRoot, e: Event) => unknown>(
        this.constructor,
        event,
      )
    ) {
      let result: unknown;
      try {
        result = handler(this, event);
      } catch (error) {
        throw explainFrozen(error, this.constructor.name, event);
      }
      if (result instanceof Promise) {
        throw new TypeError(
          `Event handlers of ${this.constructor.name} must be synchronous (handling ${event.constructor.name})`,
        );
      }
    }
    this.#sequenceNumber = event.sequenceNumber;
  }

  /**
   * Registers a handler that updates the aggregate's state for events the
   * target matches: a class (exactly that class), a matcher (`isA`,
   * `hasAttrs`, `where`, `anyMessage`) or a list of these. Handlers are
   * synchronous; every matching one runs, ancestors' handlers first.
   *
   * The event's arrays, JSON values and value objects are frozen (an event
   * never changes, also before it is stored): keep a copy of them as state,
   * `aggregate.tags = [...event.tags]`, not the event's own array, which a
   * later handler could not push onto.
   *
   * @param target Which events.
   * @param handler Receives the aggregate and the event, typed.
   */
  static on<A extends AggregateRoot, T extends Target<Event>>(
    this: ClassOf<A>,
    target: T,
    handler: (aggregate: A, event: TargetMessage<T>) => void,
  ): void {
    recordClass("aggregate", aggregateTypeOf(this), this);
    addRoute(this, target, handler);
  }

  /**
   * Enables snapshots: an explicit, versioned serialise/restore pair. Loading
   * starts from the latest snapshot of the current version, and commits mark
   * the aggregate for a new one every `threshold` events.
   *
   * @param options Version, threshold, and the take/restore functions.
   *
   * @example
   * ```ts
   * import { AggregateRoot } from "@sequent/core";
   *
   * class Counter extends AggregateRoot {
   *   #count = 0;
   *   static {
   *     this.enableSnapshots({
   *       version: 1,
   *       threshold: 50,
   *       take: (c) => ({ count: c.#count }),
   *       restore: (c, state) => {
   *         c.#count = state.count;
   *       },
   *     });
   *   }
   * }
   * ```
   */
  static enableSnapshots<A extends AggregateRoot, S extends JsonValue>(
    this: ClassOf<A>,
    options: SnapshotOptions<A, S>,
  ): void {
    const { version, threshold = 20, take, restore } = options;
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new RangeError(
        `Snapshot version of ${this.name} must be a positive integer, got ${version}`,
      );
    }
    if (!Number.isSafeInteger(threshold) || threshold < 1) {
      throw new RangeError(
        `Snapshot threshold of ${this.name} must be a positive integer, got ${threshold}`,
      );
    }
    if (typeof take !== "function" || typeof restore !== "function") {
      throw new TypeError(
        `Snapshots of ${this.name} need take and restore functions`,
      );
    }
    snapshotConfigs.set(this, {
      version,
      threshold,
      take: take as unknown as (a: AggregateRoot) => JsonValue,
      restore: restore as unknown as (a: AggregateRoot, s: JsonValue) => void,
    });
  }

  /**
   * Declares a unique key: within `scope`, no two aggregates (of any type)
   * may have the same key. The key is derived from the aggregate's state at
   * commit time; `undefined` or `null` means no key. A taken key fails the
   * commit with `AggregateKeyNotUniqueError`.
   *
   * @param scope The uniqueness scope, e.g. `"author_email"`.
   * @param key Derives the key from the aggregate.
   *
   * @example
   * ```ts
   * import { AggregateRoot } from "@sequent/core";
   *
   * class Author extends AggregateRoot {
   *   email: string | undefined;
   *   static {
   *     this.uniqueKey("author_email", (author) => author.email?.toLowerCase());
   *   }
   * }
   * ```
   */
  static uniqueKey<A extends AggregateRoot>(
    this: ClassOf<A>,
    scope: string,
    key: (aggregate: A) => JsonValue | undefined | null,
  ): void {
    if (typeof scope !== "string" || scope === "") {
      throw new TypeError(
        `Unique key scope of ${this.name} must be a non-empty string`,
      );
    }
    if (typeof key !== "function") {
      throw new TypeError(
        `Unique key "${scope}" of ${this.name} needs a function`,
      );
    }
    const list = uniqueKeyDefs.get(this) ?? [];
    if (list.some((d) => d.scope === scope)) {
      throw new TypeError(`${this.name} declares unique key "${scope}" twice`);
    }
    list.push({ scope, key: key as unknown as UniqueKeyDef["key"] });
    uniqueKeyDefs.set(this, list);
  }

  static {
    internals = {
      replay(aggregate, event) {
        aggregate.#run(event);
      },
      setSequenceNumber(aggregate, sequenceNumber) {
        aggregate.#sequenceNumber = sequenceNumber;
      },
      takeUncommitted(aggregate) {
        const events = aggregate.#uncommitted;
        aggregate.#uncommitted = [];
        return events;
      },
      makeReadOnly(aggregate) {
        aggregate.#readOnly = true;
      },
    };
  }
}

function lookupChain<T>(map: WeakMap<object, T>, cls: object): T | undefined {
  for (
    let current: object | null = cls;
    current && current !== AggregateRoot;
    current = Object.getPrototypeOf(current) as object | null
  ) {
    const found = map.get(current);
    if (found) return found;
  }
  return undefined;
}

/** The snapshot configuration of an aggregate class, if enabled. */
export function snapshotConfigOf(cls: object): SnapshotConfig | undefined {
  return lookupChain(snapshotConfigs, cls);
}

/** The unique keys an aggregate has now, by scope (missing keys left out). */
export function uniqueKeysOf(
  aggregate: AggregateRoot,
): Record<string, JsonValue> {
  const keys: Record<string, JsonValue> = {};
  for (
    let current: object | null = aggregate.constructor;
    current && current !== AggregateRoot;
    current = Object.getPrototypeOf(current) as object | null
  ) {
    for (const def of uniqueKeyDefs.get(current) ?? []) {
      if (Object.hasOwn(keys, def.scope)) continue;
      const value = def.key(aggregate);
      if (value === undefined || value === null) continue;
      if (!isJsonValue(value)) {
        throw new TypeError(
          `Unique key "${def.scope}" of ${aggregate.constructor.name} must be a JSON value`,
        );
      }
      keys[def.scope] = value;
    }
  }
  return keys;
}

/** Takes a snapshot of an aggregate's state; it must have no uncommitted events. */
export function takeSnapshot(
  aggregate: AggregateRoot,
): { version: number; sequenceNumber: number; data: string } | undefined {
  const config = snapshotConfigOf(aggregate.constructor);
  if (!config) return undefined;
  if (aggregate.uncommittedEvents.length > 0) {
    throw new HasUncommittedEventsError([aggregate.id]);
  }
  return {
    version: config.version,
    sequenceNumber: aggregate.sequenceNumber,
    data: JSON.stringify(config.take(aggregate)),
  };
}

/** Whether an aggregate's class (or an ancestor) declares unique keys. */
export function hasUniqueKeyDefinitions(aggregate: AggregateRoot): boolean {
  return lookupChain(uniqueKeyDefs, aggregate.constructor) !== undefined;
}
