/**
 * The documentation examples as `deno task test` writes and runs them
 * (`_doc_examples.ts`): found and named as `deno test --doc` finds and
 * names them, and made into modules that behave as its do.
 */
import assert from "node:assert/strict";
import { exampleModule, examples } from "./_doc_examples.ts";

const SOURCE = `/**
 * Adds.
 *
 * @example
 * \`\`\`ts
 * import assert from "node:assert/strict";
 * import { twice } from "./twice.ts";
 *
 * export class Local {}
 * assert.equal(add(1, twice(1)), 3);
 * console.log(import.meta.url);
 * \`\`\`
 *
 * \`\`\`ts ignore
 * notRun();
 * \`\`\`
 *
 * \`\`\`sh
 * deno task test
 * \`\`\`
 */
export function add(a: number, b: number): number {
  return a + b;
}
/** One line. */
export const one = 1;
`;

Deno.test("examples are the ts blocks of JSDoc comments, not ignored ones, with deno test --doc's line numbers", () => {
  const found = examples("src/add.ts", SOURCE);
  assert.deepEqual(found.map((e) => [e.first, e.last]), [[5, 13]]);
  assert.equal(
    found[0]!.code,
    [
      'import assert from "node:assert/strict";',
      'import { twice } from "./twice.ts";',
      "",
      "export class Local {}",
      "assert.equal(add(1, twice(1)), 3);",
      "console.log(import.meta.url);",
    ].join("\n"),
  );
  assert.deepEqual(
    examples(
      "README.md",
      "# x\n\n```ts\nconst a = 1;\n```\n\n```ts ignore\nb\n```\n",
    )
      .map((e) => [e.first, e.last, e.code]),
    [[3, 6, "const a = 1;"]],
  );
});

Deno.test("an example's module: its imports on top (relative ones from its source), the source's other exports imported, its code the default function's", () => {
  const [example] = examples("src/add.ts", SOURCE);
  const text = exampleModule(
    "/repo/src/add.ts",
    new Set(["add", "one", "twice"]),
    example!,
  );
  const lines = text.split("\n");
  assert.deepEqual(lines.slice(1, 4), [
    'import assert from "node:assert/strict";',
    'import { twice } from "file:///repo/src/twice.ts";',
    'import { add, one } from "file:///repo/src/add.ts";',
  ]);
  assert.ok(
    text.includes(
      "export default async function example(): Promise<void> {",
    ),
  );
  // its own declarations are the function's, not the module's exports
  assert.ok(text.includes("\nclass Local {}"));
  assert.ok(
    text.includes('console.log("file:///repo/src/add.ts#5-13.ts");'),
  );
});
