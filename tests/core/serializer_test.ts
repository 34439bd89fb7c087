/**
 * The message serializer (src/core/serializer.ts): events and commands to
 * stored rows and back, strictly, with DeserializeEventError naming the
 * aggregate, sequence number and type of a row that cannot be read.
 */
import assert from "node:assert/strict";
import {
  attrs,
  CalendarDate,
  Command,
  Decimal,
  DeserializeEventError,
  DuplicateTypeNameError,
  Event,
  SequentError,
  type SerializedCommand,
  type SerializedEvent,
  UnknownAttributeError,
  ValueObject,
} from "@sequent/core";
import { MessageSerializer, TypeRegistry } from "@sequent/core/internal";
import { AttributeReadError } from "../../src/core/attributed.ts";

const ID = "3f8c9a52-9a55-4b5e-9d3f-3c1a2b4d5e6f";
const OTHER = "0b8f2c1e-7a6d-4e5f-8a9b-1c2d3e4f5a6b";
const AT = new Date("2026-03-04T05:06:07.089Z");

class Line extends ValueObject.define({
  amount: attrs.decimal().required(),
}) {}

class OrderPlaced extends Event.define("Ser_OrderPlaced", {
  customer: attrs.string().required(),
  total: attrs.decimal().required(),
  due: attrs.date(),
  lines: attrs.array(attrs.valueObject(Line)),
  note: attrs.string(),
}) {}

class PlaceOrder extends Command.define("Ser_PlaceOrder", {
  customer: attrs.string().required(),
  total: attrs.decimal().required(),
}) {}

function placed(): OrderPlaced {
  return new OrderPlaced({
    aggregateId: ID,
    sequenceNumber: 3,
    createdAt: AT,
    customer: "ACME",
    total: Decimal.from("10.10"),
    due: CalendarDate.of(2026, 4, 1),
    lines: [new Line({ amount: Decimal.from("0.1") })],
  });
}

function row(
  payload: string,
  eventType = "Ser_OrderPlaced",
  sequenceNumber = 3,
): SerializedEvent {
  return { aggregateId: ID, sequenceNumber, createdAt: AT, eventType, payload };
}

/** Asserts `fn` throws DeserializeEventError for row 3 of ID with `reason`. */
function assertUnreadable(
  fn: () => unknown,
  eventType: string,
  reason: string,
): DeserializeEventError {
  let caught: unknown;
  assert.throws(fn, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof DeserializeEventError, String(caught));
  assert.ok(caught instanceof SequentError);
  assert.equal(caught.name, "DeserializeEventError");
  assert.equal(caught.aggregateId, ID);
  assert.equal(caught.sequenceNumber, 3);
  assert.equal(caught.eventType, eventType);
  assert.equal(
    caught.message,
    `Cannot read event 3 of aggregate "${ID}" (${eventType}): ${reason}`,
  );
  return caught;
}

// --- Events ---------------------------------------------------------------------

Deno.test("serializeEvent() gives a row with the base fields as columns and the payload as JSON text", () => {
  const stored = new MessageSerializer().serializeEvent(placed());
  assert.deepEqual(stored, {
    aggregateId: ID,
    sequenceNumber: 3,
    createdAt: AT,
    eventType: "Ser_OrderPlaced",
    payload:
      '{"customer":"ACME","total":"10.10","due":"2026-04-01","lines":[{"amount":"0.1"}]}',
  });
});

Deno.test("deserializeEvent() gives back an equal instance of the user's class", () => {
  const serializer = new MessageSerializer();
  const event = placed();
  const back = serializer.deserializeEvent(serializer.serializeEvent(event));
  assert.ok(back instanceof OrderPlaced);
  assert.equal(back.equals(event), true);
  assert.equal(back.total.toString(), "10.10");
  assert.ok(back.due instanceof CalendarDate);
  assert.ok(back.lines?.[0] instanceof Line);
  assert.equal(back.createdAt.getTime(), AT.getTime());
});

Deno.test("deserializeEvent() takes the base fields from the row, not from the payload", () => {
  const back = new MessageSerializer().deserializeEvent(
    row(
      `{"aggregateId":"${OTHER}","sequenceNumber":99,"createdAt":"2000-01-01T00:00:00Z","customer":"A","total":"1"}`,
    ),
  ) as OrderPlaced;
  assert.equal(back.aggregateId, ID);
  assert.equal(back.sequenceNumber, 3);
  assert.equal(back.createdAt, AT);
});

Deno.test("deserializeEvent() ignores stored attributes the class no longer declares", () => {
  const back = new MessageSerializer().deserializeEvent(
    row('{"customer":"A","total":"1","removedLongAgo":true}'),
  );
  assert.ok(back instanceof OrderPlaced);
  assert.equal("removedLongAgo" in back, false);
});

