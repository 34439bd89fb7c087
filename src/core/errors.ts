/**
 * The framework's errors: one base class, {@linkcode SequentError}, and a
 * subclass per condition a caller may want to catch. Each carries the
 * structured facts of what went wrong (ids, versions, the errors map) as
 * fields, so callers never parse messages.
 *
 * @module
 */

/**
 * Validation errors keyed by field path (`title`, `address.street`,
 * `lines.1.amount`), each with one or more messages.
 */
export type ValidationErrors = Readonly<Record<string, readonly string[]>>;

/**
 * The base class of every error the framework raises on purpose.
 *
 * @example Catch any framework error
 * ```ts
 * import { AggregateNotFoundError, SequentError } from "@sequent/core";
 *
 * const error: unknown = new AggregateNotFoundError(["3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f"]);
 * console.assert(error instanceof SequentError);
 * ```
 */
export class SequentError extends Error {
  /**
   * Creates an error with a message and an optional cause.
   *
   * @param message What went wrong, naming the values involved.
   * @param options `cause`: the underlying error, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SequentError";
  }
}

function describeErrors(errors: ValidationErrors): string {
  return Object.entries(errors)
    .map(([path, messages]) =>
      // the empty path holds errors of the input as a whole
      path === "" ? messages.join(", ") : `${path} ${messages.join(", ")}`
    )
    .join("; ");
}

/**
 * A command failed validation; nothing of it was executed. `errors` is keyed
 * by field path; the empty path `""` holds errors of the input as a whole
 * (`fromParams` given something other than an object).
 *
 * @example
 * ```ts
 * import { CommandNotValidError } from "@sequent/core";
 *
 * const error = new CommandNotValidError("AddPost", { title: ["can't be blank"] });
 * console.assert(error.errors.title?.[0] === "can't be blank");
 * console.assert(error.message === 'Command "AddPost" is not valid: title can\'t be blank');
 * ```
 */
export class CommandNotValidError extends SequentError {
  /** The type name of the invalid command. */
  readonly commandType: string;
  /** The validation errors, keyed by field path. */
  readonly errors: ValidationErrors;

  /**
   * Creates the error.
   *
   * @param commandType The command's type name.
   * @param errors The validation errors keyed by field path.
   */
  constructor(commandType: string, errors: ValidationErrors) {
    super(
      `Command "${commandType}" is not valid: ${describeErrors(errors)}`,
    );
    this.name = "CommandNotValidError";
    this.commandType = commandType;
    this.errors = errors;
  }
}

/**
 * No stream was found for one or more aggregate ids.
 *
 * @example
 * ```ts
 * import { AggregateNotFoundError } from "@sequent/core";
 *
 * const error = new AggregateNotFoundError(["a"]);
 * console.assert(error.message === 'Aggregate "a" not found');
 * ```
 */
export class AggregateNotFoundError extends SequentError {
  /** The ids that were not found. */
  readonly aggregateIds: readonly string[];

  /**
   * Creates the error.
   *
   * @param aggregateIds The ids that were not found.
   */
  constructor(aggregateIds: readonly string[]) {
    super(
      aggregateIds.length === 1
        ? `Aggregate "${aggregateIds[0]}" not found`
        : `Aggregates not found: ${
          aggregateIds.map((id) => `"${id}"`).join(", ")
        }`,
    );
    this.name = "AggregateNotFoundError";
    this.aggregateIds = aggregateIds;
  }
}

/**
 * An aggregate was loaded as a class other than the one that stored it.
 *
 * @example
 * ```ts
 * import { AggregateTypeMismatchError } from "@sequent/core";
 *
 * const error = new AggregateTypeMismatchError("a", "Post", "Author");
 * console.assert(error.actualType === "Author");
 * ```
 */
export class AggregateTypeMismatchError extends SequentError {
  /** The aggregate's id. */
  readonly aggregateId: string;
  /** The type the caller asked for. */
  readonly expectedType: string;
  /** The type the aggregate actually has. */
  readonly actualType: string;

