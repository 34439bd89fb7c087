/**
 * The contract every record store must pass. The in-memory store's test
 * file and the SQL stores' (the SQL, gathering and replay stores, on PGlite
 * and, when `DATABASE_URL` names one, a PostgreSQL server) call
 * `recordStoreContract` with a factory giving empty tables, so the stores
 * projectors write through cannot drift apart; a store's known gaps are
 * named, and show as ignored tests.
 *
 * Every behaviour runs twice: on the store itself (each call standing
 * alone) and with each call in a unit of work of its own (the path inline
 * projectors take: an in-memory transaction journal, or SQL writes queued
 * in the unit and sent at its end). Then what only units do: reads of
 * their own writes, and a failed unit's writes undone.
 */
import assert from "node:assert/strict";
import {
  CalendarDate,
  column,
  Decimal,
  DuplicateRecordError,
  type FindOptions,
  type JsonValue,
  MAX_NESTING_DEPTH,
  type RecordStore,
  type RecordTable,
  type RowOf,
  SequentError,
  table,
  UnstorableTextError,
  type WhereOf,
} from "@sequent/core";

/** Items: defaults, a nullable column, a unique column and an index. */
export const rsItems = table("rs_items", {
  id: column.uuid().primaryKey(),
  name: column.text(),
  amount: column.integer().default(0),
  note: column.text().nullable(),
  code: column.text().nullable().unique(),
  createdAt: column.dateTime().nullable(),
}, { indexes: [["name"]] });

/**
 * One column of every type, all nullable, named with single words so the
 * SQL names equal the TypeScript ones.
 */
export const rsTyped = table("rs_typed", {
  id: column.integer().primaryKey(),
  uuid: column.uuid().nullable(),
  text: column.text().nullable(),
  integer: column.integer().nullable(),
  bigint: column.bigint().nullable(),
  float: column.float().nullable(),
  boolean: column.boolean().nullable(),
  decimal: column.decimal().nullable(),
  date: column.date().nullable(),
  moment: column.dateTime().nullable(),
  json: column.json().nullable(),
});

/** Every type, none nullable, with camelCase names. */
export const rsStrict = table("rs_strict", {
  id: column.uuid().primaryKey(),
  someText: column.text(),
  someInteger: column.integer(),
  someBigint: column.bigint(),
  someFloat: column.float(),
  someBoolean: column.boolean(),
  someDecimal: column.decimal(),
  someDate: column.date(),
  someDateTime: column.dateTime(),
  someJson: column.json(),
});

/** A composite primary key (SQL keywords as names) and a composite unique index. */
export const rsPairs = table("rs_pairs", {
  left: column.integer(),
  right: column.text(),
  label: column.text(),
  rank: column.integer().nullable(),
}, {
  primaryKey: ["left", "right"],
  indexes: [{ columns: ["label", "rank"], unique: true }],
});

/** A primary key of two text columns. */
export const rsNames = table("rs_names", {
  first: column.text(),
  last: column.text(),
  n: column.integer(),
}, { primaryKey: ["first", "last"] });

/** The tables the contract uses (a SQL fixture creates them). */
export const recordStoreContractTables: readonly RecordTable[] = [
  rsItems,
  rsTyped,
  rsStrict,
  rsPairs,
  rsNames,
];

/** A store with the contract's tables, empty. */
export interface RecordStoreFixture {
  /** The store, each call standing alone. */
  readonly store: RecordStore;
  /**
   * Runs `work` as one unit of work whose writes are kept when it resolves
   * and undone when it rejects (the rejection is passed on).
   */
  unit<T>(work: (records: RecordStore) => Promise<T>): Promise<T>;
  /** Whether the store runs SQL (`executeSql`, qualified table names). */
  readonly sql: boolean;
  /** The qualified name `tableName(rsItems)` gives. */
  readonly itemsTableName: string;
}

/** Gives a fixture whose tables are empty. */
export type RecordStoreFactory = () => Promise<RecordStoreFixture>;

/** Options of the contract run. */
export interface RecordStoreContractOptions {
  /** Extra options passed to every Deno.test (e.g. sanitizers). */
  readonly testOptions?: Partial<Deno.TestDefinition>;
  /**
   * Behaviours the store is known to lack, by test title, each with why:
   * those tests are registered as ignored (in every mode), so each run
   * lists them. A title the contract does not have is an error.
   */
  readonly knownGaps?: Readonly<Record<string, string>>;
}

/** A store whose every call runs in a unit of work of its own. */
function callsInUnits(fixture: RecordStoreFixture): RecordStore {
  const { unit } = fixture;
  return {
    insert: (t, rows) => unit((s) => s.insert(t, rows)),
    find: (t, where, options) => unit((s) => s.find(t, where, options)),
    update: (t, where, changes) => unit((s) => s.update(t, where, changes)),
    upsert: (t, where, values) => unit((s) => s.upsert(t, where, values)),
    delete: (t, where) => unit((s) => s.delete(t, where)),
    executeSql: (text, params) => unit((s) => s.executeSql(text, params)),
    tableName: (t) => fixture.store.tableName(t),
  };
}

const ids = Array.from({ length: 6 }, () => crypto.randomUUID()).sort();
const [A, B, C, D] = ids as [string, string, string, string];

function sortById<R extends { id: string | number }>(rows: R[]): R[] {
  return [...rows].sort((x, y) => x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
}

function namesOf(rows: readonly RowOf<typeof rsItems>[]): string[] {
  return rows.map((r) => r.name);
}

/** A JSON value nesting `depth` levels of arrays. */
function deepJson(depth: number): JsonValue {
  let value: JsonValue = "bottom";
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** A row of rs_typed with every nullable column null. */
const NULLS: Omit<RowOf<typeof rsTyped>, "id"> = {
  uuid: null,
  text: null,
  integer: null,
  bigint: null,
  float: null,
  boolean: null,
  decimal: null,
  date: null,
  moment: null,
  json: null,
};

/** A TypeError whose message matches `pattern`. */
function typeError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TypeError, `expected a TypeError: ${error}`);
    assert.match(error.message, pattern);
    return true;
  };
}

function duplicate(tableName: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof DuplicateRecordError,
      `expected DuplicateRecordError: ${error}`,
    );
    assert.equal(error.table, tableName);
    return true;
  };
}

/** A DuplicateRecordError naming this table and this key. */
function taken(
  tableName: string,
  key: Readonly<Record<string, unknown>>,
): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof DuplicateRecordError,
      `expected DuplicateRecordError: ${error}`,
    );
    assert.equal(error.table, tableName);
    assert.deepEqual(error.key, key);
    return true;
  };
}

/** The n-th of many UUIDs, in order. */
function nthUuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

const SAMPLE = {
  uuid: "0f8fad5b-d9cb-469f-a165-70867728950e",
  text: "Grüße, \"quoted\" 'single' \\ ✓ 𝄞",
  integer: -2147483648,
  bigint: 9223372036854775807n,
  float: 0.1 + 0.2,
  boolean: false,
  decimal: Decimal.from("-12345678901234567890.123456789000"),
  date: CalendarDate.parse("2024-02-29"),
  moment: new Date("2024-03-31T01:02:03.456Z"),
  json: {
    nested: { list: [1, "two", null, true, { deep: [] }] },
    empty: {},
    unicode: "✓ 𝄞",
    number: -1.5e-7,
  } as JsonValue,
};

/**
 * Registers the record store contract's tests.
 *
 * @param name The store's name, prefixed to each test's.
 * @param factory Gives a fixture with empty tables.
 * @param options Test options.
 */
