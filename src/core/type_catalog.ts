/**
 * The process-wide catalog of message and aggregate classes by stable type
 * name. `Event.define("PostAdded", …)` records the class it creates; the
 * user's subclass (`class PostAdded extends Event.define(…) {}`) is recorded
 * when a handler routes on it (`on(PostAdded, …)`, at class definition) or
 * the first time it is constructed. Apps keep their own registry (see
 * type_registry.ts) and only fall back to this catalog for names they were
 * never given, so a stored event can be read back in a fresh process.
 *
 * Which class a name stands for: the one handlers route on; else the most
 * derived one in use; else the define()d one. A route on a class matches
 * exactly that class, so stored rows must become it — not the define()d
 * base, which no handler would see. Two different classes routed on under
 * one name (two subclasses of one define()d class, say) are an error when
 * the name is looked up: rows cannot become both, and whichever lost, its
 * handlers would silently miss them.
 *
 * A route that tests messages with `instanceof` — `isA(PostPublished)`, or
 * an `except` class — needs the rows of that class's name to be instances
 * of it, not of the define()d base (which `isA` would not match, nor
 * `except` leave out): such a class is the name's class unless a route on
 * exactly one of its subclasses names another (that one is an instance of
 * it too). Classes tested for that no one class under the name satisfies —
 * two siblings, or an exact route on a class that is not one of them — are
 * the same error.
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
  /** Classes handlers route on exactly (they win over the others). */
  readonly routed: Set<AnyClass>;
  /**
   * Classes handlers test messages for with `instanceof` (`isA`, `except`):
   * the name's class must be one of them or a subclass of each.
   */
  readonly routedBases: Set<AnyClass>;
}

/** The kinds whose classes handlers route on. */
const ROUTED_KINDS: readonly TypeKind[] = ["event", "command"];

const entries: Record<TypeKind, Map<string, Entry>> = {
  event: new Map(),
  command: new Map(),
  aggregate: new Map(),
};
const noted = new WeakSet<AnyClass>();

