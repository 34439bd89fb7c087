/**
 * Pieces the pages share: links to aggregates, events and commands, times,
 * the event table and the pager.
 *
 * @module
 */
import type { BrowsedEvent, EventPage } from "../core/browse_queries.ts";
import type { CommandRecord } from "../core/event_store.ts";
import { type Html, html } from "./_html.ts";
import { href, type PageContext, segment } from "./_layout.ts";

/** An instant, readable and machine-readable (UTC). */
export function time(instant: Date): Html {
  const iso = instant.toISOString();
  return html`<time datetime="${iso}">${
    iso.replace("T", " ").replace("Z", " UTC")
  }</time>`;
}

/** A link to an aggregate's page. */
export function aggregateLink(context: PageContext, aggregateId: string): Html {
  return html`<a class="id" href="${
    href(context, `/aggregates/${segment(aggregateId)}`)
  }"><bdi>${aggregateId}</bdi></a>`;
}

/** The path of an event's page. */
export function eventPath(aggregateId: string, sequenceNumber: number): string {
  return `/events/${segment(aggregateId)}/${sequenceNumber}`;
}

/** A link to an event's page. */
export function eventLink(
  context: PageContext,
  aggregateId: string,
  sequenceNumber: number,
  label?: string,
): Html {
  // isolated: a label quotes a stored type name, and a bidi override in it
  // would otherwise turn the rest of the line around
  return html`<a href="${
    href(context, eventPath(aggregateId, sequenceNumber))
  }"><bdi>${label ?? `#${sequenceNumber}`}</bdi></a>`;
}

/**
 * The `<dt>`/`<dd>` pair naming the event a command was issued for (by a
 * workflow), or nothing for a command issued from outside.
 */
export function causingEvent(
  context: PageContext,
  command: CommandRecord | undefined,
  label: string,
): Html | "" {
  if (
    command?.eventAggregateId === undefined ||
    command.eventSequenceNumber === undefined
  ) return "";
  const id = `${command.eventAggregateId}/${command.eventSequenceNumber}`;
  return html`
    <dt>${label}</dt>
    <dd>${eventLink(
      context,
      command.eventAggregateId,
      command.eventSequenceNumber,
      id,
    )}</dd>
  `;
}

/** A link to a command's page. */
export function commandLink(
  context: PageContext,
  commandId: string,
  label?: string,
): Html {
  return html`<a class="id" href="${
    href(context, `/commands/${segment(commandId)}`)
  }"><bdi>${label ?? commandId}</bdi></a>`;
}

/** A table of events; `withAggregate` adds their aggregates' columns. */
export function eventTable(
  context: PageContext,
  events: readonly BrowsedEvent[],
  caption: string,
  withAggregate: boolean,
): Html {
  if (events.length === 0) {
    return html`<p class="muted">No events.</p>`;
  }
  return html`
    <table>
      <caption class="muted">${caption}</caption>
      <thead>
        <tr><th scope="col">Event</th><th scope="col">Type</th>${withAggregate
          ? html`
            <th scope="col">Aggregate</th>
            <th scope="col">Aggregate type</th>
          `
          : ""}<th scope="col">Created</th><th scope="col">Command</th></tr>
      </thead>
      <tbody>
    ${events.map((event) =>
      html`
        <tr><td>${eventLink(
          context,
          event.aggregateId,
          event.sequenceNumber,
        )}</td><td><bdi>${event.eventType}</bdi></td>${withAggregate
          ? html`
            <td>${aggregateLink(context, event.aggregateId)}</td>
            <td><bdi>${event.aggregateType}</bdi></td>
          `
          : ""}<td>${time(event.createdAt)}</td><td>${commandLink(
            context,
            event.commandId,
            "command",
          )}</td></tr>
      `
    )}</tbody>
    </table>
  `;
}

/** The link to a list's next page, when there is one. */
export function pager(
  context: PageContext,
  path: string,
  query: Readonly<Record<string, string | undefined>>,
  next: string | undefined,
): Html {
  const first = Object.hasOwn(query, "cursor") && query.cursor !== undefined
    ? html`
      <a href="${href(context, path, {
        ...query,
        cursor: undefined,
      })}">First page</a>
    `
    : "";
  return html`<p class="pager">${first}${
    next === undefined
      ? html`<span class="muted">End of list.</span>`
      : html`<a rel="next" href="${
        href(context, path, { ...query, cursor: next })
      }">Next page</a>`
  }</p>`;
}

/**
 * Whether a query refused what the request asked for: the browse queries
 * raise a `RangeError` for a limit or date out of range and a `TypeError`
 * for a cursor they did not give (see `BrowseQueries`). The page answers
 * 400 with the message; anything else is the server's fault.
 */
export function isRequestError(error: unknown): error is Error {
  return error instanceof TypeError || error instanceof RangeError;
}

/** The error box of a page. */
export function errorBox(message: string): Html {
  return html`
    <div class="error" role="alert">
      <p><bdi>${message}</bdi></p>
    </div>
  `;
}

/**
 * A list of events a page at a time, with its pager: the table and status
 * 200, or, for a cursor the store did not give, the error in its place and
 * status 400 (the rest of the page stands).
 */
export async function pagedEvents(
  context: PageContext,
  path: string,
  cursor: string | undefined,
  load: () => Promise<EventPage>,
  caption: string,
  withAggregate: boolean,
): Promise<{ list: Html; status: number }> {
  try {
    const page = await load();
    return {
      list: html`${eventTable(context, page.events, caption, withAggregate)}${
        pager(context, path, { cursor }, page.next)
      }`,
      status: 200,
    };
  } catch (error) {
    if (!isRequestError(error)) throw error;
    return { list: errorBox(error.message), status: 400 };
  }
}
