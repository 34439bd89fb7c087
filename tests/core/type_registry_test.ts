/**
 * An app's type registry (src/core/type_registry.ts): type names to classes,
 * subclasses replacing their define()d class, unrelated classes under one
 * name rejected, and the fallback to the process-wide catalog.
 */
import assert from "node:assert/strict";
import {
  AggregateRoot,
  attrs,
  Command,
  DuplicateTypeNameError,
  Event,
  SequentError,
} from "@sequent/core";
import { TypeRegistry } from "@sequent/core/internal";

function assertDuplicate(fn: () => unknown, kind: string, typeName: string) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DuplicateTypeNameError);
    assert.ok(error instanceof SequentError);
    assert.equal(error.kind, kind);
    assert.equal(error.typeName, typeName);
    assert.equal(
      error.message,
      `Two different ${kind} classes use the type name "${typeName}": type names must be unique`,
    );
    return true;
  });
}

Deno.test("register() then lookup() gives the class registered under its type name", () => {
  class Pinged extends Event.define("Reg_Pinged", { by: attrs.string() }) {}
  const registry = new TypeRegistry();
  registry.register("event", Pinged);
  assert.equal(registry.lookup("event", "Reg_Pinged"), Pinged);
  registry.register("event", Pinged);
  assert.equal(registry.lookup("event", "Reg_Pinged"), Pinged);
});

Deno.test("lookup() gives undefined for a name nothing was declared under", () => {
  assert.equal(new TypeRegistry().lookup("event", "Reg_Never"), undefined);
  assert.equal(new TypeRegistry().lookup("command", "Reg_Never"), undefined);
  assert.equal(new TypeRegistry().lookup("aggregate", "Reg_Never"), undefined);
});

Deno.test("nameOf() reads an event's or command's type name and an aggregate's type or class name", () => {
  class Ev extends Event.define("Reg_NameEv", {}) {}
  class Cm extends Command.define("Reg_NameCm", {}) {}
  class Account extends AggregateRoot {}
  class Ledger extends AggregateRoot {
    static override readonly aggregateType = "Reg_Ledger";
  }
  assert.equal(TypeRegistry.nameOf("event", Ev), "Reg_NameEv");
  assert.equal(TypeRegistry.nameOf("command", Cm), "Reg_NameCm");
  assert.equal(TypeRegistry.nameOf("aggregate", Account), "Account");
  assert.equal(TypeRegistry.nameOf("aggregate", Ledger), "Reg_Ledger");
});

Deno.test("register() records aggregates by their aggregate type", () => {
  class Wallet extends AggregateRoot {
    static override readonly aggregateType = "Reg_Wallet";
  }
  const registry = new TypeRegistry();
  registry.register("aggregate", Wallet);
  assert.equal(registry.lookup("aggregate", "Reg_Wallet"), Wallet);
});

Deno.test("register() ignores a class without a type name", () => {
  const registry = new TypeRegistry();
  registry.register("event", class {});
  assert.equal(registry.lookup("event", ""), undefined);
});

Deno.test("a user subclass replaces the define()d class it extends, in either registration order", () => {
  const Defined = Event.define("Reg_Sub", {});
  class Sub extends Defined {}
  const first = new TypeRegistry();
  first.register("event", Defined);
  first.register("event", Sub);
  assert.equal(first.lookup("event", "Reg_Sub"), Sub);
  const second = new TypeRegistry();
  second.register("event", Sub);
  second.register("event", Defined);
  assert.equal(second.lookup("event", "Reg_Sub"), Sub);
});

Deno.test("register() rejects two unrelated classes under one type name with DuplicateTypeNameError", () => {
  class A extends Event.define("Reg_Same", {}) {}
  class B extends Event.define("Reg_Same", {}) {}
  const registry = new TypeRegistry();
  registry.register("event", A);
  assertDuplicate(() => registry.register("event", B), "event", "Reg_Same");
  assert.equal(registry.lookup("event", "Reg_Same"), A);
});

Deno.test("register() rejects two sibling subclasses of one declaration", () => {
  const Defined = Command.define("Reg_Siblings", {});
  class Left extends Defined {}
  class Right extends Defined {}
  const registry = new TypeRegistry();
  registry.register("command", Left);
  assertDuplicate(
    () => registry.register("command", Right),
    "command",
    "Reg_Siblings",
  );
});

Deno.test("register() rejects two aggregate classes with one aggregate type", () => {
  class One extends AggregateRoot {
    static override readonly aggregateType = "Reg_Agg";
  }
  class Two extends AggregateRoot {
    static override readonly aggregateType = "Reg_Agg";
  }
  const registry = new TypeRegistry();
  registry.register("aggregate", One);
  assertDuplicate(
    () => registry.register("aggregate", Two),
    "aggregate",
    "Reg_Agg",
  );
});

Deno.test("events and commands with the same type name do not clash", () => {
  class Ev extends Event.define("Reg_Shared", {}) {}
  class Cm extends Command.define("Reg_Shared", {}) {}
  const registry = new TypeRegistry();
  registry.register("event", Ev);
  registry.register("command", Cm);
  assert.equal(registry.lookup("event", "Reg_Shared"), Ev);
  assert.equal(registry.lookup("command", "Reg_Shared"), Cm);
});

Deno.test("lookup() falls back to the classes declared in the process", () => {
  const Declared = Event.define("Reg_Declared", { x: attrs.integer() });
  assert.equal(new TypeRegistry().lookup("event", "Reg_Declared"), Declared);
  class Used extends Event.define("Reg_Used", {}) {}
  new Used({ aggregateId: crypto.randomUUID(), sequenceNumber: 1 });
  assert.equal(new TypeRegistry().lookup("event", "Reg_Used"), Used);
});

Deno.test("lookup() reports two unrelated classes declared under one name in the process", () => {
  Event.define("Reg_Ambiguous", {});
  Event.define("Reg_Ambiguous", {});
  assertDuplicate(
    () => new TypeRegistry().lookup("event", "Reg_Ambiguous"),
    "event",
    "Reg_Ambiguous",
  );
});

Deno.test("a registry keeps what it looked up: a later subclass in the process does not change it", () => {
  const Defined = Event.define("Reg_Stable", {});
  const registry = new TypeRegistry();
  assert.equal(registry.lookup("event", "Reg_Stable"), Defined);
  class Later extends Defined {}
  new Later({ aggregateId: crypto.randomUUID(), sequenceNumber: 1 });
  assert.equal(registry.lookup("event", "Reg_Stable"), Defined);
  assert.equal(new TypeRegistry().lookup("event", "Reg_Stable"), Later);
});
