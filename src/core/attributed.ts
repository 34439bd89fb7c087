/**
 * The base of every class whose fields are declared with {@linkcode attrs}:
 * commands, events and value objects. It assigns, validates, compares,
 * copies, parses and serialises the declared attributes.
 *
 * @module
 */
import {
  addError,
  type AttrImpl,
  attrImpl,
  type Codec,
  type Conversion,
  enterLevel,
  type ErrorSink,
  fail,
  fromTopLevel,
  isBlankText,
  leaveLevel,
  ok,
  type Shape,
  stringCodec,
  TOO_DEEP,
} from "./attributes.ts";
import { UnknownAttributeError, type ValidationErrors } from "./errors.ts";
import { isJsonObject, type JsonObject, MAX_NESTING_DEPTH } from "./json.ts";

/**
 * The static side shared by classes with declared attributes.
 */
export interface AttributedClass {
  /** Every declared attribute, inherited ones included. */
  readonly shape: Shape;
  /** The stable type name (`""` for value objects without one). */
  readonly typeName: string;
  /** The JavaScript class name. */
  readonly name: string;
}

/** Raw input for `fromParams`: a plain object, form data or URL params. */
export type Params =
  | Readonly<Record<string, unknown>>
  | URLSearchParams
  | FormData;

/** The data fields of `T` (its non-function properties). */
export type FieldsOf<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]:
    T[K];
};

interface Compiled {
  readonly keys: readonly string[];
  readonly impls: readonly AttrImpl<unknown, boolean>[];
  /**
   * The indexes of the attributes whose values an instance takes its own
   * copy of (arrays, JSON, date-times, value objects): none for strings,
   * numbers, booleans, UUIDs, decimals and calendar dates.
   */
  readonly owned: readonly number[];
}

const compiledShapes = new WeakMap<Shape, Compiled>();

/** Compiles a shape into parallel arrays of names and implementations. */
export function compileShape(shape: Shape): Compiled {
  let compiled = compiledShapes.get(shape);
  if (!compiled) {
    const keys = Object.keys(shape);
    const impls = keys.map((k) => attrImpl(shape[k] as Shape[string]));
    compiled = {
      keys,
      impls,
      owned: impls.flatMap((impl, i) => impl.codec.own ? [i] : []),
    };
    compiledShapes.set(shape, compiled);
  }
  return compiled;
}

const conversionErrors = new WeakMap<object, ErrorSink>();

/** The class of an attributed instance. */
export function classOf(instance: object): AttributedClass {
  return instance.constructor as unknown as AttributedClass;
}

/** The display name of a class: its type name, else its class name. */
export function displayName(cls: AttributedClass): string {
  return cls.typeName || cls.name;
}

/**
 * The base class of commands, events and value objects. Not used directly:
 * declare classes with `Command.define`, `Event.define` or
 * `ValueObject.define`.
 *
 * A message's values do not change after it is made: an instance takes
 * its own copy of the arrays, JSON values, `Date`s and value objects it is
 * given (by its constructor, `copy()` or `fromParams`), so changing the
 * caller's values afterwards changes nothing in it, and it freezes its
 * arrays, JSON objects and nested value objects (instances read from
 * storage too). Its fields are `readonly` in TypeScript; the instance
 * itself is not frozen. Changing a frozen value throws a `TypeError` such
 * as "Cannot add property 1, object is not extensible" or "Cannot assign
 * to read only property '0'" (in an aggregate's event handler, with a
 * hint). An event is stored only when its command commits, so an
 * aggregate that kept an event's array as its state and later pushed onto
 * it would otherwise change the event before it is stored. Keep a copy as
 * state instead: `this.tags = [...event.tags]`, then change that copy.
 * A `Date` cannot be frozen: treat date-time values as read-only.
 *
 * @example
 * ```ts
 * import { Attributed, attrs, ValueObject } from "@sequent/core";
 *
 * class Money extends ValueObject.define({ amount: attrs.decimal().required() }) {}
 * console.assert(new Money({ amount: undefined! }) instanceof Attributed);
 * ```
 *
 * @example An instance owns its values
 * ```ts
 * import { attrs, ValueObject } from "@sequent/core";
 *
 * class Tags extends ValueObject.define({ names: attrs.array(attrs.string()) }) {}
 * const names = ["deno"];
 * const tags = new Tags({ names });
 * names.push("ts"); // the caller's array: not frozen, not shared
 * console.assert(tags.names?.length === 1 && Object.isFrozen(tags.names));
 * const state = [...(tags.names ?? [])]; // a copy to change
 * state.push("ts");
 * ```
 */