  /**
   * Creates the error.
   *
   * @param aggregateId The aggregate's id.
   * @param expectedType The type asked for.
   * @param actualType The type it has.
   */
  constructor(aggregateId: string, expectedType: string, actualType: string) {
    super(
      `Aggregate "${aggregateId}" is a ${actualType}, not a ${expectedType}`,
    );
    this.name = "AggregateTypeMismatchError";
    this.aggregateId = aggregateId;
    this.expectedType = expectedType;
    this.actualType = actualType;
  }
}

/**
 * An aggregate with this id is already part of the unit of work or stored.
 *
 * @example
 * ```ts
 * import { DuplicateAggregateError } from "@sequent/core";
 *
 * const error = new DuplicateAggregateError("a");
 * console.assert(error.aggregateId === "a");
 * ```
 */
export class DuplicateAggregateError extends SequentError {
  /** The duplicated id. */
  readonly aggregateId: string;

  /**
   * Creates the error.
   *
   * @param aggregateId The duplicated id.
   */
  constructor(aggregateId: string) {
    super(`Aggregate "${aggregateId}" already exists`);
    this.name = "DuplicateAggregateError";
    this.aggregateId = aggregateId;
  }
}

/**
 * Another writer stored events for this aggregate first: the sequence numbers
 * being stored would duplicate or skip stored ones. Reload and retry.
 *
 * @example
 * ```ts
 * import { OptimisticLockError } from "@sequent/core";
 *
 * const error = new OptimisticLockError("a", 3, 4);
 * console.assert(error.message.includes('"a"'));
 * ```
 */
export class OptimisticLockError extends SequentError {
  /** The aggregate whose stream changed concurrently. */
  readonly aggregateId: string;
  /** The first sequence number this commit tried to store. */
  readonly sequenceNumber: number | undefined;
  /** The sequence number that was expected next, when known. */
  readonly expectedSequenceNumber: number | undefined;

  /**
   * Creates the error.
   *
   * @param aggregateId The aggregate's id.
   * @param sequenceNumber The first sequence number being stored.
   * @param expectedSequenceNumber The next sequence number the store expected.
   * @param options `cause`: the database error, if any.
   */
  constructor(
    aggregateId: string,
    sequenceNumber?: number,
    expectedSequenceNumber?: number,
    options?: ErrorOptions,
  ) {
    const detail = sequenceNumber === undefined
      ? ""
      : expectedSequenceNumber === undefined
      ? `: sequence number ${sequenceNumber} is taken`
      : `: tried to store sequence number ${sequenceNumber}, expected ${expectedSequenceNumber}`;
    super(
      `Aggregate "${aggregateId}" was changed concurrently${detail}`,
      options,
    );
    this.name = "OptimisticLockError";
    this.aggregateId = aggregateId;
    this.sequenceNumber = sequenceNumber;
    this.expectedSequenceNumber = expectedSequenceNumber;
  }
}

/**
 * A unique key (scope plus key) is already claimed by another aggregate.
 *
 * @example
 * ```ts
 * import { AggregateKeyNotUniqueError } from "@sequent/core";
 *
 * const error = new AggregateKeyNotUniqueError("author_email", "ben@example.com", "b", "Author");
 * console.assert(error.scope === "author_email");
 * ```
 */
export class AggregateKeyNotUniqueError extends SequentError {
  /** The unique key's scope. */
  readonly scope: string;
  /** The key that is taken. */
  readonly key: unknown;
  /** The aggregate that tried to claim it. */
  readonly aggregateId: string;
  /** The type of the aggregate that tried to claim it. */
  readonly aggregateType: string;

  /**
   * Creates the error.
   *
   * @param scope The unique key's scope.
   * @param key The key value.
   * @param aggregateId The claiming aggregate.
   * @param aggregateType The claiming aggregate's type.
   * @param options `cause`: the database error, if any.
   */
  constructor(
    scope: string,
    key: unknown,
    aggregateId: string,
    aggregateType: string,
    options?: ErrorOptions,
  ) {
    // worded so the claimer is not read as the holder (the holder is not
    // named: on PostgreSQL, it is not known when the claim fails)
    super(
      `${
        aggregateType || "Aggregate"
      } "${aggregateId}" cannot claim unique key ${scope} ${
        JSON.stringify(key)
      }: another aggregate holds it`,
      options,
    );
    this.name = "AggregateKeyNotUniqueError";
    this.scope = scope;
    this.key = key;
    this.aggregateId = aggregateId;
    this.aggregateType = aggregateType;
  }
}

/**
 * A stored event could not be turned back into its class: an unknown type, a
 * field of the wrong type, or an upcaster that failed.
 *
 * @example
 * ```ts
 * import { DeserializeEventError } from "@sequent/core";
 *
 * const error = new DeserializeEventError("a", 3, "PostAdded", "unknown event type");
 * console.assert(error.message === 'Cannot read event 3 of aggregate "a" (PostAdded): unknown event type');
 * ```
 */
export class DeserializeEventError extends SequentError {
  /** The event's aggregate. */
  readonly aggregateId: string;
  /** The event's sequence number. */
  readonly sequenceNumber: number;
  /** The stored type name. */
  readonly eventType: string;

