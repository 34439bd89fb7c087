/**
 * The application: one value holding the event store, the command service
 * with its handlers, projectors and workflows, the snapshotter and the
 * view-schema migrator. Nothing is global: create as many as you like.
 *
 * @module
 */
import {
  type AggregateClass,
  aggregateInternals,
  type AggregateRoot,
} from "../core/aggregate_root.ts";
import {
  type AggregateClassLike,
  AggregateRepository,
} from "../core/aggregate_repository.ts";
import type { Command } from "../core/command.ts";
import type { CommandHandler } from "../core/command_handler.ts";
import {
  type CommandMiddleware,
  CommandService,
  type ExecuteOptions,
} from "../core/command_service.ts";
import type { DryRunReport } from "../core/dry_run.ts";
import type { EventStore } from "../core/event_store.ts";
import type { Inbox } from "../core/inbox.ts";
import { consoleLogger, type Logger } from "../core/logger.ts";
import { SequentError, ViewSchemaNotReadyError } from "../core/errors.ts";
import { Projector } from "../core/projector.ts";
import type { RecordStore } from "../core/record_store.ts";
import { Snapshotter } from "../core/snapshotter.ts";
import type { Telemetry } from "../core/telemetry.ts";
import type {
  Migrator,
  ProjectorClass,
  ViewSchemaVersions,
} from "../core/view_schema.ts";
import { Workflow } from "../core/workflow.ts";
import {
  processorName,
  ProcessorRunner,
  type ProcessorRunnerOptions,
  type WaitForOptions,
} from "../core/processor_runner.ts";
import type { ProcessorStore } from "../core/processor_store.ts";
import type { EventHandler } from "../core/event_handler.ts";
import { InMemoryEventStore } from "../memory/in_memory_event_store.ts";
import { InMemoryInbox } from "../memory/in_memory_inbox.ts";
import { InMemoryProcessorStore } from "../memory/in_memory_processor_store.ts";
import type { ServerOptions } from "../postgres/connect_options.ts";
import type { EmbeddedOptions } from "../postgres/embedded_options.ts";

/** A workflow class (constructed with no arguments). */
export type WorkflowClass = new () => Workflow;

/**
 * What an application is made of. Give either `database` (a URL) or an
 * `eventStore`.
 *
 * @example
 * ```ts
 * import type { AppConfig } from "@sequent/core";
 *
 * const config: AppConfig = {
 *   database: "memory://",
 *   commandHandlers: [],
 *   projectors: [],
 *   workflows: [],
 *   migrations: {},
 * };
 * ```
 */
