/**
 * The domain and the plumbing the view-schema migration tests share: an
 * item aggregate whose projector writes three tables with every record
 * helper (rows created, rewritten, deleted and created again, and a
 * cross-aggregate counter table), a seeded random workload, and a rig that
 * wires an event store, a command service and migrators over one client in
 * fresh schemas.
 *
 * Type names start with `Mig_`; no other test file uses them.
 */
import {
  AggregateRoot,
  attrs,
  CalendarDate,
  column,
  Command,
  CommandHandler,
  CommandService,
  Decimal,
  Event,
  type EventHandler,
  type JsonValue,
  type MigrateOptions,
  Projector,
  type ProjectorClass,
  table,
  type ViewSchemaVersions,
} from "@sequent/core";
import {
  installEventStore,
  PostgresEventStore,
  type SqlClient,
  type SqlTransaction,
  ViewSchemaMigrator,
} from "@sequent/core/postgres";
export { random } from "../_seeded_random.ts";
import { random } from "../_seeded_random.ts";

// ---------------------------------------------------------------- events

export class Mig_ItemCreated extends Event.define("Mig_ItemCreated", {
  name: attrs.string(),
  group: attrs.string(),
  price: attrs.decimal(),
  day: attrs.date(),
  meta: attrs.json(),
}) {}
export class Mig_ItemRenamed extends Event.define("Mig_ItemRenamed", {
  name: attrs.string(),
}) {}
export class Mig_ItemTagged extends Event.define("Mig_ItemTagged", {
  tag: attrs.string(),
}) {}
export class Mig_ItemUntagged extends Event.define("Mig_ItemUntagged", {
  tag: attrs.string(),
}) {}
export class Mig_ItemDeleted extends Event.define("Mig_ItemDeleted", {}) {}
export class Mig_ItemRestored extends Event.define("Mig_ItemRestored", {
  name: attrs.string(),
  group: attrs.string(),
}) {}

// -------------------------------------------------------------- commands

export class Mig_CreateItem extends Command.define("Mig_CreateItem", {
  name: attrs.string().required(),
  group: attrs.string().required(),
  price: attrs.decimal(),
  day: attrs.date(),
  meta: attrs.json(),
  tags: attrs.json(),
}) {}
export class Mig_EditItem extends Command.define("Mig_EditItem", {
  name: attrs.string(),
  addTags: attrs.json(),
  removeTags: attrs.json(),
}) {}
export class Mig_DeleteItem extends Command.define("Mig_DeleteItem", {}) {}
export class Mig_RestoreItem extends Command.define("Mig_RestoreItem", {
  name: attrs.string().required(),
  group: attrs.string().required(),
}) {}

// ------------------------------------------------------------- aggregate

export class Mig_Item extends AggregateRoot {
  deleted = false;
  readonly tags = new Set<string>();

  static create(command: Mig_CreateItem): Mig_Item {
    const item = new Mig_Item(command.aggregateId);
    item.apply(Mig_ItemCreated, {
      name: command.name,
      group: command.group,
      price: command.price,
      day: command.day,
      meta: command.meta,
    });
    for (const tag of (command.tags ?? []) as string[]) {
      item.apply(Mig_ItemTagged, { tag });
    }
    return item;
  }

  edit(command: Mig_EditItem): void {
    if (this.deleted) throw new Error("Mig_Item is deleted");
    if (command.name !== undefined) {
      this.apply(Mig_ItemRenamed, { name: command.name });
    }
    for (const tag of (command.removeTags ?? []) as string[]) {
      if (this.tags.has(tag)) this.apply(Mig_ItemUntagged, { tag });
    }
    for (const tag of (command.addTags ?? []) as string[]) {
      if (!this.tags.has(tag)) this.apply(Mig_ItemTagged, { tag });
    }
  }

  delete(): void {
    if (this.deleted) throw new Error("Mig_Item is deleted already");
    this.apply(Mig_ItemDeleted);
  }

  restore(command: Mig_RestoreItem): void {
    if (!this.deleted) throw new Error("Mig_Item is not deleted");
    this.apply(Mig_ItemRestored, { name: command.name, group: command.group });
  }