  /**
   * Creates the error.
   *
   * @param aggregateId The event's aggregate.
   * @param sequenceNumber The event's sequence number.
   * @param eventType The stored type name.
   * @param reason Why it could not be read.
   * @param options `cause`: the underlying error, if any.
   */
  constructor(
    aggregateId: string,
    sequenceNumber: number,
    eventType: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `Cannot read event ${sequenceNumber} of aggregate "${aggregateId}" (${eventType}): ${reason}`,
      options,
    );
    this.name = "DeserializeEventError";
    this.aggregateId = aggregateId;
    this.sequenceNumber = sequenceNumber;
    this.eventType = eventType;
  }
}

/**
 * Two different classes were registered under the same stored type name.
 *
 * @example
 * ```ts
 * import { DuplicateTypeNameError } from "@sequent/core";
 *
 * const error = new DuplicateTypeNameError("event", "PostAdded");
 * console.assert(error.typeName === "PostAdded");
 * ```
 */
export class DuplicateTypeNameError extends SequentError {
  /** What kind of type: `"event"`, `"command"`, `"aggregate"`, … */
  readonly kind: string;
  /** The clashing type name. */
  readonly typeName: string;

  /**
   * Creates the error.
   *
   * @param kind What kind of type.
   * @param typeName The clashing name.
   */
  constructor(kind: string, typeName: string) {
    super(
      `Two different ${kind} classes use the type name "${typeName}": type names must be unique`,
    );
    this.name = "DuplicateTypeNameError";
    this.kind = kind;
    this.typeName = typeName;
  }
}

/**
 * A message was given an attribute its class does not declare.
 *
 * @example
 * ```ts
 * import { UnknownAttributeError } from "@sequent/core";
 *
 * const error = new UnknownAttributeError("AddPost", "titel");
 * console.assert(error.attribute === "titel");
 * ```
 */
export class UnknownAttributeError extends SequentError {
  /** The message's type name. */
  readonly messageType: string;
  /** The undeclared attribute. */
  readonly attribute: string;

  /**
   * Creates the error.
   *
   * @param messageType The message's type name.
   * @param attribute The undeclared attribute.
   */
  constructor(messageType: string, attribute: string) {
    super(`${messageType} has no attribute "${attribute}"`);
    this.name = "UnknownAttributeError";
    this.messageType = messageType;
    this.attribute = attribute;
  }
}

/**
 * A command reached the command service but no command handler handles it.
 *
 * @example
 * ```ts
 * import { NoCommandHandlerError } from "@sequent/core";
 *
 * const error = new NoCommandHandlerError("AddPost");
 * console.assert(error.commandType === "AddPost");
 * ```
 */
export class NoCommandHandlerError extends SequentError {
  /** The unhandled command's type name. */
  readonly commandType: string;

  /**
   * Creates the error.
   *
   * @param commandType The unhandled command's type name.
   */
  constructor(commandType: string) {
    super(`No command handler handles "${commandType}"`);
    this.name = "NoCommandHandlerError";
    this.commandType = commandType;
  }
}

/**
 * The unit of work was cleared or left while aggregates still had events
 * that were never committed.
 *
 * @example
 * ```ts
 * import { HasUncommittedEventsError } from "@sequent/core";
 *
 * const error = new HasUncommittedEventsError(["a"]);
 * console.assert(error.aggregateIds[0] === "a");
 * ```
 */
export class HasUncommittedEventsError extends SequentError {
  /** The aggregates holding uncommitted events. */
  readonly aggregateIds: readonly string[];

