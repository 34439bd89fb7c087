/**
 * The process-wide type catalog (src/core/type_catalog.ts): classes made by
 * define() and the subclasses seen in use or routed on, by kind and type
 * name.
 */
import assert from "node:assert/strict";
import { DuplicateTypeNameError } from "@sequent/core";
import {
  knownClasses,
  lookupClass,
  recordClass,
  recordDefinition,
  recordRoutedBase,
  recordRoutedClass,
} from "../../src/core/type_catalog.ts";

Deno.test("lookupClass() gives undefined for a name never recorded", () => {
  assert.equal(lookupClass("event", "Cat_Nothing"), undefined);
});

Deno.test("lookupClass() gives the recorded definition when no subclass is in use", () => {
  class Defined {}
  recordDefinition("event", "Cat_Def", Defined);
  assert.equal(lookupClass("event", "Cat_Def"), Defined);
});

Deno.test("a subclass in use replaces its definition, and a deeper one replaces it in turn", () => {
  class Defined {}
  class Child extends Defined {}
  class GrandChild extends Child {}
  recordDefinition("event", "Cat_Chain", Defined);
  recordClass("event", "Cat_Chain", Child);
  assert.equal(lookupClass("event", "Cat_Chain"), Child);
  recordClass("event", "Cat_Chain", GrandChild);
  assert.equal(lookupClass("event", "Cat_Chain"), GrandChild);
  recordClass("event", "Cat_Chain", Child); // already noted: no change
  assert.equal(lookupClass("event", "Cat_Chain"), GrandChild);
});

Deno.test("lookupClass() throws DuplicateTypeNameError for two definitions under one name", () => {
  recordDefinition("command", "Cat_TwoDefs", class A {});
  recordDefinition("command", "Cat_TwoDefs", class B {});
  assert.throws(() => lookupClass("command", "Cat_TwoDefs"), (e: unknown) => {
    assert.ok(e instanceof DuplicateTypeNameError);
    assert.equal(e.kind, "command");
    assert.equal(e.typeName, "Cat_TwoDefs");
    return true;
  });
});

Deno.test("lookupClass() throws DuplicateTypeNameError for two sibling subclasses in use", () => {
  class Defined {}
  recordDefinition("event", "Cat_Siblings", Defined);
  recordClass("event", "Cat_Siblings", class Left extends Defined {});
  recordClass("event", "Cat_Siblings", class Right extends Defined {});
  assert.throws(() => lookupClass("event", "Cat_Siblings"), {
    name: "DuplicateTypeNameError",
  });
});

Deno.test("lookupClass() throws when a class in use is unrelated to the definition", () => {
  recordDefinition("event", "Cat_Unrelated", class Defined {});
  recordClass("event", "Cat_Unrelated", class Stranger {});
  assert.throws(() => lookupClass("event", "Cat_Unrelated"), {
    name: "DuplicateTypeNameError",
  });
});

Deno.test("a class recorded in use without a definition counts as the name's class", () => {
  class Aggregate {}
  recordClass("aggregate", "Cat_Agg", Aggregate);
  assert.equal(lookupClass("aggregate", "Cat_Agg"), Aggregate);
});

Deno.test("kinds are kept apart: the same name may be an event and a command", () => {
  class Ev {}
  class Cm {}
  recordDefinition("event", "Cat_Kind", Ev);
  recordDefinition("command", "Cat_Kind", Cm);
  assert.equal(lookupClass("event", "Cat_Kind"), Ev);
  assert.equal(lookupClass("command", "Cat_Kind"), Cm);
  assert.equal(lookupClass("aggregate", "Cat_Kind"), undefined);
});

Deno.test("knownClasses() lists the most derived classes of a kind", () => {
  class Defined {}
  class Used extends Defined {}
  class Lonely {}
  recordDefinition("event", "Cat_Known", Defined);
  recordClass("event", "Cat_Known", Used);
  recordDefinition("event", "Cat_Lonely", Lonely);
  const known = knownClasses("event");
  assert.ok(known.includes(Used));
  assert.ok(known.includes(Lonely));
  assert.equal(known.includes(Defined), false);
});

/** A stand-in for a define()d class: it carries its type name. */
function defined(kind: "event" | "command", typeName: string) {
  const cls = class {
    static readonly typeName: string = typeName;
  };
  recordDefinition(kind, typeName, cls);
  return cls;
}

Deno.test("recordRoutedClass() makes a routed subclass the name's class, under the kind of its definition", () => {
  const Defined = defined("command", "Cat_Routed");
  class Routed extends Defined {}
  assert.equal(lookupClass("command", "Cat_Routed"), Defined);
  recordRoutedClass(Routed);
  assert.equal(lookupClass("command", "Cat_Routed"), Routed);
  assert.equal(lookupClass("event", "Cat_Routed"), undefined);
  assert.ok(knownClasses("command").includes(Routed));
});

