/**
 * Builds the single JSON argument of `store_commit` by concatenating around
 * the payloads, which are already JSON text: they are never parsed or
 * re-serialised on the way in.
 *
 * Concatenating is safe only for text that is exactly one JSON value: a
 * payload such as `{"x":1}},{"s":2,…}` would close its event early and
 * add one of its own. So nothing reaches these builders unchecked: the
 * unit runs `checkStorableCommit` at `commit()` (every payload one JSON
 * value, an event's an object; ids UUIDs; numbers integers), and
 * `storeSnapshots` runs `checkStorableSnapshots` before
 * {@linkcode buildSnapshots}. The rest is written here: names and keys by
 * `JSON.stringify`, dates by `toISOString`, numbers as checked.
 *
 * @module
 */
import { OptimisticLockError, SequentError } from "../core/errors.ts";
import type {
  SerializedCommand,
  SerializedSnapshot,
  StreamCommit,
} from "../core/event_store.ts";
import type { TypeDictionary, TypeKind } from "./_type_dictionary.ts";
import { newCommandId } from "../core/_command_id.ts";
import { partitionHash } from "../core/partition.ts";
import { isUuidAnyCase } from "../core/_uuid.ts";
import type { SqlValue } from "./sql_client.ts";

/** Whether `id` is a UUID in its canonical text form. */
export function isUuid(id: string): boolean {
  return isUuidAnyCase(id);
}

/** Checks an aggregate id and returns it in lowercase. */
export function uuidOf(id: string, what = "Aggregate id"): string {
  if (!isUuidAnyCase(id)) {
    throw new SequentError(
      `${what} "${id}" is not a UUID: the PostgreSQL event store keys aggregates by UUID`,
    );
  }
  return id.toLowerCase();
}

/** A commit ready to send. */
export interface CommitStatement {
  /** The argument of `store_commit`. */
  readonly json: string;
  /** The aggregates it touches, in lowercase. */
  readonly aggregateIds: readonly string[];
}

class NameCollector {
  readonly #types: TypeDictionary;
  /** Names to register, by kind; only made when there are any. */
  names: Record<TypeKind, Set<string>> | undefined;

  constructor(types: TypeDictionary) {
    this.#types = types;
  }

  /** The id when cached, else the name (registered by the function). */
  ref(kind: TypeKind, name: string): string {
    const id = this.#types.id(kind, name);
    if (id !== undefined) return String(id);
    this.names ??= { e: new Set(), a: new Set(), c: new Set() };
    this.names[kind].add(name);
    return JSON.stringify(name);
  }
}

function optional(value: string | number | undefined): string {
  return value === undefined ? "null" : JSON.stringify(value);
}