function entryFor(kind: TypeKind, name: string): Entry {
  let entry = entries[kind].get(name);
  if (!entry) {
    entry = {
      definitions: new Set(),
      derived: new Set(),
      routed: new Set(),
      routedBases: new Set(),
    };
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
 * Records a class a handler routes on (what `on()` does for each class its
 * target names), under the kind and type name of the define()d class it
 * extends, so stored rows of that name become it in any process. A class
 * that extends no define()d class of its own type name (a hand-written
 * class, a value object) is left out.
 *
 * @param cls The class a route matches exactly.
 *
 * @example
 * ```ts
 * import { Event } from "@sequent/core";
 * import { lookupClass, recordRoutedClass } from "./type_catalog.ts";
 *
 * class Shipped extends Event.define("Doc_Shipped", {}) {}
 * recordRoutedClass(Shipped);
 * console.assert(lookupClass("event", "Doc_Shipped") === Shipped);
 * ```
 */
export function recordRoutedClass(cls: AnyClass): void {
  forOwnDefinition(cls, (kind, name, entry) => {
    if (entry.routed.has(cls)) return;
    recordClass(kind, name, cls);
    entry.routed.add(cls);
  });
}

/**
 * Records a class a handler tests messages for with `instanceof` (what
 * `on()` does for the class of `isA(cls)` and for every `except` class), as
 * {@linkcode recordRoutedClass} does for a class routed on exactly: stored
 * rows of its type name become it (or the subclass of it a route names
 * exactly), in any process, so `isA` matches them and `except` leaves them
 * out. The define()d class itself is left out too: every row of its name
 * is one already.
 *
 * @param cls The class tested for.
 *
 * @example
 * ```ts
 * import { Event } from "@sequent/core";
 * import { lookupClass, recordRoutedBase } from "./type_catalog.ts";
 *
 * class Packed extends Event.define("Doc_Packed", {}) {}
 * recordRoutedBase(Packed); // as isA(Packed) does
 * console.assert(lookupClass("event", "Doc_Packed") === Packed);
 * ```
 */
export function recordRoutedBase(cls: AnyClass): void {
  forOwnDefinition(cls, (kind, name, entry, definition) => {
    if (cls === definition || entry.routedBases.has(cls)) return;
    recordClass(kind, name, cls);
    entry.routedBases.add(cls);
  });
}

/**
 * Calls `record` with each entry (of the kinds handlers route on) under
 * `cls`'s type name that has a definition `cls` is or extends, and that
 * definition.
 */
function forOwnDefinition(
  cls: AnyClass,
  record: (
    kind: TypeKind,
    name: string,
    entry: Entry,
    definition: AnyClass,
  ) => void,
): void {
  const name = (cls as { typeName?: unknown }).typeName;
  if (typeof name !== "string") return;
  for (const kind of ROUTED_KINDS) {
    const entry = entries[kind].get(name);
    if (!entry) continue;
    for (const def of entry.definitions) {
      if (cls === def || cls.prototype instanceof def) {
        record(kind, name, entry, def);
        break;
      }
    }
  }
}

/**
 * The class known under a type name: the one handlers route on (or, when
 * they only test for instances of classes, the most derived of those),
 * else the most derived one in use, else the define()d one (see the module
 * documentation).
 *
 * @throws {DuplicateTypeNameError} when no one class is what the handlers
 * route on under the name (two classes routed on exactly, or a class
 * routed on or tested for that is not an instance of another tested for),
 * or two unrelated classes use it.
 */
export function lookupClass(
  kind: TypeKind,
  name: string,
): AnyClass | undefined {
  const entry = entries[kind].get(name);
  if (!entry) return undefined;
  let cls: AnyClass | undefined;
  if (entry.routed.size > 0 || entry.routedBases.size > 0) {
    cls = routedClass(kind, name, entry);
  } else {
    if (entry.derived.size > 1) throw new DuplicateTypeNameError(kind, name);
    [cls] = entry.derived;
  }
  if (cls) {
    // every definition must be an ancestor of the chosen class
    for (const def of entry.definitions) {
      if (!(cls.prototype instanceof def) && cls !== def) {
        throw new DuplicateTypeNameError(kind, name);
      }
    }
    return cls;
  }
  if (entry.definitions.size > 1) throw new DuplicateTypeNameError(kind, name);
  const [only] = entry.definitions;
  return only;
}

/**
 * Every class recorded under a kind (those routed on, else the most derived
 * ones in use).
 */
export function knownClasses(kind: TypeKind): AnyClass[] {
  const result: AnyClass[] = [];
  for (const entry of entries[kind].values()) {
    result.push(
      ...(entry.routed.size > 0
        ? entry.routed
        : entry.routedBases.size > 0
        ? mostDerived(entry.routedBases)
        : entry.derived.size > 0
        ? entry.derived
        : entry.definitions),
    );
  }
  return result;
}

/** Whether `cls` is `base` or extends it. */
function isOrExtends(cls: AnyClass, base: AnyClass): boolean {
  return cls === base || cls.prototype instanceof base;
}

/** The classes of `classes` no other one of them extends. */
function mostDerived(classes: ReadonlySet<AnyClass>): AnyClass[] {
  return [...classes].filter((cls) =>
    ![...classes].some((other) => other !== cls && isOrExtends(other, cls))
  );
}

/**
 * The class the routes under a name need: the one routed on exactly, else
 * the most derived class tested for; it must be an instance of every class
 * tested for.
 */
function routedClass(kind: TypeKind, name: string, entry: Entry): AnyClass {
  if (entry.routed.size > 1) throw routedTwice(kind, name, entry.routed, []);
  const [exact] = entry.routed;
  const [cls] = exact ? [exact] : mostDerived(entry.routedBases);
  if (
    cls === undefined ||
    [...entry.routedBases].some((base) => !isOrExtends(cls, base))
  ) throw routedTwice(kind, name, entry.routed, entry.routedBases);
  return cls;
}

/**
 * The clash of classes routed on under one name, naming them: they are
 * subclasses of one define()d class, so the type name alone does not say
 * which they are.
 */
function routedTwice(
  kind: TypeKind,
  name: string,
  exact: Iterable<AnyClass>,
  bases: Iterable<AnyClass>,
): DuplicateTypeNameError {
  const names = (classes: Iterable<AnyClass>) =>
    [...classes].map((cls) => cls.name || "(an anonymous class)").join(
      " and ",
    );
  const parts: string[] = [];
  const routed = names(exact);
  if (routed !== "") parts.push(`route on ${routed}`);
  const tested = names(bases);
  if (tested !== "") parts.push(`test for instances of ${tested}`);
  const error = new DuplicateTypeNameError(kind, name);
  error.message += `; handlers ${parts.join(" and ")}`;
  return error;
}