export abstract class Attributed {
  /** Every declared attribute of the class, inherited ones included. */
  static readonly shape: Shape = {};
  /** The class's stable type name (set by `define`). */
  static readonly typeName: string = "";

  /**
   * Assigns the declared attributes from `init`.
   *
   * @param init The attribute values.
   * @throws {UnknownAttributeError} for a key the class does not declare.
   */
  constructor(init: object) {
    const cls = classOf(this);
    const shape = cls.shape;
    const values = init as Record<string, unknown>;
    const trusted = trustedInit;
    if (trusted) {
      // values read from storage by a reader of this class: declared keys
      // only, fresh and frozen already (no one else holds them)
      trustedInit = false;
    } else {
      for (const key in values) {
        if (!Object.hasOwn(shape, key)) {
          throw new UnknownAttributeError(displayName(cls), key);
        }
      }
    }
    const compiled = compileShape(shape);
    const self = this as unknown as Record<string, unknown>;
    for (const key of compiled.keys) self[key] = values[key];
    if (!trusted) ownValues(self, compiled);
  }

  /**
   * Builds an instance from raw input (form fields, CLI arguments, JSON
   * bodies), converting strings to the declared types: `"42"` to 42,
   * `"true"` to true, ISO text to dates. Keys it does not declare are
   * ignored. A failed conversion does not throw: it becomes a validation
   * error on that field, reported by {@linkcode Attributed.validate} (and so
   * by the command service, which then executes nothing).
   *
   * Nested fields may be given as nested objects or, in form data, as
   * `address[street]` / `lines[0][amount]` (or `address.street`).
   *
   * Any input is safe: `params` that are not an object (`null`, a string,
   * an array, … — say a JSON body of the wrong shape) give an instance whose
   * validation fails with an error under the empty path `""`; values nested
   * deeper than {@linkcode MAX_NESTING_DEPTH} fail their field; keys such as
   * `__proto__` are ignored like any undeclared key, and are plain data
   * inside JSON attributes.
   *
   * @param params The raw input.
   * @returns The new instance.
   *
   * @example
   * ```ts
   * import { attrs, Command } from "@sequent/core";
   *
   * class SetAge extends Command.define("SetAge", { age: attrs.integer().required() }) {}
   *
   * const ok = SetAge.fromParams({ aggregateId: crypto.randomUUID(), age: "42" });
   * console.assert(ok.age === 42);
   *
   * const bad = SetAge.fromParams({ aggregateId: crypto.randomUUID(), age: "forty" });
   * console.assert(bad.validate().age?.[0] === "is not a valid integer");
   * ```
   */
  static fromParams<T extends Attributed>(
    this: (new (init: never) => T) & AttributedClass,
    params: Params,
  ): T {
    const plain = toPlainParams(params);
    if (plain === undefined) {
      const instance = new this({} as never);
      const errors: ErrorSink = {};
      addError(errors, "", `params must be an object, got ${kindOf(params)}`);
      conversionErrors.set(instance, errors);
      return instance;
    }
    const { values, errors } = fromTopLevel(() => convertParams(this, plain));
    const instance = new this(values as never);
    if (Object.keys(errors).length > 0) conversionErrors.set(instance, errors);
    return instance;
  }

