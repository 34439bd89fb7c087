/**
 * The text rule applied to what an event store is asked to store: one
 * check both stores run before storing anything, so they cannot disagree
 * about which commits, snapshots and unique keys they accept.
 *
 * @module
 */
import { UnstorableTextError } from "./errors.ts";
import type {
  SerializedCommand,
  SerializedSnapshot,
  StreamCommit,
} from "./event_store.ts";
import { type JsonValue, MAX_NESTING_DEPTH } from "./json.ts";
import {
  describeUnstorableText,
  findUnstorableInJsonText,
  findUnstorableJsonText,
  isStorableText,
} from "./storable_text.ts";

function checkTypeName(
  typeKind: "event" | "command" | "aggregate",
  typeName: string,
): void {
  if (isStorableText(typeName)) return;
  throw new UnstorableTextError(
    { kind: "typeName", typeKind, typeName },
    describeUnstorableText(typeName) as string,
  );
}

/**
 * Throws {@linkcode UnstorableTextError} for the first unstorable text in a
 * commit: the command's type, user id and payload, and each stream's
 * aggregate type, partition key, unique keys, event types and payloads.
 * Cheap when there is none: one scan of each string and payload.
 */
export function checkStorableCommit(
  command: SerializedCommand,
  streams: readonly StreamCommit[],
): void {
  checkTypeName("command", command.commandType);
  const userId = command.userId;
  if (typeof userId === "string" && !isStorableText(userId)) {
    throw new UnstorableTextError(
      { kind: "command", commandType: command.commandType, path: "userId" },
      describeUnstorableText(userId) as string,
    );
  }
  const inCommand = findUnstorableInJsonText(command.payload);
  if (inCommand) {
    throw new UnstorableTextError(
      {
        kind: "command",
        commandType: command.commandType,
        path: inCommand.path,
      },
      inCommand.problem,
    );
  }
  for (const stream of streams) {
    const aggregateId = stream.aggregateId;
    checkTypeName("aggregate", stream.aggregateType);
    if (!isStorableText(stream.partitionKey)) {
      throw new UnstorableTextError(
        { kind: "partitionKey", aggregateId },
        describeUnstorableText(stream.partitionKey) as string,
      );
    }
    if (stream.uniqueKeys !== undefined) {
      checkUniqueKeys(aggregateId, stream.uniqueKeys);
    }
    for (const event of stream.events) {
      checkTypeName("event", event.eventType);
      const found = findUnstorableInJsonText(event.payload);
      if (found) {
        throw new UnstorableTextError(
          {
            kind: "event",
            eventType: event.eventType,
            aggregateId: event.aggregateId,
            sequenceNumber: event.sequenceNumber,
            path: found.path,
          },
          found.problem,
        );
      }
    }
  }
}

function checkUniqueKeys(
  aggregateId: string,
  keys: Readonly<Record<string, JsonValue>>,
): void {
  for (const scope of Object.keys(keys)) {
    const inScope = describeUnstorableText(scope);
    if (inScope !== undefined) {
      throw new UnstorableTextError(
        { kind: "uniqueKey", aggregateId, scope, path: "" },
        `has a scope that ${inScope}`,
      );
    }
    const found = findUnstorableJsonText(keys[scope], MAX_NESTING_DEPTH);
    if (found) {
      throw new UnstorableTextError(
        { kind: "uniqueKey", aggregateId, scope, path: found.path },
        found.problem,
      );
    }
    const bytes = encoder.encode(JSON.stringify(keys[scope] ?? null)).length +
      encoder.encode(scope).length;
    if (bytes > MAX_UNIQUE_KEY_BYTES) {
      throw new UnstorableTextError(
        { kind: "uniqueKey", aggregateId, scope, path: "" },
        `is ${bytes} bytes long, more than the ${MAX_UNIQUE_KEY_BYTES} a unique key may be`,
      );
    }
  }
}

const encoder = new TextEncoder();

/**
 * The most bytes a unique key (its scope plus its JSON) may take. An index
 * entry of PostgreSQL holds about 2,700 bytes; a longer key would fail
 * there with a raw error and pass in memory, so every store refuses it.
 */
export const MAX_UNIQUE_KEY_BYTES = 2000;

/** Whether a unique key lookup can match anything: its text is storable. */
export function isStorableUniqueKey(scope: string, key: JsonValue): boolean {
  return isStorableText(scope) &&
    !findUnstorableJsonText(key, MAX_NESTING_DEPTH);
}

/** Throws {@linkcode UnstorableTextError} for unstorable text in snapshots. */
export function checkStorableSnapshots(
  snapshots: readonly SerializedSnapshot[],
): void {
  for (const snapshot of snapshots) {
    const found = findUnstorableInJsonText(snapshot.data);
    if (found) {
      throw new UnstorableTextError(
        {
          kind: "snapshot",
          aggregateId: snapshot.aggregateId,
          path: found.path,
        },
        found.problem,
      );
    }
  }
}
