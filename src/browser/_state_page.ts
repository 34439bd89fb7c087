/**
 * Time travel's page: the aggregate's state after an event (or just
 * before an instant), the state before that event, and what changed.
 *
 * @module
 */
import type { BrowserDeps } from "./_deps.ts";
import { type Html, html } from "./_html.ts";
import { href, type PageContext, segment } from "./_layout.ts";
import { aggregateLink, errorBox, eventLink, time } from "./_parts.ts";
import { MASK, prettyJson, shown } from "./_payload_view.ts";
import {
  TimeTravelError,
  type TimeTravelTarget,
  travel,
} from "./_time_travel.ts";

function value(v: unknown, deps: BrowserDeps): Html {
  return v === undefined
    ? html`<span class="muted">(none)</span>`
    : html`<code>${deps.payloads === "masked" ? MASK : prettyJson(v)}</code>`;
}

/** The page; `undefined` when the aggregate has no events. */
export async function statePage(
  deps: BrowserDeps,
  context: PageContext,
  aggregateId: string,
  target: TimeTravelTarget,
): Promise<{ body: Html; status: number } | undefined> {
  const summary = await deps.queries.aggregateSummary(aggregateId);
  if (!summary) return undefined;
  let result;
  try {
    result = await travel(
      deps.queries,
      deps.serializer,
      deps.aggregateClasses,
      aggregateId,
      summary.aggregateType,
      target,
      deps.payloads === "masked",
    );
  } catch (error) {
    if (!(error instanceof TimeTravelError)) throw error;
    // the page itself is fine: it says why there is no state to show (in
    // the masked mode without the reason a deserializer gave, which may
    // quote the payload)
    return {
      status: 200,
      body: html`
        <p>Aggregate ${aggregateLink(context, aggregateId)}</p>
        ${errorBox(deps.payloads === "masked" ? error.summary : error.message)}
      `,
    };
  }
  const seq = result.event.sequenceNumber;
  const path = `/aggregates/${segment(aggregateId)}/state`;
  const nav = html`<p>${
    seq > 1
      ? html`
        <a href="${href(context, path, {
          at: String(seq - 1),
        })}">Previous event</a> ·
      `
      : ""
  }${
    seq < summary.lastSequenceNumber
      ? html`
        <a href="${href(context, path, {
          at: String(seq + 1),
        })}">Next event</a> ·
      `
      : ""
  }${aggregateLink(context, aggregateId)}</p>`;
  return {
    status: 200,
    body: html`
      <p>After event ${eventLink(
        context,
        aggregateId,
        seq,
        `${result.event.eventType} #${seq}`,
      )} of ${summary.lastSequenceNumber}, stored ${time(
        result.event.createdAt,
      )}.</p>
      ${nav}
      <h2>State</h2>
      <pre aria-label="State">${prettyJson(
        shown(result.state, deps.payloads),
      )}</pre>
      <h2>Changes from the state before</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Change</th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>${result.changes.map((c) =>
          html`
            <tr class="${c.change === "same" ? "" : `diff-${c.change}`}">
              <td><bdi>${c.field}</bdi></td>
              <td>${c.change}</td>
              <td>${value(c.before, deps)}</td>
              <td>${value(c.after, deps)}</td>
            </tr>
          `
        )}</tbody>
      </table>
    `,
  };
}