Deno.test("a routed class wins over classes merely in use: a sibling, or a subclass of its own", () => {
  const Defined = defined("event", "Cat_RoutedWins");
  class Routed extends Defined {}
  class Sibling extends Defined {}
  class Deeper extends Routed {}
  recordClass("event", "Cat_RoutedWins", Sibling);
  recordRoutedClass(Routed);
  recordClass("event", "Cat_RoutedWins", Deeper);
  assert.equal(lookupClass("event", "Cat_RoutedWins"), Routed);
  assert.deepEqual(
    knownClasses("event").filter((c) => c.prototype instanceof Defined),
    [Routed],
  );
});

Deno.test("lookupClass() throws DuplicateTypeNameError naming both when two classes are routed on under one name", () => {
  const Defined = defined("event", "Cat_RoutedTwice");
  class PostPublished extends Defined {}
  class PostPublishedAgain extends Defined {}
  recordRoutedClass(PostPublished);
  recordRoutedClass(PostPublished); // the same class twice is no clash
  assert.equal(lookupClass("event", "Cat_RoutedTwice"), PostPublished);
  recordRoutedClass(PostPublishedAgain);
  assert.throws(
    () => lookupClass("event", "Cat_RoutedTwice"),
    (e: unknown) => {
      assert.ok(e instanceof DuplicateTypeNameError);
      assert.equal(e.typeName, "Cat_RoutedTwice");
      assert.match(e.message, /route on PostPublished and PostPublishedAgain$/);
      return true;
    },
  );
});

Deno.test("recordRoutedClass() leaves out classes no definition of their type name is an ancestor of", () => {
  defined("event", "Cat_RoutedStranger");
  class Stranger {
    static readonly typeName = "Cat_RoutedStranger";
  }
  recordRoutedClass(Stranger);
  recordRoutedClass(class NoTypeName {});
  assert.notEqual(lookupClass("event", "Cat_RoutedStranger"), Stranger);
  // (a class routed on before its name was defined is no definition's either)
  class Early {
    static readonly typeName = "Cat_RoutedEarly";
  }
  recordRoutedClass(Early);
  assert.equal(lookupClass("event", "Cat_RoutedEarly"), undefined);
});

Deno.test("recordRoutedBase() makes a class tested for the name's class, over subclasses and siblings in use; not the define()d class itself", () => {
  const Defined = defined("event", "Cat_Base");
  class Tested extends Defined {}
  class Sibling extends Defined {}
  class Deeper extends Tested {}
  assert.equal(lookupClass("event", "Cat_Base"), Defined);
  recordRoutedBase(Tested);
  assert.equal(lookupClass("event", "Cat_Base"), Tested);
  recordClass("event", "Cat_Base", Sibling);
  recordClass("event", "Cat_Base", Deeper);
  assert.equal(lookupClass("event", "Cat_Base"), Tested);
  assert.ok(knownClasses("event").includes(Tested));
  // every row of its name is a Defined already: nothing to record
  const Plain = defined("event", "Cat_BasePlain");
  class InUse extends Plain {}
  recordClass("event", "Cat_BasePlain", InUse);
  recordRoutedBase(Plain);
  assert.equal(lookupClass("event", "Cat_BasePlain"), InUse);
});

Deno.test("a class tested for gives way to a subclass of it routed on exactly, and to a subclass tested for", () => {
  const Defined = defined("event", "Cat_BaseExact");
  class Tested extends Defined {}
  class Exact extends Tested {}
  recordRoutedBase(Tested);
  recordRoutedClass(Exact);
  // rows become Exact: the exact route sees them, and isA(Tested) too
  assert.equal(lookupClass("event", "Cat_BaseExact"), Exact);
  const Chain = defined("command", "Cat_BaseChain");
  class Outer extends Chain {}
  class Inner extends Outer {}
  recordRoutedBase(Inner);
  recordRoutedBase(Outer);
  assert.equal(lookupClass("command", "Cat_BaseChain"), Inner);
  assert.deepEqual(
    knownClasses("command").filter((c) => c.prototype instanceof Chain),
    [Inner],
  );
});

Deno.test("lookupClass() throws DuplicateTypeNameError naming them when no one class is what the classes routed on and tested for need", () => {
  const Defined = defined("event", "Cat_BaseClash");
  class Tested extends Defined {}
  class Exact extends Defined {} // a sibling: rows as Exact are no Tested
  recordRoutedBase(Tested);
  recordRoutedClass(Exact);
  assert.throws(
    () => lookupClass("event", "Cat_BaseClash"),
    (e: unknown) => {
      assert.ok(e instanceof DuplicateTypeNameError);
      assert.equal(e.typeName, "Cat_BaseClash");
      assert.match(
        e.message,
        /route on Exact and test for instances of Tested$/,
      );
      return true;
    },
  );
  const Other = defined("event", "Cat_BaseSiblings");
  class Left extends Other {}
  class Right extends Other {}
  recordRoutedBase(Left);
  recordRoutedBase(Right);
  assert.throws(
    () => lookupClass("event", "Cat_BaseSiblings"),
    /handlers test for instances of Left and Right$/,
  );
});
