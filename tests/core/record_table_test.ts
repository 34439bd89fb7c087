import assert from "node:assert/strict";
import {
  CalendarDate,
  type ChangesOf,
  Column,
  column,
  Decimal,
  type JsonValue,
  MAX_NESTING_DEPTH,
  type NewRowOf,
  RecordTable,
  type RowOf,
  table,
  UnstorableTextError,
  type WhereOf,
} from "@sequent/core";
import { snakeCase } from "../../src/core/record_table.ts";

const rtPosts = table("rt_posts", {
  aggregateId: column.uuid().primaryKey(),
  authorId: column.uuid(),
  title: column.text().nullable(),
  views: column.integer().default(0),
  rating: column.decimal().nullable(),
  publishedOn: column.date().nullable(),
  updatedAt: column.dateTime(),
  tags: column.json().default([]),
  big: column.bigint().nullable(),
  score: column.float().default(1.5),
  draft: column.boolean().default(true),
}, { indexes: [["authorId"], { columns: ["title", "views"], unique: true }] });

// --- inferred types (checked by `deno check`) ----------------------------------

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;

type PostRow = RowOf<typeof rtPosts>;
const rowTypeIsExact: Equals<PostRow, {
  aggregateId: string;
  authorId: string;
  title: string | null;
  views: number;
  rating: Decimal | null;
  publishedOn: CalendarDate | null;
  updatedAt: Date;
  tags: JsonValue;
  big: bigint | null;
  score: number;
  draft: boolean;
}> = true;

type NewPost = NewRowOf<typeof rtPosts>;
const newRowTypeIsExact: Equals<
  NewPost,
  {
    aggregateId: string;
    authorId: string;
    updatedAt: Date;
  } & {
    title?: string | null | undefined;
    views?: number;
    rating?: Decimal | null | undefined;
    publishedOn?: CalendarDate | null | undefined;
    tags?: JsonValue;
    big?: bigint | null | undefined;
    score?: number;
    draft?: boolean;
  }
> = true;

// what a projector's update helpers take: undefined only where null may go
const changesTypeIsExact: Equals<ChangesOf<typeof rtPosts>, {
  aggregateId?: string;
  authorId?: string;
  title?: string | null | undefined;
  views?: number;
  rating?: Decimal | null | undefined;
  publishedOn?: CalendarDate | null | undefined;
  updatedAt?: Date;
  tags?: JsonValue;
  big?: bigint | null | undefined;
  score?: number;
  draft?: boolean;
}> = true;

Deno.test("the row type has every column, nullable ones with null; inserts may leave out nullable and defaulted columns", () => {
  assert.equal(rowTypeIsExact, true);
  assert.equal(newRowTypeIsExact, true);
  assert.equal(changesTypeIsExact, true);
  const id = crypto.randomUUID();
  const minimal: NewPost = {
    aggregateId: id,
    authorId: id,
    updatedAt: new Date(),
  };
  // @ts-expect-error a required column (no default, not nullable) is missing
  const noAuthor: NewPost = { aggregateId: id, updatedAt: new Date() };
  // @ts-expect-error a defaulted column is optional, not nullable
  const nullViews: NewPost = { ...minimal, views: null };
  // @ts-expect-error a text column holds strings
  const numberTitle: NewPost = { ...minimal, title: 42 };
  // @ts-expect-error an unknown column
  const extra: NewPost = { ...minimal, colour: "red" };
  // @ts-expect-error a decimal column holds Decimals, not numbers
  const numberRating: NewPost = { ...minimal, rating: 4.5 };
  // @ts-expect-error a row read has every column, nullable ones included
  const partialRow: PostRow = { ...minimal };
  const where: WhereOf<typeof rtPosts> = {
    authorId: [id],
    title: null,
    views: 3,
  };
  // @ts-expect-error a condition's values have the column's type
  const badWhere: WhereOf<typeof rtPosts> = { views: "3" };
  // @ts-expect-error a list of the wrong type
  const badList: WhereOf<typeof rtPosts> = { authorId: [1] };
  assert.ok(
    [noAuthor, nullViews, numberTitle, extra, numberRating, partialRow, where]
      .every((v) => typeof v === "object"),
  );
  assert.ok(badWhere && badList);
});

