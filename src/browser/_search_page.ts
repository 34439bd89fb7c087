/**
 * The search page: events by aggregate, command, type and time range,
 * newest first, a page at a time; an event id or a correlation id goes
 * straight to its page.
 *
 * @module
 */
import type { EventSearch } from "../core/browse_queries.ts";
import type { BrowserDeps } from "./_deps.ts";
import { type Html, html } from "./_html.ts";
import { href, type PageContext } from "./_layout.ts";
import { errorBox, eventTable, isRequestError, pager } from "./_parts.ts";

/** The search form's fields, as given in the query string. */
export interface SearchForm {
  readonly aggregate: string;
  readonly command: string;
  readonly type: string;
  readonly from: string;
  readonly until: string;
  readonly cursor: string | undefined;
}

/** Reads an instant typed in the form (UTC unless it names a zone). */
export function parseInstant(text: string): Date | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const zoned = /(?:Z|[+-]\d\d:?\d\d)$/i.test(trimmed)
    ? trimmed
    : `${trimmed}Z`;
  const date = new Date(zoned);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function field(
  id: string,
  label: string,
  value: string,
  hint: string,
  type = "text",
): Html {
  return html`<div><label for="${id}">${label}</label><input id="${id}" name="${id}" type="${type}" value="${value}" placeholder="${hint}" autocomplete="off" spellcheck="false"></div>`;
}

/** The search form and its results. */
export async function searchPage(
  deps: BrowserDeps,
  context: PageContext,
  form: SearchForm,
): Promise<{ body: Html; status: number }> {
  const problems: string[] = [];
  const from = parseInstant(form.from);
  const until = parseInstant(form.until);
  if (form.from.trim() !== "" && !from) {
    problems.push(`"From" is not a date and time: ${form.from}`);
  }
  if (form.until.trim() !== "" && !until) {
    problems.push(`"Until" is not a date and time: ${form.until}`);
  }
  const types = await deps.queries.eventTypes();
  const search: EventSearch = {
    aggregateId: form.aggregate.trim() || undefined,
    commandId: form.command.trim() || undefined,
    eventType: form.type || undefined,
    from,
    until,
  };
  let results: Html = html``;
  let status = 200;
  if (problems.length > 0) {
    status = 400;
    results = html`<div class="error" role="alert">${
      problems.map((p) => html`<p>${p}</p>`)
    }</div>`;
  } else {
    try {
      const page = await deps.queries.searchEvents(search, {
        limit: deps.pageSize,
        cursor: form.cursor,
      });
      const query = {
        aggregate: form.aggregate,
        command: form.command,
        type: form.type,
        from: form.from,
        until: form.until,
        cursor: form.cursor,
      };
      results = html`${
        eventTable(context, page.events, "Events, newest first", true)
      }${pager(context, "/", query, page.next)}`;
    } catch (error) {
      // a cursor or range the store refuses; a store that fails is the
      // server's fault (500), not the request's
      if (!isRequestError(error)) throw error;
      status = 400;
      results = errorBox(error.message);
    }
  }
  const body = html`<form class="search" method="get" action="${
    href(context, "/")
  }" role="search">
${field("aggregate", "Aggregate id", form.aggregate, "UUID")}
${field("event", "Event id", "", "aggregate id/sequence number")}
${field("command", "Command id", form.command, "UUID")}
${field("correlation", "Correlation id", "", "any command id of it")}
<div><label for="type">Event type</label><select id="type" name="type"><option value="">Any</option>${
    types.map((type) =>
      html`
        <option value="${type}" ${type === form.type
          ? html`
            selected
          `
          : ""}>${type}</option>
      `
    )
  }</select></div>
${field("from", "From (UTC)", form.from, "2026-12-01T00:00")}
${field("until", "Until (UTC)", form.until, "2026-12-31T00:00")}
<div><button type="submit">Search</button></div>
</form>
<h2>Results</h2>
${results}`;
  return { body, status };
}
