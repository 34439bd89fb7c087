/**
 * Sequent for Deno: CQRS and event sourcing for TypeScript.
 *
 * Model a domain with commands, events and value objects whose attributes
 * are typed and validated; aggregates that apply events; command handlers;
 * and a command service that stores each command's events atomically and
 * hands them to projectors and workflows. Test it with given/when/then
 * helpers from `@sequent/core/testing`.
 *
 * @example
 * ```ts
 * import {
 *   AggregateRoot, attrs, Command, CommandHandler, CommandService, Event, InMemoryEventStore,
 * } from "@sequent/core";
 *
 * class PostAdded extends Event.define("PostAdded", {}) {}
 * class PostTitleChanged extends Event.define("PostTitleChanged", { title: attrs.string() }) {}
 * class AddPost extends Command.define("AddPost", { title: attrs.string().required() }) {}
 *
 * class Post extends AggregateRoot {
 *   static add(command: AddPost): Post {
 *     const post = new Post(command.aggregateId);
 *     post.apply(PostAdded);
 *     post.apply(PostTitleChanged, { title: command.title });
 *     return post;
 *   }
 * }
 *
 * class PostCommandHandler extends CommandHandler {
 *   static {
 *     this.on(AddPost, (handler, command) => handler.repository.addAggregate(Post.add(command)));
 *   }
 * }
 *
 * const service = new CommandService({
 *   eventStore: new InMemoryEventStore(),
 *   commandHandlers: [new PostCommandHandler()],
 * });
 * await service.executeCommands(new AddPost({ aggregateId: crypto.randomUUID(), title: "Hello" }));
 * ```
 *
 * @module
 */
export { AggregateRepository } from "./src/core/aggregate_repository.ts";
export {
  type AggregateClass,
  AggregateRoot,
  type SnapshotOptions,
} from "./src/core/aggregate_root.ts";
export { Attributed } from "./src/core/attributed.ts";
export type { Attr } from "./src/core/attributes.ts";
export { attrs } from "./src/core/attrs.ts";
export { CalendarDate } from "./src/core/calendar_date.ts";
export {
  Command,
  type CommandClass,
  type CommandInit,
} from "./src/core/command.ts";
export { CommandHandler } from "./src/core/command_handler.ts";
export {
  type CommandMiddleware,
  CommandService,
  type CommandServiceOptions,
  type ExecuteOptions,
} from "./src/core/command_service.ts";
export { Decimal, type RoundingMode } from "./src/core/decimal.ts";
export {
  type DryRunCommand,
  type DryRunEvent,
  type DryRunHandler,
  DryRunReport,
} from "./src/core/dry_run.ts";
export {
  AggregateKeyNotUniqueError,
  AggregateNotFoundError,
  AggregateTypeMismatchError,
  CommandNotValidError,
  CommandTimeoutError,
  CommitOutcomeUnknownError,
  DeserializeEventError,
  DuplicateAggregateError,
  DuplicateCommandError,
  DuplicateRecordError,
  DuplicateTypeNameError,
  HasUncommittedEventsError,
  NoCommandHandlerError,
  NotManagedByThisProjectorError,
  OptimisticLockError,
  ReadOnlyAggregateError,
  RecordNotFoundError,
  RecordWriteRejectedError,
  SequentError,
  TooManyCommandsError,
  UnknownAttributeError,
  UnstorableTextError,
  type UnstorableTextLocation,
  type ValidationErrors,
  ViewSchemaNotReadyError,
} from "./src/core/errors.ts";
export {
  Event,
  type EventClass,
  type EventInit,
  type Upcaster,
} from "./src/core/event.ts";
export { EventHandler } from "./src/core/event_handler.ts";
export { type ReplayOptions, replayProjectors } from "./src/core/replay.ts";
export type { PollMs } from "./src/core/_poll_pause.ts";
export {
  isPartitioned,
  type PartitionStatus,
  processorName,
  ProcessorRunner,
  type ProcessorRunnerOptions,
  type ProcessorStatus,
  ProcessorTimeoutError,
  type WaitForOptions,
} from "./src/core/processor_runner.ts";
export type {
  HorizonBlocker,
  ParkedAggregate,
  PartitionRecord,
} from "./src/core/processor_store.ts";
export type {
  BatchTelemetry,
  CommitResult,
  CommitTelemetry,
  SendTelemetry,
  Telemetry,
} from "./src/core/telemetry.ts";
export type {
  AuditQueries,
  CommandRecord,
  EventPosition,
  EventStore,
  ReadAllOptions,
  SerializedCommand,
  SerializedEvent,
} from "./src/core/event_store.ts";
export {
  type JsonArray,
  type JsonObject,
  type JsonPrimitive,
  type JsonValue,
  MAX_NESTING_DEPTH,
} from "./src/core/json.ts";
export {
  consoleLogger,
  type Logger,
  type LogLevel,
  silentLogger,
} from "./src/core/logger.ts";
export {
  anyMessage,
  exactly,
  hasAttrs,
  isA,
  type Matcher,
  where,
} from "./src/core/message_router.ts";
export { Projector } from "./src/core/projector.ts";
export type { FindOptions, RecordStore } from "./src/core/record_store.ts";
export {
  type ChangesOf,
  Column,
  column,
  type NewRowOf,
  RecordTable,
  type RowOf,
  table,
  type TableIndex,
  type TableOptions,
  type WhereOf,
} from "./src/core/record_table.ts";
export {
  describeUnstorableText,
  isStorableText,
} from "./src/core/storable_text.ts";
export {
  Snapshotter,
  type SnapshotterOptions,
  type TakeSnapshotsOptions,
} from "./src/core/snapshotter.ts";
export { ValueObject } from "./src/core/value_object.ts";
export { type AfterCommitOptions, Workflow } from "./src/core/workflow.ts";
export {
  DEFAULT_PARTITION_COUNT,
  MAX_PARTITION_COUNT,
  partitionOf,
} from "./src/core/partition.ts";
export {
  InMemoryEventStore,
  type InMemoryEventStoreOptions,
} from "./src/memory/in_memory_event_store.ts";
export { InMemoryProcessorStore } from "./src/memory/in_memory_processor_store.ts";
export { InMemoryInbox } from "./src/memory/in_memory_inbox.ts";
export type {
  Inbox,
  InboxMessage,
  InboxOutcome,
  SetAsideMessage,
} from "./src/core/inbox.ts";
export { InMemoryRecordStore } from "./src/memory/in_memory_record_store.ts";
export {
  type AlterTable,
  alterTable,
  type MigrateOptions,
  type MigrationReport,
  type MigrationStatus,
  type Migrator,
  type ProjectorClass,
  type ProjectorState,
  type ViewSchemaVersions,
} from "./src/core/view_schema.ts";
export {
  type App,
  type AppConfig,
  createApp,
  type InboxConfig,
  type LoadAggregateOptions,
  type WorkflowClass,
} from "./src/app/create_app.ts";
export type {
  EmbeddedOptions,
  WhenHeld,
} from "./src/postgres/embedded_options.ts";
export type { DatabaseHolder } from "./src/postgres/database_in_use_error.ts";
export type { ServerOptions } from "./src/postgres/connect_options.ts";