// --- names and DDL ----------------------------------------------------------------

Deno.test("column names are stored in snake_case", () => {
  assert.equal(rtPosts.sqlName("aggregateId"), "aggregate_id");
  assert.equal(rtPosts.sqlName("publishedOn"), "published_on");
  assert.equal(rtPosts.sqlName("big"), "big");
  for (
    const [name, sql] of [
      ["createdAt", "created_at"],
      ["userID", "user_id"],
      ["htmlURLPath", "html_url_path"],
      ["XMLHttpRequest", "xml_http_request"],
      ["line2Total", "line2_total"],
      ["already_snake", "already_snake"],
      ["version2", "version2"],
    ]
  ) {
    assert.equal(snakeCase(name!), sql, name);
  }
  assert.throws(
    () => rtPosts.sqlName("colour"),
    { name: "TypeError", message: 'Table rt_posts has no column "colour"' },
  );
});

Deno.test("a table lists its columns in order, its primary key and its indexes", () => {
  assert.equal(rtPosts.name, "rt_posts");
  assert.deepEqual(rtPosts.columnNames.slice(0, 3), [
    "aggregateId",
    "authorId",
    "title",
  ]);
  assert.deepEqual(rtPosts.primaryKey, ["aggregateId"]);
  assert.deepEqual(rtPosts.indexes, [
    { columns: ["authorId"], unique: false },
    { columns: ["title", "views"], unique: true },
  ]);
  assert.ok(rtPosts instanceof RecordTable);
  assert.ok(rtPosts.columns.title instanceof Column);
});

// --- bad declarations -------------------------------------------------------------

Deno.test("a table name must be lower case letters, digits and _", () => {
  for (const name of ["Posts", "1posts", "post-records", "", "posts;drop"]) {
    assert.throws(
      () => table(name, { id: column.integer().primaryKey() }),
      { name: "TypeError", message: /Invalid table name/ },
      name,
    );
  }
  assert.throws(
    () => table(42 as unknown as string, { id: column.integer().primaryKey() }),
    TypeError,
  );
});

Deno.test("a table name is at most 51 characters: a view schema version's _v2147483647 must still fit PostgreSQL's 63 bytes", () => {
  const longest = "t".repeat(51);
  assert.equal(
    table(longest, { id: column.integer().primaryKey() }).name,
    longest,
  );
  // (PostgreSQL would cut "<name>_v1" back to "<name>": the live table)
  for (const name of ["t".repeat(52), "t".repeat(63)]) {
    assert.throws(
      () => table(name, { id: column.integer().primaryKey() }),
      {
        name: "TypeError",
        message: new RegExp(
          `^Table name "${name}" is ${name.length} characters long: at most 51, .*63 bytes.*"_v<version>"`,
        ),
      },
    );
  }
});

Deno.test("column names must be identifiers, declared with column.*()", () => {
  for (const name of ["bad-name", "1st", "with space", ""]) {
    assert.throws(
      () =>
        table("rt_bad", {
          id: column.integer().primaryKey(),
          [name]: column.text(),
        }),
      { name: "TypeError", message: /Invalid column name .* in table rt_bad/ },
      name,
    );
  }
  assert.throws(
    () =>
      table("rt_bad", {
        id: column.integer().primaryKey(),
        title: "text" as unknown as Column<string>,
      }),
    {
      message: "Column title of table rt_bad must be declared with column.*()",
    },
  );
  assert.throws(() => table("rt_bad", {}), {
    message: "Table rt_bad needs at least one column",
  });
});

Deno.test("a table needs a primary key of known, non-null columns", () => {
  assert.throws(() => table("rt_bad", { id: column.integer() }), {
    name: "TypeError",
    message: /Table rt_bad needs a primary key/,
  });
  assert.throws(
    () => table("rt_bad", { id: column.integer() }, { primaryKey: [] }),
    /needs a primary key/,
  );
  assert.throws(
    () =>
      table("rt_bad", { id: column.integer() }, {
        primaryKey: ["nope" as "id"],
      }),
    { message: 'The primary key of table rt_bad names unknown column "nope"' },
  );
  assert.throws(
    () =>
      table("rt_bad", { id: column.integer(), n: column.text().nullable() }, {
        primaryKey: ["id", "n"],
      }),
    { message: "Primary key column n of table rt_bad cannot be nullable" },
  );
  assert.throws(() => column.integer().nullable().primaryKey(), {
    name: "TypeError",
    message: "A nullable column cannot be a primary key",
  });
  assert.throws(() => column.integer().primaryKey().nullable(), {
    name: "TypeError",
    message: "A primary key column cannot be nullable",
  });
});

