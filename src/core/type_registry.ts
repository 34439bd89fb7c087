/**
 * An app's registry of type names: which class an event, command or
 * aggregate type name stands for. Classes an app is given (through its
 * handlers, aggregates and projectors) are registered up front; a name the
 * app was never given falls back to the process-wide catalog of defined
 * classes. Two different classes under one name are an error.
 *
 * @module
 */
import { aggregateTypeOf } from "./aggregate_root.ts";
import { DuplicateTypeNameError } from "./errors.ts";
import type { ClassOf } from "./message_router.ts";
import { lookupClass, recordClass, type TypeKind } from "./type_catalog.ts";

/** Any class. */
export type AnyClass = ClassOf<unknown>;

/**
 * Maps type names to classes for one app (see the module documentation).
 *
 * @example
 * ```ts
 * import { attrs, Event } from "@sequent/core";
 * import { TypeRegistry } from "@sequent/core/internal";
 *
 * class Pinged extends Event.define("Pinged", { by: attrs.string() }) {}
 * const registry = new TypeRegistry();
 * registry.register("event", Pinged);
 * console.assert(registry.lookup("event", "Pinged") === Pinged);
 * ```
 */
export class TypeRegistry {
  readonly #maps: Record<TypeKind, Map<string, AnyClass>> = {
    event: new Map(),
    command: new Map(),
    aggregate: new Map(),
  };
  #version = 0;

  /** Grows whenever a name's class changes (lets callers cache lookups). */
  get version(): number {
    return this.#version;
  }

  /**
   * The type name of a class of a kind.
   *
   * @param kind What kind of type.
   * @param cls The class.
   */
  static nameOf(kind: TypeKind, cls: ClassOf<unknown>): string {
    return kind === "aggregate"
      ? aggregateTypeOf(cls)
      : (cls as unknown as { typeName: string }).typeName;
  }

  /**
   * Registers a class under its type name.
   *
   * @param kind What kind of type.
   * @param cls The class.
   *
   * @throws {DuplicateTypeNameError} when an unrelated class has the name.
   */
  register(kind: TypeKind, cls: ClassOf<unknown>): void {
    const name = TypeRegistry.nameOf(kind, cls);
    if (!name) return;
    recordClass(kind, name, cls);
    const map = this.#maps[kind];
    const existing = map.get(name);
    if (existing === cls) return;
    if (existing === undefined) {
      map.set(name, cls);
      this.#version++;
    } else if (cls.prototype instanceof existing) {
      map.set(name, cls); // a subclass of a define()d class replaces it
      this.#version++;
    } else if (!(existing.prototype instanceof cls)) {
      throw new DuplicateTypeNameError(kind, name);
    }
  }

  /**
   * The class registered (or defined) under a name, if any.
   *
   * @param kind What kind of type.
   * @param name The type name.
   */
  lookup(kind: TypeKind, name: string): ClassOf<unknown> | undefined {
    const map = this.#maps[kind];
    const found = map.get(name);
    if (found) return found;
    const fallback = lookupClass(kind, name) as AnyClass | undefined;
    if (fallback) {
      map.set(name, fallback);
      this.#version++;
    }
    return fallback;
  }
}