  /**
   * Validates every attribute: required ones present (strings not blank),
   * values of the declared type, user validators, nested value objects and
   * array items. Override it to add checks that span fields, calling
   * `super.validate()` first.
   *
   * @returns The errors keyed by field path (`title`, `address.street`,
   * `lines.1.amount`); empty when valid.
   *
   * @example
   * ```ts
   * import { attrs, ValueObject } from "@sequent/core";
   *
   * class Address extends ValueObject.define({ street: attrs.string().required() }) {}
   * console.assert(new Address({ street: " " }).validate().street?.[0] === "can't be blank");
   * ```
   */
  validate(): ValidationErrors {
    const errors: ErrorSink = {};
    const converted = conversionErrors.get(this);
    if (converted) {
      for (const [path, messages] of Object.entries(converted)) {
        for (const message of messages) addError(errors, path, message);
      }
    }
    const { keys, impls } = compileShape(
      classOf(this).shape,
    );
    const self = this as unknown as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      // a failed conversion (of the field or of an item inside it) is the
      // field's error: it must not also be reported as "can't be blank"
      if (converted && hasPathUnder(converted, key)) continue;
      (impls[i] as AttrImpl<unknown, boolean>).check(self[key], key, errors);
    }
    return errors;
  }

  /**
   * Whether {@linkcode Attributed.validate} finds no error.
   *
   * @example
   * ```ts
   * import { attrs, ValueObject } from "@sequent/core";
   *
   * class Tag extends ValueObject.define({ name: attrs.string().required() }) {}
   * console.assert(new Tag({ name: "deno" }).isValid());
   * ```
   */
  isValid(): boolean {
    return Object.keys(this.validate()).length === 0;
  }

  /**
   * Value equality: the same class and equal attributes (decimals, dates,
   * nested values and arrays compared by value).
   *
   * @param other What to compare with.
   *
   * @example
   * ```ts
   * import { attrs, ValueObject } from "@sequent/core";
   *
   * class Point extends ValueObject.define({ x: attrs.integer(), y: attrs.integer() }) {}
   * console.assert(new Point({ x: 1, y: 2 }).equals(new Point({ x: 1, y: 2 })));
   * ```
   */
  equals(other: unknown): boolean {
    if (other === this) return true;
    if (
      !(other instanceof Attributed) || other.constructor !== this.constructor
    ) {
      return false;
    }
    return attributesEqual(this, other, new Set());
  }

  /**
   * The declared attributes as a plain object.
   *
   * @example
   * ```ts
   * import { attrs, ValueObject } from "@sequent/core";
   *
   * class Point extends ValueObject.define({ x: attrs.integer() }) {}
   * console.assert(new Point({ x: 1 }).attributes().x === 1);
   * ```
   */
  attributes(): FieldsOf<this> {
    const out: Record<string, unknown> = {};
    const self = this as unknown as Record<string, unknown>;
    for (
      const key of compileShape(classOf(this).shape)
        .keys
    ) {
      out[key] = self[key];
    }
    return out as FieldsOf<this>;
  }

  /**
   * A copy with some attributes changed. Like the constructor, the copy
   * takes its own copies of arrays, JSON values, dates and value objects:
   * changing it never changes the original.
   *
   * @param changes The attributes to change.
   *
   * @example
   * ```ts
   * import { attrs, ValueObject } from "@sequent/core";
   *
   * class Point extends ValueObject.define({ x: attrs.integer(), y: attrs.integer() }) {}
   * const moved = new Point({ x: 1, y: 2 }).copy({ x: 5 });
   * console.assert(moved.x === 5 && moved.y === 2);
   * ```
   */
  copy(changes: Partial<FieldsOf<this>> = {}): this {
    const cls = classOf(this);
    for (const key of Object.keys(changes)) {
      if (!Object.hasOwn(cls.shape, key)) {
        throw new UnknownAttributeError(displayName(cls), key);
      }
    }
    const clone = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(clone, this, changes);
    ownValues(
      clone as unknown as Record<string, unknown>,
      compileShape(cls.shape),
    );
    const converted = conversionErrors.get(this);
    if (converted) {
      // keep the failed conversions of the fields that were not replaced
      const kept: ErrorSink = {};
      for (const [path, messages] of Object.entries(converted)) {
        const root = path.split(".")[0] as string;
        if (!Object.hasOwn(changes, root)) kept[path] = [...messages];
      }
      if (Object.keys(kept).length > 0) conversionErrors.set(clone, kept);
    }
    return clone;
  }

  /**
   * Every attribute as JSON: decimals and dates as ISO/exact strings, nested
   * value objects as objects. `undefined` attributes are left out.
   *
   * @example
   * ```ts
   * import { attrs, CalendarDate, ValueObject } from "@sequent/core";
   *
   * class Period extends ValueObject.define({ start: attrs.date() }) {}
   * const json = new Period({ start: CalendarDate.of(2026, 1, 31) }).toJSON();
   * console.assert(json.start === "2026-01-31");
   * ```
   */
  toJSON(): JsonObject {
    return attributesToJson(this);
  }
}

/** Whether an error sink has `key` itself or a path inside it (`key.1`). */
function hasPathUnder(errors: ErrorSink, key: string): boolean {
  if (Object.hasOwn(errors, key)) return true;
  const prefix = `${key}.`;
  return Object.keys(errors).some((path) => path.startsWith(prefix));
}