Deno.test("indexes must name known columns, at least one", () => {
  assert.throws(
    () =>
      table("rt_bad", { id: column.integer().primaryKey() }, {
        indexes: [["nope" as "id"]],
      }),
    { message: 'An index of table rt_bad names unknown column "nope"' },
  );
  assert.throws(
    () =>
      table("rt_bad", { id: column.integer().primaryKey() }, {
        indexes: [{ columns: [] }],
      }),
    { message: "An index of table rt_bad has no columns" },
  );
});

Deno.test("two columns whose snake_case names clash are refused", () => {
  assert.throws(
    () =>
      table("rt_bad", {
        id: column.integer().primaryKey(),
        userId: column.text(),
        user_id: column.text(),
      }),
    {
      name: "TypeError",
      message: 'Columns of table rt_bad clash as "user_id"',
    },
  );
});

// --- columns ----------------------------------------------------------------------

Deno.test("modifiers return new columns and leave the original as it was", () => {
  const base = column.text();
  const nullable = base.nullable();
  const unique = base.unique();
  const keyed = base.primaryKey();
  const defaulted = base.default("x");
  assert.deepEqual(
    [base.isNullable, base.isUnique, base.isPrimaryKey, base.isOptional],
    [false, false, false, false],
  );
  assert.deepEqual([nullable.isNullable, nullable.isOptional], [true, true]);
  assert.equal(unique.isUnique, true);
  assert.equal(keyed.isPrimaryKey, true);
  assert.deepEqual([defaulted.defaultValue, defaulted.isOptional], ["x", true]);
  assert.equal(defaulted.nullable().defaultValue, "x");
});

Deno.test("a default must be a valid value of the column", () => {
  assert.throws(() => column.integer().default(1.5), {
    name: "TypeError",
    message: "Default 1.5 is not a valid integer",
  });
  assert.throws(
    () => column.uuid().default("nope"),
    /Default nope is not a valid uuid/,
  );
  assert.equal(
    column.json().default({ a: [1] }).defaultValue?.toString(),
    "[object Object]",
  );
});

Deno.test("accepts() takes the kind's values only, and null only when nullable", () => {
  const cases: [Column<unknown, boolean, boolean>, unknown[], unknown[]][] = [
    [column.uuid(), ["0f8fad5b-d9cb-469f-a165-70867728950e"], [
      "0F8FAD5B-D9CB-469F-A165-70867728950E",
      "nope",
      1,
    ]],
    [column.text(), ["", "ok", "😀"], [
      1,
      "nul\0",
      "half \ud83d",
      "\ude00",
      undefined,
    ]],
    [column.integer(), [0, -2147483648, 2147483647], [
      2147483648,
      -2147483649,
      1.5,
      1n,
      "1",
    ]],
    [column.bigint(), [0n, 2n ** 63n - 1n, -(2n ** 63n)], [
      2n ** 63n,
      1,
    ]],
    [column.float(), [1.5, Infinity, -0], [NaN, "1"]],
    [column.boolean(), [true, false], [0, "true"]],
    [column.decimal(), [Decimal.from("1.50")], [1.5, "1.5"]],
    [column.date(), [CalendarDate.parse("2024-01-01")], [
      new Date(),
      "2024-01-01",
    ]],
    [column.dateTime(), [
      new Date(),
      new Date("0001-01-01T00:00:00Z"),
      new Date("9999-12-31T23:59:59.999Z"),
    ], [
      new Date(NaN),
      new Date("+010000-01-01T00:00:00Z"),
      "2024-01-01T00:00:00Z",
      Date.now(),
    ]],
    [column.json(), [1, "s", true, [1, { a: null }], {}], [
      null,
      undefined,
      NaN,
      new Date(),
      { a: undefined },
      { "k\0": 1 },
      ["\0"],
      { a: ["\udc00"] },
      { "\ud800": 1 },
    ]],
  ];
  for (const [col, good, bad] of cases) {
    for (const v of good) assert.ok(col.accepts(v), `${col.kind} ${String(v)}`);
    for (const v of bad) {
      assert.ok(!col.accepts(v), `${col.kind} refuses ${String(v)}`);
    }
    assert.equal(col.accepts(null), false);
    assert.equal(col.nullable().accepts(null), true);
  }
});

