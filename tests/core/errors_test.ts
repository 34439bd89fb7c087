/**
 * The error hierarchy (src/core/errors.ts): every error is a SequentError
 * with its own name, structured fields, and a message naming the values.
 */
import assert from "node:assert/strict";
import {
  AggregateKeyNotUniqueError,
  AggregateNotFoundError,
  AggregateTypeMismatchError,
  CommandNotValidError,
  DeserializeEventError,
  DuplicateAggregateError,
  DuplicateTypeNameError,
  HasUncommittedEventsError,
  NoCommandHandlerError,
  OptimisticLockError,
  ReadOnlyAggregateError,
  SequentError,
  TooManyCommandsError,
  UnknownAttributeError,
  UnstorableTextError,
  type UnstorableTextLocation,
} from "@sequent/core";

const ID = "3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f";

/** Asserts the shared shape of every framework error. */
function assertSequentError(
  error: Error,
  name: string,
  message: string,
): void {
  assert.ok(error instanceof SequentError, name);
  assert.ok(error instanceof Error, name);
  assert.equal(error.name, name);
  assert.equal(error.message, message);
  assert.equal(String(error), `${name}: ${message}`);
  assert.equal(typeof error.stack, "string");
}

Deno.test("SequentError is an Error with a message and an optional cause", () => {
  const cause = new Error("underneath");
  const error = new SequentError("it broke", { cause });
  assertSequentError(error, "SequentError", "it broke");
  assert.equal(error.cause, cause);
  assert.equal(new SequentError("x").cause, undefined);
});

Deno.test("CommandNotValidError carries the command type and the errors by field path", () => {
  const errors = {
    title: ["can't be blank"],
    "lines.1.amount": ["is not a valid decimal", "must be positive"],
  };
  const error = new CommandNotValidError("AddPost", errors);
  assertSequentError(
    error,
    "CommandNotValidError",
    'Command "AddPost" is not valid: title can\'t be blank; lines.1.amount is not a valid decimal, must be positive',
  );
  assert.equal(error.commandType, "AddPost");
  assert.deepEqual(error.errors, errors);
});

Deno.test("AggregateNotFoundError names one id, or lists several", () => {
  const one = new AggregateNotFoundError([ID]);
  assertSequentError(
    one,
    "AggregateNotFoundError",
    `Aggregate "${ID}" not found`,
  );
  assert.deepEqual(one.aggregateIds, [ID]);
  const two = new AggregateNotFoundError(["a", "b"]);
  assertSequentError(
    two,
    "AggregateNotFoundError",
    'Aggregates not found: "a", "b"',
  );
  assert.deepEqual(two.aggregateIds, ["a", "b"]);
});

Deno.test("AggregateTypeMismatchError names the id, the expected and the actual type", () => {
  const error = new AggregateTypeMismatchError(ID, "Post", "Author");
  assertSequentError(
    error,
    "AggregateTypeMismatchError",
    `Aggregate "${ID}" is a Author, not a Post`,
  );
  assert.equal(error.aggregateId, ID);
  assert.equal(error.expectedType, "Post");
  assert.equal(error.actualType, "Author");
});

Deno.test("DuplicateAggregateError names the id", () => {
  const error = new DuplicateAggregateError(ID);
  assertSequentError(
    error,
    "DuplicateAggregateError",
    `Aggregate "${ID}" already exists`,
  );
  assert.equal(error.aggregateId, ID);
});

Deno.test("OptimisticLockError names the aggregate and, when known, the sequence numbers", () => {
  const bare = new OptimisticLockError(ID);
  assertSequentError(
    bare,
    "OptimisticLockError",
    `Aggregate "${ID}" was changed concurrently`,
  );
  assert.equal(bare.sequenceNumber, undefined);
  assert.equal(bare.expectedSequenceNumber, undefined);
  const taken = new OptimisticLockError(ID, 3);
  assertSequentError(
    taken,
    "OptimisticLockError",
    `Aggregate "${ID}" was changed concurrently: sequence number 3 is taken`,
  );
  assert.equal(taken.sequenceNumber, 3);
  const gap = new OptimisticLockError(ID, 5, 4, { cause: "db" });
  assertSequentError(
    gap,
    "OptimisticLockError",
    `Aggregate "${ID}" was changed concurrently: tried to store sequence number 5, expected 4`,
  );
  assert.equal(gap.aggregateId, ID);
  assert.equal(gap.sequenceNumber, 5);
  assert.equal(gap.expectedSequenceNumber, 4);
  assert.equal(gap.cause, "db");
});

