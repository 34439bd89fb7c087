/**
 * An aggregate's page: its type and keys, its snapshots, its events a page
 * at a time, and the form to see its state at an event or an instant.
 *
 * @module
 */
import type { BrowserDeps } from "./_deps.ts";
import { type Html, html } from "./_html.ts";
import { href, type PageContext, segment } from "./_layout.ts";
import { pagedEvents, time } from "./_parts.ts";
import { prettyJson, shown } from "./_payload_view.ts";

/**
 * The page, or `undefined` when the aggregate has no events; status 400
 * when the events' cursor is not one the store gave.
 */
export async function aggregatePage(
  deps: BrowserDeps,
  context: PageContext,
  aggregateId: string,
  cursor: string | undefined,
): Promise<{ body: Html; status: number } | undefined> {
  const summary = await deps.queries.aggregateSummary(aggregateId);
  if (!summary) return undefined;
  const path = `/aggregates/${segment(aggregateId)}`;
  const { list: events, status } = await pagedEvents(
    context,
    path,
    cursor,
    () =>
      deps.queries.aggregateEvents(aggregateId, {
        limit: deps.pageSize,
        cursor,
      }),
    "Events by sequence number",
    false,
  );
  const body = html`
    <dl>
      <dt>Type</dt>
      <dd><bdi>${summary.aggregateType || "(none)"}</bdi></dd>
      <dt>Partition key</dt>
      <dd><bdi>${summary.partitionKey || "(default)"}</bdi></dd>
      <dt>Events</dt>
      <dd>${summary.lastSequenceNumber}</dd>
    </dl>
    <h2>State</h2>
    <form class="search" method="get" action="${href(
      context,
      `${path}/state`,
    )}">
      <div><label for="at">At event</label><input id="at" name="at" type="number" min="1" max="${summary
        .lastSequenceNumber}" value="${summary.lastSequenceNumber}"></div>
      <div><label for="asOf">Or just before (UTC)</label><input id="asOf" name="asOf" type="text" placeholder="2026-12-01T00:00" autocomplete="off"></div>
      <div><button type="submit">Show state</button></div>
    </form>
    <h2>Unique keys</h2>
    ${summary.uniqueKeys.length === 0 ? html`<p class="muted">None.</p>` : html`
      <table>
        <thead>
          <tr>
            <th scope="col">Scope</th>
            <th scope="col">Key</th>
          </tr>
        </thead>
        <tbody>${summary.uniqueKeys.map((k) =>
          html`
            <tr>
              <td><bdi>${k.scope}</bdi></td>
              <td><code>${prettyJson(shown(k.key, deps.payloads))}</code></td>
            </tr>
          `
        )}</tbody>
      </table>
    `}
    <h2>Snapshots</h2>
    ${summary.snapshots.length === 0 ? html`<p class="muted">None.</p>` : html`
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">At event</th>
            <th scope="col">Taken</th>
          </tr>
        </thead>
        <tbody>${summary.snapshots.map((s) =>
          html`
            <tr>
              <td>${s.version}</td>
              <td>${s.sequenceNumber}</td>
              <td>${time(s.createdAt)}</td>
            </tr>
          `
        )}</tbody>
      </table>
    `}
    <h2>Events</h2>
    ${events}
  `;
  return { body, status };
}
