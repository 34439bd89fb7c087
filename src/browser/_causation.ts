/**
 * The causation tree of a correlation: from the command that started it,
 * the events each command stored, the commands workflows issued while
 * handling each event, their events, and so on. A correlation is named by
 * any of its commands: the tree is found from its root, the first command
 * up the chain of causing events.
 *
 * Bounded: at most {@linkcode TREE_LIMITS} nodes are read, so a runaway
 * workflow cannot make the page unbounded.
 *
 * @module
 */
import type { BrowsedEvent, BrowseQueries } from "../core/browse_queries.ts";
import type { AuditQueries, CommandRecord } from "../core/event_store.ts";

/** A command in the tree, with the events it stored. */
export interface CommandNode {
  /** The command record. */
  readonly command: CommandRecord;
  /** Its events, in the order stored. */
  readonly events: EventNode[];
  /** Whether it stored more events than the tree shows. */
  moreEvents: boolean;
}

/** An event in the tree, with the commands issued while it was handled. */
export interface EventNode {
  /** The event. */
  readonly event: BrowsedEvent;
  /** The commands it caused, in the order stored. */
  readonly commands: CommandNode[];
  /** Whether it caused more commands than the tree shows. */
  moreCommands: boolean;
}

/** A correlation's tree. */
export interface CausationTree {
  /** The first command of the correlation. */
  readonly root: CommandNode;
  /** Whether the tree was cut short at its node budget. */
  readonly truncated: boolean;
}

/** How much of a tree is read. */
export const TREE_LIMITS = {
  /** Nodes (commands and events) in all. */
  nodes: 400,
  /** Events shown per command. */
  eventsPerCommand: 50,
  /** Commands shown per event. */
  commandsPerEvent: 20,
  /** Steps up the chain to the root. */
  depth: 64,
} as const;

/** The first command up the chain of causing events from a command. */
export async function rootCommand(
  audit: Pick<AuditQueries, "commandForEvent">,
  command: CommandRecord,
): Promise<CommandRecord> {
  let current = command;
  for (let step = 0; step < TREE_LIMITS.depth; step++) {
    if (
      current.eventAggregateId === undefined ||
      current.eventSequenceNumber === undefined
    ) {
      return current;
    }
    const parent = await audit.commandForEvent(
      current.eventAggregateId,
      current.eventSequenceNumber,
    );
    if (!parent) return current;
    current = parent;
  }
  return current;
}

/** The tree below a command, breadth first, within the node budget. */
export async function causationTree(
  queries: BrowseQueries,
  root: CommandRecord,
): Promise<CausationTree> {
  let budget = TREE_LIMITS.nodes - 1;
  let truncated = false;
  const rootNode: CommandNode = {
    command: root,
    events: [],
    moreEvents: false,
  };
  let level: CommandNode[] = [rootNode];
  const seen = new Set<string>([root.commandId ?? root.id]);
  while (level.length > 0 && !truncated) {
    const next: CommandNode[] = [];
    for (const node of level) {
      if (budget <= 0) {
        truncated = true;
        break;
      }
      const page = await queries.commandEvents(node.command.commandId ?? "", {
        limit: Math.min(TREE_LIMITS.eventsPerCommand, budget),
      });
      node.moreEvents = page.next !== undefined;
      for (const event of page.events) {
        budget--;
        const eventNode: EventNode = {
          event,
          commands: [],
          moreCommands: false,
        };
        node.events.push(eventNode);
        if (budget <= 0) {
          truncated = true;
          break;
        }
        const caused = await queries.causedCommands(
          event.aggregateId,
          event.sequenceNumber,
          Math.min(TREE_LIMITS.commandsPerEvent, budget) + 1,
        );
        const shown = caused.slice(
          0,
          Math.min(TREE_LIMITS.commandsPerEvent, budget),
        );
        eventNode.moreCommands = caused.length > shown.length;
        for (const command of shown) {
          const key = command.commandId ?? command.id;
          if (seen.has(key)) continue;
          seen.add(key);
          budget--;
          const child: CommandNode = { command, events: [], moreEvents: false };
          eventNode.commands.push(child);
          next.push(child);
        }
      }
    }
    level = next;
  }
  return { root: rootNode, truncated };
}