Deno.test("AggregateKeyNotUniqueError names the scope, the key and the claiming aggregate, and cannot be read as naming the holder", () => {
  const error = new AggregateKeyNotUniqueError(
    "author_email",
    "ben@example.com",
    ID,
    "Author",
  );
  assertSequentError(
    error,
    "AggregateKeyNotUniqueError",
    `Author "${ID}" cannot claim unique key author_email "ben@example.com": another aggregate holds it`,
  );
  assert.equal(error.scope, "author_email");
  assert.equal(error.key, "ben@example.com");
  assert.equal(error.aggregateId, ID);
  assert.equal(error.aggregateType, "Author");
  const structured = new AggregateKeyNotUniqueError("pair", { a: 1 }, ID, "X");
  assert.deepEqual(structured.key, { a: 1 });
  assert.match(
    structured.message,
    /^X "[^"]+" cannot claim unique key pair \{"a":1\}:/,
  );
  assert.match(
    new AggregateKeyNotUniqueError("k", 1, ID, "").message,
    /^Aggregate "[^"]+" cannot claim unique key k 1: another aggregate holds it$/,
  );
});

Deno.test("DeserializeEventError names the aggregate, sequence number, type and reason", () => {
  const cause = new SyntaxError("bad");
  const error = new DeserializeEventError(ID, 7, "PostAdded", "broken", {
    cause,
  });
  assertSequentError(
    error,
    "DeserializeEventError",
    `Cannot read event 7 of aggregate "${ID}" (PostAdded): broken`,
  );
  assert.equal(error.aggregateId, ID);
  assert.equal(error.sequenceNumber, 7);
  assert.equal(error.eventType, "PostAdded");
  assert.equal(error.cause, cause);
});

Deno.test("DuplicateTypeNameError names the kind and the type name", () => {
  const error = new DuplicateTypeNameError("command", "AddPost");
  assertSequentError(
    error,
    "DuplicateTypeNameError",
    'Two different command classes use the type name "AddPost": type names must be unique',
  );
  assert.equal(error.kind, "command");
  assert.equal(error.typeName, "AddPost");
});

Deno.test("UnknownAttributeError names the message type and the attribute", () => {
  const error = new UnknownAttributeError("AddPost", "titel");
  assertSequentError(
    error,
    "UnknownAttributeError",
    'AddPost has no attribute "titel"',
  );
  assert.equal(error.messageType, "AddPost");
  assert.equal(error.attribute, "titel");
});

Deno.test("NoCommandHandlerError names the command type", () => {
  const error = new NoCommandHandlerError("AddPost");
  assertSequentError(
    error,
    "NoCommandHandlerError",
    'No command handler handles "AddPost"',
  );
  assert.equal(error.commandType, "AddPost");
});

Deno.test("TooManyCommandsError names the command that keeps coming back and the limit", () => {
  const error = new TooManyCommandsError("Ping", 10_000);
  assertSequentError(
    error,
    "TooManyCommandsError",
    'Command "Ping" keeps coming back: the handlers and workflows of the unit of work issued 10000 commands, its limit (maxCommandsPerUnit), and had more to run. Does a workflow issue it for events it causes? Nothing of the unit was stored',
  );
  assert.equal(error.commandType, "Ping");
  assert.equal(error.limit, 10_000);
});

