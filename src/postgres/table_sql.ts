/**
 * The SQL of read-model tables on PostgreSQL: column types, quoted and
 * qualified names, `CREATE TABLE` and `CREATE INDEX`. The core declares
 * tables; this adapter says what they are in PostgreSQL.
 *
 * @module
 */
import type { Column, ColumnKind, RecordTable } from "../core/record_table.ts";

const SQL_TYPES: Record<ColumnKind, string> = {
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
};

/**
 * A column's PostgreSQL type.
 *
 * @param column The column.
 * @returns Its type, e.g. `timestamptz`.
 *
 * @example
 * ```ts
 * import { column } from "@sequent/core";
 * import { sqlTypeOf } from "@sequent/core/postgres";
 *
 * console.assert(sqlTypeOf(column.dateTime()) === "timestamptz");
 * ```
 */
export function sqlTypeOf(column: Column<unknown, boolean, boolean>): string {
  return SQL_TYPES[column.kind];
}

/**
 * Quotes an SQL identifier.
 *
 * @param name The identifier.
 * @returns It in double quotes, inner quotes doubled.
 *
 * @example
 * ```ts
 * import { quoteIdent } from "@sequent/core/postgres";
 *
 * console.assert(quoteIdent('a"b') === '"a""b"');
 * ```
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A table's qualified, quoted SQL name.
 *
 * @param table The table.
 * @param schema The schema.
 * @param suffix A version suffix, e.g. `_2`.
 * @returns `"schema"."name_suffix"`.
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 * import { qualifiedTableName } from "@sequent/core/postgres";
 *
 * const posts = table("posts", { id: column.uuid().primaryKey() });
 * console.assert(qualifiedTableName(posts, "view_schema") === '"view_schema"."posts"');
 * ```
 */
export function qualifiedTableName(
  table: RecordTable,
  schema: string,
  suffix = "",
): string {
  return `${quoteIdent(schema)}.${quoteIdent(table.name + suffix)}`;
}

/**
 * `CREATE TABLE` for a table.
 *
 * @param table The table.
 * @param schema The schema.
 * @param suffix A version suffix, e.g. `_2`.
 * @returns The statement.
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 * import { createTableSql } from "@sequent/core/postgres";
 *
 * const posts = table("posts", { id: column.uuid().primaryKey() });
 * console.assert(createTableSql(posts, "v").startsWith('CREATE TABLE "v"."posts"'));
 * ```
 */
export function createTableSql(
  table: RecordTable,
  schema: string,
  suffix = "",
): string {
  const columns = table.columnNames.map((key) => {
    const col = table.columns[key] as Column<unknown, boolean, boolean>;
    return `  ${quoteIdent(table.sqlName(key))} ${sqlTypeOf(col)}${
      col.isNullable ? "" : " NOT NULL"
    }`;
  });
  const pk = table.primaryKey.map((k) => quoteIdent(table.sqlName(k))).join(
    ", ",
  );
  return `CREATE TABLE ${qualifiedTableName(table, schema, suffix)} (\n${
    columns.join(",\n")
  },\n  PRIMARY KEY (${pk})\n)`;
}

/**
 * `CREATE INDEX` statements for a table's indexes.
 *
 * @param table The table.
 * @param schema The schema.
 * @param suffix A version suffix, e.g. `_2`.
 * @returns One statement per index.
 *
 * @example
 * ```ts
 * import { column, table } from "@sequent/core";
 * import { createIndexesSql } from "@sequent/core/postgres";
 *
 * const posts = table("posts", { id: column.uuid().primaryKey(), slug: column.text().unique() });
 * console.assert(createIndexesSql(posts, "v").length === 1);
 * ```
 */
export function createIndexesSql(
  table: RecordTable,
  schema: string,
  suffix = "",
): string[] {
  return table.indexes.map((index) => {
    const columns = index.columns.map((c) => table.sqlName(c));
    const indexName = `${table.name}${suffix}_${columns.join("_")}_${
      index.unique ? "key" : "idx"
    }`
      .slice(0, 63);
    return `CREATE ${index.unique ? "UNIQUE " : ""}INDEX ${
      quoteIdent(indexName)
    } ON ${qualifiedTableName(table, schema, suffix)} (${
      columns.map(quoteIdent).join(", ")
    })`;
  });
}