  static {
    this.on(Mig_ItemTagged, (item, e) => {
      item.tags.add(e.tag!);
    });
    this.on(Mig_ItemUntagged, (item, e) => {
      item.tags.delete(e.tag!);
    });
    this.on(Mig_ItemDeleted, (item) => {
      item.deleted = true;
      item.tags.clear();
    });
    this.on(Mig_ItemRestored, (item) => {
      item.deleted = false;
    });
  }
}

export class Mig_ItemCommandHandler extends CommandHandler {
  static {
    this.on(Mig_CreateItem, (handler, command) => {
      handler.repository.addAggregate(Mig_Item.create(command));
    });
    this.on(
      Mig_EditItem,
      (handler, command) =>
        handler.doWithAggregate(command, Mig_Item, (i) => i.edit(command)),
    );
    this.on(
      Mig_DeleteItem,
      (handler, command) =>
        handler.doWithAggregate(command, Mig_Item, (i) => i.delete()),
    );
    this.on(
      Mig_RestoreItem,
      (handler, command) =>
        handler.doWithAggregate(command, Mig_Item, (i) => i.restore(command)),
    );
  }
}

// ---------------------------------------------------------------- tables

/** One row per live item: every column kind, rewritten by later events. */
export const migItems = table("mig_items", {
  aggregateId: column.uuid().primaryKey(),
  name: column.text(),
  group: column.text(),
  price: column.decimal().nullable(),
  day: column.date().nullable(),
  meta: column.json().nullable(),
  edits: column.integer(),
  big: column.bigint(),
  ratio: column.float(),
  active: column.boolean(),
  updatedAt: column.dateTime(),
}, { indexes: [["group"]] });

/** One row per (item, tag): a composite key, created, upserted, deleted. */
export const migTags = table("mig_tags", {
  aggregateId: column.uuid(),
  tag: column.text(),
  seq: column.integer(),
}, { primaryKey: ["aggregateId", "tag"] });

/**
 * One row per group, shared by many items: counters every item's events
 * change (so rows are read back and rewritten after flushes), deleted when
 * the last member goes. Counting commutes, so replaying in aggregate order
 * gives what inline projection built in commit order.
 */
export const migGroups = table("mig_groups", {
  group: column.text().primaryKey(),
  members: column.integer(),
  total: column.decimal(),
});

async function joinGroup(
  p: Projector,
  group: string,
  price: Decimal | null,
): Promise<void> {
  const g = await p.findRecord(migGroups, { group });
  await p.createOrUpdateRecord(migGroups, { group }, {
    members: (g?.members ?? 0) + 1,
    total: (g?.total ?? Decimal.from("0")).plus(price ?? Decimal.from("0")),
  });
}

async function leaveGroup(
  p: Projector,
  group: string,
  price: Decimal | null,
): Promise<void> {
  const g = await p.updateRecord(migGroups, { group }, (row) => ({
    members: row.members - 1,
    total: row.total.minus(price ?? Decimal.from("0")),
  }));
  if (g.members === 0) await p.deleteRecord(migGroups, g);
}

/**
 * The items projector. `failAt` makes it throw on that many-th event it
 * handles (a broken projector); `onEvent` sees every event first.
 */
export class Mig_ItemProjector extends Projector {
  static override readonly manages = [migItems, migTags, migGroups];
  handled = 0;
  failAt: number | undefined;
  onEvent: ((n: number) => Promise<void> | void) | undefined;

  async seen(): Promise<void> {
    this.handled++;
    if (this.failAt !== undefined && this.handled >= this.failAt) {
      throw new Error(`Mig_ItemProjector fails at event ${this.handled}`);
    }
    await this.onEvent?.(this.handled);
  }

