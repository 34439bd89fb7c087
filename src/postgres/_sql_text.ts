/**
 * Private helpers for the few places SQL text is built from names: quoting
 * identifiers, checking schema names, and the COPY text format.
 *
 * @module
 */
import { copyTextField } from "./_copy_text.ts";
import type { SqlStatement, SqlValue } from "./sql_client.ts";

/**
 * On a queued one-row INSERT of a read-model row: its text with the
 * placeholders numbered from `offset + 1`, so that it can travel as a
 * data-modifying `WITH` item of the unit of work's commit statement.
 */
export const asWithItem: unique symbol = Symbol("asWithItem");

/** A statement that can join another as a `WITH` item. */
export interface JoinableStatement extends SqlStatement {
  readonly [asWithItem]: (offset: number) => string;
}

/** Whether a statement can join another as a `WITH` item. */
export function isJoinable(
  statement: SqlStatement,
): statement is JoinableStatement {
  return asWithItem in statement;
}

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

/** One row in COPY's text format, with its line end. */
export function copyLine(row: readonly SqlValue[], width: number): string {
  if (row.length !== width) {
    throw new TypeError(
      `Copy row has ${row.length} values for ${width} columns`,
    );
  }
  let line = copyTextField(row[0] as SqlValue);
  for (let i = 1; i < width; i++) {
    line += "\t" + copyTextField(row[i] as SqlValue);
  }
  return line + "\n";
}

/**
 * Rows given as a synchronous iterable, encoded as COPY text ahead of the
 * `COPY` (see {@linkcode encodeCopyAhead}).
 */
export interface CopyAhead {
  /** The text, in chunks of about 64 KB. */
  readonly chunks: readonly string[];
  /**
   * The rows not encoded yet, when there were more than the bound: they
   * follow the chunks, encoded as the copy goes.
   */
  readonly rest: Iterator<readonly SqlValue[]> | undefined;
}

/**
 * Encodes rows given as a synchronous iterable up to about `limit`
 * characters of COPY text, counting them in `counter.rows`. When every row
 * fits, the copy can be written whole, at once; a longer iterable leaves
 * its other rows in `rest`, so memory stays bounded.
 *
 * @throws whatever the rows' iterator or their encoding throws, before any
 *   of the copy is sent.
 */
export function encodeCopyAhead(
  rows: Iterable<readonly SqlValue[]>,
  width: number,
  counter: { rows: number },
  limit: number = 4 * 2 ** 20,
  chunkSize = 65536,
): CopyAhead {
  const chunks: string[] = [];
  const iterator = rows[Symbol.iterator]();
  let chunk = "";
  let size = 0;
  for (;;) {
    if (size >= limit) {
      if (chunk.length > 0) chunks.push(chunk);
      return { chunks, rest: iterator };
    }
    const next = iterator.next();
    if (next.done) break;
    chunk += copyLine(next.value, width);
    counter.rows++;
    if (chunk.length >= chunkSize) {
      chunks.push(chunk);
      size += chunk.length;
      chunk = "";
    }
  }
  if (chunk.length > 0) chunks.push(chunk);
  return { chunks, rest: undefined };
}

/**
 * The copy text of {@linkcode encodeCopyAhead}'s chunks, then of the rows
 * it left, encoded as the copy goes.
 */
export async function* continueCopy(
  ahead: CopyAhead,
  width: number,
  counter: { rows: number },
): AsyncGenerator<string> {
  yield* ahead.chunks;
  const rest = ahead.rest;
  if (rest !== undefined) {
    yield* copyChunks({ [Symbol.iterator]: () => rest }, width, counter);
  }
}

/**
 * Encodes rows as COPY text in chunks of about `chunkSize` characters,
 * counting them in `counter.rows`. Rows given as a synchronous iterable
 * are encoded without waiting between them.
 */
export async function* copyChunks(
  rows: Iterable<readonly SqlValue[]> | AsyncIterable<readonly SqlValue[]>,
  width: number,
  counter: { rows: number },
  chunkSize = 65536,
): AsyncGenerator<string> {
  let chunk = "";
  if (Symbol.iterator in rows) {
    for (const row of rows) {
      chunk += copyLine(row, width);
      counter.rows++;
      if (chunk.length >= chunkSize) {
        yield chunk;
        chunk = "";
      }
    }
  } else {
    for await (const row of rows) {
      chunk += copyLine(row, width);
      counter.rows++;
      if (chunk.length >= chunkSize) {
        yield chunk;
        chunk = "";
      }
    }
  }
  if (chunk.length > 0) yield chunk;
}
