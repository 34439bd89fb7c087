/**
 * The attribute factories of src/core/attrs.ts: each type's kind,
 * `.required()`, `.validate()`, `oneOf`, `array`, and `valueObject` in its
 * direct and lazy (`() => Class`) forms.
 */
import assert from "node:assert/strict";
import { type Attr, attrs, Event, ValueObject } from "@sequent/core";
import { attrImpl } from "../../src/core/attributes.ts";

Deno.test("attrs factories give attributes of the right kind, optional by default", () => {
  class Point extends ValueObject.define({ x: attrs.integer() }) {}
  const cases: [Attr<unknown, boolean>, string][] = [
    [attrs.string(), "string"],
    [attrs.integer(), "integer"],
    [attrs.float(), "float"],
    [attrs.boolean(), "boolean"],
    [attrs.decimal(), "decimal"],
    [attrs.date(), "date"],
    [attrs.dateTime(), "date-time"],
    [attrs.uuid(), "UUID"],
    [attrs.oneOf("a", "b"), 'one of "a", "b"'],
    [attrs.json(), "JSON value"],
    [attrs.valueObject(Point), "Point"],
    [attrs.valueObject(() => Point), "Point"],
    [attrs.array(attrs.date()), "array of date"],
    [attrs.array(attrs.valueObject(Point)), "array of Point"],
    [attrs.array(attrs.array(attrs.integer())), "array of array of integer"],
  ];
  for (const [attr, kind] of cases) {
    assert.equal(attr.kind, kind);
    assert.equal(attr.isRequired, false, kind);
  }
});

Deno.test("required() returns a new required attribute and leaves the original optional", () => {
  const optional = attrs.string();
  const required = optional.required();
  assert.notEqual(required, optional);
  assert.equal(required.isRequired, true);
  assert.equal(required.kind, "string");
  assert.equal(optional.isRequired, false);
});

Deno.test("validate() returns a new attribute with the validator added, keeping required-ness", () => {
  const base = attrs.integer().required();
  const checked = base.validate((n) => n > 0, "must be positive");
  assert.notEqual(checked, base);
  assert.equal(checked.isRequired, true);
  assert.equal(attrImpl(base).validators.length, 0);
  assert.equal(attrImpl(checked).validators.length, 1);
  assert.equal(attrImpl(checked).validators[0]?.message, "must be positive");
  const twice = checked.validate((n) => n < 10, "must be small").required();
  assert.deepEqual(attrImpl(twice).validators.map((v) => v.message), [
    "must be positive",
    "must be small",
  ]);
});

Deno.test("validate() rejects a check that is not a function", () => {
  assert.throws(
    () => attrs.string().validate("not a function" as never, "message"),
    {
      name: "TypeError",
      message: "validate() needs a function that returns a boolean",
    },
  );
});

Deno.test("attrs.oneOf() needs at least one value", () => {
  assert.throws(() => attrs.oneOf(), {
    name: "TypeError",
    message: "attrs.oneOf() needs at least one value",
  });
});

Deno.test("attrs.array() rejects an item type not made with attrs", () => {
  assert.throws(() => attrs.array({ kind: "string" } as never), {
    name: "TypeError",
    message:
      "Attributes must be declared with attrs.string(), attrs.integer(), …",
  });
});

Deno.test("attrs.valueObject() rejects a class that is not a value object right away", () => {
  class Plain {}
  for (const cls of [Plain, Date]) {
    assert.throws(() => attrs.valueObject(cls), {
      name: "TypeError",
      message:
        "attrs.valueObject() needs a class declared with ValueObject.define()",
    });
  }
});

/** What a self-referencing class looks like to TypeScript (see below). */
interface Tree extends ValueObject {
  readonly name: string;
  readonly children: readonly Tree[] | undefined;
}
type TreeClass = abstract new (init: never) => Tree;

Deno.test("attrs.valueObject(() => Class) lets a value object refer to itself", () => {
  // TypeScript cannot infer a class from a base expression naming the class
  // itself (TS2506), so the thunk states its type.
  class TreeNode extends ValueObject.define({
    name: attrs.string().required(),
    children: attrs.array(attrs.valueObject((): TreeClass => TreeNode)),
    parent: attrs.valueObject((): TreeClass => TreeNode),
  }) {}
  const tree = TreeNode.fromParams({
    name: "root",
    children: [{ name: "a" }, { name: "", children: [{ name: "c" }] }],
  });
  assert.ok(tree.children?.[0] instanceof TreeNode);
  assert.ok(tree.children?.[1]?.children?.[0] instanceof TreeNode);
  assert.equal(tree.children?.[1]?.children?.[0]?.name, "c");
  assert.deepEqual(tree.validate(), { "children.1.name": ["can't be blank"] });
});

Deno.test("attrs.valueObject(() => Class) resolves a class declared later", () => {
  class Order extends Event.define("Attrs_Order", {
    address: attrs.valueObject(() => ShippingAddress).required(),
  }) {}
  class ShippingAddress extends ValueObject.define({
    city: attrs.string().required(),
  }) {}
  const order = Order.fromParams({
    aggregateId: crypto.randomUUID(),
    sequenceNumber: 1,
    address: { city: "" },
  });
  assert.ok(order.address instanceof ShippingAddress);
  assert.deepEqual(order.validate(), { "address.city": ["can't be blank"] });
});

Deno.test("attrs.valueObject(() => x) reports a thunk returning no value-object class when first used", () => {
  const attr = attrs.valueObject(() => "nope" as never);
  assert.throws(() => attr.kind, {
    name: "TypeError",
    message:
      "attrs.valueObject() needs a class declared with ValueObject.define()",
  });
  assert.throws(() => attr.is({}), { name: "TypeError" });
});

Deno.test("attrs.oneOf() keeps the literal values in the attribute's type", () => {
  class Light extends ValueObject.define({
    color: attrs.oneOf("red", "green").required(),
  }) {}
  const light = new Light({ color: "red" });
  const color: "red" | "green" = light.color;
  assert.equal(color, "red");
  // @ts-expect-error "blue" is not one of the values
  assert.equal(new Light({ color: "blue" }).isValid(), false);
});