export interface AppConfig {
  /**
   * The database: `postgres://user@host:5432/db` for a PostgreSQL server,
   * `memory://` for an embedded PostgreSQL in memory, a folder (or
   * `file://folder`) for an embedded one on disk; unset: the embedded
   * PostgreSQL in `./data/db`.
   */
  readonly database?: string | undefined;
  /**
   * For the embedded database in a folder: what to do when another process
   * holds the folder. By default `createApp` fails with
   * `DatabaseInUseError` naming that process; `{ whenHeld: "use-holder" }`
   * goes through it instead, as the database tasks do (see
   * `EmbeddedOptions` in `@sequent/core/postgres`).
   */
  readonly embedded?: EmbeddedOptions | undefined;
  /** An event store to use instead of a database (e.g. `InMemoryEventStore`). */
  readonly eventStore?: EventStore | undefined;
  /** The command handlers. */
  readonly commandHandlers: readonly CommandHandler[];
  /** The projectors (instances, or classes constructed with no arguments). */
  readonly projectors?: readonly (Projector | ProjectorClass)[] | undefined;
  /** The workflows (instances, or classes constructed with no arguments). */
  readonly workflows?: readonly (Workflow | WorkflowClass)[] | undefined;
  /** The aggregate classes (so stored type names resolve, e.g. for snapshots). */
  readonly aggregates?: readonly AggregateClass[] | undefined;
  /** Command middleware, outermost first. */
  readonly middleware?: readonly CommandMiddleware[] | undefined;
  /** The view schema's versions (see `ViewSchemaVersions`). */
  readonly migrations?: ViewSchemaVersions | undefined;
  /** The schema read models live in (default `view_schema`). */
  readonly viewSchema?: string | undefined;
  /** The schema of the event store (default `sequent_schema`). */
  readonly eventStoreSchema?: string | undefined;
  /**
   * The event store's partition count (default 64; see `partitionOf`),
   * fixed when the store is created: another count for an existing store
   * is an error at start.
   */
  readonly partitions?: number | undefined;
  /** Where the framework logs (default: warnings and errors to the console). */
  readonly logger?: Logger | undefined;
  /** Re-runs of a unit of work on optimistic-lock conflicts (default 0). */
  readonly retryOnConflict?: number | undefined;
  /**
   * How many aggregates the command service keeps between commands
   * (default 1,000; 0: none); see
   * `CommandServiceOptions.aggregateCacheSize`.
   */
  readonly aggregateCacheSize?: number | undefined;
  /**
   * The connection to a PostgreSQL server: pool size, connect timeout,
   * statement timeout, idle time (see `ServerOptions` in
   * `@sequent/core/postgres`). Ignored for the embedded database.
   */
  readonly connection?: ServerOptions | undefined;
  /**
   * Projectors and workflows that run asynchronously, after the commit, in
   * a worker (`deno task processors`, or `app.processors.run()`): see
   * `ProcessorRunner`. Their projectors' tables belong to the view
   * schema's versions like any projector's: a new version is built for
   * them by the migration too, and at the swap their processors go on from
   * where its replay ended.
   */
  readonly processors?:
    | readonly (Projector | ProjectorClass | Workflow | WorkflowClass)[]
    | undefined;
  /** Tuning of the processors (batch size, claim time, polling). */
  readonly processorOptions?:
    | Partial<
      Pick<ProcessorRunnerOptions, "batchSize" | "leaseMs" | "pollMs" | "owner">
    >
    | undefined;
  /**
   * Where processors keep their checkpoints, for an `eventStore` other
   * than the in-memory one (a database URL brings its own).
   */
  readonly processorStore?: ProcessorStore | undefined;
  /**
   * Milliseconds an `executeCommands` call may take before it stops with
   * `CommandTimeoutError` and stores nothing (default 30,000; 0: no
   * limit). A call can set its own: `executeCommands(cmd, { timeoutMs })`.
   */
  readonly commandTimeoutMs?: number | undefined;
  /**
   * Where commands, commits, processors and replays are traced and
   * measured: `openTelemetry()` from `@sequent/core/otel` (default:
   * nowhere, at no cost). The application's own OpenTelemetry setup
   * (provider, sampler, exporter) stands; the library installs none.
   */
  readonly telemetry?: Telemetry | undefined;
  /**
   * The inbox of this app's JetStream consumers (`EventConsumer` from
   * `@sequent/core/nats`), so that operators see and act on them beside
   * the processors. The app installs it and gives it as `app.inbox`, for
   * the consumers to use; `processors status` shows each consumer's parked
   * messages, and `processors retry` and `skip` take a consumer's name as
   * well as a processor's.
   */
  readonly inbox?: InboxConfig | undefined;
}

/**
 * The app's inbox: which JetStream consumers use it, and where it is.
 *
 * @example
 * ```ts
 * import type { InboxConfig } from "@sequent/core";
 *
 * const inbox: InboxConfig = { consumers: ["newsletter"], schema: "newsletter_inbox" };
 * ```
 */
export interface InboxConfig {
  /** The consumers' names (each `EventConsumer`'s `name`). */
  readonly consumers: readonly string[];
  /**
   * The inbox's schema on PostgreSQL (default `sequent_inbox`); an app on
   * the in-memory event store keeps its inbox in memory.
   */
  readonly schema?: string | undefined;
}

/** The default of {@linkcode AppConfig.commandTimeoutMs}. */
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/**
 * Options of {@linkcode App.loadAggregate}.
 *
 * @example
 * ```ts
 * import type { LoadAggregateOptions } from "@sequent/core";
 *
 * const yesterday: LoadAggregateOptions = { asOf: new Date(Date.now() - 86_400_000) };
 * ```
 */
export interface LoadAggregateOptions {
  /** Time travel: the aggregate as it was just before this instant. */
  readonly asOf?: Date | undefined;
}

/**
 * A running application. Close it when done.
 */
