/**
 * Fuzzing the command path (issue #13): generated payloads — wrong types,
 * nulls, non-objects, huge strings, deep nesting, NUL characters, lone
 * surrogates, `__proto__`/`constructor`/`prototype` keys, form params — go
 * through `fromParams` and `executeCommands` on every store. Each must end
 * in success or `CommandNotValidError`, the same on every store as in an
 * in-memory reference run in this process; the store must hold exactly the
 * successful commands' events, command records and rows; and
 * `Object.prototype` must be unchanged.
 *
 * `SEQUENT_FUZZ_COUNT` sets the payloads per store (default 1,000);
 * `SEQUENT_FUZZ_SEED` replays a run whose seed was printed.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  column,
  Command,
  CommandHandler,
  CommandNotValidError,
  CommandService,
  Event,
  type EventStore,
  InMemoryEventStore,
  type JsonValue,
  MAX_NESTING_DEPTH,
  Projector,
  silentLogger,
  table,
  type ValidationErrors,
  ValueObject,
} from "@sequent/core";
import { shared } from "../postgres/_backends.ts";
import { storeBackends } from "../postgres/_store_backends.ts";

// --- Seeded randomness ----------------------------------------------------------

const COUNT = Number(Deno.env.get("SEQUENT_FUZZ_COUNT") ?? 1000);
const SEED = Number(
  Deno.env.get("SEQUENT_FUZZ_SEED") ??
    crypto.getRandomValues(new Uint32Array(1))[0],
);
if (!Number.isSafeInteger(COUNT) || COUNT < 1) {
  throw new Error(`SEQUENT_FUZZ_COUNT must be a positive integer`);
}
if (!Number.isSafeInteger(SEED)) {
  throw new Error(`SEQUENT_FUZZ_SEED must be an integer`);
}
console.log(
  `command fuzz: seed ${SEED}, ${COUNT} payloads per store (replay with SEQUENT_FUZZ_SEED=${SEED})`,
);

/** A small seeded generator (xorshift32, from Marsaglia's paper). */
class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = (seed >>> 0) || 0x9e3779b9;
  }

  /** A float in [0, 1). */
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)] as T;
  }
}

// --- The domain -------------------------------------------------------------------

class Fuzz_Money extends ValueObject.define({
  amount: attrs.decimal().required(),
  currency: attrs.oneOf("EUR", "USD").required(),
}) {}

class Fuzz_Line extends ValueObject.define({
  description: attrs.string().required(),
  quantity: attrs.integer(),
  price: attrs.valueObject(Fuzz_Money).required(),
  tags: attrs.array(attrs.string()),
}) {}

class Fuzz_Geo extends ValueObject.define({
  lat: attrs.float(),
  lng: attrs.float(),
}) {}

class Fuzz_Address extends ValueObject.define({
  street: attrs.string().required(),
  city: attrs.string(),
  geo: attrs.valueObject(Fuzz_Geo),
}) {}

/** What the self-referencing node looks like to TypeScript (TS2506). */
interface FuzzNode extends ValueObject {
  readonly label: string | undefined;
  readonly children: readonly FuzzNode[] | undefined;
}
type FuzzNodeClass = abstract new (init: never) => FuzzNode;

class Fuzz_Node extends ValueObject.define({
  label: attrs.string(),
  children: attrs.array(attrs.valueObject((): FuzzNodeClass => Fuzz_Node)),
}) {}

const ORDER = {
  name: attrs.string().required(),
  note: attrs.string(),
  quantity: attrs.integer(),
  total: attrs.decimal(),
  due: attrs.date(),
  urgent: attrs.boolean(),
  at: attrs.dateTime(),
  ratio: attrs.float(),
  kind: attrs.oneOf("retail", "wholesale"),
  ref: attrs.uuid(),
  data: attrs.json(),
  lines: attrs.array(attrs.valueObject(Fuzz_Line)),
  address: attrs.valueObject(Fuzz_Address),
  tree: attrs.valueObject(Fuzz_Node),
  tags: attrs.array(attrs.string()),
};

const AMEND = {
  note: attrs.string().required(),
  data: attrs.json(),
  lines: attrs.array(attrs.valueObject(Fuzz_Line)).required(),
};