  /**
   * Creates the error.
   *
   * @param aggregateIds The aggregates holding uncommitted events.
   */
  constructor(aggregateIds: readonly string[]) {
    super(
      `Aggregates have uncommitted events: ${
        aggregateIds.map((id) => `"${id}"`).join(", ")
      }`,
    );
    this.name = "HasUncommittedEventsError";
    this.aggregateIds = aggregateIds;
  }
}

/**
 * An aggregate loaded only to be read (by `App.loadAggregate`, or as it
 * was at a past instant) was asked to change.
 *
 * @example
 * ```ts
 * import { ReadOnlyAggregateError } from "@sequent/core";
 *
 * const error = new ReadOnlyAggregateError("a");
 * console.assert(error.aggregateId === "a");
 * ```
 */
export class ReadOnlyAggregateError extends SequentError {
  /** The read-only aggregate's id. */
  readonly aggregateId: string;

  /**
   * Creates the error.
   *
   * @param aggregateId The read-only aggregate's id.
   */
  constructor(aggregateId: string) {
    super(
      `Aggregate "${aggregateId}" was loaded to be read (outside a command, or as of a past instant): execute a command to change it`,
    );
    this.name = "ReadOnlyAggregateError";
    this.aggregateId = aggregateId;
  }
}

/**
 * A projector wrote a record table it does not list in `manages`.
 *
 * @example
 * ```ts
 * import { NotManagedByThisProjectorError } from "@sequent/core";
 *
 * const error = new NotManagedByThisProjectorError("PostProjector", "author_records");
 * console.assert(error.table === "author_records");
 * ```
 */
export class NotManagedByThisProjectorError extends SequentError {
  /** The projector's class name. */
  readonly projector: string;
  /** The table it tried to write. */
  readonly table: string;

  /**
   * Creates the error.
   *
   * @param projector The projector's class name.
   * @param table The table it tried to write.
   */
  constructor(projector: string, table: string) {
    super(
      `${projector} does not manage table "${table}": add it to its static manages list`,
    );
    this.name = "NotManagedByThisProjectorError";
    this.projector = projector;
    this.table = table;
  }
}

/**
 * No row of a record table matched where one was required.
 *
 * @example
 * ```ts
 * import { RecordNotFoundError } from "@sequent/core";
 *
 * const error = new RecordNotFoundError("post_records", { aggregateId: "a" });
 * console.assert(error.message === 'No row of "post_records" where {"aggregateId":"a"}');
 * ```
 */
export class RecordNotFoundError extends SequentError {
  /** The table. */
  readonly table: string;
  /** The condition no row met. */
  readonly where: Readonly<Record<string, unknown>>;

  /**
   * Creates the error.
   *
   * @param table The table.
   * @param where The condition no row met.
   */
  constructor(table: string, where: Readonly<Record<string, unknown>>) {
    super(`No row of "${table}" where ${safeJson(where)}`);
    this.name = "RecordNotFoundError";
    this.table = table;
    this.where = where;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(
      value,
      (_k, v) => typeof v === "bigint" ? String(v) : v,
    );
  } catch {
    return String(value);
  }
}

/**
 * A row with the same primary key (or unique index value) already exists.
 *
 * @example
 * ```ts
 * import { DuplicateRecordError } from "@sequent/core";
 *
 * const error = new DuplicateRecordError("post_records", { aggregateId: "a" });
 * console.assert(error.table === "post_records");
 * ```
 */
export class DuplicateRecordError extends SequentError {
  /** The table. */
  readonly table: string;
  /** The key that is already taken. */
  readonly key: Readonly<Record<string, unknown>>;

  /**
   * Creates the error.
   *
   * @param table The table.
   * @param key The key that is already taken.
   * @param options `cause`: the database error, if any.
   */
  constructor(
    table: string,
    key: Readonly<Record<string, unknown>>,
    options?: ErrorOptions,
  ) {
    super(`A row of "${table}" with ${safeJson(key)} already exists`, options);
    this.name = "DuplicateRecordError";
    this.table = table;
    this.key = key;
  }
}

