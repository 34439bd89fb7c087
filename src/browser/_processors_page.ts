/**
 * The processors' page: each one's checkpoint, lag in events and time,
 * holder, partitions and members, parked aggregates, and the transaction
 * holding back the horizon. With admin on, a parked aggregate can be
 * retried or skipped from here (each form carries the CSRF token).
 *
 * @module
 */
import type { ProcessorStatus } from "../core/processor_runner.ts";
import type { BrowserDeps } from "./_deps.ts";
import { type Html, html } from "./_html.ts";
import { href, type PageContext, segment } from "./_layout.ts";
import { aggregateLink, eventLink, time } from "./_parts.ts";
import { MASK, type PayloadMode } from "./_payload_view.ts";

/** What a processor is doing, as the page names it. */
export type ProcessorState =
  | "not running"
  | "held back"
  | "catching up"
  | "caught up";

/** A processor's state, from its status. */
export function processorState(status: ProcessorStatus): ProcessorState {
  if (status.owner === undefined && status.members.length === 0) {
    return "not running";
  }
  if (status.blockedBy) return "held back";
  return status.lagEvents > 0 ? "catching up" : "caught up";
}

/** Parked aggregates shown per processor, the oldest first. */
const PARKED_SHOWN = 100;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

function adminForms(
  context: PageContext,
  csrf: string,
  processor: string,
  aggregateId: string,
): Html {
  const action = (what: string) =>
    href(
      context,
      `/processors/${segment(processor)}/parked/${
        segment(aggregateId)
      }/${what}`,
    );
  return html`
    <form class="inline" method="post"
      action="${action(
        "retry",
      )}"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Retry</button></form>
    <form class="inline" method="post"
      action="${action(
        "skip",
      )}"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Skip</button></form>
  `;
}

function processorSection(
  context: PageContext,
  csrf: string,
  status: ProcessorStatus,
  mode: PayloadMode,
): Html {
  // an error message or a statement may quote stored data
  const stored = (text: string) => mode === "masked" ? MASK : text;
  return html`<section aria-labelledby="p-${segment(status.name)}">
<h2 id="p-${
    segment(status.name)
  }"><bdi>${status.name}</bdi> <span class="muted">(${status.kind})</span></h2>
<dl>
<dt>State</dt><dd>${processorState(status)}</dd>
<dt>Checkpoint</dt><dd><code>${status.checkpoint || "(start)"}</code></dd>
<dt>Held by</dt><dd><bdi>${status.owner ?? "(nobody)"}</bdi></dd>
<dt>Lag</dt><dd>${status.lagEvents}${
    status.lagEvents >= 10_000 ? "+" : ""
  } events, ${seconds(status.lagMs)}</dd>
${
    status.members.length > 0
      ? html`
        <dt>Members</dt>
        <dd>${status.members.map((m, i) =>
          html`${i > 0 ? ", " : ""}<bdi>${m}</bdi>`
        )}</dd>
      `
      : ""
  }
${
    status.blockedBy
      ? html`
        <dt>Held back by</dt>
        <dd>process ${status.blockedBy.pid} in <bdi>${status.blockedBy
          .database}</bdi> (${status.blockedBy.state}), for ${seconds(
            status.blockedBy.ageMs,
          )}: <code>${stored(status.blockedBy.query)}</code></dd>
      `
      : ""
  }
</dl>
${
    status.partitions.length > 0
      ? html`
        <table>
          <caption class="muted">Partitions</caption>
          <thead>
            <tr>
              <th scope="col">Partition</th>
              <th scope="col">Owner</th>
              <th scope="col">Checkpoint</th>
              <th scope="col">Lag (events)</th>
            </tr>
          </thead>
          <tbody>${status.partitions.map((p) =>
            html`
              <tr>
                <td>${p.partition}</td>
                <td><bdi>${p.owner ?? "(nobody)"}</bdi></td>
                <td><code>${p.checkpoint || "(start)"}</code></td>
                <td>${p.lagEvents}</td>
              </tr>
            `
          )}</tbody>
        </table>
      `
      : ""
  }
${
    status.parked.length === 0
      ? html`<p class="muted">No parked aggregates.</p>`
      : html`
        <table>
          <caption class="muted">Parked aggregates</caption>
          <thead>
            <tr><th scope="col">Aggregate</th><th scope="col">Event</th><th scope="col">Error</th><th scope="col">Parked</th><th scope="col">Requested</th>${context
                .admin
              ? html`<th scope="col">Actions</th>`
              : ""}</tr>
          </thead>
          <tbody>${status.parked.map((p) =>
            html`<tr><td>${aggregateLink(context, p.aggregateId)}</td><td>${
              eventLink(context, p.aggregateId, p.sequenceNumber)
            }</td><td><bdi>${stored(p.error)}</bdi></td><td>${
              time(p.parkedAt)
            }</td><td>${p.request ?? ""}</td>${
              context.admin
                ? html`<td>${
                  status.kind === "other"
                    // another application runs it: only its runner can
                    ? html`<span class="muted">Run by another application</span>`
                    : adminForms(context, csrf, status.name, p.aggregateId)
                }</td>`
                : ""
            }</tr>`
          )}</tbody>
        </table>
        ${status.parkedCount > status.parked.length
          ? html`
            <p
              class="notice">${status.parkedCount -
                status.parked
                  .length} more parked aggregates are not shown: see processors status.</p>
          `
          : ""}
      `
  }
</section>`;
}

/** The admin action the page was sent back to after (`?done=…`). */
export interface AdminActionDone {
  /** What was asked. */
  readonly action: "retry" | "skip";
  /** Of which processor. */
  readonly processor: string;
  /** For which parked aggregate. */
  readonly aggregate: string;
}

/** The page. */
export async function processorsPage(
  deps: BrowserDeps,
  context: PageContext,
  csrf: string,
  done: AdminActionDone | undefined,
): Promise<Html> {
  if (!deps.processors) {
    return html`<p>This application declares no asynchronous processors.</p>`;
  }
  // the oldest parked aggregates only: a page reads a bounded number
  const statuses = await deps.processors.status({
    includeOthers: true,
    parkedLimit: PARKED_SHOWN,
  });
  // said only of one of this app's processors: the query string is
  // anybody's, and a link must not make the page claim what was not asked
  const shownNotice = done &&
      statuses.some((s) => s.name === done.processor && s.kind !== "other")
    ? html`
      <p class="notice"
        role="status">Asked <bdi>${done.processor}</bdi> to ${done
          .action} <bdi>${done
          .aggregate}</bdi>: the processor does it on its next round.</p>
    `
    : "";
  return html`${shownNotice}${
    statuses.map((s) => processorSection(context, csrf, s, deps.payloads))
  }`;
}
