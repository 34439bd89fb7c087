/**
 * The shared checks of `Event.define`, `Command.define` and
 * `ValueObject.define` (src/core/define.ts): type names, redeclared base
 * attributes, attribute names hiding methods, values not made with attrs.
 */
import assert from "node:assert/strict";
import { attrs, Command, Event, ValueObject } from "@sequent/core";
import {
  checkTypeName,
  extendShape,
  setStatics,
} from "../../src/core/define.ts";

const BAD_NAMES: unknown[] = [
  "",
  "1Post",
  "-Post",
  ".Post",
  "Post Added",
  "Post/Added",
  "Post!",
  "Pöst",
  42,
  undefined,
  null,
];

Deno.test("checkTypeName() accepts letters, digits and _ . : - starting with a letter or _", () => {
  for (const name of ["PostAdded", "_x", "blog.PostAdded", "v2:Post-Added_1"]) {
    assert.equal(checkTypeName("event", name), name);
  }
});

Deno.test("checkTypeName() rejects bad type names, quoting them", () => {
  for (const name of BAD_NAMES) {
    assert.throws(() => checkTypeName("event", name), {
      name: "TypeError",
      message: `Invalid event type name ${
        JSON.stringify(name)
      }: use letters, digits and _ . : - and start with a letter`,
    });
  }
});

Deno.test("Event.define() and Command.define() reject bad type names", () => {
  for (const name of BAD_NAMES) {
    assert.throws(() => Event.define(name as string, {}), {
      name: "TypeError",
      message: new RegExp(`^Invalid event type name`),
    }, String(name));
    assert.throws(() => Command.define(name as string, {}), {
      name: "TypeError",
      message: new RegExp(`^Invalid command type name`),
    }, String(name));
  }
});

Deno.test("Event.define() rejects redeclaring aggregateId, sequenceNumber or createdAt", () => {
  for (const name of ["aggregateId", "sequenceNumber", "createdAt"]) {
    assert.throws(
      () => Event.define("Def_Redeclared", { [name]: attrs.string() }),
      {
        name: "TypeError",
        message:
          `Event "Def_Redeclared": attribute "${name}" is already declared by the base class`,
      },
    );
  }
});

Deno.test("Command.define() rejects redeclaring aggregateId, userId or the causation fields", () => {
  for (
    const name of [
      "aggregateId",
      "userId",
      "eventAggregateId",
      "eventSequenceNumber",
    ]
  ) {
    assert.throws(
      () => Command.define("Def_Redeclared", { [name]: attrs.string() }),
      {
        name: "TypeError",
        message:
          `Command "Def_Redeclared": attribute "${name}" is already declared by the base class`,
      },
    );
  }
});

Deno.test("define() rejects attribute names that would hide a method", () => {
  const methods = [
    "validate",
    "isValid",
    "equals",
    "attributes",
    "copy",
    "toJSON",
    "constructor",
    "toString",
    "hasOwnProperty",
    "valueOf",
  ];
  for (const name of [...methods, "payload"]) {
    assert.throws(
      () => Event.define("Def_Hiding", { [name]: attrs.string() }),
      {
        name: "TypeError",
        message:
          `Event "Def_Hiding": attribute "${name}" would hide a method of the same name`,
      },
    );
    assert.throws(
      () => Command.define("Def_Hiding", { [name]: attrs.string() }),
      {
        name: "TypeError",
        message:
          `Command "Def_Hiding": attribute "${name}" would hide a method of the same name`,
      },
    );
  }
  for (const name of methods) {
    assert.throws(() => ValueObject.define({ [name]: attrs.string() }), {
      name: "TypeError",
      message:
        `ValueObject: attribute "${name}" would hide a method of the same name`,
    });
  }
  // value objects have no payload(): the name is free there
  assert.equal(
    ValueObject.define({ payload: attrs.json() }).shape.payload?.kind,
    "JSON value",
  );
});

Deno.test("define() rejects attribute values not made with attrs", () => {
  const values: unknown[] = ["string", 1, null, {}, () => "x", { kind: "x" }];
  for (const value of values) {
    assert.throws(
      () => Event.define("Def_NotAttr", { title: value as never }),
      {
        name: "TypeError",
        message:
          'Event "Def_NotAttr": attribute "title" must be declared with attrs.*()',
      },
      String(value),
    );
  }
  assert.throws(() => ValueObject.define({ x: String as never }), {
    name: "TypeError",
    message: 'ValueObject: attribute "x" must be declared with attrs.*()',
  });
});

Deno.test("define() rejects attributes that are not an object", () => {
  for (const shape of [null, undefined, "title", 3]) {
    assert.throws(() => Command.define("Def_NoShape", shape as never), {
      name: "TypeError",
      message:
        'Command "Def_NoShape": attributes must be an object of attrs.*()',
    }, String(shape));
  }
});

Deno.test("extendShape() returns a frozen shape with the base attributes first", () => {
  const title = attrs.string();
  const shape = extendShape(
    "Test",
    Event.shape,
    Event.prototype,
    { title },
  );
  assert.deepEqual(Object.keys(shape), [
    "aggregateId",
    "sequenceNumber",
    "createdAt",
    "title",
  ]);
  assert.equal(shape.title, title);
  assert.equal(Object.isFrozen(shape), true);
  assert.equal(Object.isFrozen(Event.shape), true);
});

Deno.test("setStatics() sets the class name, type name and shape", () => {
  class Target {}
  const shape = Object.freeze({ x: attrs.integer() });
  setStatics(Target, "Shown", "Def_Stored", shape);
  const statics = Target as unknown as {
    name: string;
    typeName: string;
    shape: unknown;
  };
  assert.equal(statics.name, "Shown");
  assert.equal(statics.typeName, "Def_Stored");
  assert.equal(statics.shape, shape);
  assert.deepEqual(Object.keys(Target).sort(), ["shape", "typeName"]);
});

Deno.test("define() gives each class its own shape: declaring one type does not change another", () => {
  const A = Event.define("Def_A", { a: attrs.string() });
  const B = Event.define("Def_B", { b: attrs.string() });
  assert.equal("a" in A.shape, true);
  assert.equal("b" in A.shape, false);
  assert.equal("a" in B.shape, false);
  assert.deepEqual(Object.keys(Event.shape), [
    "aggregateId",
    "sequenceNumber",
    "createdAt",
  ]);
});