/**
 * The store refused a processor's read-model writes for their data's sake
 * (a key already taken, a value out of a column's range, a check that
 * failed) when it sent them, after the handlers had run: a store that
 * gathers a batch's rows finds out at its end, not in the handler that
 * wrote the row. The runner then handles the batch again one event at a
 * time and sets aside the aggregate whose event's writes are refused, as
 * it does for a handler that throws; other aggregates go on.
 *
 * @example
 * ```ts
 * import { RecordWriteRejectedError, SequentError } from "@sequent/core";
 *
 * const error = new RecordWriteRejectedError(
 *   'duplicate key value violates unique constraint "names_pkey"',
 * );
 * console.assert(error instanceof SequentError);
 * ```
 */
export class RecordWriteRejectedError extends SequentError {
  /**
   * Creates the error.
   *
   * @param reason The store's reason, quoted in the message.
   * @param options `cause`: the database error, if any.
   */
  constructor(reason: string, options?: ErrorOptions) {
    super(`The store refused the read-model writes: ${reason}`, options);
    this.name = "RecordWriteRejectedError";
  }
}

/**
 * The connection to the database was lost while a commit awaited its
 * answer: the commands may or may not have been stored. Each stored
 * command keeps its id, so ask rather than guess: `commandStored(id)` on
 * the event store (or the app) answers for each of `commandIds`, waiting
 * for a commit still under way on the server. Executing a command again
 * with the same `commandId` is always safe: a command id is stored at most
 * once ({@linkcode DuplicateCommandError} tells it already was).
 *
 * @example
 * ```ts
 * import { CommitOutcomeUnknownError } from "@sequent/core";
 *
 * const error = new CommitOutcomeUnknownError(["0190d6a4-57c2-7c3e-8f5e-1b2c3d4e5f60"]);
 * console.assert(error.commandIds.length === 1);
 * ```
 */
export class CommitOutcomeUnknownError extends SequentError {
  /** The ids of the commands whose commit may or may not be stored. */
  readonly commandIds: readonly string[];

  /**
   * Creates the error.
   *
   * @param commandIds The commands of the commit.
   * @param options `cause`: the connection error.
   */
  constructor(commandIds: readonly string[], options?: ErrorOptions) {
    super(
      `The connection to the database was lost while committing command${
        commandIds.length === 1 ? "" : "s"
      } ${commandIds.map((id) => `"${id}"`).join(", ")}: whether ${
        commandIds.length === 1 ? "it was" : "they were"
      } stored is unknown; ask commandStored(id)`,
      options,
    );
    this.name = "CommitOutcomeUnknownError";
    this.commandIds = Object.freeze([...commandIds]);
  }
}

/**
 * A command with this `commandId` is already stored: command ids are
 * stored at most once, so executing a command again after
 * {@linkcode CommitOutcomeUnknownError} can never store it twice. Nothing
 * of the unit of work that tried is stored.
 *
 * @example
 * ```ts
 * import { DuplicateCommandError } from "@sequent/core";
 *
 * const error = new DuplicateCommandError("0190d6a4-57c2-7c3e-8f5e-1b2c3d4e5f60");
 * console.assert(error.message.includes("already stored"));
 * ```
 */
export class DuplicateCommandError extends SequentError {
  /** The command id that is already stored. */
  readonly commandId: string;

  /**
   * Creates the error.
   *
   * @param commandId The id.
   * @param options `cause`: the database error, if any.
   */
  constructor(commandId: string, options?: ErrorOptions) {
    super(`Command "${commandId}" is already stored`, options);
    this.name = "DuplicateCommandError";
    this.commandId = commandId;
  }
}

/**
 * Executing commands took longer than the time they were given
 * (`timeoutMs`, or the app's `commandTimeoutMs`). Nothing of them was
 * stored, unless the error's `cause` is a {@linkcode CommitOutcomeUnknownError}.
 *
 * @example
 * ```ts
 * import { CommandTimeoutError } from "@sequent/core";
 *
 * const error = new CommandTimeoutError(5_000, ["AddPost"]);
 * console.assert(error.timeoutMs === 5_000);
 * ```
 */
export class CommandTimeoutError extends SequentError {
  /** The time the commands were given, in milliseconds. */
  readonly timeoutMs: number;