Deno.test("equals() compares values of a kind: decimals by value, instants by time, JSON deeply", () => {
  assert.ok(column.decimal().equals(Decimal.from("1.5"), Decimal.from("1.50")));
  assert.ok(!column.decimal().equals(Decimal.from("1.5"), Decimal.from("1.6")));
  assert.ok(
    column.date().equals(
      CalendarDate.parse("2024-01-01"),
      CalendarDate.of(2024, 1, 1),
    ),
  );
  assert.ok(column.dateTime().equals(new Date(5), new Date(5)));
  assert.ok(!column.dateTime().equals(new Date(5), new Date(6)));
  assert.ok(column.json().equals({ a: 1, b: [2] }, { b: [2], a: 1 }));
  assert.ok(!column.json().equals({ a: 1 }, { a: 2 }));
  assert.ok(column.text().equals("a", "a"));
  assert.ok(!column.text().equals("a", null));
  assert.ok(!column.text().nullable().equals(null, undefined));
});

Deno.test("completeRow() fills in defaults and nulls, and names the column of a missing, unknown or bad value", () => {
  const id = crypto.randomUUID();
  const when = new Date();
  assert.deepEqual(
    rtPosts.completeRow({ aggregateId: id, authorId: id, updatedAt: when }),
    {
      aggregateId: id,
      authorId: id,
      title: null,
      views: 0,
      rating: null,
      publishedOn: null,
      updatedAt: when,
      tags: [],
      big: null,
      score: 1.5,
      draft: true,
    },
  );
  assert.throws(
    () => rtPosts.completeRow({ aggregateId: id, updatedAt: when }),
    {
      name: "TypeError",
      message: "Column authorId of table rt_posts needs a value",
    },
  );
  assert.throws(
    () =>
      rtPosts.completeRow({
        aggregateId: id,
        authorId: id,
        updatedAt: when,
        x: 1,
      }),
    { message: 'Table rt_posts has no column "x"' },
  );
  assert.throws(
    () =>
      rtPosts.completeRow({
        aggregateId: id,
        authorId: id,
        updatedAt: when,
        views: "many",
      }),
    {
      message:
        'Column views of table rt_posts cannot hold "many": it is a non-null integer',
    },
  );
  assert.throws(() => rtPosts.checkValue("title", 3), {
    message:
      "Column title of table rt_posts cannot hold 3: it is a nullable text",
  });
  assert.throws(() => rtPosts.checkValue("rating", 1.5), {
    message: /cannot hold 1\.5: it is a nullable decimal/,
  });
  assert.throws(() => rtPosts.checkValue("updatedAt", new Map()), {
    message: /cannot hold Map: it is a non-null dateTime/,
  });
  assert.throws(() => rtPosts.checkValue("views", "x".repeat(100)), {
    message: /cannot hold "x{40}…"/,
  });
});

Deno.test("checkValue() refuses unstorable text in a text or JSON column with UnstorableTextError naming the table, column and JSON path", () => {
  const cases: [string, unknown, string, string][] = [
    ["title", "a\0", "", "contains a NUL character (U+0000) at index 1"],
    ["title", "\ud800", "", "contains a lone surrogate (U+D800) at index 0"],
    ["tags", ["ok", "x\udc00"], "1", "contains a lone surrogate (U+DC00)"],
    ["tags", { nested: { "k\0": 1 } }, "nested", 'has a key "k\\u0000"'],
  ];
  for (const [column, value, path, problem] of cases) {
    assert.throws(
      () => rtPosts.checkValue(column, value),
      (error: unknown) => {
        assert.ok(error instanceof UnstorableTextError, String(error));
        assert.deepEqual(error.location, {
          kind: "record",
          table: "rt_posts",
          column,
          path,
        });
        assert.ok(error.problem.startsWith(problem), error.problem);
        return true;
      },
    );
  }
  let deep: unknown = 1;
  for (let i = 0; i <= MAX_NESTING_DEPTH; i++) deep = [deep];
  assert.throws(() => rtPosts.checkValue("tags", deep), {
    name: "TypeError",
    message:
      "Column tags of table rt_posts cannot hold JSON that nests more than 100 levels deep",
  });
});

