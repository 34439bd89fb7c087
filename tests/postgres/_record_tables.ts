/**
 * SQL for the record-store contract's tables in a test schema: the record
 * stores' test files create them once and empty them before each test.
 */
import type { RecordTable } from "@sequent/core";
import {
  createIndexesSql,
  createTableSql,
  qualifiedTableName,
} from "@sequent/core/postgres";

/** The tables with their indexes, in `schema`, as one script. */
export function ddl(
  tables: readonly RecordTable[],
  schema: string,
  suffix = "",
): string {
  return tables.flatMap((t) => [
    createTableSql(t, schema, suffix),
    ...createIndexesSql(t, schema, suffix),
  ]).join(";\n");
}

/** One statement emptying the tables in `schema`. */
export function truncateSql(
  tables: readonly RecordTable[],
  schema: string,
): string {
  return `TRUNCATE ${
    tables.map((t) => qualifiedTableName(t, schema)).join(", ")
  }`;
}
