/**
 * An event's page: its payload and metadata, the command that stored it,
 * the event that command was issued for, and the commands issued while it
 * was handled, with the events those stored.
 *
 * @module
 */
import type { BrowserDeps } from "./_deps.ts";
import { type Html, html } from "./_html.ts";
import { href, type PageContext, segment } from "./_layout.ts";
import {
  aggregateLink,
  causingEvent,
  commandLink,
  eventTable,
  time,
} from "./_parts.ts";
import { payloadBlock, userShown } from "./_payload_view.ts";

const CAUSED_LIMIT = 20;
const EVENTS_PER_CAUSED = 20;

/** The page, or `undefined` when there is no such event. */
export async function eventPage(
  deps: BrowserDeps,
  context: PageContext,
  aggregateId: string,
  sequenceNumber: number,
): Promise<Html | undefined> {
  const event = await deps.queries.browseEvent(aggregateId, sequenceNumber);
  if (!event) return undefined;
  const command = await deps.queries.commandById(event.commandId);
  const caused = await deps.queries.causedCommands(
    aggregateId,
    sequenceNumber,
    CAUSED_LIMIT + 1,
  );
  const causedEvents = await Promise.all(
    caused.slice(0, CAUSED_LIMIT).map((c) =>
      deps.queries.commandEvents(c.commandId ?? "", {
        limit: EVENTS_PER_CAUSED,
      })
    ),
  );
  const parent = causingEvent(context, command, "Caused by event");
  return html`<dl>
<dt>Type</dt><dd><bdi>${event.eventType}</bdi></dd>
<dt>Aggregate</dt><dd>${
    aggregateLink(context, event.aggregateId)
  } <span class="muted">(<bdi>${
    event.aggregateType || "no type"
  }</bdi>)</span></dd>
<dt>Sequence number</dt><dd>${event.sequenceNumber}</dd>
<dt>Created</dt><dd>${time(event.createdAt)}</dd>
<dt>Command</dt><dd>${commandLink(context, event.commandId)}${
    command
      ? html`
        <span class="muted">(<bdi>${command.commandType}</bdi>)</span>
      `
      : ""
  }</dd>
<dt>User</dt><dd><bdi>${userShown(command?.userId, deps.payloads)}</bdi></dd>
${parent}
</dl>
<p><a href="${
    href(context, `/aggregates/${segment(aggregateId)}/state`, {
      at: String(sequenceNumber),
    })
  }">The aggregate's state after this event</a> · <a href="${
    href(context, `/correlations/${segment(event.commandId)}`)
  }">Causation tree</a></p>
<h2>Payload</h2>
${payloadBlock(event.payload, deps.payloads, "Event payload")}
<h2>Commands it caused</h2>
${
    caused.length === 0
      ? html`<p class="muted">None: no workflow issued a command while handling it.</p>`
      : html`${
        caused.slice(0, CAUSED_LIMIT).map((c, i) =>
          html`<h3>${
            commandLink(context, c.commandId ?? "", c.commandType)
          }</h3>${
            eventTable(
              context,
              causedEvents[i]?.events ?? [],
              "Events it stored",
              true,
            )
          }`
        )
      }${
        caused.length > CAUSED_LIMIT
          ? html`<p class="muted">More commands follow; see the causation tree.</p>`
          : ""
      }`
  }`;
}
