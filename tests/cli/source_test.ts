import assert from "node:assert/strict";
import {
  addExport,
  addImport,
  addToList,
  addToShape,
  addToStaticBlock,
  closingBracket,
  shapeKeys,
} from "../../src/cli/source.ts";

Deno.test("closingBracket() skips strings, template literals and comments", () => {
  const text = "{ a: '}', b: `${'}'}}`, /* } */ c: [1, { d: 2 }] // }\n}";
  assert.equal(closingBracket(text, 0), text.length - 1);
  assert.equal(closingBracket("{ unclosed", 0), -1);
  assert.equal(closingBracket("x", 0), -1);
});

Deno.test("addImport() merges into the existing import, keeping sorted lists sorted", () => {
  assert.equal(
    addImport('import { Command } from "@sequent/core";\n', "@sequent/core", [
      "attrs",
    ]),
    'import { attrs, Command } from "@sequent/core";\n',
  );
  const multiLine = 'import {\n  A,\n  C,\n} from "./events.ts";\n\nx();\n';
  assert.equal(
    addImport(multiLine, "./events.ts", ["B", "A"]),
    'import { A, B, C } from "./events.ts";\n\nx();\n',
  );
});

Deno.test("addImport() adds a new import after the last one", () => {
  const text =
    'import { AggregateRoot } from "@sequent/core";\nimport type { AddX } from "./commands.ts";\n\nclass X {}\n';
  assert.equal(
    addImport(text, "./events.ts", ["XAdded"]),
    'import { AggregateRoot } from "@sequent/core";\nimport type { AddX } from "./commands.ts";\nimport { XAdded } from "./events.ts";\n\nclass X {}\n',
  );
  assert.equal(
    addImport("/** Doc. */\nx();\n", "./a.ts", ["A"]),
    '/** Doc. */\nimport { A } from "./a.ts";\nx();\n',
  );
});

Deno.test("addImport() turns a type-only import into a value import when values are added", () => {
  const text = 'import type { AddX } from "./commands.ts";\n';
  assert.equal(
    addImport(text, "./commands.ts", ["RemoveX"]),
    'import { AddX, RemoveX } from "./commands.ts";\n',
  );
  assert.equal(
    addImport(text, "./commands.ts", ["RemoveX"], true),
    'import type { AddX, RemoveX } from "./commands.ts";\n',
  );
  assert.equal(addImport(text, "./commands.ts", ["AddX"], true), text);
});

Deno.test("addExport() adds to a re-export, or adds one after the last export", () => {
  const text =
    '/** Doc. */\nexport { A } from "./a.ts";\nexport { X } from "./x.ts";\n';
  assert.equal(
    addExport(text, "./a.ts", ["B"]),
    '/** Doc. */\nexport { A, B } from "./a.ts";\nexport { X } from "./x.ts";\n',
  );
  assert.equal(
    addExport(text, "./b.ts", ["B"]),
    text + 'export { B } from "./b.ts";\n',
  );
});

Deno.test("shapeKeys() lists a define() shape's attribute names", () => {
  const text = `export class A extends Command.define("A", {
  name: attrs.string().validate((s) => s !== "}", "x"),
  // a comment, with: a colon
  "email": attrs.string(),
  tags: attrs.array(attrs.string()),
}) {}`;
  assert.deepEqual(shapeKeys(text, "A"), ["name", "email", "tags"]);
  assert.deepEqual(shapeKeys('Event.define("B", {})', "B"), []);
  assert.equal(shapeKeys(text, "Missing"), undefined);
});

Deno.test("addToShape() adds attributes to an empty, a one-line and a multi-line shape", () => {
  assert.equal(
    addToShape('class A extends Event.define("A", {}) {}\n', "A", [
      "name: attrs.string()",
    ]),
    'class A extends Event.define("A", {\n  name: attrs.string(),\n}) {}\n',
  );
  assert.equal(
    addToShape(
      'class A extends Event.define("A", { a: attrs.string() }) {}',
      "A",
      [
        "b: attrs.integer()",
      ],
    ),
    'class A extends Event.define("A", {\n  a: attrs.string(),\n  b: attrs.integer(),\n}) {}',
  );
  assert.equal(
    addToShape(
      'class A extends Event.define("A", {\n  a: attrs.string() // note\n}) {}',
      "A",
      ["b: attrs.integer()"],
    ),
    'class A extends Event.define("A", {\n  a: attrs.string(), // note\n  b: attrs.integer(),\n}) {}',
  );
  assert.equal(
    addToShape("class A {}", "A", ["b: attrs.integer()"]),
    undefined,
  );
});

Deno.test("addToList() adds to a multi-line, a one-line and an empty list", () => {
  assert.equal(
    addToList(
      "const c = {\n  aggregates: [\n    Post,\n  ],\n};\n",
      "aggregates",
      [
        "Author",
      ],
    ),
    "const c = {\n  aggregates: [\n    Post,\n    Author,\n  ],\n};\n",
  );
  assert.equal(
    addToList("const c = {\n  aggregates: [Post],\n};\n", "aggregates", [
      "Author",
    ]),
    "const c = {\n  aggregates: [\n    Post,\n    Author,\n  ],\n};\n",
  );
  assert.equal(
    addToList("const c = { workflows: [] };\n", "workflows", ["w"]),
    "const c = { workflows: [\n  w,\n] };\n",
  );
  assert.equal(
    addToList("const c = {};\n", "aggregates", ["Author"]),
    undefined,
  );
});

Deno.test("addToStaticBlock() adds to the class's static block, or adds one", () => {
  const withBlock = `export class H extends CommandHandler {
  static {
    this.on(A, () => {});
  }
}
`;
  assert.equal(
    addToStaticBlock(withBlock, "H", ["this.on(B, () => {\n  b();\n});"]),
    `export class H extends CommandHandler {
  static {
    this.on(A, () => {});
    this.on(B, () => {
      b();
    });
  }
}
`,
  );
  const withoutBlock = `export class X extends AggregateRoot {
  static add(command: AddX): X {
    return new X(command.aggregateId);
  }
}
`;
  assert.equal(
    addToStaticBlock(withoutBlock, "X", ["this.on(E, () => {});"]),
    `export class X extends AggregateRoot {
  static add(command: AddX): X {
    return new X(command.aggregateId);
  }

  static {
    this.on(E, () => {});
  }
}
`,
  );
  assert.equal(
    addToStaticBlock('class Y extends Event.define("Y", { a: x }) {}\n', "Y", [
      "f();",
    ]),
    'class Y extends Event.define("Y", { a: x }) {\n  static {\n    f();\n  }\n}\n',
  );
  assert.equal(addToStaticBlock("class Z {}", "Missing", ["f();"]), undefined);
});