/**
 * Replaces the values an instance must own (see
 * {@linkcode Codec.own}) with its own copies. Nothing to do for shapes of
 * strings, numbers and booleans only.
 */
function ownValues(self: Record<string, unknown>, compiled: Compiled): void {
  const { keys, impls, owned } = compiled;
  for (let j = 0; j < owned.length; j++) {
    const i = owned[j] as number;
    const key = keys[i] as string;
    const value = self[key];
    if (value === undefined || value === null) continue;
    const own = (impls[i] as AttrImpl<unknown, boolean>).codec.own;
    if (own) self[key] = own(value);
  }
}

/** How many value objects enclose the one {@linkcode ownValueObject} copies. */
let owningDepth = 0;

/**
 * A frozen copy of a value object, owning its values, made by its
 * constructor (as when it is read from storage); it keeps the failed
 * conversions of the original. A value object nested deeper than
 * {@linkcode MAX_NESTING_DEPTH} (or inside itself) is invalid, and kept
 * as it is for validation to report.
 */
function ownValueObject(value: Attributed): Attributed {
  if (owningDepth >= MAX_NESTING_DEPTH) return value;
  owningDepth++;
  try {
    const ctor = value.constructor as new (init: object) => Attributed;
    const copy = new ctor(value.attributes());
    const converted = conversionErrors.get(value);
    if (converted) conversionErrors.set(copy, converted);
    return Object.freeze(copy);
  } finally {
    owningDepth--;
  }
}

function attributesEqual(
  a: Attributed,
  b: Attributed,
  skip: ReadonlySet<string>,
): boolean {
  const { keys, impls } = compileShape(classOf(a).shape);
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (skip.has(key)) continue;
    if (
      !valuesEqual(
        (impls[i] as AttrImpl<unknown, boolean>).codec,
        x[key],
        y[key],
      )
    ) {
      return false;
    }
  }
  return true;
}

/** Compares two values of one attribute, tolerating invalid values. */
export function valuesEqual(
  codec: Codec<unknown>,
  a: unknown,
  b: unknown,
): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) {
    // null is stored as absent, so it equals undefined, except where it is
    // a value (JSON)
    return (a === undefined || a === null) &&
      (b === undefined || b === null) && !codec.keepsNull;
  }
  if (!codec.is(a) || !codec.is(b)) return false;
  return codec.equals(a, b);
}

/**
 * Compares the attributes of two instances of one class, leaving out the
 * given keys (used to compare events without their ids and timestamps).
 */
export function attributesEqualExcept(
  a: Attributed,
  b: Attributed,
  skip: ReadonlySet<string>,
): boolean {
  return a.constructor === b.constructor && attributesEqual(a, b, skip);
}

/**
 * Serialises the attributes of an instance to a JSON object, leaving out
 * `skip` keys and undefined values.
 *
 * @throws {TypeError} when a value is not of its declared type, or a
 * required value is missing: such an instance must never be stored.
 */
export function attributesToJson(
  instance: Attributed,
  skip?: ReadonlySet<string>,
): JsonObject {
  const cls = classOf(instance);
  const { keys, impls } = compileShape(cls.shape);
  const self = instance as unknown as Record<string, unknown>;
  const json: JsonObject = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (skip?.has(key)) continue;
    const value = self[key];
    const impl = impls[i] as AttrImpl<unknown, boolean>;
    if (value === undefined || value === null) {
      if (value === null && impl.codec.keepsNull && !impl.isRequired) {
        json[key] = null; // a JSON null is data, read back as null
        continue;
      }
      if (impl.isRequired) {
        throw new TypeError(
          `Cannot serialize ${
            displayName(cls)
          }: required attribute "${key}" is missing`,
        );
      }
      continue;
    }
    if (!impl.codec.is(value)) {
      throw new TypeError(
        `Cannot serialize ${
          displayName(cls)
        }: attribute "${key}" is not a valid ${impl.kind}`,
      );
    }
    try {
      json[key] = impl.codec.toJson(value);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      // an invalid array item or nested value: name the attribute holding it
      throw new TypeError(
        `Cannot serialize ${
          displayName(cls)
        }: attribute "${key}": ${error.message}`,
        { cause: error },
      );
    }
  }
  return json;
}