Deno.test("HasUncommittedEventsError lists the aggregates", () => {
  const error = new HasUncommittedEventsError(["a", "b"]);
  assertSequentError(
    error,
    "HasUncommittedEventsError",
    'Aggregates have uncommitted events: "a", "b"',
  );
  assert.deepEqual(error.aggregateIds, ["a", "b"]);
});

Deno.test("ReadOnlyAggregateError names the aggregate", () => {
  const error = new ReadOnlyAggregateError(ID);
  assertSequentError(
    error,
    "ReadOnlyAggregateError",
    `Aggregate "${ID}" was loaded to be read (outside a command, or as of a past instant): execute a command to change it`,
  );
  assert.equal(error.aggregateId, ID);
});

Deno.test("framework errors are told apart with instanceof", () => {
  const errors: SequentError[] = [
    new AggregateNotFoundError([ID]),
    new DuplicateAggregateError(ID),
    new OptimisticLockError(ID),
  ];
  assert.deepEqual(
    errors.map((e) => [
      e instanceof AggregateNotFoundError,
      e instanceof DuplicateAggregateError,
      e instanceof OptimisticLockError,
    ]),
    [[true, false, false], [false, true, false], [false, false, true]],
  );
});

Deno.test('CommandNotValidError shows errors of the whole input (the empty path "") without a path', () => {
  const error = new CommandNotValidError("AddPost", {
    "": ["params must be an object, got null"],
    title: ["can't be blank"],
  });
  assert.equal(
    error.message,
    'Command "AddPost" is not valid: params must be an object, got null; title can\'t be blank',
  );
});

Deno.test("UnstorableTextError names what held the text and what is wrong with it", () => {
  const NUL = "contains a NUL character (U+0000) at index 4";
  const cases: [UnstorableTextLocation, string, string][] = [
    [
      {
        kind: "event",
        eventType: "PostTitleChanged",
        aggregateId: ID,
        sequenceNumber: 2,
        path: "title",
      },
      NUL,
      `Event PostTitleChanged 2 of aggregate "${ID}" cannot be stored: attribute "title" ${NUL}`,
    ],
    [
      {
        kind: "event",
        eventType: "X",
        aggregateId: ID,
        sequenceNumber: 1,
        path: "",
      },
      'has a key "\\u0000" that contains a NUL character (U+0000) at index 0',
      `Event X 1 of aggregate "${ID}" cannot be stored: its payload has a key "\\u0000" that contains a NUL character (U+0000) at index 0`,
    ],
    [
      { kind: "command", commandType: "AddPost", path: "userId" },
      NUL,
      `Command AddPost cannot be stored: attribute "userId" ${NUL}`,
    ],
    [
      { kind: "uniqueKey", aggregateId: ID, scope: "email", path: "" },
      NUL,
      `Unique key "email" of aggregate "${ID}" cannot be stored: it ${NUL}`,
    ],
    [
      { kind: "uniqueKey", aggregateId: ID, scope: "pair", path: "a.0" },
      NUL,
      `Unique key "pair" of aggregate "${ID}" cannot be stored: "a.0" ${NUL}`,
    ],
    [
      { kind: "partitionKey", aggregateId: ID },
      NUL,
      `Partition key of aggregate "${ID}" cannot be stored: it ${NUL}`,
    ],
    [
      { kind: "typeName", typeKind: "aggregate", typeName: "Post\0" },
      NUL,
      `Aggregate type name "Post\\u0000" cannot be stored: it ${NUL}`,
    ],
    [
      { kind: "snapshot", aggregateId: ID, path: "state" },
      NUL,
      `Snapshot of aggregate "${ID}" cannot be stored: "state" ${NUL}`,
    ],
    [
      { kind: "record", table: "post_records", column: "title", path: "" },
      NUL,
      `Column title of table post_records cannot be stored: it ${NUL}`,
    ],
  ];
  for (const [location, problem, message] of cases) {
    const error = new UnstorableTextError(location, problem);
    assertSequentError(error, "UnstorableTextError", message);
    assert.deepEqual(error.location, location);
    assert.equal(error.problem, problem);
  }
});