class Fuzz_PlaceOrder extends Command.define("Fuzz.PlaceOrder", ORDER) {}
class Fuzz_AmendOrder extends Command.define("Fuzz.AmendOrder", AMEND) {}
class Fuzz_OrderPlaced extends Event.define("Fuzz.OrderPlaced", ORDER) {}
class Fuzz_OrderAmended extends Event.define("Fuzz.OrderAmended", AMEND) {}

class Fuzz_Order extends AggregateRoot {
  name = "";
  static {
    // a structured key holding user text (unique per aggregate), cut short
    // at whole code points: PostgreSQL's unique index refuses a key of some
    // kilobytes (54000), a limit of its own that this test is not about
    this.uniqueKey(
      "fuzz_order",
      (order) =>
        order.name === ""
          ? undefined
          : [order.id, Array.from(order.name).slice(0, 40).join("")],
    );
    this.on(Fuzz_OrderPlaced, (order, event) => {
      order.name = event.name;
    });
    this.on(Fuzz_OrderAmended, () => {});
  }

  place(command: Fuzz_PlaceOrder): void {
    const { aggregateId: _a, userId: _u, commandId: _c, ...attributes } =
      command.attributes();
    const { eventAggregateId: _e, eventSequenceNumber: _s, ...own } =
      attributes;
    this.apply(Fuzz_OrderPlaced, own);
  }

  amend(command: Fuzz_AmendOrder): void {
    this.apply(Fuzz_OrderAmended, {
      note: command.note,
      data: command.data,
      lines: command.lines,
    });
  }
}

async function orderFor(
  handler: CommandHandler,
  id: string,
): Promise<Fuzz_Order> {
  const found = await handler.repository.findAggregate(id, Fuzz_Order);
  if (found) return found;
  const order = new Fuzz_Order(id);
  handler.repository.addAggregate(order);
  return order;
}

class Fuzz_Handler extends CommandHandler {
  static {
    this.on(
      Fuzz_PlaceOrder,
      async (h, c) => (await orderFor(h, c.aggregateId)).place(c),
    );
    this.on(
      Fuzz_AmendOrder,
      async (h, c) => (await orderFor(h, c.aggregateId)).amend(c),
    );
  }
}

const fuzzOrders = table("fuzz_orders", {
  id: column.uuid().primaryKey(),
  name: column.text().nullable(),
  note: column.text().nullable(),
  city: column.text().nullable(),
  tags: column.json(),
  data: column.json().nullable(),
});

class Fuzz_Projector extends Projector {
  static override readonly manages = [fuzzOrders];
  static {
    this.on(
      Fuzz_OrderPlaced,
      (p, e) =>
        p.createOrUpdateRecord(fuzzOrders, { id: e.aggregateId }, {
          name: e.name,
          note: e.note ?? null,
          city: e.address?.city ?? null,
          tags: [
            ...(e.tags ?? []),
            ...(e.lines ?? []).map((l) => l.description),
          ],
          data: e.data ?? null,
        }),
    );
    this.on(
      Fuzz_OrderAmended,
      (p, e) =>
        p.createOrUpdateRecord(fuzzOrders, { id: e.aggregateId }, {
          note: e.note,
          tags: e.lines.flatMap((l) => l.tags ?? []),
          data: e.data ?? null,
        }),
    );
  }
}

// --- The payloads -------------------------------------------------------------------