/** A stored attribute that does not fit its declaration. */
export class AttributeReadError extends Error {
  /** The field path of the bad value. */
  readonly path: string;

  /**
   * @param path The field path.
   * @param message What is wrong with it.
   */
  constructor(path: string, message: string) {
    super(`attribute "${path}" ${message}`);
    this.name = "AttributeReadError";
    this.path = path;
  }
}

/**
 * Set by {@linkcode constructStored} for the constructor it calls, which
 * clears it: values a {@linkcode StoredReader} read have declared keys
 * only, so the check for undeclared ones is skipped.
 */
let trustedInit = false;

/**
 * Builds an instance from values a {@linkcode StoredReader} of its class
 * read (so every key is declared), through its constructor.
 */
export function constructStored<T>(
  cls: new (init: never) => T,
  values: Record<string, unknown>,
): T {
  trustedInit = true;
  try {
    return new cls(values as never);
  } finally {
    trustedInit = false;
  }
}

/** How to read one class's attributes from stored JSON, compiled once. */
export interface StoredReader {
  readonly keys: readonly string[];
  readonly impls: readonly AttrImpl<unknown, boolean>[];
}

/** Compiled readers, by the keys they skip (or none), then by shape. */
const storedReaders = new WeakMap<object, WeakMap<Shape, StoredReader>>();
const SKIP_NONE = {};

/** The reader of a class's attributes other than `skip` (compiled once). */
export function storedReader(
  cls: AttributedClass,
  skip?: ReadonlySet<string>,
): StoredReader {
  let byShape = storedReaders.get(skip ?? SKIP_NONE);
  if (byShape === undefined) {
    storedReaders.set(skip ?? SKIP_NONE, byShape = new WeakMap());
  }
  let reader = byShape.get(cls.shape);
  if (reader === undefined) {
    const { keys, impls } = compileShape(cls.shape);
    const kept = keys.flatMap((k, i) => skip?.has(k) ? [] : [i]);
    reader = {
      keys: kept.map((i) => keys[i] as string),
      impls: kept.map((i) => impls[i] as AttrImpl<unknown, boolean>),
    };
    byShape.set(cls.shape, reader);
  }
  return reader;
}

/**
 * Reads attribute values from stored JSON into `values` with a compiled
 * reader; see {@linkcode attributesFromJson}.
 *
 * @throws {AttributeReadError} naming the field path of a bad value.
 */
export function readStored(
  reader: StoredReader,
  json: JsonObject,
  values: Record<string, unknown>,
): Record<string, unknown> {
  const { keys, impls } = reader;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const raw = json[key];
    const impl = impls[i] as AttrImpl<unknown, boolean>;
    if (raw === undefined || raw === null) {
      if (impl.isRequired) throw new AttributeReadError(key, "is missing");
      // a JSON null is data; a missing key (older events) stays undefined
      if (raw === null && impl.codec.keepsNull) values[key] = null;
      continue;
    }
    const codec = impl.codec;
    // most attributes are strings: taken as they are, no Conversion made
    if (typeof raw === "string" && codec === stringCodec) {
      values[key] = raw;
      continue;
    }
    const converted = codec.fromJson(raw);
    if (!converted.ok) {
      throw new AttributeReadError(
        converted.path ? `${key}.${converted.path}` : key,
        converted.message,
      );
    }
    values[key] = converted.value;
  }
  return values;
}

/**
 * Reads attribute values from stored JSON, strictly: each value must be of
 * its declared type and required ones present. Keys the class does not
 * declare are ignored (old attributes of stored events).
 *
 * @throws {AttributeReadError} naming the field path of a bad value.
 */
export function attributesFromJson(
  cls: AttributedClass,
  json: JsonObject,
  skip?: ReadonlySet<string>,
): Record<string, unknown> {
  return readStored(storedReader(cls, skip), json, {});
}

function convertParams(
  cls: AttributedClass,
  params: Readonly<Record<string, unknown>>,
): { values: Record<string, unknown>; errors: ErrorSink } {
  const { keys, impls } = compileShape(cls.shape);
  const values: Record<string, unknown> = {};
  const errors: ErrorSink = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const raw = params[key];
    const impl = impls[i] as AttrImpl<unknown, boolean>;
    if (raw === undefined || raw === null) continue;
    // blank text is absent, as in Sequent; only strings keep their text
    if (impl.codec !== stringCodec && isBlankText(raw)) continue;
    const converted = impl.codec.fromParam(raw);
    if (converted.ok) {
      values[key] = converted.value;
    } else {
      addError(
        errors,
        converted.path ? `${key}.${converted.path}` : key,
        converted.message,
      );
    }
  }
  return { values, errors };
}