export function recordStoreContract(
  name: string,
  factory: RecordStoreFactory,
  options: RecordStoreContractOptions = {},
): void {
  const gaps = new Set(Object.keys(options.knownGaps ?? {}));
  const titles = new Set<string>();
  const ignore = (title: string): boolean => {
    titles.add(title);
    return gaps.has(title);
  };
  for (const mode of ["direct", "each call in a unit"] as const) {
    const test = (
      title: string,
      fn: (store: RecordStore, fixture: RecordStoreFixture) => Promise<void>,
    ) =>
      Deno.test({
        name: `${name} (${mode}): ${title}`,
        ...options.testOptions,
        ignore: ignore(title),
        fn: async () => {
          const fixture = await factory();
          const store = mode === "direct"
            ? fixture.store
            : callsInUnits(fixture);
          await fn(store, fixture);
        },
      });

    // --- insert ---------------------------------------------------------------

    test("insert fills in defaults and leaves nullable columns null", async (store) => {
      await store.insert(rsItems, [{ id: A, name: "alpha" }]);
      assert.deepEqual(await store.find(rsItems, { id: A }), [{
        id: A,
        name: "alpha",
        amount: 0,
        note: null,
        code: null,
        createdAt: null,
      }]);
    });

    test("insert stores several rows at once, and none is a no-op", async (store) => {
      await store.insert(rsItems, []);
      await store.insert(rsItems, [
        { id: A, name: "alpha", amount: 1, note: "n" },
        { id: B, name: "beta", amount: 2, code: "b" },
      ]);
      const rows = sortById(await store.find(rsItems, {}));
      assert.deepEqual(rows.map((r) => [r.id, r.amount, r.note, r.code]), [
        [A, 1, "n", null],
        [B, 2, null, "b"],
      ]);
    });

    test("a duplicate primary key fails with DuplicateRecordError and keeps the row", async (store) => {
      await store.insert(rsItems, [{ id: A, name: "first" }]);
      await assert.rejects(
        store.insert(rsItems, [{ id: A, name: "second" }]),
        duplicate("rs_items"),
      );
      assert.deepEqual(namesOf(await store.find(rsItems, { id: A })), [
        "first",
      ]);
    });

    test("a primary key twice in one insert fails and inserts none of its rows", async (store) => {
      await assert.rejects(
        store.insert(rsItems, [
          { id: B, name: "other" },
          { id: A, name: "one" },
          { id: A, name: "two" },
        ]),
        duplicate("rs_items"),
      );
      assert.deepEqual(await store.find(rsItems, {}), []);
    });

    test("a taken value of a unique column fails with DuplicateRecordError; nulls never clash", async (store) => {
      await store.insert(rsItems, [
        { id: A, name: "a", code: "taken" },
        { id: B, name: "b" },
        { id: C, name: "c", code: null },
      ]);
      await assert.rejects(
        store.insert(rsItems, [{ id: D, name: "d", code: "taken" }]),
        duplicate("rs_items"),
      );
      assert.equal((await store.find(rsItems, {})).length, 3);
      await assert.rejects(
        store.insert(rsItems, [
          { id: ids[4]!, name: "e", code: "same" },
          { id: ids[5]!, name: "f", code: "same" },
        ]),
        duplicate("rs_items"),
      );
      assert.equal((await store.find(rsItems, {})).length, 3);
    });

    test("composite keys and composite unique indexes are enforced on all their columns together", async (store) => {
      await store.insert(rsPairs, [
        { left: 1, right: "x", label: "l", rank: 1 },
        { left: 1, right: "y", label: "l", rank: 2 },
        { left: 2, right: "x", label: "m", rank: 1 },
        { left: 3, right: "x", label: "l", rank: null },
        { left: 3, right: "y", label: "l", rank: null },
      ]);
      await assert.rejects(
        store.insert(rsPairs, [{ left: 1, right: "x", label: "n" }]),
        duplicate("rs_pairs"),
      );
      await assert.rejects(
        store.insert(rsPairs, [{ left: 9, right: "z", label: "l", rank: 2 }]),
        duplicate("rs_pairs"),
      );
      assert.equal((await store.find(rsPairs, {})).length, 5);
      assert.deepEqual(
        await store.find(rsPairs, { left: 1, right: "y" }),
        [{ left: 1, right: "y", label: "l", rank: 2 }],
      );
    });

    test("composite keys are told apart by every part, whatever text the parts hold (U+0001 included)", async (store) => {
      // the stores join a key's parts with U+0001 (storable text)
      await store.insert(rsNames, [{ first: "x\u0001s:y", last: "z", n: 1 }]);
      await store.insert(rsNames, [{ first: "x", last: "y\u0001s:z", n: 2 }]);
      assert.deepEqual(
        (await store.find(rsNames, { first: "x", last: "y\u0001s:z" })).map((
          r,
        ) => r.n),
        [2],
      );
      await store.update(rsNames, { first: "x\u0001s:y", last: "z" }, {
        n: 3,
      });
      await store.delete(rsNames, { first: "x", last: "y\u0001s:z" });
      assert.deepEqual(await store.find(rsNames, {}), [
        { first: "x\u0001s:y", last: "z", n: 3 },
      ]);
    });

    test("a value of the wrong type fails with a TypeError naming the column, storing nothing", async (store) => {
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ amount: "3" }, /Column amount of table rs_items cannot hold "3"/],
        [{ amount: 1.5 }, /Column amount .* cannot hold 1\.5/],
        [{ amount: 2147483648 }, /Column amount /],
        [{ name: 42 }, /Column name .* cannot hold 42/],
        [
          { name: null },
          /Column name .* cannot hold null: it is a non-null text/,
        ],
        [{ id: "not-a-uuid" }, /Column id .*"not-a-uuid"/],
        [{ id: A.toUpperCase() }, /Column id /],
        [{ createdAt: "2024-01-01" }, /Column createdAt .* dateTime/],
        [{ createdAt: new Date(NaN) }, /Column createdAt /],
        [{ note: undefined, code: 7 }, /Column code .* a nullable text/],
      ];
      for (const [values, pattern] of bad) {
        await assert.rejects(
          store.insert(rsItems, [
            { id: B, name: "fine" },
            { id: A, name: "n", ...values } as never,
          ]),
          typeError(pattern),
        );
      }
      const strictBad: [Record<string, unknown>, RegExp][] = [
        [{ someBigint: 1 }, /Column someBigint /],
        [{ someDecimal: 1.5 }, /Column someDecimal /],
        [{ someDecimal: "1.5" }, /Column someDecimal /],
        [{ someDate: new Date() }, /Column someDate /],
        [{ someDate: "2024-01-01" }, /Column someDate /],
        [{ someFloat: NaN }, /Column someFloat /],
        [{ someBoolean: "true" }, /Column someBoolean /],
        [{ someJson: { when: new Date() } }, /Column someJson /],
        [{ someJson: null }, /Column someJson /],
      ];
      for (const [values, pattern] of strictBad) {
        await assert.rejects(
          store.insert(rsStrict, [{ ...strictRow(A), ...values } as never]),
          typeError(pattern),
        );
      }
      assert.deepEqual(await store.find(rsItems, {}), []);
      assert.deepEqual(await store.find(rsStrict, {}), []);
    });

    test("a missing required value or an unknown column fails with a TypeError naming it", async (store) => {
      await assert.rejects(
        store.insert(rsItems, [{ id: A } as never]),
        typeError(/Column name of table rs_items needs a value/),
      );
      await assert.rejects(
        store.insert(rsItems, [{ id: A, name: "n", colour: "red" } as never]),
        typeError(/Table rs_items has no column "colour"/),
      );
      assert.deepEqual(await store.find(rsItems, {}), []);
    });

    test("a duplicate key fails with DuplicateRecordError naming the table and the key by column, with its values as the columns hold them", async (store) => {
      await store.insert(rsItems, [{ id: A, name: "a" }]);
      await assert.rejects(
        store.insert(rsItems, [{ id: A, name: "b" }]),
        taken("rs_items", { id: A }),
      );
      // a composite key, its text holding what PostgreSQL writes between
      // the parts of a key
      await store.insert(rsPairs, [{
        left: -7,
        right: "a, b)=(c",
        label: "x",
      }]);
      await assert.rejects(
        store.insert(rsPairs, [{ left: -7, right: "a, b)=(c", label: "y" }]),
        taken("rs_pairs", { left: -7, right: "a, b)=(c" }),
      );
      await store.insert(rsTyped, [{ id: 2147483647 }]);
      await assert.rejects(
        store.insert(rsTyped, [{ id: 2147483647 }]),
        taken("rs_typed", { id: 2147483647 }),
      );
    });

    test("a taken unique value fails with DuplicateRecordError naming the table and the unique columns, with their values as the columns hold them", async (store) => {
      await store.insert(rsItems, [{ id: A, name: "a", code: "taken, too" }]);
      await assert.rejects(
        store.insert(rsItems, [{ id: B, name: "b", code: "taken, too" }]),
        taken("rs_items", { code: "taken, too" }),
      );
      await store.insert(rsPairs, [
        { left: 1, right: "r", label: "l, m", rank: -2 },
      ]);
      await assert.rejects(
        store.insert(rsPairs, [
          { left: 2, right: "r", label: "l, m", rank: -2 },
        ]),
        taken("rs_pairs", { label: "l, m", rank: -2 }),
      );
    });

    test("an insert of more values than a statement takes parameters, and a list of more values, work as smaller ones; the insert stands or falls whole", async (store) => {
      // 11,000 rows of 6 columns: 66,000 values
      const many = Array.from({ length: 11_000 }, (_, i) => ({
        id: nthUuid(i),
        name: `n${i}`,
      }));
      await store.insert(rsItems, many);
      assert.equal((await store.find(rsItems, {})).length, 11_000);
      const ids = Array.from({ length: 70_000 }, (_, i) => nthUuid(i * 2));
      const found = await store.find(rsItems, { id: ids }, {
        orderBy: [["id", "asc"]],
      });
      assert.equal(found.length, 5_500);
      assert.equal(found[1]?.name, "n2");
      const names = Array.from({ length: 70_000 }, (_, i) => `n${i}`);
      assert.equal(
        (await store.find(rsItems, { name: names })).length,
        11_000,
      );
      // (every note is null)
      assert.equal(
        (await store.find(rsItems, { note: [...names, null] })).length,
        11_000,
      );
      // its last row taken: none of its rows is stored
      const more = Array.from({ length: 11_000 }, (_, i) => ({
        id: nthUuid(11_000 + i),
        name: "more",
      }));
      await assert.rejects(
        store.insert(rsItems, [...more, { id: nthUuid(0), name: "again" }]),
        duplicate("rs_items"),
      );
      assert.deepEqual(await store.find(rsItems, { name: "more" }), []);
      assert.equal((await store.find(rsItems, {})).length, 11_000);
    });

    // --- find -----------------------------------------------------------------

    const fourItems = async (store: RecordStore): Promise<void> => {
      await store.insert(rsItems, [
        { id: A, name: "apple", amount: 3, note: "x" },
        { id: B, name: "banana", amount: 1, note: null },
        { id: C, name: "cherry", amount: 2, note: "y" },
        { id: D, name: "apple", amount: 1, note: null },
      ]);
    };

    test("find matches every given column by equality, and null matches null", async (store) => {
      await fourItems(store);
      assert.deepEqual(
        (await store.find(rsItems, { name: "apple", amount: 1 })).map((r) =>
          r.id
        ),
        [D],
      );
      assert.deepEqual(
        sortById(await store.find(rsItems, { note: null })).map((r) => r.id),
        [B, D],
      );
      assert.deepEqual(await store.find(rsItems, { name: "durian" }), []);
      assert.deepEqual(
        sortById(
          await store.find(
            rsItems,
            { name: "apple", note: undefined } as never,
          ),
        )
          .map((r) => r.id),
        [A, D],
        "an undefined value is no condition",
      );
      assert.equal((await store.find(rsItems, {})).length, 4);
    });

    test("find takes a list as IN, with null in the list matching null, and an empty list matching nothing", async (store) => {
      await fourItems(store);
      assert.deepEqual(
        sortById(await store.find(rsItems, { name: ["banana", "cherry"] }))
          .map((r) => r.id),
        [B, C],
      );
      assert.deepEqual(
        sortById(await store.find(rsItems, { note: ["y", null] })).map((r) =>
          r.id
        ),
        [B, C, D],
      );
      assert.deepEqual(
        sortById(await store.find(rsItems, { note: [null] })).map((r) => r.id),
        [B, D],
      );
      assert.deepEqual(await store.find(rsItems, { name: [] }), []);
      assert.deepEqual(await store.find(rsItems, { id: [] }), []);
      assert.deepEqual(
        (await store.find(rsItems, { id: [C], name: ["cherry", "apple"] }))
          .map((r) => r.id),
        [C],
      );
      assert.deepEqual(
        sortById(await store.find(rsItems, { id: [A, B, ids[5]!] }))
          .map((r) => r.id),
        [A, B],
      );
    });

    test("a list naming a value twice, or equal values (1.5 and 1.50), finds, updates and deletes each row once", async (store) => {
      await fourItems(store);
      assert.deepEqual(
        sortById(await store.find(rsItems, { name: ["apple", "apple"] }))
          .map((r) => r.id),
        [A, D],
      );
      assert.deepEqual(
        (await store.find(rsItems, { id: [C, C] })).map((r) => r.id),
        [C],
      );
      await store.insert(rsTyped, [
        { id: 1, ...NULLS, decimal: Decimal.from("1.5") },
      ]);
      assert.deepEqual(
        (await store.find(rsTyped, {
          decimal: [Decimal.from("1.5"), Decimal.from("1.50")],
        })).map((r) => r.id),
        [1],
      );
      // a key change of the one row named twice clashes with nothing
      await store.update(rsItems, { id: [B, B] }, { id: ids[4]! });
      assert.deepEqual(
        (await store.find(rsItems, { id: ids[4]! })).map((r) => r.name),
        ["banana"],
      );
      await store.update(rsItems, { name: ["cherry", "cherry"] }, {
        amount: 7,
      });
      assert.deepEqual(
        (await store.find(rsItems, { id: C })).map((r) => r.amount),
        [7],
      );
      await store.delete(rsItems, { name: ["apple", "apple"] });
      assert.deepEqual(
        sortById(await store.find(rsItems, {})).map((r) => r.id),
        [C, ids[4]!],
      );
      await store.insert(rsItems, [{ id: A, name: "apple again" }]);
      assert.equal((await store.find(rsItems, {})).length, 3);
    });

    test("a lookup by key and another column that matches nothing hides nothing from a later lookup by key", async (store) => {
      await store.insert(rsItems, [
        { id: A, name: "open" },
        { id: B, name: "other" },
      ]);
      assert.deepEqual(
        await store.find(rsItems, { id: A, name: "closed" }),
        [],
      );
      await store.update(rsItems, { id: A }, { amount: 2 });
      assert.deepEqual(
        (await store.find(rsItems, { id: A })).map((r) => [r.name, r.amount]),
        [["open", 2]],
      );
      assert.deepEqual(
        await store.find(rsItems, { id: B, name: "closed" }),
        [],
      );
      await store.upsert(rsItems, { id: B }, { name: "closed" });
      assert.deepEqual(
        (await store.find(rsItems, { id: B })).map((r) => r.name),
        ["closed"],
      );
    });

    test("find checks its condition: an unknown column or a value of the wrong type is a TypeError", async (store) => {
      await fourItems(store);
      await assert.rejects(
        store.find(rsItems, { colour: "red" } as never),
        typeError(/has no column "colour"/),
      );
      await assert.rejects(
        store.find(rsItems, { amount: "3" } as never),
        typeError(/Column amount /),
      );
      await assert.rejects(
        store.find(rsItems, { amount: [1, "3"] } as never),
        typeError(/Column amount /),
      );
    });

    test("find orders by columns, nulls last ascending and first descending, then limits", async (store) => {
      await fourItems(store);
      const order = async (options: FindOptions) =>
        (await store.find(rsItems, {}, options)).map((r) => r.id);
      assert.deepEqual(
        await order({ orderBy: [["amount", "asc"], ["id", "asc"]] }),
        [B, D, C, A],
      );
      assert.deepEqual(
        await order({ orderBy: [["amount", "desc"], ["id", "desc"]] }),
        [A, C, D, B],
      );
      assert.deepEqual(
        await order({ orderBy: [["note", "asc"], ["id", "asc"]] }),
        [A, C, B, D],
      );
      assert.deepEqual(
        await order({ orderBy: [["note", "desc"], ["id", "asc"]] }),
        [B, D, C, A],
      );
      assert.deepEqual(
        await order({ orderBy: [["name", "asc"], ["amount", "desc"]] }),
        [A, D, B, C],
      );
      assert.deepEqual(
        await order({ orderBy: [["amount", "asc"], ["id", "asc"]], limit: 2 }),
        [B, D],
      );
      assert.deepEqual(await order({ orderBy: [["id", "asc"]], limit: 0 }), []);
      assert.deepEqual(await order({ orderBy: [["id", "asc"]], limit: 10 }), [
        A,
        B,
        C,
        D,
      ]);
      assert.equal(
        (await store.find(rsItems, { name: "apple" }, { limit: 1 })).length,
        1,
      );
    });

    test("find refuses an unknown order column and a negative or fractional limit", async (store) => {
      await fourItems(store);
      await assert.rejects(
        store.find(rsItems, {}, { orderBy: [["colour", "asc"]] }),
        typeError(/has no column "colour"/),
      );
      for (const limit of [-1, 1.5]) {
        await assert.rejects(
          store.find(rsItems, {}, { limit }),
          RangeError,
        );
      }
    });

    test('find refuses an order direction other than "asc" or "desc", naming it', async (store) => {
      const refused: [unknown, RegExp][] = [
        ["DESC", /Order of name must be "asc" or "desc", not "DESC"/],
        ["up", /Order of name must be "asc" or "desc", not "up"/],
        [undefined, /Order of name must be "asc" or "desc", not undefined/],
      ];
      const refuseAll = async () => {
        for (const [direction, pattern] of refused) {
          const orderBy = [["name", direction]] as unknown as NonNullable<
            FindOptions["orderBy"]
          >;
          await assert.rejects(
            store.find(rsItems, {}, { orderBy }),
            typeError(pattern),
          );
        }
      };
      await refuseAll();
      await fourItems(store);
      await refuseAll();
    });

    test("find orders JSON as jsonb does: by type, numbers by value, arrays and objects by size and then what they hold; rows it finds equal go by the next column", async (store) => {
      // ascending, each with its id; equal values in one inner list
      const ordered: [number, JsonValue | null][][] = [
        [[1, []]], // a column's empty array comes first
        [[2, "a"]],
        [[3, "b"]],
        [[4, -1.5]],
        [[5, 9]],
        [[6, 10]],
        [[7, false]],
        [[8, true]],
        [[9, [null]]],
        [[10, ["a"]]],
        [[11, [2]]],
        [[12, [10]]],
        [[13, [true]]],
        [[14, [[]]]],
        [[15, [[1, 2]]]],
        [[16, [{}]]],
        [[17, [1, 1]]],
        [[18, {}]],
        [[19, { a: 1 }], [20, { a: 1 }], [21, { a: 1.0 }]],
        [[22, { a: 2 }]],
        [[23, { b: 0 }]],
        [[24, { a: [1, 2], b: null }]],
        [[25, { ab: 1, ac: 0 }]],
        // shorter keys first: "b" meets "c" before "aa" is looked at
        [[26, { d: 1, b: 1 }]],
        [[27, { aa: 1, c: 1 }]],
        [[28, null]],
      ];
      const rows = ordered.flat().map(([id, json]) => ({ id, json }));
      await store.insert(rsTyped, [...rows].reverse());
      const ids = async (options: FindOptions) =>
        (await store.find(rsTyped, {}, options)).map((r) => r.id);
      const ascending = ordered.flatMap((equal) =>
        equal.map(([id]) => id).reverse()
      );
      assert.deepEqual(
        await ids({ orderBy: [["json", "asc"], ["id", "desc"]] }),
        ascending,
      );
      assert.deepEqual(
        await ids({ orderBy: [["json", "desc"], ["id", "asc"]] }),
        [...ascending].reverse(),
      );
      assert.deepEqual(
        await ids({ orderBy: [["json", "asc"], ["id", "asc"]], limit: 20 }),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    });

    test("find orders every column type by value, not by its text", async (store) => {
      const rows = [
        {
          id: 1,
          integer: 10,
          bigint: 10n,
          float: 10.5,
          decimal: Decimal.from("10"),
          date: CalendarDate.parse("2024-10-01"),
          moment: new Date("2024-01-01T00:00:10Z"),
          boolean: true,
          text: "b",
        },
        {
          id: 2,
          integer: 9,
          bigint: 9n,
          float: 9.5,
          decimal: Decimal.from("9.5"),
          date: CalendarDate.parse("2024-09-30"),
          moment: new Date("2024-01-01T00:00:09Z"),
          boolean: false,
          text: "a",
        },
        {
          id: 3,
          integer: -1,
          bigint: -1n,
          float: -1e300,
          decimal: Decimal.from("-100"),
          date: CalendarDate.parse("0999-01-01"),
          moment: new Date("1960-01-01T00:00:00Z"),
          boolean: false,
          text: "0",
        },
        { id: 4 },
      ];
      await store.insert(rsTyped, rows);
      const order = async (
        key: keyof RowOf<typeof rsTyped>,
        dir: "asc" | "desc",
      ) =>
        (await store.find(rsTyped, {}, {
          orderBy: [[key, dir], ["id", "asc"]],
        })).map((r) => r.id);
      for (
        const key of [
          "integer",
          "bigint",
          "float",
          "decimal",
          "date",
          "moment",
        ] as const
      ) {
        assert.deepEqual(await order(key, "asc"), [3, 2, 1, 4], `${key} asc`);
        assert.deepEqual(await order(key, "desc"), [4, 1, 2, 3], `${key} desc`);
      }
      assert.deepEqual(await order("boolean", "asc"), [2, 3, 1, 4]);
      assert.deepEqual(await order("text", "asc"), [3, 2, 1, 4]);
    });

    test("found rows are copies: changing one changes nothing stored", async (store) => {
      await store.insert(rsTyped, [{
        id: 1,
        json: { list: [1] },
        moment: new Date(0),
      }]);
      const [row] = await store.find(rsTyped, { id: 1 });
      (row!.json as { list: number[] }).list.push(2);
      row!.moment!.setTime(1000);
      row!.text = "changed";
      const [again] = await store.find(rsTyped, { id: 1 });
      assert.deepEqual(again!.json, { list: [1] });
      assert.equal(again!.moment!.getTime(), 0);
      assert.equal(again!.text, null);
    });

    // --- update ---------------------------------------------------------------

    test("update sets the changes on every matching row and leaves the others", async (store) => {
      await fourItems(store);
      await store.update(rsItems, { name: "apple" }, { amount: 7, note: null });
      await store.update(rsItems, { name: "durian" }, { amount: 8 });
      await store.update(rsItems, { id: B }, {});
      await store.update(
        rsItems,
        { id: C },
        { note: undefined, code: "c" } as never,
      );
      const rows = sortById(await store.find(rsItems, {}));
      assert.deepEqual(rows.map((r) => [r.name, r.amount, r.note, r.code]), [
        ["apple", 7, null, null],
        ["banana", 1, null, null],
        ["cherry", 2, "y", "c"],
        ["apple", 7, null, null],
      ]);
      assert.deepEqual(
        sortById(await store.find(rsItems, { amount: 7 })).map((r) => r.id),
        [A, D],
        "an updated column is found by its new value",
      );
      assert.deepEqual(await store.find(rsItems, { amount: 3 }), []);
    });

    test("update with a list and with no condition", async (store) => {
      await fourItems(store);
      await store.update(rsItems, { id: [A, B] }, { note: "listed" });
      assert.deepEqual(
        sortById(await store.find(rsItems, { note: "listed" })).map((r) =>
          r.id
        ),
        [A, B],
      );
      await store.update(rsItems, {}, { amount: 0 });
      assert.equal((await store.find(rsItems, { amount: 0 })).length, 4);
    });

    test("update refuses a value of the wrong type, null in a non-null column, and an unknown column", async (store) => {
      await fourItems(store);
      await assert.rejects(
        store.update(rsItems, { id: A }, { amount: "9" } as never),
        typeError(/Column amount /),
      );
      await assert.rejects(
        store.update(rsItems, { id: A }, { name: null } as never),
        typeError(/Column name .* null/),
      );
      await assert.rejects(
        store.update(rsItems, { id: A }, { colour: "red" } as never),
        typeError(/has no column "colour"/),
      );
      assert.deepEqual(namesOf(await store.find(rsItems, { id: A })), [
        "apple",
      ]);
    });

    test("an update to a taken key or unique value fails with DuplicateRecordError and changes no row", async (store) => {
      await fourItems(store);
      await store.update(rsItems, { id: A }, { code: "a" });
      await assert.rejects(
        store.update(rsItems, { id: B }, { code: "a" }),
        duplicate("rs_items"),
      );
      await assert.rejects(
        store.update(rsItems, { name: "apple" }, { code: "z" }),
        duplicate("rs_items"),
      );
      await assert.rejects(
        store.update(rsItems, { id: C }, { id: A }),
        duplicate("rs_items"),
      );
      const rows = sortById(await store.find(rsItems, {}));
      assert.deepEqual(rows.map((r) => [r.id, r.name, r.code]), [
        [A, "apple", "a"],
        [B, "banana", null],
        [C, "cherry", null],
        [D, "apple", null],
      ]);
      assert.deepEqual(
        sortById(await store.find(rsItems, { name: "apple" })).map((r) => r.id),
        [A, D],
      );
    });

    test("update may change a primary key, and the row is found by its new key only", async (store) => {
      await store.insert(rsPairs, [{ left: 1, right: "x", label: "l" }]);
      await store.update(rsPairs, { left: 1, right: "x" }, { left: 2 });
      assert.deepEqual(await store.find(rsPairs, { left: 1, right: "x" }), []);
      assert.deepEqual(await store.find(rsPairs, { left: 2, right: "x" }), [
        { left: 2, right: "x", label: "l", rank: null },
      ]);
    });

    test("update checks its condition even when it changes nothing", async (store) => {
      await fourItems(store);
      await assert.rejects(
        store.update(rsItems, { colour: 1 } as never, {}),
        typeError(/has no column "colour"/),
      );
      await assert.rejects(
        store.update(rsItems, { amount: "3" } as never, {
          note: undefined,
        } as never),
        typeError(/Column amount /),
      );
      await store.update(rsItems, { id: A }, { note: undefined } as never);
      assert.deepEqual(namesOf(await store.find(rsItems, { id: A })), [
        "apple",
      ]);
    });

    test("a list with a hole or undefined in a condition is a TypeError naming the column", async (store) => {
      await fourItems(store);
      const holey: number[] = [];
      holey[0] = 1;
      holey[2] = 3;
      for (const list of [holey, [1, undefined, 3]] as number[][]) {
        await assert.rejects(
          store.find(rsItems, { amount: list }),
          typeError(/Column amount .*undefined/),
        );
        await assert.rejects(
          store.update(rsItems, { amount: list }, { note: "z" }),
          typeError(/Column amount .*undefined/),
        );
        await assert.rejects(
          store.delete(rsItems, { amount: list }),
          typeError(/Column amount .*undefined/),
        );
      }
      assert.equal((await store.find(rsItems, {})).length, 4);
      assert.deepEqual(await store.find(rsItems, { note: "z" }), []);
    });

    test("names of Object.prototype's properties (toString, constructor) are no columns: a TypeError naming them", async (store) => {
      await fourItems(store);
      const noColumn = (name: string) =>
        typeError(new RegExp(`Table rs_items has no column "${name}"`));
      await assert.rejects(
        store.find(rsItems, { toString: 1 } as never),
        noColumn("toString"),
      );
      await assert.rejects(
        store.find(rsItems, { toString: null } as never),
        noColumn("toString"),
      );
      await assert.rejects(
        store.find(rsItems, {}, { orderBy: [["constructor", "asc"]] }),
        noColumn("constructor"),
      );
      await assert.rejects(
        store.update(rsItems, { id: A }, { constructor: 1 } as never),
        noColumn("constructor"),
      );
      await assert.rejects(
        store.update(rsItems, { constructor: null } as never, { note: "z" }),
        noColumn("constructor"),
      );
      await assert.rejects(
        store.upsert(rsItems, { id: A }, { toString: "x" } as never),
        noColumn("toString"),
      );
      await assert.rejects(
        store.delete(rsItems, { hasOwnProperty: null } as never),
        noColumn("hasOwnProperty"),
      );
      await assert.rejects(
        store.insert(rsItems, [
          { id: ids[4]!, name: "e", valueOf: 1 } as never,
        ]),
        noColumn("valueOf"),
      );
      assert.equal((await store.find(rsItems, {})).length, 4);
      assert.deepEqual(await store.find(rsItems, { note: "z" }), []);
    });

    // --- upsert ---------------------------------------------------------------

    test("upsert updates the matching row with the values only", async (store) => {
      await fourItems(store);
      await store.upsert(rsItems, { id: A }, { amount: 30 });
      assert.deepEqual(
        (await store.find(rsItems, { id: A })).map((
          r,
        ) => [r.name, r.amount, r.note]),
        [["apple", 30, "x"]],
      );
      await store.upsert(rsItems, { name: "apple" }, { note: "both" });
      assert.deepEqual(
        sortById(await store.find(rsItems, { note: "both" })).map((r) => r.id),
        [A, D],
        "every matching row",
      );
      assert.equal((await store.find(rsItems, {})).length, 4);
    });

    test("upsert without a matching row inserts one made of the condition and the values, with defaults", async (store) => {
      await store.upsert(rsItems, { id: A }, { name: "new" });
      assert.deepEqual(await store.find(rsItems, {}), [{
        id: A,
        name: "new",
        amount: 0,
        note: null,
        code: null,
        createdAt: null,
      }]);
      await store.upsert(rsPairs, { left: 1, right: "x" }, { label: "l" });
      assert.deepEqual(await store.find(rsPairs, {}), [
        { left: 1, right: "x", label: "l", rank: null },
      ]);
      await store.upsert(rsPairs, { left: 1, right: "x" }, { rank: 5 });
      assert.deepEqual(await store.find(rsPairs, {}), [
        { left: 1, right: "x", label: "l", rank: 5 },
      ]);
    });

    test("upsert that cannot make a whole row updates an existing one, and otherwise names the missing column", async (store) => {
      await fourItems(store);
      await store.upsert(rsItems, { id: B }, { amount: 11 });
      assert.deepEqual(
        (await store.find(rsItems, { id: B })).map((r) => r.amount),
        [11],
      );
      await assert.rejects(
        store.upsert(rsItems, { id: ids[4]! }, { amount: 12 }),
        typeError(/Column name of table rs_items needs a value/),
      );
      assert.equal((await store.find(rsItems, {})).length, 4);
    });

    test("upsert refuses a condition with a list, whether or not a row matches", async (store) => {
      await fourItems(store);
      for (const where of [{ id: [A, B] }, { id: [ids[4]!] }]) {
        await assert.rejects(
          store.upsert(rsItems, where, { name: "x" }),
          typeError(/cannot create a row of rs_items from a list of id values/),
        );
      }
      assert.deepEqual(
        sortById(await store.find(rsItems, {})).map((r) => r.name),
        ["apple", "banana", "cherry", "apple"],
      );
    });

    test("upsert refuses values of the wrong type and a new row clashing with a unique value", async (store) => {
      await fourItems(store);
      await store.update(rsItems, { id: A }, { code: "a" });
      await assert.rejects(
        store.upsert(rsItems, { id: B }, { amount: "1" } as never),
        typeError(/Column amount /),
      );
      await assert.rejects(
        store.upsert(rsItems, { id: ids[4]! }, { name: "e", code: "a" }),
        duplicate("rs_items"),
      );
      await assert.rejects(
        store.upsert(rsItems, { id: B }, { code: "a" }),
        duplicate("rs_items"),
      );
      assert.equal((await store.find(rsItems, {})).length, 4);
      assert.deepEqual(
        (await store.find(rsItems, { id: B })).map((r) => r.code),
        [null],
      );
    });

    test("upsert: a value given as undefined changes nothing, so a new row takes the condition's value and an existing row keeps its own", async (store) => {
      await store.upsert(rsItems, { id: A, name: "from the condition" }, {
        name: undefined,
        amount: 2,
      } as never);
      await store.upsert(rsItems, { id: A }, {
        name: undefined,
        note: "n",
      } as never);
      assert.deepEqual(
        (await store.find(rsItems, { id: A })).map((r) => [
          r.name,
          r.amount,
          r.note,
        ]),
        [["from the condition", 2, "n"]],
      );
    });

    // --- delete ---------------------------------------------------------------

    test("delete removes the matching rows: by value, by list, by null, and all without a condition", async (store) => {
      await fourItems(store);
      await store.delete(rsItems, { name: "apple", amount: 3 });
      assert.deepEqual(
        sortById(await store.find(rsItems, {})).map((r) => r.id),
        [B, C, D],
      );
      await store.delete(rsItems, { id: [B, ids[5]!] });
      await store.delete(rsItems, { name: "durian" });
      await store.delete(rsItems, { id: [] });
      assert.deepEqual(
        sortById(await store.find(rsItems, {})).map((r) => r.id),
        [C, D],
      );
      await store.delete(rsItems, { note: null });
      assert.deepEqual((await store.find(rsItems, {})).map((r) => r.id), [C]);
      assert.deepEqual(await store.find(rsItems, { name: "apple" }), []);
      await store.insert(rsItems, [{ id: A, name: "again" }]);
      await store.delete(rsItems, {});
      assert.deepEqual(await store.find(rsItems, {}), []);
    });

    test("a deleted row's key and unique values can be used again", async (store) => {
      await store.insert(rsItems, [{ id: A, name: "a", code: "k" }]);
      await store.delete(rsItems, { id: A });
      await store.insert(rsItems, [{ id: A, name: "b", code: "k" }]);
      assert.deepEqual(namesOf(await store.find(rsItems, { code: "k" })), [
        "b",
      ]);
    });

    // --- column types ---------------------------------------------------------

    test("every column type round-trips exactly, decimals keeping their scale", async (store) => {
      await store.insert(rsTyped, [{ id: 1, ...SAMPLE }, { id: 2 }]);
      assert.deepEqual(await store.find(rsTyped, { id: 1 }), [{
        id: 1,
        ...SAMPLE,
      }]);
      assert.deepEqual(await store.find(rsTyped, { id: 2 }), [{
        id: 2,
        uuid: null,
        text: null,
        integer: null,
        bigint: null,
        float: null,
        boolean: null,
        decimal: null,
        date: null,
        moment: null,
        json: null,
      }]);
      const [row] = await store.find(rsTyped, { id: 1 });
      assert.equal(
        row!.decimal!.toString(),
        "-12345678901234567890.123456789000",
      );
      assert.ok(row!.date instanceof CalendarDate);
      assert.ok(row!.moment instanceof Date);
      assert.equal(typeof row!.bigint, "bigint");
    });

    test("edge values of each type round-trip", async (store) => {
      const edges: Partial<RowOf<typeof rsTyped>>[] = [
        {
          integer: 2147483647,
          bigint: -9223372036854775808n,
          float: -1e-300,
          text: "",
          decimal: Decimal.from("0.000000000000000000000000000001"),
          date: CalendarDate.parse("0001-01-01"),
          moment: new Date("0001-01-01T00:00:00.000Z"),
          json: [],
        },
        {
          integer: 0,
          bigint: 0n,
          float: 1.7976931348623157e308,
          text: " padded ",
          decimal: Decimal.from("1e30"),
          date: CalendarDate.parse("9999-12-31"),
          moment: new Date("9999-12-31T23:59:59.999Z"),
          json: "just a string",
          boolean: true,
        },
        {
          float: Infinity,
          decimal: Decimal.from("-0.5"),
          moment: new Date("0099-06-15T12:00:00.001Z"),
          json: 12.5,
        },
        {
          float: -Infinity,
          decimal: Decimal.from("7"),
          moment: new Date("1969-12-31T23:59:59.999Z"),
          json: false,
        },
      ];
      await store.insert(rsTyped, edges.map((e, i) => ({ id: i + 1, ...e })));
      const rows = await store.find(rsTyped, {}, { orderBy: [["id", "asc"]] });
      rows.forEach((row, i) => {
        for (const [key, value] of Object.entries(edges[i]!)) {
          assert.deepEqual(
            row[key as keyof typeof row],
            value,
            `row ${i + 1} ${key}`,
          );
        }
      });
    });

    test("a JSON column gives back what JSON text holds (-0 as 0, a __proto__ key as data); a float column gives -0 back as 0", async (store) => {
      const json = JSON.parse(
        '{"a": -0, "b": [-0, 1], "__proto__": {"x": -0}}',
      );
      await store.insert(rsTyped, [
        { id: 1, json, float: -0 },
        { id: 2, json: -0 },
      ]);
      await store.insert(rsTyped, [{ id: 3 }]);
      await store.update(rsTyped, { id: 3 }, { json: [-0] });
      const rows = await store.find(rsTyped, {}, { orderBy: [["id", "asc"]] });
      assert.deepEqual(
        rows.map((r) => r.json),
        [JSON.parse('{"a": 0, "b": [0, 1], "__proto__": {"x": 0}}'), 0, [0]],
      );
      assert.ok(Object.is(rows[0]?.float, 0));
      assert.equal(Object.getPrototypeOf(rows[0]?.json), Object.prototype);
    });

    test("an integer column gives -0 back as 0, however it was written", async (store) => {
      await store.insert(rsTyped, [{ id: 1, integer: -0 }]);
      await store.insert(rsTyped, [{ id: 2 }, { id: 3, integer: -0 }]);
      await store.update(rsTyped, { id: 2 }, { integer: -0 });
      await store.upsert(rsTyped, { id: 4 }, { integer: -0 });
      const rows = await store.find(rsTyped, { integer: 0 }, {
        orderBy: [["id", "asc"]],
      });
      assert.deepEqual(rows.map((r) => r.id), [1, 2, 3, 4]);
      for (const row of rows) assert.ok(Object.is(row.integer, 0), `${row.id}`);
    });

    test("decimals past numeric's limits (16383 digits after the point, 131072 before) are refused with a TypeError naming the column; those at the limits are kept", async (store) => {
      let tiny = Decimal.from("1e-1000");
      for (let i = 0; i < 16; i++) tiny = tiny.times("1e-1000");
      const tooLong = Decimal.from(10n ** 131072n);
      const tooFine = Decimal.from(`0.${"0".repeat(16384)}`);
      for (const decimal of [tiny, tooLong, tooFine, tooLong.negated()]) {
        await assert.rejects(
          store.insert(rsTyped, [{ id: 1, decimal }]),
          typeError(/Column decimal .*numeric/),
        );
        await assert.rejects(
          store.find(rsTyped, { decimal }),
          typeError(/Column decimal /),
        );
      }
      await store.insert(rsTyped, [{ id: 2 }]);
      await assert.rejects(
        store.update(rsTyped, { id: 2 }, { decimal: tiny }),
        typeError(/Column decimal /),
      );
      assert.deepEqual(await store.find(rsTyped, { id: 1 }), []);
      const widest = Decimal.from(
        `-${"9".repeat(131072)}.${"9".repeat(16383)}`,
      );
      await store.update(rsTyped, { id: 2 }, { decimal: widest });
      const [row] = await store.find(rsTyped, { id: 2 });
      assert.equal(row?.decimal?.toString(), widest.toString());
    });

    test("find matches each column type by value: decimals of any scale, instants, dates, JSON of any key order", async (store) => {
      await store.insert(rsTyped, [
        { id: 1, ...SAMPLE },
        { id: 2, decimal: Decimal.from("1.50"), json: [1, 2], bigint: 1n },
      ]);
      const byValue: [WhereOf<typeof rsTyped>, number[]][] = [
        [{ uuid: SAMPLE.uuid }, [1]],
        [{ text: SAMPLE.text }, [1]],
        [{ integer: SAMPLE.integer }, [1]],
        [{ bigint: SAMPLE.bigint }, [1]],
        [{ float: 0.1 + 0.2 }, [1]],
        [{ boolean: false }, [1]],
        [{ decimal: Decimal.from("-12345678901234567890.123456789") }, [1]],
        [{ decimal: Decimal.from("1.5") }, [2]],
        [{ decimal: Decimal.from("1.500") }, [2]],
        [{ date: CalendarDate.parse("2024-02-29") }, [1]],
        [{ moment: new Date(SAMPLE.moment.getTime()) }, [1]],
        [{
          json: {
            number: -1.5e-7,
            unicode: "✓ 𝄞",
            empty: {},
            nested: { list: [1, "two", null, true, { deep: [] }] },
          },
        }, [1]],
        [{ json: [1, 2] }, [2]],
        [{ json: [2, 1] }, []],
        [{ decimal: [Decimal.from("1.5"), Decimal.from("99")] }, [2]],
        [{ bigint: [1n, SAMPLE.bigint] }, [1, 2]],
        [{ boolean: null }, [2]],
      ];
      for (const [where, expected] of byValue) {
        const found =
          (await store.find(rsTyped, where, { orderBy: [["id", "asc"]] })).map((
            r,
          ) => r.id);
        assert.deepEqual(found, expected, Deno.inspect(where));
      }
    });

    test("values a PostgreSQL column cannot hold are refused with a TypeError naming the column", async (store) => {
      const bad: [
        Partial<Record<keyof RowOf<typeof rsTyped>, unknown>>,
        RegExp,
      ][] = [
        [{ bigint: 9223372036854775808n }, /Column bigint /],
        [{ bigint: -9223372036854775809n }, /Column bigint /],
        [{ integer: -2147483649 }, /Column integer /],
        [{ json: deepJson(MAX_NESTING_DEPTH + 1) }, /Column json .* nests/],
        [{ moment: new Date("+010000-01-01T00:00:00Z") }, /Column moment /],
        [{ moment: new Date("-000001-01-01T00:00:00Z") }, /Column moment /],
      ];
      for (const [values, pattern] of bad) {
        await assert.rejects(
          store.insert(rsTyped, [{ id: 1, ...values } as never]),
          typeError(pattern),
          Deno.inspect(values),
        );
      }
      assert.deepEqual(await store.find(rsTyped, {}), []);
    });

    test("text no store can hold (NUL, a lone surrogate) is refused with UnstorableTextError naming the table and column, storing nothing", async (store) => {
      const bad: [Partial<RowOf<typeof rsTyped>>, string, string, string][] = [
        [
          { text: "nul \u0000 inside" },
          "text",
          "",
          "NUL character (U+0000) at index 4",
        ],
        [
          { text: "half \ud83d" },
          "text",
          "",
          "lone surrogate (U+D83D) at index 5",
        ],
        [
          { text: "\ude00 low" },
          "text",
          "",
          "lone surrogate (U+DE00) at index 0",
        ],
        [
          { json: { key: "nul \u0000 inside" } },
          "json",
          "key",
          "NUL character",
        ],
        [
          { json: { list: [1, "x\udc00"] } },
          "json",
          "list.1",
          "lone surrogate (U+DC00) at index 1",
        ],
        [
          { json: { ["nul \u0000 key"]: 1 } },
          "json",
          "",
          'has a key "nul \\u0000 key" that contains a NUL',
        ],
        [{ json: { a: { ["\ud800"]: 1 } } }, "json", "a", "has a key"],
      ];
      const refused =
        (column: string, path: string, problem: string) => (error: unknown) => {
          assert.ok(
            error instanceof UnstorableTextError,
            `expected UnstorableTextError: ${error}`,
          );
          assert.deepEqual(error.location, {
            kind: "record",
            table: "rs_typed",
            column,
            path,
          });
          assert.ok(error.problem.includes(problem), error.problem);
          assert.match(
            error.message,
            /^Column \w+ of table rs_typed cannot be stored: /,
          );
          return true;
        };
      await store.insert(rsTyped, [{
        id: 1,
        text: "kept 😀",
        json: { k: "😀" },
      }]);
      for (const [values, column, path, problem] of bad) {
        const check = refused(column, path, problem);
        const label = Deno.inspect(values);
        await assert.rejects(
          store.insert(rsTyped, [{ id: 2 }, { id: 3, ...values }]),
          check,
          label,
        );
        await assert.rejects(
          store.update(rsTyped, { id: 1 }, values),
          check,
          label,
        );
        await assert.rejects(
          store.upsert(rsTyped, { id: 4 }, values),
          check,
          label,
        );
        await assert.rejects(
          store.upsert(rsTyped, { id: 1 }, values),
          check,
          label,
        );
        await assert.rejects(store.find(rsTyped, values), check, label);
        await assert.rejects(store.delete(rsTyped, values), check, label);
      }
      await assert.rejects(
        store.find(rsItems, { name: ["fine", "a\u0000"] }),
        (error: unknown) =>
          error instanceof UnstorableTextError &&
          error.location.kind === "record" && error.location.column === "name",
      );
      assert.deepEqual(await store.find(rsTyped, {}), [{
        ...NULLS,
        id: 1,
        text: "kept 😀",
        json: { k: "😀" },
      }]);
    });

    // --- SQL ------------------------------------------------------------------

    test(
      "executeSql runs parameterised SQL on SQL stores, and fails clearly elsewhere",
      async (store, fixture) => {
        if (!fixture.sql) {
          await assert.rejects(
            store.executeSql("SELECT 1"),
            (error: unknown) =>
              error instanceof SequentError &&
              /needs a PostgreSQL database.*set DATABASE_URL/.test(
                error.message,
              ),
          );
          assert.equal(store.tableName(rsItems), "rs_items");
          return;
        }
        await fourItems(store);
        assert.equal(store.tableName(rsItems), fixture.itemsTableName);
        const rows = await store.executeSql(
          `SELECT name, sum(amount)::int AS total FROM ${
            store.tableName(rsItems)
          } WHERE amount >= $1 GROUP BY name ORDER BY name`,
          [1],
        );
        assert.deepEqual(rows, [
          { name: "apple", total: 4 },
          { name: "banana", total: 1 },
          { name: "cherry", total: 2 },
        ]);
        await store.executeSql(
          `UPDATE ${store.tableName(rsItems)} SET note = $1 WHERE id = $2`,
          ["by sql", A],
        );
        assert.deepEqual(
          (await store.find(rsItems, { id: A })).map((r) => r.note),
          ["by sql"],
        );
        await assert.rejects(
          store.executeSql("SELECT $1::text", [{ not: "a value" }]),
          /parameter \$1 must be a string, number, bigint, boolean, Date or null/,
        );
      },
    );
  }

  // --- units of work ------------------------------------------------------------

  const unitTest = (
    title: string,
    fn: (f: RecordStoreFixture) => Promise<void>,
  ) =>
    Deno.test({
      name: `${name} (units): ${title}`,
      ...options.testOptions,
      ignore: ignore(title),
      fn: async () => fn(await factory()),
    });

  unitTest(
    "a unit reads its own writes, and they are kept when it ends",
    async (f) => {
      await f.unit(async (s) => {
        await s.insert(rsItems, [{ id: A, name: "draft" }]);
        await s.update(rsItems, { id: A }, { name: "final" });
        await s.upsert(rsItems, { id: B }, { name: "upserted" });
        assert.deepEqual(
          sortById(await s.find(rsItems, {})).map((r) => r.name),
          ["final", "upserted"],
        );
        await s.delete(rsItems, { id: B });
        assert.deepEqual(namesOf(await s.find(rsItems, { name: "final" })), [
          "final",
        ]);
      });
      assert.deepEqual(namesOf(await f.store.find(rsItems, {})), ["final"]);
    },
  );

  unitTest(
    "a unit takes values when each call is made: Dates changed afterwards change nothing stored or matched",
    async (f) => {
      const at = (year: number) => new Date(Date.UTC(year, 0, 1));
      await f.unit(async (s) => {
        const inserted = at(2024);
        await s.insert(rsTyped, [{ id: 1, moment: inserted }]);
        inserted.setUTCFullYear(2000);
        const updated = at(2030);
        await s.update(rsTyped, { id: 1 }, { moment: updated });
        updated.setUTCFullYear(2000);
        const many = [at(2025), at(2026)];
        await s.insert(rsTyped, [{ id: 2, moment: many[0]! }, {
          id: 3,
          moment: many[1]!,
        }]);
        many[0]!.setUTCFullYear(2000);
        const later = at(2031);
        await s.update(rsTyped, { id: 3 }, { moment: later });
        later.setUTCFullYear(2000);
        const condition = at(2025);
        await s.delete(rsTyped, { moment: condition });
        // (were the condition sent as it is now, it would match row 3)
        condition.setUTCFullYear(2031);
      });
      assert.deepEqual(
        (await f.store.find(rsTyped, {}, { orderBy: [["id", "asc"]] })).map((
          r,
        ) => [r.id, r.moment?.toISOString()]),
        [[1, "2030-01-01T00:00:00.000Z"], [3, "2031-01-01T00:00:00.000Z"]],
      );
    },
  );

  unitTest(
    'an update of the row a unit just inserted checks its condition as any update does: "1" is not the integer 1',
    async (f) => {
      await assert.rejects(
        f.unit(async (s) => {
          await s.insert(rsTyped, [{ id: 1 }]);
          await s.update(rsTyped, { id: "1" } as never, { integer: 5 });
        }),
        typeError(/Column id .*"1"/),
      );
      await assert.rejects(
        f.unit(async (s) => {
          await s.insert(rsPairs, [{ left: 1, right: "r", label: "l" }]);
          await s.update(rsPairs, { left: 1, right: 1 } as never, {
            rank: 5,
          });
        }),
        typeError(/Column right /),
      );
      await f.unit(async (s) => {
        await s.insert(rsTyped, [{ id: 1 }]);
        await s.update(rsTyped, { id: 1 }, { integer: 5 });
      });
      assert.deepEqual(
        (await f.store.find(rsTyped, {})).map((r) => [r.id, r.integer]),
        [[1, 5]],
      );
      assert.deepEqual(await f.store.find(rsPairs, {}), []);
    },
  );

  unitTest(
    "a failed unit's inserts, updates, upserts and deletes are all undone",
    async (f) => {
      await f.store.insert(rsItems, [
        { id: A, name: "kept", code: "a" },
        { id: B, name: "doomed" },
      ]);
      const before = sortById(await f.store.find(rsItems, {}));
      assert.equal((await f.store.find(rsItems, { name: "kept" })).length, 1);
      await assert.rejects(
        f.unit(async (s) => {
          await s.insert(rsItems, [{ id: C, name: "new", code: "c" }]);
          await s.update(rsItems, { id: A }, { name: "renamed", code: "z" });
          await s.upsert(rsItems, { id: D }, { name: "upserted" });
          await s.upsert(rsItems, { id: C }, { amount: 5 });
          await s.delete(rsItems, { id: B });
          assert.equal((await s.find(rsItems, {})).length, 3);
          throw new Error("projector failed");
        }),
        /projector failed/,
      );
      assert.deepEqual(sortById(await f.store.find(rsItems, {})), before);
      assert.deepEqual(namesOf(await f.store.find(rsItems, { name: "kept" })), [
        "kept",
      ], "indexes restored");
      assert.deepEqual(await f.store.find(rsItems, { name: "renamed" }), []);
      assert.deepEqual(await f.store.find(rsItems, { code: "z" }), []);
      await f.store.insert(rsItems, [{ id: C, name: "free again", code: "c" }]);
    },
  );

  unitTest(
    "a duplicate written in a unit fails the unit, at that write or its next read, and undoes its earlier writes",
    async (f) => {
      await f.store.insert(rsItems, [{ id: A, name: "taken" }]);
      await assert.rejects(
        f.unit(async (s) => {
          await s.insert(rsItems, [{ id: B, name: "lost" }]);
          await s.insert(rsItems, [{ id: A, name: "again" }]);
          await s.find(rsItems, { id: B });
        }),
        duplicate("rs_items"),
      );
      await assert.rejects(
        f.unit(async (s) => {
          await s.insert(rsItems, [{ id: C, name: "lost too" }]);
          await s.update(rsItems, { id: C }, { id: A });
        }),
        duplicate("rs_items"),
      );
      assert.deepEqual(namesOf(await f.store.find(rsItems, {})), ["taken"]);
    },
  );

  const unknown = [...gaps].filter((title) => !titles.has(title));
  if (unknown.length > 0) {
    throw new TypeError(
      `knownGaps names no test of the contract: ${JSON.stringify(unknown)}`,
    );
  }
}

/** A valid row of {@linkcode rsStrict}. */
export function strictRow(id: string): RowOf<typeof rsStrict> {
  return {
    id,
    someText: "t",
    someInteger: 1,
    someBigint: 1n,
    someFloat: 1.5,
    someBoolean: true,
    someDecimal: Decimal.from("1.5"),
    someDate: CalendarDate.parse("2024-01-01"),
    someDateTime: new Date(0),
    someJson: { a: 1 },
  };
}