Deno.test("reading a stored event leaves the check of undeclared keys in place for the next construction, also when a row fails", () => {
  const serializer = new MessageSerializer();
  serializer.deserializeEvent(row('{"customer":"A","total":"1"}'));
  assert.throws(
    () => serializer.deserializeEvent(row('{"customer":7,"total":"1"}')),
    DeserializeEventError,
  );
  assert.throws(
    () =>
      new OrderPlaced({
        aggregateId: ID,
        sequenceNumber: 1,
        customer: "A",
        total: Decimal.from("1"),
        undeclared: true,
      } as never),
    UnknownAttributeError,
  );
});

Deno.test("a user subclass registered with an app is what its rows become, even if never constructed", () => {
  class Shipped extends Event.define("Ser_Shipped", {
    carrier: attrs.string().required(),
  }) {}
  const registry = new TypeRegistry();
  registry.register("event", Shipped);
  const back = new MessageSerializer(registry).deserializeEvent(
    row('{"carrier":"DHL"}', "Ser_Shipped"),
  );
  assert.ok(back instanceof Shipped);
  assert.equal(back.constructor, Shipped);
  assert.equal(back.carrier, "DHL");
});

Deno.test("a user subclass constructed once in the process is what a fresh serializer reads rows as", () => {
  class Delivered extends Event.define("Ser_Delivered", {
    to: attrs.string(),
  }) {}
  new Delivered({ aggregateId: ID, sequenceNumber: 1 });
  const back = new MessageSerializer().deserializeEvent(
    row('{"to":"door"}', "Ser_Delivered"),
  );
  assert.equal(back.constructor, Delivered);
});

Deno.test("deserializeEvent() reports an unknown event type", () => {
  assertUnreadable(
    () => new MessageSerializer().deserializeEvent(row("{}", "Ser_Unknown")),
    "Ser_Unknown",
    "unknown event type: declare it with Event.define() and import it, or add an upcaster",
  );
});

Deno.test("deserializeEvent() reports a payload that is not JSON, with the parse error as cause", () => {
  const error = assertUnreadable(
    () => new MessageSerializer().deserializeEvent(row("{customer:")),
    "Ser_OrderPlaced",
    "its payload is not valid JSON",
  );
  assert.ok(error.cause instanceof SyntaxError);
});

Deno.test("deserializeEvent() reports a payload that is not a JSON object", () => {
  for (const payload of ["[]", "null", "42", '"text"', "true"]) {
    assertUnreadable(
      () => new MessageSerializer().deserializeEvent(row(payload)),
      "Ser_OrderPlaced",
      "its payload is not a JSON object",
    );
  }
});

Deno.test("deserializeEvent() reports a field of the wrong type, naming the field", () => {
  const error = assertUnreadable(
    () =>
      new MessageSerializer().deserializeEvent(
        row('{"customer":"A","total":10.1,"due":"01-04-2026"}'),
      ),
    "Ser_OrderPlaced",
    'attribute "due" is not a date',
  );
  assert.ok(error.cause instanceof AttributeReadError);
  assert.equal(error.cause.path, "due");
});

Deno.test("deserializeEvent() reports a missing required field", () => {
  assertUnreadable(
    () => new MessageSerializer().deserializeEvent(row('{"total":"1"}')),
    "Ser_OrderPlaced",
    'attribute "customer" is missing',
  );
  assertUnreadable(
    () =>
      new MessageSerializer().deserializeEvent(
        row('{"customer":null,"total":"1"}'),
      ),
    "Ser_OrderPlaced",
    'attribute "customer" is missing',
  );
});

Deno.test("deserializeEvent() reports a bad field inside an array item at lines.1.amount", () => {
  assertUnreadable(
    () =>
      new MessageSerializer().deserializeEvent(
        row(
          '{"customer":"A","total":"1","lines":[{"amount":"1"},{"amount":"x"}]}',
        ),
      ),
    "Ser_OrderPlaced",
    'attribute "lines.1.amount" is not a decimal',
  );
});

Deno.test("deserializeEvent() reports two unrelated classes under the row's type name", () => {
  const A = Event.define("Ser_Twice", {});
  const B = Event.define("Ser_Twice", {});
  assert.notEqual(A, B);
  const error = assertUnreadable(
    () => new MessageSerializer().deserializeEvent(row("{}", "Ser_Twice")),
    "Ser_Twice",
    'Two different event classes use the type name "Ser_Twice": type names must be unique',
  );
  assert.ok(error.cause instanceof DuplicateTypeNameError);
});