  static {
    this.on(Mig_ItemCreated, async (p, e) => {
      await p.seen();
      await p.createRecord(migItems, {
        aggregateId: e.aggregateId,
        name: e.name!,
        group: e.group!,
        price: e.price ?? null,
        day: e.day ?? null,
        meta: e.meta ?? null,
        edits: 0,
        big: BigInt(e.sequenceNumber) * 1_000_000_000_007n,
        ratio: 0.1 + 0.2,
        active: true,
        updatedAt: e.createdAt,
      });
      await joinGroup(p, e.group!, e.price ?? null);
    });
    this.on(Mig_ItemRenamed, async (p, e) => {
      await p.seen();
      await p.updateRecord(migItems, { aggregateId: e.aggregateId }, (row) => ({
        name: e.name!,
        edits: row.edits + 1,
        big: row.big + 1n,
        ratio: row.ratio / 3,
        active: !row.active,
        meta: { previous: row.name, edits: row.edits + 1 },
        updatedAt: e.createdAt,
      }));
    });
    this.on(Mig_ItemTagged, async (p, e) => {
      await p.seen();
      await p.createOrUpdateRecord(
        migTags,
        { aggregateId: e.aggregateId, tag: e.tag! },
        { seq: e.sequenceNumber },
      );
    });
    this.on(Mig_ItemUntagged, async (p, e) => {
      await p.seen();
      const row = await p.getRecord(migTags, {
        aggregateId: e.aggregateId,
        tag: e.tag!,
      });
      await p.deleteRecord(migTags, row);
    });
    this.on(Mig_ItemDeleted, async (p, e) => {
      await p.seen();
      const row = await p.getRecord(migItems, { aggregateId: e.aggregateId });
      await p.deleteRecord(migItems, row);
      await p.deleteAllRecords(migTags, { aggregateId: e.aggregateId });
      await leaveGroup(p, row.group, row.price);
    });
    this.on(Mig_ItemRestored, async (p, e) => {
      await p.seen();
      await p.createRecord(migItems, {
        aggregateId: e.aggregateId,
        name: e.name!,
        group: e.group!,
        edits: 0,
        big: -BigInt(e.sequenceNumber),
        ratio: -1.5,
        active: false,
        updatedAt: e.createdAt,
      });
      await joinGroup(p, e.group!, null);
    });
  }
}

/** Counts items per group by name: a second projector with a table of its own. */
export const migNames = table("mig_names", {
  aggregateId: column.uuid().primaryKey(),
  name: column.text(),
});

export class Mig_NameProjector extends Projector {
  static override readonly manages = [migNames];
  static {
    this.on(
      Mig_ItemCreated,
      (p, e) =>
        p.createRecord(migNames, { aggregateId: e.aggregateId, name: e.name! }),
    );
    this.on(
      Mig_ItemRestored,
      (p, e) =>
        p.createOrUpdateRecord(migNames, { aggregateId: e.aggregateId }, {
          name: e.name!,
        }),
    );
    this.on(
      Mig_ItemRenamed,
      (p, e) =>
        p.updateAllRecords(migNames, { aggregateId: e.aggregateId }, {
          name: e.name!,
        }),
    );
  }
}

// -------------------------------------------------------------- workload

const TAGS = ["red", "green", "blue", "x\ty", "new\nline", "back\\slash"];
const GROUPS = ["a", "b", "c", "d", "e", "f", "g"];

/**
 * A random workload: `aggregates` items created, then edits, deletes and
 * restores at random until at least `events` events were produced. Returns
 * the units to execute (each a few commands) and how many events they make.
 */
