/**
 * A command's page: its record and payload, the event it was issued for,
 * and the events it stored.
 *
 * @module
 */
import type { BrowserDeps } from "./_deps.ts";
import { type Html, html } from "./_html.ts";
import { href, type PageContext, segment } from "./_layout.ts";
import { aggregateLink, causingEvent, pagedEvents, time } from "./_parts.ts";
import { payloadBlock, userShown } from "./_payload_view.ts";

/**
 * The page, or `undefined` when there is no such command; status 400 when
 * the events' cursor is not one the store gave.
 */
export async function commandPage(
  deps: BrowserDeps,
  context: PageContext,
  commandId: string,
  cursor: string | undefined,
): Promise<{ title: string; body: Html; status: number } | undefined> {
  const command = await deps.queries.commandById(commandId);
  if (!command) return undefined;
  const path = `/commands/${segment(commandId)}`;
  const { list: stored, status } = await pagedEvents(
    context,
    path,
    cursor,
    () =>
      deps.queries.commandEvents(commandId, { limit: deps.pageSize, cursor }),
    "Events in the order stored",
    true,
  );
  return {
    title: `Command ${command.commandType}`,
    status,
    body: html`<dl>
<dt>Id</dt><dd class="id"><bdi>${commandId}</bdi></dd>
<dt>Type</dt><dd><bdi>${command.commandType}</bdi></dd>
<dt>Aggregate</dt><dd>${aggregateLink(context, command.aggregateId)}</dd>
<dt>Stored</dt><dd>${time(command.createdAt)}</dd>
<dt>User</dt><dd><bdi>${userShown(command.userId, deps.payloads)}</bdi></dd>
${causingEvent(context, command, "Issued for event")}
</dl>
<p><a href="${
      href(context, `/correlations/${segment(commandId)}`)
    }">Causation tree</a></p>
<h2>Payload</h2>
${payloadBlock(command.payload, deps.payloads, "Command payload")}
<h2>Events it stored</h2>
${stored}`,
  };
}
