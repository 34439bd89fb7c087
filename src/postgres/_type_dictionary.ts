/**
 * The client-side cache of type names and their smallint ids.
 *
 * @module
 */

/** `e`: event types, `a`: aggregate types, `c`: command types. */
export type TypeKind = "e" | "a" | "c";

/** Ids by name per kind, as `register_types` returns them. */
export type TypeIdsJson = Partial<Record<TypeKind, Record<string, number>>>;

const KINDS: readonly TypeKind[] = ["e", "a", "c"];

/**
 * Name ↔ id maps for the three kinds. A child dictionary (for one unit of
 * work) sees its parent's entries and keeps its own apart: ids seen inside
 * a transaction only become shared once it committed.
 */
export class TypeDictionary {
  readonly #ids: Record<TypeKind, Map<string, number>> = {
    e: new Map(),
    a: new Map(),
    c: new Map(),
  };
  readonly #names: Record<TypeKind, Map<number, string>> = {
    e: new Map(),
    a: new Map(),
    c: new Map(),
  };
  readonly #parent: TypeDictionary | undefined;

  constructor(parent?: TypeDictionary) {
    this.#parent = parent;
  }

  id(kind: TypeKind, name: string): number | undefined {
    return this.#ids[kind].get(name) ?? this.#parent?.id(kind, name);
  }

  name(kind: TypeKind, id: number): string | undefined {
    return this.#names[kind].get(id) ?? this.#parent?.name(kind, id);
  }

  add(kind: TypeKind, name: string, id: number): void {
    this.#ids[kind].set(name, id);
    this.#names[kind].set(id, name);
  }

  addAll(json: TypeIdsJson): void {
    for (const kind of KINDS) {
      for (const [name, id] of Object.entries(json[kind] ?? {})) {
        this.add(kind, name, id);
      }
    }
  }
}