export function workload(
  seed: number,
  options: { aggregates: number; events: number; unitSize?: number },
): { units: Command[][]; events: number } {
  const rnd = random(seed);
  const pick = <T>(list: readonly T[]): T =>
    list[Math.floor(rnd() * list.length)] as T;
  const items: { id: string; deleted: boolean; tags: Set<string> }[] = [];
  const commands: Command[] = [];
  let events = 0;
  const uuid = () => {
    const hex = Array.from(
      { length: 32 },
      () => Math.floor(rnd() * 16).toString(16),
    ).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${
      hex.slice(17, 20)
    }-${hex.slice(20, 32)}`;
  };
  for (let i = 0; i < options.aggregates; i++) {
    const id = uuid();
    const tags = new Set(TAGS.filter(() => rnd() < 0.3));
    const cents = Math.floor(rnd() * 100000);
    commands.push(
      new Mig_CreateItem({
        aggregateId: id,
        name: `item ${i} «${pick(TAGS)}»`,
        group: pick(GROUPS),
        price: rnd() < 0.8 ? Decimal.from(`${cents / 100}`) : undefined,
        day: rnd() < 0.7
          ? CalendarDate.parse(
            `20${10 + Math.floor(rnd() * 20)}-0${1 + Math.floor(rnd() * 9)}-1${
              Math.floor(rnd() * 9)
            }`,
          )
          : undefined,
        meta: rnd() < 0.5
          ? { i, nested: { list: [1, "two", null, true] }, text: "tab\there" }
          : undefined,
        tags: [...tags] as JsonValue,
      }),
    );
    items.push({ id, deleted: false, tags });
    events += 1 + tags.size;
  }
  while (events < options.events) {
    const item = pick(items);
    const roll = rnd();
    if (item.deleted) {
      commands.push(
        new Mig_RestoreItem({
          aggregateId: item.id,
          name: `restored ${events}`,
          group: pick(GROUPS),
        }),
      );
      item.deleted = false;
      events += 1;
    } else if (roll < 0.1) {
      commands.push(new Mig_DeleteItem({ aggregateId: item.id }));
      item.deleted = true;
      item.tags.clear();
      events += 1;
    } else {
      const add = TAGS.filter((t) => !item.tags.has(t) && rnd() < 0.3);
      const remove = [...item.tags].filter(() => rnd() < 0.3);
      const rename = rnd() < 0.7;
      commands.push(
        new Mig_EditItem({
          aggregateId: item.id,
          name: rename ? `renamed ${events}` : undefined,
          addTags: add,
          removeTags: remove,
        }),
      );
      for (const t of remove) item.tags.delete(t);
      for (const t of add) item.tags.add(t);
      events += (rename ? 1 : 0) + add.length + remove.length;
    }
  }
  const size = options.unitSize ?? 1;
  const units: Command[][] = [];
  for (let i = 0; i < commands.length; i += size) {
    units.push(commands.slice(i, i + size));
  }
  return { units, events };
}

// ------------------------------------------------------------------- rig

/** A fresh schema name (`mig_<random>`). */
export function freshName(): string {
  return `mig_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** Every schema a rig of this process made (to check they were dropped). */
export const rigSchemas: Set<string> = new Set();

/**
 * An event store, command service and migrators over one client, in a
 * fresh event-store schema and view schema. `dispose()` drops both.
 */
export interface Rig {
  readonly client: SqlClient;
  readonly schema: string;
  readonly viewSchema: string;
  readonly store: PostgresEventStore;
  /** The command service with `inline` projecting in each unit. */
  service(inline: readonly EventHandler[]): CommandService;
  /** A migrator for these versions, with these projector instances. */
  migrator(
    versions: ViewSchemaVersions,
    projectors?: readonly Projector[],
    options?: {
      flushEvery?: number;
      batchSize?: number;
      client?: SqlClient;
      processors?: ReadonlyMap<ProjectorClass, string>;
      chunkSize?: number;
    },
  ): ViewSchemaMigrator;
  /** Every row of a table as text, in key order (`suffix`: `_v2`, say). */
  dump(name: string, suffix?: string): Promise<string[]>;
  /** Whether a table exists in the view schema. */
  exists(name: string): Promise<boolean>;
  /** The table's OID (changes when the table is replaced). */
  oid(name: string): Promise<string | null>;
  /** The rows of the versions table. */
  versions(): Promise<{ version: number; status: string }[]>;
  dispose(): Promise<void>;
}

/** Quiet migration steps. */
export const quiet: MigrateOptions = { progress: false };

/** Sets up a rig in fresh schemas on `client`. */
export async function rig(
  client: SqlClient,
  names: { schema?: string; viewSchema?: string } = {},
): Promise<Rig> {
  const schema = names.schema ?? freshName();
  const viewSchema = names.viewSchema ?? `${schema}_view`;
  rigSchemas.add(schema).add(viewSchema);
  await installEventStore(client, { schema });
  const store = new PostgresEventStore(client, {
    schema,
    viewSchema,
    closeClient: false,
  });
  const serviceFor = (inline: readonly EventHandler[]) =>
    new CommandService({
      eventStore: store,
      commandHandlers: [new Mig_ItemCommandHandler()],
      eventHandlers: inline,
      aggregates: [Mig_Item],
    });
  const serializer = serviceFor([
    new Mig_ItemProjector(),
    new Mig_NameProjector(),
  ]).serializer;
  const keyOrder = async (name: string) => {
    const rows = await client.query<{ attname: string }>(
      `SELECT a.attname FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY a.attname`,
      [`"${viewSchema}"."${name}"`],
    );
    return rows.map((r) => `"${r.attname}"`).join(", ");
  };
  return {
    client,
    schema,
    viewSchema,
    store,
    service: serviceFor,
    migrator: (versions, projectors, options = {}) =>
      new ViewSchemaMigrator({
        client: options.client ?? client,
        eventStoreSchema: schema,
        viewSchema,
        versions,
        projectors,
        serializer,
        flushEvery: options.flushEvery,
        batchSize: options.batchSize,
        processors: options.processors,
        chunkSize: options.chunkSize,
      }),
    async dump(name, suffix = "") {
      const order = await keyOrder(name + suffix);
      const rows = await client.query<{ r: string }>(
        `SELECT t::text AS r FROM "${viewSchema}"."${name}${suffix}" t ORDER BY ${order}`,
      );
      return rows.map((r) => r.r);
    },
    async exists(name) {
      const [row] = await client.query<{ found: boolean }>(
        "SELECT to_regclass($1::text) IS NOT NULL AS found",
        [`"${viewSchema}"."${name}"`],
      );
      return row?.found ?? false;
    },
    async oid(name) {
      const [row] = await client.query<{ oid: string | null }>(
        "SELECT to_regclass($1::text)::oid::text AS oid",
        [`"${viewSchema}"."${name}"`],
      );
      return row?.oid ?? null;
    },
    async versions() {
      const [found] = await client.query<{ found: boolean }>(
        "SELECT to_regclass($1::text) IS NOT NULL AS found",
        [`"${viewSchema}".sequent_versions`],
      );
      if (!found?.found) return [];
      return await client.query(
        `SELECT version, status FROM "${viewSchema}".sequent_versions ORDER BY version`,
      );
    },
    async dispose() {
      await client.transaction((tx) =>
        tx.execute(`
          SET LOCAL lock_timeout = '10s';
          DROP SCHEMA IF EXISTS "${schema}" CASCADE;
          DROP SCHEMA IF EXISTS "${viewSchema}" CASCADE;`)
      );
    },
  };
}

/** Runs the units through the service, one unit of work each. */
export async function execute(
  service: CommandService,
  units: readonly Command[][],
): Promise<void> {
  for (const unit of units) await service.executeCommands(...unit);
}

// ------------------------------------------------------- statement log

/**
 * A client that logs what reaches the database: `query`, `transaction`,
 * `tx.query`, `tx.enqueue`, … with each statement's text. It reads only the
 * texts of queued statements (their parameters are read when sent).
 */
export function statementLog(
  client: SqlClient,
): SqlClient & { log: { kind: string; text: string }[] } {
  const log: { kind: string; text: string }[] = [];
  const wrap = (tx: SqlTransaction): SqlTransaction => {
    const wrapped: SqlTransaction = {
      query(text, params) {
        log.push({ kind: "tx.query", text });
        return tx.query(text, params);
      },
      batch(statements) {
        log.push({
          kind: "tx.batch",
          text: statements.map((s) => s.text).join(";"),
        });
        return tx.batch(statements);
      },
      execute(script) {
        log.push({ kind: "tx.execute", text: script });
        return tx.execute(script);
      },
      copyIn(table, columns, rows) {
        log.push({ kind: "tx.copyIn", text: table });
        return tx.copyIn(table, columns, rows);
      },
      copyOut(query, onData) {
        log.push({ kind: "tx.copyOut", text: query });
        return tx.copyOut(query, onData);
      },
      enqueue(statement, onRows) {
        log.push({ kind: "tx.enqueue", text: statement.text });
        tx.enqueue(statement, onRows);
      },
      transaction(work) {
        log.push({ kind: "tx.transaction", text: "" });
        return tx.transaction(() => work(wrapped));
      },
    };
    return wrapped;
  };
  return {
    engine: client.engine,
    description: client.description,
    log,
    query(text, params) {
      log.push({ kind: "query", text });
      return client.query(text, params);
    },
    batch(statements) {
      log.push({
        kind: "batch",
        text: statements.map((s) => s.text).join(";"),
      });
      return client.batch(statements);
    },
    execute(script) {
      log.push({ kind: "execute", text: script });
      return client.execute(script);
    },
    copyIn(table, columns, rows) {
      log.push({ kind: "copyIn", text: table });
      return client.copyIn(table, columns, rows);
    },
    copyOut(query, onData) {
      log.push({ kind: "copyOut", text: query });
      return client.copyOut(query, onData);
    },
    transaction(work) {
      log.push({ kind: "transaction", text: "" });
      return client.transaction((tx) => work(wrap(tx)));
    },
    close() {
      return client.close();
    },
  } as SqlClient & { log: { kind: string; text: string }[] };
}
