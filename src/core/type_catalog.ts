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
  /** Classes handlers route on (they win over the others). */
  readonly routed: Set<AnyClass>;
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
    entry = { definitions: new Set(), derived: new Set(), routed: new Set() };
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
 */
export function recordRoutedClass(cls: AnyClass): void {
  const name = (cls as { typeName?: unknown }).typeName;
  if (typeof name !== "string") return;
  for (const kind of ROUTED_KINDS) {
    const entry = entries[kind].get(name);
    if (!entry || entry.routed.has(cls)) continue;
    for (const def of entry.definitions) {
      if (cls === def || cls.prototype instanceof def) {
        recordClass(kind, name, cls);
        entry.routed.add(cls);
        break;
      }
    }
  }
}

/**
 * The class known under a type name: the one handlers route on, else the
 * most derived one in use, else the define()d one (see the module
 * documentation).
 *
 * @throws {DuplicateTypeNameError} when two different classes are routed on
 * under the name, or two unrelated classes use it.
 */
export function lookupClass(
  kind: TypeKind,
  name: string,
): AnyClass | undefined {
  const entry = entries[kind].get(name);
  if (!entry) return undefined;
  if (entry.routed.size > 1) throw routedTwice(kind, name, entry.routed);
  const chosen = entry.routed.size > 0 ? entry.routed : entry.derived;
  if (chosen.size > 1) throw new DuplicateTypeNameError(kind, name);
  const [cls] = chosen;
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
        : entry.derived.size > 0
        ? entry.derived
        : entry.definitions),
    );
  }
  return result;
}

/**
 * The clash of classes routed on under one name, naming them: they are
 * subclasses of one define()d class, so the type name alone does not say
 * which they are.
 */
function routedTwice(
  kind: TypeKind,
  name: string,
  classes: Iterable<AnyClass>,
): DuplicateTypeNameError {
  const error = new DuplicateTypeNameError(kind, name);
  error.message += `; handlers route on ${
    [...classes].map((cls) => cls.name || "(an anonymous class)").join(
      " and ",
    )
  }`;
  return error;
}
