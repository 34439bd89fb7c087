/**
 * The framework's plumbing, for writing a store adapter and for the
 * framework's own entry points: the ports' row types, the serializer and
 * type registry, and projector wiring. Application code does not need any
 * of it (everything an application writes is in `@sequent/core`), and it
 * may change in any release.
 *
 * @example
 * ```ts
 * import { Event, attrs } from "@sequent/core";
 * import { MessageSerializer, TypeRegistry } from "@sequent/core/internal";
 *
 * class PostTitled extends Event.define("PostTitled", { title: attrs.string() }) {}
 *
 * const registry = new TypeRegistry();
 * registry.register("event", PostTitled);
 * const row = new MessageSerializer(registry).serializeEvent(
 *   new PostTitled({ aggregateId: crypto.randomUUID(), sequenceNumber: 1, title: "Hi" }),
 * );
 * console.log(row.payload); // {"title":"Hi"}
 * ```
 *
 * @module
 */
export { MessageSerializer } from "./core/serializer.ts";
export { TypeRegistry } from "./core/type_registry.ts";
export type { TypeKind } from "./core/type_catalog.ts";
export type { Conversion } from "./core/attributes.ts";
export {
  COMMIT_EVENTS_COMMAND,
  type EventsToCommit,
} from "./core/command_service.ts";
export { withRecordStore } from "./core/projector.ts";
export { Progress } from "./core/progress.ts";
export type { ProgressOutput } from "./core/view_schema.ts";
export { InMemoryRecordTransaction } from "./memory/in_memory_record_store.ts";
export type {
  EventStoreReader,
  EventStoreTransaction,
  LoadedStream,
  LoadOptions,
  SerializedSnapshot,
  SnapshotCandidate,
  SnapshotStore,
  StreamCommit,
  TransactionOptions,
} from "./core/event_store.ts";
export type {
  AggregateSummary,
  BrowsedEvent,
  BrowseQueries,
  EventPage,
  EventSearch,
  PageRequest,
  SnapshotInfo,
} from "./core/browse_queries.ts";
export type {
  EventBatch,
  EventReader,
  ReadEventsOptions,
  ReplayEventsOptions,
  ReplayReader,
  StoredEvent,
  StreamPosition,
} from "./core/event_reader.ts";
export {
  checkPartitionCount,
  checkPartitions,
  partitionHash,
} from "./core/partition.ts";
export type {
  Lease,
  Membership,
  ParkChange,
  ParkRequest,
  PartitionClaim,
  ProcessorRecord,
  ProcessorStore,
} from "./core/processor_store.ts";
export type {
  AggregateChange,
  AggregateClassLike,
} from "./core/aggregate_repository.ts";
export type { EventPayload, EventPayloadArgs } from "./core/aggregate_root.ts";
export type { AttributedClass, FieldsOf, Params } from "./core/attributed.ts";
export type {
  AttributeInit,
  AttributeValues,
  AttrValue,
  Shape,
} from "./core/attributes.ts";
export type { Attrs } from "./core/attrs.ts";
export type { DefinedCommand } from "./core/command.ts";
export type { DefinedEvent } from "./core/event.ts";
export type { DefinedValueObject } from "./core/value_object.ts";
export type {
  AttrExpectation,
  ClassOf,
  Target,
  TargetMessage,
} from "./core/message_router.ts";
export type {
  ColumnFactories,
  ColumnInput,
  ColumnKind,
  Columns,
  ColumnValue,
} from "./core/record_table.ts";
export {
  MAX_TRACE_LINKS,
  readTraceLinks,
  traceLinks,
} from "./core/telemetry.ts";
