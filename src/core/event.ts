/**
 * Events: facts that happened to an aggregate, the source of truth.
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

/**
 * What every event is constructed with, besides its own attributes.
 * `AggregateRoot.apply` fills these in.
 */
export interface EventInit {
  /** The aggregate the event belongs to. */
  aggregateId: string;
  /** Its position in the aggregate's stream, from 1. */
  sequenceNumber: number;
  /** When it happened (default: now). */
  createdAt?: Date | undefined;
}

/**
 * Rewrites an event's stored JSON payload from an older shape to the current
 * one before it is read. Upcasters of one event type run in the order they
 * were registered.
 */
export type Upcaster = (payload: JsonObject) => JsonObject;

/** The attributes every event has; not part of its payload. */
export const EVENT_BASE_KEYS: ReadonlySet<string> = new Set([
  "aggregateId",
  "sequenceNumber",
  "createdAt",
]);

const upcasters = new WeakMap<object, Upcaster[]>();

/**
 * The class `Event.define(typeName, attributes)` returns: extend it.
 */
export type DefinedEvent<S extends Shape> =
  & (new (init: EventInit & AttributeInit<S>) => Event & AttributeValues<S>)
  & Omit<typeof Event, "prototype">;

/**
 * Any event class, typed by the events it creates.
 */
export type EventClass<E extends Event = Event> =
  & (abstract new (init: never) => E)
  & AttributedClass;

/**
 * An event: something that happened to an aggregate. Declare event types
 * with {@linkcode Event.define}; apply them with `AggregateRoot.apply`.
 *
 * @example
 * ```ts
 * import { attrs, Event } from "@sequent/core";
 *
 * export class PostTitleChanged extends Event.define("PostTitleChanged", {
 *   title: attrs.string(),
 * }) {}
 *
 * const event = new PostTitleChanged({
 *   aggregateId: crypto.randomUUID(),
 *   sequenceNumber: 3,
 *   title: "Hello",
 * });
 * console.assert(event.sequenceNumber === 3 && event.title === "Hello");
 * ```
 */
export abstract class Event extends Attributed {
  /** The aggregate the event belongs to. */
  declare readonly aggregateId: string;
  /** Its position in the aggregate's stream, from 1, without gaps. */
  declare readonly sequenceNumber: number;
  /** When it happened. */
  declare readonly createdAt: Date;

  /** The attributes every event has. */
  static override readonly shape: Shape = Object.freeze({
    aggregateId: attrs.uuid().required(),
    sequenceNumber: attrs.integer().required(),
    createdAt: attrs.dateTime(),
  });

  /**
   * Creates an event.
   *
   * @param init The aggregate id, sequence number, optional creation time
   * and the event's own attributes.
   */
  constructor(init: EventInit) {
    super(init);
    const cls = new.target as unknown as AttributedClass;
    if (!cls.typeName) {
      throw new TypeError(
        `${cls.name} must be declared with Event.define(typeName, attributes)`,
      );
    }
    recordClass("event", cls.typeName, new.target);
    if (this.createdAt === undefined) {
      (this as { createdAt: Date }).createdAt = new Date();
    }
  }

  /**
   * Declares an event type: a stable type name (stored with every event, so
   * never change it) and its attributes.
   *
   * @param typeName The stable name stored with each event.
   * @param shape The event's own attributes.
   * @returns A class to extend.
   *
   * @example
   * ```ts
   * import { attrs, Event } from "@sequent/core";
   *
   * class PostPublished extends Event.define("PostPublished", {
   *   publicationDate: attrs.date().required(),
   * }) {}
   * console.assert(PostPublished.typeName === "PostPublished");
   * ```
   */
  static define<S extends Shape>(typeName: string, shape: S): DefinedEvent<S> {
    checkTypeName("event", typeName);
    const merged = extendShape(
      `Event "${typeName}"`,
      Event.shape,
      Event.prototype,
      shape,
    );
    const cls = class extends Event {};
    setStatics(cls, typeName, typeName, merged);
    recordDefinition("event", typeName, cls);
    return cls as unknown as DefinedEvent<S>;
  }

  /**
   * Registers an upcaster for this event type: a function that rewrites the
   * stored JSON payload of older events before they are read. Call it in the
   * class's static block; several run in registration order.
   *
   * @param upcaster Rewrites one stored payload.
   *
   * @example Rename a stored attribute
   * ```ts
   * import { attrs, Event } from "@sequent/core";
   *
   * class AuthorNameSet extends Event.define("AuthorNameSet", { fullName: attrs.string() }) {
   *   static {
   *     this.upcast(({ name, ...rest }) => ({ ...rest, fullName: name ?? null }));
   *   }
   * }
   * ```
   */
  static upcast(this: EventClass, upcaster: Upcaster): void {
    if (typeof upcaster !== "function") {
      throw new TypeError("upcast() needs a function");
    }
    // the class upcast() is called on is the one stored rows must become
    recordClass("event", this.typeName, this);
    const owner = definitionOf(this);
    const list = upcasters.get(owner) ?? [];
    list.push(upcaster);
    upcasters.set(owner, list);
  }

  /**
   * The event's own attributes as JSON, without aggregate id, sequence
   * number and creation time: what is stored as its body.
   *
   * @example
   * ```ts
   * import { attrs, Event } from "@sequent/core";
   *
   * class Renamed extends Event.define("Renamed", { name: attrs.string() }) {}
   * const e = new Renamed({ aggregateId: crypto.randomUUID(), sequenceNumber: 1, name: "x" });
   * console.assert(JSON.stringify(e.payload()) === '{"name":"x"}');
   * ```
   */
  payload(): JsonObject {
    return attributesToJson(this, EVENT_BASE_KEYS);
  }
}

/** The class in `cls`'s chain that `define` created (it owns the type name). */
function definitionOf(cls: object): object {
  let current: object | null = cls;
  while (current && !Object.hasOwn(current, "typeName")) {
    current = Object.getPrototypeOf(current) as object | null;
  }
  return current ?? cls;
}

/** The upcasters registered for an event class, in order. */
export function upcastersOf(cls: object): readonly Upcaster[] {
  return upcasters.get(definitionOf(cls)) ?? [];
}