export interface App {
  /** The configuration it was created from. */
  readonly config: AppConfig;
  /** Where the data is, for messages (never with a password). */
  readonly description: string;
  /** The event store. */
  readonly eventStore: EventStore;
  /** The read-model tables, for queries. */
  readonly records: RecordStore;
  /** The command service. */
  readonly commandService: CommandService;
  /** Takes snapshots of aggregates. */
  readonly snapshotter: Snapshotter;
  /**
   * The view-schema migrator (PostgreSQL databases only: an in-memory
   * store needs no tables).
   */
  readonly migrator: Migrator | undefined;
  /**
   * Executes commands as one unit of work; see `CommandService`. Resolves
   * to a read-your-writes token for {@linkcode App.waitFor}.
   */
  executeCommands(...commands: Command[]): Promise<string>;
  /**
   * Executes commands as one unit of work, with an abort signal or a time
   * limit of their own; see `ExecuteOptions`.
   */
  executeCommands(
    ...args: [...commands: Command[], options: ExecuteOptions]
  ): Promise<string>;
  /**
   * The asynchronous processors (`undefined` when the configuration
   * declares none): run them, see their status, retry or skip parked
   * aggregates, start one over.
   */
  readonly processors: ProcessorRunner | undefined;
  /**
   * Where processors keep their claims, checkpoints and parked aggregates;
   * an `OutboxRelay` (`@sequent/core/nats`) keeps its own there too.
   * `undefined` for an event store given in the configuration without one.
   */
  readonly processorStore: ProcessorStore | undefined;
  /**
   * The inbox of the app's JetStream consumers, when the configuration
   * declares one (`inbox`): give it to each `EventConsumer`.
   */
  readonly inbox: Inbox | undefined;
  /**
   * Resolves once the named processors (default: all) have handled what
   * the commands that gave `token` stored, in this or any other process;
   * see `ProcessorRunner.waitFor`.
   */
  waitFor(token: string, options?: WaitForOptions): Promise<void>;
  /**
   * Whether a command with this id is stored: the answer after a
   * `CommitOutcomeUnknownError` (it waits for a commit still under way).
   */
  commandStored(commandId: string): Promise<boolean>;
  /** Executes commands without keeping anything; see `CommandService`. */
  dryRun(...commands: Command[]): Promise<DryRunReport>;
  /**
   * Loads an aggregate outside any command, read-only (to change it,
   * execute a command): as it is now, or, with `asOf`, as it was just
   * before that instant (time travel).
   *
   * @param id The aggregate's id.
   * @param cls Its class (or a base class of it).
   * @param options `asOf`: the instant.
   * @throws {AggregateNotFoundError} when it does not exist (or had no
   *   events by `asOf`).
   * @throws {AggregateTypeMismatchError} when it is of another class.
   */
  loadAggregate<A extends AggregateRoot>(
    id: string,
    cls: AggregateClassLike<A>,
    options?: LoadAggregateOptions,
  ): Promise<A>;
  /** Stops the processors running in this process, then closes the database. */
  close(): Promise<void>;
}

function instances<T>(
  items: readonly (T | (abstract new (...args: never[]) => T))[] | undefined,
  base: abstract new (...args: never[]) => T,
  what: string,
): T[] {
  return (items ?? []).map((item) => {
    if (item instanceof base) return item;
    if (typeof item === "function" && item.prototype instanceof base) {
      return new (item as unknown as new () => T)();
    }
    throw new TypeError(
      `${what} must be ${base.name} instances or classes, got ${String(item)}`,
    );
  });
}

/**
 * Creates an application: opens its database (installing or upgrading the
 * event store's tables), and wires the command service, projectors,
 * workflows, snapshotter and migrator. Read models are built by the
 * migrator (`deno task migrate`).
 *
 * On the embedded database in a folder, the application holds the folder
 * until closed: a second application on it fails with `DatabaseInUseError`
 * naming this one, while the database tasks (`deno task migrate`, …) run
 * their statements through this one, so a migration can run while it
 * serves. Each migration step holds the database's one transaction slot
 * while it runs: the application's commands wait for it, then go on.
 *
 * @param config What the application is made of.
 * @returns The application.
 *
 * @example An application on the embedded database, in memory
 * ```ts
 * import { createApp } from "@sequent/core";
 *
 * const app = await createApp({ database: "memory://", commandHandlers: [] });
 * console.assert(app.description.includes("memory"));
 * await app.close();
 * ```
 */
export function createApp(config: AppConfig): Promise<App> {
  return openApp(config, { checkReadSide: true });
}