Deno.test("serializeEvent() refuses a second, unrelated class under a type name the app already has", () => {
  const serializer = new MessageSerializer();
  class First extends Event.define("Ser_Clash", {}) {}
  class Second extends Event.define("Ser_Clash", {}) {}
  serializer.serializeEvent(new First({ aggregateId: ID, sequenceNumber: 1 }));
  assert.throws(
    () =>
      serializer.serializeEvent(
        new Second({ aggregateId: ID, sequenceNumber: 2 }),
      ),
    (error: unknown) => {
      assert.ok(error instanceof DuplicateTypeNameError);
      assert.equal(error.kind, "event");
      assert.equal(error.typeName, "Ser_Clash");
      return true;
    },
  );
});

Deno.test("serializeEvent() refuses an invalid event rather than store it", () => {
  const invalid = new OrderPlaced({
    aggregateId: ID,
    sequenceNumber: 1,
    customer: "A",
    total: "1" as never,
  });
  assert.throws(() => new MessageSerializer().serializeEvent(invalid), {
    name: "TypeError",
    message:
      'Cannot serialize Ser_OrderPlaced: attribute "total" is not a valid decimal',
  });
});

// --- Commands -------------------------------------------------------------------

Deno.test("serializeCommand() gives a row with the base fields as columns and the payload as JSON text", () => {
  const command = new PlaceOrder({
    aggregateId: ID,
    userId: "ben",
    eventAggregateId: OTHER,
    eventSequenceNumber: 2,
    customer: "ACME",
    total: Decimal.from("0.30"),
  });
  const { commandId, ...row } = new MessageSerializer().serializeCommand(
    command,
  );
  assert.deepEqual(row, {
    commandType: "Ser_PlaceOrder",
    aggregateId: ID,
    userId: "ben",
    eventAggregateId: OTHER,
    eventSequenceNumber: 2,
    payload: '{"customer":"ACME","total":"0.30"}',
  });
  assert.match(commandId ?? "", UUID_V7);
});

const UUID_V7 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("serializeCommand() keeps a command's own commandId, and gives each execution of one without a fresh time-ordered id", () => {
  const serializer = new MessageSerializer();
  const commandId = crypto.randomUUID();
  const given = new PlaceOrder({
    aggregateId: ID,
    commandId,
    customer: "A",
    total: Decimal.from("1"),
  });
  assert.equal(serializer.serializeCommand(given).commandId, commandId);
  const plain = new PlaceOrder({
    aggregateId: ID,
    customer: "A",
    total: Decimal.from("1"),
  });
  const first = serializer.serializeCommand(plain).commandId!;
  const second = serializer.serializeCommand(plain).commandId!;
  assert.match(first, UUID_V7);
  assert.notEqual(first, second);
  assert.ok(first.slice(0, 13) <= second.slice(0, 13), "time-ordered");
});

Deno.test("deserializeCommand() gives back an equal command of the user's class", () => {
  const serializer = new MessageSerializer();
  const command = new PlaceOrder({
    aggregateId: ID,
    commandId: crypto.randomUUID(),
    userId: "ben",
    eventAggregateId: OTHER,
    eventSequenceNumber: 2,
    customer: "ACME",
    total: Decimal.from("0.30"),
  });
  const back = serializer.deserializeCommand(
    serializer.serializeCommand(command),
  );
  assert.ok(back instanceof PlaceOrder);
  assert.equal(back.equals(command), true);
  assert.equal(back.eventSequenceNumber, 2);
});

function commandRow(
  payload: string,
  commandType = "Ser_PlaceOrder",
): SerializedCommand {
  return {
    commandType,
    aggregateId: ID,
    userId: undefined,
    eventAggregateId: undefined,
    eventSequenceNumber: undefined,
    payload,
  };
}

Deno.test("deserializeCommand() reports an unknown command type", () => {
  assert.throws(
    () =>
      new MessageSerializer().deserializeCommand(commandRow("{}", "Ser_Nope")),
    (error: unknown) => {
      assert.ok(error instanceof SequentError);
      assert.equal(error.message, 'Unknown command type "Ser_Nope"');
      return true;
    },
  );
});

Deno.test("deserializeCommand() reports an unreadable payload, naming the type and the cause", () => {
  const cases: [string, string | RegExp][] = [
    ["{", /^Cannot read command "Ser_PlaceOrder": /],
    [
      "[1]",
      'Cannot read command "Ser_PlaceOrder": its payload is not a JSON object',
    ],
    [
      '{"customer":"A","total":true}',
      'Cannot read command "Ser_PlaceOrder": attribute "total" is not a decimal',
    ],
    [
      '{"total":"1"}',
      'Cannot read command "Ser_PlaceOrder": attribute "customer" is missing',
    ],
  ];
  for (const [payload, message] of cases) {
    assert.throws(
      () => new MessageSerializer().deserializeCommand(commandRow(payload)),
      (error: unknown) => {
        assert.ok(error instanceof SequentError, payload);
        if (typeof message === "string") assert.equal(error.message, message);
        else assert.match(error.message, message);
        assert.ok(error.cause instanceof Error, payload);
        return true;
      },
    );
  }
});
