/**
 * A small application for the tests of tasks run beside an application
 * that holds an embedded database's folder: items that are added and
 * renamed, projected into `held_items`. Version 1 of the view schema is
 * what the running (old) application was deployed with; version 2 rebuilds
 * the table, as a deployment with a changed projector would.
 */
import {
  AggregateRoot,
  type AppConfig,
  attrs,
  column,
  Command,
  CommandHandler,
  Event,
  Projector,
  table,
} from "@sequent/core";

export class Held_Added extends Event.define("Held.Added", {
  name: attrs.string().required(),
}) {}
export class Held_Renamed extends Event.define("Held.Renamed", {
  name: attrs.string().required(),
}) {}

class Held_Item extends AggregateRoot {
  static {
    this.on(Held_Added, () => {});
    this.on(Held_Renamed, () => {});
  }
  static add(id: string, name: string): Held_Item {
    const item = new Held_Item(id);
    item.apply(Held_Added, { name });
    return item;
  }
  rename(name: string): void {
    this.apply(Held_Renamed, { name });
  }
}

export class Held_Add extends Command.define("Held.Add", {
  name: attrs.string().required(),
}) {}
export class Held_Rename extends Command.define("Held.Rename", {
  name: attrs.string().required(),
}) {}

class Held_Handler extends CommandHandler {
  static {
    this.on(Held_Add, (h, c) => {
      h.repository.addAggregate(Held_Item.add(c.aggregateId, c.name));
    });
    this.on(Held_Rename, async (h, c) => {
      (await h.repository.loadAggregate(c.aggregateId, Held_Item)).rename(
        c.name,
      );
    });
  }
}

export const heldItems = table("held_items", {
  id: column.uuid().primaryKey(),
  name: column.text(),
});

export class Held_ItemProjector extends Projector {
  static override readonly manages = [heldItems];
  static {
    this.on(
      Held_Added,
      (p, e) => p.createRecord(heldItems, { id: e.aggregateId, name: e.name }),
    );
    this.on(
      Held_Renamed,
      (p, e) =>
        p.updateAllRecords(heldItems, { id: e.aggregateId }, { name: e.name }),
    );
  }
}

/** The application at a view-schema version (1: deployed, 2: the new code). */
export function heldConfig(folder: string, version: 1 | 2): AppConfig {
  return {
    database: folder,
    commandHandlers: [new Held_Handler()],
    projectors: [Held_ItemProjector],
    aggregates: [Held_Item],
    migrations: version === 1
      ? { 1: [Held_ItemProjector] }
      : { 1: [Held_ItemProjector], 2: [Held_ItemProjector] },
  };
}
