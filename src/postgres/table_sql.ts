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
 * Each index is named after its table (with the suffix), its columns and
 * whether it is unique, then a hash of those three: names run together
 * (`account` on `holder_name` and `account_holder` on `name`), and a
 * name is cut to PostgreSQL's 63 bytes, but the hash tells every index
 * apart. Names are the same on every database and every run.
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
 * const [sql] = createIndexesSql(posts, "v");
 * console.assert(/^CREATE UNIQUE INDEX "posts_slug_key_[0-9a-z]{13}" ON "v"."posts" \("slug"\)$/.test(sql!));
 * ```
 */
export function createIndexesSql(
  table: RecordTable,
  schema: string,
  suffix = "",
): string[] {
  return table.indexes.map((index) => {
    const columns = index.columns.map((c) => table.sqlName(c));
    return `CREATE ${index.unique ? "UNIQUE " : ""}INDEX ${
      quoteIdent(indexName(table.name + suffix, columns, index.unique))
    } ON ${qualifiedTableName(table, schema, suffix)} (${
      columns.map(quoteIdent).join(", ")
    })`;
  });
}

/** The longest identifier PostgreSQL keeps (in bytes). */
const MAX_NAME_LENGTH = 63;

/**
 * An index's name: readable (table, columns, `key` or `idx`), cut so that
 * `_` and a 13-character hash of what the index is follow it within 63
 * bytes. The readable part may be the same for two indexes; the hash is
 * not, as it hashes the table and columns as separate strings.
 */
function indexName(
  tableName: string,
  columns: readonly string[],
  unique: boolean,
): string {
  const readable = `${tableName}_${columns.join("_")}_${
    unique ? "key" : "idx"
  }`;
  const hash = fnv1a64(JSON.stringify([tableName, columns, unique]))
    .toString(36).padStart(13, "0");
  // (table and column names are ASCII: lengths are bytes; a suffix may not
  // be, so the name is cut by its UTF-8 bytes)
  return `${cutToBytes(readable, MAX_NAME_LENGTH - hash.length - 1)}_${hash}`;
}

/** `text` cut to at most `bytes` bytes of UTF-8, whole characters only. */
function cutToBytes(text: string, bytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= bytes) return text;
  let out = "";
  let used = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = (1n << 64n) - 1n;

/** The 64-bit FNV-1a hash of a string's UTF-8 bytes. */
function fnv1a64(text: string): bigint {
  let hash = FNV_OFFSET;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK_64;
  }
  return hash;
}
