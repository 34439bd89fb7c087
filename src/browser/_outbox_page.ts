/**
 * The outbox page: per partition, the outbox relay's checkpoint and owner
 * against the last message the broker holds for the partition (its stream
 * sequence, the event it carries, when it was stored), and whether they
 * are in step. The figures come from the `OutboxView` the browser was
 * given; a broker that does not answer gives an error message.
 *
 * @module
 */
import type {
  OutboxPartitionState,
  OutboxPartitionView,
  OutboxView,
} from "../core/outbox_view.ts";
import { type Html, html } from "./_html.ts";
import { href, type PageContext } from "./_layout.ts";
import { eventLink, time } from "./_parts.ts";

/** The most partitions a store has, so the most rows shown. */
const MAX_ROWS = 1024;

/** The page's title. */
export function outboxTitle(view: OutboxView): string {
  return `Outbox ${view.description.relay}`;
}

const STATE_TEXT: Record<OutboxPartitionState, string> = {
  "in step": "In step",
  "checkpoint behind": "Checkpoint behind the stream",
  "no message": "No message",
  "unknown": "Unknown (no store position)",
};

function lastMessageCells(
  context: PageContext,
  p: OutboxPartitionView,
): Html {
  const m = p.lastMessage;
  if (!m) {
    return html`
      <td class="muted">(none)</td>
      <td></td>
      <td></td>
    `;
  }
  const event = m.aggregateId !== undefined && m.sequenceNumber !== undefined
    ? html`<bdi>${
      eventLink(
        context,
        m.aggregateId,
        m.sequenceNumber,
        `${m.aggregateId}/${m.sequenceNumber}`,
      )
    }</bdi>${
      m.eventType === undefined ? "" : html`
        <span class="muted"><bdi>${m.eventType}</bdi></span>
      `
    }`
    : html`<span class="muted">(no event headers)</span> <code>${m.subject}</code>`;
  return html`
    <td>${m.streamSequence}</td>
    <td>${event}${m.position === undefined
      ? ""
      : html`<br><code>${m.position}</code>`}</td>
    <td>${time(m.storedAt)}</td>
  `;
}

/** The page's body: the table, or the error the view gave. */
export async function outboxPage(
  view: OutboxView,
  context: PageContext,
): Promise<{ body: Html; status: number }> {
  const { relay, stream, prefix } = view.description;
  const intro =
    html`<p>The relay <bdi><code>${relay}</code></bdi> publishes to the stream <bdi><code>${stream}</code></bdi> on <bdi><code>${prefix}.&lt;partition&gt;.&gt;</code></bdi>. How far it is behind the event store is its lag, on the <a href="${
      href(context, "/processors")
    }">processors</a> page.</p>`;
  let partitions: readonly OutboxPartitionView[];
  try {
    partitions = (await view.partitions()).slice(0, MAX_ROWS);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      body: html`
        ${intro}<div class="error" role="alert">
          <p>${message}</p>
        </div>
      `,
      status: 503,
    };
  }
  if (partitions.length === 0) {
    return {
      body: html`
        ${intro}<p
          class="muted">No partition recorded: the relay has not run yet.</p>
      `,
      status: 200,
    };
  }
  const counts = new Map<OutboxPartitionState, number>();
  for (const p of partitions) {
    counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
  }
  const summary = (Object.keys(STATE_TEXT) as OutboxPartitionState[])
    .filter((s) => counts.has(s))
    .map((s) => `${STATE_TEXT[s]}: ${counts.get(s)}`)
    .join(" · ");
  return {
    body: html`
      ${intro}
      <p role="status">${partitions.length} partitions. ${summary}.</p>
      <table>
        <caption
          class="muted">Partitions: the relay's checkpoint against the last message in the stream</caption>
        <thead>
          <tr>
            <th scope="col">Partition</th>
            <th scope="col">Owner</th>
            <th scope="col">Checkpoint</th>
            <th scope="col">Last message (stream sequence)</th>
            <th scope="col">Its event</th>
            <th scope="col">Stored</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>${partitions.map((p) =>
          html`
            <tr>
              <td>${p.partition}</td>
              <td><bdi>${p.owner ?? "(nobody)"}</bdi></td>
              <td><code>${p.checkpoint || "(start)"}</code></td>
              ${lastMessageCells(context, p)}
              <td>${STATE_TEXT[p.state] ?? p.state}</td>
            </tr>
          `
        )}</tbody>
      </table>
    `,
    status: 200,
  };
}
