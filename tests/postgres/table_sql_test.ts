/**
 * The PostgreSQL DDL of read-model tables (`src/postgres/table_sql.ts`):
 * column types, quoted names, CREATE TABLE and CREATE INDEX.
 */
import assert from "node:assert/strict";
import { column, table } from "@sequent/core";
import {
  createIndexesSql,
  createTableSql,
  qualifiedTableName,
  quoteIdent,
  sqlTypeOf,
} from "@sequent/core/postgres";

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

Deno.test("createTableSql() gives each column its PostgreSQL type, NOT NULL unless nullable, and the primary key", () => {
  assert.equal(
    createTableSql(rtPosts, "view_schema"),
    `CREATE TABLE "view_schema"."rt_posts" (
  "aggregate_id" uuid NOT NULL,
  "author_id" uuid NOT NULL,
  "title" text,
  "views" integer NOT NULL,
  "rating" numeric,
  "published_on" date,
  "updated_at" timestamptz NOT NULL,
  "tags" jsonb NOT NULL,
  "big" bigint,
  "score" double precision NOT NULL,
  "draft" boolean NOT NULL,
  PRIMARY KEY ("aggregate_id")
)`,
  );
  assert.match(
    createTableSql(rtPosts, "v", "_3"),
    /^CREATE TABLE "v"\."rt_posts_3" \(/,
  );
});

Deno.test("a composite primary key and indexes, unique ones included, make their DDL", () => {
  const lines = table("rt_lines", {
    orderId: column.uuid(),
    lineNo: column.integer(),
    sku: column.text().unique(),
    note: column.text().nullable(),
  }, {
    primaryKey: ["orderId", "lineNo"],
    indexes: [["note"], { columns: ["sku", "note"] }, {
      columns: ["note", "lineNo"],
      unique: true,
    }],
  });
  assert.deepEqual(lines.primaryKey, ["orderId", "lineNo"]);
  assert.match(
    createTableSql(lines, "s"),
    /"sku" text NOT NULL,\n {2}"note" text,\n {2}PRIMARY KEY \("order_id", "line_no"\)\n\)$/,
  );
  // (the names are pinned: an index keeps its name from version to version)
  assert.deepEqual(createIndexesSql(lines, "s"), [
    `CREATE UNIQUE INDEX "rt_lines_sku_key_0mqweuw9uty0g" ON "s"."rt_lines" ("sku")`,
    `CREATE INDEX "rt_lines_note_idx_336tv4shrquuq" ON "s"."rt_lines" ("note")`,
    `CREATE INDEX "rt_lines_sku_note_idx_0ze6vd768t7mj" ON "s"."rt_lines" ("sku", "note")`,
    `CREATE UNIQUE INDEX "rt_lines_note_line_no_key_2jmt405hhl9oj" ON "s"."rt_lines" ("note", "line_no")`,
  ]);
  assert.deepEqual(createIndexesSql(lines, "s", "_2"), [
    `CREATE UNIQUE INDEX "rt_lines_2_sku_key_2fitpuz5c8iaf" ON "s"."rt_lines_2" ("sku")`,
    `CREATE INDEX "rt_lines_2_note_idx_0gdzzqdmeb0h1" ON "s"."rt_lines_2" ("note")`,
    `CREATE INDEX "rt_lines_2_sku_note_idx_3ihwo9j7hnpq8" ON "s"."rt_lines_2" ("sku", "note")`,
    `CREATE UNIQUE INDEX "rt_lines_2_note_line_no_key_3vwt0lapngwvq" ON "s"."rt_lines_2" ("note", "line_no")`,
  ]);
});

/** The index names of the statements, in order. */
function indexNames(statements: readonly string[]): string[] {
  return statements.map((sql) => /INDEX "([^"]+)"/.exec(sql)?.[1] ?? "");
}

Deno.test("index names are cut to PostgreSQL's 63 characters, keeping the start of the table's name", () => {
  // (the longest table name a view schema version still keeps whole)
  const long = table("rt_" + "x".repeat(48), {
    id: column.integer().primaryKey(),
    aVeryLongColumnName: column.text(),
  }, { indexes: [["aVeryLongColumnName"]] });
  const [name] = indexNames(createIndexesSql(long, "s"));
  assert.equal(name?.length, 63);
  assert.ok(name?.startsWith("rt_xxx"));
  assert.match(name!, /_[0-9a-z]{13}$/);
  const [versioned] = indexNames(createIndexesSql(long, "s", "_v2147483647"));
  assert.equal(versioned?.length, 63);
  assert.notEqual(versioned, name);
});

Deno.test("index names never clash: not where table and column names run together, nor where 63 characters cut them alike", () => {
  // "account" on holder_name and "account_holder" on name
  const account = table("rt_account", {
    id: column.uuid().primaryKey(),
    holderName: column.text(),
  }, { indexes: [["holderName"]] });
  const holder = table("rt_account_holder", {
    id: column.uuid().primaryKey(),
    name: column.text(),
  }, { indexes: [["name"]] });
  // two indexes alike in their first 63 characters
  const cycles = table("subscription_billing_cycle_records", {
    id: column.uuid().primaryKey(),
    customerAccountId: column.uuid(),
    billingPeriodStart: column.date(),
    billingPeriodEnd: column.date(),
  }, {
    indexes: [
      ["customerAccountId", "billingPeriodStart"],
      ["customerAccountId", "billingPeriodEnd"],
    ],
  });
  // one column "a_b" and two columns "a", "b"; unique or not
  const parts = table("rt_parts", {
    id: column.integer().primaryKey(),
    aB: column.text(),
    a: column.text(),
    b: column.text(),
  }, {
    indexes: [["aB"], ["a", "b"], { columns: ["a", "b"], unique: true }],
  });
  const names = [
    ...indexNames(createIndexesSql(account, "s")),
    ...indexNames(createIndexesSql(holder, "s")),
    ...indexNames(createIndexesSql(cycles, "s")),
    ...indexNames(createIndexesSql(parts, "s")),
  ];
  assert.equal(names.length, 7);
  assert.equal(new Set(names).size, names.length, names.join("\n"));
  for (const name of names) assert.ok(name.length <= 63, name);
  // and the same every time
  assert.deepEqual(indexNames(createIndexesSql(cycles, "s")), [
    names[2],
    names[3],
  ]);
});

Deno.test("names are quoted as SQL identifiers", () => {
  assert.equal(quoteIdent('we"ird'), '"we""ird"');
  assert.equal(
    qualifiedTableName(rtPosts, "my schema"),
    '"my schema"."rt_posts"',
  );
  const keywords = table("rt_order", {
    select: column.integer().primaryKey(),
    from: column.text(),
  });
  assert.match(createTableSql(keywords, "s"), /"select" integer NOT NULL/);
});

Deno.test("each column kind has its PostgreSQL type", () => {
  const types = Object.fromEntries(
    (Object.keys(column) as (keyof typeof column)[]).map((k) => [
      k,
      sqlTypeOf(column[k]()),
    ]),
  );
  assert.deepEqual(types, {
    uuid: "uuid",
    text: "text",
    integer: "integer",
    bigint: "bigint",
    float: "double precision",
    boolean: "boolean",
    decimal: "numeric",
    date: "date",
    dateTime: "timestamptz",
    json: "jsonb",
  });
});