  /**
   * Creates the error.
   *
   * @param timeoutMs The time the commands were given.
   * @param commandTypes Their type names, for the message.
   * @param options `cause`, if any.
   */
  constructor(
    timeoutMs: number,
    commandTypes: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `${
        commandTypes.join(", ") || "The commands"
      } did not finish within ${timeoutMs} ms: nothing of ${
        commandTypes.length === 1 ? "it" : "them"
      } was stored`,
      options,
    );
    this.name = "CommandTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The handlers and workflows of a unit of work issued as many commands as
 * they may (the command service's `maxCommandsPerUnit`) and had more to
 * run: most likely a workflow that
 * issues a command whose events reach it again, so the unit would never
 * end. `commandType` names the command that keeps coming back (the most
 * frequent of those still to run). Nothing of the unit was stored.
 *
 * @example
 * ```ts
 * import { TooManyCommandsError } from "@sequent/core";
 *
 * const error = new TooManyCommandsError("Ping", 10_000);
 * console.assert(error.commandType === "Ping" && error.limit === 10_000);
 * ```
 */
export class TooManyCommandsError extends SequentError {
  /** The type name of the command that keeps coming back. */
  readonly commandType: string;
  /** How many commands the unit's handlers and workflows could issue. */
  readonly limit: number;

  /**
   * Creates the error.
   *
   * @param commandType The command that keeps coming back.
   * @param limit How many commands the unit's handlers and workflows could
   *   issue.
   */
  constructor(commandType: string, limit: number) {
    super(
      `Command "${commandType}" keeps coming back: the handlers and workflows of the unit of work issued ${limit} commands, its limit (maxCommandsPerUnit), and had more to run. Does a workflow issue it for events it causes? Nothing of the unit was stored`,
    );
    this.name = "TooManyCommandsError";
    this.commandType = commandType;
    this.limit = limit;
  }
}

/**
 * Where text that no store can hold was about to be stored: which message,
 * key, column or name held it. Paths follow the errors-map convention
 * (`lines.1.amount`); `""` is the value itself.
 *
 * @example
 * ```ts
 * import type { UnstorableTextLocation } from "@sequent/core";
 *
 * function where(location: UnstorableTextLocation): string {
 *   return location.kind === "record" ? `${location.table}.${location.column}` : location.kind;
 * }
 * ```
 */
export type UnstorableTextLocation =
  | {
    /** An attribute of an event (its payload). */
    readonly kind: "event";
    /** The event's type name. */
    readonly eventType: string;
    /** The event's aggregate. */
    readonly aggregateId: string;
    /** The event's sequence number. */
    readonly sequenceNumber: number;
    /** The attribute's path inside the payload. */
    readonly path: string;
  }
  | {
    /** An attribute of a command record (its payload, or `userId`). */
    readonly kind: "command";
    /** The command's type name. */
    readonly commandType: string;
    /** The attribute's path (`userId` for the user id). */
    readonly path: string;
  }
  | {
    /** A unique key (its scope, or a string in its value). */
    readonly kind: "uniqueKey";
    /** The aggregate claiming it. */
    readonly aggregateId: string;
    /** The key's scope. */
    readonly scope: string;
    /** The path inside the key's value (`""`: the key or its scope). */
    readonly path: string;
  }
  | {
    /** An aggregate's partition key. */
    readonly kind: "partitionKey";
    /** The aggregate. */
    readonly aggregateId: string;
  }
  | {
    /** A stored type name. */
    readonly kind: "typeName";
    /** Which kind of type. */
    readonly typeKind: "event" | "command" | "aggregate";
    /** The type name. */
    readonly typeName: string;
  }
  | {
    /** A snapshot's state. */
    readonly kind: "snapshot";
    /** The aggregate. */
    readonly aggregateId: string;
    /** The path inside the state. */
    readonly path: string;
  }
  | {
    /** A column of a record table (a value written or looked up). */
    readonly kind: "record";
    /** The table. */
    readonly table: string;
    /** The column's TypeScript name. */
    readonly column: string;
    /** The path inside a JSON column's value (`""`: the value itself). */
    readonly path: string;
  };

function describeLocation(location: UnstorableTextLocation): string {
  switch (location.kind) {
    case "event":
      return `Event ${location.eventType} ${location.sequenceNumber} of aggregate "${location.aggregateId}"`;
    case "command":
      return `Command ${location.commandType}`;
    case "uniqueKey":
      return `Unique key ${
        JSON.stringify(location.scope)
      } of aggregate "${location.aggregateId}"`;
    case "partitionKey":
      return `Partition key of aggregate "${location.aggregateId}"`;
    case "typeName":
      return `${location.typeKind[0]?.toUpperCase()}${
        location.typeKind.slice(1)
      } type name ${JSON.stringify(location.typeName)}`;
    case "snapshot":
      return `Snapshot of aggregate "${location.aggregateId}"`;
    case "record":
      return `Column ${location.column} of table ${location.table}`;
  }
}

function describeSubject(location: UnstorableTextLocation): string {
  const path = "path" in location ? location.path : "";
  if (location.kind === "event" || location.kind === "command") {
    return path === "" ? "its payload" : `attribute "${path}"`;
  }
  return path === "" ? "it" : `"${path}"`;
}

/**
 * Text that no store can hold — a NUL character (U+0000) or a lone
 * surrogate — was about to be stored: in an event or command attribute, a
 * user id, a unique key, a partition key, a type name, a snapshot or a
 * record column. Nothing of the unit of work is stored. Commands never get
 * this far with such input: validation reports it as
 * {@linkcode CommandNotValidError}; this error means domain code produced
 * the text.
 *
 * @example
 * ```ts
 * import { UnstorableTextError } from "@sequent/core";
 *
 * const error = new UnstorableTextError(
 *   { kind: "record", table: "post_records", column: "title", path: "" },
 *   "contains a NUL character (U+0000) at index 4",
 * );
 * console.assert(
 *   error.message ===
 *     "Column title of table post_records cannot be stored: it contains a NUL character (U+0000) at index 4",
 * );
 * ```
 */
export class UnstorableTextError extends SequentError {
  /** What held the text. */
  readonly location: UnstorableTextLocation;
  /** What is wrong: `contains a NUL character (U+0000) at index 4`, … */
  readonly problem: string;

  /**
   * Creates the error.
   *
   * @param location What held the text.
   * @param problem What is wrong with it.
   */
  constructor(location: UnstorableTextLocation, problem: string) {
    super(
      `${describeLocation(location)} cannot be stored: ${
        describeSubject(location)
      } ${problem}`,
    );
    this.name = "UnstorableTextError";
    this.location = location;
    this.problem = problem;
  }
}

/**
 * The read side is not ready for the command: the view schema is behind
 * the application's versions (never migrated, say), or the application's
 * read-side declarations disagree with the database (a projector in no
 * version, a column added without a new version). The message says what
 * to do; `cause` is the database's own error. Nothing was stored.
 *
 * @example
 * ```ts
 * import { ViewSchemaNotReadyError } from "@sequent/core";
 *
 * const error = new ViewSchemaNotReadyError("view_schema", 0, 1, []);
 * console.assert(error.message.includes("run migrate"));
 * ```
 */
export class ViewSchemaNotReadyError extends SequentError {
  /** The view schema. */
  readonly viewSchema: string;
  /** The version its live tables are at (0: never migrated). */
  readonly currentVersion: number;
  /** The version the application declares. */
  readonly targetVersion: number;
  /** The disagreements found (see `MigrationStatus.problems`). */
  readonly problems: readonly string[];

  /**
   * Creates the error.
   *
   * @param viewSchema The view schema.
   * @param currentVersion Its version.
   * @param targetVersion The application's.
   * @param problems What disagrees, each with what to do.
   * @param options `cause`: the database's error.
   */
  constructor(
    viewSchema: string,
    currentVersion: number,
    targetVersion: number,
    problems: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      currentVersion < targetVersion
        ? `View schema "${viewSchema}" is at version ${currentVersion} of ${targetVersion}${
          currentVersion === 0 ? " (never migrated)" : ""
        }: run migrate first (in a generated app: deno task migrate)`
        : `View schema "${viewSchema}" does not match the application: ${
          problems.join("; ")
        }`,
      options,
    );
    this.name = "ViewSchemaNotReadyError";
    this.viewSchema = viewSchema;
    this.currentVersion = currentVersion;
    this.targetVersion = targetVersion;
    this.problems = Object.freeze([...problems]);
  }
}