/** Builds the `store_commit` argument, checking what the server cannot. */
export function buildCommit(
  command: SerializedCommand,
  streams: readonly StreamCommit[],
  types: TypeDictionary,
): CommitStatement {
  const names = new NameCollector(types);
  const eventAggregateId = command.eventAggregateId === undefined
    ? undefined
    : uuidOf(command.eventAggregateId, "Causing event's aggregate id");
  let json = `{"c":{"id":${
    command.commandId === undefined
      ? "null"
      : `"${uuidOf(command.commandId, "Command id")}"`
  },"t":${names.ref("c", command.commandType)},"u":${
    optional(command.userId)
  },"a":"${uuidOf(command.aggregateId, "Command's aggregate id")}","ea":${
    optional(eventAggregateId)
  },"es":${optional(command.eventSequenceNumber)},"p":${command.payload}${
    command.traceparent === undefined
      ? ""
      : `,"tc":${JSON.stringify(command.traceparent)}`
  }},"s":[`;

  const sorted = streams
    .map((stream) => ({ id: uuidOf(stream.aggregateId), stream }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const aggregateIds: string[] = [];
  let uniqueKeys = false;
  let thresholds = false;
  for (let i = 0; i < sorted.length; i++) {
    const { id, stream } = sorted[i]!;
    if (aggregateIds.at(-1) === id) {
      throw new SequentError(
        `Aggregate "${stream.aggregateId}" appears twice in one commit`,
      );
    }
    aggregateIds.push(id);
    uniqueKeys ||= stream.uniqueKeys !== undefined;
    thresholds ||= stream.snapshotThreshold !== undefined;
    if (i > 0) json += ",";
    json += `{"a":"${id}","t":${names.ref("a", stream.aggregateType)},"k":${
      JSON.stringify(stream.partitionKey)
    },"q":${partitionHash(id)},"h":${optional(stream.snapshotThreshold)},"u":${
      stream.uniqueKeys === undefined
        ? "null"
        : JSON.stringify(stream.uniqueKeys)
    },"e":[`;
    const first = stream.events[0]?.sequenceNumber;
    for (let j = 0; j < stream.events.length; j++) {
      const event = stream.events[j]!;
      if (event.aggregateId.toLowerCase() !== id) {
        throw new SequentError(
          `Event ${event.sequenceNumber} (${event.eventType}) belongs to aggregate "${event.aggregateId}", not to the stream of "${stream.aggregateId}"`,
        );
      }
      if (!Number.isInteger(event.sequenceNumber) || event.sequenceNumber < 1) {
        throw new SequentError(
          `Event ${event.eventType} of aggregate "${stream.aggregateId}" has sequence number ${event.sequenceNumber}: sequence numbers are integers from 1 up`,
        );
      }
      if (event.sequenceNumber !== first! + j) {
        // a gap inside one commit, as the in-memory store reports it
        throw new OptimisticLockError(
          stream.aggregateId,
          event.sequenceNumber,
          first! + j,
        );
      }
      if (j > 0) json += ",";
      json +=
        `{"s":${event.sequenceNumber},"c":"${event.createdAt.toISOString()}","t":${
          names.ref("e", event.eventType)
        },"p":${event.payload}}`;
    }
    json += "]}";
  }
  json += "]";
  if (uniqueKeys) json += ',"uk":true';
  if (thresholds) json += ',"h":true';
  const toRegister = names.names;
  if (toRegister) {
    json += `,"n":{"e":${JSON.stringify([...toRegister.e])},"a":${
      JSON.stringify([...toRegister.a])
    },"c":${JSON.stringify([...toRegister.c])}}`;
  }
  json += "}";
  return { json, aggregateIds };
}

/**
 * The most common commit — one command creating one aggregate, with no
 * unique keys, no snapshot due, all type names known — as one plain
 * statement with parameters: the same work as hand-written SQL, without
 * the function call and the JSON argument. `undefined` when the commit is
 * not of that kind (then `store_commit` handles it).
 */
export function buildFastCreate(
  command: SerializedCommand,
  streams: readonly StreamCommit[],
  types: TypeDictionary,
  statementFor: (events: number) => string,
): { text: string; params: SqlValue[]; aggregateId: string } | undefined {
  if (streams.length !== 1) return undefined;
  const stream = streams[0]!;
  const events = stream.events;
  if (
    events.length === 0 || events[0]!.sequenceNumber !== 1 ||
    stream.partitionKey !== "" ||
    (stream.uniqueKeys !== undefined &&
      Object.keys(stream.uniqueKeys).length > 0) ||
    (stream.snapshotThreshold !== undefined &&
      events.length >= stream.snapshotThreshold)
  ) {
    return undefined;
  }
  const commandType = types.id("c", command.commandType);
  const aggregateType = types.id("a", stream.aggregateType);
  if (commandType === undefined || aggregateType === undefined) {
    return undefined;
  }
  // The ids were checked at commit() (checkStorableCommit), and go as
  // parameters, which cannot change the statement: lowercased, not checked
  // again.
  const id = stream.aggregateId.toLowerCase();
  const params: SqlValue[] = [
    command.userId ?? null,
    command.aggregateId.toLowerCase(),
    commandType,
    command.payload,
    command.eventAggregateId?.toLowerCase() ?? null,
    command.eventSequenceNumber ?? null,
    id,
    aggregateType,
    command.commandId?.toLowerCase() ?? newCommandId(),
    partitionHash(id),
    command.traceparent ?? null,
  ];
  for (let j = 0; j < events.length; j++) {
    const event = events[j]!;
    const eventType = types.id("e", event.eventType);
    if (eventType === undefined) return undefined;
    if (
      event.aggregateId !== stream.aggregateId &&
      event.aggregateId.toLowerCase() !== id
    ) return undefined;
    if (event.sequenceNumber !== j + 1) {
      throw new OptimisticLockError(
        stream.aggregateId,
        event.sequenceNumber,
        j + 1,
      );
    }
    params.push(
      event.sequenceNumber,
      event.createdAt,
      eventType,
      event.payload,
    );
  }
  return { text: statementFor(events.length), params, aggregateId: id };
}

/**
 * The argument of the snapshot insert: an array of snapshots, whose states
 * `checkStorableSnapshots` found to be one JSON value each.
 */
export function buildSnapshots(
  snapshots: readonly SerializedSnapshot[],
): string {
  let json = "[";
  for (let i = 0; i < snapshots.length; i++) {
    const s = snapshots[i]!;
    if (i > 0) json += ",";
    json += `{"a":"${uuidOf(s.aggregateId)}","v":${
      JSON.stringify(s.version)
    },"s":${
      JSON.stringify(s.sequenceNumber)
    },"c":"${s.createdAt.toISOString()}","d":${s.data}}`;
  }
  return json + "]";
}
