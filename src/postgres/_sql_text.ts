/**
 * Private helpers for the few places SQL text is built from names: quoting
 * identifiers, checking schema names, and the COPY text format.
 *
 * @module
 */
import type { SqlValue } from "./sql_client.ts";

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * Checks a schema name (the only identifier ever interpolated into the
 * framework's SQL) and returns it quoted.
 */
export function quotedSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema) || schema.length > 63) {
    throw new TypeError(
      `Schema name "${schema}" is not valid: use at most 63 lowercase letters, digits and underscores, not starting with a digit`,
    );
  }
  return `"${schema}"`;
}

/** Quotes one identifier. */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes("\0")) {
    throw new TypeError(`Identifier "${name}" is not valid`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a possibly qualified name (`schema.table`), part by part. */
export function quoteQualifiedName(name: string): string {
  return name.split(".").map(quoteIdentifier).join(".");
}

/** The `COPY … FROM` statement for a table and columns (text format). */
export function copyStatement(
  table: string,
  columns: readonly string[],
  source: string,
): string {
  if (columns.length === 0) {
    throw new TypeError(`Copy into "${table}" needs at least one column`);
  }
  return `COPY ${quoteQualifiedName(table)} (${
    columns.map(quoteIdentifier).join(", ")
  }) FROM ${source}`;
}

function copyField(value: SqlValue): string {
  if (value === null) return "\\N";
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value !== "string") return String(value);
  return value.replace(
    /[\\\n\r\t]/g,
    (c) =>
      c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t",
  );
}

/** One row in COPY's text format, with its line end. */
export function copyLine(row: readonly SqlValue[], width: number): string {
  if (row.length !== width) {
    throw new TypeError(
      `Copy row has ${row.length} values for ${width} columns`,
    );
  }
  return row.map(copyField).join("\t") + "\n";
}

/**
 * Encodes rows as COPY text in chunks of about `chunkSize` characters,
 * counting them in `counter.rows`.
 */
export async function* copyChunks(
  rows: Iterable<readonly SqlValue[]> | AsyncIterable<readonly SqlValue[]>,
  width: number,
  counter: { rows: number },
  chunkSize = 65536,
): AsyncGenerator<string> {
  let chunk = "";
  for await (const row of rows) {
    chunk += copyLine(row, width);
    counter.rows++;
    if (chunk.length >= chunkSize) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk.length > 0) yield chunk;
}
