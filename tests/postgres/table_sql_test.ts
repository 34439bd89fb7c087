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
  assert.deepEqual(createIndexesSql(lines, "s"), [
    `CREATE UNIQUE INDEX "rt_lines_sku_key" ON "s"."rt_lines" ("sku")`,
    `CREATE INDEX "rt_lines_note_idx" ON "s"."rt_lines" ("note")`,
    `CREATE INDEX "rt_lines_sku_note_idx" ON "s"."rt_lines" ("sku", "note")`,
    `CREATE UNIQUE INDEX "rt_lines_note_line_no_key" ON "s"."rt_lines" ("note", "line_no")`,
  ]);
  assert.deepEqual(createIndexesSql(lines, "s", "_2"), [
    `CREATE UNIQUE INDEX "rt_lines_2_sku_key" ON "s"."rt_lines_2" ("sku")`,
    `CREATE INDEX "rt_lines_2_note_idx" ON "s"."rt_lines_2" ("note")`,
    `CREATE INDEX "rt_lines_2_sku_note_idx" ON "s"."rt_lines_2" ("sku", "note")`,
    `CREATE UNIQUE INDEX "rt_lines_2_note_line_no_key" ON "s"."rt_lines_2" ("note", "line_no")`,
  ]);
});

Deno.test("index names are cut to PostgreSQL's 63 characters", () => {
  // (the longest table name a view schema version still keeps whole)
  const long = table("rt_" + "x".repeat(48), {
    id: column.integer().primaryKey(),
    aVeryLongColumnName: column.text(),
  }, { indexes: [["aVeryLongColumnName"]] });
  const [sql] = createIndexesSql(long, "s");
  const name = /INDEX "([^"]+)"/.exec(sql!)?.[1];
  assert.equal(name?.length, 63);
  assert.ok(name?.startsWith("rt_xxx"));
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