Deno.test("a column whose name or SQL name is longer than PostgreSQL's 63 bytes is refused, naming it", () => {
  // 62 characters, 68 in snake_case
  const long = "customerPreferredNotificationChannelForSubscriptionRenewalRem";
  assert.throws(
    () =>
      table("rt_long", {
        id: column.integer().primaryKey(),
        [long]: column.text(),
      }),
    {
      name: "TypeError",
      message:
        `Column name "${long}" of table rt_long is too long: its SQL name "customer_preferred_notification_channel_for_subscription_renewal_rem" has 68 characters, and PostgreSQL keeps at most 63 of a name`,
    },
  );
  const snake = "a".repeat(64);
  assert.throws(
    () =>
      table("rt_long", {
        id: column.integer().primaryKey(),
        [snake]: column.text(),
      }),
    {
      name: "TypeError",
      message: new RegExp(
        `Column name "${snake}" of table rt_long is too long: it has 64 characters`,
      ),
    },
  );
  // two names alike in their first 63 bytes, each refused on its own
  assert.throws(
    () =>
      table("rt_long", {
        id: column.integer().primaryKey(),
        aVeryLongColumnNameThatIsDefinitelyLongerThanSixtyThreeCharactersOne:
          column.text(),
        aVeryLongColumnNameThatIsDefinitelyLongerThanSixtyThreeCharactersTwo:
          column.text(),
      }),
    {
      name: "TypeError",
      message: /CharactersOne" of table rt_long is too long/,
    },
  );
  // 63 is kept
  const longest = table("rt_long", {
    id: column.integer().primaryKey(),
    ["a".repeat(63)]: column.text(),
  });
  assert.equal(longest.sqlName("a".repeat(63)), "a".repeat(63));
});

Deno.test("decimals past PostgreSQL's numeric (16383 digits after the point, 131072 before) are refused, naming the column and the digits", () => {
  const decimal = column.decimal();
  const atLimits = [
    Decimal.from(`0.${"0".repeat(16382)}1`),
    Decimal.from(10n ** 131071n),
    Decimal.from(`-${"9".repeat(131072)}.${"9".repeat(16383)}`),
    Decimal.from(`0.${"0".repeat(16383)}`),
  ];
  for (const d of atLimits) assert.ok(decimal.accepts(d), `${d.scale}`);
  const past = [
    Decimal.from(`0.${"0".repeat(16383)}1`),
    Decimal.from(`1.${"0".repeat(16384)}`),
    Decimal.from(10n ** 131072n),
    Decimal.from(-(10n ** 131072n)),
  ];
  for (const d of past) assert.ok(!decimal.accepts(d), `${d.scale}`);
  const t = table("rt_decimals", {
    id: column.integer().primaryKey(),
    amount: decimal,
  });
  assert.throws(() => t.checkValue("amount", past[0]), {
    name: "TypeError",
    message:
      "Column amount of table rt_decimals cannot hold a decimal with 16384 digits after the point: PostgreSQL's numeric holds at most 16383 digits after the point and 131072 before it",
  });
  assert.throws(() => t.checkValue("amount", past[2]), {
    name: "TypeError",
    message: /cannot hold a decimal with 131073 digits before the point/,
  });
  assert.throws(() => column.decimal().default(past[3]!), {
    name: "TypeError",
    message: /is not a valid decimal/,
  });
});

Deno.test("checkValue() knows a table's own columns only: toString and constructor are none", () => {
  const t = table("rt_own", { id: column.integer().primaryKey() });
  for (
    const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]
  ) {
    assert.throws(() => t.checkValue(name, 1), {
      name: "TypeError",
      message: `Table rt_own has no column "${name}"`,
    });
  }
});
