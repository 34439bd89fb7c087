/**
 * What every store's {@linkcode BrowseQueries} checks the same way: the
 * page size, the cursor (as the store's own text), the search's dates and
 * type name; and how a page is cut from the `limit + 1` rows it read.
 *
 * @module
 */
import type { EventPage, EventSearch, PageRequest } from "./browse_queries.ts";
import { isStorableText } from "./storable_text.ts";

/** The largest page any browse query gives. */
export const MAX_PAGE_LIMIT = 1000;

/** The page of a list that is empty (or of an id that matches nothing). */
export const EMPTY_PAGE: EventPage = Object.freeze({
  events: Object.freeze([]),
  next: undefined,
});

/**
 * Checks a page size: an integer from 1 to {@linkcode MAX_PAGE_LIMIT}.
 *
 * @throws {RangeError} for any other value.
 */
export function checkPageLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new RangeError(
      `Page limit must be an integer from 1 to ${MAX_PAGE_LIMIT}, got ${limit}`,
    );
  }
  return limit;
}

/**
 * A page request's limit, checked (see {@linkcode checkPageLimit}), and
 * where it starts: its cursor parsed by `parse`, or `first` without one.
 */
export function pageStart<T>(
  page: PageRequest,
  first: T,
  parse: (cursor: string) => T,
): { readonly limit: number; readonly after: T } {
  const limit = checkPageLimit(page.limit);
  return {
    limit,
    after: page.cursor === undefined ? first : parse(page.cursor),
  };
}

/** The error for a cursor the store did not make. */
export function badCursor(cursor: string): TypeError {
  return new TypeError(
    `Page cursor ${
      JSON.stringify(cursor)
    } is not valid: pass the \`next\` of a page this store gave for this list`,
  );
}

/**
 * The cursor's groups of digits, or {@linkcode badCursor}: `pattern` must
 * be anchored and capture each number.
 */
export function cursorNumbers(cursor: string, pattern: RegExp): string[] {
  const m = pattern.exec(cursor);
  if (m === null) throw badCursor(cursor);
  return m.slice(1) as string[];
}

/**
 * Checks what an event search holds beyond ids: valid dates. Returns
 * whether it can match anything (a type name no store can hold cannot).
 *
 * @throws {RangeError} for an invalid date.
 */
export function searchCanMatch(search: EventSearch): boolean {
  for (const key of ["from", "until"] as const) {
    const date = search[key];
    if (date !== undefined && Number.isNaN(date.getTime())) {
      throw new RangeError(`Event search's \`${key}\` is an invalid date`);
    }
  }
  return search.eventType === undefined || isStorableText(search.eventType);
}

/**
 * A page from the rows read with `LIMIT limit + 1`: the first `limit`,
 * and the cursor of the last of them when a row followed.
 */
export function pageOf<T>(
  rows: readonly T[],
  limit: number,
  cursorOf: (last: T) => string,
): { readonly rows: readonly T[]; readonly next: string | undefined } {
  if (rows.length <= limit) return { rows, next: undefined };
  const shown = rows.slice(0, limit);
  return { rows: shown, next: cursorOf(shown.at(-1)!) };
}
