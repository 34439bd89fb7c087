/**
 * The process-wide catalog of message and aggregate classes by stable type
 * name. `Event.define("PostAdded", …)` records the class it creates; the
 * user's subclass (`class PostAdded extends Event.define(…) {}`) is recorded
 * the first time it is constructed or routed. Apps keep their own registry
 * (see type_registry.ts) and only fall back to this catalog for names they
 * were never given, so a stored event can be read back in a fresh process.
 *
 * @module
 */
import { DuplicateTypeNameError } from "./errors.ts";

/** The kinds of named types the catalog keeps apart. */
export type TypeKind = "event" | "command" | "aggregate";

// deno-lint-ignore ban-types
type AnyClass = Function;

interface Entry {
  /** Classes created by define() (or aggregate classes) under this name. */
  readonly definitions: Set<AnyClass>;
  /** Concrete subclasses seen in use. */
  readonly derived: Set<AnyClass>;
}

const entries: Record<TypeKind, Map<string, Entry>> = {
  event: new Map(),
  command: new Map(),
  aggregate: new Map(),
};
const noted = new WeakSet<AnyClass>();

function entryFor(kind: TypeKind, name: string): Entry {
  let entry = entries[kind].get(name);
  if (!entry) {
    entry = { definitions: new Set(), derived: new Set() };
    entries[kind].set(name, entry);
  }
  return entry;
}

/** Records a class created by `define()` under its type name. */
export function recordDefinition(
  kind: TypeKind,
  name: string,
  cls: AnyClass,
): void {
  entryFor(kind, name).definitions.add(cls);
  noted.add(cls);
}

/**
 * Records a concrete class seen in use (constructed, routed, registered).
 * Cheap after the first call per class.
 */
export function recordClass(kind: TypeKind, name: string, cls: AnyClass): void {
  if (noted.has(cls)) return;
  noted.add(cls);
  const entry = entryFor(kind, name);
  // A subclass replaces the define()d class it extends as the name's class.
  const base = Object.getPrototypeOf(cls) as AnyClass;
  if (entry.definitions.has(base) || entry.derived.has(base)) {
    entry.derived.delete(base);
    entry.derived.add(cls);
  } else if (!entry.definitions.has(cls)) {
    entry.definitions.add(cls);
  }
}

/**
 * The class known under a type name: the most derived one in use.
 *
 * @throws {DuplicateTypeNameError} when two unrelated classes use the name.
 */
export function lookupClass(
  kind: TypeKind,
  name: string,
): AnyClass | undefined {
  const entry = entries[kind].get(name);
  if (!entry) return undefined;
  if (entry.derived.size > 1) throw new DuplicateTypeNameError(kind, name);
  const [derived] = entry.derived;
  if (derived) {
    // every definition must be an ancestor of the derived class
    for (const def of entry.definitions) {
      if (!(derived.prototype instanceof def) && derived !== def) {
        throw new DuplicateTypeNameError(kind, name);
      }
    }
    return derived;
  }
  if (entry.definitions.size > 1) throw new DuplicateTypeNameError(kind, name);
  const [only] = entry.definitions;
  return only;
}

/** Every class recorded under a kind (the most derived ones in use). */
export function knownClasses(kind: TypeKind): AnyClass[] {
  const result: AnyClass[] = [];
  for (const entry of entries[kind].values()) {
    result.push(
      ...(entry.derived.size > 0 ? entry.derived : entry.definitions),
    );
  }
  return result;
}
