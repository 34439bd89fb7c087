/**
 * The causation tree of a correlation, drawn as nested lists: command →
 * events → the commands workflows issued for them → their events.
 *
 * @module
 */
import { causationTree, type CommandNode, rootCommand } from "./_causation.ts";
import type { BrowserDeps } from "./_deps.ts";
import { type Html, html } from "./_html.ts";
import type { PageContext } from "./_layout.ts";
import { commandLink, eventLink, time } from "./_parts.ts";

function commandItem(
  context: PageContext,
  node: CommandNode,
  current: string,
): Html {
  const id = node.command.commandId ?? "";
  return html`<li${
    id === current
      ? html`
        class="current"
      `
      : ""
  }><span class="kind">command</span> ${
    commandLink(context, id, node.command.commandType)
  } <span class="muted">${time(node.command.createdAt)}</span>${
    node.events.length === 0
      ? ""
      : html`<ul>${
        node.events.map((e) =>
          html`<li><span class="kind">event</span> ${
            eventLink(
              context,
              e.event.aggregateId,
              e.event.sequenceNumber,
              `${e.event.eventType} #${e.event.sequenceNumber}`,
            )
          }${
            e.commands.length === 0
              ? ""
              : html`<ul>${
                e.commands.map((c) => commandItem(context, c, current))
              }${
                e.moreCommands
                  ? html`<li class="muted">More commands not shown.</li>`
                  : ""
              }</ul>`
          }</li>`
        )
      }${
        node.moreEvents
          ? html`<li class="muted">More events not shown.</li>`
          : ""
      }</ul>`
  }</li>`;
}

/** The page, or `undefined` when no command has this id. */
export async function correlationPage(
  deps: BrowserDeps,
  context: PageContext,
  commandId: string,
): Promise<Html | undefined> {
  const command = await deps.queries.commandById(commandId);
  if (!command) return undefined;
  const root = await rootCommand(deps.audit, command);
  const tree = await causationTree(deps.queries, root);
  return html`<p>From the command that started it; the command asked for is marked.</p>
<ul class="tree" aria-label="Causation tree">${
    commandItem(context, tree.root, commandId)
  }</ul>${
    tree.truncated
      ? html`<p class="notice">The tree is larger than this page shows.</p>`
      : ""
  }`;
}