/**
 * {@linkcode createApp}, with a choice the tasks need: whether to compare
 * the read side with the database at start (`migrate status` reports the
 * same problems itself).
 */
export async function openApp(
  config: AppConfig,
  options: { readonly checkReadSide: boolean },
): Promise<App> {
  if (!config || !Array.isArray(config.commandHandlers)) {
    throw new TypeError("createApp() needs a config with commandHandlers");
  }
  const projectors = instances(config.projectors, Projector, "projectors");
  const workflows = instances(config.workflows, Workflow, "workflows");
  const asynchronous: EventHandler[] = (config.processors ?? []).map((item) => {
    if (item instanceof Projector || item instanceof Workflow) return item;
    if (
      typeof item === "function" &&
      (item.prototype instanceof Projector ||
        item.prototype instanceof Workflow)
    ) {
      return new (item as unknown as new () => EventHandler)();
    }
    throw new TypeError(
      `processors must be projectors or workflows (instances or classes), got ${
        String(item)
      }`,
    );
  });
  const processorNames = new Map(
    asynchronous.filter((h) => h instanceof Projector).map((
      h,
    ) => [h.constructor as ProjectorClass, processorName(h)]),
  );
  const consumers = inboxConsumers(
    config.inbox,
    asynchronous.map(processorName),
  );
  let inbox: Inbox | undefined;
  let processorStore = config.processorStore;
  const viewSchema = config.viewSchema ?? "view_schema";
  let eventStore = config.eventStore;
  let description = "an in-memory event store";
  let makeMigrator: ((service: CommandService) => Migrator) | undefined;
  let databaseSystem: string | undefined;
  if (!eventStore) {
    databaseSystem = "postgresql";
    const pg = await import("../postgres/mod.ts");
    const client = await pg.connectDatabase(config.database, {
      ...config.connection,
      ...config.embedded,
    });
    try {
      await pg.installEventStore(client, {
        schema: config.eventStoreSchema,
        partitions: config.partitions,
      });
      if (consumers) {
        const options = { schema: config.inbox?.schema, viewSchema };
        await pg.installInbox(client, options);
        inbox = new pg.PostgresInbox(client, options);
      }
    } catch (error) {
      await client.close();
      throw error;
    }
    description = client.description;
    const pgStore = new pg.PostgresEventStore(client, {
      schema: config.eventStoreSchema,
      viewSchema,
    });
    eventStore = pgStore;
    processorStore ??= new pg.PostgresProcessorStore(client, pgStore, {
      schema: config.eventStoreSchema,
      viewSchema,
    });
    makeMigrator = (service) =>
      new pg.ViewSchemaMigrator({
        client,
        eventStoreSchema: config.eventStoreSchema,
        viewSchema,
        versions: config.migrations ?? {},
        projectors: [
          ...projectors,
          ...asynchronous.filter((h): h is Projector => h instanceof Projector),
        ],
        serializer: service.serializer,
        logger: config.logger,
        processors: processorNames,
        telemetry: config.telemetry,
      });
  } else if (eventStore instanceof InMemoryEventStore) {
    if (
      config.partitions !== undefined &&
      config.partitions !== eventStore.partitions
    ) {
      throw new SequentError(
        `partitions is ${config.partitions}, but the event store given has ${eventStore.partitions}`,
      );
    }
    processorStore ??= new InMemoryProcessorStore(eventStore);
    if (consumers) inbox = inMemoryInbox(eventStore);
  } else if (consumers) {
    throw new TypeError(
      "inbox needs a database URL or the in-memory event store; with another event store, give each EventConsumer an inbox of its own",
    );
  }
  const commandService = new CommandService({
    eventStore,
    commandHandlers: config.commandHandlers,
    eventHandlers: [...projectors, ...workflows],
    aggregates: config.aggregates,
    middleware: config.middleware,
    logger: config.logger,
    retryOnConflict: config.retryOnConflict,
    aggregateCacheSize: config.aggregateCacheSize,
    commandTimeoutMs: config.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    telemetry: config.telemetry,
    databaseSystem,
  });
  const store = eventStore;
  if (asynchronous.length > 0 && !processorStore) {
    throw new TypeError(
      "processors need a processorStore for this eventStore (a database URL or the in-memory store brings one)",
    );
  }
  const runner = asynchronous.length > 0
    ? new ProcessorRunner({
      store: processorStore!,
      service: commandService,
      processors: asynchronous,
      logger: config.logger,
      owner: `${hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`,
      ...config.processorOptions,
    })
    : undefined;
  const migrator = makeMigrator?.(commandService);
  const logger = config.logger ?? consoleLogger("warn");
  if (migrator && options.checkReadSide) {
    try {
      for (const problem of (await migrator.status()).problems) {
        logger.log(
          "warn",
          `The read side does not match the database: ${problem}`,
        );
      }
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  /**
   * A command that failed on a missing view-schema table or column, when
   * the view schema is behind or disagrees: the error says what to do.
   */
  const explained = async (error: unknown): Promise<never> => {
    const code = (error as { code?: unknown } | null)?.code;
    if (migrator && (code === "42P01" || code === "42703")) {
      const status = await migrator.status().catch(() => undefined);
      if (
        status &&
        (status.currentVersion < status.targetVersion ||
          status.problems.length > 0)
      ) {
        throw new ViewSchemaNotReadyError(
          viewSchema,
          status.currentVersion,
          status.targetVersion,
          status.problems,
          { cause: error },
        );
      }
    }
    throw error;
  };
  return {
    config,
    description,
    eventStore: store,
    records: store.records,
    commandService,
    snapshotter: new Snapshotter({
      eventStore: store,
      aggregates: config.aggregates,
      serializer: commandService.serializer,
    }),
    migrator,
    executeCommands: (
      ...args: (Command | ExecuteOptions)[]
    ): Promise<string> =>
      commandService.executeCommands(
        ...args as [...Command[], ExecuteOptions],
      ).catch(explained),
    commandStored: (commandId: string) => store.commandStored(commandId),
    processors: runner,
    processorStore,
    inbox,
    waitFor: (token: string, options?: WaitForOptions) =>
      runner ? runner.waitFor(token, options) : Promise.reject(
        new TypeError("waitFor() needs processors: this app declares none"),
      ),
    dryRun: (...commands) => commandService.dryRun(...commands),
    loadAggregate: async <A extends AggregateRoot>(
      id: string,
      cls: AggregateClassLike<A>,
      options: LoadAggregateOptions = {},
    ): Promise<A> => {
      const repository = new AggregateRepository(
        store,
        commandService.serializer,
      );
      if (options.asOf !== undefined) {
        return await repository.loadAggregateAsOf(id, cls, options.asOf);
      }
      const aggregate = await repository.loadAggregate(id, cls);
      aggregateInternals().makeReadOnly(aggregate);
      return aggregate;
    },
    close: async () => {
      await runner?.stop();
      await store.close();
    },
  };
}

/**
 * The inbox kept beside an in-memory event store: every app over the
 * store shares it, as apps over one database share its inbox tables.
 */
const inMemoryInboxes = new WeakMap<InMemoryEventStore, InMemoryInbox>();

function inMemoryInbox(store: InMemoryEventStore): InMemoryInbox {
  let inbox = inMemoryInboxes.get(store);
  if (!inbox) inMemoryInboxes.set(store, inbox = new InMemoryInbox(store));
  return inbox;
}

/**
 * The consumers of `config.inbox`, checked: names, each once, none a
 * processor's (`processors retry` and `skip` take either); `undefined`
 * without an inbox.
 */
function inboxConsumers(
  config: InboxConfig | undefined,
  processors: readonly string[],
): readonly string[] | undefined {
  if (config === undefined) return undefined;
  const consumers: unknown = config?.consumers;
  if (!Array.isArray(consumers) || consumers.length === 0) {
    throw new TypeError(
      'inbox.consumers must name the consumers that use the inbox, such as ["newsletter"]',
    );
  }
  const seen = new Set<string>();
  for (const name of consumers as unknown[]) {
    if (typeof name !== "string" || name.trim() === "") {
      throw new TypeError(
        `inbox.consumers must be consumer names, got ${JSON.stringify(name)}`,
      );
    }
    if (seen.has(name)) {
      throw new TypeError(`inbox.consumers names "${name}" twice`);
    }
    if (processors.includes(name)) {
      throw new TypeError(
        `inbox consumer "${name}" has the name of a processor of this app; give the consumer another`,
      );
    }
    seen.add(name);
  }
  return [...seen];
}

/** This machine's name, for processor claims (`host` where it is hidden). */
function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "host";
  }
}