/** Builds the codec for a nested value-object class. */
export function nestedCodec<T>(resolve: () => unknown): Codec<T> {
  let cached: (AttributedClass & (new (init: never) => T)) | undefined;
  const cls = (): AttributedClass & (new (init: never) => T) => {
    if (cached) return cached;
    const value = resolve();
    if (
      typeof value !== "function" ||
      !(value.prototype instanceof Attributed)
    ) {
      throw new TypeError(
        "attrs.valueObject() needs a class declared with ValueObject.define()",
      );
    }
    return cached = value as AttributedClass & (new (init: never) => T);
  };
  return {
    get kind(): string {
      return displayName(cls());
    },
    is: (v): v is T => v instanceof cls(),
    fromParam: (raw): Conversion<T> => {
      if (raw instanceof cls()) return ok(raw as T);
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        return fail(`is not a valid ${displayName(cls())}`);
      }
      if (!enterLevel()) return fail(TOO_DEEP);
      try {
        const target = cls();
        const { values, errors } = convertParams(
          target,
          raw as Record<string, unknown>,
        );
        const instance = new target(values as never);
        if (Object.keys(errors).length > 0) {
          conversionErrors.set(instance as object, errors);
        }
        return ok(instance);
      } finally {
        leaveLevel();
      }
    },
    toJson: (v) => attributesToJson(v as Attributed),
    // a frozen one is owned already (made by ownValueObject, or read from
    // storage): shared, as a frozen array is
    own: (v) =>
      v instanceof Attributed && v instanceof cls() && !Object.isFrozen(v)
        ? ownValueObject(v)
        : v,
    fromJson: (json): Conversion<T> => {
      if (!isJsonObject(json)) return fail("is not an object");
      try {
        const target = cls();
        // freshly read values, seen by no one yet: frozen, not copied
        const instance = constructStored(
          target,
          attributesFromJson(target, json),
        );
        return ok(Object.freeze(instance));
      } catch (error) {
        if (error instanceof AttributeReadError) {
          return {
            ok: false,
            message: error.message.replace(/^attribute "[^"]*" /, ""),
            path: error.path,
          };
        }
        throw error;
      }
    },
    equals: (a, b) => (a as Attributed).equals(b),
    validateNested: (v, path, errors) => {
      if (!enterLevel()) {
        addError(errors, path, TOO_DEEP);
        return;
      }
      let inner: ValidationErrors;
      try {
        inner = (v as Attributed).validate();
      } finally {
        leaveLevel();
      }
      for (const [key, messages] of Object.entries(inner)) {
        for (const message of messages) {
          addError(errors, key === "" ? path : `${path}.${key}`, message);
        }
      }
    },
  };
}

/** What a value is, for a message: `null`, `an array`, `a string`, … */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" ? "an object" : `a ${type}`;
}

/**
 * Expands form data / URL params with `a[b][0]` or `a.b.0` keys into nested
 * objects; `undefined` for params that are not an object (or are an array).
 */
function toPlainParams(
  params: unknown,
): Readonly<Record<string, unknown>> | undefined {
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    return undefined;
  }
  const isForm = params instanceof URLSearchParams ||
    (typeof FormData !== "undefined" && params instanceof FormData);
  if (!isForm) return params as Readonly<Record<string, unknown>>;
  // null-prototype nodes: a "__proto__[x]" key must not reach Object.prototype
  const root: Record<string, unknown> = Object.create(null);
  for (const [name, value] of (params as URLSearchParams).entries()) {
    if (typeof value !== "string") continue;
    const path = name.replace(/\]/g, "").split(/[[.]/).filter((p) => p !== "");
    let node = root;
    for (let i = 0; i < path.length - 1; i++) {
      const part = path[i] as string;
      const next = node[part];
      if (typeof next !== "object" || next === null) {
        node[part] = Object.create(null);
      }
      node = node[part] as Record<string, unknown>;
    }
    const last = path[path.length - 1];
    if (last !== undefined) node[last] = value;
  }
  return root;
}
