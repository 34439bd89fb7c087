/**
 * Turns events, commands and snapshots into stored rows and back. Reading
 * is strict: an unknown type, a payload that is not JSON, a failed upcaster
 * or an attribute of the wrong type is a {@linkcode DeserializeEventError}
 * naming the aggregate, sequence number and type.
 *
 * @module
 */
import { newCommandId } from "./_command_id.ts";
import {
  AttributeReadError,
  attributesFromJson,
  constructStored,
  readStored,
  type StoredReader,
  storedReader,
} from "./attributed.ts";
import type { AttributedClass } from "./attributed.ts";
import { type Command, COMMAND_BASE_KEYS } from "./command.ts";
import { DeserializeEventError, SequentError } from "./errors.ts";
import {
  type Event,
  EVENT_BASE_KEYS,
  type Upcaster,
  upcastersOf,
} from "./event.ts";
import type { SerializedCommand, SerializedEvent } from "./event_store.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.ts";
import { type AnyClass, TypeRegistry } from "./type_registry.ts";

interface EventType {
  readonly cls: (new (init: object) => Event) & AttributedClass;
  readonly upcasters: readonly Upcaster[];
  /** Its own attributes (not the base keys), compiled for reading. */
  readonly reader: StoredReader;
}

function unreadable(
  row: SerializedEvent,
  reason: string,
  cause?: unknown,
): DeserializeEventError {
  return new DeserializeEventError(
    row.aggregateId,
    row.sequenceNumber,
    row.eventType,
    reason,
    cause === undefined ? undefined : { cause },
  );
}

/** Serialises and deserialises messages for one app. */
export class MessageSerializer {
  /** The app's type registry. */
  readonly registry: TypeRegistry;
  readonly #eventTypes = new Map<string, EventType>();
  #version = -1;

  /**
   * Creates the instance.
   *
   * @param registry The app's type registry.
   */
  constructor(registry: TypeRegistry = new TypeRegistry()) {
    this.registry = registry;
  }

  /** An event as a stored row. */
  serializeEvent(event: Event): SerializedEvent {
    const cls = event.constructor as unknown as AttributedClass;
    this.registry.register("event", event.constructor as AnyClass);
    return {
      aggregateId: event.aggregateId,
      sequenceNumber: event.sequenceNumber,
      createdAt: event.createdAt,
      eventType: cls.typeName,
      payload: JSON.stringify(event.payload()),
    };
  }

  /**
   * A command as a command-log row. Its id is the command's own, else
   * `commandId`, else a new one.
   */
  serializeCommand(command: Command, commandId?: string): SerializedCommand {
    const cls = command.constructor as unknown as AttributedClass;
    this.registry.register("command", command.constructor as AnyClass);
    return {
      commandId: command.commandId ?? commandId ?? newCommandId(),
      commandType: cls.typeName,
      aggregateId: command.aggregateId,
      userId: command.userId,
      eventAggregateId: command.eventAggregateId,
      eventSequenceNumber: command.eventSequenceNumber,
      payload: JSON.stringify(command.payload()),
    };
  }

  /**
   * A stored event row as an instance of its class, after its upcasters.
   *
   * @throws {DeserializeEventError} when the row cannot be read.
   */
  deserializeEvent(row: SerializedEvent): Event {
    const type = this.#eventType(row);
    let payload: JsonValue;
    try {
      payload = JSON.parse(row.payload) as JsonValue;
    } catch (error) {
      throw unreadable(row, "its payload is not valid JSON", error);
    }
    if (!isJsonObject(payload)) {
      throw unreadable(row, "its payload is not a JSON object");
    }
    let json: JsonObject = payload;
    const upcasters = type.upcasters;
    for (let i = 0; i < upcasters.length; i++) {
      let result: unknown;
      try {
        result = (upcasters[i] as Upcaster)(json);
      } catch (error) {
        throw unreadable(
          row,
          `upcaster ${i + 1} failed: ${
            error instanceof Error ? error.message : String(error)
          }`,
          error,
        );
      }
      if (!isJsonObject(result)) {
        throw unreadable(row, `upcaster ${i + 1} did not return a JSON object`);
      }
      json = result;
    }
    // the base keys first: every event's values start with one shape
    const values: Record<string, unknown> = {
      aggregateId: row.aggregateId,
      sequenceNumber: row.sequenceNumber,
      createdAt: row.createdAt,
    };
    try {
      readStored(type.reader, json, values);
    } catch (error) {
      if (error instanceof AttributeReadError) {
        throw unreadable(row, error.message, error);
      }
      throw error;
    }
    return constructStored(type.cls, values);
  }

  #eventType(row: SerializedEvent): EventType {
    const registry = this.registry;
    if (this.#version !== registry.version) {
      this.#eventTypes.clear();
      this.#version = registry.version;
    }
    let type = this.#eventTypes.get(row.eventType);
    if (type) return type;
    let found: unknown;
    try {
      found = registry.lookup("event", row.eventType);
    } catch (error) {
      if (error instanceof SequentError) {
        throw unreadable(row, error.message, error);
      }
      throw error;
    }
    if (!found) {
      throw unreadable(
        row,
        "unknown event type: declare it with Event.define() and import it, or add an upcaster",
      );
    }
    const cls = found as EventType["cls"];
    type = {
      cls,
      upcasters: upcastersOf(cls),
      reader: storedReader(cls, EVENT_BASE_KEYS),
    };
    this.#version = registry.version;
    this.#eventTypes.set(row.eventType, type);
    return type;
  }

  /**
   * A command-log row as an instance of its command class.
   *
   * @throws {SequentError} naming the type when it cannot be read.
   */
  deserializeCommand(row: SerializedCommand): Command {
    const cls = this.registry.lookup("command", row.commandType) as
      | ((new (init: object) => Command) & AttributedClass)
      | undefined;
    if (!cls) {
      throw new SequentError(`Unknown command type "${row.commandType}"`);
    }
    let values: Record<string, unknown>;
    try {
      const json = JSON.parse(row.payload) as JsonValue;
      if (!isJsonObject(json)) {
        throw new TypeError("its payload is not a JSON object");
      }
      values = attributesFromJson(cls, json, COMMAND_BASE_KEYS);
    } catch (error) {
      throw new SequentError(
        `Cannot read command "${row.commandType}": ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
    values.aggregateId = row.aggregateId;
    values.commandId = row.commandId;
    values.userId = row.userId;
    values.eventAggregateId = row.eventAggregateId;
    values.eventSequenceNumber = row.eventSequenceNumber;
    return new cls(values);
  }
}