/** Defines an own property, so a "__proto__" key is data, not a prototype. */
function put(target: Record<string, unknown>, key: string, value: unknown) {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

const HOSTILE_KEYS = ["__proto__", "constructor", "prototype", "toString"];

class Generator {
  readonly #r: Random;
  readonly #ids: string[] = [];
  /** Whether the payload being made should be valid (else anything goes). */
  #clean = false;

  constructor(seed: number) {
    this.#r = new Random(seed);
  }

  uuid(): string {
    const r = this.#r;
    const hex = (n: number) =>
      Array.from({ length: n }, () => r.int(16).toString(16)).join("");
    return `${hex(8)}-${hex(4)}-4${hex(3)}-${r.pick(["8", "9", "a", "b"])}${
      hex(3)
    }-${hex(12)}`;
  }

  /** One character, rarely one no store can hold. */
  char(bad: boolean): string {
    const r = this.#r;
    if (bad) {
      return r.pick([
        "\0",
        String.fromCharCode(0xd800 + r.int(0x400)), // lone high
        String.fromCharCode(0xdc00 + r.int(0x400)), // lone low
      ]);
    }
    const roll = r.next();
    if (roll < 0.7) return String.fromCharCode(0x20 + r.int(0x5f));
    if (roll < 0.8) return String.fromCharCode(0xa0 + r.int(0xd700 - 0xa0));
    if (roll < 0.9) return String.fromCodePoint(0x1f300 + r.int(0x300));
    if (roll < 0.95) return r.pick(["\t", "\n", "\u0001", "\\", '"', "\u2028"]);
    return r.pick(["\\u0000", "\\ud800", "\uFFFF", "\u{10FFFF}"]);
  }

  string(): string {
    const r = this.#r;
    const roll = r.next();
    const length = roll < 0.85
      ? r.int(16)
      : roll < 0.995
      ? r.int(400)
      : roll < 0.9985
      ? 0
      : 10_000 + r.int(200_000);
    let text = "";
    if (length > 1000) {
      text = this.char(false).repeat(length);
    } else {
      for (let i = 0; i < length; i++) text += this.char(false);
    }
    if (!this.#clean && r.chance(0.1)) {
      const at = r.int(text.length + 1);
      text = text.slice(0, at) + this.char(true) + text.slice(at);
    }
    if (roll >= 0.995 && roll < 0.9985 && !this.#clean) {
      text = r.pick([" ", "   ", "\t"]);
    }
    return text;
  }

  key(): string {
    const r = this.#r;
    return r.chance(0.3)
      ? r.pick([...HOSTILE_KEYS, "a", "b", "0", "1", "x.y", ""])
      : this.string();
  }

  /** Any JSON value, up to `depth` levels deep. */
  json(depth: number): JsonValue {
    const r = this.#r;
    const roll = r.next();
    if (depth <= 0 || roll < 0.5) {
      return r.pick<() => JsonValue>([
        () => null,
        () => r.chance(0.5),
        () => r.int(1000) - 500,
        () => r.next() * 1e6 - 5e5,
        () => r.pick([0, -0, 1e21, 5e-324, Number.MAX_SAFE_INTEGER + 2]),
        () => this.string(),
      ])();
    }
    if (roll < 0.75) {
      return Array.from({ length: r.int(5) }, () => this.json(depth - 1));
    }
    const object: Record<string, JsonValue> = {};
    for (let i = r.int(5); i > 0; i--) {
      put(object, this.key(), this.json(depth - 1));
    }
    return object;
  }

  /** A JSON value exactly `depth` levels deep. */
  deep(depth: number): JsonValue {
    let value: JsonValue = this.string();
    for (let i = 0; i < depth; i++) {
      value = this.#r.chance(0.5) ? [value] : { v: value };
    }
    return value;
  }

  /** A value of the wrong type for most attributes. */
  wrong(): unknown {
    const r = this.#r;
    return r.pick<() => unknown>([
      () => null,
      () => undefined,
      () => r.int(100),
      () => NaN,
      () => -Infinity,
      () => 10n ** 30n,
      () => r.chance(0.5),
      () => this.string(),
      () => [this.string(), null],
      () => ({ [this.string()]: 1 }),
      () => new Date(r.int(2) ? NaN : 1e15),
      () => new Map([["a", 1]]),
      () => Symbol("fuzz"),
      () => () => "a function",
      () => this.deep(MAX_NESTING_DEPTH + r.int(5000)),
    ])();
  }

  /** An object with some hostile or unknown keys added. */
  withStrayKeys(object: Record<string, unknown>): Record<string, unknown> {
    const r = this.#r;
    if (r.chance(0.15)) {
      put(
        object,
        r.pick(HOSTILE_KEYS),
        r.pick<unknown>([
          { polluted: true, name: "from the prototype" },
          "x",
          null,
          [1],
        ]),
      );
    }
    if (r.chance(0.05)) put(object, this.key(), this.string());
    return object;
  }

  /** `valid()` most of the time, else a wrong value. */
  value(valid: () => unknown, wrongRate = 0.1): unknown {
    return !this.#clean && this.#r.chance(wrongRate) ? this.wrong() : valid();
  }

  /** One of `good`, or in a payload that need not be valid, of `bad` too. */
  oneOf(good: readonly unknown[], bad: readonly unknown[]): unknown {
    return this.#clean || this.#r.chance(0.7)
      ? this.#r.pick(good)
      : this.#r.pick(bad);
  }

  money(): unknown {
    const r = this.#r;
    return this.withStrayKeys({
      amount: this.value(() =>
        this.oneOf([
          `${r.int(10_000)}.${r.int(100)}`,
          r.int(100),
          "1e3",
          "9".repeat(r.int(60) + 1),
        ], ["abc", "1e99999", ""])
      ),
      currency: this.value(() => this.oneOf(["EUR", "USD"], ["eur", ""])),
    });
  }

  line(): unknown {
    const r = this.#r;
    return this.withStrayKeys({
      description: this.value(() => this.string()),
      quantity: this.value(() =>
        this.oneOf([r.int(100), "7", " -3 "], [1.5, "7x"])
      ),
      price: this.value(() => this.money()),
      tags: this.value(() => this.list(() => this.string(), 4)),
    });
  }

  list(item: () => unknown, max: number): unknown {
    const r = this.#r;
    const items = Array.from({ length: r.int(max + 1) }, item);
    if (r.chance(0.1)) {
      // form-style: an object keyed by index
      const object: Record<string, unknown> = {};
      items.forEach((v, i) => put(object, String(i), v));
      return this.withStrayKeys(object);
    }
    if (r.chance(0.005)) return Array.from({ length: 1000 }, item);
    return items;
  }

  tree(depth: number): unknown {
    const r = this.#r;
    return this.withStrayKeys({
      label: this.value(() => this.string(), 0.05),
      children: depth <= 0
        ? undefined
        : Array.from({ length: r.int(3) }, () => this.tree(depth - 1)),
    });
  }

  treeDepth(): number {
    const r = this.#r;
    const roll = r.next();
    if (this.#clean) return roll < 0.9 ? r.int(4) : 40 + r.int(9);
    return roll < 0.9 ? r.int(4) : roll < 0.97 ? 45 + r.int(10) : 2000;
  }

  jsonAttribute(): unknown {
    const r = this.#r;
    const roll = r.next();
    if (roll < 0.6) return this.json(4);
    if (roll < 0.75) return JSON.stringify(this.json(4));
    if (this.#clean) return this.deep(MAX_NESTING_DEPTH - 5 + r.int(5));
    if (roll < 0.8) return '{"a":"\\u0000"}';
    if (roll < 0.85) return "not json";
    if (roll < 0.95) return this.deep(MAX_NESTING_DEPTH - 3 + r.int(6));
    return this.deep(5000 + r.int(5000));
  }

  aggregateId(): unknown {
    const r = this.#r;
    const roll = r.next();
    if (roll < 0.75 || this.#ids.length === 0) {
      const id = this.uuid();
      this.#ids.push(id);
      return id;
    }
    if (roll < 0.9) return r.pick(this.#ids);
    if (roll < 0.94 || this.#clean) return r.pick(this.#ids).toUpperCase();
    return this.wrong();
  }

  base(): Record<string, unknown> {
    const r = this.#r;
    const params: Record<string, unknown> = {};
    if (this.#clean || r.chance(0.97)) params.aggregateId = this.aggregateId();
    if (r.chance(0.5)) params.userId = this.value(() => this.string());
    if (r.chance(0.05)) params.eventAggregateId = this.uuid();
    if (r.chance(0.05)) {
      params.eventSequenceNumber = this.oneOf([1, 2 ** 31 - 1], [
        2 ** 31,
        1e12,
        0,
        -1,
      ]);
    }
    return params;
  }

  place(): Record<string, unknown> {
    const r = this.#r;
    const params = this.base();
    const set = (key: string, valid: () => unknown, p = 0.6) => {
      if (r.chance(p)) put(params, key, this.value(valid));
    };
    set("name", () => this.string(), 0.95);
    set("note", () => this.string());
    set(
      "quantity",
      () => this.oneOf([r.int(1e6), "42", 2 ** 53 - 1], [2 ** 53, 1.5]),
    );
    set(
      "total",
      () => this.oneOf(["12.30", 0.1, "-0.00", "1e1000"], ["1e1001", "x"]),
    );
    set(
      "due",
      () =>
        this.oneOf(["2026-02-28", "2024-02-29"], ["2026-02-30", "0000-01-01"]),
    );
    set("urgent", () => this.oneOf([true, "yes", "off"], ["maybe", 2]));
    set(
      "at",
      () =>
        this.oneOf(["2026-01-02T03:04:05Z", "2026-01-02 03:04"], [
          "2026-13-01",
          "yesterday",
        ]),
    );
    set("ratio", () => this.oneOf([r.next(), "0.5", "-1e308"], ["1e999", NaN]));
    set("kind", () => this.oneOf(["retail", "wholesale"], ["Retail", ""]));
    set("ref", () => this.uuid());
    set("data", () => this.jsonAttribute());
    set("lines", () => this.list(() => this.line(), 3));
    set("address", () =>
      this.withStrayKeys({
        street: this.value(() => this.string()),
        city: this.value(() => this.string()),
        geo: this.value(() =>
          this.withStrayKeys({ lat: r.next() * 90, lng: "5.1" })
        ),
      }));
    set("tree", () => this.tree(this.treeDepth()), 0.3);
    set("tags", () => this.list(() => this.string(), 5));
    return this.withStrayKeys(params);
  }

  amend(): Record<string, unknown> {
    const params = this.base();
    put(params, "note", this.value(() => this.string()));
    put(params, "data", this.value(() => this.jsonAttribute()));
    put(params, "lines", this.value(() => this.list(() => this.line(), 3)));
    return this.withStrayKeys(params);
  }

  /** Form params for PlaceOrder, as a browser might post them. */
  form(): URLSearchParams {
    const r = this.#r;
    const form = new URLSearchParams();
    const id = this.aggregateId();
    if (typeof id === "string") form.set("aggregateId", id);
    form.set("name", this.string());
    if (r.chance(0.5)) form.set("lines[0][description]", this.string());
    if (r.chance(0.5)) form.set("lines[0][price][amount]", "9.99");
    if (r.chance(0.5)) form.set("lines[0][price][currency]", "EUR");
    if (r.chance(0.5)) form.set("address.street", this.string());
    if (r.chance(0.3)) form.set("__proto__[polluted]", "yes");
    if (r.chance(0.3)) form.set("constructor[prototype][polluted]", "yes");
    if (r.chance(0.3)) form.set("data", JSON.stringify(this.json(3)));
    return form;
  }

  payload(): Payload {
    const r = this.#r;
    this.#clean = r.chance(0.45);
    const roll = r.next();
    if (roll < 0.03 && !this.#clean) {
      return {
        command: "place",
        params: r.pick<() => unknown>([
          () => null,
          () => undefined,
          () => 42,
          () => "aggregateId=x",
          () => [],
          () => [this.place()],
          () => true,
        ])(),
      };
    }
    if (roll < 0.06) return { command: "place", params: this.form() };
    if (roll < 0.3) return { command: "amend", params: this.amend() };
    return { command: "place", params: this.place() };
  }
}

interface Payload {
  readonly command: "place" | "amend";
  readonly params: unknown;
}

const generator = new Generator(SEED);
const PAYLOADS: readonly Payload[] = Array.from(
  { length: COUNT },
  () => generator.payload(),
);

// --- Running them -------------------------------------------------------------------

type Outcome =
  | { readonly ok: true }
  | {
    readonly ok: false;
    readonly commandType: string;
    readonly errors: ValidationErrors;
  };

interface StoredEvent {
  readonly aggregateId: string;
  readonly sequenceNumber: number;
  readonly eventType: string;
  readonly payload: unknown;
}

interface Run {
  readonly outcomes: readonly Outcome[];
  /** The events the successful commands applied, in order, as JSON. */
  readonly expected: readonly StoredEvent[];
  readonly successes: number;
}

function describePayload(index: number, payload: Payload): string {
  return `payload ${index} of seed ${SEED} (replay with SEQUENT_FUZZ_SEED=${SEED}): ${payload.command} ${
    Deno.inspect(payload.params, {
      depth: 6,
      strAbbreviateSize: 120,
      iterableLimit: 20,
    })
  }`;
}

async function run(store: EventStore): Promise<Run> {
  const service = new CommandService({
    eventStore: store,
    commandHandlers: [new Fuzz_Handler()],
    eventHandlers: [new Fuzz_Projector()],
    logger: silentLogger,
  });
  const outcomes: Outcome[] = [];
  const expected: StoredEvent[] = [];
  const sequence = new Map<string, number>();
  let successes = 0;
  for (const [index, payload] of PAYLOADS.entries()) {
    let command: Fuzz_PlaceOrder | Fuzz_AmendOrder;
    try {
      command = payload.command === "place"
        ? Fuzz_PlaceOrder.fromParams(payload.params as never)
        : Fuzz_AmendOrder.fromParams(payload.params as never);
      await service.executeCommands(command);
    } catch (error) {
      if (!(error instanceof CommandNotValidError)) {
        throw new Error(
          `${describePayload(index, payload)}\nfailed with ${
            error instanceof Error ? `${error.name}: ${error.message}` : error
          }`,
          { cause: error },
        );
      }
      outcomes.push({
        ok: false,
        commandType: error.commandType,
        errors: error.errors,
      });
      continue;
    }
    outcomes.push({ ok: true });
    successes++;
    const next = (sequence.get(command.aggregateId) ?? 0) + 1;
    sequence.set(command.aggregateId, next);
    expected.push({
      aggregateId: command.aggregateId,
      sequenceNumber: next,
      eventType: payload.command === "place"
        ? "Fuzz.OrderPlaced"
        : "Fuzz.OrderAmended",
      payload: JSON.parse(JSON.stringify(command.payload())),
    });
  }
  return { outcomes, expected, successes };
}

async function storedEvents(store: EventStore): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for await (const batch of store.readAllEvents({ batchSize: 500 })) {
    for (const e of batch) {
      events.push({
        aggregateId: e.aggregateId,
        sequenceNumber: e.sequenceNumber,
        eventType: e.eventType,
        payload: JSON.parse(e.payload),
      });
    }
  }
  return events;
}

function prototypeState(): string[] {
  return [Object.prototype, Array.prototype, Function.prototype].map((proto) =>
    Deno.inspect(Object.getOwnPropertyDescriptors(proto), { depth: 1 })
  );
}

/** What the failures were about, for the generator's coverage. */
const CATEGORIES: readonly [string, RegExp][] = [
  ["NUL", /contains a NUL character|has a key .* NUL/],
  ["lone surrogate", /lone surrogate/],
  ["too deep", /nests more than/],
  ["not an object", /^params must be an object/],
  ["wrong type", /^is not (a )?valid/],
  ["blank", /^can't be blank$/],
];

function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [name] of CATEGORIES) counts[name] = 0;
  for (const outcome of outcomes) {
    if (outcome.ok) continue;
    const messages = Object.values(outcome.errors).flat();
    for (const [name, pattern] of CATEGORIES) {
      if (messages.some((m) => pattern.test(m))) counts[name]! += 1;
    }
  }
  return counts;
}

let reference: Promise<{ run: Run; rows: unknown[] }> | undefined;

/** The outcomes and rows of the payloads on a fresh in-memory store. */
function referenceRun(): Promise<{ run: Run; rows: unknown[] }> {
  return reference ??= (async () => {
    const store = new InMemoryEventStore();
    const result = await run(store);
    const rows = await store.records.find(fuzzOrders, {}, {
      orderBy: [["id", "asc"]],
    });
    return { run: result, rows };
  })();
}

const backends = storeBackends();

for (const b of backends.list) {
  Deno.test({
    name:
      `command fuzz (${b.name}): generated payloads end in success or CommandNotValidError as in memory, the store holds exactly the successes, and Object.prototype is unchanged`,
    ...shared,
    fn: async () => {
      const before = prototypeState();
      const { run: expected, rows } = await referenceRun();
      const store = await b.emptyStore([fuzzOrders]);
      const started = performance.now();
      const actual = await run(store);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const counts = tally(actual.outcomes);
      console.log(
        `command fuzz (${b.name}): ${COUNT} payloads, ${actual.successes} succeeded, in ${seconds}s; failures by kind: ${
          JSON.stringify(counts)
        }`,
      );
      for (const [i, outcome] of actual.outcomes.entries()) {
        assert.deepEqual(
          outcome,
          expected.outcomes[i],
          describePayload(i, PAYLOADS[i] as Payload),
        );
      }
      if (COUNT >= 1000) {
        // the generator reaches every kind of failure, and successes
        for (const [name, n] of Object.entries(counts)) {
          assert.ok(n > 0, `no payload failed as ${name}`);
        }
        assert.ok(
          actual.successes > COUNT / 5 && actual.successes < COUNT * 0.8,
          `the payloads should mix successes and failures: ${actual.successes} of ${COUNT} succeeded`,
        );
      }
      assert.deepEqual(await storedEvents(store), actual.expected);
      assert.equal(await b.commandCount(store), actual.successes);
      assert.deepEqual(
        await store.records.find(fuzzOrders, {}, { orderBy: [["id", "asc"]] }),
        rows,
      );
      assert.deepEqual(prototypeState(), before);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    },
  });
}

backends.disposeAtEnd();
